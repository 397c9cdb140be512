"""``File.to_dask()`` computed whole: chunks read straight into one output array.

``ometiff.dataset.daskarray``: when every chunk of a level is asked for, each task
writes its chunk into its place in one array and that array is the result (no
second copy of the level, as dask's concatenation makes). Every other use of the
array (slices, reductions, several collections at once, other processes) stays
dask's own and gives the same pixels.
"""

from __future__ import annotations

import pickle
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("dask")
import dask
import dask.array as da

import ometiff
from ometiff import InvalidArgumentError
from ometiff.dataset import daskarray

RNG = np.random.default_rng(31)


@pytest.fixture(scope="module")
def tiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """A tiled OME-TIFF (TCZYX 1x2x3x300x420, 64² tiles): many chunks per plane."""
    data = RNG.integers(0, 60000, (1, 2, 3, 300, 420), dtype=np.uint16)
    path = tmp_path_factory.mktemp("dask") / "tiled.ome.tif"
    ometiff.write(path, data, axes="TCZYX", compression="zlib", tile=(64, 64))
    return path, data


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of one 64² tile, so a plane is many chunks."""
    monkeypatch.setattr(ometiff.dataset.file, "CHUNK_BYTES", 64 * 64 * 2)


def _no_concatenation(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(results: Any) -> Any:
        raise AssertionError("dask concatenated the chunks")

    monkeypatch.setattr(daskarray, "dask_finalize", refuse)


@pytest.mark.parametrize("scheduler", ["threads", "sync"])
def test_whole_compute_reads_into_one_array(
    tiled: tuple[Path, np.ndarray],
    small_chunks: None,
    monkeypatch: pytest.MonkeyPatch,
    scheduler: str,
) -> None:
    path, data = tiled
    _no_concatenation(monkeypatch)
    with ometiff.open(path) as f:
        d = f.to_dask()
        assert d.npartitions > 6  # several chunks per plane
        got = d.compute(scheduler=scheduler)
        assert got.base is None and got.flags.owndata and got.flags.writeable
        np.testing.assert_array_equal(got, data)
        np.testing.assert_array_equal(np.asarray(d), data)
        (again,) = dask.compute(d, scheduler=scheduler)
        np.testing.assert_array_equal(again, data)
        assert not np.shares_memory(again, got)  # every compute gets its own array


def test_rgb_strips_and_levels_compute_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_concatenation(monkeypatch)
    rgb = RNG.integers(0, 255, (1, 1, 2, 130, 170, 3), dtype=np.uint8)
    p_rgb = ometiff.write(tmp_path / "rgb.ome.tif", rgb, axes="TCZYXS", tile=(64, 64))
    strips = RNG.integers(0, 255, (2, 1, 3, 50, 70), dtype=np.uint8)
    p_strips = ometiff.write(tmp_path / "strips.ome.tif", strips, axes="TCZYX")
    pyramid = RNG.integers(0, 4000, (1, 1, 1, 512, 640), dtype=np.uint16)
    p_pyr = ometiff.write(
        tmp_path / "pyr.ome.tif", pyramid, axes="TCZYX", tile=(128, 128), pyramid_levels=3
    )
    with ometiff.open(p_rgb) as f:
        np.testing.assert_array_equal(f.to_dask().compute(), rgb)
    with ometiff.open(p_strips) as f:
        np.testing.assert_array_equal(f.to_dask().compute(), strips)
    with ometiff.open(p_pyr) as f:
        for level in range(3):
            np.testing.assert_array_equal(f.to_dask(level=level).compute(), f.asarray(level=level))


def test_derived_arrays_are_plain_dask_and_stream(
    tiled: tuple[Path, np.ndarray], small_chunks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slices and reductions never allocate the level's output; mixed computes give
    the same pixels."""
    path, data = tiled
    blocks: list[tuple[slice, ...]] = []
    block = daskarray.Canvas.block

    def counting(self: daskarray.Canvas, key: tuple[slice, ...]) -> Any:
        got = block(self, key)
        if got is not None:
            blocks.append(key)
        return got

    monkeypatch.setattr(daskarray.Canvas, "block", counting)
    with ometiff.open(path) as f:
        d = f.to_dask()
        part = d[0, 1, 2, 10:200, 30:400]
        assert type(part) is da.Array
        np.testing.assert_array_equal(part.compute(), data[0, 1, 2, 10:200, 30:400])
        assert int(d.sum(dtype=np.int64).compute()) == int(data.sum(dtype=np.int64))
        assert blocks == []  # neither used a canvas
        d.compute()
        # whole rows of chunks read at once, together exactly the level
        assert 0 < len(blocks) < d.npartitions
        sizes = [
            np.prod([len(range(*k.indices(n))) for k, n in zip(b, d.shape, strict=True)])
            for b in blocks
        ]
        assert sum(sizes) == d.size
        # the whole array next to a derived one: the same pixels either way
        both, plus = dask.compute(d, d[0, 0] + 1)
        np.testing.assert_array_equal(both, data)
        np.testing.assert_array_equal(plus, data[0, 0] + 1)


def test_persist_pickle_and_processes(tiled: tuple[Path, np.ndarray], small_chunks: None) -> None:
    path, data = tiled
    with ometiff.open(path) as f:
        d = f.to_dask()
        kept = d.persist()
        np.testing.assert_array_equal(kept.compute(), data)
        copy = pickle.loads(pickle.dumps(d))
        np.testing.assert_array_equal(copy.compute(), data)
        # another process: the canvas pickles empty, chunks come back as arrays
        # of their own and dask concatenates them
        np.testing.assert_array_equal(d.compute(scheduler="processes", num_workers=2), data)


def test_canvas_pickles_empty() -> None:
    canvas = daskarray.Canvas((4, 5), np.uint16)
    assert canvas.block((slice(0, 2), slice(0, 5))) is not None
    remote = pickle.loads(pickle.dumps(canvas))
    assert remote.block((slice(0, 2), slice(0, 5))) is None


def test_concurrent_computes_get_separate_arrays(
    tiled: tuple[Path, np.ndarray], small_chunks: None
) -> None:
    path, data = tiled
    results: list[np.ndarray] = []
    with ometiff.open(path) as f:
        d = f.to_dask()

        def run() -> None:
            results.append(d.compute())

        threads = [threading.Thread(target=run) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(results) == 3
    for r in results:
        np.testing.assert_array_equal(r, data)
    assert not np.shares_memory(results[0], results[1])
    assert not np.shares_memory(results[1], results[2])


def test_read_block_into_a_view(tiled: tuple[Path, np.ndarray]) -> None:
    path, data = tiled
    with ometiff.open(path) as f:
        out = np.zeros((1, 2, 3, 300, 420), np.uint16)
        key = (slice(0, 1), slice(1, 2), slice(0, 3), slice(5, 290), slice(64, 420))
        view = out[key]
        assert f.read_block(0, 0, key, out=view) is view
        np.testing.assert_array_equal(out[key], data[key])
        assert not out[0, 0].any()  # nothing outside the block was written
        with pytest.raises(InvalidArgumentError, match="cannot hold"):
            f.read_block(0, 0, key, out=np.zeros((1, 1, 3, 285, 355), np.uint16))
        with pytest.raises(InvalidArgumentError, match="cannot hold"):
            f.read_block(0, 0, key, out=view.astype(np.int32))


def test_distributed_client_computes_the_same(
    tiled: tuple[Path, np.ndarray], small_chunks: None
) -> None:
    distributed = pytest.importorskip("distributed")
    path, data = tiled
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
        ometiff.open(path) as f,
    ):
        d = f.to_dask()
        np.testing.assert_array_equal(d.compute(), data)
        np.testing.assert_array_equal(client.compute(d).result(), data)
        np.testing.assert_array_equal(d[0, 1, 2, 50:250].compute(), data[0, 1, 2, 50:250])
