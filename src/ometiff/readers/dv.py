"""DeltaVision reader (``pip install "ometiff[dv]"``, uses mrc).

A DeltaVision file is an MRC variant (header ``dvid`` 0xC0A0 at byte 96) whose
sections interleave wavelengths, time points and focal planes in the order the
header states (``ZTW``, ``WZT``...). The ``mrc`` library decodes that order into
``C, T, Z, Y, X`` and memory-maps the pixels; ``mrcfile`` reads the same file only
as a flat stack of sections, which is why ``mrc`` is the one used here.

Mapped: sizes and pixel type, PhysicalSizeX/Y/Z (the header's element lengths,
µm), each channel's EmissionWavelength (``wave1..5``, nm), the objective from the
lens id (manufacturer, magnification, NA, as named by mrc's lens table) and the
title lines as the Image description; from the extended header (one record per
section), Plane DeltaT, ExposureTime and PositionX/Y/Z (µm) and each channel's
ExcitationWavelength. Rows are flipped: a DV section is stored bottom row first
(origin lower left), and Bio-Formats shows it top row first, so our planes equal
Bio-Formats' pixel for pixel. Not mapped: the extended header's intensity
statistics and ND filter.
"""

from __future__ import annotations

import re
import struct
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.readers.base import Reader
from ometiff.readers.source import SeriesSource
from ometiff.readers.vendor import VendorFileError, build_pixels, opening, require, sniff_head

if TYPE_CHECKING:
    from ome_types import OME
    from ome_types import model as m

    from ometiff.types import StrPath

#: ``dvid`` at byte 96, in either byte order.
_DVID = (b"\xa0\xc0", b"\xc0\xa0")
_LENS_RE = re.compile(r"(?P<mag>\d+(?:\.\d+)?)\s*[xX]\s*/\s*(?P<na>\d*\.\d+|\d+)")


class DvReader(Reader):
    """Read DeltaVision ``.dv``/``.r3d`` files: one series, C x T x Z planes."""

    name = "dv"
    suffixes = (".dv", ".r3d")
    extra = "dv"

    def __init__(self, path: StrPath, **options: Any) -> None:
        super().__init__(path, **options)
        mrc = require("mrc", "dv", "DeltaVision")
        if not self.can_read(self.path):
            raise VendorFileError(
                f"{self.path}: not a DeltaVision file (no dvid 0xC0A0 at byte 96)"
            )
        self._file: Any = None
        # mrc: ValueError for a bad header, struct.error for a short one; numpy's
        # memmap: ValueError when the pixels run past the end of the file
        with opening(
            self, "DeltaVision", (OSError, ValueError, KeyError, IndexError, struct.error)
        ):
            self._file = mrc.DVFile(self.path)
            sizes = dict(self._file.sizes)
            self._data = self._file.data
            self._dtype = np.dtype(self._file.dtype).newbyteorder("=")
        self._axes = [a for a in sizes if a not in "YX"]
        with self.path.open("rb") as fh:
            fh.seek(96)
            self._byte_order = "<" if fh.read(2) == b"\xa0\xc0" else ">"
        self._shape = (
            sizes.get("T", 1),
            sizes.get("C", 1),
            sizes.get("Z", 1),
            sizes["Y"],
            sizes["X"],
        )

    @classmethod
    def can_read(cls, path: Path) -> bool:
        """Suffix ``.dv``/``.r3d`` and the DeltaVision id at byte 96."""
        return sniff_head(path, cls.suffixes, 2, offset=96) in _DVID

    def _get_plane(self, t: int, c: int, z: int) -> np.ndarray:
        at = {"T": t, "C": c, "Z": z}
        index = tuple(at[a] for a in self._axes)
        try:
            plane = np.asarray(self._data[index])
        except (OSError, ValueError) as exc:
            raise VendorFileError(f"{self.path}: cannot read DV plane {(t, c, z)}: {exc}") from exc
        # DV sections start with the bottom row (origin lower left); Bio-Formats
        # shows them top row first, and so does OME-TIFF
        return np.ascontiguousarray(plane[::-1], dtype=self._dtype)

    def sources(self) -> list[SeriesSource]:
        """One series."""
        return [SeriesSource(self._shape, 1, self._dtype, self._get_plane, self.path.name)]

    def ome(self) -> OME:
        """Sizes, physical sizes, emission wavelengths, objective, title."""
        return self._ome.model_copy(deep=True)

    @cached_property
    def _ome(self) -> OME:
        from ome_types import OME
        from ome_types import model as m
        from ome_types.model import UnitsLength

        hdr = self._file.hdr
        where = "Image:0"
        voxel = self._file.voxel_size

        def length(value: Any) -> float | None:
            return float(value) if value and float(value) > 0 else None

        physical = (length(voxel.x), length(voxel.y), length(voxel.z))
        for axis, value in zip("XYZ", physical, strict=True):
            if value is not None:
                self.notes.map(f"DV d{axis.lower()}", f"{where}/Pixels@PhysicalSize{axis}")
        channels: list[dict[str, Any]] = []
        for ci in range(self._shape[1]):
            wave = getattr(hdr, f"wave{ci + 1}", 0) if ci < 5 else 0
            kw: dict[str, Any] = {}
            if wave and wave > 0:
                kw = {
                    "emission_wavelength": float(wave),
                    "emission_wavelength_unit": UnitsLength.NANOMETER,
                }
                self.notes.map(f"DV wave{ci + 1}", f"{where}/Channel:{ci}@EmissionWavelength")
            channels.append(kw)
        planes = self._planes(channels, where)
        pixels = build_pixels(
            0,
            shape=self._shape,
            samples=1,
            dtype=self._dtype,
            physical=physical,
            channels=channels,
            planes=planes,
        )
        instrument, settings = self._objective()
        self.notes.map(
            "DV sections (bottom row first)", f"{where} planes, rows flipped as Bio-Formats"
        )
        titles = [t for t in self._titles() if t]
        if titles:
            self.notes.map("DV title lines", f"{where}/Description")
        image = m.Image(
            id="Image:0",
            name=self.path.name,
            description="\n".join(titles) or None,
            pixels=pixels,
            instrument_ref=m.InstrumentRef(id=instrument.id) if instrument else None,
            objective_settings=settings,
        )
        return OME(
            images=[image],
            instruments=[instrument] if instrument else [],
            creator="ometiff (mrc)",
        )

    def _section_floats(self) -> list[tuple[float, ...]] | None:
        """The float fields of each section's extended-header record (stored order).

        mrc's own ``ExtHeader.frame`` assumes 8 integers and native byte order, so
        the records are unpacked here with the header's counts and byte order.
        """
        hdr = self._file.hdr
        ext = self._file.ext_hdr
        n_ints, n_floats = int(hdr.n_ints), int(hdr.n_floats)
        if ext is None or n_ints < 0 or n_floats < 12:
            return None
        record = struct.Struct(f"{self._byte_order}{n_ints}i{n_floats}f")
        buffer = bytes(ext.buffer)
        count = int(np.prod(self._shape[:3]))
        if len(buffer) < record.size * count:
            self.notes.skip("DV extended header", "shorter than one record per section")
            return None
        return [record.unpack_from(buffer, k * record.size)[n_ints:] for k in range(count)]

    def _planes(self, channels: list[dict[str, Any]], where: str) -> list[m.Plane]:
        """Plane DeltaT, ExposureTime and stage position from the extended header;
        the excitation wavelength of each channel from its first section."""
        from ome_types import model as m
        from ome_types.model import UnitsLength, UnitsTime

        floats = self._section_floats()
        if floats is None:
            return []
        sizes = [
            {"T": self._shape[0], "C": self._shape[1], "Z": self._shape[2]}[a] for a in self._axes
        ]
        planes = []
        t_n, c_n, z_n = self._shape[:3]
        for t in range(t_n):
            for c in range(c_n):
                for z in range(z_n):
                    at = {"T": t, "C": c, "Z": z}
                    k = int(np.ravel_multi_index(tuple(at[a] for a in self._axes), sizes))
                    f = floats[k]  # photosensor, time, stage x/y/z, min, max, mean, exposure...
                    if not all(np.isfinite(f[:12])):
                        return []
                    planes.append(
                        m.Plane(
                            the_t=t,
                            the_c=c,
                            the_z=z,
                            delta_t=f[1],
                            delta_t_unit=UnitsTime.SECOND,
                            exposure_time=f[8],
                            exposure_time_unit=UnitsTime.SECOND,
                            position_x=f[2],
                            position_x_unit=UnitsLength.MICROMETER,
                            position_y=f[3],
                            position_y_unit=UnitsLength.MICROMETER,
                            position_z=f[4],
                            position_z_unit=UnitsLength.MICROMETER,
                        )
                    )
                    if t == 0 and z == 0 and f[10] > 0:
                        channels[c]["excitation_wavelength"] = float(f[10])
                        channels[c]["excitation_wavelength_unit"] = UnitsLength.NANOMETER
        self.notes.map(
            "DV extended header timeStampSeconds, expTime, stageX/Y/ZCoord",
            f"{where}/Pixels/Plane@DeltaT, ExposureTime, PositionX/Y/Z (µm)",
        )
        self.notes.map("DV extended header exWavelen", f"{where}/Channel@ExcitationWavelength")
        return planes

    def _objective(self) -> tuple[m.Instrument | None, m.ObjectiveSettings | None]:
        from ome_types import model as m

        hdr = self._file.hdr
        try:
            lens = str(self._file.lens or "").strip()
        except (KeyError, ValueError):
            lens = ""
        if not lens:
            if getattr(hdr, "lens_num", 0):
                self.notes.skip(f"DV lens id {hdr.lens_num}", "not in mrc's lens table")
            return None, None
        found = _LENS_RE.search(lens)
        objective = m.Objective(
            id=f"Objective:{hdr.lens_num}",
            model=lens,
            manufacturer=lens.split()[0] if lens.split() else None,
            nominal_magnification=float(found["mag"]) if found else None,
            lens_na=float(found["na"]) if found else None,
        )
        self.notes.map(f"DV lens id {hdr.lens_num} ({lens})", "Instrument/Objective")
        return (
            m.Instrument(id="Instrument:0", objectives=[objective]),
            m.ObjectiveSettings(id=objective.id),
        )

    def _titles(self) -> list[str]:
        raw = bytes(getattr(self._file, "_title", b"") or b"")
        lines = [raw[i : i + 80] for i in range(0, len(raw), 80)]
        return [ln.decode("latin-1").replace("\x00", " ").strip() for ln in lines]

    def original_metadata(self) -> dict[str, str]:
        """Every DV header field."""
        hdr = self._file.hdr
        out = {f"header|{k}": str(v) for k, v in hdr._asdict().items() if not isinstance(v, bytes)}
        for i, title in enumerate(self._titles()):
            if title:
                out[f"title|{i}"] = title
        return out

    def close(self) -> None:
        """Close the memory map."""
        f = getattr(self, "_file", None)
        self._data = None
        if f is not None:
            f.close()
            self._file = None
