"""Zeiss CZI reader: every corpus file against Bio-Formats and pylibCZIrw."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from bf_expected import (
    assert_bioformats_pixels_equal_source,
    assert_every_file_recorded,
    assert_like_bioformats,
    expected_for,
    summarize_ome,
)
from reader_conformance import check_reader
from tests.bioformats import requires_bioformats
from tests.conftest import CORPUS, corpus_files, corpus_id

from ometiff.errors import MissingDependencyError, OmeTiffError
from ometiff.readers import open_image

pytest.importorskip("pylibCZIrw")
from pylibCZIrw import czi as pyczi

CZIS = corpus_files("czi/**/*.czi")
BF_OUT = CORPUS / "ome-tiff/bioformats-7.3.1"
#: Live Bio-Formats pixel check: one multi-scene T/Z/C file by default, all with
#: --run-slow. Where mosaic tiles overlap, libCZI and Bio-Formats draw a different
#: tile on top (docs/vendor-formats.md; test_scenes_are_series_like_bioformats).
OVERLAP = "czi/czitools/S3_1Pos_2Mosaic_T1_Z1_CH1.czi"
LIVE_DEFAULT = "czi/czitools/S3_1Pos_2Mosaic_T2Z3_CH2_sm.czi"
PIXEL_PARAMS = [
    pytest.param(
        p,
        id=corpus_id(p),
        marks=[
            *(
                [
                    pytest.mark.xfail(
                        reason="overlapping mosaic tiles drawn in another order", strict=True
                    )
                ]
                if corpus_id(p) == OVERLAP
                else []
            ),
            *([] if corpus_id(p) == LIVE_DEFAULT else [pytest.mark.slow]),
        ],
    )
    for p in CZIS
]


def test_every_czi_is_tested_and_recorded() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus missing")
    assert_every_file_recorded("czi", [corpus_id(p) for p in CZIS])


@pytest.mark.parametrize("path", CZIS, ids=corpus_id)
def test_conformance_and_bioformats_agreement(path: Path) -> None:
    summary = check_reader(path, reader="czi")
    bf = expected_for(corpus_id(path))
    assert bf is not None, "run scripts/record_bioformats.py czi"
    assert_like_bioformats(summarize_ome(summary.ome), bf, where=corpus_id(path))


@pytest.mark.parametrize("path", CZIS, ids=corpus_id)
def test_planes_equal_pylibczirw(path: Path) -> None:
    with open_image(path) as rdr, pyczi.open_czi(str(path)) as doc:
        scenes = doc.scenes_bounding_rectangle_no_pyramid
        for k, src in enumerate(rdr.sources()):
            t, c, z = (n - 1 for n in src.shape[:3])
            for plane in sorted({(0, 0, 0), (t, c, z)}):
                coords = rdr._scenes[k].plane_coords(*plane)  # type: ignore[attr-defined]
                if scenes:
                    rect = scenes[sorted(scenes)[k]]
                    want = doc.read(roi=(rect.x, rect.y, rect.w, rect.h), plane=coords)
                else:
                    want = doc.read(plane=coords)
                want = want[..., ::-1] if src.samples == 3 else want[..., 0]
                np.testing.assert_array_equal(src.get_plane(*plane), want)


@requires_bioformats
@pytest.mark.parametrize("path", PIXEL_PARAMS)
def test_planes_equal_live_bioformats(path: Path, tmp_path: Path) -> None:
    """Every plane equals Bio-Formats' decoding of the original (bfconvert)."""
    assert_bioformats_pixels_equal_source(path, path, tmp_path)


@pytest.mark.parametrize(
    ("czi", "converted"),
    [
        ("czi/aicspylibczi/RGB-8bit.czi", "RGB-8bit_interleaved_lzw.ome.tif"),
        ("czi/aicspylibczi/RGB-multichannel.czi", "RGB-multichannel_7x_rgb.ome.tif"),
        (
            "czi/aicspylibczi/CD_s_1_t_3_c_2_z_5.czi",
            "CD_s_1_t_3_c_2_z_5_bigtiff_zlib_5D_uint16.ome.tf2",
        ),
        ("czi/aicspylibczi/mosaic_test.czi", "mosaic_test_pyramid-3_tiled256_zlib_uint16.ome.tif"),
    ],
)
def test_pixels_equal_bioformats_conversion(czi: str, converted: str) -> None:
    """RGB order, channel order and mosaic composition agree with bfconvert's output."""
    src_path, ref_path = CORPUS / czi, BF_OUT / converted
    if not (src_path.is_file() and ref_path.is_file()):
        pytest.skip("corpus missing")
    with open_image(src_path) as rdr, tifffile.TiffFile(ref_path) as ref:
        src = rdr.sources()[0]
        t_n, c_n, z_n = src.shape[:3]
        pages = ref.series[0].levels[0].pages
        # Bio-Formats wrote XYCZT: C fastest, then Z, then T
        for t in range(t_n):
            for z in range(z_n):
                for c in range(c_n):
                    page = pages[(t * z_n + z) * c_n + c]
                    np.testing.assert_array_equal(src.get_plane(t, c, z), page.asarray())


def test_scenes_are_series_like_bioformats() -> None:
    path = CORPUS / "czi/czitools/S3_1Pos_2Mosaic_T1_Z1_CH1.czi"
    ref = BF_OUT / "S3_1Pos_2Mosaic_3series_lzw.ome.tif"
    if not path.is_file():
        pytest.skip("corpus missing")
    with open_image(path) as rdr, tifffile.TiffFile(ref) as bf:
        sources = rdr.sources()
        assert [s.shape[3:] for s in sources] == [s.shape for s in bf.series]
        # overlapping mosaic tiles: libCZI and Bio-Formats may draw a different
        # tile on top, so only the overlap can differ (docs/vendor-formats.md)
        for src, series in zip(sources, bf.series, strict=True):
            same = np.mean(src.get_plane(0, 0, 0) == series.asarray())
            assert same > 0.97


def test_metadata_mapping() -> None:
    path = CORPUS / "czi/aicspylibczi/CD_s_1_t_3_c_2_z_5.czi"
    if not path.is_file():
        pytest.skip("corpus missing")
    with open_image(path) as rdr:
        ome = rdr.ome()
        meta = rdr.original_metadata()
    image = ome.images[0]
    px = image.pixels
    assert [ch.name for ch in px.channels] == ["LED555", "LED470"]
    assert px.physical_size_x == pytest.approx(0.0905767, rel=1e-5)
    assert px.physical_size_z == pytest.approx(0.32)
    assert image.acquisition_date is not None and image.acquisition_date.year == 2016
    assert px.channels[0].color is not None
    assert all(p.exposure_time is not None for p in px.planes)
    assert len(px.planes) == 30
    assert any("ImageDocument" in k for k in meta)


def test_rgb_is_one_channel_with_three_samples() -> None:  # checklist R2
    path = CORPUS / "czi/aicspylibczi/RGB-multichannel.czi"
    if not path.is_file():
        pytest.skip("corpus missing")
    with open_image(path) as rdr:
        src = rdr.sources()[0]
        px = rdr.ome().images[0].pixels
    assert src.shape[1] == 7 and src.samples == 3
    assert px.size_c == 21 and len(px.channels) == 7
    assert all(ch.samples_per_pixel == 3 for ch in px.channels)


def test_truncated_file_is_a_clean_error(tmp_path: Path) -> None:
    src = CORPUS / "czi/czitools/CellDivision_T3_Z6_CH1_X300_Y200_DCV_ZSTD.czi"
    if not src.is_file():
        pytest.skip("corpus missing")
    data = src.read_bytes()
    for fraction in (0.01, 0.5):
        bad = tmp_path / f"cut{fraction}.czi"
        bad.write_bytes(data[: int(len(data) * fraction)])
        with pytest.raises(OmeTiffError) as info:
            with open_image(bad) as rdr:
                for s in rdr.sources():
                    for t in range(s.shape[0]):
                        for z in range(s.shape[2]):
                            s.get_plane(t, 0, z)
        assert str(bad) in str(info.value) and "\n" not in str(info.value)


def test_not_a_czi(tmp_path: Path) -> None:
    from ometiff.readers.czi import CziReader

    fake = tmp_path / "fake.czi"
    fake.write_bytes(b"PK\x03\x04 not a czi")
    assert CziReader.can_read(fake) is False
    with pytest.raises(OmeTiffError, match="not a Zeiss CZI"):
        CziReader(fake)


def test_missing_pylibczirw_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from ometiff.readers.czi import CziReader

    monkeypatch.setitem(sys.modules, "pylibCZIrw.czi", None)
    with pytest.raises(MissingDependencyError, match=r"ometiff\[czi\]"):
        CziReader(CORPUS / "czi/czitools/10x10.czi")
