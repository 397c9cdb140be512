"""Safe in-place metadata edits: ``meta_get``, ``meta_set``, ``meta_replace``.

Fields are edited on the lxml tree of the stored document, so everything the
edit does not touch (unknown annotations, attribute order, comments) is kept.
Every edited document is judged by the validator before it is written
(:func:`validator_findings`): an edit that would add an error the file did not
have -- a schema error (S7/S8), Pixels that disagree with the IFDs (D5), TiffData
that no longer resolve (T2-T5, M1), channels that do not add up to SizeC (R2) --
is refused with that finding and nothing is written. Nothing outside the set's
folder is read or written (members are found by
:func:`ometiff.ome.fileset.resolve_name`; :func:`check_target` refuses links out). Pixel data are never rewritten: a TIFF's
ImageDescription is swapped crash-safely by :mod:`ometiff.tiff.patch`; a
companion file (M5) is replaced with a temporary file and a rename.

On a multi-file set the edit reaches every copy of the metadata: every member of
an embedded set (M3, each keeps its own OME@UUID), or the companion / master
file of a BinaryOnly set (M4).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lxml import etree

from ometiff.errors import (
    FileAccessError,
    MissingFileError,
    OmeXmlError,
    ValidationError,
    file_error,
)
from ometiff.ome.colour import parse_color
from ometiff.ome.units import (
    parse_length,
    parse_time,
)
from ometiff.ome.view import parse_ome
from ometiff.ome.xml import is_ome_xml, local, parse_xml
from ometiff.tiff.names import OME_SUFFIXES, TIFF_SUFFIXES, split_suffix
from ometiff.tiff.structure import is_tiff, read_description

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from lxml.etree import _Element

    from ometiff.ome.fileset import FileSet
    from ometiff.types import StrPath

__all__ = ["EditResult", "FileEdit", "meta_get", "meta_replace", "meta_set"]

_XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>'


# --- results -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileEdit:
    """The edit of one file's metadata."""

    path: Path
    changes: tuple[str, ...]
    written: bool  # False for a dry run or when nothing changed
    in_place: bool | None = None  # TIFF: the new XML took the old value's bytes
    old_bytes: int = 0
    new_bytes: int = 0
    backup: Path | None = None


@dataclass(frozen=True, slots=True)
class EditResult:
    """What an edit (or a repair) did, file by file."""

    edits: tuple[FileEdit, ...]
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        """True when at least one file has (or, in a dry run, would have) changed."""
        return any(e.changes for e in self.edits)


# --- documents -----------------------------------------------------------------


@dataclass
class Document:
    """One stored copy of the metadata: a TIFF's IFD0 description or a companion file."""

    path: Path
    text: str
    root: _Element
    is_tiff: bool
    declaration: bool = True

    def serialize(self, root: _Element | None = None) -> bytes:
        """UTF-8 bytes of ``root`` (default: this document), with its top-level comments."""
        return serialize(self.root if root is None else root, declaration=self.declaration)


def serialize(root: _Element, *, declaration: bool = True) -> bytes:
    """UTF-8 OME-XML (X2) of a tree, keeping comments around the root element."""
    body = etree.tostring(root.getroottree(), encoding="UTF-8", xml_declaration=False)
    return (_XML_DECL.encode() + b"\n" if declaration else b"") + body.strip() + b"\n"


def load_document(path: Path) -> Document:
    """Read and parse the OME-XML stored in ``path`` (a TIFF or an XML file)."""
    if is_tiff(path):
        text = read_description(path)
        if text is None or not is_ome_xml(text):
            raise OmeXmlError(
                f"{path}: no OME-XML in the first IFD's ImageDescription; not an OME-TIFF (X1)"
            )
        tiff = True
    else:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise file_error(path, exc) from exc
        if not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
            raise OmeXmlError(f"{path}: neither a TIFF file nor an OME-XML document")
        text = data.decode("utf-8", "replace")
        tiff = False
    root = parse_xml(text, source=str(path))
    if local(root.tag) != "OME":
        raise OmeXmlError(f"{path}: the XML root is <{local(root.tag)}>, not <OME>")
    return Document(path, text, root, tiff, text.lstrip().startswith("<?xml"))


def copy_tree(root: _Element) -> _Element:
    """A deep copy of a document (keeps the comments before and after the root)."""
    return parse_xml(etree.tostring(root.getroottree(), encoding="UTF-8"))


# --- checks before writing -------------------------------------------------------


_LINE = re.compile(r" \(line \d+\)")


def validator_findings(
    path: Path, root: _Element | None, *, documents: Mapping[Path, bytes] | None = None
) -> list[str]:
    """Errors ``ometiff.validate`` finds from ``path`` with ``root`` stored in it (None: as it is).

    ``documents`` are the other candidate documents of the set (a repair rewriting
    several files, a new companion). Locations lose their line numbers, so findings
    before and after an edit compare equal when the edit did not cause them.
    """
    from ometiff.validation.validator import validate

    docs: dict[Path, str | bytes] = dict(documents or {})
    if root is not None:
        docs[path] = serialize(root)
    report = validate(path, documents=docs)
    return [f"{i.code} at {_LINE.sub('', i.loc)}: {i.message}" for i in report.errors]


def check_target(path: Path) -> None:
    """Refuse, before anything is written, a target that cannot or must not be rewritten.

    A file that is a symbolic link pointing out of its folder is never written
    through: no command changes anything outside the set's folder.
    """
    from ometiff.ome.fileset import inside_folder
    from ometiff.tiff.patch import check_writable

    if not inside_folder(path, path.parent):
        raise FileAccessError(
            f"{path}: is a symbolic link to a file outside its folder; not rewritten "
            "(edit the file itself)"
        )
    check_writable(path)


def refuse(path: Path, problems: list[str], what: str = "edit") -> ValidationError:
    """The error for a refused edit: the first finding, how many more, file untouched."""
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return ValidationError(
        f"{path}: {what} refused, it would make the metadata invalid: {problems[0]}{more}; "
        "the file was not changed"
    )


# --- the set of documents an edit reaches ------------------------------------------


def edit_targets(path: StrPath) -> tuple[FileSet, list[Document]]:
    """Every stored copy of the metadata of the set ``path`` belongs to."""
    from ometiff.ome.fileset import resolve_fileset

    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"{p}: no such file")
    load_document(p)  # a non-TIFF, a non-OME TIFF or broken XML fails here, in one line
    fs = resolve_fileset(p)
    if fs.kind in ("companion", "master"):
        return fs, [load_document(fs.metadata_path)]
    if fs.kind == "single":
        return fs, [load_document(p)]
    refused = [f"{m.filename!r} {m.refused}" for m in fs.refused]
    if refused:
        raise ValidationError(
            f"{p}: member {refused[0]}; not opened, edit refused (no file outside the "
            "set's folder is read or written)"
        )
    missing = [m.filename for m in fs.members if not m.exists]
    if missing:
        raise MissingFileError(
            f"{p}: member file(s) {', '.join(missing[:3])} of this set are missing; "
            "edit refused so the copies stay consistent (run `ometiff repair` on the set)"
        )
    docs = []
    for member in fs.members:
        assert member.path is not None
        doc = load_document(member.path)
        if parse_ome(doc.root).binary_only is None:
            docs.append(doc)
    return fs, docs


def backup_path(path: Path) -> Path:
    """Where ``--backup`` keeps the old XML: ``<name>.ome.xml.bak`` (then ``.bak1``, ...).

    ``cells.ome.tif`` -> ``cells.ome.xml.bak``; ``set.companion.ome`` ->
    ``set.companion.ome.xml.bak``. An existing backup is never overwritten.
    """
    name = path.name
    base = path.with_name(name + ".xml.bak")  # companion: <name>.companion.ome.xml.bak
    parts = split_suffix(name, (*OME_SUFFIXES, *TIFF_SUFFIXES))
    if parts is not None:
        base = path.with_name(parts[0] + ".ome.xml.bak")
    candidate, n = base, 0
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}{n}")
    return candidate


def write_document(
    path: Path,
    data: bytes,
    *,
    is_tiff_file: bool,
    old_text: str,
    backup: bool,
    changes: tuple[str, ...],
) -> FileEdit:
    """Write one document crash-safely (after an optional backup of the old XML)."""
    from ometiff.tiff.patch import write_description, write_text_atomic

    check_target(path)
    saved = None
    if backup:
        saved = backup_path(path)
        write_text_atomic(saved, old_text.rstrip("\x00").encode("utf-8"))
    if is_tiff_file:
        r = write_description(path, data)
        return FileEdit(path, changes, True, r.in_place, r.old_bytes, r.new_bytes, saved)
    old_size = path.stat().st_size
    write_text_atomic(path, data)
    return FileEdit(path, changes, True, None, old_size, len(data), saved)


def apply_to_documents(
    docs: list[Document],
    fs: FileSet | None,
    edit: Callable[[Document, _Element], tuple[_Element, list[str]]],
    *,
    backup: bool,
    dry_run: bool,
    what: str = "edit",
    declaration: bool | None = None,
    verbatim: bytes | None = None,
) -> EditResult:
    """Edit a copy of each document, check all of them, then write them all (or none)."""
    planned: list[tuple[Document, _Element, list[str]]] = []
    for doc in docs:
        new_root, changes = edit(doc, copy_tree(doc.root))
        planned.append((doc, new_root, changes))
    # the whole validator (schema and specification rules) judges each edited document
    # with every other copy of the set edited too; only errors the edit adds refuse it
    candidates = {d.path: serialize(r) for d, r, c in planned if c}
    for doc, _, changes in planned:
        if changes:
            before = set(validator_findings(doc.path, None))
            after = validator_findings(doc.path, None, documents=candidates)
            problems = [f for f in after if f not in before]
            if problems:
                raise refuse(doc.path, problems, what)
    if dry_run:
        return EditResult(
            tuple(FileEdit(d.path, tuple(c), False) for d, _, c in planned), dry_run=True
        )
    for doc, _, changes in planned:
        if changes:
            check_target(doc.path)  # refuse before the first file is touched
    edits = []
    for doc, new_root, changes in planned:
        if not changes:
            edits.append(FileEdit(doc.path, (), False))
            continue
        data = (
            verbatim
            if verbatim is not None
            else serialize(
                new_root, declaration=doc.declaration if declaration is None else declaration
            )
        )
        edits.append(
            write_document(
                doc.path,
                data,
                is_tiff_file=doc.is_tiff,
                old_text=doc.text,
                backup=backup,
                changes=tuple(changes),
            )
        )
    return EditResult(tuple(edits))


# --- field edits -------------------------------------------------------------------


def _fmt(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _children(elem: _Element, name: str) -> list[_Element]:
    return [c for c in elem if local(c.tag) == name]


def _image(root: _Element, series: int, path: Path) -> tuple[_Element, _Element]:
    images = _children(root, "Image")
    if not 0 <= series < len(images):
        raise ValidationError(
            f"{path}: series {series} is out of range (the metadata has {len(images)} Image(s))"
        )
    pixels = _children(images[series], "Pixels")
    if not pixels:
        raise ValidationError(f"{path}: Image {series} has no Pixels element")
    return images[series], pixels[0]


def _set_attr(elem: _Element, name: str, value: str, where: str, changes: list[str]) -> None:
    old = elem.get(name)
    if old != value:
        elem.set(name, value)
        changes.append(f"{where}@{name}: {old!r} -> {value!r}")


_DESCRIPTION_AFTER = ("AcquisitionDate", "ExperimenterRef")


def _set_description(image: _Element, text: str, where: str, changes: list[str]) -> None:
    existing = _children(image, "Description")
    if existing:
        old = existing[0].text
        if old != text:
            existing[0].text = text
            changes.append(f"{where}/Description: {old!r} -> {text!r}")
        return
    ns = image.tag[1:].split("}", 1)[0] if image.tag.startswith("{") else None
    elem = etree.Element(f"{{{ns}}}Description" if ns else "Description")
    elem.text = text
    position = 0  # S8: Description follows AcquisitionDate? and ExperimenterRef?
    for k, child in enumerate(image):
        if local(child.tag) in _DESCRIPTION_AFTER:
            position = k + 1
    image.insert(position, elem)
    changes.append(f"{where}/Description: None -> {text!r}")


def field_editor(
    *,
    path: Path,
    series: int = 0,
    channel_names: Mapping[int, str] | None = None,
    channel_colors: Mapping[int, str | int] | None = None,
    physical_size: Mapping[str, Any] | None = None,
    time_increment: Any = None,
    name: str | None = None,
    description: str | None = None,
) -> Callable[[Document, _Element], tuple[_Element, list[str]]]:
    """Check the requested values once and return the function that applies them to a tree."""
    sizes: dict[str, tuple[float, str]] = {}
    for key, value in (physical_size or {}).items():
        axes = key.strip().upper()
        if not axes or any(a not in "XYZ" for a in axes):
            raise ValidationError(f"physical size: unknown axis {key!r} (use x, y or z)")
        q = parse_length(value, what=f"physical size {key}")  # the parser write() uses
        for axis in axes:
            sizes[axis] = q
    increment = None
    if time_increment is not None:
        increment = parse_time(time_increment, what="time increment")
    colors = {
        int(k): parse_color(v, what=f"channel {k} colour")
        for k, v in (channel_colors or {}).items()
    }
    names = {int(k): str(v) for k, v in (channel_names or {}).items()}

    def edit(doc: Document, root: _Element) -> tuple[_Element, list[str]]:
        changes: list[str] = []
        image, pixels = _image(root, series, path)
        where = f"Image {series}"
        channels = _children(pixels, "Channel")
        for index in sorted({*names, *colors}):
            if not 0 <= index < len(channels):
                raise ValidationError(
                    f"{path}: channel {index} is out of range ({where} has "
                    f"{len(channels)} Channel element(s))"
                )
        for index, value in names.items():
            _set_attr(channels[index], "Name", value, f"{where}/Channel {index}", changes)
        for index, color in colors.items():
            _set_attr(channels[index], "Color", str(color), f"{where}/Channel {index}", changes)
        for axis, (size, unit) in sizes.items():
            _set_attr(pixels, f"PhysicalSize{axis}", _fmt(size), f"{where}/Pixels", changes)
            _set_attr(pixels, f"PhysicalSize{axis}Unit", unit, f"{where}/Pixels", changes)
        if increment is not None:
            _set_attr(pixels, "TimeIncrement", _fmt(increment[0]), f"{where}/Pixels", changes)
            _set_attr(pixels, "TimeIncrementUnit", increment[1], f"{where}/Pixels", changes)
        if name is not None:
            _set_attr(image, "Name", name, where, changes)
        if description is not None:
            _set_description(image, description, where, changes)
        return root, changes

    return edit


# --- public API ---------------------------------------------------------------------


def meta_get(path: StrPath, *, raw: bool = False) -> str:
    """The OME-XML of a file: for a BinaryOnly member, its companion's (unless ``raw``).

    Raises
    ------
    OmeTiffError
        Not a TIFF or XML file, or no OME-XML in it.
    """
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"{p}: no such file")
    doc = load_document(p)
    if raw or parse_ome(doc.root).binary_only is None:
        return doc.text.rstrip("\x00")
    _, docs = edit_targets(p)
    return docs[0].text.rstrip("\x00")


def meta_set(
    path: StrPath,
    *,
    series: int = 0,
    channel_names: Mapping[int, str] | None = None,
    channel_colors: Mapping[int, str | int] | None = None,
    physical_size: Mapping[str, Any] | None = None,
    time_increment: Any = None,
    name: str | None = None,
    description: str | None = None,
    backup: bool = False,
    dry_run: bool = False,
) -> EditResult:
    """Edit metadata fields of an OME-TIFF (or of every copy in its file set), safely.

    Parameters
    ----------
    path
        A member of the set or its companion file.
    series
        The Image to edit (0-based).
    channel_names, channel_colors
        ``{channel index: value}``; colours as ``'#RRGGBB'``, ``'#RRGGBBAA'``, a
        colour name or a signed RGBA integer (R4).
    physical_size
        ``{'x': '0.325µm', 'y': (0.325, 'um'), 'z': 1.5}``: the values
        ``ometiff.write(physical_size=...)`` takes (:func:`ometiff.ome.units.parse_length`);
        units are written as the schema's symbols (U1, ``um``/``micron`` -> ``µm``);
        a bare number is µm.
    time_increment
        ``'2s'``, ``'500 ms'``, ``(2, 's')`` or seconds.
    name, description
        Image name and description.
    backup
        Keep the old XML next to each edited file (see :func:`backup_path`).
    dry_run
        Check and report the changes without writing anything.

    Raises
    ------
    InvalidValueError
        A length, time or colour that cannot be understood (as ``ometiff.write``).
    ValidationError
        Another value is invalid or the edit would make the metadata invalid;
        nothing is written.
    """
    p = Path(path)
    edit = field_editor(
        path=p,
        series=series,
        channel_names=channel_names,
        channel_colors=channel_colors,
        physical_size=physical_size,
        time_increment=time_increment,
        name=name,
        description=description,
    )
    fs, docs = edit_targets(p)
    return apply_to_documents(docs, fs, edit, backup=backup, dry_run=dry_run)


def meta_replace(
    path: StrPath, xml: str | bytes, *, backup: bool = False, dry_run: bool = False
) -> EditResult:
    """Replace the whole OME-XML of a file (or of every copy in its set), safely.

    In an embedded set (M3) every member receives the document with its own
    OME@UUID; in a BinaryOnly set (M4) the companion or master is replaced.

    Raises
    ------
    OmeXmlError
        ``xml`` is not well-formed OME-XML.
    ValidationError
        The document would make the file invalid (e.g. SizeX disagrees with the
        IFDs); nothing is written.
    """
    p = Path(path)
    new = parse_xml(xml, source="the new OME-XML")
    if local(new.tag) != "OME":
        raise OmeXmlError(f"the new OME-XML's root is <{local(new.tag)}>, not <OME>")
    text = xml.decode("utf-8", "replace") if isinstance(xml, bytes) else xml
    declaration = text.lstrip().startswith("<?xml") or not text.strip()
    fs, docs = edit_targets(p)
    keep_uuid = len(docs) > 1

    def edit(doc: Document, root: _Element) -> tuple[_Element, list[str]]:
        replacement = copy_tree(new)
        if keep_uuid and doc.root.get("UUID"):
            replacement.set("UUID", doc.root.get("UUID", ""))  # M3: each member's own UUID
        same = serialize(root, declaration=declaration) == serialize(
            replacement, declaration=declaration
        )
        return replacement, [] if same else ["whole document replaced"]

    # A single copy gets the user's bytes as given when they are UTF-8 already (X2).
    raw = xml.encode("utf-8") if isinstance(xml, str) else bytes(xml)
    verbatim = None
    if (
        not keep_uuid
        and re.match(rb"\s*(<\?xml[^>]*encoding=[\"'](?!utf-?8)[^\"']*)", raw, re.I) is None
    ):
        try:
            raw.decode("utf-8")
            verbatim = raw.strip(b"\x00")
        except UnicodeDecodeError:
            verbatim = None
    return apply_to_documents(
        docs,
        fs,
        edit,
        backup=backup,
        dry_run=dry_run,
        what="replace",
        declaration=declaration,
        verbatim=verbatim,
    )
