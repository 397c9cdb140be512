"""Tile encoding for the writer: our own thread pool, tifffile writes the bytes.

tifffile encodes the tiles of one page at a time and waits for them before it
starts the next page, so with pyramids (one small page after another) most
cores sit idle. Here the tiles of a whole plane and all its pyramid levels are
submitted to one pool, and the next plane is submitted before the current one
is written, so every core stays busy. tifffile then receives an iterator of
already-encoded tile bytes (``TiffWriter.write`` with ``compression=...`` and
``bytes`` items), which it stores as they are.

Encoded here: uncompressed, Deflate (libdeflate), Zstandard, LZW, and baseline
JPEG of uint8 grey or RGB pixels (RGB as YCbCr with 2x2 chroma subsampling,
the tags tifffile writes for it; every tile a complete JPEG stream, no
JPEGTables). The bytes are the ones tifffile would produce itself. JPEG 2000
and the others are left to tifffile.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ometiff.writer.compression import Codec

Encoder = Callable[[np.ndarray], bytes]

#: Tiles are grouped into pool tasks of at least this many raw bytes.
TASK_BYTES = 1 << 19


def _raw(tile: np.ndarray) -> bytes:
    return tile.tobytes()


def tile_encoder(codec: Codec, samples: int = 1, dtype: np.dtype | None = None) -> Encoder | None:
    """Return a function encoding one padded tile as tifffile would, or None.

    ``None`` means "let tifffile encode" (codecs with tables or tags of their
    own, pixel layouts we do not encode, or imagecodecs missing).
    """
    if codec.tifffile is None:
        return _raw
    try:
        import imagecodecs
    except ImportError:  # pragma: no cover - imagecodecs is a dependency
        return None
    args: dict[str, Any] = dict(codec.args or {})
    func: Any
    if codec.tifffile == "zlib":
        # the same Deflate stream tifffile would write, from libdeflate
        deflate = getattr(imagecodecs, "DEFLATE", None)
        func = (
            imagecodecs.deflate_encode
            if deflate is not None and deflate.available
            else imagecodecs.zlib_encode
        )
    elif codec.tifffile == "zstd" and imagecodecs.ZSTD.available:
        func = imagecodecs.zstd_encode
    elif codec.tifffile == "lzw" and not args and imagecodecs.LZW.available:
        func = imagecodecs.lzw_encode
    elif (
        codec.tifffile == "jpeg"
        and dtype == np.uint8
        and samples in (1, 3)
        and imagecodecs.JPEG8.available
    ):
        # what tifffile's TiffWriter.write passes to imagecodecs.jpeg_encode
        func = imagecodecs.jpeg_encode
        if samples == 3:
            args.update(subsampling=(2, 2), colorspace="RGB", outcolorspace="YCBCR")
    else:
        return None
    return functools.partial(func, **args) if args else func


def _encode_tiles(
    plane: np.ndarray, origins: Sequence[tuple[int, int]], tile: tuple[int, int], encode: Encoder
) -> list[bytes]:
    th, tw = tile
    out = []
    for y, x in origins:
        part = plane[y : y + th, x : x + tw]
        if part.shape[0] != th or part.shape[1] != tw:
            # edge tiles are padded with zeros to the full tile size (TIFF 6.0)
            full = np.zeros((th, tw, *plane.shape[2:]), plane.dtype)
            full[: part.shape[0], : part.shape[1]] = part
            part = full
        # full tiles are passed as views: imagecodecs' encoders take strided arrays
        # (JPEG reads the rows in place) and return the same bytes as for a copy
        out.append(encode(part))
    return out


def encode_tiles(plane: np.ndarray, tile: tuple[int, int], encode: Encoder) -> list[bytes]:
    """The encoded tiles of a page (or of a band of whole tile rows of it), in TIFF
    tile order, in this thread."""
    th, tw = tile
    origins = [(y, x) for y in range(0, plane.shape[0], th) for x in range(0, plane.shape[1], tw)]
    return _encode_tiles(plane, origins, tile, encode)


def submit_page(
    pool: Executor, plane: np.ndarray, tile: tuple[int, int], encode: Encoder
) -> list[Future[list[bytes]]]:
    """Submit the tiles of one page, in TIFF tile order, as a few pool tasks."""
    th, tw = tile
    origins = [(y, x) for y in range(0, plane.shape[0], th) for x in range(0, plane.shape[1], tw)]
    per_tile = th * tw * plane.itemsize * (plane.shape[2] if plane.ndim == 3 else 1)
    step = max(1, TASK_BYTES // per_tile)
    return [
        pool.submit(_encode_tiles, plane, origins[k : k + step], tile, encode)
        for k in range(0, len(origins), step)
    ]


def encoded(futures: Sequence[Future[list[bytes]]]) -> Iterator[bytes]:
    """Yield the encoded tiles of a page in order, as they become ready."""
    for future in futures:
        yield from future.result()
