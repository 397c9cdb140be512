"""Image data: per-channel statistics and PNG views of planes.

Pixels of every input are read through the readers' level API
(:meth:`Reader.read_plane`), opened by :func:`open_input`: OME files and sets by
:class:`~ometiff.readers.ome_tiff.OmeTiffReader` (plane map, SubIFD levels), other
TIFFs by :class:`~ometiff.readers.tiff.TiffReader`, everything else (LIF, CZI, ND2,
OME-Zarr, image series, ``.npy``...) by the reader the registry picks.
:func:`channel_stats` streams every plane once (memory: about one plane) and
accumulates min, max and a float64 sum per channel. :func:`render_png` draws one
plane, a maximum projection over Z, or a composite of channels in their OME
colours with automatic contrast. :func:`draw_diagram` (in :mod:`ometiff.render.diagram`)
draws the layout of a file. Pillow is needed only for the PNGs (``ometiff[render]``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ometiff.errors import OmeTiffError
from ometiff.ome.colour import hex_to_ome, ome_to_rgba
from ometiff.progress import ProgressReporter
from ometiff.readers.decode import check_budget, memory_budget
from ometiff.render.diagram import draw_diagram
from ometiff.render.pillow import require_pillow, save_png

if TYPE_CHECKING:
    from ometiff.inspection import FileInfo, SeriesSummary
    from ometiff.readers.base import Reader
    from ometiff.types import StrPath

__all__ = [
    "DEFAULT_COLORS",
    "RenderError",
    "auto_contrast",
    "channel_colors",
    "channel_stats",
    "draw_diagram",
    "render_png",
]

#: Colours for channels without an OME Color (several channels), in order.
DEFAULT_COLORS: tuple[tuple[int, int, int], ...] = (
    (0, 255, 0),  # green
    (255, 0, 255),  # magenta
    (0, 255, 255),  # cyan
    (255, 255, 0),  # yellow
    (255, 0, 0),  # red
    (0, 0, 255),  # blue
)
GRAY = (255, 255, 255)
#: Percentiles mapped to black and full colour.
CONTRAST_PERCENTILES = (0.1, 99.9)
#: What drawing costs per pixel of the shown plane (the float32 RGB canvas, one
#: contrast-stretched channel and its source plane): ``show`` refuses a plane whose
#: cost is over the memory budget (:func:`ometiff.readers.decode.check_budget`).
RENDER_BYTES_PER_PIXEL = 24
#: ``on_plane(done, total)``: called after each plane read (for progress reports).
PlaneCallback = Callable[[int, int], None]


class RenderError(OmeTiffError, ValueError):
    """A plane, channel or level that does not exist, or a view that cannot be drawn."""


def open_pixels(fi: FileInfo) -> Reader:
    """The reader of a file's pixels, with the series ``info`` reports.

    OME files and sets (also a member or companion of a set with missing files)
    open with :class:`~ometiff.readers.ome_tiff.OmeTiffReader` in ``partial``
    mode, so readable planes stay readable; other TIFFs with the TIFF reader.
    """
    if fi.metadata_source == "ome":
        from ometiff.readers.ome_tiff import OmeTiffReader

        return OmeTiffReader(fi.path, partial=True, fileset=fi.fileset)  # resolved once
    from ometiff.readers.tiff import TiffReader

    return TiffReader(fi.path)


@contextmanager
def open_input(
    path: StrPath, *, reader: str | None = None, reader_options: Mapping[str, Any] | None = None
) -> Iterator[tuple[FileInfo, Reader]]:
    """Open any input once: what ``info`` says about it, and the reader of its pixels.

    TIFF-family files are described by :func:`ometiff.inspection.info` and read by
    :func:`open_pixels`; every other input (or a forced ``reader``) is opened by the
    reader registry and described by :func:`ometiff.inspection.reader_info`.
    """
    from ometiff.inspection import by_structure, info, reader_info
    from ometiff.readers.registry import open_image

    p, options = Path(path), dict(reader_options or {})
    if by_structure(p, reader, options):
        fi = info(p)
        with open_pixels(fi) as pixels:
            yield fi, pixels
    else:
        with open_image(p, reader=reader, **options) as pixels:
            yield reader_info(pixels), pixels


def channel_count(s: SeriesSummary) -> int:
    """OME Channels of a series (an RGB channel counts once)."""
    return max(1, s.size_c // max(s.samples_per_pixel, 1))


class _Progress:
    """Counts planes; reports them to ``on_plane`` and, only if asked, a rich bar."""

    def __init__(self, total: int, label: str, bar: bool, on_plane: PlaneCallback | None):
        self.done, self.total, self.label, self.on_plane = 0, total, label, on_plane
        self.bar: ProgressReporter | None = None
        if bar:  # a library call draws nothing unless the caller asked (progress=True)
            self.bar = ProgressReporter(terminal=True).__enter__()

    def tick(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(self.label, self.done, self.total)
        if self.on_plane is not None:
            self.on_plane(self.done, self.total)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.__exit__()


# --- statistics -----------------------------------------------------------------------


@dataclass
class _Acc:
    minimum: Any = None
    maximum: Any = None
    total: float = 0.0
    count: int = 0
    planes: int = 0

    def add(self, values: np.ndarray) -> None:
        self.planes += 1
        if values.dtype.kind == "f" or values.dtype.kind == "c":
            values = values.real if values.dtype.kind == "c" else values
            finite = values[np.isfinite(values)]
            if finite.size == 0:
                return
            values = finite
        if values.size == 0:
            return
        lo, hi = values.min(), values.max()
        self.minimum = lo if self.minimum is None else min(self.minimum, lo)
        self.maximum = hi if self.maximum is None else max(self.maximum, hi)
        self.total += float(values.sum(dtype=np.float64))
        self.count += values.size


def _py(value: Any) -> Any:
    return None if value is None else value.item() if hasattr(value, "item") else value


def channel_stats(
    path: StrPath,
    *,
    series: int | None = None,
    progress: bool = False,
    on_plane: PlaneCallback | None = None,
    errors: Literal["raise", "report"] = "raise",
    reader: str | None = None,
    reader_options: Mapping[str, Any] | None = None,
    max_memory: int | str | None = None,
) -> list[dict[str, Any]]:
    """Per-series, per-channel min, max and mean, streamed plane by plane.

    Parameters
    ----------
    path
        Any readable input (:func:`open_input`): a TIFF-family file or
        ``.companion.ome`` (every member of a multi-file set is read through the
        OME plane map), a vendor file, an OME-Zarr or image-series folder, ...
    series
        Only this series (default: all).
    progress
        Draw a rich progress bar on stderr (off by default: a library call draws
        nothing unless asked).
    on_plane
        Called as ``on_plane(done, total)`` after each plane read.
    errors
        ``"raise"``: the first plane that cannot be read raises. ``"report"``: a
        series whose pixels cannot be read gives one row ``{"series": k,
        "error": message}`` instead of its channel rows, and the other series are
        still read (``info --stats``).
    reader, reader_options
        Force a reader and pass it options (e.g. ``{"axes": "ZYX"}`` for ``.npy``).
    max_memory
        Memory budget for decoding one plane (bytes or ``"4G"``; default 2 GiB or
        less on a small machine, see :func:`ometiff.memory_budget`): a file declaring
        larger planes is refused before anything is allocated.

    Returns
    -------
    list of dict
        One dict per series and channel with keys ``series``, ``channel``, ``min``,
        ``max``, ``mean`` (float64 accumulation), ``planes`` (planes read) and
        ``pixels``. RGB channels give one entry per sample: ``channel`` counts
        samples as OME ``SizeC`` does and ``sample`` names the sample. NaN and
        infinities are left out of float statistics.

    Raises
    ------
    InvalidTiffError
        Pixel data that cannot be decoded; the message names the file and IFD.
    RenderError
        ``series`` out of range.
    MemoryBudgetError
        With ``errors="raise"``, a plane larger than ``max_memory``.
    """
    with (
        memory_budget(max_memory),
        open_input(path, reader=reader, reader_options=reader_options) as (fi, pixels),
    ):
        chosen = _series_indices(fi, pixels, series)
        shapes = {k: pixels.level_shapes(k)[0] for k in chosen}
        total = sum(t * c * z for t, c, z, _, _ in shapes.values())
        bar = _Progress(total, f"stats {Path(path).name}", progress, on_plane)
        out: list[dict[str, Any]] = []
        try:
            for k in chosen:
                try:
                    out.extend(_series_stats(pixels, k, shapes[k], bar))
                except OmeTiffError as exc:
                    if errors == "raise":
                        raise
                    row: dict[str, Any] = {"series": k, "error": str(exc)}
                    if exc.option:  # the argument the message names (max_memory=)
                        row["option"] = exc.option
                    out.append(row)
        finally:
            bar.stop()
    return out


def _series_stats(
    reader: Reader, k: int, shape: tuple[int, int, int, int, int], bar: Any
) -> list[dict[str, Any]]:
    size_t, size_c, size_z = shape[:3]
    accs: dict[tuple[int, int], _Acc] = {}
    spp = 1
    for t in range(size_t):
        for c in range(size_c):
            for z in range(size_z):
                plane = reader.read_plane(k, t, c, z)
                if plane.ndim == 2:
                    plane = plane[:, :, None]
                spp = plane.shape[2]
                for sample in range(spp):
                    accs.setdefault((c, sample), _Acc()).add(plane[:, :, sample])
                bar.tick()
    rows = []
    for (c, sample), acc in sorted(accs.items()):
        row: dict[str, Any] = {
            "series": k,
            "channel": c * spp + sample,
            "min": _py(acc.minimum),
            "max": _py(acc.maximum),
            "mean": acc.total / acc.count if acc.count else None,
            "planes": acc.planes,
            "pixels": acc.count,
        }
        if spp > 1:
            row["sample"] = sample
        rows.append(row)
    return rows


def _series_indices(fi: FileInfo, reader: Reader, series: int | None) -> list[int]:
    count = reader.series_count
    if not count:
        raise RenderError(f"{fi.path}: no image series found")
    if series is None:
        return list(range(count))
    if not 0 <= series < count:
        raise RenderError(
            f"{fi.path}: series {series} does not exist (the file has "
            f"{count} series: 0–{count - 1})"
        )
    return [series]


# --- colours and contrast ------------------------------------------------------------


def _rgb(text: str | None) -> tuple[int, int, int] | None:
    """RGB of a channel's ``#RRGGBB[AA]`` colour (alpha ignored); None if absent."""
    value = hex_to_ome(text) if text and text.startswith("#") else None
    return None if value is None else ome_to_rgba(value)[:3]


def channel_colors(s: SeriesSummary) -> list[tuple[int, int, int]]:
    """Display colour of each channel of a series.

    OME ``Color`` when given (alpha ignored). A single channel without a colour is
    gray; several channels without colours, or all with the same colour (writers
    often store white for every channel), cycle through :data:`DEFAULT_COLORS`.
    """
    n = channel_count(s)
    given = [_rgb(ch.color) for ch in s.channels[:n]]
    given += [None] * (n - len(given))
    if n == 1:
        return [given[0] or GRAY]
    distinct = {g for g in given if g is not None}
    if len(distinct) == 1 and all(g is not None for g in given):
        given = [None] * n
    return [g or DEFAULT_COLORS[i % len(DEFAULT_COLORS)] for i, g in enumerate(given)]


def _sample_values(plane: np.ndarray) -> np.ndarray:
    flat = plane.reshape(-1)
    step = max(1, flat.size // 4_000_000)  # percentiles from <= 4 M pixels
    flat = flat[::step]
    if flat.dtype.kind in "fc":
        flat = flat.real[np.isfinite(flat.real)]
    return flat


def auto_contrast(plane: np.ndarray) -> tuple[float, float]:
    """Display range of a plane: its 0.1 and 99.9 percentiles (min/max if flat)."""
    values = _sample_values(plane)
    if values.size == 0:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(values, CONTRAST_PERCENTILES))
    if hi <= lo:
        lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


def apply_contrast(plane: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map ``lo..hi`` to ``0..1`` (float32, clipped)."""
    data = plane.real if plane.dtype.kind == "c" else plane
    out = (data.astype(np.float32) - np.float32(lo)) / np.float32(hi - lo)
    return np.clip(np.nan_to_num(out, nan=0.0), 0.0, 1.0)


# --- rendering -----------------------------------------------------------------------


@dataclass
class RenderResult:
    """What :func:`render` drew."""

    path: Path
    width: int
    height: int
    description: str
    limits: list[tuple[int, float, float]] = field(default_factory=list)  # (channel, lo, hi)


_NOUNS = {"T": "time points", "Z": "Z planes", "channel": "channels", "level": "levels"}


def _check(value: int, size: int, what: str, fi: FileInfo, k: int) -> None:
    if not 0 <= value < size:
        have = f"{_NOUNS[what]} 0–{size - 1}" if size > 1 else f"only {what} 0"
        raise RenderError(f"{fi.path}: series {k} has {have}; {what} {value} does not exist")


def _channel_image(
    reader: Reader,
    k: int,
    c: int,
    t: int,
    zs: list[int],
    level: int,
    tick: Any,
) -> np.ndarray:
    """One channel's plane as ``(Y, X, S)``, or the maximum over ``zs`` (streamed)."""
    result: np.ndarray | None = None
    for z in zs:
        plane = reader.read_plane(k, t, c, z, level=level)
        if plane.ndim == 2:
            plane = plane[:, :, None]
        result = plane if result is None else np.maximum(result, plane)
        tick()
    assert result is not None
    return result


def render(
    path: StrPath,
    out: StrPath,
    *,
    series: int = 0,
    z: int | None = None,
    t: int = 0,
    c: int | Literal["all"] | None = None,
    project: Literal["max"] | None = None,
    level: int = 0,
    progress: bool = False,
    on_plane: PlaneCallback | None = None,
    reader: str | None = None,
    reader_options: Mapping[str, Any] | None = None,
    max_memory: int | str | None = None,
) -> RenderResult:
    """Like :func:`render_png`, returning what was drawn (for the command line)."""
    image_mod = require_pillow()
    with (
        memory_budget(max_memory),
        open_input(path, reader=reader, reader_options=reader_options) as (fi, pixels),
    ):
        (k,) = _series_indices(fi, pixels, series)
        shapes = pixels.level_shapes(k)
        _check(level, len(shapes), "level", fi, k)
        height, width = shapes[level][3:]
        # the one memory rule of every decode (readers/decode.py), priced for drawing
        check_budget(
            height * width * RENDER_BYTES_PER_PIXEL,
            f"{fi.path}: showing the {width}×{height}-pixel plane",
            hint="choose a smaller pyramid level",
        )
        return _render(
            fi,
            pixels,
            k,
            out,
            shapes[0],
            image_mod,
            z=z,
            t=t,
            c=c,
            project=project,
            level=level,
            progress=progress,
            on_plane=on_plane,
        )


def _render(
    fi: FileInfo,
    reader: Reader,
    k: int,
    out: StrPath,
    shape: tuple[int, int, int, int, int],
    image_mod: Any,
    *,
    z: int | None,
    t: int,
    c: int | Literal["all"] | None,
    project: Literal["max"] | None,
    level: int,
    progress: bool,
    on_plane: PlaneCallback | None,
) -> RenderResult:
    size_t, n_c, size_z = shape[:3]
    _check(t, size_t, "T", fi, k)
    if project not in (None, "max"):
        raise RenderError(f"projection {project!r} is not supported; use 'max'")
    if project is not None and z is not None:
        raise RenderError("give either a Z plane or a projection over Z, not both")
    if project is not None:
        zs = list(range(size_z))
        z_text = f"max over Z 0–{size_z - 1}" if size_z > 1 else "Z 0"
    else:
        z = size_z // 2 if z is None else z
        _check(z, size_z, "Z", fi, k)
        zs = [z]
        z_text = f"Z {z}"
    if c is None or c == "all":
        channels = list(range(n_c))
    else:
        _check(int(c), n_c, "channel", fi, k)
        channels = [int(c)]
    s = fi.series[k] if k < len(fi.series) else None
    if s is not None and channel_count(s) == n_c:
        colors = channel_colors(s)
    else:  # the TIFF reader split or folded the series: default colours
        colors = [GRAY] if n_c == 1 else [DEFAULT_COLORS[i % 6] for i in range(n_c)]
    single = len(channels) == 1 and n_c > 1  # one chosen channel: gray, most detail
    limits: list[tuple[int, float, float]] = []
    canvas: np.ndarray | None = None
    bar = _Progress(len(channels) * len(zs), f"show {fi.path.name}", progress, on_plane)
    tick = bar.tick
    try:
        for ch in channels:
            img = _channel_image(reader, k, ch, t, zs, level, tick)
            if canvas is None:
                canvas = np.zeros((img.shape[0], img.shape[1], 3), np.float32)
            if img.shape[2] >= 3:  # RGB(A) shown as RGB (alpha dropped)
                rgb = img[:, :, :3]
                if rgb.dtype == np.uint8:
                    lo, hi = 0.0, 255.0
                else:
                    lo, hi = auto_contrast(rgb)
                canvas += apply_contrast(rgb, lo, hi)
                limits.append((ch, lo, hi))
                continue
            plane = img[:, :, 0]
            if plane.dtype == np.bool_:
                plane = plane.astype(np.uint8)
            lo, hi = auto_contrast(plane)
            color = GRAY if single else colors[ch]
            mapped = apply_contrast(plane, lo, hi)
            canvas += mapped[:, :, None] * (np.asarray(color, np.float32) / 255.0)
            limits.append((ch, lo, hi))
    finally:
        bar.stop()
    assert canvas is not None
    pixels = np.round(np.clip(canvas, 0.0, 1.0) * 255.0).astype(np.uint8)
    target = save_png(image_mod.fromarray(pixels, mode="RGB"), out)
    what = "channels " + ",".join(map(str, channels)) if len(channels) > 1 else f"C {channels[0]}"
    desc = f"series {k}, {what}, {z_text}, T {t}" + (f", level {level}" if level else "")
    return RenderResult(target, pixels.shape[1], pixels.shape[0], desc, limits)


def render_png(
    path: StrPath,
    out: StrPath,
    *,
    series: int = 0,
    z: int | None = None,
    t: int = 0,
    c: int | Literal["all"] | None = None,
    project: Literal["max"] | None = None,
    level: int = 0,
    progress: bool = False,
    on_plane: PlaneCallback | None = None,
    reader: str | None = None,
    reader_options: Mapping[str, Any] | None = None,
    max_memory: int | str | None = None,
) -> Path:
    """Render a plane, a Z maximum projection or a channel composite as an RGB PNG.

    Parameters
    ----------
    path
        Any readable input (:func:`open_input`): a TIFF-family file or
        ``.companion.ome``, a vendor file (LIF, CZI, ND2), an OME-Zarr or
        image-series folder, a ``.npy``...
    out
        The PNG to write (replaced if it exists; written to a temporary name and
        renamed).
    series, t, level
        Which series, time point and pyramid level (0 = full resolution).
    z
        Z plane; default the middle one. Not with ``project``.
    c
        One channel (drawn in gray) or ``None``/``"all"``: every channel in its
        OME colour (see :func:`channel_colors`), added together.
    project
        ``"max"``: maximum over all Z planes (read one plane at a time).
    progress
        Draw a rich progress bar on stderr (off by default).
    on_plane
        Called as ``on_plane(done, total)`` after each plane read.
    reader, reader_options
        Force a reader and pass it options (e.g. ``{"axes": "ZYX"}`` for ``.npy``).
    max_memory
        Memory budget (bytes or ``"4G"``): a plane that would take more to decode
        or draw (about 24 bytes per pixel) is refused; choose a pyramid level.

    Contrast is automatic per channel: the 0.1 and 99.9 percentiles map to black
    and full colour. RGB series are shown as RGB (8-bit data unchanged).

    Raises
    ------
    RenderError
        An index out of range (series, Z, T, channel, level).
    MemoryBudgetError
        The plane is too large to draw within ``max_memory``.
    MissingDependencyError
        Pillow is not installed.
    """
    return render(
        path,
        out,
        series=series,
        z=z,
        t=t,
        c=c,
        project=project,
        level=level,
        progress=progress,
        on_plane=on_plane,
        reader=reader,
        reader_options=reader_options,
        max_memory=max_memory,
    ).path
