"""Helpers shared by the vendor readers (LIF, CZI, ND2, OME-Zarr).

Lazy imports with install hints, vendor colour text, small OME model
builders and flattening of vendor metadata into key-value strings.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ometiff.errors import MissingDependencyError, OmeTiffError
from ometiff.ome.colour import hex_to_ome
from ometiff.types import DTYPE_TO_OME

if TYPE_CHECKING:
    from pathlib import Path
    from types import ModuleType

    import numpy as np
    from ome_types import model as m


class VendorFileError(OmeTiffError, ValueError):
    """A vendor file (LIF, CZI, ND2, OME-Zarr) is corrupt, truncated or unreadable."""


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra.

    Parameters
    ----------
    module
        Module to import, e.g. ``"liffile"``.
    extra
        The ometiff extra that installs it, e.g. ``"lif"``.
    what
        Human name of the format, e.g. ``"Leica LIF"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f'reading {what} files needs {module}: pip install "ometiff[{extra}]"'
        ) from exc


@contextlib.contextmanager
def opening(reader: Any, what: str, damage: tuple[type[BaseException], ...]) -> Iterator[None]:
    """Turn the ``damage`` exceptions a vendor library raises while ``reader`` opens
    its file into one :class:`VendorFileError` naming the file, after closing it.

    ``damage`` lists what the library raises for bad bytes (never ``TypeError`` or
    ``AttributeError``: those are bugs and surface as themselves).
    """
    try:
        yield
    except damage as exc:
        reader.close()
        raise VendorFileError(
            f"{reader.path}: not a readable {what} file ({type(exc).__name__}: {exc}); "
            "the file may be truncated or corrupt"
        ) from exc


def ome_pixel_type(dtype: np.dtype) -> str:
    """OME pixel type name of a numpy dtype (D2); VendorFileError if not representable."""
    name = DTYPE_TO_OME.get(dtype.name)
    if name is None:
        raise VendorFileError(f"pixel type {dtype} cannot be stored in OME-TIFF (D2)")
    return name


def hex_color(text: str | None) -> m.Color | None:
    """A vendor's ``RRGGBB`` or ``#AARRGGBB`` (Zeiss, Leica, OME-Zarr omero) as a Color.

    Alpha 00 is read as opaque (those writers leave it zero); not hex: None.
    """
    value = hex_color_value(text)
    if value is None:
        return None
    from ome_types.model import Color

    return Color(value)


def hex_color_value(text: str | None) -> int | None:
    """:func:`hex_color` as the OME Color integer (the XML attribute's value)."""
    value = hex_to_ome(text, alpha_first=True)
    if value is None:
        return None
    return value if value & 255 else value + 255


def parse_float(text: Any) -> float | None:
    """A float from vendor text, or None for empty/invalid values."""
    if text is None:
        return None
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def parse_datetime(text: str | None) -> datetime | None:
    """Parse an ISO-8601 timestamp (7-digit fractions and a trailing Z allowed)."""
    if not text:
        return None
    s = text.strip().replace("Z", "+00:00")
    if "." in s:  # Python accepts at most 6 fractional digits
        head, _, tail = s.partition(".")
        digits = "".join(ch for ch in tail if ch.isdigit())
        rest = tail[len(digits) :]
        s = f"{head}.{digits[:6].ljust(6, '0')}{rest}"
    try:
        return datetime.fromisoformat(s)
    except ValueError:
        return None


def flatten(data: Any, prefix: str = "", out: dict[str, str] | None = None) -> dict[str, str]:
    """Flatten nested dicts/lists into ``{"a|b|0|c": "value"}`` strings."""
    out = {} if out is None else out
    if isinstance(data, Mapping):
        for key, value in data.items():
            flatten(value, f"{prefix}|{key}" if prefix else str(key), out)
    elif isinstance(data, (list, tuple)):
        for i, value in enumerate(data):
            flatten(value, f"{prefix}|{i}" if prefix else str(i), out)
    elif data is not None:
        out[prefix or "value"] = str(data)
    return out


def flatten_xml(root: Any, out: dict[str, str] | None = None) -> dict[str, str]:
    """Flatten an (lxml or ElementTree) element tree: ``path@attr`` and ``path`` text.

    Repeated sibling tags get a ``[i]`` index so no value is lost.
    """
    out = {} if out is None else out

    def walk(el: Any, path: str) -> None:
        for key, value in el.attrib.items():
            out[f"{path}@{key}"] = str(value)
        text = (el.text or "").strip()
        if text:
            out[path] = text
        counts: dict[str, int] = {}
        children = [c for c in el if isinstance(c.tag, str)]
        for child in children:
            counts[child.tag] = counts.get(child.tag, 0) + 1
        seen: dict[str, int] = {}
        for child in children:
            tag = child.tag
            if counts[tag] > 1:
                idx = seen.get(tag, 0)
                seen[tag] = idx + 1
                walk(child, f"{path}|{tag}[{idx}]")
            else:
                walk(child, f"{path}|{tag}")

    walk(root, root.tag if isinstance(root.tag, str) else "root")
    return out


def build_pixels(
    index: int,
    *,
    shape: tuple[int, int, int, int, int],
    samples: int,
    dtype: np.dtype,
    physical: tuple[float | None, float | None, float | None] = (None, None, None),
    channels: Iterable[dict[str, Any]] = (),
    planes: Iterable[m.Plane] = (),
    time_increment: float | None = None,
    significant_bits: int | None = None,
) -> m.Pixels:
    """OME Pixels for a (T, C, Z, Y, X) series; physical sizes in µm when given.

    ``channels`` holds keyword arguments for each ``Channel`` (one per C; missing
    entries get none); SizeC counts samples too (R2).
    """
    from ome_types import model as m
    from ome_types.model import UnitsLength, UnitsTime

    t, c, z, y, x = shape
    extra = list(channels)
    chans = []
    for ci in range(c):
        kwargs = dict(extra[ci]) if ci < len(extra) else {}
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        chans.append(m.Channel(id=f"Channel:{index}:{ci}", samples_per_pixel=samples, **kwargs))
    optional: dict[str, Any] = {}
    for axis, value in zip("xyz", physical, strict=True):
        if value is not None:  # U3/W3: a size only when the file states one, with its unit
            optional[f"physical_size_{axis}"] = value
            optional[f"physical_size_{axis}_unit"] = UnitsLength.MICROMETER
    if time_increment is not None:
        optional["time_increment"] = time_increment
        optional["time_increment_unit"] = UnitsTime.SECOND
    if significant_bits is not None:
        optional["significant_bits"] = significant_bits
    return m.Pixels(
        id=f"Pixels:{index}",
        dimension_order=m.Pixels_DimensionOrder.XYCZT,
        type=m.PixelType(ome_pixel_type(dtype)),
        size_x=x,
        size_y=y,
        size_z=z,
        size_c=c * samples,
        size_t=t,
        channels=chans,
        planes=list(planes),
        **optional,
    )


def sniff_head(
    path: Path, suffixes: tuple[str, ...], size: int, *, offset: int = 0
) -> bytes | None:
    """The ``size`` bytes at ``offset`` of a file named with one of ``suffixes``.

    The one read behind every reader's cheap sniff: None for another suffix, a
    folder, an unreadable file or one too short. Never raises.
    """
    if not path.name.lower().endswith(suffixes) or not path.is_file():
        return None
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            head = fh.read(size)
    except OSError:
        return None
    return head if len(head) == size else None


def has_magic(path: Path, suffixes: tuple[str, ...], *magics: bytes) -> bool:
    """A reader's cheap sniff: one of ``suffixes`` and a file starting with a magic.

    Never raises: an unreadable path is simply not this format.
    """
    for magic in magics:
        head = sniff_head(path, suffixes, len(magic))
        if head == magic:
            return True
    return False


# --- OME-XML built directly (the vendor readers' metadata, without ome_types) -------

OME_NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"
_XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

#: Attribute order of the OME elements the vendor readers write: the order of the
#: ome_types model fields, which its serialiser follows (so that a document built here
#: serialises exactly as ``ome_types.to_xml`` of the same model; a test compares them).
OME_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "OME": ("UUID", "Creator"),
    "Image": ("ID", "Name"),
    "Pixels": (
        "ID",
        "DimensionOrder",
        "Type",
        "SignificantBits",
        "Interleaved",
        "BigEndian",
        "SizeX",
        "SizeY",
        "SizeZ",
        "SizeC",
        "SizeT",
        "PhysicalSizeX",
        "PhysicalSizeXUnit",
        "PhysicalSizeY",
        "PhysicalSizeYUnit",
        "PhysicalSizeZ",
        "PhysicalSizeZUnit",
        "TimeIncrement",
        "TimeIncrementUnit",
    ),
    "Channel": (
        "ID",
        "Name",
        "SamplesPerPixel",
        "IlluminationType",
        "PinholeSize",
        "PinholeSizeUnit",
        "AcquisitionMode",
        "ContrastMethod",
        "ExcitationWavelength",
        "ExcitationWavelengthUnit",
        "EmissionWavelength",
        "EmissionWavelengthUnit",
        "Fluor",
        "NDFilter",
        "PockelCellSetting",
        "Color",
    ),
    "Plane": (
        "TheZ",
        "TheT",
        "TheC",
        "DeltaT",
        "DeltaTUnit",
        "ExposureTime",
        "ExposureTimeUnit",
        "PositionX",
        "PositionXUnit",
        "PositionY",
        "PositionYUnit",
        "PositionZ",
        "PositionZUnit",
    ),
    "TiffData": ("IFD", "FirstZ", "FirstT", "FirstC", "PlaneCount"),
    "StageLabel": ("Name", "X", "XUnit", "Y", "YUnit", "Z", "ZUnit"),
    "Instrument": ("ID",),
    "Detector": (
        "Manufacturer",
        "Model",
        "SerialNumber",
        "LotNumber",
        "Gain",
        "Voltage",
        "VoltageUnit",
        "Offset",
        "Zoom",
        "AmplificationGain",
        "ID",
        "Type",
    ),
    "Microscope": ("Manufacturer", "Model", "SerialNumber", "LotNumber", "Type"),
    "Objective": (
        "Manufacturer",
        "Model",
        "SerialNumber",
        "LotNumber",
        "ID",
        "Correction",
        "Immersion",
        "LensNA",
        "NominalMagnification",
        "CalibratedMagnification",
        "WorkingDistance",
        "WorkingDistanceUnit",
        "Iris",
    ),
    "ObjectiveSettings": ("ID", "CorrectionCollar", "Medium", "RefractiveIndex"),
    "InstrumentRef": ("ID",),
    "AcquisitionDate": (),
    "AnnotationRef": ("ID",),
    "StructuredAnnotations": (),
    "MapAnnotation": ("ID", "Namespace", "Annotator"),
    "Value": (),
    "M": ("K",),
}


def xsd_float(value: float) -> str:
    """A float as ome_types (xsdata) writes it: ``2.0``, ``1E-05``, ``1E20``."""
    text = repr(float(value))
    if "e" in text:
        text = text.upper().replace("E+", "E")
    return text


def xsd_datetime(when: datetime) -> str:
    """A datetime as ome_types (xsdata) writes it: milliseconds when whole, ``Z`` for UTC."""
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    us = when.microsecond
    if us:
        text += f".{us // 1000:03d}" if us % 1000 == 0 else f".{us:06d}"
    offset = when.utcoffset()
    if offset is not None:
        minutes = int(offset.total_seconds()) // 60
        if minutes == 0:
            text += "Z"
        else:
            sign = "-" if minutes < 0 else "+"
            text += f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return text


def _xml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return xsd_float(value)
    return str(value)


def ome_element(parent: Any, tag: str, text: str | None = None, **attrs: Any) -> Any:
    """An OME-namespace element (a child of ``parent`` unless None) with ``attrs`` (XML
    names, None left out) in schema order (:data:`OME_ATTRIBUTES`)."""
    from lxml import etree

    name = f"{{{OME_NS}}}{tag}"
    if parent is None and tag == "OME":  # the document
        el = etree.Element(name, nsmap={None: OME_NS, "xsi": _XSI_NS})
        el.set(f"{{{_XSI_NS}}}schemaLocation", f"{OME_NS} {OME_NS}/ome.xsd")
    elif parent is None:  # to be appended later
        el = etree.Element(name)
    else:
        el = etree.SubElement(parent, name)
    order = OME_ATTRIBUTES[tag]
    for key in sorted(attrs, key=order.index):
        if attrs[key] is not None:
            el.set(key, _xml_value(attrs[key]))
    if text is not None:
        el.text = text
    return el


def pixels_element(
    image: Any,
    index: int,
    *,
    shape: tuple[int, int, int, int, int],
    samples: int,
    dtype: np.dtype,
    physical: tuple[float | None, float | None, float | None] = (None, None, None),
    channels: Iterable[dict[str, Any]] = (),
    planes: Iterable[dict[str, Any]] = (),
    time_increment: float | None = None,
    significant_bits: int | None = None,
    dimension_order: str = "XYCZT",
    units: tuple[str, str, str] = ("µm", "µm", "µm"),
    time_unit: str = "s",
) -> Any:
    """The Pixels of a (T, C, Z, Y, X) series under ``image``: physical sizes (X, Y, Z)
    in ``units`` when given, the time increment in ``time_unit``, ``channels`` and
    ``planes`` as attributes (XML names) of each Channel and Plane; SizeC counts samples
    too (R2). The XML twin of :func:`build_pixels`; ``dimension_order`` is the order
    the planes are written in (D3)."""
    t, c, z, y, x = shape
    attrs: dict[str, Any] = {}
    for axis, value, unit in zip("XYZ", physical, units, strict=True):
        if value is not None:  # U3/W3: a size only when the file states one, with its unit
            attrs[f"PhysicalSize{axis}"] = float(value)
            attrs[f"PhysicalSize{axis}Unit"] = unit
    if time_increment is not None:
        attrs["TimeIncrement"] = float(time_increment)
        attrs["TimeIncrementUnit"] = time_unit
    px = ome_element(
        image,
        "Pixels",
        ID=f"Pixels:{index}",
        DimensionOrder=dimension_order,
        Type=ome_pixel_type(dtype),
        SignificantBits=significant_bits,
        SizeX=x,
        SizeY=y,
        SizeZ=z,
        SizeC=c * samples,
        SizeT=t,
        **attrs,
    )
    extra = list(channels)
    for ci in range(c):
        kw = dict(extra[ci]) if ci < len(extra) else {}
        ome_element(px, "Channel", ID=f"Channel:{index}:{ci}", SamplesPerPixel=samples, **kw)
    for plane in planes:
        ome_element(px, "Plane", **plane)
    return px


def ome_document(root: Any) -> str:
    """The OME-XML text of a document built with :func:`ome_element`."""
    from lxml import etree

    return str(etree.tostring(root, encoding="unicode"))


def ome_model(root: Any) -> Any:
    """The ``ome_types.OME`` of a document built with :func:`ome_element`."""
    from ome_types import from_xml

    return from_xml(ome_document(root))
