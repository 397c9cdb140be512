"""The contract between readers and the writer: one image series as a plane source.

A reader (``ometiff.readers``) or an in-memory array (``ometiff.write``) is turned
into :class:`SeriesSource` objects; the writer pulls planes from them one at a
time, so no whole image is ever held in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

#: Index order of :attr:`SeriesSource.shape` (S, samples per pixel, is separate).
SOURCE_AXES = "TCZYX"


@dataclass(frozen=True, slots=True)
class SeriesSource:
    """One image series to write.

    Attributes
    ----------
    shape
        ``(T, C, Z, Y, X)``; C counts OME channels, so an RGB image has C=1.
    samples
        Samples per pixel of each plane: 1, or 3 (RGB) / 4 (RGBA).
    dtype
        numpy dtype of the pixels.
    get_plane
        ``get_plane(t, c, z)`` returns one plane, shape ``(Y, X)`` when
        ``samples == 1``, else ``(Y, X, samples)``. Must be safe to call in any
        order; the writer calls it once per plane.
    name
        Series (OME Image) name, or None.
    """

    shape: tuple[int, int, int, int, int]
    samples: int
    dtype: np.dtype
    get_plane: Callable[[int, int, int], np.ndarray]
    name: str | None = None

    @property
    def plane_count(self) -> int:
        """Number of planes (T x C x Z)."""
        t, c, z, _, _ = self.shape
        return t * c * z

    @property
    def size_c(self) -> int:
        """OME ``SizeC``: channels times samples per pixel (checklist R2)."""
        return self.shape[1] * self.samples
