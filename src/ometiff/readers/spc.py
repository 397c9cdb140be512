"""Becker & Hickl SPC FIFO files: recognised and refused, they hold no image.

A ``.spc`` file is the raw photon stream of a TCSPC FIFO measurement: one record
per photon (macro time, micro time, routing channel) and marker records. It has
no image: an image exists only after the photons are binned with the scan
markers and the settings of a ``.set`` file, which SPCM does when it saves an
``.sdt``. Bio-Formats does not read ``.spc`` either (``UnknownFormatException``).
This reader exists so that such a file gets one clear "not an image" message
instead of "no reader accepts this input".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from ometiff.readers.base import Reader
from ometiff.readers.flim import not_an_image
from ometiff.readers.vendor import sniff_head

if TYPE_CHECKING:
    from pathlib import Path

    from ome_types import OME

    from ometiff.readers.source import SeriesSource
    from ometiff.types import StrPath

#: First record of an SPC-134/140/150/830 FIFO file: bits 0-23 the macro time
#: clock in units of 0.1 ns, bits 24-27 the number of routing bits, bit 31 set.
_HEADER_FLAG = 0x80000000


class SpcReader(Reader):
    """Recognise Becker & Hickl SPC FIFO photon streams and refuse them."""

    name = "spc"
    suffixes = (".spc",)

    def __init__(self, path: StrPath, **options: Any) -> None:
        super().__init__(path, **options)
        raise not_an_image(
            self.path,
            "a Becker & Hickl SPC FIFO photon stream (TCSPC photon records, e.g. FCS "
            "or a point measurement); image data comes from the .sdt file SPCM saves",
        )

    @classmethod
    def can_read(cls, path: Path) -> bool:
        """Suffix ``.spc`` and a FIFO header record (flag bit set, clock > 0)."""
        head = sniff_head(path, cls.suffixes, 4)
        if head is None:
            return False
        word = int.from_bytes(head, "little")
        return bool(word & _HEADER_FLAG) and (word & 0xFFFFFF) > 0

    def ome(self) -> OME:  # pragma: no cover - the constructor always refuses
        """Never reached: an SPC file holds no image."""
        self._refuse()

    def sources(self) -> list[SeriesSource]:  # pragma: no cover - as ome()
        """Never reached: an SPC file holds no image."""
        self._refuse()

    def _refuse(self) -> NoReturn:
        raise not_an_image(self.path, "a Becker & Hickl SPC FIFO photon stream")
