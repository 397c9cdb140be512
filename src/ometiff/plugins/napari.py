"""The napari plugin (npe2): open any input ometiff reads, save image layers as OME-TIFF.

Declared by ``napari.yaml`` beside this module and the ``napari.manifest`` entry
point. Nothing here imports napari: the hooks take and return plain layer data
tuples (``(data, meta, "image")``), so they are tested without a display.

Reader
    :func:`napari_get_reader` opens the input with :func:`ometiff.open` (every reader
    of the registry) and returns None, never raises, when it cannot: napari then
    tries the next plugin. :func:`read_layers` makes one layer set per series (names
    prefixed with the series name when there are several; ``series=`` chooses):
    lazy multiscale dask arrays (full resolution first), ``channel_axis`` with the
    channel names, colormaps from the OME channel colours, contrast limits from the
    smallest level, ``scale`` and ``units`` from the physical sizes, and the OME
    metadata in the layer metadata (``"ome_types"``: the ``ome_types.OME``, the key
    ome-types' own napari widget reads; ``"ometiff"``: path, series, dims, channel).
Widget
    "Open series" (:mod:`ometiff.plugins.napari_widget`) opens the series given by
    index (``0,2-4``) instead of all of them.
Writer
    :func:`write_image` saves one image layer, :func:`write_images` several (layers
    of one shape and series become the channels of one image, others one image each) as a
    pyramidal, zlib-compressed OME-TIFF through :func:`ometiff.write`, with the
    layers' scale (physical sizes), names (channel names) and colormaps (colours).
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.dataset import open as open_file
from ometiff.errors import (
    InvalidArgumentError,
    NoSuchPlaneError,
    OmeTiffError,
    UnsupportedFormatError,
    WriteError,
)
from ometiff.ome.colour import LUT_COLORS, hex_to_ome, ome_to_rgba
from ometiff.ome.units import to_micrometres, to_seconds

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ometiff.dataset import File, Series

#: One napari layer: ``(data, keyword arguments of the layer, layer type)``.
LayerData = tuple[Any, dict[str, Any], str]

#: Elements of one channel's smallest level read in full for its contrast limits;
#: beyond this, evenly spaced planes of that level are read (napari computes its own
#: limits from the dtype range, useless for 12-bit data in uint16).
CONTRAST_SAMPLE = 1 << 22


# -- reader ---------------------------------------------------------------------------


def napari_get_reader(path: str | Sequence[str]) -> Callable[[Any], list[LayerData]] | None:
    """npe2 reader hook: a function that reads ``path``, or None if ometiff cannot.

    The input is opened here (and kept open for the lazy layers), so a file that
    is damaged or needs a missing extra is refused here: None, with a warning that
    says why; inputs that are simply not a supported format give None silently.
    Several paths give the layers of each (they are not stacked into one layer).
    """
    paths = [path] if isinstance(path, str | os.PathLike) else list(path)
    if not paths:
        return None
    files: list[File] = []
    for p in paths:
        f = _try_open(p)
        if f is None:
            for opened in files:
                opened.close()
            return None
        files.append(f)

    def reader(_path: Any) -> list[LayerData]:
        layers: list[LayerData] = []
        for f in files:
            layers.extend(layer_data(f))
        return layers

    return reader


def _try_open(path: str | os.PathLike[str]) -> File | None:
    try:
        return open_file(path)
    except UnsupportedFormatError:
        return None
    except OmeTiffError as exc:  # damaged, missing extra or file: say why, then decline
        warnings.warn(f"ometiff cannot open {os.fspath(path)}: {exc}", UserWarning, stacklevel=3)
        return None


def read_layers(
    path: str | os.PathLike[str], series: Sequence[int] | int | None = None, **options: Any
) -> list[LayerData]:
    """The napari layer data of ``path``: one layer set per series (all by default).

    For a choice of series from Python::

        from napari.layers import Layer

        for data in read_layers("plate.czi", series=[2, 5]):
            viewer.add_layer(Layer.create(*data))  # or viewer.add_image(data[0], **data[1])

    Raises
    ------
    OmeTiffError
        As :func:`ometiff.open` does (unlike the npe2 hook, which returns None).
    """
    return layer_data(open_file(path, **options), series)


def parse_series(text: str, path: str | os.PathLike[str] = "") -> list[int] | None:
    """``"0, 2-4"`` -> ``[0, 2, 3, 4]`` (the "Open series" widget); empty: every series."""
    chosen: list[int] = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        first, dash, last = part.partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            raise InvalidArgumentError(
                f"{os.fspath(path)}: series {text!r}: give indices and ranges, e.g. 0,2-4"
            )
        chosen.extend(range(int(first), int(last if dash else first) + 1))
    return chosen or None


def layer_data(file: File, series: Sequence[int] | int | None = None) -> list[LayerData]:
    """Layer data tuples of the chosen series of an open file (lazy: nothing decoded
    but the sample behind the contrast limits)."""
    if series is None:
        chosen = list(range(len(file.series)))
    else:
        chosen = [series] if isinstance(series, int) else list(series)
        count = len(file.series)
        for s in chosen:
            if not 0 <= s < count:
                raise NoSuchPlaneError(f"{file.path}: series {s} does not exist ({count} series)")
    prefix = len(file.series) > 1
    # T and Z of size 1 in every chosen series are dropped (2-D images stay 2-D); the
    # layers of one file keep the same axes, so napari lines up their units and labels
    stacked = "".join(a for a in "TZ" if any(file.series[s].sizes[a] > 1 for s in chosen))
    return [_series_layer(file, s, prefix, stacked) for s in chosen]


def _series_label(file: File, s: Series) -> str:
    if s.name:
        return s.name
    return f"series {s.index}" if len(file.series) > 1 else file.path.name


def _series_layer(file: File, index: int, prefix: bool, stacked: str) -> LayerData:
    s = file.series[index]
    # C stays when there are channels (napari splits it by channel_axis)
    keep = [
        axis
        for axis in s.dims
        if axis in "YXS" or axis in stacked or (axis == "C" and s.sizes["C"] > 1)
    ]
    pick = tuple(slice(None) if axis in keep else 0 for axis in s.dims)
    levels = [file.to_dask(index, level)[pick] for level in range(len(s.levels))]
    kept = "".join(keep)
    layer_dims = kept.replace("C", "")  # the dims of each channel's layer
    spatial = layer_dims.replace("S", "")
    scale = [_axis_scale(s, axis) for axis in spatial]
    units = [_axis_unit(s, axis) for axis in spatial]
    labels = [axis.lower() for axis in spatial]
    rgb = s.sizes["S"] > 1
    label = _series_label(file, s)
    n_channels = s.sizes["C"]
    names, colormaps, limits, metadata = [], [], [], []
    shared = {
        "path": str(file.path),
        "reader": file.reader,
        "series": index,
        "series_name": s.name,
        "dims": layer_dims,
        "physical_size": dict(s.physical_size),
        "time_increment": s.time_increment,
    }
    for c, ch in enumerate(s.channels):
        channel = ch.name or (f"C{c}" if n_channels > 1 else None)
        if prefix or channel is None:
            names.append(label if channel is None else f"{label}: {channel}")
        else:
            names.append(channel)
        colormaps.append(None if ch.color is None else "#{:02x}{:02x}{:02x}".format(*ch.color))
        limits.append(_contrast_limits(levels[-1], kept, c, s.dtype))
        metadata.append(
            {
                "ome_types": _LazyOme(file),
                "ometiff": {
                    **shared,
                    "channel": c,
                    "channel_name": ch.name,
                    "layer_name": names[-1],
                    "excitation": ch.excitation,
                    "emission": ch.emission,
                },
            }
        )
    meta: dict[str, Any] = {
        "rgb": rgb,
        "multiscale": len(levels) > 1,
        "scale": scale,
        "units": units,
        "axis_labels": labels,
    }
    if "C" in kept:
        meta["channel_axis"] = kept.index("C")
        meta["name"] = names
        meta["metadata"] = metadata
        if any(cm is not None for cm in colormaps):
            meta["colormap"] = [cm or "gray" for cm in colormaps]
        if not (rgb and s.dtype == np.uint8):
            meta["contrast_limits"] = limits
        # every per-channel value is a list of one entry per channel
        for key in ("scale", "units", "axis_labels"):
            meta[key] = [meta[key]] * n_channels
    else:
        meta["name"] = names[0]
        meta["metadata"] = metadata[0]
        if colormaps[0] is not None and not rgb:
            meta["colormap"] = colormaps[0]
        if not (rgb and s.dtype == np.uint8):
            meta["contrast_limits"] = limits[0]
    data: Any = levels if len(levels) > 1 else levels[0]
    return data, meta, "image"


def _axis_scale(s: Series, axis: str) -> float:
    value = s.time_increment if axis == "T" else s.physical_size.get(axis)
    return float(value) if value else 1.0


def _axis_unit(s: Series, axis: str) -> str:
    if axis == "T":
        return "second" if s.time_increment else "pixel"
    return "micrometer" if s.physical_size.get(axis) else "pixel"


def _contrast_limits(level: Any, dims: str, channel: int, dtype: np.dtype) -> tuple[float, float]:
    """Min and max of one channel of the smallest level, sampled when that is large.

    At most :data:`CONTRAST_SAMPLE` elements are read: a centred window of a plane
    larger than that (tiled files decode only the tiles it touches), then evenly
    spaced planes of T and Z, first and last included.
    """
    from dask.base import compute

    if "C" in dims:
        level = level[tuple(channel if a == "C" else slice(None) for a in dims)]
    axes = dims.replace("C", "")
    y, x = axes.index("Y"), axes.index("X")
    samples = level.shape[-1] if axes.endswith("S") else 1
    height, width = level.shape[y], level.shape[x]
    if height * width * samples > CONTRAST_SAMPLE:
        side = max(1, math.isqrt(CONTRAST_SAMPLE // samples))
        top, left = max(0, (height - side) // 2), max(0, (width - side) // 2)
        window = [slice(None)] * level.ndim
        window[y], window[x] = slice(top, top + side), slice(left, left + side)
        level = level[tuple(window)]
    stacked = [i for i, a in enumerate(axes) if a in "TZ"]
    if level.size > CONTRAST_SAMPLE and stacked:
        planes = math.prod(level.shape[i] for i in stacked)
        keep = max(1, CONTRAST_SAMPLE // (level.size // planes))
        flat = level.reshape((planes, *level.shape[len(stacked) :]))
        level = flat[np.unique(np.linspace(0, planes - 1, min(keep, planes)).astype(int))]
    if dtype.kind == "f":
        lo, hi = compute(np.nanmin(level), np.nanmax(level))  # type: ignore[no-untyped-call]
    else:
        lo, hi = compute(level.min(), level.max())  # type: ignore[no-untyped-call]
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi <= lo:  # a constant channel: napari needs a range
        hi = lo + 1.0
    return lo, hi


class _LazyOme:
    """The ``ome_types.OME`` of an open file, built when first asked for."""

    def __init__(self, file: File) -> None:
        self._file = file

    def __call__(self) -> Any:
        return self._file.ome

    def __repr__(self) -> str:
        return f"<OME metadata of {self._file.path}>"


# -- writer ---------------------------------------------------------------------------


def write_image(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """npe2 writer hook for one image layer: a pyramidal OME-TIFF at ``path``."""
    return write_layers(path, [(data, meta)])


def write_images(path: str, layer_data: list[tuple[Any, dict[str, Any], str]]) -> list[str]:
    """npe2 writer hook for several image layers: one pyramidal OME-TIFF at ``path``.

    Consecutive layers of one shape, dims and scale (and, for layers ometiff read,
    of one series) become the channels of one image: the channels napari split by
    ``channel_axis`` are saved as they were read. Any other layer is an image
    (series) of its own.
    """
    return write_layers(path, [(d, m) for d, m, _ in layer_data])


class _Layer:
    """What the writer needs of one napari layer."""

    def __init__(self, data: Any, meta: dict[str, Any], where: str) -> None:
        # full resolution of a multiscale layer (a list, or napari's MultiScaleData)
        multiscale = meta.get("multiscale") or isinstance(data, list | tuple)
        arr = data[0] if multiscale else data
        if not hasattr(arr, "shape") or not hasattr(arr, "dtype"):
            raise WriteError(f"{where}: layer data of type {type(arr).__name__} is not an array")
        self.data = arr
        self.meta = meta
        self.rgb = bool(meta.get("rgb", False))
        ours = meta.get("metadata") or {}
        self.ours: dict[str, Any] = ours.get("ometiff") or {} if isinstance(ours, dict) else {}
        self.dims = _layer_dims(arr.ndim, self.rgb, meta, self.ours, where)
        spatial = self.dims.replace("S", "")
        scale = list(meta.get("scale") or [1.0] * len(spatial))
        units = list(meta.get("units") or [None] * len(spatial))
        physical: dict[str, float] = {}
        self.time_increment: float | None = None
        for axis, value, unit in zip(spatial, scale, units, strict=False):
            if axis in "XYZ":
                size = _length(float(value), unit)
                if size is not None:
                    physical[axis] = size
            elif axis == "T":
                self.time_increment = _seconds(float(value), unit)
        self.physical = physical
        self.name = str(meta.get("name") or "image")
        # the file's channel name, unless the layer was renamed since it was read
        renamed = self.name != self.ours.get("layer_name", self.name)
        self.channel_name = (None if renamed else self.ours.get("channel_name")) or self.name
        self.origin = (self.ours.get("path"), self.ours.get("series"))
        self.single_channel = not self.rgb and "C" not in self.dims
        self.series_name = self.ours.get("series_name")
        self.colour = _colour(meta.get("colormap"))
        self.excitation = self.ours.get("excitation")
        self.emission = self.ours.get("emission")

    def key(self) -> tuple[Any, ...]:
        return (
            tuple(self.data.shape),
            self.dims,
            self.rgb,
            tuple(sorted(self.physical.items())),
            self.time_increment,
        )


def write_layers(
    path: str | os.PathLike[str],
    layers: Sequence[tuple[Any, dict[str, Any]]],
) -> list[str]:
    """Write napari layers (data, meta) as one pyramidal OME-TIFF; returns ``[path]``."""
    from ometiff.writer.api import write  # the writer's imports only when saving

    dest = Path(os.fspath(path))
    if not layers:
        raise WriteError(f"{dest}: no layers to write")
    parsed = [_Layer(d, m, f"{dest}: layer {i}") for i, (d, m) in enumerate(layers)]
    # consecutive layers that can be channels of one image are: same shape, dims and
    # scale, one channel each, and from the same series when read by ometiff
    groups: list[list[_Layer]] = []
    for layer in parsed:
        last = groups[-1][-1] if groups else None
        if (
            last is not None
            and layer.single_channel
            and last.single_channel
            and layer.key() == last.key()
            and layer.origin == last.origin
        ):
            groups[-1].append(layer)
        else:
            groups.append([layer])
    arrays, axes, names, physical, times = [], [], [], [], []
    channel_names, colours, excitation, emission = [], [], [], []
    for group in groups:
        first = group[0]
        if len(group) > 1:
            import dask.array as da

            dtype = np.result_type(*(layer.data.dtype for layer in group))
            stack = da.stack(  # type: ignore[no-untyped-call]
                [da.asarray(layer.data).astype(dtype) for layer in group]  # type: ignore[no-untyped-call]
            )
            at = _c_position(first.dims)
            arrays.append(da.moveaxis(stack, 0, at))
            axes.append(first.dims[:at] + "C" + first.dims[at:])
        else:
            arrays.append(first.data)
            axes.append(first.dims)
        # the image is named after the series the layers came from, else the one layer
        names.append(first.series_name or (first.name if len(group) == 1 else None))
        physical.append(first.physical or None)
        times.append(first.time_increment)
        n_c = (
            len(group)
            if len(group) > 1
            else (first.data.shape[first.dims.index("C")] if "C" in first.dims else 1)
        )
        if len(group) > 1 or n_c == 1:
            channel_names.append([layer.channel_name for layer in group])
            colours.append([layer.colour for layer in group])
            excitation.append([layer.excitation for layer in group])
            emission.append([layer.emission for layer in group])
        else:
            channel_names.append([None] * n_c)
            colours.append([None] * n_c)
            excitation.append([None] * n_c)
            emission.append([None] * n_c)
    per_series: dict[str, list[Any]] = {
        "axes": axes,
        "names": names,
        "physical_size": physical,
        "time_increment": times,
        "channel_names": channel_names,
        "channel_colors": colours,
        "excitation_wavelength": excitation,
        "emission_wavelength": emission,
    }
    # ometiff.write takes one value per series as a list only for several series
    keywords = per_series if len(arrays) > 1 else {k: v[0] for k, v in per_series.items()}
    written = write(
        dest,
        arrays if len(arrays) > 1 else arrays[0],
        **keywords,
        pyramid_levels="auto",
        compression="zlib",
        overwrite=True,  # napari's save dialog has asked already
    )
    return [str(written)]


def _c_position(dims: str) -> int:
    """Where C goes among the layer's dims (TCZYX order)."""
    return sum(1 for a in dims if a == "T")


def _layer_dims(
    ndim: int, rgb: bool, meta: dict[str, Any], ours: dict[str, Any], where: str
) -> str:
    """Axis letters of a layer: ours (a layer read by ometiff), its axis labels, or a guess."""
    dims = ours.get("dims")
    if isinstance(dims, str) and len(dims) == ndim:
        return dims
    labels = [str(a).upper() for a in meta.get("axis_labels") or ()]
    tail = "S" if rgb else ""
    spatial = ndim - len(tail)
    if (
        len(labels) == spatial
        and all(a in "TCZYX" for a in labels)
        and len(set(labels)) == spatial
        and labels[-2:] == ["Y", "X"]
    ):
        return "".join(labels) + tail
    guesses = {2: "YX", 3: "ZYX", 4: "TZYX", 5: "TCZYX"}
    if spatial not in guesses:
        raise WriteError(
            f"{where}: a {ndim}-D layer cannot be written as OME-TIFF (2 to 5 dimensions, plus RGB)"
        )
    return guesses[spatial] + tail


def _length(value: float, unit: Any) -> float | None:
    name = "pixel" if unit is None else str(unit)
    if name in ("pixel", "dimensionless", ""):
        # napari's default unit: a scale other than 1 is taken to be micrometres
        return value if value > 0 and not math.isclose(value, 1.0) else None
    try:
        size = to_micrometres(value, name)
    except OmeTiffError:
        return None
    return size if size is not None and size > 0 else None


def _seconds(value: float, unit: Any) -> float | None:
    name = "pixel" if unit is None else str(unit)
    if name in ("pixel", "dimensionless", ""):
        return value if value > 0 and not math.isclose(value, 1.0) else None
    try:
        return to_seconds(value, name)
    except OmeTiffError:
        return None


def _colour(colormap: Any) -> tuple[int, int, int] | None:
    """The OME colour of a napari colormap going from black to one colour, else None."""
    if isinstance(colormap, str):
        if colormap.startswith("#"):
            packed = hex_to_ome(colormap)
            return None if packed is None else ome_to_rgba(packed)[:3]
        # napari's names are full-intensity primaries ("green" is not CSS green),
        # as in ometiff's one table of LUT names
        return LUT_COLORS.get(colormap.lower())
    if isinstance(colormap, dict):
        colors = colormap.get("colors")
    else:
        colors = getattr(colormap, "colors", None)
    if colors is None:
        return None
    stops = np.asarray(colors, dtype=float)
    if stops.ndim != 2 or stops.shape[0] != 2 or stops.shape[1] < 3 or stops[0, :3].any():
        return None
    r, g, b = (round(float(v) * 255) for v in stops[-1, :3])
    return r, g, b
