"""Nikon ND2 reader: every corpus file against Bio-Formats and the nd2 library."""

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

nd2 = pytest.importorskip("nd2")

ND2S = corpus_files("nd2/**/*.nd2")
#: cluster.nd2 has a committed bfconvert output (below); the live check runs on one
#: other file by default and on every file with --run-slow.
PIXEL_PARAMS = [
    pytest.param(
        p,
        id=corpus_id(p),
        marks=() if p.name == "example-multichannel.nd2" else pytest.mark.slow,
    )
    for p in ND2S
]
CLUSTER = CORPUS / "nd2/pims/cluster.nd2"
CLUSTER_BF = CORPUS / "ome-tiff/bioformats-7.3.1/cluster_from_nd2.ome.tif"


def test_every_nd2_is_tested_and_recorded() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus missing")
    assert_every_file_recorded("nd2", [corpus_id(p) for p in ND2S])


@pytest.mark.parametrize("path", ND2S, ids=corpus_id)
def test_conformance_and_bioformats_agreement(path: Path) -> None:
    summary = check_reader(path, reader="nd2", every_plane=True)
    bf = expected_for(corpus_id(path))
    assert bf is not None, "run scripts/record_bioformats.py nd2"
    assert_like_bioformats(summarize_ome(summary.ome), bf, where=corpus_id(path))


@pytest.mark.parametrize("path", ND2S, ids=corpus_id)
def test_planes_equal_nd2_library(path: Path) -> None:
    with open_image(path) as rdr, nd2.ND2File(path) as f:
        # nd2 leaves out absent loops ({"C": 2, "Y", "X"} gives (C, Y, X)): index
        # its array by its own dimension names, never by a fixed (T, Z, C) layout
        whole = f.asarray()  # small corpus files
        dims = list(f.sizes)
        assert whole.shape == tuple(f.sizes.values())
        assert set(dims) <= {"P", "T", "Z", "C", "Y", "X", "S"}, dims
        for p, src in enumerate(rdr.sources()):
            t_n, c_n, z_n = src.shape[:3]
            for t in range(t_n):
                for c in range(c_n):
                    for z in range(z_n):
                        at = {"P": p, "T": t, "C": c, "Z": z}
                        want = whole[tuple(at.get(d, slice(None)) for d in dims)]
                        plane = src.get_plane(t, c, z)
                        assert plane.shape == want.shape, (t, c, z)
                        np.testing.assert_array_equal(plane, want, err_msg=f"{(t, c, z)}")


@requires_bioformats
@pytest.mark.parametrize("path", PIXEL_PARAMS)
def test_planes_equal_live_bioformats(path: Path, tmp_path: Path) -> None:
    """Every plane equals Bio-Formats' decoding of the original (bfconvert)."""
    assert_bioformats_pixels_equal_source(path, path, tmp_path)


def test_pixels_equal_bioformats_conversion() -> None:
    if not CLUSTER_BF.is_file():
        pytest.skip("corpus missing")
    with open_image(CLUSTER) as rdr, tifffile.TiffFile(CLUSTER_BF) as bf:
        src = rdr.sources()[0]
        ref = bf.series[0].asarray()  # TZCYX
        for t, z, c in [(0, 0, 0), (1, 4, 1), (2, 9, 1)]:
            np.testing.assert_array_equal(src.get_plane(t, c, z), ref[t, z, c])


def test_metadata_mapping() -> None:
    if not CLUSTER.is_file():
        pytest.skip("corpus missing")
    with open_image(CLUSTER) as rdr:
        ome = rdr.ome()
        meta = rdr.original_metadata()
    px = ome.images[0].pixels
    assert [ch.name for ch in px.channels] == ["5-FAM/pH 9.0", "FM 4-64/2% CHAPS"]
    assert [ch.excitation_wavelength for ch in px.channels] == [488.0, 561.0]
    assert [ch.emission_wavelength for ch in px.channels] == [525.0, 700.0]
    assert px.channels[0].color is not None
    assert len(px.planes) == 60 and all(p.delta_t is not None for p in px.planes)
    assert px.planes[0].position_x is not None
    assert ome.instruments[0].objectives[0].lens_na == pytest.approx(0.95)
    assert ome.images[0].acquisition_date is not None
    assert not px.metadata_only and not px.tiff_data_blocks  # the writer adds storage
    assert any(k.startswith("text_info") for k in meta)


def test_truncated_file_is_a_clean_error(tmp_path: Path) -> None:
    if not CLUSTER.is_file():
        pytest.skip("corpus missing")
    data = CLUSTER.read_bytes()
    for n in (100, len(data) // 2):
        bad = tmp_path / f"cut{n}.nd2"
        bad.write_bytes(data[:n])
        with pytest.raises(OmeTiffError) as info:
            with open_image(bad) as rdr:
                rdr.sources()[0].get_plane(0, 0, 0)
        assert str(bad) in str(info.value) and "\n" not in str(info.value)


def test_not_an_nd2(tmp_path: Path) -> None:
    from ometiff.readers.nd2 import Nd2Reader

    fake = tmp_path / "fake.nd2"
    fake.write_bytes(b"just text")
    assert Nd2Reader.can_read(fake) is False
    with pytest.raises(OmeTiffError, match="not a Nikon ND2"):
        Nd2Reader(fake)


def test_missing_nd2_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from ometiff.readers.nd2 import Nd2Reader

    monkeypatch.setitem(sys.modules, "nd2", None)
    with pytest.raises(MissingDependencyError, match=r"ometiff\[nd2\]"):
        Nd2Reader(CLUSTER)
