"""``ometiff.validate``: check that a file is a correct OME-TIFF, offline and fast.

The validator reads the TIFF structure of every file of the set, parses the
OME-XML once, maps every plane to its IFD, and runs each rule of checklist
section 4 as a small function ``(ctx) -> Iterator[Issue]`` (the :data:`CHECKS`
tuple). The XML Schema check (libxml2, which releases the GIL) runs on its own
copy of the document in a second thread while the other rules run.

A file that cannot be read at all (not a TIFF, not XML, missing) raises; every
other problem is a finding in the returned :class:`ValidationReport`.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ometiff.errors import (
    FileAccessError,
    InvalidTiffError,
    MissingFileError,
    OmeTiffError,
    OmeXmlError,
    ValidationError,
)
from ometiff.ome.fileset import absolute_path, resolve_fileset
from ometiff.ome.planemap import plane_map
from ometiff.ome.view import parse_ome
from ometiff.ome.xml import MAX_XML_BYTES, is_ome_xml, local, parse_xml, schema_version
from ometiff.tiff.names import COMPANION_SUFFIX
from ometiff.tiff.structure import TiffStructure, inspect_tiff, is_tiff
from ometiff.validation import (
    checks_multifile,
    checks_pixels,
    checks_pyramid,
    checks_tiffdata,
    checks_xml,
)
from ometiff.validation.checks_multifile import binaryonly_link
from ometiff.validation.context import Context, Issue, error

if TYPE_CHECKING:
    from ometiff.ome.schema import SchemaError
    from ometiff.types import StrPath

__all__ = ["CHECKS", "Issue", "ValidationReport", "validate"]

Check = Callable[[Context], Iterator[Issue]]

#: Every rule, in report order (checklist section 4; table 4.13).
CHECKS: tuple[Check, ...] = (
    checks_xml.check_setup,
    checks_xml.check_container,
    checks_xml.check_description,
    checks_xml.check_warning_comment,
    checks_xml.check_namespace,
    checks_xml.check_schema,
    checks_xml.check_imagej_conflict,
    checks_pixels.check_required_pixels,
    checks_pixels.check_samples,
    checks_pixels.check_channels,
    checks_pixels.check_physical_sizes,
    checks_pixels.check_units,
    checks_pixels.check_plane_elements,
    checks_pixels.check_ifd_agreement,
    checks_pixels.check_codecs,
    checks_tiffdata.check_tiffdata_present,
    checks_tiffdata.check_plane_mapping,
    checks_tiffdata.check_ifd_references,
    checks_tiffdata.check_one_based,
    checks_multifile.check_members,
    checks_multifile.check_filenames,
    checks_multifile.check_binaryonly,
    checks_multifile.check_companion,
    checks_multifile.check_embedded_copies,
    checks_pyramid.check_subifds,
    checks_pyramid.check_subfile_types,
    checks_pyramid.check_factors,
    checks_pyramid.check_tiling,
)

_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """The findings for one file (or file set).

    Attributes
    ----------
    path
        The file that was validated (a member or the companion).
    issues
        Every finding, errors first.
    files
        Every file that was read (the set's members and its metadata file).
    strict
        Warnings count as errors (``ok`` is False when there are any).
    """

    path: Path
    issues: tuple[Issue, ...]
    files: tuple[Path, ...] = ()
    strict: bool = False

    @property
    def errors(self) -> tuple[Issue, ...]:
        """The error findings."""
        return tuple(i for i in self.issues if i.severity == "error")

    @property
    def warnings(self) -> tuple[Issue, ...]:
        """The warning findings."""
        return tuple(i for i in self.issues if i.severity == "warning")

    @property
    def ok(self) -> bool:
        """No errors (and, when strict, no warnings)."""
        if self.strict:
            return not any(i.severity in ("error", "warning") for i in self.issues)
        return not any(i.severity == "error" for i in self.issues)

    def codes(self) -> set[str]:
        """The checklist ids found (``"T5"`` for ``"T5-plane-mapped-twice"``)."""
        return {
            i.code.split("-")[0] if not i.code.startswith("P-") else i.code[:3] for i in self.issues
        }

    def raise_if_invalid(self) -> None:
        """Raise :class:`~ometiff.ValidationError` listing the errors, if any."""
        if self.ok:
            return
        bad = [
            i
            for i in self.issues
            if i.severity == "error" or (self.strict and i.severity == "warning")
        ]
        lines = "; ".join(f"[{i.code}] {i.loc}: {i.message}" for i in bad[:5])
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise ValidationError(f"{self.path}: {len(bad)} problem(s): {lines}{more}")

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {
            "path": str(self.path),
            "ok": self.ok,
            "strict": self.strict,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "files": [str(f) for f in self.files],
            "issues": [i.to_dict() for i in self.issues],
        }


# --- context -----------------------------------------------------------------


class _SchemaJob:
    """XSD validation of the metadata document (S7/S8).

    A 2016-06 document is validated after the other rules, on the tree they
    read (no second parse): libxml2 holds Python's GIL for most of its run, so
    a thread would not overlap with the rules, and the one-TiffData-per-plane
    fast path (:func:`ometiff.ome.schema.validate_schema_text`) leaves little for the
    XSD to do. Older versions are upgraded in a thread started at once (the
    XSLT chain runs while the rules do).
    """

    def __init__(self, xml: str | bytes, version: str | None, *, root: Any = None) -> None:
        self.result: list[SchemaError] | None = None
        self.note: str | None = None
        self.failure: BaseException | None = None
        self._xml = xml
        self._version = version
        self._root = root
        self._thread: threading.Thread | None = None
        if version != "2016-06" or root is None:
            self._thread = threading.Thread(target=self._run, name="ometiff-xsd", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        from ometiff.ome.schema import upgrade, validate_schema, validate_schema_text

        try:
            if self._version == "2016-06":
                # the rules are done with the tree: the fast path may thin it
                self.result = validate_schema_text(self._xml, root=self._root)
                return
            root = upgrade(parse_xml(self._xml))  # its own tree
            self.note = f"upgraded from {self._version} to 2016-06 for the schema check"
            self.result = validate_schema(root)
        except OmeXmlError as exc:
            self.note = f"schema check not run: {exc}"
        except BaseException as exc:  # re-raised in the caller's thread
            self.failure = exc

    def join(self) -> None:
        if self._thread is None:
            self._run()
        else:
            self._thread.join()
        if self.failure is not None:
            raise self.failure


def _read_xml_document(p: Path) -> bytes:
    size = p.stat().st_size
    if size > MAX_XML_BYTES:
        raise OmeXmlError(
            f"{p}: {size:,} bytes is larger than the {MAX_XML_BYTES:,}-byte XML limit"
        )
    data = p.read_bytes()
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"<"):
        raise OmeXmlError(
            f"{p}: neither a TIFF file nor an OME-XML document (starts with {data[:8]!r})"
        )
    return data


def _inspect(ctx: Context, path: Path, structure: TiffStructure | None = None) -> TiffStructure:
    """A TIFF's structure, its description replaced by the candidate document, if any."""
    structure = inspect_tiff(path) if structure is None else structure
    doc = ctx.documents.get(absolute_path(path))
    if doc is not None and structure.ifds:
        text = doc if isinstance(doc, str) else doc.decode("utf-8", "replace")
        structure = dataclasses.replace(structure, description=text, description_utf8=True)
    return structure


def _entry_document(ctx: Context, p: Path) -> tuple[str | bytes | None, str]:
    """The entry's OME-XML text and its source name, or None with setup findings.

    A candidate document in ``ctx.documents`` stands in for the one stored in ``p``
    (an edit or a repair checked before it is written; a new companion need not
    exist yet).
    """
    override = ctx.documents.get(absolute_path(p))
    if p.is_file() and is_tiff(p):
        structure = inspect_tiff(p)
        ctx.structure = structure
        ctx.structures[p] = _inspect(ctx, p, structure)
        if not structure.ifds:
            ctx.setup_issues.append(
                error("C1-no-ifd", p.name, "the TIFF holds no readable IFD; the file is damaged")
            )
            return None, p.name
        desc = structure.description
        kind = structure.ifds[0].description_kind
        if desc is None or not is_ome_xml(desc):
            if kind == "OME-XML":  # X2: it starts as OME-XML but does not parse
                message = (
                    "IFD 0's ImageDescription starts as OME-XML but is not "
                    "well-formed (cut off or damaged): the metadata cannot be read"
                )
            else:
                what = "no ImageDescription" if desc is None else f"a {kind} ImageDescription"
                message = (
                    f"IFD 0 has {what}, not OME-XML: this is not an OME-TIFF "
                    "(write the OME-XML into the first IFD's ImageDescription, e.g. "
                    "`ometiff convert`)"
                )
            ctx.setup_issues.append(error("X1-no-ome-xml", f"{p.name}: IFD 0/tag 270", message))
            return None, p.name
        return (desc if override is None else override), f"{p.name}: IFD 0/tag 270"
    data = _read_xml_document(p) if override is None else override
    return data, p.name


def _build(
    p: Path, *, schema: bool, documents: dict[Path, str | bytes]
) -> tuple[Context, _SchemaJob | None]:
    tiff = p.is_file() and is_tiff(p)
    ctx = Context(path=p, kind="tiff" if tiff else "xml", documents=documents)
    text, source = _entry_document(ctx, p)
    if text is None:
        return ctx, None
    try:
        root = parse_xml(text, source=source)
    except OmeXmlError as exc:
        code = "X2-entities" if "<!ENTITY>" in str(exc) else "X2-not-well-formed"
        limit = "exceeds" in str(exc)
        ctx.setup_issues.append(
            error(
                "X2-too-large" if limit else code,
                source,
                f"{exc.without_prefix(source)}; the OME-XML must be a well-formed UTF-8 "
                "XML document without "
                "entity declarations",
            )
        )
        return ctx, None
    if local(root.tag) != "OME":
        ctx.setup_issues.append(
            error("X1-not-ome", source, f"the XML root is <{local(root.tag)}>, not <OME>")
        )
        return ctx, None
    view = parse_ome(root, source=source, planes=False)
    job: _SchemaJob | None = None
    version = schema_version(root)
    if schema and version is not None and _is_released(version) and view.binary_only is None:
        job = _SchemaJob(text, version, root=root)
    ctx.xml = text if isinstance(text, str) else text.decode("utf-8", "replace")
    ctx.root, ctx.ome = root, view
    if ctx.kind == "tiff" and view.binary_only is not None:
        # M4: read the metadata document the member points at, never outside its folder
        # (the same check the companion runs on every member: same findings from either)
        bo = view.binary_only
        issues, broken = binaryonly_link(
            p, bo.metadata_file, bo.uuid, None, virtual=ctx.documents.keys()
        )
        if broken:
            ctx.setup_issues.extend(issues)
            return ctx, job
    try:
        fs = resolve_fileset(
            p,
            planes=False,
            parsed=view if view.binary_only is None else None,
            documents=ctx.documents,
        )
    except OmeXmlError as exc:
        ctx.setup_issues.append(error("M4-metadata-unreadable", p.name, str(exc)))
        return ctx, job
    ctx.fileset = fs
    if fs.metadata_path != p:
        # a BinaryOnly member: validate the metadata document of its set
        ctx.xml, ctx.ome, ctx.root = fs.xml, fs.ome, fs.ome.root
        version = fs.ome.schema_version
        if schema and version is not None and _is_released(version):
            job = _SchemaJob(fs.xml, version, root=fs.ome.root)
    if ctx.kind == "xml":
        # an XML document is a companion when it is named like one or its files are here
        named = p.name.lower().endswith(COMPANION_SUFFIX)
        present = any(m.exists for m in fs.members)
        ctx.kind = fs.kind if fs.members and (named or present) else "xml"
    else:
        ctx.kind = fs.kind
    if ctx.kind != "xml":
        for member in fs.members:
            if member.path is None or not member.exists or member.path in ctx.structures:
                continue
            try:
                ctx.structures[member.path] = _inspect(ctx, member.path)
            except (InvalidTiffError, FileAccessError) as exc:
                ctx.structures[member.path] = None
                ctx.read_errors[member.path] = str(exc)
        ctx.plane_maps = tuple(
            plane_map(image, ifd_count=_ifd_counter(ctx)) for image in fs.ome.images
        )
    return ctx, job


def _is_released(version: str) -> bool:
    from ometiff.ome.xml import SCHEMA_VERSIONS

    return version in SCHEMA_VERSIONS and version != "2008-04"


def _ifd_counter(ctx: Context) -> Callable[[str | None, str | None], int | None]:
    def count(uuid: str | None, filename: str | None) -> int | None:
        structure = ctx.structure_of(ctx.member_of(uuid, filename))
        return None if structure is None else structure.ifd_count

    return count


def validate(
    path: StrPath,
    *,
    schema: bool = True,
    strict: bool = False,
    xml: str | bytes | None = None,
    documents: Mapping[Path, str | bytes] | None = None,
) -> ValidationReport:
    """Validate an OME-TIFF (or a whole multi-file set, from any member or its companion).

    Parameters
    ----------
    path
        An ``.ome.tif[f]`` file, a member of a multi-file set, a ``.companion.ome``
        file or a standalone OME-XML document.
    schema
        Also validate the OME-XML against the 2016-06 XML Schema (offline;
        older versions are upgraded first).
    strict
        Count warnings as errors in ``report.ok``.
    xml
        Validate this OME-XML document as if it were stored in ``path`` (IFD 0's
        ImageDescription of a TIFF, or the companion file's content): how an edit
        is checked before it is written. The file itself is not changed.
    documents
        Candidate documents for several files of a set, judged together before
        any is written (``repair``): ``{file: OME-XML}``, each standing in for that
        TIFF's ImageDescription or that companion's content. A companion that does
        not exist yet may be named here (and as ``path``).

    Returns
    -------
    ValidationReport
        The findings. Invalid files give findings, never exceptions.

    Raises
    ------
    InvalidTiffError
        The file is missing or is neither a TIFF nor an XML document.
    OmeXmlError
        The input is not XML at all or larger than the XML size limit.
    """
    # No gc.disable() here: the garbage collector is process-wide state of the caller.
    docs = {absolute_path(k): v for k, v in (documents or {}).items()}
    if xml is not None:
        docs[absolute_path(path)] = xml
    return _validate(Path(path), schema=schema, strict=strict, documents=docs)


def _validate(
    p: Path, *, schema: bool, strict: bool, documents: dict[Path, str | bytes]
) -> ValidationReport:
    if p.is_dir():
        raise InvalidTiffError(f"{p}: is a folder, not a file")
    if not p.exists() and absolute_path(p) not in documents:
        raise MissingFileError(f"{p}: no such file")
    try:
        ctx, job = _build(p, schema=schema, documents=documents)
    except PermissionError as exc:
        raise InvalidTiffError(f"{p}: permission denied") from exc
    issues: list[Issue] = []
    schema_checks = {checks_xml.check_schema}
    for check in CHECKS:
        if check in schema_checks:
            continue
        issues.extend(check(ctx))
    if job is not None:
        job.join()
        ctx.schema_errors, ctx.schema_note = job.result, job.note
    elif schema and ctx.ome is not None and ctx.schema_note is None:
        ctx.schema_note = "schema check not run: the namespace is not a released OME schema"
    for check in schema_checks:
        issues.extend(check(ctx))
    issues.sort(key=lambda i: _SEVERITY_ORDER[i.severity])
    files = [p]
    if ctx.fileset is not None:
        files = [ctx.fileset.metadata_path]
        files += [
            m.path
            for m in ctx.fileset.members
            if m.path is not None and m.exists and m.path not in files
        ]
        if p not in files:
            files.insert(0, p)
    return ValidationReport(p, tuple(issues), tuple(files), strict)


def iter_reports(
    paths: list[Path], *, schema: bool, strict: bool
) -> Iterator[ValidationReport | OmeTiffError]:
    """Reports for several files; an unreadable file yields its error instead."""
    for p in paths:
        try:
            yield validate(p, schema=schema, strict=strict)
        except OmeTiffError as exc:
            yield exc
