"""Pyramid levels: sizes, a source's own levels, and fast factor-2 downsampling.

Every sub-resolution is computed from the previous one, one plane at a time, so a
pyramid never needs more than the current plane and its levels in memory
(checklist P-5: integer factor 2 in X and Y only, constant between levels).
A source that has its own pyramid (whole slides, Imaris, NDTiff, OME-Zarr,
OME-TIFF SubIFDs) is described by one :class:`SourcePyramid`, which both writers
(OME-TIFF SubIFDs and OME-Zarr multiscales) write as read instead of recomputing.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from ometiff.errors import WriteError

if TYPE_CHECKING:
    from concurrent.futures import Executor

Downsample = Literal["mean", "nearest"]

#: "auto" pyramids stop once the largest side is at most this many pixels.
AUTO_MIN_SIZE = 256
#: ``(level, t, c, z) -> plane`` of a source's own pyramid (level >= 1).
LevelPlanes = Callable[[int, int, int, int], np.ndarray]


@dataclass(frozen=True)
class SourcePyramid:
    """A source's own pyramid, written as read instead of recomputed.

    Attributes
    ----------
    shapes
        ``(Y, X)`` of levels 1, 2, ... (level 0 is the series itself), each
        smaller than the one before in both Y and X (checklist P-2); sizes need
        not be halvings (an SVS level is often a quarter, rounded down).
    read
        ``read(level, t, c, z)``: that plane of level ``level`` (>= 1), indexed
        like the series' planes, shape ``(Y, X)`` or ``(Y, X, S)``.
    """

    shapes: list[tuple[int, int]]
    read: LevelPlanes


def levels_problem(shapes: Sequence[tuple[int, ...]]) -> str | None:
    """Why a source's levels cannot be written as a pyramid, or None when they can.

    ``shapes``: every level, full resolution first, as ``(T, C, Z, Y, X)`` or
    ``(Y, X)``. A pyramid keeps T, C and Z, and each level is smaller than the
    one before in both Y and X (checklist P-2: SubIFDs largest to smallest).
    """
    if len(shapes) < 2:
        return "one level only"
    for k, (a, b) in enumerate(itertools.pairwise(shapes), start=1):
        if tuple(b[:-2]) != tuple(a[:-2]):
            return f"level {k} has T/C/Z {tuple(b[:-2])}, level {k - 1} {tuple(a[:-2])}"
        if not (b[-2] < a[-2] and b[-1] < a[-1]) or min(b[-2:]) < 1:
            return (
                f"level {k} ({b[-2]}x{b[-1]}) is not smaller than level {k - 1} "
                f"({a[-2]}x{a[-1]}) in both Y and X"
            )
    return None


def pyramid_shapes(
    height: int, width: int, levels: int | str, source: SourcePyramid | None = None
) -> list[tuple[int, int]]:
    """``(Y, X)`` of every level, full resolution first: the source's, else halvings."""
    if source is not None:
        return [(height, width), *source.shapes]
    return [(height, width), *level_shapes(height, width, resolve_levels(levels, height, width))]


def level_shapes(height: int, width: int, levels: int) -> list[tuple[int, int]]:
    """Return (Y, X) of each sub-resolution level (ceil halving), largest first."""
    shapes = []
    for _ in range(levels):
        height, width = (height + 1) // 2, (width + 1) // 2
        shapes.append((height, width))
    return shapes


def auto_levels(height: int, width: int, min_size: int = AUTO_MIN_SIZE) -> int:
    """Number of factor-2 levels until the largest side is at most ``min_size``."""
    levels = 0
    while max(height, width) > min_size:
        height, width = (height + 1) // 2, (width + 1) // 2
        levels += 1
    return levels


def resolve_levels(levels: int | str, height: int, width: int) -> int:
    """Turn the ``pyramid_levels`` option into a number of sub-resolutions."""
    if isinstance(levels, str):
        if levels != "auto":
            raise WriteError(
                f"pyramid_levels={levels!r} is not understood; give an integer >= 0 or 'auto'"
            )
        return auto_levels(height, width)
    if isinstance(levels, bool) or not isinstance(levels, int | np.integer) or levels < 0:
        raise WriteError(
            f"pyramid_levels={levels!r} is not understood; give an integer >= 0 or 'auto'"
        )
    most = auto_levels(height, width, 1)
    if levels > most:
        raise WriteError(
            f"pyramid_levels={levels} is too many for a {height}x{width} image "
            f"(at most {most}); use 'auto'"
        )
    return int(levels)


def _wider(dtype: np.dtype) -> np.dtype:
    """The narrowest integer type that holds the sum of four values (plus 2) of ``dtype``."""
    if dtype.kind in "ui" and dtype.itemsize <= 4:
        return np.dtype(f"{dtype.kind}{2 * dtype.itemsize}")
    return np.dtype(np.uint64 if dtype.kind == "u" else np.int64)


#: Bytes of wide-type row sums per band: bands stay in the CPU cache.
BAND_BYTES = 1 << 20
#: Planes whose result is smaller than this are halved in the calling thread.
PARALLEL_BYTES = 4 << 20


def _band_rows(plane: np.ndarray, y0: int, y1: int) -> np.ndarray:
    """Input rows of output rows ``y0:y1``, edge-padded to even sides (ceil halving)."""
    rows = plane[2 * y0 : 2 * y1]
    py, px = rows.shape[0] % 2, rows.shape[1] % 2
    if py or px:
        pad = ((0, py), (0, px)) + ((0, 0),) * (plane.ndim - 2)
        rows = np.pad(rows, pad, mode="edge")
    return rows


def _mean_bands(plane: np.ndarray, out: np.ndarray, spans: Sequence[tuple[int, int]]) -> None:
    """Write the 2x2 means of output rows ``y0:y1`` of each span into ``out``.

    Integers: rows are summed first (contiguous), then column pairs, in the
    narrowest type that cannot overflow (uint16 for uint8), one sample at a time
    (numpy's inner loops then run along X, not over the 3 samples of a pixel),
    then rounded half up: the same result as a 32-bit sum of the four pixels at a
    fraction of the memory traffic. Floats: the four pixels summed, times 0.25.
    """
    integer = plane.dtype.kind in "ui"
    wide = _wider(plane.dtype) if integer else plane.dtype
    for y0, y1 in spans:
        rows = _band_rows(plane, y0, y1)
        if not integer:
            acc = rows[0::2, 0::2] + rows[1::2, 0::2]
            acc += rows[0::2, 1::2]
            acc += rows[1::2, 1::2]
            acc *= 0.25
            out[y0:y1] = acc
            continue
        pairs = np.add(rows[0::2], rows[1::2], dtype=wide)
        for c in range(1 if plane.ndim == 2 else plane.shape[2]):
            pick = (slice(None), slice(None)) if plane.ndim == 2 else (slice(None), slice(None), c)
            acc = np.add(pairs[:, 0::2][pick], pairs[:, 1::2][pick])
            acc += 2
            acc >>= 2
            out[(slice(y0, y1), *pick[1:])] = acc


def downsample(
    plane: np.ndarray, method: Downsample = "mean", pool: Executor | None = None
) -> np.ndarray:
    """Halve a plane ``(Y, X[, S])`` in Y and X.

    ``mean`` averages 2x2 blocks (integers rounded half up, summed in a wider
    integer type); ``nearest`` keeps the top-left pixel of each block. Odd sides
    are padded by repeating the edge, so the result is ``ceil(Y/2) x ceil(X/2)``.
    With a thread ``pool``, large planes are halved in row bands on its threads.
    """
    return start_downsample(plane, method, pool)()


def start_downsample(
    plane: np.ndarray, method: Downsample = "mean", pool: Executor | None = None
) -> Callable[[], np.ndarray]:
    """Start :func:`downsample`; return a function that waits for and returns the result.

    With a ``pool``, workers for the row bands of a large plane are queued on it
    now (call this before queueing other work that should come after), and the
    caller of the returned function takes the bands no worker has started.
    """
    if method == "nearest" or plane.dtype.kind == "b":
        nearest = np.ascontiguousarray(plane[::2, ::2])
        return lambda: nearest
    if method != "mean":
        raise WriteError(f"downsample={method!r} is not understood; use 'mean' or 'nearest'")
    h, w = (plane.shape[0] + 1) // 2, (plane.shape[1] + 1) // 2
    out = np.empty((h, w, *plane.shape[2:]), plane.dtype)
    wide = _wider(plane.dtype).itemsize if plane.dtype.kind in "ui" else plane.itemsize
    row_bytes = 2 * (plane[:1].nbytes // plane.itemsize) * wide  # two input rows, summed
    band = max(8, BAND_BYTES // max(1, row_bytes))
    spans = [(y, min(y + band, h)) for y in range(0, h, band)]
    if pool is None or out.nbytes < PARALLEL_BYTES or len(spans) < 2:
        _mean_bands(plane, out, spans)
        return lambda: out
    todo = iter(spans)
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                span = next(todo, None)
            if span is None:
                return
            _mean_bands(plane, out, [span])

    futures = [pool.submit(work) for _ in range(min(len(spans), 8))]

    def result() -> np.ndarray:
        work()  # the caller takes bands too instead of waiting idle
        for future in futures:
            future.result()
        return out

    return result
