"""The dask array of :meth:`File.to_dask <ometiff.dataset.File.to_dask>`.

A plain ``dask.array`` of one level, with one difference when the array itself is
computed (``.compute()``, ``np.asarray``, ``dask.compute``, xarray's ``.values``):
dask would hold every chunk in its own array and then copy them all into the result
(``concatenate3``), twice the level's memory, all of it new. Here, when every chunk
of the level is asked for, the graph is replaced by one that reads each chunk
straight into its place in one output array (a :class:`Canvas`), and the result is
that array, with no copy. Chunks are still read by dask's tasks, in parallel.

Everything else is dask's own: arrays derived from it (slices, arithmetic,
reductions) are plain dask arrays with the usual graph, so streaming work holds
only the chunks it needs. The canvas lives in the process that created it: pickled
to another process (the ``processes`` scheduler, distributed workers) it carries
no array, each chunk there is read into its own array, and the result is assembled
as dask always does.
"""

from __future__ import annotations

import math
import threading
import uuid
from operator import getitem
from typing import Any

import dask.array as da
import numpy as np
from dask.array.core import finalize as dask_finalize
from dask.core import flatten
from dask.utils import ensure_dict

#: Raw bytes one task of a whole-level compute reads at most (but at least one row
#: of chunks): whole rows of chunks of one plane, so a task decodes many tiles at
#: once, in parallel, as :meth:`File.asarray` does, instead of a few per chunk.
FILL_BYTES = 64 << 20

WHOLE = (slice(None),) * 6


class Canvas:
    """The output array of one whole-level compute, allocated on first use.

    A pickled canvas is empty (``shape`` None): chunks read elsewhere get arrays
    of their own.
    """

    def __init__(self, shape: tuple[int, ...] | None, dtype: Any = None) -> None:
        self.shape = shape
        self.dtype = dtype
        self.array: np.ndarray | None = None
        self._lock = threading.Lock()

    def block(self, key: tuple[slice, ...]) -> np.ndarray | None:
        """The view of the output that chunk ``key`` fills, or None (no canvas here)."""
        if self.shape is None:
            return None
        with self._lock:
            if self.array is None:
                self.array = np.empty(self.shape, dtype=self.dtype)
        return self.array[key]

    def __reduce__(self) -> tuple[Any, ...]:
        return (Canvas, (None,))


def read_chunk(source: Any, canvas: Canvas, key: tuple[slice, ...]) -> np.ndarray:
    """One chunk of ``source`` (a ``BlockSource``), read into its place on ``canvas``."""
    out = canvas.block(key)
    return source.file.read_block(source.series, source.level, key, out=out)


def assemble(results: Any, shape: tuple[int, ...]) -> np.ndarray:
    """The computed level: the canvas when every chunk is a view of it, else dask's
    concatenation of the chunks."""
    chunks = list(flatten(results))  # type: ignore[no-untyped-call]
    base = getattr(chunks[0], "base", None) if chunks else None
    if (
        isinstance(base, np.ndarray)
        and base.shape == shape
        and sum(c.size for c in chunks) == base.size
        and all(isinstance(c, np.ndarray) and c.base is base for c in chunks)
    ):
        return base
    return dask_finalize(results)  # type: ignore[no-untyped-call]


class LevelArray(da.Array):
    """A dask array of one level that computes into one output array (module doc)."""

    _ometiff_source: Any

    def __dask_optimize__(self, dsk: Any, keys: Any, **kwargs: Any) -> Any:
        """The canvas graph when this array is computed whole, else dask's optimisation.

        dask calls this with the graph of its final task (which runs
        :func:`assemble` on every chunk) and that task's key.
        """
        graph = ensure_dict(dsk)
        mine = list(flatten(self.__dask_keys__()))  # type: ignore[no-untyped-call]
        wanted = list(flatten(keys))  # type: ignore[no-untyped-call]
        whole = bool(wanted) and all(
            getattr(graph.get(k), "func", None) is assemble
            and set(graph[k].dependencies) == set(mine)
            for k in wanted
        )
        if not whole:  # part of a larger computation: dask's way
            return da.Array.__dask_optimize__(dsk, keys, **kwargs)
        token = uuid.uuid4().hex
        canvas = f"ometiff-canvas-{token}"
        out: dict[Any, Any] = {k: graph[k] for k in wanted}
        out[canvas] = (Canvas, self.shape, self.dtype)
        source = self._ometiff_source
        starts = [np.cumsum((0, *c)) for c in self.chunks]
        ny = len(self.chunks[3])
        row_bytes = math.prod(self.shape[4:]) * self.dtype.itemsize  # one row of a plane
        rows = max(1, FILL_BYTES // max(1, max(self.chunks[3]) * row_bytes))  # chunk rows a band
        for key in mine:
            index = key[1:]
            band = index[3] // rows
            fill = (f"ometiff-fill-{token}", *index[:3], band)
            y0 = int(starts[3][band * rows])  # the band's first row
            if fill not in out:  # whole rows of chunks of one plane, read at once
                y1 = int(starts[3][min(ny, (band + 1) * rows)])
                cut = tuple(
                    slice(int(s[i]), int(s[i + 1]))
                    for s, i in zip(starts[:3], index[:3], strict=True)
                )
                out[fill] = (
                    read_chunk,
                    source,
                    canvas,
                    (*cut, slice(y0, y1), *WHOLE[4 : self.ndim]),
                )
            part = (
                *WHOLE[:3],
                slice(int(starts[3][index[3]]) - y0, int(starts[3][index[3] + 1]) - y0),
                *(
                    slice(int(s[i]), int(s[i + 1]))
                    for s, i in zip(starts[4:], index[4:], strict=True)
                ),
            )
            out[key] = (getitem, fill, part)
        return out

    def __dask_postcompute__(self) -> tuple[Any, tuple[Any, ...]]:
        return assemble, (self.shape,)


def level_array(array: da.Array, source: Any, meta: np.ndarray) -> LevelArray:
    """``array`` (``da.from_array`` over ``source``, of ``meta``) as a :class:`LevelArray`."""
    out = LevelArray(array.dask, array.name, array.chunks, meta=meta)  # type: ignore[no-untyped-call]
    out._ometiff_source = source
    return out
