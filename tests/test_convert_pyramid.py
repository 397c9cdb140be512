"""Pyramids kept as pyramids: ``convert`` writes a source's own levels as SubIFDs.

A source with its own pyramid (whole slides, Imaris, NDTiff, OME-Zarr multiscales,
OME-TIFF SubIFDs) keeps its levels, read and verified, not recomputed from level 0
(checklist P-1, P-2: SubIFDs largest to smallest; P-5's factor 2 is a SHOULD, so
level sizes are the source's). ``pyramid=N`` still rebuilds N levels by halving.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import tifffile
from tests.bioformats import bfconvert, requires_bioformats
from tests.conftest import CORPUS

import ometiff
from ometiff.cli.main import main
from ometiff.errors import VerificationError, WriteError
from ometiff.readers import open_image
from ometiff.readers.source import SeriesSource
from ometiff.writer.pyramid import SourcePyramid, downsample

RNG = np.random.default_rng(12)
#: Level 0 and two levels that are NOT halvings of it (nor of each other).
SHAPES = [(300, 500), (150, 250), (40, 70)]


def _levels_of(path: Path, series: int = 0) -> list[np.ndarray]:
    with tifffile.TiffFile(path) as tf:
        return [level.asarray() for level in tf.series[series].levels]


@pytest.fixture
def odd_pyramid(tmp_path: Path) -> tuple[Path, list[np.ndarray]]:
    """An OME-TIFF (C=2, Z=3) whose SubIFD levels are random: no downsampler makes them."""
    planes = {
        (c, z): [RNG.integers(0, 60000, yx, dtype=np.uint16) for yx in SHAPES]
        for c in range(2)
        for z in range(3)
    }
    src = SeriesSource(
        (1, 2, 3, *SHAPES[0]), 1, np.dtype(np.uint16), lambda t, c, z: planes[c, z][0]
    )
    pyr = SourcePyramid(SHAPES[1:], lambda k, t, c, z: planes[c, z][k])
    (path,) = ometiff.write_sources(
        tmp_path / "odd.ome.tif", [src], source_pyramids=[pyr], compression="zlib", verify=True
    )
    levels = [
        np.stack([np.stack([planes[c, z][k] for z in range(3)]) for c in range(2)])
        for k in range(3)
    ]
    return path, levels


def test_write_sources_writes_the_given_levels(odd_pyramid: tuple[Path, list[np.ndarray]]) -> None:
    path, levels = odd_pyramid
    got = _levels_of(path)
    assert [g.shape[-2:] for g in got] == SHAPES
    for g, want in zip(got, levels, strict=True):
        np.testing.assert_array_equal(g, want)


def test_convert_keeps_the_source_levels(
    odd_pyramid: tuple[Path, list[np.ndarray]], tmp_path: Path
) -> None:
    src, levels = odd_pyramid
    result = ometiff.convert(src, tmp_path / "out.ome.tif", report=tmp_path / "r.json")
    got = _levels_of(result[0])
    assert [g.shape[-2:] for g in got] == SHAPES
    for g, want in zip(got, levels, strict=True):
        np.testing.assert_array_equal(g, want)  # read, not recomputed
    assert not np.array_equal(got[1][0, 0], downsample(levels[0][0, 0]))
    receipt = json.loads((tmp_path / "r.json").read_text())["conversions"][0]
    assert receipt["series"][0]["pyramid"] == "source"
    assert receipt["series"][0]["levels"] == [[1, 2, 3, y, x] for y, x in SHAPES]
    assert any(
        "SubIFDs" in m["ome"] and "500x300 > 250x150 > 70x40" in m["ome"] for m in receipt["mapped"]
    )
    assert result.planes_verified == 6


def test_selection_reads_the_matching_source_levels(
    odd_pyramid: tuple[Path, list[np.ndarray]], tmp_path: Path
) -> None:
    src, levels = odd_pyramid
    out = ometiff.convert(src, tmp_path / "sel.ome.tif", channels=[1], z=[2, 0])[0]
    got = _levels_of(out)
    assert [g.shape for g in got] == [(2, y, x) for y, x in SHAPES]  # C=1 dropped by tifffile
    for g, want in zip(got, levels, strict=True):
        np.testing.assert_array_equal(g, want[1, [2, 0]])


def test_pyramid_n_rebuilds_by_halving(
    odd_pyramid: tuple[Path, list[np.ndarray]], tmp_path: Path
) -> None:
    src, levels = odd_pyramid
    result = ometiff.convert(src, tmp_path / "n.ome.tif", pyramid=2)
    got = _levels_of(result[0])
    assert [g.shape[-2:] for g in got] == [(300, 500), (150, 250), (75, 125)]
    np.testing.assert_array_equal(got[1][1, 2], downsample(levels[0][1, 2]))
    np.testing.assert_array_equal(got[2][1, 2], downsample(downsample(levels[0][1, 2])))
    assert result.receipts[0].series[0]["pyramid"] == "halved"
    none = ometiff.convert(src, tmp_path / "none.ome.tif", pyramid=None)
    assert len(_levels_of(none[0])) == 1


def test_cli_pyramid_auto_and_n(odd_pyramid: tuple[Path, list[np.ndarray]], tmp_path: Path) -> None:
    src, _ = odd_pyramid
    assert main(["convert", str(src), str(tmp_path / "a.ome.tif"), "--quiet"]) == 0
    assert [g.shape[-2:] for g in _levels_of(tmp_path / "a.ome.tif")] == SHAPES
    assert (
        main(["convert", str(src), str(tmp_path / "b.ome.tif"), "--quiet", "--pyramid", "1"]) == 0
    )
    assert [g.shape[-2:] for g in _levels_of(tmp_path / "b.ome.tif")] == [*SHAPES[:1], (150, 250)]


def test_levels_that_do_not_qualify_are_rebuilt_with_a_note(tmp_path: Path) -> None:
    """An OME-Zarr reduced in Y only is a valid multiscales, but not SubIFDs (P-2)."""
    zarr = pytest.importorskip("zarr")
    data = RNG.integers(0, 255, (600, 520), dtype=np.uint8)
    root = tmp_path / "yonly.ome.zarr"
    group = zarr.open_group(root, mode="w", zarr_format=2)
    group.create_array("0", data=data[None, None, None], chunks=(1, 1, 1, 600, 520))
    group.create_array("1", data=data[None, None, None, ::2], chunks=(1, 1, 1, 300, 520))
    group.attrs["multiscales"] = [
        {
            "version": "0.4",
            "axes": [
                {"name": a, "type": t}
                for a, t in zip(
                    "tczyx", ["time", "channel", "space", "space", "space"], strict=True
                )
            ],
            "datasets": [
                {
                    "path": str(k),
                    "coordinateTransformations": [{"type": "scale", "scale": [1, 1, 1, 1 + k, 1]}],
                }
                for k in range(2)
            ],
        }
    ]
    with open_image(root) as rdr:
        assert rdr.level_shapes(0) == [(1, 1, 1, 600, 520), (1, 1, 1, 300, 520)]
    result = ometiff.convert(root, tmp_path / "y.ome.tif")
    receipt = result.receipts[0]
    assert receipt.series[0]["pyramid"] == "halved"
    assert [g.shape for g in _levels_of(result[0])] == [(600, 520), (300, 260), (150, 130)]
    notes = [n["reason"] for n in receipt.unmapped if "pyramid" in n["source"]]
    assert len(notes) == 1 and "not smaller than level 0" in notes[0], receipt.unmapped


# --- write_sources refuses source pyramids it cannot write, and verifies them -----------


def _one(tmp_path: Path, shapes: list[tuple[int, int]], read=None) -> list[Path]:  # type: ignore[no-untyped-def]
    plane = np.zeros((64, 64), np.uint16)
    src = SeriesSource((1, 1, 1, 64, 64), 1, plane.dtype, lambda t, c, z: plane)
    pyr = SourcePyramid(shapes, read or (lambda k, t, c, z: np.zeros(shapes[k - 1], np.uint16)))
    return ometiff.write_sources(tmp_path / "w.ome.tif", [src], source_pyramids=[pyr], verify=True)


def test_levels_not_smaller_are_refused(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match=r"series 0: .*level 2 \(32x40\) is not smaller"):
        _one(tmp_path, [(32, 32), (32, 40)])
    assert os.listdir(tmp_path) == []


def test_level_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        WriteError,
        match=r"level 1 of plane \(t=0, c=0, z=0\) returned shape "
        r"\(30, 32\), expected \(32, 32\)",
    ):
        _one(tmp_path, [(32, 32)], lambda k, t, c, z: np.zeros((30, 32), np.uint16))
    assert os.listdir(tmp_path) == []


def test_damaged_source_level_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Source levels are verified like computed ones: a bad encode of level 1 is caught."""
    from ometiff.writer import encode

    real = encode.submit_page

    def submit(pool, plane, tile, enc):  # type: ignore[no-untyped-def]
        if plane.shape[:2] == (32, 40):
            plane = np.full_like(plane, 7)
        return real(pool, plane, tile, enc)

    monkeypatch.setattr("ometiff.writer.core.submit_page", submit)
    with pytest.raises(VerificationError, match=r"level 1 differs from its source"):
        _one(tmp_path, [(32, 40), (10, 9)])
    assert os.listdir(tmp_path) == []


# --- corpus --------------------------------------------------------------------------

PYRAMIDS = [
    "svs/histolab/TCGA-CR-7395-01A-01-TS1.svs",
    "ome-zarr/ome-zarr-py-0.18.0/mosaic_multiscale_labels_v05.ome.zarr",
    "ome-zarr/ome-zarr-py-0.18.0/cluster_5d_v04.ome.zarr",
    "ndtiff/ndstorage/no_magellan_explore_no_channel",
    "ome-tiff/bioformats-7.3.1/mosaic_test_pyramid-3_tiled256_zlib_uint16.ome.tif",
]


@pytest.mark.parametrize("rel", PYRAMIDS)
def test_corpus_pyramids_keep_their_levels(rel: str, tmp_path: Path) -> None:
    path = CORPUS / rel
    if not path.exists():
        pytest.skip(f"corpus file missing: {rel}")
    result = ometiff.convert(path, tmp_path / "o.ome.tif")
    with open_image(path) as rdr, open_image(result[0]) as back:
        ours = rdr.level_shapes(0)
        assert len(ours) > 1
        assert back.level_shapes(0) == ours
        t, c, z = ours[0][:3]
        for k in range(1, len(ours)):  # the last plane of every level, as read
            np.testing.assert_array_equal(
                back.read_plane(0, t - 1, c - 1, z - 1, level=k),
                rdr.read_plane(0, t - 1, c - 1, z - 1, level=k),
            )
    assert result.receipts[0].series[0]["pyramid"] == "source"


def test_corpus_zarr_selection_keeps_levels(tmp_path: Path) -> None:
    path = CORPUS / "ome-zarr/ome-zarr-py-0.18.0/cluster_5d_v04.ome.zarr"
    if not path.exists():
        pytest.skip("corpus file missing")
    ts, cs, zs = [2, 0], [1], [9, 3, 5]
    out = ometiff.convert(path, tmp_path / "s.ome.tif", t=ts, channels=cs, z=zs)[0]
    with open_image(path) as rdr, open_image(out) as back:
        assert back.level_shapes(0) == [(2, 1, 3, 31, 38), (2, 1, 3, 15, 19)]
        for ti, t in enumerate(ts):
            for zi, z in enumerate(zs):
                np.testing.assert_array_equal(
                    back.read_plane(0, ti, 0, zi, level=1), rdr.read_plane(0, t, 1, z, level=1)
                )


def test_imaris_levels_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("h5py")
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "readers"))
    from test_ims import _write_ims  # the Imaris test file writer (tests/readers)

    src = _write_ims(tmp_path / "pyr.ims", [(3, 40, 50), (3, 20, 25), (3, 9, 12)])
    out = ometiff.convert(src, tmp_path / "ims.ome.tif", t=[1], channels=[1])[0]
    with open_image(src) as rdr, open_image(out) as back:
        assert back.level_shapes(0) == [(1, 1, 3, y, x) for y, x in [(40, 50), (20, 25), (9, 12)]]
        for k in (1, 2):
            np.testing.assert_array_equal(
                back.read_plane(0, 0, 0, 2, level=k), rdr.read_plane(0, 1, 1, 2, level=k)
            )


@requires_bioformats
@pytest.mark.slow
def test_bioformats_reads_the_source_level_sizes(tmp_path: Path) -> None:
    """Bio-Formats reads our SVS conversion with the slide's own level sizes
    (4443x3567 > 2221x1783, not halvings) and the same level pixels."""
    path = CORPUS / PYRAMIDS[0]
    if not path.exists():
        pytest.skip("corpus file missing")
    out = ometiff.convert(path, tmp_path / "svs.ome.tif", series=[0])[0]
    bf = tmp_path / "bf.ome.tif"
    bfconvert(out, bf, "-noflat", "-series", "0", timeout=600)
    with open_image(path) as rdr, tifffile.TiffFile(bf) as tf:
        levels = tf.series[0].levels
        assert [tuple(lv.shape[lv.axes.index(a)] for a in "YX") for lv in levels] == [
            sh[3:] for sh in rdr.level_shapes(0)
        ]
        level1 = levels[1].asarray()
        if levels[1].axes[0] in "CS":  # Bio-Formats writes RGB planar
            level1 = np.moveaxis(level1, 0, -1)
        np.testing.assert_array_equal(level1, rdr.read_plane(0, 0, 0, 0, level=1))
