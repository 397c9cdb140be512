"""Tiled reads decoded in parallel straight into one output (``readers/tiles.py``).

Every case is compared with tifffile's own ``page.asarray()`` of the same page: the
fast decoder (the page's codec into a per-thread scratch buffer) where the layout
allows it, tifffile's per-tile decode function where it does not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

import ometiff
from ometiff import InvalidArgumentError, MemoryBudgetError
from ometiff.readers import tiles
from ometiff.readers.tiles import SegmentFile, decode_pool, fast_tile_decoder, read_page_region

RNG = np.random.default_rng(21)

# (name, dtype, samples, planar, tifffile.imwrite options, fast path expected)
CASES: list[tuple[str, str, int, str, dict[str, Any], bool]] = [
    ("zlib", "uint16", 1, "contig", {"compression": "zlib"}, True),
    ("zlib-delta", "uint16", 1, "contig", {"compression": "zlib", "predictor": True}, True),
    ("adobe-deflate-int32", "int32", 1, "contig", {"compression": "adobe_deflate"}, True),
    ("zstd-delta-int16", "int16", 1, "contig", {"compression": "zstd", "predictor": True}, True),
    ("lzw-uint8", "uint8", 1, "contig", {"compression": "lzw"}, True),
    ("lzma", "uint16", 1, "contig", {"compression": "lzma"}, True),
    ("none", "uint16", 1, "contig", {}, True),
    ("float32-zlib", "float32", 1, "contig", {"compression": "zlib"}, True),
    ("float32-floatpred", "float32", 1, "contig", {"compression": "zlib", "predictor": 3}, False),
    ("big-endian", "uint16", 1, "contig", {"compression": "zlib", "byteorder": ">"}, False),
    ("rgb-contig", "uint8", 3, "contig", {"compression": "zlib", "predictor": True}, True),
    ("rgb-separate", "uint16", 3, "separate", {"compression": "zlib"}, True),
    ("rgb-jpeg", "uint8", 3, "contig", {"compression": "jpeg"}, False),
]


def _write(path: Path, dtype: str, samples: int, planar: str, opts: dict[str, Any]) -> np.ndarray:
    shape = (300, 500) if samples == 1 else ((300, 500, 3) if planar == "contig" else (3, 300, 500))
    if np.dtype(dtype).kind == "f":
        data = RNG.normal(0, 100, shape).astype(dtype)
    else:
        info = np.iinfo(dtype)
        data = RNG.integers(max(info.min, -3000), min(info.max, 3000), shape, dtype=dtype)
    extra: dict[str, Any] = {"photometric": "rgb", "planarconfig": planar} if samples > 1 else {}
    tifffile.imwrite(path, data, tile=(128, 128), metadata=None, **extra, **opts)
    return data


def _as_yxs(page: Any) -> np.ndarray:
    """tifffile's pixels of a page as (Y, X, S)."""
    arr = page.asarray()
    if arr.ndim == 2:
        return arr[..., None]
    return np.moveaxis(arr, 0, -1) if int(page.planarconfig) == 2 else arr


@pytest.mark.parametrize(
    ("name", "dtype", "samples", "planar", "opts", "fast"), CASES, ids=[c[0] for c in CASES]
)
def test_parallel_decode_into_output_equals_tifffile(
    tmp_path: Path,
    name: str,
    dtype: str,
    samples: int,
    planar: str,
    opts: dict[str, Any],
    fast: bool,
) -> None:
    if opts.get("compression") in ("zstd", "lzma", "jpeg"):
        import imagecodecs

        codec = {"zstd": "ZSTD", "lzma": "LZMA", "jpeg": "JPEG8"}[opts["compression"]]
        if not getattr(imagecodecs, codec).available:
            pytest.skip(f"imagecodecs without {codec}")
    path = tmp_path / f"{name}.tif"
    _write(path, dtype, samples, planar, opts)
    seg = SegmentFile(path)
    try:
        with tifffile.TiffFile(path) as tf:
            page = tf.pages[0]
            assert (fast_tile_decoder(page) is not None) is fast  # the path under test
            want = _as_yxs(page)
            # the whole plane into a preallocated output (2-D for one sample)
            out = np.full(want.shape if samples > 1 else want.shape[:2], 7, dtype=want.dtype)
            got = read_page_region(page, 0, 300, 0, 500, read=seg, where=name, out=out)
            assert got is out
            np.testing.assert_array_equal(out.reshape(want.shape), want)
            # windows across tile edges, and inside one edge tile, into new arrays
            for y0, y1, x0, x1 in ((37, 251, 61, 333), (260, 300, 490, 500), (0, 1, 0, 1)):
                win = read_page_region(page, y0, y1, x0, x1, read=seg, where=name)
                np.testing.assert_array_equal(win, want[y0:y1, x0:x1])
                assert win.flags.writeable
    finally:
        seg.close()


def test_scratch_is_reused_between_tiles_not_between_outputs(tmp_path: Path) -> None:
    path = tmp_path / "two.tif"
    data = RNG.integers(0, 60000, (2, 256, 256), dtype=np.uint16)
    tifffile.imwrite(path, data, tile=(128, 128), compression="zlib", metadata=None)
    seg = SegmentFile(path)
    with tifffile.TiffFile(path) as tf:
        first = read_page_region(tf.pages[0], 0, 128, 0, 128, read=seg, where="a")
        second = read_page_region(tf.pages[1], 0, 128, 0, 128, read=seg, where="b")
    seg.close()
    np.testing.assert_array_equal(first, data[0, :128, :128, None])  # not overwritten
    np.testing.assert_array_equal(second, data[1, :128, :128, None])


def test_decode_inside_the_pool_does_not_wait_on_itself(tmp_path: Path) -> None:
    path = tmp_path / "pool.tif"
    data = RNG.integers(0, 255, (512, 512), dtype=np.uint8)
    tifffile.imwrite(path, data, tile=(64, 64), compression="zlib", metadata=None)
    seg = SegmentFile(path)
    with tifffile.TiffFile(path) as tf:
        page = tf.pages[0]

        def job() -> np.ndarray:
            return read_page_region(page, 0, 512, 0, 512, read=seg, where="pool")

        n = decode_pool()._max_workers + 1  # more jobs than threads, each of 64 tiles
        futures = [decode_pool().submit(job) for _ in range(n)]
        for fut in futures:
            np.testing.assert_array_equal(fut.result(timeout=60)[..., 0], data)
    seg.close()


def test_budget_still_refuses_large_regions(tmp_path: Path) -> None:
    path = tmp_path / "budget.ome.tif"
    data = RNG.integers(0, 4000, (1, 1, 2, 256, 256), dtype=np.uint16)  # 128 KiB planes
    ometiff.write(path, data, axes="TCZYX", compression="zlib", tile=(64, 64))
    with ometiff.open(path) as f:
        with (
            ometiff.memory_budget("64K"),
            pytest.raises(MemoryBudgetError, match="256×256 uint16 plane"),
        ):
            f.asarray()
        with ometiff.memory_budget("64K"), pytest.raises(MemoryBudgetError, match=r"budget\.ome"):
            f.to_dask().compute()
        with ometiff.memory_budget("64K"):  # a window within the budget still reads
            np.testing.assert_array_equal(
                f.read(y=slice(0, 100), x=slice(0, 100)), data[0, 0, 0, :100, :100]
            )
        with (
            ometiff.memory_budget("4K"),
            pytest.raises(MemoryBudgetError, match="64×64 uint16 tile"),
        ):
            f.read(y=slice(0, 10), x=slice(0, 10))
        with (
            ometiff.memory_budget("16K"),
            pytest.raises(MemoryBudgetError, match="100×90 uint16 region"),
        ):
            f.read(y=slice(0, 100), x=slice(0, 90))
        with ometiff.memory_budget("128K"):
            np.testing.assert_array_equal(f.asarray(), data)


def test_read_region_out_must_have_the_region_shape(tmp_path: Path) -> None:
    path = tmp_path / "out.ome.tif"
    data = RNG.integers(0, 4000, (1, 1, 1, 100, 120), dtype=np.uint16)
    ometiff.write(path, data, axes="TCZYX", compression="zlib", tile=(64, 64))
    strips = tmp_path / "strips.ome.tif"
    ometiff.write(strips, data, axes="TCZYX")
    for p in (path, strips):
        with ometiff.open(p) as f:
            rdr = f.raw_reader
            out = np.zeros((50, 60), np.uint16)
            assert rdr.read_region(0, 0, 0, 0, 10, 60, 20, 80, out=out) is out
            np.testing.assert_array_equal(out, data[0, 0, 0, 10:60, 20:80])
            with pytest.raises(InvalidArgumentError, match=r"out= has shape \(5, 6\)"):
                rdr.read_region(0, 0, 0, 0, 10, 60, 20, 80, out=np.zeros((5, 6), np.uint16))


@pytest.mark.parametrize(
    "kind", ["tiled", "strips", "level1", "rgb-tiled", "multi-file", "tiff-separate"]
)
def test_asarray_and_dask_equal_tifffile(tmp_path: Path, kind: str) -> None:
    level = 0
    if kind == "rgb-tiled":
        data = RNG.integers(0, 255, (1, 1, 3, 200, 260, 3), dtype=np.uint8)
        path = tmp_path / "rgb.ome.tif"
        ometiff.write(path, data, axes="TCZYXS", compression="zlib", tile=(64, 64))
    elif kind == "tiff-separate":  # a plain TIFF, planar RGB tiles: the TIFF reader
        planes = RNG.integers(0, 255, (3, 200, 260), dtype=np.uint8)
        path = tmp_path / "separate.tif"
        tifffile.imwrite(
            path,
            planes,
            tile=(64, 64),
            photometric="rgb",
            planarconfig="separate",
            compression="zlib",
            metadata=None,
        )
        data = np.moveaxis(planes, 0, -1)[None, None, None]
    else:
        data = RNG.integers(0, 4000, (2, 3, 2, 200, 260), dtype=np.uint16)
        path = tmp_path / f"{kind}.ome.tif"
        opts: dict[str, Any] = {"compression": "zlib"}
        if kind != "strips":
            opts["tile"] = (64, 64)
        if kind == "level1":
            opts["pyramid_levels"] = 2
            level = 1
        if kind == "multi-file":
            opts["split"] = "c"
        path = ometiff.write(path, data, axes="TCZYX", **opts)
    with ometiff.open(path) as f:
        got = f.asarray(level=level)
        want = data if kind == "tiff-separate" else _tifffile_planes(f, level)
        if level == 0:
            np.testing.assert_array_equal(want, data)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(f.to_dask(level=level).compute(), want)
        np.testing.assert_array_equal(f.to_dask(level=level).compute(scheduler="sync"), want)


def _tifffile_planes(f: ometiff.File, level: int) -> np.ndarray:
    """tifffile's pixels of every plane's IFD (SubIFD ``level - 1`` for levels > 0), in
    the member file the OME-TIFF reader locates it in."""
    shape = f.series[0].levels[level]
    out = np.empty(shape, f.series[0].dtype)
    for t in range(shape[0]):
        for c in range(shape[1]):
            for z in range(shape[2]):
                member, ifd = f.raw_reader.locate(0, t, c, z)  # type: ignore[attr-defined]
                with tifffile.TiffFile(member) as tf:
                    page = tf.pages[ifd]
                    if level:
                        page = list(tifffile.TiffPages(page))[level - 1]
                    out[t, c, z] = page.asarray()
    return out


def test_fast_decoder_is_used_for_the_benchmark_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """zlib 512² uint16 tiles (the 2 GiB read benchmark's layout) never reach tifffile's
    per-tile decode function."""
    path = tmp_path / "bench.ome.tif"
    data = RNG.integers(0, 4000, (1, 1, 2, 1024, 1024), dtype=np.uint16)
    ometiff.write(path, data, axes="TCZYX", compression="zlib", tile=(512, 512))
    calls: list[int] = []
    original = tiles.fast_tile_decoder

    def counting(page: Any) -> Any:
        decode = original(page)
        assert decode is not None

        def wrapped(data: bytes, shape: tuple[int, int, int]) -> Any:
            calls.append(1)
            return decode(data, shape)

        return wrapped

    reads: list[bool] = []
    read = tiles.SegmentFile.__call__

    def reading(self: tiles.SegmentFile, offset: int, count: int, **kw: Any) -> Any:
        reads.append(kw.get("into") is not None)
        return read(self, offset, count, **kw)

    monkeypatch.setattr(tiles, "fast_tile_decoder", counting)
    monkeypatch.setattr(tiles.SegmentFile, "__call__", reading)
    monkeypatch.setattr(tifffile.TiffPage, "decode", property(lambda self: _refuse))
    with ometiff.open(path) as f:
        np.testing.assert_array_equal(f.asarray(), data)
    assert len(calls) == 8
    assert reads == [True] * 8  # compressed bytes read into the thread's reused buffer


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("tifffile's per-tile decode was used")


@pytest.mark.parametrize("tiled", [False, True])
def test_blocks_pick_samples_in_any_order(tmp_path: Path, tiled: bool) -> None:
    rgb = RNG.integers(0, 255, (1, 1, 2, 70, 90, 3), dtype=np.uint8)
    path = tmp_path / "rgb.ome.tif"
    ometiff.write(path, rgb, axes="TCZYXS", tile=(32, 32) if tiled else None)
    every = (slice(None),) * 5
    with ometiff.open(path) as f:
        for samples in (slice(None, None, -1), slice(0, 3, 2), slice(1, 2), slice(None)):
            for head in (
                every,
                (slice(0, 1), slice(0, 1), slice(1, 2), slice(5, 60), slice(3, 80)),
            ):
                key = (*head, samples)
                np.testing.assert_array_equal(f.read_block(0, 0, key), rgb[key])
        np.testing.assert_array_equal(f.to_dask()[..., ::-1].compute(), rgb[..., ::-1])


def test_decode_threads_one_keeps_reads_in_the_calling_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Dask worker of one thread decodes on that thread (``decode_threads(1)``): the
    shared pool is never used, and the pixels are the same."""
    path = tmp_path / "one.ome.tif"
    data = RNG.integers(0, 4000, (1, 1, 1, 300, 500), dtype=np.uint16)
    ometiff.write(path, data, axes="TCZYX", compression="zlib", tile=(64, 64))
    used: list[str] = []
    original = tiles.decode_pool

    def spy() -> Any:
        used.append("pool")
        return original()

    monkeypatch.setattr(tiles, "decode_pool", spy)
    with ometiff.open(path) as f:
        with tiles.decode_threads(1):
            np.testing.assert_array_equal(f.asarray(), data)
        assert used == []
        np.testing.assert_array_equal(f.asarray(), data)  # outside: the pool again
        assert used
