"""Bitplane Imaris reader (``pip install "ometiff[ims]"``, uses h5py).

An Imaris 5.5+ file is HDF5: ``DataSet/ResolutionLevel r/TimePoint t/Channel c/Data``
holds a (Z, Y, X) array per level, time point and channel (padded up to the
chunk size; the true size is in the channel group's ``ImageSizeX/Y/Z``), and
``DataSetInfo`` holds the metadata as attributes of single-byte strings. Planes
are read one Z section at a time straight from the chunked, compressed datasets.

Mapped: sizes and pixel type; PhysicalSizeX/Y/Z = (ExtMax - ExtMin) / size per
axis (``DataSetInfo/Image`` ``Unit``, µm); channel Name and Color (``r g b`` in 0-1);
the Image name and description; RecordingDate as AcquisitionDate; the
``TimeInfo`` time points as Plane DeltaT and their step as TimeIncrement;
resolution levels as pyramid levels (``level_shapes``/``read_plane``) when they
keep every Z section, since an OME-TIFF pyramid level is 2-D per plane. Not
mapped: the LSM excitation/emission wavelengths (Imaris writes a default of 500
for unknown ones, and Bio-Formats does not map them either), the thumbnail.
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.ome.units import length_symbol, to_micrometres
from ometiff.readers.base import Reader
from ometiff.readers.source import SeriesSource
from ometiff.readers.vendor import (
    VendorFileError,
    build_pixels,
    has_magic,
    opening,
    parse_float,
    require,
)

if TYPE_CHECKING:
    from ome_types import OME
    from ome_types import model as m

    from ometiff.types import StrPath

_MAGIC = b"\x89HDF\r\n\x1a\n"
_DAMAGE = (OSError, ValueError, KeyError, IndexError, EOFError)


def _text(attrs: Any, key: str) -> str | None:
    """An Imaris attribute (an array of single bytes) as text."""
    if key not in attrs:
        return None
    value = attrs[key]
    if isinstance(value, bytes):
        raw = value
    elif isinstance(value, np.ndarray) and value.dtype.kind == "S":
        raw = b"".join(value.ravel().tolist())
    else:
        return str(value)
    return raw.decode("latin-1").rstrip("\x00").strip()


class ImsReader(Reader):
    """Read Bitplane Imaris ``.ims`` files: one series, resolution levels as a pyramid."""

    name = "ims"
    suffixes = (".ims",)
    extra = "ims"

    def __init__(self, path: StrPath, **options: Any) -> None:
        super().__init__(path, **options)
        h5py = require("h5py", "ims", "Bitplane Imaris")
        if not self.can_read(self.path):
            raise VendorFileError(f"{self.path}: not an Imaris file (no HDF5 signature)")
        self._file: Any = None
        with opening(self, "Imaris", _DAMAGE):
            self._file = h5py.File(self.path, "r")
            self._levels = self._find_levels()

    def _find_levels(self) -> list[tuple[int, int, int]]:
        """(Z, Y, X) of each kept resolution level; sets sizes and dtype."""
        f = self._file
        if "DataSet" not in f or "ResolutionLevel 0" not in f["DataSet"]:
            raise VendorFileError(f"{self.path}: HDF5 file without an Imaris DataSet group")
        dataset = f["DataSet"]
        level0 = dataset["ResolutionLevel 0"]
        times = sorted(
            (k for k in level0 if k.startswith("TimePoint ")), key=lambda k: int(k.split()[-1])
        )
        if not times:
            raise VendorFileError(f"{self.path}: Imaris ResolutionLevel 0 has no TimePoint")
        channels = [k for k in level0[times[0]] if k.startswith("Channel ")]
        if not channels:
            raise VendorFileError(f"{self.path}: Imaris TimePoint 0 has no Channel")
        self._size_t, self._size_c = len(times), len(channels)
        self._dtype = np.dtype(level0[f"{times[0]}/Channel 0/Data"].dtype)
        levels: list[tuple[int, int, int]] = []
        r = 0
        while f"ResolutionLevel {r}" in dataset:
            group = dataset[f"ResolutionLevel {r}/{times[0]}/Channel 0"]
            zyx = tuple(int(_text(group.attrs, f"ImageSize{a}") or 0) for a in "ZYX")
            data_shape = group["Data"].shape
            if len(data_shape) != 3 or any(
                n <= 0 or n > d for n, d in zip(zyx, data_shape, strict=True)
            ):
                raise VendorFileError(
                    f"{self.path}: Imaris level {r} size {zyx} does not fit its data {data_shape}"
                )
            if levels and zyx[0] != levels[0][0]:
                self.notes.skip(
                    f"Imaris ResolutionLevel {r} {zyx}",
                    f"reduces Z ({levels[0][0]} -> {zyx[0]}); an OME-TIFF pyramid level keeps "
                    "every plane, so this and smaller levels are not kept",
                )
                break
            levels.append((zyx[0], zyx[1], zyx[2]))
            r += 1
        if len(levels) > 1:
            self.notes.map("Imaris ResolutionLevel 1..", "pyramid levels (SubIFDs)")
        return levels

    @classmethod
    def can_read(cls, path: Path) -> bool:
        """Suffix ``.ims`` and the HDF5 signature."""
        return has_magic(path, cls.suffixes, _MAGIC)

    def level_shapes(self, series: int) -> list[tuple[int, int, int, int, int]]:
        """(T, C, Z, Y, X) of every kept resolution level."""
        self._source(series)  # NoSuchPlaneError for a bad series
        return [(self._size_t, self._size_c, z, y, x) for z, y, x in self._levels]

    def read_plane(self, series: int, t: int, c: int, z: int, *, level: int = 0) -> np.ndarray:
        """One Z section of one channel, time point and resolution level."""
        self.check_plane(series, t, c, z, level=level)
        _, y, x = self._levels[level]
        key = f"DataSet/ResolutionLevel {level}/TimePoint {t}/Channel {c}/Data"
        try:
            plane = self._file[key][z, :y, :x]
        except _DAMAGE as exc:
            raise VendorFileError(
                f"{self.path}: cannot read Imaris plane t={t} c={c} z={z} of level {level}: {exc}"
            ) from exc
        return np.ascontiguousarray(plane)

    def sources(self) -> list[SeriesSource]:
        """One series, full resolution."""
        z, y, x = self._levels[0]
        shape = (self._size_t, self._size_c, z, y, x)

        def get_plane(t: int, c: int, zi: int) -> np.ndarray:
            return self.read_plane(0, t, c, zi)

        return [SeriesSource(shape, 1, self._dtype, get_plane, self._ome.images[0].name)]

    def ome(self) -> OME:
        """Sizes, physical sizes, channels, dates, time points."""
        return self._ome.model_copy(deep=True)

    @cached_property
    def _ome(self) -> OME:
        from ome_types import OME
        from ome_types import model as m

        info = self._file.get("DataSetInfo")
        image_attrs = info["Image"].attrs if info is not None and "Image" in info else {}
        where = "Image:0"
        z, y, x = self._levels[0]
        physical = self._physical(image_attrs, (x, y, z), where)
        channels = []
        for c in range(self._size_c):
            group = f"Channel {c}"
            attrs = info[group].attrs if info is not None and group in info else {}
            kw: dict[str, Any] = {"name": _text(attrs, "Name") or None}
            color = _color(_text(attrs, "Color"))
            if color is not None:
                kw["color"] = color
                self.notes.map(f"Imaris {group} Color", f"{where}/Channel:{c}@Color")
            if kw["name"]:
                self.notes.map(f"Imaris {group} Name", f"{where}/Channel:{c}@Name")
            channels.append(kw)
        self.notes.skip(
            "Imaris LSMExcitation/EmissionWavelength",
            "Imaris writes 500 when unknown; not mapped (as Bio-Formats)",
        )
        deltas = self._time_points(info)
        planes: list[m.Plane] = []
        increment = None
        if deltas is not None:
            from ome_types.model import UnitsTime

            planes = [
                m.Plane(
                    the_t=t, the_c=c, the_z=zi, delta_t=deltas[t], delta_t_unit=UnitsTime.SECOND
                )
                for t in range(self._size_t)
                for c in range(self._size_c)
                for zi in range(z)
            ]
            self.notes.map("Imaris TimeInfo TimePoint<n>", f"{where}/Pixels/Plane@DeltaT")
            if len(deltas) > 1 and deltas[1] > deltas[0]:
                increment = deltas[1] - deltas[0]
        pixels = build_pixels(
            0,
            shape=(self._size_t, self._size_c, z, y, x),
            samples=1,
            dtype=self._dtype,
            physical=physical,
            channels=channels,
            planes=planes,
            time_increment=increment,
        )
        recorded = _date(_text(image_attrs, "RecordingDate"))
        if recorded is not None:
            self.notes.map("Imaris RecordingDate", f"{where}/AcquisitionDate")
        name = _text(image_attrs, "Name") or self.path.name
        image = m.Image(
            id="Image:0",
            name=name,
            description=_text(image_attrs, "Description") or None,
            acquisition_date=recorded,
            pixels=pixels,
        )
        return OME(images=[image], creator="ometiff (h5py)")

    def _physical(
        self, attrs: Any, sizes: tuple[int, int, int], where: str
    ) -> tuple[float | None, float | None, float | None]:
        unit = _text(attrs, "Unit") or "um"
        symbol = length_symbol(unit)
        out: list[float | None] = []
        for i, (axis, n) in enumerate(zip("XYZ", sizes, strict=True)):
            lo = parse_float(_text(attrs, f"ExtMin{i}"))
            hi = parse_float(_text(attrs, f"ExtMax{i}"))
            value = None
            if lo is not None and hi is not None and hi > lo and n > 0 and symbol:
                value = to_micrometres((hi - lo) / n, symbol)
                self.notes.map(f"Imaris ExtMin{i}/ExtMax{i}", f"{where}/Pixels@PhysicalSize{axis}")
            out.append(value)
        if symbol is None:
            self.notes.skip(f"Imaris Unit {unit!r}", "not a length unit; PhysicalSize unset")
        return out[0], out[1], out[2]

    def _time_points(self, info: Any) -> list[float] | None:
        if info is None or "TimeInfo" not in info:
            return None
        attrs = info["TimeInfo"].attrs
        stamps = [_date(_text(attrs, f"TimePoint{t + 1}")) for t in range(self._size_t)]
        if any(s is None for s in stamps):
            return None
        first = stamps[0]
        assert first is not None
        return [(s - first).total_seconds() for s in stamps if s is not None]

    def original_metadata(self) -> dict[str, str]:
        """Every ``DataSetInfo`` attribute (``group|attribute``)."""
        out: dict[str, str] = {}
        info = self._file.get("DataSetInfo")
        if info is None:
            return out
        for group_name, group in info.items():
            for key in group.attrs:
                text = _text(group.attrs, key)
                if text:
                    out[f"{group_name}|{key}"] = text
        return out

    def close(self) -> None:
        """Close the HDF5 file."""
        f = getattr(self, "_file", None)
        if f is not None:
            f.close()
            self._file = None


def _color(text: str | None) -> m.Color | None:
    """Imaris ``"r g b"`` (0-1 floats) as an opaque OME Color."""
    if not text:
        return None
    parts = [parse_float(p) for p in text.split()]
    if len(parts) != 3 or any(p is None or not 0 <= p <= 1 for p in parts):
        return None
    from ome_types.model import Color

    from ometiff.ome.colour import rgba_to_ome

    r, g, b = (round(float(p or 0) * 255) for p in parts)
    return Color(rgba_to_ome(r, g, b))


def _date(text: str | None) -> datetime | None:
    """Imaris ``YYYY-MM-DD HH:MM:SS.mmm`` (no zone)."""
    if not text:
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None
