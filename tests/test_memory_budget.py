"""The memory budget (``max_memory=``, ``ometiff.memory_budget``) is the caller's alone.

A budget set in one thread holds for that call and the worker threads it starts
(ometiff's pools run their tasks in the submitting thread's context), never for
other threads of the same program: a library is a guest in its user's process.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import ometiff
from ometiff import MemoryBudgetError
from ometiff.readers.decode import ContextPool, current_max_memory, default_max_memory

RNG = np.random.default_rng(41)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two 256² uint16 planes (128 KiB each), tiled."""
    data = RNG.integers(0, 4000, (1, 2, 1, 256, 256), dtype=np.uint16)
    path = tmp_path_factory.mktemp("budget") / "src.ome.tif"
    return ometiff.write(path, data, axes="TCZYX", compression="zlib", tile=(128, 128))


@contextlib.contextmanager
def _held_by_another_thread(budget: str) -> Iterator[dict[str, int]]:
    """Another thread sits inside ``memory_budget(budget)`` for the whole block; the
    yielded dict gets the budget that thread saw (key "holder")."""
    inside, done = threading.Event(), threading.Event()
    seen: dict[str, int] = {}

    def holder() -> None:
        with ometiff.memory_budget(budget):
            seen["holder"] = current_max_memory()
            inside.set()
            done.wait(30)

    t = threading.Thread(target=holder)
    t.start()
    try:
        assert inside.wait(10)
        yield seen
    finally:
        done.set()
        t.join()


def test_budget_of_one_thread_is_not_seen_by_another() -> None:
    with _held_by_another_thread("64K") as seen:
        seen["other"] = current_max_memory()
    assert seen == {"holder": 64 << 10, "other": default_max_memory()}


def test_pool_tasks_see_the_budget_of_the_call_that_submitted_them() -> None:
    with ContextPool(2) as pool:
        with ometiff.memory_budget("3M"):
            inner = pool.submit(current_max_memory).result()
            mapped = list(pool.map(lambda _: current_max_memory(), range(4)))
        after = pool.submit(current_max_memory).result()
    assert inner == 3 << 20
    assert mapped == [3 << 20] * 4
    assert after == default_max_memory()


def test_conversion_in_another_thread_keeps_its_own_budget(source: Path, tmp_path: Path) -> None:
    """A tiny budget held by one thread does not make another thread's convert fail."""
    out = tmp_path / "ok.ome.tif"
    with _held_by_another_thread("1K"):
        ometiff.convert(source, out)
    with ometiff.open(source) as a, ometiff.open(out) as b:
        np.testing.assert_array_equal(a.asarray(), b.asarray())


def test_conversion_worker_threads_read_under_the_callers_budget(
    source: Path, tmp_path: Path
) -> None:
    """Planes are read on the writer's pool: the caller's budget must reach it."""
    with pytest.raises(MemoryBudgetError):
        ometiff.convert(source, tmp_path / "small.ome.tif", max_memory="64K")
    assert not list(tmp_path.iterdir())  # nothing left behind
