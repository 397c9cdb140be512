"""The readers' level API, and the OME-TIFF reader as the one OME pixel reader.

Truth is tifffile: every plane of every SubIFD level (checklist P-2) read through
``OmeTiffReader.read_plane`` equals what tifffile's series levels hold, for a
single file and for each way into a multi-file set.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from PIL import Image

import ometiff
from ometiff.cli.main import main
from ometiff.errors import NoSuchPlaneError
from ometiff.readers import open_image
from ometiff.readers.ome_tiff import OmeTiffReader
from ometiff.render.png import channel_stats, render

RNG = np.random.default_rng(23)
TCZ = (2, 2, 3)  # T, C, Z


@pytest.fixture(scope="module")
def pyramids(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("levels")
    data = RNG.integers(0, 60000, (*TCZ, 128, 96), dtype=np.uint16)
    single = ometiff.write(d / "pyr.ome.tif", data, axes="TCZYX", pyramid_levels=2, tile=(32, 32))
    ometiff.write(
        d / "set.ome.tif",
        data,
        axes="TCZYX",
        pyramid_levels=2,
        tile=(32, 32),
        split="c",
        companion=True,
    )
    ometiff.write(
        d / "split.ome.tif", data, axes="TCZYX", pyramid_levels=2, tile=(32, 32), split="c"
    )  # every member holds the OME-XML: tifffile reads the set
    rgb = RNG.integers(0, 256, (2, 64, 80, 3), dtype=np.uint8)
    ometiff.write(d / "rgb.ome.tif", rgb, axes="ZYXS", pyramid_levels=2, tile=(16, 16))
    return {
        "data": data,
        "single": single,
        "companion": d / "set.companion.ome",
        "member": d / "set_c1.ome.tif",
        "split": d / "split_c1.ome.tif",
        "rgb": d / "rgb.ome.tif",
    }


def _tifffile_levels(path: Path) -> list[tuple[str, np.ndarray]]:
    """Every level of series 0 as tifffile reads it.

    tifffile cannot follow a companion set's BinaryOnly members, so that set's
    truth is pyr.ome.tif: the same data written by the same writer (level 0 is
    also compared with the data itself). The split set without companion is read
    by tifffile itself.
    """
    if path.name.startswith("set"):
        path = path.parent / "pyr.ome.tif"
    with tifffile.TiffFile(path) as tf:
        return [(lv.axes, lv.asarray()) for lv in tf.series[0].levels]


def _as_tczyxs(axes: str, arr: np.ndarray) -> np.ndarray:
    for a in "TCZ":
        if a not in axes:
            arr, axes = arr[None], a + axes
    if "S" not in axes:
        arr, axes = arr[..., None], axes + "S"
    return np.transpose(arr, [axes.index(a) for a in "TCZYXS"])


@pytest.mark.parametrize("which", ["single", "companion", "member", "split", "rgb"])
def test_every_level_and_plane_equals_tifffile(pyramids: dict[str, Any], which: str) -> None:
    path = pyramids[which]
    truth = [_as_tczyxs(axes, arr) for axes, arr in _tifffile_levels(path)]
    assert len(truth) == 3  # full resolution and two SubIFD levels
    with OmeTiffReader(path) as rdr:
        shapes = rdr.level_shapes(0)
        assert shapes == [tuple(t.shape[:5]) for t in truth]
        assert shapes[1][3:] == (shapes[0][3] // 2, shapes[0][4] // 2)
        if which != "rgb":
            np.testing.assert_array_equal(truth[0][..., 0], pyramids["data"])
        for level, want in enumerate(truth):
            size_t, size_c, size_z = want.shape[:3]
            for t in range(size_t):
                for c in range(size_c):
                    for z in range(size_z):
                        got = rdr.read_plane(0, t, c, z, level=level)
                        expected = want[t, c, z]
                        if got.ndim == 2:
                            expected = expected[..., 0]
                        assert got.dtype == expected.dtype
                        np.testing.assert_array_equal(got, expected, err_msg=f"{level} {t}{c}{z}")


def test_missing_levels_planes_and_series_are_clear_errors(pyramids: dict[str, Any]) -> None:
    with OmeTiffReader(pyramids["single"]) as rdr:
        with pytest.raises(NoSuchPlaneError, match="levels 0-2; level 3 does not exist"):
            rdr.read_plane(0, 0, 0, 0, level=3)
        with pytest.raises(NoSuchPlaneError, match="Z=3 does not exist"):
            rdr.read_plane(0, 0, 0, 3)
        with pytest.raises(NoSuchPlaneError, match="series 1 does not exist"):
            rdr.level_shapes(1)
        assert rdr.series_count == 1


def test_reader_without_pyramid_has_one_level_and_refuses_more(tmp_path: Path) -> None:
    data = RNG.integers(0, 255, (3, 20, 30), dtype=np.uint8)
    np.save(tmp_path / "a.npy", data)
    with open_image(tmp_path / "a.npy", axes="ZYX") as rdr:
        assert rdr.level_shapes(0) == [(1, 1, 3, 20, 30)]
        np.testing.assert_array_equal(rdr.read_plane(0, 0, 0, 2), data[2])
        with pytest.raises(NoSuchPlaneError, match="only level 0; level 1 does not exist"):
            rdr.read_plane(0, 0, 0, 0, level=1)


def test_plain_tiff_subifd_pyramid_levels(tmp_path: Path) -> None:
    base = RNG.integers(0, 255, (64, 48), dtype=np.uint8)
    path = tmp_path / "plain.tif"
    with tifffile.TiffWriter(path) as tw:
        tw.write(base, subifds=1, tile=(16, 16))
        tw.write(base[::2, ::2], subfiletype=1, tile=(16, 16))
    with open_image(path) as rdr:
        assert type(rdr).__name__ == "TiffReader"
        assert rdr.level_shapes(0) == [(1, 1, 1, 64, 48), (1, 1, 1, 32, 24)]
        np.testing.assert_array_equal(rdr.read_plane(0, 0, 0, 0, level=1), base[::2, ::2])


def test_planes_read_in_two_threads_match(pyramids: dict[str, Any]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path = pyramids["single"]
    truth = _as_tczyxs(*_tifffile_levels(path)[1])
    keys = [(t, c, z) for t in range(2) for c in range(2) for z in range(3)] * 4
    with OmeTiffReader(path) as rdr, ThreadPoolExecutor(2) as pool:
        planes = list(pool.map(lambda k: rdr.read_plane(0, *k, level=1), keys))
    for (t, c, z), plane in zip(keys, planes, strict=True):
        np.testing.assert_array_equal(plane, truth[t, c, z, ..., 0])


# --- stats and show read through OmeTiffReader ------------------------------------------


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int, int, int]]:
    calls: list[tuple[int, int, int, int, int]] = []
    original = OmeTiffReader.read_plane

    def read_plane(
        self: OmeTiffReader, series: int, t: int, c: int, z: int, *, level: int = 0
    ) -> np.ndarray:
        calls.append((series, t, c, z, level))
        return original(self, series, t, c, z, level=level)

    monkeypatch.setattr(OmeTiffReader, "read_plane", read_plane)
    return calls


def test_show_level_1_reads_through_the_ome_tiff_reader(
    pyramids: dict[str, Any], spy: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "l1.png"
    code = main(
        [
            "show",
            str(pyramids["member"]),
            "-o",
            str(png),
            "--level",
            "1",
            "--c",
            "1",
            "--z",
            "2",
            "--t",
            "1",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert spy == [(0, 1, 1, 2, 1)]
    with Image.open(png) as im:
        assert im.size == (48, 64)
    res = render(pyramids["rgb"], tmp_path / "rgb.png", z=1, level=2)
    want = _as_tczyxs(*_tifffile_levels(pyramids["rgb"])[2])[0, 0, 1]
    with Image.open(res.path) as im:
        np.testing.assert_array_equal(np.asarray(im), want)  # uint8 RGB shown unchanged


def test_info_stats_reads_through_the_ome_tiff_reader(
    pyramids: dict[str, Any], spy: list, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["info", "--stats", "--json", str(pyramids["companion"])])
    out = capsys.readouterr().out
    assert code == 0
    rows = json.loads(out)["stats"]
    assert len(spy) == 2 * 2 * 3 and {call[4] for call in spy} == {0}
    truth = _as_tczyxs(*_tifffile_levels(pyramids["companion"])[0])
    for row in rows:
        assert row["max"] == truth[:, row["channel"]].max()
    assert channel_stats(pyramids["single"])[1]["min"] == truth[:, 1].min()


def test_old_plane_reader_is_gone() -> None:
    assert importlib.util.find_spec("ometiff.readers.pixels") is None


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open files via /proc")
def test_sets_of_many_members_keep_few_files_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    import ometiff.readers.ome_tiff as ome_tiff

    data = RNG.integers(0, 255, (12, 2, 16, 16), dtype=np.uint8)  # TCYX, one file per T
    ometiff.write(tmp_path / "many.ome.tif", data, axes="TCYX", split="t")
    monkeypatch.setattr(ome_tiff, "MAX_OPEN_MEMBERS", 3)
    before = len(os.listdir("/proc/self/fd"))
    first = sorted(tmp_path.glob("many_t*.ome.tif"))[0]
    with OmeTiffReader(first) as rdr:
        for _ in range(2):
            for t in range(12):
                for c in range(2):
                    np.testing.assert_array_equal(rdr.read_plane(0, t, c, 0), data[t, c])
                    assert len(os.listdir("/proc/self/fd")) - before <= 3
    assert len(os.listdir("/proc/self/fd")) == before
