"""What one image series is: sizes, dims, levels, physical sizes, channels.

Everything here is derived from :meth:`Reader.ome_view` (the one fast series
description of every reader) and the reader's level API; units come from
:mod:`ometiff.ome.units` and colours from :mod:`ometiff.ome.colour`. No second
metadata mapper: the ome-types model (:attr:`Series.ome`) is built only when asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.errors import InvalidValueError
from ometiff.ome.colour import ome_to_rgba
from ometiff.ome.units import convert, to_micrometres, to_seconds

if TYPE_CHECKING:
    from collections.abc import Callable

    from ome_types import model as m

    from ometiff.ome.view import ChannelView, ImageView, Quantity

#: Axes of every series, slowest first; ``S`` (samples of RGB pixels) only when > 1.
AXES = "TCZYX"


@dataclass(frozen=True, slots=True)
class Channel:
    """One OME channel of a series.

    Attributes
    ----------
    name
        Channel name, or None.
    color
        ``(r, g, b, a)`` with components 0-255, or None when the file gives none (R4).
    excitation, emission
        Wavelengths in nm, or None.
    """

    name: str | None
    color: tuple[int, int, int, int] | None
    excitation: float | None
    emission: float | None


@dataclass(frozen=True)
class Series:
    """One image series (OME Image) of an open file.

    Attributes
    ----------
    index
        Position in :attr:`File.series <ometiff.dataset.File.series>`.
    name
        OME Image name, or None.
    sizes
        ``{"T", "C", "Z", "Y", "X", "S"}`` -> size at full resolution; C counts
        channels, S samples per pixel (3 for RGB, else 1).
    dims
        Axis letters of the arrays: ``"TCZYX"``, or ``"TCZYXS"`` for RGB(A).
    dtype
        numpy dtype of the pixels.
    physical_size
        ``{"X", "Y", "Z"}`` -> pixel size in µm at full resolution, None where the
        file does not say (never invented, U3).
    time_increment
        Seconds between time points, or None.
    channels
        One :class:`Channel` per C.
    levels
        Array shape (in ``dims`` order) of every pyramid level, full resolution first.
    """

    index: int
    name: str | None
    sizes: dict[str, int]
    dims: str
    dtype: np.dtype
    physical_size: dict[str, float | None]
    time_increment: float | None
    channels: tuple[Channel, ...]
    levels: tuple[tuple[int, ...], ...]
    _load_ome: Callable[[], m.Image] = field(repr=False, compare=False)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the full-resolution array, in ``dims`` order."""
        return self.levels[0]

    @property
    def ndim(self) -> int:
        """Number of axes (5, or 6 for RGB(A))."""
        return len(self.dims)

    @cached_property
    def ome(self) -> m.Image:
        """The ``ome_types`` Image of this series (built on first use, then kept)."""
        return self._load_ome()

    def level_physical_size(self, level: int) -> dict[str, float | None]:
        """:attr:`physical_size` scaled to a pyramid level (Z is never downsampled)."""
        full, this = self.levels[0], self.levels[level]
        y, x = self.dims.index("Y"), self.dims.index("X")
        out = dict(self.physical_size)
        for axis, i in (("Y", y), ("X", x)):
            value = out[axis]
            if value is not None:
                out[axis] = value * full[i] / this[i]
        return out


def _wavelength(q: Quantity | None) -> float | None:
    if q is None:
        return None
    try:
        return convert(q.value, q.unit, "nm")
    except InvalidValueError:
        return None  # a unit that is not a length: not a wavelength we can give


def _colour(value: int | None) -> tuple[int, int, int, int] | None:
    if value is None:
        return None
    try:
        return ome_to_rgba(value)
    except InvalidValueError:
        return None


def _channel(view: ChannelView | None) -> Channel:
    if view is None:
        return Channel(None, None, None, None)
    return Channel(
        view.name, _colour(view.color), _wavelength(view.excitation), _wavelength(view.emission)
    )


def _length(q: Quantity | None) -> float | None:
    value = None if q is None else to_micrometres(q.value, q.unit)
    return value if value is not None and value > 0 else None


def make_series(
    index: int,
    image: ImageView,
    shapes: list[tuple[int, int, int, int, int]],
    samples: int,
    dtype: Any,
    load_ome: Callable[[], m.Image],
    name: str | None = None,
) -> Series:
    """A :class:`Series` from the OME view of one image and the reader's level shapes."""
    dims = AXES + ("S" if samples > 1 else "")
    tail = (samples,) if samples > 1 else ()
    t, c, z, y, x = shapes[0]
    ti = image.time_increment
    return Series(
        index=index,
        name=image.name if image.name is not None else name,
        sizes={"T": t, "C": c, "Z": z, "Y": y, "X": x, "S": samples},
        dims=dims,
        dtype=np.dtype(dtype),
        physical_size={
            "X": _length(image.physical_size_x),
            "Y": _length(image.physical_size_y),
            "Z": _length(image.physical_size_z),
        },
        time_increment=None if ti is None else to_seconds(ti.value, ti.unit),
        channels=tuple(
            _channel(image.channels[k] if k < len(image.channels) else None) for k in range(c)
        ),
        levels=tuple((*shape, *tail) for shape in shapes),
        _load_ome=load_ome,
    )
