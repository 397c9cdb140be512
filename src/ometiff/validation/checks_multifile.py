"""Rules about multi-file sets: UUID/FileName links, BinaryOnly and companions (4.7).

Files are only ever opened inside the set's folder: a FileName that is absolute
or climbs out of the folder is a finding (``M2-path-escapes``) and is never read
(the resolution itself lives in :mod:`ometiff.ome.fileset`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ometiff.errors import OmeTiffError
from ometiff.ome.fileset import root_uuid_in
from ometiff.ome.xml import is_ome_xml, parse_xml
from ometiff.validation.context import Context, Issue, error, warning

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

_ROOT_UUID = re.compile(r"(<(?:\w+:)?OME\b[^>]*?)\s+UUID\s*=\s*([\"'])[^\"']*\2", re.S)
#: BinaryOnly members are tiny; anything larger is not parsed for the M4 link check.
_SMALL_XML = 1 << 20


def _root_uuid(ctx: Context, path: Path) -> str | None:
    structure = ctx.structures.get(path)
    desc = structure.description if structure is not None else None
    return root_uuid_in(desc) if desc else None


def _links(ctx: Context) -> dict[tuple[str | None, str | None], int]:
    """Distinct (UUID, FileName) pairs of all TiffData -> number of TiffData using it."""
    links: dict[tuple[str | None, str | None], int] = {}
    for image in ctx.images():
        for td in image.tiffdata:
            if td.uuid is None and td.filename is None:
                continue
            key = (td.uuid, td.filename)
            links[key] = links.get(key, 0) + 1
    return links


def check_members(ctx: Context) -> Iterator[Issue]:
    """M1: every referenced file is present and carries the UUID the metadata expects."""
    fs = ctx.fileset
    if fs is None or not ctx.is_ome_tiff:
        return
    meta = ctx.metadata_name
    for member in fs.members:
        if member.escapes:
            yield error(
                "M2-path-escapes",
                f"{meta}: UUID FileName={member.filename!r}",
                "the FileName points outside the set's folder; it was not opened. Write "
                "member names relative to the folder of the metadata file",
            )
        elif not member.exists:
            yield error(
                "M1-missing-member",
                f"{meta}: UUID FileName={member.filename!r}",
                f"the set member {member.filename!r} is missing from {fs.metadata_path.parent}; "
                "its planes cannot be read: restore the file or fix FileName/UUID",
            )
        elif member.by_basename:
            yield warning(
                "M2-absolute-path",
                f"{meta}: UUID FileName={member.filename!r}",
                "the FileName is an absolute path; it was found by its base name in the set's "
                "folder (as Bio-Formats does): write the relative name",
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
        loc = f"{path.name}: OME/BinaryOnly"
        if not bo.get("MetadataFile") or not bo.get("UUID"):
            yield error(
                "M4-incomplete",
                loc,
                "BinaryOnly needs both MetadataFile and UUID (of the metadata file)",
            )
            continue
        if bo.get("MetadataFile") != fs.metadata_path.name and not str(
            bo.get("MetadataFile")
        ).endswith("/" + fs.metadata_path.name):
            yield warning(
                "M4-metadata-file",
                loc,
                f"MetadataFile={bo.get('MetadataFile')!r} but the set's metadata is in "
                f"{fs.metadata_path.name}",
            )
        if meta_uuid is not None and bo.get("UUID") != meta_uuid:
            yield error(
                "M4-uuid-mismatch",
                loc,
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
