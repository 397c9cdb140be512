"""Region reads of tiled TIFF pages: decode only the tiles a window touches.

``read_page_region(page, y0, y1, x0, x1, read=...)`` reads the compressed bytes of
the touched tiles with ``read(offset, count)`` (a :class:`SegmentFile`: ``os.pread``
on one descriptor, safe to share between threads) and decodes them with tifffile's
per-page decode function (every codec, predictor and bit depth tifffile knows),
several tiles at a time on a thread pool (zlib, zstd and JPEG decoders release the
GIL). Pages this module does not handle (strips, volumetric tiles, Bio-Formats'
planar YCbCr JPEG, see :mod:`ometiff.readers.decode`) make
:func:`can_read_tiles` False and readers crop a whole decoded plane instead.

The OME-TIFF and TIFF readers use it for ``Reader.read_region``; the read API
(``ometiff.open(...).to_dask()``) chunks tiled levels on tile boundaries, so a
window of a 40,000² level decodes a handful of tiles.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.errors import InvalidTiffError
from ometiff.readers.decode import DECODE_ERRORS, is_planar_ycbcr_jpeg

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def decode_pool() -> ThreadPoolExecutor:
    """The thread pool tiles are decoded on (one per process, created on first use)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(
                max_workers=max(1, os.cpu_count() or 1), thread_name_prefix="ometiff-decode"
            )
        return _POOL


class SegmentFile:
    """Random-access reads of one file, safe to call from many threads at once.

    ``os.pread`` needs no shared file position; where it does not exist, reads are
    serialised with a lock. Opened on first read, closed by :meth:`close`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._lock = threading.Lock()

    def _open(self) -> int:
        with self._lock:
            if self._fd is None:
                try:
                    self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
                except OSError as exc:
                    raise InvalidTiffError(f"{self.path}: cannot open: {exc}") from exc
            return self._fd

    def __call__(self, offset: int, count: int) -> bytes:
        fd = self._fd if self._fd is not None else self._open()
        try:
            if hasattr(os, "pread"):
                data = os.pread(fd, count, offset)
            else:  # pragma: no cover - Windows
                with self._lock:
                    os.lseek(fd, offset, os.SEEK_SET)
                    data = os.read(fd, count)
        except OSError as exc:
            raise InvalidTiffError(
                f"{self.path}: cannot read {count} bytes at {offset}: {exc}"
            ) from exc
        if len(data) != count:
            raise InvalidTiffError(
                f"{self.path}: tile at offset {offset} is truncated ({len(data)} of {count} bytes)"
            )
        return data

    def close(self) -> None:
        """Close the descriptor (idempotent)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def can_read_tiles(page: Any) -> bool:
    """True when :func:`read_page_region` can read ``page`` tile by tile."""
    return bool(
        page.is_tiled
        and int(page.imagedepth) == 1
        and int(page.tiledepth) == 1
        and len(page.dataoffsets) > 0
        and not is_planar_ycbcr_jpeg(page)
    )


def tile_shape(page: Any) -> tuple[int, int] | None:
    """``(tile length, tile width)`` of a page :func:`read_page_region` reads, else None."""
    if not can_read_tiles(page):
        return None
    return int(page.tilelength), int(page.tilewidth)


def read_page_region(
    page: Any,
    y0: int,
    y1: int,
    x0: int,
    x1: int,
    *,
    read: Callable[[int, int], bytes],
    where: str,
) -> np.ndarray:
    """Pixels ``[y0:y1, x0:x1]`` of a tiled page as ``(Y, X, S)`` in the page's dtype.

    Only the tiles the window touches are read and decoded; missing tiles (byte
    count 0) read as zeros, as in tifffile.

    Raises
    ------
    InvalidTiffError
        A tile cannot be read or decoded; the message says which (``where``).
    """
    height, width = int(page.imagelength), int(page.imagewidth)
    th, tw = int(page.tilelength), int(page.tilewidth)
    samples = int(page.samplesperpixel)
    across = math.ceil(width / tw)
    per_sample = math.ceil(height / th) * across
    separate = int(page.planarconfig) == 2 and samples > 1
    offsets, counts = page.dataoffsets, page.databytecounts
    expected = per_sample * (samples if separate else 1)
    if len(offsets) < expected or len(counts) < expected:
        raise InvalidTiffError(f"{where}: {len(offsets)} tiles, expected {expected}")
    try:
        decode = page.decode
    except DECODE_ERRORS as exc:
        raise InvalidTiffError(f"{where}: cannot read pixel data ({exc})") from exc
    tables = page.jpegtables
    rows = range(y0 // th, (y1 - 1) // th + 1)
    cols = range(x0 // tw, (x1 - 1) // tw + 1)
    planes = range(samples) if separate else range(1)
    jobs = [s * per_sample + r * across + c for s in planes for r in rows for c in cols]

    def tile_at(index: int) -> tuple[np.ndarray | None, int, int, int]:
        count = int(counts[index])
        data = read(int(offsets[index]), count) if count else None
        try:
            tile, (s, _, ty, tx, _), _ = decode(data, index, jpegtables=tables)
        except DECODE_ERRORS as exc:
            raise InvalidTiffError(f"{where}: tile {index} cannot be decoded ({exc})") from exc
        return (None if tile is None else tile[0]), s, ty, tx  # (length, width, samples)

    if len(jobs) == 1:  # one tile: its pixels, not a copy
        tile, _, ty, tx = tile_at(jobs[0])
        if tile is not None and tile.shape[0] >= y1 - ty and tile.shape[1] >= x1 - tx:
            window = tile[y0 - ty : y1 - ty, x0 - tx : x1 - tx]
            # uncompressed tiles decode to read-only views of the bytes read: copy those
            return window if window.flags.writeable else window.copy()
    out = np.empty((y1 - y0, x1 - x0, samples), dtype=page.dtype)

    def one(index: int) -> None:
        s_, rest = divmod(index, per_sample)
        row, col = divmod(rest, across)
        ya, yb = max(y0, row * th), min(y1, (row + 1) * th)  # the tile's part of the window
        xa, xb = max(x0, col * tw), min(x1, (col + 1) * tw)
        where_s = slice(s_, s_ + 1) if separate else slice(None)
        area = (slice(ya - y0, yb - y0), slice(xa - x0, xb - x0), where_s)
        tile, _, ty, tx = tile_at(index)
        if tile is None or tile.shape[0] < yb - ty or tile.shape[1] < xb - tx:
            out[area] = 0  # missing (byte count 0) or short tiles read as zeros, as in tifffile
            if tile is None:
                return
            yb, xb = min(yb, ty + tile.shape[0]), min(xb, tx + tile.shape[1])
            area = (slice(ya - y0, yb - y0), slice(xa - x0, xb - x0), where_s)
        out[area] = tile[ya - ty : yb - ty, xa - tx : xb - tx]

    if len(jobs) == 1:
        one(jobs[0])
    else:
        for _ in decode_pool().map(one, jobs):
            pass
    return out
