"""Olympus/Evident cellSens VSI reader (``pip install "ometiff[vsi]"``, uses slideio).

A ``.vsi`` file is a small TIFF that holds the slide's macro photograph and, in
its own binary tags, the metadata; the pixels of every acquired image live in
``.ets`` files in a folder beside it, ``_<name>_/stack<N>/frame_t_<k>.ets``. Both
are needed: a ``.vsi`` without its folder is refused with one message.

slideio (its VSI driver) reads the ETS tiles (JPEG, JPEG 2000, raw) and the VSI
metadata. Mapped per scene (one OME series each): sizes, pixel type, channel
names, the physical pixel size (metres -> µm) and the Z step, the objective
magnification; ETS pyramid levels are kept as levels. The macro photograph of the
``.vsi`` TIFF itself is read with tifffile and becomes a series named "macro",
after the scenes (Bio-Formats' order too).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.errors import MissingFileError, NoSuchPlaneError, UnsupportedFormatError
from ometiff.readers.base import Reader
from ometiff.readers.source import SeriesSource
from ometiff.readers.tiff import READ_ERRORS, as_plane, decode
from ometiff.readers.vendor import VendorFileError, build_pixels, flatten, require

if TYPE_CHECKING:
    from pathlib import Path

    from ome_types import model as m

    from ometiff.types import StrPath

#: What slideio raises for unreadable files (its C++ exceptions surface as RuntimeError).
_SLIDEIO_ERRORS = (RuntimeError, OSError, ValueError)


def ets_folder(path: Path) -> Path:
    """The folder that holds a VSI file's ETS pixel files: ``_<stem>_`` beside it."""
    return path.with_name(f"_{path.stem}_")


class _Scene:
    """One slideio scene as an OME series (sizes read once)."""

    def __init__(self, scene: Any, index: int) -> None:
        self.scene = scene
        self.name = str(scene.name) or f"scene {index}"
        x, y, w, h = scene.rect
        self.rect = (int(x), int(y), int(w), int(h))
        self.size_c = int(scene.num_channels)
        self.size_z = int(scene.num_z_slices)
        self.size_t = int(scene.num_t_frames)
        types = {np.dtype(scene.get_channel_data_type(c)) for c in range(self.size_c)}
        if len(types) != 1:
            raise UnsupportedFormatError(
                f"scene {self.name!r}: channels of different pixel types ({sorted(map(str, types))})"
            )
        self.dtype = types.pop()
        self.levels = []
        for k in range(int(scene.num_zoom_levels)):
            size = scene.get_zoom_level_info(k).size
            self.levels.append((int(size.height), int(size.width)))
        if not self.levels:
            self.levels = [(self.rect[3], self.rect[2])]


class VsiReader(Reader):
    """Read Olympus/Evident cellSens VSI files with their ETS folder."""

    name = "vsi"
    suffixes = (".vsi",)
    extra = "vsi"

    @classmethod
    def can_read(cls, path: Path) -> bool:
        """A ``.vsi`` file (its ETS folder is checked on opening)."""
        return path.name.lower().endswith(cls.suffixes) and path.is_file()

    def __init__(self, path: StrPath, **options: Any) -> None:
        super().__init__(path, **options)
        slideio = require("slideio", "vsi", "Olympus VSI")
        folder = ets_folder(self.path)
        if not folder.is_dir() or not any(folder.rglob("*.ets")):
            raise MissingFileError(
                f"{self.path}: its pixels are missing: no ETS folder {folder.name}/ with "
                ".ets files beside it (copy the folder along with the .vsi file)"
            )
        self._lock = threading.Lock()
        try:
            self._slide = slideio.open_slide(str(self.path), "VSI")
            self._scenes = [
                _Scene(self._slide.get_scene(i), i) for i in range(int(self._slide.num_scenes))
            ]
        except _SLIDEIO_ERRORS as exc:
            raise VendorFileError(f"{self.path}: not a readable VSI/ETS file set: {exc}") from exc
        if not self._scenes:
            raise VendorFileError(
                f"{self.path}: no readable image in its ETS folder {folder.name}/ "
                "(truncated or damaged .ets file?)"
            )
        self._macro = self._open_macro()
        self._ome: m.OME | None = None

    def _open_macro(self) -> list[Any]:
        """The pages of the ``.vsi`` TIFF itself (its macro photograph)."""
        import tifffile

        self._tf: tifffile.TiffFile | None = None
        try:
            tf = tifffile.TiffFile(self.path)
        except READ_ERRORS as exc:
            self.notes.skip("VSI macro image", f"the .vsi TIFF cannot be read: {exc}")
            return []
        self._tf = tf
        try:
            pages: list[Any] = [p for p in tf.pages if p.shape]
        except READ_ERRORS as exc:
            self.notes.skip("VSI macro image", f"the .vsi TIFF pages cannot be read: {exc}")
            return []
        for p in pages:
            size = tf.filehandle.size
            if any(o + n > size for o, n in zip(p.dataoffsets, p.databytecounts, strict=False)):
                from ometiff.errors import InvalidTiffError

                raise InvalidTiffError(
                    f"{self.path}: macro image data past the end of the file (truncated?)"
                )
        return pages[:1]

    # -- levels and pixels --------------------------------------------------------------

    @property
    def series_count(self) -> int:
        return len(self._scenes) + len(self._macro)

    def level_shapes(self, series: int) -> list[tuple[int, int, int, int, int]]:
        if not 0 <= series < self.series_count:
            raise NoSuchPlaneError(
                f"{self.path}: series {series} does not exist ({self.series_count} series)"
            )
        if series < len(self._scenes):
            s = self._scenes[series]
            return [(s.size_t, s.size_c, s.size_z, h, w) for h, w in s.levels]
        page = self._macro[series - len(self._scenes)]
        return [(1, 1, 1, int(page.imagelength), int(page.imagewidth))]

    def read_plane(self, series: int, t: int, c: int, z: int, *, level: int = 0) -> np.ndarray:
        self.check_plane(series, t, c, z, level=level)
        if series >= len(self._scenes):
            page = self._macro[series - len(self._scenes)]
            where = f"{self.path} macro image"
            with self._lock:
                arr = decode(page, where=where)
            samples = int(page.samplesperpixel)
            yx = (int(page.imagelength), int(page.imagewidth))
            return as_plane(arr, page.axes, samples, np.dtype(page.dtype), yx, where=where)
        s = self._scenes[series]
        h, w = s.levels[level]
        try:
            with self._lock:
                arr = s.scene.read_block(
                    s.rect, size=(w, h), channel_indices=[c], slices=(z, z + 1), frames=(t, t + 1)
                )
        except _SLIDEIO_ERRORS as exc:
            raise VendorFileError(
                f"{self.path}: scene {s.name!r} plane t={t} c={c} z={z} cannot be read from its "
                f"ETS file (truncated or damaged?): {exc}"
            ) from exc
        arr = np.asarray(arr)
        if arr.shape != (h, w):
            arr = arr.reshape(h, w) if arr.size == h * w else arr
        if arr.shape != (h, w):
            raise VendorFileError(
                f"{self.path}: scene {s.name!r} plane has shape {arr.shape}, expected {(h, w)}"
            )
        return arr.astype(s.dtype, copy=False)

    def sources(self) -> list[SeriesSource]:
        out = []
        for i in range(self.series_count):
            shape = self.level_shapes(i)[0]
            if i < len(self._scenes):
                samples, dtype, name = 1, self._scenes[i].dtype, self._scenes[i].name
            else:
                page = self._macro[i - len(self._scenes)]
                samples, dtype, name = int(page.samplesperpixel), np.dtype(page.dtype), "macro"

            def get_plane(t: int, c: int, z: int, _i: int = i) -> np.ndarray:
                return self.read_plane(_i, t, c, z)

            out.append(SeriesSource(shape, samples, dtype, get_plane, name=name))
        return out

    # -- metadata -----------------------------------------------------------------------

    def ome(self) -> m.OME:
        if self._ome is None:
            self._ome = self._build_ome()
        return self._ome.model_copy(deep=True)

    def _build_ome(self) -> m.OME:
        from ome_types import model as m

        images = []
        objectives = []
        for i, s in enumerate(self._scenes):
            scene = s.scene
            res = tuple(float(v) for v in scene.resolution)
            px = res[0] * 1e6 if res and res[0] > 0 else None
            py = res[1] * 1e6 if len(res) > 1 and res[1] > 0 else px
            dz = (
                float(scene.z_resolution) * 1e6 if s.size_z > 1 and scene.z_resolution > 0 else None
            )
            names = [str(scene.get_channel_name(c)) or None for c in range(s.size_c)]
            pixels = build_pixels(
                i,
                shape=self.level_shapes(i)[0],
                samples=1,
                dtype=s.dtype,
                physical=(px, py, dz),
                channels=[{"name": n} for n in names],
            )
            mag = float(scene.magnification) if scene.magnification > 0 else None
            settings = None
            if mag is not None:
                objectives.append(m.Objective(id=f"Objective:0:{i}", nominal_magnification=mag))
                settings = m.ObjectiveSettings(id=f"Objective:0:{i}")
            images.append(
                m.Image(
                    id=f"Image:{i}",
                    name=s.name,
                    pixels=pixels,
                    objective_settings=settings,
                    instrument_ref=m.InstrumentRef(id="Instrument:0") if settings else None,
                )
            )
        self.notes.map("VSI scene resolution (m)", "Pixels@PhysicalSizeX/Y (µm)")
        self.notes.map("VSI scene z resolution (m)", "Pixels@PhysicalSizeZ (µm)")
        self.notes.map("VSI channel names", "Channel@Name")
        if objectives:
            self.notes.map("VSI magnification", "Instrument/Objective@NominalMagnification")
        self.notes.skip(
            "VSI emission wavelengths, objective NA, stage positions",
            "not exposed by slideio; kept in the original metadata",
        )
        for k, page in enumerate(self._macro):
            i = len(self._scenes) + k
            samples = int(page.samplesperpixel)
            pixels = build_pixels(
                i,
                shape=self.level_shapes(i)[0],
                samples=samples,
                dtype=np.dtype(page.dtype),
            )
            images.append(m.Image(id=f"Image:{i}", name="macro", pixels=pixels))
        instruments = [m.Instrument(id="Instrument:0", objectives=objectives)] if objectives else []
        return m.OME(images=images, instruments=instruments)

    def original_metadata(self) -> dict[str, str]:
        import json

        text = self._slide.raw_metadata
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            return {"VSI raw metadata": str(text)[:65536]}
        out: dict[str, str] = {}
        _walk(data, "VSI", out)
        return out if out else flatten(data, "VSI")

    def close(self) -> None:
        tf = getattr(self, "_tf", None)
        if tf is not None:
            tf.close()
        self._slide = None
        self._scenes = []


def _walk(node: Any, prefix: str, out: dict[str, str]) -> None:
    """slideio's VSI property tree ({"name", "value": [...]}) as flat key-values."""
    if isinstance(node, dict) and "name" in node:
        name = f"{prefix}|{node['name']}"
        value = node.get("value")
        if isinstance(value, list):
            for child in value:
                _walk(child, name, out)
        elif value not in (None, ""):
            out[name] = str(value)
    elif isinstance(node, list):
        for child in node:
            _walk(child, prefix, out)
