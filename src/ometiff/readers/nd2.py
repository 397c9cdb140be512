"""Nikon ND2 reader (``pip install "ometiff[nd2]"``, uses the nd2 library).

Each XY position (``P`` loop) is a separate series, as in Bio-Formats. Frames are
read one at a time with ``ND2File.read_frame``; loops other than T, Z and P are
folded into T.

The OME metadata is ometiff's own mapping of nd2's metadata API, built as an OME-XML
tree (``ome_tree``) without ome_types, so that ``convert`` never imports it (start-up,
issue 9): sizes and DimensionOrder from ``ND2File.sizes`` (the loop nesting),
calibrated physical sizes, channels (name, colour, wavelengths, pinhole, modality)
and the objective from ``ND2File.metadata``, cameras, exposure times and the
acquisition date from the image metadata chunk, and per plane the frame time
(DeltaT) and the stage coordinates recorded with each frame (``ND2File.events()``;
where a file recorded none, the experiment's stage position, as nd2 reports it).
"""

from __future__ import annotations

import math
import struct
import warnings
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

import numpy as np

from ometiff.ome.colour import rgba_to_ome
from ometiff.readers.base import Reader
from ometiff.readers.decode import check_budget
from ometiff.readers.source import SeriesSource
from ometiff.readers.vendor import (
    OME_NS,
    VendorFileError,
    flatten,
    has_magic,
    ome_document,
    ome_element,
    ome_model,
    opening,
    pixels_element,
    require,
    xsd_datetime,
)

if TYPE_CHECKING:
    from ome_types import OME

    from ometiff.ome.view import OmeView
    from ometiff.types import StrPath

#: ND2 magic numbers: modern chunk map (0xDACEBE0A) and legacy JPEG-2000 box.
_MAGICS = (b"\xda\xce\xbe\x0a", b"\x00\x00\x00\x0c")
_PLANE_AXES = ("C", "Y", "X", "S")
#: The fewest bytes an ND2 frame takes in the file (its chunk header alone is longer).
_MIN_CHUNK = 16


def _check_frame_count(path: Path, sizes: dict[str, int]) -> None:
    """Refuse an ND2 declaring more frames than its bytes can hold, before nd2 lists them.

    nd2 enumerates every (P, T, Z...) combination of the declared loop sizes; a
    corrupt header declaring billions would take the process's memory and time.
    Every frame is a chunk of at least :data:`_MIN_CHUNK` bytes.
    """
    frames = 1
    for axis, n in sizes.items():
        if axis not in _PLANE_AXES:
            frames *= max(int(n), 1)
    limit = path.stat().st_size // _MIN_CHUNK
    if frames > max(limit, 1):
        raise VendorFileError(
            f"{path}: the ND2 header declares {frames} frames ({sizes}) but the file's "
            f"{path.stat().st_size} bytes hold at most {limit}; the file is corrupt"
        )


class Nd2Reader(Reader):
    """Read Nikon ND2 files: one series per XY position."""

    name = "nd2"
    suffixes = (".nd2",)
    extra = "nd2"

    def __init__(self, path: StrPath, **options: Any) -> None:
        super().__init__(path, **options)
        nd2 = require("nd2", "nd2", "Nikon ND2")
        if not self.can_read(self.path):
            raise VendorFileError(f"{self.path}: not a Nikon ND2 file (bad magic number)")
        self._file: Any = None
        with opening(self, "Nikon ND2", (OSError, ValueError, KeyError, IndexError, struct.error)):
            self._file = nd2.ND2File(self.path)
            sizes = dict(self._file.sizes)
            _check_frame_count(self.path, sizes)
            loops = list(self._file.loop_indices)
            self._dtype = np.dtype(self._file.dtype)
        self._samples = sizes.get("S", 1)
        self._n_pos = sizes.get("P", 1)
        self._t_axes = [a for a in sizes if a not in (*_PLANE_AXES, "Z", "P")]
        self._t_sizes = tuple(sizes[a] for a in self._t_axes)
        size_t = int(np.prod(self._t_sizes)) if self._t_axes else 1
        self._shape = (size_t, sizes.get("C", 1), sizes.get("Z", 1), sizes["Y"], sizes["X"])
        self._has_c = "C" in sizes
        self._frame_bytes = (
            self._shape[1] * self._shape[3] * self._shape[4] * self._samples * self._dtype.itemsize
        )
        # frame index of each (P, T..., Z) combination, from nd2's loop indices
        self._frames: dict[tuple[int, ...], int] = {}
        for k, idx in enumerate(loops):
            key = (idx.get("P", 0), *(idx.get(a, 0) for a in self._t_axes), idx.get("Z", 0))
            self._frames[key] = k
        expected = self._n_pos * size_t * self._shape[2]
        if len(self._frames) != expected:
            self.close()
            raise VendorFileError(
                f"{self.path}: ND2 frame table has {len(self._frames)} entries, "
                f"expected {expected}; the file may be truncated"
            )

    @classmethod
    def can_read(cls, path: Path) -> bool:
        """Suffix ``.nd2`` and an ND2 magic number at offset 0."""
        return has_magic(path, cls.suffixes, *_MAGICS)

    def _plane_getter(self, position: int) -> Any:
        def get_plane(t: int, c: int, z: int) -> np.ndarray:
            ts = np.unravel_index(t, self._t_sizes) if self._t_axes else ()
            key = (position, *(int(i) for i in ts), z)
            check_budget(
                self._frame_bytes,
                f"{self.path}: an ND2 frame of {self._shape[1]} channel(s), "
                f"{self._shape[4]}x{self._shape[3]}",
            )
            try:
                frame = np.asarray(self._file.read_frame(self._frames[key]))
            except (OSError, ValueError, IndexError) as exc:
                raise VendorFileError(f"{self.path}: cannot read ND2 frame {key}: {exc}") from exc
            y, x = self._shape[3:]
            if self._samples > 1:
                frame = frame.reshape(-1, y, x, self._samples)
            else:
                frame = frame.reshape(-1, y, x)
            return np.ascontiguousarray(frame[c if self._has_c else 0])

        return get_plane

    def sources(self) -> list[SeriesSource]:
        """One plane source per XY position."""
        return [
            SeriesSource(self._shape, self._samples, self._dtype, self._plane_getter(p), name)
            for p, name in enumerate(self._names)
        ]

    def ome(self) -> OME:
        """OME metadata, one Image per XY position (an ome_types model of :attr:`ome_tree`)."""
        return ome_model(self.ome_tree)  # a new model each call: callers may edit theirs

    def ome_view(self) -> OmeView:
        """:meth:`ome` as the fast OME view, straight from the XML (no ome_types)."""
        from ometiff.ome.view import parse_ome

        return parse_ome(ome_document(self.ome_tree), source=str(self.path))

    @cached_property
    def _names(self) -> list[str]:
        """Image names: the XY loop's point names, else the file name (as nd2 names them)."""
        points: list[Any] = []
        for loop in self._file.experiment:
            if loop.type == "XYPosLoop":
                points = list(loop.parameters.points)
        names = []
        for p in range(self._n_pos):
            name = points[p].name if p < len(points) else None
            if not name:
                name = self.path.stem + (f" (Series {p})" if self._n_pos > 1 else "")
            names.append(str(name))
        return names

    @cached_property
    def _raw(self) -> dict[str, Any]:
        """The image metadata chunk (exposure, cameras, absolute time); {} if absent."""
        f = self._file
        if f.is_legacy:
            return {}
        key = "ImageMetadataSeqLV|0" if f.version >= (3, 0) else "ImageMetadataSeq|0"
        with warnings.catch_warnings():  # nd2 warns when the chunk is missing
            warnings.simplefilter("ignore")
            chunk = f.unstructured_metadata(include={key}, strip_prefix=False).get(key)
        if not isinstance(chunk, dict):
            return {}
        raw = chunk.get("SLxPictureMetadata", chunk)
        return raw if isinstance(raw, dict) else {}

    @cached_property
    def ome_tree(self) -> Any:
        """The OME metadata as an OME-XML element tree (lxml), built from nd2's metadata
        API without ome_types; the writer conforms it directly (``convert`` never
        imports ome_types)."""
        try:
            return self._build_tree()
        except (OSError, ValueError, KeyError, IndexError, struct.error, SyntaxError) as exc:
            # SyntaxError: lxml's XMLSyntaxError, from metadata nd2 cannot parse
            raise VendorFileError(
                f"{self.path}: cannot read the ND2 metadata ({type(exc).__name__}: {exc}); "
                "the file may be truncated or corrupt"
            ) from exc

    def _build_tree(self) -> Any:
        f = self._file
        meta = f.metadata
        chans = list(meta.channels or ()) if meta is not None else []
        root = ome_element(None, "OME", Creator="ometiff (nd2)")
        has_objective = self._instrument(root, chans[0] if chans else None)
        date = self._acquisition_date()
        physical = self._physical(chans[0] if chans else None)
        channels = self._channels(chans)
        order = self._dimension_order()
        planes = self._planes()
        for p, name in enumerate(self._names):
            where = f"Image:{p}"
            image = ome_element(root, "Image", ID=where, Name=name)
            if date is not None:
                ome_element(image, "AcquisitionDate", xsd_datetime(date))
            if root.find(f"{{{OME_NS}}}Instrument") is not None:
                ome_element(image, "InstrumentRef", ID="Instrument:0")
            if has_objective:
                ome_element(
                    image,
                    "ObjectiveSettings",
                    ID="Objective:0:0",
                    RefractiveIndex=chans[0].microscope.immersionRefractiveIndex,
                )
            pixels_element(
                image,
                p,
                shape=self._shape,
                samples=self._samples,
                dtype=self._dtype,
                physical=physical,
                channels=channels,
                planes=planes[p],
                significant_bits=f.attributes.bitsPerComponentSignificant or None,
                dimension_order=order,
            )
            for axis, value in zip("XYZ", physical, strict=True):
                if value is not None:
                    self.notes.map(
                        f"ND2 axesCalibration {axis}", f"{where}/Pixels@PhysicalSize{axis}"
                    )
            if chans:
                self.notes.map("ND2 channel metadata", f"{where}/Channel")
            if planes[p]:
                self.notes.map("ND2 frame times, exposure, stage", f"{where}/Pixels/Plane")
        if date is not None:
            self.notes.map("ND2 ImageMetadata dTimeAbsolute", "Image/AcquisitionDate")
        return root

    def _dimension_order(self) -> str:
        """nd2's loop nesting as DimensionOrder (innermost first), so the written IFDs
        follow the acquisition; XYCZT when the loops don't form one (folded, RGB)."""
        dims = "".join(reversed([a for a in self._file.sizes if a != "P"]))
        return next((o for o in _DIMENSION_ORDERS if o.startswith(dims)), "XYCZT")

    def _physical(self, ch0: Any) -> tuple[float | None, float | None, float | None]:
        """Calibrated X, Y (and Z for a Z loop) in µm; uncalibrated axes left out (W3)."""
        if ch0 is None or ch0.volume is None:
            return None, None, None
        calibrated = ch0.volume.axesCalibrated or (False, False, False)
        values = ch0.volume.axesCalibration or (None, None, None)
        out: list[float | None] = []
        for k, (ok, value) in enumerate(zip(calibrated, values, strict=True)):
            keep = ok and value is not None and value > 0 and (k < 2 or "Z" in self._file.sizes)
            out.append(float(value) if keep else None)
        return out[0], out[1], out[2]

    def _channels(self, chans: list[Any]) -> list[dict[str, Any]]:
        """Names, colours, wavelengths (not for RGB, as nd2), pinhole and modality."""
        out: list[dict[str, Any]] = []
        for ch in chans[: self._shape[1]]:
            flags = set(ch.microscope.modalityFlags or ())
            kw: dict[str, Any] = {
                "Name": ch.channel.name,
                "IlluminationType": _first(flags, _ILLUMINATION),
                "AcquisitionMode": _first(flags, _ACQUISITION),
                "ContrastMethod": _first(flags, _CONTRAST),
            }
            pinhole = ch.microscope.pinholeDiameterUm
            if pinhole is not None and pinhole > 0:
                kw["PinholeSize"], kw["PinholeSizeUnit"] = float(pinhole), "µm"
            if not self._file.is_rgb:
                color = ch.channel.color
                if color is not None:
                    alpha = round(float(getattr(color, "a", 1.0)) * 255)
                    kw["Color"] = rgba_to_ome(color.r, color.g, color.b, min(max(alpha, 0), 255))
                for attr, name in (
                    ("excitationLambdaNm", "ExcitationWavelength"),
                    ("emissionLambdaNm", "EmissionWavelength"),
                ):
                    value = getattr(ch.channel, attr)
                    if value is not None and value > 0:
                        kw[name], kw[name + "Unit"] = float(value), "nm"
            out.append(kw)
        return out

    def _instrument(self, root: Any, ch0: Any) -> bool:
        """Write the Instrument (cameras, objective); True if it has an objective."""
        cameras: list[tuple[str | None, str | None]] = []
        for setting in _settings(self._raw).values():
            cam = setting.get("pCameraSetting") if isinstance(setting, dict) else None
            if cam:
                info = (
                    cam.get("CameraFamilyName") or cam.get("CameraUserName") or None,
                    cam.get("CameraUniqueName") or None,
                )
                if info not in cameras and any(info):
                    cameras.append(info)
        scope = ch0.microscope if ch0 is not None else None
        objective = None
        if scope is not None:
            objective = {
                "Model": scope.objectiveName or None,
                "LensNA": scope.objectiveNumericalAperture,
                "NominalMagnification": scope.objectiveMagnification,
            }
            if all(v is None for v in objective.values()):
                objective = None
        if not cameras and objective is None:
            return False
        instrument = ome_element(root, "Instrument", ID="Instrument:0")
        for k, (model, serial) in enumerate(cameras):
            ome_element(
                instrument, "Detector", ID=f"Detector:0:{k}", Model=model, SerialNumber=serial
            )
        if cameras:
            self.notes.map("ND2 pCameraSetting", "Instrument/Detector")
        if objective is not None:
            ome_element(instrument, "Objective", ID="Objective:0:0", **objective)
            self.notes.map("ND2 microscope objective", "Instrument/Objective")
        return objective is not None

    def _acquisition_date(self) -> datetime | None:
        """The absolute time of the acquisition (a Julian day number), in UTC."""
        jdn = self._raw.get("dTimeAbsolute")
        if not isinstance(jdn, (int, float)) or jdn < 1:  # files without one store -1
            return None
        seconds = (jdn - _JDN_UNIX_EPOCH) * 86400.0
        try:
            return datetime.fromtimestamp(max(seconds, 0.0), UTC)
        except (OverflowError, OSError, ValueError):
            return None

    def _planes(self) -> list[list[dict[str, Any]]]:
        """Per position, the Plane attributes of each stored frame and channel (PL1).

        DeltaT comes from the frame times, ExposureTime from each channel's
        acquisition setting, PositionX/Y/Z from the stage coordinates recorded with
        each frame, else from the experiment's (per position) stage position.
        """
        f = self._file
        out: list[list[dict[str, Any]]] = [[] for _ in range(self._n_pos)]
        if f.is_legacy:
            self.notes.skip("ND2 frame metadata", "legacy (JPEG 2000) ND2 file")
            return out
        rows: dict[int, dict[str, Any]] = {}
        for row in f.events(orient="records"):
            if isinstance(row.get("Index"), int):  # image events have no frame index
                rows[row["Index"]] = row
        columns = {axis: _column(rows, key) for axis, key in _EVENT_POSITION.items()}
        settings = list(_settings(self._raw).values())
        exposures: list[float | None] = []
        for c in range(self._shape[1]):
            setting = (
                settings[c] if c < len(settings) else settings[0] if len(settings) == 1 else {}
            )
            value = setting.get("dExposureTime") if isinstance(setting, dict) else None
            exposures.append(value / 1e3 if isinstance(value, (int, float)) and value > 0 else None)
        fallback: dict[int, Any] = {}  # position -> nd2's stage position of its first frame
        for key, k in sorted(self._frames.items(), key=lambda kv: kv[1]):
            p, ts, z = key[0], key[1:-1], key[-1]
            t = int(np.ravel_multi_index(ts, self._t_sizes)) if self._t_axes else 0
            row = rows.get(k, {})
            delta = row.get(_TIME_KEY)
            position: dict[str, float | None] = {}
            for axis, column in columns.items():
                value = row.get(column) if column else None
                if value is None:
                    if p not in fallback:
                        fallback[p] = _stage_position(f, k)
                    value = getattr(fallback[p], axis.lower(), None)
                position[axis] = float(value) if _finite(value) else None
            for c in range(self._shape[1]):
                out[p].append(
                    {
                        "TheZ": z,
                        "TheT": t,
                        "TheC": c,
                        "DeltaT": float(delta) if _finite(delta) else None,
                        "DeltaTUnit": "s" if _finite(delta) else None,
                        "ExposureTime": exposures[c],
                        "ExposureTimeUnit": "s" if exposures[c] is not None else None,
                        **{f"Position{a}": v for a, v in position.items()},
                        **{f"Position{a}Unit": "µm" for a, v in position.items() if v is not None},
                    }
                )
        return out

    def original_metadata(self) -> dict[str, str]:
        """nd2's text info, experiment loops and attributes, flattened."""
        f = self._file
        out: dict[str, str] = {}
        flatten(dict(f.text_info), "text_info", out)
        flatten([_as_dict(e) for e in f.experiment], "experiment", out)
        flatten(_as_dict(f.attributes), "attributes", out)
        return out

    def close(self) -> None:
        """Close the ND2 file."""
        f = getattr(self, "_file", None)
        if f is not None:
            f.close()
            self._file = None


def _as_dict(obj: Any) -> Any:
    """Dataclass / NamedTuple trees -> plain dicts for :func:`flatten`."""
    import dataclasses

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _as_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if hasattr(obj, "_asdict"):
        return {k: _as_dict(v) for k, v in obj._asdict().items()}
    if isinstance(obj, (list, tuple)):
        return [_as_dict(v) for v in obj]
    return obj


#: DimensionOrder values, in the schema's order (the first that fits nd2's loops wins).
_DIMENSION_ORDERS = ("XYZCT", "XYZTC", "XYCTZ", "XYCZT", "XYTCZ", "XYTZC")
#: nd2 modality flags -> OME Channel enumerations, first match wins.
_ILLUMINATION = (
    ("fluorescence", "Epifluorescence"),
    ("brightfield", "Transmitted"),
    ("multiphoton", "NonLinear"),
)
_ACQUISITION = (
    ("laserScanConfocal", "LaserScanningConfocalMicroscopy"),
    ("spinningDiskConfocal", "SpinningDiskConfocal"),
    ("sweptFieldConfocalPinhole", "SweptFieldConfocal"),
    ("sweptFieldConfocalSlit", "SlitScanConfocal"),
    ("brightfield", "BrightField"),
    ("SIM", "StructuredIllumination"),
    ("TIRF", "TotalInternalReflection"),
    ("multiphoton", "MultiPhotonMicroscopy"),
    ("fluorescence", "WideField"),
)
_CONTRAST = (
    ("fluorescence", "Fluorescence"),
    ("brightfield", "Brightfield"),
    ("phaseContrast", "Phase"),
    ("diContrast", "DIC"),
)
#: nd2's events() column of the frame time, and the stage coordinate columns per axis
#: (the recorded position of each frame; Z is the drive plus any piezo offset).
_TIME_KEY = "Time [s]"
_EVENT_POSITION = {"X": "X Coord [µm]", "Y": "Y Coord [µm]", "Z": "Z Coord [µm]"}
_JDN_UNIX_EPOCH = 2440587.5


def _first(flags: set[str], table: tuple[tuple[str, str], ...]) -> str | None:
    return next((value for flag, value in table if flag in flags), None)


def _finite(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _stage_position(f: Any, frame: int) -> Any:
    """nd2's stage position of a frame (the experiment's, per XY position), or None."""
    channels = f.frame_metadata(frame).channels
    return channels[0].position.stagePositionUm if channels else None


def _settings(raw: dict[str, Any]) -> dict[str, Any]:
    """sPicturePlanes/sSampleSetting: one acquisition setting per channel (or one)."""
    planes = raw.get("sPicturePlanes")
    settings = planes.get("sSampleSetting") if isinstance(planes, dict) else None
    return settings if isinstance(settings, dict) else {}


def _column(rows: dict[int, dict[str, Any]], key: str) -> str | None:
    """``key`` if every frame recorded a finite value for it and not all are 0 (files
    without stage readings store zeros), else None."""
    if not rows:
        return None
    values = [row.get(key) for row in rows.values()]
    if not all(_finite(v) for v in values) or not any(values):
        return None
    return key
