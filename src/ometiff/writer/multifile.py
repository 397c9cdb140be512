"""File layout of a write (which planes go to which file) and atomic commit.

A write produces one file, or a set of files split by series, channel or time
point and linked by UUIDs (checklist M1-M5). Every file of the set is first
written under a temporary name in its destination folder; only when all of them
succeeded are they renamed to their final names, so an error never leaves a
partial file behind and never touches an existing one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ometiff.atomic import create_temp, discard, fault, fsync_dir
from ometiff.errors import FileAccessError, FileExistsOmeTiffError, MissingFileError, WriteError
from ometiff.tiff.names import COMPANION_SUFFIX, OME_SUFFIXES, split_suffix
from ometiff.writer.omexml import TiffDataRun, new_uuid

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ometiff.readers.source import SeriesSource

Split = Literal["series", "c", "t"]


@dataclass(slots=True)
class FilePlan:
    """One output file: its name, UUID and the runs of planes it holds."""

    path: Path
    uuid: str = field(default_factory=new_uuid)
    runs: list[tuple[int, list[tuple[int, int, int]]]] = field(default_factory=list)

    @property
    def plane_count(self) -> int:
        """Number of full-resolution planes (IFDs in the main chain)."""
        return sum(len(planes) for _, planes in self.runs)


def split_name(path: Path) -> tuple[str, str]:
    """Split ``a/b.ome.tif`` into (``b``, ``.ome.tif``); refuse other endings (C2)."""
    parts = split_suffix(path.name, OME_SUFFIXES)
    if parts is not None:
        return parts
    raise WriteError(  # checklist C2
        f"{path}: an OME-TIFF name must end with .ome.tif or .ome.tiff (or, for BigTIFF, "
        ".ome.btf, .ome.tf2 or .ome.tf8); rename the output"
    )


def plane_order(shape: tuple[int, int, int, int, int], order: str) -> list[tuple[int, int, int]]:
    """(t, c, z) of every plane in DimensionOrder rasterisation (checklist D3)."""
    sizes = {"T": shape[0], "C": shape[1], "Z": shape[2]}
    fast, mid, slow = order[2], order[3], order[4]
    out = []
    for k in range(sizes[slow]):
        for j in range(sizes[mid]):
            for i in range(sizes[fast]):
                idx = {fast: i, mid: j, slow: k}
                out.append((idx["T"], idx["C"], idx["Z"]))
    return out


def order_for_split(order: str, split: Split | None) -> str:
    """Move the split axis to the slowest place so each file holds one run (M6)."""
    if split not in ("c", "t"):
        return order
    axis = split.upper()
    rest = [a for a in order[2:] if a != axis]
    return "XY" + "".join(rest) + axis


def plan_files(
    path: Path,
    sources: Sequence[SeriesSource],
    orders: Sequence[str],
    split: Split | None,
) -> list[FilePlan]:
    """Decide the files of a write and the planes (in write order) each holds."""
    stem, suffix = split_name(path)
    if split not in (None, "series", "c", "t"):
        raise WriteError(f"split={split!r} is not understood; use 'series', 'c' or 't'")
    files: dict[tuple[int, ...], FilePlan] = {}
    several = len(sources) > 1
    s_width = len(str(len(sources) - 1))
    for i, (src, order) in enumerate(zip(sources, orders, strict=True)):
        planes = plane_order(src.shape, order)
        for tcz in planes:
            if split is None:
                key: tuple[int, ...] = ()
                name = path.name
            elif split == "series":
                key = (i,)
                name = f"{stem}_s{i:0{s_width}d}{suffix}"
            else:
                k = tcz[0] if split == "t" else tcz[1]
                n = src.shape[0] if split == "t" else src.shape[1]
                part = f"{split}{k:0{len(str(n - 1))}d}"
                key = (i, k)
                name = (
                    f"{stem}_s{i:0{s_width}d}_{part}{suffix}"
                    if several
                    else f"{stem}_{part}{suffix}"
                )
            plan = files.get(key)
            if plan is None:
                plan = files[key] = FilePlan(path.with_name(name))
            if not plan.runs or plan.runs[-1][0] != i:
                plan.runs.append((i, []))
            plan.runs[-1][1].append(tcz)
    return list(files.values())


def tiffdata_runs(plans: Sequence[FilePlan]) -> list[TiffDataRun]:
    """One TiffData run per (file, series) block of consecutive IFDs."""
    runs = []
    for plan in plans:
        ifd = 0
        for series, planes in plan.runs:
            runs.append(TiffDataRun(series, ifd, planes[0], len(planes), plan.uuid, plan.path.name))
            ifd += len(planes)
    return runs


def companion_path(path: Path) -> Path:
    """``dir/name.companion.ome`` for an output ``dir/name.ome.tif`` (checklist M5)."""
    stem, _ = split_name(path)
    return path.with_name(stem + COMPANION_SUFFIX)


def check_output(final: Path, *, overwrite: bool, folder_output: bool = False) -> None:
    """The one check of an output path before anything is written (write and convert).

    ``folder_output`` is for outputs that are folders (OME-Zarr): an existing
    folder there is an existing output, not a misnamed file.

    Raises
    ------
    MissingFileError
        The folder does not exist.
    FileAccessError
        The path is a folder (for a file output), or the folder is not writable.
    FileExistsOmeTiffError
        The output exists and ``overwrite`` is False.
    """
    folder = final.parent
    if not folder.is_dir():
        raise MissingFileError(f"{final}: folder {folder} does not exist; create it first")
    if final.is_dir() and not folder_output:
        raise FileAccessError(f"{final}: is a folder; choose a file name")
    if final.exists() and not overwrite:
        raise FileExistsOmeTiffError(
            f"{final}: exists; pass overwrite=True to replace it", option="overwrite"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise FileAccessError(f"{final}: the folder {folder} is not writable")


class AtomicSet:
    """Temporary files in the destination folder, renamed together at the end."""

    def __init__(self, finals: Sequence[Path], *, overwrite: bool) -> None:
        self.finals = list(finals)
        self.overwrite = overwrite
        self.temps: dict[Path, Path] = {}
        names = [p.name for p in self.finals]
        if len(set(names)) != len(names):  # pragma: no cover - plan_files names are unique
            raise WriteError("internal error: two output files with the same name")
        for final in self.finals:
            check_output(final, overwrite=overwrite)

    def temp(self, final: Path) -> Path:
        """Create and return the temporary path that will become ``final`` (:mod:`ometiff.atomic`)."""
        tmp = create_temp(final)
        self.temps[final] = tmp
        return tmp

    def commit(self) -> None:
        """Rename every temporary file to its final name."""
        if not self.overwrite:
            for final in self.temps:
                if final.exists():
                    raise FileExistsOmeTiffError(
                        f"{final}: appeared while writing; pass overwrite=True to replace it",
                        option="overwrite",
                    )
        fault("before-commit")
        for i, (final, tmp) in enumerate(list(self.temps.items())):
            if i:
                fault("mid-commit")
            os.replace(tmp, final)
            del self.temps[final]
        for folder in {final.parent for final in self.finals}:
            fsync_dir(folder)

    def discard(self) -> None:
        """Remove every temporary file still present."""
        for tmp in self.temps.values():
            discard(tmp)
        self.temps.clear()
