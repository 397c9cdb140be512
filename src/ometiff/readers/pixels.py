"""Plane-by-plane pixel access for ``info --stats`` and ``ometiff show``.

Memory stays bounded to about one plane: OME files are read through the plane map
of :func:`ometiff.info` (which file and IFD holds each Z/C/T, checklist T1-T6),
one IFD at a time, so members of multi-file sets are read too. Files without
OME-XML are read through tifffile's series, one page (a block of planes) at a time;
contiguous uncompressed series that tifffile describes with a single page
(ImageJ hyperstacks > 4 GB, STK) are memory-mapped.

Every plane comes back as a ``(Y, X, S)`` array (``S`` = samples per pixel).
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.errors import InvalidTiffError, OmeTiffError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ometiff.inspection import FileInfo, SeriesSummary

PlaneKey = tuple[int, int, int]  # (z, c, t); c counts OME Channels, not samples

#: Errors tifffile and imagecodecs raise for undecodable or truncated pixel data.
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    RuntimeError,
    KeyError,
    OSError,
    IndexError,
    ImportError,
    NotImplementedError,
    struct.error,
)


class RenderError(OmeTiffError, ValueError):
    """A plane, channel or level that does not exist, or a view that cannot be drawn."""


def is_ome(fi: FileInfo) -> bool:
    """True when ``fi.series`` came from OME-XML (a plane map), not from tifffile."""
    return fi.metadata_source == "ome"


def _to_yxs(data: np.ndarray, page: Any) -> np.ndarray:
    """One IFD's decoded pixels as ``(Y, X, S)``."""
    sep, depth, height, width, contig = page.shaped
    if depth != 1:
        raise InvalidTiffError(
            f"IFD {page.index} holds a volume ({depth} slices deep, ImageDepth tag); "
            "ometiff reads 2-D planes only"
        )
    arr = data.reshape(sep, height, width, contig)
    if sep > 1:
        return np.moveaxis(arr[..., 0], 0, -1)
    return arr[0]


class PlaneReader:
    """Open the files of one :class:`~ometiff.inspection.FileInfo` and read planes from them.

    Use as a context manager; files are opened on first use and kept open.
    """

    def __init__(self, fi: FileInfo) -> None:
        self.fi = fi
        self.ome = is_ome(fi)
        self._files: dict[Path, Any] = {}
        self._tiff_series: dict[tuple[int, int], _SeriesBlocks] = {}
        self._maps: dict[int, dict[PlaneKey, tuple[str | None, int]]] = {}

    def __enter__(self) -> PlaneReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every file this reader opened."""
        for tf in self._files.values():
            tf.close()
        self._files.clear()

    # files ------------------------------------------------------------------------
    def _tiff(self, path: Path) -> Any:
        tf = self._files.get(path)
        if tf is None:
            import tifffile

            if not path.is_file():
                raise InvalidTiffError(f"{path}: member of the file set is missing")
            try:
                tf = tifffile.TiffFile(path)
            except _DECODE_ERRORS as exc:  # TiffFileError is a ValueError
                raise InvalidTiffError(f"{path}: cannot open as TIFF ({exc})") from exc
            self._files[path] = tf
        return tf

    def _member(self, name: str | None) -> Path:
        if name is None:
            return self.fi.path
        from ometiff.ome.fileset import resolve_name

        found = resolve_name(self.fi.path.parent, name)
        if found.path is None:  # never open a file outside the set's folder
            raise InvalidTiffError(f"{self.fi.path}: member {name!r} {found.refused}; not opened")
        return found.path

    # plane lists --------------------------------------------------------------------
    def keys(self, series: int) -> list[PlaneKey]:
        """The planes of a series that can be read, in storage order."""
        if self.ome:
            mapping = self._map(series)
            return sorted(mapping, key=lambda k: (mapping[k][0] or "", mapping[k][1]))
        return self._blocks(series, 0).keys()

    def _map(self, series: int) -> dict[PlaneKey, tuple[str | None, int]]:
        if series not in self._maps:
            s = self.fi.series[series]
            self._maps[series] = {
                (p.z, p.c, p.t): (p.file, p.ifd) for p in s.planes if p.ifd is not None
            }
        return self._maps[series]

    def _blocks(self, series: int, level: int) -> _SeriesBlocks:
        key = (series, level)
        if key not in self._tiff_series:
            tf = self._tiff(self.fi.path)
            try:
                ts = tf.series[series]
                if level:
                    ts = ts.levels[level]
            except IndexError as exc:
                raise RenderError(
                    f"{self.fi.path}: tifffile finds no series {series} level {level}"
                ) from exc
            self._tiff_series[key] = _SeriesBlocks(tf, ts, self.fi.path)
        return self._tiff_series[key]

    # pixels -------------------------------------------------------------------------
    def plane(self, series: int, z: int, c: int, t: int, *, level: int = 0) -> np.ndarray:
        """Decode one plane as ``(Y, X, S)``.

        Raises
        ------
        RenderError
            The plane is not stored anywhere (unmapped in the OME-XML).
        InvalidTiffError
            The pixel data cannot be decoded (unknown codec, truncated strip);
            the message names the file and the IFD.
        """
        if not self.ome:
            return self._blocks(series, level).plane(z, c, t)
        where = self._map(series).get((z, c, t))
        if where is None:
            raise RenderError(
                f"{self.fi.path}: series {series} plane Z={z} C={c} T={t} is not mapped "
                "to any IFD (T4)"
            )
        name, ifd = where
        path = self._member(name)
        tf = self._tiff(path)
        what = f"{path}: IFD {ifd}"
        try:
            page = tf.pages[ifd]
            if level:
                import tifffile

                subs = page.subifds or ()
                if level > len(subs):
                    raise RenderError(
                        f"{what} has {len(subs)} SubIFD levels; level {level} does not exist"
                    )
                page = tifffile.TiffPages(page)[level - 1]
                what += f" SubIFD {level - 1}"
            data = page.asarray()
        except RenderError:
            raise
        except _DECODE_ERRORS as exc:
            raise InvalidTiffError(f"{what}: cannot read pixel data ({exc})") from exc
        return _to_yxs(np.asarray(data), page)


class _SeriesBlocks:
    """A tifffile series read one page (a block of the series array) at a time."""

    def __init__(self, tf: Any, ts: Any, path: Path) -> None:
        self.path = path
        self.axes: str = ts.axes
        self.shape: tuple[int, ...] = tuple(ts.shape)
        if "Y" not in self.axes or "X" not in self.axes:
            raise RenderError(f"{path}: series of axes {self.axes!r} is not an image")
        self.nonplane = [i for i, a in enumerate(self.axes) if a not in "YXS"]
        self.t_axes = [i for i in self.nonplane if self.axes[i] not in "ZC"]
        pages = list(ts.pages)
        total = math.prod(self.shape)
        page_size = ts.keyframe.size if ts.keyframe is not None else 0
        self.lead = 0
        self._pages: list[Any] | None = None
        self._mm: np.ndarray | None = None
        self._whole: Any = None
        found = None
        if page_size and len(pages) * page_size == total:
            for k in range(len(self.shape) + 1):
                if all(self.axes[i] not in "YXS" for i in range(k)) and (
                    math.prod(self.shape[k:]) == page_size
                ):
                    found = k
                    break
        if found is not None:
            self.lead, self._pages = found, pages
        elif ts.dataoffset is not None and not ts.keyframe.compression > 1:
            self.lead = next(i for i, a in enumerate(self.axes) if a in "YXS")
            dtype = np.dtype(ts.dtype).newbyteorder(tf.byteorder)
            self._mm = np.memmap(
                path, dtype=dtype, mode="r", offset=ts.dataoffset, shape=self.shape
            )
        else:  # last resort: the whole series at once (not bounded to one plane)
            self._whole = ts
        self._cache: tuple[int, np.ndarray] | None = None

    def keys(self) -> list[PlaneKey]:
        out = []
        dims = [self.shape[i] for i in self.nonplane]
        for idx in np.ndindex(*dims):
            full = dict(zip(self.nonplane, idx, strict=True))
            out.append(self._zct(full))
        return out

    def _zct(self, full: dict[int, int]) -> PlaneKey:
        z = c = t = 0
        for i, v in full.items():
            if self.axes[i] == "Z":
                z = v
            elif self.axes[i] == "C":
                c = v
        for i in self.t_axes:
            t = t * self.shape[i] + full[i]
        return z, c, t

    def _full_index(self, z: int, c: int, t: int) -> dict[int, int]:
        full: dict[int, int] = {}
        for i in reversed(self.t_axes):
            full[i] = t % self.shape[i]
            t //= self.shape[i]
        for i in self.nonplane:
            if self.axes[i] == "Z":
                full[i] = z
            elif self.axes[i] == "C":
                full[i] = c
        return full

    def _block(self, j: int) -> np.ndarray:
        if self._cache is not None and self._cache[0] == j:
            return self._cache[1]
        if self._pages is not None:
            page = self._pages[j]
            if page is None:
                raise RenderError(f"{self.path}: page {j} of the series is missing")
            try:
                data = np.asarray(page.asarray()).reshape(self.shape[self.lead :])
            except _DECODE_ERRORS as exc:
                raise InvalidTiffError(
                    f"{self.path}: IFD {getattr(page, 'index', j)}: cannot read pixel data ({exc})"
                ) from exc
        elif self._mm is not None:
            idx = np.unravel_index(j, self.shape[: self.lead]) if self.lead else ()
            data = np.array(self._mm[tuple(int(i) for i in idx)])
        else:
            try:
                data = np.asarray(self._whole.asarray())
            except _DECODE_ERRORS as exc:
                raise InvalidTiffError(f"{self.path}: cannot read pixel data ({exc})") from exc
        self._cache = (j, data)
        return data

    def plane(self, z: int, c: int, t: int) -> np.ndarray:
        full = self._full_index(z, c, t)
        lead_idx = tuple(full[i] for i in range(self.lead))
        j = int(np.ravel_multi_index(lead_idx, self.shape[: self.lead])) if self.lead else 0
        block = self._block(j)
        sel: list[Any] = []
        rest = ""
        for i in range(self.lead, len(self.axes)):
            if i in full:
                sel.append(full[i])
            else:
                sel.append(slice(None))
                rest += self.axes[i]
        arr = block[tuple(sel)]
        if "S" not in rest:
            arr, rest = arr[..., None], rest + "S"
        return np.transpose(arr, [rest.index(a) for a in "YXS"])


def iter_planes(reader: PlaneReader, series: int) -> Iterator[tuple[PlaneKey, np.ndarray]]:
    """Every readable plane of a series, in storage order."""
    for z, c, t in reader.keys(series):
        yield (z, c, t), reader.plane(series, z, c, t)


def channel_count(s: SeriesSummary) -> int:
    """OME Channels of a series (an RGB channel counts once)."""
    return max(1, s.size_c // max(s.samples_per_pixel, 1))
