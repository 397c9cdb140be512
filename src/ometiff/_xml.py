"""Safe XML parsing and the facts about OME namespaces and units.

Every XML document ometiff reads goes through :func:`parse_xml`: no external
entities, no DTD loading, no network, a size cap, and libxml2's entity-expansion
limits left on (checklist "Safety" in the validator issue). An XXE payload
that points at a local file therefore never leaks its contents.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lxml import etree

from ometiff._errors import OmeXmlError

if TYPE_CHECKING:
    from lxml.etree import _Element

#: Largest XML document accepted (bytes). OME-XML of a 100,000-plane file is ~30 MB.
MAX_XML_BYTES = 512 * 1024 * 1024

OME_NS_2016 = "http://www.openmicroscopy.org/Schemas/OME/2016-06"
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
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
        The document is too large, not well-formed, or declares entities.
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
    try:
        root = etree.fromstring(raw, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise OmeXmlError(f"{source}: XML is not well-formed: {exc}") from exc
    if root is None:
        raise OmeXmlError(f"{source}: empty XML document")
    return root


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


def decode_description(raw: bytes, *, source: str = "ImageDescription") -> tuple[str, bool]:
    """Decode a description tag: UTF-8 when valid (X2), else Latin-1.

    Returns the text and whether it was valid UTF-8.
    """
    raw = raw.rstrip(b"\x00")
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        return raw.decode("latin-1"), False


# --- units (checklist U1-U3) --------------------------------------------------

#: UnitsLength symbol -> metres.
LENGTH_UNITS_M: dict[str, float] = {
    "Ym": 1e24,
    "Zm": 1e21,
    "Em": 1e18,
    "Pm": 1e15,
    "Tm": 1e12,
    "Gm": 1e9,
    "Mm": 1e6,
    "km": 1e3,
    "hm": 1e2,
    "dam": 1e1,
    "m": 1.0,
    "dm": 1e-1,
    "cm": 1e-2,
    "mm": 1e-3,
    "µm": 1e-6,
    "nm": 1e-9,
    "pm": 1e-12,
    "fm": 1e-15,
    "am": 1e-18,
    "zm": 1e-21,
    "ym": 1e-24,
    "Å": 1e-10,
    "thou": 2.54e-5,
    "li": 2.54e-2 / 12,  # line = 1/12 inch
    "in": 2.54e-2,
    "ft": 0.3048,
    "yd": 0.9144,
    "mi": 1609.344,
    "ua": 1.495978707e11,
    "ly": 9.4607304725808e15,
    "pc": 3.0856775814913673e16,
    "pt": 2.54e-2 / 72,
}
#: Non-length units allowed in UnitsLength (no conversion to metres).
LENGTH_UNITS_OTHER = ("pixel", "reference frame")

#: UnitsTime symbol -> seconds.
TIME_UNITS_S: dict[str, float] = {
    "Ys": 1e24,
    "Zs": 1e21,
    "Es": 1e18,
    "Ps": 1e15,
    "Ts": 1e12,
    "Gs": 1e9,
    "Ms": 1e6,
    "ks": 1e3,
    "hs": 1e2,
    "das": 1e1,
    "s": 1.0,
    "ds": 1e-1,
    "cs": 1e-2,
    "ms": 1e-3,
    "µs": 1e-6,
    "ns": 1e-9,
    "ps": 1e-12,
    "fs": 1e-15,
    "as": 1e-18,
    "zs": 1e-21,
    "ys": 1e-24,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}

#: Common non-conformant spellings -> the schema's symbol (checklist U1).
UNIT_ALIASES: dict[str, str] = {
    "um": "µm",
    "μm": "µm",
    "micron": "µm",
    "microns": "µm",
    "micrometer": "µm",
    "micrometre": "µm",
    "micrometers": "µm",
    "micrometres": "µm",
    "\\u00B5m": "µm",
    "nanometer": "nm",
    "nanometre": "nm",
    "millimeter": "mm",
    "millimetre": "mm",
    "A": "Å",
    "angstrom": "Å",
    "sec": "s",
    "second": "s",
    "seconds": "s",
    "msec": "ms",
    "millisecond": "ms",
    "milliseconds": "ms",
    "us": "µs",
    "μs": "µs",
    "minute": "min",
    "minutes": "min",
    "hour": "h",
    "hours": "h",
}


def normalize_unit(unit: str) -> str:
    """The schema symbol for a unit spelled in a common non-conformant way."""
    return UNIT_ALIASES.get(unit.strip(), UNIT_ALIASES.get(unit.strip().lower(), unit.strip()))


def to_micrometres(value: float | None, unit: str | None) -> float | None:
    """Convert a length to µm; None when unknown or not a physical length."""
    if value is None:
        return None
    symbol = normalize_unit(unit) if unit else "µm"
    factor = LENGTH_UNITS_M.get(symbol)
    if factor is None:
        return None
    return value * factor / 1e-6


def to_seconds(value: float | None, unit: str | None) -> float | None:
    """Convert a time to seconds; None when unknown."""
    if value is None:
        return None
    symbol = normalize_unit(unit) if unit else "s"
    factor = TIME_UNITS_S.get(symbol)
    return None if factor is None else value * factor
