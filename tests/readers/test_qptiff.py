"""Akoya/PerkinElmer QPTIFF reader: corpus agreement with Bio-Formats, metadata, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from bf_expected import (
    assert_every_file_recorded,
    assert_like_bioformats,
    expected_for,
    recorder,
)
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
from ometiff.readers.qptiff import qpi_fields

QPTIFF = corpus_files("qptiff/**/*.qptiff")


def _qpi(kind: str, name: str = "", color: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="utf-16"?>\n<PerkinElmer-QPI-ImageDescription>'
        f"<DescriptionVersion>2</DescriptionVersion><ImageType>{kind}</ImageType>"
        f"<Name>{name}</Name><Color>{color}</Color><Objective>20x</Objective>"
        "<ExposureTime>1500</ExposureTime></PerkinElmer-QPI-ImageDescription>"
    )


@pytest.fixture
def qptiff(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """Two channels, one reduced level each, a thumbnail and a label."""
    rng = np.random.default_rng(2)
    data = rng.integers(0, 4000, (2, 128, 96), np.uint16)
    path = tmp_path / "scan.qptiff"
    res = ((20000, 1), (20000, 1))
    kw = {"metadata": None, "resolutionunit": "CENTIMETER"}
    with tifffile.TiffWriter(path) as tw:
        for c, (name, color) in enumerate((("DAPI", "0,0,255"), ("Opal 570", "255,255,0"))):
            tw.write(
                data[c], description=_qpi("FullResolution", name, color), resolution=res[0], **kw
            )
        for c, name in enumerate(("DAPI", "Opal 570")):
            tw.write(
                data[c, ::2, ::2],
                description=_qpi("ReducedResolution", name),
                resolution=(10000, 1),
                **kw,
            )
        tw.write(
            np.zeros((32, 24, 3), np.uint8),
            photometric="rgb",
            description=_qpi("Thumbnail"),
            resolution=(5000, 1),
            **kw,
        )
        tw.write(
            np.full((20, 30, 3), 7, np.uint8),
            photometric="rgb",
            description=_qpi("Label"),
            resolution=(100, 1),
            **kw,
        )
    return path, data


def test_every_qptiff_is_tested_and_recorded() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus missing")
    assert_every_file_recorded("qptiff", [corpus_id(p) for p in QPTIFF])


@pytest.mark.parametrize("path", QPTIFF, ids=corpus_id)
def test_agrees_with_bioformats(path: Path) -> None:
    """Every series (slide, thumbnail, overview, label), in Bio-Formats' order, with
    its sizes, pixel size and the slide's channel names."""
    summary = check_reader(path, reader="qptiff", every_plane=True)
    bf = expected_for(corpus_id(path))
    assert bf is not None, "run scripts/record_bioformats.py qptiff"
    assert_like_bioformats(summarize_ome(summary.ome), bf, where=corpus_id(path))
    ome = summary.ome
    assert [im.name for im in ome.images[1:]] == ["thumbnail", "overview", "label"]
    colours = [ch.color.as_rgb_tuple() for ch in ome.images[0].pixels.channels]
    assert colours == [(0, 0, 255), (0, 255, 0), (255, 255, 0)]  # the XML's r,g,b
    assert ome.instruments[0].objectives[0].nominal_magnification == 10  # "10x"


@pytest.mark.parametrize("path", QPTIFF, ids=corpus_id)
def test_planes_equal_tifffile_pages(path: Path) -> None:
    with open_image(path) as rdr, tifffile.TiffFile(path) as tf:
        for c in range(3):
            np.testing.assert_array_equal(rdr.read_plane(0, 0, c, 0), tf.pages[c].asarray())
        for series, page in ((1, 3), (2, 4), (3, 5)):
            np.testing.assert_array_equal(rdr.read_plane(series, 0, 0, 0), tf.pages[page].asarray())


def test_generated_qptiff_channels_levels_and_associated(
    qptiff: tuple[Path, np.ndarray],
) -> None:
    path, data = qptiff
    check_reader(path, reader="qptiff", every_plane=True, expect_series=3)
    with open_image(path) as rdr:
        assert rdr.level_shapes(0) == [(1, 2, 1, 128, 96), (1, 2, 1, 64, 48)]
        np.testing.assert_array_equal(rdr.read_plane(0, 0, 1, 0), data[1])
        np.testing.assert_array_equal(rdr.read_plane(0, 0, 1, 0, level=1), data[1, ::2, ::2])
        ome = rdr.ome()
    px = ome.images[0].pixels
    assert [c.name for c in px.channels] == ["DAPI", "Opal 570"]
    assert px.physical_size_x == pytest.approx(0.5)  # 20000 px/cm
    assert ome.images[2].name == "label"
    assert ome.images[2].pixels.physical_size_x == pytest.approx(100.0)
    assert [p.exposure_time for p in px.planes] == [1500, 1500]
    assert ome.instruments[0].objectives[0].model == "20x"


def test_qpi_fields_ignore_other_xml() -> None:
    assert qpi_fields("<root><Name>x</Name></root>") == {}
    assert qpi_fields(None) == {}
    assert qpi_fields(_qpi("Label"))["ImageType"] == "Label"


def test_truncated_qptiff_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not QPTIFF:
        pytest.skip("corpus missing")
    bad = truncated_copy(QPTIFF[0], tmp_path / "cut.qptiff", 1_000_000)
    out = tmp_path / "out.ome.tif"
    refused(["convert", str(bad), str(out)], capsys, "cut.qptiff", "truncated", out=out)


@pytest.mark.parametrize("path", QPTIFF, ids=corpus_id)
def test_corpus_converts(path: Path, tmp_path: Path) -> None:
    convert_verified(path, tmp_path)


@requires_bioformats
@pytest.mark.slow
@pytest.mark.parametrize("path", QPTIFF, ids=corpus_id)
def test_pixels_like_bioformats(path: Path, tmp_path: Path) -> None:
    bf = bioformats_decoding(path, tmp_path)
    assert_planes_like_bioformats(path, bf, {0: 0, 1: 1, 2: 2, 3: 3}, levels={})
    out = convert_verified(path, tmp_path)
    bioformats_reads_conversion(path, out, tmp_path)


@requires_bioformats
@pytest.mark.slow
@pytest.mark.parametrize("path", QPTIFF, ids=corpus_id)
def test_recorded_expectations_are_current(path: Path) -> None:
    """scripts/record_bioformats.py run now gives what is committed."""
    assert recorder().summarize_file(path) == expected_for(corpus_id(path))
