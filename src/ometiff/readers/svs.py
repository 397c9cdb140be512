"""Aperio SVS reader: the slide as a pyramid, thumbnail/label/macro as named series.

The layout is Aperio's (:func:`svs_layout`): the full-resolution tiled page and
its tiled reduced levels form the pyramid; the thumbnail (the stripped page after
the first), the label and the macro become series of their own. The metadata is
ImageDescription of the first page, ``Aperio Image Library ...|key = value|...``:
``MPP`` is the pixel size in µm of level 0 and ``AppMag`` the objective
magnification. Tiles are JPEG or JPEG 2000 (Aperio compressions 33003/33005),
decoded by imagecodecs. Bio-Formats agrees on the slide and its levels; where it
differs (an associated image it leaves out), see docs/vendor-formats.md.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ometiff.readers.tiffmeta import positive
from ometiff.readers.wholeslide import SlideImage, WholeSlideReader, description_sniff

if TYPE_CHECKING:
    from pathlib import Path

    import tifffile

#: the associated images, in the order they become series
_ROLES = ("thumbnail", "label", "macro")


def svs_layout(tf: tifffile.TiffFile) -> tuple[list[Any], list[tuple[str, Any]]]:
    """(pyramid pages, full resolution first; [(role, page)] of associated images).

    Aperio's layout: IFD 0 is the full-resolution tiled image, IFD 1 the stripped
    thumbnail, then the tiled reduced levels; the label and the macro photograph
    say so in their description ("label 387x463", "macro 1280x431").
    """
    pages: list[Any] = list(tf.pages)
    levels = [pages[0]]
    found: dict[str, Any] = {}
    for page in pages[1:]:
        head = (page.description or "").lower().split("|")[0]
        role = next((r for r in ("label", "macro") if r in head), None)
        if role is None and page.is_tiled and page.imagewidth < levels[-1].imagewidth:
            levels.append(page)
            continue
        if role is None and "thumbnail" not in found and not page.is_tiled:
            role = "thumbnail"
        if role is not None and role not in found:
            found[role] = page
    return levels, [(r, found[r]) for r in _ROLES if r in found]


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
        levels, associated = svs_layout(tf)
        mpp = positive(self._fields.get("MPP"))
        if mpp is not None:
            self.notes.map("Aperio MPP", "Image:0/Pixels@PhysicalSizeX/Y")
        else:
            self.notes.skip("Aperio MPP", "not in the description; physical sizes left unset")
        images = [self._image(self.path.stem, "slide", [[p] for p in levels], physical=mpp)]
        for role, page in associated:
            images.append(self._image(role, role, [[page]]))
            self.notes.map(f"SVS {role} image (IFD {page.index})", f"Image:{len(images) - 1}")
        return images

    def _objective(self) -> tuple[float | None, str | None]:
        return positive(self._fields.get("AppMag")), None

    def _vendor_metadata(self) -> dict[str, Any]:
        out = {f"Aperio {k}": v for k, v in self._fields.items()}
        first = (self._tf.pages.first.description or "").split("|")[0]
        out["Aperio header"] = re.sub(r"\s+", " ", first).strip()
        return out
