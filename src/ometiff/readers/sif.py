"""Andor SIF reader (``pip install "ometiff[sif]"``, uses sif_parser).

sif_parser parses the Andor Solis header (camera, exposure, cycle time,
calibration) and locates every frame; the pixels are memory-mapped
(``np_open(lazy="memmap")``), so frames are read one at a time. Frames (kinetic
series) are T; a frame is Y x X float32 as stored (a spectrum is one row).

Mapped: sizes, pixel type, the detector (``DetectorType``) as an Instrument
Detector, the exposure time per plane, the kinetic cycle time as TimeIncrement
(when there is more than one frame) and the experiment time as AcquisitionDate.
Not mapped: the wavelength calibration of the X axis (a spectrum's polynomial is
no physical pixel size; kept in the original metadata), temperature, gain.

Bio-Formats 7.3.1 reads the image size from other header fields and disagrees
with sif_parser on binned and cropped acquisitions (it reports sizes whose data
would run past the end of the file); see ``docs/vendor-formats.md``.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.readers.base import Reader
from ometiff.readers.source import SeriesSource
from ometiff.readers.vendor import (
    VendorFileError,
    build_pixels,
    flatten,
    has_magic,
    opening,
    parse_float,
    require,
)

if TYPE_CHECKING:
    from ome_types import OME

    from ometiff.types import StrPath

_MAGIC = b"Andor Technology Multi-Channel File"


class _StrictFile(io.FileIO):
    """A file whose ``read(n)`` raises EOFError at the end instead of returning b"".

    sif_parser reads header tokens byte by byte until a delimiter; on a truncated
    header it would loop forever on the empty reads past the end.
    """

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        if size != 0 and not data:
            raise EOFError(f"unexpected end of file at byte {self.tell()}")
        return data or b""


class SifReader(Reader):
    """Read Andor SIF images and spectra: frames as T."""

    name = "sif"
    suffixes = (".sif",)
    extra = "sif"

    def __init__(self, path: StrPath, **options: Any) -> None:
        super().__init__(path, **options)
        require("sif_parser", "sif", "Andor SIF")
        from sif_parser import np_open

        if not self.can_read(self.path):
            raise VendorFileError(f"{self.path}: not an Andor SIF file (no Andor header)")
        # sif_parser raises SyntaxError for a header it cannot parse, ValueError
        # (numpy's memmap) when the frames run past the end of the file, and our
        # file object EOFError where sif_parser would wait for a byte forever
        with (
            opening(
                self,
                "Andor SIF",
                (OSError, ValueError, KeyError, IndexError, EOFError, SyntaxError),
            ),
            _StrictFile(self.path) as fh,
        ):
            data, info = np_open(fh, lazy="memmap")
        self._data: Any = data
        self._info: dict[str, Any] = dict(info)
        frames, y, x = data.shape
        self._shape = (frames, 1, 1, y, x)
        self._dtype = np.dtype("float32")

    @classmethod
    def can_read(cls, path: Path) -> bool:
        """Suffix ``.sif`` and the Andor header line."""
        return has_magic(path, cls.suffixes, _MAGIC)

    def _get_plane(self, t: int, c: int, z: int) -> np.ndarray:
        try:
            plane = np.asarray(self._data[t])
        except (OSError, ValueError) as exc:
            raise VendorFileError(f"{self.path}: cannot read SIF frame {t}: {exc}") from exc
        return np.ascontiguousarray(plane, dtype=self._dtype)

    def sources(self) -> list[SeriesSource]:
        """One series: frames as T."""
        return [SeriesSource(self._shape, 1, self._dtype, self._get_plane, self.path.name)]

    def ome(self) -> OME:
        """Sizes, detector, exposure, cycle time, acquisition date."""
        return self._ome.model_copy(deep=True)

    @cached_property
    def _ome(self) -> OME:
        from ome_types import OME
        from ome_types import model as m
        from ome_types.model import UnitsTime

        info = self._info
        where = "Image:0"
        frames = self._shape[0]
        exposure = _positive(parse_float(info.get("ExposureTime")))
        planes = []
        if exposure is not None:
            planes = [
                m.Plane(
                    the_t=t,
                    the_c=0,
                    the_z=0,
                    exposure_time=exposure,
                    exposure_time_unit=UnitsTime.SECOND,
                )
                for t in range(frames)
            ]
            self.notes.map("SIF ExposureTime", f"{where}/Pixels/Plane@ExposureTime")
        cycle = _positive(parse_float(info.get("CycleTime"))) if frames > 1 else None
        if cycle is not None:
            self.notes.map("SIF CycleTime", f"{where}/Pixels@TimeIncrement")
        instrument = None
        channels: list[dict[str, Any]] = [{}]
        detector_type = str(info.get("DetectorType") or "").strip()
        if detector_type:
            detector = m.Detector(id="Detector:0:0", manufacturer="Andor", model=detector_type)
            instrument = m.Instrument(id="Instrument:0", detectors=[detector])
            channels = [{"detector_settings": m.DetectorSettings(id=detector.id)}]
            self.notes.map("SIF DetectorType", "Instrument/Detector@Model")
        pixels = build_pixels(
            0,
            shape=self._shape,
            samples=1,
            dtype=self._dtype,
            channels=channels,
            planes=planes,
            time_increment=cycle,
        )
        acquired = None
        stamp = info.get("ExperimentTime")
        if isinstance(stamp, (int, float)) and stamp > 0:
            acquired = datetime.fromtimestamp(float(stamp), tz=UTC)
            self.notes.map("SIF ExperimentTime", f"{where}/AcquisitionDate")
        if info.get("Calibration_data") is not None:
            self.notes.skip(
                "SIF Calibration_data", "an X-axis (wavelength) polynomial, not a pixel size"
            )
        self.notes.skip("SIF DetectorTemperature, GainDAC", "kept in the original metadata")
        image = m.Image(
            id="Image:0",
            name=self.path.name,
            acquisition_date=acquired,
            instrument_ref=m.InstrumentRef(id=instrument.id) if instrument else None,
            pixels=pixels,
        )
        return OME(
            images=[image],
            instruments=[instrument] if instrument else [],
            creator="ometiff (sif_parser)",
        )

    def original_metadata(self) -> dict[str, str]:
        """sif_parser's header fields."""
        out: dict[str, str] = {}
        for key, value in self._info.items():
            if key in ("tile",):
                continue
            if isinstance(value, bytes):
                value = value.decode("latin-1")
            elif isinstance(value, np.ndarray):
                value = value.tolist()
            flatten(value, key, out)
        return out

    def close(self) -> None:
        """Drop the memory map (numpy closes it with the last reference)."""
        self._data = None


def _positive(value: float | None) -> float | None:
    return value if value is not None and value > 0 and np.isfinite(value) else None
