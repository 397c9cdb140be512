"""MRC/CCP4 reader: the corpus map against Bio-Formats and mrcfile; bad headers."""

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

mrcfile = pytest.importorskip("mrcfile")

MAPS = corpus_files("mrc/**/*.map", "mrc/**/*.mrc", "mrc/**/*.ccp4", "mrc/**/*.mrcs")
EMD = CORPUS / "mrc/mrcfile/EMD-3197.map"


def test_every_mrc_is_tested_and_recorded() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus missing")
    assert_every_file_recorded("mrc", [corpus_id(p) for p in MAPS])


@pytest.mark.parametrize("path", MAPS, ids=corpus_id)
def test_conformance_and_bioformats_agreement(path: Path) -> None:
    summary = check_reader(path, reader="mrc", every_plane=True)
    bf = expected_for(corpus_id(path))
    assert bf is not None, "run scripts/record_bioformats.py mrc"
    assert_like_bioformats(summarize_ome(summary.ome), bf, where=corpus_id(path))


@pytest.mark.parametrize("path", MAPS, ids=corpus_id)
def test_planes_equal_mrcfile(path: Path) -> None:
    with open_image(path) as rdr, mrcfile.open(path, permissive=False) as f:
        data = np.asarray(f.data)
        src = rdr.sources()[0]
        for z in range(src.shape[2]):
            # stored bottom row first; planes are top row first (as Bio-Formats)
            np.testing.assert_array_equal(src.get_plane(0, 0, z), data[z][::-1])


@requires_bioformats
@pytest.mark.parametrize("path", MAPS, ids=corpus_id)
def test_planes_equal_live_bioformats(path: Path, tmp_path: Path) -> None:
    assert_pixels_equal_bioformats(path, tmp_path)


@pytest.mark.parametrize("path", MAPS, ids=corpus_id)
def test_converts_with_verified_pixels(path: Path, tmp_path: Path) -> None:
    assert_converts_verified(path, tmp_path)


def test_voxel_size_is_kept_in_angstrom() -> None:
    if not EMD.is_file():
        pytest.skip("corpus missing")
    with open_image(EMD) as rdr:
        px = rdr.ome().images[0].pixels
        desc = rdr.ome().images[0].description
    assert px.physical_size_x == pytest.approx(11.4)
    assert px.physical_size_x_unit.value == "Å"
    assert px.type.value == "float"
    assert "EMD-3197" in (desc or "")


def _write_map(path: Path, data: np.ndarray, voxel: float = 0.0) -> Path:
    with mrcfile.new(path, overwrite=True) as f:
        f.set_data(data)
        if voxel:
            f.voxel_size = voxel
    return path


def test_generated_int16_stack_and_unstated_voxel_size(tmp_path: Path) -> None:
    data = np.arange(3 * 4 * 5, dtype=np.int16).reshape(3, 4, 5)
    path = _write_map(tmp_path / "stack.mrc", data)
    summary = check_reader(path, reader="mrc", every_plane=True)
    px = summary.ome.images[0].pixels
    assert (px.size_z, px.size_y, px.size_x, px.type.value) == (3, 4, 5, "int16")
    assert px.physical_size_x is None  # cell of 0: not stated (U3)
    with open_image(path) as rdr:
        np.testing.assert_array_equal(rdr.sources()[0].get_plane(0, 0, 2), data[2][::-1])


def test_impossible_header_is_a_clean_error(tmp_path: Path) -> None:
    path = _write_map(tmp_path / "bad.mrc", np.zeros((2, 4, 4), np.float32), 1.0)
    raw = bytearray(path.read_bytes())
    raw[0:4] = (-5).to_bytes(4, "little", signed=True)  # nx < 0
    path.write_bytes(bytes(raw))
    with pytest.raises(OmeTiffError) as info:
        open_image(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_complex_mode_is_refused(tmp_path: Path) -> None:
    path = _write_map(tmp_path / "complex.mrc", np.zeros((1, 4, 4), np.complex64))
    with pytest.raises(OmeTiffError, match="MRC mode 4 has no OME pixel type"):
        open_image(path)


def test_truncated_file_is_a_clean_error(tmp_path: Path) -> None:
    if not EMD.is_file():
        pytest.skip("corpus missing")
    size = EMD.stat().st_size
    assert_truncations_fail_cleanly(EMD, tmp_path, [100, 1024, size // 2, size - 1])


def test_not_an_mrc(tmp_path: Path) -> None:
    from ometiff.readers.mrc import MrcReader

    fake = tmp_path / "fake.map"
    fake.write_bytes(b"tiny")
    assert MrcReader.can_read(fake) is False
    with pytest.raises(OmeTiffError, match="not an MRC"):
        MrcReader(fake)


def test_missing_mrcfile_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from ometiff.readers.mrc import MrcReader

    monkeypatch.setitem(sys.modules, "mrcfile", None)
    with pytest.raises(MissingDependencyError, match=r"ometiff\[mrc\]"):
        MrcReader(EMD)


@requires_bioformats
@pytest.mark.slow
@pytest.mark.parametrize("path", MAPS, ids=corpus_id)
def test_bioformats_reads_our_conversion_like_the_original(path: Path, tmp_path: Path) -> None:
    expected = expected_for(corpus_id(path))
    assert expected is not None
    assert_bioformats_reads_our_conversion(path, tmp_path, expected)
