"""PicoQuant PTU reader (``pip install "ometiff[ptu]"``, uses ptufile).

A PTU file is a stream of TTTR photon records. ptufile decodes the T3 records of
an image measurement (``measurement_submode`` image) into a histogram per pixel:
dimensions ``T`` (frames), optional ``Z``, ``Y``, ``X``, ``C`` (detection
channels) and ``H`` (TCSPC lifetime bins). One series per file:

* SizeT = frames x lifetime bins, bins innermost, described by a ``ModuloAlongT``
  annotation (``readers/flim.py``), as Bio-Formats writes FLIM data;
* SizeC = detection channels, SizeZ = focal planes of a z-stack;
* PhysicalSizeX/Y from the pixel coordinates (metres -> µm).

Bio-Formats cannot read PTU at all (``UnknownFormatException``), so there is no
reference record to agree with; pixels are checked against ptufile's own
``decode_image``. Point and line measurements and T2 files hold no image and are
refused with a "not an image" error. Frames are decoded one at a time, on demand.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.ome.units import to_micrometres
from ometiff.readers.base import Reader
from ometiff.readers.flim import modulo_along_t, not_an_image
from ometiff.readers.source import SeriesSource
from ometiff.readers.vendor import (
    VendorFileError,
    build_pixels,
    flatten,
    has_magic,
    opening,
    require,
)

if TYPE_CHECKING:
    from ome_types import OME

    from ometiff.types import StrPath

_MAGIC = b"PQTTTR\x00\x00"
#: 16-byte preamble (magic, version) and one 48-byte tag: ptufile fails with an
#: internal error (not its PqFileError) on anything shorter.
_MIN_SIZE = 64
#: Every TTTR record of a PTU file is one little-endian uint32.
_RECORD_SIZE = 4
#: Files up to this size keep their photon records in memory between frames.
_CACHE_LIMIT = 512 * 2**20
#: ptufile errors on damaged files (its own error is a ValueError subclass).
_DAMAGE = (OSError, ValueError, KeyError, IndexError, EOFError)


class PtuReader(Reader):
    """Read PicoQuant PTU FLIM images: lifetime bins as a Modulo along T."""

    name = "ptu"
    suffixes = (".ptu",)
    extra = "ptu"

    def __init__(self, path: StrPath, **options: Any) -> None:
        super().__init__(path, **options)
        ptufile = require("ptufile", "ptu", "PicoQuant PTU")
        if not self.can_read(self.path):
            raise VendorFileError(f"{self.path}: not a PicoQuant PTU file (no PQTTTR magic)")
        self._file: Any = None
        size = self.path.stat().st_size
        if size < _MIN_SIZE:
            raise VendorFileError(
                f"{self.path}: PTU header cut short ({size} bytes); the file is truncated"
            )
        with opening(self, "PicoQuant PTU", _DAMAGE):
            self._file = ptufile.PtuFile(self.path)
            f = self._file
            is_image = bool(f.is_image) and bool(f.is_t3)
            mode = f"{f.record_type.name}, {f.measurement_submode.name.lower()} measurement"
            dims = tuple(f.dims)
            shape = tuple(int(n) for n in f.shape)
            self._dtype = np.dtype(f.dtype)
        self._check_records(size)
        # each frame is decoded from the photon records; keeping them in memory
        # (as large as the file) makes that 3x faster, so do it for files that fit
        self._file.cache_records = size <= _CACHE_LIMIT
        if not is_image:
            self.close()
            raise not_an_image(self.path, f"a PicoQuant TTTR {mode} (photon records, no scan)")
        self._sizes = dict(zip(dims, shape, strict=True))
        s = self._sizes
        self._frames, self._bins = s.get("T", 1), s["H"]
        self._shape = (self._frames * self._bins, s.get("C", 1), s.get("Z", 1), s["Y"], s["X"])
        self._cached: tuple[int, np.ndarray] | None = None

    def _check_records(self, size: int) -> None:
        """The header's record count must fit the file (ptufile decodes a cut file
        silently, with fewer frames)."""
        f = self._file
        count = f.tags.get("TTResult_NumberOfRecords")
        if not isinstance(count, (int, np.integer)) or count < 0:
            return
        end = int(f.record_offset) + count * _RECORD_SIZE
        if end > size:
            self.close()
            raise VendorFileError(
                f"{self.path}: the PTU header states {count} photon records ending at byte "
                f"{end}, but the file has {size} bytes; the file is truncated"
            )

    @classmethod
    def can_read(cls, path: Path) -> bool:
        """Suffix ``.ptu`` and the ``PQTTTR`` magic."""
        return has_magic(path, cls.suffixes, _MAGIC)

    def _frame(self, frame: int) -> np.ndarray:
        """One decoded frame as (Z, Y, X, C, H), the last one cached."""
        if self._cached is None or self._cached[0] != frame:
            try:
                data = self._file.decode_image(frame=frame, keepdims=True)
            except _DAMAGE as exc:
                raise VendorFileError(
                    f"{self.path}: cannot decode PTU frame {frame}: {exc}"
                ) from exc
            data = np.asarray(data)
            if "Z" not in self._sizes:  # dims are T, [Z], Y, X, C, H
                data = data[:, np.newaxis]
            self._cached = (frame, data[0])
        return self._cached[1]

    def _get_plane(self, t: int, c: int, z: int) -> np.ndarray:
        frame, lifetime_bin = divmod(t, self._bins)
        return np.ascontiguousarray(self._frame(frame)[z, :, :, c, lifetime_bin])

    def sources(self) -> list[SeriesSource]:
        """One series: the FLIM image."""
        name = self._ome.images[0].name
        return [SeriesSource(self._shape, 1, self._dtype, self._get_plane, name)]

    def ome(self) -> OME:
        """Sizes, pixel size, Modulo along T, acquisition date."""
        return self._ome.model_copy(deep=True)

    @cached_property
    def _ome(self) -> OME:
        from ome_types import OME
        from ome_types import model as m

        f = self._file
        coords = f.coords
        where = "Image:0"

        def step_um(axis: str) -> float | None:
            values = coords.get(axis)
            if values is None or len(values) < 2:
                return None
            return to_micrometres(float(values[1]) - float(values[0]), "m") or None

        physical = (step_um("X"), step_um("Y"), step_um("Z"))
        for axis, value in zip("XYZ", physical, strict=True):
            if value is not None:
                self.notes.map(f"PTU {axis} coordinates", f"{where}/Pixels@PhysicalSize{axis}")
        resolution = float(f.tcspc_resolution or 0.0)
        step_ps = resolution * 1e12 if resolution > 0 else None
        modulo = modulo_along_t(0, self._bins, step_ps)
        self.notes.map("PTU TCSPC bins (MeasDesc_Resolution)", f"{where} ModuloAlongT (lifetime)")
        self.notes.skip(
            "PTU frame time",
            "T holds frames x lifetime bins (Modulo), so no TimeIncrement is set; "
            "the frame time is kept in the original metadata",
        )
        self.notes.skip("PTU photon records", "only the decoded histogram image is converted")
        pixels = build_pixels(0, shape=self._shape, samples=1, dtype=self._dtype, physical=physical)
        acquired = None
        try:
            acquired = f.datetime
        except _DAMAGE:
            acquired = None
        if acquired is not None:
            self.notes.map("PTU File_CreatingTime", f"{where}/AcquisitionDate")
        image = m.Image(
            id="Image:0",
            name=self.path.name,
            acquisition_date=acquired,
            pixels=pixels,
            annotation_refs=[m.AnnotationRef(id=modulo.id)],
        )
        return OME(
            images=[image],
            structured_annotations=m.StructuredAnnotations(xml_annotations=[modulo]),
            creator="ometiff (ptufile)",
        )

    def original_metadata(self) -> dict[str, str]:
        """The PTU header tags, plus frame/line/pixel times."""
        f = self._file
        out = flatten(dict(f.tags), "tags")
        for key in ("frame_time", "line_time", "pixel_time", "frequency", "tcspc_resolution"):
            value = getattr(f, key, None)
            if value is not None:
                out[key] = str(value)
        return out

    def close(self) -> None:
        """Close the PTU file."""
        f = getattr(self, "_file", None)
        if f is not None:
            f.close()
            self._file = None
