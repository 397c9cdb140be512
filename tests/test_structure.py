"""The fast IFD walker agrees with tifffile and survives damaged files."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import tifffile
from tests.bioformats import bfconvert, requires_bioformats
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


# --- SubIFD pyramids as Bio-Formats writes them (P-2) -------------------------------


def _next_pointer_at(raw: bytes | bytearray, offset: int) -> int:
    """Where the NextIFD pointer of the (classic, little-endian) IFD at ``offset`` is."""
    (n,) = struct.unpack_from("<H", raw, offset)
    return offset + 2 + 12 * n


def write_subifd_pyramid(path: Path, *, planes: int = 3, chain: bool = True) -> list[list[int]]:
    """A multi-plane OME-TIFF with 2 SubIFD levels per plane, laid out like
    ``bfconvert -noflat -pyramid-resolutions 3``: with ``chain``, the NextIFD pointers
    of the SubIFDs link each level's IFDs across planes, then the next level
    (plane 0 level 1 -> plane 1 level 1 -> ... -> plane 0 level 2 -> ... -> 0).
    tifffile itself writes 0 there. Returns the SubIFD offsets per plane."""
    data = (np.arange(planes * 128 * 128) % 251).astype(np.uint8).reshape(planes, 128, 128)
    with tifffile.TiffWriter(path, ome=True) as tw:
        tw.write(data, subifds=2, tile=(32, 32), metadata={"axes": "CYX"})
        tw.write(data[:, ::2, ::2], subfiletype=1, tile=(32, 32))
        tw.write(data[:, ::4, ::4], subfiletype=1, tile=(32, 32))
    with tifffile.TiffFile(path) as tf:
        tf.pages.useframes = False
        subs = [list(tf.pages[i].tags[330].value) for i in range(planes)]
    if chain:
        raw = bytearray(path.read_bytes())
        order = [subs[p][level] for level in range(2) for p in range(planes)]
        for here, there in zip(order, [*order[1:], 0], strict=True):
            struct.pack_into("<I", raw, _next_pointer_at(raw, here), there)
        path.write_bytes(bytes(raw))
    return subs


def test_chained_subifds_of_several_planes_are_levels_not_loops(tmp_path: Path) -> None:
    path = tmp_path / "bf_pyramid.ome.tif"
    subs = write_subifd_pyramid(path)
    raw = path.read_bytes()
    assert struct.unpack_from("<I", raw, _next_pointer_at(raw, subs[0][0]))[0] == subs[1][0]
    st = inspect_tiff(path)
    assert st.problems == ()
    assert st.ifd_count == 3
    for k, ifd in enumerate(st.ifds):
        assert ifd.subifd_offsets == tuple(subs[k])
        assert [(s.width, s.height) for s in ifd.subifds] == [(64, 64), (32, 32)]


def test_subifd_pointing_into_the_main_chain_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "p.ome.tif"
    write_subifd_pyramid(path, planes=2, chain=False)
    st = inspect_tiff(path)
    raw = bytearray(path.read_bytes())
    # IFD 1's SubIFDs tag: make its first listed level point at IFD 0 (P-3 violation)
    with tifffile.TiffFile(path) as tf:
        tf.pages.useframes = False
        tag = tf.pages[1].tags[330]
        struct.pack_into("<I", raw, tag.valueoffset, st.offsets[0])
    path.write_bytes(bytes(raw))
    st2 = inspect_tiff(path)
    assert any("IFD 1: SubIFD 0" in p and "already read" in p for p in st2.problems)
    assert [(s.width, s.height) for s in st2.ifds[1].subifds] == [(32, 32)]


def test_info_and_validate_see_three_levels_in_a_bioformats_style_pyramid(
    tmp_path: Path,
) -> None:
    from ometiff import info, validate

    plain = tmp_path / "plain.ome.tif"
    chained = tmp_path / "chained.ome.tif"
    write_subifd_pyramid(plain, chain=False)
    write_subifd_pyramid(chained)
    fi = info(chained)
    assert fi.problems == []
    assert [s.levels for s in fi.series] == [[[128, 128], [64, 64], [32, 32]]]
    # the chained copy gets exactly the findings of the unchained one: none are false
    codes = sorted(i.code for i in validate(chained, schema=False).issues)
    assert codes == sorted(i.code for i in validate(plain, schema=False).issues)
    assert validate(chained, schema=False).ok


@requires_bioformats
@pytest.mark.bioformats
def test_bfconvert_noflat_pyramid_of_three_planes(tmp_path: Path) -> None:
    from ometiff import info, validate

    src = tmp_path / "in.ome.tif"
    out = tmp_path / "out.ome.tif"
    data = (np.arange(3 * 256 * 256) % 251).astype(np.uint8).reshape(3, 256, 256)
    tifffile.imwrite(src, data, metadata={"axes": "CYX"})
    bfconvert(
        src,
        out,
        "-noflat",
        "-pyramid-resolutions",
        "3",
        "-pyramid-scale",
        "2",
        "-tilex",
        "64",
        "-tiley",
        "64",
    )
    st = inspect_tiff(out)
    assert st.problems == ()
    assert [[(s.width, s.height) for s in ifd.subifds] for ifd in st.ifds] == [
        [(128, 128), (64, 64)]
    ] * 3
    assert info(out).series[0].levels == [[256, 256], [128, 128], [64, 64]]
    assert [i.code for i in validate(out, schema=False).issues if i.severity != "info"] == []


# --- each IFD's own description (X3: Bio-Formats writes "ImageJ=" into IFDs 1..N) ---


def _write_pages(path: Path, descriptions: list[str]) -> None:
    with tifffile.TiffWriter(path) as tw:
        for text in descriptions:
            tw.write(
                np.zeros((8, 8), np.uint16),
                description=text,
                metadata=None,
                photometric="minisblack",
                software="writer 1.0",
            )


def test_ifds_after_the_first_keep_their_own_description(tmp_path: Path) -> None:
    path = tmp_path / "bf_like.tif"
    ome = '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">' + " " * 500 + "</OME>"
    imagej = "ImageJ=\nhyperstack=true\nimages=6\nchannels=2"
    _write_pages(path, [ome, *[imagej] * 5])
    st = inspect_tiff(path)
    assert st.ifds[0].description_kind == "OME-XML"
    for ifd in st.ifds[1:]:
        assert (ifd.description_kind, ifd.description_length) == ("ImageJ", len(imagej) + 1)
        assert ifd.description_preview == imagej
    # IFDs of one layout still share one record (the walk stays cheap)
    assert all(ifd is st.ifds[1] for ifd in st.ifds[2:])
    assert [(a, b) for a, b, _ in st.runs()] == [(0, 0), (1, 5)]


def test_same_length_descriptions_are_not_shared(tmp_path: Path) -> None:
    path = tmp_path / "planes.tif"
    texts = [f"plane {k:03d}" for k in range(4)] + ["{}", "ab"]  # the last two fit inline
    _write_pages(path, texts)
    st = inspect_tiff(path)
    assert [ifd.description_preview for ifd in st.ifds] == texts
    assert [ifd.description_kind for ifd in st.ifds][-2:] == ["JSON", "text"]


def test_software_is_read_per_ifd(tmp_path: Path) -> None:
    path = tmp_path / "sw.tif"
    with tifffile.TiffWriter(path) as tw:
        for name in ("one", "one", "two"):
            tw.write(np.zeros((8, 8), np.uint8), metadata=None, software=name)
    assert [ifd.software for ifd in inspect_tiff(path).ifds] == ["one", "one", "two"]


def test_info_ifds_shows_each_ifds_description(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ometiff.cli.main import app

    path = tmp_path / "bf_like.tif"
    _write_pages(path, ["{" + " " * 300 + "}", *["ImageJ=\nimages=3"] * 2])
    result = CliRunner().invoke(app, ["info", "--ifds", str(path)])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.strip().startswith("IFD ")]
    assert "description: JSON (303 bytes)" in lines[0]
    assert all("description: ImageJ (17 bytes)" in line for line in lines[1:])
    assert len(lines) == 3


@pytest.mark.parametrize("keep", [0.999, 0.9])
def test_truncated_ome_xml_is_refused_not_read_as_plain_tiff(tmp_path: Path, keep: float) -> None:
    """An OME-TIFF cut inside its OME-XML (written last, as Bio-Formats and in-place
    edits place it) is damage: convert must not read it as a plain TIFF and drop the
    metadata (tifffile skips a tag whose value runs past the end of the file)."""
    from ometiff import convert, validate, write
    from ometiff.tiff.patch import read_raw_description, write_description

    src = tmp_path / "a.ome.tif"
    write(src, np.zeros((2, 32, 32), np.uint16), axes="CYX", channel_names=["dna", "actin"])
    xml = read_raw_description(src).decode().rstrip("\x00")
    padded = xml.replace("<Channel ", "<!--" + "x" * 4096 + "--><Channel ", 1)
    write_description(src, padded)  # longer than the old one: appended at the end
    data = src.read_bytes()
    cut = tmp_path / "cut.ome.tif"
    cut.write_bytes(data[: int(len(data) * keep)])
    st = inspect_tiff(cut)
    assert any("tag 270 (ImageDescription)" in h and "beyond the end" in h for h in st.hazards)
    out = tmp_path / "out.ome.tif"
    with pytest.raises(InvalidTiffError, match="beyond the end of the file"):
        convert(cut, out)
    assert not out.exists()
    report = validate(cut)
    assert not report.ok
    codes = {i.code for i in report.errors}
    assert "C1-damaged" in codes and codes & {"X1-no-ome-xml", "X2-not-well-formed"}
