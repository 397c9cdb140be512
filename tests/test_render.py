"""Image data: channel statistics, PNG rendering and the layout diagram."""

from __future__ import annotations

import gc
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

import ometiff
from conftest import CORPUS, requires_corpus
from ometiff.errors import InvalidTiffError, MissingDependencyError
from ometiff.inspection import ChannelSummary, info
from ometiff.render.diagram import SERIES_COLORS, UNMAPPED, series_color
from ometiff.render.png import (
    DEFAULT_COLORS,
    RenderError,
    apply_contrast,
    auto_contrast,
    channel_colors,
    channel_stats,
    draw_diagram,
    render_png,
)

RNG = np.random.default_rng(7)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    d = tmp_path_factory.mktemp("render")
    tczyx = RNG.integers(0, 60000, (2, 3, 4, 40, 48), dtype=np.uint16)
    ometiff.write(
        d / "tczyx.ome.tif", tczyx, axes="TCZYX", channel_colors=["#FF0000", "#00FF00", "#0000FF"]
    )
    red = np.zeros((2, 5, 32, 40), np.uint16)
    red[0] = RNG.integers(100, 5000, (5, 32, 40))
    ometiff.write(d / "red.ome.tif", red, axes="CZYX", channel_colors=["#FF0000", "#00FF00"])
    rgb = RNG.integers(0, 256, (30, 50, 3), dtype=np.uint8)
    ometiff.write(d / "rgb.ome.tif", rgb, axes="YXS")
    ometiff.write(d / "set.ome.tif", tczyx, axes="TCZYX", split="c", companion=True)
    pyramid = RNG.integers(0, 255, (2, 128, 96), dtype=np.uint8)
    ometiff.write(d / "pyr.ome.tif", pyramid, axes="CYX", pyramid_levels=2)
    ometiff.write(d / "two.ome.tif", [tczyx[0, 0], tczyx[0, :2, 0]], axes=["ZYX", "CYX"])
    hyper = RNG.integers(0, 4000, (3, 2, 2, 24, 20), dtype=np.uint16)  # TZCYX
    tifffile.imwrite(d / "hyper.tif", hyper, imagej=True, metadata={"axes": "TZCYX"})
    plain_rgb = RNG.integers(0, 65535, (20, 30, 3), dtype=np.uint16)
    tifffile.imwrite(d / "plain_rgb.tif", plain_rgb, photometric="rgb")
    floats = RNG.random((3, 16, 16)).astype(np.float32)
    floats[1, 2, 3] = np.nan
    ometiff.write(d / "nan.ome.tif", floats, axes="ZYX")
    return {
        "dir": d,
        "tczyx": tczyx,
        "red": red,
        "rgb": rgb,
        "pyramid": pyramid,
        "hyper": hyper,
        "plain_rgb": plain_rgb,
        "floats": floats,
    }


def _by_channel(rows: list[dict], series: int = 0) -> dict[int, dict]:
    return {r["channel"]: r for r in rows if r["series"] == series}


# --- statistics ------------------------------------------------------------------------


def test_stats_match_numpy_for_multichannel_ome(files: dict) -> None:
    data = files["tczyx"]
    rows = _by_channel(channel_stats(files["dir"] / "tczyx.ome.tif"))
    assert sorted(rows) == [0, 1, 2]
    for c in range(3):
        ch = data[:, c]
        assert rows[c]["min"] == ch.min()
        assert rows[c]["max"] == ch.max()
        assert rows[c]["mean"] == pytest.approx(ch.mean(dtype=np.float64), rel=1e-12)
        assert rows[c]["planes"] == 2 * 4
        assert isinstance(rows[c]["min"], int)


@pytest.mark.parametrize("name", ["set_c0.ome.tif", "set_c2.ome.tif", "set.companion.ome"])
def test_stats_read_every_member_of_a_multifile_set(files: dict, name: str) -> None:
    data = files["tczyx"]
    rows = _by_channel(channel_stats(files["dir"] / name))
    assert sorted(rows) == [0, 1, 2]
    for c in range(3):
        assert rows[c]["max"] == data[:, c].max()
        assert rows[c]["mean"] == pytest.approx(data[:, c].mean(dtype=np.float64), rel=1e-12)


def test_stats_rgb_per_sample(files: dict) -> None:
    rgb = files["rgb"]
    rows = channel_stats(files["dir"] / "rgb.ome.tif")
    assert [r["sample"] for r in rows] == [0, 1, 2]
    for r in rows:
        s = rgb[..., r["sample"]]
        assert (r["min"], r["max"]) == (s.min(), s.max())
        assert r["mean"] == pytest.approx(s.mean(dtype=np.float64))


def test_stats_non_ome_imagej_hyperstack_and_plain_rgb(files: dict) -> None:
    hyper = files["hyper"]  # TZCYX
    rows = _by_channel(channel_stats(files["dir"] / "hyper.tif"))
    for c in range(2):
        assert rows[c]["min"] == hyper[:, :, c].min()
        assert rows[c]["max"] == hyper[:, :, c].max()
        assert rows[c]["mean"] == pytest.approx(hyper[:, :, c].mean(dtype=np.float64))
        assert rows[c]["planes"] == 3 * 2
    plain = files["plain_rgb"]
    rows = _by_channel(channel_stats(files["dir"] / "plain_rgb.tif"))
    for s in range(3):
        assert rows[s]["max"] == plain[..., s].max()
        assert rows[s]["mean"] == pytest.approx(plain[..., s].mean(dtype=np.float64))


def test_stats_series_filter_and_nan(files: dict) -> None:
    rows = channel_stats(files["dir"] / "two.ome.tif", series=1)
    assert {r["series"] for r in rows} == {1}
    assert len(rows) == 2
    with pytest.raises(RenderError, match="series 5 does not exist"):
        channel_stats(files["dir"] / "two.ome.tif", series=5)
    floats = files["floats"]
    (row,) = channel_stats(files["dir"] / "nan.ome.tif")
    assert row["max"] == pytest.approx(float(np.nanmax(floats)))
    assert row["mean"] == pytest.approx(float(np.nanmean(floats.astype(np.float64))))
    assert row["pixels"] == floats.size - 1


def test_stats_memory_is_about_one_plane(tmp_path: Path) -> None:
    planes, side = 48, 512
    plane_bytes = side * side * 2
    path = tmp_path / "big.ome.tif"
    ometiff.write(
        path,
        iter(np.full((side, side), i, np.uint16) for i in range(planes)),
        shape=(planes, side, side),
        dtype=np.uint16,
        axes="ZYX",
    )
    gc.collect()
    tracemalloc.start()
    try:
        (row,) = channel_stats(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert row["max"] == planes - 1
    assert row["mean"] == pytest.approx((planes - 1) / 2)
    # the file holds 48 planes (24 MB); the run never holds more than a few
    assert peak < 4 * plane_bytes, f"peak {peak / 1e6:.1f} MB for {plane_bytes / 1e6:.1f} MB planes"


def test_undecodable_data_names_file_and_ifd(tmp_path: Path) -> None:
    path = tmp_path / "bad.ome.tif"
    ometiff.write(
        path, RNG.integers(0, 255, (3, 64, 64), dtype=np.uint8), axes="ZYX", compression="zlib"
    )
    with tifffile.TiffFile(path) as tf:
        offset = tf.pages[1].dataoffsets[0]
        count = tf.pages[1].databytecounts[0]
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(b"\xff" * count)
    with pytest.raises(InvalidTiffError, match=r"bad\.ome\.tif: IFD 1: cannot read pixel data"):
        channel_stats(path)
    with pytest.raises(InvalidTiffError, match="IFD 1"):
        render_png(path, tmp_path / "x.png", z=1)
    assert not (tmp_path / "x.png").exists()


def test_unknown_compression_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "codec.tif"
    tifffile.imwrite(path, np.ones((16, 16), np.uint8))
    with tifffile.TiffFile(path, mode="r+b") as tf:
        tf.pages[0].tags[259].overwrite(52479)
    with pytest.raises(InvalidTiffError, match=r"codec\.tif.*IFD 0"):
        channel_stats(path)


# --- rendering -------------------------------------------------------------------------


def _png(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        assert im.mode == "RGB"
        return np.asarray(im)


def test_composite_of_a_red_only_channel_is_red(files: dict, tmp_path: Path) -> None:
    out = render_png(files["dir"] / "red.ome.tif", tmp_path / "red.png", z=2)
    px = _png(out)
    assert px.shape == (32, 40, 3)
    assert px[..., 1].max() == 0 and px[..., 2].max() == 0  # channel 1 (green) is empty
    assert px[..., 0].max() == 255 and px[..., 0].min() == 0
    assert [p.name for p in tmp_path.iterdir()] == ["red.png"]  # no temporary left


def test_max_projection_equals_numpy_max_after_contrast(files: dict, tmp_path: Path) -> None:
    data = files["tczyx"]
    out = render_png(files["dir"] / "tczyx.ome.tif", tmp_path / "mip.png", c=1, t=1, project="max")
    expected_plane = data[1, 1].max(axis=0)
    lo, hi = auto_contrast(expected_plane)
    assert (lo, hi) == pytest.approx(tuple(np.percentile(expected_plane, [0.1, 99.9])))
    expected = np.round(apply_contrast(expected_plane, lo, hi) * 255).astype(np.uint8)
    px = _png(out)
    assert np.array_equal(px[..., 0], px[..., 1])  # one chosen channel: gray
    assert np.abs(px[..., 0].astype(int) - expected).max() <= 1


def test_colour_composite_uses_ome_colours(files: dict, tmp_path: Path) -> None:
    data = files["tczyx"]  # channels red, green, blue
    px = _png(render_png(files["dir"] / "tczyx.ome.tif", tmp_path / "c.png", z=0))
    for c in range(3):
        plane = data[0, c, 0]
        expected = np.round(apply_contrast(plane, *auto_contrast(plane)) * 255)
        assert np.abs(px[..., c].astype(int) - expected).max() <= 1


def test_rgb_is_shown_as_rgb_and_levels_render_smaller(files: dict, tmp_path: Path) -> None:
    px = _png(render_png(files["dir"] / "rgb.ome.tif", tmp_path / "rgb.png"))
    assert np.array_equal(px, files["rgb"])
    px = _png(render_png(files["dir"] / "pyr.ome.tif", tmp_path / "l1.png", level=1, c=0))
    assert px.shape[:2] == (64, 48)


def test_render_non_ome_and_multifile(files: dict, tmp_path: Path) -> None:
    hyper = files["hyper"]
    px = _png(render_png(files["dir"] / "hyper.tif", tmp_path / "h.png", z=1, t=2, c=1))
    plane = hyper[2, 1, 1]
    expected = np.round(apply_contrast(plane, *auto_contrast(plane)) * 255)
    assert np.abs(px[..., 0].astype(int) - expected).max() <= 1
    px = _png(render_png(files["dir"] / "set.companion.ome", tmp_path / "s.png", c=2, z=3))
    plane = files["tczyx"][0, 2, 3]
    expected = np.round(apply_contrast(plane, *auto_contrast(plane)) * 255)
    assert np.abs(px[..., 0].astype(int) - expected).max() <= 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"z": 4}, "Z planes 0–3; Z 4 does not exist"),
        ({"t": 2}, "T 2 does not exist"),
        ({"c": 3}, "channel 3 does not exist"),
        ({"series": 1}, "series 1 does not exist"),
        ({"level": 1}, "only level 0; level 1 does not exist"),
        ({"z": 1, "project": "max"}, "not both"),
    ],
)
def test_bad_indices(files: dict, tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(RenderError, match=message):
        render_png(files["dir"] / "tczyx.ome.tif", tmp_path / "x.png", **kwargs)
    assert not list(tmp_path.iterdir())


def test_default_colours() -> None:
    from ometiff.inspection import SeriesSummary

    def series(colors: list[str | None]) -> SeriesSummary:
        return SeriesSummary(
            0,
            None,
            4,
            4,
            1,
            len(colors),
            1,
            1,
            "uint8",
            "XYZCT",
            None,
            None,
            None,
            channels=[ChannelSummary(None, c) for c in colors],
        )

    assert channel_colors(series([None])) == [(255, 255, 255)]
    assert channel_colors(series(["#FF0000"])) == [(255, 0, 0)]
    assert channel_colors(series([None, None])) == list(DEFAULT_COLORS[:2])
    # every channel white (a common writer default) is no information: palette
    assert channel_colors(series(["#FFFFFF", "#FFFFFF"])) == list(DEFAULT_COLORS[:2])
    assert channel_colors(series(["#FF0000", None])) == [(255, 0, 0), DEFAULT_COLORS[1]]


def test_missing_pillow_names_the_extra(
    files: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "ometiff\[render\]"'):
        render_png(files["dir"] / "rgb.ome.tif", tmp_path / "x.png")


# --- diagram ---------------------------------------------------------------------------


def _colour_count(png: Path, rgb: tuple[int, int, int]) -> int:
    px = _png(png)
    return int(np.all(px == np.asarray(rgb, np.uint8), axis=-1).sum())


@pytest.mark.parametrize(
    ("name", "series"),
    [
        ("tczyx.ome.tif", 1),
        ("pyr.ome.tif", 1),
        ("set_c1.ome.tif", 1),
        ("set.companion.ome", 1),
        ("two.ome.tif", 2),
        ("hyper.tif", 1),
        ("plain_rgb.tif", 1),
    ],
)
def test_diagram_draws_series_colours(files: dict, tmp_path: Path, name: str, series: int) -> None:
    out = draw_diagram(info(files["dir"] / name), tmp_path / "d.png")
    with Image.open(out) as im:
        assert im.width > 300 and im.height > 150
    for k in range(series):
        assert _colour_count(out, series_color(k)) > 1000, f"series {k} colour missing"
    assert _colour_count(out, SERIES_COLORS[series]) == 0  # no block for a series not there


def test_diagram_rows_per_file_and_subifds(files: dict, tmp_path: Path) -> None:
    one = draw_diagram(info(files["dir"] / "tczyx.ome.tif"), tmp_path / "one.png")
    three = draw_diagram(info(files["dir"] / "set_c0.ome.tif"), tmp_path / "set.png")
    with Image.open(one) as a, Image.open(three) as b:
        assert b.height > a.height + 200  # one row per member file
    flat = draw_diagram(info(files["dir"] / "two.ome.tif"), tmp_path / "flat.png")
    pyr = draw_diagram(info(files["dir"] / "pyr.ome.tif"), tmp_path / "pyr.png")
    with Image.open(flat) as a, Image.open(pyr) as b:
        assert b.height > a.height + 50  # SubIFD levels hang below the planes


def test_diagram_summarises_long_chains(tmp_path: Path) -> None:
    path = tmp_path / "long.ome.tif"
    ometiff.write(path, np.zeros((2, 500, 8, 8), np.uint8), axes="CTYX")
    out = draw_diagram(info(path), tmp_path / "long.png")
    with Image.open(out) as im:
        assert im.width < 1600  # 1,000 IFDs drawn as a few blocks and an ellipsis
    assert _colour_count(out, UNMAPPED) < 300  # every IFD is mapped: no gray block


@requires_corpus
def test_stats_on_corpus_companion_set_match_tifffile() -> None:
    companion = CORPUS / "ome-tiff/multifile-companion/multifile.companion.ome"
    rows = channel_stats(companion)
    fi = info(companion)
    member = fi.path.parent / fi.series[0].planes[0].file
    first = tifffile.imread(member, is_ome=False, key=0)
    assert rows[0]["min"] <= first.min() and rows[0]["max"] >= first.max()
    assert sum(r["planes"] for r in rows) == len(fi.series[0].planes)


def test_missing_member_drawn_red_and_stats_refuse(files: dict, tmp_path: Path) -> None:
    import shutil

    from ometiff.render.diagram import MISSING

    for name in ("set.companion.ome", "set_c0.ome.tif", "set_c1.ome.tif"):
        shutil.copy(files["dir"] / name, tmp_path / name)
    out = draw_diagram(info(tmp_path / "set_c0.ome.tif"), tmp_path / "d.png")
    assert _colour_count(out, MISSING) > 100  # dashed red box for set_c2.ome.tif
    with pytest.raises(InvalidTiffError, match=r"set_c2\.ome\.tif of the file set is missing"):
        channel_stats(tmp_path / "set_c0.ome.tif")
