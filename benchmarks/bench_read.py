"""The read API (``ometiff.open``): whole-file reads, windows of pyramids, opening.

Targets (issue 10), each measured against anchors in the same run:

* every plane of a 2 GiB zlib-tiled OME-TIFF through ``to_dask().compute()``: at
  least 1.5x faster than tifffile's default per-page read (``page.asarray()`` for
  every page), and within 1.3x of the decode floor: ``imagecodecs.zlib_decode`` of
  every tile of the file on one thread per core, bytes already in memory (no I/O),
  each thread decoding into one reused buffer of the tile's decoded size (no
  allocation, no output growing: the codec's work alone). ``File.asarray()`` and
  the same floor with libdeflate (the codec tifffile and ometiff use) are printed
  as references;
* a 512x512 window of a 40,000x40,000 tiled pyramid in under 50 ms (the file
  already open; the open time is printed too);
* opening a 30,000-plane OME-TIFF (written by Bio-Formats, one TiffData per plane)
  in under 0.5 s (in-process; imports excluded and printed).

``--quick`` uses a 128 MiB file and a 10,000² pyramid (same targets).
The inputs are written once with tifffile and cached in ``.cache/bench``.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _common import ROOT, WORK, bioformats_ome_tiff

sys.path.insert(0, str(ROOT / "src"))

import numpy as np

TILE = 512


def _big_file(quick: bool) -> Path:
    """A zlib-tiled uint16 OME-TIFF: 64 planes of 4096² (2 GiB), or 8 of 2048² (quick)."""
    import tifffile

    planes, edge = (8, 2048) if quick else (64, 4096)
    out = WORK / f"read_zlib_{planes}x{edge}.ome.tif"
    if out.exists():
        return out
    WORK.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:edge, 0:edge]
    base = ((yy // 7 + xx // 5) % 2048).astype(np.uint16)

    def gen() -> Any:  # tiles, plane after plane, as tifffile's tiled writer wants them
        for k in range(planes):
            plane = base + rng.integers(0, 64, (edge, edge), dtype=np.uint16) + np.uint16(k)
            for y in range(0, edge, TILE):
                for x in range(0, edge, TILE):
                    yield plane[y : y + TILE, x : x + TILE]

    tmp = out.with_suffix(".part")
    with tifffile.TiffWriter(tmp, bigtiff=True, ome=True) as tw:
        tw.write(
            gen(),
            shape=(planes, edge, edge),
            dtype=np.uint16,
            tile=(TILE, TILE),
            compression="zlib",
            compressionargs={"level": 6},
            metadata={"axes": "ZYX"},
            maxworkers=os.cpu_count(),
        )
    tmp.rename(out)
    return out


def _pyramid_file(quick: bool) -> Path:
    """A uint8 OME-TIFF of one 40,000² plane (10,000² quick), zlib tiles, SubIFD levels."""
    import tifffile

    edge = 10_000 if quick else 40_000
    out = WORK / f"read_pyramid_{edge}.ome.tif"
    if out.exists():
        return out
    WORK.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(4)
    # a few distinct compressible tiles, cycled: realistic decode cost, fast to write
    yy, xx = np.mgrid[0:TILE, 0:TILE]
    tiles = [
        ((yy // (k + 2) + xx // (k + 3)) % 200 + rng.integers(0, 32, (TILE, TILE))).astype(np.uint8)
        for k in range(7)
    ]
    sizes = [edge]
    while sizes[-1] > 2 * TILE:
        sizes.append(sizes[-1] // 2)

    def gen(size: int) -> Any:
        n = (-(-size // TILE)) ** 2
        for k in range(n):
            yield tiles[k % len(tiles)]

    tmp = out.with_suffix(".part")
    with tifffile.TiffWriter(tmp, bigtiff=True, ome=True) as tw:
        opts = {
            "dtype": np.uint8,
            "tile": (TILE, TILE),
            "compression": "zlib",
            "compressionargs": {"level": 1},
        }
        tw.write(
            gen(edge), shape=(edge, edge), subifds=len(sizes) - 1, metadata={"axes": "YX"}, **opts
        )
        for size in sizes[1:]:
            tw.write(gen(size), shape=(size, size), subfiletype=1, **opts)
    tmp.rename(out)
    return out


def _best(fn: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _row(
    name: str,
    ours: float,
    anchor: str,
    anchor_s: float,
    ratio: float,
    target: str,
    ok: bool,
    notes: str = "",
) -> dict[str, object]:
    return {
        "name": name,
        "ours_s": ours,
        "anchor": anchor,
        "anchor_s": anchor_s,
        "ratio": ratio,
        "target": target,
        "ok": ok,
        "notes": notes,
    }


def whole_file_rows(quick: bool) -> list[dict[str, object]]:
    import imagecodecs
    import tifffile

    import ometiff

    path = _big_file(quick)
    with tifffile.TiffFile(path) as tf:
        nbytes = sum(int(p.nbytes) for p in tf.pages)
        tiles: list[bytes] = []  # the decode floor's input: every tile in memory (not timed)
        with open(path, "rb") as fh:
            for page in tf.pages:
                for off, cnt in zip(page.dataoffsets, page.databytecounts, strict=True):
                    fh.seek(off)
                    tiles.append(fh.read(cnt))
    # Touch as much memory as the largest peak once (dask holds its chunks and the
    # result it concatenates them into: twice the result): a fresh VM backs guest
    # pages on first use, many times slower than later allocations, and whoever ran
    # first would pay for it. (A VM that reports freed pages back to its host, as the
    # shared test machine does, makes new memory slow again a few seconds after.)
    np.ones(2 * nbytes + nbytes // 4, np.uint8)
    repeat = 3 if quick else 2
    cores = os.cpu_count() or 1
    pool = ThreadPoolExecutor(cores)
    tile_nbytes = TILE * TILE * 2  # uint16
    buffers = threading.local()

    def tifffile_pages() -> None:
        with tifffile.TiffFile(path) as tf:
            for page in tf.pages:
                page.asarray()

    def ours() -> None:
        with ometiff.open(path) as f:
            f.to_dask().compute()

    def ours_numpy() -> None:
        with ometiff.open(path) as f:
            f.asarray()

    def floor(decode: Any) -> Any:
        def one(data: bytes) -> None:
            out = getattr(buffers, "out", None)
            if out is None:
                out = buffers.out = np.empty(tile_nbytes, np.uint8)
            decode(data, out=out)

        def run() -> None:
            for _ in pool.map(one, tiles):
                pass

        return run

    deflate = getattr(imagecodecs, "DEFLATE", None)
    has_deflate = deflate is not None and deflate.available
    timings: dict[str, float] = {}
    for _ in range(repeat):  # interleaved, best of each: fair under a varying load
        for key, fn in (
            ("tifffile", tifffile_pages),
            ("zlib", floor(imagecodecs.zlib_decode)),
            ("ours", ours),
            ("numpy", ours_numpy),
        ):
            timings[key] = min(timings.get(key, float("inf")), _best(fn, 1))
        if has_deflate:
            t = _best(floor(imagecodecs.deflate_decode), 1)
            timings["deflate"] = min(timings.get("deflate", float("inf")), t)
    pool.shutdown()
    t_ours, t_tf, t_zlib = timings["ours"], timings["tifffile"], timings["zlib"]
    size = f"{nbytes / 2**30:.2f} GiB of {TILE}² zlib tiles"
    rows = [
        _row(
            f"to_dask().compute(), {size}, vs tifffile per-page read",
            t_ours,
            "tifffile page.asarray()",
            t_tf,
            t_tf / t_ours,
            "ratio >= 1.5",
            t_tf / t_ours >= 1.5,
        ),
        _row(
            f"to_dask().compute(), {size}, vs decode floor",
            t_ours,
            f"imagecodecs.zlib_decode of every tile on {cores} threads",
            t_zlib,
            t_ours / t_zlib,
            "ours/floor <= 1.3",
            t_ours / t_zlib <= 1.3,
            "ratio here is ours / floor",
        ),
    ]
    t_numpy = timings["numpy"]
    row = _row(
        f"File.asarray(), {size}, vs tifffile per-page read",
        t_numpy,
        "tifffile page.asarray()",
        t_tf,
        t_tf / t_numpy,
        "none (the numpy path of the same read)",
        True,
    )
    row["reference"] = True
    rows.append(row)
    if has_deflate:
        t_def = timings["deflate"]
        row = _row(
            f"to_dask().compute(), {size}, vs libdeflate floor",
            t_ours,
            f"imagecodecs.deflate_decode of every tile on {cores} threads",
            t_def,
            t_ours / t_def,
            "none (tifffile and ometiff decode with libdeflate)",
            True,
            "ratio here is ours / floor",
        )
        row["reference"] = True
        rows.append(row)
    return rows


def window_rows(quick: bool) -> list[dict[str, object]]:
    import ometiff

    path = _pyramid_file(quick)
    edge = 10_000 if quick else 40_000
    t0 = time.perf_counter()
    f = ometiff.open(path)
    t_open = time.perf_counter() - t0
    rows = []
    with f:
        rng = np.random.default_rng(5)
        spots = [(int(y), int(x)) for y, x in rng.integers(0, edge - 512, (5, 2))]
        spot = iter(spots * 4)

        def dask_window() -> None:
            y, x = next(spot)
            f.to_dask()[0, 0, 0, y : y + 512, x : x + 512].compute()

        def read_window() -> None:
            y, x = next(spot)
            f.read(y=slice(y, y + 512), x=slice(x, x + 512))

        t_dask = _best(dask_window, 5)
        t_read = _best(read_window, 5)
        levels = len(f.series[0].levels)
    label = f"512² window of a {edge:,}² tiled pyramid ({levels} levels)"
    rows.append(
        _row(
            f"{label} via to_dask()",
            t_dask,
            "50 ms",
            0.05,
            0.05 / t_dask,
            "ours < 50 ms",
            t_dask < 0.05,
            f"open took {t_open * 1000:.0f} ms",
        )
    )
    rows.append(
        _row(
            f"{label} via File.read",
            t_read,
            "50 ms",
            0.05,
            0.05 / t_read,
            "ours < 50 ms",
            t_read < 0.05,
        )
    )
    return rows


def open_rows(quick: bool) -> list[dict[str, object]]:
    t0 = time.perf_counter()
    import ometiff
    import ometiff.dataset
    import ometiff.readers.ome_tiff

    t_import = time.perf_counter() - t0
    path = bioformats_ome_tiff("info", 30_000)

    def open_close() -> None:
        with ometiff.open(path) as f:
            assert f.series[0].sizes["T"] * f.series[0].sizes["C"] == 30_000

    t_open = _best(open_close, 3 if quick else 5)
    return [
        _row(
            "open a 30,000-plane OME-TIFF (Bio-Formats-written)",
            t_open,
            "0.5 s",
            0.5,
            0.5 / t_open,
            "ours < 0.5 s",
            t_open < 0.5,
            f"imports, not counted: {t_import:.2f} s",
        )
    ]


def run(quick: bool = False) -> list[dict[str, object]]:
    return [*open_rows(quick), *window_rows(quick), *whole_file_rows(quick)]


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv):
        print(r)
