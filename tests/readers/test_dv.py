"""DeltaVision reader: the corpus file against Bio-Formats and the mrc library."""

from __future__ import annotations

import struct
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

mrc = pytest.importorskip("mrc")

DVS = corpus_files("dv/**/*.dv", "dv/**/*.r3d")
TOXO = CORPUS / "dv/mrc/toxo.dv"


def test_every_dv_is_tested_and_recorded() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus missing")
    assert_every_file_recorded("dv", [corpus_id(p) for p in DVS])


@pytest.mark.parametrize("path", DVS, ids=corpus_id)
def test_conformance_and_bioformats_agreement(path: Path) -> None:
    summary = check_reader(path, reader="dv", every_plane=True)
    bf = expected_for(corpus_id(path))
    assert bf is not None, "run scripts/record_bioformats.py dv"
    assert_like_bioformats(summarize_ome(summary.ome), bf, where=corpus_id(path))


@pytest.mark.parametrize("path", DVS, ids=corpus_id)
def test_planes_equal_mrc_library(path: Path) -> None:
    with open_image(path) as rdr, mrc.DVFile(path) as f:
        whole = np.asarray(f.data)
        axes = [a for a in f.sizes if a not in "YX"]
        src = rdr.sources()[0]
        t_n, c_n, z_n = src.shape[:3]
        for t in range(t_n):
            for c in range(c_n):
                for z in range(z_n):
                    at = {"T": t, "C": c, "Z": z}
                    # DV stores the bottom row first; planes are top row first
                    want = whole[tuple(at[a] for a in axes)][::-1]
                    np.testing.assert_array_equal(src.get_plane(t, c, z), want)


@requires_bioformats
@pytest.mark.parametrize("path", DVS, ids=corpus_id)
def test_planes_equal_live_bioformats(path: Path, tmp_path: Path) -> None:
    assert_pixels_equal_bioformats(path, tmp_path)


@pytest.mark.parametrize("path", DVS, ids=corpus_id)
def test_converts_with_verified_pixels(path: Path, tmp_path: Path) -> None:
    assert_converts_verified(path, tmp_path)


def test_metadata_mapping() -> None:
    if not TOXO.is_file():
        pytest.skip("corpus missing")
    with open_image(TOXO) as rdr:
        ome = rdr.ome()
        meta = rdr.original_metadata()
        notes = rdr.notes.as_dict()
    px = ome.images[0].pixels
    assert (px.size_c, px.size_z, px.size_t) == (2, 17, 1)
    assert [ch.emission_wavelength for ch in px.channels] == [525.0, 632.0]
    assert px.physical_size_z == pytest.approx(0.3)
    objective = ome.instruments[0].objectives[0]
    # the lens id 10003 of the header, as Bio-Formats names it: 100x / NA 1.35 Olympus
    assert (objective.nominal_magnification, objective.lens_na) == (100.0, 1.35)
    assert objective.manufacturer == "Olympus"
    assert ome.images[0].objective_settings.id == objective.id
    assert "DECON3D" in (ome.images[0].description or "")
    assert meta["header|lens_num"] == "10003"
    assert any(n["ome"].endswith("EmissionWavelength") for n in notes["mapped"])


def _with_extended_header(path: Path, records: list[list[float]]) -> Path:
    """toxo.dv with a DV extended header: 8 ints + 32 floats per section."""
    data = TOXO.read_bytes()
    header = bytearray(data[:1024])
    ext = b"".join(struct.pack("<8i32f", *([0] * 8), *(r + [0.0] * (32 - len(r)))) for r in records)
    header[92:96] = struct.pack("<i", len(ext))  # next: extended header length
    header[128:132] = struct.pack("<hh", 8, 32)  # NumIntegers, NumFloats
    path.write_bytes(bytes(header) + ext + data[1024:])
    return path


def test_extended_header_gives_plane_times_positions_exposures(tmp_path: Path) -> None:
    if not TOXO.is_file():
        pytest.skip("corpus missing")
    with mrc.DVFile(TOXO) as f:
        axes = [a for a in f.sizes if a not in "YX"]
        shape = [f.sizes[a] for a in axes]
    records = []
    for k in range(34):  # sections in stored order
        at = dict(zip(axes, (int(i) for i in np.unravel_index(k, shape)), strict=True))
        c, z = at["C"], at["Z"]
        time, exposure = 10.0 * z + 0.5 * c, 0.05 * (c + 1)
        records.append(
            [
                0.0,
                time,
                100.0 + c,
                200.0,
                0.3 * z,
                0,
                0,
                0,
                exposure,
                0.0,
                (488.0, 561.0)[c],
                (525.0, 632.0)[c],
            ]
        )
    path = _with_extended_header(tmp_path / "ext.dv", records)
    summary = check_reader(path, reader="dv", every_plane=True)
    px = summary.ome.images[0].pixels
    assert [ch.excitation_wavelength for ch in px.channels] == [488.0, 561.0]
    by_index = {(p.the_c, p.the_z): p for p in px.planes}
    assert len(by_index) == 34
    plane = by_index[(1, 7)]
    assert plane.delta_t == pytest.approx(70.5) and plane.exposure_time == pytest.approx(0.1)
    assert (plane.position_x, plane.position_y, plane.position_z) == pytest.approx((101, 200, 2.1))
    with open_image(path) as rdr, open_image(TOXO) as plain:
        for c, z in [(0, 0), (1, 16)]:  # the pixels move past the extended header
            np.testing.assert_array_equal(
                rdr.sources()[0].get_plane(0, c, z), plain.sources()[0].get_plane(0, c, z)
            )


def test_truncated_file_is_a_clean_error(tmp_path: Path) -> None:
    if not TOXO.is_file():
        pytest.skip("corpus missing")
    size = TOXO.stat().st_size
    assert_truncations_fail_cleanly(TOXO, tmp_path, [100, 1024, 1100, size // 2, size - 1])


def test_not_a_dv(tmp_path: Path) -> None:
    from ometiff.readers.dv import DvReader

    fake = tmp_path / "fake.dv"
    fake.write_bytes(b"\x00" * 1024)
    assert DvReader.can_read(fake) is False
    with pytest.raises(OmeTiffError, match="not a DeltaVision file"):
        DvReader(fake)


def test_missing_mrc_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from ometiff.readers.dv import DvReader

    monkeypatch.setitem(sys.modules, "mrc", None)
    with pytest.raises(MissingDependencyError, match=r"ometiff\[dv\]"):
        DvReader(TOXO)


@requires_bioformats
@pytest.mark.slow
@pytest.mark.parametrize("path", DVS, ids=corpus_id)
def test_bioformats_reads_our_conversion_like_the_original(path: Path, tmp_path: Path) -> None:
    expected = expected_for(corpus_id(path))
    assert expected is not None
    assert_bioformats_reads_our_conversion(path, tmp_path, expected)
