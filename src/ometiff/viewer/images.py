"""Open inputs and serve their pixels to the page: tiles, histograms, pixel values.

Every input is opened once with :func:`ometiff.render.png.open_input` (the same
``info`` and pixel reader as ``ometiff show``) and kept open until the server stops.
Tiles follow the deep-zoom convention of the page: zoom level ``L`` of a plane whose
larger side needs ``top`` halvings to reach one pixel shows the plane reduced by
``2**(top - L)``. A tile is cut from the coarsest pyramid level that is still at
least that fine (:meth:`Reader.read_region`, which decodes only the tiles it
touches) and reduced the rest of the way by nearest-neighbour sampling. Large planes
without a pyramid get an overview (every :data:`OVERVIEW_STEP`-th pixel, read in
strips once per plane and cached), so zooming out never reads a whole plane per tile.
Colours and contrast come from :mod:`ometiff.render.png` (``channel_colors``,
``auto_contrast``, ``apply_contrast``).
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.errors import InvalidArgumentError
from ometiff.render.pillow import require_pillow
from ometiff.render.png import (
    DEFAULT_COLORS,
    GRAY,
    apply_contrast,
    auto_contrast,
    channel_colors,
    channel_count,
    open_input,
)

if TYPE_CHECKING:
    from ometiff.inspection import FileInfo
    from ometiff.readers.base import Reader

#: Edge of the square tiles the page asks for.
TILE = 256
#: Reduction of the overview kept for planes without a pyramid.
OVERVIEW_STEP = 8
#: Planes larger than this (pixels) get an overview when seen zoomed out.
OVERVIEW_MIN_PIXELS = 4096 * 4096
#: Histograms are computed from the finest level with at most this many pixels.
HISTOGRAM_PIXELS = 2_000_000
#: Encoded tiles kept in memory (a repeated view costs no decoding).
TILE_CACHE = 512


@dataclass
class ChannelSpec:
    """One channel of a composite: which, in which colour, and its display range."""

    index: int
    color: tuple[int, int, int]
    lo: float
    hi: float

    @classmethod
    def parse(cls, text: str) -> ChannelSpec:
        """``"2:ff00ff:100:4000"`` -> channel 2, magenta, range 100..4000."""
        try:
            index, color, lo, hi = text.split(":")
            rgb = (int(color[0:2], 16), int(color[2:4], 16), int(color[4:6], 16))
            spec = cls(int(index), rgb, float(lo), float(hi))
        except ValueError:
            raise InvalidArgumentError(
                f"channel {text!r}: give index:RRGGBB:low:high, e.g. 0:00ff00:0:4095"
            ) from None
        if len(color) != 6 or not math.isfinite(spec.lo) or not math.isfinite(spec.hi):
            raise InvalidArgumentError(f"channel {text!r}: colour is RRGGBB, limits are numbers")
        if spec.hi <= spec.lo:
            spec.hi = spec.lo + 1.0
        return spec


@dataclass
class OpenedFile:
    """An input the page opened: its ``info``, its reader and caches."""

    key: str
    path: Path
    info: FileInfo
    reader: Reader
    stack: contextlib.ExitStack
    lock: threading.Lock = field(default_factory=threading.Lock)
    overviews: OrderedDict[tuple[int, ...], np.ndarray] = field(default_factory=OrderedDict)

    # --- what the page needs to lay out its views ------------------------------------

    def series_views(self) -> list[dict[str, Any]]:
        """Per series: the levels, the channels with their colours, pixel sizes."""
        out = []
        for k in range(self.reader.series_count):
            shapes = self.reader.level_shapes(k)
            size_t, size_c, size_z, size_y, size_x = shapes[0]
            s = self.info.series[k] if k < len(self.info.series) else None
            if s is not None and channel_count(s) == size_c:
                colors = channel_colors(s)
                names = [ch.name for ch in s.channels[:size_c]]
            else:  # the reader split or folded the series: default colours
                colors = [GRAY] if size_c == 1 else [DEFAULT_COLORS[i % 6] for i in range(size_c)]
                names = []
            names += [None] * (size_c - len(names))
            top = max(0, math.ceil(math.log2(max(size_x, size_y, 1))))
            out.append(
                {
                    "index": k,
                    "name": s.name if s is not None else None,
                    "size": {"t": size_t, "c": size_c, "z": size_z, "y": size_y, "x": size_x},
                    "levels": [[sh[3], sh[4]] for sh in shapes],
                    "dtype": s.dtype if s is not None else None,
                    "rgb": bool(s is not None and s.samples_per_pixel > 1),
                    "physical_size": {
                        "x": s.physical_size_x if s is not None else None,
                        "y": s.physical_size_y if s is not None else None,
                        "z": s.physical_size_z if s is not None else None,
                    },
                    "channels": [
                        {
                            "index": i,
                            "name": names[i] or f"C{i}",
                            "color": "{:02x}{:02x}{:02x}".format(*colors[i]),
                        }
                        for i in range(size_c)
                    ],
                    "tile": TILE,
                    "max_zoom": top,
                }
            )
        return out

    # --- pixels ----------------------------------------------------------------------

    def _plane_region(
        self, k: int, t: int, c: int, z: int, level: int, y0: int, y1: int, x0: int, x1: int
    ) -> np.ndarray:
        with self.lock:
            return self.reader.read_region(k, t, c, z, y0, y1, x0, x1, level=level)

    def _overview(self, k: int, t: int, c: int, z: int, level: int) -> np.ndarray:
        """Every ``OVERVIEW_STEP``-th pixel of a plane, read in strips (cached)."""
        key = (k, t, c, z, level)
        with self.lock:
            cached = self.overviews.get(key)
            if cached is not None:
                self.overviews.move_to_end(key)
                return cached
            size_y, size_x = self.reader.level_shapes(k)[level][3:]
            step = OVERVIEW_STEP
            rows = np.arange(step // 2, size_y, step)
            strip = max(step, (self.reader.tile_shape(k, level=level) or (1024, 0))[0])
            parts = []
            for start in range(0, size_y, strip):
                stop = min(size_y, start + strip)
                wanted = rows[(rows >= start) & (rows < stop)] - start
                if wanted.size == 0:
                    continue
                block = self.reader.read_region(k, t, c, z, start, stop, 0, size_x, level=level)
                parts.append(block[wanted][:, step // 2 :: step])
            result = np.concatenate(parts, axis=0)
            self.overviews[key] = result
            while len(self.overviews) > 32:
                self.overviews.popitem(last=False)
            return result

    def tile_data(self, k: int, t: int, c: int, z: int, zoom: int, tx: int, ty: int) -> np.ndarray:
        """The pixels of tile ``(tx, ty)`` at deep-zoom level ``zoom``: ``(Y, X[, S])``."""
        shapes = self.reader.level_shapes(k)
        self.reader.check_plane(k, t, c, z)
        size_y, size_x = shapes[0][3:]
        top = max(0, math.ceil(math.log2(max(size_x, size_y, 1))))
        if not 0 <= zoom <= top:
            raise InvalidArgumentError(f"zoom level {zoom} does not exist (0-{top})")
        factor = 2 ** (top - zoom)
        # the tile's window at full resolution
        X0, Y0 = tx * TILE * factor, ty * TILE * factor
        if tx < 0 or ty < 0 or X0 >= size_x or Y0 >= size_y:
            raise InvalidArgumentError(f"tile {tx},{ty} is outside zoom level {zoom}")
        X1, Y1 = min(size_x, X0 + TILE * factor), min(size_y, Y0 + TILE * factor)
        out_w, out_h = math.ceil((X1 - X0) / factor), math.ceil((Y1 - Y0) / factor)
        # the coarsest level at least as fine as the tile
        best, down = 0, 1.0
        for i, sh in enumerate(shapes):
            d = size_x / sh[4]
            if d <= factor * 1.01 and d >= down:
                best, down = i, d
        lvl_y, lvl_x = shapes[best][3:]
        # centres of the output pixels, in level coordinates
        cols = np.minimum(
            ((X0 + (np.arange(out_w) + 0.5) * factor) / down).astype(np.int64), lvl_x - 1
        )
        rows = np.minimum(
            ((Y0 + (np.arange(out_h) + 0.5) * factor) / down).astype(np.int64), lvl_y - 1
        )
        step = factor / down
        if step >= OVERVIEW_STEP and lvl_x * lvl_y > OVERVIEW_MIN_PIXELS:
            ov = self._overview(k, t, c, z, best)
            oc = np.minimum(cols // OVERVIEW_STEP, ov.shape[1] - 1)
            orow = np.minimum(rows // OVERVIEW_STEP, ov.shape[0] - 1)
            return ov[np.ix_(orow, oc)]
        x0, x1 = int(cols[0]), int(cols[-1]) + 1
        y0, y1 = int(rows[0]), int(rows[-1]) + 1
        region = self._plane_region(k, t, c, z, best, y0, y1, x0, x1)
        if step == 1:
            return region
        return region[np.ix_(rows - y0, cols - x0)]

    def histogram(self, k: int, t: int, c: int, z: int) -> dict[str, Any]:
        """A 256-bin histogram of one plane, its range and its automatic contrast."""
        shapes = self.reader.level_shapes(k)
        self.reader.check_plane(k, t, c, z)
        level = len(shapes) - 1
        for i, sh in enumerate(shapes):
            if sh[3] * sh[4] <= HISTOGRAM_PIXELS:
                level = i
                break
        size_y, size_x = shapes[level][3:]
        if size_x * size_y > OVERVIEW_MIN_PIXELS:
            plane = self._overview(k, t, c, z, level)
        else:
            with self.lock:
                plane = self.reader.read_plane(k, t, c, z, level=level)
        values = plane.real if plane.dtype.kind == "c" else plane
        if values.dtype == np.bool_:
            values = values.astype(np.uint8)
        flat = values.reshape(-1)
        if flat.dtype.kind == "f":
            flat = flat[np.isfinite(flat)]
        if flat.size == 0:
            return {"min": 0, "max": 0, "counts": [], "auto": [0.0, 1.0], "level": level}
        lo, hi = float(flat.min()), float(flat.max())
        counts, _ = np.histogram(flat, bins=256, range=(lo, hi if hi > lo else lo + 1))
        rgb8 = values.ndim == 3 and values.shape[2] >= 3 and values.dtype == np.uint8
        return {
            "min": lo,
            "max": hi,
            "counts": counts.tolist(),
            # 8-bit RGB is shown as it is, as `ometiff show` does
            "auto": [0.0, 255.0] if rgb8 else list(auto_contrast(values)),
            "level": level,
            "dtype": str(plane.dtype),
        }

    def values_at(self, k: int, t: int, z: int, x: int, y: int) -> list[Any]:
        """The value of every channel at full-resolution pixel ``(x, y)``."""
        size_c = self.reader.level_shapes(k)[0][1]
        out = []
        for c in range(size_c):
            v = self._plane_region(k, t, c, z, 0, y, y + 1, x, x + 1)
            flat = v.reshape(-1)
            out.append([x.item() for x in flat] if flat.size > 1 else flat[0].item())
        return out


@functools.lru_cache(maxsize=64)
def _contrast_table(dtype: str, lo: float, hi: float) -> np.ndarray:
    """:func:`apply_contrast` of every value of an 8- or 16-bit integer type."""
    info = np.iinfo(dtype)
    return apply_contrast(np.arange(info.min, info.max + 1, dtype=dtype), lo, hi)


def _mapped(plane: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``plane`` through the display range, 0..1 (a table lookup for 8/16-bit integers)."""
    if plane.dtype.kind in "ui" and plane.dtype.itemsize <= 2:
        table = _contrast_table(plane.dtype.str, lo, hi)
        offset = int(np.iinfo(plane.dtype).min)
        return table[plane.astype(np.int32) - offset if offset else plane]
    return apply_contrast(plane, lo, hi)


def composite(tiles: list[np.ndarray], specs: list[ChannelSpec]) -> np.ndarray:
    """Channels in their colours, each mapped through its range and added (RGB uint8).

    The same mapping as ``ometiff show`` (:func:`ometiff.render.png.apply_contrast`),
    looked up in a table for 8- and 16-bit data.
    """
    if not tiles:
        return np.zeros((1, 1, 3), np.uint8)
    canvas = np.zeros((tiles[0].shape[0], tiles[0].shape[1], 3), np.float32)
    for data, spec in zip(tiles, specs, strict=True):
        if data.ndim == 3 and data.shape[2] >= 3:  # RGB(A) shown as RGB, alpha dropped
            canvas += _mapped(data[:, :, :3], spec.lo, spec.hi)
            continue
        plane = data[:, :, 0] if data.ndim == 3 else data
        if plane.dtype == np.bool_:
            plane = plane.astype(np.uint8)
        mapped = _mapped(plane, spec.lo, spec.hi)
        for i, value in enumerate(spec.color):
            if value:
                canvas[:, :, i] += mapped * np.float32(value / 255.0)
    np.clip(canvas, 0.0, 1.0, out=canvas)
    canvas *= 255.0
    return np.rint(canvas).astype(np.uint8)


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an RGB or gray uint8 array (fast compression: tiles are transient)."""
    image_mod = require_pillow()
    buf = io.BytesIO()
    image_mod.fromarray(rgb).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


class OpenFiles:
    """The inputs the page opened, by key; each opened once and closed at the end."""

    def __init__(self) -> None:
        self._files: dict[str, OpenedFile] = {}
        self._by_path: dict[Path, str] = {}
        self._lock = threading.Lock()
        self.tiles: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._tiles_lock = threading.Lock()

    def open(self, path: Path) -> OpenedFile:
        """Open ``path`` (already checked by :class:`~ometiff.viewer.paths.Access`)."""
        with self._lock:
            key = self._by_path.get(path)
            if key is not None:
                return self._files[key]
        stack = contextlib.ExitStack()
        try:
            fi, reader = stack.enter_context(open_input(path))
        except BaseException:
            stack.close()
            raise
        with self._lock:
            key = str(len(self._files) + 1)
            opened = OpenedFile(key, path, fi, reader, stack)
            self._files[key] = opened
            self._by_path[path] = key
        return opened

    def get(self, key: str) -> OpenedFile:
        with self._lock:
            opened = self._files.get(key)
        if opened is None:
            raise InvalidArgumentError(f"file {key!r} is not open; open it first")
        return opened

    def cached_tile(self, key: tuple[Any, ...]) -> bytes | None:
        with self._tiles_lock:
            data = self.tiles.get(key)
            if data is not None:
                self.tiles.move_to_end(key)
            return data

    def keep_tile(self, key: tuple[Any, ...], data: bytes) -> None:
        with self._tiles_lock:
            self.tiles[key] = data
            while len(self.tiles) > TILE_CACHE:
                self.tiles.popitem(last=False)

    def close(self) -> None:
        with self._lock:
            files = list(self._files.values())
            self._files.clear()
            self._by_path.clear()
        for f in files:
            f.stack.close()
