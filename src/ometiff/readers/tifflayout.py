"""How a non-OME TIFF is laid out as OME series: one layout shared by ``info`` and the reader.

ImageJ hyperstacks, tifffile "shaped" files, Micro-Manager, LSM, STK, SVS and plain
multi-page TIFFs are described by tifffile's series. :func:`tiff_layouts` turns each
into one or more OME series (T, C, Z, Y, X, S) and says for every plane which page
(and which slice of a volumetric page, or which sample of a multi-sample page) holds
it. ``ometiff info`` shows these layouts and :class:`~ometiff.readers.tiff.TiffReader`
reads them, so the two always agree; what the reader cannot read, :func:`tiff_layouts`
refuses for both.

Decisions, checked against Bio-Formats (``showinf``) on generated files:

- Axes OME has no dimension for (tifffile's I, Q, R, P, E, ...) are folded into T,
  as Bio-Formats counts a plain page sequence as T; positions become separate series
  only where tifffile's axis means a stage position (Micro-Manager/NDTiff R, LSM P/M),
  as Bio-Formats' vendor readers do.
- Volumetric pages (SGI ImageDepth, tiled 3-D) are read slice by slice along their
  depth axis. Bio-Formats ignores ImageDepth and shows only the first slice.
- Non-RGB samples (SamplesPerPixel > 1 that is not RGB/YCbCr with 3 or 4 samples) are
  read as channels of one sample each; Bio-Formats shows one channel of N samples,
  SizeC is N either way (R3).
- A flavour header that names more pages than the file holds (a broken ImageJ header)
  is ignored and the file is read as plain pages, as Bio-Formats does.
- LSM thumbnails (tifffile series after the first) are not series, as in Bio-Formats.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.errors import InvalidTiffError, UnsupportedFormatError
from ometiff.readers.tiffmeta import RGBA, TiffCalibration, tiff_calibration
from ometiff.types import DTYPE_TO_OME

if TYPE_CHECKING:
    import tifffile

    from ometiff.readers.base import MappingNotes

#: tifffile axes that mean a stage position, per series kind: one OME series each.
POSITION_AXES = {"mmstack": "R", "ndtiff": "R", "lsm": "PM"}


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


@dataclass(frozen=True, slots=True, eq=False)
class TiffLayout:
    """One OME series of a non-OME TIFF and where each of its planes lives.

    The *grid* is the page-index (frame) axes of the tifffile series, followed by the
    depth axis of volumetric pages when there is one; ``dims`` says which grid axes
    make up T, C and Z (outer first), ``fixed`` pins position axes to one value.
    """

    index: int  # tifffile series index
    series: Any = field(repr=False)  # the tifffile TiffPageSeries
    name: str | None
    frame_shape: tuple[int, ...]  # sizes of the frame (page-index) axes
    depth: int  # slices per page (volumetric pages), 1 otherwise
    dims: dict[str, tuple[int, ...]]  # "T"/"C"/"Z" -> grid axis positions
    fixed: dict[int, int]  # grid axis -> fixed index (positions)
    page_samples: int  # samples per page that C runs over (non-RGB samples), else 1
    shape: tuple[int, int, int, int, int]  # T, C (planes), Z, Y, X
    samples: int  # samples per pixel of each plane (RGB: 3 or 4)
    dtype: np.dtype  # OME pixel type (widened, D2)
    dimension_order: str
    physical: dict[str, tuple[float, str]]  # "x"/"y"/"z" -> (value, OME unit)
    time_increment: tuple[float, str] | None
    channel_names: tuple[str | None, ...]
    channel_colors: tuple[RGBA | None, ...]

    @property
    def grid(self) -> tuple[int, ...]:
        return self.frame_shape + ((self.depth,) if self.depth > 1 else ())

    def locate(self, t: int, c: int, z: int) -> tuple[int, int, int | None]:
        """(page index in the series, slice in the page, sample or None) of a plane."""
        k, depth, sample = self._indices(t, c, z)
        return int(k), int(depth), None if sample is None else int(sample)

    def _indices(self, t: Any, c: Any, z: Any) -> tuple[Any, Any, Any]:
        # plain arithmetic, so that it works on ints and on numpy arrays of planes alike
        grid = self.grid
        index: list[Any] = [0] * len(grid)
        for i, v in self.fixed.items():
            index[i] = v
        sample = None
        if self.page_samples > 1:
            c, sample = divmod(c, self.page_samples)
        for d, value in (("T", t), ("C", c), ("Z", z)):
            for i in reversed(self.dims[d]):
                value, index[i] = divmod(value, grid[i])
        k: Any = 0
        for v, n in zip(index, self.frame_shape, strict=False):  # C-order ravel
            k = k * n + v
        depth = index[-1] if self.depth > 1 else 0
        return k, depth, sample

    def plane_table(self) -> list[tuple[int, int, int, int | None]]:
        """(t, c, z, IFD) of every plane in storage order (DimensionOrder, T1).

        The IFD is the page's index in the main chain (None when tifffile has no
        page for it). ImageJ and shaped series store their pages consecutively, so
        no page is parsed for them (30,000 TiffPages take seconds).
        """
        size = dict(zip("TCZ", self.shape[:3], strict=False))
        pos: dict[str, np.ndarray] = {}
        rest = np.arange(size["T"] * size["C"] * size["Z"])
        for letter in self.dimension_order[2:]:
            rest, pos[letter] = np.divmod(rest, size[letter])
        pages = np.asarray(self._indices(pos["T"], pos["C"], pos["Z"])[0]) + np.zeros_like(rest)
        s = self.series
        if s.kind in ("imagej", "shaped"):
            ifds: list[int | None] = (pages + int(s.keyframe.index)).tolist()
        else:
            ifds = [self._page_ifd(k) for k in pages.tolist()]
        return list(zip(pos["T"].tolist(), pos["C"].tolist(), pos["Z"].tolist(), ifds,
                        strict=True))

    def _page_ifd(self, k: int) -> int | None:
        try:
            page = self.series.pages[k]
        except (IndexError, ValueError, OSError):
            return None
        index = getattr(page, "index", None)
        return index if isinstance(index, int) else None


@dataclass(frozen=True, slots=True)
class TiffLayouts:
    """The OME series of a non-OME TIFF, its per-file calibration, and file-level notes."""

    layouts: tuple[TiffLayout, ...]
    calibration: TiffCalibration
    warnings: tuple[str, ...] = ()


def tiff_layouts(tf: tifffile.TiffFile, notes: MappingNotes, *, where: object = None) -> TiffLayouts:
    """Lay out every tifffile series of ``tf`` as OME series (see the module docstring).

    Raises
    ------
    InvalidTiffError
        tifffile cannot build series, a series is empty, or the TIFF holds no image.
    UnsupportedFormatError
        A series the reader cannot read (a pixel type without OME equivalent, pages
        with two depth axes, pages without Y and X).
    """
    where = where if where is not None else tf.filename
    warnings: list[str] = []
    try:
        series = list(tf.series)
        if series and any(_pages_missing(tf, s) for s in series):
            generic = list(tf.series(kind="generic"))
            msg = (f"the {series[0].kind} header names more pages than the file holds; "
                   "read as plain pages (as Bio-Formats does)")
            notes.skip(f"{series[0].kind} header", msg)
            warnings.append(msg)
            series = generic
        calibration = tiff_calibration(tf, notes) if series else None
        if calibration is not None:
            warnings += calibration.unknown_units  # shown as unknown, never assumed (U3)
    except _SERIES_ERRORS as exc:
        raise InvalidTiffError(f"{where}: not a readable TIFF: {exc}") from exc
    if calibration is None:
        raise InvalidTiffError(f"{where}: the TIFF holds no image")
    layouts: list[TiffLayout] = []
    for index, s in enumerate(series):
        if s.kind == "lsm" and index > 0:
            notes.skip(f"LSM series {index}", "thumbnail images are not converted")
            continue
        layouts.extend(_layout(tf, index, s, calibration, notes, warnings,
                               where=f"{where} series {index}", main=series[0]))
    if not layouts:
        raise InvalidTiffError(f"{where}: the TIFF holds no image")
    return TiffLayouts(tuple(layouts), calibration, tuple(warnings))


#: What tifffile raises for files it cannot make series of (file damage; a
#: TypeError or AttributeError is a bug and propagates). tifffile's page lists
#: raise IndexError for a damaged file with fewer pages than its header claims.
_SERIES_ERRORS: tuple[type[BaseException], ...] = (
    ValueError, OSError, EOFError, IndexError, RuntimeError, struct.error,
)


def _pages_missing(tf: tifffile.TiffFile, s: Any) -> bool:
    """True when a flavour series names pages past the end of the file."""
    if s.kind in ("generic", "uniform"):
        return False
    kf = s.keyframe
    if s.dataoffset is not None and kf.compression == 1:
        return False  # contiguous uncompressed data is read by offset, not by page
    frames = math.prod(s.shape) // max(1, math.prod(kf.shaped))
    if frames <= 1:
        return False
    k = frames - 1
    try:
        _ = s.pages[k] if len(s.pages) > k else tf.pages[kf.index + k]
    except IndexError:
        return True
    return False


def _yx(s: Any) -> tuple[int, int]:
    shape = dict(zip(s.axes, s.shape, strict=False))
    return shape.get("Y", 0), shape.get("X", 0)


def _layout(
    tf: tifffile.TiffFile, index: int, s: Any, cal: TiffCalibration, notes: MappingNotes,
    warnings: list[str], *, where: str, main: Any,
) -> list[TiffLayout]:
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
    sizes = dict(zip(page_axes, shape[k:], strict=True))
    if "Y" not in sizes or "X" not in sizes:
        raise UnsupportedFormatError(f"{where}: page axes {page_axes} have no Y and X")
    deep = [a for a in page_axes if a not in "YXS" and sizes[a] > 1]
    if len(deep) > 1:
        raise UnsupportedFormatError(
            f"{where}: pages with {''.join(deep)} depth (two depth axes) are not supported"
        )
    depth_axis = deep[0] if deep else None
    depth = sizes[depth_axis] if depth_axis else 1
    if depth_axis:
        warnings.append(f"series {index}: each page holds {depth} slices (ImageDepth); read "
                        "slice by slice (Bio-Formats shows only the first slice)")
    nsamples = sizes.get("S", 1)
    rgb = nsamples in (3, 4) and kf.photometric in (2, 6)  # RGB, YCbCr (decoded)
    samples = nsamples if rgb else 1
    page_samples = 1 if rgb else nsamples
    if page_samples > 1:
        notes.skip(f"{where} SamplesPerPixel={nsamples}", "non-RGB samples read as channels")
        warnings.append(f"series {index}: SamplesPerPixel={nsamples} (not RGB) read as "
                        f"{nsamples} channels (Bio-Formats: one channel of {nsamples} samples)")
    dtype = plane_dtype(s.dtype, where)
    if dtype != np.dtype(s.dtype).newbyteorder("="):
        notes.skip(f"{where} pixel type {np.dtype(s.dtype).name}", f"widened to {dtype.name} (D2)")
    frame_shape = shape[:k]
    grid_axes = frame_axes + (depth_axis or "")
    grid = frame_shape + ((depth,) if depth_axis else ())
    position_letters = POSITION_AXES.get(s.kind, "")
    dims: dict[str, list[int]] = {"T": [], "C": [], "Z": []}
    positions: list[int] = []
    for i, a in enumerate(grid_axes):
        if a in dims:
            dims[a].append(i)
        elif grid[i] == 1:
            continue
        elif a in position_letters:
            positions.append(i)
        else:
            dims["T"].append(i)  # Bio-Formats counts a generic page sequence as T
            notes.skip(f"{where} axis {a} (size {grid[i]})", "no OME dimension; stored along T")
    size = {d: math.prod(grid[i] for i in dims[d]) for d in dims}
    size_c = size["C"] * page_samples
    out_shape = (size["T"], size_c, size["Z"], sizes["Y"], sizes["X"])
    order = _dimension_order(dims, len(grid), page_samples)
    physical = _physical(tf, index, s, main, cal, has_z=bool(dims["Z"]))
    names = tuple(cal.channel_names[i] if i < len(cal.channel_names) else None
                  for i in range(size_c))
    colors = tuple(cal.channel_colors[i] if i < len(cal.channel_colors) else None
                   for i in range(size_c))
    combos: list[dict[int, int]] = [{}]
    for i in positions:
        combos = [{**c, i: v} for c in combos for v in range(grid[i])]
    name = getattr(s, "name", None) or None
    out = []
    for combo in combos:
        label = name
        if combo:
            label = f"{name or tf.filehandle.name} " + " ".join(
                f"{grid_axes[i]}{v}" for i, v in combo.items()
            )
        out.append(TiffLayout(
            index, s, label, frame_shape, depth, {d: tuple(v) for d, v in dims.items()}, combo,
            page_samples, out_shape, samples, dtype, order, physical, cal.time_increment,
            names, colors,
        ))
    return out


def _dimension_order(
    dims: dict[str, list[int]], ngrid: int, page_samples: int
) -> str:
    """DimensionOrder of the storage: the dims the series has, fastest first, then the
    ones it lacks in Z, C, T order (always one of the six legal orders, D3)."""
    inner = {d: max(v) for d, v in dims.items() if v}
    if page_samples > 1:
        inner["C"] = ngrid  # samples of one page vary fastest
    stored = "".join(sorted(inner, key=lambda d: -inner[d]))
    return "XY" + stored + "".join(d for d in "ZCT" if d not in stored)


def _physical(
    tf: tifffile.TiffFile, index: int, s: Any, main: Any, cal: TiffCalibration, *, has_z: bool
) -> dict[str, tuple[float, str]]:
    """Physical sizes of one series: only for axes it has (U3: never invent)."""
    out = {}
    for axis, value in cal.psize.items():
        if axis == "z" and not has_z:
            continue
        if index > 0 and axis in "xy" and (tf.is_svs or _yx(s) != _yx(main)):
            continue  # the calibration describes the main image, not thumbnails/labels
        out[axis] = value
    return out
