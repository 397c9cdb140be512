"""Inputs that once broke ometiff's promise for bad input, rebuilt from a few lines each.

Every case is a small generator (no binaries in the repository): ``CASES[name](dir)``
writes the file into ``dir`` and returns its path. ``EXPECT[name]`` maps a command
(as in ``fuzz/harness.py``) to a phrase its one-line error must contain; commands
not listed may succeed or fail, but always within the promise (see README.md here).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tifffile

OME_NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


def _ome_xml(size_t: str = "1", pixels_extra: str = "", tail: str = "", prolog: str = "") -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<OME xmlns="{OME_NS}">'
        '<Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="uint8" '
        f'SizeX="6" SizeY="4" SizeZ="1" SizeC="1" SizeT="{size_t}">'
        f'<Channel ID="Channel:0:0" SamplesPerPixel="1"/>{pixels_extra}'
        '<TiffData IFD="0" PlaneCount="1"/></Pixels></Image>'
        f"{tail}</OME>"
    )


def _patch(path: Path, page: int, **tags: int) -> None:
    """Overwrite tag values of one IFD in place (the declared sizes lie; the data stays)."""
    with tifffile.TiffFile(path, mode="r+b") as tf:
        for name, value in tags.items():
            tf.pages[page].tags[name].overwrite(value)


def huge_plain_strip(d: Path) -> Path:
    """A 200000² uint16 TIFF whose one strip holds 48 bytes: 74.5 GiB on decode (was OOM)."""
    path = d / "huge_plain_strip.tif"
    tifffile.imwrite(path, np.zeros((4, 6), np.uint16), metadata=None)
    _patch(path, 0, ImageWidth=200000, ImageLength=200000, RowsPerStrip=200000)
    return path


def huge_ome_tiles(d: Path) -> Path:
    """A tiled OME-TIFF whose IFD 0 claims 65536² pixels; every tile offset is the same."""
    path = d / "huge_ome_tiles.ome.tif"
    tifffile.imwrite(path, np.zeros((2, 32, 32), np.uint8), tile=(16, 16), ome=True)
    _patch(path, 0, ImageWidth=65536, ImageLength=65536)
    return path


def truncated_ome(d: Path) -> Path:
    """A 4-plane OME-TIFF cut inside its pixel data: IFDs past the end, a strip past the end.

    ``info --stats`` printed two or three lines for this one file.
    """
    path = d / "truncated_ome.ome.tif"
    data = np.arange(4 * 32 * 32, dtype=np.uint16).reshape(4, 32, 32)
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "ZYX"})
    with tifffile.TiffFile(path) as tf:
        cut = int(tf.pages[1].dataoffsets[0]) + 100
    path.write_bytes(path.read_bytes()[:cut])
    return path


def strip_past_end(d: Path) -> Path:
    """A Deflate TIFF whose one strip starts 1 MB past the end of the 232-byte file."""
    path = d / "strip_past_end.tif"
    tifffile.imwrite(path, np.ones((4, 6), np.uint8), metadata=None, compression="zlib")
    _patch(path, 0, StripOffsets=1 << 20)
    return path


def strip_overhang(d: Path) -> Path:
    """A Deflate strip cut short, whose StripByteCounts claims 1 MB more than the file holds."""
    path = d / "strip_overhang.tif"
    tifffile.imwrite(
        path, np.arange(64 * 64, dtype=np.uint16).reshape(64, 64), metadata=None, compression="zlib"
    )
    with tifffile.TiffFile(path) as tf:
        offset = int(tf.pages[0].dataoffsets[0])
    _patch(path, 0, StripByteCounts=1 << 20)
    path.write_bytes(path.read_bytes()[: offset + 40])
    return path


def size_t_1e308(d: Path) -> Path:
    """OME-XML ``SizeT="1e308"``: the plane map counted to 1e308 (every command hung)."""
    path = d / "size_t_1e308.ome.tif"
    tifffile.imwrite(path, np.zeros((4, 6), np.uint8), description=_ome_xml("1e308"), metadata=None)
    return path


def doctype_external(d: Path) -> Path:
    """``<!DOCTYPE OME SYSTEM ...>`` and an undeclared entity: lxml's schema check crashed."""
    path = d / "doctype_external.ome.tif"
    xml = _ome_xml(
        prolog='<!DOCTYPE OME SYSTEM "http://example.invalid/ome.dtd">', pixels_extra="&undeclared;"
    )
    tifffile.imwrite(path, np.zeros((4, 6), np.uint8), description=xml, metadata=None)
    return path


def deep_xml(d: Path) -> Path:
    """An XMLAnnotation nesting 1,500 elements (recursive walkers fail on it)."""
    path = d / "deep_xml.ome.tif"
    value = "<X>" * 1500 + "</X>" * 1500
    tail = (
        f'<StructuredAnnotations><XMLAnnotation ID="Annotation:0"><Value>{value}'
        "</Value></XMLAnnotation></StructuredAnnotations>"
    )
    tifffile.imwrite(
        path, np.zeros((4, 6), np.uint8), description=_ome_xml(tail=tail), metadata=None
    )
    return path


def _set_entry(
    path: Path,
    tag: int,
    *,
    count: int | None = None,
    value: int | None = None,
    typ: int | None = None,
) -> None:
    """Rewrite the count or inline value of one IFD 0 entry of a little-endian classic TIFF."""
    data = bytearray(path.read_bytes())
    (ifd,) = struct.unpack_from("<I", data, 4)
    (n,) = struct.unpack_from("<H", data, ifd)
    for k in range(n):
        at = ifd + 2 + 12 * k
        if struct.unpack_from("<H", data, at)[0] == tag:
            if typ is not None:
                struct.pack_into("<H", data, at + 2, typ)
            if count is not None:
                struct.pack_into("<I", data, at + 4, count)
            if value is not None:
                struct.pack_into("<I", data, at + 8, value)
    path.write_bytes(bytes(data))


def width_with_513_values(d: Path) -> Path:
    """ImageLength with 513 values: tifffile computed with a tuple (TypeError, exit 3)."""
    path = d / "width_with_513_values.tif"
    tifffile.imwrite(path, np.zeros((4, 6), np.uint8), metadata=None)
    _set_entry(path, 257, count=513)
    return path


def zero_tile_length(d: Path) -> Path:
    """A tiled OME-TIFF whose TileLength is 0: tifffile divided by it (ZeroDivisionError)."""
    path = d / "zero_tile_length.ome.tif"
    tifffile.imwrite(path, np.zeros((32, 32), np.uint8), tile=(16, 16), ome=True)
    _set_entry(path, 323, value=0)
    return path


def ascii_samples_per_pixel(d: Path) -> Path:
    """SamplesPerPixel stored as ASCII: tifffile compared a str with an int (TypeError)."""
    path = d / "ascii_samples_per_pixel.tif"
    tifffile.imwrite(path, np.zeros((4, 6), np.uint8), metadata=None)
    _set_entry(path, 277, typ=2)
    return path


def compression_no_values(d: Path) -> Path:
    """Compression with a count of 0: tifffile's page held a tuple (TypeError)."""
    path = d / "compression_no_values.tif"
    tifffile.imwrite(path, np.zeros((4, 6), np.uint8), metadata=None)
    _set_entry(path, 259, count=0)
    return path


def frame_strip_past_end(d: Path) -> Path:
    """IFD 3 of a 4-plane OME-TIFF with its strip 1 MB past the end (read as a TiffFrame)."""
    path = d / "frame_strip_past_end.ome.tif"
    tifffile.imwrite(path, np.zeros((4, 8, 8), np.uint8), ome=True, metadata={"axes": "ZYX"})
    _patch(path, 3, StripOffsets=1 << 20)
    return path


def subifd_cut_short(d: Path) -> Path:
    """A pyramid OME-TIFF whose SubIFDs offset points at the file's last bytes: the level
    IFD is cut short (tifffile's "corrupted IFD structure" was an internal error)."""
    path = d / "subifd_cut_short.ome.tif"
    with tifffile.TiffWriter(path, ome=True) as tw:
        data = np.zeros((64, 64), np.uint8)
        tw.write(data, subifds=1, metadata={"axes": "YX"})
        tw.write(data[::2, ::2], subfiletype=1)
    size = path.stat().st_size
    with tifffile.TiffFile(path, mode="r+b") as tf:
        tf.pages[0].tags["SubIFDs"].overwrite([size - 6])
    return path


def _entry_offset(path: Path, page: int, code: int) -> int:
    with tifffile.TiffFile(path) as tf:
        return int(tf.pages[page].tags[code].offset)


def zero_image_width(d: Path) -> Path:
    """An OME-TIFF whose IFD 0 has ImageWidth 0: pydantic's ValidationError (SizeX >= 1)
    escaped from convert (exit 3)."""
    path = d / "zero_image_width.ome.tif"
    tifffile.imwrite(path, np.zeros((2, 4, 6), np.uint8), ome=True, metadata={"axes": "ZYX"})
    _patch(path, 0, ImageWidth=0)
    return path


def ascii_strip_offsets(d: Path) -> Path:
    """StripOffsets with field type ASCII: tifffile added an int to a str (TypeError)."""
    path = d / "ascii_strip_offsets.tif"
    tifffile.imwrite(path, np.ones((4, 6), np.uint8), metadata=None)
    data = bytearray(path.read_bytes())
    struct.pack_into("<H", data, _entry_offset(path, 0, 273) + 2, 2)
    path.write_bytes(data)
    return path


def huge_contiguous(d: Path) -> Path:
    """An uncompressed 5-plane OME-TIFF whose IFD 0 claims 2**31 - 1 squared pixels:
    numpy's memory map printed an overflow warning (a second stderr line), then
    OverflowError escaped (exit 3)."""
    path = d / "huge_contiguous.ome.tif"
    tifffile.imwrite(path, np.zeros((5, 4, 6), np.uint8), ome=True, metadata={"axes": "ZYX"})
    _patch(path, 0, ImageWidth=2**31 - 1, ImageLength=2**31 - 1)
    return path


def member_missing(d: Path) -> Path:
    """A member of a two-file set whose other member is missing: the error named only the
    missing file, not the one opened."""
    path = d / "member_missing.ome.tif"
    own, other = (
        "urn:uuid:11111111-2222-3333-4444-555555555555",
        ("urn:uuid:66666666-7777-8888-9999-000000000000"),
    )
    tiffdata = (
        f'<TiffData FirstZ="0" IFD="0" PlaneCount="1"><UUID FileName="{path.name}">{own}</UUID>'
        f'</TiffData><TiffData FirstZ="1" IFD="0" PlaneCount="1">'
        f'<UUID FileName="member_gone.ome.tif">{other}</UUID></TiffData>'
    )
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?><OME xmlns="{OME_NS}" UUID="{own}">'
        '<Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="uint8" '
        'SizeX="6" SizeY="4" SizeZ="2" SizeC="1" SizeT="1">'
        f'<Channel ID="Channel:0:0" SamplesPerPixel="1"/>{tiffdata}</Pixels></Image></OME>'
    )
    tifffile.imwrite(path, np.ones((4, 6), np.uint8), description=xml.encode(), metadata=None)
    return path


def ifd_loop_generic(d: Path) -> Path:
    """Two IFDs of different shapes, the second pointing back to the first, the first
    claiming 65536² pixels: tifffile's generic series walked the loop without end (every
    command ran for minutes on a 300-byte file)."""
    path = d / "ifd_loop_generic.tif"
    with tifffile.TiffWriter(path) as tw:
        tw.write(np.ones((4, 6), np.uint8), metadata=None)
        tw.write(np.ones((1, 1), np.uint8), metadata=None)
    _patch(path, 0, ImageWidth=65536, ImageLength=65536)
    with tifffile.TiffFile(path) as tf:
        first, second = tf.pages[0].offset, tf.pages[1].offset
        (count,) = struct.unpack_from("<H", path.read_bytes(), second)
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, second + 2 + 12 * count, first)  # IFD 1's NextIFD -> IFD 0
    path.write_bytes(data)
    return path


def byte_samples_per_pixel(d: Path) -> Path:
    """IFD 3 of a 4-plane OME-TIFF with SamplesPerPixel of field type BYTE: tifffile
    returns BYTE values as bytes and compared them with an int (TypeError, exit 3)."""
    path = d / "byte_samples_per_pixel.ome.tif"
    tifffile.imwrite(path, np.zeros((4, 8, 8), np.uint8), ome=True, metadata={"axes": "ZYX"})
    data = bytearray(path.read_bytes())
    struct.pack_into("<H", data, _entry_offset(path, 3, 277) + 2, 1)
    path.write_bytes(data)
    return path


def ascii_bits_per_sample(d: Path) -> Path:
    """BitsPerSample with field type ASCII: tifffile subtracted two str (TypeError)."""
    path = d / "ascii_bits_per_sample.tif"
    tifffile.imwrite(path, np.ones((4, 6), np.uint16), metadata=None)
    data = bytearray(path.read_bytes())
    struct.pack_into("<H", data, _entry_offset(path, 0, 258) + 2, 2)
    path.write_bytes(data)
    return path


def resolution_unit_no_values(d: Path) -> Path:
    """ResolutionUnit with a count of 0 (an empty tuple for tifffile): ``int(())`` escaped
    from the TIFF calibration (TypeError, exit 3)."""
    path = d / "resolution_unit_no_values.tif"
    tifffile.imwrite(
        path, np.ones((4, 6), np.uint8), metadata=None, resolution=(2.0, 2.0), resolutionunit=3
    )
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, _entry_offset(path, 0, 296) + 4, 0)
    path.write_bytes(data)
    return path


def sample_format_mixed(d: Path) -> Path:
    """An RGB TIFF whose three SampleFormat values differ: tifffile took int() of the
    tuple (TypeError, exit 3)."""
    path = d / "sample_format_mixed.tif"
    tifffile.imwrite(path, np.ones((4, 6, 3), np.float32), metadata=None, photometric="rgb")
    with tifffile.TiffFile(path) as tf:
        tag = tf.pages[0].tags[339]
        at = tag.valueoffset
    data = bytearray(path.read_bytes())
    struct.pack_into("<H", data, at + 2, 1025)
    path.write_bytes(data)
    return path


# --- vendor formats (generated with the vendor's writer; skipped without it) ----------


def _czi(d: Path, name: str) -> tuple[Path, bytearray, int]:
    """A 6x4 uint8 CZI written by pylibCZIrw: (path, bytes, first directory entry offset)."""
    import pytest

    czi = pytest.importorskip("pylibCZIrw.czi")
    path = d / name
    with czi.create_czi(str(path), exist_ok=True) as w:
        w.write(np.ones((4, 6), np.uint8), plane={"C": 0, "Z": 0, "T": 0})
    data = bytearray(path.read_bytes())
    (directory,) = struct.unpack_from("<q", data, 84)
    return path, data, directory + 32 + 128


def _czi_xy(data: bytearray, entry: int, logical: int, stored: int | None) -> None:
    (ndims,) = struct.unpack_from("<i", data, entry + 28)
    for k in range(ndims):
        at = entry + 32 + 20 * k
        if data[at : at + 1] in (b"X", b"Y"):
            struct.pack_into("<i", data, at + 8, logical)
            if stored is not None:
                struct.pack_into("<i", data, at + 16, stored)


def czi_huge_subblock(d: Path) -> Path:
    """A CZI subblock declaring 200000² stored pixels: libCZI's std::bad_alloc (was OOM)."""
    path, data, entry = _czi(d, "czi_huge_subblock.czi")
    _czi_xy(data, entry, 200000, 200000)
    path.write_bytes(data)
    return path


def czi_negative_span(d: Path) -> Path:
    """A CZI subblock of logical size 200000 (stored 6x4): libCZI reports a -1x-1 span,
    and convert failed with a message naming no file."""
    path, data, entry = _czi(d, "czi_negative_span.czi")
    _czi_xy(data, entry, 200000, None)
    path.write_bytes(data)
    return path


def czi_entry_count(d: Path) -> Path:
    """A CZI subblock directory declaring 2**31 - 1 entries in 300 bytes."""
    path, data, entry = _czi(d, "czi_entry_count.czi")
    struct.pack_into("<i", data, entry - 128, 2**31 - 1)
    path.write_bytes(data)
    return path


def czi_channel_far(d: Path) -> Path:
    """A two-channel CZI whose second subblock's C index is 8388608 (one flipped bit):
    libCZI walked 8 million channels (pixel_types ran without end)."""
    import pytest

    czi = pytest.importorskip("pylibCZIrw.czi")
    path = d / "czi_channel_far.czi"
    with czi.create_czi(str(path), exist_ok=True) as w:
        for c in range(2):
            w.write(np.ones((4, 6), np.uint8), plane={"C": c, "Z": 0, "T": 0})
    data = bytearray(path.read_bytes())
    (directory,) = struct.unpack_from("<q", data, 84)
    entry = directory + 32 + 128
    (ndims,) = struct.unpack_from("<i", data, entry + 28)
    entry += 32 + 20 * ndims  # the second entry
    for k in range(ndims):
        at = entry + 32 + 20 * k
        if data[at : at + 1] == b"C":
            struct.pack_into("<i", data, at + 4, 8388608)
    path.write_bytes(data)
    return path


def _zarr(d: Path, name: str, chunks: list[int], chunk_bytes: bytes) -> Path:
    """A hand-written NGFF 0.4 (Zarr v2) image of 4x6 uint16 with one chunk file."""
    import json

    root = d / name
    (root / "0" / "0").mkdir(parents=True)
    axes = [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}]
    scale = [{"type": "scale", "scale": [1, 1]}]
    attrs = {
        "multiscales": [
            {
                "version": "0.4",
                "axes": axes,
                "datasets": [{"path": "0", "coordinateTransformations": scale}],
            }
        ]
    }
    (root / ".zgroup").write_text(json.dumps({"zarr_format": 2}))
    (root / ".zattrs").write_text(json.dumps(attrs))
    array = {
        "zarr_format": 2,
        "shape": [4, 6],
        "chunks": chunks,
        "dtype": "<u2",
        "compressor": None,
        "fill_value": 0,
        "order": "C",
        "filters": None,
        "dimension_separator": "/",
    }
    (root / "0" / ".zarray").write_text(json.dumps(array))
    (root / "0" / "0" / "0").write_bytes(chunk_bytes)
    return root


def zarr_short_chunk(d: Path) -> Path:
    """An OME-Zarr chunk of 10 bytes for 48: zarr's ValueError escaped (internal error)."""
    import pytest

    pytest.importorskip("zarr")
    return _zarr(d, "zarr_short_chunk.ome.zarr", [4, 6], bytes(10))


def zarr_huge_chunk(d: Path) -> Path:
    """A 4x6 OME-Zarr array in 100000² chunks: decoding one chunk takes 18.6 GiB."""
    import pytest

    pytest.importorskip("zarr")
    return _zarr(d, "zarr_huge_chunk.ome.zarr", [100000, 100000], bytes(10))


def bad_dimension_order(d: Path) -> Path:
    """OME-XML whose DimensionOrder is not one of the six (``X[ZCT``, one flipped bit):
    ``convert`` rebuilt the OME with an enum ValueError (exit 3); planes are read as
    XYZCT (D3), as the plane map does, and the rebuild says so."""
    path = d / "bad_dimension_order.ome.tif"
    xml = _ome_xml().replace('DimensionOrder="XYZCT"', 'DimensionOrder="X[ZCT"')
    tifffile.imwrite(path, np.zeros((4, 6), np.uint8), description=xml, metadata=None)
    return path


def bad_pixel_type(d: Path) -> Path:
    """OME-XML whose Type is ``uant8``: an enum ValueError in ``convert`` (exit 3); the
    TIFF's sample type wins (D5)."""
    path = d / "bad_pixel_type.ome.tif"
    xml = _ome_xml().replace('Type="uint8"', 'Type="uant8"')
    tifffile.imwrite(path, np.zeros((4, 6), np.uint8), description=xml, metadata=None)
    return path


def nd2_event_xml(d: Path) -> Path:
    """A corpus ND2 with one flipped bit in its event metadata: nd2 parses it with lxml,
    whose XMLSyntaxError escaped the ND2 reader (exit 3). Built from the corpus file
    (skipped without it or without nd2)."""
    import pytest
    from tests.conftest import CORPUS

    pytest.importorskip("nd2")
    seed = CORPUS / "nd2" / "arcadia-microscopy-tools" / "example-zstack.nd2"
    if not seed.is_file():
        pytest.skip("corpus ND2 missing")
    data = bytearray(seed.read_bytes())
    data[511657] ^= 1
    path = d / "nd2_event_xml.nd2"
    path.write_bytes(bytes(data))
    return path


CASES: dict[str, Callable[[Path], Path]] = {
    f.__name__: f
    for f in (
        huge_plain_strip,
        huge_ome_tiles,
        truncated_ome,
        strip_past_end,
        size_t_1e308,
        doctype_external,
        deep_xml,
        strip_overhang,
        width_with_513_values,
        zero_tile_length,
        ascii_samples_per_pixel,
        compression_no_values,
        frame_strip_past_end,
        subifd_cut_short,
        zero_image_width,
        ascii_strip_offsets,
        huge_contiguous,
        member_missing,
        ifd_loop_generic,
        byte_samples_per_pixel,
        ascii_bits_per_sample,
        resolution_unit_no_values,
        sample_format_mixed,
        czi_channel_far,
        czi_huge_subblock,
        czi_negative_span,
        czi_entry_count,
        zarr_short_chunk,
        zarr_huge_chunk,
        bad_dimension_order,
        bad_pixel_type,
        nd2_event_xml,
    )
}

#: command -> phrase its error line must contain, per case
EXPECT: dict[str, dict[str, str]] = {
    "huge_plain_strip": {
        "info-stats": "memory budget",
        "convert": "memory budget",
        "show": "memory budget",
    },
    "huge_ome_tiles": {
        "info-stats": "memory budget",
        "convert": "memory budget",
        "show": "memory budget",
    },
    "truncated_ome": {"info-stats": "beyond the end of the file"},
    "subifd_cut_short": dict.fromkeys(("info-stats", "show", "convert"), "SubIFD"),
    "strip_past_end": {
        "info-stats": "past the end of the file",
        "convert": "past the end of the file",
    },
    "strip_overhang": {
        "info-stats": "past the end of the file",
        "convert": "past the end of the file",
    },
    "width_with_513_values": dict.fromkeys(
        ("info-json", "info-stats", "show", "convert"), "has 513 values"
    ),
    "zero_tile_length": dict.fromkeys(
        ("info-json", "info-stats", "show", "convert"), "TileLength must both be positive"
    ),
    "ascii_samples_per_pixel": dict.fromkeys(
        ("info-json", "info-stats", "show", "convert"), "not an integer type"
    ),
    "compression_no_values": dict.fromkeys(
        ("info-json", "info-stats", "show", "convert"), "has 0 values"
    ),
    "frame_strip_past_end": dict.fromkeys(("info-stats", "convert"), "past the end of the file"),
    "size_t_1e308": {"info-json": "SizeT=1e308", "info-stats": "SizeT=1e308"},
    "doctype_external": {"info-json": "not defined", "convert": "not defined"},
    "deep_xml": {"info-json": "levels deep", "convert": "levels deep"},
    "czi_huge_subblock": dict.fromkeys(("info-stats", "show", "convert"), "memory budget"),
    "czi_negative_span": dict.fromkeys(("info-json", "convert"), "subblocks span -1x-1"),
    "czi_entry_count": dict.fromkeys(("info-json", "convert"), "declares 2147483647 entries"),
    "zarr_short_chunk": dict.fromkeys(("info-stats", "convert"), "chunk may be truncated"),
    "zarr_huge_chunk": dict.fromkeys(("info-stats", "show", "convert"), "memory budget"),
    "zero_image_width": dict.fromkeys(("info-json", "convert"), "(ImageWidth) is 0"),
    "ascii_strip_offsets": dict.fromkeys(
        ("info-json", "info-stats", "show", "convert"), "(StripOffsets) has field type 2"
    ),
    "huge_contiguous": dict.fromkeys(("info-stats", "show", "convert"), "memory budget"),
    "member_missing": {"show": "member_gone.ome.tif of the file set is missing"},
    "ifd_loop_generic": dict.fromkeys(("info-json", "info-stats"), "IFD loop"),
    "byte_samples_per_pixel": dict.fromkeys(
        ("info-json", "info-stats", "show", "convert"), "(SamplesPerPixel) has field type 1"
    ),
    "ascii_bits_per_sample": dict.fromkeys(
        ("info-json", "info-stats", "show", "convert"), "(BitsPerSample) has field type 2"
    ),
    "resolution_unit_no_values": {},
    "sample_format_mixed": dict.fromkeys(
        ("info-json", "info-stats", "show", "convert"), "(SampleFormat) has 3 values (3, 1025, 3)"
    ),
    "czi_channel_far": dict.fromkeys(
        ("info-json", "info-stats", "show", "convert"), "dimension C spans indices 0 to 8388608"
    ),
    "nd2_event_xml": dict.fromkeys(
        ("info-json", "info-stats", "convert"), "cannot read the ND2 metadata (XMLSyntaxError"
    ),
    "bad_dimension_order": {},
    "bad_pixel_type": {},
}

#: Cases rebuilt from a corpus file by flipping bits (no small writer for the format):
#: not held to the 20 KB size of the generated ones.
FROM_CORPUS = frozenset({"nd2_event_xml"})
