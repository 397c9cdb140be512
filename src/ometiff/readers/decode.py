"""Decode one TIFF page (IFD) into pixels, for every reader of TIFF-family files.

tifffile's :meth:`TiffPage.asarray` does the work, except for a layout it refuses
that Bio-Formats writes for RGB JPEG pyramids (``bfconvert -compression JPEG``):
Compression 7, Photometric YCbCr, PlanarConfiguration 2 (separate) and no
YCbCrSubsampling tag. tifffile assumes the default 2x2 chroma subsampling and
gives up; each tile is in fact a one-component JPEG of one sample plane, stored
without colour conversion, and Bio-Formats reads the decoded tile values as the
pixels. :func:`decode_page` does the same.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np

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
    """
    if is_planar_ycbcr_jpeg(page):
        return _planar_jpeg(page)
    return np.asarray(page.asarray())


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
