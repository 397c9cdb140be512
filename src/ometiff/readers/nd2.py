"""Nikon ND2 reader (``pip install "ometiff[nd2]"``, uses the nd2 library).

Metadata comes from nd2's own OME mapping (``ND2File.ome_metadata()``: channels
with names, colours, wavelengths and pinhole, per-plane DeltaT, exposure and stage
positions, objective, detector, acquisition date), adjusted so that, as in
Bio-Formats, each XY position (``P`` loop) is a separate series. Frames are read
one at a time with ``ND2File.read_frame``; loops other than T, Z and P are folded
into T.
"""

from __future__ import annotations

import struct
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.readers.base import Reader
from ometiff.readers.source import SeriesSource
from ometiff.readers.vendor import VendorFileError, flatten, has_magic, require

if TYPE_CHECKING:
    from ome_types import OME

    from ometiff.types import StrPath

#: ND2 magic numbers: modern chunk map (0xDACEBE0A) and legacy JPEG-2000 box.
_MAGICS = (b"\xda\xce\xbe\x0a", b"\x00\x00\x00\x0c")
_PLANE_AXES = ("C", "Y", "X", "S")


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
        try:
            self._file = nd2.ND2File(self.path)
            sizes = dict(self._file.sizes)
            loops = list(self._file.loop_indices)
            self._dtype = np.dtype(self._file.dtype)
        except (OSError, ValueError, KeyError, IndexError, struct.error) as exc:
            self.close()
            raise VendorFileError(
                f"{self.path}: not a readable Nikon ND2 file ({type(exc).__name__}: {exc}); "
                "the file may be truncated or corrupt"
            ) from exc
        self._samples = sizes.get("S", 1)
        self._n_pos = sizes.get("P", 1)
        self._t_axes = [a for a in sizes if a not in (*_PLANE_AXES, "Z", "P")]
        self._t_sizes = tuple(sizes[a] for a in self._t_axes)
        size_t = int(np.prod(self._t_sizes)) if self._t_axes else 1
        self._shape = (size_t, sizes.get("C", 1), sizes.get("Z", 1), sizes["Y"], sizes["X"])
        self._has_c = "C" in sizes
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
        names = [im.name for im in self._ome.images]
        return [
            SeriesSource(self._shape, self._samples, self._dtype, self._plane_getter(p), names[p])
            for p in range(self._n_pos)
        ]

    def ome(self) -> OME:
        """OME metadata from nd2's mapping, one Image per XY position."""
        return self._ome.model_copy(deep=True)  # callers may edit their copy

    @cached_property
    def _ome(self) -> OME:
        ome = self._file.ome_metadata(include_unstructured=False)
        ome.creator = "ometiff (nd2)"
        images = list(ome.images)
        if len(images) != self._n_pos:
            raise VendorFileError(
                f"{self.path}: nd2 mapped {len(images)} images for {self._n_pos} positions"
            )
        t, c, z = self._shape[:3]
        for i, image in enumerate(images):
            where = f"Image:{i}"
            px = image.pixels
            px.metadata_only = None
            px.tiff_data_blocks = []
            if self._t_axes != ["T"] and self._t_axes:
                # nd2 maps only the T loop: renumber planes over our folded T
                px.size_t = t
                px.planes = []
                self.notes.skip("ND2 plane metadata", f"loops {self._t_axes} folded into T")
            px.planes = [p for p in px.planes if p.the_t < t and p.the_c < c and p.the_z < z]
            for ch in px.channels:
                ch.samples_per_pixel = self._samples
            if image.name is None and self._n_pos > 1:
                image.name = f"{self.path.stem} (position {i + 1})"
            for field in ("PhysicalSizeX", "PhysicalSizeY", "PhysicalSizeZ"):
                self.notes.map(f"ND2 voxel size {field[-1]}", f"{where}/Pixels@{field}")
            self.notes.map("ND2 channel metadata", f"{where}/Channel")
            self.notes.map("ND2 frame metadata (time, exposure, stage)", f"{where}/Pixels/Plane")
        return ome

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
