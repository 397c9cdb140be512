"""The TIFF structure of a file: header, IFD chain, SubIFDs, key tags.

tifffile parses every tag of every page into Python objects, which takes ~4 s for
a 30,000-IFD file; inspection needs ~15 tags per IFD, so this module walks the IFD
chain itself with ``struct`` on a memory map (a fast path beside tifffile, which
still does all pixel I/O and the ``--tags`` dump). The walker is defensive:
offsets are bounds-checked, IFD loops are detected (each offset is visited once),
and a damaged chain yields the readable part plus a list of problems.
"""

from __future__ import annotations

import enum
import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ometiff.errors import FileAccessError, InvalidTiffError, MissingFileError
from ometiff.tiff.names import (
    COMPRESSION_NAMES,
    PHOTOMETRIC_NAMES,
    description_kind,
    has_tiff_magic,
)

if TYPE_CHECKING:
    from ometiff.types import StrPath

#: TIFF field type -> size in bytes.
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
TYPE_SIZES |= {16: 8, 17: 8, 18: 8}  # BigTIFF: LONG8, SLONG8, IFD8
_INT_FORMATS = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 13: "I", 16: "Q", 17: "q", 18: "Q"}

MAX_IFDS = 5_000_000
#: Tags that must hold one value (with _TAG_NAMES' others): tifffile computes with them.
_SCALAR_SHAPE_TAGS = {
    256: "ImageWidth",
    257: "ImageLength",
    277: "SamplesPerPixel",
    278: "RowsPerStrip",
    322: "TileWidth",
    323: "TileLength",
}
#: Known TIFF field types whose values are not integers for tifffile (it then compares or
#: multiplies a str, bytes, tuple or float). BYTE is one: tifffile returns its values as
#: ``bytes``. Unknown types are skipped by tifffile.
_NOT_INT_TYPES = frozenset({1, 2, 5, 7, 10, 11, 12})
_TAG_NAMES = {
    **_SCALAR_SHAPE_TAGS,
    259: "Compression",
    262: "PhotometricInterpretation",
    284: "PlanarConfiguration",
}
#: Tags whose loss changes what a file is: tifffile drops a tag whose value lies past
#: the end of the file (with a log line) and reads on, so a truncated OME-TIFF whose
#: OME-XML was cut off would be read as a plain TIFF and its metadata silently lost.
_VITAL_VALUE_TAGS = {
    270: "ImageDescription",
    273: "StripOffsets",
    279: "StripByteCounts",
    324: "TileOffsets",
    325: "TileByteCounts",
    330: "SubIFDs",
}
#: Integers tifffile computes with, of one value or several: where the pixel data is,
#: the samples' bits and format, and the other tags it keeps as page attributes.
_NUMBER_TAGS = {
    273: "StripOffsets",
    279: "StripByteCounts",
    324: "TileOffsets",
    325: "TileByteCounts",
    258: "BitsPerSample",
    339: "SampleFormat",
    255: "SubfileType",
    266: "FillOrder",
    317: "Predictor",
    330: "SubIFDs",
    338: "ExtraSamples",
    530: "YCbCrSubSampling",
    32997: "ImageDepth",
    32998: "TileDepth",
}


@dataclass(frozen=True, slots=True)
class IfdInfo:
    """Key facts of one IFD (image file directory).

    IFDs with identical layout and texts share one object; their positions and offsets are
    in :attr:`TiffStructure.offsets`.
    """

    width: int
    height: int
    bits_per_sample: int
    sample_format: int
    samples_per_pixel: int
    photometric: int | None
    planar_config: int
    compression: int
    tile_width: int | None
    tile_length: int | None
    rows_per_strip: int | None
    new_subfile_type: int
    subifd_offsets: tuple[int, ...]
    subifds: tuple[IfdInfo, ...]
    description_kind: str | None
    description_preview: str | None
    description_length: int
    tags: tuple[int, ...]
    software: str | None = None

    @property
    def dtype(self) -> str | None:
        """numpy dtype name of a sample, or None when unusual."""
        bits, fmt = self.bits_per_sample, self.sample_format
        if fmt == 1 and bits in (8, 16, 32, 64):
            return f"uint{bits}"
        if fmt == 1 and bits == 1:
            return "bool"
        if fmt == 2 and bits in (8, 16, 32, 64):
            return f"int{bits}"
        if fmt == 3 and bits in (16, 32, 64):
            return f"float{bits}"
        if fmt == 6 and bits in (64, 128):
            return f"complex{bits}"
        if fmt == 1:
            return f"uint{bits}"
        return None

    @property
    def compression_name(self) -> str:
        """Readable name of the compression scheme."""
        return COMPRESSION_NAMES.get(self.compression, f"compression {self.compression}")

    @property
    def photometric_name(self) -> str:
        """Readable name of PhotometricInterpretation."""
        if self.photometric is None:
            return "missing"
        return PHOTOMETRIC_NAMES.get(self.photometric, f"photometric {self.photometric}")

    @property
    def layout(self) -> str:
        """'tiles WxH' or 'strips (N rows)'."""
        if self.tile_width:
            return f"tiles {self.tile_width}x{self.tile_length}"
        if self.rows_per_strip and self.rows_per_strip < self.height:
            return f"strips of {self.rows_per_strip} rows"
        return "strips"

    def summary_key(self) -> tuple[object, ...]:
        """What must be equal for two IFDs to be summarised as one run."""
        return (
            self.width,
            self.height,
            self.bits_per_sample,
            self.sample_format,
            self.samples_per_pixel,
            self.photometric,
            self.planar_config,
            self.compression,
            self.tile_width,
            self.tile_length,
            self.new_subfile_type,
            tuple((s.width, s.height) for s in self.subifds),
            self.description_kind,
        )


@dataclass(frozen=True, slots=True)
class TiffStructure:
    """The structure of one TIFF file."""

    path: Path
    byte_order: str  # "<" little-endian (II) or ">" big-endian (MM)
    bigtiff: bool
    file_size: int
    ifds: tuple[IfdInfo, ...]
    offsets: tuple[int, ...]
    description: str | None  # IFD0 ImageDescription, whole
    description_utf8: bool
    problems: tuple[str, ...] = field(default=())
    #: Problems that make tifffile fail in ways it does not report as a bad file
    #: (a tuple ImageWidth, a zero tile edge): the file is refused before tifffile
    #: sees it (:func:`check_tifffile_safe`). Also listed in ``problems``.
    hazards: tuple[str, ...] = field(default=())

    @property
    def ifd_count(self) -> int:
        """IFDs in the main chain."""
        return len(self.ifds)

    def runs(self) -> list[tuple[int, int, IfdInfo]]:
        """Runs of consecutive IFDs that look alike: (first, last, representative)."""
        out: list[tuple[int, int, IfdInfo]] = []
        prev: IfdInfo | None = None
        prev_key: tuple[object, ...] | None = None
        for index, ifd in enumerate(self.ifds):
            if ifd is prev and index > 1:
                first, _, rep = out[-1]
                out[-1] = (first, index, rep)
                continue
            key = ifd.summary_key()
            if out and key == prev_key and index > 1:
                first, _, rep = out[-1]
                out[-1] = (first, index, rep)
            else:
                out.append((index, index, ifd))
            prev, prev_key = ifd, key
        return out


class _Walker:
    """Reads IFDs from a buffer; records problems instead of failing where it can."""

    def __init__(self, buf: mmap.mmap | bytes, path: Path) -> None:
        self.buf = buf
        self.size = len(buf)
        self.path = path
        head = bytes(buf[:16])
        if len(head) < 8:
            raise InvalidTiffError(
                f"{path}: not a TIFF file ({self.size} bytes, too short for a TIFF header)"
            )
        if head[:2] == b"II":
            self.bo = "<"
        elif head[:2] == b"MM":
            self.bo = ">"
        else:
            raise InvalidTiffError(
                f"{path}: not a TIFF file (starts with {head[:4]!r}, expected 'II' or 'MM')"
            )
        (magic,) = struct.unpack(self.bo + "H", head[2:4])
        if magic == 42:
            self.big = False
            (self.first,) = struct.unpack(self.bo + "I", head[4:8])
        elif magic == 43:
            if len(head) < 16:
                raise InvalidTiffError(f"{path}: truncated BigTIFF header")
            self.big = True
            (self.first,) = struct.unpack(self.bo + "Q", head[8:16])
        else:
            raise InvalidTiffError(
                f"{path}: not a TIFF file (magic number {magic}, expected 42 or 43)"
            )
        self.entry = struct.Struct(self.bo + ("HHQ8s" if self.big else "HHI4s"))
        self.count_fmt = struct.Struct(self.bo + ("Q" if self.big else "H"))
        self.next_fmt = struct.Struct(self.bo + ("Q" if self.big else "I"))
        #: an entry's count and value-or-offset, read as integers
        self.text_pointer = struct.Struct(self.bo + ("QQ" if self.big else "II"))
        self.count_size = 8 if self.big else 4
        self.inline = 8 if self.big else 4
        self.visited: set[int] = set()
        self.problems: list[str] = []
        self.hazards: list[str] = []

    def hazard(self, message: str) -> None:
        """A problem that makes the file unreadable for tifffile (see ``TiffStructure.hazards``)."""
        self.problems.append(message)
        self.hazards.append(message)

    # values ------------------------------------------------------------------
    def _raw(self, typ: int, count: int, value: bytes) -> bytes | None:
        size = TYPE_SIZES.get(typ, 1) * count
        if size <= self.inline:
            return value[:size]
        (offset,) = struct.unpack(self.bo + ("Q" if self.big else "I"), value)
        if offset + size > self.size:
            return None
        return bytes(self.buf[offset : offset + size])

    def _check_value_within(self, name: str, tag: int, typ: int, count: int, value: bytes) -> None:
        """A hazard (C1) when a vital tag's value runs past the end of the file."""
        size = TYPE_SIZES.get(typ, 1) * count
        if size <= self.inline:
            return
        (at,) = struct.unpack(self.bo + ("Q" if self.big else "I"), value)
        if at + size > self.size:
            self.hazard(
                f"{name}: tag {tag} ({_VITAL_VALUE_TAGS[tag]}): its {size:,} bytes at offset "
                f"{at:,} lie beyond the end of the file ({self.size:,} bytes): file truncated?"
            )

    def _ints(self, typ: int, count: int, value: bytes, limit: int = 1 << 20) -> tuple[int, ...]:
        fmt = _INT_FORMATS.get(typ)
        if fmt is None or count > limit:
            return ()
        raw = self._raw(typ, count, value)
        if raw is None:
            return ()
        return struct.unpack(f"{self.bo}{count}{fmt}", raw)

    def _ascii_head(self, count: int, value: bytes, limit: int) -> tuple[bytes, int]:
        if count <= self.inline:
            return value[:count], count
        (offset,) = struct.unpack(self.bo + ("Q" if self.big else "I"), value)
        end = min(offset + min(count, limit), self.size)
        return bytes(self.buf[offset:end]), count

    # IFDs ----------------------------------------------------------------------
    def read_ifd(
        self,
        offset: int,
        index: int,
        *,
        full_description: bool,
        depth: int = 0,
        label: str | None = None,
    ) -> tuple[IfdInfo | None, int]:
        """Parse the IFD at ``offset``; return it and the next IFD's offset (0 = end).

        ``label`` names it in problems when it is not main-chain IFD ``index``
        (a SubIFD: ``"IFD 0 SubIFD 1"``).
        """
        name = label or f"IFD {index}"
        header = self.count_fmt.size
        if offset + header > self.size:
            self.problems.append(
                f"{name} at offset {offset} lies beyond the end of the file ({self.size} bytes): file truncated?"
            )
            return None, 0
        (n,) = self.count_fmt.unpack_from(self.buf, offset)
        entry_size = self.entry.size
        end = offset + header + n * entry_size
        if n == 0 or n > 10000 or end + self.next_fmt.size > self.size:
            self.problems.append(
                f"{name} at offset {offset} is damaged ({n} entries, file of {self.size} bytes)"
            )
            return None, 0
        width = height = 0
        bits = 1
        sample_format = 1
        spp = 1
        photometric: int | None = None
        planar = 1
        compression = 1
        tile_w = tile_l = rows = None
        nst = 0
        subifd_offsets: tuple[int, ...] = ()
        desc_kind: str | None = None
        desc_preview: str | None = None
        desc_len = 0
        desc_full: bytes | None = None
        software: str | None = None
        tags: list[int] = []
        unpack = self.entry.unpack_from
        buf = self.buf
        for k in range(n):
            tag, typ, count, value = unpack(buf, offset + header + k * entry_size)
            tags.append(tag)
            if tag in _VITAL_VALUE_TAGS and (tag != 270 or desc_kind is None):
                self._check_value_within(name, tag, typ, count, value)
            if tag in (256, 257, 277, 284, 259, 262, 254, 278, 322, 323):
                if typ in _NOT_INT_TYPES and tag != 254:
                    # an ASCII or RATIONAL SamplesPerPixel: tifffile compares a str
                    self.hazard(
                        f"{name}: tag {tag} ({_TAG_NAMES.get(tag, tag)}) has "
                        f"field type {typ}, not an integer type"
                    )
                elif count != 1 and tag in _TAG_NAMES and typ in _INT_FORMATS:
                    # tifffile then computes with a tuple and fails with TypeError
                    self.hazard(
                        f"{name}: tag {tag} ({_TAG_NAMES[tag]}) has {count} values, expected 1"
                    )
                vals = self._ints(typ, 1, value) if count >= 1 else ()
                v = vals[0] if vals else 0
                if tag == 256:
                    width = v
                elif tag == 257:
                    height = v
                elif tag == 277:
                    spp = v
                elif tag == 284:
                    planar = v
                elif tag == 259:
                    compression = v
                elif tag == 262:
                    photometric = v
                elif tag == 254:
                    nst = v
                elif tag == 278:
                    rows = v
                elif tag == 322:
                    tile_w = v
                elif tag == 323:
                    tile_l = v
            elif tag in _NUMBER_TAGS and typ in _NOT_INT_TYPES:
                # tifffile adds a str or tuple to an offset, subtracts str bits (TypeError)
                self.hazard(
                    f"{name}: tag {tag} ({_NUMBER_TAGS[tag]}) has field type {typ}, "
                    "not an integer type"
                )
            elif tag == 258:
                vals = self._ints(typ, min(count, 64), value) if count <= 64 else ()
                bits = vals[0] if vals else 0
            elif tag == 339:
                vals = self._ints(typ, min(count, 64), value) if count <= 64 else ()
                sample_format = vals[0] if vals else 1
                if count == 0 or len(set(vals[:spp])) > 1:
                    # tifffile takes int() of the tuple of differing formats (TypeError)
                    self.hazard(
                        f"{name}: tag 339 (SampleFormat) has {count} values "
                        f"{tuple(vals[:4])}; expected one format for all samples"
                    )
            elif tag == 330:
                subifd_offsets = self._ints(18 if typ in (16, 18) else 4, count, value, limit=4096)
            elif tag == 270 and typ in (2, 7, 1) and desc_kind is None:  # X1: the first one
                desc_len = count
                raw, _ = self._ascii_head(count, value, limit=count if full_description else 256)
                if full_description:
                    desc_full = raw
                desc_preview_raw = raw[:256]
                desc_kind = description_kind(desc_preview_raw, raw)
                desc_preview, _ = decode_description(desc_preview_raw[:120])
            elif tag == 305 and typ == 2:
                raw, _ = self._ascii_head(count, value, limit=200)
                software = raw.rstrip(b"\x00").decode("latin-1")
        (next_offset,) = self.next_fmt.unpack_from(buf, end)
        subifds: list[IfdInfo] = []
        if subifd_offsets and depth == 0:
            # P-2: the N offsets a SubIFDs tag lists are this plane's N levels. Their
            # NextIFD pointers are not levels: Bio-Formats chains each level's SubIFDs
            # across planes (plane 0 level 1 -> plane 1 level 1 -> ...), and tifffile
            # and Bio-Formats ignore those pointers too. Only a listed offset that was
            # already read (a main-chain IFD or another plane's level) is reported.
            for j, sub in enumerate(subifd_offsets):
                if sub in self.visited:
                    self.problems.append(
                        f"IFD {index}: SubIFD {j} points to offset {sub}, "
                        "which was already read as another IFD; skipped"
                    )
                    continue
                self.visited.add(sub)
                info_sub, _ = self.read_ifd(
                    sub, -1, full_description=False, depth=1, label=f"IFD {index} SubIFD {j}"
                )
                if info_sub is None:
                    break
                subifds.append(info_sub)
        for code, size in ((256, width), (257, height)):
            if size == 0 and code in tags:  # tifffile reads a plane of no pixels
                self.hazard(
                    f"{name}: tag {code} ({_TAG_NAMES[code]}) is 0; an image has at least one pixel"
                )
        if (tile_w is not None or tile_l is not None) and not (tile_w and tile_l):
            # tifffile divides by the tile edge when decoding (ZeroDivisionError)
            self.hazard(
                f"{name}: tile of {tile_w or 0}×{tile_l or 0} pixels; "
                "TileWidth and TileLength must both be positive"
            )
        info = IfdInfo(
            width=width,
            height=height,
            bits_per_sample=bits,
            sample_format=sample_format,
            samples_per_pixel=spp,
            photometric=photometric,
            planar_config=planar,
            compression=compression,
            tile_width=tile_w,
            tile_length=tile_l,
            rows_per_strip=rows,
            new_subfile_type=nst,
            subifd_offsets=tuple(subifd_offsets),
            subifds=tuple(subifds),
            description_kind=desc_kind,
            description_preview=desc_preview,
            description_length=desc_len,
            tags=tuple(tags),
            software=software,
        )
        if desc_full is not None:
            self.description0: bytes | None = desc_full
        return info, next_offset

    def walk(self, *, max_ifds: int = MAX_IFDS) -> list[IfdInfo]:
        self.description0 = None
        self.offsets: list[int] = []
        ifds: list[IfdInfo] = []
        offset = self.first
        template: _Template | None = None
        next_offset = 0
        if offset == 0:
            self.problems.append("the header points to no IFD (offset 0): the file holds no image")
        while offset:
            if offset in self.visited:
                target = self.offsets.index(offset) if offset in self.offsets else None
                where = f"IFD {target}" if target is not None else f"offset {offset}"
                self.problems.append(
                    f"IFD loop: IFD {len(ifds) - 1} points back to {where}; chain cut after {len(ifds)} IFDs"
                )
                break
            if len(ifds) >= max_ifds:
                self.problems.append(f"more than {max_ifds} IFDs; stopped reading")
                break
            self.visited.add(offset)
            info = None
            if template is not None:
                info, next_offset = self._like_template(offset, template)
                if info is not None:
                    ifds.append(info)
                    self.offsets.append(offset)
                    # the IFDs that follow usually share the layout too: a tight loop
                    offset = self._run_of_template(next_offset, template, ifds, max_ifds)
                    continue
            if info is None:
                info, next_offset = self.read_ifd(offset, len(ifds), full_description=not ifds)
                if info is None:
                    break
                template = self._template(info, offset) if not info.subifd_offsets else None
            ifds.append(info)
            self.offsets.append(offset)
            offset = next_offset
        return ifds

    # A file with thousands of IFDs repeats one layout: entries that differ only
    # in per-IFD pointers (strip/tile offsets and counts, out-of-line values).
    # Such an IFD is recognised by comparing its masked entry block as one integer
    # with the previous full parse, and reuses that parse (index/offset replaced).
    # Texts (ImageDescription, Software) are per-IFD pointers too, but they are shown
    # per IFD: their first bytes are compared as well, so IFDs 1..N of a Bio-Formats
    # file (a short "ImageJ=" text) do not borrow IFD 0's OME-XML record.
    _VARIABLE_TAGS = frozenset({273, 279, 324, 325, 270, 305, 306})
    _TEXT_TAGS = frozenset({270, 305})

    def _template(self, info: IfdInfo, offset: int) -> _Template | None:
        header = self.count_fmt.size
        n = len(info.tags)
        es = self.entry.size
        block = bytes(self.buf[offset + header : offset + header + n * es])
        if len(block) != n * es:
            return None
        mask = bytearray(b"\xff" * len(block))
        value_at = 4 if not self.big else 12
        texts: list[int] = []
        for k in range(n):
            tag, typ, count, _ = self.entry.unpack_from(block, k * es)
            if tag in self._VARIABLE_TAGS or TYPE_SIZES.get(typ, 1) * count > self.inline:
                mask[k * es + value_at : (k + 1) * es] = bytes(es - value_at)
            if tag in self._TEXT_TAGS:
                texts.append(header + k * es)
        mask_int = int.from_bytes(mask, "little")
        return _Template(
            n,
            mask_int,
            int.from_bytes(block, "little") & mask_int,
            info,
            self._texts(offset, texts),
        )

    def _texts(self, offset: int, entries: list[int]) -> tuple[tuple[int, int, bytes], ...]:
        """(where its count is, length, first 256 bytes) of each text tag at ``offset``."""
        out = []
        for at in entries:
            _, _, count, value = self.entry.unpack_from(self.buf, offset + at)
            out.append((at + 4, count, self._ascii_head(count, value, limit=256)[0]))
        return tuple(out)

    def _run_of_template(
        self, offset: int, template: _Template, ifds: list[IfdInfo], max_ifds: int
    ) -> int:
        """Append the IFDs from ``offset`` on that match ``template`` (what
        :meth:`_like_template` checks, inlined: this runs once per IFD of 30,000-IFD
        chains); return the offset of the first one that does not (or 0).

        Offsets that only grow cannot loop, so they are added to ``visited`` in one
        go on leaving; an offset at or before the previous one is left to :meth:`walk`.
        """
        buf, size, offsets = self.buf, self.size, self.offsets
        first = len(offsets)
        last = offsets[-1] if offsets else -1
        info, mask, masked, texts = template.info, template.mask, template.masked, template.texts
        start = self.count_fmt.size  # the count is compared with the entries
        count_bytes = template.entries.to_bytes(start, "little" if self.bo == "<" else "big")
        span = start + template.entries * self.entry.size
        next_size = self.next_fmt.size
        next_fmt, text_pointer, inline, count_size = (
            self.next_fmt,
            self.text_pointer,
            self.inline,
            self.count_size,
        )
        from_bytes = int.from_bytes
        room = max_ifds - len(ifds)
        while offset > last and room > 0:
            end = offset + span
            if end + next_size > size or buf[offset : offset + start] != count_bytes:
                break
            if from_bytes(buf[offset + start : end], "little") & mask != masked:
                break
            same = True
            for at, length, head in texts:
                count, value = text_pointer.unpack_from(buf, offset + at)
                if count != length:
                    same = False
                    break
                if count <= inline:
                    value = offset + at + count_size
                if buf[value : value + len(head)] != head:
                    same = False
                    break
            if not same:
                break
            ifds.append(info)
            offsets.append(offset)
            last = offset
            room -= 1
            (offset,) = next_fmt.unpack_from(buf, end)
        self.visited.update(offsets[first:])
        return offset

    def _like_template(self, offset: int, template: _Template) -> tuple[IfdInfo | None, int]:
        header = self.count_fmt.size
        n = template.entries
        buf = self.buf
        end = offset + header + n * self.entry.size
        if end + self.next_fmt.size > self.size:
            return None, 0
        (count,) = self.count_fmt.unpack_from(buf, offset)
        if count != n:
            return None, 0
        if int.from_bytes(buf[offset + header : end], "little") & template.mask != template.masked:
            return None, 0
        # the same texts? (inlined: this runs once per IFD of 30,000-IFD chains)
        for at, length, head in template.texts:
            count, value = self.text_pointer.unpack_from(buf, offset + at)
            if count != length:
                return None, 0
            if count <= self.inline:
                value = offset + at + self.count_size  # the text is in the entry
            if buf[value : value + len(head)] != head:
                return None, 0
        (next_offset,) = self.next_fmt.unpack_from(buf, end)
        return template.info, next_offset


@dataclass(frozen=True, slots=True)
class _Template:
    """An IFD layout that later IFDs of the chain may share (see ``_Walker._template``)."""

    entries: int
    mask: int
    masked: int
    info: IfdInfo
    #: per text tag: its count's position inside the IFD, its length, its first bytes
    texts: tuple[tuple[int, int, bytes], ...]


def decode_description(raw: bytes, *, source: str = "ImageDescription") -> tuple[str, bool]:
    """Decode a description tag: UTF-8 when valid (X2), else Latin-1.

    Returns the text and whether it was valid UTF-8.
    """
    raw = raw.rstrip(b"\x00")
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        return raw.decode("latin-1"), False


def _open_map(path: Path) -> tuple[mmap.mmap | bytes, int]:
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            if size == 0:
                return b"", 0
            return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ), size
    except IsADirectoryError as exc:
        raise InvalidTiffError(f"{path}: is a folder, not a TIFF file") from exc
    except FileNotFoundError as exc:
        raise MissingFileError(f"{path}: no such file") from exc
    except PermissionError as exc:
        raise FileAccessError(f"{path}: permission denied") from exc


def inspect_tiff(path: StrPath, *, max_ifds: int = MAX_IFDS) -> TiffStructure:
    """Read the structure of a TIFF file: header, IFD chain, SubIFDs, key tags.

    A damaged chain (truncation, loops, offsets past the end) gives the readable
    IFDs and a list of ``problems``.

    Raises
    ------
    InvalidTiffError
        The file is missing or is not a TIFF at all.
    """
    p = Path(path)
    buf, size = _open_map(p)
    try:
        walker = _Walker(buf, p)
        ifds = walker.walk(max_ifds=max_ifds)
        desc_raw = walker.description0
    finally:
        if isinstance(buf, mmap.mmap):
            buf.close()
    description = None
    utf8 = True
    if desc_raw is not None:
        description, utf8 = decode_description(desc_raw)
    return TiffStructure(
        path=p,
        byte_order=walker.bo,
        bigtiff=walker.big,
        file_size=size,
        ifds=tuple(ifds),
        offsets=tuple(walker.offsets),
        description=description,
        description_utf8=utf8,
        problems=tuple(walker.problems),
        hazards=tuple(walker.hazards),
    )


def check_tifffile_safe(structure: TiffStructure) -> None:
    """Refuse a file whose IFDs would crash tifffile (issue 15), naming the first hazard.

    Raises
    ------
    InvalidTiffError
        :attr:`TiffStructure.hazards` is not empty.
    """
    if structure.hazards:
        more = len(structure.hazards) - 1
        rest = f" (and {more} more)" if more else ""
        raise InvalidTiffError(f"{structure.path}: {structure.hazards[0]}{rest}")


def read_description(path: StrPath) -> str | None:
    """IFD0's ImageDescription (the OME-XML of an OME-TIFF, X1), or None."""
    p = Path(path)
    buf, _ = _open_map(p)
    try:
        walker = _Walker(buf, p)
        walker.description0 = None
        if walker.first == 0 or walker.first >= walker.size:
            return None
        walker.visited.add(walker.first)
        walker.read_ifd(walker.first, 0, full_description=True, depth=1)
        raw = walker.description0
    finally:
        if isinstance(buf, mmap.mmap):
            buf.close()
    if raw is None:
        return None
    return decode_description(raw)[0]


def ifd0_values(path: StrPath, codes: frozenset[int]) -> dict[int, tuple[int, ...] | str]:
    """Values of the tags ``codes`` in IFD0: numbers (a RATIONAL as numerator and
    denominator) or ASCII text; tags absent, unreadable or of other types are left out.

    Lets ``info`` describe a plain or ImageJ TIFF without importing tifffile.
    """
    p = Path(path)
    buf, _ = _open_map(p)
    out: dict[int, tuple[int, ...] | str] = {}
    try:
        walker = _Walker(buf, p)
        at = walker.first
        header = walker.count_fmt.size
        if at == 0 or at + header > walker.size:
            return out
        (n,) = walker.count_fmt.unpack_from(buf, at)
        if n > 10000 or at + header + n * walker.entry.size > walker.size:
            return out
        size = walker.entry.size
        for k in range(n):
            tag, typ, count, value = walker.entry.unpack_from(buf, at + header + k * size)
            if tag not in codes or count > 4096:
                continue
            if typ == 2:
                raw = walker._raw(typ, count, value)
                if raw is not None:
                    out[tag] = decode_description(raw)[0]
            elif typ == 5:  # RATIONAL: pairs of unsigned 32-bit integers
                raw = walker._raw(typ, count, value)
                if raw is not None:
                    out[tag] = struct.unpack(f"{walker.bo}{2 * count}I", raw)
            else:
                ints = walker._ints(typ, count, value)
                if ints:
                    out[tag] = ints
    finally:
        if isinstance(buf, mmap.mmap):
            buf.close()
    return out


def is_tiff(path: StrPath) -> bool:
    """True when the file starts with a TIFF or BigTIFF header (C1); never raises."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return False
    return has_tiff_magic(head)


def dump_tags(path: StrPath, index: int) -> list[tuple[int, str, str, int, str]]:
    """Every tag of main-chain IFD ``index`` via tifffile: (code, name, type, count, value)."""
    import tifffile

    p = Path(path)
    try:
        with tifffile.TiffFile(p) as tf:
            if index < 0 or index >= len(tf.pages):
                raise InvalidTiffError(f"{p}: no IFD {index} (the file has {len(tf.pages)} IFDs)")
            tf.pages.useframes = False
            page = tf.pages[index]
            if not isinstance(page, tifffile.TiffPage):
                raise InvalidTiffError(f"{p}: IFD {index} cannot be read as a page")
            rows = []
            for tag in page.tags.values():
                value = tag.value
                if isinstance(value, enum.Enum):  # tifffile's COMPRESSION.ADOBE_DEFLATE etc.
                    text = f"{value.value} ({value.name})"
                else:
                    text = repr(value) if not isinstance(value, (str, bytes)) else repr(value[:300])
                if len(text) > 300:
                    text = text[:297] + "..."
                rows.append(
                    (
                        tag.code,
                        tag.name,
                        tag.dtype.name if hasattr(tag.dtype, "name") else str(tag.dtype),
                        tag.count,
                        text,
                    )
                )
            return rows
    except tifffile.TiffFileError as exc:
        raise InvalidTiffError(f"{p}: {exc}") from exc
