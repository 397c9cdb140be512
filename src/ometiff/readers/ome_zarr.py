"""OME-Zarr reader (``pip install "ometiff[zarr]"``, uses zarr 3).

Reads NGFF 0.1-0.5 containers (Zarr v2 and v3): a multiscales image, an HCS plate
or well, and the bioformats2raw layout (``"bioformats2raw.layout"`` with series
groups ``0``, ``1``, ... or plate fields, and ``OME/METADATA.ome.xml``). Each
multiscales image is a series; its datasets are the pyramid levels
(``level_shapes``/``read_plane(..., level=)``), full resolution first. Labels
(``labels/``) are segmentation masks, not images: they are not series.

When ``METADATA.ome.xml`` is there (bioformats2raw, or ``OME/`` next to a single
image) and has one Image per Zarr image, the whole OME document is kept
(instruments, annotations, ROIs, plates...): only the storage of each Pixels
(MetadataOnly, TiffData, BinData) is dropped. Series follow the OME Images: the
``series`` list of the ``OME`` group, else the OME Plate's WellSample ImageRefs
paired with the NGFF wells. An RGB(A) channel, stored as 3 (4) Zarr channels, is
read back as one channel of that many samples (Channel SamplesPerPixel, R2).

Physical sizes come from the level-0 ``scale`` transformation (times any
multiscales-level scale) with the axis unit; an axis without a known length unit
gets no physical size (U3, never invented). Channel names and colours come from
``omero`` metadata, or from ``METADATA.ome.xml`` for bioformats2raw output.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.errors import NoSuchPlaneError
from ometiff.ome.units import to_micrometres, to_seconds
from ometiff.readers.base import Reader
from ometiff.readers.decode import check_budget
from ometiff.readers.source import SeriesSource
from ometiff.readers.vendor import (
    VendorFileError,
    build_pixels,
    flatten,
    hex_color,
    require,
)

if TYPE_CHECKING:
    from ome_types import OME

    from ometiff.types import StrPath

_META_FILES = (".zattrs", "zarr.json")
_KEYS = ("multiscales", "plate", "well", "bioformats2raw.layout")
_AXES = "tczyx"


def _read_attrs(folder: Path) -> dict[str, Any] | None:
    """NGFF attributes of a group folder (zarr v2 ``.zattrs`` or v3 ``zarr.json``)."""
    for name in _META_FILES:
        f = folder / name
        if not f.is_file():
            continue
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        if name == "zarr.json":
            attrs = data.get("attributes", {})
            return attrs.get("ome", attrs) if isinstance(attrs, dict) else None
        return data
    return None


@dataclass
class _Image:
    """One multiscales image: its level arrays (full resolution first) and axis mapping.

    ``samples`` > 1 when consecutive Zarr channels are the samples of one OME
    channel (an RGB(A) channel written as 3 or 4 Zarr channels, R2).
    """

    group: str
    name: str | None
    arrays: list[Any]  # level 0 opened; the others on first use (None until then)
    axes: list[str]
    units: list[str | None]
    scale: list[float]
    omero: dict[str, Any]
    open_level: Callable[[int], Any]
    samples: int = 1
    source: str = ""  # the container, for messages

    @property
    def array(self) -> Any:
        """The full-resolution array."""
        return self.arrays[0]

    def level(self, k: int) -> Any:
        """The array of multiscales level ``k`` (opened once, on first use)."""
        if self.arrays[k] is None:
            array = self.open_level(k)
            if array.ndim != self.array.ndim:
                raise VendorFileError(
                    f"{self.group or '.'}: multiscales level {k} has {array.ndim} "
                    f"dimensions, level 0 has {self.array.ndim}"
                )
            self.arrays[k] = array
        return self.arrays[k]

    @property
    def zarr_c(self) -> int:
        """Channels as stored (OME channels times samples)."""
        return int(self.array.shape[self.axes.index("c")]) if "c" in self.axes else 1

    def level_shape(self, level: int) -> tuple[int, int, int, int, int]:
        sizes = dict(zip(self.axes, self.level(level).shape, strict=True))
        t, c, z, y, x = (int(sizes.get(a, 1)) for a in _AXES)
        return (t, c // self.samples, z, y, x)

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        return self.level_shape(0)

    def get_plane(self, t: int, c: int, z: int, level: int = 0) -> np.ndarray:
        array = self.level(level)
        if self.samples == 1:
            return self._plane(array, t, c, z)
        first = c * self.samples
        return np.stack([self._plane(array, t, first + s, z) for s in range(self.samples)], axis=-1)

    def _plane(self, array: Any, t: int, c: int, z: int) -> np.ndarray:
        pos = {"t": t, "c": c, "z": z}
        index = tuple(pos[a] if a in pos else slice(None) for a in self.axes)
        itemsize = np.dtype(array.dtype).itemsize
        pixels = math.prod(n for a, n in zip(self.axes, array.shape, strict=True) if a not in pos)
        chunk = math.prod(array.chunks)  # zarr decodes whole chunks, however large
        check_budget(
            (pixels + chunk) * itemsize,
            f"{self.source}: a {'x'.join(map(str, array.shape[-2:][::-1]))} OME-Zarr plane "
            f"of {self.group or '.'} (chunks {'x'.join(map(str, array.chunks))})",
        )
        try:
            plane = np.asarray(array[index])
        except (ValueError, OSError, RuntimeError, KeyError) as exc:  # a corrupt chunk
            raise VendorFileError(
                f"{self.source}: cannot read OME-Zarr plane t={t} c={c} z={z} of "
                f"{self.group or '.'}: {exc}; the chunk may be truncated or corrupt"
            ) from exc
        if self.axes.index("x") < self.axes.index("y"):
            plane = plane.T
        return np.ascontiguousarray(plane)

    def physical(self, axis: str) -> float | None:
        if axis not in self.axes:
            return None
        i = self.axes.index(axis)
        unit = self.units[i]  # no unit: no physical size (U3, never invented)
        size = to_micrometres(self.scale[i], unit) if self.scale and unit else None
        return size if size is not None and size > 0 else None


class OmeZarrReader(Reader):
    """Read OME-Zarr images, plates and bioformats2raw output."""

    name = "ome-zarr"
    suffixes = ()
    extra = "zarr"

    def __init__(self, path: StrPath, **options: Any) -> None:
        super().__init__(path, **options)
        self._zarr = require("zarr", "zarr", "OME-Zarr")
        root = self._root(self.path)
        if root is None:
            raise VendorFileError(
                f"{self.path}: not an OME-Zarr container (no multiscales, plate or "
                "bioformats2raw metadata in .zattrs / zarr.json)"
            )
        self.root = root
        self._ome_xml: str | None = None
        try:
            self._images = self._collect(root)
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise VendorFileError(f"{self.path}: unreadable OME-Zarr ({exc})") from exc
        if not self._images:
            raise VendorFileError(f"{self.path}: the OME-Zarr container holds no image")
        self._set_samples()

    @staticmethod
    def _root(path: Path) -> Path | None:
        if not path.is_dir():
            return None
        attrs = _read_attrs(path)
        if attrs is not None and any(k in attrs for k in _KEYS):
            return path
        # a folder holding METADATA.ome.xml next to one bioformats2raw container
        children = [p for p in path.iterdir() if p.is_dir() and p.suffix == ".zarr"]
        if len(children) == 1:
            attrs = _read_attrs(children[0])
            if attrs is not None and "bioformats2raw.layout" in attrs:
                return children[0]
        return None

    @classmethod
    def can_read(cls, path: Path) -> bool:
        """A folder whose ``.zattrs``/``zarr.json`` has NGFF keys (cheap, never raises)."""
        try:
            return cls._root(path) is not None
        except OSError:
            return False

    # -- discovery ---------------------------------------------------------
    def _read_ome_xml(self, *candidates: Path) -> None:
        for meta in candidates:
            if meta.is_file():
                self._ome_xml = meta.read_text(encoding="utf-8")
                return

    def _collect(self, root: Path) -> list[_Image]:
        attrs = _read_attrs(root) or {}
        if "bioformats2raw.layout" in attrs:
            self._read_ome_xml(root / "OME" / "METADATA.ome.xml", root.parent / "METADATA.ome.xml")
            series = (_read_attrs(root / "OME") or {}).get("series")
            if isinstance(series, list) and series and all(isinstance(p, str) for p in series):
                # bioformats2raw: the OME group lists the image groups in OME Image order
                self.notes.map("bioformats2raw OME series", "series order (OME Images)")
                return [self._image(root, _relative(root, p)) for p in series]
            if "plate" in attrs:
                return self._plate(root, attrs)
            images = []
            k = 0
            while (root / str(k)).is_dir():
                images.append(self._image(root, str(k)))
                k += 1
            return images
        # an image or plate written with its own OME/METADATA.ome.xml (``--layout image``)
        self._read_ome_xml(root / "OME" / "METADATA.ome.xml")
        if "plate" in attrs:
            return self._plate(root, attrs)
        if "well" in attrs:
            return [self._image(root, im["path"]) for im in attrs["well"].get("images", [])]
        if "labels" in attrs or (root / "labels").is_dir():
            self.notes.skip("OME-Zarr labels", "segmentation labels are not converted")
        return [self._image(root, "")]

    def _plate(self, root: Path, attrs: dict[str, Any]) -> list[_Image]:
        """Every field of every well; in OME Image order when METADATA.ome.xml maps them."""
        wells: list[tuple[int, int, list[str]]] = []
        for well in attrs["plate"].get("wells", []):
            well_attrs = _read_attrs(root / well["path"]) or {}
            fields = [
                f"{well['path']}/{im['path']}"
                for im in well_attrs.get("well", {}).get("images", [])
            ]
            wells.append((int(well.get("rowIndex", 0)), int(well.get("columnIndex", 0)), fields))
        order = self._plate_order(wells)
        if order is None:
            order = [path for _, _, fields in wells for path in fields]
        return [self._image(root, _relative(root, path)) for path in order]

    def _plate_order(self, wells: list[tuple[int, int, list[str]]]) -> list[str] | None:
        """Field paths in OME Image order, from the OME Plate's WellSample ImageRefs.

        NGFF wells sorted by (rowIndex, columnIndex) pair with the OME Wells holding
        images sorted by (Row, Column); the k-th field of a well is the k-th
        WellSample with an ImageRef. None when the two plates do not pair up.
        """
        base = self._base
        if base is None or not base.plates:
            return None
        index = {im.id: i for i, im in enumerate(base.images)}
        ome_wells = []
        for well in base.plates[0].wells:
            refs = [
                index[ws.image_ref.id]
                for ws in well.well_samples
                if ws.image_ref is not None and ws.image_ref.id in index
            ]
            if refs:
                ome_wells.append((int(well.row), int(well.column), refs))
        ngff_wells = sorted((w for w in wells if w[2]), key=lambda w: w[:2])
        ome_wells.sort(key=lambda w: w[:2])
        paths: dict[int, str] = {}
        if len(ngff_wells) == len(ome_wells) and all(
            len(a[2]) == len(b[2]) for a, b in zip(ngff_wells, ome_wells, strict=True)
        ):
            for (_, _, fields), (_, _, refs) in zip(ngff_wells, ome_wells, strict=True):
                paths.update(zip(refs, fields, strict=True))
        if sorted(paths) != list(range(len(base.images))):
            self.notes.skip(
                "OME Plate of METADATA.ome.xml",
                "its wells and fields do not match the NGFF plate; fields read in plate order",
            )
            return None
        self.notes.map("OME Plate WellSample ImageRef", "series order (OME Images)")
        return [paths[i] for i in range(len(base.images))]

    def _image(self, root: Path, group: str) -> _Image:
        folder = root / group if group else root
        attrs = _read_attrs(folder) or {}
        ms_list = attrs.get("multiscales")
        if not ms_list:
            raise VendorFileError(f"{folder}: no multiscales metadata")
        ms = ms_list[0]
        datasets = ms.get("datasets") or []
        if not datasets:
            raise VendorFileError(f"{folder}: multiscales has no datasets")
        level0 = datasets[0]
        paths = [folder / _relative(folder, str(d["path"])) for d in datasets]

        def open_level(k: int) -> Any:
            with warnings.catch_warnings():  # zarr warns on legacy v2 metadata quirks
                warnings.simplefilter("ignore")
                return self._zarr.open_array(store=str(paths[k]), mode="r")

        arrays: list[Any] = [open_level(0)] + [None] * (len(paths) - 1)
        array = arrays[0]
        raw_axes = ms.get("axes") or list(_AXES[-array.ndim :])
        axes = [(a["name"] if isinstance(a, dict) else str(a)).lower() for a in raw_axes]
        units = [a.get("unit") if isinstance(a, dict) else None for a in raw_axes]
        if len(axes) != array.ndim or not {"y", "x"} <= set(axes) or not set(axes) <= set(_AXES):
            raise VendorFileError(
                f"{folder}: unsupported axes {axes} for a {array.ndim}-D array "
                "(expected a subset of t, c, z, y, x)"
            )
        scale = [1.0] * array.ndim
        for transforms in (
            level0.get("coordinateTransformations"),
            ms.get("coordinateTransformations"),
        ):
            for tr in transforms or []:
                if tr.get("type") == "scale" and len(tr.get("scale", [])) == array.ndim:
                    scale = [a * float(b) for a, b in zip(scale, tr["scale"], strict=True)]
        has_scale = any(
            tr.get("type") == "scale" for tr in level0.get("coordinateTransformations") or []
        )
        omero = attrs.get("omero") or {}
        name = ms.get("name") or omero.get("name") or (group or root.name)
        return _Image(
            group,
            str(name),
            arrays,
            axes,
            units,
            scale if has_scale else [],
            omero,
            open_level,
            source=str(self.path),
        )

    def _set_samples(self) -> None:
        """RGB(A): consecutive Zarr channels are the samples of one OME channel (R2).

        Taken from the Channel SamplesPerPixel of METADATA.ome.xml when every
        Channel of the Image has the same count and the Zarr channels add up.
        """
        base = self._base
        if base is None or len(base.images) != len(self._images):
            return
        for i, (im, ref) in enumerate(zip(self._images, base.images, strict=True)):
            chans = ref.pixels.channels
            counts = {ch.samples_per_pixel or 1 for ch in chans}
            if len(counts) != 1:
                continue
            samples = counts.pop()
            if samples > 1 and len(chans) * samples == im.zarr_c == ref.pixels.size_c:
                im.samples = samples
                self.notes.map(
                    "METADATA.ome.xml Channel@SamplesPerPixel",
                    f"Image:{i}: {samples} Zarr channels per OME channel",
                )

    # -- Reader API ----------------------------------------------------------
    def sources(self) -> list[SeriesSource]:
        """One plane source per multiscales image (level 0)."""
        names = [im.name for im in self._ome.images]
        return [
            SeriesSource(im.shape, im.samples, np.dtype(im.array.dtype), im.get_plane, names[i])
            for i, im in enumerate(self._images)
        ]

    @property
    def series_count(self) -> int:
        """Number of series (multiscales images)."""
        return len(self._images)

    def level_shapes(self, series: int) -> list[tuple[int, int, int, int, int]]:
        """``(T, C, Z, Y, X)`` of every multiscales level, full resolution first."""
        im = self._series(series)
        return [im.level_shape(k) for k in range(len(im.arrays))]

    def read_plane(self, series: int, t: int, c: int, z: int, *, level: int = 0) -> np.ndarray:
        """One plane of one multiscales level: ``(Y, X)``, or ``(Y, X, S)`` for RGB(A)."""
        self.check_plane(series, t, c, z, level=level)
        return self._images[series].get_plane(t, c, z, level)

    def _series(self, series: int) -> _Image:
        if not 0 <= series < len(self._images):
            raise NoSuchPlaneError(
                f"{self.path}: series {series} does not exist ({len(self._images)} series)"
            )
        return self._images[series]

    def ome(self) -> OME:
        """OME from NGFF metadata, or the whole OME of bioformats2raw's METADATA.ome.xml."""
        return self._ome.model_copy(deep=True)  # callers may edit their copy

    @cached_property
    def _ome(self) -> OME:
        from ome_types import OME
        from ome_types import model as m

        built = [
            m.Image(id=f"Image:{i}", name=im.name, pixels=self._pixels(i, im))
            for i, im in enumerate(self._images)
        ]
        base = self._base
        if base is None:
            return OME(images=built, creator="ometiff (zarr)")
        if len(base.images) != len(built):
            self.notes.skip(
                "bioformats2raw METADATA.ome.xml",
                f"{len(base.images)} Image(s) for {len(built)} Zarr image(s); "
                "metadata taken from the NGFF attributes",
            )
            return OME(images=built, creator="ometiff (zarr)")
        # the original metadata is authoritative: keep the whole document (instruments,
        # annotations, ROIs, plates...) with only the storage of the Pixels replaced
        ome = base.model_copy(deep=True)
        for i, (image, new) in enumerate(zip(ome.images, built, strict=True)):
            px = image.pixels
            if self._matches(px, new.pixels):
                px.tiff_data_blocks = []
                px.bin_data_blocks = []
                px.metadata_only = None
                px.big_endian = None
                px.interleaved = None
            else:
                self.notes.skip(
                    f"METADATA.ome.xml Image:{i} Pixels",
                    "sizes or pixel type differ from the Zarr arrays; taken from NGFF",
                )
                new.pixels.id = px.id
                image.pixels = new.pixels
        self.notes.map("bioformats2raw METADATA.ome.xml", "OME (whole document)")
        return ome

    def _pixels(self, i: int, im: _Image) -> Any:
        """OME Pixels of one image from its NGFF attributes."""
        where = f"Image:{i}"
        channels: list[dict[str, Any]] = []
        if im.samples == 1:  # RGB(A): omero lists the samples, not the channels
            for ch in (im.omero.get("channels") or [])[: im.shape[1]]:
                channels.append(
                    {
                        "name": str(ch["label"]) if ch.get("label") is not None else None,
                        "color": hex_color(ch.get("color")),
                    }
                )
        if channels:
            self.notes.map("omero channels label/color", f"{where}/Channel@Name/Color")
        physical = (im.physical("x"), im.physical("y"), im.physical("z"))
        time_inc = None
        if "t" in im.axes and im.scale:
            k = im.axes.index("t")
            time_inc = to_seconds(im.scale[k], im.units[k]) if im.units[k] else None
        return build_pixels(
            i,
            shape=im.shape,
            samples=im.samples,
            dtype=np.dtype(im.array.dtype),
            physical=physical,
            channels=channels,
            time_increment=time_inc,
        )

    @staticmethod
    def _matches(a: Any, b: Any) -> bool:
        """Pixels ``a`` of METADATA.ome.xml describe the array that built ``b``.

        Same sizes and type, and Channels consistent with the samples read (or none).
        """
        keys = ("size_x", "size_y", "size_z", "size_c", "size_t", "type")
        if not all(getattr(a, k) == getattr(b, k) for k in keys):
            return False
        if not a.channels:
            return True
        samples = {ch.samples_per_pixel or 1 for ch in b.channels}
        return len(a.channels) == len(b.channels) and all(
            (ch.samples_per_pixel or 1) in samples for ch in a.channels
        )

    @cached_property
    def _base(self) -> OME | None:
        """The OME of METADATA.ome.xml (bioformats2raw, or written next to an image)."""
        if self._ome_xml is None:
            return None
        import ome_types

        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                base = ome_types.from_xml(self._ome_xml, validate=False)
        except (ValueError, TypeError) as exc:
            self.notes.skip("bioformats2raw METADATA.ome.xml", f"unparsable: {exc}")
            return None
        for w in caught:
            self.notes.skip("METADATA.ome.xml", f"ome-types: {str(w.message).splitlines()[0]}")
        return base

    def original_metadata(self) -> dict[str, str]:
        """The NGFF attributes of the container and of each image, flattened."""
        out: dict[str, str] = {}
        flatten(_read_attrs(self.root) or {}, "root", out)
        for im in self._images:
            if im.group:
                flatten(_read_attrs(self.root / im.group) or {}, im.group, out)
        return out


def _relative(root: Path, path: str) -> str:
    """A group path of the container, refused when it leaves the container."""
    parts = Path(path).parts
    if Path(path).is_absolute() or ".." in parts:
        raise VendorFileError(f"{root}: group path {path!r} leaves the container")
    return path.strip("/")
