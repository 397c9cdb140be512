"""Map the metadata of non-OME TIFF flavours to OME (ImageJ, LSM, MMStack, STK, SVS).

Physical sizes are set only when the file states them with a physical unit
(checklist U3, W3); everything recognised but not representable is recorded
in the reader's :class:`~ometiff.readers.base.MappingNotes`.
"""

from __future__ import annotations

import datetime as _dt
import math
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ometiff.ome.units import LENGTH_UNITS_M, convert, length_symbol, time_symbol

if TYPE_CHECKING:
    import tifffile

    from ometiff.readers.base import MappingNotes

#: A channel colour: red, green, blue, alpha (0-255 each).
RGBA = tuple[int, int, int, int]


ANNOTATION_NS = "ometiff/original-metadata"


def _length_unit(
    raw: object, source: str, meta: TiffCalibration, notes: MappingNotes
) -> str | None:
    """The UnitsLength symbol of a file's length unit when it is a physical length.

    Otherwise None and a note: 'pixel' is uncalibrated; a spelling not in the unit
    table (ometiff.ome.units) is unknown and never guessed as µm (U3).
    """
    symbol = length_symbol(raw)
    if symbol in LENGTH_UNITS_M:
        return symbol
    if raw is not None:
        if symbol is None:
            text = f"{source} {raw!r} is not a known length unit: physical size not mapped (U3)"
            meta.unknown_units.append(text)
            notes.skip(f"{source} {raw!r}", "unknown length unit; size left unset (U3)")
        else:
            notes.skip(f"{source} {raw!r}", "not a physical unit; sizes left unset (U3)")
    return None


def _rgba(r: int, g: int, b: int, a: int = 255) -> RGBA:
    return int(r), int(g), int(b), int(a)


#: A baseline tag's value of IFD0 by tag name (None when absent): tifffile's page tags,
#: or the walker's values (:func:`ometiff.tiff.structure.ifd0_values`) without tifffile.
TagValue = Callable[[str], Any]


def page_tags(page: Any) -> TagValue:
    """:data:`TagValue` of a tifffile page."""

    def value(name: str) -> Any:
        t = page.tags.get(name)
        return None if t is None else t.value

    return value


def _res_size(value: Any) -> float | None:
    """The pixel size of an X/YResolution (a RATIONAL pair, or a number); None when
    absent, zero or damaged (text, one value of a pair)."""
    if isinstance(value, tuple) and len(value) >= 2:
        num, den = positive(value[0]), positive(value[1])
    elif isinstance(value, numbers.Real):
        num, den = positive(value), 1.0
    else:
        return None
    if num is None or den is None:
        return None
    return den / num


def positive(value: object) -> float | None:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and v > 0 else None


class TiffCalibration:
    """Per-file facts shared by every series, filled by the flavour mappers."""

    def __init__(self) -> None:
        self.psize: dict[str, tuple[float, str]] = {}
        self.time_increment: tuple[float, str] | None = None
        self.channel_names: list[str | None] = []
        self.channel_colors: list[RGBA | None] = []
        self.delta_t: list[float] = []
        self.date: _dt.datetime | None = None
        self.annotations: dict[str, str] = {}
        self.unknown_units: list[str] = []  # units the file states that are not mapped (U3)


def _imagej(
    ij: Mapping[str, Any], tag: TagValue, meta: TiffCalibration, notes: MappingNotes
) -> None:
    # ImageJ's Calibration: `unit` is X's, `yunit`/`zunit` only when they differ;
    # XResolution is pixels per unit, `spacing` is in the Z unit, `finterval` in
    # `tunit` (ImageJ's default "sec" when absent). All through the one unit table.
    if ij.get("unit") is None:  # no ImageJ unit: a centimetre ResolutionUnit still calibrates X/Y
        _generic(tag, meta, notes)
    units = {"x": _length_unit(ij.get("unit"), "ImageJ unit", meta, notes)}
    for axis in "yz":
        raw = ij.get(f"{axis}unit")
        units[axis] = (
            units["x"] if raw is None else _length_unit(raw, f"ImageJ {axis}unit", meta, notes)
        )
    for axis, name in (("x", "XResolution"), ("y", "YResolution")):
        size = _res_size(tag(name))
        unit = units[axis]
        if size is not None and unit is not None:
            meta.psize[axis] = (size, unit)
            notes.map(f"ImageJ {name} + unit", f"Pixels@PhysicalSize{axis.upper()}")
    spacing = positive(ij.get("spacing"))
    if spacing is not None and units["z"] is not None:
        meta.psize["z"] = (spacing, units["z"])
        notes.map("ImageJ spacing", "Pixels@PhysicalSizeZ")
    finterval = positive(ij.get("finterval"))
    if finterval is not None:
        tunit_raw = ij.get("tunit", "sec")
        tunit = time_symbol(tunit_raw)
        if tunit is None:
            meta.unknown_units.append(
                f"ImageJ tunit {tunit_raw!r} is not a known time unit: finterval not mapped (U3)"
            )
            notes.skip(f"ImageJ finterval with tunit {tunit_raw!r}", "unknown time unit (U3)")
        else:
            meta.time_increment = (finterval, tunit)
            notes.map("ImageJ finterval", "Pixels@TimeIncrement")
    luts = ij.get("LUTs")
    if luts:
        import numpy as np  # LUTs come from tifffile's IJMetadata only

        for lut in luts:
            lut = np.asarray(lut)
            if lut.ndim == 2 and lut.shape[0] == 3:
                r, g, b = (int(v) for v in lut[:, -1])
                meta.channel_colors.append(_rgba(r, g, b))
        notes.map("ImageJ LUTs", "Channel@Color (the LUT's brightest entry)")
    ranges = ij.get("Ranges")
    if ranges:
        pairs = [f"{ranges[i]:g}-{ranges[i + 1]:g}" for i in range(0, len(ranges) - 1, 2)]
        for k, pair in enumerate(pairs):
            meta.annotations[f"ImageJ display range channel {k}"] = pair
        notes.map("ImageJ Ranges", "MapAnnotation 'ImageJ display range channel N'")
    for key in ("min", "max", "mode"):
        if key in ij:
            meta.annotations[f"ImageJ {key}"] = str(ij[key])
    labels = ij.get("Labels")
    if labels:
        for k, label in enumerate(labels):
            if label:
                meta.annotations[f"ImageJ slice label {k}"] = str(label)
        notes.map("ImageJ Labels", "MapAnnotation 'ImageJ slice label N'")
    if ij.get("Overlays") is not None or ij.get("ROI") is not None:
        notes.skip("ImageJ overlays/ROIs", "not converted to OME ROIs")


def _lsm(tf: tifffile.TiffFile, meta: TiffCalibration, notes: MappingNotes) -> None:
    lsm = tf.lsm_metadata or {}
    for axis in ("X", "Y", "Z"):
        size = positive(lsm.get(f"VoxelSize{axis}"))
        if size is None:
            continue
        if axis == "Z" and int(lsm.get("DimensionZ", 1)) <= 1:
            notes.skip("LSM VoxelSizeZ", "single section; no z spacing")
            continue
        meta.psize[axis.lower()] = (convert(size, "m", "µm"), "µm")
        notes.map(f"LSM VoxelSize{axis}", f"Pixels@PhysicalSize{axis}")
    ti = positive(lsm.get("TimeIntervall"))
    if ti is not None:
        meta.time_increment = (ti, "s")
        notes.map("LSM TimeIntervall", "Pixels@TimeIncrement")
    colors = lsm.get("ChannelColors") or {}
    for rgba in colors.get("Colors", []) or []:
        r, g, b = (int(v) for v in list(rgba)[:3])
        meta.channel_colors.append(_rgba(r, g, b))
    names = colors.get("ColorNames") or []
    meta.channel_names = [str(n) if n else None for n in names]
    if names:
        notes.map("LSM ChannelColors", "Channel@Name, Channel@Color")
    stamps = lsm.get("TimeStamps")
    if stamps is not None and len(stamps) > 1:
        first = float(stamps[0])
        meta.delta_t = [float(s) - first for s in stamps]
        notes.map("LSM TimeStamps", "Plane@DeltaT")


def _mmstack(tf: tifffile.TiffFile, meta: TiffCalibration, notes: MappingNotes) -> None:
    mm = tf.micromanager_metadata or {}
    summary = mm.get("Summary") or {}
    px = positive(summary.get("PixelSize_um"))
    if px is not None:
        meta.psize["x"] = meta.psize["y"] = (px, "µm")
        notes.map("Micro-Manager PixelSize_um", "Pixels@PhysicalSizeX/Y")
    dz = positive(summary.get("z-step_um"))
    if dz is not None:
        meta.psize["z"] = (dz, "µm")
        notes.map("Micro-Manager z-step_um", "Pixels@PhysicalSizeZ")
    dt = positive(summary.get("Interval_ms"))
    if dt is not None:
        meta.time_increment = (dt, "ms")
        notes.map("Micro-Manager Interval_ms", "Pixels@TimeIncrement")
    names = summary.get("ChNames")
    if isinstance(names, list):
        meta.channel_names = [str(n) for n in names]
        notes.map("Micro-Manager ChNames", "Channel@Name")


def _stk(tf: tifffile.TiffFile, meta: TiffCalibration, notes: MappingNotes) -> None:
    stk = tf.stk_metadata or {}
    unit = _length_unit(stk.get("CalibrationUnits"), "MetaMorph CalibrationUnits", meta, notes)
    if unit is None:
        return
    for axis in ("X", "Y"):
        size = positive(stk.get(f"{axis}Calibration"))
        if size is not None:
            meta.psize[axis.lower()] = (size, unit)
            notes.map(f"MetaMorph {axis}Calibration", f"Pixels@PhysicalSize{axis}")
    import numpy as np

    zdist = stk.get("ZDistance")
    dz = positive(zdist[0] if isinstance(zdist, Sequence | np.ndarray) and len(zdist) else None)
    if dz is not None:
        meta.psize["z"] = (dz, unit)


def _svs(tf: tifffile.TiffFile, meta: TiffCalibration, notes: MappingNotes) -> None:
    desc = tf.pages.first.description or ""
    match = re.search(r"MPP\s*=\s*([0-9.eE+-]+)", desc)
    if match and positive(match.group(1)) is not None:
        mpp = float(match.group(1))
        meta.psize["x"] = meta.psize["y"] = (mpp, "µm")
        notes.map("Aperio MPP", "Pixels@PhysicalSizeX/Y (level 0)")
    for part in desc.split("|")[1:]:
        if "=" in part:
            key, value = part.split("=", 1)
            meta.annotations[f"Aperio {key.strip()}"] = value.strip()


def _generic(tag: TagValue, meta: TiffCalibration, notes: MappingNotes) -> None:
    unit_value = tag("ResolutionUnit")
    if unit_value is None:
        unit = 2  # the TIFF default: inch
    elif isinstance(unit_value, numbers.Integral):
        unit = int(unit_value)
    else:  # several values, text or bytes: a damaged tag (a fuzz finding)
        notes.skip(f"TIFF ResolutionUnit {unit_value!r:.40}", "not one number; no unit")
        unit = 2
    if unit == 3:  # centimetre: a physical calibration (NDPI, scanners)
        for axis, name in (("x", "XResolution"), ("y", "YResolution")):
            size = _res_size(tag(name))
            if size is not None:
                meta.psize[axis] = (convert(size, "cm", "µm"), "µm")
                notes.map(f"TIFF {name} (cm)", f"Pixels@PhysicalSize{axis.upper()}")
    elif tag("XResolution") is not None:
        notes.skip(
            "TIFF XResolution/YResolution",
            "no centimetre unit (print resolution); physical sizes left unset (U3)",
        )


def _date(tag: TagValue, meta: TiffCalibration, notes: MappingNotes) -> None:
    value = tag("DateTime")
    if value is None:
        return
    try:
        meta.date = _dt.datetime.strptime(str(value).strip(), "%Y:%m:%d %H:%M:%S")
        notes.map("TIFF DateTime", "Image/AcquisitionDate")
    except ValueError:
        notes.skip(f"TIFF DateTime {value!r}", "not in 'YYYY:MM:DD HH:MM:SS' form")


def tiff_calibration(tf: tifffile.TiffFile, notes: MappingNotes) -> TiffCalibration:
    """Per-file facts of a non-OME TIFF (physical sizes, time step, channel names and
    colours, dates, key-values), from whichever flavour's metadata it carries.

    ``ometiff info`` and the TIFF reader both use it, so they agree.
    """
    meta = TiffCalibration()
    tag = page_tags(tf.pages.first)
    if tf.is_imagej:
        _imagej(tf.imagej_metadata or {}, tag, meta, notes)
    elif tf.is_lsm:
        _lsm(tf, meta, notes)
    elif tf.is_micromanager:
        _mmstack(tf, meta, notes)
    elif tf.is_stk:
        _stk(tf, meta, notes)
    elif tf.is_svs:
        _svs(tf, meta, notes)
    else:
        _generic(tag, meta, notes)
    _date(tag, meta, notes)
    return meta


def plain_calibration(
    imagej: Mapping[str, Any] | None, tag: TagValue, notes: MappingNotes
) -> TiffCalibration:
    """:func:`tiff_calibration` of a plain or ImageJ TIFF from IFD0's values alone
    (``imagej``: the parsed ImageJ description, without IJMetadata), for ``info``
    without tifffile; the same mapping, so both agree."""
    meta = TiffCalibration()
    if imagej is not None:
        _imagej(imagej, tag, meta, notes)
    else:
        _generic(tag, meta, notes)
    _date(tag, meta, notes)
    return meta


def imagej_description(text: str) -> dict[str, Any] | None:
    """The ``key=value`` lines of an ImageJ description with tifffile's typing (int,
    float, bool, else text); None when it is not one (no ``ImageJ=`` key)."""
    out: dict[str, Any] = {}
    for line in text.splitlines():
        key, sep, raw = line.partition("=")
        if not sep:
            continue
        val: Any = raw.strip()
        for kind in (int, float):
            try:
                val = kind(val)
                break
            except ValueError:
                pass
        else:
            val = {"true": True, "false": False}.get(val.lower(), val)
        out[key.strip()] = val
    return out if "ImageJ" in out else None


def _flatten(prefix: str, value: Any, out: dict[str, str], depth: int = 0) -> None:
    import numpy as np  # tifffile's metadata holds arrays; tifffile has imported numpy

    if isinstance(value, Mapping) and depth < 4:
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out, depth + 1)
    elif isinstance(value, np.ndarray):
        if value.size <= 16:
            out[prefix] = str(value.tolist())
    elif isinstance(value, list | tuple):
        if len(value) <= 64 and all(not isinstance(v, Mapping | list | np.ndarray) for v in value):
            out[prefix] = ", ".join(str(v) for v in value)
        elif depth < 4:
            for k, v in enumerate(value[:64]):
                _flatten(f"{prefix}[{k}]", v, out, depth + 1)
    elif isinstance(value, bytes):
        return
    elif value is not None:
        text = str(value)
        if len(text) <= 4096:
            out[prefix] = text


def original_tiff_metadata(tf: tifffile.TiffFile) -> dict[str, str]:
    """Vendor key-values of a TIFF: flavour metadata plus baseline text tags."""
    out: dict[str, str] = {}
    page = tf.pages.first
    for tag in ("Software", "DateTime", "Artist", "Make", "Model", "HostComputer"):
        t = page.tags.get(tag)
        if t is not None:
            out[f"TIFF {tag}"] = str(t.value)
    if tf.is_imagej:
        ij = dict(tf.imagej_metadata or {})
        info = ij.pop("Info", None)
        for k in ("LUTs", "Overlays", "ROI", "Labels", "Ranges"):
            ij.pop(k, None)
        _flatten("ImageJ", ij, out)
        if isinstance(info, str):
            for line in info.splitlines():
                key, sep, value = line.partition("=") if "=" in line else line.partition(":")
                if sep and key.strip() and "<" not in key:
                    out[f"ImageJ Info {key.strip()}"] = value.strip()[:4096]
    for flag, attr, label in (
        ("is_lsm", "lsm_metadata", "LSM"),
        ("is_micromanager", "micromanager_metadata", "MicroManager"),
        ("is_stk", "stk_metadata", "MetaMorph"),
    ):
        if getattr(tf, flag, False):
            _flatten(label, getattr(tf, attr) or {}, out)
    return out
