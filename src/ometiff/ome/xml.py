"""Safe XML parsing and the facts about OME namespaces.

Every XML document ometiff reads goes through :func:`parse_xml`: no external
entities, no DTD loading, no network, a size cap, and libxml2's entity-expansion
limits left on (checklist "Safety" in the validator issue). An XXE payload
that points at a local file therefore never leaks its contents.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lxml import etree

from ometiff.errors import OmeXmlError

if TYPE_CHECKING:
    from lxml.etree import _Element

#: Largest XML document accepted (bytes). OME-XML of a 100,000-plane file is ~30 MB.
MAX_XML_BYTES = 512 * 1024 * 1024

OME_NS_2016 = "http://www.openmicroscopy.org/Schemas/OME/2016-06"
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
# A document type declaration, with or without an internal subset in [...].
_DOCTYPE = re.compile(rb"<!DOCTYPE\s[^\[>]*(?:\[.*?\]\s*)?>", re.DOTALL)
#: Deepest element nesting accepted. OME-XML nests about 8 levels (OME > Image >
#: Pixels > Plane, annotations a few more); a hostile 2,000-level document would
#: make recursive tree walkers (ome-types, the schema upgrade) fail or crawl.
MAX_XML_DEPTH = 100
_NS_RE = re.compile(r"openmicroscopy\.org/(?:Schemas|XMLschemas)/OME/([^/]+)")

#: Released schema versions, oldest first (checklist S2).
SCHEMA_VERSIONS = (
    "2003-FC",
    "2007-06",
    "2008-02",
    "2008-04",
    "2008-09",
    "2009-09",
    "2010-04",
    "2010-06",
    "2011-06",
    "2012-06",
    "2013-06",
    "2015-01",
    "2016-06",
)


def _parser(*, recover: bool = False) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        dtd_validation=False,
        huge_tree=True,  # large OME-XML is legitimate; size is capped separately
        recover=recover,
        remove_blank_text=False,
    )


def parse_xml(data: bytes | str, *, source: str = "XML") -> _Element:
    """Parse an XML document safely and return its root element.

    Parameters
    ----------
    data
        The document; ``str`` is encoded as UTF-8 first.
    source
        Where the document came from, for error messages.

    Raises
    ------
    OmeXmlError
        The document is too large, nested too deep, not well-formed, or declares
        entities. A DOCTYPE declaration is dropped (OME-XML has no DTD).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_XML_BYTES:
        raise OmeXmlError(
            f"{source}: XML of {len(raw):,} bytes exceeds the {MAX_XML_BYTES:,}-byte limit"
        )
    first_element = _FIRST_ELEMENT.search(raw)
    prolog = raw[: first_element.start()] if first_element else raw
    if b"<!ENTITY" in prolog:
        # OME-XML never needs entity declarations; refusing them stops XXE and
        # entity-expansion attacks before libxml2 sees them.
        raise OmeXmlError(
            f"{source}: XML declares entities (<!ENTITY>), which OME-XML never needs; refused"
        )
    doctype = _DOCTYPE.search(prolog)
    if doctype:
        # OME-XML has no DTD. A DOCTYPE naming an external one is never fetched
        # (no_network), but its undeclared entities then crash libxml2's schema
        # validation ("Internal error in XML Schema validation"): drop the
        # declaration, keeping its line breaks so error line numbers stay right.
        # An entity the document still uses is then reported as undefined.
        blank = b"\n" * doctype.group().count(b"\n")
        raw = raw[: doctype.start()] + blank + raw[doctype.end() :]
    try:
        root = etree.fromstring(raw, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise OmeXmlError(f"{source}: XML is not well-formed: {exc.msg or exc}") from exc
    if root is None:
        raise OmeXmlError(f"{source}: empty XML document")
    _check_depth(root, source)
    return root


def _check_depth(root: _Element, source: str) -> None:
    """Refuse nesting deeper than :data:`MAX_XML_DEPTH` (one pass, no recursion)."""
    depth = 0
    for event, _ in etree.iterwalk(root, events=("start", "end")):
        depth += 1 if event == "start" else -1
        if depth > MAX_XML_DEPTH:
            raise OmeXmlError(
                f"{source}: XML nests elements more than {MAX_XML_DEPTH} levels deep; "
                "OME-XML needs about 10, refused"
            )


def root_name(data: bytes | str) -> str | None:
    """Local name of a document's root element, or None when there is none.

    Parses only up to the root's start tag (a 5 MB OME-XML costs microseconds),
    with the same safe settings as :func:`parse_xml`; never raises.
    """
    parser = etree.XMLPullParser(
        events=("start",),
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=True,
    )
    step = 1 << 16
    for at in range(0, len(data), step):
        chunk = data[at : at + step]  # a 5 MB document is not copied whole
        try:
            parser.feed(chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk))
        except etree.XMLSyntaxError:
            broken = True  # after the root's start tag, that is parse_xml's business
        else:
            broken = False
        for _, element in parser.read_events():
            # an undeclared prefix leaves "ome:OME" as the tag: still an OME root,
            # whose broken namespace parse_xml then reports
            return local(element.tag).rsplit(":", 1)[-1]
        if broken:
            return None
    return None


def is_ome_xml(data: bytes | str) -> bool:
    """True when ``data`` is an XML document whose root element is ``OME`` (X1).

    Decided by parsing, so a namespace prefix (``<ome:OME xmlns:ome="...">``, valid
    against the schema) is recognised like the default namespace. The one test for
    "is this OME-XML" (the TIFF walker has a cheap pre-check of its own for
    ``description_kind``, as the tiff layer sits below this one).
    """
    return root_name(data) == "OME"


def local(tag: object) -> str:
    """Local name of an element tag (``{ns}Name`` -> ``Name``)."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def namespace(tag: str) -> str:
    """Namespace URI of an element tag, or ``''``."""
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def schema_version(root: _Element) -> str | None:
    """OME schema version from the root element's namespace, e.g. ``'2016-06'``."""
    ns = namespace(root.tag) if isinstance(root.tag, str) else ""
    m = _NS_RE.search(ns)
    if m is None:
        return None
    version = m.group(1)
    return "2003-FC" if version == "FC" else version


def element_path(elem: _Element) -> str:
    """'Image[0]/Pixels/Plane[12]': where an element sits, relative to the OME root.

    An index (0-based, among same-named siblings) is given only where an element
    has same-named siblings; validation findings use this as their location.
    """
    parts: list[str] = []
    node: _Element | None = elem
    while node is not None:
        name = local(node.tag)
        parent = node.getparent()
        if parent is None:
            parts.append(name)
        else:
            same = parent.findall(node.tag)
            parts.append(f"{name}[{same.index(node)}]" if len(same) > 1 else name)
        node = parent
    return "/".join(reversed(parts[:-1])) or parts[-1]
