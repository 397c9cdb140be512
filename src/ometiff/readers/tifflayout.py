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

import itertools
import math
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ometiff.errors import InvalidTiffError, UnsupportedFormatError
from ometiff.readers.tiffmeta import (
    RGBA,
    TiffCalibration,
    imagej_description,
    plain_calibration,
    tiff_calibration,
)
from ometiff.types import DTYPE_TO_OME

if TYPE_CHECKING:
    import numpy as np
    import tifffile

    from ometiff.readers.base import MappingNotes
    from ometiff.tiff.structure import TiffStructure

#: tifffile axes that mean a stage position, per series kind: one OME series each.
POSITION_AXES = {"mmstack": "R", "ndtiff": "R", "lsm": "PM"}


def ome_dtype_name(name: str, where: object) -> str:
    """The OME-representable dtype name for pixels of dtype ``name`` (D2).

    float16 widens to float32 and bool to uint8 (both lossless); 64-bit integers
    have no OME pixel type and are refused.
    """
    if name == "bool":
        return "uint8"
    if name == "float16":
        return "float32"
    if name not in DTYPE_TO_OME:
        raise UnsupportedFormatError(
            f"{where}: pixel type {name} has no OME equivalent (D2: int8..uint32, "
            "float, double, complex)"
        )
    return name


def plane_dtype(dtype: np.dtype, where: object) -> np.dtype:
    """:func:`ome_dtype_name` as a numpy dtype, native byte order."""
    import numpy as np

    return np.dtype(ome_dtype_name(np.dtype(dtype).name, where))


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
    dtype_name: str  # OME pixel type as a numpy dtype name (widened, D2)
    dimension_order: str
    physical: dict[str, tuple[float, str]]  # "x"/"y"/"z" -> (value, OME unit)
    time_increment: tuple[float, str] | None
    channel_names: tuple[str | None, ...]
    channel_colors: tuple[RGBA | None, ...]

    @property
    def dtype(self) -> np.dtype:
        """The pixel type as a numpy dtype (imports numpy, which ``info`` avoids)."""
        import numpy as np

        return np.dtype(self.dtype_name)

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
        order = self.dimension_order[:1:-1]  # slowest first
        s = self.series
        consecutive = s.kind in ("imagej", "shaped", "plain")
        first = int(s.keyframe.index) if consecutive else 0
        # the page index is a sum of one term per dimension (a C-order ravel of disjoint axes)
        base = int(self._indices(0, 0, 0)[0])
        term = {
            "T": [int(self._indices(v, 0, 0)[0]) - base for v in range(size["T"])],
            "C": [int(self._indices(0, v, 0)[0]) - base for v in range(size["C"])],
            "Z": [int(self._indices(0, 0, v)[0]) - base for v in range(size["Z"])],
        }
        tpos, cpos, zpos = (order.index(d) for d in "TCZ")
        tk, ck, zk = term["T"], term["C"], term["Z"]
        out: list[tuple[int, int, int, int | None]] = []
        for idx in itertools.product(*(range(size[d]) for d in order)):
            t, c, z = idx[tpos], idx[cpos], idx[zpos]
            k = base + tk[t] + ck[c] + zk[z]
            out.append((t, c, z, k + first if consecutive else self._page_ifd(k)))
        return out

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


def _index_pages(tf: tifffile.TiffFile) -> None:
    """Let tifffile find every IFD (and stop at an IFD loop) before it lists series.

    tifffile's generic series walks the pages lazily, and on an IFD chain that
    loops back that walk never ends (a fuzz finding: ``info`` ran for minutes on a
    312-byte file). Counting the pages first makes tifffile index the chain, with
    its own loop check; ImageJ and shaped files, whose series come from their first
    page, skip it (a 20000-page file costs about 40 ms).
    """
    len(tf.pages)


def tiff_layouts(
    tf: tifffile.TiffFile, notes: MappingNotes, *, where: object = None
) -> TiffLayouts:
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
        if not (tf.is_imagej or tf.is_shaped):
            _index_pages(tf)
        series = list(tf.series)
        if series and any(_pages_missing(tf, s) for s in series):
            _index_pages(tf)
            generic = list(tf.series(kind="generic"))
            msg = (
                f"the {series[0].kind} header names more pages than the file holds; "
                "read as plain pages (as Bio-Formats does)"
            )
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
        layouts.extend(
            _layout(
                tf,
                index,
                s,
                calibration,
                notes,
                warnings,
                where=f"{where} series {index}",
                main=series[0],
            )
        )
    if not layouts:
        raise InvalidTiffError(f"{where}: the TIFF holds no image")
    return TiffLayouts(tuple(layouts), calibration, tuple(warnings))


#: What tifffile raises for files it cannot make series of (file damage; a
#: TypeError or AttributeError is a bug and propagates). tifffile's page lists
#: raise IndexError for a damaged file with fewer pages than its header claims.
_SERIES_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    OSError,
    EOFError,
    IndexError,
    RuntimeError,
    struct.error,
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
    tf: tifffile.TiffFile | None,
    index: int,
    s: Any,
    cal: TiffCalibration,
    notes: MappingNotes,
    warnings: list[str],
    *,
    where: str,
    main: Any,
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
        warnings.append(
            f"series {index}: each page holds {depth} slices (ImageDepth); read "
            "slice by slice (Bio-Formats shows only the first slice)"
        )
    nsamples = sizes.get("S", 1)
    rgb = nsamples in (3, 4) and kf.photometric in (2, 6)  # RGB, YCbCr (decoded)
    samples = nsamples if rgb else 1
    page_samples = 1 if rgb else nsamples
    if page_samples > 1:
        notes.skip(f"{where} SamplesPerPixel={nsamples}", "non-RGB samples read as channels")
        warnings.append(
            f"series {index}: SamplesPerPixel={nsamples} (not RGB) read as "
            f"{nsamples} channels (Bio-Formats: one channel of {nsamples} samples)"
        )
    stored = str(getattr(s.dtype, "name", s.dtype))  # a numpy dtype, or its name
    dtype = ome_dtype_name(stored, where)
    if dtype != stored:
        notes.skip(f"{where} pixel type {stored}", f"widened to {dtype} (D2)")
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
    names = tuple(
        cal.channel_names[i] if i < len(cal.channel_names) else None for i in range(size_c)
    )
    colors = tuple(
        cal.channel_colors[i] if i < len(cal.channel_colors) else None for i in range(size_c)
    )
    combos: list[dict[int, int]] = [{}]
    for i in positions:
        combos = [{**c, i: v} for c in combos for v in range(grid[i])]
    name = getattr(s, "name", None) or None
    out = []
    for combo in combos:
        label = name
        if combo:
            label = f"{name or (tf.filehandle.name if tf else '')} " + " ".join(
                f"{grid_axes[i]}{v}" for i, v in combo.items()
            )
        out.append(
            TiffLayout(
                index,
                s,
                label,
                frame_shape,
                depth,
                {d: tuple(v) for d, v in dims.items()},
                combo,
                page_samples,
                out_shape,
                samples,
                dtype,
                order,
                physical,
                cal.time_increment,
                names,
                colors,
            )
        )
    return out


def _dimension_order(dims: dict[str, list[int]], ngrid: int, page_samples: int) -> str:
    """DimensionOrder of the storage: the dims the series has, fastest first, then the
    ones it lacks in Z, C, T order (always one of the six legal orders, D3)."""
    inner = {d: max(v) for d, v in dims.items() if v}
    if page_samples > 1:
        inner["C"] = ngrid  # samples of one page vary fastest
    stored = "".join(sorted(inner, key=lambda d: -inner[d]))
    return "XY" + stored + "".join(d for d in "ZCT" if d not in stored)


def _physical(
    tf: tifffile.TiffFile | None,
    index: int,
    s: Any,
    main: Any,
    cal: TiffCalibration,
    *,
    has_z: bool,
) -> dict[str, tuple[float, str]]:
    """Physical sizes of one series: only for axes it has (U3: never invent)."""
    out = {}
    for axis, value in cal.psize.items():
        if axis == "z" and not has_z:
            continue
        if index > 0 and axis in "xy" and ((tf is not None and tf.is_svs) or _yx(s) != _yx(main)):
            continue  # the calibration describes the main image, not thumbnails/labels
        out[axis] = value
    return out


# --- plain and ImageJ TIFFs from the IFD walk alone (``info`` without tifffile) --------

#: Baseline tags that change nothing tifffile makes of a file's series. A file with any
#: other tag (a flavour's private tag, IJMetadata, a colormap...) is left to tifffile.
_PLAIN_TAGS = frozenset(
    {
        254,
        256,
        257,
        258,
        259,
        262,
        266,
        269,
        270,
        273,
        274,
        277,
        278,
        279,
        280,
        281,
        282,
        283,
        284,
        285,
        296,
        297,
        305,
        306,
        315,
        316,
        317,
        318,
        319,
        322,
        323,
        324,
        325,
        338,
        339,
        340,
        341,
    }
)
#: IFD0 tags the calibration reads, by the names tifffile gives them.
_CALIBRATION_TAGS = {282: "XResolution", 283: "YResolution", 296: "ResolutionUnit", 306: "DateTime"}


@dataclass(frozen=True, slots=True)
class _PlainPage:
    """The keyframe facts :func:`_layout` reads."""

    shaped: tuple[int, ...]
    photometric: int
    index: int = 0
    compression: int = 1


@dataclass(frozen=True, slots=True)
class _PlainSeries:
    """The series tifffile makes of a plain or ImageJ TIFF (squeezed axes, as tifffile's
    default), built from the IFD walk by :func:`plain_layouts`."""

    kind: str
    axes: str
    shape: tuple[int, ...]
    dtype: str
    keyframe: _PlainPage
    name: str = ""
    dataoffset: None = None

    @property
    def levels(self) -> list[_PlainSeries]:
        return [self]


def plain_layouts(structure: TiffStructure, notes: MappingNotes) -> TiffLayouts | None:
    """The layouts :func:`tiff_layouts` gives a plain multi-page or ImageJ hyperstack TIFF,
    from the IFD walk alone (``ometiff info`` then needs neither tifffile nor numpy).

    Only files whose series tifffile would make the obvious way qualify: every IFD alike
    (same size, samples, type), no SubIFDs or reduced-resolution pages, only baseline
    tags, no description or an ImageJ one naming exactly the pages the file holds (no
    IJMetadata). Anything else returns None: ask tifffile (:func:`tiff_layouts`).
    ``tests/readers/test_tifflayout.py`` checks both paths agree.
    """
    ifds = structure.ifds
    if not ifds or structure.problems:
        return None
    first = ifds[0]
    key = first.summary_key()[:-1]  # all but the description kind
    checked = None
    for ifd in ifds:
        if ifd is checked:  # the walk shares one record between IFDs that look alike
            continue
        if (
            (ifd is not first and (ifd.summary_key()[:-1] != key or ifd.description_kind))
            or ifd.subifd_offsets
            or ifd.new_subfile_type
            or not _PLAIN_TAGS.issuperset(ifd.tags)
        ):
            return None
        checked = ifd
    spp, photometric = first.samples_per_pixel, first.photometric
    rgb = photometric == 2 and spp in (3, 4) and first.planar_config == 1
    if (
        not (rgb or (photometric in (0, 1) and spp == 1))
        or first.dtype not in DTYPE_TO_OME
        or first.dtype == "bool"
    ):
        return None  # 1-, 12-bit, float16 samples...: tifffile's reading decides
    imagej = None
    if first.description_kind is not None:
        text = structure.description or ""
        imagej = imagej_description(text) if text.startswith("ImageJ=") else None
        if imagej is None:
            return None
    n = len(ifds)
    if imagej is not None:
        sizes = {
            a: imagej.get(k, 1) for a, k in (("T", "frames"), ("Z", "slices"), ("C", "channels"))
        }
        if (
            not all(type(v) is int and v > 0 for v in sizes.values())
            or math.prod(sizes.values()) != n
            or imagej.get("images", 1) != n
        ):
            return None
        frame = [(a, v) for a, v in sizes.items() if v > 1]
        kind = "imagej"
    else:
        frame = [("I", n)] if n > 1 else []
        kind = "plain"
    page = [("Y", first.height), ("X", first.width)] + ([("S", spp)] if rgb else [])
    series = _PlainSeries(
        kind,
        "".join(a for a, _ in frame + page),
        tuple(v for _, v in frame + page),
        first.dtype,
        _PlainPage(
            (1, 1, first.height, first.width, spp if rgb else 1),
            photometric or 0,
            0,
            first.compression,
        ),
    )
    from ometiff.tiff.structure import ifd0_values

    values = ifd0_values(structure.path, frozenset(_CALIBRATION_TAGS))
    named: dict[str, Any] = {}
    for code, value in values.items():
        name = _CALIBRATION_TAGS[code]
        named[name] = value if isinstance(value, str) or name.endswith("Resolution") else value[0]
    cal = plain_calibration(imagej, named.get, notes)
    warnings = list(cal.unknown_units)
    where = structure.path.name
    layouts = _layout(None, 0, series, cal, notes, warnings, where=f"{where} series 0", main=series)
    return TiffLayouts(tuple(layouts), cal, tuple(warnings))
