"""The plane map: which file and IFD hold each (Z, C, T) plane of an image.

The one home of the TiffData rules (checklist T1-T6) and of the fallback for files
without TiffData (N4: Bio-Formats counts IFDs in DimensionOrder). ``info``, the
OME-TIFF reader and the validator all use :func:`plane_map`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from ometiff.ome.view import ImageView, TiffDataView


class PlaneRef(NamedTuple):
    """Where one plane lives: a file (by UUID and/or FileName; both None = this file) and IFD."""

    z: int
    c: int
    t: int
    uuid: str | None
    filename: str | None
    ifd: int
    tiffdata: int  # index of the TiffData element that mapped it


@dataclass(frozen=True, slots=True)
class PlaneMap:
    """Result of applying an Image's TiffData to its planes.

    ``planes`` maps plane index -> :class:`PlaneRef`; ``duplicates`` lists
    (plane index, TiffData index) for planes mapped again (T5); ``overflow`` lists
    (TiffData index, excess) for PlaneCounts reaching past the last plane;
    ``unmapped`` the plane indices nothing maps (T4); ``filled`` the plane indices
    mapped only by Bio-Formats' fill-down (T6); ``counted`` is True when the Image
    has no TiffData and its planes were assigned to the file's IFDs in
    DimensionOrder (N4, T1; their ``PlaneRef.tiffdata`` is -1).
    """

    planes: dict[int, PlaneRef]
    duplicates: tuple[tuple[int, int], ...]
    overflow: tuple[tuple[int, int], ...]
    unmapped: tuple[int, ...]
    filled: tuple[int, ...]
    counted: bool = False


def plane_map(
    image: ImageView,
    *,
    ifd_count: Callable[[str | None, str | None], int | None] | None = None,
    fill_down: bool = True,
) -> PlaneMap:
    """Apply TiffData semantics (checklist T1-T6) to find every plane's IFD.

    An Image without TiffData is read the way Bio-Formats
    reads it (N4): plane ``i`` in DimensionOrder is IFD ``i`` of the file holding the
    XML, as far as the file has IFDs. ``info``, the OME-TIFF reader and the validator
    all take their plane map from here.

    Parameters
    ----------
    image
        The image.
    ifd_count
        ``ifd_count(uuid, filename)`` -> number of IFDs in that file, used for a
        TiffData without attributes, whose PlaneCount defaults to the file's IFD
        count (T2). When None, such a TiffData covers the remaining planes.
    fill_down
        Also map planes the way Bio-Formats does when PlaneCount is missing: the
        next IFDs of the same file fill the following unmapped planes (T6).
    """
    total = image.plane_count
    letters, sizes = image._dims()
    s0, s1, s2 = (sizes[letter] for letter in letters)
    iz, ic, it = letters.index("Z"), letters.index("C"), letters.index("T")

    def zct_of(index: int) -> tuple[int, int, int]:  # image.zct_of without per-call set-up
        vals = (index % s0, index // s0 % s1, index // (s0 * s1) % s2)
        return vals[iz], vals[ic], vals[it]

    if not image.tiffdata:
        n = ifd_count(None, None) if ifd_count else None
        count = total if n is None else min(n, total)
        counted = {i: PlaneRef(*zct_of(i), None, None, i, -1) for i in range(count)}
        return PlaneMap(counted, (), (), tuple(range(count, total)), (), counted=True)
    stride = {letters[0]: 1, letters[1]: s0, letters[2]: s0 * s1}
    st_z, st_c, st_t = stride["Z"], stride["C"], stride["T"]
    planes: dict[int, PlaneRef] = {}
    duplicates: list[tuple[int, int]] = []
    overflow: list[tuple[int, int]] = []
    open_ended: list[tuple[int, int, TiffDataView, int]] = []  # (start, ifd, td, td index)
    for k, td in enumerate(image.tiffdata):
        # image.index_of without per-call set-up
        start = (td.first_z or 0) * st_z + (td.first_c or 0) * st_c + (td.first_t or 0) * st_t
        ifd = td.ifd or 0
        if td.plane_count is not None:
            count = td.plane_count
        elif td.ifd is None and td.first_z is None and td.first_c is None and td.first_t is None:
            n = ifd_count(td.uuid, td.filename) if ifd_count else None
            count = total if n is None else n  # T2: "the number of IFDs in the TIFF file"
        else:
            count = 1  # T2: an IFD is specified, so PlaneCount defaults to 1
            open_ended.append((start, ifd, td, k))
        excess = start + count - total
        if excess > 0:
            overflow.append((k, excess))  # T3: extra IFDs are extraneous
            count -= excess
        for i in range(max(count, 0)):
            index = start + i
            if index in planes:
                duplicates.append((index, k))
                continue
            z, c, t = zct_of(index)
            planes[index] = PlaneRef(z, c, t, td.uuid, td.filename, ifd + i, k)
    filled: list[int] = []
    if fill_down and open_ended and len(planes) < total:
        for start, ifd, td, k in open_ended:
            index, next_ifd = start + 1, ifd + 1
            while index < total and index not in planes:
                n = ifd_count(td.uuid, td.filename) if ifd_count else None
                if n is not None and next_ifd >= n:
                    break
                z, c, t = zct_of(index)
                planes[index] = PlaneRef(z, c, t, td.uuid, td.filename, next_ifd, k)
                filled.append(index)
                index += 1
                next_ifd += 1
    unmapped = tuple(i for i in range(total) if i not in planes)
    return PlaneMap(planes, tuple(duplicates), tuple(overflow), unmapped, tuple(filled))


# --- reading ---------------------------------------------------------------------
