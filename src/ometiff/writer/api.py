"""``ometiff.write``: save arrays (numpy, dask, zarr, plane iterators) as OME-TIFF.

This module turns arrays and keyword options into plane sources and an OME
model; :func:`ometiff.writer.core.write_sources` does the streaming.
"""

from __future__ import annotations

import datetime as _dt
import numbers
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ometiff.errors import InvalidArgumentError, WriteError
from ometiff.ome.units import parse_length, parse_time
from ometiff.readers.source import SeriesSource
from ometiff.writer.core import OnPlane, write_all, write_sources
from ometiff.writer.multifile import Split, order_for_split, plane_order
from ometiff.writer.omexml import LightOme, SeriesMeta, prepare
from ometiff.writer.pyramid import Downsample

if TYPE_CHECKING:
    from ome_types import model as m

    from ometiff.types import StrPath

__all__ = ["write", "write_sources"]

AXES = "TCZYXS"


class _Series:
    """One input series: a plane source plus the DimensionOrder its axes imply."""

    def __init__(self, source: SeriesSource, order: str, sequential: bool) -> None:
        self.source = source
        self.order = order
        self.sequential = sequential


def _check_axes(axes: str, ndim: int, where: str) -> str:
    axes = axes.upper()
    bad = [a for a in axes if a not in AXES]
    if bad:
        raise WriteError(
            f"{where}: axes={axes!r} has unknown letter(s) {''.join(bad)}; use letters of {AXES}"
        )
    if len(set(axes)) != len(axes):
        raise WriteError(f"{where}: axes={axes!r} repeats a letter")
    if "Y" not in axes or "X" not in axes:
        raise WriteError(f"{where}: axes={axes!r} must contain Y and X")
    if len(axes) != ndim:
        raise WriteError(
            f"{where}: axes={axes!r} has {len(axes)} letters but the data has {ndim} dimensions"
        )
    return axes


#: Pixel types of camera RGB(A) images; a last axis of 3 or 4 with these is samples.
RGB_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))


def _default_axes(shape: Sequence[int], dtype: Any, where: str) -> str:
    """Axes of data given without ``axes``: ``"TCZYX"[-ndim:]``, or ``YXS`` for RGB(A).

    A ``(Y, X, 3)`` or ``(Y, X, 4)`` uint8/uint16 array is an RGB(A) image: one
    Channel with SamplesPerPixel 3 or 4 (checklist R2), as tifffile and every
    image library read it. With more dimensions and such a last axis the layout is
    ambiguous (``ZYXS``? ``CZYX`` with 3 columns?), so ``axes`` is required.
    """
    ndim = len(shape)
    if not 2 <= ndim <= 5:
        raise WriteError(f"{where}: {ndim}-D data needs axes=... (letters of {AXES})")
    rgb_like = ndim >= 3 and shape[-1] in (3, 4) and np.dtype(dtype).newbyteorder("=") in RGB_DTYPES
    if rgb_like and ndim == 3:
        return "YXS"
    if rgb_like:
        samples = "RGB" if shape[-1] == 3 else "RGBA"
        raise WriteError(  # checklist R2: RGB is one Channel of SamplesPerPixel 3
            f"{where}: shape {tuple(shape)} {np.dtype(dtype)} is ambiguous: a last axis of "
            f"{shape[-1]} looks like {samples} samples; pass axes=..., e.g. "
            f"axes={'TCZ'[-(ndim - 3) :] + 'YXS'!r} for {samples} planes or "
            f"axes={'TCZYX'[-ndim:]!r} if the last axis is X"
        )
    return "TCZYX"[-ndim:]


def _order_from_axes(axes: str) -> str:
    """DimensionOrder whose rasterisation is the row-major order of the axes."""
    present = [a for a in reversed(axes) if a in "TCZ"]
    return "XY" + "".join(present + [a for a in "ZCT" if a not in present])


def _dtype(dtype: Any, where: str) -> tuple[np.dtype, np.dtype | None]:
    """Return (dtype written, dtype to convert planes from or None) (checklist D2)."""
    dt = np.dtype(dtype)
    native = dt.newbyteorder("=")
    if native == np.float16:
        warnings.warn(
            f"{where}: float16 has no OME pixel type (checklist D2); writing float32 (lossless)",
            UserWarning,
            stacklevel=4,
        )
        return np.dtype(np.float32), native
    if native.kind in "iu" and native.itemsize == 8:
        wider = "uint32" if native.kind == "u" else "int32"
        raise WriteError(
            f"{where}: {native} has no OME pixel type (checklist D2); convert it first, "
            f"e.g. data.astype('{wider}') if the values fit, or data.astype('float64')"
        )
    if native.kind == "c":
        raise WriteError(
            f"{where}: complex pixels are not written (Bio-Formats cannot read "
            "complex TIFF); write real and imaginary parts as channels"
        )
    if native.kind not in "biuf":
        raise WriteError(f"{where}: pixel type {dt} cannot be written as OME-TIFF")
    return native, None


def _sizes(shape: Sequence[int], axes: str) -> tuple[tuple[int, int, int, int, int], int]:
    sizes = dict(zip(axes, (int(n) for n in shape), strict=True))
    samples = sizes.get("S", 1)
    return (
        sizes.get("T", 1),
        sizes.get("C", 1),
        sizes.get("Z", 1),
        sizes["Y"],
        sizes["X"],
    ), samples


def _plane_getter(axes: str, convert: np.dtype | None, dtype: np.dtype) -> Any:
    """Index (t, c, z) into an array with these axes and return a (Y, X[, S]) plane."""
    rest = [a for a in axes if a in "YXS"]
    perm = [rest.index(a) for a in "YXS" if a in rest]

    def index(t: int, c: int, z: int) -> tuple[Any, ...]:
        pick = {"T": t, "C": c, "Z": z}
        return tuple(pick.get(a, slice(None)) for a in axes)

    def finish(plane: Any) -> np.ndarray:
        out = np.asarray(plane)
        if perm != sorted(perm):
            out = out.transpose(perm)
        if convert is not None:
            out = out.astype(dtype)
        return out

    return index, finish


def array_series(arr: Any, axes: str | None, i: int, name: str | None) -> _Series:
    where = f"series {i}"
    shape = tuple(int(n) for n in arr.shape)
    axes = _check_axes(axes, len(shape), where) if axes else _default_axes(shape, arr.dtype, where)
    dtype, convert = _dtype(arr.dtype, where)
    (t, c, z, y, x), samples = _sizes(shape, axes)
    if samples not in (1, 3, 4):
        raise WriteError(
            f"{where}: S (samples) has size {samples}; use 3 (RGB) or 4 (RGBA), "
            "or call the axis C for separate channels"
        )
    index, finish = _plane_getter(axes, convert, dtype)
    src = SeriesSource(
        (t, c, z, y, x), samples, dtype, _ArrayPlanes(arr, axes, index, finish), name
    )
    return _Series(src, _order_from_axes(axes), sequential=False)


class _ArrayPlanes:
    """``get_plane`` of an array, plus ``block`` for runs of planes that are contiguous."""

    def __init__(self, arr: Any, axes: str, index: Any, finish: Any) -> None:
        self.arr, self.axes, self.index, self.finish = arr, axes, index, finish

    def __call__(self, t: int, c: int, z: int) -> np.ndarray:
        return self.finish(self.arr[self.index(t, c, z)])

    def block(self, planes: Sequence[tuple[int, int, int]]) -> np.ndarray | None:
        """Planes ``[(t, c, z), ...]`` as one ``(n, Y, X[, S])`` view, or None.

        Only for a C-ordered numpy array whose Y, X (and S) axes come last and
        when the planes are consecutive in its memory order: the writer then
        hands the whole run to tifffile at once (as fast as ``tifffile.imwrite``).
        """
        arr = self.arr
        lead = [a for a in self.axes if a in "TCZ"]
        if (
            not isinstance(arr, np.ndarray)
            or not arr.flags.c_contiguous
            or not planes
            or self.axes[len(lead) :] not in ("YX", "YXS")
        ):
            return None
        sizes = arr.shape[: len(lead)]
        pos = {"T": 0, "C": 1, "Z": 2}
        flat = [
            int(np.ravel_multi_index(tuple(p[pos[a]] for a in lead), sizes)) if lead else 0
            for p in planes
        ]
        start = flat[0]
        if flat != list(range(start, start + len(flat))):
            return None
        return arr.reshape(-1, *arr.shape[len(lead) :])[start : start + len(flat)]


def _iterator_series(
    planes: Iterator[Any],
    axes: str | None,
    shape: Sequence[int] | None,
    dtype: Any,
    name: str | None,
) -> _Series:
    if shape is None or dtype is None:
        raise WriteError(
            "a plane iterator needs shape=... and dtype=... (the whole image's shape in axes order)"
        )
    shape = tuple(int(n) for n in shape)
    axes = (
        _check_axes(axes, len(shape), "iterator")
        if axes
        else _default_axes(shape, dtype, "iterator")
    )
    real, convert = _dtype(dtype, "iterator")
    sizes, samples = _sizes(shape, axes)
    order = _order_from_axes(axes)
    expected = iter(plane_order(sizes, order))
    _, finish = _plane_getter("".join(a for a in axes if a in "YXS"), convert, real)

    def get_plane(t: int, c: int, z: int) -> np.ndarray:
        want = next(expected, None)
        if want != (t, c, z):
            raise WriteError(
                f"plane iterator: plane (t={t}, c={c}, z={z}) requested but the iterator "
                f"yields {want} next; planes of an iterator are written in axes order"
            )
        try:
            plane = next(planes)
        except StopIteration:
            raise WriteError(
                f"plane iterator ended early at (t={t}, c={c}, z={z}); shape={shape} "
                "declares more planes"
            ) from None
        return finish(plane)

    src = SeriesSource(sizes, samples, real, get_plane, name)
    return _Series(src, order, sequential=True)


def _is_array(obj: Any) -> bool:
    return hasattr(obj, "shape") and hasattr(obj, "dtype") and hasattr(obj, "__getitem__")


def _per_series(value: Any, n: int, what: str, *, nested: type | tuple[type, ...]) -> list[Any]:
    """Expand a per-series option: one value for all, or a list with one per series."""
    if (
        n > 1
        and isinstance(value, list)
        and value
        and all(isinstance(v, nested) or v is None for v in value)
    ):
        if len(value) != n:
            raise WriteError(f"{what} has {len(value)} entries for {n} series")
        return value
    return [value] * n


def _physical(value: Any, where: str) -> dict[str, tuple[float, str]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):  # one size for X and Y
        px = parse_length(value, what="physical_size")
        return {"X": px, "Y": px}
    out = {}
    for axis, q in value.items():
        key = str(axis).upper()
        if key not in "XYZ" or len(key) != 1:
            raise WriteError(f"{where}: physical_size has axis {axis!r}; use X, Y or Z")
        out[key] = parse_length(q, what=f"physical_size[{key}]")
    return out


def check_output_options(
    dest: Path,
    *,
    split: Any,
    companion: bool,
    tile: Any,
    bigtiff: bool | None,
    ngff: str,
    layout: str,
    chunks: Any,
    shards: Any,
    threads: Any = None,
) -> bool:
    """Refuse options of the other output format: OME-TIFF's given for an OME-Zarr
    output, or OME-Zarr's for an OME-TIFF one (``write`` and ``convert`` alike); and a
    thread count that is not a whole number of 1 or more.

    Returns
    -------
    bool
        Whether ``dest`` is an OME-Zarr output (a ``.ome.zarr`` name).

    Raises
    ------
    WriteError
        Some of them were given; the message names them.
    InvalidArgumentError
        ``threads`` is not None or a whole number of 1 or more.
    """
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1
    ):
        raise InvalidArgumentError(
            f"threads={threads!r}: give a whole number of 1 or more", option="threads"
        )
    from ometiff.tiff.names import is_zarr_path

    zarr_out = is_zarr_path(dest)
    given = (
        (
            ("split", split is not None),
            ("companion", companion),
            ("tile", tile is not None),
            ("bigtiff", bool(bigtiff)),
        )
        if zarr_out
        else (
            ("ngff", ngff != "0.5"),
            ("layout", layout != "bioformats2raw"),
            ("chunks", chunks is not None),
            ("shards", shards not in (None, False)),
        )
    )
    mixed = [name for name, on in given if on]
    if mixed:
        other = "OME-TIFF" if zarr_out else "OME-Zarr (.ome.zarr)"
        raise WriteError(f"{dest}: {', '.join(mixed)} only apply to {other} outputs")
    return zarr_out


def write(
    path: StrPath,
    data: Any,
    *,
    axes: str | Sequence[str] | None = None,
    shape: Sequence[int] | None = None,
    dtype: Any = None,
    physical_size: Any = None,
    time_increment: Any = None,
    channel_names: Sequence[Any] | None = None,
    channel_colors: Sequence[Any] | None = None,
    excitation_wavelength: Sequence[Any] | None = None,
    emission_wavelength: Sequence[Any] | None = None,
    names: str | Sequence[str | None] | None = None,
    compression: str | None = None,
    compression_level: int | None = None,
    tile: tuple[int, int] | int | bool | None = None,
    pyramid_levels: int | str = 0,
    downsample: Downsample = "mean",
    bigtiff: bool | None = None,
    overwrite: bool = False,
    ome: m.OME | None = None,
    plane_metadata: Any = None,
    instrument: m.Instrument | None = None,
    objective: m.Objective | Mapping[str, Any] | None = None,
    acquisition_date: _dt.datetime | str | None = None,
    annotations: Mapping[str, Any] | None = None,
    split: Split | None = None,
    companion: bool = False,
    on_plane: OnPlane | None = None,
    threads: int | None = None,
    ngff: str = "0.5",
    layout: Literal["bioformats2raw", "image"] = "bioformats2raw",
    chunks: int | Sequence[int] | None = None,
    shards: bool | int | Sequence[int] | None = None,
) -> Path:
    """Write arrays as an OME-TIFF file (or a linked file set), or as OME-Zarr.

    Parameters
    ----------
    path
        Output ``.ome.tif`` / ``.ome.tiff`` (or BigTIFF ``.ome.btf``,
        ``.ome.tf2``, ``.ome.tf8``); a name ending with ``.ome.zarr`` writes
        OME-Zarr (:func:`ometiff.writer.ngff.write_ngff`: ``compression`` zstd by
        default, ``pyramid_levels``, ``ngff``, ``layout``, ``chunks``, ``shards``;
        every chunk is read back and compared).
    data
        A numpy, dask or zarr array (anything with ``shape``, ``dtype`` and
        slicing), a list of them (one per series), or an iterator of planes with
        ``shape`` and ``dtype`` given (planes in row-major order of ``axes``).
    axes
        Letters of ``TCZYXS`` in the order of the data's dimensions (a list for
        several series). Default ``"TCZYX"[-ndim:]``, except that a
        ``(Y, X, 3|4)`` uint8/uint16 array is RGB(A) (``"YXS"``); more
        dimensions with a last axis of 3 or 4 in those types need ``axes``.
        ``S`` holds RGB(A) samples: it becomes one Channel with
        ``SamplesPerPixel=3`` (or 4).
    physical_size
        One size for X and Y, or ``{"X": 0.65, "Y": "650 nm", "Z": (2, "µm")}``.
        A size is a number (µm), ``"325nm"``/``"0.325 um"`` or ``(value, unit)``;
        unit spellings as :mod:`ometiff.ome.units` knows them (``um``, ``micron``
        -> ``µm``), written as the schema's symbols. Units are always written;
        sizes not given are not written. ``meta set`` takes the same values.
    time_increment
        Seconds, ``"500 ms"`` or ``(value, unit)``.
    channel_names, channel_colors, excitation_wavelength, emission_wavelength
        One entry per channel (C); a list of such lists gives one per series.
        Colours: ``"#RRGGBB"``, ``"#RRGGBBAA"``, a CSS name, ``(r, g, b[, a])`` or
        the OME RGBA int (signed, or unsigned like ``0xFF0000FF``; R4).
        Wavelengths: nm, ``"488nm"`` or ``(value, unit)``.
    names
        Series (Image) names.
    compression, compression_level
        ``None``/``"none"``, ``"lzw"``, ``"zlib"`` (= ``"deflate"``), ``"zstd"``,
        ``"jpeg"``, ``"jpeg2000"`` (level = quality), ``"jpegxl"``, ``"webp"``,
        ``"lerc"``; the last three warn: Bio-Formats cannot decode them (W4).
    tile
        ``(height, width)`` multiples of 16; ``False`` for strips; default
        tiles 512x512 for images with a side > 2048 or a pyramid.
    pyramid_levels
        Number of sub-resolutions (factor 2 each) or ``"auto"`` (down to ~256 px).
    downsample
        ``"mean"`` or ``"nearest"``.
    bigtiff
        ``None`` (default) chooses BigTIFF when an upper bound of the size
        exceeds 4 GB; ``.ome.btf``, ``.ome.tf2`` and ``.ome.tf8`` files are
        always BigTIFF (checklist C2), and ``False`` is refused for them.
    overwrite
        Replace an existing file; otherwise :class:`FileExistsOmeTiffError`.
    ome
        A complete ``ome_types.OME``; it must agree with the data (sizes, Type,
        samples) and replaces the metadata keywords.
    plane_metadata
        ``{(t, c, z): {"DeltaT": 0.5, "ExposureTime": (10, "ms"),
        "PositionX": 100.0, ...}}`` (a list of such dicts for several series).
        Plain numbers are seconds and µm.
    instrument, objective
        An ``ome_types`` Instrument, and/or an Objective (model or dict of its
        fields, e.g. ``{"nominal_magnification": 20, "lens_na": 0.8}``).
    acquisition_date
        ``datetime`` or ISO 8601 string.
    annotations
        Key-value pairs, written as one MapAnnotation linked to every Image.
    split, companion
        One file per ``"series"``, ``"c"`` or ``"t"``; with ``companion`` the
        members are BinaryOnly and the metadata goes to ``<stem>.companion.ome``.
    on_plane
        Progress callback ``on_plane(done, total)``.
    threads
        Threads the write compresses and verifies on (default: all cores); 1 runs
        all of it in the calling thread.

    Returns
    -------
    Path
        The file written, or the entry of a set (the companion, else the first
        member).
    """
    dest = Path(os.fspath(path))
    if isinstance(data, list | tuple):
        arrays: list[Any] = list(data)
        if not arrays:
            raise WriteError(f"{dest}: data is an empty list; nothing to write")
    else:
        arrays = [data]
    n = len(arrays)
    if axes is None or isinstance(axes, str):
        axes_list: list[str | None] = [axes] * n
    else:
        axes_list = list(axes)
        if len(axes_list) != n:
            raise WriteError(f"axes has {len(axes_list)} entries for {n} series")
    if names is None or isinstance(names, str):
        if isinstance(names, str) and n > 1:
            raise WriteError(f"names={names!r}: give one name per series ({n})")
        name_list: list[str | None] = [names] * n
    else:
        name_list = list(names)
        if len(name_list) != n:
            raise WriteError(f"names has {len(name_list)} entries for {n} series")

    series: list[_Series] = []
    for i, (arr, ax, name) in enumerate(zip(arrays, axes_list, name_list, strict=True)):
        if _is_array(arr):
            series.append(array_series(arr, ax, i, name))
        elif isinstance(arr, Iterator) or (
            isinstance(arr, Iterable)
            and not isinstance(arr, str | bytes | Mapping)
            and shape is not None
        ):
            if n > 1:
                raise WriteError("plane iterators are written one series at a time")
            series.append(_iterator_series(iter(arr), ax, shape, dtype, name))
        else:
            raise WriteError(
                f"series {i}: cannot write a {type(arr).__name__}; give a numpy/dask/zarr "
                "array or a plane iterator with shape= and dtype="
            )
    sources = [s.source for s in series]
    orders = [s.order for s in series]
    for s in series:
        if s.sequential and plane_order(
            s.source.shape, order_for_split(s.order, split)
        ) != plane_order(s.source.shape, s.order):
            raise WriteError(
                f"split={split!r} needs the split axis outermost in a plane iterator's axes"
            )

    keywords = {
        "physical_size": physical_size,
        "time_increment": time_increment,
        "channel_names": channel_names,
        "channel_colors": channel_colors,
        "excitation_wavelength": excitation_wavelength,
        "emission_wavelength": emission_wavelength,
        "plane_metadata": plane_metadata,
        "instrument": instrument,
        "objective": objective,
        "acquisition_date": acquisition_date,
        "annotations": annotations,
    }
    light: LightOme | None = None
    if ome is not None:
        from ometiff.writer.omebuild import check_ome_matches

        given = [k for k, v in keywords.items() if v is not None]
        if given:
            raise WriteError(f"give either ome=... or metadata keywords, not both ({given})")
        check_ome_matches(ome, sources)
        if any(nm is not None for nm in name_list):
            ome = ome.model_copy(deep=True)
            for image, name in zip(ome.images, name_list, strict=True):
                if name is not None:
                    image.name = name
    else:
        per = {
            "physical_size": _per_series(physical_size, n, "physical_size", nested=dict),
            "time_increment": _per_series(
                time_increment, n, "time_increment", nested=(int, float, str, tuple)
            ),
            "channel_names": _per_series(channel_names, n, "channel_names", nested=list),
            "channel_colors": _per_series(channel_colors, n, "channel_colors", nested=list),
            "excitation_wavelength": _per_series(
                excitation_wavelength, n, "excitation_wavelength", nested=list
            ),
            "emission_wavelength": _per_series(
                emission_wavelength, n, "emission_wavelength", nested=list
            ),
            "plane_metadata": _per_series(plane_metadata, n, "plane_metadata", nested=dict),
        }
        metas = []
        for i in range(n):
            ti = per["time_increment"][i]
            metas.append(
                SeriesMeta(
                    name=name_list[i],
                    physical_size=_physical(per["physical_size"][i], f"series {i}"),
                    time_increment=None if ti is None else parse_time(ti, what="time_increment"),
                    channel_names=per["channel_names"][i],
                    channel_colors=per["channel_colors"][i],
                    excitation_wavelength=per["excitation_wavelength"][i],
                    emission_wavelength=per["emission_wavelength"][i],
                    plane_metadata=per["plane_metadata"][i],
                )
            )
        if instrument is None and objective is None:
            # fast path: plain OME-XML without importing ome_types
            light = prepare(
                sources, metas, acquisition_date=acquisition_date, annotations=annotations
            )
        if light is None:
            from ometiff.writer.omebuild import build_ome

            ome = build_ome(
                sources,
                metas,
                instrument=instrument,
                objective=objective,
                acquisition_date=acquisition_date,
                annotations=annotations,
            )
    zarr_out = check_output_options(
        dest,
        split=split,
        companion=companion,
        tile=tile,
        bigtiff=bigtiff,
        ngff=ngff,
        layout=layout,
        chunks=chunks,
        shards=shards,
        threads=threads,
    )
    if zarr_out:
        from ometiff.writer.ngff import write_ngff
        from ometiff.writer.omebuild import build_ome

        if ome is None:
            ome = build_ome(
                sources,
                metas,
                instrument=instrument,
                objective=objective,
                acquisition_date=acquisition_date,
                annotations=annotations,
            )
        if any(o != "XYZCT" for o in orders):
            ome = ome.model_copy(deep=True)
            for image, order in zip(ome.images, orders, strict=True):
                image.pixels.dimension_order = type(image.pixels.dimension_order)(order)
        return write_ngff(
            dest,
            sources,
            ome=ome,
            ngff=ngff,
            layout=layout,
            compression=compression,
            compression_level=compression_level,
            chunks=chunks,
            shards=shards,
            pyramid_levels=pyramid_levels,
            downsample=downsample,
            overwrite=overwrite,
            on_plane=on_plane,
            threads=threads,
        ).path
    paths = write_all(
        dest,
        sources,
        ome=ome,
        light=light,
        compression=compression,
        compression_level=compression_level,
        tile=tile,
        pyramid_levels=pyramid_levels,
        downsample=downsample,
        bigtiff=bigtiff,
        split=split,
        companion=companion,
        overwrite=overwrite,
        dimension_order=orders,
        on_plane=on_plane,
        threads=threads,
    )
    return paths[0]
