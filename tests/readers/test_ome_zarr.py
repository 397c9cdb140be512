"""OME-Zarr reader: NGFF 0.4/0.5 images, labels, plates and bioformats2raw output.

Bio-Formats 7.3.1 (our reference jar) has no OME-Zarr reader, so its view comes
from the files these containers were made from: cluster_5d was written from
nd2/pims/cluster.nd2 and bioformats2raw's METADATA.ome.xml is Bio-Formats' own OME.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from bf_expected import assert_like_bioformats, expected_for, summarize_ome
from reader_conformance import check_reader
from tests.conftest import CORPUS, corpus_id

from ometiff.errors import MissingDependencyError, OmeTiffError
from ometiff.readers import open_image

zarr = pytest.importorskip("zarr")

BASE = CORPUS / "ome-zarr"
CONTAINERS = sorted(
    p
    for p in (
        [
            *BASE.glob("*/*.ome.zarr"),
            *BASE.glob("*/*/*.ome.zarr"),
            BASE / "viv/bioformats-zarr/data.zarr",
        ]
        if BASE.is_dir()
        else []
    )
    if p.is_dir()
)
CLUSTER_V = [BASE / f"ome-zarr-py-0.18.0/cluster_5d_v0{v}.ome.zarr" for v in (4, 5)]


@pytest.mark.parametrize("path", CONTAINERS, ids=corpus_id)
def test_conformance(path: Path) -> None:
    summary = check_reader(path, reader="ome-zarr")
    assert summary.series >= 1


@pytest.mark.parametrize("path", CONTAINERS, ids=corpus_id)
def test_planes_equal_zarr(path: Path) -> None:
    with open_image(path, reader="ome-zarr") as rdr:
        for im, src in zip(rdr._images, rdr.sources(), strict=True):  # type: ignore[attr-defined]
            whole = np.asarray(im.array[...])
            full = whole.reshape(src.shape)  # every corpus image is in t,c,z,y,x order
            t, c, z = (n - 1 for n in src.shape[:3])
            for plane in {(0, 0, 0), (t, c, z)}:
                np.testing.assert_array_equal(src.get_plane(*plane), full[plane])


@pytest.mark.parametrize("path", CLUSTER_V, ids=lambda p: p.name)
def test_v04_and_v05_agree_with_bioformats_on_the_source_nd2(path: Path) -> None:
    if not path.is_dir():
        pytest.skip("corpus missing")
    with open_image(path) as rdr:
        ours = summarize_ome(rdr.ome())
    bf = expected_for("nd2/pims/cluster.nd2")
    assert bf is not None
    # the omero block written by ome-zarr-py carries no channel labels
    assert_like_bioformats(ours, bf, names=False, where=path.name)


def test_labels_are_not_series() -> None:
    path = BASE / "ome-zarr-py-0.18.0/mosaic_multiscale_labels_v05.ome.zarr"
    if not path.is_dir():
        pytest.skip("corpus missing")
    with open_image(path) as rdr:
        assert len(rdr.sources()) == 1
        assert rdr.sources()[0].shape == (1, 1, 1, 512, 512)
        px = rdr.ome().images[0].pixels
        assert px.physical_size_x == pytest.approx(1.0833333, rel=1e-6)
        assert px.physical_size_z is None  # no z axis: nothing invented (U3)
        assert any("labels" in src for src, _ in rdr.notes.unmapped)


def test_bioformats2raw_uses_metadata_xml() -> None:
    path = BASE / "viv/bioformats-zarr/data.zarr"
    if not path.is_dir():
        pytest.skip("corpus missing")
    for entry in (path, path.parent):  # the container, or the folder holding it
        with open_image(entry) as rdr:
            ome = rdr.ome()
            assert [im.name for im in ome.images] == ["multi-channel.ome.tif"]
            px = ome.images[0].pixels
            assert (px.size_c, px.size_y, px.size_x, px.type.value) == (3, 167, 439, "int8")
            assert not px.tiff_data_blocks


def test_unitless_scale_gives_no_physical_size() -> None:
    path = BASE / "viv/ome-zarr/blobs_image_v04.ome.zarr"
    if not path.is_dir():
        pytest.skip("corpus missing")
    with open_image(path) as rdr:
        px = rdr.ome().images[0].pixels
    assert px.physical_size_x is None  # axis unit "unit" is not a length (U3)
    assert [ch.name for ch in px.channels] == ["0", "1", "2"]


def test_plate_fields_are_series() -> None:
    path = BASE / "ome-zarr-models-py/hcs_example.ome.zarr"
    if not path.is_dir():
        pytest.skip("corpus missing")
    with open_image(path) as rdr:
        sources = rdr.sources()
        assert len(sources) == 1 and sources[0].shape == (1, 1, 2, 2160, 5120)
        assert rdr.ome().images[0].pixels.channels[0].name == "DAPI"


def test_not_a_container(tmp_path: Path) -> None:
    from ometiff.readers.ome_zarr import OmeZarrReader

    (tmp_path / ".zattrs").write_text(json.dumps({"something": 1}))
    assert OmeZarrReader.can_read(tmp_path) is False
    assert OmeZarrReader.can_read(tmp_path / "missing") is False
    with pytest.raises(OmeTiffError, match="not an OME-Zarr"):
        OmeZarrReader(tmp_path)


def test_broken_container_is_a_clean_error(tmp_path: Path) -> None:
    from ometiff.readers.ome_zarr import OmeZarrReader

    attrs = {"multiscales": [{"axes": ["y", "x"], "datasets": [{"path": "0"}]}]}
    (tmp_path / ".zattrs").write_text(json.dumps(attrs))
    (tmp_path / ".zgroup").write_text('{"zarr_format": 2}')
    with pytest.raises(OmeTiffError) as info:
        OmeZarrReader(tmp_path)
    assert str(tmp_path) in str(info.value) and "\n" not in str(info.value)


def test_missing_zarr_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from ometiff.readers.ome_zarr import OmeZarrReader

    monkeypatch.setitem(sys.modules, "zarr", None)
    with pytest.raises(MissingDependencyError, match=r"ometiff\[zarr\]"):
        OmeZarrReader(CLUSTER_V[0])
