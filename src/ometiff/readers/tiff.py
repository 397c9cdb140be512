"""TIFF reader for every non-OME flavour tifffile knows, via its series.

ImageJ hyperstacks, Micro-Manager MMStack, Zeiss LSM, MetaMorph STK, Aperio SVS,
Hamamatsu NDPI, QPTIFF, ScanImage and plain multi-page / RGB TIFF. Each tifffile
series (level 0) becomes one OME Image. Axes that OME has no dimension for are
folded into T (or Z/C when those are free); positions (R, P) become separate
series. Metadata of each flavour is mapped by :mod:`ometiff.readers.tiffmeta`.
"""

from __future__ import annotations

import math
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import tifffile

from ometiff.errors import InvalidTiffError, UnsupportedFormatError
from ometiff.readers.base import Reader
from ometiff.readers.decode import DECODE_ERRORS, decode_page
from ometiff.readers.source import SeriesSource
from ometiff.tiff.names import TIFF_SUFFIXES, TIFF_VENDOR_SUFFIXES
from ometiff.tiff.structure import is_tiff
from ometiff.types import DTYPE_TO_OME

if TYPE_CHECKING:
    from ome_types import model as m

    from ometiff.types import StrPath

_POSITION_AXES = "RP"  # become separate series, like Bio-Formats
# What a damaged file makes tifffile raise: its own error, bad values, short reads,
# unpackable bytes, and codec failures (imagecodecs errors are RuntimeErrors).
# Programming errors (TypeError, AttributeError, KeyError, ...) are not caught:
# they are bugs and must surface as such, not as "not a readable TIFF".
_READ_ERRORS = (tifffile.TiffFileError, ValueError, OSError, EOFError, struct.error,
                RuntimeError)
# tifffile's page lists raise IndexError when a damaged file has fewer pages than
# its series claims (corpus: tiff/bioformats-7.3.1/Fluorescence_RGB_bfwriter_jpeg.tif)
_PAGE_ERRORS = (*_READ_ERRORS, IndexError)


def plane_dtype(dtype: np.dtype, where: object) -> np.dtype:
    """The OME-representable dtype for pixels of ``dtype`` (D2), native byte order.

    float16 widens to float32 and bool to uint8 (both lossless); 64-bit integers
    have no OME pixel type and are refused.
    """
    dt = np.dtype(dtype).newbyteorder("=")
    if dt.kind == "b":
        return np.dtype("uint8")
    if dt == np.float16:
        return np.dtype("float32")
    if dt.name not in DTYPE_TO_OME:
        raise UnsupportedFormatError(
            f"{where}: pixel type {dt.name} has no OME equivalent (D2: int8..uint32, "
            "float, double, complex)"
        )
    return dt


def page_plane(
    page: Any, samples: int, dtype: np.dtype, yx: tuple[int, int], *, where: str,
    sample: int | None = None,
) -> np.ndarray:
    """Decode one page into a ``(Y, X)`` or ``(Y, X, S)`` plane of ``dtype``.

    ``sample`` picks one sample of a multi-sample page (non-RGB samples read as
    channels).
    """
    try:
        arr = decode_page(page)
    except DECODE_ERRORS as exc:
        raise InvalidTiffError(f"{where}: cannot read pixel data ({exc})") from exc
    return _as_plane(arr, page.axes, samples, dtype, yx, where=where, sample=sample)


def _as_plane(
    arr: np.ndarray, axes: str, samples: int, dtype: np.dtype, yx: tuple[int, int], *,
    where: str, sample: int | None = None,
) -> np.ndarray:
    if arr.size == 0:
        raise InvalidTiffError(f"{where}: the plane decodes to no pixels")
    if "S" in axes and arr.ndim == len(axes):
        arr = np.moveaxis(arr, axes.index("S"), -1)
    if sample is not None:
        arr = arr[..., sample]
    want = yx if samples == 1 else (*yx, samples)
    if arr.shape != want:
        squeezed = arr.reshape(want) if arr.size == math.prod(want) else None
        if squeezed is None:
            raise InvalidTiffError(f"{where}: plane has shape {arr.shape}, expected {want}")
        arr = squeezed
    if arr.dtype != dtype:
        arr = arr.astype(dtype)
    return arr


@dataclass
class _Layout:
    """How one output series maps onto one tifffile series."""

    series: int  # tifffile series index
    frame_shape: tuple[int, ...]  # sizes of the frame (non-page) axes
    dims: dict[str, list[int]]  # "T"/"C"/"Z" -> frame axis positions (in order)
    sample_axis: bool  # C also runs over samples of the page (non-RGB samples)
    fixed: dict[int, int]  # frame axis -> fixed index (positions)
    shape: tuple[int, int, int, int, int]
    samples: int
    dtype: np.dtype
    page_axes: str
    name: str | None


class TiffReader(Reader):
    """Read ImageJ, Micro-Manager, LSM, STK, SVS, NDPI, QPTIFF and plain TIFF."""

    name = "tiff"
    suffixes = (*TIFF_SUFFIXES, *TIFF_VENDOR_SUFFIXES)

    @classmethod
    def can_read(cls, path: Path) -> bool:
        """True for a file that starts with TIFF or BigTIFF magic bytes."""
        if not path.is_file() or not path.name.lower().endswith(cls.suffixes):
            return False
        return is_tiff(path)

    def __init__(self, path: StrPath, **options: Any) -> None:
        super().__init__(path, **options)
        try:
            self._tf = tifffile.TiffFile(self.path)
        except _READ_ERRORS as exc:
            raise InvalidTiffError(f"{self.path}: not a readable TIFF: {exc}") from exc
        try:
            self._init_layouts()
        except BaseException:
            self._tf.close()
            raise
        self._ome: m.OME | None = None

    def _init_layouts(self) -> None:
        try:
            series = list(self._tf.series)
        except _READ_ERRORS as exc:
            raise InvalidTiffError(f"{self.path}: not a readable TIFF: {exc}") from exc
        self._lock = threading.Lock()
        self._memmaps: dict[int, np.ndarray] = {}
        self._layouts: list[_Layout] = []
        for index, s in enumerate(series):
            if s.kind == "lsm" and index > 0:
                self.notes.skip(f"LSM series {index}", "thumbnail images are not converted")
                continue
            self._layouts.extend(self._layout(index, s))
        if not self._layouts:
            raise InvalidTiffError(f"{self.path}: the TIFF holds no image")

    @property
    def kind(self) -> str:
        """tifffile's flavour of the first series ('imagej', 'lsm', 'generic'...)."""
        return str(self._tf.series[0].kind)

    def _layout(self, index: int, s: Any) -> list[_Layout]:
        where = f"{self.path} series {index}"
        # the unsqueezed layout: tifffile >= 2026.11 keeps it in .axes/.shape and
        # dropped get_axes/get_shape; older releases squeeze .axes by default
        if hasattr(s, "get_axes"):
            axes: str = s.get_axes(False)
            shape: tuple[int, ...] = tuple(s.get_shape(False))
        else:
            axes, shape = s.axes, tuple(s.shape)
        if 0 in shape:
            raise InvalidTiffError(f"{where}: empty image (shape {shape})")
        kf = s.keyframe
        page_elems = math.prod(kf.shaped)
        k = axes.rfind("Y") if "Y" in axes else len(shape)
        acc = math.prod(shape[k:])
        while k > 0 and acc < page_elems:
            k -= 1
            acc *= shape[k]
        if acc != page_elems:
            raise InvalidTiffError(f"{where}: pages do not tile the series shape {shape}")
        frame_axes, page_axes = axes[:k], axes[k:]
        page_shape = shape[k:]
        sizes = dict(zip(page_axes, page_shape, strict=True))
        if "Y" not in sizes or "X" not in sizes:
            raise UnsupportedFormatError(f"{where}: page axes {page_axes} have no Y and X")
        extra_page = [a for a in page_axes if a not in "YXS" and sizes[a] > 1]
        if extra_page:
            raise UnsupportedFormatError(
                f"{where}: pages with {''.join(extra_page)} depth are not supported"
            )
        nsamples = sizes.get("S", 1)
        rgb = nsamples in (3, 4) and kf.photometric in (2, 6)  # RGB, YCbCr (decoded)
        samples = nsamples if rgb else 1
        sample_axis = nsamples > 1 and not rgb
        if sample_axis:
            self.notes.skip(
                f"{where} SamplesPerPixel={nsamples}", "non-RGB samples read as channels"
            )
        dtype = plane_dtype(s.dtype, where)
        if dtype != np.dtype(s.dtype).newbyteorder("="):
            self.notes.skip(f"{where} pixel type {np.dtype(s.dtype).name}",
                            f"widened to {dtype.name} (D2)")
        frame_shape = shape[:k]
        dims: dict[str, list[int]] = {"T": [], "C": [], "Z": []}
        positions: list[int] = []
        for i, a in enumerate(frame_axes):
            if a in dims:
                dims[a].append(i)
            elif a in _POSITION_AXES and frame_shape[i] > 1:
                positions.append(i)
        for i, a in enumerate(frame_axes):
            if a in dims or (a in _POSITION_AXES and frame_shape[i] > 1):
                continue
            if frame_shape[i] == 1:
                continue
            free = next((d for d in "TZC" if not dims[d]), "T")
            dims[free].append(i)
            self.notes.skip(f"{where} axis {a} (size {frame_shape[i]})",
                            f"no OME dimension; stored along {free}")
        size = {d: math.prod(frame_shape[i] for i in dims[d]) for d in dims}
        size_c = size["C"] * (nsamples if sample_axis else 1)
        out_shape = (size["T"], size_c, size["Z"], sizes["Y"], sizes["X"])
        combos: list[dict[int, int]] = [{}]
        for i in positions:
            combos = [{**c, i: v} for c in combos for v in range(frame_shape[i])]
        name = getattr(s, "name", None) or None
        layouts = []
        for combo in combos:
            label = name
            if combo:
                label = f"{name or self.path.name} " + " ".join(
                    f"{frame_axes[i]}{v}" for i, v in combo.items()
                )
            layouts.append(_Layout(index, frame_shape, dims, sample_axis, combo, out_shape,
                                   samples, dtype, page_axes, label))
        return layouts

    # -- pixels ---------------------------------------------------------------------

    def _frame(self, lay: _Layout, t: int, c: int, z: int) -> tuple[int, int | None]:
        """(page index in the series, sample index or None) of a plane."""
        index = [0] * len(lay.frame_shape)
        for i, v in lay.fixed.items():
            index[i] = v
        sample = None
        if lay.sample_axis:
            nsamples = lay.shape[1] // max(1, math.prod(lay.frame_shape[i] for i in lay.dims["C"]))
            c, sample = divmod(c, nsamples)
        for d, value in (("T", t), ("C", c), ("Z", z)):
            for i in reversed(lay.dims[d]):
                value, index[i] = divmod(value, lay.frame_shape[i])
        k = int(np.ravel_multi_index(index, lay.frame_shape)) if index else 0
        return k, sample

    def _contiguous(self, lay: _Layout) -> np.ndarray | None:
        """A memory map of an uncompressed contiguous series (fast path), else None."""
        if lay.series in self._memmaps:
            return self._memmaps[lay.series]
        s = self._tf.series[lay.series]
        mm = None
        offset = getattr(s, "dataoffset", None)
        if offset is not None and s.keyframe.compression == 1 and s.keyframe.fillorder == 1:
            if s.keyframe.predictor == 1 and s.keyframe.bitspersample % 8 == 0:
                dt = np.dtype(s.dtype).newbyteorder(self._tf.byteorder)
                shape = (*lay.frame_shape, *s.keyframe.shape)
                try:
                    mm = np.memmap(self.path, dtype=dt, mode="r", offset=offset, shape=shape)
                except (ValueError, OSError):
                    mm = None
        self._memmaps[lay.series] = mm  # type: ignore[assignment]
        return mm

    def _getter(self, lay: _Layout) -> Any:
        s = self._tf.series[lay.series]
        y, x = lay.shape[3], lay.shape[4]
        kf_axes = s.keyframe.axes
        where = f"{self.path} series {lay.series}"

        def get_plane(t: int, c: int, z: int) -> np.ndarray:
            k, sample = self._frame(lay, t, c, z)
            with self._lock:
                mm = self._contiguous(lay)
                if mm is not None:
                    arr = np.asarray(mm[np.unravel_index(k, lay.frame_shape)] if lay.frame_shape
                                     else mm)
                    try:
                        arr = np.array(arr, dtype=arr.dtype.newbyteorder("="))
                    except OSError as exc:
                        raise InvalidTiffError(f"{where}: truncated: {exc}") from exc
                    return _as_plane(arr, kf_axes, lay.samples, lay.dtype, (y, x),
                                     where=where, sample=sample)
                try:
                    page = s.pages[k] if len(s.pages) > k else None
                    if page is None and len(self._tf.series) == 1:
                        # ImageJ series that tifffile assumed contiguous but are not
                        page = self._tf.pages[s.keyframe.index + k]
                except _PAGE_ERRORS as exc:
                    raise InvalidTiffError(f"{where}: page {k} cannot be read: {exc}") from exc
                if page is None:
                    raise InvalidTiffError(f"{where}: page {k} is missing (truncated file?)")
                return page_plane(page, lay.samples, lay.dtype, (y, x),
                                  where=f"{where} page {k} (IFD {page.index})",
                                  sample=sample)

        return get_plane

    # -- Reader API -----------------------------------------------------------------

    def sources(self) -> list[SeriesSource]:
        return [
            SeriesSource(lay.shape, lay.samples, lay.dtype, self._getter(lay), name=lay.name)
            for lay in self._layouts
        ]

    def level_shapes(self, series: int) -> list[tuple[int, int, int, int, int]]:
        """Level 0 and each reduced level tifffile finds (SVS, NDPI, SubIFD pyramids)."""
        lay = self._source_layout(series)
        out = [lay.shape]
        for level in self._tf.series[lay.series].levels[1:]:
            kf = level.keyframe
            out.append((*lay.shape[:3], int(kf.imagelength), int(kf.imagewidth)))
        return out

    def read_plane(self, series: int, t: int, c: int, z: int, *, level: int = 0) -> np.ndarray:
        if not level:
            return super().read_plane(series, t, c, z)
        self.check_plane(series, t, c, z, level=level)
        lay = self._layouts[series]
        y, x = self.level_shapes(series)[level][3:]
        k, sample = self._frame(lay, t, c, z)
        where = f"{self.path} series {lay.series} level {level}"
        with self._lock:
            try:
                page = self._tf.series[lay.series].levels[level].pages[k]
            except _READ_ERRORS as exc:
                raise InvalidTiffError(f"{where}: page {k} cannot be read: {exc}") from exc
            if page is None:
                raise InvalidTiffError(f"{where}: page {k} is missing (truncated file?)")
            return page_plane(page, lay.samples, lay.dtype, (y, x),
                              where=f"{where} page {k}", sample=sample)

    def _source_layout(self, series: int) -> _Layout:
        self._source(series)  # NoSuchPlaneError for a series out of range
        return self._layouts[series]

    def ome(self) -> m.OME:
        if self._ome is None:
            from ometiff.readers.tiffmeta import build_tiff_ome

            self._ome = build_tiff_ome(self._tf, self._layouts, self.notes)
        return self._ome.model_copy(deep=True)  # callers may edit their copy

    def original_metadata(self) -> dict[str, str]:
        from ometiff.readers.tiffmeta import original_tiff_metadata

        return original_tiff_metadata(self._tf)

    def close(self) -> None:
        self._memmaps.clear()
        self._tf.close()
