"""Leica LIF reader: every corpus file against Bio-Formats and liffile."""

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

liffile = pytest.importorskip("liffile")

LIFS = corpus_files("lif/**/*.lif")
SWEEP = CORPUS / "lif/readlif/LeicaLASX_wavelength-sweep_example.lif"
SWEEP_BF = CORPUS / "ome-tiff/bioformats-7.3.1/LeicaLASX_wavelength-sweep_3series_lzw.ome.tif"


def test_every_lif_is_tested_and_recorded() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus missing")
    assert_every_file_recorded("lif", [corpus_id(p) for p in LIFS])


@pytest.mark.parametrize("path", LIFS, ids=corpus_id)
def test_conformance_and_bioformats_agreement(path: Path) -> None:
    summary = check_reader(path, reader="lif")
    bf = expected_for(corpus_id(path))
    assert bf is not None, "run scripts/record_bioformats.py lif"
    assert_like_bioformats(summarize_ome(summary.ome), bf, where=corpus_id(path))


@pytest.mark.parametrize("path", LIFS, ids=corpus_id)
def test_planes_equal_liffile(path: Path) -> None:
    with open_image(path) as rdr, liffile.LifFile(path, squeeze=False) as lif:
        for src, image in zip(rdr.sources(), lif.images, strict=True):
            whole = image.asarray()
            dims = image.dims
            t, c, z = (n - 1 for n in src.shape[:3])
            for plane in {(0, 0, 0), (t, c, z), (t // 2, c, z // 2)}:
                idx = rdr._series[lif.images.index(image)].indices(*plane)  # type: ignore[attr-defined]
                sel = tuple(idx.get(d, slice(None)) for d in dims)
                np.testing.assert_array_equal(src.get_plane(*plane), whole[sel])


@requires_bioformats
@pytest.mark.slow
@pytest.mark.parametrize("path", LIFS, ids=corpus_id)
def test_planes_equal_live_bioformats(path: Path, tmp_path: Path) -> None:
    """Every plane equals Bio-Formats' decoding of the original (bfconvert)."""
    assert_bioformats_pixels_equal_source(path, path, tmp_path)


@pytest.mark.skipif(not SWEEP_BF.is_file(), reason="corpus missing")
def test_lambda_sweep_pixels_equal_bioformats_conversion() -> None:
    """Lambda is folded into T exactly as Bio-Formats orders it (bfconvert output)."""
    with open_image(SWEEP) as rdr, tifffile.TiffFile(SWEEP_BF) as bf:
        sources = rdr.sources()
        assert len(sources) == len(bf.series) == 3
        for src, series in zip(sources, bf.series, strict=True):
            ref = series.asarray().reshape(src.shape[0], src.shape[2], *src.shape[3:])
            for t in range(src.shape[0]):
                for z in range(src.shape[2]):
                    np.testing.assert_array_equal(src.get_plane(t, 0, z), ref[t, z])


def test_metadata_mapping() -> None:
    path = CORPUS / "lif/readlif/testdata_2channel_xz.lif"
    if not path.is_file():
        pytest.skip("corpus missing")
    with open_image(path) as rdr:
        ome = rdr.ome()
        meta = rdr.original_metadata()
    xzt = ome.images[0]
    assert xzt.name == "xzt"
    assert [ch.name for ch in xzt.pixels.channels] == ["Leica/FITC", "Leica/TRITC"]
    assert [ch.color.as_rgb_tuple() for ch in xzt.pixels.channels] == [(0, 255, 0), (255, 0, 0)]
    assert xzt.pixels.time_increment == pytest.approx(0.53, rel=1e-3)
    assert len(xzt.pixels.planes) == 40  # DeltaT for every plane
    assert xzt.pixels.planes[-1].delta_t > 9  # ~10 s sweep
    assert xzt.acquisition_date is not None and xzt.acquisition_date.year == 2021
    objective = ome.instruments[0].objectives[0]
    assert objective.lens_na == pytest.approx(1.3) and objective.nominal_magnification == 63
    assert xzt.stage_label is not None and xzt.stage_label.x > 0
    assert any(k.endswith("ObjectiveName") for k in meta)


def test_truncated_file_is_a_clean_error(tmp_path: Path) -> None:
    src = CORPUS / "lif/readlif/testdata_2channel_xz.lif"
    if not src.is_file():
        pytest.skip("corpus missing")
    data = src.read_bytes()
    for fraction in (0.01, 0.5):
        bad = tmp_path / f"cut{fraction}.lif"
        bad.write_bytes(data[: int(len(data) * fraction)])
        with pytest.raises(OmeTiffError) as info:
            with open_image(bad) as rdr:
                for s in rdr.sources():
                    s.get_plane(0, 0, 0)
        assert str(bad) in str(info.value) and "\n" not in str(info.value)


def test_dimensions_larger_than_the_memory_block(tmp_path: Path) -> None:
    """An image whose XML declares more pixels than its memory block holds (a fuzz
    finding: liffile read short and a reshape ValueError escaped as an internal error)."""
    from ometiff.cli.main import main

    src = CORPUS / "lif/readlif/LeicaLASX_xz-plane_example.lif"
    if not src.is_file():
        pytest.skip("corpus missing")
    old = 'NumberOfElements="512"'.encode("utf-16-le")
    data = src.read_bytes()
    bad = tmp_path / "bigger.lif"
    bad.write_bytes(data.replace(old, 'NumberOfElements="999"'.encode("utf-16-le"), 1))
    with pytest.raises(OmeTiffError, match=r"declares 511488 bytes of pixels but its memory block"):
        open_image(bad)
    assert main(["convert", str(bad), str(tmp_path / "out.ome.tif"), "-q"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [bad.name]


def test_plane_over_the_memory_budget(tmp_path: Path) -> None:
    from ometiff.readers.decode import memory_budget

    src = CORPUS / "lif/readlif/LeicaLASX_xz-plane_example.lif"
    if not src.is_file():
        pytest.skip("corpus missing")
    with open_image(src) as rdr, memory_budget(1000):
        with pytest.raises(OmeTiffError, match=r"LIF plane .* more than the memory budget"):
            rdr.sources()[0].get_plane(0, 0, 0)


def test_not_a_lif(tmp_path: Path) -> None:
    fake = tmp_path / "fake.lif"
    fake.write_bytes(b"not a leica file at all")
    from ometiff.readers.lif import LifReader

    assert LifReader.can_read(fake) is False
    with pytest.raises(OmeTiffError):
        LifReader(fake)


def test_missing_liffile_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from ometiff.readers.lif import LifReader

    monkeypatch.setitem(sys.modules, "liffile", None)
    with pytest.raises(MissingDependencyError, match=r"ometiff\[lif\]"):
        LifReader(SWEEP)
