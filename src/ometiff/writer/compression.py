"""Compression options of the writer and what Bio-Formats can decode (checklist W4)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ometiff.errors import WriteError

#: user name -> (tifffile compression name, Bio-Formats decodes it)
CODECS: dict[str, tuple[str | None, bool]] = {
    "none": (None, True),
    "lzw": ("lzw", True),
    "zlib": ("zlib", True),
    "deflate": ("zlib", True),
    "zstd": ("zstd", True),
    "jpeg": ("jpeg", True),
    "jpeg2000": ("jpeg2000", True),
    "jpegxl": ("jpegxl", False),
    "webp": ("webp", False),
    "lerc": ("lerc", False),
}

#: Worst-case growth of a segment per codec, for the BigTIFF decision (C4).
_GROWTH = {None: 1.0, "zlib": 1.01, "zstd": 1.01}
_DEFAULT_GROWTH = 1.5


class BioFormatsCodecWarning(UserWarning):
    """The chosen codec is valid TIFF but Bio-Formats (and Fiji, QuPath) cannot decode it."""


@dataclass(frozen=True, slots=True)
class Codec:
    """A resolved compression choice."""

    name: str
    tifffile: str | None
    args: dict[str, Any] | None

    @property
    def growth(self) -> float:
        """Upper bound of compressed / raw size of one segment."""
        return _GROWTH.get(self.tifffile, _DEFAULT_GROWTH)


def resolve_codec(compression: str | None, level: int | None) -> Codec:
    """Check the ``compression`` / ``compression_level`` options.

    ``compression_level`` is the codec's level (zlib 1-9, zstd 1-22) or its
    quality (jpeg, jpeg2000, jpegxl, webp: 1-100).
    """
    name = "none" if compression is None else str(compression).lower()
    if name not in CODECS:
        raise WriteError(
            f"compression={compression!r} is not supported; use one of " + ", ".join(CODECS),
            option="compression",
        )
    tf_name, bf_reads = CODECS[name]
    if not bf_reads:
        warnings.warn(
            f"compression={name!r}: Bio-Formats, Fiji, QuPath and OMERO cannot decode "
            "this codec (checklist W4); use zlib, lzw, zstd, jpeg or jpeg2000 for "
            "files others must read",
            BioFormatsCodecWarning,
            stacklevel=3,
        )
    args = None
    if level is not None:
        if tf_name is None:
            raise WriteError("compression_level needs a compression (e.g. 'zlib')")
        args = {"level": int(level)}
    return Codec(name, tf_name, args)


def check_codec_dtype(codec: Codec, dtype: np.dtype, samples: int) -> None:
    """Refuse codec/pixel type pairs the codec cannot encode, before writing."""
    if codec.tifffile == "jpeg" and dtype != np.uint8:
        raise WriteError(
            f"compression='jpeg' needs uint8 pixels, not {dtype}; use zlib, zstd or "
            "jpeg2000 for other pixel types"
        )
    if codec.tifffile in ("jpeg2000", "jpegxl", "webp") and dtype.kind == "f":
        raise WriteError(
            f"compression={codec.name!r} cannot encode {dtype} pixels; use zlib or zstd"
        )
    if codec.tifffile == "webp" and (dtype != np.uint8 or samples not in (3, 4)):
        raise WriteError("compression='webp' needs uint8 RGB(A) pixels")
