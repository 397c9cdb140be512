"""A fast, read-only view of OME-XML (the plane map is :mod:`ometiff.ome.planemap`).

ome-types builds a full pydantic model, which costs seconds on a 30,000-plane
file; inspecting and validating need only a few attributes, so this module walks
the lxml tree directly (namespace-agnostic, so every schema version from 2003-FC
to 2016-06 is read) into small frozen dataclasses. Code that edits or writes
metadata uses ``ome_types.OME`` (:func:`read_ome`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ometiff.errors import MissingFileError, OmeXmlError
from ometiff.ome.xml import is_ome_xml, local, namespace, parse_xml, schema_version

if TYPE_CHECKING:
    from lxml.etree import _Element
    from ome_types import OME

    from ometiff.types import StrPath


@dataclass(frozen=True, slots=True)
class Quantity:
    """A value with the unit written in the file (or the schema default, U3)."""

    value: float
    unit: str
    unit_explicit: bool = True


@dataclass(frozen=True, slots=True)
class ChannelView:
    """One OME Channel."""

    id: str | None
    name: str | None
    samples_per_pixel: int | None
    color: int | None
    excitation: Quantity | None
    emission: Quantity | None
    fluor: str | None


class TiffDataView(NamedTuple):
    """One TiffData element; None where the attribute is absent (T2)."""

    ifd: int | None
    first_z: int | None
    first_t: int | None
    first_c: int | None
    plane_count: int | None
    uuid: str | None
    filename: str | None


@dataclass(frozen=True, slots=True)
class PlaneView:
    """One Plane element (PL1)."""

    the_z: int | None
    the_c: int | None
    the_t: int | None
    delta_t: Quantity | None
    exposure_time: Quantity | None
    position_x: Quantity | None
    position_y: Quantity | None
    position_z: Quantity | None
    raw: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ImageView:
    """One OME Image with its Pixels."""

    index: int
    id: str | None
    name: str | None
    acquisition_date: str | None
    description: str | None
    pixels_id: str | None
    dimension_order: str | None
    pixel_type: str | None
    size_x: int | None
    size_y: int | None
    size_z: int | None
    size_c: int | None
    size_t: int | None
    big_endian: bool | None
    interleaved: bool | None
    significant_bits: int | None
    physical_size_x: Quantity | None
    physical_size_y: Quantity | None
    physical_size_z: Quantity | None
    time_increment: Quantity | None
    channels: tuple[ChannelView, ...]
    tiffdata: tuple[TiffDataView, ...]
    planes: tuple[PlaneView, ...]
    has_bindata: bool
    has_metadata_only: bool
    instrument_ref: str | None
    objective_ref: str | None
    annotation_refs: tuple[str, ...]
    raw_pixels: dict[str, str] = field(default_factory=dict)

    @property
    def samples_per_pixel(self) -> int:
        """Samples per pixel from the first Channel (R3); 1 when absent."""
        if self.channels and self.channels[0].samples_per_pixel:
            return self.channels[0].samples_per_pixel
        return 1

    @property
    def effective_size_c(self) -> int:
        """Planes per (Z, T): SizeC / SamplesPerPixel (R3)."""
        size_c = self.size_c or 1
        spp = self.samples_per_pixel
        if spp > 1 and size_c % spp == 0:
            return size_c // spp
        return size_c

    @property
    def plane_count(self) -> int:
        """Number of planes: SizeZ x effective SizeC x SizeT."""
        return (self.size_z or 1) * self.effective_size_c * (self.size_t or 1)

    def _dims(self) -> tuple[str, dict[str, int]]:
        order = (self.dimension_order or "XYZCT").upper()
        sizes = {"Z": self.size_z or 1, "C": self.effective_size_c, "T": self.size_t or 1}
        letters = order[2:]
        if order[:2] != "XY" or sorted(letters) != ["C", "T", "Z"]:
            letters = "ZCT"  # not one of the six legal orders (D3): read as XYZCT
        return letters, sizes

    def index_of(self, z: int, c: int, t: int) -> int:
        """Plane index of (z, c, t) in DimensionOrder rasterisation (D3, T1)."""
        letters, sizes = self._dims()
        pos = {"Z": z, "C": c, "T": t}
        index, stride = 0, 1
        for letter in letters:
            index += pos[letter] * stride
            stride *= sizes[letter]
        return index

    def zct_of(self, index: int) -> tuple[int, int, int]:
        """(z, c, t) of a plane index in DimensionOrder rasterisation (D3)."""
        letters, sizes = self._dims()
        pos: dict[str, int] = {}
        for letter in letters:
            pos[letter] = index % sizes[letter]
            index //= sizes[letter]
        return pos["Z"], pos["C"], pos["T"]


@dataclass(frozen=True, slots=True)
class InstrumentView:
    """Short summary of an Instrument."""

    id: str | None
    microscope: str | None
    objectives: tuple[str, ...]
    detectors: int
    light_sources: int


@dataclass(frozen=True, slots=True)
class BinaryOnlyView:
    """The BinaryOnly element of a partial-metadata member (M4)."""

    metadata_file: str | None
    uuid: str | None


@dataclass(frozen=True, slots=True)
class OmeView:
    """What an OME-XML document says, as far as inspection and validation need."""

    schema_version: str | None
    namespace: str
    uuid: str | None
    creator: str | None
    images: tuple[ImageView, ...]
    binary_only: BinaryOnlyView | None
    instruments: tuple[InstrumentView, ...]
    annotation_count: int
    plate_count: int
    roi_count: int
    root: Any = field(repr=False, compare=False)


# --- parsing -------------------------------------------------------------------


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)  # int() ignores surrounding whitespace itself
    except ValueError:
        try:
            as_float = float(value)
        except ValueError:
            return None
        return int(as_float) if as_float.is_integer() else None


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _bool(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.strip().lower() in ("true", "1")


def _quantity(attrs: Any, name: str, default_unit: str) -> Quantity | None:
    value = _float(attrs.get(name))
    if value is None:
        return None
    unit = attrs.get(name + "Unit")
    if unit is None:
        return Quantity(value, default_unit, unit_explicit=False)
    return Quantity(value, unit)


def _children(elem: _Element, name: str) -> Iterator[_Element]:
    for child in elem:
        if local(child.tag) == name:
            yield child


def _first(elem: _Element, name: str) -> _Element | None:
    return next(_children(elem, name), None)


def _text(elem: _Element | None) -> str | None:
    if elem is None or elem.text is None:
        return None
    return elem.text.strip()


def _channel(elem: _Element) -> ChannelView:
    a = elem.attrib
    name = a.get("Name")
    fluor = a.get("Fluor")
    return ChannelView(
        id=a.get("ID"),
        name=name,
        samples_per_pixel=_int(a.get("SamplesPerPixel")),
        color=_int(a.get("Color")),
        excitation=_quantity(a, "ExcitationWavelength", "nm"),
        emission=_quantity(a, "EmissionWavelength", "nm"),
        fluor=fluor,
    )


def _tiffdata(elem: _Element) -> TiffDataView:
    # Hot path: Bio-Formats writes one TiffData per plane, so a 30,000-plane file
    # calls this 30,000 times; plain attribute reads and int() keep it ~3 us each.
    get = elem.get
    ifd, fz, ft, fc, pc = get("IFD"), get("FirstZ"), get("FirstT"), get("FirstC"), get("PlaneCount")
    try:
        values = (
            None if ifd is None else int(ifd),
            None if fz is None else int(fz),
            None if ft is None else int(ft),
            None if fc is None else int(fc),
            None if pc is None else int(pc),
        )
    except ValueError:  # "1.0", spaces, junk: the general parser decides
        values = (_int(ifd), _int(fz), _int(ft), _int(fc), _int(pc))
    uuid = filename = None
    if len(elem):
        for child in elem:  # TiffData's only child element is UUID
            tag = child.tag
            if isinstance(tag, str) and tag.endswith("UUID"):
                text = child.text
                uuid = (text.strip() or None) if text else None
                filename = child.get("FileName")
                break
    return TiffDataView(*values, uuid, filename)


def _plane(elem: _Element) -> PlaneView:
    a = elem.attrib
    return PlaneView(
        the_z=_int(a.get("TheZ")),
        the_c=_int(a.get("TheC")),
        the_t=_int(a.get("TheT")),
        delta_t=_quantity(a, "DeltaT", "s"),
        exposure_time=_quantity(a, "ExposureTime", "s"),
        position_x=_quantity(a, "PositionX", "reference frame"),
        position_y=_quantity(a, "PositionY", "reference frame"),
        position_z=_quantity(a, "PositionZ", "reference frame"),
        raw=dict(a),
    )


def _image(index: int, elem: _Element, *, with_planes: bool = True) -> ImageView:
    a = elem.attrib
    pixels = _first(elem, "Pixels")
    p = pixels.attrib if pixels is not None else {}
    channels: list[ChannelView] = []
    tiffdata: list[TiffDataView] = []
    planes: list[PlaneView] = []
    has_bindata = has_metadata_only = False
    if pixels is not None:
        names: dict[object, str] = {}  # tag -> local name, computed once per tag
        for child in pixels:
            tag = child.tag
            name = names.get(tag) or names.setdefault(tag, local(tag))
            if name == "TiffData":
                tiffdata.append(_tiffdata(child))
            elif name == "Plane":
                if with_planes:
                    planes.append(_plane(child))
            elif name == "Channel":
                channels.append(_channel(child))
            elif name == "BinData":
                has_bindata = True
            elif name == "MetadataOnly":
                has_metadata_only = True
    if not channels:
        # schema versions before 2010 keep channel info in LogicalChannel/ChannelInfo
        for child in elem.iter():
            if local(child.tag) in ("LogicalChannel", "ChannelInfo"):
                channels.append(_channel(child))
    instrument = _first(elem, "InstrumentRef")
    objective = _first(elem, "ObjectiveSettings")
    acq = _first(elem, "AcquisitionDate")
    if acq is None:
        acq = _first(elem, "CreationDate")  # 2003-FC .. 2008-02
    acq_date = _text(acq) or a.get("AcquiredDate") or a.get("AcquisitionDate")
    dimension_order = p.get("DimensionOrder")
    pixel_type = p.get("Type") or p.get("PixelType")
    return ImageView(
        index=index,
        id=a.get("ID"),
        name=a.get("Name"),
        acquisition_date=acq_date,
        description=_text(_first(elem, "Description")),
        pixels_id=p.get("ID"),
        dimension_order=dimension_order,
        pixel_type=pixel_type,
        size_x=_int(p.get("SizeX")),
        size_y=_int(p.get("SizeY")),
        size_z=_int(p.get("SizeZ")),
        size_c=_int(p.get("SizeC")),
        size_t=_int(p.get("SizeT")),
        big_endian=_bool(p.get("BigEndian")),
        interleaved=_bool(p.get("Interleaved")),
        significant_bits=_int(p.get("SignificantBits")),
        physical_size_x=_quantity(p, "PhysicalSizeX", "µm"),
        physical_size_y=_quantity(p, "PhysicalSizeY", "µm"),
        physical_size_z=_quantity(p, "PhysicalSizeZ", "µm"),
        time_increment=_quantity(p, "TimeIncrement", "s"),
        channels=tuple(channels),
        tiffdata=tuple(tiffdata),
        planes=tuple(planes),
        has_bindata=has_bindata,
        has_metadata_only=has_metadata_only,
        instrument_ref=None if instrument is None else instrument.get("ID"),
        objective_ref=None if objective is None else objective.get("ID"),
        annotation_refs=tuple(r.get("ID", "") for r in _children(elem, "AnnotationRef")),
        raw_pixels=dict(p),
    )


def _instrument(elem: _Element) -> InstrumentView:
    microscope = _first(elem, "Microscope")
    objectives = []
    detectors = light_sources = 0
    for child in elem:
        name = local(child.tag)
        if name == "Objective":
            a = child.attrib
            parts = [
                a.get("Model"),
                a.get("NominalMagnification") and f"{a['NominalMagnification']}x",
                a.get("LensNA") and f"NA {a['LensNA']}",
                a.get("Immersion"),
            ]
            objectives.append(" ".join(p for p in parts if p) or a.get("ID", "objective"))
        elif name == "Detector":
            detectors += 1
        elif name in (
            "LightSource",
            "Laser",
            "Arc",
            "Filament",
            "LightEmittingDiode",
            "GenericExcitationSource",
        ):
            light_sources += 1
    micro = None
    if microscope is not None:
        m = microscope.attrib
        micro = " ".join(v for v in (m.get("Manufacturer"), m.get("Model")) if v) or None
    return InstrumentView(
        id=elem.get("ID"),
        microscope=micro,
        objectives=tuple(objectives),
        detectors=detectors,
        light_sources=light_sources,
    )


#: Most planes one Image may declare (SizeZ x SizeC x SizeT). Every plane map lists
#: its planes one by one, so ``SizeT="1e308"`` must be refused before that starts;
#: an OME-TIFF needs one IFD per plane, and ten million IFDs is far beyond any
#: file written so far.
MAX_PLANES = 10_000_000
#: Largest SizeX or SizeY: TIFF ImageWidth and ImageLength are 32-bit.
MAX_EDGE = 2**32 - 1


def _check_sizes(image: ImageView, source: str) -> ImageView:
    """Refuse an Image whose declared sizes are absurd (issue 15), before anything is built."""
    for key, value in (("SizeX", image.size_x), ("SizeY", image.size_y)):
        if value is not None and not 0 <= value <= MAX_EDGE:
            raise OmeXmlError(
                f"{source}: Image {image.index} declares {key}={image.raw_pixels.get(key)}, "
                f"outside 0..{MAX_EDGE}"
            )
    for key, value in (("SizeZ", image.size_z), ("SizeC", image.size_c), ("SizeT", image.size_t)):
        if value is not None and not 0 <= value <= MAX_PLANES:
            raise OmeXmlError(
                f"{source}: Image {image.index} declares {key}={image.raw_pixels.get(key)}, "
                f"more than the {MAX_PLANES:,} planes ometiff accepts"
            )
    if image.plane_count > MAX_PLANES:
        raise OmeXmlError(
            f"{source}: Image {image.index} declares {image.plane_count:,} planes "
            f"(SizeZ×SizeC×SizeT), more than the {MAX_PLANES:,} ometiff accepts"
        )
    return image


def parse_ome(
    xml: bytes | str | _Element, *, source: str = "OME-XML", planes: bool = True
) -> OmeView:
    """Parse OME-XML (any schema version) into an :class:`OmeView`.

    ``planes=False`` leaves every ``ImageView.planes`` empty: building 30,000
    PlaneViews costs about a second, and the validator checks Plane elements
    vectorised from the lxml tree (``OmeView.root``) instead.

    Raises
    ------
    OmeXmlError
        The XML is not well-formed, its root is not ``OME``, or an Image declares
        absurd sizes (more than :data:`MAX_PLANES` planes).
    """
    root = xml if not isinstance(xml, (bytes, str)) else parse_xml(xml, source=source)
    if local(root.tag) != "OME":
        raise OmeXmlError(f"{source}: root element is <{local(root.tag)}>, not <OME>")
    images: list[ImageView] = []
    instruments: list[InstrumentView] = []
    binary_only: BinaryOnlyView | None = None
    annotations = plates = rois = 0
    for child in root:
        name = local(child.tag)
        if name == "Image":
            images.append(_check_sizes(_image(len(images), child, with_planes=planes), source))
        elif name == "Instrument":
            instruments.append(_instrument(child))
        elif name == "BinaryOnly":
            binary_only = BinaryOnlyView(child.get("MetadataFile"), child.get("UUID"))
        elif name == "StructuredAnnotations":
            annotations = sum(1 for a in child if isinstance(a.tag, str))
        elif name == "Plate":
            plates += 1
        elif name == "ROI":
            rois += 1
    return OmeView(
        schema_version=schema_version(root),
        namespace=namespace(root.tag),
        uuid=root.get("UUID"),
        creator=root.get("Creator"),
        images=tuple(images),
        binary_only=binary_only,
        instruments=tuple(instruments),
        annotation_count=annotations,
        plate_count=plates,
        roi_count=rois,
        root=root,
    )


def read_ome_xml(path: StrPath) -> str:
    """The OME-XML text of an OME-TIFF (IFD0 ImageDescription, X1) or a companion file.

    Raises
    ------
    OmeXmlError
        The file carries no OME-XML.
    MissingFileError
        The file does not exist.
    """
    from ometiff.tiff.structure import decode_description, is_tiff, read_description

    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"{p}: no such file")
    if not is_tiff(p):
        text, _ = decode_description(p.read_bytes())
        return text
    desc = read_description(p)
    if desc is None or not is_ome_xml(desc):
        raise OmeXmlError(f"{p}: no OME-XML in the first IFD's ImageDescription")
    return desc


def read_ome(path: StrPath, *, validate: bool = False) -> OME:
    """The full ``ome_types.OME`` model of an OME-TIFF or companion file."""
    import ome_types
    from lxml import etree

    xml = read_ome_xml(path)
    try:
        return ome_types.from_xml(xml, validate=validate)
    except (ValueError, etree.Error) as exc:  # pydantic, xsdata and lxml errors
        raise OmeXmlError(f"{path}: OME-XML cannot be loaded: {str(exc).splitlines()[0]}") from exc
