"""Rules about Pixels, Channels, Planes and units, and their agreement with the IFDs.

Checklist 4.4 (D1-D5), 4.5 (R1-R3), 4.9 (PL1), 4.10 (W3, W4) and 4.12 (U1, U2).
Per-plane rules work on whole columns (numpy) or on distinct values, never on
one Python object per plane.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.ome.units import (
    LENGTH_UNIT_ATTRS,
    LENGTH_UNITS_M,
    LENGTH_UNITS_OTHER,
    TIME_UNIT_ATTRS,
    TIME_UNITS_S,
    unit_attr_symbol,
)
from ometiff.ome.xml import element_path, local
from ometiff.tiff.names import BIOFORMATS_UNREADABLE, COMPRESSION_NAMES
from ometiff.types import DIMENSION_ORDERS, OME_TO_DTYPE
from ometiff.validation.checks_tiffdata import referenced_ifds
from ometiff.validation.context import Context, Issue, error, info, warning

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ometiff.ome.view import ImageView
    from ometiff.tiff.structure import IfdInfo

#: D2: OME pixel type -> numpy dtype name of the matching TIFF samples.
PIXEL_TYPES = OME_TO_DTYPE
_REQUIRED = ("SizeX", "SizeY", "SizeZ", "SizeC", "SizeT")

#: Attributes typed UnitsLength / UnitsTime in the 2016-06 schema (U1, U2).
_LENGTH_OK = frozenset(LENGTH_UNITS_M) | frozenset(LENGTH_UNITS_OTHER)
_TIME_OK = frozenset(TIME_UNITS_S)


def _pixels_loc(ctx: Context, image: ImageView) -> str:
    return f"{ctx.metadata_name}: Image[{image.index}]/Pixels"


def check_required_pixels(ctx: Context) -> Iterator[Issue]:
    """D1-D3: required Pixels attributes, positive sizes, known Type and DimensionOrder."""
    for image in ctx.images():
        loc = _pixels_loc(ctx, image)
        raw = image.raw_pixels
        if not raw:
            yield error("D1-no-pixels", ctx.image_loc(image), "the Image has no Pixels element")
            continue
        for attr in _REQUIRED:
            value = getattr(image, "size_" + attr[-1].lower())
            if value is None or value < 1:
                yield error(
                    "D1-size",
                    loc,
                    f"{attr}={raw.get(attr)!r}: every Pixels size is required and at least 1",
                )
        if (image.pixel_type or "").lower() not in PIXEL_TYPES:
            yield error(
                "D2-type",
                loc,
                f"Type={image.pixel_type!r} is not an OME pixel type ({', '.join(PIXEL_TYPES)})",
            )
        if image.dimension_order not in DIMENSION_ORDERS:
            yield error(
                "D3-dimension-order",
                loc,
                f"DimensionOrder={image.dimension_order!r} is not one of {', '.join(DIMENSION_ORDERS)}",
            )


def check_samples(ctx: Context) -> Iterator[Issue]:
    """R2/R3: SizeC is a multiple of SamplesPerPixel, shared by all Channels."""
    for image in ctx.images():
        loc = _pixels_loc(ctx, image)
        spps = {ch.samples_per_pixel or 1 for ch in image.channels}
        if len(spps) > 1:
            yield warning(
                "R3-mixed-samples",
                loc,
                f"Channels have different SamplesPerPixel ({sorted(spps)}); readers use the first "
                "Channel's value for every plane: make them equal",
            )
        spp = image.samples_per_pixel
        if spp > 1 and (image.size_c or 1) % spp:
            yield error(
                "R2-sizec-samples",
                loc,
                f"SizeC={image.size_c} is not a multiple of SamplesPerPixel={spp}; an RGB image "
                "is one Channel with SamplesPerPixel=3 and SizeC=3",
            )


def check_channels(ctx: Context) -> Iterator[Issue]:
    """R1: one Channel per effective channel; names help viewers."""
    for image in ctx.images():
        expected = image.effective_size_c
        if image.channels and len(image.channels) != expected:
            yield warning(
                "R1-channel-count",
                _pixels_loc(ctx, image),
                f"{len(image.channels)} Channel element(s) for SizeC={image.size_c} / "
                f"SamplesPerPixel={image.samples_per_pixel} = {expected} channel(s); write one "
                "Channel per channel",
            )
        elif not image.channels and ctx.is_ome_tiff:
            yield warning(
                "R1-no-channels",
                _pixels_loc(ctx, image),
                "Pixels have no Channel elements; there must be one per channel, even for one plane",
            )


def check_physical_sizes(ctx: Context) -> Iterator[Issue]:
    """W3: pixel sizes present (a missing size stays missing; readers must not invent 1.0)."""
    for image in ctx.images():
        if image.physical_size_x is None or image.physical_size_y is None:
            yield info(
                "W3-no-physical-size",
                _pixels_loc(ctx, image),
                "PhysicalSizeX/PhysicalSizeY are absent: measurements will be in pixels "
                "(set them with units, e.g. "
                "`ometiff meta set FILE --physical-size x=0.325µm y=0.325µm`)",
            )


def _unit_issues(ctx: Context, attr: str, value: str, where: Any, n: int) -> Issue | None:
    kind = "length" if attr in LENGTH_UNIT_ATTRS else "time"
    allowed = _LENGTH_OK if kind == "length" else _TIME_OK
    if value in allowed:
        return None
    loc = f"{ctx.metadata_name}: {element_path(where)}@{attr}"
    times = f" ({n} elements)" if n > 1 else ""
    fixed = unit_attr_symbol(attr, value)
    if fixed is not None:
        hint = " (with the micro sign U+00B5)" if fixed.startswith("µ") else ""
        return error(
            "U1-unit-spelling" if kind == "length" else "U2-unit-spelling",
            loc,
            f"{attr}={value!r}{times} is not a unit of the OME schema; write {fixed!r}{hint}: "
            "strict readers reject the file (Bio-Formats guesses)",
        )
    return error(
        "U1-unknown-unit" if kind == "length" else "U2-unknown-unit",
        loc,
        f"{attr}={value!r}{times} is not a {kind} unit of the OME schema",
    )


# The literal "Unit" first lets the regex engine skip ahead (17x faster on 5 MB);
# the attribute name is read back from the text before each match.
_UNIT_VALUE = re.compile(r"""Unit\s*=\s*(["'])(.*?)\1""", re.S)
_NAME_BEFORE = re.compile(r"\s(\w+)$")


def check_units(ctx: Context) -> Iterator[Issue]:
    """U1/U2: unit attributes use the schema's symbols ("µm", not "um").

    The distinct (attribute, value) pairs come from one regex pass over the text
    (a tree walk costs ~10x more on 30,000 Planes); each suspicious pair is then
    confirmed on the parsed tree, which also resolves character references.
    """
    if ctx.root is None or ctx.xml is None:
        return
    pairs: dict[tuple[str, str], int] = {}
    text = ctx.xml
    for m in _UNIT_VALUE.finditer(text):
        start = m.start()
        name = _NAME_BEFORE.search(text, max(0, start - 48), start)
        if name is None:
            continue
        attr = name.group(1) + "Unit"
        if attr in LENGTH_UNIT_ATTRS or attr in TIME_UNIT_ATTRS:
            key = (attr, m.group(2))
            pairs[key] = pairs.get(key, 0) + 1
    ns = ctx.root.tag[: ctx.root.tag.index("}") + 1] if ctx.root.tag.startswith("{") else ""
    for (attr, raw), n in pairs.items():
        allowed = _LENGTH_OK if attr in LENGTH_UNIT_ATTRS else _TIME_OK
        if raw in allowed:
            continue
        for elem in ctx.root.iter(f"{ns}*" if ns else "*"):
            value = elem.get(attr)
            if value is not None and value not in allowed:
                issue = _unit_issues(ctx, attr, value, elem, n)
                if issue is not None:
                    yield issue
                break


def _pixels_elements(ctx: Context) -> list[Any]:
    out: list[Any] = []
    for child in ctx.root:
        if local(child.tag) == "Image":
            pixels = next((p for p in child if local(p.tag) == "Pixels"), None)
            out.append(pixels)
    return out


def _column(planes: list[Any], attr: str) -> np.ndarray | None:
    values = [p.get(attr) for p in planes]
    try:
        return np.array(values, dtype=np.int64)
    except (TypeError, ValueError):
        return None


def check_plane_elements(ctx: Context) -> Iterator[Issue]:
    """PL1: Plane TheZ/TheC/TheT inside the image and unique."""
    if ctx.root is None or not ctx.images():
        return
    for image, pixels in zip(ctx.images(), _pixels_elements(ctx), strict=False):
        if pixels is None:
            continue
        ns = pixels.tag[: pixels.tag.index("}") + 1] if pixels.tag.startswith("{") else ""
        planes = pixels.findall(ns + "Plane")
        if not planes:
            continue
        loc = f"{_pixels_loc(ctx, image)}/Plane"
        cols = [_column(planes, a) for a in ("TheZ", "TheC", "TheT")]
        if any(c is None for c in cols):
            yield error("PL1-index", loc, "a Plane lacks TheZ/TheC/TheT or has a non-integer index")
            continue
        z, c, t = (col for col in cols if col is not None)
        sizes = (image.size_z or 1, image.effective_size_c, image.size_t or 1)
        for name, col, size in (
            ("TheZ", z, sizes[0]),
            ("TheC", c, sizes[1]),
            ("TheT", t, sizes[2]),
        ):
            bad = np.flatnonzero((col < 0) | (col >= size))
            if bad.size:
                yield error(
                    "PL1-index-out-of-range",
                    f"{loc}[{int(bad[0])}]",
                    f"{bad.size} Plane(s) have {name} outside 0..{size - 1} "
                    f"(first: {name}={int(col[bad[0]])}); fix the Plane indices",
                )
        key = z + sizes[0] * (c + sizes[1] * t)
        _, first, counts = np.unique(key, return_index=True, return_counts=True)
        dup = np.flatnonzero(counts > 1)
        if dup.size:
            k = int(first[dup[0]])
            yield warning(
                "PL1-duplicate-plane",
                f"{loc}[{k}]",
                f"{dup.size} (Z, C, T) combination(s) have more than one Plane element "
                f"(first: TheZ={int(z[k])} TheC={int(c[k])} TheT={int(t[k])}); keep one per plane",
            )


def _expected_dtype(image: ImageView) -> str | None:
    return PIXEL_TYPES.get((image.pixel_type or "").lower())


def check_ifd_agreement(ctx: Context) -> Iterator[Issue]:
    """D5/R3: SizeX, SizeY, Type, SamplesPerPixel, BigEndian agree with every referenced IFD."""
    if not ctx.is_ome_tiff:
        return
    images = {image.index: image for image in ctx.images()}
    for use in referenced_ifds(ctx):
        image = images[use.image]
        ifd: IfdInfo = use.ifd
        loc = f"{use.path.name}: IFD {use.first_index}"
        where = f"(and {use.count - 1} more IFD(s) like it) " if use.count > 1 else ""
        if image.size_x is not None and ifd.width != image.size_x:
            yield error(
                "D5-size-x",
                loc,
                f"{where}is {ifd.width} pixels wide but Image[{image.index}] Pixels SizeX={image.size_x}; "
                "readers trust the TIFF: fix SizeX",
            )
        if image.size_y is not None and ifd.height != image.size_y:
            yield error(
                "D5-size-y",
                loc,
                f"{where}is {ifd.height} pixels high but Image[{image.index}] Pixels SizeY={image.size_y}; "
                "readers trust the TIFF: fix SizeY",
            )
        expected = _expected_dtype(image)
        if expected is not None and ifd.dtype != expected:
            yield error(
                "D5-type",
                loc,
                f"{where}holds {ifd.dtype or f'{ifd.bits_per_sample}-bit format {ifd.sample_format}'} "
                f"samples but Pixels Type={image.pixel_type!r} ({expected}); fix Type",
            )
        spp = image.samples_per_pixel
        if ifd.samples_per_pixel != spp:
            yield error(
                "R3-samples-mismatch",
                loc,
                f"{where}has SamplesPerPixel={ifd.samples_per_pixel} but the Channels say "
                f"SamplesPerPixel={spp}; Bio-Formats trusts the TIFF: fix Channel@SamplesPerPixel "
                "and SizeC",
            )
        elif spp > 1 and image.interleaved is not None:
            contiguous = ifd.planar_config == 1
            if image.interleaved != contiguous:
                yield warning(
                    "R3-interleaved",
                    loc,
                    f"PlanarConfiguration={ifd.planar_config} but Pixels Interleaved="
                    f"{str(image.interleaved).lower()}; set Interleaved={str(contiguous).lower()}",
                )
        if spp == 1 and ifd.photometric in (2, 6):
            yield warning(
                "R3-photometric",
                loc,
                f"PhotometricInterpretation is {ifd.photometric_name} for one sample per pixel; "
                "write MINISBLACK for channel data (W2)",
            )
        big = ctx.structures[use.path]
        if big is not None and image.big_endian is not None:
            file_big = big.byte_order == ">"
            if image.big_endian != file_big:
                yield warning(
                    "D5-big-endian",
                    loc,
                    f"the TIFF is {'big' if file_big else 'little'}-endian but Pixels BigEndian="
                    f"{str(image.big_endian).lower()}; readers use the TIFF header: set "
                    f"BigEndian={str(file_big).lower()}",
                )


def check_codecs(ctx: Context) -> Iterator[Issue]:
    """W4: codecs Bio-Formats (and so Fiji, QuPath, OMERO) cannot decode."""
    for path, structure in ctx.structures.items():
        if structure is None:
            continue
        found: dict[int, int] = {}
        seen: set[int] = set()
        for index, ifd in enumerate(structure.ifds):
            if id(ifd) in seen:
                continue
            seen.add(id(ifd))
            for level in (ifd, *ifd.subifds):
                if level.compression in BIOFORMATS_UNREADABLE:
                    found.setdefault(level.compression, index)
        for compression, index in found.items():
            name = COMPRESSION_NAMES.get(compression, str(compression))
            yield warning(
                "W4-codec",
                f"{path.name}: IFD {index}",
                f"{name} compression cannot be decoded by Bio-Formats (Fiji, QuPath, OMERO); "
                "re-compress with LZW, Deflate or JPEG-2000 (`ometiff convert --compression zlib`)",
            )
