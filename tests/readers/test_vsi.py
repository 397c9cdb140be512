"""Olympus/Evident cellSens VSI reader (slideio): Bio-Formats agreement, bad input."""

from __future__ import annotations

import shutil
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
from ometiff.readers.vsi import ets_folder

pytest.importorskip("slideio")

VSI = corpus_files("vsi/**/*.vsi")


def test_every_vsi_is_tested_and_recorded() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus missing")
    assert_every_file_recorded("vsi", [corpus_id(p) for p in VSI])


@pytest.mark.parametrize("path", VSI, ids=corpus_id)
def test_agrees_with_bioformats(path: Path) -> None:
    """Scenes then the macro, with Bio-Formats' sizes, types, pixel and Z step sizes and
    channel names."""
    summary = check_reader(path, reader="vsi")
    bf = expected_for(corpus_id(path))
    assert bf is not None, "run scripts/record_bioformats.py vsi"
    assert_like_bioformats(summarize_ome(summary.ome), bf, where=corpus_id(path))
    assert summary.ome.images[-1].name == "macro"


@pytest.mark.parametrize("path", VSI, ids=corpus_id)
def test_macro_is_the_vsi_tiff_page(path: Path) -> None:
    with open_image(path) as rdr, tifffile.TiffFile(path) as tf:
        np.testing.assert_array_equal(
            rdr.read_plane(rdr.series_count - 1, 0, 0, 0), tf.pages[0].asarray()
        )


def _copy_set(path: Path, dst: Path) -> Path:
    """The .vsi file and its ETS folder under ``dst`` (same names)."""
    shutil.copy(path, dst / path.name)
    shutil.copytree(ets_folder(path), dst / ets_folder(path).name)
    return dst / path.name


def test_vsi_without_its_ets_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not VSI:
        pytest.skip("corpus missing")
    lone = tmp_path / VSI[0].name
    shutil.copy(VSI[0], lone)
    out = tmp_path / "out.ome.tif"
    refused(["convert", str(lone), str(out)], capsys, lone.name, "ETS folder", out=out)


@pytest.mark.parametrize("size", [100, 60_000])
def test_truncated_ets_is_refused(
    size: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not VSI:
        pytest.skip("corpus missing")
    vsi = _copy_set(VSI[0], tmp_path)
    for ets in ets_folder(vsi).rglob("*.ets"):
        truncated_copy(ets, ets.with_suffix(".cut"), size).replace(ets)
    out = tmp_path / "out.ome.tif"
    refused(["convert", str(vsi), str(out)], capsys, vsi.name, "ETS", out=out)


def test_truncated_vsi_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not VSI:
        pytest.skip("corpus missing")
    vsi = _copy_set(VSI[0], tmp_path)
    truncated_copy(VSI[0], vsi, 20_000)
    out = tmp_path / "out.ome.tif"
    refused(["convert", str(vsi), str(out)], capsys, vsi.name, out=out)


@pytest.mark.slow
@pytest.mark.parametrize("path", VSI, ids=corpus_id)
def test_corpus_converts(path: Path, tmp_path: Path) -> None:
    convert_verified(path, tmp_path)


@requires_bioformats
@pytest.mark.slow
@pytest.mark.parametrize("path", VSI, ids=corpus_id)
def test_pixels_like_bioformats(path: Path, tmp_path: Path) -> None:
    """JPEG 2000 ETS tiles: slideio and Bio-Formats round differently, by at most 1 on
    under 0.1% of the pixels (docs/vendor-formats.md); the macro is equal."""
    bf = bioformats_decoding(path, tmp_path)
    with open_image(path) as rdr:
        size_z, size_c = rdr.level_shapes(0)[0][2], rdr.level_shapes(0)[0][1]
        with tifffile.TiffFile(bf) as tf:
            want = tf.series[0].asarray()  # (Z, C, Y, X) as Bio-Formats writes it
            assert want.shape[:2] == (size_z, size_c)
            diffs = [
                np.abs(rdr.read_plane(0, 0, c, z).astype(int) - want[z, c])
                for z in range(size_z)
                for c in range(size_c)
            ]
    assert max(int(d.max()) for d in diffs) <= 1
    assert np.mean([float((d > 0).mean()) for d in diffs]) < 0.001
    assert_planes_like_bioformats(path, bf, {1: 1}, levels={})
    out = convert_verified(path, tmp_path)
    bioformats_reads_conversion(path, out, tmp_path)


def test_info_names_the_vsi_variant() -> None:
    if not VSI:
        pytest.skip("corpus missing")
    from ometiff.inspection import info

    fi = info(VSI[0])
    assert fi.variant == "Olympus cellSens VSI"
    assert ets_folder(VSI[0]).name in fi.variants[0].evidence
