"""What every validation rule sees: findings (:class:`Issue`) and the context.

The context is built once per validation (:func:`ometiff.validation.validator.validate`):
the TIFF structure of every file of the set, the parsed OME-XML (lxml root and
:class:`~ometiff.ome.view.OmeView`), the plane map of every Image and the XSD
findings. Each rule is a small function ``(ctx) -> Iterator[Issue]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ometiff.ome.fileset import FileSet, Member
    from ometiff.ome.planemap import PlaneMap
    from ometiff.ome.schema import SchemaError
    from ometiff.ome.view import ImageView, OmeView
    from ometiff.tiff.structure import TiffStructure

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding of the validator.

    Attributes
    ----------
    severity
        ``"error"`` (a MUST of the specification is broken), ``"warning"`` (a
        SHOULD, or something readers handle inconsistently) or ``"info"``.
    code
        Stable id: the checklist rule plus a slug, e.g. ``"T5-plane-mapped-twice"``.
    loc
        Where: file name, IFD, XML path (``"a.ome.tif: Image:0/Pixels/TiffData[2]"``).
    message
        What is wrong and how to fix it.
    """

    severity: Severity
    code: str
    loc: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """Plain data for JSON output."""
        return {
            "severity": self.severity,
            "code": self.code,
            "loc": self.loc,
            "message": self.message,
        }


def error(code: str, loc: str, message: str) -> Issue:
    """An error finding."""
    return Issue("error", code, loc, message)


def warning(code: str, loc: str, message: str) -> Issue:
    """A warning finding."""
    return Issue("warning", code, loc, message)


def info(code: str, loc: str, message: str) -> Issue:
    """An info finding."""
    return Issue("info", code, loc, message)


@dataclass
class Context:
    """Everything the rules need, computed once.

    ``kind`` is ``"tiff"`` (a TIFF without usable OME-XML: only container rules
    run), ``"single"``, ``"embedded"``, ``"companion"``, ``"master"`` (a set of
    OME-TIFF files) or ``"xml"`` (a standalone OME-XML document, not a set).
    """

    path: Path
    kind: str
    structure: TiffStructure | None = None  # the entry file, when it is a TIFF
    xml: str | None = None
    root: Any = None  # lxml root of the metadata document
    ome: OmeView | None = None
    fileset: FileSet | None = None
    structures: dict[Path, TiffStructure | None] = field(default_factory=dict)
    read_errors: dict[Path, str] = field(default_factory=dict)
    plane_maps: tuple[PlaneMap, ...] = ()
    schema_errors: list[SchemaError] | None = None
    schema_note: str | None = None  # why the XSD check did not run / what was upgraded
    setup_issues: list[Issue] = field(default_factory=list)
    documents: dict[Path, str | bytes] = field(default_factory=dict)  # candidate OME-XML per file
    cache: dict[str, Any] = field(default_factory=dict)  # values shared between rules

    @property
    def name(self) -> str:
        """The entry file's name, for locations."""
        return self.path.name

    @property
    def metadata_name(self) -> str:
        """Name of the file holding the OME-XML."""
        if self.fileset is not None:
            return self.fileset.metadata_path.name
        return self.path.name

    @property
    def is_ome_tiff(self) -> bool:
        """The metadata describes TIFF files (not a standalone XML document)."""
        return self.kind in ("single", "embedded", "companion", "master")

    def images(self) -> tuple[ImageView, ...]:
        """The OME Images (empty when there is no OME-XML)."""
        return self.ome.images if self.ome is not None else ()

    def member_of(self, uuid: str | None, filename: str | None) -> Member | None:
        """The set member a TiffData points at (None: unknown)."""
        if self.fileset is None:
            return None
        return self.fileset.member_for(uuid, filename)

    def structure_of(self, member: Member | None) -> TiffStructure | None:
        """The TIFF structure of a member (None when missing, escaping or unreadable)."""
        if member is None or member.path is None or not member.exists:
            return None
        return self.structures.get(member.path)

    def image_loc(self, image: ImageView) -> str:
        """'file: Image:0' style location of an Image."""
        return f"{self.metadata_name}: Image[{image.index}] ({image.id or 'no ID'})"
