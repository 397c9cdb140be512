"""Bio-Formats reads what ometiff.write writes: the interop matrix.

Each case is one Bio-Formats run: ``bfconvert ours out.ome.tif`` re-writes our file
as Bio-Formats understood it, so one JVM start gives both what Bio-Formats reports
(the OME-XML of ``out``: series, sizes, pixel type, physical sizes, channel names,
one series per pyramid resolution as it flattens them) and the pixels it decoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import ome_types
import pytest
import tifffile
from tests.bioformats import bfconvert, requires_bioformats

import ometiff
from ometiff.types import DTYPE_TO_OME
from ometiff.writer.pyramid import downsample

pytestmark = [requires_bioformats, pytest.mark.bioformats]
RNG = np.random.default_rng(7)


@dataclass
class Case:
    """One written file (or set) and the series Bio-Formats should report."""

    name: str
    entry: str
    kwargs: dict[str, Any]
    # per series: TCZYX[S] array, channel names, physical size X, levels
    series: list[np.ndarray]
    axes: list[str]
    levels: int = 0
    channel_names: list[list[str]] = field(default_factory=list)
    physical_x: float | None = None
    tolerance: int = 0


def _arr(dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return (RNG.random(shape) * 1000 - 200).astype(dt)
    info = np.iinfo(dt)
    return RNG.integers(info.min, info.max, shape, dtype=dt, endpoint=True)


def _smooth(shape: tuple[int, ...]) -> np.ndarray:
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    planes = [(np.sin(y / 9 + k) * 60 + np.cos(x / 13 - k) * 60 + 128) for k in range(3)]
    return np.stack(planes, -1).astype(np.uint8)


CASES = [
    Case(
        "types",
        "types.ome.tif",
        {
            "tile": False,
            "physical_size": {"X": 0.5, "Y": 0.5, "Z": 2.0},
            "channel_names": ["ch0", "ch1"],
        },
        [_arr(d, (2, 2, 40, 56)) for d in ("uint8", "uint16", "int16", "float32", "float64")],
        ["CZYX"] * 5,
        channel_names=[["ch0", "ch1"]] * 5,
        physical_x=0.5,
    ),
    Case(
        "lzw_strips",
        "lzw.ome.tif",
        {
            "compression": "lzw",
            "tile": False,
            "channel_names": ["a", "b", "c"],
            "physical_size": 0.325,
        },
        [_arr("uint16", (3, 130, 150))],
        ["CYX"],
        channel_names=[["a", "b", "c"]],
        physical_x=0.325,
    ),
    Case(
        "zlib_tiled_pyramid",
        "zlib.ome.tif",
        {
            "compression": "zlib",
            "tile": (256, 256),
            "pyramid_levels": 2,
            "channel_names": ["x", "y"],
        },
        [_arr("uint16", (2, 600, 700))],
        ["CYX"],
        levels=2,
        channel_names=[["x", "y"]],
    ),
    Case(
        "zstd_tiled",
        "zstd.ome.tif",
        {"compression": "zstd", "tile": (128, 128)},
        [_arr("int16", (2, 200, 260))],
        ["ZYX"],
    ),
    Case(
        "jpeg_rgb_pyramid",
        "jpeg.ome.tif",
        {"compression": "jpeg", "compression_level": 95, "pyramid_levels": 1, "tile": (256, 256)},
        [_smooth((512, 640))],
        ["YXS"],
        levels=1,
        tolerance=2,
    ),
    Case(
        "jpeg2000",
        "j2k.ome.tif",
        {"compression": "jpeg2000"},
        [_arr("uint16", (2, 120, 90))],
        ["CYX"],
    ),
    Case(
        "split_c",
        "sc_c0.ome.tif",
        {"split": "c", "channel_names": ["p", "q"], "physical_size": 1.5},
        [_arr("uint8", (2, 2, 3, 48, 64))],
        ["TCZYX"],
        channel_names=[["p", "q"]],
        physical_x=1.5,
    ),
    Case(
        "split_series_companion",
        "cs.companion.ome",
        {"split": "series", "companion": True, "names": ["first", "second"]},
        [_arr("uint16", (3, 40, 50)), _arr("float32", (2, 30, 20))],
        ["ZYX", "TYX"],
    ),
]


def _tczyx(arr: np.ndarray, axes: str) -> np.ndarray:
    """Reorder to T, C, Z, Y, X[, S] with missing axes of size 1."""
    for a in "TCZYXS":
        if a not in axes and a != "S":
            arr = arr[np.newaxis]
            axes = a + axes
    order = [axes.index(a) for a in "TCZYXS" if a in axes]
    return arr.transpose(order)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("interop")
    for case in CASES:
        stem = case.entry.split("_c0")[0].split(".")[0]
        data: Any = case.series if len(case.series) > 1 else case.series[0]
        axes: Any = case.axes if len(case.axes) > 1 else case.axes[0]
        ometiff.write(folder / f"{stem}.ome.tif", data, axes=axes, **case.kwargs)
    return folder


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_bioformats_reads_ours(written: Path, case: Case) -> None:
    entry = written / case.entry
    out = written / f"bf_{case.name}.ome.tif"
    bfconvert(entry, out)
    with tifffile.TiffFile(out) as tf:
        bf = ome_types.from_xml(tf.pages[0].tags["ImageDescription"].value)
        bf_series = [s.asarray() for s in tf.series]
    expected: list[tuple[np.ndarray, int, bool]] = []  # (TCZYX[S], series, full res)
    for i, arr in enumerate(case.series):
        full = _tczyx(arr, case.axes[i])
        level = full
        expected.append((full, i, True))
        for _ in range(case.levels):  # Bio-Formats flattens resolutions into series
            level = np.stack([downsample(p) for p in level.reshape(-1, *level.shape[3:])])
            level = level.reshape(*full.shape[:3], *level.shape[1:])
            expected.append((level, i, False))
    assert len(bf.images) == len(expected)
    if case.tolerance:  # lossy: compare with what tifffile decodes from our file
        with tifffile.TiffFile(entry) as ours:
            decoded = [
                _tczyx(level.asarray(), level.axes) for s in ours.series for level in s.levels
            ]
        expected = [(d, i, full) for d, (_, i, full) in zip(decoded, expected, strict=True)]
    for image, got, (want, i, is_full) in zip(bf.images, bf_series, expected, strict=True):
        px = image.pixels
        t, c, z, y, x = want.shape[:5]
        spp = want.shape[5] if want.ndim == 6 else 1
        assert (px.size_t, px.size_z, px.size_y, px.size_x) == (t, z, y, x)
        assert px.size_c == c * spp
        assert px.type.value == DTYPE_TO_OME[want.dtype.name]
        if case.channel_names and is_full:
            assert [ch.name for ch in px.channels] == case.channel_names[i]
        if case.physical_x is not None and is_full:
            assert px.physical_size_x == pytest.approx(case.physical_x)
            assert px.physical_size_x_unit.value == "µm"
        got_tczyx = _tczyx(got, _axes_of(got, px))
        if case.tolerance:
            diff = np.abs(got_tczyx.astype(np.int32) - want.astype(np.int32))
            assert diff.max() <= case.tolerance and diff.mean() < 0.5
        else:
            np.testing.assert_array_equal(got_tczyx, want)


def _axes_of(got: np.ndarray, px: Any) -> str:
    """Axes of a bfconvert output series from its DimensionOrder (size-1 axes squeezed)."""
    order = px.dimension_order.value[2:][::-1]  # slowest first
    sizes = {"T": px.size_t, "C": px.size_c, "Z": px.size_z}
    spp = (px.channels[0].samples_per_pixel or 1) if px.channels else 1
    sample_axes = ""
    if spp > 1:  # RGB: one channel of spp samples, interleaved or planar in bfconvert's output
        sizes["C"] = px.size_c // spp
        sample_axes = "S"
    axes = "".join(a for a in order if sizes[a] > 1)
    axes += ("YX" + sample_axes) if got.shape[-1] == spp > 1 else (sample_axes + "YX")
    assert len(axes) == got.ndim, (axes, got.shape)
    return axes
