"""``ometiff.open`` and ``ometiff.imread``: any supported input as arrays.

:class:`File` wraps the :class:`~ometiff.readers.Reader` the registry picks (so
every reader, including readers added later, works here) and adds the pixel API
on top of the reader's level and region reads: numpy (:meth:`File.asarray`), dask
(:meth:`File.to_dask`), a read-only zarr array (:meth:`File.to_zarr`) and xarray
(:meth:`File.to_xarray`). A File is a context manager, closes its files on
:meth:`File.close`, and pickles as "reopen this path with these options" so dask
can ship it to other processes.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.dataset.series import Series, make_series
from ometiff.errors import InvalidArgumentError, NoSuchPlaneError

if TYPE_CHECKING:
    from typing import Self

    import dask.array
    import xarray
    import zarr
    from ome_types import OME
    from ome_types import model as m

    from ometiff.readers.base import Reader
    from ometiff.types import StrPath


#: Target size of a dask/zarr chunk of a tiled level (a block of k x k tiles).
#: Whole planes as chunks (32 MiB in the 2 GiB read benchmark) were measured too:
#: 1.5-1.7x the CPU time of 2 MiB blocks there, all of it in the kernel (new
#: memory, which numpy backs with huge pages from 4 MiB; slow on the shared VM).
CHUNK_BYTES = 2 << 20


class File:
    """An open image file (any supported input) with its series and pixel access.

    Use :func:`ometiff.open` to create one. Every method takes ``series`` (an index
    into :attr:`series`) and ``level`` (0 = full resolution) and raises
    :class:`~ometiff.errors.NoSuchPlaneError` when either does not exist.

    Attributes
    ----------
    path
        The input as given.
    reader
        Name of the reader that opened it (``"ome-tiff"``, ``"lif"``, ...).
    options
        The reader options it was opened with.
    series
        One :class:`~ometiff.dataset.Series` per image series.
    """

    def __init__(self, path: StrPath, *, reader: str | None = None, **options: Any) -> None:
        from ometiff.readers.registry import open_image

        self.path = Path(path)
        self.options = dict(options)
        self._reader: Reader | None = open_image(path, reader=reader, **options)
        try:
            rdr = self._reader
            self.reader: str = rdr.name
            self._lock = nullcontext() if rdr.thread_safe else threading.RLock()
            view = rdr.ome_view()
            sources = rdr.sources()
            if len(view.images) != len(sources):
                raise InvalidArgumentError(
                    f"{self.path}: the {rdr.name} reader describes {len(view.images)} "
                    f"series but reads {len(sources)}"
                )
            self.series: list[Series] = [
                make_series(
                    i,
                    image,
                    rdr.level_shapes(i),
                    src.samples,
                    src.dtype,
                    self._ome_loader(i),
                    name=src.name,
                )
                for i, (image, src) in enumerate(zip(view.images, sources, strict=True))
            ]
        except BaseException:
            self.close()
            raise
        self._ome: OME | None = None

    # -- life cycle -------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._reader is None

    def close(self) -> None:
        """Close the reader and its files (idempotent); later reads raise."""
        rdr, self._reader = self._reader, None
        if rdr is not None:
            rdr.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled as "reopen": file handles never cross processes
        return (_reopen, (str(self.path.absolute()), self.reader, self.options))

    def __repr__(self) -> str:
        state = " (closed)" if self.closed else ""
        return f"<ometiff.File {str(self.path)!r} [{self.reader}] {len(self.series)} series{state}>"

    @property
    def raw_reader(self) -> Reader:
        """The underlying :class:`~ometiff.readers.Reader` (raises once closed)."""
        rdr = self._reader
        if rdr is None:
            raise InvalidArgumentError(
                f"{self.path}: the file is closed; open it again with ometiff.open()"
            )
        return rdr

    # -- metadata ----------------------------------------------------------------------

    @property
    def ome(self) -> OME:
        """The full ``ome_types.OME`` of the input (built on first use, then kept)."""
        if self._ome is None:
            with self._lock:
                self._ome = self.raw_reader.ome()
        return self._ome

    def _ome_loader(self, index: int) -> Any:
        def load() -> m.Image:
            return self.ome.images[index]

        return load

    def _series(self, series: int, level: int) -> Series:
        if not isinstance(series, (int, np.integer)) or isinstance(series, bool):
            raise InvalidArgumentError(f"{self.path}: series must be an integer, not {series!r}")
        if not 0 <= series < len(self.series):
            raise NoSuchPlaneError(
                f"{self.path}: series {series} does not exist ({len(self.series)} series)"
            )
        s = self.series[series]
        if not isinstance(level, (int, np.integer)) or isinstance(level, bool):
            raise InvalidArgumentError(f"{self.path}: level must be an integer, not {level!r}")
        if not 0 <= level < len(s.levels):
            have = f"levels 0-{len(s.levels) - 1}" if len(s.levels) > 1 else "only level 0"
            raise NoSuchPlaneError(
                f"{self.path}: series {series} has {have}; level {level} does not exist"
            )
        return s

    # -- pixels ------------------------------------------------------------------------

    def chunks(self, series: int = 0, level: int = 0) -> tuple[int, ...]:
        """Chunk shape of :meth:`to_dask` and :meth:`to_zarr`: one plane, or tiles.

        A chunk of a tiled level is a block of whole tiles of about
        :data:`CHUNK_BYTES` (one tile when tiles are that large): each task then
        decodes its tiles in parallel straight into its chunk and per-task overhead
        stays small, while a window still decodes only the few chunks it touches.
        """
        s = self._series(series, level)
        shape = s.levels[level]
        with self._lock:
            tile = self.raw_reader.tile_shape(series, level=level)
        if tile is None:
            return (1, 1, 1, *shape[3:])
        tile_bytes = tile[0] * tile[1] * s.sizes["S"] * s.dtype.itemsize
        k = max(1, math.isqrt(CHUNK_BYTES // max(1, tile_bytes)))
        return (1, 1, 1, min(k * tile[0], shape[3]), min(k * tile[1], shape[4]), *shape[5:])

    def read(
        self,
        series: int = 0,
        level: int = 0,
        *,
        t: int = 0,
        c: int = 0,
        z: int = 0,
        y: slice | None = None,
        x: slice | None = None,
    ) -> np.ndarray:
        """One plane, or a window of it: ``(Y, X)`` or ``(Y, X, S)``.

        Of a tiled level, only the tiles the window touches are decoded.

        Raises
        ------
        NoSuchPlaneError
            The series, level or plane does not exist.
        InvalidArgumentError
            The window is empty, stepped or outside the plane.
        """
        s = self._series(series, level)
        size_y, size_x = s.levels[level][3:5]
        y0, y1 = _bounds(y, size_y, "y", self.path)
        x0, x1 = _bounds(x, size_x, "x", self.path)
        with self._lock:
            return self.raw_reader.read_region(series, t, c, z, y0, y1, x0, x1, level=level)

    def read_block(
        self, series: int, level: int, key: tuple[slice, ...], *, out: np.ndarray | None = None
    ) -> np.ndarray:
        """The block ``key`` (one slice per axis of ``dims``) of a level, as numpy.

        The building block of the dask and zarr views and of :meth:`asarray`: planes
        are read one at a time, each through :meth:`Reader.read_region`, straight
        into the block's array (tiled readers decode their tiles into it). With
        ``out`` (an array, or a view, of the block's shape and the level's dtype),
        the pixels are written into it and it is returned.
        """
        s = self._series(series, level)
        shape = s.levels[level]
        if len(key) != len(shape):
            raise InvalidArgumentError(f"{self.path}: block {key} does not have {len(shape)} axes")
        ranges = [range(*k.indices(n)) for k, n in zip(key, shape, strict=True)]
        shape_out = tuple(len(r) for r in ranges)
        if out is not None and (out.shape != shape_out or out.dtype != s.dtype):
            raise InvalidArgumentError(
                f"{self.path}: the {out.dtype} {out.shape} output cannot hold the "
                f"{s.dtype} {shape_out} block {key}"
            )
        if 0 in shape_out:
            return np.empty(shape_out, dtype=s.dtype) if out is None else out
        ry, rx = ranges[3], ranges[4]
        if ry.step != 1 or rx.step != 1:
            raise InvalidArgumentError(f"{self.path}: stepped block {key} cannot be read")
        rdr = self.raw_reader
        rs = ranges[5] if len(ranges) == 6 else None
        # some of the samples of RGB(A) pixels: read each plane, then pick
        pick = None if rs is None or rs == range(shape[5]) else _pick(rs)
        if shape_out[:3] == (1, 1, 1) and out is None:  # one plane (every chunk): no copy
            with self._lock:
                plane = rdr.read_region(
                    series,
                    ranges[0][0],
                    ranges[1][0],
                    ranges[2][0],
                    ry.start,
                    ry.stop,
                    rx.start,
                    rx.stop,
                    level=level,
                )
            if pick is not None:
                plane = plane[..., pick]
            return plane.reshape(shape_out)
        if out is None:
            out = np.empty(shape_out, dtype=s.dtype)
        window = (ry.start, ry.stop, rx.start, rx.stop)
        with self._lock:
            for i, t in enumerate(ranges[0]):
                for j, c in enumerate(ranges[1]):
                    for k, z in enumerate(ranges[2]):
                        if pick is None:
                            rdr.read_region(series, t, c, z, *window, level=level, out=out[i, j, k])
                        else:
                            plane = rdr.read_region(series, t, c, z, *window, level=level)
                            out[i, j, k] = plane[..., pick]
        return out

    def asarray(self, series: int = 0, level: int = 0) -> np.ndarray:
        """The whole level as numpy, shape :attr:`Series.levels` ``[level]`` (dims order).

        One array is allocated and every plane is decoded straight into it (the
        tiles of tiled planes in parallel); no dask, no intermediate copies.
        """
        s = self._series(series, level)
        return self.read_block(series, level, tuple(slice(None) for _ in s.levels[level]))

    def to_dask(self, series: int = 0, level: int = 0) -> dask.array.Array:
        """A lazy dask array of a level; chunks are planes, or tiles of tiled levels.

        Safe to compute with threads (reads go through the reader's thread-safe
        region reads, or are serialised for readers that are not) and with
        processes (each process reopens the file once).
        """
        from ometiff.dataset.arrays import dask_array

        self._series(series, level)
        return dask_array(self, series, level, BlockSource(self, series, level))

    def to_zarr(self, series: int = 0, level: int = 0) -> zarr.Array:
        """A read-only zarr (v3) array of a level, backed by the reader: nothing is copied."""
        from ometiff.dataset.arrays import zarr_array

        self._series(series, level)
        return zarr_array(self, series, level)

    def to_xarray(self, series: int = 0, level: int = 0) -> xarray.DataArray:
        """A lazy ``xarray.DataArray`` with named dims and physical coordinates (µm, s)."""
        from ometiff.dataset.arrays import xarray_array

        self._series(series, level)
        return xarray_array(self, series, level)


#: Files reopened in worker processes, by (path, reader, options): kept open for
#: the next chunk of the same file; the least recently used beyond this are closed.
MAX_WORKER_FILES = 8

_WORKER_FILES: OrderedDict[tuple[str, str, str], File] = OrderedDict()
_WORKER_LOCK = threading.Lock()


def worker_file(path: str, reader: str, options: dict[str, Any]) -> File:
    """The file opened in this process for pickled chunk sources (reused)."""
    try:
        stamp = os.stat(path).st_mtime_ns  # a file rewritten since is opened again
    except OSError:
        stamp = 0
    key = (path, reader, repr((sorted(options.items()), stamp)))
    with _WORKER_LOCK:
        f = _WORKER_FILES.get(key)
        if f is None or f.closed:
            f = _WORKER_FILES[key] = File(path, reader=reader, **options)
            while len(_WORKER_FILES) > MAX_WORKER_FILES:
                _, old = _WORKER_FILES.popitem(last=False)
                old.close()
        _WORKER_FILES.move_to_end(key)
        return f


class BlockSource:
    """Array-like of one level (``shape``, ``dtype``, ``[slices]``) for ``da.from_array``."""

    def __init__(self, file: File, series: int, level: int) -> None:
        self.file = file
        self.series = series
        self.level = level
        s = file.series[series]
        self.shape: tuple[int, ...] = s.levels[level]
        self.dtype = s.dtype
        self.ndim = len(self.shape)

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        return self.file.read_block(self.series, self.level, key)

    def __reduce__(self) -> tuple[Any, ...]:
        f = self.file
        where = str(f.path.absolute())  # another process may have another working folder
        return (_worker_source, (where, f.reader, f.options, self.series, self.level))


def _worker_source(
    path: str, reader: str, options: dict[str, Any], series: int, level: int
) -> BlockSource:
    return BlockSource(worker_file(path, reader, options), series, level)


def _pick(samples: range) -> slice | list[int]:
    """An index of the samples axis for ``samples`` (a list when it runs backwards: a
    slice of ``range(2, -1, -1)`` would read ``-1`` as the last sample)."""
    if samples.step > 0:
        return slice(samples.start, samples.stop, samples.step)
    return list(samples)


def _bounds(sl: slice | None, size: int, axis: str, path: Path) -> tuple[int, int]:
    if sl is None:
        return 0, size
    if not isinstance(sl, slice) or sl.step not in (None, 1):
        raise InvalidArgumentError(f"{path}: {axis} must be a slice without step, not {sl!r}")
    start, stop, _ = sl.indices(size)
    if start >= stop:
        raise InvalidArgumentError(
            f"{path}: {axis} window {sl.start}:{sl.stop} is empty (size {size})"
        )
    return start, stop


def _reopen(path: str, reader: str, options: dict[str, Any]) -> File:
    return File(path, reader=reader, **options)


def open(path: StrPath, *, reader: str | None = None, **options: Any) -> File:  # noqa: A001
    """Open any supported input for reading: ``with ometiff.open(path) as f: ...``.

    Parameters
    ----------
    path
        File, folder, glob or pattern (whatever ``ometiff formats`` lists).
    reader
        Reader name to use instead of sniffing (``ometiff formats``).
    **options
        Reader options, e.g. ``axes="ZYX"`` for ``.npy``.

    Raises
    ------
    UnsupportedFormatError
        No reader accepts the input.
    MissingDependencyError
        The reader needs an extra that is not installed (the message says which).
    OmeTiffError
        The file is damaged; the subclass and message say how.
    """
    return File(path, reader=reader, **options)


def imread(path: StrPath, series: int = 0, level: int = 0, **options: Any) -> np.ndarray:
    """Read one series of any supported input as numpy (dims ``TCZYX`` or ``TCZYXS``)."""
    with File(path, **options) as f:
        return f.asarray(series, level)


__all__ = ["File", "imread", "open"]
