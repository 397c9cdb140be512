"""The read API (``ometiff.open`` / ``ometiff.imread``) on generated files."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

import ometiff
from ometiff import (
    InvalidArgumentError,
    InvalidTiffError,
    MissingDependencyError,
    MissingFileError,
    NoSuchPlaneError,
    OmeTiffError,
    UnsupportedFormatError,
)
from ometiff.readers import tiles

RNG = np.random.default_rng(10)


@pytest.fixture(scope="module")
def tiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """A TCZYX zlib-tiled OME-TIFF with two pyramid levels and full channel metadata."""
    path = tmp_path_factory.mktemp("api") / "tiled.ome.tif"
    data = RNG.integers(0, 4000, (2, 3, 4, 300, 500), dtype=np.uint16)
    ometiff.write(
        path,
        data,
        axes="TCZYX",
        compression="zlib",
        tile=(128, 128),
        pyramid_levels=2,
        physical_size={"X": (0.5, "µm"), "Y": (500, "nm"), "Z": 2},
        time_increment=(90, "s"),
        channel_names=["DAPI", "GFP", "RFP"],
        channel_colors=["blue", "#00FF00", None],
        excitation_wavelength=[405, 488, None],
        emission_wavelength=[(0.45, "µm"), 510, None],
        names="cells",
    )
    return path, data


def test_series_description(tiled: tuple[Path, np.ndarray]) -> None:
    path, data = tiled
    with ometiff.open(path) as f:
        assert f.reader == "ome-tiff"
        assert len(f.series) == 1
        s = f.series[0]
        assert s.name == "cells"
        assert s.sizes == {"T": 2, "C": 3, "Z": 4, "Y": 300, "X": 500, "S": 1}
        assert s.dims == "TCZYX" and s.shape == data.shape and s.dtype == np.uint16
        assert s.levels == ((2, 3, 4, 300, 500), (2, 3, 4, 150, 250), (2, 3, 4, 75, 125))
        assert s.physical_size == {"X": 0.5, "Y": 0.5, "Z": 2.0}  # nm converted to µm
        assert s.time_increment == 90.0
        assert s.level_physical_size(2) == {"X": 2.0, "Y": 2.0, "Z": 2.0}
        names = [ch.name for ch in s.channels]
        assert names == ["DAPI", "GFP", "RFP"]
        assert s.channels[0].color == (0, 0, 255, 255)
        assert s.channels[1].color == (0, 255, 0, 255)
        assert s.channels[2].color is None
        assert (s.channels[0].excitation, s.channels[0].emission) == (405.0, 450.0)
        assert s.channels[2].excitation is None
        # the ome_types model, built on first use, agrees with the view
        image = s.ome
        assert image.pixels.size_x == 500 and image.name == "cells"
        assert s.ome is image  # kept


def test_pixels_numpy_dask_zarr_region(tiled: tuple[Path, np.ndarray]) -> None:
    path, data = tiled
    with ometiff.open(path) as f:
        np.testing.assert_array_equal(f.asarray(), data)
        d = f.to_dask()
        # chunks are blocks of whole tiles of about 2 MiB: 32 KiB tiles, so the whole plane
        assert d.chunksize == (1, 1, 1, 300, 500)
        np.testing.assert_array_equal(d.compute(), data)
        np.testing.assert_array_equal(
            d[1, :, 2, 100:260, 33:499].compute(), data[1, :, 2, 100:260, 33:499]
        )
        z = f.to_zarr()
        assert z.shape == data.shape and z.read_only
        np.testing.assert_array_equal(z[1, 2, 3, 10:290, 7:499], data[1, 2, 3, 10:290, 7:499])
        np.testing.assert_array_equal(z[:], data)
        with pytest.raises(ValueError):  # zarr's own error for read-only arrays
            z[0, 0, 0, 0, 0] = 1
        np.testing.assert_array_equal(
            f.read(t=1, c=2, z=3, y=slice(5, 200), x=slice(None, 77)), data[1, 2, 3, 5:200, :77]
        )
        for level in (1, 2):
            small = f.asarray(level=level)
            assert small.shape == f.series[0].levels[level]
            np.testing.assert_array_equal(f.to_dask(level=level).compute(), small)
            np.testing.assert_array_equal(np.asarray(f.to_zarr(level=level)[:]), small)
    np.testing.assert_array_equal(ometiff.imread(path), data)
    assert ometiff.imread(path, level=2).shape == (2, 3, 4, 75, 125)


def test_region_decodes_only_touched_tiles(
    tiled: tuple[Path, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data = tiled
    reads: list[int] = []
    original = tiles.SegmentFile.__call__

    def counting(self: tiles.SegmentFile, offset: int, count: int, **kw: Any) -> Any:
        reads.append(offset)
        return original(self, offset, count, **kw)

    monkeypatch.setattr(tiles.SegmentFile, "__call__", counting)
    with ometiff.open(path) as f:
        got = f.read(t=0, c=1, z=2, y=slice(130, 250), x=slice(260, 380))  # inside tile (1, 2)
        assert len(reads) == 1
        np.testing.assert_array_equal(got, data[0, 1, 2, 130:250, 260:380])
        reads.clear()
        got = f.read(t=0, c=1, z=2, y=slice(120, 140), x=slice(120, 140))  # 4 tiles' corner
        assert len(reads) == 4
        np.testing.assert_array_equal(got, data[0, 1, 2, 120:140, 120:140])


def test_dask_chunks_are_blocks_of_tiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = RNG.integers(0, 60000, (1, 1, 1, 1536, 1800), dtype=np.uint16)
    path = tmp_path / "big_tiles.ome.tif"
    ometiff.write(path, data, axes="TCZYX", compression="zlib", tile=(512, 512))
    reads: list[int] = []
    original = tiles.SegmentFile.__call__

    def counting(self: tiles.SegmentFile, offset: int, count: int, **kw: Any) -> Any:
        reads.append(offset)
        return original(self, offset, count, **kw)

    monkeypatch.setattr(tiles.SegmentFile, "__call__", counting)
    with ometiff.open(path) as f:
        d = f.to_dask()
        assert d.chunksize == (1, 1, 1, 1024, 1024)  # 2 x 2 tiles of 512 KiB
        assert d.chunks[3:] == ((1024, 512), (1024, 776))
        np.testing.assert_array_equal(
            d[0, 0, 0, 1100:1200, 1030:1500].compute(), data[0, 0, 0, 1100:1200, 1030:1500]
        )
        assert len(reads) == 2  # chunk (1, 1), the corner: its 1 x 2 tiles
        reads.clear()
        d[0, 0, 0, 0:100, 0:100].compute()
        assert len(reads) == 4  # chunk (0, 0): its 2 x 2 tiles, no other
        np.testing.assert_array_equal(d.compute(), data)
        z = f.to_zarr()
        assert z.chunks == (1, 1, 1, 1024, 1024)
        np.testing.assert_array_equal(z[0, 0, 0, 1000:1100, 1700:], data[0, 0, 0, 1000:1100, 1700:])


def test_xarray_coordinates(tiled: tuple[Path, np.ndarray]) -> None:
    pytest.importorskip("xarray")
    path, data = tiled
    with ometiff.open(path) as f:
        xa = f.to_xarray()
        assert xa.dims == ("T", "C", "Z", "Y", "X")
        assert list(xa.coords["C"].values) == ["DAPI", "GFP", "RFP"]
        np.testing.assert_allclose(xa.coords["X"].values[:3], [0, 0.5, 1.0])
        np.testing.assert_allclose(xa.coords["T"].values, [0, 90])
        assert xa.coords["X"].attrs["units"] == "µm"
        np.testing.assert_array_equal(xa.sel(C="GFP").isel(T=1, Z=0).values, data[1, 1, 0])
        x1 = f.to_xarray(level=1)
        np.testing.assert_allclose(x1.coords["Y"].values[:2], [0, 1.0])


def test_xarray_missing_names_the_extra(
    tiled: tuple[Path, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "xarray", None)
    with ometiff.open(tiled[0]) as f, pytest.raises(MissingDependencyError, match="xarray"):
        f.to_xarray()


def test_pickle_threads_and_processes(tiled: tuple[Path, np.ndarray]) -> None:
    path, data = tiled
    with ometiff.open(path) as f:
        back = pickle.loads(pickle.dumps(f))
        with back:
            assert back.series[0].levels == f.series[0].levels
            np.testing.assert_array_equal(back.asarray(series=0, level=1), f.asarray(level=1))
        d = f.to_dask()[:, :, :2]
        np.testing.assert_array_equal(d.compute(scheduler="threads", num_workers=4), data[:, :, :2])
        np.testing.assert_array_equal(
            d.compute(scheduler="processes", num_workers=2), data[:, :, :2]
        )


def test_close_is_deterministic(tiled: tuple[Path, np.ndarray]) -> None:
    path, _ = tiled
    f = ometiff.open(path)
    d = f.to_dask()
    f.close()
    f.close()  # idempotent
    assert f.closed and "closed" in repr(f)
    for call in (f.asarray, f.to_dask, lambda: f.read(), d.compute):
        with pytest.raises(InvalidArgumentError, match=f"{path.name}.*closed"):
            call()
    with ometiff.open(path) as g:
        pass
    assert g.closed


def test_bad_indexes(tiled: tuple[Path, np.ndarray]) -> None:
    with ometiff.open(tiled[0]) as f:
        with pytest.raises(NoSuchPlaneError, match="series 1 does not exist"):
            f.asarray(1)
        with pytest.raises(NoSuchPlaneError, match="level 3 does not exist"):
            f.to_dask(0, 3)
        with pytest.raises(NoSuchPlaneError):
            f.read(t=2)
        with pytest.raises(InvalidArgumentError, match="empty"):
            f.read(y=slice(10, 10))
        with pytest.raises(InvalidArgumentError, match="step"):
            f.read(x=slice(0, 10, 2))
        with pytest.raises(InvalidArgumentError, match="integer"):
            f.asarray("0")  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="outside"):
            f.raw_reader.read_region(0, 0, 0, 0, 0, 301, 0, 10)


def test_multi_series_rgb_and_strips(tmp_path: Path) -> None:
    gray = RNG.integers(0, 255, (1, 2, 1, 40, 50), dtype=np.uint8)
    rgb = RNG.integers(0, 255, (1, 1, 3, 30, 20, 3), dtype=np.uint8)
    path = tmp_path / "multi.ome.tif"
    ometiff.write(path, [gray, rgb], axes=["TCZYX", "TCZYXS"])
    with ometiff.open(path) as f:
        assert [s.dims for s in f.series] == ["TCZYX", "TCZYXS"]
        assert f.series[1].sizes["S"] == 3 and f.series[1].sizes["C"] == 1
        assert f.chunks(1) == (1, 1, 1, 30, 20, 3)  # strips: one plane per chunk
        np.testing.assert_array_equal(f.asarray(0), gray)
        np.testing.assert_array_equal(f.asarray(1), rgb)
        np.testing.assert_array_equal(
            f.to_dask(1)[0, 0, 1, 5:9, :, 1].compute(), rgb[0, 0, 1, 5:9, :, 1]
        )
        np.testing.assert_array_equal(f.to_zarr(1)[0, 0, 2], rgb[0, 0, 2])


def test_tiled_plain_tiff_region(tmp_path: Path) -> None:
    """The TIFF reader decodes only the touched tiles too (RGB, planar separate)."""
    data = RNG.integers(0, 255, (3, 200, 300), dtype=np.uint8)
    path = tmp_path / "planar.tif"
    tifffile.imwrite(
        path,
        data,
        tile=(64, 64),
        photometric="rgb",
        planarconfig="separate",
        compression="zlib",
        metadata=None,
    )
    with ometiff.open(path) as f:
        assert f.reader == "tiff" and f.series[0].dims == "TCZYXS"
        assert f.chunks() == (1, 1, 1, 200, 300, 3)  # 12 KiB tiles: one chunk per plane
        want = np.moveaxis(data, 0, -1)
        np.testing.assert_array_equal(
            f.read(y=slice(70, 130), x=slice(10, 290)), want[70:130, 10:290]
        )
        np.testing.assert_array_equal(f.asarray()[0, 0, 0], want)


def test_reader_without_threads_is_serialised(tmp_path: Path) -> None:
    data = RNG.integers(0, 100, (6, 20, 30), dtype=np.int16)
    path = tmp_path / "stack.npy"
    np.save(path, data)
    with ometiff.open(path, axes="ZYX") as f:
        assert f.reader == "npy" and f.series[0].sizes["Z"] == 6
        assert f.series[0].physical_size == {"X": None, "Y": None, "Z": None}
        np.testing.assert_array_equal(f.to_dask().compute(scheduler="threads")[0, 0], data)
    np.testing.assert_array_equal(ometiff.imread(path, axes="ZYX")[0, 0], data)


def test_bad_files_name_the_file_and_problem(
    tmp_path: Path, tiled: tuple[Path, np.ndarray]
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(UnsupportedFormatError, match=r"notes\.txt"):
        ometiff.open(text)
    with pytest.raises(MissingFileError, match=r"absent\.ome\.tif"):
        ometiff.open(tmp_path / "absent.ome.tif")
    junk = tmp_path / "junk.ome.tif"
    junk.write_bytes(b"II*\x00" + b"\xff" * 64)
    with pytest.raises(OmeTiffError, match=r"junk\.ome\.tif"):
        ometiff.open(junk)
    # a tile whose bytes are garbage: reading it (only it) fails, naming file and IFD
    src, data = tiled
    broken = tmp_path / "broken.ome.tif"
    broken.write_bytes(src.read_bytes())
    with tifffile.TiffFile(broken) as tf:
        page = tf.pages[0]
        offset, count = page.dataoffsets[0], page.databytecounts[0]
    with open(broken, "r+b") as fh:
        fh.seek(offset)
        fh.write(b"\x00" * count)
    with ometiff.open(broken) as f:
        np.testing.assert_array_equal(f.read(y=slice(200, 300)), data[0, 0, 0, 200:])
        with pytest.raises(InvalidTiffError, match=r"broken\.ome\.tif: IFD 0.*tile 0"):
            f.read(y=slice(0, 10), x=slice(0, 10))
        with pytest.raises(InvalidTiffError, match=r"broken\.ome\.tif"):
            f.to_dask()[0, 0, 0].compute()


def test_uncompressed_tiles_give_writable_arrays(tmp_path: Path) -> None:
    data = RNG.integers(0, 255, (1, 1, 1, 64, 64), dtype=np.uint8)
    path = tmp_path / "raw_tiles.ome.tif"
    ometiff.write(path, data, axes="TCZYX", tile=(32, 32))
    with ometiff.open(path) as f:
        window = f.read(y=slice(0, 16), x=slice(0, 16))
        assert window.flags.writeable
        window[0, 0] = 7  # the caller's copy, not the file's bytes
        np.testing.assert_array_equal(f.read(y=slice(0, 1), x=slice(0, 1)), data[0, 0, 0, :1, :1])
        assert f.asarray().flags.writeable
