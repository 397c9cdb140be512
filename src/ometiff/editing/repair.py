"""``ometiff.repair``: fix what breaks OME-TIFF sets in practice, and say what was done.

Repairs, each reported as a :class:`RepairAction` with a checklist id:

- ``M2-filename``: renamed or moved members. Every member's OME@UUID identifies
  it (M1), so the files in the folder are indexed by UUID and each TiffData
  ``UUID@FileName`` is rewritten to the file that really has that UUID; a
  companion that lost its TIFFs' names gets them back the same way.
- ``M4-metadata-file``: a BinaryOnly member whose companion was renamed points
  to it again (the companion is found by the BinaryOnly UUID, "authoritative
  regardless of mismatches in the filename").
- ``N1-one-based``: TiffData FirstZ/FirstC/FirstT counted from 1 are shifted to 0.
- ``N4-tiffdata``: Pixels without TiffData get TiffData rebuilt from the IFDs
  (images take consecutive IFDs in document order, W1).
- ``U1-unit``: units spelled ``um``, ``micron``, ``μm`` (Greek mu) ... are written
  as the schema's symbols.
- ``to-companion`` / ``to-embedded``: move a set's metadata into a
  ``.companion.ome`` with BinaryOnly members (M4/M5), or embed it in every
  member (M3).

Every document a repair would write -- members, companions, a new companion that
does not exist yet -- is judged together by the validator
(``validate(path, documents=...)``), as an edit is: a repair that would add an
error code is refused with that finding and nothing is written. Files are written
through the same crash-safe patch (:mod:`ometiff.tiff.patch`) or atomic replace
(companions). Files are found only inside each set's folder
(:func:`ometiff.ome.fileset.resolve_name`, :func:`ometiff.ome.fileset.inside_folder`):
a MetadataFile or FileName pointing out of it, or a link out of it, is never read,
written or deleted.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from lxml import etree

from ometiff.atomic import fault
from ometiff.editing.meta import (
    Document,
    backup_path,
    check_target,
    copy_tree,
    load_document,
    refuse,
    serialize,
    write_document,
)
from ometiff.errors import (
    FileExistsOmeTiffError,
    InvalidArgumentError,
    MissingFileError,
    OmeTiffError,
    ValidationError,
)
from ometiff.ome.fileset import absolute_path, file_uuid, is_set_file, resolve_name, scan_uuids
from ometiff.ome.planemap import plane_map
from ometiff.ome.units import (
    unit_attr_symbol,
)
from ometiff.ome.view import parse_ome
from ometiff.ome.xml import local
from ometiff.tiff.names import COMPANION_SUFFIX, OME_SUFFIXES, split_suffix
from ometiff.tiff.structure import inspect_tiff, is_tiff

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from lxml.etree import _Element

    from ometiff.ome.view import ImageView
    from ometiff.types import StrPath

__all__ = ["RepairAction", "RepairReport", "repair"]


@dataclass(frozen=True, slots=True)
class RepairAction:
    """One repair: the file it changes, a stable code and what was done."""

    path: Path
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class RepairReport:
    """What :func:`repair` did (or, in a dry run, would do)."""

    actions: tuple[RepairAction, ...]
    unresolved: tuple[RepairAction, ...]
    dry_run: bool
    written: tuple[Path, ...]

    @property
    def ok(self) -> bool:
        """Nothing was left that repair could not fix."""
        return not self.unresolved


# --- finding the files ----------------------------------------------------------------


def _expand(paths: Iterable[StrPath]) -> list[Path]:
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(sorted(c for c in p.iterdir() if is_set_file(c)))
        elif p.is_file():
            out.append(p)
        else:
            raise MissingFileError(f"{p}: no such file or folder")
    if not out:
        raise InvalidArgumentError("repair: no OME-TIFF or companion file found in the given paths")
    return list(dict.fromkeys(out))


class _Index:
    """OME@UUID -> file, per folder, for every OME-TIFF and companion in it (M1).

    A document is only ever linked to files of its own folder, so two copies of a
    set repaired together stay apart and no link leads out of a folder.
    """

    def __init__(self) -> None:
        self._folders: dict[Path, dict[str, Path]] = {}

    def of(self, folder: Path) -> dict[str, Path]:
        key = absolute_path(folder)
        if key not in self._folders:
            self._folders[key] = scan_uuids(folder)
        return self._folders[key]

    def uuids(self) -> dict[Path, str]:
        """File -> OME@UUID over every folder indexed so far."""
        return {p: u for index in self._folders.values() for u, p in index.items()}


def _relative(target: Path, folder: Path) -> str:
    """``target`` relative to ``folder``, with '/' separators (M2)."""
    return PurePosixPath(*Path(os.path.relpath(target, folder)).parts).as_posix()


def _children(elem: _Element, name: str) -> list[_Element]:
    return [c for c in elem if local(c.tag) == name]


def _ns(elem: _Element) -> str | None:
    return elem.tag[1:].split("}", 1)[0] if elem.tag.startswith("{") else None


def _make(parent: _Element, name: str) -> _Element:
    ns = _ns(parent)
    return etree.Element(f"{{{ns}}}{name}" if ns else name)


# --- repairs of one document ------------------------------------------------------------


def _fix_units(doc: Document, root: _Element, acts: list[RepairAction]) -> None:
    """U1/U2: unit attributes in the schema's spelling."""
    fixed: dict[tuple[str, str], int] = {}
    for elem in root.iter():
        if not isinstance(elem.tag, str):
            continue
        for name, value in elem.attrib.items():
            # kind-aware: "sec" in a length attribute is not "fixed" to a time (U1, U2)
            symbol = unit_attr_symbol(name, value)
            if symbol is not None and symbol != value:
                elem.set(name, symbol)
                fixed[(value, symbol)] = fixed.get((value, symbol), 0) + 1
    for (value, symbol), n in fixed.items():
        acts.append(
            RepairAction(doc.path, "U1-unit", f"unit {value!r} written as {symbol!r} ({n}x)")
        )


def _fix_links(
    doc: Document,
    root: _Element,
    index: dict[str, Path],
    acts: list[RepairAction],
    unresolved: list[RepairAction],
) -> None:
    """M1/M2: every TiffData UUID@FileName names the file that has that UUID."""
    renamed: dict[tuple[str | None, str], int] = {}
    for uuid_elem in root.iter("{*}UUID"):
        parent = uuid_elem.getparent()
        if parent is None or local(parent.tag) != "TiffData":
            continue
        uuid = (uuid_elem.text or "").strip()
        target = index.get(uuid)
        old = uuid_elem.get("FileName")
        if target is None:
            found = resolve_name(doc.path.parent, old) if old else None
            if found is not None and found.refused is not None:
                code = "M2-path-escapes"
                key = f"FileName {old!r} {found.refused}; not opened, and no file in the folder has OME UUID {uuid}"
            else:
                code = "M2-missing"
                key = f"no file with OME UUID {uuid} (FileName {old!r}) in the folder"
            if not any(u.message == key for u in unresolved):
                unresolved.append(RepairAction(doc.path, code, key))
            continue
        name = _relative(target, doc.path.parent)
        if old != name:
            uuid_elem.set("FileName", name)
            renamed[(old, name)] = renamed.get((old, name), 0) + 1
    for (old, name), n in renamed.items():
        what = "no FileName" if old is None else f"FileName {old!r}"
        acts.append(
            RepairAction(doc.path, "M2-filename", f"TiffData with {what} now names {name!r} ({n}x)")
        )


def _fix_one_based(doc: Document, root: _Element, acts: list[RepairAction]) -> None:
    """N1: FirstZ/FirstC/FirstT written from 1 are shifted to 0."""
    view = parse_ome(root)
    for image, elem in zip(view.images, _children(root, "Image"), strict=True):
        pixels = _children(elem, "Pixels")
        if not pixels:
            continue
        tds = _children(pixels[0], "TiffData")
        sizes = {
            "FirstZ": image.size_z or 1,
            "FirstC": image.effective_size_c,
            "FirstT": image.size_t or 1,
        }
        if _shift_all_one_based(image, tds):  # e.g. one TiffData: FirstZ=1 FirstC=1 ...
            axes = [a for a in sizes if any(td.get(a) is not None for td in tds)]
            for td in tds:
                for attr in axes:
                    if td.get(attr) is not None:
                        td.set(attr, str(int(td.get(attr, "1")) - 1))
            acts.append(
                RepairAction(
                    doc.path,
                    "N1-one-based",
                    f"Image {image.index}: TiffData {', '.join(axes)} counted from 1, shifted to 0 "
                    f"({len(tds)} TiffData)",
                )
            )
            continue
        for attr, size in sizes.items():
            values = [td.get(attr) for td in tds]
            if not tds or any(v is None or not v.strip().isdigit() for v in values):
                continue
            numbers = [int(v) for v in values if v is not None]
            if min(numbers) == 1 and max(numbers) == size:
                for td in tds:
                    td.set(attr, str(int(td.get(attr, "1")) - 1))
                acts.append(
                    RepairAction(
                        doc.path,
                        "N1-one-based",
                        f"Image {image.index}: TiffData {attr} counted from 1, shifted to 0 "
                        f"({len(tds)} TiffData)",
                    )
                )


def _shift_all_one_based(image: ImageView, tds: list[_Element]) -> bool:
    """True when TiffData count Z, C and T from 1: no First* is 0, the plane map as
    written overflows or leaves planes unmapped, and shifted to 0 it does neither
    (T4, T5). The per-axis rule below misses a single TiffData, whose values never
    reach the axis size."""
    values = [td.get(a) for td in tds for a in ("FirstZ", "FirstC", "FirstT")]
    present = [v for v in values if v is not None]
    if not tds or not present or any(not v.strip().isdigit() or int(v) < 1 for v in present):
        return False
    written = plane_map(image, fill_down=False)
    if not written.overflow and not written.unmapped:
        return False

    def down(v: int | None) -> int | None:
        return None if v is None else v - 1

    shifted_tds = tuple(
        td._replace(first_z=down(td.first_z), first_c=down(td.first_c), first_t=down(td.first_t))
        for td in image.tiffdata
    )
    shifted = plane_map(replace(image, tiffdata=shifted_tds), fill_down=False)
    return not shifted.overflow and len(shifted.unmapped) < len(written.unmapped) + len(
        written.overflow
    )


def _fix_missing_tiffdata(
    doc: Document, root: _Element, acts: list[RepairAction], unresolved: list[RepairAction]
) -> None:
    """N4: Pixels without TiffData get one TiffData per image from the IFDs (W1)."""
    if not doc.is_tiff:
        return
    images = _children(root, "Image")
    view = parse_ome(root)
    todo = [
        k
        for k, im in enumerate(view.images)
        if not im.tiffdata and not im.has_bindata and not im.has_metadata_only
    ]
    if not todo:
        return
    st = inspect_tiff(doc.path)
    next_ifd = 0
    for k, image in enumerate(view.images):
        count = image.plane_count
        if image.tiffdata:
            mapped = [
                (td.ifd or 0) + (td.plane_count or 1)
                for td in image.tiffdata
                if td.uuid is None or td.uuid == view.uuid
            ]
            next_ifd = max([next_ifd, *mapped])
            continue
        if k not in todo:
            continue
        ifds = st.ifds[next_ifd : next_ifd + count]
        if len(ifds) < count or any(
            (i.width, i.height) != (image.size_x, image.size_y) for i in ifds
        ):
            unresolved.append(
                RepairAction(
                    doc.path,
                    "N4-tiffdata",
                    f"Image {k}: no TiffData, and IFDs {next_ifd}..{next_ifd + count - 1} do not "
                    f"hold {count} planes of {image.size_x}x{image.size_y}; not rebuilt",
                )
            )
            next_ifd += count
            continue
        pixels = _children(images[k], "Pixels")[0]
        td = _make(pixels, "TiffData")
        td.set("IFD", str(next_ifd))
        td.set("PlaneCount", str(count))
        position = 0  # S8: TiffData after the Channels, before Planes
        for n, child in enumerate(pixels):
            if local(child.tag) == "Channel":
                position = n + 1
        pixels.insert(position, td)
        acts.append(
            RepairAction(
                doc.path,
                "N4-tiffdata",
                f"Image {k}: TiffData rebuilt from the IFDs (IFD {next_ifd}, PlaneCount {count})",
            )
        )
        next_ifd += count


def _fix_binary_only(
    doc: Document,
    root: _Element,
    index: dict[str, Path],
    acts: list[RepairAction],
    unresolved: list[RepairAction],
) -> Path | None:
    """M4: a BinaryOnly member points to its metadata file; returns that file."""
    binary = _children(root, "BinaryOnly")[0]
    uuid = binary.get("UUID")
    name = binary.get("MetadataFile")
    target = index.get(uuid or "")
    if target is None:
        found = resolve_name(doc.path.parent, name or "", basename=True)
        if found.path is None:
            unresolved.append(
                RepairAction(
                    doc.path,
                    "M2-path-escapes",
                    f"its MetadataFile {name!r} {found.refused}; not opened",
                )
            )
            return None
        if found.exists:
            return found.path
        unresolved.append(
            RepairAction(
                doc.path,
                "M4-missing",
                f"its metadata file {name!r} (UUID {uuid}) is not in the folder",
            )
        )
        return None
    rel = _relative(target, doc.path.parent)
    if rel != name:
        binary.set("MetadataFile", rel)
        acts.append(
            RepairAction(
                doc.path, "M4-metadata-file", f"BinaryOnly MetadataFile {name!r} -> {rel!r}"
            )
        )
    return target


# --- conversions --------------------------------------------------------------------------


def _members_of(root: _Element, index: dict[str, Path], own: Path | None) -> list[Path]:
    """The TIFF files a full document maps planes to (document order)."""
    out: list[Path] = []
    for td in root.iter("{*}TiffData"):
        uuids = _children(td, "UUID")
        path = own if not uuids else index.get((uuids[0].text or "").strip())
        if path is not None and is_tiff(path) and path not in out:
            out.append(path)
    return out


def _companion_name(members: Sequence[Path]) -> str:
    parts = split_suffix(members[0].name, OME_SUFFIXES)
    name = parts[0] if parts else members[0].name.rsplit(".", 1)[0]
    if len(members) > 1:
        name = re.sub(r"[_\-.]?[A-Za-z]?\d+$", "", name) or name
    return name + COMPANION_SUFFIX


def _to_companion(
    source: Document,
    root: _Element,
    index: dict[str, Path],
    uuids: dict[Path, str],
) -> tuple[Path, _Element, dict[Path, bytes]]:
    """The companion document and each member's BinaryOnly XML (M4/M5)."""
    from ometiff.writer.omebuild import binary_only_xml, new_uuid

    members = _members_of(root, index, source.path)
    if not members:
        raise ValidationError(
            f"{source.path}: its metadata maps no plane to a TIFF; no companion made"
        )
    companion = source.path.parent / _companion_name(members)
    for m in members:
        uuids.setdefault(m, file_uuid(m) or new_uuid())
    comp = copy_tree(root)
    comp_uuid = new_uuid()
    for td in comp.iter("{*}TiffData"):
        found = _children(td, "UUID")
        if found:
            elem = found[0]
            path = index.get((elem.text or "").strip())
        else:
            elem = _make(td, "UUID")
            td.insert(0, elem)
            path = source.path
            elem.text = uuids[path]
        if path is not None:
            elem.set("FileName", _relative(path, companion.parent))
    if companion.exists() or companion.is_symlink():
        comp_uuid = _interrupted_companion(companion, comp)
    comp.set("UUID", comp_uuid)
    members_xml = {
        m: binary_only_xml(uuids[m], _relative(companion, m.parent), comp_uuid) for m in members
    }
    return companion, comp, members_xml


def _interrupted_companion(companion: Path, comp: _Element) -> str:
    """The UUID of an existing ``companion`` that an interrupted conversion wrote.

    A ``to_companion`` run killed after writing the companion (before every member
    was made BinaryOnly) leaves a companion holding exactly the metadata this run
    would write, but for its OME@UUID: the run goes on with that companion's UUID,
    so members already converted stay valid. Any other file is refused.
    """
    refusal = FileExistsOmeTiffError(
        f"{companion}: exists already and does not hold this set's metadata; "
        "move it away to convert to a companion"
    )
    if companion.is_symlink() or not companion.is_file():
        raise refusal
    try:
        found = load_document(companion)
    except OmeTiffError as exc:
        raise refusal from exc
    uuid = found.root.get("UUID") or ""
    if found.is_tiff or not uuid:
        raise refusal
    mine = copy_tree(comp)
    mine.set("UUID", uuid)
    if serialize(mine) != serialize(found.root):
        raise refusal
    return uuid


# --- the command ---------------------------------------------------------------------------


def repair(
    paths: StrPath | Sequence[StrPath],
    *,
    dry_run: bool = False,
    to_companion: bool = False,
    to_embedded: bool = False,
    backup: bool = False,
) -> RepairReport:
    """Repair the OME-TIFF sets the given files (or folders) belong to.

    Parameters
    ----------
    paths
        Members and/or companions of one or more sets, or folders holding them.
    dry_run
        Report what would be repaired; write nothing.
    to_companion, to_embedded
        Also convert each set to BinaryOnly members + companion, or to metadata
        embedded in every member.
    backup
        Keep each old XML next to its file (``<name>.ome.xml.bak``).

    Raises
    ------
    OmeTiffError
        A path is missing, not a TIFF / OME-XML, or a repair would make a document
        invalid (nothing is written then).
    """
    if to_companion and to_embedded:
        raise InvalidArgumentError("repair: choose either to_companion or to_embedded")
    files = _expand([paths] if isinstance(paths, (str, os.PathLike)) else paths)
    indexes = _Index()
    docs: dict[Path, Document] = {}
    roots: dict[Path, _Element] = {}
    actions: list[RepairAction] = []
    unresolved: list[RepairAction] = []
    queue = list(files)
    while queue:
        path = queue.pop(0)
        if path in docs:
            continue
        doc = load_document(path)
        docs[path] = doc
        root = copy_tree(doc.root)
        roots[path] = root
        index = indexes.of(path.parent)
        if _children(root, "BinaryOnly"):
            meta = _fix_binary_only(doc, root, index, actions, unresolved)
            if meta is not None and meta not in docs:
                queue.append(meta)
            continue
        _fix_units(doc, root, actions)
        _fix_links(doc, root, index, actions, unresolved)
        _fix_one_based(doc, root, actions)
        _fix_missing_tiffdata(doc, root, actions, unresolved)
        for member in _members_of(root, index, path if doc.is_tiff else None):
            if member not in docs:
                queue.append(member)
    _fix_companion_uuids(docs, roots, actions)
    uuids = indexes.uuids()
    uuids.update({p: r.get("UUID", "") for p, r in roots.items() if r.get("UUID")})
    outputs: dict[Path, bytes] = {}
    extra: dict[Path, _Element] = {}  # new companion files
    made_from: dict[Path, Path] = {}  # new companion -> the document it was made from
    removals: list[Path] = []
    for path, doc in docs.items():
        if serialize(roots[path], declaration=doc.declaration) != serialize(
            doc.root, declaration=doc.declaration
        ):
            outputs[path] = serialize(roots[path], declaration=doc.declaration)
    if to_companion:
        sources = [p for p in docs if not _children(roots[p], "BinaryOnly") and docs[p].is_tiff]
        done: set[Path] = set()
        for path in sources:
            if path in done:
                continue
            companion, comp, members_xml = _to_companion(
                docs[path], roots[path], indexes.of(path.parent), uuids
            )
            extra[companion] = comp
            made_from[companion] = path
            for member, xml in members_xml.items():
                outputs[member] = xml
                done.add(member)
            actions.append(
                RepairAction(
                    companion,
                    "to-companion",
                    f"metadata moved here; {len(members_xml)} member(s) now BinaryOnly (M4/M5)",
                )
            )
    if to_embedded:
        for path, doc in docs.items():
            root = roots[path]
            if _children(root, "BinaryOnly") or (doc.is_tiff and not _is_master(root, docs)):
                continue
            index = indexes.of(path.parent)
            members = _members_of(root, index, path if doc.is_tiff else None)
            for member in members:
                if member == path:
                    continue
                copy = copy_tree(root)
                uuid = uuids.get(member) or file_uuid(member)
                if uuid:
                    copy.set("UUID", uuid)
                for td in copy.iter("{*}TiffData"):
                    for elem in _children(td, "UUID"):
                        target = index.get((elem.text or "").strip())
                        if target is not None:
                            elem.set("FileName", _relative(target, member.parent))
                outputs[member] = serialize(copy)
                extra.pop(member, None)
            if not doc.is_tiff:
                removals.append(path)
                outputs.pop(path, None)
            actions.append(
                RepairAction(
                    path,
                    "to-embedded",
                    f"metadata embedded in {len([m for m in members if m != path])} member(s)"
                    + (" (M3); companion removed" if not doc.is_tiff else " (M3)"),
                )
            )
    # the validator judges every document that will be written, all together
    candidates = {**outputs, **{path: serialize(root) for path, root in extra.items()}}
    _judge(candidates, made_from)
    if dry_run:
        return RepairReport(tuple(actions), tuple(unresolved), True, ())
    for path in [*outputs, *removals]:
        check_target(path)  # refuse before the first file is touched
    written: list[Path] = []
    for path, root in extra.items():  # a companion first: members then point to a real file
        from ometiff.tiff.patch import write_text_atomic

        write_text_atomic(path, serialize(root))
        written.append(path)
        fault("repair-after-companion")
    for path, data in outputs.items():
        doc = docs.get(path) or load_document(path)
        write_document(
            path,
            data,
            is_tiff_file=doc.is_tiff,
            old_text=doc.text,
            backup=backup,
            changes=("repaired",),
        )
        written.append(path)
        fault("repair-after-member")
    for path in removals:  # after every member holds the metadata
        if backup:
            path.replace(backup_path(path))
        else:
            path.unlink()
    return RepairReport(tuple(actions), tuple(unresolved), False, tuple(written))


def _fix_companion_uuids(
    docs: dict[Path, Document], roots: dict[Path, _Element], acts: list[RepairAction]
) -> None:
    """M5: a companion needs OME@UUID, the one its BinaryOnly members point with."""
    from ometiff.writer.omebuild import new_uuid

    for path, doc in docs.items():
        root = roots[path]
        if doc.is_tiff or root.get("UUID") or _children(root, "BinaryOnly"):
            continue
        pointing = [
            b
            for p, r in roots.items()
            for b in _children(r, "BinaryOnly")
            if _points_to(p, b.get("MetadataFile"), path)
        ]
        found = {b.get("UUID") for b in pointing} - {None, ""}
        if len(found) == 1:
            uuid = found.pop()
            message = f"companion had no OME@UUID; set to {uuid}, the UUID its members point with"
        else:
            uuid = new_uuid()
            for b in pointing:
                b.set("UUID", uuid)
            message = (
                f"companion had no OME@UUID; set to a new {uuid} "
                f"({len(pointing)} BinaryOnly member(s) updated)"
            )
        root.set("UUID", uuid)
        acts.append(RepairAction(path, "M5-companion-uuid", message))


def _points_to(member: Path, metadata_file: str | None, target: Path) -> bool:
    found = resolve_name(member.parent, metadata_file or "", basename=True)
    return found.path is not None and absolute_path(found.path) == absolute_path(target)


def _judge(candidates: dict[Path, bytes], made_from: dict[Path, Path]) -> None:
    """Refuse the repair when the validator finds an error code a document did not have.

    Every candidate is validated from its own path with all candidates in place
    (a new companion included); it is compared with the file as it is now (a new
    companion: with the document it was made from). Codes are compared, not
    locations: a repair renames the files that locations name.
    """
    from ometiff.validation.validator import validate

    before: dict[Path, set[str]] = {}
    for path in candidates:
        base = made_from.get(path, path)
        if base not in before:
            try:
                before[base] = {i.code for i in validate(base).errors}
            except OmeTiffError:  # unreadable as it is: every error is new
                before[base] = set()
        after = validate(path, documents=candidates).errors
        new = [f"{i.code} at {i.loc}: {i.message}" for i in after if i.code not in before[base]]
        if new:
            raise refuse(path, new, "repair")


def _is_master(root: _Element, docs: dict[Path, Document]) -> bool:
    """A master OME-TIFF: full metadata that BinaryOnly members point to (M5)."""
    uuid = root.get("UUID")
    return any(
        b.get("UUID") == uuid for d in docs.values() for b in _children(d.root, "BinaryOnly")
    )
