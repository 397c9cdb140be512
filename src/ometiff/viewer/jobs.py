"""The converter's queue: conversions run one at a time on a worker thread.

Each job calls :func:`ometiff.convert` with its ``on_plane`` progress callback and
keeps what the page shows: state, stage (write, verify), planes done, time left,
the receipt of a finished job and the one-line reason of a failed one. Cancelling a
running job makes its next progress call raise :class:`JobCancelled`; ``convert``
then removes everything it wrote, so a cancelled or failed job leaves nothing under
its output name.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ometiff.errors import OmeTiffError

#: Options the page may pass to ``convert`` (everything else is refused).
OPTIONS = (
    "series",
    "channels",
    "z",
    "t",
    "split",
    "companion",
    "compression",
    "tile",
    "pyramid",
    "overwrite",
    "verify",
    "original_metadata",
    "ngff",  # OME-Zarr outputs (a name ending .ome.zarr): "0.5" or "0.4"
)


class JobCancelled(OmeTiffError):
    """The user cancelled the job."""


def one_line(exc: BaseException) -> str:
    """The reason of a failure on one line, as ``ometiff`` prints it after ``error:``."""
    if isinstance(exc, OmeTiffError):
        return " ".join(str(exc).split())
    detail = str(exc).splitlines()[0] if str(exc) else ""
    what = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return f"internal error ({what}); please report it"


@dataclass
class Job:
    """One conversion, as the page sees it."""

    id: int
    sources: list[str]
    output: str
    options: dict[str, Any]
    state: str = "queued"  # queued, running, done, failed, cancelled
    stage: str = ""
    done: int = 0
    total: int = 0
    seconds_left: float | None = None
    started: float | None = None
    finished: float | None = None
    outputs: list[str] = field(default_factory=list)
    receipts: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "cancel"}

    def progress(self, stage: str, done: int, total: int) -> None:
        """``convert``'s ``on_plane``: record progress, or stop if cancelled."""
        if self.cancel.is_set():
            raise JobCancelled(f"{self.output}: cancelled")
        now = time.monotonic()
        if stage != self.stage or done < self.done:
            self._stage_start = now
        self.stage, self.done, self.total = stage, done, total
        elapsed = now - getattr(self, "_stage_start", now)
        # time left of this stage, plus a verify stage as long as the write
        left = elapsed * (total - done) / done if done else None
        if left is not None and stage == "write" and self.options.get("verify", True):
            left += elapsed * total / done * 0.5
        self.seconds_left = None if left is None else round(left, 1)


class JobQueue:
    """Conversions in order, on one worker thread started on first use."""

    def __init__(self) -> None:
        self._jobs: dict[int, Job] = {}
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def submit(self, sources: list[Path], output: Path, options: dict[str, Any]) -> Job:
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            from ometiff.errors import InvalidArgumentError

            raise InvalidArgumentError(f"unknown conversion option(s): {', '.join(unknown)}")
        with self._lock:
            job = Job(len(self._jobs) + 1, [str(s) for s in sources], str(output), options)
            self._jobs[job.id] = job
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._run, name="ometiff-view-jobs", daemon=True
                )
                self._worker.start()
        self._queue.put(job)
        return job

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def get(self, job_id: int) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def cancel(self, job_id: int) -> Job | None:
        job = self.get(job_id)
        if job is not None and job.state in ("queued", "running"):
            job.cancel.set()
            if job.state == "queued":
                job.state = "cancelled"
        return job

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel what is queued or running and wait for the worker to finish."""
        for job in self.jobs():
            self.cancel(job.id)
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout)

    def _run(self) -> None:
        from ometiff.conversion import convert

        while True:
            job = self._queue.get()
            if job is None:
                return
            if job.cancel.is_set():
                job.state = "cancelled"
                continue
            job.state, job.started = "running", time.time()
            sources = [Path(s) for s in job.sources]
            try:
                result = convert(
                    sources if len(sources) > 1 else sources[0],
                    Path(job.output),
                    on_plane=job.progress,
                    **job.options,
                )
            except JobCancelled:
                job.state = "cancelled"
            except Exception as exc:  # any failure is this job's, never the server's
                job.state, job.error = "failed", one_line(exc)
            else:
                job.state = "done"
                job.outputs = [str(p) for p in result]
                job.receipts = [dict(r.__dict__) for r in result.receipts]
                job.seconds_left = 0.0
            finally:
                job.finished = time.time()
