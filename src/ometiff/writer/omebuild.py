"""Build and conform the OME-XML the writer puts into each file.

Two entry points: :func:`build_ome` turns the keyword options of
``ometiff.write`` into an ``ome_types.OME``; :func:`conform_ome` takes any OME
(from a user or a reader) and rewrites what describes the pixels so it matches
exactly what is written (sizes, Type, DimensionOrder, TiffData, Channel count and
SamplesPerPixel), keeping everything else. The keyword path of ``ometiff.write``
usually takes the faster :mod:`ometiff.writer.omexml` instead (same XML).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import ome_types
from ome_types import model as m

from ometiff.errors import WriteError
from ometiff.ome.colour import parse_color
from ometiff.ome.units import parse_length, parse_time
from ometiff.types import DTYPE_TO_OME
from ometiff.writer.omexml import (
    ANNOTATION_NS,
    PLANE_FIELDS,
    PYRAMID_NS,
    SENTINEL_UUID,
    WARNING_COMMENT,
    SeriesMeta,
    TiffDataRun,
    binary_only_xml,
    creator,
    new_uuid,
    plane_quantity,
    with_root_uuid,
)

if TYPE_CHECKING:
    from ometiff.readers.source import SeriesSource


#: ome_types field -> (unit field, kind), from the writer's one table of plane fields.
_PLANE_FIELDS = {snake: (snake + "_unit", kind) for snake, kind in PLANE_FIELDS.values()}
_PLANE_ALIASES = {name: snake for name, (snake, _) in PLANE_FIELDS.items()}


def _plane(tcz: tuple[int, int, int], values: Mapping[str, Any], where: str) -> m.Plane:
    t, c, z = tcz
    kwargs: dict[str, Any] = {"the_t": t, "the_c": c, "the_z": z}
    for key, value in values.items():
        name = _PLANE_ALIASES.get(key, key)
        if name not in _PLANE_FIELDS:
            raise WriteError(
                f"{where}: unknown plane field {key!r}; use one of " + ", ".join(_PLANE_FIELDS)
            )
        unit_field, kind = _PLANE_FIELDS[name]
        number, unit = plane_quantity(kind, value, f"{where}[{key!r}]")
        kwargs[name] = number
        kwargs[unit_field] = m.UnitsTime(unit) if kind == "time" else m.UnitsLength(unit)
    return m.Plane(**kwargs)


def _per_channel(values: Sequence[Any] | None, size_c: int, what: str, series: int) -> list[Any]:
    if values is None:
        return [None] * size_c
    if len(values) != size_c:
        raise WriteError(
            f"{what} has {len(values)} entries but series {series} has {size_c} channel(s)"
        )
    return list(values)


def build_ome(
    sources: Sequence[SeriesSource],
    metas: Sequence[SeriesMeta],
    *,
    instrument: m.Instrument | None = None,
    objective: m.Objective | Mapping[str, Any] | None = None,
    acquisition_date: _dt.datetime | str | None = None,
    annotations: Mapping[str, Any] | None = None,
) -> m.OME:
    """Build the OME model of ``ometiff.write``'s options (Pixels filled by conform)."""
    ome = m.OME(creator=creator())
    if objective is not None and not isinstance(objective, m.Objective):
        try:
            objective = m.Objective(id="Objective:0:0", **dict(objective))
        except (ValueError, TypeError) as e:
            raise WriteError(f"objective={objective!r} is not valid: {e}") from e
    if objective is not None and instrument is None:
        instrument = m.Instrument(id="Instrument:0", objectives=[objective])
    elif objective is not None and instrument is not None and not instrument.objectives:
        instrument = instrument.model_copy(update={"objectives": [objective]})
    if instrument is not None:
        ome.instruments.append(instrument)
    annotation_ref = None
    if annotations:
        ann = m.MapAnnotation(
            id="Annotation:0",
            namespace=ANNOTATION_NS,
            value=m.Map(ms=[m.Map.M(k=str(k), value=str(v)) for k, v in annotations.items()]),
        )
        if ome.structured_annotations is None:
            ome.structured_annotations = m.StructuredAnnotations()
        ome.structured_annotations.map_annotations.append(ann)
        annotation_ref = m.AnnotationRef(id=ann.id)
    if isinstance(acquisition_date, str):
        try:
            acquisition_date = _dt.datetime.fromisoformat(acquisition_date)
        except ValueError as e:
            raise WriteError(f"acquisition_date={acquisition_date!r} is not ISO 8601") from e
    for i, (src, meta) in enumerate(zip(sources, metas, strict=True)):
        size_c = src.shape[1]
        names = _per_channel(meta.channel_names, size_c, "channel_names", i)
        colors = _per_channel(meta.channel_colors, size_c, "channel_colors", i)
        ex = _per_channel(meta.excitation_wavelength, size_c, "excitation_wavelength", i)
        em = _per_channel(meta.emission_wavelength, size_c, "emission_wavelength", i)
        channels = []
        for c in range(size_c):
            kw: dict[str, Any] = {"id": f"Channel:{i}:{c}", "samples_per_pixel": src.samples}
            if names[c] is not None:
                kw["name"] = str(names[c])
            if colors[c] is not None:
                kw["color"] = m.Color(parse_color(colors[c], what=f"channel_colors[{c}]"))
            for key, val in (("excitation_wavelength", ex[c]), ("emission_wavelength", em[c])):
                if val is not None:
                    number, unit = parse_length(val, default_unit="nm", what=key)  # U3: nm
                    kw[key] = number
                    kw[key + "_unit"] = m.UnitsLength(unit)
            channels.append(m.Channel(**kw))
        px: dict[str, Any] = {}
        for axis, size in meta.physical_size.items():
            number, unit = parse_length(size, what=f"physical_size[{axis}]")
            px[f"physical_size_{axis.lower()}"] = number
            px[f"physical_size_{axis.lower()}_unit"] = m.UnitsLength(unit)
        if meta.time_increment is not None:
            number, unit = parse_time(meta.time_increment, what="time_increment")
            px["time_increment"] = number
            px["time_increment_unit"] = m.UnitsTime(unit)
        planes = []
        if meta.plane_metadata:
            t_n, c_n, z_n = src.shape[:3]
            for tcz, values in sorted(meta.plane_metadata.items()):
                t, c, z = tcz
                if not (0 <= t < t_n and 0 <= c < c_n and 0 <= z < z_n):
                    raise WriteError(
                        f"plane_metadata key (t={t}, c={c}, z={z}) is outside series {i} "
                        f"(T={t_n}, C={c_n}, Z={z_n})"
                    )
                planes.append(_plane(tcz, values, f"plane_metadata[{tcz}]"))
        pixels = m.Pixels(
            id=f"Pixels:{i}",
            dimension_order=m.Pixels_DimensionOrder.XYZCT,
            type=m.PixelType(DTYPE_TO_OME[src.dtype.name]),
            size_x=src.shape[4],
            size_y=src.shape[3],
            size_z=src.shape[2],
            size_c=src.size_c,
            size_t=src.shape[0],
            channels=channels,
            planes=planes,
            metadata_only=m.MetadataOnly(),
            **px,
        )
        image_kw: dict[str, Any] = {"id": f"Image:{i}", "pixels": pixels}
        name = meta.name if meta.name is not None else src.name
        if name is not None:
            image_kw["name"] = name
        if acquisition_date is not None:
            image_kw["acquisition_date"] = acquisition_date
        if instrument is not None:
            image_kw["instrument_ref"] = m.InstrumentRef(id=instrument.id)
            if instrument.objectives:
                image_kw["objective_settings"] = m.ObjectiveSettings(id=instrument.objectives[0].id)
        if annotation_ref is not None:
            image_kw["annotation_refs"] = [annotation_ref]
        ome.images.append(m.Image(**image_kw))
    return ome


def check_ome_matches(ome: m.OME, sources: Sequence[SeriesSource]) -> None:
    """Raise :class:`WriteError` if a user's OME disagrees with the data it describes."""
    if len(ome.images) != len(sources):
        raise WriteError(
            f"ome has {len(ome.images)} Image(s) but {len(sources)} series are written"
        )
    for i, (image, src) in enumerate(zip(ome.images, sources, strict=True)):
        px = image.pixels
        t, _c, z, y, x = src.shape
        want = {"SizeX": x, "SizeY": y, "SizeZ": z, "SizeC": src.size_c, "SizeT": t}
        got = {
            "SizeX": px.size_x,
            "SizeY": px.size_y,
            "SizeZ": px.size_z,
            "SizeC": px.size_c,
            "SizeT": px.size_t,
        }
        for key, value in want.items():
            if got[key] != value:
                raise WriteError(
                    f"ome Image {i} has {key}={got[key]} but the data has {value}; "
                    "fix the OME or the axes"
                )
        ptype = DTYPE_TO_OME[src.dtype.name]
        if px.type.value != ptype:
            raise WriteError(
                f"ome Image {i} has Type={px.type.value} but the data is {src.dtype} ({ptype})"
            )
        spp = {ch.samples_per_pixel for ch in px.channels if ch.samples_per_pixel}
        if spp and spp != {src.samples}:
            raise WriteError(
                f"ome Image {i} has Channel SamplesPerPixel={sorted(spp)} but the data has "
                f"{src.samples} sample(s) per pixel"
            )


def _explicit_units(px: m.Pixels) -> None:
    """Set the unit attribute of every quantity that is present (checklist W3)."""
    for axis in "xyz":
        if getattr(px, f"physical_size_{axis}") is not None:
            key = f"physical_size_{axis}_unit"
            setattr(px, key, getattr(px, key))
    if px.time_increment is not None:
        px.time_increment_unit = px.time_increment_unit
    for plane in px.planes:
        for name, (unit_field, _) in _PLANE_FIELDS.items():
            if getattr(plane, name) is not None:
                setattr(plane, unit_field, getattr(plane, unit_field))


def conform_ome(
    ome: m.OME,
    sources: Sequence[SeriesSource],
    orders: Sequence[str],
    runs: Sequence[TiffDataRun],
    *,
    multi_file: bool,
) -> m.OME:
    """Return a copy of ``ome`` whose Pixels describe exactly what is written.

    Everything else (instrument, annotations, names, physical sizes, planes in
    range, ROIs...) is kept. BinData and MetadataOnly are dropped; TiffData is
    replaced by one block per run of consecutive planes (checklist W1, T2).
    """
    if len(ome.images) != len(sources):
        raise WriteError(
            f"ome has {len(ome.images)} Image(s) but {len(sources)} series are written"
        )
    out = ome.model_copy(deep=True)
    out.binary_only = None
    if not out.creator:
        out.creator = creator()
    for i, (image, src, order) in enumerate(zip(out.images, sources, orders, strict=True)):
        px = image.pixels
        t, c, z, y, x = src.shape
        px.size_x, px.size_y, px.size_z, px.size_c, px.size_t = x, y, z, src.size_c, t
        px.type = m.PixelType(DTYPE_TO_OME[src.dtype.name])
        px.dimension_order = m.Pixels_DimensionOrder(order)
        px.big_endian = False
        px.interleaved = True if src.samples > 1 else None
        bits = src.dtype.itemsize * 8 if src.dtype.kind != "b" else 1
        if px.significant_bits is not None and px.significant_bits > bits:
            px.significant_bits = None
        # R1/R2: one Channel per OME channel, each with SamplesPerPixel.
        channels = list(px.channels[:c])
        for k in range(len(channels), c):
            channels.append(m.Channel(id=_free_id(out, f"Channel:{i}:{k}")))
        for ch in channels:
            ch.samples_per_pixel = src.samples
        px.channels = channels
        px.bin_data_blocks = []
        px.metadata_only = None
        px.tiff_data_blocks = [_tiffdata(run, multi_file) for run in runs if run.series == i]
        px.planes = [p for p in px.planes if p.the_t < t and p.the_c < c and p.the_z < z]
        _explicit_units(px)
    _drop_stale_pyramid_annotations(out)
    return out


def _drop_stale_pyramid_annotations(ome: m.OME) -> None:
    """Remove PyramidResolution annotations copied from a source (P-7).

    They describe the source's levels; Bio-Formats trusts them over the SubIFDs
    and fails when the written pyramid differs, so the writer's own SubIFDs are
    the only description kept.
    """
    sa = ome.structured_annotations
    if sa is None:
        return
    stale = {a.id for a in sa.map_annotations if a.namespace == PYRAMID_NS}
    if not stale:
        return
    sa.map_annotations = [a for a in sa.map_annotations if a.id not in stale]
    for image in ome.images:
        image.annotation_refs = [r for r in image.annotation_refs if r.id not in stale]


def _free_id(ome: m.OME, wanted: str) -> str:
    used = {ch.id for img in ome.images for ch in img.pixels.channels}
    candidate, n = wanted, 0
    while candidate in used:
        n += 1
        candidate = f"{wanted}.{n}"
    return candidate


def _tiffdata(run: TiffDataRun, multi_file: bool) -> m.TiffData:
    t, c, z = run.first
    kw: dict[str, Any] = {
        "ifd": run.ifd,
        "plane_count": run.count,
        "first_t": t,
        "first_c": c,
        "first_z": z,
    }
    if multi_file:  # M1, M2: UUID and relative FileName of the file holding the planes
        kw["uuid"] = m.TiffData.UUID(value=run.file_uuid, file_name=run.file_name)
    return m.TiffData(**kw)


def ome_xml_template(ome: m.OME) -> str:
    """Serialise ``ome`` once with a placeholder root UUID (see :func:`with_root_uuid`)."""
    ome = ome.model_copy()
    ome.uuid = SENTINEL_UUID
    return ome_types.to_xml(ome)


__all__ = [
    "ANNOTATION_NS",
    "WARNING_COMMENT",
    "SeriesMeta",
    "TiffDataRun",
    "binary_only_xml",
    "build_ome",
    "check_ome_matches",
    "conform_ome",
    "new_uuid",
    "ome_xml_template",
    "with_root_uuid",
]
