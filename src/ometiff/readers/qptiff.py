"""Akoya/PerkinElmer QPTIFF reader (Vectra, Polaris, PhenoImager scans).

Every page carries a ``<PerkinElmer-QPI-ImageDescription>`` XML whose
``ImageType`` says what the page is: ``FullResolution`` pages are the channels of
the slide (one page each), ``ReducedResolution`` pages its pyramid levels (again
one page per channel), and ``Thumbnail``, ``Overview`` and ``Label`` are RGB
associated images, each a named series of its own. Mapped per channel: ``Name``
(Channel Name), ``Color`` ("r,g,b", Channel Color) and ``ExposureTime`` (µs, Plane
ExposureTime); ``Objective`` ("10x") gives the Objective model and nominal
magnification; XResolution in pixels per centimetre gives the physical size of
every image (the slide, the thumbnail, the overview photograph and the label).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ometiff.errors import UnsupportedFormatError
from ometiff.ome.colour import rgba_to_ome
from ometiff.readers.tiffmeta import positive
from ometiff.readers.wholeslide import (
    SlideImage,
    WholeSlideReader,
    centimetre_resolution,
    description_sniff,
)

if TYPE_CHECKING:
    from pathlib import Path

    import tifffile
    from ome_types import model as m

_ROOT = "PerkinElmer-QPI-ImageDescription"
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
#: QPTIFF ImageType of an associated image -> its OME Image name.
_ASSOCIATED = {"Thumbnail": "thumbnail", "Overview": "overview", "Label": "label"}


def qpi_fields(description: str | None) -> dict[str, str]:
    """The top-level text fields of one page's QPI XML (``{}`` when it has none).

    The XML declares ``encoding="utf-16"`` but tifffile hands over text already
    decoded; the declaration is dropped before parsing.
    """
    if not description or _ROOT not in description[:512]:
        return {}
    from ometiff.errors import OmeXmlError
    from ometiff.ome.xml import local, parse_xml

    try:
        root = parse_xml(_DECLARATION.sub("", description), source="QPTIFF description")
    except OmeXmlError:
        return {}
    out = {}
    for child in root:
        name = local(child.tag)
        text = (child.text or "").strip()
        if name and text and len(child) == 0:
            out[name] = text
    return out


def _rgb(text: str | None) -> m.Color | None:
    parts = (text or "").split(",")
    if len(parts) != 3:
        return None
    try:
        r, g, b = (int(p) for p in parts)
    except ValueError:
        return None
    if not all(0 <= v <= 255 for v in (r, g, b)):
        return None
    from ome_types.model import Color

    return Color(rgba_to_ome(r, g, b))


class QptiffReader(WholeSlideReader):
    """Read Akoya/PerkinElmer QPTIFF multiplexed whole-slide images."""

    name = "qptiff"
    suffixes = (".qptiff", ".tif", ".tiff")
    format_name = "QPTIFF"

    @classmethod
    def can_read(cls, path: Path) -> bool:
        """A ``.qptiff`` TIFF, or a ``.tif`` whose first description is PerkinElmer-QPI XML."""
        return description_sniff(path, ".qptiff", cls.suffixes, _ROOT)

    def _images(self, tf: tifffile.TiffFile) -> list[SlideImage]:
        full: list[tuple[Any, dict[str, str]]] = []
        reduced: list[Any] = []
        associated: list[tuple[str, Any]] = []
        pages: list[Any] = list(tf.pages)
        for page in pages:
            fields = qpi_fields(page.description)
            kind = fields.get("ImageType")
            if kind == "FullResolution":
                full.append((page, fields))
            elif kind == "ReducedResolution":
                reduced.append(page)
            elif kind in _ASSOCIATED:
                associated.append((_ASSOCIATED[kind], page))
            else:
                self.notes.skip(f"QPTIFF page {page.index} ImageType {kind!r}", "not read")
        if not full:
            raise UnsupportedFormatError(f"{self.path}: no FullResolution page; not a QPTIFF")
        self._fields = full[0][1]
        nc = len(full)
        levels = [[p for p, _ in full]]
        for k in range(0, len(reduced) - len(reduced) % nc, nc):
            levels.append(reduced[k : k + nc])
        channels = []
        for _, fields in full:
            ch: dict[str, Any] = {"name": fields.get("Name"), "color": _rgb(fields.get("Color"))}
            channels.append(ch)
        self.notes.map("QPTIFF Name, Color", "Image:0/Channel@Name, Color")
        self._exposures = [positive(f.get("ExposureTime")) for _, f in full]
        name = self._fields.get("SlideID") or self.path.stem
        physical = centimetre_resolution(full[0][0])
        images = [self._image(name, "slide", levels, physical=physical, channels=tuple(channels))]
        for role, page in associated:
            images.append(self._image(role, role, [[page]], physical=centimetre_resolution(page)))
        if physical is not None:
            self.notes.map("TIFF XResolution (cm)", "Pixels@PhysicalSizeX/Y (each image)")
        return images

    def _objective(self) -> tuple[float | None, str | None]:
        lens = self._fields.get("Objective")
        match = re.fullmatch(r"\s*([0-9.]+)\s*[xX]\s*", lens or "")
        return (positive(match.group(1)) if match else None), lens

    def _build_ome(self) -> m.OME:
        from ome_types import model as m

        ome = super()._build_ome()
        pixels = ome.images[0].pixels
        if any(e is not None for e in self._exposures):
            pixels.planes = [
                m.Plane(
                    the_t=0,
                    the_z=0,
                    the_c=c,
                    exposure_time=e,
                    exposure_time_unit=m.UnitsTime.MICROSECOND,
                )
                for c, e in enumerate(self._exposures)
            ]
            self.notes.map("QPTIFF ExposureTime (µs)", "Image:0/Plane@ExposureTime")
        return ome

    def _vendor_metadata(self) -> dict[str, str]:
        return {f"QPTIFF {k}": v for k, v in self._fields.items()}
