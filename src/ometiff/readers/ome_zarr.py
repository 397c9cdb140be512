"""OME-Zarr reader (``pip install "ometiff[zarr]"``, uses zarr 3).

Reads NGFF 0.1-0.5 containers: a multiscales image, an HCS plate or well, and the
bioformats2raw layout (``"bioformats2raw.layout": 1`` with series groups ``0``,
``1``, ... and ``OME/METADATA.ome.xml``). Level 0 of each multiscales image is a
series; lower resolutions are not read (the writer builds its own pyramid).
Labels (``labels/``) are segmentation masks, not images: they are not series.

Physical sizes come from the level-0 ``scale`` transformation (times any
multiscales-level scale) with the axis unit; an axis without a known length unit
gets no physical size (U3, never invented). Channel names and colours come from
``omero`` metadata, or from ``METADATA.ome.xml`` for bioformats2raw output.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.ome.units import to_micrometres, to_seconds
from ometiff.readers.base import Reader
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
    """One multiscales image: its level-0 array and axis mapping."""

    group: str
    name: str | None
    array: Any
    axes: list[str]
    units: list[str | None]
    scale: list[float]
    omero: dict[str, Any]

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        sizes = dict(zip(self.axes, self.array.shape, strict=True))
        t, c, z, y, x = (sizes.get(a, 1) for a in _AXES)
        return (t, c, z, y, x)

    def get_plane(self, t: int, c: int, z: int) -> np.ndarray:
        pos = {"t": t, "c": c, "z": z}
        index = tuple(pos[a] if a in pos else slice(None) for a in self.axes)
        plane = np.asarray(self.array[index])
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
    def _collect(self, root: Path) -> list[_Image]:
        attrs = _read_attrs(root) or {}
        if "bioformats2raw.layout" in attrs:
            for meta in (root / "OME" / "METADATA.ome.xml", root.parent / "METADATA.ome.xml"):
                if meta.is_file():
                    self._ome_xml = meta.read_text(encoding="utf-8")
                    self.notes.map("bioformats2raw METADATA.ome.xml", "OME (names, channels)")
                    break
            images = []
            k = 0
            while (root / str(k)).is_dir():
                images.append(self._image(root, str(k)))
                k += 1
            if "plate" in attrs or not images:
                images = self._plate(root, attrs) if "plate" in attrs else images
            return images
        if "plate" in attrs:
            return self._plate(root, attrs)
        if "well" in attrs:
            return [self._image(root, im["path"]) for im in attrs["well"].get("images", [])]
        if "labels" in attrs or (root / "labels").is_dir():
            self.notes.skip("OME-Zarr labels", "segmentation labels are not converted")
        return [self._image(root, "")]

    def _plate(self, root: Path, attrs: dict[str, Any]) -> list[_Image]:
        images = []
        for well in attrs["plate"].get("wells", []):
            well_attrs = _read_attrs(root / well["path"]) or {}
            for im in well_attrs.get("well", {}).get("images", []):
                images.append(self._image(root, f"{well['path']}/{im['path']}"))
        return images

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
        with warnings.catch_warnings():  # zarr warns on legacy v2 metadata quirks
            warnings.simplefilter("ignore")
            array = self._zarr.open_array(store=str(folder / level0["path"]), mode="r")
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
        return _Image(group, str(name), array, axes, units, scale if has_scale else [], omero)

    # -- Reader API ----------------------------------------------------------
    def sources(self) -> list[SeriesSource]:
        """One plane source per multiscales image (level 0)."""
        names = [im.name for im in self._ome.images]
        return [
            SeriesSource(im.shape, 1, np.dtype(im.array.dtype), im.get_plane, names[i])
            for i, im in enumerate(self._images)
        ]

    def ome(self) -> OME:
        """OME from NGFF metadata (or bioformats2raw's METADATA.ome.xml)."""
        return self._ome.model_copy(deep=True)  # callers may edit their copy

    @cached_property
    def _ome(self) -> OME:
        from ome_types import OME
        from ome_types import model as m

        base = self._bf2raw_ome()
        images = []
        for i, im in enumerate(self._images):
            where = f"Image:{i}"
            ref = base.images[i] if base is not None and i < len(base.images) else None
            channels: list[dict[str, Any]] = []
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
            dtype = np.dtype(im.array.dtype)
            pixels = build_pixels(
                i,
                shape=im.shape,
                samples=1,
                dtype=dtype,
                physical=physical,
                channels=channels,
                time_increment=time_inc,
            )
            name = im.name
            if ref is not None and self._matches(ref.pixels, pixels):
                # bioformats2raw: the original metadata is authoritative
                pixels = ref.pixels.model_copy(deep=True)
                pixels.tiff_data_blocks = []
                pixels.bin_data_blocks = []
                pixels.metadata_only = None
                pixels.big_endian = None
                pixels.interleaved = None
                pixels.id = f"Pixels:{i}"
                for ci, ch in enumerate(pixels.channels):
                    ch.id = f"Channel:{i}:{ci}"
                name = ref.name
            images.append(m.Image(id=f"Image:{i}", name=name, pixels=pixels))
        return OME(images=images, creator="ometiff (zarr)")

    @staticmethod
    def _matches(a: Any, b: Any) -> bool:
        keys = ("size_x", "size_y", "size_z", "size_c", "size_t", "type")
        return all(getattr(a, k) == getattr(b, k) for k in keys)

    def _bf2raw_ome(self) -> OME | None:
        if self._ome_xml is None:
            return None
        import ome_types

        try:
            return ome_types.from_xml(self._ome_xml, validate=False)
        except (ValueError, TypeError) as exc:
            self.notes.skip("bioformats2raw METADATA.ome.xml", f"unparsable: {exc}")
            return None

    def original_metadata(self) -> dict[str, str]:
        """The NGFF attributes of the container and of each image, flattened."""
        out: dict[str, str] = {}
        flatten(_read_attrs(self.root) or {}, "root", out)
        for im in self._images:
            if im.group:
                flatten(_read_attrs(self.root / im.group) or {}, im.group, out)
        return out
