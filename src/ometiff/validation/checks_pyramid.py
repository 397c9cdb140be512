"""Rules about SubIFD pyramids (checklist 4.8, P-2 to P-7)."""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING

from ometiff.validation.checks_tiffdata import referenced_ifds
from ometiff.validation.context import Context, Issue, error, info, warning

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ometiff.tiff.structure import IfdInfo, TiffStructure

#: P-6: full-resolution planes larger than this (either side) should be tiled.
LARGE_SIDE = 4096


def _pyramid_ifds(structure: TiffStructure) -> Iterator[tuple[int, IfdInfo]]:
    seen: set[int] = set()
    for index, ifd in enumerate(structure.ifds):
        if ifd.subifd_offsets and id(ifd) not in seen:
            seen.add(id(ifd))
            yield index, ifd


def _factor(big: int, small: int) -> int | None:
    """The integer factor that reduces ``big`` to ``small`` (floor or ceil), else None."""
    if small <= 0:
        return None
    f = round(big / small)
    if f >= 1 and small in (big // f, math.ceil(big / f)):
        return f
    return None


def check_subifds(ctx: Context) -> Iterator[Issue]:
    """P-2/P-3: SubIFDs readable, ordered largest to smallest, never in the main chain."""
    for path, structure in ctx.structures.items():
        if structure is None:
            continue
        main = set(structure.offsets)
        for index, ifd in _pyramid_ifds(structure):
            loc = f"{path.name}: IFD {index}/SubIFDs"
            if len(ifd.subifds) < len(ifd.subifd_offsets):
                yield error(
                    "P-2-subifd-unreadable",
                    loc,
                    f"{len(ifd.subifd_offsets)} SubIFD offsets but only {len(ifd.subifds)} "
                    "readable sub-resolution IFDs; rewrite the pyramid",
                )
            in_main = main.intersection(ifd.subifd_offsets)
            if in_main:
                yield error(
                    "P-3-subifd-in-main-chain",
                    loc,
                    f"{len(in_main)} sub-resolution IFD(s) are also in the main IFD chain, where "
                    "readers take them for planes; keep sub-resolutions in SubIFDs only",
                )
            sizes = [(ifd.width, ifd.height)] + [(s.width, s.height) for s in ifd.subifds]
            if any(b[0] >= a[0] or b[1] >= a[1] for a, b in itertools.pairwise(sizes)):
                yield error(
                    "P-2-order",
                    loc,
                    f"levels are not ordered largest to smallest ({' > '.join(f'{w}x{h}' for w, h in sizes)}); "
                    "list SubIFDs from the largest to the smallest",
                )


def check_subfile_types(ctx: Context) -> Iterator[Issue]:
    """P-4: sub-resolution IFDs set NewSubfileType bit 0 (reduced resolution)."""
    for path, structure in ctx.structures.items():
        if structure is None:
            continue
        for index, ifd in _pyramid_ifds(structure):
            bad = [k for k, s in enumerate(ifd.subifds) if not s.new_subfile_type & 1]
            if bad:
                yield warning(
                    "P-4-subfiletype",
                    f"{path.name}: IFD {index}/SubIFD {bad[0]}",
                    "sub-resolution IFDs should set NewSubfileType=1 (reduced resolution) so "
                    "generic TIFF readers skip them",
                )
                break


def check_factors(ctx: Context) -> Iterator[Issue]:
    """P-5/P-7: integer, equal X/Y, constant factors; the same level count for every plane."""
    for path, structure in ctx.structures.items():
        if structure is None:
            continue
        for index, ifd in _pyramid_ifds(structure):
            sizes = [(ifd.width, ifd.height)] + [(s.width, s.height) for s in ifd.subifds]
            factors = []
            for (w0, h0), (w1, h1) in itertools.pairwise(sizes):
                fx, fy = _factor(w0, w1), _factor(h0, h1)
                factors.append(fx if fx == fy else None)
            if any(f is None for f in factors) or len(set(factors)) > 1:
                yield warning(
                    "P-5-factors",
                    f"{path.name}: IFD {index}/SubIFDs",
                    f"levels {' > '.join(f'{w}x{h}' for w, h in sizes)} are not reduced by one "
                    "constant integer factor equal in X and Y; some viewers misplace such levels",
                )
                break
    levels: dict[int, set[int]] = {}
    for use in referenced_ifds(ctx):
        levels.setdefault(use.image, set()).add(len(use.ifd.subifds))
    for image, counts in levels.items():
        if len(counts) > 1:
            yield warning(
                "P-7-level-count",
                f"{ctx.metadata_name}: Image[{image}]",
                f"planes of this image have different numbers of sub-resolutions ({sorted(counts)}); "
                "Bio-Formats assumes one count: give every plane the same pyramid",
            )


def check_tiling(ctx: Context) -> Iterator[Issue]:
    """P-6: the full-resolution planes of large images are tiled."""
    for use in referenced_ifds(ctx):
        ifd = use.ifd
        if (ifd.width > LARGE_SIDE or ifd.height > LARGE_SIDE) and not ifd.tile_width:
            yield info(
                "P-6-not-tiled",
                f"{use.path.name}: IFD {use.first_index}",
                f"{ifd.width}x{ifd.height} planes stored in strips; tiles make viewers fast "
                "(`ometiff convert --tile 512`)",
            )
