"""Hamamatsu NDPI reader: the slide as a pyramid, macro and its mask as named series.

The layout comes from tifffile's NDPI series (``Baseline`` with every reduced
level, ``Macro``, ``Map``); NDPI's full-resolution JPEG (one huge JPEG with restart
markers) is decoded by tifffile/imagecodecs. Metadata from the NDPI tags:

* physical size: XResolution in pixels per centimetre (ResolutionUnit 3) of each
  image, so the macro photograph of the whole slide gets its own, real size;
* magnification (tag 65421) -> Objective NominalMagnification;
* fluorescence filter name (tag 65434) -> the Channel name, emission wavelength
  (tag 65451) -> Channel EmissionWavelength;
* the rest (slide-centre offsets, scanner properties of tag 65449) is kept as
  original metadata only.

Bio-Formats names the macro "macro image" and the map "macro mask image" and
gives them physical sizes of reduced pyramid levels; see docs/vendor-formats.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ometiff.readers.tiffmeta import positive
from ometiff.readers.wholeslide import (
    SlideImage,
    WholeSlideReader,
    centimetre_resolution,
    tiff_sniff,
)

if TYPE_CHECKING:
    from pathlib import Path

    import tifffile

_NDPI_FORMAT_FLAG = 65420
#: tifffile NDPI series name -> OME Image name of an associated image.
_ASSOCIATED = {"Macro": "macro", "Map": "macro mask"}


class NdpiReader(WholeSlideReader):
    """Read Hamamatsu NDPI whole-slide images."""

    name = "ndpi"
    suffixes = (".ndpi",)
    format_name = "Hamamatsu NDPI"

    @classmethod
    def can_read(cls, path: Path) -> bool:
        """A ``.ndpi`` TIFF file (the NDPI format flag is checked on opening)."""
        return tiff_sniff(path, cls.suffixes)

    def _images(self, tf: tifffile.TiffFile) -> list[SlideImage]:
        first = tf.pages.first
        if _NDPI_FORMAT_FLAG not in first.tags:
            from ometiff.errors import UnsupportedFormatError

            raise UnsupportedFormatError(
                f"{self.path}: no NDPI format flag (tag 65420); not a Hamamatsu NDPI file"
            )
        self._tags: dict[str, Any] = dict(first.ndpi_tags or {})
        series = list(tf.series)
        main = series[0]
        if len(main.pages) > 1:  # multi-focal-plane scans: one page per focal plane
            self.notes.skip(
                f"NDPI focal planes ({len(main.pages)})", "only the first focal plane is read"
            )
        channel: dict[str, Any] = {}
        fluor = self._tags.get("Fluorescence")
        if fluor:
            channel["name"] = str(fluor)
            self.notes.map("NDPI Fluorescence (tag 65434)", "Image:0/Channel:0@Name")
        emission = positive(first.tags[65451].value) if 65451 in first.tags else None
        if emission is not None:
            from ome_types.model import UnitsLength

            channel["emission_wavelength"] = emission
            channel["emission_wavelength_unit"] = UnitsLength.NANOMETER
            self.notes.map(
                "NDPI emission wavelength (tag 65451)", "Image:0/Channel:0@EmissionWavelength"
            )
        physical = centimetre_resolution(first)
        if physical is not None:
            self.notes.map("TIFF XResolution (cm)", "Pixels@PhysicalSizeX/Y (each image)")
        images = [
            self._image(
                self.path.stem,
                "slide",
                [[lv.pages[0]] for lv in main.levels],
                physical=physical,
                channels=(channel,) if channel else (),
            )
        ]
        for s in series[1:]:
            role = _ASSOCIATED.get(s.name)
            if role is None:
                self.notes.skip(f"NDPI series {s.name!r}", "not a known associated image")
                continue
            page = s.pages[0]
            images.append(
                self._image(
                    role, role.replace(" ", "-"), [[page]], physical=centimetre_resolution(page)
                )
            )
        for key in ("XOffsetFromSlideCenter", "YOffsetFromSlideCenter"):
            if key in self._tags:
                self.notes.skip(f"NDPI {key}", "kept in the original metadata only")
        return images

    def _objective(self) -> tuple[float | None, str | None]:
        return positive(self._tags.get("Magnification")), None

    def _vendor_metadata(self) -> dict[str, str]:
        out = {}
        for key, value in self._tags.items():
            if key == "McuStarts":
                continue  # JPEG restart offsets: layout, not metadata
            out[f"NDPI {key}"] = str(value)
        props = self._tf.pages.first.tags.get(65449)
        if props is not None:
            for line in str(props.value).splitlines():
                k, sep, v = line.partition("=")
                if sep and k.strip():
                    out[f"NDPI {k.strip()}"] = v.strip()
        return out
