"""Multi-file OME-TIFF sets: find every member from any member or the companion.

A set is described by one OME-XML document (embedded in every member, M3, or in a
``.companion.ome`` / master file that BinaryOnly members point to, M4/M5). Its
TiffData ``UUID`` children name the files (M1, M2). This module resolves those
names inside the set's folder only: a FileName that is absolute or climbs out of
the folder is reported (``escapes``) and never opened. Old absolute names are
retried by basename inside the folder, as Bio-Formats does (N2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING

from ometiff.errors import OmeTiffError, OmeXmlError
from ometiff.ome.view import OmeView, parse_ome
from ometiff.tiff.structure import inspect_tiff, is_tiff, read_description

if TYPE_CHECKING:
    from ometiff.types import StrPath

_UUID_ATTR = re.compile(r"<(?:\w+:)?OME\b[^>]*?\sUUID\s*=\s*[\"']([^\"']+)[\"']", re.S)


@dataclass(frozen=True, slots=True)
class Member:
    """One file named by the set's TiffData (or the entry file itself)."""

    filename: str  # as written in UUID@FileName (or the entry file's name)
    uuid: str | None  # the UUID the metadata expects
    path: Path | None  # resolved path inside the folder, None when it escapes it
    exists: bool
    escapes: bool  # FileName points outside the set's folder (never opened)
    by_basename: bool  # found only by stripping a directory from FileName (N2)


@dataclass
class FileSet:
    """A resolved OME-TIFF file set."""

    entry: Path
    metadata_path: Path
    xml: str
    ome: OmeView
    members: tuple[Member, ...]
    kind: str  # "single", "embedded", "companion", "master"
    problems: tuple[str, ...] = ()

    @cached_property
    def _ifd_counts(self) -> dict[Path, int | None]:
        return {}

    def prime_ifd_count(self, path: Path, count: int) -> None:
        """Record a member's IFD count already known to the caller (saves a walk)."""
        self._ifd_counts[path] = count

    def ifd_count_of(self, path: Path) -> int | None:
        """IFDs in a member's main chain (None when unreadable)."""
        counts = self._ifd_counts
        if path not in counts:
            try:
                counts[path] = inspect_tiff(path).ifd_count
            except OmeTiffError:  # a damaged member is reported, not fatal
                counts[path] = None
        return counts[path]

    def member_for(self, uuid: str | None, filename: str | None) -> Member | None:
        """The member a TiffData points at (both None: the file holding the XML)."""
        if uuid is None and filename is None:
            return self.members[0] if self.members else None
        for m in self.members:
            if filename is not None and m.filename == filename:
                return m
        for m in self.members:
            if uuid is not None and m.uuid == uuid:
                return m
        return None

    def ifd_count(self, uuid: str | None, filename: str | None) -> int | None:
        """For :func:`ometiff.ome.view.plane_map`: the IFD count of the file a TiffData names."""
        member = self.member_for(uuid, filename)
        if member is None or member.path is None or not member.exists:
            return None
        return self.ifd_count_of(member.path)

    @property
    def missing(self) -> tuple[Member, ...]:
        """Members named by the metadata that are not there."""
        return tuple(m for m in self.members if not m.exists)

    @property
    def is_multifile(self) -> bool:
        """More than one file in the set (or a companion)."""
        return len(self.members) > 1 or self.kind in ("companion", "master")


def root_uuid(path: Path) -> str | None:
    """The OME@UUID of a TIFF member (cheap: regex over its description)."""
    try:
        desc = read_description(path)
    except OmeTiffError:  # unreadable member: no UUID
        return None
    return root_uuid_in(desc) if desc else None


def root_uuid_in(description: str) -> str | None:
    """The OME@UUID written in an OME-XML text (regex on the root tag; no parse)."""
    m = _UUID_ATTR.search(description[:8192]) or _UUID_ATTR.search(description)
    return m.group(1) if m else None


def _resolve(folder: Path, filename: str) -> tuple[Path | None, bool, bool]:
    """(path, escapes, by_basename) for a FileName inside ``folder``."""
    posix = PurePosixPath(filename.replace("\\", "/"))
    is_abs = posix.is_absolute() or PureWindowsPath(filename).is_absolute()
    if not is_abs and ".." not in posix.parts:
        return folder / Path(*posix.parts), False, False
    # N2: old writers stored absolute paths; Bio-Formats retries the basename.
    candidate = folder / posix.name
    if posix.name and candidate.is_file():
        return candidate, False, True
    return None, True, False


def _read_xml_file(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def resolve_fileset(
    path: StrPath, *, planes: bool = True, parsed: OmeView | None = None
) -> FileSet:
    """Resolve the OME-TIFF set that ``path`` (a member or a companion) belongs to.

    ``planes`` is passed to :func:`~ometiff.ome.view.parse_ome`; ``parsed`` is the
    entry file's already parsed OME-XML (the validator parses it once itself).

    Raises
    ------
    OmeXmlError
        The file has no OME-XML, or a BinaryOnly member's metadata file is missing.
    """
    entry = Path(path)
    folder = entry.parent
    problems: list[str] = []
    if is_tiff(entry):
        xml = read_description(entry)
        if xml is None or "<OME" not in xml:
            raise OmeXmlError(f"{entry}: no OME-XML in the first IFD's ImageDescription")
        ome = parsed if parsed is not None else parse_ome(xml, source=str(entry), planes=planes)
        metadata_path = entry
        kind = "single"
        if ome.binary_only is not None:
            # M4: a partial-metadata member; the full metadata lives elsewhere.
            name = ome.binary_only.metadata_file
            if not name:
                raise OmeXmlError(f"{entry}: BinaryOnly without MetadataFile (M4)")
            meta, escapes, _ = _resolve(folder, name)
            if meta is None or escapes:
                raise OmeXmlError(
                    f"{entry}: BinaryOnly MetadataFile {name!r} points outside the folder; not opened"
                )
            if not meta.is_file():
                raise OmeXmlError(
                    f"{entry}: its metadata file {name!r} is missing (BinaryOnly, M4)"
                )
            if is_tiff(meta):
                master_xml = read_description(meta) or ""
                kind = "master"
            else:
                master_xml = _read_xml_file(meta)
                kind = "companion"
            xml = master_xml
            ome = parse_ome(xml, source=str(meta), planes=planes)
            metadata_path = meta
    else:
        xml = _read_xml_file(entry)
        ome = parsed if parsed is not None else parse_ome(xml, source=str(entry), planes=planes)
        metadata_path = entry
        kind = "companion"
    members: list[Member] = []
    seen: set[str] = set()
    if kind == "single":
        members.append(Member(entry.name, ome.uuid, entry, True, False, False))
        seen.add(entry.name)
    by_uuid: dict[str, Path] | None = None
    for image in ome.images:
        for td in image.tiffdata:
            if td.uuid is None and td.filename is None:
                continue
            if kind == "single" and td.uuid is not None and td.uuid == ome.uuid:
                continue  # M1: "permissible for this to be self referential"
            key = td.filename or f"uuid:{td.uuid}"
            if key in seen:
                continue
            seen.add(key)
            if td.filename is not None:
                resolved, escapes, by_base = _resolve(metadata_path.parent, td.filename)
            else:
                # M2: no FileName: scan the folder for a file with that UUID.
                if by_uuid is None:
                    by_uuid = _scan_uuids(metadata_path.parent)
                resolved = by_uuid.get(td.uuid or "")
                escapes, by_base = False, False
            exists = resolved is not None and resolved.is_file()
            members.append(
                Member(
                    td.filename or (resolved.name if resolved else f"<UUID {td.uuid}>"),
                    td.uuid,
                    resolved,
                    exists,
                    escapes,
                    by_base,
                )
            )
    if kind == "single" and len(members) > 1:
        kind = "embedded"
    # The entry file itself is always a member; put it first for 'single'.
    if kind == "single" and members and members[0].path != entry:
        members.insert(0, Member(entry.name, ome.uuid, entry, True, False, False))
    return FileSet(entry, metadata_path, xml, ome, tuple(members), kind, tuple(problems))


def _scan_uuids(folder: Path, limit: int = 10000) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for n, candidate in enumerate(sorted(folder.iterdir())):
        if n >= limit:
            break
        name = candidate.name.lower()
        if candidate.is_file() and (
            ".ome.tif" in name or name.endswith((".ome.tf2", ".ome.tf8", ".ome.btf"))
        ):
            uuid = root_uuid(candidate)
            if uuid:
                out.setdefault(uuid, candidate)
    return out
