"""Outputs written under a temporary name and renamed at the end: the one home for it.

Every file or folder ometiff writes (a converted OME-TIFF, the files of a set, an
OME-Zarr folder, a companion OME-XML, a PNG, a report) is first written as::

    .NAME.ometiff-tmp-PID-TOKEN

next to ``NAME`` (hidden, clearly ours, naming the process that writes it), and
renamed to ``NAME`` only when it is complete. A process killed with ``kill -9``
or stopped by a full disk therefore leaves ``NAME`` as it was (absent, or the
previous complete file) plus at most a temporary file. The next run that writes
``NAME`` removes the temporaries of ``NAME`` whose process is gone
(:func:`remove_stale`); temporaries of a process still running are left alone.
Process ids are those of this machine: on a folder shared between machines, a
temporary of a run elsewhere whose id is free here counts as stale.

``OMETIFF_FAULT=<point>`` makes the process exit at a named point of an edit or
a write (:func:`fault`), for the crash tests.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import stat
from pathlib import Path

from ometiff.errors import FileAccessError, WriteError

#: The mark in every temporary name.
MARK = "ometiff-tmp"
#: Environment variable naming a fault point at which the process exits (crash tests).
FAULT_ENV = "OMETIFF_FAULT"
#: Exit status of a process stopped at a fault point.
FAULT_EXIT = 86

_log = logging.getLogger("ometiff")
_OWNER = re.compile(rf"\.{MARK}-(\d+)-[0-9a-f]+$")
_MESSAGES = {
    errno.ENOSPC: "no space left on the device",
    errno.EFBIG: "file too large (the file size limit was reached)",
    errno.EDQUOT: "no space left: disk quota exceeded",
}


def fault(point: str) -> None:
    """Exit the process at once when ``OMETIFF_FAULT`` names ``point`` (crash tests)."""
    if os.environ.get(FAULT_ENV) == point:
        os._exit(FAULT_EXIT)


def write_error(path: object, exc: OSError, action: str = "write") -> WriteError:
    """The ometiff error for an ``OSError`` met while writing ``path``.

    A full disk, a file-size limit or a quota is said in words ("no space left on
    the device", "file too large"); anything else gives the system's message.
    """
    reason = _MESSAGES.get(exc.errno or 0) or exc.strerror or str(exc)
    return WriteError(f"{path}: cannot {action}: {reason}")


def temp_path(final: Path) -> Path:
    """A new temporary name for ``final``: ``.NAME.ometiff-tmp-PID-TOKEN`` beside it."""
    return final.with_name(f".{final.name}.{MARK}-{os.getpid()}-{os.urandom(4).hex()}")


def create_temp(final: Path, *, folder: bool = False) -> Path:
    """Create (empty, exclusively) and return a temporary file or folder for ``final``.

    Stale temporaries of ``final`` left by a killed run are removed first.
    """
    remove_stale(final)
    tmp = temp_path(final)
    try:
        if folder:
            tmp.mkdir()
        else:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except OSError as exc:
        raise FileAccessError(
            f"{final}: cannot write in {final.parent}: {exc.strerror or exc}"
        ) from exc
    return tmp


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: a process of another user has that id
        return True
    return True


_TEMP_NAME = re.compile(rf"^\.(.+)\.{MARK}-\d+-[0-9a-f]+$")


def temp_of(name: str) -> str | None:
    """The final name a temporary file name ``.NAME.ometiff-tmp-PID-TOKEN`` stands
    for, or None when ``name`` is not one of ours."""
    m = _TEMP_NAME.match(name)
    return m.group(1) if m else None


def stale_temps(final: Path) -> list[Path]:
    """Temporaries of ``final`` whose writing process no longer runs."""
    found = []
    try:
        names = list(final.parent.glob(f".{glob_escape(final.name)}.{MARK}-*"))
    except OSError:
        return []
    for path in names:
        m = _OWNER.search(path.name)
        if m and path.name.startswith(f".{final.name}.") and not _alive(int(m.group(1))):
            found.append(path)
    return sorted(found)


def glob_escape(name: str) -> str:
    """``name`` with glob's special characters taken literally."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def remove_stale(final: Path) -> list[Path]:
    """Remove the temporaries a killed run left for ``final``; return what was removed."""
    removed = []
    for path in stale_temps(final):
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:  # another run removed it first, or it cannot be removed: left
            continue
        removed.append(path)
        _log.info("%s: removed %s, left by an interrupted run", final, path.name)
    return removed


def discard(tmp: Path) -> None:
    """Remove a temporary file or folder, quietly."""
    with contextlib.suppress(OSError):
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink()


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse
        pass
    finally:
        os.close(fd)


def replace_file(path: Path, data: bytes, *, fault_point: str = "before-rename") -> None:
    """Replace (or create) a whole small file atomically: temporary, fsync, rename, fsync folder.

    The file keeps its permission bits. On a failure nothing is left under a
    temporary name and ``path`` is as it was.

    Raises
    ------
    WriteError
        The folder is not writable, or the disk is full.
    """
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else None
    tmp = create_temp(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        fault(fault_point)
        os.replace(tmp, path)
    except OSError as exc:
        discard(tmp)
        raise write_error(path, exc) from exc
    except BaseException:
        discard(tmp)
        raise
    fsync_dir(path.parent)
