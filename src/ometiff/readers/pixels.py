"""Plane-by-plane pixel access for ``info --stats`` and ``ometiff show``.

Memory stays bounded to about one plane: OME files are read through the plane map
of :func:`ometiff.info` (which file and IFD holds each Z/C/T, checklist T1-T6),
one IFD at a time, so members of multi-file sets are read too. Files without
OME-XML are read through the TIFF reader and its layout
(:func:`ometiff.readers.tifflayout.tiff_layouts`), the series ``info`` shows.

Every plane comes back as a ``(Y, X, S)`` array (``S`` = samples per pixel).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.errors import InvalidTiffError, OmeTiffError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ometiff.inspection import FileInfo, SeriesSummary
    from ometiff.readers.tiff import TiffReader

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
        self._layout_reader: TiffReader | None = None  # files without OME-XML
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
        if self._layout_reader is not None:
            self._layout_reader.close()
            self._layout_reader = None

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
        return self.fi.path.parent / name

    # plane lists --------------------------------------------------------------------
    def keys(self, series: int) -> list[PlaneKey]:
        """The planes of a series that can be read, in storage order."""
        if self.ome:
            mapping = self._map(series)
            return sorted(mapping, key=lambda k: (mapping[k][0] or "", mapping[k][1]))
        lay = self._check(series, 0).layouts[series]
        return [(z, c, t) for t, c, z, _ in lay.plane_table()]

    def _map(self, series: int) -> dict[PlaneKey, tuple[str | None, int]]:
        if series not in self._maps:
            s = self.fi.series[series]
            self._maps[series] = {
                (p.z, p.c, p.t): (p.file, p.ifd) for p in s.planes if p.ifd is not None
            }
        return self._maps[series]

    def _layouts(self) -> TiffReader:
        """The TIFF reader's layout of a file without OME-XML (the series ``info`` shows)."""
        if self._layout_reader is None:
            from ometiff.readers.tiff import TiffReader

            self._layout_reader = TiffReader(self.fi.path)
        return self._layout_reader

    def _check(self, series: int, level: int) -> TiffReader:
        reader = self._layouts()
        if not 0 <= series < len(reader.layouts):
            raise RenderError(f"{self.fi.path}: no series {series}")
        if not 0 <= level < len(reader.level_shapes(series)):
            raise RenderError(f"{self.fi.path}: series {series} has no level {level}")
        return reader

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
            arr = self._check(series, level).read_plane(series, t, c, z, level=level)
            return arr if arr.ndim == 3 else arr[..., None]
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


def iter_planes(reader: PlaneReader, series: int) -> Iterator[tuple[PlaneKey, np.ndarray]]:
    """Every readable plane of a series, in storage order."""
    for z, c, t in reader.keys(series):
        yield (z, c, t), reader.plane(series, z, c, t)


def channel_count(s: SeriesSummary) -> int:
    """OME Channels of a series (an RGB channel counts once)."""
    return max(1, s.size_c // max(s.samples_per_pixel, 1))
