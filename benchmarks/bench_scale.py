"""Many files on Dask distributed (``ometiff convert SRC... DIR --workers N``).

Rows:

- 40 small corpus files (150 kB to 5 MB: OME-TIFF, TIFF, ImageJ, CZI, ND2, LIF, DV,
  LSM) converted and verified with ``ometiff.convert(..., client=)`` on a LocalCluster
  of 2 worker processes, against the same batch on 1 worker (the anchor), each
  worker one thread; the clusters are started, their imports warmed and one untimed
  batch run before the clock starts (best of 3). Target: 2 workers >= 1.7x faster. Peak RSS per worker (< 1 GB).
- Scheduler overhead: trivial tasks per second on a LocalCluster of 2 workers, raw
  (``client.map``) and through :func:`ometiff.batch.run` (a journal line and an
  outcome per file), the numbers docs/scale-out.md uses to predict 100,000 files.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from _common import ROOT, WORK

sys.path.insert(0, str(ROOT / "src"))

CORPUS = Path(os.environ.get("OMETIFF_TESTDATA", ROOT.parent / "shared" / "testdata"))
FILES = 40
TARGET_SPEEDUP = 1.7
TARGET_RSS_MB = 1024
SUFFIXES = (".tif", ".tiff", ".czi", ".nd2", ".lif", ".dv", ".lsm")
WARM = (
    "ome_types",
    "ometiff.conversion",
    "ometiff.readers.ome_tiff",
    "ometiff.readers.tiff",
    "ometiff.readers.czi",
    "ometiff.readers.nd2",
    "ometiff.readers.lif",
    "ometiff.readers.dv",
    "ometiff.writer.core",
    "ometiff.writer.verify",
)


def corpus_inputs(count: int = FILES) -> list[Path]:
    """``count`` corpus files of 150 kB to 5 MB, smallest first (NDTiff parts left out)."""
    found = [
        p
        for p in CORPUS.rglob("*")
        if p.is_file()
        and p.name.lower().endswith(SUFFIXES)
        and "ndtiff" not in p.parts
        and 150_000 <= p.stat().st_size <= 5_000_000
    ]
    found.sort(key=lambda p: (p.stat().st_size, str(p)))
    # several inputs must not share an output name
    seen: set[str] = set()
    out = []
    for p in found:
        stem = p.name.split(".")[0]
        if stem not in seen:
            seen.add(stem)
            out.append(p)
    return out[:count]


def _trivial(source: str, output: str, overwrite: bool, options: dict) -> dict:
    """A task that converts nothing: what ometiff.batch costs per file."""
    return {"status": "converted", "size": 0, "mtime_ns": 0, "outputs": [], "planes": {}}


def _batch(files: list[Path], workers: int, out: Path, repeat: int) -> tuple[float, int, int]:
    """Best seconds of ``repeat`` timed batches (after one untimed batch that warms the
    workers' imports and the page cache), failed inputs, largest worker peak RSS (MB)."""
    import ometiff
    from ometiff.batch import open_client

    shutil.rmtree(out, ignore_errors=True)
    with open_client(workers=workers, dashboard=":0") as client:
        for name in WARM:
            with contextlib.suppress(ImportError):
                client.run(importlib.import_module, name)
        ometiff.convert(files, out, client=client, journal=False, overwrite=True)
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            result = ometiff.convert(files, out, client=client, journal=False, overwrite=True)
            best = min(best, time.perf_counter() - t0)
        usage = client.run(resource.getrusage, resource.RUSAGE_SELF)
    assert result.batch is not None
    peak = max(u.ru_maxrss for u in usage.values()) // 1024
    return best, result.batch.count("failed"), peak


def _overhead(tasks: int) -> tuple[float, float]:
    """Trivial tasks per second: raw Dask, and through ometiff.batch.run."""
    import cloudpickle

    from ometiff.batch import open_client, run

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    folder = WORK / "scale_overhead"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with open_client(workers=2, dashboard=":0") as client:
        client.gather(client.map(abs, range(100), pure=False))  # warm
        t0 = time.perf_counter()
        client.gather(client.map(abs, range(tasks), pure=False))
        raw = tasks / (time.perf_counter() - t0)
        jobs = [(folder / f"in{i}.tif", folder / f"in{i}.ome.tif") for i in range(tasks)]
        for src, _out in jobs:
            src.touch()
        t0 = time.perf_counter()
        report = run(client, jobs, _trivial, {}, folder=folder, journal=True)
        ours = tasks / (time.perf_counter() - t0)
        assert report.count("converted") == tasks, report.summary()
    return raw, ours


def run(quick: bool) -> list[dict[str, Any]]:
    try:
        import distributed  # noqa: F401
    except ImportError:
        return [
            {
                "name": "convert 40 files on 2 workers",
                "ours_s": 0,
                "anchor": "1 worker",
                "anchor_s": 0,
                "ratio": 0,
                "target": f">= {TARGET_SPEEDUP}x",
                "ok": False,
                "notes": "distributed missing: pip install 'ometiff[distributed]'",
            }
        ]
    rows: list[dict[str, Any]] = []
    files = corpus_inputs(12 if quick else FILES)
    if len(files) >= 8:
        repeat = 1 if quick else 3
        one_s, failed1, rss1 = _batch(files, 1, WORK / "scale_1", repeat)
        two_s, failed2, rss2 = _batch(files, 2, WORK / "scale_2", repeat)
        ratio = one_s / two_s
        size = sum(p.stat().st_size for p in files) / 1e6
        rows.append(
            {
                "name": f"convert {len(files)} corpus files ({size:.0f} MB) on 2 workers, verified",
                "ours_s": round(two_s, 2),
                "anchor": "1 worker",
                "anchor_s": round(one_s, 2),
                "ratio": round(ratio, 2),
                "target": f">= {TARGET_SPEEDUP}x, peak RSS per worker < {TARGET_RSS_MB} MB",
                "ok": ratio >= TARGET_SPEEDUP and max(rss1, rss2) < TARGET_RSS_MB,
                "peak_rss_mb": max(rss1, rss2),
                "notes": f"{failed2} of {len(files)} inputs failed (on 1 worker: {failed1}); "
                f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
            }
        )
    tasks = 500 if quick else 2000
    raw, ours = _overhead(tasks)
    rows.append(
        {
            "name": f"scheduler overhead: {tasks} trivial tasks on 2 workers (tasks/s)",
            "ours_s": round(1 / ours, 5),
            "anchor": "raw client.map",
            "anchor_s": round(1 / raw, 5),
            "ratio": round(ours / raw, 2),
            "target": "informative",
            "ok": True,
            "reference": True,
            "notes": f"{raw:.0f} raw tasks/s, {ours:.0f} files/s through ometiff.batch.run "
            f"(a journal line each): 100,000 files cost "
            f"{100_000 / ours / 60:.1f} min of orchestration",
        }
    )
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
