"""Aperio SVS reader: corpus agreement with Bio-Formats, generated slides, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from bf_expected import assert_every_file_recorded, assert_like_bioformats, expected_for
from reader_conformance import check_reader
from slide_checks import (
    assert_planes_like_bioformats,
    bioformats_decoding,
    bioformats_reads_conversion,
    convert_verified,
    refused,
    summarize_ome,
    truncated_copy,
)
from tests.bioformats import requires_bioformats
from tests.conftest import CORPUS, corpus_files, corpus_id

from ometiff.readers import open_image

SVS = corpus_files("svs/**/*.svs")
#: with the SVS files of the TIFF corpus folder (recorded in tiff.json)
SVS_ALL = corpus_files("svs/**/*.svs", "tiff/**/*.svs")
TCGA = CORPUS / "svs/histolab/TCGA-CR-7395-01A-01-TS1.svs"


def _aperio(text: str) -> str:
    return f"Aperio Image Library v12.0.15\r\n{text}"


@pytest.fixture
def slide(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A small SVS in Aperio's layout: tiled slide, thumbnail, reduced level, label, macro."""
    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (512, 640, 3), np.uint8)
    path = tmp_path / "slide.svs"
    kw = {"photometric": "rgb", "metadata": None}
    with tifffile.TiffWriter(path) as tw:
        tw.write(
            img,
            tile=(64, 64),
            compression="zlib",
            **kw,
            description=_aperio("640x512 (64x64) RGB|AppMag = 20|MPP = 0.4990|Date = x"),
        )
        tw.write(img[::4, ::4], description=_aperio("640x512 -> 160x128 - "), **kw)
        tw.write(
            img[::2, ::2],
            tile=(64, 64),
            compression="zlib",
            **kw,
            description=_aperio("640x512 (64x64) -> 320x256 RGB"),
        )
        tw.write(img[:50, :60], description=_aperio("label 60x50"), subfiletype=1, **kw)
        tw.write(img[:40, :90], description=_aperio("macro 90x40"), subfiletype=9, **kw)
    return path, img


def test_every_svs_is_tested_and_recorded() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus missing")
    assert_every_file_recorded("svs", [corpus_id(p) for p in SVS])


@pytest.mark.parametrize("path", SVS_ALL, ids=corpus_id)
def test_agrees_with_bioformats_but_keeps_the_thumbnail(path: Path) -> None:
    """Slide, levels, label and macro are Bio-Formats'; Bio-Formats 7.3.1 never shows
    the thumbnail (IFD 1) as a series, we keep it as series 1 (docs/vendor-formats.md)."""
    summary = check_reader(path, reader="svs", every_plane=path.stat().st_size < 5_000_000)
    bf = expected_for(corpus_id(path))
    assert bf is not None, "run scripts/record_bioformats.py"
    ours = summarize_ome(summary.ome)
    names = [im.name for im in summary.ome.images]
    assert names[1] == "thumbnail"
    del ours["series"][1]
    ours["series_count"] -= 1
    assert_like_bioformats(ours, bf, where=corpus_id(path))
    assert names[2:] == [s["name"].split()[0] for s in bf["series"][1:]]  # "label image"
    with open_image(path) as rdr:
        assert len(rdr.level_shapes(0)) == bf["series"][0]["resolution_count"]


@pytest.mark.parametrize("path", SVS, ids=corpus_id)
def test_levels_equal_tifffile(path: Path) -> None:
    with open_image(path) as rdr, tifffile.TiffFile(path) as tf:
        main = tf.series[0]
        assert len(rdr.level_shapes(0)) == len(main.levels)
        for k, level in enumerate(main.levels):
            np.testing.assert_array_equal(rdr.read_plane(0, 0, 0, 0, level=k), level.asarray())
        np.testing.assert_array_equal(rdr.read_plane(1, 0, 0, 0), tf.series[1].asarray())


def test_generated_slide_layout_and_metadata(slide: tuple[Path, np.ndarray]) -> None:
    path, img = slide
    check_reader(path, reader="svs", every_plane=True, expect_series=4)
    with open_image(path) as rdr:
        ome = rdr.ome()
        assert [im.name for im in ome.images] == ["slide", "thumbnail", "label", "macro"]
        assert rdr.level_shapes(0) == [(1, 1, 1, 512, 640), (1, 1, 1, 256, 320)]
        np.testing.assert_array_equal(rdr.read_plane(0, 0, 0, 0), img)
        np.testing.assert_array_equal(rdr.read_plane(0, 0, 0, 0, level=1), img[::2, ::2])
        np.testing.assert_array_equal(rdr.read_plane(2, 0, 0, 0), img[:50, :60])
        px = ome.images[0].pixels
        assert px.physical_size_x == pytest.approx(0.499)  # MPP
        assert px.physical_size_x_unit.value == "µm"
        assert ome.images[1].pixels.physical_size_x is None  # U3: not stated for it
        assert ome.instruments[0].objectives[0].nominal_magnification == 20  # AppMag
        assert rdr.original_metadata()["Aperio Date"] == "x"


def test_tif_named_svs_is_claimed_by_description(
    tmp_path: Path, slide: tuple[Path, np.ndarray]
) -> None:
    path, _ = slide
    renamed = path.rename(tmp_path / "slide.tif")
    with open_image(renamed) as rdr:
        assert rdr.name == "svs"


def test_converts_to_a_pyramid(slide: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    path, img = slide
    out = convert_verified(path, tmp_path)
    with open_image(out) as back:
        assert back.series_count == 4
        np.testing.assert_array_equal(back.read_plane(0, 0, 0, 0), img)


@pytest.mark.parametrize("size", [5_000, 2_000_000])
def test_truncated_svs_is_refused(
    size: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not TCGA.is_file():
        pytest.skip("corpus missing")
    bad = truncated_copy(TCGA, tmp_path / "cut.svs", size)
    out = tmp_path / "out.ome.tif"
    refused(["convert", str(bad), str(out)], capsys, "cut.svs", "truncated", out=out)


@pytest.mark.slow
@pytest.mark.parametrize("path", SVS, ids=corpus_id)
def test_corpus_converts_to_a_pyramid(path: Path, tmp_path: Path) -> None:
    convert_verified(path, tmp_path)


@requires_bioformats
@pytest.mark.slow
@pytest.mark.parametrize("path", SVS, ids=corpus_id)
def test_pixels_like_bioformats(path: Path, tmp_path: Path) -> None:
    """JPEG 2000 tiles: imagecodecs (OpenJPEG) and Bio-Formats' decoder round the
    irreversible wavelet differently, by at most 2 (docs/vendor-formats.md)."""
    bf = bioformats_decoding(path, tmp_path)
    assert_planes_like_bioformats(
        path, bf, {0: 0}, levels={0: [0, 1]}, tolerance=2, max_fraction=0.25
    )
    out = convert_verified(path, tmp_path)
    bioformats_reads_conversion(path, out, tmp_path)


def test_read_region_decodes_only_its_tiles(slide: tuple[Path, np.ndarray]) -> None:
    from ometiff.errors import InvalidArgumentError, NoSuchPlaneError

    path, img = slide
    with open_image(path) as rdr:
        got = rdr.read_region(0, 0, 0, 0, 60, 130, 100, 300)
        np.testing.assert_array_equal(got, img[60:130, 100:300])
        level1 = img[::2, ::2]
        np.testing.assert_array_equal(
            rdr.read_region(0, 0, 0, 0, 250, level1.shape[0], 300, level1.shape[1], level=1),
            level1[250:, 300:],
        )
        # untiled pages (the thumbnail) are cropped from the whole page
        np.testing.assert_array_equal(
            rdr.read_region(1, 0, 0, 0, 3, 8, 4, 10), img[::4, ::4][3:8, 4:10]
        )
        with pytest.raises(InvalidArgumentError):  # a window outside the plane
            rdr.read_region(0, 0, 0, 0, 600, 601, 0, 1)
        with pytest.raises(NoSuchPlaneError):
            rdr.read_region(0, 0, 0, 1, 0, 1, 0, 1)


@pytest.mark.parametrize("path", SVS, ids=corpus_id)
def test_corpus_region_equals_the_plane(path: Path) -> None:
    with open_image(path) as rdr, tifffile.TiffFile(path) as tf:
        level = tf.series[0].levels[1].asarray()
        got = rdr.read_region(0, 0, 0, 0, 700, 1000, 900, 1233, level=1)
        np.testing.assert_array_equal(got, level[700:1000, 900:1233])
