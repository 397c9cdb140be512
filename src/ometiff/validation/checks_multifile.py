"""Rules about multi-file sets: UUID/FileName links, BinaryOnly and companions (4.7).

Files are only ever opened inside the set's folder: a FileName or MetadataFile that
is absolute, climbs out of the folder or is a symbolic link pointing out of it is a
finding (``M2-path-escapes``) and is never read (the resolution itself is
:func:`ometiff.ome.fileset.resolve_name`).
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from ometiff.errors import OmeTiffError
from ometiff.ome.fileset import absolute_path, resolve_name, root_uuid_in
from ometiff.ome.xml import is_ome_xml, parse_xml
from ometiff.validation.context import Context, Issue, error, warning

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator
    from pathlib import Path

_ROOT_UUID = re.compile(r"(<(?:\w+:)?OME\b[^>]*?)\s+UUID\s*=\s*([\"'])[^\"']*\2", re.S)
#: BinaryOnly members are tiny; anything larger is not parsed for the M4 link check.
_SMALL_XML = 1 << 20


def _root_uuid(ctx: Context, path: Path) -> str | None:
    structure = ctx.structures.get(path)
    desc = structure.description if structure is not None else None
    return root_uuid_in(desc) if desc else None


def _links(ctx: Context) -> dict[tuple[str | None, str | None], int]:
    """Distinct (UUID, FileName) pairs of all TiffData -> number of TiffData using it
    (computed once per validation: two checks ask)."""
    cached = ctx.cache.get("tiffdata_links")
    if cached is not None:
        return dict(cached)
    links: dict[tuple[str | None, str | None], int] = {}
    for image in ctx.images():
        for *_, uuid, filename in image.tiffdata:
            if uuid is None and filename is None:
                continue
            key = (uuid, filename)
            links[key] = links.get(key, 0) + 1
    ctx.cache["tiffdata_links"] = dict(links)
    return links


def check_members(ctx: Context) -> Iterator[Issue]:
    """M1: every referenced file is present and carries the UUID the metadata expects."""
    fs = ctx.fileset
    if fs is None or not ctx.is_ome_tiff:
        return
    meta = ctx.metadata_name
    for member in fs.members:
        loc = f"{meta}: UUID FileName={member.filename!r}"
        if member.refused is not None:
            yield error(
                "M2-path-escapes",
                loc,
                f"the FileName {member.refused}; it was not opened. Write member names "
                "relative to the folder of the metadata file",
            )
        elif not member.exists:
            yield error(
                "M1-missing-member",
                loc,
                f"the set member {member.filename!r} is missing from {fs.metadata_path.parent}; "
                "its planes cannot be read: restore the file or fix FileName/UUID",
            )
        elif member.absolute:
            yield warning(
                "M2-absolute-path",
                loc,
                "the FileName is an absolute path"
                + (
                    "; it was found by its base name in the set's folder (as Bio-Formats does)"
                    if member.by_basename
                    else ""
                )
                + ": write the relative name",
            )
    actual: dict[Path, str | None] = {}
    for (uuid, filename), _count in _links(ctx).items():
        if uuid is None:
            continue
        linked = ctx.member_of(uuid, filename)
        if linked is None or linked.path is None or not linked.exists:
            continue
        member, mpath = linked, linked.path
        if mpath not in actual:
            actual[mpath] = _root_uuid(ctx, mpath)
        found = actual[mpath]
        if found is not None and found != uuid:
            yield error(
                "M1-uuid-mismatch",
                f"{meta}: UUID FileName={filename!r}",
                f"TiffData expects UUID {uuid} but {mpath.name} has OME@UUID {found}; "
                "readers stop with 'Unmatched UUID': make the UUIDs agree",
            )
        elif found is None and ctx.structure_of(member) is not None:
            yield warning(
                "M1-member-without-uuid",
                f"{mpath.name}: OME",
                f"{mpath.name} has no OME@UUID, so the link by UUID {uuid} cannot be checked",
            )
    seen: dict[str, Path] = {}
    for path, uuid in actual.items():
        if uuid is None:
            continue
        if uuid in seen and seen[uuid] != path:
            yield warning(
                "M1-duplicate-uuid",
                path.name,
                f"{path.name} and {seen[uuid].name} share OME@UUID {uuid}; every file needs its own",
            )
        seen.setdefault(uuid, path)


def check_filenames(ctx: Context) -> Iterator[Issue]:
    """M2: FileName present; one UUID names one file and one file one UUID."""
    if not ctx.is_ome_tiff:
        return
    by_uuid: dict[str, set[str]] = {}
    by_name: dict[str, set[str]] = {}
    missing_names = 0
    for uuid, filename in _links(ctx):
        if uuid is not None and filename is None:
            missing_names += 1
        if uuid is not None and filename is not None:
            by_uuid.setdefault(uuid, set()).add(filename)
            by_name.setdefault(filename, set()).add(uuid)
    meta = ctx.metadata_name
    if missing_names:
        yield warning(
            "M2-no-filename",
            f"{meta}: TiffData/UUID",
            f"{missing_names} UUID(s) without FileName: readers must scan the folder for matching "
            "files; add FileName",
        )
    for uuid, names in by_uuid.items():
        if len(names) > 1:
            yield error(
                "M2-inconsistent-filenames",
                f"{meta}: TiffData/UUID {uuid}",
                f"one UUID names several files ({', '.join(sorted(names))}); Bio-Formats stops "
                "with 'Inconsistent filenames for UUID': give each file its own UUID",
            )
    for name, uuids in by_name.items():
        if len(uuids) > 1:
            yield error(
                "M2-inconsistent-uuids",
                f"{meta}: TiffData/UUID FileName={name!r}",
                f"the file {name!r} is named with {len(uuids)} different UUIDs; use its OME@UUID",
            )


def binaryonly_link(
    member: Path,
    metadata_file: str | None,
    uuid: str | None,
    metadata: Path | None,
    *,
    virtual: Collection[Path] = (),
) -> tuple[list[Issue], bool]:
    """M4 findings for one BinaryOnly member's link to its metadata file.

    ``metadata`` is the set's metadata file when it is known (None while the set is
    still being found from this member). Returns the findings and whether the link
    is broken beyond use (the set cannot be reached from this member). Validation
    from the member and from the companion both call this, so the same set gets the
    same findings whichever file is the entry.
    """
    loc = f"{member.name}: OME/BinaryOnly"
    if not metadata_file:
        return [
            error(
                "M4-no-metadata-file",
                loc,
                "BinaryOnly has no MetadataFile: name the companion or master file",
            )
        ], True
    found = resolve_name(member.parent, metadata_file, basename=True, virtual=virtual)
    if found.path is None:
        return [
            error(
                "M2-path-escapes",
                loc,
                f"MetadataFile {metadata_file!r} {found.refused}; it was not opened. "
                "Use a name relative to this file's folder",
            )
        ], True
    if not (absolute_path(found.path) in virtual or found.path.is_file()):
        return [
            error(
                "M4-metadata-file-missing",
                loc,
                f"the metadata file {metadata_file!r} this member points to is missing; copy it "
                "next to this file or fix MetadataFile",
            )
        ], True
    issues: list[Issue] = []
    if not uuid:
        issues.append(
            error(
                "M4-incomplete",
                loc,
                "BinaryOnly needs both MetadataFile and UUID (of the metadata file)",
            )
        )
    if found.absolute:
        issues.append(
            warning(
                "M2-absolute-path",
                loc,
                f"MetadataFile {metadata_file!r} is an absolute path"
                + (
                    f"; it was found by its base name {found.path.name!r} in this file's folder"
                    if found.by_basename
                    else ""
                )
                + ": write the name relative to this file's folder",
            )
        )
    elif found.by_basename:
        issues.append(
            error(
                "M4-metadata-file-missing",
                loc,
                f"MetadataFile {metadata_file!r} is not there, seen from this file's folder; "
                f"{found.path.name!r} beside it was used (readers that open this file will not "
                f"find it): write {found.path.name!r} (`ometiff repair` does)",
            )
        )
    if metadata is not None and not _same_file(found.path, metadata):
        issues.append(
            warning(
                "M4-metadata-file",
                loc,
                f"MetadataFile={metadata_file!r} but the set's metadata is in {metadata.name}",
            )
        )
    return issues, False


def _same_file(a: Path, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def check_binaryonly(ctx: Context) -> Iterator[Issue]:
    """M4: BinaryOnly members point back to the set's metadata file and its UUID."""
    fs = ctx.fileset
    if fs is None or ctx.kind not in ("companion", "master"):
        return
    meta_uuid = fs.ome.uuid
    for path, structure in ctx.structures.items():
        if structure is None or path == fs.metadata_path:
            continue
        desc = structure.description
        if not desc or "BinaryOnly" not in desc or len(desc) > _SMALL_XML:
            continue
        try:
            root = parse_xml(desc, source=path.name)
        except OmeTiffError:
            continue  # X2 is reported for the entry; a broken member XML is M4 below
        bo = next(
            (c for c in root if isinstance(c.tag, str) and c.tag.endswith("BinaryOnly")), None
        )
        if bo is None:
            continue
        issues, _ = binaryonly_link(
            path,
            bo.get("MetadataFile"),
            bo.get("UUID"),
            fs.metadata_path,
            virtual=ctx.documents.keys(),
        )
        yield from issues
        if meta_uuid is not None and bo.get("UUID") and bo.get("UUID") != meta_uuid:
            yield error(
                "M4-uuid-mismatch",
                f"{path.name}: OME/BinaryOnly",
                f"BinaryOnly UUID {bo.get('UUID')} is not the metadata file's OME@UUID {meta_uuid}; "
                "the UUID is authoritative: make them agree",
            )


def check_companion(ctx: Context) -> Iterator[Issue]:
    """M5: a metadata-only companion carries OME@UUID."""
    fs = ctx.fileset
    if fs is None or ctx.kind != "companion":
        return
    if not fs.ome.uuid:
        yield error(
            "M5-no-uuid",
            f"{fs.metadata_path.name}: OME",
            "a companion OME-XML file must carry OME@UUID (BinaryOnly members point at it)",
        )


def _without_root_uuid(xml: str) -> str:
    return _ROOT_UUID.sub(r"\1", xml, count=1).strip()


def check_embedded_copies(ctx: Context) -> Iterator[Issue]:
    """M3: in the embedded layout every member carries the same OME-XML (modulo OME@UUID)."""
    fs = ctx.fileset
    if fs is None or ctx.kind != "embedded" or ctx.xml is None:
        return
    reference = _without_root_uuid(ctx.xml)
    for path, structure in ctx.structures.items():
        if structure is None or path == fs.metadata_path:
            continue
        desc = structure.description
        if desc is None or not is_ome_xml(desc):
            yield warning(
                "M3-no-metadata",
                f"{path.name}: IFD 0/tag 270",
                "this member carries no OME-XML; with the embedded layout every file should hold "
                "the full metadata (or BinaryOnly pointing at a companion)",
            )
            continue
        if "BinaryOnly" in desc[:4096]:
            continue
        if _without_root_uuid(desc) != reference:
            yield warning(
                "M3-copies-differ",
                f"{path.name}: IFD 0/tag 270",
                f"the OME-XML in {path.name} differs from the one in {fs.metadata_path.name} by "
                "more than OME@UUID; readers that open another member see other metadata: "
                "write the same document into every file",
            )
