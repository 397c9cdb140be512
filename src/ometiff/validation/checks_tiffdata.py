"""Rules about TiffData: every plane mapped exactly once to a valid IFD (checklist 4.6)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.validation.context import Context, Issue, error, warning

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from ometiff.ome.view import ImageView
    from ometiff.tiff.structure import IfdInfo, TiffStructure

#: Findings of one kind listed per image before the rest is summarised.
_SHOW = 5


@dataclass(frozen=True, slots=True)
class IfdUse:
    """Planes of one Image that live in IFDs sharing one layout (an IfdInfo object)."""

    image: int
    path: Path
    ifd: IfdInfo
    first_index: int  # first IFD index with this layout
    count: int


def referenced_ifds(ctx: Context) -> list[IfdUse]:
    """Each distinct IFD layout that TiffData references, per Image (computed once)."""
    cached = ctx.cache.get("ifd_uses")
    if cached is not None:
        return list(cached)
    uses: dict[tuple[int, Path, int], list[Any]] = {}  # -> [ifd, first index, count]
    for image, pm in zip(ctx.images(), ctx.plane_maps, strict=False):
        files: dict[tuple[str | None, str | None], TiffStructure | None] = {}
        for ref in pm.planes.values():
            key = (ref.uuid, ref.filename)
            if key not in files:
                files[key] = ctx.structure_of(ctx.member_of(ref.uuid, ref.filename))
            structure = files[key]
            if structure is None or ref.ifd >= len(structure.ifds):
                continue
            ifd = structure.ifds[ref.ifd]
            slot = (image.index, structure.path, id(ifd))
            use = uses.get(slot)
            if use is None:
                uses[slot] = [ifd, ref.ifd, 1]
            else:
                if ref.ifd < use[1]:
                    use[1] = ref.ifd
                use[2] += 1
    out = [IfdUse(k[0], k[1], v[0], v[1], v[2]) for k, v in uses.items()]
    ctx.cache["ifd_uses"] = tuple(out)
    return out


def _zct(image: ImageView, index: int) -> str:
    z, c, t = image.zct_of(index)
    return f"Z={z} C={c} T={t}"


def _td_loc(ctx: Context, image: ImageView, k: int) -> str:
    return f"{ctx.metadata_name}: Image[{image.index}]/Pixels/TiffData[{k}]"


def check_tiffdata_present(ctx: Context) -> Iterator[Issue]:
    """X5/T6 (N4): OME-TIFF Pixels hold TiffData, never BinData; no TiffData forces guessing."""
    if not ctx.is_ome_tiff:
        return
    for image in ctx.images():
        loc = f"{ctx.image_loc(image)}/Pixels"
        if image.has_bindata:
            make = warning if image.tiffdata else error
            yield make(
                "X5-bindata",
                loc,
                "Pixels of an OME-TIFF hold BinData; readers ignore it: store the planes in "
                "IFDs and describe them with TiffData",
            )
        elif not image.tiffdata and not image.has_metadata_only:
            yield warning(
                "T6-no-tiffdata",
                loc,
                "Pixels have no TiffData, so readers guess which IFD holds which plane "
                "(Bio-Formats falls back to counting IFDs); write TiffData explicitly (W1)",
            )


def check_plane_mapping(ctx: Context) -> Iterator[Issue]:
    """T2-T6: every plane mapped exactly once; PlaneCount within the image; fill-down."""
    for image, pm in zip(ctx.images(), ctx.plane_maps, strict=False):
        total = image.plane_count
        if pm.counted:  # no TiffData (N4): check_tiffdata_present warns; IFDs may run short
            if pm.unmapped and not image.has_metadata_only:
                yield error(
                    "T4-plane-not-mapped",
                    f"{ctx.image_loc(image)}/Pixels",
                    f"without TiffData the planes are the file's IFDs in DimensionOrder (N4), "
                    f"but there are only {len(pm.planes)} IFD(s) for {total} planes: add the "
                    "missing planes or TiffData naming the files that hold them",
                )
            continue
        for n, (index, k) in enumerate(pm.duplicates):
            if n == _SHOW:
                yield error(
                    "T5-plane-mapped-twice",
                    _td_loc(ctx, image, k),
                    f"... and {len(pm.duplicates) - _SHOW} more planes mapped more than once",
                )
                break
            first = pm.planes[index].tiffdata
            yield error(
                "T5-plane-mapped-twice",
                _td_loc(ctx, image, k),
                f"plane {index} ({_zct(image, index)}) is already mapped by TiffData[{first}]; "
                "each plane must be mapped exactly once: fix FirstZ/FirstC/FirstT or PlaneCount",
            )
        for k, excess in pm.overflow:
            if image.tiffdata[k].plane_count is None:
                continue  # T3: an implicit PlaneCount (the file's IFD count) may exceed the image
            yield error(
                "T5-planecount-overflow",
                _td_loc(ctx, image, k),
                f"PlaneCount={image.tiffdata[k].plane_count} reaches {excess} plane(s) past the "
                f"last of the {total} planes of this image; lower PlaneCount",
            )
        if pm.unmapped:
            shown = ", ".join(f"{i} ({_zct(image, i)})" for i in pm.unmapped[:_SHOW])
            more = f" and {len(pm.unmapped) - _SHOW} more" if len(pm.unmapped) > _SHOW else ""
            yield error(
                "T4-plane-not-mapped",
                f"{ctx.image_loc(image)}/Pixels",
                f"{len(pm.unmapped)} of {total} planes are mapped by no TiffData: {shown}{more}; "
                "readers show them black or refuse the file: add TiffData for them",
            )
        if pm.filled:
            yield warning(
                "T6-fill-down",
                f"{ctx.image_loc(image)}/Pixels",
                f"{len(pm.filled)} plane(s) are found only by Bio-Formats' fill-down of TiffData "
                "without PlaneCount; other readers lose them: write PlaneCount",
            )


def check_ifd_references(ctx: Context) -> Iterator[Issue]:
    """T5/T7: referenced IFDs exist, no IFD holds two planes, no sub-resolution in TiffData."""
    if not ctx.is_ome_tiff:
        return
    # the IFDs of each image's planes, per (UUID, FileName) link: one pass over the map
    by_link: list[dict[tuple[str | None, str | None], list[int]]] = []
    for pm in ctx.plane_maps:
        groups: dict[tuple[str | None, str | None], list[int]] = {}
        for _, _, _, uuid, filename, ifd, _ in pm.planes.values():
            link = (uuid, filename)
            ifds = groups.get(link)
            if ifds is None:
                ifds = groups[link] = []
            ifds.append(ifd)
        by_link.append(groups)
    # IFD index past the end of its file (T5)
    for image, groups in zip(ctx.images(), by_link, strict=False):
        for (uuid, filename), ifd_list in groups.items():
            structure = ctx.structure_of(ctx.member_of(uuid, filename))
            if structure is None:
                continue
            column = np.asarray(ifd_list, dtype=np.int64)
            bad = column[column >= structure.ifd_count]
            if bad.size:
                yield error(
                    "T5-ifd-out-of-range",
                    f"{ctx.image_loc(image)}/Pixels/TiffData",
                    f"{bad.size} plane(s) point at IFDs {int(bad.min())}..{int(bad.max())} but "
                    f"{structure.path.name} has {structure.ifd_count} IFD(s) (0..{structure.ifd_count - 1}); "
                    "fix the IFD attributes or restore the missing IFDs",
                )
    # one IFD mapped to two planes: within an image an error, across images a warning (T5)
    shared: dict[str, list[np.ndarray]] = {}
    for image, groups in zip(ctx.images(), by_link, strict=False):
        by_key: dict[str, list[int]] = {}
        for link, ifd_list in groups.items():
            member = ctx.member_of(*link)
            name = member.path.name if member is not None and member.path else f"{link}"
            by_key.setdefault(name, []).extend(ifd_list)
        for name, indices in by_key.items():
            uniq, counts = np.unique(np.asarray(indices, dtype=np.int64), return_counts=True)
            twice = uniq[counts > 1]
            if twice.size:
                shown = ", ".join(str(int(v)) for v in twice[:_SHOW])
                yield error(
                    "T5-ifd-mapped-twice",
                    f"{name}: Image[{image.index}]",
                    f"{twice.size} IFD(s) hold more than one plane of this image (IFD {shown}"
                    f"{' ...' if twice.size > _SHOW else ''}); each plane needs its own IFD: fix "
                    "the TiffData",
                )
            shared.setdefault(name, []).append(uniq)
    for name, arrays in shared.items():
        if len(arrays) < 2:
            continue
        distinct, counts = np.unique(np.concatenate(arrays), return_counts=True)
        both = distinct[counts > 1]
        if both.size:
            yield warning(
                "T5-ifd-shared",
                name,
                f"{both.size} IFD(s) (first: IFD {int(both[0])}) are planes of more than one Image; "
                "readers show the same pixels twice: give each Image its own IFDs",
            )
    # a reduced-resolution IFD referenced by TiffData (T7, P-3)
    for use in referenced_ifds(ctx):
        if use.ifd.new_subfile_type & 1:
            yield error(
                "T7-subresolution-in-tiffdata",
                f"{use.path.name}: IFD {use.first_index}",
                f"TiffData of Image[{use.image}] maps {use.count} plane(s) to reduced-resolution "
                "IFDs (NewSubfileType bit 0 set); sub-resolutions belong in SubIFDs and never in "
                "TiffData: map full-resolution IFDs only",
            )


def check_one_based(ctx: Context) -> Iterator[Issue]:
    """T6/N1: FirstZ/FirstC/FirstT equal to the size suggests 1-based indices."""
    for image in ctx.images():
        size_z, size_c, size_t = image.size_z or 1, image.effective_size_c, image.size_t or 1
        # one TiffData per plane in Bio-Formats files: plain comparisons, no per-element
        # tuples (this loop runs 30,000 times on such a file)
        for k, (_, fz, ft, fc, *_) in enumerate(image.tiffdata):
            if (
                (fz is None or fz < size_z)
                and (fc is None or fc < size_c)
                and (ft is None or ft < size_t)
            ):
                continue
            attr, value, size = next(
                (a, v, n)
                for a, v, n in (
                    ("FirstZ", fz, size_z),
                    ("FirstC", fc, size_c),
                    ("FirstT", ft, size_t),
                )
                if v is not None and v >= n
            )
            yield warning(
                "T6-index-out-of-range",
                _td_loc(ctx, image, k),
                f"{attr}={value} but the size is {size}: indices are 0-based "
                "(Bio-Formats guesses 1-based writers and shifts): subtract 1",
            )
            break
