"""Zeiss CZI reader (``pip install "ometiff[czi]"``, uses pylibCZIrw / libCZI).

pylibCZIrw reads every CZI of the corpus, including JPEG-XR and zstd compressed
ones. Series follow Bio-Formats: one series per scene (S index), or one series for
a file without scenes. Mosaics are composed by libCZI: each plane is read as the
scene's layer-0 bounding rectangle (``read(roi=..., plane=...)``), one plane at a
time. Dimensions other than T, C, Z (phase H, rotation R, illumination I, view V,
block B) are folded into T, as Bio-Formats reports them (e.g. an Airyscan file
with H=32 has SizeT=32). BGR pixels are returned as RGB (one channel, samples=3).
"""

from __future__ import annotations

import os
import struct
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.ome.units import to_micrometres, to_seconds
from ometiff.readers.base import Reader
from ometiff.readers.decode import check_budget, format_size
from ometiff.readers.source import SeriesSource
from ometiff.readers.vendor import (
    VendorFileError,
    flatten_xml,
    has_magic,
    hex_color_value,
    ome_document,
    ome_element,
    ome_model,
    parse_datetime,
    parse_float,
    pixels_element,
    require,
    xsd_datetime,
)

if TYPE_CHECKING:
    from ome_types import OME

    from ometiff.ome.view import OmeView
    from ometiff.types import StrPath

_MAGIC = b"ZISRAWFILE"
#: libCZI pixel type -> (numpy dtype, samples per pixel)
_PIXEL_TYPES = {
    "Gray8": ("uint8", 1),
    "Gray16": ("uint16", 1),
    "Gray32Float": ("float32", 1),
    "Bgr24": ("uint8", 3),
    "Bgr48": ("uint16", 3),
    "Bgr96Float": ("float32", 3),
}
#: CZI dimensions folded into OME T (after T itself), in this order.
_FOLDED = ("H", "R", "I", "V", "B")
#: Bytes per pixel of CZI PixelType codes (SubBlockDirectory entries).
_PIXEL_BYTES = {0: 1, 1: 2, 2: 4, 3: 3, 4: 6, 8: 12, 9: 4, 10: 8, 11: 24, 12: 4, 13: 8}
_SEGMENT = struct.Struct("<16sqq")  # id, allocated size, used size
_ENTRY = struct.Struct(
    "<2siqiib5xi"
)  # "DV", pixel type, position, part, compression, pyramid, dims
_DIM = struct.Struct("<4siifi")  # dimension, start, size, start coordinate, stored size
#: More dimensions than a CZI has letters for: a corrupt directory entry.
_MAX_DIMS = 32


def check_structure(path: Path) -> int:
    """Check a CZI's segments before libCZI reads them; return the largest subblock's bytes.

    libCZI trusts the file: a directory position past the end, an entry count of two
    billion or a subblock declaring a huge size make it read, allocate or loop without
    bound. This reads the file header, the subblock directory and each subblock's
    segment id, and refuses the file unless every position lies inside it and every
    count fits in the bytes that hold it.

    Raises
    ------
    VendorFileError
        A position outside the file, a segment that is not what it should be, or
        counts that do not fit.
    """

    def bad(problem: str) -> VendorFileError:
        return VendorFileError(f"{path}: corrupt CZI file: {problem}")

    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size

        def read(at: int, n: int, what: str) -> bytes:
            if at < 0 or at + n > size:
                raise bad(f"{what} at byte {at} lies past the end of the file ({size} bytes)")
            fh.seek(at)
            return fh.read(n)

        def segment(at: int, sid: bytes, what: str) -> int:
            seg_id, _, used = _SEGMENT.unpack(read(at, _SEGMENT.size, what))
            if seg_id.rstrip(b"\0") != sid:
                raise bad(f"{what} at byte {at} is not a {sid.decode()} segment")
            if used < 0 or at + _SEGMENT.size + used > size:
                raise bad(f"{what} at byte {at} declares {used} bytes past the end of the file")
            return int(used)

        head = read(0, 112, "the file header")
        directory, metadata = struct.unpack_from("<qq", head, 84)
        used = segment(directory, b"ZISRAWDIRECTORY", "the subblock directory")
        if metadata:
            segment(metadata, b"ZISRAWMETADATA", "the metadata")
            (xml_size,) = struct.unpack("<i", read(metadata + 32, 4, "the metadata size"))
            if not 0 <= xml_size <= size:
                raise bad(f"the metadata declares {xml_size} bytes of XML")
        data = read(directory + 32, used, "the subblock directory")
        (count,) = struct.unpack_from("<i", data)
        if not 0 <= count <= (len(data) - 128) // _ENTRY.size:
            raise bad(f"the subblock directory declares {count} entries in {len(data)} bytes")
        at, largest = 128, 0
        spans: dict[bytes, tuple[int, int]] = {}  # plane dimension -> (first, end)
        for k in range(count):
            if at + _ENTRY.size > len(data):
                raise bad(f"subblock directory entry {k} lies past the directory's end")
            schema, ptype, position, _, _, _, ndims = _ENTRY.unpack_from(data, at)
            if schema != b"DV" or not 0 < ndims <= _MAX_DIMS:
                raise bad(f"subblock directory entry {k} is not a DV entry")
            at += _ENTRY.size
            if at + ndims * _DIM.size > len(data):
                raise bad(f"subblock directory entry {k} lies past the directory's end")
            stored = {}
            for _ in range(ndims):
                name, start, dim_size, _, stored_size = _DIM.unpack_from(data, at)
                name = name.rstrip(b"\0")
                stored[name] = stored_size
                if name not in (b"X", b"Y", b"M"):
                    first, end = spans.get(name, (start, start + dim_size))
                    spans[name] = (min(first, start), max(end, start + dim_size))
                at += _DIM.size
            width, height = stored.get(b"X", 1), stored.get(b"Y", 1)
            if width < 0 or height < 0:
                raise bad(f"subblock {k} declares a {width}x{height} size")
            largest = max(largest, width * height * _PIXEL_BYTES.get(ptype, 16))
            segment(position, b"ZISRAWSUBBLOCK", f"subblock {k}")
        for name, (first, end) in spans.items():
            # libCZI walks every index of a plane dimension's range: one index far
            # from the others (a flipped bit) makes millions of planes of nothing
            if end - first > 2 * count + 16:
                raise bad(
                    f"dimension {name.decode('latin-1')} spans indices {first} to {end - 1} "
                    f"in {count} subblocks"
                )
    return largest


class _Scene:
    """One CZI scene (or the whole file) as a (T, C, Z, Y, X) plane source."""

    def __init__(
        self,
        path: Path,
        reader: Any,
        scene: int | None,
        rect: Any,
        box: dict[str, tuple[int, int]],
        pixel_type: str,
        largest: int = 0,
    ) -> None:
        self.path = path
        self.largest = largest  # bytes of the largest subblock libCZI may decode for a plane
        self.reader = reader
        self.scene = scene
        self.roi = (rect.x, rect.y, rect.w, rect.h)
        self.pixel_type = pixel_type
        dtype, self.samples = _PIXEL_TYPES[pixel_type]
        self.dtype = np.dtype(dtype)
        self.starts = {d: box[d][0] for d in box if d not in ("X", "Y")}
        self.t_dims = [d for d in ("T", *_FOLDED) if d in box]
        self.t_sizes = tuple(box[d][1] - box[d][0] for d in self.t_dims)
        size = {d: box[d][1] - box[d][0] for d in ("C", "Z") if d in box}
        size_t = int(np.prod(self.t_sizes)) if self.t_dims else 1
        self.shape = (size_t, size.get("C", 1), size.get("Z", 1), rect.h, rect.w)

    def plane_coords(self, t: int, c: int, z: int) -> dict[str, int]:
        """libCZI plane coordinate of OME plane (t, c, z)."""
        coords: dict[str, int] = {}
        if self.t_dims:
            for d, i in zip(self.t_dims, np.unravel_index(t, self.t_sizes), strict=True):
                coords[d] = self.starts[d] + int(i)
        if "C" in self.starts:
            coords["C"] = self.starts["C"] + c
        if "Z" in self.starts:
            coords["Z"] = self.starts["Z"] + z
        return coords

    def get_plane(self, t: int, c: int, z: int) -> np.ndarray:
        height, width = self.shape[3:]
        plane = height * width * self.samples * self.dtype.itemsize
        check_budget(
            plane + self.largest,
            f"{self.path}: a {width}x{height} CZI plane (and a subblock of "
            f"{format_size(self.largest)})",
        )
        try:
            data = self.reader.read(
                roi=self.roi, plane=self.plane_coords(t, c, z), pixel_type=self.pixel_type
            )
        except (RuntimeError, OSError, ValueError) as exc:
            raise VendorFileError(
                f"{self.path}: cannot read CZI plane {(t, c, z)}: {exc}; "
                "the file may be truncated or corrupt"
            ) from exc
        if self.samples == 1:
            return np.ascontiguousarray(data.reshape(self.shape[3:]))
        return np.ascontiguousarray(data[..., ::-1])  # libCZI BGR -> RGB


def _text(el: Any, path: str) -> str | None:
    found = el.find(path) if el is not None else None
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


class CziReader(Reader):
    """Read Zeiss CZI files: one series per scene."""

    name = "czi"
    suffixes = (".czi",)
    extra = "czi"

    def __init__(self, path: StrPath, **options: Any) -> None:
        super().__init__(path, **options)
        czi = require("pylibCZIrw.czi", "czi", "Zeiss CZI")
        from lxml import etree

        if not self.can_read(self.path):
            raise VendorFileError(f"{self.path}: not a Zeiss CZI file (no ZISRAWFILE header)")
        self._reader: Any = None
        try:
            largest = check_structure(self.path)
        except (OSError, struct.error) as exc:
            raise VendorFileError(
                f"{self.path}: not a readable Zeiss CZI file ({exc}); "
                "the file may be truncated or corrupt"
            ) from exc
        try:
            self._reader = czi.CziReader(str(self.path))
            raw = self._reader.raw_metadata
            box = dict(self._reader.total_bounding_box_no_pyramid)
            scenes = dict(self._reader.scenes_bounding_rectangle_no_pyramid)
            total = self._reader.total_bounding_rectangle_no_pyramid
            types = dict(self._reader.pixel_types)
        except (RuntimeError, OSError, ValueError, KeyError) as exc:
            self.close()
            raise VendorFileError(
                f"{self.path}: not a readable Zeiss CZI file ({exc}); "
                "the file may be truncated or corrupt"
            ) from exc
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
        try:
            self._xml = etree.fromstring(raw.encode("utf-8"), parser)
        except etree.XMLSyntaxError as exc:
            self.close()
            raise VendorFileError(f"{self.path}: CZI metadata is not valid XML ({exc})") from exc
        kinds = set(types.values())
        if not kinds or not kinds <= set(_PIXEL_TYPES) or len(kinds) > 1:
            self.close()
            raise VendorFileError(
                f"{self.path}: unsupported CZI pixel type(s) {sorted(kinds)}; "
                f"supported: {', '.join(_PIXEL_TYPES)} (one type for all channels)"
            )
        pixel_type = kinds.pop()
        for rect in [total, *scenes.values()]:
            if rect.w < 1 or rect.h < 1:
                self.close()
                raise VendorFileError(
                    f"{self.path}: corrupt CZI file: its subblocks span {rect.w}x{rect.h} pixels"
                )
        if scenes:
            self._scenes = [
                _Scene(self.path, self._reader, s, r, box, pixel_type, largest)
                for s, r in sorted(scenes.items())
            ]
        else:
            self._scenes = [_Scene(self.path, self._reader, None, total, box, pixel_type, largest)]

    @classmethod
    def can_read(cls, path: Path) -> bool:
        """Suffix ``.czi`` and the ``ZISRAWFILE`` segment id at offset 0."""
        return has_magic(path, cls.suffixes, _MAGIC)

    def sources(self) -> list[SeriesSource]:
        """One plane source per scene."""
        return [
            SeriesSource(s.shape, s.samples, s.dtype, s.get_plane, self._scene_name(s))
            for s in self._scenes
        ]

    def _scene_el(self, s: _Scene) -> Any:
        if s.scene is None:
            return None
        for el in self._xml.iterfind(".//Information/Image/Dimensions/S/Scenes/Scene"):
            if el.get("Index") == str(s.scene):
                return el
        return None

    def _scene_name(self, s: _Scene) -> str | None:
        el = self._scene_el(s)
        return (el.get("Name") or None) if el is not None else None

    def ome(self) -> OME:
        """OME metadata: sizes, scaling, channels, objective, date, scene positions."""
        return ome_model(self.ome_tree)  # a new model each call: callers may edit theirs

    def ome_view(self) -> OmeView:
        """:meth:`ome` as the fast OME view, straight from the XML (no ome_types)."""
        from ometiff.ome.view import parse_ome

        return parse_ome(ome_document(self.ome_tree), source=str(self.path))

    @cached_property
    def ome_tree(self) -> Any:
        """The OME metadata as an OME-XML element tree (lxml), built without ome_types;
        the writer conforms it directly (``convert`` never imports ome_types)."""
        info = self._xml.find(".//Metadata/Information")
        root = ome_element(None, "OME", Creator="ometiff (pylibCZIrw)")
        has_instrument = self._instrument(root, info)
        physical = self._scaling()
        date = parse_datetime(_text(info, "Image/AcquisitionDateAndTime"))
        for i, s in enumerate(self._scenes):
            where = f"Image:{i}"
            channels = self._channels(s.shape[1], where)
            planes = self._planes(s, where)
            image = ome_element(root, "Image", ID=f"Image:{i}", Name=self._scene_name(s))
            if date is not None:
                ome_element(image, "AcquisitionDate", xsd_datetime(date))
            if has_instrument:
                ome_element(image, "InstrumentRef", ID="Instrument:0")
                if has_instrument > 1:  # the first objective's settings
                    ome_element(image, "ObjectiveSettings", ID="Objective:0:0")
            center = _text(self._scene_el(s), "CenterPosition")
            if center and "," in center:
                x, _, y = center.partition(",")
                fx, fy = parse_float(x), parse_float(y)
                if fx is not None and fy is not None:
                    ome_element(
                        image,
                        "StageLabel",
                        Name="CenterPosition",
                        X=fx,
                        XUnit="µm",
                        Y=fy,
                        YUnit="µm",
                    )
                    self.notes.map("CZI Scene/CenterPosition", f"{where}/StageLabel")
            pixels_element(
                image,
                i,
                shape=s.shape,
                samples=s.samples,
                dtype=s.dtype,
                physical=physical,
                channels=channels,
                planes=planes,
                significant_bits=self._bits(),
            )
        if date is not None:
            self.notes.map("CZI Information/Image/AcquisitionDateAndTime", "Image/AcquisitionDate")
        self.notes.skip("CZI TimeStamps attachment", "not exposed by pylibCZIrw; no Plane@DeltaT")
        return root

    def _bits(self) -> int | None:
        value = _text(self._xml, ".//Information/Image/ComponentBitCount")
        bits = int(value) if value and value.isdigit() else None
        return bits if bits else None

    def _scaling(self) -> tuple[float | None, float | None, float | None]:
        """Scaling/Items/Distance values (metres) -> µm; 0 means unknown (W3)."""
        out: dict[str, float | None] = {}
        for el in self._xml.iterfind(".//Metadata/Scaling/Items/Distance"):
            axis = el.get("Id")
            value = to_micrometres(parse_float(_text(el, "Value")), "m")
            if axis in ("X", "Y", "Z") and value is not None and value > 0:
                out[axis] = value
                self.notes.map(f"CZI Scaling/Distance[{axis}]", f"Pixels@PhysicalSize{axis}")
        return out.get("X"), out.get("Y"), out.get("Z")

    def _channels(self, size_c: int, where: str) -> list[dict[str, Any]]:
        """Names (DisplaySetting first, as Bio-Formats), colours, wavelengths, fluors."""
        info = self._xml.findall(".//Metadata/Information/Image/Dimensions/Channels/Channel")
        disp = self._xml.findall(".//Metadata/DisplaySetting/Channels/Channel")
        out: list[dict[str, Any]] = []
        for ci in range(size_c):
            el = info[ci] if ci < len(info) else None
            dl = disp[ci] if ci < len(disp) else None
            kw: dict[str, Any] = {}
            if dl is not None and dl.get("Name") is not None:
                kw["Name"] = dl.get("Name")
            elif el is not None and el.get("Name") is not None:
                kw["Name"] = el.get("Name")
            col = hex_color_value(_text(dl, "Color"))
            if col is None:
                col = hex_color_value(_text(el, "Color"))
            if col is not None:
                kw["Color"] = col
            if el is not None:
                ex = parse_float(_text(el, "ExcitationWavelength"))
                em = parse_float(_text(el, "EmissionWavelength"))
                kw["ExcitationWavelength"] = ex if ex and ex > 0 else None
                kw["EmissionWavelength"] = em if em and em > 0 else None
                kw["Fluor"] = _text(el, "Fluor")
                pinhole = parse_float(_text(el, "PinholeSize"))
                kw["PinholeSize"] = pinhole if pinhole and pinhole > 0 else None
            if kw:
                self.notes.map("CZI Channel metadata", f"{where}/Channel:{ci}")
            out.append(kw)
        return out

    def _planes(self, s: _Scene, where: str) -> list[dict[str, Any]]:
        """Per-plane exposure times (Channel/ExposureTime, ns)."""
        info = self._xml.findall(".//Metadata/Information/Image/Dimensions/Channels/Channel")
        exposures = []
        for ci in range(s.shape[1]):
            el = info[ci] if ci < len(info) else None
            exposures.append(to_seconds(parse_float(_text(el, "ExposureTime")), "ns"))
        if all(e is None for e in exposures):
            return []
        t, c, z = s.shape[:3]
        if t * c * z > 100_000:
            return []
        self.notes.map("CZI Channel/ExposureTime", f"{where}/Pixels/Plane@ExposureTime")
        return [
            {
                "TheZ": zi,
                "TheT": ti,
                "TheC": ci,
                "ExposureTime": exposures[ci],
                "ExposureTimeUnit": "s",
            }
            for ti in range(t)
            for ci in range(c)
            for zi in range(z)
        ]

    def _instrument(self, root: Any, info: Any) -> int:
        """Write the Instrument (microscope, objectives); 0: none, 1: no objective,
        2: with objectives."""
        if info is None:
            return 0
        objectives: list[dict[str, Any]] = []
        for k, el in enumerate(info.iterfind("Instrument/Objectives/Objective")):
            immersion = (_text(el, "Immersion") or "").capitalize()
            known = {"Oil", "Water", "Air", "Glycerol", "Multi", "Other"}
            objectives.append(
                {
                    "ID": f"Objective:0:{k}",
                    "Model": el.get("Name") or _text(el, "Manufacturer/Model"),
                    "LensNA": parse_float(_text(el, "LensNA")),
                    "NominalMagnification": parse_float(_text(el, "NominalMagnification")),
                    "Immersion": immersion if immersion in known else None,
                }
            )
        micro = info.find("Instrument/Microscopes/Microscope")
        model = None
        if micro is not None:
            model = micro.get("Name") or _text(micro, "System")
        if not objectives and not model:
            return 0
        self.notes.map("CZI Information/Instrument", "Instrument")
        instrument = ome_element(root, "Instrument", ID="Instrument:0")
        if model:
            ome_element(instrument, "Microscope", Manufacturer="Zeiss", Model=model)
        for objective in objectives:
            ome_element(instrument, "Objective", **objective)
        return 2 if objectives else 1

    def original_metadata(self) -> dict[str, str]:
        """The CZI XML metadata, flattened (``ImageDocument|Metadata|...``)."""
        return flatten_xml(self._xml)

    def close(self) -> None:
        """Close the CZI document."""
        reader = getattr(self, "_reader", None)
        if reader is not None:
            reader.close()
            self._reader = None
