"""Lazy array views of one level of a series: dask, zarr (read-only) and xarray.

All three read through :meth:`File.read_block <ometiff.dataset.File.read_block>`,
one chunk (a plane, or a tile of a tiled level) at a time; the chunk source of
the dask graph is :class:`ometiff.dataset.file.BlockSource` (picklable: another
process reopens the file once).
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.errors import MissingDependencyError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    import dask.array
    import xarray
    import zarr
    from zarr.abc.store import ByteRequest
    from zarr.core.buffer import Buffer, BufferPrototype

#: an open :class:`ometiff.dataset.File` (typed loosely: the file module imports this one)
File = Any


def _needs(module: str, extra: str) -> MissingDependencyError:
    return MissingDependencyError(
        f'this needs the optional package {module}: pip install "ometiff[{extra}]"'
    )


def _token(file: File, series: int, level: int) -> str:
    from dask.base import tokenize

    try:
        st = file.path.stat()
        stamp: tuple[float, int] = (st.st_mtime, st.st_size)
    except OSError:
        stamp = (0.0, 0)
    options = repr(sorted(file.options.items()))
    return tokenize(str(file.path.absolute()), stamp, file.reader, options, series, level)


def dask_array(file: File, series: int, level: int, src: Any) -> dask.array.Array:
    """The dask array of :meth:`File.to_dask` over the chunk source ``src``."""
    try:
        import dask.array as da
    except ImportError as exc:
        raise _needs("dask", "dask") from exc
    from ometiff.dataset.daskarray import level_array

    meta = np.empty((0,) * src.ndim, dtype=src.dtype)
    array = da.from_array(  # type: ignore[no-untyped-call]
        src,
        chunks=file.chunks(series, level),
        name=f"ometiff-{_token(file, series, level)}",
        meta=meta,
        asarray=False,
        fancy=False,
        lock=False,
        inline_array=False,
    )
    return level_array(array, src, meta)


def xarray_array(file: File, series: int, level: int) -> xarray.DataArray:
    """The DataArray of :meth:`File.to_xarray`: dims named, coordinates in µm and s."""
    try:
        import xarray as xr
    except ImportError as exc:
        raise _needs("xarray", "xarray") from exc
    s = file.series[series]
    shape = dict(zip(s.dims, s.levels[level], strict=True))
    physical = s.level_physical_size(level)
    coords: dict[str, Any] = {}
    for axis in "ZYX":
        size = physical[axis]
        if size is not None:
            coords[axis] = (axis, np.arange(shape[axis]) * size, {"units": "µm"})
    if s.time_increment is not None:
        coords["T"] = ("T", np.arange(shape["T"]) * s.time_increment, {"units": "s"})
    names = [ch.name for ch in s.channels]
    if all(names) and len(set(names)) == len(names):
        coords["C"] = ("C", names)
    return xr.DataArray(
        file.to_dask(series, level),
        dims=tuple(s.dims),
        coords=coords,
        name=s.name or f"series {series}",
        attrs={"path": str(file.path), "series": series, "level": level},
    )


def zarr_array(file: File, series: int, level: int) -> zarr.Array:
    """The read-only zarr array of :meth:`File.to_zarr` (a v3 store over the reader)."""
    try:
        import zarr
    except ImportError as exc:
        raise _needs("zarr", "zarr") from exc
    store = _make_store(file, series, level)
    return zarr.open_array(store=store, mode="r")


def _make_store(file: File, series: int, level: int) -> Any:
    from zarr.abc.store import (
        OffsetByteRequest,
        RangeByteRequest,
        Store,
        SuffixByteRequest,
    )
    from zarr.core.buffer import default_buffer_prototype

    s = file.series[series]
    shape = s.levels[level]
    chunks = file.chunks(series, level)
    dtype = s.dtype.newbyteorder("<") if s.dtype.itemsize > 1 else s.dtype
    fill: Any = 0 if s.dtype.kind != "c" else [0.0, 0.0]
    meta = {
        "zarr_format": 3,
        "node_type": "array",
        "shape": list(shape),
        "data_type": s.dtype.name,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(chunks)}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": fill,
        "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
        "attributes": {"ometiff": {"path": str(file.path), "series": series, "level": level}},
        "dimension_names": list(s.dims),
    }
    meta_bytes = json.dumps(meta).encode()
    grid = [-(-n // c) for n, c in zip(shape, chunks, strict=True)]

    def chunk_bytes(key: str) -> bytes | None:
        if key == "zarr.json":
            return meta_bytes
        parts = key.split("/")
        if parts[0] != "c" or len(parts) != len(shape) + 1:
            return None
        try:
            index = [int(p) for p in parts[1:]]
        except ValueError:
            return None
        if any(not 0 <= i < g for i, g in zip(index, grid, strict=True)):
            return None
        sl = tuple(
            slice(i * c, min((i + 1) * c, n)) for i, c, n in zip(index, chunks, shape, strict=True)
        )
        block = file.read_block(series, level, sl)
        if block.shape != chunks:  # edge chunks are stored padded to the chunk shape
            padded = np.zeros(chunks, dtype=block.dtype)
            padded[tuple(slice(0, n) for n in block.shape)] = block
            block = padded
        return np.ascontiguousarray(block, dtype=dtype).tobytes()

    def cut(data: bytes, byte_range: ByteRequest | None) -> bytes:
        if byte_range is None:
            return data
        if isinstance(byte_range, RangeByteRequest):
            return data[byte_range.start : byte_range.end]
        if isinstance(byte_range, OffsetByteRequest):
            return data[byte_range.offset :]
        if isinstance(byte_range, SuffixByteRequest):
            return data[-byte_range.suffix :]
        return data

    class LevelStore(Store):
        """A read-only zarr v3 store whose chunks are read from the file on demand."""

        supports_writes = False
        supports_deletes = False
        supports_listing = True

        def __init__(self) -> None:
            super().__init__(read_only=True)
            self._is_open = True

        def __eq__(self, other: object) -> bool:
            return other is self

        __hash__ = object.__hash__

        async def get(
            self,
            key: str,
            prototype: BufferPrototype | None = None,
            byte_range: ByteRequest | None = None,
        ) -> Buffer | None:
            proto = prototype or default_buffer_prototype()
            data = await asyncio.to_thread(chunk_bytes, key)
            if data is None:
                return None
            return proto.buffer.from_bytes(cut(data, byte_range))

        async def get_partial_values(
            self, prototype: BufferPrototype, key_ranges: Iterable[tuple[str, ByteRequest | None]]
        ) -> list[Buffer | None]:
            return [await self.get(k, prototype, r) for k, r in key_ranges]

        async def exists(self, key: str) -> bool:
            return key == "zarr.json" or key.startswith("c/")

        async def set(self, key: str, value: Buffer) -> None:
            self._check_writable()

        async def delete(self, key: str) -> None:
            self._check_writable()

        async def list(self) -> AsyncIterator[str]:
            yield "zarr.json"

        async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
            if "zarr.json".startswith(prefix):
                yield "zarr.json"

        async def list_dir(self, prefix: str) -> AsyncIterator[str]:
            if prefix in ("", "/"):
                yield "zarr.json"

    return LevelStore()
