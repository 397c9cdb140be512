"""Aperio SVS reader: the slide as a pyramid, thumbnail/label/macro as named series.

The layout comes from tifffile's SVS series (``Baseline`` with its reduced
levels, then ``Thumbnail``, ``Label``, ``Macro``); the metadata from the
ImageDescription of the first page, ``Aperio Image Library ...|key = value|...``:
``MPP`` is the pixel size in µm of level 0 and ``AppMag`` the objective
magnification. Tiles are JPEG or JPEG 2000 (Aperio compressions 33003/33005),
decoded by imagecodecs. Bio-Formats agrees on the slide and its levels; where it
differs (an associated image it leaves out), see docs/vendor-formats.md.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ometiff.readers.tiffmeta import _positive
from ometiff.readers.wholeslide import SlideImage, WholeSlideReader, description_sniff

if TYPE_CHECKING:
    from pathlib import Path

    import tifffile

#: tifffile SVS series name -> OME Image name of an associated image.
_ASSOCIATED = {"Thumbnail": "thumbnail", "Label": "label", "Macro": "macro"}


def aperio_fields(description: str) -> dict[str, str]:
    """``key = value`` fields of an Aperio ImageDescription (after the first ``|``)."""
    out = {}
    for part in description.split("|")[1:]:
        key, sep, value = part.partition("=")
        if sep and key.strip():
            out[key.strip()] = value.strip()
    return out


class SvsReader(WholeSlideReader):
    """Read Aperio SVS whole-slide images."""

    name = "svs"
    suffixes = (".svs", ".tif", ".tiff")
    format_name = "Aperio SVS"

    @classmethod
    def can_read(cls, path: Path) -> bool:
        """A ``.svs`` TIFF, or a ``.tif`` whose first ImageDescription names ``Aperio``."""
        return description_sniff(path, ".svs", cls.suffixes, "Aperio")

    def _images(self, tf: tifffile.TiffFile) -> list[SlideImage]:
        desc = tf.pages.first.description or ""
        self._fields = aperio_fields(desc)
        if not tf.is_svs:
            self.notes.skip("Aperio layout", "first page is not tiled; read as one level")
        series = list(tf.series)
        main = series[0]
        mpp = _positive(self._fields.get("MPP"))
        if mpp is not None:
            self.notes.map("Aperio MPP", "Image:0/Pixels@PhysicalSizeX/Y")
        else:
            self.notes.skip("Aperio MPP", "not in the description; physical sizes left unset")
        images = [self._image(self.path.stem, "slide",
                              [[lv.pages[0]] for lv in main.levels], physical=mpp)]
        for s in series[1:]:
            role = _ASSOCIATED.get(s.name)
            if role is None:
                self.notes.skip(f"SVS series {s.name!r}", "not a known associated image")
                continue
            images.append(self._image(role, role, [[s.pages[0]]]))
            self.notes.map(f"SVS {s.name} image", f"Image:{len(images) - 1} ({role})")
        return images

    def _objective(self) -> tuple[float | None, str | None]:
        return _positive(self._fields.get("AppMag")), None

    def _vendor_metadata(self) -> dict[str, Any]:
        out = {f"Aperio {k}": v for k, v in self._fields.items()}
        first = (self._tf.pages.first.description or "").split("|")[0]
        out["Aperio header"] = re.sub(r"\s+", " ", first).strip()
        return out
