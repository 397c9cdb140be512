"""OME-TIFF, TIFF-family, image-series and .npy readers on generated inputs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import tifffile
from reader_conformance import check_reader

from ometiff import (
    InvalidTiffError,
    MissingDependencyError,
    MissingFileError,
    UnsupportedFormatError,
)
from ometiff.readers import READERS, find_reader, open_image


def _hyperstack(path: Path) -> np.ndarray:
    data = np.arange(3 * 5 * 2 * 16 * 20, dtype=np.uint16).reshape(3, 5, 2, 16, 20)
    lut_green = np.zeros((3, 256), np.uint8)
    lut_green[1] = np.arange(256)
    lut_red = np.zeros((3, 256), np.uint8)
    lut_red[0] = np.arange(256)
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        resolution=(1 / 0.25, 1 / 0.25),
        metadata={
            "axes": "TZCYX",
            "unit": "um",
            "spacing": 1.5,
            "finterval": 2.0,
            "LUTs": [lut_red, lut_green],
            "Ranges": (0, 100, 5, 200),
            "Labels": [f"slice{i}" for i in range(30)],
        },
    )
    return data


def test_imagej_hyperstack_metadata(tmp_path: Path) -> None:
    path = tmp_path / "hs.tif"
    data = _hyperstack(path)
    summary = check_reader(path, reader="tiff", every_plane=True)
    assert summary.shapes == [(3, 2, 5, 16, 20)]
    px = summary.ome.images[0].pixels
    # calibration (U3: only because the file states it, with its unit)
    assert math.isclose(px.physical_size_x, 0.25) and math.isclose(px.physical_size_y, 0.25)
    assert px.physical_size_x_unit.value == "µm"
    assert math.isclose(px.physical_size_z, 1.5)
    assert math.isclose(px.time_increment, 2.0)
    colors = [ch.color.as_rgb_tuple()[:3] for ch in px.channels]
    assert colors == [(255, 0, 0), (0, 255, 0)]
    kv = {
        m.k: m.value for a in summary.ome.structured_annotations.map_annotations for m in a.value.ms
    }
    assert kv["ImageJ display range channel 1"] == "5-200"
    assert kv["ImageJ slice label 3"] == "slice3"
    with open_image(path) as rdr:
        src = rdr.sources()[0]
        np.testing.assert_array_equal(src.get_plane(2, 1, 4), data[2, 4, 1])
        rdr.ome()
        assert any("spacing" in s for s, _ in rdr.notes.mapped)


def test_uncalibrated_imagej_has_no_physical_size(tmp_path: Path) -> None:
    path = tmp_path / "plain_ij.tif"
    tifffile.imwrite(path, np.zeros((4, 8, 8), np.uint8), imagej=True, metadata={"axes": "ZYX"})
    summary = check_reader(path, reader="tiff")
    px = summary.ome.images[0].pixels
    assert px.physical_size_x is None and px.physical_size_z is None  # W3, U3


def test_plain_multipage_and_rgb(tmp_path: Path) -> None:
    multi = tmp_path / "multi.tif"
    with tifffile.TiffWriter(multi) as tw:
        for i in range(3):
            tw.write(np.full((10, 12), i, np.uint16), metadata=None)
    s = check_reader(multi, reader="tiff", every_plane=True)
    assert sum(shape[0] * shape[2] for shape in s.shapes) == 3
    rgb = tmp_path / "rgb.tif"
    tifffile.imwrite(
        rgb, np.random.default_rng(0).integers(0, 255, (9, 7, 3), np.uint8), photometric="rgb"
    )
    s = check_reader(rgb, reader="tiff", every_plane=True)
    assert s.samples == [3] and s.shapes == [(1, 1, 1, 9, 7)]
    assert s.ome.images[0].pixels.size_c == 3  # R2: one Channel, SamplesPerPixel=3


def test_float16_is_widened_bool_to_uint8(tmp_path: Path) -> None:
    path = tmp_path / "f16.tif"
    tifffile.imwrite(path, np.linspace(0, 1, 64, dtype=np.float16).reshape(8, 8))
    with open_image(path) as rdr:
        src = rdr.sources()[0]
        assert src.dtype == np.float32
        assert src.get_plane(0, 0, 0).dtype == np.float32
        assert rdr.notes.unmapped


def test_ome_tiff_from_tifffile(tmp_path: Path) -> None:
    path = tmp_path / "a.ome.tif"
    data = np.arange(2 * 3 * 4 * 6 * 5, dtype=np.uint8).reshape(2, 3, 4, 6, 5)
    tifffile.imwrite(
        path,
        data,
        metadata={"axes": "TCZYX", "PhysicalSizeX": 0.5, "Channel": {"Name": ["a", "b", "c"]}},
    )
    s = check_reader(path, reader="ome-tiff", every_plane=True)
    px = s.ome.images[0].pixels
    assert [ch.name for ch in px.channels] == ["a", "b", "c"]
    assert px.physical_size_x == 0.5
    with open_image(path) as rdr:
        np.testing.assert_array_equal(rdr.sources()[0].get_plane(1, 2, 3), data[1, 2, 3])


def test_ome_tiff_multifile_set(tmp_path: Path) -> None:
    from ometiff.readers.source import SeriesSource
    from ometiff.writer.core import write_sources

    data = np.arange(3 * 2 * 8 * 9, dtype=np.uint16).reshape(3, 2, 1, 8, 9)
    src = SeriesSource((3, 2, 1, 8, 9), 1, np.dtype("uint16"), lambda t, c, z: data[t, c, z])
    files = write_sources(tmp_path / "set.ome.tif", [src], split="t", companion=True)
    companion = files[0]
    assert companion.name.endswith(".companion.ome")
    for entry in (companion, files[2]):  # the companion or any BinaryOnly member (M4, M5)
        s = check_reader(entry, reader="ome-tiff", every_plane=True)
        assert s.shapes == [(3, 2, 1, 8, 9)]
        with open_image(entry) as rdr:
            np.testing.assert_array_equal(rdr.sources()[0].get_plane(2, 1, 0), data[2, 1, 0])
    files[3].unlink()
    with pytest.raises(Exception, match="missing"):
        open_image(companion)


def test_png_series_with_axes_in_names(tmp_path: Path) -> None:
    from PIL import Image

    planes = {}
    for t in range(2):
        for c in range(3):
            for z in range(4):
                a = np.full((5, 6), t * 100 + c * 10 + z, np.uint16)
                Image.fromarray(a).save(tmp_path / f"img_t{t}_z{z}_c{c}.png")
                planes[(t, c, z)] = a
    for path in (tmp_path, tmp_path / "img_t{t}_z{z}_c{c}.png", tmp_path / "img_*.png"):
        s = check_reader(path, reader="sequence", every_plane=True)
        assert s.shapes == [(2, 3, 4, 5, 6)] and s.dtypes == ["uint16"]
    with open_image(
        tmp_path, reader="sequence", pattern=r"img_t(?P<t>\d+)_z(?P<z>\d+)_c(?P<c>\d+)"
    ) as rdr:
        np.testing.assert_array_equal(rdr.sources()[0].get_plane(1, 2, 3), planes[(1, 2, 3)])


def test_series_missing_plane_and_mismatched_sizes(tmp_path: Path) -> None:
    for t in range(2):
        for z in range(2):
            tifffile.imwrite(tmp_path / f"p_t{t}_z{z}.tif", np.zeros((4, 4), np.uint8))
    (tmp_path / "p_t1_z1.tif").unlink()
    with pytest.raises(InvalidTiffError, match="missing plane t=1 c=0 z=1"):
        open_image(tmp_path)
    tifffile.imwrite(tmp_path / "p_t1_z1.tif", np.zeros((5, 4), np.uint8))
    with pytest.raises(InvalidTiffError, match="all planes of a series must match"):
        open_image(tmp_path)


def test_npy_with_axes(tmp_path: Path) -> None:
    path = tmp_path / "a.npy"
    data = np.arange(4 * 3 * 5 * 6, dtype=np.int16).reshape(4, 5, 6, 3)
    np.save(path, data)
    with pytest.raises(UnsupportedFormatError, match=r"e\.g\. axes='ZYX'"):
        open_image(path)
    with pytest.raises(UnsupportedFormatError, match="do not fit"):
        open_image(path, axes="ZYX")
    s = check_reader(path, reader="npy", options={"axes": "ZYXC"}, every_plane=True)
    assert s.shapes == [(1, 3, 4, 5, 6)]
    with open_image(path, axes="ZYXC") as rdr:
        np.testing.assert_array_equal(rdr.sources()[0].get_plane(0, 2, 1), data[1, :, :, 2])


def test_unsupported_input_lists_formats(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(UnsupportedFormatError) as exc:
        find_reader(path)
    for spec in READERS:
        assert spec.name in str(exc.value)
    with pytest.raises(MissingFileError, match="no such file"):
        find_reader(tmp_path / "absent.tif")


def test_missing_extra_names_the_pip_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "nd2" else real(name, *a)
    )
    path = tmp_path / "x.nd2"
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(MissingDependencyError, match=r'pip install "ometiff\[nd2\]"'):
        find_reader(path)


def test_truncated_tiff_is_a_clean_error(tmp_path: Path) -> None:
    good = tmp_path / "good.tif"
    rng = np.random.default_rng(1)
    tifffile.imwrite(
        good, rng.integers(0, 60000, (256, 256), np.uint16), compression="zlib", rowsperstrip=256
    )
    bad = tmp_path / "bad.tif"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 3])
    with pytest.raises(InvalidTiffError):
        with open_image(bad) as rdr:
            for src in rdr.sources():
                for z in range(src.shape[2]):
                    src.get_plane(0, 0, z)


def test_ome_tiff_planes_read_concurrently_are_intact(tmp_path: Path) -> None:
    """Regression: threads sharing one file handle returned corrupt zlib planes."""
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "z.ome.tif"
    data = np.random.default_rng(3).integers(0, 4000, (40, 64, 64), dtype=np.uint16)
    tifffile.imwrite(path, data, compression="zlib", tile=(32, 32), metadata={"axes": "ZYX"})
    with open_image(path) as rdr:
        src = rdr.sources()[0]
        with ThreadPoolExecutor(4) as pool:
            planes = list(pool.map(lambda z: src.get_plane(0, 0, z), range(40)))
    for z in range(40):
        np.testing.assert_array_equal(planes[z], data[z])
