"""Leica LIF reader (``pip install "ometiff[lif]"``, uses liffile).

Every image of the file becomes a series, as Bio-Formats does. Dimensions follow
Bio-Formats' LIF mapping:

* the plane is the two innermost stored dimensions, so an xz scan (``Z, X``) is a
  plane of Y=Z rows, and in an ``x-z-y`` scan the stored Y becomes OME Z;
* emission/excitation lambda sweeps (``λ``, ``Λ``) are folded into T (Bio-Formats
  reports SizeT = T x lambda), their wavelengths mapped per plane where possible;
* mosaic tiles (``M``) become separate series.

Physical sizes are the coordinate steps of the stored dimensions (metres -> µm).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.ome.colour import LUT_COLORS, rgba_to_ome
from ometiff.ome.units import convert, to_micrometres
from ometiff.readers.base import Reader
from ometiff.readers.decode import check_budget
from ometiff.readers.source import SeriesSource
from ometiff.readers.vendor import (
    VendorFileError,
    flatten,
    has_magic,
    ome_document,
    ome_element,
    ome_model,
    parse_float,
    pixels_element,
    require,
    xsd_datetime,
)

if TYPE_CHECKING:
    from ome_types import OME

    from ometiff.ome.view import OmeView
    from ometiff.types import StrPath

_MAGIC = b"\x70\x00\x00\x00"
#: Dimensions folded into OME T, outermost first in stored order.
_T_DIMS = ("T", "λ", "Λ")


class _Series:
    """One LIF image (or one mosaic tile of it) mapped to (T, C, Z, Y, X)."""

    def __init__(self, image: Any, tile: int | None) -> None:
        self.image = image
        self.tile = tile
        dims: tuple[str, ...] = tuple(image.dims)
        sizes: dict[str, int] = dict(image.sizes)
        self.samples = sizes.get("S", 1)
        plane_dims = [d for d in dims if d != "S"][-2:]
        if len(plane_dims) == 1:  # a line: one row
            plane_dims = ["", plane_dims[0]]
        self.row_dim, self.col_dim = plane_dims
        rest = [d for d in dims if d not in (self.row_dim, self.col_dim, "S", "M")]
        self.t_dims = [d for d in rest if d in _T_DIMS]
        self.c_dim = "C" if "C" in rest else None
        self.z_dims = [d for d in rest if d not in _T_DIMS and d != "C"]
        self.sizes = sizes
        size_t = int(np.prod([sizes[d] for d in self.t_dims])) if self.t_dims else 1
        size_z = int(np.prod([sizes[d] for d in self.z_dims])) if self.z_dims else 1
        size_c = sizes["C"] if self.c_dim else 1
        size_y = sizes.get(self.row_dim, 1)
        self.shape = (size_t, size_c, size_z, size_y, sizes[self.col_dim])
        self.dtype = np.dtype(image.dtype)

    def indices(self, t: int, c: int, z: int) -> dict[str, int]:
        """liffile frame indices of OME plane (t, c, z)."""
        idx: dict[str, int] = {}
        for names, flat in ((self.t_dims, t), (self.z_dims, z)):
            if names:
                shape = tuple(self.sizes[d] for d in names)
                for d, i in zip(names, np.unravel_index(flat, shape), strict=True):
                    idx[d] = int(i)
        if self.c_dim:
            idx["C"] = c
        if self.tile is not None:
            idx["M"] = self.tile
        return idx

    def get_plane(self, t: int, c: int, z: int) -> np.ndarray:
        height, width = self.shape[3:]
        check_budget(
            height * width * self.samples * self.dtype.itemsize,
            f"{self.image.parent.filename}: a {width}x{height} LIF plane of {self.image.path}",
        )
        try:
            frame = self.image.frame(**self.indices(t, c, z))
        except (OSError, ValueError) as exc:
            raise VendorFileError(
                f"{self.image.parent.filename}: cannot read LIF plane {(t, c, z)} "
                f"of {self.image.path}: {exc}"
            ) from exc
        want = self.shape[3:] if self.samples == 1 else (*self.shape[3:], self.samples)
        try:
            return np.ascontiguousarray(frame).reshape(want)
        except ValueError as exc:  # liffile read fewer pixels than the dimensions declare
            raise VendorFileError(
                f"{self.image.parent.filename}: LIF plane {(t, c, z)} of {self.image.path} "
                f"holds {np.size(frame)} pixels, not {want}; the file is corrupt"
            ) from exc

    def step_um(self, dim: str) -> float | None:
        """Coordinate step of a spatial dimension in µm (None if unknown)."""
        if dim not in ("X", "Y", "Z") or self.sizes.get(dim, 1) < 2:
            return None
        coords = self.image.coords.get(dim)
        if coords is None or len(coords) < 2:
            return None
        return to_micrometres(abs(float(coords[1]) - float(coords[0])), "m") or None


def _declared_bytes(image: Any) -> int | None:
    """The bytes of pixels a LIF image's dimensions declare (None when not known)."""
    try:
        count = 1
        for n in dict(image.sizes).values():
            count *= int(n)
        return count * np.dtype(image.dtype).itemsize
    except (TypeError, ValueError, KeyError):  # liffile could not describe it: checked later
        return None


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class LifReader(Reader):
    """Read Leica LIF files: every image (and mosaic tile) is a series."""

    name = "lif"
    suffixes = (".lif",)
    extra = "lif"

    def __init__(self, path: StrPath, **options: Any) -> None:
        super().__init__(path, **options)
        liffile = require("liffile", "lif", "Leica LIF")
        try:
            self._lif = liffile.LifFile(self.path, squeeze=False)
            images = list(self._lif.images)
        except (liffile.LifFileError, OSError, ValueError, KeyError, SyntaxError) as exc:
            raise VendorFileError(
                f"{self.path}: not a readable Leica LIF file ({exc}); "
                "the file may be truncated or corrupt"
            ) from exc
        self._series: list[_Series] = []
        size = self.path.stat().st_size
        for image in images:
            block = image.memory_block
            if block is not None and block.offset + block.size > size:
                self.close()
                raise VendorFileError(
                    f"{self.path}: LIF image {image.path} ends at byte "
                    f"{block.offset + block.size} but the file has {size} bytes; "
                    "the file is truncated"
                )
            declared = _declared_bytes(image)
            if block is not None and declared is not None and declared > block.size:
                self.close()
                raise VendorFileError(
                    f"{self.path}: LIF image {image.path} declares {declared} bytes of pixels "
                    f"but its memory block holds {block.size}; the file is corrupt"
                )
            if getattr(image, "is_flim", False) or type(image).__name__ != "LifImage":
                self.notes.skip(f"LIF image {image.path}", "FLIM/non-image data not converted")
                continue
            try:
                tiles = image.sizes.get("M", 0)
                for tile in range(tiles) if tiles else [None]:
                    self._series.append(_Series(image, tile))
            except (KeyError, ValueError) as exc:
                raise VendorFileError(f"{self.path}: LIF image {image.path}: {exc}") from exc
        if not self._series:
            raise VendorFileError(f"{self.path}: the LIF file holds no image")

    @classmethod
    def can_read(cls, path: Path) -> bool:
        """Suffix ``.lif`` and the LIF magic number (0x70) at offset 0."""
        return has_magic(path, cls.suffixes, _MAGIC)

    def sources(self) -> list[SeriesSource]:
        """One plane source per LIF image (per tile for mosaics)."""
        out = []
        for s in self._series:
            name = self._series_name(s)
            out.append(SeriesSource(s.shape, s.samples, s.dtype, s.get_plane, name))
        return out

    @staticmethod
    def _series_name(s: _Series) -> str:
        name = str(s.image.path or s.image.name)
        return name if s.tile is None else f"{name} #{s.tile + 1}"

    def ome(self) -> OME:
        """OME metadata: sizes, physical sizes, channels, timing, objective, stage."""
        return ome_model(self.ome_tree)  # a new model each call: callers may edit theirs

    def ome_view(self) -> OmeView:
        """:meth:`ome` as the fast OME view, straight from the XML (no ome_types)."""
        from ometiff.ome.view import parse_ome

        return parse_ome(ome_document(self.ome_tree), source=str(self.path))

    @cached_property
    def ome_tree(self) -> Any:
        """The OME metadata as an OME-XML element tree (lxml), built without ome_types;
        the writer conforms it directly (``convert`` never imports ome_types)."""
        root = ome_element(None, "OME", Creator="ometiff (liffile)")
        images = []
        n_instruments = 0
        for i, s in enumerate(self._series):
            hw = _dig(s.image.attrs, "HardwareSetting") or {}
            conf = hw.get("ATLConfocalSettingDefinition") or hw.get("ATLCameraSettingDefinition")
            conf = conf if isinstance(conf, dict) else {}
            where = f"Image:{i}"
            instrument, objective_settings = self._instrument(root, conf, n_instruments, where)
            n_instruments += instrument is not None
            physical = (
                s.step_um(s.col_dim),
                s.step_um(s.row_dim),
                s.step_um(s.z_dims[0]) if len(s.z_dims) == 1 else None,
            )
            for axis, value in zip("XYZ", physical, strict=True):
                if value is not None:
                    self.notes.map("LIF DimensionDescription", f"{where}/Pixels@PhysicalSize{axis}")
            channels = self._channels(s, conf, where)
            planes = self._planes(s, where)
            image = ome_element(None, "Image", ID=f"Image:{i}", Name=self._series_name(s))
            date = self._acquisition_date(s)
            if date is not None:
                ome_element(image, "AcquisitionDate", xsd_datetime(date))
            if instrument is not None:
                ome_element(image, "InstrumentRef", ID=instrument)
            if objective_settings is not None:
                ome_element(image, "ObjectiveSettings", **objective_settings)
            sx, sy = parse_float(conf.get("StagePosX")), parse_float(conf.get("StagePosY"))
            if sx is not None and sy is not None:
                ome_element(
                    image,
                    "StageLabel",
                    Name="StagePos",
                    X=convert(sx, "m", "µm"),
                    XUnit="µm",
                    Y=convert(sy, "m", "µm"),
                    YUnit="µm",
                )
                self.notes.map("LIF StagePosX/Y", f"{where}/StageLabel")
            pixels_element(
                image,
                i,
                shape=s.shape,
                samples=s.samples,
                dtype=s.dtype,
                physical=physical,
                channels=channels,
                planes=planes,
                time_increment=self._time_increment(s),
            )
            images.append(image)
        root.extend(images)  # schema order: every Instrument before the Images
        return root

    def _instrument(
        self, root: Any, conf: dict[str, Any], n: int, where: str
    ) -> tuple[str | None, dict[str, Any] | None]:
        """Write one Instrument; its ID and the image's ObjectiveSettings attributes."""
        name = conf.get("ObjectiveName")
        if not name and conf.get("MicroscopeModel") is None:
            return None, None
        instrument = ome_element(root, "Instrument", ID=f"Instrument:{n}")
        if conf.get("MicroscopeModel"):
            ome_element(
                instrument, "Microscope", Manufacturer="Leica", Model=str(conf["MicroscopeModel"])
            )
        settings = None
        if name:
            immersion = str(conf.get("Immersion") or "").upper()
            known = {"OIL": "Oil", "WATER": "Water", "GLYC": "Glycerol", "DRY": "Air"}
            ome_element(
                instrument,
                "Objective",
                ID=f"Objective:{n}:0",
                Model=str(name).strip(),
                LensNA=parse_float(conf.get("NumericalAperture")),
                NominalMagnification=parse_float(conf.get("Magnification")),
                Immersion=known.get(immersion),
                SerialNumber=str(conf["ObjectiveNumber"]) if "ObjectiveNumber" in conf else None,
            )
            settings = {
                "ID": f"Objective:{n}:0",
                "RefractiveIndex": parse_float(conf.get("RefractionIndex")),
            }
            self.notes.map(
                "LIF ObjectiveName/NumericalAperture/Magnification", f"{where}/Objective"
            )
        return f"Instrument:{n}", settings

    def _channels(self, s: _Series, conf: dict[str, Any], where: str) -> list[dict[str, Any]]:
        """Channel names (dye of each active detector, as Bio-Formats), LUT colours."""
        size_c = s.shape[1]
        descs = s.image.xml_element.findall(
            "./Data/Image/ImageDescription/Channels/ChannelDescription"
        )
        detectors = [
            d for d in _as_list(_dig(conf, "DetectorList", "Detector")) if d.get("IsActive") == 1
        ]
        bands = {b.get("Channel"): b for b in _as_list(_dig(conf, "Spectro", "MultiBand"))}
        pinhole = to_micrometres(parse_float(conf.get("Pinhole")), "m")
        pinhole = pinhole if pinhole is not None and pinhole > 0 else None
        out: list[dict[str, Any]] = []
        for ci in range(size_c):
            kw: dict[str, Any] = {}
            if len(detectors) == size_c:
                band = bands.get(detectors[ci].get("Channel"))
                if band is not None:
                    kw["Name"] = str(band.get("DyeName") or "")
                    self.notes.map("LIF Spectro/MultiBand@DyeName", f"{where}/Channel:{ci}@Name")
            desc = descs[ci * s.samples] if ci * s.samples < len(descs) else None
            lut = (desc.get("LUTName") or "").lower() if desc is not None else ""
            if s.samples == 1 and lut in LUT_COLORS:
                kw["Color"] = rgba_to_ome(*LUT_COLORS[lut])
                self.notes.map("LIF ChannelDescription@LUTName", f"{where}/Channel:{ci}@Color")
            if pinhole is not None:
                kw["PinholeSize"] = pinhole
            out.append(kw)
        return out

    def _planes(self, s: _Series, where: str) -> list[dict[str, Any]]:
        """Plane DeltaT from the LIF time stamps (one per stored frame)."""
        stamps = s.image.timestamps
        t, c, z = s.shape[:3]
        n_frames = t * c * z
        if stamps is None or len(stamps) != n_frames * (1 if s.tile is None else s.sizes["M"]):
            if stamps is not None and len(stamps):
                self.notes.skip("LIF TimeStampList", f"{len(stamps)} stamps for {n_frames} planes")
            return []
        stamps = np.asarray(stamps, dtype="datetime64[ms]")
        # liffile's stamps follow the stored order of the non-plane dimensions
        outer = [d for d in s.image.dims if d not in (s.row_dim, s.col_dim, "S")]
        shape = tuple(s.sizes[d] for d in outer)
        origin = stamps[0]
        lambdas = {d: s.image.coords.get(d) for d in ("λ", "Λ") if d in s.t_dims}
        planes = []
        for ti in range(t):
            for ci in range(c):
                for zi in range(z):
                    idx = s.indices(ti, ci, zi)
                    flat = int(np.ravel_multi_index(tuple(idx.get(d, 0) for d in outer), shape))
                    delta = float((stamps[flat] - origin) / np.timedelta64(1, "ms")) / 1e3
                    planes.append(
                        {"TheZ": zi, "TheT": ti, "TheC": ci, "DeltaT": delta, "DeltaTUnit": "s"}
                    )
        if lambdas:
            self.notes.skip(
                "LIF lambda coordinates",
                "lambda sweeps are folded into T (as Bio-Formats); wavelengths kept in "
                "original metadata",
            )
        self.notes.map("LIF TimeStampList", f"{where}/Pixels/Plane@DeltaT")
        return planes

    @staticmethod
    def _time_increment(s: _Series) -> float | None:
        if "T" not in s.t_dims or s.sizes["T"] < 2:
            return None
        coords = s.image.coords.get("T")
        if coords is None or len(coords) < 2:
            return None
        step = float(coords[1]) - float(coords[0])
        return step if step > 0 else None

    def _acquisition_date(self, s: _Series) -> Any:
        from datetime import UTC, datetime

        stamps = s.image.timestamps
        if stamps is not None and len(stamps):
            ms = int(np.asarray(stamps[:1], dtype="datetime64[ms]").astype("int64")[0])
            return datetime.fromtimestamp(ms / 1e3, tz=UTC)
        return self._lif.datetime

    def original_metadata(self) -> dict[str, str]:
        """Every image's LIF attributes, flattened (``<image>|<key>|...``)."""
        out: dict[str, str] = {}
        for s in self._series:
            if s.tile not in (None, 0):
                continue
            attrs = {k: v for k, v in s.image.attrs.items() if k not in ("filepath",)}
            flatten(attrs, str(s.image.path), out)
        return out

    def close(self) -> None:
        """Close the LIF file."""
        lif = getattr(self, "_lif", None)
        if lif is not None:
            lif.close()
