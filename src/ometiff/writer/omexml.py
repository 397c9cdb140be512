"""Fast OME-XML for ``ometiff.write``'s keyword options, without ome_types.

Importing ome_types (pydantic models of the whole schema) costs about a second
and serialising with it tens of milliseconds per file; most writes only need an
Image/Pixels/Channel skeleton. :func:`prepare` checks the keyword options and
returns a :class:`LightOme`, or ``None`` when something needs the full model
(colour names, rare units, instrument...), in which case the caller uses
:mod:`ometiff.writer.omebuild` and its error messages. :func:`render` writes the
same XML as ``ome_types.to_xml(conform_ome(build_ome(...)))`` (the tests
compare both); it is built with lxml, like ome_types' own serialiser.
"""

from __future__ import annotations

import datetime as _dt
import re
import uuid as _uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ometiff.errors import WriteError
from ometiff.ome.colour import parse_color
from ometiff.ome.units import parse_length, parse_time
from ometiff.types import DTYPE_TO_OME

if TYPE_CHECKING:
    from ometiff.readers.source import SeriesSource

OME_NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"
_XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
_SCHEMA_LOCATION = f"{OME_NS} {OME_NS}/ome.xsd"
#: Checklist X4: the comment Bio-Formats puts before every OME-XML block.
WARNING_COMMENT = (
    "<!-- Warning: this comment is an OME-XML metadata block, which contains crucial "
    "dimensional parameters and other important metadata. Please edit cautiously "
    "(if at all), and back up the original data before doing so. For more "
    "information, see the OME-TIFF documentation: "
    "https://ome-model.readthedocs.io/en/stable/ome-tiff/ -->"
)
XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>'
SENTINEL_UUID = "urn:uuid:00000000-0000-0000-0000-000000000000"
_ROOT_UUID_RE = re.compile(r'(<OME\b[^>]*?\bUUID=")' + re.escape(SENTINEL_UUID) + '"')
#: MapAnnotation namespace listing pyramid level sizes (checklist P-7).
PYRAMID_NS = "openmicroscopy.org/PyramidResolution"
#: Key-value annotations written by ``write(annotations=...)``.
ANNOTATION_NS = "openmicroscopy.org/omero/client/mapAnnotation"

Quantity = float | tuple[float, str]

#: Plane attributes ``write(plane_metadata=...)`` accepts, in schema order (PL1): OME
#: name -> (ome_types field name, kind of quantity). Keys may be given either way.
PLANE_FIELDS = {
    "DeltaT": ("delta_t", "time"),
    "ExposureTime": ("exposure_time", "time"),
    "PositionX": ("position_x", "length"),
    "PositionY": ("position_y", "length"),
    "PositionZ": ("position_z", "length"),
}
#: OME name -> (unit attribute, kind), for the XML fast path.
_PLANE_FIELDS = {name: (name + "Unit", kind) for name, (_, kind) in PLANE_FIELDS.items()}
_PLANE_ALIASES = {snake: name for name, (snake, _) in PLANE_FIELDS.items()}
#: Characters XML 1.0 cannot hold (compiled on first use: ~5 ms at start-up).
_XML_BAD = "[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"


def new_uuid() -> str:
    """A fresh ``urn:uuid:`` (checklist S6)."""
    return f"urn:uuid:{_uuid.uuid4()}"


@dataclass(slots=True)
class SeriesMeta:
    """Per-series options of ``ometiff.write``, already split per series."""

    name: str | None = None
    physical_size: dict[str, tuple[float, str]] = field(default_factory=dict)
    time_increment: tuple[float, str] | None = None
    channel_names: Sequence[str | None] | None = None
    channel_colors: Sequence[Any] | None = None
    excitation_wavelength: Sequence[Quantity | None] | None = None
    emission_wavelength: Sequence[Quantity | None] | None = None
    plane_metadata: Mapping[tuple[int, int, int], Mapping[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class TiffDataRun:
    """Planes of one series stored consecutively in one file (checklist T2, W1)."""

    series: int
    ifd: int
    first: tuple[int, int, int]  # (t, c, z) of the first plane
    count: int
    file_uuid: str
    file_name: str


def creator() -> str:
    """The ``Creator`` attribute of the files we write."""
    from ometiff.version import __version__

    return f"ometiff {__version__}"


@dataclass(slots=True)
class LightOme:
    """Checked metadata of the keyword options, as attribute strings; or a reader's whole
    OME as an OME-XML element tree (``tree``, from a vendor reader's ``ome_tree``)."""

    images: list[dict[str, Any]]
    annotations: list[tuple[str, str]] | None
    tree: Any = None

    @classmethod
    def of_tree(cls, tree: Any) -> LightOme:
        """A reader's OME-XML tree, to be conformed by :func:`conform_tree`."""
        return cls([], None, tree)

    def orders(self) -> list[str]:
        """DimensionOrder of each Image of ``tree``."""
        return [
            px.get("DimensionOrder") or "XYZCT"
            for px in self.tree.iterfind(f"{{{OME_NS}}}Image/{{{OME_NS}}}Pixels")
        ]


class _Unsupported(Exception):
    """Control flow: this option needs the ome_types path."""


def _float(value: float) -> str:
    """Format a float as ome_types (xsdata) does: ``2.0``, ``1E-05``, ``1E20``."""
    text = repr(float(value))
    if "e" in text:
        text = text.upper().replace("E+", "E")
    if text in ("NAN", "INF", "-INF", "nan", "inf", "-inf"):
        raise _Unsupported
    return text


def _text(value: Any) -> str:
    text = str(value)
    if re.search(_XML_BAD, text):  # re caches the compiled pattern
        raise _Unsupported
    return text


def plane_quantity(kind: str, value: Any, what: str) -> tuple[float, str]:
    """A Plane field's value: any finite number (DeltaT 0, negative positions), unit
    checked by the one parser (U1, U2; a bare number is s or µm, U3)."""
    parse = parse_time if kind == "time" else parse_length
    return parse(value, what=what, positive=False)


def _per_channel(values: Sequence[Any] | None, size_c: int) -> list[Any]:
    if values is None:
        return [None] * size_c
    if len(values) != size_c:
        raise _Unsupported  # the full path raises the message
    return list(values)


def _image(
    i: int, src: SeriesSource, meta: SeriesMeta, date: str | None, annotated: bool
) -> dict[str, Any]:
    size_c = src.shape[1]
    names = _per_channel(meta.channel_names, size_c)
    colors = _per_channel(meta.channel_colors, size_c)
    ex = _per_channel(meta.excitation_wavelength, size_c)
    em = _per_channel(meta.emission_wavelength, size_c)
    channels = []
    for c in range(size_c):
        ch: dict[str, str] = {"ID": f"Channel:{i}:{c}"}
        if names[c] is not None:
            ch["Name"] = _text(names[c])
        ch["SamplesPerPixel"] = str(src.samples)
        for key, val in (("ExcitationWavelength", ex[c]), ("EmissionWavelength", em[c])):
            if val is not None:
                number, unit = parse_length(val, default_unit="nm", what=key)  # U3: nm
                ch[key] = _float(number)
                ch[key + "Unit"] = unit
        if colors[c] is not None:
            ch["Color"] = str(parse_color(colors[c], what=f"channel_colors[{c}]"))
        channels.append(ch)
    px: dict[str, str] = {}
    for axis in "XYZ":
        if axis in meta.physical_size:
            number, unit = parse_length(meta.physical_size[axis], what=f"physical_size[{axis}]")
            px[f"PhysicalSize{axis}"] = _float(number)
            px[f"PhysicalSize{axis}Unit"] = unit
    if meta.time_increment is not None:
        number, unit = parse_time(meta.time_increment, what="time_increment")
        px["TimeIncrement"] = _float(number)
        px["TimeIncrementUnit"] = unit
    planes = []
    t_n, c_n, z_n = src.shape[:3]
    for (t, c, z), values in sorted((meta.plane_metadata or {}).items()):
        if not (0 <= t < t_n and 0 <= c < c_n and 0 <= z < z_n):
            raise _Unsupported
        given: dict[str, tuple[float, str]] = {}
        for key, value in values.items():
            field_name = _PLANE_ALIASES.get(key, key)
            if field_name not in _PLANE_FIELDS:
                raise _Unsupported
            given[field_name] = plane_quantity(_PLANE_FIELDS[field_name][1], value, key)
        plane = {"TheZ": str(z), "TheT": str(t), "TheC": str(c)}
        for field_name, (unit_attr, _) in _PLANE_FIELDS.items():
            if field_name in given:
                plane[field_name] = _float(given[field_name][0])
                plane[unit_attr] = given[field_name][1]
        planes.append(plane)
    image_name = meta.name if meta.name is not None else src.name
    return {
        "name": None if image_name is None else _text(image_name),
        "date": date,
        "channels": channels,
        "pixels": px,
        "planes": planes,
        "annotated": annotated,
    }


def prepare(
    sources: Sequence[SeriesSource],
    metas: Sequence[SeriesMeta],
    *,
    acquisition_date: _dt.datetime | str | None = None,
    annotations: Mapping[str, Any] | None = None,
) -> LightOme | None:
    """Check keyword metadata for the fast path; ``None``: use ome_types instead."""
    try:
        date = None
        if acquisition_date is not None:
            when = acquisition_date
            if isinstance(when, str):
                when = _dt.datetime.fromisoformat(when)
            if not isinstance(when, _dt.datetime) or when.tzinfo is not None or when.microsecond:
                raise _Unsupported  # ome_types has its own way with these
            date = when.isoformat()
        pairs = None
        if annotations:
            pairs = [(_text(k), _text(v)) for k, v in annotations.items()]
        images = [
            _image(i, src, meta, date, bool(pairs))
            for i, (src, meta) in enumerate(zip(sources, metas, strict=True))
        ]
    except (_Unsupported, WriteError, ValueError, TypeError, OverflowError):
        return None
    return LightOme(images, pairs)


def render(
    light: LightOme,
    sources: Sequence[SeriesSource],
    orders: Sequence[str],
    runs: Sequence[TiffDataRun],
    *,
    multi_file: bool,
) -> str:
    """OME-XML of ``light`` describing the written pixels, root UUID a placeholder.

    Pixels are as :func:`ometiff.writer.omebuild.conform_ome` makes them: sizes,
    Type, DimensionOrder, BigEndian, Interleaved for RGB, one TiffData per run
    of planes (W1, T2) with UUID and FileName in file sets (M1, M2).
    """
    from lxml import etree

    if light.tree is not None:
        return conform_tree(light.tree, sources, orders, runs, multi_file=multi_file)
    root = etree.Element(f"{{{OME_NS}}}OME", nsmap={None: OME_NS, "xsi": _XSI_NS})
    root.set(f"{{{_XSI_NS}}}schemaLocation", _SCHEMA_LOCATION)
    root.set("UUID", SENTINEL_UUID)
    root.set("Creator", creator())

    def sub(parent: Any, tag: str, attrib: Mapping[str, str] | None = None) -> Any:
        el = etree.SubElement(parent, f"{{{OME_NS}}}{tag}")
        for key, value in (attrib or {}).items():
            el.set(key, value)
        return el

    for i, (img, src, order) in enumerate(zip(light.images, sources, orders, strict=True)):
        image = sub(root, "Image", {"ID": f"Image:{i}"})
        if img["name"] is not None:
            image.set("Name", img["name"])
        if img["date"] is not None:
            sub(image, "AcquisitionDate").text = img["date"]
        t, _, z, y, x = src.shape
        attrs = {"ID": f"Pixels:{i}", "DimensionOrder": order, "Type": DTYPE_TO_OME[src.dtype.name]}
        if src.samples > 1:
            attrs["Interleaved"] = "true"
        attrs.update(
            {
                "BigEndian": "false",
                "SizeX": str(x),
                "SizeY": str(y),
                "SizeZ": str(z),
                "SizeC": str(src.size_c),
                "SizeT": str(t),
            }
        )
        attrs.update(img["pixels"])
        pixels = sub(image, "Pixels", attrs)
        for ch in img["channels"]:
            sub(pixels, "Channel", ch)
        for run in runs:
            if run.series != i:
                continue
            ft, fc, fz = run.first
            td = sub(
                pixels,
                "TiffData",
                {
                    "IFD": str(run.ifd),
                    "FirstZ": str(fz),
                    "FirstT": str(ft),
                    "FirstC": str(fc),
                    "PlaneCount": str(run.count),
                },
            )
            if multi_file:
                sub(td, "UUID", {"FileName": run.file_name}).text = run.file_uuid
        for plane in img["planes"]:
            sub(pixels, "Plane", plane)
        if img["annotated"]:
            sub(image, "AnnotationRef", {"ID": "Annotation:0"})
    if light.annotations:
        ann = sub(
            sub(root, "StructuredAnnotations"),
            "MapAnnotation",
            {"ID": "Annotation:0", "Namespace": ANNOTATION_NS},
        )
        value = sub(ann, "Value")
        for k, v in light.annotations:
            sub(value, "M", {"K": k}).text = v
    return str(etree.tostring(root, encoding="unicode", pretty_print=True))


#: Units :func:`conform_tree` writes for quantities present without one (checklist W3):
#: the schema defaults, as ``omebuild.conform_ome`` makes them explicit.
_DEFAULT_UNITS = {
    "Pixels": {
        "PhysicalSizeX": "µm",
        "PhysicalSizeY": "µm",
        "PhysicalSizeZ": "µm",
        "TimeIncrement": "s",
    },
    "Plane": {
        "DeltaT": "s",
        "ExposureTime": "s",
        "PositionX": "reference frame",
        "PositionY": "reference frame",
        "PositionZ": "reference frame",
    },
}


def conform_tree(
    tree: Any,
    sources: Sequence[SeriesSource],
    orders: Sequence[str],
    runs: Sequence[TiffDataRun],
    *,
    multi_file: bool,
) -> str:
    """:func:`ometiff.writer.omebuild.conform_ome` for an OME-XML element tree built by
    a vendor reader (``readers/vendor.ome_element``), without ome_types: the same XML
    as ``ome_xml_template(conform_ome(from_xml(tree)))`` (tests compare both).

    Pixels sizes, Type, DimensionOrder, BigEndian, Interleaved, SamplesPerPixel,
    TiffData, planes in range and explicit units are rewritten; everything else is kept.
    """
    import copy

    from lxml import etree

    from ometiff.readers.vendor import OME_ATTRIBUTES

    def q(tag: str) -> str:
        return f"{{{OME_NS}}}{tag}"

    doc = copy.deepcopy(tree)
    images = doc.findall(q("Image"))
    if len(images) != len(sources):
        raise WriteError(f"ome has {len(images)} Image(s) but {len(sources)} series are written")
    for el in doc.findall(q("BinaryOnly")):
        doc.remove(el)
    doc.set("UUID", SENTINEL_UUID)
    if not doc.get("Creator"):
        doc.set("Creator", creator())
    for i, (image, src, order) in enumerate(zip(images, sources, orders, strict=True)):
        px = image.find(q("Pixels"))
        t, c, z, y, x = src.shape
        for key, value in (
            ("SizeX", x),
            ("SizeY", y),
            ("SizeZ", z),
            ("SizeC", src.size_c),
            ("SizeT", t),
        ):
            px.set(key, str(value))
        px.set("Type", DTYPE_TO_OME[src.dtype.name])
        px.set("DimensionOrder", order)
        px.set("BigEndian", "false")
        if src.samples > 1:
            px.set("Interleaved", "true")
        else:
            px.attrib.pop("Interleaved", None)
        bits = src.dtype.itemsize * 8 if src.dtype.kind != "b" else 1
        if int(px.get("SignificantBits", 0)) > bits:
            del px.attrib["SignificantBits"]
        channels = px.findall(q("Channel"))
        if len(channels) != c:  # pragma: no cover - the readers write one per channel
            raise WriteError(f"Image {image.get('ID')} has {len(channels)} Channels for {c}")
        for ch in channels:
            ch.set("SamplesPerPixel", str(src.samples))
        for tag in ("BinData", "TiffData", "MetadataOnly"):
            for el in px.findall(q(tag)):
                px.remove(el)
        at = len(channels)
        for run in runs:
            if run.series != i:
                continue
            ft, fc, fz = run.first
            td = etree.Element(q("TiffData"))
            for key, value in (
                ("IFD", run.ifd),
                ("FirstZ", fz),
                ("FirstT", ft),
                ("FirstC", fc),
                ("PlaneCount", run.count),
            ):
                td.set(key, str(value))
            if multi_file:  # M1, M2
                uuid = etree.SubElement(td, q("UUID"))
                uuid.set("FileName", run.file_name)
                uuid.text = run.file_uuid
            px.insert(at, td)
            at += 1
        for plane in px.findall(q("Plane")):
            if not (
                int(plane.get("TheT", 0)) < t
                and int(plane.get("TheC", 0)) < c
                and int(plane.get("TheZ", 0)) < z
            ):
                px.remove(plane)
        for el in (px, *px.findall(q("Plane"))):
            tag = etree.QName(el).localname
            for key, unit in _DEFAULT_UNITS[tag].items():
                if el.get(key) is not None and el.get(key + "Unit") is None:
                    el.set(key + "Unit", unit)
        for el in (px, *channels, *px.findall(q("Plane"))):  # schema order, as ome_types
            order_of = OME_ATTRIBUTES[etree.QName(el).localname]
            items = sorted(el.attrib.items(), key=lambda kv: order_of.index(kv[0]))
            el.attrib.clear()
            for key, value in items:
                el.set(key, value)
    _drop_stale_pyramid_elements(doc, images)
    root_attrs = [(k, v) for k, v in doc.attrib.items() if k not in ("UUID", "Creator")]
    root_attrs += [("UUID", doc.get("UUID")), ("Creator", doc.get("Creator"))]
    doc.attrib.clear()
    for key, value in root_attrs:
        doc.set(key, value)
    return str(etree.tostring(doc, encoding="unicode", pretty_print=True))


def _drop_stale_pyramid_elements(doc: Any, images: Sequence[Any]) -> None:
    """P-7, as ``omebuild.conform_ome`` does for a model: PyramidResolution
    annotations copied from a source describe its levels, not the written SubIFDs."""
    sa = doc.find(f"{{{OME_NS}}}StructuredAnnotations")
    if sa is None:
        return
    stale = set()
    for el in sa.findall(f"{{{OME_NS}}}MapAnnotation"):
        if el.get("Namespace") == PYRAMID_NS:
            stale.add(el.get("ID"))
            sa.remove(el)
    if not stale:
        return
    for image in images:
        for ref in image.findall(f"{{{OME_NS}}}AnnotationRef"):
            if ref.get("ID") in stale:
                image.remove(ref)
    if len(sa) == 0:
        doc.remove(sa)


def with_root_uuid(template: str, root_uuid: str) -> bytes:
    """UTF-8 OME-XML with the X4 warning comment and this file's root UUID (X1, X2, M1)."""
    xml, n = _ROOT_UUID_RE.subn(lambda mt: mt.group(1) + root_uuid + '"', template, count=1)
    if n != 1:  # pragma: no cover - both builders write the placeholder
        raise WriteError("internal error: root UUID placeholder not found in OME-XML")
    return f"{XML_DECL}\n{WARNING_COMMENT}\n{xml.strip()}\n".encode()


def binary_only_xml(file_uuid: str, companion_name: str, companion_uuid: str) -> bytes:
    """OME-XML of a BinaryOnly member of a companion file set (checklist M4)."""
    from lxml import etree

    root = etree.Element(f"{{{OME_NS}}}OME", nsmap={None: OME_NS, "xsi": _XSI_NS})
    root.set(f"{{{_XSI_NS}}}schemaLocation", _SCHEMA_LOCATION)
    root.set("UUID", file_uuid)
    el = etree.SubElement(root, f"{{{OME_NS}}}BinaryOnly")
    el.set("MetadataFile", companion_name)
    el.set("UUID", companion_uuid)
    xml = str(etree.tostring(root, encoding="unicode", pretty_print=True))
    return f"{XML_DECL}\n{WARNING_COMMENT}\n{xml.strip()}\n".encode()
