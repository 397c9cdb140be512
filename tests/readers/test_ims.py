"""Imaris reader: the corpus file against Bio-Formats and h5py; generated pyramids."""

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

from ometiff.errors import MissingDependencyError, NoSuchPlaneError, OmeTiffError
from ometiff.readers import open_image

h5py = pytest.importorskip("h5py")

IMSS = corpus_files("ims/**/*.ims")
PTK2 = CORPUS / "ims/zarrnii/PtK2Cell.ims"


def test_every_ims_is_tested_and_recorded() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus missing")
    assert_every_file_recorded("ims", [corpus_id(p) for p in IMSS])


@pytest.mark.parametrize("path", IMSS, ids=corpus_id)
def test_conformance_and_bioformats_agreement(path: Path) -> None:
    summary = check_reader(path, reader="ims")
    bf = expected_for(corpus_id(path))
    assert bf is not None, "run scripts/record_bioformats.py ims"
    assert_like_bioformats(summarize_ome(summary.ome), bf, where=corpus_id(path))


@pytest.mark.parametrize("path", IMSS, ids=corpus_id)
def test_planes_equal_h5py(path: Path) -> None:
    with open_image(path) as rdr, h5py.File(path, "r") as f:
        src = rdr.sources()[0]
        t_n, c_n, z_n, y, x = src.shape
        for t in range(t_n):
            for c in range(c_n):
                data = f[f"DataSet/ResolutionLevel 0/TimePoint {t}/Channel {c}/Data"]
                for z in range(z_n):
                    np.testing.assert_array_equal(src.get_plane(t, c, z), data[z, :y, :x])


@requires_bioformats
@pytest.mark.slow
@pytest.mark.parametrize("path", IMSS, ids=corpus_id)
def test_planes_equal_live_bioformats(path: Path, tmp_path: Path) -> None:
    assert_pixels_equal_bioformats(path, tmp_path)


@pytest.mark.parametrize("path", IMSS, ids=corpus_id)
def test_converts_with_verified_pixels(path: Path, tmp_path: Path) -> None:
    assert_converts_verified(path, tmp_path)


def test_metadata_mapping() -> None:
    if not PTK2.is_file():
        pytest.skip("corpus missing")
    with open_image(PTK2) as rdr:
        ome = rdr.ome()
        meta = rdr.original_metadata()
    image = ome.images[0]
    px = image.pixels
    assert image.name == "Spindle Formation in PtK2 Cell"
    assert "PtK2" in (image.description or "")
    assert image.acquisition_date is not None and image.acquisition_date.year == 2002
    # Imaris "1.000 0.000 0.000" is opaque red, as Bio-Formats maps it
    assert [ch.color.as_rgb_tuple(alpha=True) for ch in px.channels][:3] == [
        (255, 0, 0, 1.0),
        (0, 255, 0, 1.0),
        (0, 0, 255, 1.0),
    ]
    assert px.physical_size_x == pytest.approx((17.118 + 0.033) / 256)
    assert meta["Image|ManufactorString"] == "Generic"


def _write_ims(path: Path, levels: list[tuple[int, int, int]], *, t: int = 2, c: int = 2) -> Path:
    """A minimal Imaris 5.5 file: padded chunks, several levels, time points."""
    rng = np.random.default_rng(0)

    def attr(value: object) -> np.ndarray:
        return np.array(list(str(value)), dtype="S1")

    with h5py.File(path, "w") as f:
        f.attrs["ImarisVersion"] = attr("5.5.0")
        for r, (z, y, x) in enumerate(levels):
            for ti in range(t):
                for ci in range(c):
                    g = f.create_group(f"DataSet/ResolutionLevel {r}/TimePoint {ti}/Channel {ci}")
                    for axis, n in zip("ZYX", (z, y, x), strict=True):
                        g.attrs[f"ImageSize{axis}"] = attr(n)
                    padded = (z, y + 3, x + 5)  # Imaris pads data up to its chunks
                    g["Data"] = rng.integers(0, 60000, padded, dtype=np.uint16)
        info = f.create_group("DataSetInfo/Image")
        z, y, x = levels[0]
        for i, (lo, hi) in enumerate([(0, x * 0.5), (0, y * 0.5), (0, z * 2.0)]):
            info.attrs[f"ExtMin{i}"] = attr(lo)
            info.attrs[f"ExtMax{i}"] = attr(hi)
        info.attrs["Unit"] = attr("um")
        times = f.create_group("DataSetInfo/TimeInfo")
        for ti in range(t):
            times.attrs[f"TimePoint{ti + 1}"] = attr(f"2024-05-01 10:00:{ti * 1.5:06.3f}")
        for ci in range(c):
            f.create_group(f"DataSetInfo/Channel {ci}").attrs["Name"] = attr(f"ch{ci}")
    return path


def test_resolution_levels_are_a_pyramid(tmp_path: Path) -> None:
    path = _write_ims(tmp_path / "pyr.ims", [(3, 40, 50), (3, 20, 25), (3, 10, 12)])
    check_reader(path, reader="ims", every_plane=True)
    with open_image(path) as rdr, h5py.File(path, "r") as f:
        assert rdr.level_shapes(0) == [(2, 2, 3, 40, 50), (2, 2, 3, 20, 25), (2, 2, 3, 10, 12)]
        want = f["DataSet/ResolutionLevel 2/TimePoint 1/Channel 1/Data"][2, :10, :12]
        np.testing.assert_array_equal(rdr.read_plane(0, 1, 1, 2, level=2), want)
        with pytest.raises(NoSuchPlaneError):
            rdr.read_plane(0, 0, 0, 0, level=3)
        px = rdr.ome().images[0].pixels
    assert px.physical_size_x == pytest.approx(0.5) and px.physical_size_z == pytest.approx(2.0)
    assert [p.delta_t for p in px.planes if p.the_c == 0 and p.the_z == 0] == [0.0, 1.5]
    assert px.time_increment == pytest.approx(1.5)
    assert [ch.name for ch in px.channels] == ["ch0", "ch1"]


def test_levels_that_reduce_z_are_not_kept(tmp_path: Path) -> None:
    path = _write_ims(tmp_path / "z.ims", [(4, 40, 50), (2, 20, 25)], t=1, c=1)
    with open_image(path) as rdr:
        assert rdr.level_shapes(0) == [(1, 1, 4, 40, 50)]
        assert any("reduces Z" in reason for _, reason in rdr.notes.unmapped)


def test_size_larger_than_its_data_is_a_clean_error(tmp_path: Path) -> None:
    path = _write_ims(tmp_path / "bad.ims", [(2, 8, 8)], t=1, c=1)
    with h5py.File(path, "r+") as f:
        g = f["DataSet/ResolutionLevel 0/TimePoint 0/Channel 0"]
        g.attrs["ImageSizeX"] = np.array(list("999"), dtype="S1")
    with pytest.raises(OmeTiffError, match="does not fit its data"):
        open_image(path)


def test_truncated_file_is_a_clean_error(tmp_path: Path) -> None:
    if not PTK2.is_file():
        pytest.skip("corpus missing")
    size = PTK2.stat().st_size
    assert_truncations_fail_cleanly(PTK2, tmp_path, [8, 4096, size // 2, size - 100])


def test_plain_hdf5_is_not_imaris(tmp_path: Path) -> None:
    path = tmp_path / "plain.ims"
    with h5py.File(path, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(OmeTiffError, match="without an Imaris DataSet"):
        open_image(path)


def test_missing_h5py_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from ometiff.readers.ims import ImsReader

    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(MissingDependencyError, match=r"ometiff\[ims\]"):
        ImsReader(PTK2)


@requires_bioformats
@pytest.mark.slow
@pytest.mark.parametrize("path", IMSS, ids=corpus_id)
def test_bioformats_reads_our_conversion_like_the_original(path: Path, tmp_path: Path) -> None:
    expected = expected_for(corpus_id(path))
    assert expected is not None
    assert_bioformats_reads_our_conversion(path, tmp_path, expected)
