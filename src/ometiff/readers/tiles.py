"""Region reads of tiled TIFF pages: decode only the tiles a window touches.

``read_page_region(page, y0, y1, x0, x1, read=...)`` reads the compressed bytes of
the touched tiles with ``read(offset, count)`` (a :class:`SegmentFile`: ``os.pread``
on one descriptor, safe to share between threads) and decodes them several tiles at
a time on a thread pool (the zlib, zstd, LZW and JPEG decoders release the GIL),
straight into one output array: the caller's (``out=``, e.g. one plane of the array
``File.asarray`` returns) or a new one.

Tiles whose layout is simple (no compression, or Deflate, Adobe Deflate, zstd, LZW,
LZMA; no predictor or horizontal differencing; whole bytes per sample in the native
byte order) are decoded by the codec tifffile uses for them into a reusable scratch
buffer of the decoding thread and copied into place: no allocation per tile. Every
other tile goes through tifffile's per-page decode function (every codec, predictor
and bit depth tifffile knows), as does any tile the fast path cannot decode, so both
give tifffile's pixels and tifffile's errors. Pages this module does not handle
(strips, volumetric tiles, Bio-Formats' planar YCbCr JPEG, see
:mod:`ometiff.readers.decode`) make :func:`can_read_tiles` False and readers crop a
whole decoded plane instead.

The OME-TIFF and TIFF readers use it for ``Reader.read_region``; the read API
(``ometiff.open(...).to_dask()``) chunks tiled levels on tile boundaries, so a
window of a 40,000² level decodes a handful of tiles.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.errors import InvalidTiffError
from ometiff.readers.decode import (
    DECODE_ERRORS,
    ContextPool,
    check_budget,
    is_planar_ycbcr_jpeg,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
_POOL_PREFIX = "ometiff-decode"

#: Compression codes whose tifffile decoder writes into a given buffer (``out=``):
#: Deflate, Adobe Deflate, LZW, LZMA, zstd. Code 1 (none) needs no decoder.
FAST_COMPRESSIONS = frozenset({8, 32946, 5, 34925, 50000})

#: Largest per-thread scratch buffer kept between tiles; larger tiles get a new one.
MAX_SCRATCH = 16 << 20

_SCRATCH = threading.local()
_LOOKUP_ERRORS: tuple[type[BaseException], ...] = (KeyError, *DECODE_ERRORS)
_YCBCR = 6


def decode_pool() -> ThreadPoolExecutor:
    """The thread pool tiles are decoded on (one per process, created on first use)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ContextPool(
                max_workers=max(1, os.cpu_count() or 1), thread_name_prefix=_POOL_PREFIX
            )
        return _POOL


#: Threads a read may decode tiles on in this context (None: the whole pool). Set by
#: :func:`decode_threads`; a Dask worker of one thread decodes on that one thread.
_THREADS: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "ometiff_decode_threads", default=None
)


@contextlib.contextmanager
def decode_threads(threads: int | None) -> Iterator[None]:
    """Inside the block, reads in this context decode tiles on ``threads`` threads at
    most: 1 decodes in the calling thread (a Dask worker given one core keeps to it);
    None or more than 1 use :func:`decode_pool`."""
    token = _THREADS.set(threads)
    try:
        yield
    finally:
        _THREADS.reset(token)


def _in_pool() -> bool:
    """True in a thread of :func:`decode_pool` (which must not wait on its own pool)."""
    return threading.current_thread().name.startswith(_POOL_PREFIX)


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

    def __call__(
        self, offset: int, count: int, *, into: np.ndarray | None = None
    ) -> bytes | memoryview:
        """``count`` bytes at ``offset``; read into ``into`` (a byte buffer of at least
        ``count`` bytes, reused by the caller: no allocation per tile) when given."""
        fd = self._fd if self._fd is not None else self._open()
        try:
            if into is not None and hasattr(os, "preadv"):
                view = memoryview(into)[:count]
                got = os.preadv(fd, [view], offset)
                data: bytes | memoryview = view[:got]
            elif hasattr(os, "pread"):
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


def _scratch(nbytes: int, name: str = "pixels") -> np.ndarray:
    """A writable byte buffer of ``nbytes`` for this thread: one for decoded pixels, one
    for compressed bytes (``name``), each reused up to :data:`MAX_SCRATCH`."""
    buf: np.ndarray | None = getattr(_SCRATCH, name, None)
    if buf is not None and buf.size >= nbytes:
        return buf[:nbytes]
    buf = np.empty(nbytes, np.uint8)
    if nbytes <= MAX_SCRATCH:
        setattr(_SCRATCH, name, buf)
    return buf


def fast_tile_decoder(
    page: Any,
) -> Callable[[bytes | memoryview, tuple[int, int, int]], np.ndarray | None] | None:
    """A decoder of ``page``'s tiles into a per-thread scratch buffer, or None.

    None when the page's layout needs tifffile's decode function (a codec without
    ``out=``, the floating-point predictor, packed bits, FillOrder 2, a foreign byte
    order, ...). The decoder returns None for a tile it cannot decode exactly (short,
    long or corrupt data): the caller then asks tifffile, which gives its pixels or
    its error. The array it returns is only valid until the thread's next tile.
    """
    from tifffile import TIFF

    dtype = np.dtype(page.dtype)
    compression, predictor = int(page.compression), int(page.predictor)
    native = dtype.itemsize == 1 or page.parent.byteorder == (
        "<" if sys.byteorder == "little" else ">"
    )
    if not (
        dtype.kind in "uif"
        and int(page.bitspersample) == 8 * dtype.itemsize
        and int(page.fillorder) == 1
        and native
        and int(page.photometric) != _YCBCR  # maybe subsampled: tifffile's business
        and (compression == 1 or compression in FAST_COMPRESSIONS)
        and (predictor == 1 or (predictor == 2 and dtype.kind in "ui"))
    ):
        return None
    try:
        decompress = None if compression == 1 else TIFF.DECOMPRESSORS[compression]
        unpredict = None if predictor == 1 else TIFF.UNPREDICTORS[predictor]
    except _LOOKUP_ERRORS:  # a codec imagecodecs was built without
        return None

    def decode(data: bytes | memoryview, shape: tuple[int, int, int]) -> np.ndarray | None:
        nbytes = math.prod(shape) * dtype.itemsize
        if decompress is None:
            if len(data) < nbytes:
                return None
            raw = np.frombuffer(data, np.uint8, nbytes)
            if unpredict is None:
                return raw.view(dtype).reshape(shape)  # read-only: only copied from
            buf = _scratch(nbytes)
            buf[:] = raw
        else:
            buf = _scratch(nbytes)
            try:
                got = decompress(data, out=buf)
            except DECODE_ERRORS:
                return None
            if len(got) != nbytes:
                return None
        tile = buf.view(dtype).reshape(shape)
        if unpredict is not None:
            unpredict(tile, axis=-2, out=tile)
        return tile

    return decode


def read_page_region(
    page: Any,
    y0: int,
    y1: int,
    x0: int,
    x1: int,
    *,
    read: Callable[[int, int], bytes | memoryview],
    where: str,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Pixels ``[y0:y1, x0:x1]`` of a tiled page as ``(Y, X, S)`` in the page's dtype.

    Only the tiles the window touches are read and decoded, in parallel; missing
    tiles (byte count 0) read as zeros, as in tifffile. With ``out`` (shape
    ``(Y, X, S)``, or ``(Y, X)`` for one sample; any dtype the pixels cast to), the
    pixels are decoded into it and it is returned; else a new array is.

    Raises
    ------
    InvalidTiffError
        A tile cannot be read or decoded; the message says which (``where``).
    MemoryBudgetError
        The window, or one decoded tile, is larger than the memory budget.
    """
    height, width = int(page.imagelength), int(page.imagewidth)
    th, tw = int(page.tilelength), int(page.tilewidth)
    samples = int(page.samplesperpixel)
    across = math.ceil(width / tw)
    per_sample = math.ceil(height / th) * across
    separate = int(page.planarconfig) == 2 and samples > 1
    dtype = np.dtype(page.dtype)
    tile_samples = 1 if separate else samples
    # what the page declares against the budget first: a hostile size is refused
    # as such before anything else about it is looked at
    check_budget(th * tw * tile_samples * dtype.itemsize, f"{where}: a {th}×{tw} {dtype} tile")
    shape = (y1 - y0, x1 - x0, samples)
    what = "plane" if (y0, y1, x0, x1) == (0, height, 0, width) else "region"
    check_budget(
        math.prod(shape) * dtype.itemsize, f"{where}: a {shape[0]}×{shape[1]} {dtype} {what}"
    )
    offsets, counts = page.dataoffsets, page.databytecounts
    expected = per_sample * (samples if separate else 1)
    if len(offsets) < expected or len(counts) < expected:
        raise InvalidTiffError(f"{where}: {len(offsets)} tiles, expected {expected}")
    if out is None:
        out = np.empty(shape, dtype=dtype)
        result = out
    else:
        result = out
        if out.shape != shape:
            if out.shape != shape[:2] or samples != 1:
                raise InvalidTiffError(
                    f"{where}: the page has {samples} sample(s) per pixel; "
                    f"the {out.shape} output cannot hold its {shape} region"
                )
            out = out[..., np.newaxis]  # (Y, X) -> (Y, X, 1): a view, never a copy
    try:
        decode = page.decode
    except DECODE_ERRORS as exc:
        raise InvalidTiffError(f"{where}: cannot read pixel data ({exc})") from exc
    fast = fast_tile_decoder(page)
    tables = page.jpegtables
    rows = range(y0 // th, (y1 - 1) // th + 1)
    cols = range(x0 // tw, (x1 - 1) // tw + 1)
    planes = range(samples) if separate else range(1)
    jobs = [s * per_sample + r * across + c for s in planes for r in rows for c in cols]

    # the fast path reads compressed bytes into a reused buffer of the thread too
    seg = read if fast is not None and isinstance(read, SegmentFile) else None

    def tile_at(index: int) -> np.ndarray | None:
        count = int(counts[index])
        data: bytes | memoryview | None = None
        if count and seg is not None and count <= MAX_SCRATCH:
            data = seg(int(offsets[index]), count, into=_scratch(count, "compressed"))
        elif count:
            data = read(int(offsets[index]), count)
        if data is not None and fast is not None:
            tile = fast(data, (th, tw, tile_samples))
            if tile is not None:
                return tile
            data = bytes(data)  # tifffile's decode functions get bytes, as always
        try:
            tile, _, _ = decode(data, index, jpegtables=tables)
        except DECODE_ERRORS as exc:
            raise InvalidTiffError(f"{where}: tile {index} cannot be decoded ({exc})") from exc
        return None if tile is None else tile[0]  # (length, width, samples)

    def one(index: int) -> None:
        s_, rest = divmod(index, per_sample)
        row, col = divmod(rest, across)
        ty, tx = row * th, col * tw
        ya, yb = max(y0, ty), min(y1, ty + th)  # the tile's part of the window
        xa, xb = max(x0, tx), min(x1, tx + tw)
        where_s = slice(s_, s_ + 1) if separate else slice(None)
        area = (slice(ya - y0, yb - y0), slice(xa - x0, xb - x0), where_s)
        tile = tile_at(index)
        if tile is None or tile.shape[0] < yb - ty or tile.shape[1] < xb - tx:
            out[area] = 0  # missing (byte count 0) or short tiles read as zeros, as in tifffile
            if tile is None:
                return
            yb, xb = min(yb, ty + tile.shape[0]), min(xb, tx + tile.shape[1])
            area = (slice(ya - y0, yb - y0), slice(xa - x0, xb - x0), where_s)
        out[area] = tile[ya - ty : yb - ty, xa - tx : xb - tx]

    if len(jobs) == 1 or _in_pool() or _THREADS.get() == 1:
        for index in jobs:
            one(index)
    else:
        for _ in decode_pool().map(one, jobs):
            pass
    return result
