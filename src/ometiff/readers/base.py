"""The reader interface: one open image source yielding OME metadata and plane sources.

Every input format is read by a :class:`Reader` subclass. The contract:

* ``can_read(path)`` is a cheap sniff (suffix, magic bytes, a small header read);
  it returns ``False`` for "not mine" and never raises for that.
* Constructing a reader opens the file; a corrupt or truncated file raises an
  :class:`~ometiff.OmeTiffError` subclass (``InvalidTiffError`` or
  ``UnsupportedFormatError``) naming the file, never a bare library exception.
* ``ome()`` returns the full metadata as ``ome_types.OME``: one Image per series,
  in the same order as ``sources()``; each call returns a fresh copy the caller
  may edit (a reader caches its model privately and hands out deep copies). Physical sizes are set only when the file
  states them, always with a unit (checklist U3, W3): never invent 1.0.
* ``sources()`` returns one :class:`~ometiff.readers.source.SeriesSource` per series;
  ``get_plane(t, c, z)`` reads one plane on demand (streaming, STYLE 2.1 #6).
* ``level_shapes(series)`` lists the ``(T, C, Z, Y, X)`` shape of every pyramid
  level of a series, full resolution first; ``read_plane(series, t, c, z, level=)``
  reads one plane of one level. Readers without pyramids have one level (the
  default implementation, on top of ``sources()``) and refuse ``level > 0`` with
  :class:`~ometiff.errors.NoSuchPlaneError`.
* ``read_region(series, t, c, z, y0, y1, x0, x1, level=, out=)`` reads a window of
  one plane (into ``out`` when given); the default crops :meth:`read_plane`, tiled
  readers (OME-TIFF, TIFF) decode only the tiles the window touches, straight into
  ``out``, and say so with ``tile_shape``.
* ``thread_safe`` readers may be called from several threads at once (the read
  API's dask arrays do); for the others the read API serialises calls.
* ``original_metadata()`` returns the vendor's own key-value metadata as strings
  (kept as an OME MapAnnotation by ``convert(..., original_metadata=True)``).
* ``notes`` records what was mapped to which OME field and what could not be
  mapped; ``convert(..., report=...)`` writes it into the conversion receipt.
* ``close()`` releases file handles; readers are context managers.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ometiff.errors import InvalidArgumentError, NoSuchPlaneError, UnsupportedFormatError

if TYPE_CHECKING:
    from typing import Self

    import numpy as np
    from ome_types import OME

    from ometiff.ome.view import OmeView
    from ometiff.readers.source import SeriesSource
    from ometiff.types import StrPath


@dataclass
class MappingNotes:
    """What a reader mapped to OME, and what it could not map.

    Attributes
    ----------
    mapped
        ``(source field, OME location)`` pairs, e.g.
        ``("ImageJ spacing", "Image:0/Pixels@PhysicalSizeZ")``.
    unmapped
        ``(source field, reason)`` pairs, e.g.
        ``("ImageJ unit 'pixel'", "no physical unit; PhysicalSize left unset")``.
    """

    mapped: list[tuple[str, str]] = field(default_factory=list)
    unmapped: list[tuple[str, str]] = field(default_factory=list)

    def map(self, source: str, target: str) -> None:
        """Record that ``source`` was written to the OME location ``target``."""
        self.mapped.append((source, target))

    def skip(self, source: str, reason: str) -> None:
        """Record that ``source`` was not mapped, and why."""
        self.unmapped.append((source, reason))

    def as_dict(self) -> dict[str, list[dict[str, str]]]:
        """JSON-ready form for the conversion report."""
        return {
            "mapped": [{"source": s, "ome": t} for s, t in self.mapped],
            "unmapped": [{"source": s, "reason": r} for s, r in self.unmapped],
        }


class Reader(abc.ABC):
    """An open image source that yields OME metadata and plane sources.

    Parameters
    ----------
    path
        The input: a file, a directory, or (for image series) a glob or pattern.
    **options
        Reader-specific options named in :attr:`options` (e.g. ``axes`` for
        ``.npy``); an option the reader does not accept is an error.

    Attributes
    ----------
    name
        Short reader name, e.g. ``"nd2"``.
    suffixes
        Lower-case file name endings this reader claims, e.g. ``(".nd2",)``.
        Empty means "no suffix prefilter" (directories, patterns).
    extra
        The pip extra that installs this reader's dependencies
        (``pip install "ometiff[<extra>]"``), or None for core readers.
    options
        Names of keyword options the constructor accepts.
    """

    name: ClassVar[str]
    suffixes: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = None
    options: ClassVar[tuple[str, ...]] = ()
    thread_safe: ClassVar[bool] = False

    def __init__(self, path: StrPath, **options: Any) -> None:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            accepted = ", ".join(self.options) or "none"
            raise UnsupportedFormatError(
                f"{path}: the {self.name} reader does not accept option(s) "
                f"{', '.join(unknown)} (accepted: {accepted})"
            )
        self.path = Path(path)
        self.notes = MappingNotes()

    @classmethod
    def can_read(cls, path: Path) -> bool:
        """Return True if this reader can probably read ``path`` (cheap; never raises).

        The default checks the suffix only; subclasses sniff magic bytes too.
        """
        return bool(cls.suffixes) and path.name.lower().endswith(cls.suffixes)

    @abc.abstractmethod
    def ome(self) -> OME:
        """Return the metadata as OME: one Image per series, same order as sources().

        Each call returns a new model: edits by one caller never reach the next.
        """

    @abc.abstractmethod
    def sources(self) -> list[SeriesSource]:
        """Return one plane source per series, in the order of the OME Images."""

    def ome_view(self) -> OmeView:
        """The same metadata as :meth:`ome`, as the fast read-only :class:`OmeView`.

        This is the one series description every consumer shares (``info`` on any
        input, the read API's ``Series``); readers that hold OME-XML already (OME-TIFF)
        override it to skip the ome-types round trip.
        """
        from ome_types import to_xml

        from ometiff.ome.view import parse_ome

        return parse_ome(to_xml(self.ome()), source=str(self.path))

    # -- levels: the pixel API later work builds on (open/imread, OME-Zarr, viewers) --

    @property
    def series_count(self) -> int:
        """Number of series (OME Images)."""
        return len(self._level0())

    def level_shapes(self, series: int) -> list[tuple[int, int, int, int, int]]:
        """``(T, C, Z, Y, X)`` of every pyramid level of a series, full resolution first.

        C counts OME Channels (an RGB plane is one channel of 3 samples). The
        default is one level, from :meth:`sources`; pyramid readers override it.
        """
        return [self._source(series).shape]

    def read_plane(self, series: int, t: int, c: int, z: int, *, level: int = 0) -> np.ndarray:
        """One plane of one pyramid level: ``(Y, X)``, or ``(Y, X, S)`` for RGB(A).

        Raises
        ------
        NoSuchPlaneError
            The series, the plane or the level does not exist.
        """
        src = self._source(series)
        self.check_plane(series, t, c, z, level=level)
        return src.get_plane(t, c, z)

    def read_region(
        self,
        series: int,
        t: int,
        c: int,
        z: int,
        y0: int,
        y1: int,
        x0: int,
        x1: int,
        *,
        level: int = 0,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """The window ``[y0:y1, x0:x1]`` of one plane: ``(Y, X)`` or ``(Y, X, S)``.

        The default reads the whole plane and crops it; tiled readers override it
        to decode only the tiles the window touches. With ``out`` (an array of the
        window's shape), the pixels are written into it and it is returned: tiled
        readers decode straight into it (``File.asarray`` fills one array this way).

        Raises
        ------
        NoSuchPlaneError
            The series, plane or level does not exist.
        InvalidArgumentError
            The window is empty or outside the plane, or ``out`` has another shape.
        """
        self.check_region(series, t, c, z, y0, y1, x0, x1, level=level)
        plane = self.read_plane(series, t, c, z, level=level)
        if (y0, x0) == (0, 0) and plane.shape[:2] == (y1, x1):
            return plane if out is None else region_into(out, plane, self.path)
        if out is not None:
            return region_into(out, plane[y0:y1, x0:x1], self.path)
        return plane[y0:y1, x0:x1].copy()  # no view keeping the whole plane alive

    def tile_shape(self, series: int, *, level: int = 0) -> tuple[int, int] | None:
        """``(Y, X)`` of the tiles :meth:`read_region` decodes separately at a level.

        None (the default) when regions are cropped from whole planes; the read
        API then chunks by plane.
        """
        return None

    def check_region(
        self,
        series: int,
        t: int,
        c: int,
        z: int,
        y0: int,
        y1: int,
        x0: int,
        x1: int,
        *,
        level: int = 0,
    ) -> None:
        """Raise unless the plane exists and ``[y0:y1, x0:x1]`` is a non-empty window of it."""
        self.check_plane(series, t, c, z, level=level)
        size_y, size_x = self.level_shapes(series)[level][3:]
        if not (0 <= y0 < y1 <= size_y and 0 <= x0 < x1 <= size_x):
            raise InvalidArgumentError(
                f"{self.path}: region y={y0}:{y1} x={x0}:{x1} is empty or outside the "
                f"{size_y}x{size_x} plane of series {series} level {level}"
            )

    def check_plane(self, series: int, t: int, c: int, z: int, *, level: int = 0) -> None:
        """Raise :class:`NoSuchPlaneError` unless the plane exists at ``level``."""
        shapes = self.level_shapes(series)
        if not 0 <= level < len(shapes):
            have = f"levels 0-{len(shapes) - 1}" if len(shapes) > 1 else "only level 0"
            raise NoSuchPlaneError(
                f"{self.path}: series {series} has {have}; level {level} does not exist"
            )
        size_t, size_c, size_z = shapes[level][:3]
        for name, value, size in (("T", t, size_t), ("C", c, size_c), ("Z", z, size_z)):
            if not 0 <= value < size:
                raise NoSuchPlaneError(
                    f"{self.path}: series {series} has {name} 0-{size - 1}; "
                    f"{name}={value} does not exist"
                )

    def _level0(self) -> list[SeriesSource]:
        cached: list[SeriesSource] | None = self.__dict__.get("_level0_sources")
        if cached is None:
            cached = self.__dict__["_level0_sources"] = self.sources()
        return cached

    def _source(self, series: int) -> SeriesSource:
        sources = self._level0()
        if not 0 <= series < len(sources):
            raise NoSuchPlaneError(
                f"{self.path}: series {series} does not exist ({len(sources)} series)"
            )
        return sources[series]

    def original_metadata(self) -> dict[str, str]:
        """Return the vendor's own metadata as flat key-value strings."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook, default is a no-op
        """Release open file handles (idempotent)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {str(self.path)!r}>"


def region_into(out: np.ndarray, region: np.ndarray, path: Path) -> np.ndarray:
    """Copy a region into the caller's ``out`` (``read_region(..., out=)``); return ``out``.

    Raises
    ------
    InvalidArgumentError
        ``out`` does not have the region's shape.
    """
    import numpy as np

    if out.shape != region.shape:
        raise InvalidArgumentError(
            f"{path}: out= has shape {out.shape}; the region is {region.shape}"
        )
    np.copyto(out, region, casting="unsafe")
    return out


def array_ome(shape: tuple[int, int, int, int, int], samples: int, dtype: Any, name: str) -> OME:
    """The OME of one series that carries no metadata of its own (arrays, image files).

    Sizes, pixel type and one Channel per OME channel (R1, R2); no physical sizes,
    which such inputs do not state (U3: never invented).
    """
    from ome_types import model as m

    from ometiff.types import DTYPE_TO_OME

    t, c, z, y, x = shape
    channels = [m.Channel(id=f"Channel:0:{k}", samples_per_pixel=samples) for k in range(c)]
    pixels = m.Pixels(
        id="Pixels:0",
        dimension_order=m.Pixels_DimensionOrder.XYZCT,
        type=m.PixelType(DTYPE_TO_OME[dtype.name]),
        size_x=x,
        size_y=y,
        size_z=z,
        size_c=c * samples,
        size_t=t,
        channels=channels,
    )
    return m.OME(images=[m.Image(id="Image:0", name=name, pixels=pixels)])
