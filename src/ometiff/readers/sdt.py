"""Becker & Hickl SDT reader (``pip install "ometiff[sdt]"``, uses sdtfile).

An SDT file holds data blocks; an image block is ``(Y, X, H)``: a TCSPC decay
histogram of H lifetime bins per pixel. As in Bio-Formats, every image block is a
series, and its lifetime bins are folded into T with a ``ModuloAlongT``
annotation (Type ``lifetime``, Unit ``ps``, the bin width from sdtfile's
``times``), so SizeT = bins and SizeC = 1.

Deliberate differences from Bio-Formats 7.3.1 (``docs/vendor-formats.md``):

* Bio-Formats gives each series of a multi-block file SizeC = number of blocks,
  and every channel but the first is all zero (checked with bfconvert); we give
  each block-series its one channel.
* A block that is a single decay curve (an instrument response or point
  measurement, ``(1, H)``) is not an image: Bio-Formats shows it as a 256 x 256
  image read past the curve's data; we refuse a file with no image block.

Compressed blocks are decompressed by sdtfile when the file is opened; others are
memory-mapped.
"""

from __future__ import annotations

import zipfile
import zlib
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.readers.base import Reader
from ometiff.readers.flim import modulo_along_t, not_an_image
from ometiff.readers.source import SeriesSource
from ometiff.readers.vendor import (
    VendorFileError,
    build_pixels,
    flatten,
    opening,
    require,
    sniff_head,
)

if TYPE_CHECKING:
    from ome_types import OME

    from ometiff.types import StrPath

#: What sdtfile raises for damaged files: numpy/struct errors, zipfile's for a cut
#: compressed block, and AssertionError (it checks the setup block with assert).
_DAMAGE = (
    OSError,
    ValueError,
    KeyError,
    IndexError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    AssertionError,
)
#: SDT file header: revision (u2), info offset (i4), info length (i2), ... 42 bytes.
_HEADER_SIZE = 42
_INFO_MAGIC = b"*IDENTIFICATION"


class SdtReader(Reader):
    """Read Becker & Hickl SDT FLIM images: one series per image block."""

    name = "sdt"
    suffixes = (".sdt",)
    extra = "sdt"

    def __init__(self, path: StrPath, **options: Any) -> None:
        super().__init__(path, **options)
        sdtfile = require("sdtfile", "sdt", "Becker & Hickl SDT")
        if not self.can_read(self.path):
            raise VendorFileError(f"{self.path}: not a Becker & Hickl SDT file")
        self._file: Any = None
        with opening(self, "Becker & Hickl SDT", _DAMAGE):
            self._file = sdtfile.SdtFile(self.path, memmap=True)
            blocks = list(self._file.data)
            times = [np.asarray(t) for t in self._file.times]
        self._blocks: list[tuple[int, np.ndarray, np.ndarray]] = []
        for k, (data, t) in enumerate(zip(blocks, times, strict=True)):
            if data.ndim == 3 and data.shape[0] > 1 and data.shape[1] > 1:
                self._blocks.append((k, data, t))
            else:
                self.notes.skip(
                    f"SDT data block {k} {data.shape}", "a decay curve, not an image; not converted"
                )
        if not self._blocks:
            shapes = ", ".join(str(tuple(b.shape)) for b in blocks) or "none"
            self.close()
            raise not_an_image(
                self.path,
                f"a Becker & Hickl SDT file whose data blocks are single decay curves "
                f"(shapes {shapes}), e.g. an instrument response",
            )

    @classmethod
    def can_read(cls, path: Path) -> bool:
        """Suffix ``.sdt`` and the ``*IDENTIFICATION`` info block the header points to."""
        header = sniff_head(path, cls.suffixes, _HEADER_SIZE)
        if header is None:
            return False
        info_offs = int.from_bytes(header[2:6], "little")
        return sniff_head(path, cls.suffixes, len(_INFO_MAGIC), offset=info_offs) == _INFO_MAGIC

    def _getter(self, data: np.ndarray) -> Any:
        def get_plane(t: int, c: int, z: int) -> np.ndarray:
            return np.ascontiguousarray(data[:, :, t])

        return get_plane

    def sources(self) -> list[SeriesSource]:
        """One series per image block: (T=bins, 1, 1, Y, X)."""
        names = [im.name for im in self._ome.images]
        out = []
        for i, (_, data, _) in enumerate(self._blocks):
            y, x, h = data.shape
            out.append(SeriesSource((h, 1, 1, y, x), 1, data.dtype, self._getter(data), names[i]))
        return out

    def ome(self) -> OME:
        """Sizes, pixel type, Modulo along T (lifetime bins in ps), acquisition date."""
        return self._ome.model_copy(deep=True)

    @cached_property
    def _ome(self) -> OME:
        from ome_types import OME
        from ome_types import model as m

        images, modulos = [], []
        acquired = self._acquisition_date()
        for i, (k, data, times) in enumerate(self._blocks):
            y, x, h = data.shape
            step = float(times[1] - times[0]) * 1e12 if len(times) > 1 else None
            modulo = modulo_along_t(i, h, step)
            modulos.append(modulo)
            self.notes.map(f"SDT block {k} times", f"Image:{i} ModuloAlongT (lifetime, ps)")
            pixels = build_pixels(i, shape=(h, 1, 1, y, x), samples=1, dtype=data.dtype)
            name = self.path.name if len(self._blocks) == 1 else f"{self.path.name} #{i + 1}"
            images.append(
                m.Image(
                    id=f"Image:{i}",
                    name=name,
                    acquisition_date=acquired,
                    pixels=pixels,
                    annotation_refs=[m.AnnotationRef(id=modulo.id)],
                )
            )
        if acquired is not None:
            self.notes.map("SDT measurement date/time", "Image/AcquisitionDate")
        self.notes.skip("SDT scan geometry", "the file states no pixel size; PhysicalSize unset")
        return OME(
            images=images,
            structured_annotations=m.StructuredAnnotations(xml_annotations=modulos),
            creator="ometiff (sdtfile)",
        )

    def _acquisition_date(self) -> Any:
        from datetime import datetime

        info = self._file.measure_info
        if info is None or not len(info):
            return None
        try:
            date = bytes(info[0]["date"]).decode("ascii", "replace").strip("\x00 ")
            time = bytes(info[0]["time"]).decode("ascii", "replace").strip("\x00 ")
            return datetime.strptime(f"{date} {time}", "%Y-%m-%d %H:%M:%S")
        except (ValueError, KeyError, IndexError):
            return None

    def original_metadata(self) -> dict[str, str]:
        """The SDT info text and the first measurement description."""
        f = self._file
        out: dict[str, str] = {"info": str(f.info)}
        info = f.measure_info
        if info is not None and len(info):
            record = info[0]
            names = record.dtype.names or ()
            flatten({n: _plain(record[n]) for n in names}, "measure_info", out)
        return out

    def close(self) -> None:
        """Close the SDT file."""
        f = getattr(self, "_file", None)
        if f is not None:
            f.close()
            self._file = None


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace").strip("\x00 ")
    if isinstance(value, np.ndarray) and value.dtype.names is None:
        return value.tolist()
    if isinstance(value, np.void) or (isinstance(value, np.ndarray) and value.dtype.names):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    return value
