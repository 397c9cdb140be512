"""The fast IFD walker agrees with tifffile and survives damaged files."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import tifffile
from tests.conftest import corpus_files, corpus_id

from ometiff import InvalidTiffError, MissingFileError, inspect_tiff
from ometiff.tiff.structure import read_description

TIFFS = corpus_files("tiff/**/*.tif*", "ome-tiff/**/*.tif*", "imagej/**/*.tif*", "lsm/**/*.lsm")


def test_runs_summarise_identical_ifds(tmp_path: Path) -> None:
    path = tmp_path / "a.tif"
    data = np.zeros((50, 16, 24), np.uint16)
    tifffile.imwrite(path, data, photometric="minisblack", metadata=None)
    st = inspect_tiff(path)
    assert st.ifd_count == 50
    assert st.offsets[0] == 8 and len(set(st.offsets)) == 50
    runs = st.runs()
    # IFD 0 stands alone (it may carry a description), the other 49 form one run
    assert runs[-1][0:2] == (1, 49)
    assert runs[-1][2].width == 24 and runs[-1][2].height == 16 and runs[-1][2].dtype == "uint16"


def test_fields_match_tifffile_for_tiled_rgb_pyramid(tmp_path: Path) -> None:
    path = tmp_path / "p.ome.tif"
    data = np.random.default_rng(0).integers(0, 255, (256, 320, 3), np.uint8)
    with tifffile.TiffWriter(path, bigtiff=True) as tw:
        tw.write(data, tile=(64, 64), subifds=2, compression="zlib", photometric="rgb")
        tw.write(
            data[::2, ::2], tile=(64, 64), subfiletype=1, compression="zlib", photometric="rgb"
        )
        tw.write(
            data[::4, ::4], tile=(64, 64), subfiletype=1, compression="zlib", photometric="rgb"
        )
    st = inspect_tiff(path)
    assert st.bigtiff and st.byte_order == "<" and st.ifd_count == 1
    ifd = st.ifds[0]
    assert (ifd.width, ifd.height, ifd.samples_per_pixel) == (320, 256, 3)
    assert (ifd.tile_width, ifd.tile_length) == (64, 64)
    assert ifd.compression == 8 and ifd.photometric == 2
    assert [(s.width, s.height, s.new_subfile_type) for s in ifd.subifds] == [
        (160, 128, 1),
        (80, 64, 1),
    ]


def test_big_endian_and_description(tmp_path: Path) -> None:
    path = tmp_path / "be.tif"
    tifffile.imwrite(
        path, np.ones((4, 5), ">i2"), byteorder=">", description="hello µ".encode(), metadata=None
    )
    st = inspect_tiff(path)
    assert st.byte_order == ">" and st.ifds[0].dtype == "int16"
    assert read_description(path) == "hello µ"
    assert st.description == "hello µ" and st.description_utf8


def test_not_a_tiff(tmp_path: Path) -> None:
    path = tmp_path / "x.tif"
    path.write_bytes(b"PNG not a tiff at all")
    with pytest.raises(InvalidTiffError, match="not a TIFF"):
        inspect_tiff(path)
    empty = tmp_path / "empty.tif"
    empty.write_bytes(b"")
    with pytest.raises(InvalidTiffError, match="too short"):
        inspect_tiff(empty)
    with pytest.raises(MissingFileError, match="no such file"):
        inspect_tiff(tmp_path / "missing.tif")


def test_truncated_chain_reports_readable_part(tmp_path: Path) -> None:
    path = tmp_path / "t.tif"
    tifffile.imwrite(path, np.zeros((10, 64, 64), np.uint8), metadata=None)
    st_full = inspect_tiff(path)
    # cut the file inside the 6th IFD
    cut = st_full.offsets[5] + 4
    path.write_bytes(path.read_bytes()[:cut])
    st = inspect_tiff(path)
    assert st.ifd_count == 5
    assert (st.problems and "damaged" in st.problems[0]) or "beyond" in st.problems[0]


def test_ifd_loop_is_cut(tmp_path: Path) -> None:
    path = tmp_path / "loop.tif"
    tifffile.imwrite(path, np.zeros((3, 8, 8), np.uint8), photometric="minisblack", metadata=None)
    st = inspect_tiff(path)
    raw = bytearray(path.read_bytes())
    # make the last IFD's next pointer point back at IFD 1
    last = st.offsets[-1]
    (n,) = struct.unpack_from("<H", raw, last)
    struct.pack_into("<I", raw, last + 2 + 12 * n, st.offsets[1])
    path.write_bytes(bytes(raw))
    st2 = inspect_tiff(path)
    assert st2.ifd_count == 3
    assert any("loop" in p and "IFD 1" in p for p in st2.problems)


@pytest.mark.parametrize("path", TIFFS, ids=[corpus_id(p) for p in TIFFS])
def test_corpus_ifd_counts_agree_with_tifffile(path: Path) -> None:
    """On every corpus TIFF the walker finds the IFDs tifffile finds (or fewer, with a problem)."""
    try:
        st = inspect_tiff(path)
    except InvalidTiffError:
        with pytest.raises((tifffile.TiffFileError, ValueError, OSError)):
            with tifffile.TiffFile(path) as tf:
                len(tf.pages)
        return
    try:
        with tifffile.TiffFile(path) as tf:
            expected = len(tf.pages)
            first = tf.pages.first
            dims = (first.imagewidth, first.imagelength)
    except (tifffile.TiffFileError, ValueError, OSError, IndexError):
        return  # tifffile cannot read it either; the walker did not crash
    if st.problems:
        # loops and truncation: chain-cutting rules differ by one IFD at most
        assert abs(st.ifd_count - expected) <= 1
    else:
        assert st.ifd_count == expected
    if st.ifd_count:
        assert (st.ifds[0].width, st.ifds[0].height) == dims
