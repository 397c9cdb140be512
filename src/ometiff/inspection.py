"""``ometiff info``: what any readable input is, how it is laid out, and what it means.

For TIFF-family files, :func:`info` combines the fast IFD walk
(:mod:`ometiff.tiff.structure`), the variant signatures (:mod:`ometiff.tiff.variant`),
the OME view and plane map (:mod:`ometiff.ome.view`) and multi-file resolution
(:mod:`ometiff.ome.fileset`). Files that carry no OME-XML are described through
tifffile's series and their own metadata (ImageJ calibration, LSM voxel sizes,
resolution tags). Every other input (LIF, CZI, ND2, OME-Zarr, image series, ``.npy``
and any reader added to the registry) is opened through :mod:`ometiff.readers` and
described by :func:`reader_info` from the reader's :meth:`~ometiff.readers.base.Reader.ome_view`,
with the same per-image summary (:func:`image_summary`) as OME-TIFF, plus the vendor
container: the reader, and what it mapped to OME and what it could not.

The JSON document (:meth:`FileInfo.to_dict`) is a stable interface, documented in
the README: keys are only ever added.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ometiff.errors import (
    InvalidTiffError,
    InvalidValueError,
    OmeTiffError,
    OmeXmlError,
)
from ometiff.ome.colour import ome_to_hex, rgba_to_ome
from ometiff.ome.fileset import FileSet, resolve_fileset
from ometiff.ome.planemap import PlaneMap, plane_map
from ometiff.ome.units import tidy, to_micrometres, to_seconds
from ometiff.ome.view import ImageView, Quantity
from ometiff.ome.xml import is_ome_xml
from ometiff.tiff.names import OME_XML_SUFFIXES, TIFF_SUFFIXES
from ometiff.tiff.structure import TiffStructure, check_tifffile_safe, inspect_tiff, is_tiff
from ometiff.tiff.variant import Variant, detect_variants, imagej_disagreements
from ometiff.types import DTYPE_TO_OME

if TYPE_CHECKING:
    from ometiff.ome.view import InstrumentView
    from ometiff.readers.base import Reader
    from ometiff.readers.tifflayout import TiffLayout
    from ometiff.types import StrPath

JSON_VERSION = 2  # 2: series of non-OME TIFFs as convert reads them (see README)


@dataclass
class ChannelSummary:
    """One channel as ``info`` reports it."""

    name: str | None
    color: str | None = None  # "#RRGGBB" (or "#RRGGBBAA" when not opaque)
    excitation_nm: float | None = None
    emission_nm: float | None = None
    fluor: str | None = None
    samples_per_pixel: int = 1


@dataclass
class PlaneLocation:
    """Where one plane lives."""

    z: int
    c: int
    t: int
    file: str | None
    ifd: int | None


@dataclass
class SeriesSummary:
    """One image series (an OME Image) as ``info`` reports it."""

    index: int
    name: str | None
    size_x: int
    size_y: int
    size_z: int
    size_c: int
    size_t: int
    samples_per_pixel: int
    dtype: str | None  # OME pixel type name
    dimension_order: str
    physical_size_x: float | None  # µm
    physical_size_y: float | None
    physical_size_z: float | None
    physical_size_units: dict[str, str] = field(default_factory=dict)  # as written
    time_increment: float | None = None  # seconds
    channels: list[ChannelSummary] = field(default_factory=list)
    levels: list[list[int]] = field(default_factory=list)  # [size_y, size_x], full first
    planes: list[PlaneLocation] = field(default_factory=list)
    acquisition_date: str | None = None
    instrument: str | None = None
    plane_problems: list[str] = field(default_factory=list)


@dataclass
class ContainerInfo:
    """The vendor container of a non-TIFF input, as its reader sees it."""

    reader: str  # registry name, e.g. "lif"
    description: str  # the registry's one line, e.g. "Leica LIF (every series)"
    series_count: int
    #: ``{source, ome}``: what the reader mapped to which OME location (deduplicated)
    mapped: list[dict[str, str]] = field(default_factory=list)
    #: ``{source, reason}``: what it could not map, and why (deduplicated)
    unmapped: list[dict[str, str]] = field(default_factory=list)


@dataclass
class FileInfo:
    """Everything ``ometiff info`` knows about one file."""

    path: Path
    variant: str
    variants: list[Variant]
    bigtiff: bool | None
    byte_order: str | None  # "little" / "big"
    ifd_count: int | None
    file_size: int
    structure: TiffStructure | None
    series: list[SeriesSummary]
    files: list[dict[str, Any]] = field(default_factory=list)
    schema_version: str | None = None
    creator: str | None = None
    annotation_count: int = 0
    metadata_source: str = "tiff"  # "ome": series come from OME-XML and its plane map
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: the reader that reads the pixels (``ometiff formats``): "ome-tiff", "tiff", "lif", ...
    format: str = "tiff"
    #: the vendor container of a non-TIFF input (None for TIFF-family files)
    container: ContainerInfo | None = None
    #: the resolved file set of an OME file (not in the JSON): pixel readers reuse it
    fileset: FileSet | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON document (see README, "ometiff info --json")."""
        return {
            "json_version": JSON_VERSION,
            "path": str(self.path),
            "format": self.format,
            "variant": self.variant,
            "variants": [{"name": v.name, "evidence": v.evidence} for v in self.variants],
            "bigtiff": self.bigtiff,
            "byte_order": self.byte_order,
            "ifd_count": self.ifd_count,
            "file_size": self.file_size,
            "schema_version": self.schema_version,
            "creator": self.creator,
            "annotation_count": self.annotation_count,
            "metadata_source": self.metadata_source,
            "files": self.files,
            "series": [asdict(s) for s in self.series],
            "warnings": self.warnings,
            "problems": self.problems,
            "container": None if self.container is None else asdict(self.container),
        }


def _color_hex(value: int | None) -> str | None:
    """``#RRGGBB[AA]`` of an OME Color (R4); None when absent or not a 32-bit value."""
    try:
        return ome_to_hex(value)
    except InvalidValueError:
        return None


def _um(q: Quantity | None) -> float | None:
    return None if q is None else to_micrometres(q.value, q.unit)  # tidied there


def _nm(q: Quantity | None) -> float | None:
    um = None if q is None else to_micrometres(q.value, q.unit)
    return None if um is None else tidy(um * 1000.0)


# --- OME -----------------------------------------------------------------------


def _ome_series(fs: FileSet, structures: dict[Path, TiffStructure | None]) -> list[SeriesSummary]:
    out = []
    instruments = {i.id: i for i in fs.ome.instruments}
    for image in fs.ome.images:
        pm = plane_map(image, ifd_count=fs.ifd_count)
        out.append(_ome_series_one(fs, image, pm, structures, instruments))
    return out


def _structure_of(
    path: Path | None, cache: dict[Path, TiffStructure | None]
) -> TiffStructure | None:
    if path is None:
        return None
    if path not in cache:
        try:
            cache[path] = inspect_tiff(path)
        except OmeTiffError:
            cache[path] = None
    return cache[path]


def _ome_series_one(
    fs: FileSet,
    image: ImageView,
    pm: PlaneMap,
    structures: dict[Path, TiffStructure | None],
    instruments: dict[str | None, InstrumentView],
) -> SeriesSummary:
    """One Image of an OME-TIFF: :func:`image_summary` checked against its TIFF."""
    problems: list[str] = []
    size_x, size_y = image.size_x or 0, image.size_y or 0
    spp = image.samples_per_pixel
    levels_below: list[list[int]] = []
    if pm.planes:
        first = pm.planes[min(pm.planes)]
        member = fs.member_for(first.uuid, first.filename)
        st = _structure_of(member.path if member and member.exists else None, structures)
        if st is not None and first.ifd < st.ifd_count:
            ifd = st.ifds[first.ifd]
            # D5 / N5: where OME and the TIFF disagree, readers take the TIFF's value
            if ifd.samples_per_pixel != spp and ifd.samples_per_pixel > 0:
                problems.append(
                    f"SamplesPerPixel is {spp} in OME-XML but {ifd.samples_per_pixel} in the TIFF; "
                    "the TIFF's value is used (N5)"
                )
                spp = ifd.samples_per_pixel
                size_c = image.size_c or 1
                if size_c % spp:
                    size_c *= spp
                first_channel = image.channels[0] if image.channels else None
                fixed_channels = image.channels[1:]
                if first_channel is not None:
                    fixed_channels = (
                        replace(first_channel, samples_per_pixel=spp),
                        *fixed_channels,
                    )
                image = replace(image, size_c=size_c, channels=fixed_channels)
                pm = plane_map(image, ifd_count=fs.ifd_count)
            for label, ome_value, tiff_value in (
                ("SizeX", size_x, ifd.width),
                ("SizeY", size_y, ifd.height),
            ):
                if ome_value != tiff_value:
                    problems.append(
                        f"{label} is {ome_value} in OME-XML but {tiff_value} in the TIFF; "
                        "the TIFF's value is used (D5)"
                    )
            size_x, size_y = ifd.width, ifd.height
            # pyramid levels: the SubIFDs of the first plane's IFD (P-2)
            levels_below = [[sub.height, sub.width] for sub in ifd.subifds]
    planes: list[PlaneLocation] = []
    for index in sorted(pm.planes):
        ref = pm.planes[index]
        member = fs.member_for(ref.uuid, ref.filename)
        planes.append(
            PlaneLocation(ref.z, ref.c, ref.t, member.filename if member else ref.filename, ref.ifd)
        )
    if pm.counted:
        problems.append(
            "no TiffData: planes are taken from the IFDs in DimensionOrder, as Bio-Formats "
            "does (N4, T6)"
        )
    if pm.unmapped:
        problems.append(
            f"{len(pm.unmapped)} of {image.plane_count} planes are not mapped to any IFD (T4)"
        )
    if pm.duplicates:
        problems.append(f"{len(pm.duplicates)} planes are mapped more than once (T5)")
    if pm.filled:
        problems.append(
            f"{len(pm.filled)} planes are found only by Bio-Formats-style fill-down (T6)"
        )
    summary = image_summary(image, instruments, samples_per_pixel=spp)
    return replace(
        summary,
        size_x=size_x,
        size_y=size_y,
        levels=[[size_y, size_x], *levels_below],
        planes=planes,
        plane_problems=problems + summary.plane_problems,
    )


def image_summary(
    image: ImageView,
    instruments: dict[str | None, InstrumentView],
    *,
    samples_per_pixel: int | None = None,
) -> SeriesSummary:
    """The series summary of one OME Image, from the OME alone (every input's one path).

    Sizes, pixel type, physical sizes in µm (with the units as written), time
    increment, channels (one per effective channel, named or not: R1, R3) and the
    instrument. ``levels`` is the full-resolution shape and ``planes`` is empty: the
    caller knows where the pixels are (the TIFF plane map, a reader's levels).
    ``samples_per_pixel`` overrides the OME value (the TIFF's, N5).
    """
    spp = samples_per_pixel or image.samples_per_pixel
    problems: list[str] = []
    channels = [
        ChannelSummary(
            name=ch.name,
            color=_color_hex(ch.color),
            excitation_nm=_nm(ch.excitation),
            emission_nm=_nm(ch.emission),
            fluor=ch.fluor,
            samples_per_pixel=ch.samples_per_pixel or 1,
        )
        for ch in image.channels
    ]
    # Bio-Formats reports one channel per effective channel, named or not (R1, R3)
    for _ in range(len(channels), image.effective_size_c):
        channels.append(ChannelSummary(name=None, samples_per_pixel=spp))
    physical = {}
    units = {}
    for axis, q in (
        ("x", image.physical_size_x),
        ("y", image.physical_size_y),
        ("z", image.physical_size_z),
    ):
        value = _um(q)
        if value is not None and value <= 0:
            problems.append(
                f"PhysicalSize{axis.upper()}={q.value if q else value} is not a positive number; ignored"
            )
            value = None
        physical[axis] = value
        if q is not None:
            units[axis] = q.unit
    pixel_type = image.pixel_type
    if pixel_type is not None:
        pixel_type = _LEGACY_PIXEL_TYPES.get(pixel_type, pixel_type)
    instrument = instruments.get(image.instrument_ref)
    inst_text = None
    if instrument is not None:
        parts = [instrument.microscope] if instrument.microscope else []
        parts += list(instrument.objectives)
        inst_text = "; ".join(parts) or instrument.id
    size_x, size_y = image.size_x or 0, image.size_y or 0
    return SeriesSummary(
        index=image.index,
        name=image.name,
        size_x=size_x,
        size_y=size_y,
        size_z=image.size_z or 1,
        size_c=image.size_c or 1,
        size_t=image.size_t or 1,
        samples_per_pixel=spp,
        dtype=pixel_type,
        dimension_order=image.dimension_order or "XYZCT",
        physical_size_x=physical["x"],
        physical_size_y=physical["y"],
        physical_size_z=physical["z"],
        physical_size_units=units,
        time_increment=None
        if image.time_increment is None
        else to_seconds(image.time_increment.value, image.time_increment.unit),
        channels=channels,
        levels=[[size_y, size_x]],
        acquisition_date=image.acquisition_date,
        instrument=inst_text,
        plane_problems=problems,
    )


#: Pixel type names of schema versions before 2008 (PixelType attribute) -> 2016-06 names.
_LEGACY_PIXEL_TYPES = {
    "Uint8": "uint8",
    "Uint16": "uint16",
    "Uint32": "uint32",
    "Int8": "int8",
    "Int16": "int16",
    "Int32": "int32",
    "Float": "float",
    "Double": "double",
    "Bit": "bit",
}


def _files_table(fs: FileSet) -> list[dict[str, Any]]:
    rows = []
    for m in fs.members:
        row: dict[str, Any] = {"name": m.filename, "uuid": m.uuid, "exists": m.exists}
        if m.escapes:
            row["escapes_folder"] = True
        if m.by_basename:
            row["found_by_basename"] = True
        if m.exists and m.path is not None:
            row["ifd_count"] = fs.ifd_count_of(m.path)
        rows.append(row)
    if fs.kind in ("companion", "master"):
        rows.insert(
            0,
            {
                "name": fs.metadata_path.name,
                "uuid": fs.ome.uuid,
                "exists": True,
                "role": "metadata",
            },
        )
    return rows


# --- other variants (tifffile) -----------------------------------------------------


def _walk_series(
    path: Path, structure: TiffStructure
) -> tuple[list[SeriesSummary], list[str]] | None:
    """The series of a plain or ImageJ TIFF laid out from the IFD walk (no tifffile, no
    numpy: ``info`` starts fast), or None when tifffile or a vendor reader describes it.

    Only ``.tif``-family names qualify; the walk takes no file with a vendor's private
    tags or description (SVS, QPTIFF, NDPI, NDTiff), so no vendor reader claims these.
    """
    from ometiff.readers.base import MappingNotes
    from ometiff.readers.tifflayout import plain_layouts

    if not path.name.lower().endswith(TIFF_SUFFIXES):
        return None
    try:
        found = plain_layouts(structure, MappingNotes())
    except OmeTiffError as exc:
        return [], [str(exc)]
    if found is None:
        return None
    series = [
        _layout_summary(k, lay, path.name, structure.ifd_count)
        for k, lay in enumerate(found.layouts)
    ]
    return series, list(found.warnings)


def _tifffile_series(path: Path, ifd_count: int) -> tuple[list[SeriesSummary], list[str]]:
    """The series of a TIFF without OME-XML: the layouts the TIFF reader converts."""
    import tifffile

    from ometiff.readers.base import MappingNotes
    from ometiff.readers.tifflayout import tiff_layouts

    try:
        with tifffile.TiffFile(path) as tf:
            found = tiff_layouts(tf, MappingNotes(), where=path.name)
            series = [
                _layout_summary(k, lay, path.name, ifd_count) for k, lay in enumerate(found.layouts)
            ]
    except OmeTiffError as exc:  # what convert refuses, info reports (and shows no series)
        return [], [str(exc)]
    except (tifffile.TiffFileError, ValueError, OSError, EOFError, struct.error) as exc:
        # file damage only: a TypeError or KeyError here is a bug and propagates
        return [], [f"tifffile could not build image series: {exc}"]
    return series, list(found.warnings)


def _rgba_text(rgba: tuple[int, int, int, int] | None) -> str | None:
    return None if rgba is None else ome_to_hex(rgba_to_ome(*rgba))


def _layout_summary(index: int, lay: TiffLayout, filename: str, ifd_count: int) -> SeriesSummary:
    size_t, planes_c, size_z, size_y, size_x = lay.shape
    spp = lay.samples
    physical: dict[str, float | None] = {"x": None, "y": None, "z": None}
    units: dict[str, str] = {}
    for axis, (value, unit) in lay.physical.items():
        physical[axis] = to_micrometres(value, unit)
        units[axis] = unit
    tinc = None if lay.time_increment is None else to_seconds(*lay.time_increment)
    channels = [
        ChannelSummary(name=n, color=_rgba_text(col), samples_per_pixel=spp)
        for n, col in zip(lay.channel_names, lay.channel_colors, strict=True)
    ]
    s = lay.series
    axes = s.axes
    levels = (
        [[int(lv.shape[axes.index("Y")]), int(lv.shape[axes.index("X")])] for lv in s.levels]
        if "Y" in axes
        else []
    )
    planes: list[PlaneLocation] = []
    table = lay.plane_table() if size_t * planes_c * size_z <= 200_000 else []
    for t, c, z, ifd in table:
        if ifd is not None and ifd >= ifd_count:
            ifd = None  # contiguous data past the last IFD (ImageJ > 4 GB)
        planes.append(PlaneLocation(z, c, t, filename, ifd))
    return SeriesSummary(
        index=index,
        name=lay.name,
        size_x=size_x,
        size_y=size_y,
        size_z=size_z,
        size_c=planes_c * spp,
        size_t=size_t,
        samples_per_pixel=spp,
        dtype=DTYPE_TO_OME[lay.dtype_name],
        dimension_order=lay.dimension_order,
        physical_size_x=physical["x"],
        physical_size_y=physical["y"],
        physical_size_z=physical["z"],
        physical_size_units=units,
        time_increment=tinc,
        channels=channels,
        levels=levels,
        planes=planes,
    )


# --- entry point --------------------------------------------------------------------


def is_tiff_family(path: StrPath) -> bool:
    """True for the inputs :func:`info` describes by their TIFF structure; never raises.

    A file with TIFF bytes or a TIFF name (so a damaged ``.tif`` is reported as
    such), or an XML document (a ``.companion.ome``, an ``.ome.xml``). Everything
    else (vendor files, folders, patterns) goes through the reader registry.
    """
    p = Path(path)
    try:
        if not p.is_file():
            return False
        if is_tiff(p) or p.name.lower().endswith((*TIFF_SUFFIXES, *OME_XML_SUFFIXES)):
            return True
        with open(p, "rb") as fh:
            head = fh.read(512).lstrip()
    except OSError:
        return False
    return head.removeprefix(b"\xef\xbb\xbf").startswith(b"<")


def by_structure(path: Path, reader: str | None, reader_options: Mapping[str, Any]) -> bool:
    """Whether :func:`info` describes ``path`` by its TIFF structure (else by a reader).

    The one dispatch rule, shared with the pixel readers of ``show`` and ``--stats``:
    a TIFF-family file (:func:`is_tiff_family`) when no reader or reader option is
    forced.
    """
    return reader is None and not reader_options and is_tiff_family(path)


def info(path: StrPath, *, reader: str | None = None, **reader_options: Any) -> FileInfo:
    """Inspect any readable input: structure, variant or container, and meaning.

    TIFF-family files and ``.companion.ome`` files get the TIFF structure, the
    variant and the OME plane map; every other input (LIF, CZI, ND2, OME-Zarr,
    image series, ``.npy``, any registered reader) is opened with the reader
    registry and described by :func:`reader_info`.

    Parameters
    ----------
    path
        A file, a folder (OME-Zarr, image series), a glob or a pattern.
    reader
        Force a reader (``ometiff formats``); the input is then always read
        through the registry, also a TIFF.
    **reader_options
        Options of the reader, e.g. ``axes="ZYX"`` for ``.npy``.

    Raises
    ------
    MissingFileError
        The input does not exist.
    InvalidTiffError
        A TIFF-named file that is not a TIFF, or a damaged vendor file.
    OmeXmlError
        A companion file whose XML cannot be parsed.
    UnsupportedFormatError
        No reader accepts the input.
    MissingDependencyError
        The reader of the input needs a pip extra that is not installed.
    """
    p = Path(path)
    if not by_structure(p, reader, reader_options):
        from ometiff.readers.registry import open_image

        with open_image(p, reader=reader, **reader_options) as rdr:
            return reader_info(rdr)
    if not is_tiff(p):
        return _companion_info(p)
    structure = inspect_tiff(p)
    check_tifffile_safe(structure)  # before tifffile or a reader sees the file
    variants = detect_variants(structure)
    problems = list(structure.problems)
    warnings: list[str] = []
    series: list[SeriesSummary] = []
    files: list[dict[str, Any]] = [
        {"name": p.name, "exists": True, "ifd_count": structure.ifd_count}
    ]
    schema = creator = None
    annotations = 0
    files_from_ome = False
    fs: FileSet | None = None
    is_ome = structure.description is not None and is_ome_xml(structure.description)
    if structure.description is not None and not structure.description_utf8 and is_ome:
        warnings.append("IFD0 ImageDescription is not valid UTF-8 (X2); read as Latin-1")
    if is_ome:
        try:
            fs = resolve_fileset(p)
        except OmeXmlError as exc:  # problems are about `p`; the caller prints the path
            problems.append(exc.without_prefix(p))
        else:
            fs.prime_ifd_count(p, structure.ifd_count)
            structures: dict[Path, TiffStructure | None] = {p: structure}
            series = _ome_series(fs, structures)
            files = _files_table(fs)
            files_from_ome = True
            schema, creator, annotations = (
                fs.ome.schema_version,
                fs.ome.creator,
                fs.ome.annotation_count,
            )
            problems += _missing_members(fs)
            warnings += _conflicts(p, structure, series)
    container: ContainerInfo | None = None
    fmt = "ome-tiff" if schema is not None or files_from_ome else "tiff"
    walked = _walk_series(p, structure) if not series and structure.ifds else None
    if walked is not None:  # plain or ImageJ: neither tifffile nor a vendor reader needed
        series, more = walked
        warnings += more
    elif not series and structure.ifds:
        vendor = _tiff_vendor_info(p)
        if isinstance(vendor, FileInfo):  # whole-slide, NDTiff, VSI: the reader convert uses
            series, container, fmt = vendor.series, vendor.container, vendor.format
        else:
            if vendor is not None:  # the vendor reader refuses it: so would convert
                problems.append(vendor)
            series, more = _tifffile_series(p, structure.ifd_count)
            warnings += more
    return FileInfo(
        path=p,
        variant=variants[0].name if variants else "unknown",
        variants=variants,
        bigtiff=structure.bigtiff,
        byte_order="little" if structure.byte_order == "<" else "big",
        ifd_count=structure.ifd_count,
        file_size=structure.file_size,
        structure=structure,
        series=series,
        files=files,
        schema_version=schema,
        creator=creator,
        annotation_count=annotations,
        warnings=warnings,
        problems=problems,
        metadata_source=(
            "ome" if schema is not None or files_from_ome else "reader" if container else "tiff"
        ),
        format=fmt,
        container=container,
        fileset=fs,
    )


def _tiff_vendor_info(path: Path) -> FileInfo | str | None:
    """The reader view of a non-OME TIFF that a vendor reader claims (SVS, NDPI, ...).

    ``convert`` reads such a file with its vendor reader (registry order), so
    ``info`` lists the series that reader delivers (a slide with its label and
    macro, an NDTiff stack's positions) rather than tifffile's generic series.
    None when only the generic TIFF reader accepts the file; the reader's one-line
    refusal (without the path) when it claims the file but cannot read it.
    """
    from ometiff.readers.registry import find_reader

    try:
        cls = find_reader(path)
    except OmeTiffError:
        return None
    if cls.name in ("tiff", "ome-tiff"):
        return None
    try:
        with cls(path) as rdr:
            return reader_info(rdr)
    except OmeTiffError as exc:
        return exc.without_prefix(path)


def reader_info(reader: Reader) -> FileInfo:
    """Describe an open reader's input: its series and its vendor container.

    The series come from :meth:`Reader.ome_view` through :func:`image_summary`
    (the path OME-TIFF takes too), with the pyramid levels of
    :meth:`Reader.level_shapes`; where the OME and the planes the reader delivers
    disagree, the planes win and the difference is a ``plane_problems`` line.
    The container names the reader and lists what it mapped to OME and what it
    could not (its :attr:`Reader.notes`, deduplicated).
    """
    view = reader.ome_view()  # fills reader.notes for readers that map lazily
    instruments = {i.id: i for i in view.instruments}
    series: list[SeriesSummary] = []
    for image in view.images:
        summary = image_summary(image, instruments)
        shapes = reader.level_shapes(image.index)
        size_t, size_c, size_z, size_y, size_x = shapes[0]
        problems = [
            f"{label} is {ome} in the OME but the reader delivers {real}; "
            "the reader's value is used"
            for label, ome, real in (
                ("SizeX", summary.size_x, size_x),
                ("SizeY", summary.size_y, size_y),
                ("SizeZ", summary.size_z, size_z),
                ("SizeC", summary.size_c // max(summary.samples_per_pixel, 1), size_c),
                ("SizeT", summary.size_t, size_t),
            )
            if ome != real
        ]
        series.append(
            replace(
                summary,
                size_x=size_x,
                size_y=size_y,
                size_z=size_z,
                size_c=size_c * max(summary.samples_per_pixel, 1),
                size_t=size_t,
                levels=[[y, x] for _, _, _, y, x in shapes],
                plane_problems=problems + summary.plane_problems,
            )
        )
    from ometiff.readers.registry import READERS

    # a reader outside the registry (a subclass used directly) is named by itself
    description = next((s.description for s in READERS if s.name == reader.name), reader.name)
    kind = description.split(" (")[0].split(":")[0]
    path = reader.path
    disk = _files_on_disk(path)
    entry: dict[str, Any] = {"name": path.name, "exists": bool(disk)}
    if not path.exists():  # a glob or a pattern: how many files it names
        entry["matches"] = len(disk)
    return FileInfo(
        path=path,
        variant=kind,
        variants=[Variant(kind, f"recognised by the {reader.name} reader")],
        bigtiff=None,
        byte_order=None,
        ifd_count=None,
        file_size=sum(size for _, size in disk),
        structure=None,
        series=series,
        files=[entry],
        schema_version=None,  # no OME-XML in the input: the OME is the reader's mapping
        creator=view.creator,
        annotation_count=view.annotation_count,
        metadata_source="reader",
        format=reader.name,
        container=ContainerInfo(
            reader=reader.name,
            description=description,
            series_count=len(series),
            mapped=[{"source": a, "ome": b} for a, b in dict.fromkeys(reader.notes.mapped)],
            unmapped=[{"source": a, "reason": b} for a, b in dict.fromkeys(reader.notes.unmapped)],
        ),
    )


def _files_on_disk(path: Path) -> list[tuple[Path, int]]:
    """``(file, bytes)`` of a file, of every file under a folder, or of a pattern's matches.

    A pattern's ``{t}``-style placeholders (image series) match like ``*``.
    """
    if path.is_file():
        return [(path, path.stat().st_size)]
    files: Iterable[Path]
    if path.is_dir():
        files = path.rglob("*")
    elif path.parent.is_dir():
        files = path.parent.glob(re.sub(r"\{[^{}]*\}", "*", path.name))
    else:
        return []
    out = []
    for p in files:
        try:
            if p.is_file():
                out.append((p, p.stat().st_size))
        except OSError:
            continue
    return out


def _missing_members(fs: FileSet) -> list[str]:
    """One problem line per member of the set that is missing or refused (M2)."""
    return [
        f"member {m.filename!r} of the file set is missing"
        + (" (path escapes the folder; not opened)" if m.escapes else "")
        for m in fs.missing
    ]


def _companion_info(p: Path) -> FileInfo:
    head = p.read_bytes()[:512].lstrip()
    if not head.removeprefix(b"\xef\xbb\xbf").startswith(b"<"):  # XML; resolve_fileset judges it
        raise InvalidTiffError(f"{p}: not a TIFF file and not OME-XML (starts with {head[:8]!r})")
    fs = resolve_fileset(p)
    structures: dict[Path, TiffStructure | None] = {}
    series = _ome_series(fs, structures)
    problems = _missing_members(fs)
    return FileInfo(
        path=p,
        variant="OME companion (metadata only)",
        variants=[Variant("OME companion (metadata only)", "OME-XML file, not a TIFF (M5)")],
        bigtiff=None,
        byte_order=None,
        ifd_count=None,
        file_size=p.stat().st_size,
        structure=None,
        series=series,
        files=_files_table(fs),
        schema_version=fs.ome.schema_version,
        creator=fs.ome.creator,
        annotation_count=fs.ome.annotation_count,
        problems=problems,
        metadata_source="ome",
        format="ome-tiff",
        fileset=fs,
    )


def _conflicts(p: Path, structure: TiffStructure, series: list[SeriesSummary]) -> list[str]:
    """Warn when an ImageJ header disagrees with the OME-XML (X7)."""
    if not series:
        return []
    s = series[0]
    found = imagej_disagreements(
        p, structure, s.size_c // max(s.samples_per_pixel, 1), s.size_z, s.size_t
    )
    if found is None:
        return ["an ImageJ header is present but cannot be parsed (X7)"]
    return [
        f"ImageJ header says {key}={value} but OME-XML says {label}={ome} (X7)"
        for key, value, label, ome in found
    ]
