"""MRC / CCP4 map reader (``pip install "ometiff[mrc]"``, uses mrcfile).

mrcfile is the CCP-EM reference implementation of the MRC2014 format; it
validates the header (``permissive=False``) and memory-maps the data, so a map is
read one section at a time. (The ``mrc`` library reads DeltaVision files but
refuses plain MRC maps, which is why the DV reader uses it and this one does not.)

Mapped: a volume (or a stack of images, ``.mrcs``) is Z sections of Y x X; the
pixel type from the mode (0 int8, 1 int16, 2 float32, 6 uint16); PhysicalSizeX/Y/Z
from the voxel size, kept in Ångström as the file states it; the header labels as
the Image description. Rows are flipped, as Bio-Formats does: a section is
stored bottom row first (the MRC origin is the lower left corner). Not mapped: origin, cell angles, space group (kept in the
original metadata). Complex (modes 3, 4) and float16 (mode 12) maps have no OME
pixel type and are refused.
"""

from __future__ import annotations

import warnings
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.readers.base import Reader
from ometiff.readers.source import SeriesSource
from ometiff.readers.vendor import VendorFileError, build_pixels, opening, require, sniff_head

if TYPE_CHECKING:
    from ome_types import OME

    from ometiff.types import StrPath

#: MRC modes that have an OME pixel type.
_MODES = {0: "int8", 1: "int16", 2: "float32", 6: "uint16"}
_HEADER_SIZE = 1024
#: Every mode of MRC2014 (and the 4-bit mode 101), readable or not: a file with
#: another mode is not MRC at all.
_KNOWN_MODES = (0, 1, 2, 3, 4, 6, 12, 16, 101)


class MrcReader(Reader):
    """Read MRC2014 / CCP4 maps and image stacks: one series of Z sections."""

    name = "mrc"
    suffixes = (".mrc", ".map", ".ccp4", ".mrcs")
    extra = "mrc"

    def __init__(self, path: StrPath, **options: Any) -> None:
        super().__init__(path, **options)
        mrcfile = require("mrcfile", "mrc", "MRC/CCP4")
        if not self.can_read(self.path):
            raise VendorFileError(
                f"{self.path}: not an MRC/CCP4 file (no 1024-byte header with sizes and a mode)"
            )
        self._file: Any = None
        with opening(self, "MRC/CCP4", (OSError, ValueError, IndexError, EOFError)):
            with warnings.catch_warnings():
                # mrcfile sets ndarray.dtype, which numpy >= 2.5 deprecates
                warnings.simplefilter("ignore", DeprecationWarning)
                self._file = mrcfile.mmap(self.path, mode="r", permissive=False)
            header = self._file.header
            mode = int(header.mode)
            data = self._file.data
        if data is None or mode not in _MODES:
            self.close()
            raise VendorFileError(
                f"{self.path}: MRC mode {mode} has no OME pixel type "
                f"(supported: {', '.join(f'{k} {v}' for k, v in _MODES.items())})"
            )
        if data.ndim == 2:
            data = data[np.newaxis]
        self._data = data
        self._dtype = np.dtype(_MODES[mode])
        z, y, x = data.shape
        self._shape = (1, 1, z, y, x)

    @classmethod
    def can_read(cls, path: Path) -> bool:
        """An MRC suffix, a 1024-byte header with positive sizes and a known mode."""
        header = sniff_head(path, cls.suffixes, _HEADER_SIZE)
        if header is None:
            return False
        for order in ("<", ">"):  # the machine stamp may be missing: try both
            nx, ny, nz, mode = np.frombuffer(header[:16], dtype=f"{order}i4")
            if nx > 0 and ny > 0 and nz > 0 and mode in _KNOWN_MODES:
                return True
        return False

    def _get_plane(self, t: int, c: int, z: int) -> np.ndarray:
        try:
            plane = np.asarray(self._data[z])
        except (OSError, ValueError) as exc:
            raise VendorFileError(f"{self.path}: cannot read MRC section {z}: {exc}") from exc
        # MRC sections start with the bottom row (origin lower left); Bio-Formats
        # shows them top row first, and so does OME-TIFF
        return np.ascontiguousarray(plane[::-1], dtype=self._dtype)

    def sources(self) -> list[SeriesSource]:
        """One series of Z sections."""
        return [SeriesSource(self._shape, 1, self._dtype, self._get_plane, self.path.name)]

    def ome(self) -> OME:
        """Sizes, pixel type, voxel size in Å, labels."""
        return self._ome.model_copy(deep=True)

    @cached_property
    def _ome(self) -> OME:
        from ome_types import OME
        from ome_types import model as m
        from ome_types.model import UnitsLength

        where = "Image:0"
        pixels = build_pixels(0, shape=self._shape, samples=1, dtype=self._dtype)
        voxel = self._file.voxel_size
        sizes = {"x": float(voxel.x), "y": float(voxel.y), "z": float(voxel.z)}
        for axis, value in sizes.items():
            if value > 0:  # 0 means "not stated" (cell dimensions of 0)
                setattr(pixels, f"physical_size_{axis}", value)
                setattr(pixels, f"physical_size_{axis}_unit", UnitsLength.ANGSTROM)
                self.notes.map(
                    f"MRC cella/mx ({axis})", f"{where}/Pixels@PhysicalSize{axis.upper()}"
                )
            else:
                self.notes.skip(f"MRC voxel size {axis}", "0 (not stated); PhysicalSize unset")
        self.notes.map(
            "MRC sections (bottom row first)", f"{where} planes, rows flipped as Bio-Formats"
        )
        labels = self._labels()
        if labels:
            self.notes.map("MRC labels", f"{where}/Description")
        self.notes.skip("MRC origin, cell angles, space group", "kept in the original metadata")
        image = m.Image(
            id="Image:0", name=self.path.name, description="\n".join(labels) or None, pixels=pixels
        )
        return OME(images=[image], creator="ometiff (mrcfile)")

    def _labels(self) -> list[str]:
        header = self._file.header
        count = max(0, min(int(header.nlabl), 10))
        out = []
        for raw in header.label[:count]:
            text = bytes(raw).decode("latin-1").strip("\x00 ")
            if text:
                out.append(text)
        return out

    def original_metadata(self) -> dict[str, str]:
        """Every MRC header field."""
        header = self._file.header
        out: dict[str, str] = {}
        for name in header.dtype.names or ():
            if name == "label":
                continue
            value = header[name]
            out[f"header|{name}"] = str(value.tolist() if hasattr(value, "tolist") else value)
        for i, label in enumerate(self._labels()):
            out[f"label|{i}"] = label
        return out

    def close(self) -> None:
        """Close the memory map."""
        f = getattr(self, "_file", None)
        self._data = None
        if f is not None:
            f.close()
            self._file = None
