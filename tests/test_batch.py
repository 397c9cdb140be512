"""Many files on Dask distributed (ometiff.batch): a LocalCluster of 2 worker processes.

A corrupt input among good ones fails alone; the journal records the verified planes'
digests, a rerun skips what is done and redoes a changed source; a worker killed in
the middle of a task loses nothing; transient errors are retried, bad input never.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

import ometiff
from ometiff.batch import JOURNAL_NAME, Journal, options_key, run
from ometiff.cli.main import main
from ometiff.conversion import convert_task
from ometiff.writer.verify import plane_digest

distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")
# the task wrappers below run on the workers: ship them by value (this module is not
# importable there)
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def client():
    from ometiff.batch import open_client

    with open_client(workers=2, retries=2, dashboard=":0") as c:
        yield c


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 60000, (3, 40, 50), dtype=np.uint16)


def _inputs(folder: Path, n: int = 3) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"img{i}.ome.tif"
        ometiff.write(path, _image(i), axes="ZYX")
        paths.append(path)
    return paths


def _corrupt(folder: Path) -> Path:
    bad = folder / "broken.tif"
    bad.write_bytes(b"II*\x00" + b"\xff" * 60)
    return bad


def _lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / JOURNAL_NAME).read_text().splitlines()]


def _journal(out: Path) -> list[dict]:
    """The journal's lines of converted files (not its claims and releases)."""
    return [rec for rec in _lines(out) if "source" in rec]


def _no_temporaries(out: Path) -> None:
    assert not list(out.rglob(".*.ometiff-tmp-*")), "a temporary file was left behind"


def _submissions(client, monkeypatch) -> list[list[list[str]]]:
    """What ``run`` submits, as it submits it: per ``client.map`` call, the file names
    of each task's bundle."""
    submitted: list[list[list[str]]] = []
    real_map = client.map

    def spy(func, sources, *args, **kwargs):
        submitted.append([[Path(s).name for s in bundle] for bundle in sources])
        return real_map(func, sources, *args, **kwargs)

    monkeypatch.setattr(client, "map", spy)
    return submitted


def test_corrupt_input_fails_alone_and_journal_holds_plane_digests(client, tmp_path):
    good = _inputs(tmp_path / "in")
    bad = _corrupt(tmp_path / "in")
    out = tmp_path / "out"
    result = ometiff.convert([good[0], bad, *good[1:]], out, client=client)
    report = result.batch
    assert report is not None and not report.ok
    status = {Path(o.source).name: o.status for o in report.outcomes}
    assert status == {
        "img0.ome.tif": "converted",
        "broken.tif": "failed",
        "img1.ome.tif": "converted",
        "img2.ome.tif": "converted",
    }
    failed = next(o for o in report.outcomes if o.status == "failed")
    assert failed.attempts == 1  # bad input: never retried
    assert "\n" not in failed.reason and failed.reason
    for i, src in enumerate(good):
        with ometiff.open(out / src.name) as f:
            np.testing.assert_array_equal(f.asarray().squeeze(), _image(i))
    _no_temporaries(out)
    lines = _journal(out)
    assert sorted(Path(rec["source"]).name for rec in lines) == [p.name for p in good]
    for rec in lines:
        i = int(Path(rec["source"]).name[3])
        st = Path(rec["source"]).stat()
        assert (rec["size"], rec["mtime_ns"]) == (st.st_size, st.st_mtime_ns)
        # one digest per plane, computed here from the pixels given to write
        want = {f"0,0,0,{z}": plane_digest(_image(i)[z]).hex() for z in range(3)}
        assert rec["planes"] == want
        assert rec["outputs"] == [
            {"path": f"img{i}.ome.tif", "size": (out / f"img{i}.ome.tif").stat().st_size}
        ]


def test_rerun_skips_verified_and_redoes_changed_source(client, tmp_path):
    srcs = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    first = ometiff.convert(srcs, out, client=client).batch
    assert first is not None and first.count("converted") == 3
    # a changed source is redone (its output, written by the journal's run, replaced)
    changed = np.full((3, 40, 50), 7, np.uint16)
    ometiff.write(srcs[1], changed, axes="ZYX", overwrite=True)
    # an output removed behind the journal's back is redone too
    (out / srcs[2].name).unlink()
    again = ometiff.convert(srcs, out, client=client).batch
    assert again is not None and again.ok
    assert [o.status for o in again.outcomes] == ["skipped", "converted", "converted"]
    with ometiff.open(out / srcs[1].name) as f:
        np.testing.assert_array_equal(f.asarray().squeeze(), changed)
    assert len(_journal(out)) == 5  # one line per conversion, the newest wins
    # other options are another conversion: redone
    third = ometiff.convert(srcs, out, client=client, compression="zstd").batch
    assert third is not None and third.count("converted") == 3


def test_output_not_in_the_journal_is_not_replaced(client, tmp_path):
    srcs = _inputs(tmp_path / "in", 2)
    out = tmp_path / "out"
    out.mkdir()
    (out / srcs[0].name).write_bytes(b"someone else's file")
    report = ometiff.convert(srcs, out, client=client).batch
    assert report is not None
    assert [o.status for o in report.outcomes] == ["failed", "converted"]
    assert "overwrite" in report.outcomes[0].reason
    assert (out / srcs[0].name).read_bytes() == b"someone else's file"


def _kill_once(source: str, output: str, overwrite: bool, options: dict) -> dict:
    """The conversion task, but the first worker to convert img1 dies while writing it:
    a thread kills the process as soon as the output's temporary file appears."""
    import threading
    import time

    out = Path(output)
    marker = out.parent / "kill-marker"
    if out.name == "img1.ome.tif":
        try:
            marker.unlink()
        except FileNotFoundError:
            pass
        else:

            def kill() -> None:
                end = time.monotonic() + 20
                while time.monotonic() < end:
                    if list(out.parent.glob(f".{out.name}.ometiff-tmp-*")):
                        (out.parent / "killed-while-writing").touch()
                        os.kill(os.getpid(), signal.SIGKILL)
                    time.sleep(0.0005)

            threading.Thread(target=kill, daemon=True).start()
    return convert_task(source, output, overwrite, options)


def test_worker_killed_mid_run_loses_nothing(client, tmp_path):
    srcs = _inputs(tmp_path / "in", 4)
    big = np.random.default_rng(9).integers(0, 60000, (40, 256, 256), dtype=np.uint16)
    ometiff.write(srcs[1], big, axes="ZYX", overwrite=True)  # long enough to be caught
    out = tmp_path / "out"
    out.mkdir()
    (out / "kill-marker").touch()
    options = {"compression": "zlib", "pyramid": 0, "verify": True}
    jobs = [(s, out / s.name) for s in srcs]
    report = run(client, jobs, _kill_once, options, folder=out, retries=2)
    assert (out / "killed-while-writing").exists()  # the worker died with a half file
    assert report.ok and report.count("converted") == 4, report.summary()
    for i, src in enumerate(srcs):
        with ometiff.open(out / src.name) as f:
            np.testing.assert_array_equal(f.asarray().squeeze(), big if i == 1 else _image(i))
    _no_temporaries(out)  # the run removed the killed attempt's temporary file
    # the journal resumes: nothing left to do
    again = run(client, jobs, _kill_once, options, folder=out, retries=2)
    assert again.count("skipped") == 4


def _flaky(source: str, output: str, overwrite: bool, options: dict) -> dict:
    """Raises a transient error the first time it sees each input."""
    seen = Path(output).with_name(Path(output).name + ".seen")
    if not seen.exists():
        seen.touch()
        raise OSError("network file system hiccup")
    return convert_task(source, output, overwrite, options)


def test_transient_failures_are_retried_bad_input_never(client, tmp_path):
    srcs = _inputs(tmp_path / "in", 2)
    bad = _corrupt(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    options = {"compression": "zlib", "pyramid": 0, "verify": True}
    jobs = [(s, out / s.name) for s in [*srcs, bad]]
    report = run(client, jobs, _flaky, options, folder=out, retries=1)
    assert [(o.status, o.attempts) for o in report.outcomes] == [
        ("converted", 2),
        ("converted", 2),
        ("failed", 2),
    ]
    # no retries left: the transient error is the reason, in one line
    for p in out.glob("*.seen"):
        p.unlink()
    report = run(
        client, jobs[:1], _flaky, options, folder=tmp_path / "in", retries=0, journal=False
    )
    assert report.outcomes[0].status == "failed"
    assert report.outcomes[0].reason == "failed 1 times; last: OSError: network file system hiccup"


def test_journal_ignores_a_torn_last_line(tmp_path):
    src = tmp_path / "a.tif"
    src.write_bytes(b"x")
    out = tmp_path / "a.ome.tif"
    out.write_bytes(b"yy")
    st = src.stat()
    good = {
        "v": 1,
        "source": str(src),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "options": options_key({}),
        "outputs": [{"path": "a.ome.tif", "size": 2}],
    }
    (tmp_path / JOURNAL_NAME).write_text(json.dumps(good) + "\n" + '{"v": 1, "sour')
    journal = Journal(tmp_path)
    assert journal.done(src, (st.st_size, st.st_mtime_ns), options_key({})) is not None
    assert journal.done(src, (st.st_size + 1, st.st_mtime_ns), options_key({})) is None
    out.write_bytes(b"yyy")  # an output that is not the one recorded
    assert journal.done(src, (st.st_size, st.st_mtime_ns), options_key({})) is None


def test_cli_workers_recursive_report(tmp_path, capsys):
    srcs = _inputs(tmp_path / "in" / "sub", 2)
    _corrupt(tmp_path / "in")
    out, report = tmp_path / "out", tmp_path / "report.json"
    code = main(
        [
            "convert",
            str(tmp_path / "in"),
            str(out),
            "--recursive",
            "--workers",
            "2",
            "--report",
            str(report),
        ]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert "broken.tif" in captured.out and "2 converted and verified" in captured.out
    assert "local cluster of 2 worker processes" in captured.err
    data = json.loads(report.read_text())
    assert (data["converted"], data["failed"], data["skipped"]) == (2, 1, 0)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.ome.tif")) == [
        f"sub/{s.name}" for s in srcs
    ]
    # everything done: the rerun converts nothing and exits 0 without the bad file
    (tmp_path / "in" / "broken.tif").unlink()
    assert main(["convert", str(tmp_path / "in"), str(out), "-r", "--workers", "1", "-q"]) == 0


def test_bad_options_are_refused_before_any_work(client, tmp_path):
    srcs = _inputs(tmp_path / "in", 2)
    target = tmp_path / "one.ome.tif"
    with pytest.raises(ometiff.OmeTiffError, match="output folder"):
        ometiff.convert(srcs, target, client=client)
    with pytest.raises(ometiff.OmeTiffError, match="no such file"):
        ometiff.convert([tmp_path / "missing.tif"], tmp_path / "o", client=client)
    with pytest.raises(ometiff.OmeTiffError, match="client"):
        ometiff.convert(srcs, tmp_path / "o", recursive=True)
    assert not target.exists()
    out = tmp_path / "bundled"
    out.mkdir()
    jobs = [(s, out / s.name) for s in srcs]
    with pytest.raises(ometiff.InvalidArgumentError, match="bundle_files=0: give 1 or more"):
        run(client, jobs, convert_task, {}, folder=out, bundle_files=0)
    assert list(out.iterdir()) == []  # no journal, no output


def test_cli_on_a_running_scheduler_with_progress(client, tmp_path, capsys):
    srcs = _inputs(tmp_path / "in", 3)
    out = tmp_path / "out"
    address = client.scheduler.address
    assert main(["convert", *map(str, srcs), str(out), "--scheduler", address]) == 0
    captured = capsys.readouterr()
    assert f"converting on {address}" in captured.err
    assert "3 converted and verified, 0 skipped" in captured.out
    seen: list[tuple[int, int]] = []
    ometiff.convert(srcs, out, client=client, on_file=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 3), (2, 3), (3, 3)]  # all skipped now, still reported


@pytest.mark.parametrize(
    "args", [["--workers", "0"], ["--workers", "2", "--scheduler", "x"], ["--retries", "-1"]]
)
def test_cli_bad_batch_options(tmp_path, capsys, args):
    srcs = _inputs(tmp_path / "in", 2)
    out = tmp_path / "out"
    assert main(["convert", *map(str, srcs), str(out), *args]) == 2
    assert capsys.readouterr().err.startswith("ometiff: error: ")
    assert not out.exists()


def test_largest_inputs_are_submitted_first(client, tmp_path, monkeypatch):
    folder = tmp_path / "in"
    folder.mkdir()
    sizes = {"a": (2, 8, 8), "b": (4, 64, 64), "c": (3, 16, 16)}
    srcs = []
    for name, shape in sizes.items():
        srcs.append(folder / f"{name}.ome.tif")
        ometiff.write(srcs[-1], np.ones(shape, np.uint16), axes="ZYX")
    submitted = _submissions(client, monkeypatch)
    report = ometiff.convert(srcs, tmp_path / "out", client=client, journal=False).batch
    assert report is not None and report.ok
    flat = [[name for bundle in call for name in bundle] for call in submitted]
    assert flat == [["b.ome.tif", "c.ome.tif", "a.ome.tif"]]  # by size on disk
    assert [Path(o.source).name for o in report.outcomes] == ["a.ome.tif", "b.ome.tif", "c.ome.tif"]


def test_end_of_run_sweep_removes_only_this_runs_temporaries(tmp_path: Path) -> None:
    """At the end of a batch every attempt has ended: temporaries (ometiff.atomic
    names) of its outputs go, whatever process wrote them; other files stay."""
    from ometiff.atomic import temp_path
    from ometiff.batch import remove_stale_temporaries

    mine = tmp_path / "a.ome.tif"
    left = temp_path(mine)  # this process is alive: the per-write check would keep it
    left.write_bytes(b"half")
    folder_tmp = temp_path(tmp_path / "b.ome.zarr")
    folder_tmp.mkdir()
    other = temp_path(tmp_path / "not-ours.ome.tif")
    other.write_bytes(b"x")
    plain = tmp_path / ".a.ome.tif.notes"
    plain.write_bytes(b"x")
    assert remove_stale_temporaries([mine, tmp_path / "b.ome.zarr"]) == 2
    assert not left.exists() and not folder_tmp.exists()
    assert other.exists() and plain.exists()


def test_the_callers_memory_budget_reaches_the_workers(client, tmp_path):
    """Each 40x50 uint16 plane needs 4000 bytes: a 1K budget refuses every input on
    the workers (as one process would), a normal one converts them, and the budget
    is not part of the options' fingerprint (a rerun skips what is done)."""
    srcs = _inputs(tmp_path / "in", 2)
    out = tmp_path / "out"
    refused = ometiff.convert(srcs, out, client=client, max_memory="1K").batch
    assert refused is not None and refused.count("failed") == 2
    assert all("memory budget" in o.reason for o in refused.outcomes)
    with ometiff.memory_budget("1K"):  # set around the call: the same
        held = ometiff.convert(srcs, out, client=client).batch
    assert held is not None and held.count("failed") == 2
    _no_temporaries(out)
    done = ometiff.convert(srcs, out, client=client).batch
    assert done is not None and done.count("converted") == 2
    again = ometiff.convert(srcs, out, client=client, max_memory="1G").batch
    assert again is not None and again.count("skipped") == 2


def _profiler_on() -> bool:
    import dask

    return bool(dask.config.get("distributed.worker.profile.enabled"))


def test_local_cluster_runs_without_the_profiler_and_leaves_the_callers_config(client):
    """The cluster ometiff starts does not sample its workers' stacks every 10 ms (a
    cost on every task), also in a worker its nanny restarted after a kill (this
    module's kill test runs first); the program's own Dask configuration is left as
    it was."""
    assert _profiler_on()  # the caller's configuration: Dask's default
    assert set(client.run(_profiler_on).values()) == {False}


def _saturation(dask_scheduler) -> float:
    return float(dask_scheduler.WORKER_SATURATION)


def test_local_cluster_queues_no_task_on_a_busy_worker(client):
    """The scheduler of ometiff's cluster hands a worker its next task only when it is
    free, so no task waits behind another while a worker idles; the caller's Dask
    configuration keeps its own value."""
    import dask

    assert client.run_on_scheduler(_saturation) == 1.0
    assert dask.config.get("distributed.scheduler.worker-saturation") != 1.0


def test_lost_worker_is_retried_per_the_clusters_setting_after_the_call(client):
    """allowed-failures was read when the cluster was made: it holds for the cluster's
    life, while the caller's configuration keeps Dask's default."""
    import dask

    assert client.cluster.scheduler.allowed_failures == 2
    assert dask.config.get("distributed.scheduler.allowed-failures") == 3


def _quick(source: str, output: str, overwrite: bool, options: dict) -> dict:
    """A task that converts nothing and ends at once: its outcome names its input."""
    return {
        "status": "converted",
        "size": 0,
        "mtime_ns": 0,
        "outputs": [{"path": output, "size": 0}],
        "planes": {"0,0,0,0": Path(source).name},
    }


def _quick_jobs(tmp_path: Path, n: int, *, largest_first: bool = False) -> list[tuple[Path, Path]]:
    """``n`` inputs for ``_quick``-like tasks: empty files, or with ``largest_first``
    files of 100, 99, ... bytes (so f0 is submitted first)."""
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    jobs = []
    for k in range(n):
        src = folder / f"f{k}.tif"
        src.write_bytes(b"x" * (100 - k) if largest_first else b"")
        jobs.append((src, tmp_path / "out" / f"f{k}.ome.tif"))
    return jobs


@pytest.mark.parametrize("window", [0.5, 0.0])
def test_results_that_end_together_are_fetched_together(client, tmp_path, monkeypatch, window):
    """Tasks ending within the window have their results fetched in one request, not
    one each; every outcome is still that of its own input, in input order."""
    jobs = _quick_jobs(tmp_path, 12)
    fetched: list[int] = []
    real_gather = client.gather

    def spy(futures, *args, **kwargs):
        fetched.append(len(futures))
        return real_gather(futures, *args, **kwargs)

    monkeypatch.setattr(client, "gather", spy)
    report = run(
        client,
        jobs,
        _quick,
        {},
        folder=tmp_path / "out",
        journal=False,
        gather_window=window,
        bundle_files=1,  # a task per input: the requests counted are those of 12 tasks
    )
    assert report.ok and [o.source for o in report.outcomes] == [str(s) for s, _ in jobs]
    assert [o.outputs for o in report.outcomes] == [[str(d)] for _, d in jobs]
    assert sum(fetched) == 12
    if window:
        assert len(fetched) <= 3, fetched  # 12 tasks of a few ms each on 2 workers
    else:
        assert len(fetched) >= 2, fetched


class _Fut:
    def __init__(self, key: str, statuses: list[str], error: BaseException | None = None):
        self.key, self._statuses, self._error = key, statuses, error

    @property
    def status(self) -> str:
        return self._statuses[0]

    def exception(self) -> BaseException | None:
        return self._error


class _Queue:
    """The part of ``distributed.as_completed`` that ``_ended`` uses."""

    def __init__(self, rounds: list[list[_Fut]]) -> None:
        self.rounds, self.added = rounds, []

    def is_empty(self) -> bool:
        return not self.rounds and not self.added

    def next_batch(self, block: bool = True) -> list[_Fut]:
        if self.added:
            out, self.added = self.added, []
            return out
        return self.rounds.pop(0) if self.rounds else []

    def add(self, fut: _Fut) -> None:
        fut._statuses.pop(0)  # computed anew: its next status
        self.added.append(fut)


class _Client:
    def __init__(self, values: list[dict[str, object]]) -> None:
        self.values = values

    def gather(self, futures: dict, errors: str, direct: object) -> dict:
        assert errors == "skip"
        got = self.values.pop(0)
        return {k: got[k] for k in futures if k in got}


def test_ended_refetches_a_lost_result_and_reports_failures():
    """A result lost with its worker before it was fetched is waited for again; a failed
    task gives its exception, a cancelled one a CancelledError."""
    from concurrent.futures import CancelledError

    from ometiff.batch import _ended

    boom = OSError("disk gone")
    a = _Fut("a", ["finished"])
    lost = _Fut("lost", ["finished", "finished"])  # its data lost, then computed again
    bad = _Fut("bad", ["error"], boom)
    gone = _Fut("gone", ["cancelled"])
    queue = _Queue([[a, lost, bad, gone]])
    fake = _Client([{"a": 1}, {"lost": 2}])  # the first fetch misses "lost"
    got = list(_ended(fake, queue, 0.0))
    assert [(f.key, r) for f, r in got if f.key in ("a", "lost")] == [("a", 1), ("lost", 2)]
    errors = {f.key: r for f, r in got if f.key in ("bad", "gone")}
    assert errors["bad"] is boom and isinstance(errors["gone"], CancelledError)
    assert [f.key for f, _ in got].count("lost") == 1 and fake.values == []


# --- bundles: small inputs share a task --------------------------------------------


def test_plan_bundles_groups_small_inputs_and_ends_with_single_files():
    from ometiff.batch import plan_bundles

    order = list(range(40))
    groups = plan_bundles(order, [1000] * 40, threads=2)
    assert [i for g in groups for i in g] == order  # every job once, in the given order
    assert [len(g) for g in groups] == [8, 8, 8, 8, 4, 2, 1, 1]
    # a bundle holds at most the jobs left divided by the threads
    for threads in (2, 3, 7, 50):
        left = 40
        for g in plan_bundles(order, [1000] * 40, threads=threads):
            assert len(g) == 1 or len(g) <= left // threads
            left -= len(g)
    assert [len(g) for g in plan_bundles(order, [0] * 40, threads=7)] == [
        5, 5, 4, 3, 3, 2, 2, 2, 2, *[1] * 12
    ]  # fmt: skip
    # one thread (or none known yet, as an adaptive cluster starts): bundles of 8
    assert [len(g) for g in plan_bundles(order, [0] * 40, threads=0)] == [8] * 5
    assert plan_bundles(order, [0] * 40, threads=0) == plan_bundles(order, [0] * 40, threads=1)
    # bundle_files=1: one task per job
    assert plan_bundles(order, [0] * 40, threads=2, most=1) == [[i] for i in order]


def test_plan_bundles_keeps_large_and_unbundled_inputs_alone():
    from ometiff.batch import BUNDLE_BYTES, plan_bundles

    big, small = BUNDLE_BYTES, BUNDLE_BYTES // 4
    sizes = [big, small, small, small, small, small, 0, 0, *[0] * 40]
    groups = plan_bundles(list(range(len(sizes))), sizes, threads=1)
    assert groups[0] == [0]  # as large as a bundle may be: a task of its own
    assert groups[1] == [1, 2, 3, 4]  # four quarters fill one bundle; the fifth starts the next
    assert groups[2][0] == 5
    for g in groups:
        assert sum(sizes[i] for i in g) <= BUNDLE_BYTES or len(g) == 1
    # jobs that may not share a task (their output could not be replaced by a rerun)
    alone = {1, 7}
    groups = plan_bundles(list(range(48)), [0] * 48, threads=1, bundle=lambda i: i not in alone)
    assert [1] in groups and [7] in groups
    assert [i for g in groups for i in g] == list(range(48))


def _flaky_once(source: str, output: str, overwrite: bool, options: dict) -> dict:
    """``_quick``, but the input named f1 raises a transient error the first time."""
    seen = Path(source).with_suffix(".seen")
    if Path(source).stem == "f1" and not seen.exists():
        seen.touch()
        raise OSError("stale file handle")
    return _quick(source, output, overwrite, options)


def test_a_transient_error_in_a_bundle_retries_that_input_alone(client, tmp_path, monkeypatch):
    jobs = _quick_jobs(tmp_path, 12, largest_first=True)
    submitted = _submissions(client, monkeypatch)
    report = run(client, jobs, _flaky_once, {}, folder=tmp_path / "out", journal=False)
    assert submitted[0][0] == [f"f{k}.tif" for k in range(6)]  # f1 shares a task
    assert submitted[1:] == [[["f1.tif"]]]  # and is the only input sent again
    assert report.ok
    assert [o.attempts for o in report.outcomes] == [1, 2] + [1] * 10
    assert report.outcomes[0].outputs == [str(jobs[0][1])]


def _kill_in_bundle(source: str, output: str, overwrite: bool, options: dict) -> dict:
    """``_kill_once``, noting whether img0's output had its final name when the
    worker began img1 (the input it dies writing)."""
    out = Path(output)
    if out.name == "img1.ome.tif" and (out.parent / "kill-marker").exists():
        if (out.parent / "img0.ome.tif").exists():
            (out.parent / "img0-was-renamed").touch()
    return _kill_once(source, output, overwrite, options)


def test_worker_killed_in_a_bundle_redoes_the_inputs_it_had_finished(client, tmp_path, monkeypatch):
    """Dask runs the bundle again elsewhere: img0, whose output the dead worker had
    already renamed, is converted again over it (this run claimed that name)."""
    srcs = _inputs(tmp_path / "in", 8)
    rng = np.random.default_rng(9)
    big = [rng.integers(0, 60000, (z, 256, 256), dtype=np.uint16) for z in (21, 20)]
    for src, image in zip(srcs[:2], big, strict=True):  # img0, then img1: the two largest
        ometiff.write(src, image, axes="ZYX", overwrite=True)
    out = tmp_path / "out"
    out.mkdir()
    (out / "kill-marker").touch()
    submitted = _submissions(client, monkeypatch)
    options = {"compression": "zlib", "pyramid": 0, "verify": True}
    jobs = [(s, out / s.name) for s in srcs]
    report = run(client, jobs, _kill_in_bundle, options, folder=out, retries=2)
    assert submitted[0][0][:2] == ["img0.ome.tif", "img1.ome.tif"]  # one task, img0 first
    assert (out / "img0-was-renamed").exists() and (out / "killed-while-writing").exists()
    assert report.ok and report.count("converted") == 8, report.summary()
    for i, src in enumerate(srcs):
        with ometiff.open(out / src.name) as f:
            want = big[i] if i < 2 else _image(i)
            np.testing.assert_array_equal(f.asarray().squeeze(), want)
    _no_temporaries(out)
    again = run(client, jobs, _kill_in_bundle, options, folder=out, retries=2)
    assert again.count("skipped") == 8


# --- claims: outputs a run will write -----------------------------------------------


def test_an_output_left_by_an_interrupted_run_is_redone_not_refused(client, tmp_path):
    """A run that ended after a worker renamed an output and before its journal line
    (the client killed) had claimed the name: the next run replaces the file."""
    srcs = _inputs(tmp_path / "in", 2)
    out = tmp_path / "out"
    out.mkdir()
    interrupted = Journal(out)
    interrupted.claim([out / s.name for s in srcs])  # as the interrupted run did first
    interrupted.close()
    (out / srcs[0].name).write_bytes(b"complete output of the interrupted run")
    assert _lines(out) == [{"v": 1, "claim": [s.name for s in srcs]}]
    report = ometiff.convert(srcs, out, client=client).batch
    assert report is not None and report.ok and report.count("converted") == 2
    with ometiff.open(out / srcs[0].name) as f:
        np.testing.assert_array_equal(f.asarray().squeeze(), _image(0))
    # an output nobody claimed is still refused (test_output_not_in_the_journal_...)
    assert not Journal(tmp_path / "elsewhere").owns(tmp_path / "elsewhere" / srcs[0].name)


def test_claims_of_failed_inputs_are_released(client, tmp_path):
    """A claim ends with its input's failure: a file put under that name later is not
    replaced without overwrite, even once the input can be converted."""
    good = _inputs(tmp_path / "in", 1)
    bad = _corrupt(tmp_path / "in")
    out = tmp_path / "out"
    first = ometiff.convert([*good, bad], out, client=client).batch
    assert first is not None and [o.status for o in first.outcomes] == ["converted", "failed"]
    lines = _lines(out)
    assert {"v": 1, "claim": ["img0.ome.tif", "broken.ome.tif"]} in lines
    assert lines[-1] == {"v": 1, "release": ["broken.ome.tif"]}
    journal = Journal(out)
    assert journal.owns(out / "img0.ome.tif") and not journal.owns(out / "broken.ome.tif")
    (out / "broken.ome.tif").write_bytes(b"the user's own file")
    import tifffile

    tifffile.imwrite(bad, _image(5))  # the input mended: a plain TIFF now
    second = ometiff.convert([*good, bad], out, client=client).batch
    assert second is not None
    assert [o.status for o in second.outcomes] == ["skipped", "failed"]
    assert "overwrite" in second.outcomes[1].reason
    assert (out / "broken.ome.tif").read_bytes() == b"the user's own file"


def test_conversions_with_several_outputs_per_input_claim_nothing(client, tmp_path):
    """--split names its files from the input's series: the run cannot claim them."""
    srcs = _inputs(tmp_path / "in", 2)
    out = tmp_path / "out"
    report = ometiff.convert(srcs, out, client=client, split="c").batch
    assert report is not None and report.ok
    assert not [rec for rec in _lines(out) if "claim" in rec]
    plain = ometiff.convert(srcs, tmp_path / "plain", client=client).batch
    assert plain is not None and plain.ok
    assert [rec for rec in _lines(tmp_path / "plain") if "claim" in rec]


def test_the_gather_window_ends_once_every_task_left_has_ended(client, tmp_path):
    """A long window does not hold back the last results of a run: the client stops
    waiting as soon as no task is left running."""
    import time

    jobs = _quick_jobs(tmp_path, 6)
    t0 = time.monotonic()
    report = run(
        client, jobs, _quick, {}, folder=tmp_path / "out", journal=False, gather_window=60.0
    )
    assert report.ok and report.count("converted") == 6
    assert time.monotonic() - t0 < 30  # the old fixed wait took the whole 60 s


def test_a_cluster_started_in_a_script_without_the_main_guard_says_so(tmp_path):
    """open_client at a script's top level: its worker processes import the script
    again and fail; the caller gets one ClusterError that names the fix, not Dask's
    bare RuntimeError."""
    import subprocess
    import textwrap

    script = tmp_path / "noguard.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(Path(__file__).resolve().parents[1] / "src")!r})
            from ometiff import ClusterError
            from ometiff.batch import open_client
            try:
                with open_client(workers=1, dashboard=":0"):
                    pass
            except ClusterError as exc:
                if __name__ != "__main__":  # a worker process importing the script
                    raise
                print("CLUSTER-ERROR", __name__, exc, flush=True)
            """
        )
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=180, cwd=tmp_path
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("CLUSTER-ERROR __main__")]
    assert len(lines) == 1, (out.stdout, out.stderr[-2000:])
    assert "cannot start a local Dask cluster of 1 worker" in lines[0]
    assert 'if __name__ == "__main__":' in lines[0]


def test_journal_ignores_damaged_claim_lines(tmp_path):
    """A claim or release line whose names are not a list (a hand-edited or damaged
    journal) is skipped like a torn line; the others still count."""
    lines = [
        {"v": 1, "claim": ["a.ome.tif", "b.ome.tif"]},
        {"v": 1, "claim": 5},
        {"v": 1, "release": {"b.ome.tif": 1}},
        {"v": 1, "release": ["b.ome.tif"]},
        {"v": 1, "claim": None},
    ]
    (tmp_path / JOURNAL_NAME).write_text("".join(json.dumps(x) + "\n" for x in lines))
    journal = Journal(tmp_path)
    assert journal.owns(tmp_path / "a.ome.tif")
    assert not journal.owns(tmp_path / "b.ome.tif")
