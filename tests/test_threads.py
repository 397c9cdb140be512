"""``threads=1`` means one thread.

A core facility's cluster job given one core, or a Dask worker of one thread, must not
run a read-ahead, an encoder, a tile decoder and a checker beside its one thread: with
``threads=1`` the write and the conversion (reading, decoding tiles, building the
pyramid, compressing, verifying) run in the calling thread, and the output is the same.
A thread count that cannot work is refused before anything is written.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import ometiff
from ometiff.cli.main import app
from ometiff.errors import InvalidArgumentError
from ometiff.readers import decode
from ometiff.readers.decode import InlinePool, memory_budget, thread_pool


class Spy:
    """Work handed to ometiff's thread pools, and threads started, while it is on."""

    def __init__(self) -> None:
        self.submitted: list[str] = []
        self.started: list[str] = []


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spy]:
    s = Spy()
    submit = decode.ContextPool.submit
    start = threading.Thread.start

    def counting_submit(self: Any, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        s.submitted.append(getattr(self, "_thread_name_prefix", "?"))
        return submit(self, fn, *args, **kwargs)

    def counting_start(self: threading.Thread) -> None:
        s.started.append(self.name)
        start(self)

    monkeypatch.setattr(decode.ContextPool, "submit", counting_submit)
    monkeypatch.setattr(threading.Thread, "start", counting_start)
    yield s


def _data() -> np.ndarray:
    rng = np.random.default_rng(7)
    # T=1, C=2, Z=3 planes of 600 x 700: several 256-pixel tiles, two pyramid levels
    return rng.integers(0, 4000, size=(1, 2, 3, 600, 700), dtype=np.uint16)


@pytest.fixture
def tiled(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A tiled, zlib-compressed OME-TIFF (written with several threads)."""
    data = _data()
    path = tmp_path / "src.ome.tif"
    ometiff.write(path, data, axes="TCZYX", tile=256, compression="zlib", threads=2)
    return path, data


def test_write_with_one_thread_stays_in_the_calling_thread(tmp_path: Path, spy: Spy) -> None:
    data = _data()
    out = tmp_path / "one.ome.tif"
    ometiff.write(
        out, data, axes="TCZYX", tile=256, compression="zlib", pyramid_levels=2, threads=1
    )
    assert spy.submitted == [] and spy.started == []
    with ometiff.open(out) as f:
        np.testing.assert_array_equal(f.asarray(), data)


def test_convert_with_one_thread_stays_in_the_calling_thread(
    tiled: tuple[Path, np.ndarray], tmp_path: Path, spy: Spy
) -> None:
    src, data = tiled
    out = tmp_path / "one.ome.tif"
    # tiles decoded, pyramid built, tiles encoded, every IFD verified: one thread
    ometiff.convert(src, out, tile=256, pyramid=2, threads=1)
    assert spy.submitted == [] and spy.started == []
    with ometiff.open(out) as f:
        np.testing.assert_array_equal(f.asarray(), data)
        assert len(f.series[0].levels) == 3


def test_convert_to_zarr_with_one_thread_stays_in_the_calling_thread(
    tiled: tuple[Path, np.ndarray], tmp_path: Path, spy: Spy
) -> None:
    src, data = tiled
    out = tmp_path / "one.ome.zarr"
    ometiff.convert(src, out, threads=1)
    assert spy.submitted == [] and spy.started == []
    import zarr

    np.testing.assert_array_equal(zarr.open_group(out / "0", mode="r")["0"][:], data)


def test_two_threads_use_the_pools(
    tiled: tuple[Path, np.ndarray], tmp_path: Path, spy: Spy
) -> None:
    """The spy sees the pools when they are used (so the tests above can fail)."""
    src, data = tiled
    ometiff.convert(src, tmp_path / "two.ome.tif", tile=256, pyramid=2, threads=2)
    assert {"ometiff-read", "ometiff-encode"} <= set(spy.submitted)
    with ometiff.open(tmp_path / "two.ome.tif") as f:
        np.testing.assert_array_equal(f.asarray(), data)


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "2"])
def test_bad_thread_counts_are_refused_before_writing(
    tiled: tuple[Path, np.ndarray], tmp_path: Path, threads: Any
) -> None:
    src, data = tiled
    for call in (
        lambda out: ometiff.write(out, data, axes="TCZYX", threads=threads),
        lambda out: ometiff.convert(src, out, threads=threads),
    ):
        for name in ("bad.ome.tif", "bad.ome.zarr"):
            out = tmp_path / name
            with pytest.raises(InvalidArgumentError, match=r"threads=.*whole number of 1 or more"):
                call(out)
            assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.ome.tif"]


def test_cli_threads(tiled: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    src, data = tiled
    runner = CliRunner()
    out = tmp_path / "cli.ome.tif"
    bad = runner.invoke(app, ["convert", str(src), str(out), "--threads", "0"])
    assert bad.exit_code == 2 and "--threads" in bad.output and "Traceback" not in bad.output
    assert not out.exists()
    ok = runner.invoke(app, ["convert", str(src), str(out), "--threads", "1", "--quiet"])
    assert ok.exit_code == 0, ok.output
    with ometiff.open(out) as f:
        np.testing.assert_array_equal(f.asarray(), data)


def test_inline_pool_runs_at_once_in_the_context_of_the_caller() -> None:
    calls: list[tuple[int, int]] = []

    def work(x: int) -> int:
        calls.append((threading.get_ident(), decode.current_max_memory()))
        if x < 0:
            raise ValueError("negative")
        return x * 2

    with memory_budget("1M"), thread_pool(1, "ometiff-test") as pool:
        assert isinstance(pool, InlinePool)
        done = pool.submit(work, 21)
        assert calls == [(threading.get_ident(), 1 << 20)]  # ran before submit returned
        assert done.done() and done.result() == 42
        failed = pool.submit(work, -1)
        assert isinstance(failed.exception(), ValueError)
    with thread_pool(2, "ometiff-test") as pool:
        assert isinstance(pool, decode.ContextPool)
        assert pool.submit(work, 1).result() == 2
    assert calls[-1][0] != threading.get_ident()


def test_an_interrupt_is_not_kept_in_a_future() -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        InlinePool().submit(interrupted)


@pytest.mark.parametrize("tile", [256, None])
def test_one_thread_reads_each_plane_when_the_writer_needs_it(tmp_path: Path, tile: Any) -> None:
    """With one thread no plane is read ahead: the writer holds one source plane at a
    time (plane k+1 is read after plane k is written)."""
    from ometiff.readers.source import SeriesSource
    from ometiff.writer.core import write_sources

    events: list[str] = []
    data = _data()[0, :, 0]  # C=2 planes of 600 x 700

    def plane(t: int, c: int, z: int) -> np.ndarray:
        events.append(f"read {c}")
        return data[c]

    src = SeriesSource((1, 2, 1, 600, 700), 1, np.dtype("uint16"), plane, name="s")
    out = tmp_path / "one.ome.tif"
    write_sources(
        out,
        [src],
        compression="zlib",
        tile=tile,
        pyramid_levels=0,
        threads=1,
        on_plane=lambda done, total: events.append(f"wrote {done - 1}"),
    )
    assert events == ["read 0", "wrote 0", "read 1", "wrote 1"]
    with ometiff.open(out) as f:
        np.testing.assert_array_equal(f.asarray()[0, :, 0], data)
