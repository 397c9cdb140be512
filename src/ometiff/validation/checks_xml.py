"""Rules about the container and the OME-XML document (checklist 4.1-4.3, X7)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ometiff.ome.xml import SCHEMA_VERSIONS
from ometiff.tiff.names import OME_BIGTIFF_SUFFIXES, OME_TIFF_SUFFIXES, has_bigtiff_suffix
from ometiff.tiff.variant import imagej_disagreements
from ometiff.validation.context import Context, Issue, error, info, warning

if TYPE_CHECKING:
    from collections.abc import Iterator

#: C2: OME-TIFF endings; the last three only for BigTIFF.
_WARNING_COMMENT = "Warning: this comment is an OME-XML metadata block"


def check_setup(ctx: Context) -> Iterator[Issue]:
    """Findings made while reading the files (X1, X2, M2, M4: nothing else could run)."""
    yield from ctx.setup_issues


def check_container(ctx: Context) -> Iterator[Issue]:
    """C1: every file is a readable TIFF; C2: OME-TIFF file name endings."""
    for path, message in ctx.read_errors.items():
        yield error("C1-not-tiff", path.name, f"{message}; the set member must be a TIFF file")
    for path, structure in ctx.structures.items():
        if structure is None:
            continue
        for problem in structure.problems:
            yield error(
                "C1-damaged",
                path.name,
                f"{problem}; readers will miss planes: rewrite the file (e.g. `ometiff convert`)",
            )
        if ctx.kind == "tiff":
            continue
        name = path.name.lower()
        if structure.bigtiff and has_bigtiff_suffix(name):
            continue
        if not name.endswith(OME_TIFF_SUFFIXES):
            endings = "/".join(
                OME_TIFF_SUFFIXES + (OME_BIGTIFF_SUFFIXES if structure.bigtiff else ())
            )
            yield warning(
                "C2-extension",
                path.name,
                f"an OME-TIFF name should end with {endings}; readers pick the OME-TIFF "
                "reader by the name: rename the file",
            )


def check_description(ctx: Context) -> Iterator[Issue]:
    """X2: the OME-XML in IFD 0 is UTF-8."""
    for path, structure in ctx.structures.items():
        if structure is not None and structure.description and not structure.description_utf8:
            yield error(
                "X2-not-utf8",
                f"{path.name}: IFD 0/tag 270",
                "the OME-XML is not valid UTF-8 (read as Latin-1); re-encode the "
                "description as UTF-8 (any `ometiff meta set` edit rewrites it so, e.g. "
                "`ometiff meta set FILE --name NAME`)",
            )


def check_warning_comment(ctx: Context) -> Iterator[Issue]:
    """X4: the OME-XML starts with the specification's warning comment."""
    if ctx.xml is None or ctx.kind not in ("single", "embedded", "master"):
        return
    if _WARNING_COMMENT not in ctx.xml[:2048]:
        yield info(
            "X4-no-warning-comment",
            f"{ctx.metadata_name}: IFD 0/tag 270",
            "the OME-XML lacks the '<!-- Warning: this comment is an OME-XML metadata "
            "block ... -->' comment that tells TIFF editors not to change it",
        )


def check_namespace(ctx: Context) -> Iterator[Issue]:
    """S1-S3: a known OME namespace of a released schema version."""
    if ctx.ome is None:
        return
    loc = f"{ctx.metadata_name}: OME"
    version = ctx.ome.schema_version
    if version is None:
        yield warning(
            "S1-unknown-namespace",
            loc,
            f"the root namespace {ctx.ome.namespace!r} is not an OME schema namespace; "
            "use http://www.openmicroscopy.org/Schemas/OME/2016-06",
        )
    elif version not in SCHEMA_VERSIONS:
        yield warning(
            "S2-unreleased-version",
            loc,
            f"schema version {version!r} was never released; readers may reject it: "
            "rewrite the metadata in the 2016-06 schema",
        )
    elif version != "2016-06":
        yield info(
            "S3-old-version",
            loc,
            f"OME-XML of schema {version}; it was upgraded to 2016-06 for validation "
            "(`ometiff xml --upgrade` prints the upgraded document)",
        )


def _schema_code(message: str, attribute: str | None) -> str:
    if "identity-constraint" in message or "key-sequence" in message or "keyref" in message:
        return "S7-reference"
    if attribute is not None and attribute.endswith("ID") and "pattern" in message:
        return "S7-id-pattern"
    return "S8-schema"


def check_schema(ctx: Context) -> Iterator[Issue]:
    """S7/S8: the OME-XML is valid against the 2016-06 XSD, identity constraints included."""
    if ctx.schema_errors is None:
        if ctx.schema_note and ctx.ome is not None and ctx.ome.schema_version in SCHEMA_VERSIONS:
            yield info("S8-not-checked", f"{ctx.metadata_name}: OME", ctx.schema_note)
        return
    upgraded = (
        f" (after upgrading from {ctx.ome.schema_version})"
        if ctx.ome and ctx.ome.schema_version != "2016-06"
        else ""
    )
    for err in ctx.schema_errors:
        if err.attribute is not None and err.attribute.endswith("Unit"):
            continue  # U1 reports units with the fix (check_units)
        yield error(
            _schema_code(err.message, err.attribute),
            f"{ctx.metadata_name}: {err.path} (line {err.line})",
            f"XML Schema{upgraded}: {err.message}",
        )


def check_imagej_conflict(ctx: Context) -> Iterator[Issue]:
    """X7: an ImageJ header beside the OME-XML must not contradict it."""
    structure = ctx.structure
    if structure is None or not structure.ifds or not ctx.images() or ctx.kind == "tiff":
        return
    image = ctx.images()[0]
    found = imagej_disagreements(
        ctx.path, structure, image.effective_size_c, image.size_z or 1, image.size_t or 1
    )
    loc = f"{ctx.name}: IFD 0"
    if found is None:
        yield warning(
            "X7-imagej-unreadable", loc, "an ImageJ header is present but cannot be parsed"
        )
        return
    for key, value, label, ome_value in found:
        yield warning(
            "X7-imagej-conflict",
            loc,
            f"the ImageJ header says {key}={value} but the OME-XML says {label}={ome_value}; "
            "ImageJ-based readers will show another shape: drop the ImageJ header or make it agree",
        )
