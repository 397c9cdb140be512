"""NumPy ``.npy`` reader: one array, memory-mapped, axes given by the user.

The file carries no metadata, so nothing but sizes and the pixel type is
mapped; physical sizes stay unset (checklist U3).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.errors import InvalidTiffError, UnsupportedFormatError
from ometiff.readers.base import Reader, array_ome
from ometiff.readers.source import SeriesSource
from ometiff.readers.tifflayout import plane_dtype

if TYPE_CHECKING:
    from ome_types import model as m

    from ometiff.types import StrPath

_AXES = "TCZYXS"
_MAGIC = b"\x93NUMPY"


def _default_axes(ndim: int, shape: tuple[int, ...]) -> str | None:
    if ndim == 2:
        return "YX"
    if ndim == 3 and shape[-1] in (3, 4):
        return "YXS"
    return None


class NpyReader(Reader):
    """Read a ``.npy`` array; ``axes`` (letters of TCZYXS) names its dimensions."""

    name = "npy"
    suffixes = (".npy",)
    options = ("axes",)

    @classmethod
    def can_read(cls, path: Path) -> bool:
        """True for a file with the ``.npy`` magic string."""
        if not path.is_file() or not path.name.lower().endswith(cls.suffixes):
            return False
        try:
            with open(path, "rb") as fh:
                return fh.read(6) == _MAGIC
        except OSError:
            return False

    def __init__(self, path: StrPath, **options: Any) -> None:
        super().__init__(path, **options)
        try:
            self._arr = np.load(self.path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise InvalidTiffError(f"{self.path}: not a readable .npy file: {exc}") from exc
        shape = tuple(self._arr.shape)
        axes = options.get("axes") or _default_axes(len(shape), shape)
        if axes is None:
            raise UnsupportedFormatError(
                f"{self.path}: a {len(shape)}-D array needs its axes named (letters of {_AXES}, "
                f"one per dimension of shape {shape}, e.g. axes='ZYX')",
                option="axes",
            )
        axes = str(axes).upper()
        if (
            len(axes) != len(shape)
            or len(set(axes)) != len(axes)
            or any(a not in _AXES for a in axes)
            or "Y" not in axes
            or "X" not in axes
        ):
            raise UnsupportedFormatError(
                f"{self.path}: axes {axes!r} do not fit shape {shape}: give one distinct letter "
                f"of {_AXES} per dimension, including Y and X"
            )
        if "S" in axes and shape[axes.index("S")] not in (1, 3, 4):
            raise UnsupportedFormatError(
                f"{self.path}: S (samples) must be 3 or 4; use C for {shape[axes.index('S')]} "
                "channels"
            )
        if math.prod(shape) == 0:
            raise InvalidTiffError(f"{self.path}: empty array {shape}")
        self._axes = axes
        self._dtype = plane_dtype(self._arr.dtype, self.path)
        size = {a: shape[axes.index(a)] if a in axes else 1 for a in _AXES}
        self._samples = size["S"]
        self._shape = (size["T"], size["C"], size["Z"], size["Y"], size["X"])
        self.notes.skip(".npy", "no metadata in the file; physical sizes left unset (U3)")

    def _get_plane(self, t: int, c: int, z: int) -> np.ndarray:
        index = tuple({"T": t, "C": c, "Z": z}.get(a, slice(None)) for a in self._axes)
        plane = self._arr[index]
        rest = [a for a in self._axes if a in "YXS"]
        plane = np.transpose(plane, [rest.index(a) for a in "YXS" if a in rest])
        if self._samples == 1 and plane.ndim == 3:
            plane = plane[..., 0]
        try:
            return np.ascontiguousarray(plane, dtype=self._dtype)
        except (OSError, ValueError) as exc:
            raise InvalidTiffError(f"{self.path}: cannot read plane: {exc}") from exc

    def sources(self) -> list[SeriesSource]:
        return [
            SeriesSource(
                self._shape, self._samples, self._dtype, self._get_plane, name=self.path.stem
            )
        ]

    def ome(self) -> m.OME:
        return array_ome(self._shape, self._samples, self._dtype, self.path.stem)

    def close(self) -> None:
        mm = getattr(self._arr, "_mmap", None)
        if mm is not None:
            mm.close()
