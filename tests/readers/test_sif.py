"""Andor SIF reader: corpus files against sif_parser and Bio-Formats.

Bio-Formats 7.3.1 and sif_parser agree on the sizes of two corpus files only
(image.sif, boron...sif); for the other four Bio-Formats reports frames whose
float32 data would run past the end of the file (checked below), and its pixels
of image.sif start one float into the header text of the second data block.
docs/vendor-formats.md explains why ometiff follows sif_parser.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from bf_expected import (
    assert_every_file_recorded,
    assert_like_bioformats,
    expected_for,
    summarize_ome,
)
from reader_conformance import check_reader
from tests.bioformats import requires_bioformats
from tests.conftest import CORPUS, corpus_files, corpus_id
from vendor_checks import (
    assert_bioformats_reads_our_conversion,
    assert_converts_verified,
    assert_pixels_equal_bioformats,
    assert_truncations_fail_cleanly,
)

from ometiff.errors import MissingDependencyError, OmeTiffError
from ometiff.readers import open_image

sif_parser = pytest.importorskip("sif_parser")

SIFS = corpus_files("sif/**/*.sif")
#: Files whose sizes Bio-Formats and sif_parser agree on.
AGREE = {"sif/sif_parser/image.sif", "sif/sif_parser/boron_0.05_1us_750ns_5.sif"}
#: ... and whose pixels agree too (a one-row spectrum).
PIXELS_AGREE = {"sif/sif_parser/boron_0.05_1us_750ns_5.sif"}
IMAGE = CORPUS / "sif/sif_parser/image.sif"


def test_every_sif_is_tested_and_recorded() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus missing")
    assert_every_file_recorded("sif", [corpus_id(p) for p in SIFS])
    assert AGREE <= {corpus_id(p) for p in SIFS}


@pytest.mark.parametrize("path", SIFS, ids=corpus_id)
def test_conformance_and_sizes_of_sif_parser(path: Path) -> None:
    summary = check_reader(path, reader="sif", every_plane=True)
    data, _ = sif_parser.np_open(str(path))
    frames, y, x = data.shape
    assert summary.shapes == [(frames, 1, 1, y, x)]
    assert summary.dtypes == ["float32"]


@pytest.mark.parametrize("path", SIFS, ids=corpus_id)
def test_bioformats_agreement_or_its_sizes_overrun_the_file(path: Path) -> None:
    summary = check_reader(path, reader="sif")
    bf = expected_for(corpus_id(path))
    assert bf is not None, "run scripts/record_bioformats.py sif"
    if corpus_id(path) in AGREE:
        assert_like_bioformats(summarize_ome(summary.ome), bf, where=corpus_id(path))
        return
    one = bf["series"][0]
    frame_bytes = one["size_x"] * one["size_y"] * one["size_t"] * 4  # float32
    assert frame_bytes > path.stat().st_size, f"{corpus_id(path)}: Bio-Formats sizes fit"


@pytest.mark.parametrize("path", SIFS, ids=corpus_id)
def test_planes_equal_sif_parser(path: Path) -> None:
    data, _ = sif_parser.np_open(str(path))
    with open_image(path) as rdr:
        src = rdr.sources()[0]
        for t in range(src.shape[0]):
            np.testing.assert_array_equal(src.get_plane(t, 0, 0), data[t])


@requires_bioformats
@pytest.mark.parametrize("path", [p for p in SIFS if corpus_id(p) in PIXELS_AGREE], ids=corpus_id)
def test_planes_equal_live_bioformats(path: Path, tmp_path: Path) -> None:
    assert_pixels_equal_bioformats(path, tmp_path)


@pytest.mark.parametrize("path", SIFS, ids=corpus_id)
def test_converts_with_verified_pixels(path: Path, tmp_path: Path) -> None:
    assert_converts_verified(path, tmp_path)


def test_metadata_mapping() -> None:
    if not IMAGE.is_file():
        pytest.skip("corpus missing")
    with open_image(IMAGE) as rdr:
        ome = rdr.ome()
        meta = rdr.original_metadata()
    image = ome.images[0]
    assert ome.instruments[0].detectors[0].model == "DU897_BV"
    assert image.pixels.channels[0].detector_settings.id == "Detector:0:0"
    assert image.pixels.planes[0].exposure_time == pytest.approx(1.0)
    assert image.acquisition_date is not None and image.acquisition_date.year == 2009
    assert image.pixels.physical_size_x is None  # a SIF states no pixel size
    assert meta["DetectorType"] == "DU897_BV"


def test_truncated_file_is_a_clean_error(tmp_path: Path) -> None:
    if not IMAGE.is_file():
        pytest.skip("corpus missing")
    assert_truncations_fail_cleanly(IMAGE, tmp_path, [40, 500, 3000, 600_000])


def test_not_a_sif(tmp_path: Path) -> None:
    from ometiff.readers.sif import SifReader

    fake = tmp_path / "fake.sif"
    fake.write_bytes(b"not andor at all")
    assert SifReader.can_read(fake) is False
    with pytest.raises(OmeTiffError, match="not an Andor SIF"):
        SifReader(fake)


def test_missing_sif_parser_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from ometiff.readers.sif import SifReader

    monkeypatch.setitem(sys.modules, "sif_parser", None)
    with pytest.raises(MissingDependencyError, match=r"ometiff\[sif\]"):
        SifReader(IMAGE)


@requires_bioformats
@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in SIFS if corpus_id(p) in AGREE], ids=corpus_id)
def test_bioformats_reads_our_conversion_like_the_original(path: Path, tmp_path: Path) -> None:
    expected = expected_for(corpus_id(path))
    assert expected is not None
    assert_bioformats_reads_our_conversion(path, tmp_path, expected)
