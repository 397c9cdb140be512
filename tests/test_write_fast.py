"""The writer's fast paths: own tile encoding pool, batched strips, OME-XML without ome_types."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

import ometiff
from ometiff.readers.source import SeriesSource
from ometiff.writer.omebuild import build_ome, conform_ome, ome_xml_template
from ometiff.writer.omexml import SeriesMeta, TiffDataRun, prepare, render
from ometiff.writer.pyramid import downsample

RNG = np.random.default_rng(7)
UUID = "urn:uuid:12345678-1234-1234-1234-123456789abc"


def _src(
    shape: tuple[int, int, int, int, int],
    samples: int = 1,
    dtype: Any = np.uint16,
    name: str | None = None,
) -> SeriesSource:
    return SeriesSource(shape, samples, np.dtype(dtype), lambda t, c, z: None, name)


XML_CASES: list[tuple[list[SeriesSource], list[SeriesMeta], dict[str, Any]]] = [
    ([_src((1, 1, 1, 8, 8))], [SeriesMeta()], {}),
    (
        [_src((2, 2, 3, 8, 8), name="a<b")],
        [
            SeriesMeta(
                name='x&y"',
                time_increment=(1.5, "ms"),
                physical_size={"X": (0.5, "µm"), "Y": (1e-5, "nm"), "Z": (2.0, "um")},
                channel_names=["a\tb", None],
                channel_colors=["#ff00AA", (0, 255, 0)],
                excitation_wavelength=[488, (561, "nm")],
                emission_wavelength=[None, 1e20],
                plane_metadata={
                    (0, 1, 2): {
                        "DeltaT": 0.5,
                        "exposure_time": (10, "ms"),
                        "PositionX": 100.0,
                        "PositionZ": (0.1 + 0.2, "mm"),
                    },
                    (1, 0, 0): {"DeltaT": 1},
                },
            )
        ],
        {"acquisition_date": "2024-01-02T03:04:05", "annotations": {"k": "v<", "ü": "€"}},
    ),
    (
        [
            _src((1, 1, 1, 8, 8), 3, np.uint8),
            _src((1, 2, 1, 8, 8), 1, np.float32),
            _src((1, 1, 1, 8, 8), 1, bool),
        ],
        [SeriesMeta(channel_colors=[-1]), SeriesMeta(channel_colors=[2**31 - 1, 0]), SeriesMeta()],
        {"acquisition_date": dt.datetime(2020, 5, 6)},
    ),
    (  # colour names, unsigned RGBA ints, rare units: one parser for both paths (R4, U1)
        [_src((1, 2, 1, 8, 8))],
        [
            SeriesMeta(
                channel_colors=["red", 0xFF0000FF],
                time_increment=(2, "hr"),
                physical_size={"X": (1.0, "ly"), "Y": (2.0, "micron")},
            )
        ],
        {},
    ),
]


@pytest.mark.parametrize("multi", [False, True])
@pytest.mark.parametrize("case", range(len(XML_CASES)))
def test_fast_xml_is_what_ome_types_writes(case: int, multi: bool) -> None:
    srcs, metas, kw = XML_CASES[case]
    light = prepare(srcs, metas, **kw)
    assert light is not None
    orders = ["XYZCT", "XYCZT", "XYZTC"][: len(srcs)]
    runs = [
        TiffDataRun(i, i, (0, 0, 0), s.plane_count, UUID, f"f{i}.ome.tif")
        for i, s in enumerate(srcs)
    ]
    fast = render(light, srcs, orders, runs, multi_file=multi)
    full = ome_xml_template(
        conform_ome(build_ome(srcs, metas, **kw), srcs, orders, runs, multi_file=multi)
    )
    assert fast == full


@pytest.mark.parametrize(
    "meta",
    [
        SeriesMeta(channel_names=["a", "b"]),  # wrong count: the full path words the error
        SeriesMeta(plane_metadata={(0, 0, 0): {"Temperature": 3}}),
    ],
)
def test_fast_xml_defers_to_ome_types(meta: SeriesMeta) -> None:
    assert prepare([_src((1, 1, 1, 8, 8))], [meta]) is None


def test_fallback_still_writes_and_checks(tmp_path: Path) -> None:
    p = ometiff.write(tmp_path / "c.ome.tif", np.zeros((8, 8), np.uint8), channel_colors=["red"])
    with tifffile.TiffFile(p) as tf:
        assert 'Color="-16776961"' in tf.pages[0].description
    with pytest.raises(ometiff.WriteError, match="channel_names has 2 entries"):
        ometiff.write(tmp_path / "d.ome.tif", np.zeros((8, 8), np.uint8), channel_names=["a", "b"])


def test_plain_write_imports_no_heavy_modules(tmp_path: Path) -> None:
    code = (
        "import sys, numpy as np, ometiff\n"
        f"ometiff.write({str(tmp_path / 'x.ome.tif')!r}, np.zeros((2, 64, 64), np.uint16),"
        " axes='CYX', channel_names=['a', 'b'], physical_size=0.5, compression='zlib',"
        " pyramid_levels=1)\n"
        "print(sorted(m for m in ('ome_types', 'pydantic', 'xsdata', 'dask', 'zarr')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


def _levels(path: Path, series: int = 0) -> list[np.ndarray]:
    with tifffile.TiffFile(path) as tf:
        return [lvl.asarray() for lvl in tf.series[series].levels]


@pytest.mark.parametrize("compression", [None, "zlib", "zstd", "lzw"])
@pytest.mark.parametrize("rgb", [False, True])
def test_pool_encoded_tiles_and_pyramid(tmp_path: Path, compression: str | None, rgb: bool) -> None:
    # 3 planes of 100x150 with 32x48 tiles: partial tiles at the right and bottom edges
    shape = (3, 100, 150, 3) if rgb else (3, 100, 150)
    data = RNG.integers(0, 255, shape).astype(np.uint8 if rgb else np.uint16)
    p = ometiff.write(
        tmp_path / "t.ome.tif",
        data,
        axes="ZYXS" if rgb else "ZYX",
        compression=compression,
        tile=(32, 48),
        pyramid_levels=2,
    )
    with tifffile.TiffFile(p) as tf:
        page = tf.pages[0]
        assert (page.tilelength, page.tilewidth) == (32, 48)
        assert (
            page.compression.name
            == {None: "NONE", "zlib": "ADOBE_DEFLATE", "zstd": "ZSTD", "lzw": "LZW"}[compression]
        )
        assert len(tf.pages) == 3 and all(len(pg.subifds or ()) == 2 for pg in tf.pages)
    levels = _levels(p)
    np.testing.assert_array_equal(levels[0], data)
    expect = data
    for lvl in levels[1:]:
        expect = np.stack([downsample(plane) for plane in expect])
        np.testing.assert_array_equal(lvl, expect)
    report = ometiff.validate(p)
    assert report.ok, report.issues


def test_modes_mixed_in_one_file(tmp_path: Path) -> None:
    tiled = RNG.integers(0, 4000, (2, 300, 260), dtype=np.uint16)
    strips = RNG.integers(0, 4000, (3, 40, 50), dtype=np.uint16)
    p = ometiff.write(
        tmp_path / "m.ome.tif",
        [tiled, strips, tiled],
        axes=["ZYX"] * 3,
        compression="zlib",
        tile=(64, 64),
        pyramid_levels=1,
    )
    with tifffile.TiffFile(p) as tf:
        assert len(tf.pages) == 7
        assert tf.pages[2].is_tiled
    for k, data in enumerate([tiled, strips, tiled]):
        np.testing.assert_array_equal(_levels(p, k)[0], data)
    assert ometiff.validate(p).ok


def test_uncompressed_strips_are_one_contiguous_block(tmp_path: Path) -> None:
    data = RNG.integers(0, 4000, (5, 64, 80), dtype=np.uint16)
    p = ometiff.write(tmp_path / "u.ome.tif", data, axes="ZYX", tile=False)
    with tifffile.TiffFile(p) as tf:
        assert len(tf.pages) == 5
        offset = tf.series[0].dataoffset  # set only for one memory-mappable block
        assert offset is not None
    np.testing.assert_array_equal(tifffile.memmap(p), data)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tile": False},
        {"tile": (16, 16), "compression": "zlib", "pyramid_levels": 1},
        {"tile": (16, 16), "compression": "jpeg2000"},
    ],
)
@pytest.mark.parametrize("bad_z", [0, 2])
def test_source_error_is_the_users(tmp_path: Path, kwargs: dict[str, Any], bad_z: int) -> None:
    def get_plane(t: int, c: int, z: int) -> np.ndarray:
        if z == bad_z:
            raise ValueError("index 7 is out of range for this stage position")
        return np.zeros((32, 32), np.uint8)

    src = SeriesSource((1, 1, 4, 32, 32), 1, np.dtype(np.uint8), get_plane)
    with pytest.raises(ValueError, match="out of range for this stage") as info:
        ometiff.write_sources(tmp_path / "e.ome.tif", [src], **kwargs)
    assert not isinstance(info.value, ometiff.WriteError)
    assert any(
        f"(t=0, c=0, z={bad_z}) of series 0" in n for n in getattr(info.value, "__notes__", [])
    )
    assert os.listdir(tmp_path) == []


def test_array_runs_are_handed_over_as_views() -> None:
    from ometiff.writer.api import array_series

    data = RNG.integers(0, 100, (2, 3, 8, 9), dtype=np.uint16)
    planes = array_series(data, "TZYX", 0, None).source.get_plane
    run = planes.block([(0, 0, 1), (0, 0, 2), (1, 0, 0)])  # type: ignore[attr-defined]
    assert run is not None and np.shares_memory(run, data)
    np.testing.assert_array_equal(run, data.reshape(6, 8, 9)[1:4])
    assert planes.block([(0, 0, 0), (0, 0, 2)]) is None  # type: ignore[attr-defined]
    moved = array_series(np.moveaxis(data, 1, 3), "TYXZ", 0, None).source.get_plane
    assert moved.block([(0, 0, 0)]) is None  # type: ignore[attr-defined]


def _segments(path: Path, level: int = 0) -> tuple[list[bytes], dict[str, Any]]:
    with tifffile.TiffFile(path) as tf:
        page = tf.series[0].levels[level].pages[0]
        fh = tf.filehandle
        out = []
        for offset, count in zip(page.dataoffsets, page.databytecounts, strict=True):
            fh.seek(offset)
            out.append(fh.read(count))
        tags = {
            t.name: t.value
            for t in page.tags.values()
            if t.name
            in (
                "Compression",
                "PhotometricInterpretation",
                "YCbCrSubSampling",
                "ReferenceBlackWhite",
                "SamplesPerPixel",
            )
        }
        return out, tags


@pytest.mark.parametrize("quality", [None, 80])
@pytest.mark.parametrize("rgb", [False, True])
def test_pool_jpeg_tiles_are_tifffiles(tmp_path: Path, quality: int | None, rgb: bool) -> None:
    """JPEG tiles encoded in our pool (with the pyramid) are byte for byte tifffile's."""
    shape = (200, 330, 3) if rgb else (200, 330)  # partial edge tiles
    data = RNG.integers(0, 255, shape, dtype=np.uint8)
    ours = ometiff.write(
        tmp_path / "o.ome.tif",
        data,
        axes="YXS" if rgb else "YX",
        compression="jpeg",
        compression_level=quality,
        tile=(64, 96),
        pyramid_levels=2,
    )
    kwargs: dict[str, Any] = {"compressionargs": {"level": quality}} if quality else {}
    for level, plane in enumerate([data, downsample(data), downsample(downsample(data))]):
        ref = tmp_path / f"r{level}.tif"
        # the levels (100x165, 50x83) keep the 64x96 tile
        tifffile.imwrite(
            ref,
            plane,
            photometric="rgb" if rgb else "minisblack",
            compression="jpeg",
            tile=(64, 96),
            **kwargs,
        )
        want, want_tags = _segments(ref)
        got, got_tags = _segments(ours, level)
        assert got == want and got_tags == want_tags
    assert tifffile.imread(ours).shape == data.shape


def test_downsample_matches_a_32_bit_accumulator() -> None:
    """The narrow (uint16 for uint8) banded mean equals the plain 32/64-bit formula."""

    def reference(plane: np.ndarray) -> np.ndarray:
        pad = ((0, plane.shape[0] % 2), (0, plane.shape[1] % 2)) + ((0, 0),) * (plane.ndim - 2)
        plane = np.pad(plane, pad, mode="edge")
        wide = np.int64 if plane.dtype.kind == "i" else np.uint64
        acc = (
            plane[0::2, 0::2].astype(wide)
            + plane[1::2, 0::2]
            + plane[0::2, 1::2]
            + plane[1::2, 1::2]
            + 2
        )
        return (acc >> 2).astype(plane.dtype)

    rng = np.random.default_rng(3)
    for dtype in (np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32):
        info = np.iinfo(dtype)
        for shape in ((7, 9), (301, 517, 3), (64, 64, 4), (1, 1)):
            plane = rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
            np.testing.assert_array_equal(downsample(plane), reference(plane))
            for extreme in (info.min, info.max):
                full = np.full(shape, extreme, dtype)
                np.testing.assert_array_equal(downsample(full), full[::2, ::2])


@pytest.mark.parametrize("workers", [1, 3])
def test_downsample_in_pool_bands_is_identical(
    monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import ometiff.writer.pyramid as pyramid

    monkeypatch.setattr(pyramid, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(pyramid, "BAND_BYTES", 1)  # 8-row bands: many of them
    rng = np.random.default_rng(4)
    for plane in (
        rng.integers(0, 255, (203, 157, 3), dtype=np.uint8),
        rng.integers(0, 60000, (301, 64), dtype=np.uint16),
        rng.random((97, 33), dtype=np.float32),
    ):
        with ThreadPoolExecutor(workers) as pool:
            # tasks queued ahead of the bands: the caller does the bands itself
            blocker = [pool.submit(sum, range(10**5)) for _ in range(workers)]
            got = downsample(plane, pool=pool)
            assert all(f.result() for f in blocker)
        np.testing.assert_array_equal(got, downsample(plane))
