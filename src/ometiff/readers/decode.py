"""Decode one TIFF page (IFD) into pixels, for every reader of TIFF-family files.

tifffile's :meth:`TiffPage.asarray` does the work, except for a layout it refuses
that Bio-Formats writes for RGB JPEG pyramids (``bfconvert -compression JPEG``):
Compression 7, Photometric YCbCr, PlanarConfiguration 2 (separate) and no
YCbCrSubsampling tag. tifffile assumes the default 2x2 chroma subsampling and
gives up; each tile is in fact a one-component JPEG of one sample plane, stored
without colour conversion, and Bio-Formats reads the decoded tile values as the
pixels. :func:`decode_page` does the same.

It is also where what a page *declares* is checked before anything is decoded
(issue 15: bounded memory on hostile files): the decoded size against the memory
budget (:func:`memory_budget`, ``max_memory=`` in the API, ``--max-memory`` on the
command line) and every strip or tile against the end of the file. A 200000²
uint16 page with a 100-byte strip is refused in microseconds, in one line naming
the file, instead of allocating 74.5 GiB.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import os
import resource
import struct
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np

from ometiff.errors import InvalidArgumentError, MemoryBudgetError

#: What tifffile and imagecodecs raise for undecodable, truncated or unsupported data.
#: Programming errors (TypeError, AttributeError, KeyError, IndexError, ...) are
#: not listed: they are bugs and surface as such, not as "cannot read pixel data".
DECODE_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,  # includes tifffile.TiffFileError
    RuntimeError,  # imagecodecs errors; includes NotImplementedError
    OSError,
    EOFError,
    ImportError,  # a codec imagecodecs was built without
    struct.error,
)

_JPEG = 7
_YCBCR = 6
_SEPARATE = 2
_YCBCR_SUBSAMPLING = 530


#: The default budget is the smallest of this, a quarter of physical memory and a
#: quarter of the address-space limit (``ulimit -v``), so one decoded plane (and
#: the copies made of it) fits.
DEFAULT_MAX_MEMORY = 2 << 30

# Set by memory_budget() for the length of a ``with`` block, in the caller's context
# only (a ContextVar): two threads, or two asyncio tasks, each decode under their own
# budget. The reads of a conversion run in worker threads; their pools are
# :class:`ContextPool`, whose tasks run in the submitting thread's context and so
# see the budget of the call that started them.
_BUDGET: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "ometiff_max_memory", default=None
)


class ContextPool(ThreadPoolExecutor):
    """A thread pool whose tasks run in a copy of the submitting thread's context
    (so they decode under the memory budget of the call that submitted them)."""

    def submit[**P, R](self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Future[R]:
        run: Callable[..., R] = contextvars.copy_context().run
        return super().submit(run, fn, *args, **kwargs)


class InlinePool(Executor):
    """An executor of one thread, the caller's: each call runs at once in the
    submitting thread, and its result (or exception) waits in a finished Future.

    What ometiff's pools become when given one thread (:func:`thread_pool`), so that
    ``threads=1`` means one thread: a Dask worker, or a batch job, given one core
    keeps to it instead of running a read-ahead, an encoder and a checker beside it.
    """

    def submit[**P, R](self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Future[R]:
        future: Future[R] = Future()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:  # as a pool thread would; interrupts go on at once
            future.set_exception(exc)
        else:
            future.set_result(result)
        return future


def thread_pool(threads: int, name: str) -> Executor:
    """ometiff's pool of ``threads`` threads named ``name``: a :class:`ContextPool`, or
    for one thread (or fewer) the calling thread itself (:class:`InlinePool`)."""
    if threads <= 1:
        return InlinePool()
    return ContextPool(threads, thread_name_prefix=name)


def default_max_memory() -> int:
    """The budget when none is set: 2 GiB, less on a small machine or under ``ulimit -v``."""
    limits = [DEFAULT_MAX_MEMORY]
    with contextlib.suppress(ValueError, OSError, AttributeError):  # not POSIX
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4)
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY and soft > 0:
        limits.append(soft // 4)
    return max(1, min(limits))


def current_max_memory() -> int:
    """The memory budget in bytes for decoding one plane or region, in this context."""
    budget = _BUDGET.get()
    return budget if budget is not None else default_max_memory()


def explicit_max_memory() -> int | None:
    """The budget the caller set (:func:`memory_budget`, ``max_memory=``), or None when
    the default is in force (what a conversion hands to its Dask workers)."""
    return _BUDGET.get()


@contextmanager
def memory_budget(max_memory: int | str | None) -> Iterator[int]:
    """Set the memory budget for decoding (bytes, or ``"512M"``, ``"4G"``) inside a ``with``.

    None keeps the budget in force (the default unless an outer block set one).
    The budget holds in this thread (this context) and in the tasks it hands to
    ometiff's thread pools (:class:`ContextPool`) while the block runs, never in
    other threads of the program, and is restored on exit.

    Raises
    ------
    InvalidArgumentError
        The value is not a positive size.
    """
    if max_memory is None:
        yield current_max_memory()
        return
    nbytes = parse_size(max_memory)
    token = _BUDGET.set(nbytes)
    try:
        yield nbytes
    finally:
        _BUDGET.reset(token)


def with_memory_budget[**P, R](func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` under :func:`memory_budget` of its ``max_memory=`` keyword argument."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with memory_budget(kwargs.get("max_memory")):  # type: ignore[arg-type]
            return func(*args, **kwargs)

    return wrapper


_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(value: int | str) -> int:
    """Bytes from an int or a size like ``"1.5G"``, ``"512MiB"``, ``"4096"`` (binary units)."""
    if isinstance(value, int) and not isinstance(value, bool):
        nbytes = value
    else:
        text = str(value).strip().upper().removesuffix("IB").removesuffix("B")
        unit = text[-1:] if text[-1:] in _UNITS and not text[-1:].isdigit() else ""
        try:
            nbytes = int(float(text[: len(text) - len(unit)]) * _UNITS[unit])
        except (ValueError, OverflowError):
            nbytes = 0
    if nbytes <= 0:
        raise InvalidArgumentError(
            f"max_memory={value} is not a positive size (bytes, or e.g. 512M, 4G)",
            option="max_memory",
        )
    return nbytes


def format_size(nbytes: float) -> str:
    """``74.5 GiB``, ``512 MiB``, ``100 bytes``."""
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{int(nbytes)} bytes"


def check_budget(nbytes: int, what: str, *, hint: str = "") -> None:
    """Refuse (before allocating) to decode ``nbytes``, described by ``what``, over the budget.

    ``what`` names the file and the thing (``"x.tif IFD 0: plane 200000×200000 uint16"``);
    ``hint`` says what else the caller can do (``"choose a pyramid level with level=N"``).

    Raises
    ------
    MemoryBudgetError
        ``nbytes`` is more than :func:`current_max_memory`.
    """
    budget = current_max_memory()
    if nbytes > budget:
        also = f"{hint}, or " if hint else ""
        raise MemoryBudgetError(
            f"{what} needs {format_size(nbytes)}, more than the memory budget of "
            f"{format_size(budget)}; {also}raise the budget with max_memory=SIZE"
        )


def page_nbytes(page: Any) -> int:
    """The bytes of one decoded page, from what it declares (shape and dtype)."""
    return math.prod(int(n) for n in page.shape) * np.dtype(page.dtype).itemsize


def check_page(page: Any) -> None:
    """Refuse a page whose declared size is over the budget or whose data lies past the file.

    Raises
    ------
    MemoryBudgetError
        The decoded page would be larger than :func:`current_max_memory`.
    ValueError
        A strip or tile starts at or beyond the end of the file (callers name the
        file and IFD, as for any :data:`DECODE_ERRORS`).
    """
    where = f"{_file_name(page)}: IFD {page.index}"
    shape = "×".join(str(int(n)) for n in page.shape)
    check_budget(page_nbytes(page), f"{where}: a {shape} {np.dtype(page.dtype)} plane")
    bad = _segment_past_end(page, starts_only=True)
    if bad:
        raise ValueError(bad)


def _segment_past_end(page: Any, *, starts_only: bool) -> str | None:
    """Describe the first strip or tile that starts (or, if not ``starts_only``, ends)
    beyond the end of the file; None when every one is inside.

    A segment that only *ends* past the file is not refused up front: writers that
    overstate the last byte count exist, and a codec given the bytes that are there
    may still decode it. When the codec fails, this names the cause.
    """
    size = _file_size(page)
    if size is None:
        return None
    for index, (offset, count) in enumerate(
        zip(page.dataoffsets, page.databytecounts, strict=False)
    ):
        offset, count = int(offset), int(count)
        if count and (offset >= size or (not starts_only and offset + count > size)):
            kind = "tile" if page.keyframe.is_tiled else "strip"  # a TiffFrame has no is_tiled
            return (
                f"{kind} {index} ({count} bytes at offset {offset}) runs past the end of "
                f"the file ({size} bytes): file truncated or corrupt"
            )
    return None


def _file_name(page: Any) -> str:
    fh = getattr(page.parent, "filehandle", None)
    path = getattr(fh, "path", None) or getattr(fh, "name", None)
    return str(path) if path else "TIFF"


def _file_size(page: Any) -> int | None:
    fh = getattr(page.parent, "filehandle", None)
    size = getattr(fh, "size", None)
    return int(size) if isinstance(size, int) and size > 0 else None


def is_planar_ycbcr_jpeg(page: Any) -> bool:
    """True for Bio-Formats' planar one-component-per-tile JPEG layout (see module doc)."""
    return (
        int(page.compression) == _JPEG
        and int(page.photometric) == _YCBCR
        and int(page.planarconfig) == _SEPARATE
        and _YCBCR_SUBSAMPLING not in page.tags
        and np.dtype(page.dtype) == np.uint8
    )


def decode_page(page: Any) -> np.ndarray:
    """The pixels of one page, shaped like ``page.shape`` (axes ``page.axes``).

    Memory: the page itself plus one segment. Errors of tifffile and imagecodecs
    pass through (callers catch :data:`DECODE_ERRORS` and name the file and IFD).

    Raises
    ------
    MemoryBudgetError
        The page declares more pixels than the memory budget allows (:func:`check_page`).
    ValueError
        A strip or tile starts past the end of the file, or one that ends past it
        cannot be decoded (the message says so).
    """
    check_page(page)
    try:
        if is_planar_ycbcr_jpeg(page):
            return _planar_jpeg(page)
        return np.asarray(page.asarray())
    except DECODE_ERRORS as exc:
        overhang = _segment_past_end(page, starts_only=False)
        if overhang is None:
            raise
        raise ValueError(f"{overhang} ({exc})") from exc


def _planar_jpeg(page: Any) -> np.ndarray:
    """Decode every tile or strip as a one-component JPEG, no colour conversion."""
    import imagecodecs

    samples, height, width = int(page.samplesperpixel), int(page.imagelength), int(page.imagewidth)
    if page.is_tiled:
        seg_h, seg_w = int(page.tilelength), int(page.tilewidth)
    else:
        seg_h, seg_w = min(int(page.rowsperstrip), height), width
    down, across = math.ceil(height / seg_h), math.ceil(width / seg_w)
    offsets, counts = page.dataoffsets, page.databytecounts
    if len(offsets) != samples * down * across or len(counts) != len(offsets):
        raise ValueError(
            f"{len(offsets)} segments for {samples} planes of {down}x{across} segments"
        )
    out = np.zeros((samples, height, width), np.uint8)
    fh = page.parent.filehandle
    tables = page.jpegtables
    for index, (offset, count) in enumerate(zip(offsets, counts, strict=True)):
        if not count:
            continue  # a missing segment stays zero, as in tifffile
        with fh.lock:
            fh.seek(offset)
            data = fh.read(count)
        tile = np.asarray(imagecodecs.jpeg8_decode(data, tables=tables))
        if tile.ndim != 2:
            raise ValueError(f"segment {index} is a {tile.shape[-1]}-component JPEG, expected 1")
        s, rest = divmod(index, down * across)
        row, col = divmod(rest, across)
        y, x = row * seg_h, col * seg_w
        h, w = min(tile.shape[0], height - y), min(tile.shape[1], width - x)
        out[s, y : y + h, x : x + w] = tile[:h, :w]
    return out.reshape(page.shape)
