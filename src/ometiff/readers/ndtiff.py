"""Micro-Manager NDTiff reader (datasets v2 and v3, with Magellan/explore pyramids).

An NDTiff dataset is a folder: ``*_NDTiffStack.tif`` files hold the pixels and
per-image JSON, and ``NDTiff.index`` says, for every image, its axes (a JSON
object such as ``{"time": 3, "channel": "DAPI"}``), which file holds it, at which
offset, its size and pixel type. Tiled (explore, stitched) datasets keep the
full-resolution tiles in ``Full resolution/`` and downsampled tiles in
``Downsampled_x2``, ``_x4``, ... folders, each with its own index. The index is
parsed here (tifffile's ``read_ndtiff_index`` stops silently at a damaged entry;
a cut-short index must be an error), the summary metadata comes from the first
stack's header via tifffile, pixels are read straight from their offsets.

Axes, as the index states them:

* ``position`` -> one OME series per position (named after it);
* ``time`` -> T, ``channel`` -> C (names from string values, else from each
  channel's first image metadata), ``z`` -> Z;
* ``row``/``column`` (tiles) -> one stitched image per series: tiles are placed on
  their grid, each cropped by half the summary's ``GridPixelOverlap`` on each side
  (as ndstorage stitches them), missing tiles are zero; the ``Downsampled_x<N>``
  folders become pyramid levels of that image (``level_shapes``/``read_plane``);
* any other axis with more than one value is folded into T, with a note.

Bio-Formats has no NDTiff reader: it opens a stack as a plain TIFF (every image a
time point) and never reads the index; see docs/vendor-formats.md.
"""

from __future__ import annotations

import json
import math
import re
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.errors import MissingFileError, NoSuchPlaneError, UnsupportedFormatError
from ometiff.readers.base import Reader
from ometiff.readers.source import SeriesSource
from ometiff.readers.vendor import VendorFileError, build_pixels, flatten

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ome_types import model as m

    from ometiff.types import StrPath

INDEX = "NDTiff.index"
FULL = "Full resolution"
_DOWNSAMPLED = re.compile(r"^Downsampled_x(\d+)$")
_STACK = "_NDTiffStack"
#: index pixel type -> (numpy dtype, samples, significant bits)
_PIXEL_TYPES = {
    0: ("uint8", 1, 8),
    1: ("uint16", 1, 16),
    2: ("uint8", 3, 8),
    3: ("uint16", 1, 10),
    4: ("uint16", 1, 12),
    5: ("uint16", 1, 14),
    6: ("uint16", 1, 11),
}
_T, _C, _Z, _P = "time", "channel", "z", "position"
_ROW, _COL = "row", "column"


@dataclass(frozen=True, slots=True)
class _Entry:
    """One image of the index."""

    axes: dict[str, int | str]
    filename: str
    offset: int
    width: int
    height: int
    pixeltype: int
    meta_offset: int
    meta_length: int


def dataset_root(path: Path) -> Path | None:
    """The dataset folder ``path`` belongs to, or None when it is no NDTiff dataset.

    Accepts the dataset folder, its ``Full resolution`` or ``Downsampled_x<N>``
    folder, its ``NDTiff.index`` and its ``*_NDTiffStack*.tif`` files. A folder of
    NDTiff stacks without an index is still claimed (opening it then says the index
    is missing), so it is never read as an unrelated image series.
    """
    try:
        if path.is_file():
            if path.name == INDEX or (_STACK in path.name and path.suffix.lower() == ".tif"):
                return dataset_root(path.parent)
            return None
        if not path.is_dir():
            return None
        if ((path / FULL).is_dir() and any((path / FULL).glob(f"*{_STACK}*.tif"))) or (
            (path / FULL / INDEX).is_file()
        ):
            return path
        if (path / INDEX).is_file() or any(path.glob(f"*{_STACK}*.tif")):
            if path.name == FULL or _DOWNSAMPLED.match(path.name):
                return path.parent
            return path
    except OSError:
        return None
    return None


_ENTRY_TAIL = struct.Struct("<IiiiiIii")  # offset, w, h, type, compression, meta off/len/comp


def parse_index(data: bytes, where: object) -> list[_Entry]:
    """Every entry of an ``NDTiff.index`` (bytes); a cut-short entry is an error.

    Each entry: uint32 length + axes JSON, uint32 length + file name, then
    ``<IiiiiIii``: data offset, width, height, pixel type, pixel compression,
    metadata offset, metadata length, metadata compression.
    """
    entries: list[_Entry] = []
    pos, end = 0, len(data)
    try:
        while pos < end:
            (k,) = struct.unpack_from("<I", data, pos)
            axes = json.loads(data[pos + 4 : pos + 4 + k])
            pos += 4 + k
            (n,) = struct.unpack_from("<I", data, pos)
            filename = data[pos + 4 : pos + 4 + n].decode("utf-8")
            pos += 4 + n
            off, w, h, ptype, comp, moff, mlen, _mcomp = _ENTRY_TAIL.unpack_from(data, pos)
            pos += _ENTRY_TAIL.size
            if not isinstance(axes, dict) or not filename or w <= 0 or h <= 0:
                raise ValueError(f"entry {len(entries)} is malformed")
            if comp != 0:
                raise UnsupportedFormatError(
                    f"{where}: NDTiff pixel compression {comp} is not supported (only 0)"
                )
            entries.append(_Entry(axes, filename, off, w, h, ptype, moff, mlen))
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, UnsupportedFormatError):
            raise
        raise VendorFileError(
            f"{where}: NDTiff index damaged or cut short at byte {pos:,} of {end:,} "
            f"(after {len(entries)} entries): {exc}"
        ) from exc
    return entries


def _read_index(folder: Path) -> list[_Entry]:
    index = folder / INDEX
    if not index.is_file():
        raise MissingFileError(
            f"{folder}: NDTiff dataset without its {INDEX} (the index says where each "
            "image is and what its axes are; without it the dataset cannot be read)"
        )
    try:
        data = index.read_bytes()
    except OSError as exc:
        raise VendorFileError(f"{index}: cannot be read: {exc}") from exc
    entries = parse_index(data, index)
    if not entries:
        raise VendorFileError(f"{index}: the NDTiff index lists no image")
    return entries


def _order(values: Iterable[int | str], axis: str) -> list[int | str]:
    """Axis values in reading order: numbers ascending, names in first-seen order
    (positions in natural order: Pos2 after Pos1)."""
    seen = list(dict.fromkeys(values))
    if all(isinstance(v, int) for v in seen):
        return sorted(seen, key=int)
    if axis == _P:

        def natural(v: int | str) -> list[Any]:
            return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(v))]

        return sorted(seen, key=natural)
    return seen


class NdtiffReader(Reader):
    """Read a Micro-Manager NDTiff dataset (folder, index or stack file)."""

    name = "ndtiff"
    suffixes = ()

    @classmethod
    def can_read(cls, path: Path) -> bool:
        """True for an NDTiff dataset folder, its index or one of its stacks."""
        return dataset_root(path) is not None

    def __init__(self, path: StrPath, **options: Any) -> None:
        super().__init__(path, **options)
        root = dataset_root(self.path)
        if root is None:
            raise UnsupportedFormatError(f"{self.path}: not a Micro-Manager NDTiff dataset")
        self.root = root
        self._lock = threading.Lock()
        self._handles: dict[Path, Any] = {}
        tiled = (root / FULL).is_dir()
        full = root / FULL if tiled else root
        self._levels: list[tuple[int, Path, list[_Entry]]] = [(1, full, _read_index(full))]
        self.summary = self._summary(full, self._levels[0][2][0].filename)
        self._setup_axes()
        if tiled:
            self._add_downsampled(root)
        self._ome: m.OME | None = None

    # -- structure ----------------------------------------------------------------------

    def _summary(self, folder: Path, filename: str) -> dict[str, Any]:
        import tifffile

        stack = folder / filename
        if not stack.is_file():
            raise MissingFileError(f"{stack}: no such file (listed in {folder / INDEX})")
        try:
            with tifffile.TiffFile(stack) as tf:
                meta = tf.micromanager_metadata or {}
        except (tifffile.TiffFileError, ValueError, OSError, EOFError, struct.error) as exc:
            raise VendorFileError(f"{stack}: not a readable NDTiff stack: {exc}") from exc
        self.version = f"{meta.get('MajorVersion', '?')}.{meta.get('MinorVersion', '?')}"
        summary = meta.get("Summary")
        return summary if isinstance(summary, dict) else {}

    def _setup_axes(self) -> None:
        entries = self._levels[0][2]
        first = entries[0]
        if first.pixeltype not in _PIXEL_TYPES:
            raise UnsupportedFormatError(
                f"{self.root}: NDTiff pixel type {first.pixeltype} is not supported"
            )
        dtype, self.samples, self.bits = _PIXEL_TYPES[first.pixeltype]
        self.dtype = np.dtype(dtype)
        self.tile = (first.height, first.width)
        for e in entries:
            if (e.height, e.width, e.pixeltype) != (first.height, first.width, first.pixeltype):
                raise UnsupportedFormatError(
                    f"{self.root}: images of different sizes or pixel types in one dataset "
                    "are not supported"
                )
        names: dict[str, list[int | str]] = {}
        for e in entries:
            for axis, value in e.axes.items():
                names.setdefault(axis, []).append(value)
        self.values = {a: _order(v, a) for a, v in names.items()}
        self.lookup = {a: {v: i for i, v in enumerate(vals)} for a, vals in self.values.items()}
        self.tiled = _ROW in self.values and _COL in self.values
        known = {_T, _C, _Z, _P, _ROW, _COL}
        # z under another spelling ("Z") is still Z; the rest (e.g. SecondaryZ) folds into T
        self.z_axis = (
            _Z if _Z in self.values else next((a for a in self.values if a.lower() == "z"), None)
        )
        self.t_axes = [
            a
            for a in self.values
            if a not in known and a != self.z_axis and len(self.values[a]) > 1
        ]
        if _T in self.values:
            self.t_axes.insert(0, _T)
        for a in self.values:
            if a not in known and a != self.z_axis:
                if len(self.values[a]) > 1:
                    self.notes.skip(
                        f"NDTiff axis {a!r} ({len(self.values[a])} values)",
                        "no OME dimension; stored along T",
                    )
                else:
                    self.notes.skip(f"NDTiff axis {a!r}", "one value; dropped")
        self.positions: list[int | str | None] = list(self.values.get(_P, [None]))
        size_t = math.prod(len(self.values[a]) for a in self.t_axes)
        size_c = len(self.values.get(_C, [0]))
        size_z = len(self.values[self.z_axis]) if self.z_axis else 1
        self.sizes = (size_t, size_c, size_z)
        self._planes: dict[int, dict[tuple[int, ...], list[_Entry]]] = {
            0: self._key_entries(entries)
        }
        if self.tiled:
            ov = (
                int(self.summary.get("GridPixelOverlapY") or 0),
                int(self.summary.get("GridPixelOverlapX") or 0),
            )
            self.overlap = ov
            self.stride = (self.tile[0] - ov[0], self.tile[1] - ov[1])
            if min(self.stride) <= 0:
                raise VendorFileError(f"{self.root}: tile overlap {ov} leaves no tile")
            rows = [int(v) for v in self.values[_ROW]]
            cols = [int(v) for v in self.values[_COL]]
            self.extent = (
                (min(rows) * self.stride[0], (max(rows) + 1) * self.stride[0]),
                (min(cols) * self.stride[1], (max(cols) + 1) * self.stride[1]),
            )
            self.notes.map("NDTiff row/column tiles", "one stitched plane (overlap cropped)")
        else:
            self.overlap = (0, 0)
            self.stride = self.tile
        self.level_factors = [1]
        expected = len(self.positions) * size_t * size_c * size_z
        have = len(self._planes[0])
        if have < expected:
            self.notes.skip(
                f"NDTiff: {expected - have} of {expected} planes not acquired",
                "read as zeros (the index lists no image for them)",
            )

    def _key_entries(self, entries: list[_Entry]) -> dict[tuple[int, ...], list[_Entry]]:
        """(position, t, c, z) -> its image, or its tiles (``row``/``column`` in axes)."""
        out: dict[tuple[int, ...], list[_Entry]] = {}
        for e in entries:
            out.setdefault(self._key(e.axes), []).append(e)
        return out

    def _key(self, axes: dict[str, int | str]) -> tuple[int, int, int, int]:
        """(position, t, c, z) indices of an image."""
        lookup = self.lookup
        t = 0
        for a in self.t_axes:
            t = t * len(self.values[a]) + lookup[a].get(axes.get(a, self.values[a][0]), 0)
        p = lookup[_P].get(axes[_P], -1) if _P in axes and _P in lookup else 0
        c = lookup[_C].get(axes[_C], -1) if _C in axes and _C in lookup else 0
        z = (
            lookup[self.z_axis].get(axes[self.z_axis], -1)
            if self.z_axis and self.z_axis in axes
            else 0
        )
        return (p, t, c, z)

    def _add_downsampled(self, root: Path) -> None:
        found = []
        for d in root.iterdir():
            match = _DOWNSAMPLED.match(d.name)
            if match and d.is_dir():
                found.append((int(match.group(1)), d))
        if not self.tiled:
            if found:
                self.notes.skip("NDTiff Downsampled_x<N> folders", "no row/column tiles")
            return
        for factor, folder in sorted(found):
            if factor & (factor - 1) or factor < 2:
                self.notes.skip(f"NDTiff {folder.name}", "not a power-of-two level; skipped")
                continue
            if not (folder / INDEX).is_file():
                self.notes.skip(f"NDTiff {folder.name}", f"no {INDEX}; level skipped")
                continue
            (y0, y1), (x0, x1) = self.extent
            if y1 // factor - y0 // factor < 1 or x1 // factor - x0 // factor < 1:
                break
            entries = _read_index(folder)
            level = len(self.level_factors)
            self._levels.append((factor, folder, entries))
            self.level_factors.append(factor)
            self._planes[level] = self._key_entries(entries)
        if len(self.level_factors) > 1:
            self.notes.map("NDTiff Downsampled_x<N> folders", "pyramid levels of each series")

    # -- levels and pixels --------------------------------------------------------------

    def _plane_shape(self, level: int) -> tuple[int, int]:
        if not self.tiled:
            return self.tile
        factor = self.level_factors[level]
        (y0, y1), (x0, x1) = self.extent
        return (y1 // factor - y0 // factor, x1 // factor - x0 // factor)

    def level_shapes(self, series: int) -> list[tuple[int, int, int, int, int]]:
        if not 0 <= series < len(self.positions):
            raise NoSuchPlaneError(
                f"{self.path}: series {series} does not exist ({len(self.positions)} series)"
            )
        return [(*self.sizes, *self._plane_shape(k)) for k in range(len(self.level_factors))]

    def _raw(self, folder: Path, e: _Entry) -> np.ndarray:
        path = folder / e.filename
        count = e.width * e.height * self.samples
        nbytes = count * self.dtype.itemsize
        with self._lock:
            fh = self._handles.get(path)
            if fh is None:
                try:
                    fh = self._handles[path] = path.open("rb")
                except FileNotFoundError as exc:
                    raise MissingFileError(f"{path}: no such file (listed in {INDEX})") from exc
            fh.seek(e.offset)
            data = fh.read(nbytes)
        if len(data) != nbytes:
            raise VendorFileError(
                f"{path}: image at offset {e.offset} is cut short ({len(data)} of {nbytes} "
                "bytes; truncated file?)"
            )
        arr = np.frombuffer(data, self.dtype.newbyteorder("<"), count).astype(self.dtype)
        return arr.reshape(
            (e.height, e.width, self.samples) if self.samples > 1 else (e.height, e.width)
        )

    def read_plane(self, series: int, t: int, c: int, z: int, *, level: int = 0) -> np.ndarray:
        self.check_plane(series, t, c, z, level=level)
        folder = self._levels[level][1]
        planes = self._planes[level]
        shape = self._plane_shape(level)
        out = np.zeros((*shape, self.samples) if self.samples > 1 else shape, self.dtype)
        found = planes.get((series, t, c, z), [])
        if not self.tiled:
            if found:
                out[...] = self._raw(folder, found[-1])
            return out
        factor = self.level_factors[level]
        (y0, _), (x0, _) = self.extent
        oy, ox = y0 // factor, x0 // factor  # canvas origin at this level
        sy, sx = self.stride
        crop = (self.overlap[0] // 2, self.overlap[1] // 2) if level == 0 else (0, 0)
        for e in found:
            row, col = int(e.axes[_ROW]), int(e.axes[_COL])
            tile = self._raw(folder, e)[crop[0] : crop[0] + sy, crop[1] : crop[1] + sx]
            ty, tx = row * sy - oy, col * sx - ox
            # the part of the tile inside the canvas
            ya, xa = max(0, -ty), max(0, -tx)
            yb = min(tile.shape[0], shape[0] - ty)
            xb = min(tile.shape[1], shape[1] - tx)
            if ya < yb and xa < xb:
                out[ty + ya : ty + yb, tx + xa : tx + xb] = tile[ya:yb, xa:xb]
        return out

    def sources(self) -> list[SeriesSource]:
        out = []
        for i in range(len(self.positions)):

            def get_plane(t: int, c: int, z: int, _i: int = i) -> np.ndarray:
                return self.read_plane(_i, t, c, z)

            out.append(
                SeriesSource(
                    (*self.sizes, *self._plane_shape(0)),
                    self.samples,
                    self.dtype,
                    get_plane,
                    name=self._series_name(i),
                )
            )
        return out

    def _series_name(self, series: int) -> str:
        position = self.positions[series]
        return self.root.name if position is None else f"{self.root.name} {position}"

    # -- metadata -----------------------------------------------------------------------

    def _image_metadata(self, e: _Entry) -> dict[str, Any]:
        folder = self._levels[0][1]
        path = folder / e.filename
        try:
            with path.open("rb") as fh:
                fh.seek(e.meta_offset)
                data = fh.read(e.meta_length)
            meta = json.loads(data.decode("utf-8"))
        except (OSError, ValueError) as exc:
            self.notes.skip(f"NDTiff image metadata at {path}:{e.meta_offset}", str(exc))
            return {}
        return meta if isinstance(meta, dict) else {}

    def ome(self) -> m.OME:
        if self._ome is None:
            self._ome = self._build_ome()
        return self._ome.model_copy(deep=True)

    def _channel_names(self) -> list[str | None]:
        values = self.values.get(_C)
        if values is None:
            return [None]
        if all(isinstance(v, str) for v in values):
            self.notes.map("NDTiff channel axis values", "Channel@Name")
            return [str(v) for v in values]
        names: list[str | None] = []
        firsts: dict[int | str, _Entry] = {}
        for e in self._levels[0][2]:
            firsts.setdefault(e.axes.get(_C, 0), e)
        for v in values:
            name = self._image_metadata(firsts[v]).get("Channel") if v in firsts else None
            names.append(str(name) if name else None)
        if any(names):
            self.notes.map("NDTiff image metadata 'Channel'", "Channel@Name")
        return names

    def _build_ome(self) -> m.OME:
        from ome_types import model as m

        from ometiff.readers.tiffmeta import positive

        psize = positive(self.summary.get("PixelSize_um"))
        zstep = positive(self.summary.get("z-step_um")) if self.z_axis else None
        if psize is not None:
            self.notes.map("NDTiff summary PixelSize_um", "Pixels@PhysicalSizeX/Y")
        if zstep is not None:
            self.notes.map("NDTiff summary z-step_um", "Pixels@PhysicalSizeZ")
        names = self._channel_names()
        channels = [{"name": n} for n in names]
        date = None
        text = self.summary.get("DateAndTime")
        if isinstance(text, str):
            from datetime import datetime

            try:
                date = datetime.strptime(text.strip(), "%Y/%m/%d %H:%M:%S")
                self.notes.map("NDTiff summary DateAndTime", "Image/AcquisitionDate")
            except ValueError:
                self.notes.skip(f"NDTiff DateAndTime {text!r}", "not 'YYYY/MM/DD HH:MM:SS'")
        self.notes.skip(
            "NDTiff per-image metadata (stage positions, times)",
            "kept in the stacks; not mapped to Planes",
        )
        bits = self.bits if self.bits != self.dtype.itemsize * 8 else None
        images = []
        for i in range(len(self.positions)):
            pixels = build_pixels(
                i,
                shape=(*self.sizes, *self._plane_shape(0)),
                samples=self.samples,
                dtype=self.dtype,
                physical=(psize, psize, zstep),
                channels=channels,
                significant_bits=bits,
            )
            images.append(
                m.Image(
                    id=f"Image:{i}", name=self._series_name(i), pixels=pixels, acquisition_date=date
                )
            )
        return m.OME(images=images)

    def original_metadata(self) -> dict[str, str]:
        out = flatten(self.summary, "NDTiff Summary")
        out["NDTiff version"] = self.version
        return out

    def close(self) -> None:
        with self._lock:
            for fh in self._handles.values():
                fh.close()
            self._handles.clear()
