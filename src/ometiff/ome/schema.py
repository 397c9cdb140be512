"""Offline XML Schema validation of OME-XML and upgrades of old schema versions.

The 2016-06 XSD and the official XSLT upgrade transforms come bundled with
ome-types; nothing is fetched from the network. The XSD imports the W3C
``xml.xsd`` by URL but never uses it, so a resolver answers that import with an
empty schema (checklist S7/S8: identity constraints stay on, libxml2 checks every
key/keyref). Documents older than 2016-06 are upgraded by chaining the
transforms (S5) and the result is validated.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lxml import etree

from ometiff.errors import OmeXmlError
from ometiff.ome.xml import SCHEMA_VERSIONS, element_path, schema_version

if TYPE_CHECKING:
    from lxml.etree import _Element

#: Versions ome-types ships a transform from, each to the next version in the chain.
_STEPS: dict[str, str] = {
    "2003-FC": "2008-09",
    "2007-06": "2008-09",
    "2008-02": "2008-09",
    "2008-09": "2009-09",
    "2009-09": "2010-04",
    "2010-04": "2010-06",
    "2010-06": "2011-06",
    "2011-06": "2012-06",
    "2012-06": "2013-06",
    "2013-06": "2015-01",
    "2015-01": "2016-06",
}
_EMPTY_XML_XSD = (
    b'<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    b'targetNamespace="http://www.w3.org/XML/1998/namespace"/>'
)
#: libxml2 follow-up notes that repeat an error already reported.
_NOISE = ("No precomputed value available",)
_LOCK = threading.Lock()


@cache
def _ome_types_dir() -> Path:
    """Where ome-types keeps the XSD and its transforms, found without importing it
    (importing ome_types costs about a second; the files are all that is needed)."""
    import importlib.util

    spec = importlib.util.find_spec("ome_types")
    places = list(spec.submodule_search_locations or ()) if spec is not None else []
    if not places:  # pragma: no cover - ome-types is a dependency
        raise OmeXmlError("the OME schema ships with ome-types, which is not installed")
    return Path(places[0])


class _OfflineResolver(etree.Resolver):  # type: ignore[misc]
    """Answers the XSD's import of the W3C xml.xsd locally; nothing else is resolved."""

    def resolve(self, system_url: str | None, public_id: str | None, context: Any) -> Any:
        if system_url and system_url.endswith("/xml.xsd"):
            return self.resolve_string(_EMPTY_XML_XSD, context)
        return None


def _safe_parser() -> etree.XMLParser:
    parser = etree.XMLParser(
        resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False
    )
    parser.resolvers.add(_OfflineResolver())
    return parser


@cache
def load_schema() -> etree.XMLSchema:
    """The OME 2016-06 XML Schema (bundled with ome-types), compiled once."""
    path = _ome_types_dir() / "ome-2016-06.xsd"
    try:
        doc = etree.parse(str(path), _safe_parser())
        return etree.XMLSchema(doc)
    except (OSError, etree.XMLSchemaParseError, etree.XMLSyntaxError) as exc:
        raise OmeXmlError(f"the bundled OME schema {path} cannot be loaded: {exc}") from exc


@dataclass(frozen=True, slots=True)
class SchemaError:
    """One XSD finding: where (line, readable element path) and libxml2's message."""

    line: int
    path: str
    message: str
    attribute: str | None


def _readable_path(root: _Element, xpath: str | None) -> str:
    """'/*/*[2]/*[3]' -> 'Image[1]/Pixels/Plane[0]' (0-based index among same-named siblings)."""
    if not xpath:
        return "OME"
    try:
        found = root.getroottree().xpath(xpath)
    except etree.XPathError:
        return xpath
    if not isinstance(found, list) or not found or not isinstance(found[0], etree._Element):
        return xpath
    return element_path(found[0])


def _attribute_of(message: str) -> str | None:
    marker = "attribute '"
    start = message.find(marker)
    if start < 0:
        return None
    end = message.find("'", start + len(marker))
    return message[start + len(marker) : end] if end > 0 else None


def _short(message: str) -> str:
    """Drop libxml2's namespace noise from a message."""
    for ns in ("{http://www.openmicroscopy.org/Schemas/OME/2016-06}",):
        message = message.replace(ns, "")
    return message.strip()


def validate_schema(root: _Element, *, limit: int = 200) -> list[SchemaError]:
    """Validate a 2016-06 OME-XML tree against the bundled XSD (identity constraints on).

    Returns at most ``limit`` errors (an empty list when the document is valid).
    """
    schema = load_schema()
    # lxml's XMLSchema object keeps its error log on the instance: serialise use.
    with _LOCK:
        ok = schema.validate(root.getroottree())
        log = [] if ok else list(schema.error_log)
    errors: list[SchemaError] = []
    for entry in log:
        if any(noise in entry.message for noise in _NOISE):
            continue
        if len(errors) >= limit:
            break
        errors.append(
            SchemaError(
                line=entry.line,
                path=_readable_path(root, entry.path),
                message=_short(entry.message),
                attribute=_attribute_of(entry.message),
            )
        )
    return errors


# --- fast path for one-TiffData-per-plane documents -----------------------------
#
# Bio-Formats writes one TiffData (with a UUID child) per plane, so a 30,000-plane
# file holds 30,000 elements whose only schema rules are "NonNegativeInt" attributes
# and a UUID pattern. libxml2 spends most of its validation time on them, holding
# the GIL. ``thin_tiffdata`` checks those simple rules with one regex pass over the
# text and, when every TiffData is of that simple form, removes all but the first
# few before the XSD runs; otherwise the XSD judges the whole document. Findings are exact: a document with any schema
# error is validated again in full, so messages and lines are those of the original.

_ANY_TIFFDATA = re.compile(rb"<(?:[\w.-]+:)?TiffData[\s/>]")
_HEX_UUID = rb"urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
#: A TiffData whose every schema rule is visible in its text: only the five
#: NonNegativeInt attributes with at most 9 digits (always within xsd:int), and
#: at most one UUID child (same prefix) with an optional FileName and a valid UUID.
_SIMPLE_TIFFDATA = re.compile(
    rb"<(?P<p>(?:[\w.-]+:)?)TiffData"
    rb"""(?:\s+(?:IFD|FirstZ|FirstT|FirstC|PlaneCount)\s*=\s*(?:"\+?\d{1,9}"|'\+?\d{1,9}'))*\s*"""
    rb"(?:/>|>\s*(?:<(?P=p)UUID"
    rb"""(?:\s+FileName\s*=\s*(?:"[^"<&]*"|'[^'<&]*'))?\s*>\s*"""
    + _HEX_UUID
    + rb"\s*</(?P=p)UUID>\s*)?</(?P=p)TiffData>)"
)
#: TiffData kept per Pixels so the XSD still sees the element sequence.
_KEEP = 2


def thin_tiffdata(xml: bytes, root: _Element) -> int:
    """Remove TiffData whose schema rules the text shows to hold; return how many.

    Only when *every* TiffData of the document matches the simple form (one regex
    pass in C over the text) are all but the first few of each Pixels removed.
    """
    total = len(_ANY_TIFFDATA.findall(xml))
    if total <= 64 or len(_SIMPLE_TIFFDATA.findall(xml)) != total:
        return 0
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    removed = 0
    for pixels in root.iter(f"{ns}Pixels"):
        for td in pixels.findall(f"{ns}TiffData")[_KEEP:]:
            pixels.remove(td)
            removed += 1
    return removed


def validate_schema_text(
    xml: str | bytes, *, root: _Element | None = None, limit: int = 200
) -> list[SchemaError]:
    """XSD findings of a 2016-06 document given as text.

    ``root`` is the document already parsed (safely) from ``xml``; this function
    may remove TiffData from it. Large one-TiffData-per-plane documents take the
    fast path above; any finding sends the document through the full validation
    (a fresh parse) so messages and lines are exact.
    """
    from ometiff.ome.xml import parse_xml

    raw = xml.encode("utf-8") if isinstance(xml, str) else bytes(xml)
    if root is None:
        root = parse_xml(raw)
    if thin_tiffdata(raw, root) == 0:
        return validate_schema(root, limit=limit)
    errors = validate_schema(root, limit=limit)
    if not errors:
        return errors
    return validate_schema(parse_xml(raw), limit=limit)


@cache
def _transform(version: str) -> etree.XSLT:
    target = _STEPS[version]
    path = _ome_types_dir() / "transforms" / f"{version}-to-{target}.xsl"
    doc = etree.parse(str(path), _safe_parser())
    # The transforms read nothing but their input: deny file and network access.
    return etree.XSLT(doc, access_control=etree.XSLTAccessControl.DENY_ALL)


def upgrade_path(version: str | None) -> tuple[str, ...]:
    """The versions an upgrade from ``version`` passes through, ending at 2016-06.

    Empty for 2016-06 itself; raises for versions no transform starts from.
    """
    if version == "2016-06":
        return ()
    if version not in _STEPS:
        known = ", ".join(SCHEMA_VERSIONS)
        raise OmeXmlError(
            f"OME schema version {version!r} cannot be upgraded (released versions: {known})"
        )
    steps: list[str] = []
    current = version
    while current != "2016-06":
        current = _STEPS[current]
        steps.append(current)
    return tuple(steps)


def upgrade(root: _Element) -> _Element:
    """Upgrade an OME-XML tree of any released schema version to 2016-06 (checklist S5).

    Raises
    ------
    OmeXmlError
        The version is unknown or a transform fails.
    """
    version = schema_version(root)
    upgrade_path(version)  # raises for unknown versions
    tree: Any = root.getroottree()
    while version != "2016-06":
        assert version is not None
        try:
            tree = _transform(version)(tree)
        except etree.XSLTApplyError as exc:
            raise OmeXmlError(f"upgrading OME-XML from {version} failed: {exc}") from exc
        new_root = tree.getroot()
        if new_root is None:
            raise OmeXmlError(f"upgrading OME-XML from {version} gave an empty document")
        version = schema_version(new_root)
        if version is None:
            raise OmeXmlError("upgraded OME-XML has no OME namespace")
    result: _Element = tree.getroot()
    return result
