"""What TIFF things are called: header magic (C1), file-name suffixes (C2), codes.

The one home of these facts: every "is this a TIFF?" sniff and every list of TIFF
or OME-TIFF name endings in ometiff comes from here.
"""

from __future__ import annotations

import os
import re

#: Header magic of classic TIFF (42) and BigTIFF (43), little- and big-endian (C1).
TIFF_MAGIC = (b"II*\x00", b"MM\x00*")
BIGTIFF_MAGIC = (b"II+\x00", b"MM\x00+")

#: Name endings of TIFF files (lower case); .tf2/.tf8/.btf are BigTIFF endings.
TIFF_SUFFIXES = (".tif", ".tiff", ".tf2", ".tf8", ".btf")
#: TIFF-based vendor formats under their own endings (Zeiss LSM, MetaMorph STK, Aperio
#: SVS, Hamamatsu NDPI, PerkinElmer QPTIFF, Leica SCN, Molecular Dynamics GEL).
TIFF_VENDOR_SUFFIXES = (".lsm", ".stk", ".svs", ".ndpi", ".qptiff", ".scn", ".gel")
#: C2: an OME-TIFF name ends with .ome.tif or .ome.tiff; a BigTIFF one may also end
#: with one of OME_BIGTIFF_SUFFIXES (newer, not known to older software).
OME_TIFF_SUFFIXES = (".ome.tif", ".ome.tiff")
OME_BIGTIFF_SUFFIXES = (".ome.tf2", ".ome.tf8", ".ome.btf")
#: Every OME-TIFF name ending.
OME_SUFFIXES = OME_TIFF_SUFFIXES + OME_BIGTIFF_SUFFIXES
#: The metadata-only companion of a multi-file set (M5); Bio-Formats opens it as the set.
COMPANION_SUFFIX = ".companion.ome"
#: Standalone OME-XML documents: companions (".companion.ome", "x-companion.ome") and .ome.xml.
OME_XML_SUFFIXES = (".ome", ".ome.xml")


def has_tiff_magic(head: bytes) -> bool:
    """True when ``head`` (a file's first bytes) starts with a TIFF or BigTIFF header."""
    return head[:4] in TIFF_MAGIC or head[:4] in BIGTIFF_MAGIC


def has_tiff_suffix(name: str) -> bool:
    """True when a file name ends with a TIFF ending (any case)."""
    return name.lower().endswith(TIFF_SUFFIXES)


def has_bigtiff_suffix(name: str) -> bool:
    """True when a file name ends with an ending reserved for BigTIFF (C2; any case)."""
    return name.lower().endswith(OME_BIGTIFF_SUFFIXES)


def split_suffix(name: str, suffixes: tuple[str, ...]) -> tuple[str, str] | None:
    """``(stem, ending)`` for the first of ``suffixes`` that ``name`` ends with (any
    case) after a non-empty stem, e.g. ``("cells", ".OME.TIF")``; None when none does."""
    lower = name.lower()
    for suffix in suffixes:
        if lower.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], name[-len(suffix) :]
    return None


# An XML prolog (BOM, declaration, comments, processing instructions, DOCTYPE), then
# the root element's qualified name.
_XML_PROLOG = re.compile(
    rb"(?:\xef\xbb\xbf)?(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^[>]*(?:\[.*?\])?\s*>)*", re.S
)
_XML_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")


def _xml_root(text: bytes) -> bytes | None:
    """Local name of the root element of an XML text, cheaply: no parsing.

    The walker's pre-check for ``description_kind``; ``ome.xml.is_ome_xml`` decides
    by parsing. A namespace prefix (``<ome:OME>``) is allowed.
    """
    prolog = _XML_PROLOG.match(text)
    root = _XML_ROOT.match(text, prolog.end() if prolog else 0)
    return root.group(1) if root else None


def description_kind(head: bytes, whole: bytes) -> str:
    """What an ImageDescription holds, from its first bytes (``head``) and, when read,
    the whole text: "OME-XML", "ImageJ", "JSON", "XML", "text"... (checklist 4.11).

    OME-XML is a document whose root element is OME, with or without a namespace
    prefix; this cheap scan is the walker's pre-check, ``ome.xml.is_ome_xml`` the
    parsing test.
    """
    text = head.lstrip()
    if text.startswith((b"<", b"\xef\xbb\xbf<")):
        root = _xml_root(whole)
        if root == b"OME":
            return "OME-XML"
        if b"</scn>" in whole[-64:] or root == b"scn":
            return "Leica SCN XML"
        if b"PerkinElmer-QPI" in head:
            return "QPTIFF XML"
        return "XML"
    if text.startswith(b"ImageJ=") or text.startswith(b"SCIFIO="):
        return "ImageJ"
    if text.startswith(b"{"):
        return "JSON"
    if text.startswith(b"Aperio"):
        return "Aperio SVS"
    if text.startswith(b"shape="):
        return "tifffile shape"
    return "text"


#: Compression code -> readable name.
COMPRESSION_NAMES = {
    1: "none",
    2: "CCITT RLE",
    3: "CCITT G3",
    4: "CCITT G4",
    5: "LZW",
    6: "old JPEG",
    7: "JPEG",
    8: "Deflate",
    32773: "PackBits",
    32946: "Deflate",
    34712: "JPEG 2000",
    33003: "JPEG 2000 (Aperio YCbCr)",
    33005: "JPEG 2000 (Aperio RGB)",
    34887: "LERC",
    34925: "LZMA",
    34926: "Zstd (legacy)",
    34927: "WebP (legacy)",
    50000: "Zstd",
    50001: "WebP",
    50002: "JPEG XL (legacy)",
    52546: "JPEG XL",
    34892: "JPEG (lossy DNG)",
    22610: "JPEG XR (NDPI)",
    34933: "PNG",
    34934: "JPEG XR",
    33007: "JPEG (Aperio)",
}
#: PhotometricInterpretation code -> readable name.
PHOTOMETRIC_NAMES = {
    0: "min-is-white",
    1: "min-is-black",
    2: "RGB",
    3: "palette",
    4: "mask",
    5: "separated",
    6: "YCbCr",
    8: "CIELab",
    32844: "LogL",
    32845: "LogLuv",
    34892: "linear raw",
    32803: "CFA",
}
#: Compressions Bio-Formats cannot decode (checklist W4).
BIOFORMATS_UNREADABLE = frozenset({34887, 50001, 34927, 50002, 52546, 22610, 34934, 34925})


#: Name endings of OME-Zarr outputs (a folder, written by ``writer/ngff.py``).
ZARR_SUFFIXES = (".ome.zarr", ".zarr")


def is_zarr_path(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` names an OME-Zarr output (``.ome.zarr`` / ``.zarr``)."""
    return os.fspath(path).rstrip("/\\").lower().endswith(ZARR_SUFFIXES)
