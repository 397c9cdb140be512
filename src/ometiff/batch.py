"""Many files on Dask distributed: a task per file (or per bundle of small files), a
journal, retries, one summary.

:func:`run` is the orchestration under ``ometiff.convert(..., client=)`` and
``ometiff convert SRC... DIR --workers N``. It knows nothing of images: it is given
``(source, output)`` pairs and a task function (``ometiff.conversion.convert_task``)
that a worker runs on one file, opening it itself from the shared file system
(only paths and options go through the scheduler, never pixels). Small files share a
Dask task (:func:`plan_bundles`, :func:`run_bundle`), so the scheduler's cost is per
bundle. Each file ends as one :class:`FileOutcome`:

- ``converted``: the task returned its verified outputs; the journal gets a line;
- ``failed``: bad input (the task returns the :class:`~ometiff.errors.OmeTiffError`
  message: never retried), or a transient failure (any other exception, a lost
  worker) still failing after ``retries`` more attempts;
- ``skipped``: the journal says it is done (source unchanged, outputs present).

The journal (:class:`Journal`, ``.ometiff-journal.jsonl`` in the output folder) gets
one JSON line per converted file, appended with a single ``write`` and ``fsync`` by
the client as each result arrives: source path, size and modification time, the
options' fingerprint, the outputs with their sizes, and the CRC-32/Adler-32 digest
of every verified plane. A torn last line (a crash while appending) is ignored.
Outputs are still written under temporary names and renamed when verified
(:class:`ometiff.writer.multifile.AtomicSet`), so an interrupted run leaves no half
file under a final name; the next run redoes exactly the files without a journal line.
Before any worker writes, the run claims (one journal line) the outputs it will write
that do not exist yet: a complete output an interrupted attempt renamed before its line
was appended is then replaced by the redo, not refused as an existing file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from ometiff.errors import ClusterError, InvalidArgumentError, MissingDependencyError
from ometiff.version import __version__

#: The journal's file name in the output folder.
JOURNAL_NAME = ".ometiff-journal.jsonl"
#: Journal format version (the ``v`` of each line).
JOURNAL_VERSION = 1

#: Longest time between two ``fsync`` of the journal while a run appends to it.
SYNC_SECONDS = 1.0
#: Most output names in one claim or release line of the journal.
CLAIM_LINE = 1000

#: Most inputs one Dask task converts, one after another (a bundle).
BUNDLE_FILES = 8
#: Most bytes of input in one bundle; a larger input is a task of its own.
BUNDLE_BYTES = 8 << 20

#: ``task(source, output, overwrite, options) -> dict`` (see ``conversion.convert_task``).
Task = Callable[[str, str, bool, dict[str, Any]], dict[str, Any]]
Status = Literal["converted", "failed", "skipped"]


def source_state(path: Path) -> tuple[int, int]:
    """(size, mtime in ns) of an input; of a folder input (a series, a Zarr), the total
    size and the newest modification time of the files in it."""
    st = path.stat()
    if not path.is_dir():
        return st.st_size, st.st_mtime_ns
    size, mtime = 0, st.st_mtime_ns
    for root, _dirs, files in os.walk(path):
        for name in files:
            fst = os.stat(os.path.join(root, name))
            size += fst.st_size
            mtime = max(mtime, fst.st_mtime_ns)
    return size, mtime


#: Options that change how a file is converted, never what is written: left out of
#: the fingerprint, so a rerun with another memory budget skips what is done.
NOT_IN_KEY = frozenset({"max_memory"})


def options_key(options: dict[str, Any]) -> str:
    """A short fingerprint of the conversion options: a rerun with other options redoes."""
    kept = {k: v for k, v in options.items() if k not in NOT_IN_KEY}
    text = json.dumps(kept, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Journal:
    """The append-only record of converted files in an output folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / JOURNAL_NAME
        self._fd: int | None = None
        self._synced = 0.0
        self.records: dict[str, dict[str, Any]] = {}
        self.owned: set[str] = set()  # output names some journal line wrote
        self.claimed: set[str] = set()  # output names a run claimed and did not release
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except OSError as exc:
            from ometiff.errors import file_error

            raise file_error(self.path, exc) from exc
        for line in text.splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a line torn by a crash while appending
            if not isinstance(rec, dict) or rec.get("v") != JOURNAL_VERSION:
                continue
            if "claim" in rec or "release" in rec:  # not a list: a damaged line, ignored
                names = rec.get("claim", rec.get("release"))
                if isinstance(names, list) and "claim" in rec:
                    self.claimed.update(map(str, names))
                elif isinstance(names, list):
                    self.claimed.difference_update(map(str, names))
                continue
            self.records[str(rec.get("source"))] = rec
            self.owned.update(str(o.get("path")) for o in rec.get("outputs", ()))

    def done(self, source: Path, state: tuple[int, int], key: str) -> dict[str, Any] | None:
        """The record of ``source`` when it is done: same size, modification time and
        options, and every output present with its recorded size; else None."""
        rec = self.records.get(os.path.abspath(source))
        if (
            rec is None
            or (rec.get("size"), rec.get("mtime_ns")) != state
            or rec.get("options") != key
        ):
            return None
        for out in rec.get("outputs", ()):
            try:
                if (self.folder / out["path"]).stat().st_size != out["size"]:
                    return None
            except (OSError, KeyError, TypeError):
                return None
        return rec

    def owns(self, output: Path) -> bool:
        """Whether a journal line wrote ``output``, or a run claimed it (so a redo may
        replace it)."""
        rel = self._rel(output)
        return rel in self.owned or rel in self.claimed

    def append(self, record: dict[str, Any]) -> None:
        """Add one line in one ``write`` (it survives a crash of this process at once);
        flushed to the disk (``fsync``, against a crash of the machine) at most every
        :data:`SYNC_SECONDS` and on :meth:`close`."""
        rec = {"v": JOURNAL_VERSION, **record}
        for out in rec.get("outputs", ()):
            out["path"] = self._rel(Path(out["path"]))
        self._write(rec, sync=False)
        self.records[str(rec["source"])] = rec
        self.owned.update(str(o["path"]) for o in rec.get("outputs", ()))

    def claim(self, outputs: Sequence[Path]) -> None:
        """Record, on disk before any worker writes, that this run will write these
        outputs (absent when it starts): a file under such a name that no converted
        line owns was written by a run that ended before recording it (a crash, a lost
        worker), and a redo may replace it (docs/scale-out.md)."""
        self._names("claim", outputs, self.claimed.update)

    def release(self, outputs: Sequence[Path]) -> None:
        """Withdraw the claims of outputs this run did not write (their input failed):
        a file put there later is not replaced without ``overwrite``."""
        self._names("release", outputs, self.claimed.difference_update)

    def _names(self, kind: str, outputs: Sequence[Path], apply: Callable[[Any], None]) -> None:
        names = [self._rel(p) for p in outputs]
        for k in range(0, len(names), CLAIM_LINE):
            self._write({"v": JOURNAL_VERSION, kind: names[k : k + CLAIM_LINE]}, sync=True)
        apply(names)

    def _write(self, rec: dict[str, Any], *, sync: bool) -> None:
        line = (json.dumps(rec, separators=(",", ":")) + "\n").encode()
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(self._fd, line)
        now = time.monotonic()
        if sync or now - self._synced >= SYNC_SECONDS:
            os.fsync(self._fd)
            self._synced = now

    def close(self) -> None:
        """Flush the journal to disk and close it."""
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None

    def _rel(self, path: Path) -> str:
        with contextlib.suppress(ValueError):
            return path.relative_to(self.folder).as_posix()
        return str(path)


@dataclass
class FileOutcome:
    """How one input ended."""

    source: str
    status: Status
    outputs: list[str] = field(default_factory=list)
    reason: str = ""
    attempts: int = 0
    planes: int = 0
    seconds: float = 0.0


@dataclass
class BatchReport:
    """Every input's outcome, in input order, and the run's totals."""

    outcomes: list[FileOutcome]
    seconds: float
    workers: int
    dashboard: str | None = None
    journal: str | None = None

    def count(self, status: Status) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def ok(self) -> bool:
        """True when nothing failed (every input converted or already done)."""
        return self.count("failed") == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "ometiff_batch": 1,
            "converted": self.count("converted"),
            "skipped": self.count("skipped"),
            "failed": self.count("failed"),
            "seconds": round(self.seconds, 3),
            "workers": self.workers,
            "journal": self.journal,
            "files": [asdict(o) for o in self.outcomes],
        }

    def summary(self) -> str:
        """One line per failed file, then the totals."""
        lines = [
            f"failed: {o.reason}"
            if o.reason.startswith(o.source)
            else f"failed: {o.source}: {o.reason}"
            for o in self.outcomes
            if o.status == "failed"
        ]
        lines.append(
            f"{self.count('converted')} converted and verified, "
            f"{self.count('skipped')} skipped (done before), "
            f"{self.count('failed')} failed, in {self.seconds:.1f} s "
            f"on {self.workers} worker{'s' if self.workers != 1 else ''}"
        )
        return "\n".join(lines)


#: Seconds :func:`run` waits, once a task has ended, for others to end before it
#: fetches their results in one request (one per worker) rather than one each: with
#: small files the client's share of the two cores halves (docs/scale-out.md).
GATHER_WINDOW = 0.05
#: How often :func:`run` looks, during that window, whether every task left has ended.
GATHER_POLL = 0.005


def _ended(client: Any, queue: Any, window: float) -> Iterator[tuple[Any, Any]]:
    """``(future, result)`` of each future of the ``as_completed`` ``queue`` as it ends
    (the task's return value; for a failed or cancelled task its exception), the results
    of those that end within ``window`` seconds of each other fetched together (the wait
    ends early once every task left has ended). A future
    whose result was lost before it was fetched (its worker died) waits in the queue
    again while Dask computes it anew."""
    from ometiff.writer.placed import gather_direct

    direct = gather_direct(client)
    while not queue.is_empty():
        ended = queue.next_batch(block=True)
        # wait out the window, but no longer than the tasks left take to end (the last
        # results of a run are not held back)
        deadline = time.monotonic() + window
        while not queue.is_empty() and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(GATHER_POLL, left))
            ended += queue.next_batch(block=False)
        ok = {f.key: f for f in ended if f.status == "finished"}
        values = client.gather(ok, errors="skip", direct=direct) if ok else {}
        for f in ended:
            if f.key in values:
                yield f, values[f.key]
            elif f.status == "error":
                yield f, f.exception()
            elif f.status == "cancelled":
                yield f, CancelledError(f"task {f.key} was cancelled")
            else:  # finished, then lost with its worker before it was fetched
                queue.add(f)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else '(no message)'}"


def plan_bundles(
    order: Sequence[int],
    sizes: Sequence[int],
    threads: int,
    *,
    most: int = BUNDLE_FILES,
    bundle: Callable[[int], bool] = lambda i: True,
) -> list[list[int]]:
    """Group jobs, taken in ``order`` (largest first), into the tasks of one run.

    A task takes the next job and then, while it holds fewer than ``most`` and fewer
    than the jobs left divided by ``threads`` (the workers' threads: guided
    self-scheduling, each task a share of what is left), the following ones that fit
    in :data:`BUNDLE_BYTES` with it. Jobs for which ``bundle`` is False are tasks of
    their own. Small files then cost the scheduler one task per bundle instead of one
    each, while the bundles shrink towards the end of the run and the last tasks are
    single files, so no worker waits on a long bundle at the end.
    """
    groups: list[list[int]] = []
    k = 0
    while k < len(order):
        group = [order[k]]
        held = sizes[order[k]]
        k += 1
        cap = min(most, (len(order) - k + 1) // max(threads, 1))
        if bundle(group[0]):
            while (
                k < len(order)
                and len(group) < cap
                and bundle(order[k])
                and held + sizes[order[k]] <= BUNDLE_BYTES
            ):
                held += sizes[order[k]]
                group.append(order[k])
                k += 1
        groups.append(group)
    return groups


def run_bundle(
    task: Task,
    sources: Sequence[str],
    outputs: Sequence[str],
    replace: Sequence[bool],
    options: dict[str, Any],
) -> list[dict[str, Any]]:
    """The Dask task of :func:`run`: ``task`` on each input of a bundle in turn, on
    one worker. An exception of one input (transient: it is retried) ends as
    ``{"status": "error", "reason": ...}`` and the others still run."""
    results = []
    for source, output, again in zip(sources, outputs, replace, strict=True):
        try:
            results.append(task(source, output, again, options))
        except Exception as exc:  # transient for this input alone: the client retries it
            results.append({"status": "error", "reason": _one_line(exc)})
    return results


def run(
    client: Any,
    jobs: Sequence[tuple[Path, Path]],
    task: Task,
    options: dict[str, Any],
    *,
    folder: Path,
    overwrite: bool = False,
    retries: int = 2,
    journal: bool = True,
    on_file: Callable[[int, int], None] | None = None,
    gather_window: float = GATHER_WINDOW,
    claim: bool = True,
    bundle_files: int = BUNDLE_FILES,
) -> BatchReport:
    """Run ``task`` once per ``(source, output)`` job on the Dask ``client``.

    Parameters
    ----------
    client
        A ``distributed.Client``.
    jobs
        Inputs and their outputs (in ``folder``).
    task, options
        ``task(source, output, overwrite, options)`` runs on a worker and returns
        ``{"status": "converted", "outputs": [{"path", "size"}], "planes": {...},
        "size", "mtime_ns", ...}`` or ``{"status": "failed", "reason": ...}`` (bad
        input); any exception it raises is transient and retried.
    folder
        The output folder: the journal lives there.
    overwrite
        Replace outputs the journal does not know; outputs it knows (an earlier
        run wrote them) are always replaced when their source changed.
    retries
        Further attempts after a transient failure (exception, lost worker).
    journal
        Skip what the journal says is done, and record what this run converts.
    on_file
        ``on_file(done, total)`` as each input ends.
    gather_window
        Seconds to wait, once a task has ended, for others to end before their
        results are fetched together (:data:`GATHER_WINDOW`; 0 fetches each at once).
    claim
        Each job writes exactly its output path (no split files, no companion): an
        output absent when the run starts is claimed (in the journal), so whatever
        an attempt of this run, or of a run that ended before recording it, leaves
        under that name is replaced by the redo.
    bundle_files
        Most inputs one Dask task converts one after another (:func:`plan_bundles`;
        1: one task per input). Only inputs whose output a rerun may replace are
        bundled, so a bundle run again after a lost worker redoes its finished inputs.

    Inputs are submitted largest first (by size on disk); outcomes keep input order.
    """
    import functools
    import importlib

    dist: Any = importlib.import_module("distributed")  # untyped: used as Any
    if retries < 0:
        raise InvalidArgumentError(f"retries={retries}: give 0 or more", option="retries")
    if bundle_files < 1:
        raise InvalidArgumentError(
            f"bundle_files={bundle_files}: give 1 or more", option="bundle_files"
        )
    t0 = time.perf_counter()
    jr = Journal(folder) if journal else None
    key = options_key(options)
    outcomes: list[FileOutcome | None] = [None] * len(jobs)
    attempts = [0] * len(jobs)
    replace = [overwrite] * len(jobs)
    pending: dict[Any, list[int]] = {}
    done = 0
    total = len(jobs)
    work = functools.partial(run_bundle, task)

    def finish(i: int, outcome: FileOutcome) -> None:
        nonlocal done
        outcomes[i] = outcome
        done += 1
        if on_file is not None:
            on_file(done, total)

    def failed(i: int, reason: str) -> None:
        finish(i, FileOutcome(str(jobs[i][0]), "failed", reason=reason, attempts=attempts[i]))

    def submit(groups: list[list[int]]) -> list[Any]:
        """Submit the tasks of these bundles in one message (``client.map``)."""
        for group in groups:
            for i in group:
                attempts[i] += 1
        token = os.urandom(4).hex()
        futs = client.map(
            work,
            [[str(jobs[i][0]) for i in g] for g in groups],
            [[str(jobs[i][1]) for i in g] for g in groups],
            [[replace[i] for i in g] for g in groups],
            [options] * len(groups),
            pure=False,
            key=[f"ometiff-convert-{g[0]}-{attempts[g[0]]}-{token}" for g in groups],
        )
        pending.update(zip(futs, groups, strict=True))
        return list(futs)

    todo = []
    sizes = [0] * len(jobs)
    claims: list[int] = []
    for i, (src, dest) in enumerate(jobs):
        if jr is None:
            with contextlib.suppress(OSError):
                sizes[i] = src.stat().st_size
        else:
            try:
                state = source_state(src)
            except OSError as exc:
                failed(i, f"cannot read: {exc.strerror}")
                continue
            sizes[i] = state[0]
            rec = jr.done(src, state, key)
            if rec is not None:
                finish(
                    i,
                    FileOutcome(
                        str(src),
                        "skipped",
                        reason="done and verified before",
                        outputs=[str(folder / o["path"]) for o in rec["outputs"]],
                        planes=len(rec.get("planes", {})),
                    ),
                )
                continue
            replace[i] = overwrite or jr.owns(dest)
        if claim and not replace[i] and not os.path.lexists(dest):
            claims.append(i)
            replace[i] = True
        todo.append(i)
    if jr is not None and claims:
        jr.claim([jobs[i][1] for i in claims])
    # biggest first: the last files to start are small, so no worker idles at the end
    # waiting for one that took a large file last
    todo.sort(key=lambda i: -sizes[i])
    threads = sum(client.nthreads().values())  # 0 while an adaptive cluster starts
    groups = plan_bundles(todo, sizes, threads, most=bundle_files, bundle=replace.__getitem__)
    futures = submit(groups) if groups else []

    queue = dist.as_completed(futures)
    try:
        for fut, res in _ended(client, queue, gather_window):
            group = pending.pop(fut)
            if fut.status == "finished":
                results = res
            else:  # the whole bundle failed: its worker was lost, or it was cancelled
                results = [{"status": "error", "reason": _one_line(res)}] * len(group)
            again = []
            for i, r in zip(group, results, strict=True):
                src, _dest = jobs[i]
                if r.get("status") == "converted":
                    if jr is not None:
                        jr.append(
                            {
                                "source": os.path.abspath(src),
                                "size": r["size"],
                                "mtime_ns": r["mtime_ns"],
                                "options": key,
                                "outputs": [dict(o) for o in r["outputs"]],
                                "planes": r["planes"],
                                "reader": r.get("reader"),
                                "ometiff": __version__,
                            }
                        )
                    finish(
                        i,
                        FileOutcome(
                            str(src),
                            "converted",
                            outputs=[o["path"] for o in r["outputs"]],
                            attempts=attempts[i],
                            planes=len(r["planes"]),
                            seconds=r.get("seconds", 0.0),
                        ),
                    )
                elif r.get("status") != "error":  # bad input: never retried
                    failed(i, str(r.get("reason")))
                elif attempts[i] <= retries:
                    again.append(i)
                else:
                    failed(i, f"failed {attempts[i]} times; last: {r.get('reason')}")
            if again:
                queue.add(submit([again])[0])
            fut.release()
    finally:
        if jr is not None:
            unwritten = [
                jobs[i][1]
                for i in claims
                if (o := outcomes[i]) is not None and o.status == "failed"
            ]
            with contextlib.suppress(OSError):
                if unwritten:
                    jr.release(unwritten)
            jr.close()
        remove_stale_temporaries([dest for _src, dest in jobs])
    info = client.scheduler_info()
    return BatchReport(
        outcomes=[o for o in outcomes if o is not None],
        seconds=time.perf_counter() - t0,
        workers=len(info.get("workers", {})),
        dashboard=dashboard_link(client),
        journal=str(jr.path) if jr is not None else None,
    )


def remove_stale_temporaries(outputs: Sequence[Path]) -> int:
    """Remove the temporary files (:mod:`ometiff.atomic` names) that attempts killed
    with their worker left next to these outputs; once per folder at the end of a run
    (one listing per folder, not one per file). Every attempt of this run has ended
    by then, so a temporary of one of its outputs is stale whatever machine wrote it.
    Returns how many were removed."""
    from ometiff.atomic import temp_of

    wanted: dict[Path, set[str]] = {}
    for out in outputs:
        wanted.setdefault(out.parent, set()).add(out.name)
    removed = 0
    for folder, names in wanted.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if temp_of(entry.name) in names:
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path)
                    else:
                        os.unlink(entry.path)
                    removed += 1
    return removed


def dashboard_link(client: Any) -> str | None:
    """The Dask dashboard address, when the scheduler serves one (it needs bokeh)."""
    services = client.scheduler_info().get("services", {})
    return str(client.dashboard_link) if "dashboard" in services else None


#: Dask's statistical profiler samples the threads of the scheduler and of each worker
#: every 10 ms: on a cluster that fills the cores, a batch of small files took 6-8%
#: longer with it (docs/scale-out.md). Off in the LocalCluster :func:`open_client` starts.
NO_PROFILER: dict[str, Any] = {"distributed.worker.profile.enabled": False}

#: The scheduler of that LocalCluster sends a worker its next task only when it has
#: none (Dask's default, 1.1, queues one more on each one-thread worker): at the end of
#: a run a task queued behind a long bundle waited while another worker idled, 0.11 s
#: per 40-file batch on 2 workers on average, 0.04 s with 1.0 (docs/scale-out.md).
WORKER_SATURATION: dict[str, Any] = {"distributed.scheduler.worker-saturation": 1.0}


@contextlib.contextmanager
def open_client(
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    retries: int = 2,
    dashboard: str = ":8787",
) -> Iterator[Any]:
    """A ``distributed.Client``: on the running scheduler at ``scheduler``, else on a
    ``LocalCluster`` of ``workers`` processes (default: one per core) with one thread each.

    A worker lost while running a task makes the scheduler run it elsewhere, up to
    ``retries`` times for a LocalCluster (``distributed.scheduler.allowed-failures``;
    a remote scheduler keeps its own setting); :func:`run` then retries once more per
    remaining attempt. The LocalCluster runs without Dask's statistical profiler (the
    dashboard's Profile page stays empty; its task stream and progress do not), and its
    scheduler queues no task on a busy worker (:data:`WORKER_SATURATION`); a cluster of
    your own (``scheduler=``) keeps its settings. The caller's Dask
    configuration is the same after the call as before.

    Raises
    ------
    ClusterError
        The LocalCluster did not start (a script that starts it outside
        ``if __name__ == "__main__":``, whose worker processes import it again).
    InvalidArgumentError
        ``workers`` below 1, both ``workers`` and ``scheduler``, or a scheduler that
        cannot be reached.
    MissingDependencyError
        Dask distributed is not installed.
    """
    import importlib

    try:
        dask: Any = importlib.import_module("dask")
        dist: Any = importlib.import_module("distributed")
    except ImportError as exc:
        raise MissingDependencyError(
            "converting on several workers needs Dask distributed: "
            "pip install 'ometiff[distributed]'"
        ) from exc
    import logging

    if scheduler is not None:
        if workers is not None:
            raise InvalidArgumentError("give workers or scheduler, not both", option="workers")
        try:
            client = dist.Client(scheduler, timeout="20s")
        except OSError as exc:
            raise InvalidArgumentError(
                f"scheduler {scheduler}: cannot connect: {exc}", option="scheduler"
            ) from exc
        with client:
            yield client
        return
    n = workers if workers is not None else (os.cpu_count() or 1)
    if n < 1:
        raise InvalidArgumentError(f"workers={n}: give 1 or more", option="workers")
    with contextlib.ExitStack() as stack:
        # the scheduler reads these when it is made: the caller's configuration is
        # changed for no longer than that
        with dask.config.set(
            {
                "distributed.scheduler.allowed-failures": max(retries, 0),
                **WORKER_SATURATION,
                **NO_PROFILER,
            }
        ):
            try:
                cluster = stack.enter_context(
                    dist.LocalCluster(
                        n_workers=n,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=dashboard,
                        silence_logs=logging.CRITICAL,
                        # each nanny's own configuration: also that of a worker it restarts
                        config=NO_PROFILER,
                    )
                )
            except RuntimeError as exc:  # a nanny or worker process failed to start
                raise ClusterError(
                    f"cannot start a local Dask cluster of {n} worker"
                    f"{'s' if n != 1 else ''} ({exc}); in a script, start it under "
                    '`if __name__ == "__main__":` (each worker process imports the script '
                    "again; docs/scale-out.md)"
                ) from exc
        yield stack.enter_context(dist.Client(cluster))
