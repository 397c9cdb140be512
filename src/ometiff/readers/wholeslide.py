"""The shared core of the whole-slide TIFF readers (Aperio SVS, Hamamatsu NDPI, QPTIFF).

A whole slide is one large image stored as a pyramid (every level a page, or one
page per channel), plus small associated images: a thumbnail, the slide label,
the macro (overview) photograph. Each format module (``svs.py``, ``ndpi.py``,
``qptiff.py``) says which pages form which image and what its metadata means; this
module turns that into the :class:`~ometiff.readers.base.Reader` contract:

* the slide is series 0, its reduced resolutions are its pyramid levels
  (``level_shapes``/``read_plane(level=)``), never series of their own;
* every associated image is a series of its own, named by its role ("label",
  "macro", "thumbnail", ...), after the slide;
* physical sizes come only from what the file states (checklist U3);
* pages are decoded by tifffile/imagecodecs (JPEG 2000, NDPI's restart-marker JPEG,
  LZW...) one page of one level at a time, so reading a small level never touches
  the full-resolution data.
"""

from __future__ import annotations

import abc
import math
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import tifffile

from ometiff.errors import InvalidTiffError, NoSuchPlaneError, UnsupportedFormatError
from ometiff.readers.base import Reader, region_into
from ometiff.readers.source import SeriesSource
from ometiff.readers.tiff import PAGE_ERRORS, READ_ERRORS, as_plane, decode
from ometiff.readers.tifflayout import plane_dtype
from ometiff.readers.tiles import SegmentFile, can_read_tiles, read_page_region, tile_shape
from ometiff.tiff.structure import is_tiff

if TYPE_CHECKING:
    from pathlib import Path

    from ome_types import model as m

    from ometiff.types import StrPath


@dataclass(frozen=True, slots=True)
class SlideImage:
    """One series of a whole-slide file: the slide itself or an associated image.

    Attributes
    ----------
    name
        The OME Image name ("label", "macro", or the slide's own name).
    role
        What the image is: "slide", "thumbnail", "label", "macro", "overview", "map".
    levels
        Level -> one tifffile page per channel (full resolution first).
    samples
        Samples per pixel of each plane (3 for RGB, else 1).
    dtype
        OME pixel type of the planes.
    physical
        Micrometres per pixel at level 0 (X = Y), or None when the file states none.
    channels
        Keyword arguments of each OME ``Channel`` (name, color, wavelengths).
    """

    name: str
    role: str
    levels: tuple[tuple[Any, ...], ...]
    samples: int
    dtype: np.dtype
    physical: float | None = None
    channels: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def shape(self, level: int) -> tuple[int, int, int, int, int]:
        page = self.levels[level][0]
        return (1, len(self.levels[0]), 1, int(page.imagelength), int(page.imagewidth))


def page_samples(page: Any) -> int:
    """Samples per pixel of a page read as one OME channel (RGB: 3 or 4, else 1)."""
    spp = int(page.samplesperpixel)
    if spp == 1:
        return 1
    if spp in (3, 4) and int(page.photometric) in (2, 6):  # RGB, YCbCr (decoded to RGB)
        return spp
    raise UnsupportedFormatError(
        f"page {page.index}: {spp} samples per pixel with photometric "
        f"{int(page.photometric)} are not supported in a whole-slide image"
    )


def centimetre_resolution(page: Any) -> float | None:
    """Micrometres per pixel from XResolution when ResolutionUnit is centimetre.

    Scanners write real calibrations in centimetres; an inch unit is the print
    resolution default (72/96 dpi) and is not trusted (U3: never invent).
    """
    unit = page.tags.get("ResolutionUnit")
    res = page.tags.get("XResolution")
    if unit is None or res is None or int(unit.value) != 3:
        return None
    num, den = res.value if isinstance(res.value, tuple) else (res.value, 1)
    if not num or not den:
        return None
    um = 1e4 * float(den) / float(num)
    return um if math.isfinite(um) and um > 0 else None


def tiff_sniff(path: Path, suffixes: tuple[str, ...]) -> bool:
    """A whole-slide reader's first filter: one of ``suffixes``, a file, TIFF magic."""
    if not path.name.lower().endswith(suffixes) or not path.is_file():
        return False
    return is_tiff(path)


def description_sniff(path: Path, own: str, suffixes: tuple[str, ...], marker: str) -> bool:
    """``can_read`` of a whole-slide format that may also be named ``.tif``.

    A file with the format's own ending (``own``) and TIFF magic is claimed, so that
    damage is reported by its reader; a ``.tif`` must carry ``marker`` in the first
    512 characters of its first ImageDescription.
    """
    if not tiff_sniff(path, suffixes):
        return False
    if path.name.lower().endswith(own):
        return True
    from ometiff.tiff.structure import read_description

    try:
        text = read_description(path)
    except (OSError, ValueError):
        return False
    return text is not None and marker in text[:512]


class WholeSlideReader(Reader):
    """A whole-slide TIFF: the slide as a pyramid, associated images as named series.

    Subclasses implement :meth:`_images` (which pages form which image, with their
    metadata) and may override :meth:`_objective` and :meth:`_vendor_metadata`.
    """

    #: Human name of the format, for messages ("Aperio SVS").
    format_name: ClassVar[str]

    def __init__(self, path: StrPath, **options: Any) -> None:
        super().__init__(path, **options)
        self._lock = threading.Lock()
        self._segments = SegmentFile(self.path)  # tile reads (os.pread, no shared position)
        from ometiff.tiff.structure import inspect_tiff

        structure = inspect_tiff(self.path)  # the one IFD walker: a cut-short chain is damage
        if structure.problems:
            raise InvalidTiffError(
                f"{self.path}: damaged {self.format_name} file: {structure.problems[0]}"
            )
        try:
            self._tf = tifffile.TiffFile(self.path)
        except READ_ERRORS as exc:
            raise InvalidTiffError(
                f"{self.path}: not a readable {self.format_name} file: {exc}"
            ) from exc
        try:
            try:
                images = self._images(self._tf)
            except PAGE_ERRORS as exc:
                raise InvalidTiffError(
                    f"{self.path}: not a readable {self.format_name} file (truncated or "
                    f"damaged?): {exc}"
                ) from exc
            if not images or not images[0].levels or not images[0].levels[0]:
                raise InvalidTiffError(f"{self.path}: the {self.format_name} file holds no image")
            for image in images:
                for level in image.levels:
                    for page in level:
                        self._check_page(page)
        except BaseException:
            self._tf.close()
            raise
        self._slide_images = tuple(images)
        self._ome: m.OME | None = None

    def _check_page(self, page: Any) -> None:
        """A page whose pixel data lies past the end of the file is damage, found now."""
        size = self._tf.filehandle.size
        for offset, count in zip(page.dataoffsets, page.databytecounts, strict=False):
            if offset + count > size:
                raise InvalidTiffError(
                    f"{self.path}: {self.format_name} page {page.index} has pixel data past "
                    f"the end of the file ({offset + count:,} > {size:,} bytes; truncated?)"
                )

    # -- what subclasses provide -------------------------------------------------------

    @abc.abstractmethod
    def _images(self, tf: tifffile.TiffFile) -> list[SlideImage]:
        """The slide (first) and its associated images, with their metadata."""

    def _objective(self) -> tuple[float | None, str | None]:
        """(nominal magnification, objective model) the file states, else Nones."""
        return None, None

    def _microscope(self) -> tuple[str | None, str | None]:
        """(manufacturer, model) of the scanner, else Nones."""
        make = self._tf.pages.first.tags.get("Make")
        model = self._tf.pages.first.tags.get("Model")
        return (
            str(make.value).strip() if make else None,
            str(model.value).strip() if model else None,
        )

    def _vendor_metadata(self) -> dict[str, str]:
        return {}

    # -- helpers for subclasses -------------------------------------------------------

    def _image(
        self,
        name: str,
        role: str,
        levels: list[list[Any]],
        *,
        physical: float | None = None,
        channels: tuple[dict[str, Any], ...] = (),
    ) -> SlideImage:
        """A :class:`SlideImage` from pages (levels of one page per channel)."""
        first = levels[0][0]
        samples = page_samples(first)
        dtype = plane_dtype(first.dtype, f"{self.path} {name}")
        kept: list[tuple[Any, ...]] = []
        for level in levels:
            if len(level) != len(levels[0]):
                self.notes.skip(f"{name} level {len(kept)}", "channel count differs; dropped")
                continue
            if kept and any(page_samples(p) != samples for p in level):
                self.notes.skip(f"{name} level {len(kept)}", "sample count differs; dropped")
                continue
            kept.append(tuple(level))
        return SlideImage(name, role, tuple(kept), samples, dtype, physical, channels)

    # -- levels and pixels ------------------------------------------------------------

    @property
    def images(self) -> tuple[SlideImage, ...]:
        """The series: the slide first, then its associated images."""
        return self._slide_images

    def _get(self, series: int) -> SlideImage:
        if not 0 <= series < len(self._slide_images):
            raise NoSuchPlaneError(
                f"{self.path}: series {series} does not exist ({len(self._slide_images)} series)"
            )
        return self._slide_images[series]

    def level_shapes(self, series: int) -> list[tuple[int, int, int, int, int]]:
        image = self._get(series)
        return [image.shape(k) for k in range(len(image.levels))]

    def read_plane(self, series: int, t: int, c: int, z: int, *, level: int = 0) -> np.ndarray:
        self.check_plane(series, t, c, z, level=level)
        image = self._slide_images[series]
        page = image.levels[level][c]
        where = f"{self.path} series {series} ({image.name})" + (f" level {level}" if level else "")
        with self._lock:
            arr = decode(page, where=f"{where} page {page.index}")
        _, _, _, y, x = image.shape(level)
        return as_plane(
            arr, page.axes, image.samples, image.dtype, (y, x), where=f"{where} page {page.index}"
        )

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
        """A window of one plane of one level (the ``Reader.read_region`` contract); of
        tiled pages only the touched tiles are decoded (:mod:`ometiff.readers.tiles`).
        Untiled pages (strips, NDPI's JPEG) are decoded whole and cropped.
        """
        self.check_region(series, t, c, z, y0, y1, x0, x1, level=level)
        image = self._slide_images[series]
        page = image.levels[level][c]
        if page.is_ndpi or not can_read_tiles(page):
            return super().read_region(series, t, c, z, y0, y1, x0, x1, level=level, out=out)
        where = f"{self.path} series {series} level {level} page {page.index}"
        arr = read_page_region(page, y0, y1, x0, x1, read=self._segments, where=where)
        if image.samples == 1:
            arr = arr[..., 0]
        if out is not None:
            return region_into(out, arr, self.path)
        return arr if arr.dtype == image.dtype else arr.astype(image.dtype)

    def tile_shape(self, series: int, *, level: int = 0) -> tuple[int, int] | None:
        """Tile size of a level's page, None for untiled pages (decoded whole)."""
        self.check_plane(series, 0, 0, 0, level=level)
        page = self._slide_images[series].levels[level][0]
        return None if page.is_ndpi else tile_shape(page)

    def sources(self) -> list[SeriesSource]:
        out = []
        for i, image in enumerate(self._slide_images):

            def get_plane(t: int, c: int, z: int, _i: int = i) -> np.ndarray:
                return self.read_plane(_i, t, c, z)

            out.append(
                SeriesSource(image.shape(0), image.samples, image.dtype, get_plane, name=image.name)
            )
        return out

    # -- metadata ---------------------------------------------------------------------

    def ome(self) -> m.OME:
        if self._ome is None:
            self._ome = self._build_ome()
        return self._ome.model_copy(deep=True)

    def _build_ome(self) -> m.OME:
        from ome_types import model as m

        from ometiff.readers.vendor import build_pixels

        magnification, lens = self._objective()
        make, model = self._microscope()
        instrument = None
        if magnification is not None or lens is not None or make or model:
            objective = m.Objective(
                id="Objective:0:0", nominal_magnification=magnification, model=lens
            )
            microscope = m.Microscope(manufacturer=make, model=model) if make or model else None
            instrument = m.Instrument(
                id="Instrument:0", objectives=[objective], microscope=microscope
            )
            if magnification is not None:
                self.notes.map(
                    f"{self.format_name} magnification", "Instrument/Objective@NominalMagnification"
                )
            if make or model:
                self.notes.map("TIFF Make/Model", "Instrument/Microscope")
        images = []
        for i, image in enumerate(self._slide_images):
            physical = (image.physical, image.physical, None)
            pixels = build_pixels(
                i,
                shape=image.shape(0),
                samples=image.samples,
                dtype=image.dtype,
                physical=physical,
                channels=image.channels,
            )
            slide = image.role == "slide"
            images.append(
                m.Image(
                    id=f"Image:{i}",
                    name=image.name,
                    pixels=pixels,
                    instrument_ref=m.InstrumentRef(id="Instrument:0")
                    if instrument and slide
                    else None,
                    objective_settings=m.ObjectiveSettings(id="Objective:0:0")
                    if instrument and slide
                    else None,
                )
            )
        return m.OME(images=images, instruments=[instrument] if instrument else [])

    def original_metadata(self) -> dict[str, str]:
        from ometiff.readers.tiffmeta import original_tiff_metadata

        out = original_tiff_metadata(self._tf)
        out.update(self._vendor_metadata())
        return out

    def close(self) -> None:
        self._segments.close()
        self._tf.close()
