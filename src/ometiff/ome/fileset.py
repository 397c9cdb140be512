"""Multi-file OME-TIFF sets: find every member from any member or the companion.

A set is described by one OME-XML document (embedded in every member, M3, or in a
``.companion.ome`` / master file that BinaryOnly members point to, M4/M5). Its
TiffData ``UUID`` children name the files (M1, M2). This module resolves those
names inside the set's folder only: a FileName that is absolute or climbs out of
the folder is reported (``escapes``) and never opened. Old absolute names are
retried by basename inside the folder, as Bio-Formats does (N2).
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING

from ometiff.errors import OmeTiffError, OmeXmlError
from ometiff.ome.view import OmeView, parse_ome
from ometiff.ome.xml import is_ome_xml
from ometiff.tiff.names import COMPANION_SUFFIX, TIFF_SUFFIXES
from ometiff.tiff.structure import inspect_tiff, is_tiff, read_description

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

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
    refused: str | None = None  # why it was not opened (see :func:`resolve_name`)
    absolute: bool = False  # FileName is an absolute path (M2)


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
        """For :func:`ometiff.ome.planemap.plane_map`: the IFD count of the file a TiffData names."""
        member = self.member_for(uuid, filename)
        if member is None or member.path is None or not member.exists:
            return None
        return self.ifd_count_of(member.path)

    @property
    def missing(self) -> tuple[Member, ...]:
        """Members named by the metadata that are not there."""
        return tuple(m for m in self.members if not m.exists)

    @property
    def refused(self) -> tuple[Member, ...]:
        """Members named outside the set's folder: never opened (``Member.refused`` says why)."""
        return tuple(m for m in self.members if m.refused is not None)

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


def absolute_path(path: StrPath) -> Path:
    """``path`` made absolute without following links: the key of candidate documents."""
    return Path(os.path.abspath(path))


def inside_folder(path: Path, folder: Path) -> bool:
    """True when ``path``, with every symbolic link followed, lies inside ``folder``.

    The one containment test of the package: a name that climbs out with ``..``,
    an absolute path elsewhere and a symbolic link that points out all fail it.
    A path that does not exist (yet) is judged by its normalised name.
    """
    real = Path(os.path.realpath(path))
    base = Path(os.path.realpath(folder))
    return real == base or base in real.parents


@dataclass(frozen=True, slots=True)
class Resolved:
    """Where a name written in the metadata (UUID@FileName, BinaryOnly@MetadataFile) leads.

    ``path`` is the only file a command may open for that name: inside the
    folder (symbolic links followed), or None when the name was refused
    (``refused`` says why, for a finding or a one-line error).
    """

    name: str
    path: Path | None
    refused: str | None = None
    absolute: bool = False  # the name is an absolute path (M2: write it relative)
    by_basename: bool = False  # the named file is not there; found by its base name (N2)

    @property
    def exists(self) -> bool:
        """A safe path that names an existing file."""
        return self.path is not None and self.path.is_file()


def resolve_name(
    folder: Path, name: str, *, basename: bool = False, virtual: Collection[Path] = ()
) -> Resolved:
    """Resolve a file name written in OME-XML inside ``folder``; never leave it.

    - a relative name is taken from ``folder``; one that climbs out (``..``) or is
      a symbolic link pointing out of the folder is refused;
    - an absolute name is used only when it lies inside the folder; otherwise its
      base name is looked up in the folder, as Bio-Formats does for the absolute
      paths old writers stored (N2), else it is refused;
    - ``basename``: a relative name whose file is missing is also looked up by its
      base name (a BinaryOnly MetadataFile whose companion sits beside the member);
    - ``virtual``: files about to be written (a new companion), as :func:`absolute_path`,
      count as existing.
    """
    text = name.replace("\\", "/")
    posix = PurePosixPath(text)
    absolute = posix.is_absolute() or PureWindowsPath(name).is_absolute()

    def exists(path: Path) -> bool:
        return absolute_path(path) in virtual or path.is_file()

    def by_base() -> Path | None:
        base = folder / posix.name
        if posix.name not in ("", ".", "..") and exists(base) and inside_folder(base, folder):
            return base
        return None

    if not text or not posix.name:
        return Resolved(name, None, "is empty or names a folder")
    if absolute:
        named = Path(text)
        if posix.is_absolute() and inside_folder(named, folder) and exists(named):
            return Resolved(name, named, absolute=True)
        found = by_base()
        if found is not None:
            return Resolved(name, found, absolute=True, by_basename=True)
        return Resolved(name, None, "is an absolute path outside the set's folder", absolute=True)
    named = folder / Path(*posix.parts)
    if not inside_folder(named, folder):
        climbs = posixpath.normpath(text).split("/")[0] == ".."
        why = (
            "climbs out of the set's folder"
            if climbs
            else ("is a symbolic link to a file outside the set's folder")
        )
        return Resolved(name, None, why)
    if basename and len(posix.parts) > 1 and not exists(named):
        found = by_base()
        if found is not None:
            return Resolved(name, found, by_basename=True)
    return Resolved(name, named)


def _read_xml_file(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def resolve_fileset(
    path: StrPath,
    *,
    planes: bool = True,
    parsed: OmeView | None = None,
    documents: Mapping[Path, str | bytes] | None = None,
) -> FileSet:
    """Resolve the OME-TIFF set that ``path`` (a member or a companion) belongs to.

    ``planes`` is passed to :func:`~ometiff.ome.view.parse_ome`; ``parsed`` is the
    entry file's already parsed OME-XML (the validator parses it once itself).
    ``documents`` maps files to the OME-XML they would hold (candidate documents
    judged before they are written): it stands in for a TIFF's ImageDescription or
    a companion's content, and a companion named there need not exist yet.

    Every file is looked up with :func:`resolve_name`: nothing outside the folder
    of the file that names it is ever opened.

    Raises
    ------
    OmeXmlError
        The file has no OME-XML, or a BinaryOnly member's metadata file is missing
        or outside the folder.
    """
    entry = Path(path)
    folder = entry.parent
    docs = {absolute_path(k): v for k, v in (documents or {}).items()}
    virtual = frozenset(docs)

    def description(p: Path) -> str | None:
        doc = docs.get(absolute_path(p))
        return read_description(p) if doc is None else _text(doc)

    def xml_file(p: Path) -> str:
        doc = docs.get(absolute_path(p))
        return _read_xml_file(p) if doc is None else _text(doc)

    def tiff(p: Path) -> bool:
        return p.is_file() and is_tiff(p)

    if tiff(entry):
        xml = description(entry)
        if xml is None or not is_ome_xml(xml):
            raise OmeXmlError(f"{entry}: no OME-XML in the first IFD's ImageDescription")
        ome = parsed if parsed is not None else parse_ome(xml, source=str(entry), planes=planes)
        metadata_path = entry
        kind = "single"
        if ome.binary_only is not None:
            # M4: a partial-metadata member; the full metadata lives elsewhere.
            name = ome.binary_only.metadata_file
            if not name:
                raise OmeXmlError(f"{entry}: BinaryOnly without MetadataFile (M4)")
            found = resolve_name(folder, name, basename=True, virtual=virtual)
            if found.path is None:
                raise OmeXmlError(
                    f"{entry}: BinaryOnly MetadataFile {name!r} {found.refused}; not opened"
                )
            meta = found.path
            if not (absolute_path(meta) in virtual or meta.is_file()):
                raise OmeXmlError(
                    f"{entry}: its metadata file {name!r} is missing (BinaryOnly, M4)"
                )
            if tiff(meta):
                xml = description(meta) or ""
                kind = "master"
            else:
                xml = xml_file(meta)
                kind = "companion"
            ome = parse_ome(xml, source=str(meta), planes=planes)
            metadata_path = meta
    else:
        xml = xml_file(entry)
        ome = parsed if parsed is not None else parse_ome(xml, source=str(entry), planes=planes)
        metadata_path = entry
        kind = "companion"
    base = metadata_path.parent
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
                found = resolve_name(base, td.filename)
            else:
                # M2: no FileName: scan the folder for a file with that UUID.
                if by_uuid is None:
                    by_uuid = scan_uuids(base, docs)
                hit = by_uuid.get(td.uuid or "")
                found = Resolved(hit.name if hit else f"<UUID {td.uuid}>", hit)
            resolved = found.path
            members.append(
                Member(
                    td.filename or found.name,
                    td.uuid,
                    resolved,
                    resolved is not None and resolved.is_file(),
                    found.refused is not None,
                    found.by_basename,
                    found.refused,
                    found.absolute,
                )
            )
    if kind == "single" and len(members) > 1:
        kind = "embedded"
    # The entry file itself is always a member; put it first for 'single'.
    if kind == "single" and members and members[0].path != entry:
        members.insert(0, Member(entry.name, ome.uuid, entry, True, False, False))
    return FileSet(entry, metadata_path, xml, ome, tuple(members), kind, ())


#: Files a set may consist of: TIFFs (classic and BigTIFF suffixes) and companions (M5).
SET_SUFFIXES = (*TIFF_SUFFIXES, COMPANION_SUFFIX)


def is_set_file(path: Path) -> bool:
    """A TIFF or companion file in its folder (a link pointing out of it is never read)."""
    return (
        path.name.lower().endswith(SET_SUFFIXES)
        and path.is_file()
        and inside_folder(path, path.parent)
    )


def file_uuid(path: Path) -> str | None:
    """The OME@UUID of a TIFF member or of a companion file (None: none, or unreadable)."""
    if is_tiff(path):
        return root_uuid(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(65536).decode("utf-8", "replace")
    except OSError:
        return None
    return root_uuid_in(head)


def scan_uuids(
    folder: Path, documents: Mapping[Path, str | bytes] | None = None, *, limit: int = 10000
) -> dict[str, Path]:
    """OME@UUID -> file for the TIFFs and companions in ``folder`` (M1; M2 without FileName).

    ``documents`` (keys as :func:`absolute_path`) stand in for files' stored OME-XML.
    The first file with a UUID wins; at most ``limit`` files are looked at.
    """
    out: dict[str, Path] = {}
    docs = documents or {}
    for n, candidate in enumerate(sorted(folder.iterdir())):
        if n >= limit:
            break
        if is_set_file(candidate):
            doc = docs.get(absolute_path(candidate))
            uuid = file_uuid(candidate) if doc is None else root_uuid_in(_text(doc))
            if uuid:
                out.setdefault(uuid, candidate)
    return out
