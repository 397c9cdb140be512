"""Crash safety of ``convert``, ``meta set`` and ``repair`` (issue 15): kill -9 and a full disk.

Whatever moment a run is killed at, or whenever the disk fills up: the final path
holds nothing or a complete valid file, the source is never touched, what is left
is named ``.NAME.ometiff-tmp-PID-TOKEN``, and the next run removes it and finishes
the job. A full disk (a real tiny tmpfs when we may mount one, ``RLIMIT_FSIZE``
otherwise, or a failing system call in-process) ends with one line on stderr naming
the file and "no space" / "file too large", exit 2, and nothing under the output name.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import tifffile

import ometiff
from ometiff import atomic
from ometiff.atomic import FAULT_ENV, FAULT_EXIT
from ometiff.errors import WriteError
from ometiff.ome.view import parse_ome
from ometiff.tiff.patch import FAULT_POINTS, write_description
from ometiff.tiff.structure import read_description
from test_edit_helpers import assert_valid, embedded_pair, new_uuid, ome_xml, pixels_hash, write_ome

SRC = Path(__file__).resolve().parent.parent / "src"
TEMP = re.compile(r"^\.(?P<name>.+)\.ometiff-tmp-(?P<pid>\d+)-[0-9a-f]{8}$")


def _env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "NO_COLOR": "1", "COLUMNS": "200", **extra}


def _cmd(*args: object) -> list[str]:
    return [sys.executable, "-m", "ometiff", *map(str, args)]


def _run(
    *args: object, fault: str | None = None, preexec: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    env = _env(**({FAULT_ENV: fault} if fault else {}))
    return subprocess.run(
        _cmd(*args),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=preexec,
        check=False,
    )


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".ometiff-tmp-" in p.name)


def _one_error_line(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    """The promise for a failed command: exit 2, one line naming the problem, no traceback."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word.lower() in lines[0].lower(), lines[0]
    return lines[0]


def _fsize_limit(limit: int) -> Callable[[], None]:
    """``ulimit -f``: writes past ``limit`` bytes fail with EFBIG (SIGXFSZ ignored)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


# --- convert: kill -9 ----------------------------------------------------------------


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, int]:
    """A 4 MB OME-TIFF of noise (slow to compress, so a conversion takes a moment),
    and the size of its uninterrupted conversion."""
    folder = tmp_path_factory.mktemp("crash-src")
    data = np.random.default_rng(15).integers(0, 60000, (2, 16, 256, 256), dtype=np.uint16)
    src = folder / "src.ome.tif"
    ometiff.write(src, data, axes="CZYX")
    ref = folder / "ref.ome.tif"
    ometiff.convert(src, ref)
    return src, data, ref.stat().st_size


def _check_after_kill(folder: Path, out: Path, data: np.ndarray, src: Path, sha: str) -> None:
    assert _sha(src) == sha  # the source is never touched
    if out.exists():  # complete and valid, or absent
        np.testing.assert_array_equal(ometiff.imread(out)[0], data)
    for name in _temps(folder):
        m = TEMP.match(name)
        assert m is not None and m["name"] == out.name, name
        with pytest.raises(ProcessLookupError):  # the killed process named itself
            os.kill(int(m["pid"]), 0)


def _rerun_finishes(folder: Path, out: Path, data: np.ndarray, src: Path, *extra: str) -> None:
    proc = _run("convert", src, out, "-q", *extra)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(ometiff.imread(out)[0], data)
    assert _temps(folder) == []  # the killed run's temporaries are gone


@pytest.mark.parametrize("moment", [0.0, 0.5, 1.0])
def test_convert_killed_while_writing(
    source: tuple[Path, np.ndarray, int], tmp_path: Path, moment: float
) -> None:
    """SIGKILL when the temporary file appears, when it is half written, and when it
    is whole (the conversion is verifying it)."""
    src, data, size = source
    sha = _sha(src)
    out = tmp_path / "out.ome.tif"
    proc = subprocess.Popen(
        _cmd("convert", src, out, "-q"),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    killed = False
    deadline = time.monotonic() + 120
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            temps = [p for p in tmp_path.iterdir() if TEMP.match(p.name)]
            with_size = [p for p in temps if p.exists() and p.stat().st_size >= moment * size]
            if with_size:
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
                break
            time.sleep(0.002)
    finally:
        proc.kill()
        proc.wait()
    assert killed, "the conversion ended before the moment to kill it"
    assert not out.exists()  # killed before the rename
    assert len(_temps(tmp_path)) == 1
    _check_after_kill(tmp_path, out, data, src, sha)
    _rerun_finishes(tmp_path, out, data, src)


def test_convert_killed_before_the_rename(
    source: tuple[Path, np.ndarray, int], tmp_path: Path
) -> None:
    """Verified and complete under the temporary name, killed just before the rename."""
    src, data, size = source
    sha = _sha(src)
    out = tmp_path / "out.ome.tif"
    proc = _run("convert", src, out, "-q", fault="before-commit")
    assert proc.returncode == FAULT_EXIT, proc.stderr
    assert not out.exists()
    (temp,) = _temps(tmp_path)
    assert (tmp_path / temp).stat().st_size == size
    _check_after_kill(tmp_path, out, data, src, sha)
    _rerun_finishes(tmp_path, out, data, src)


def test_split_convert_killed_between_renames(
    source: tuple[Path, np.ndarray, int], tmp_path: Path
) -> None:
    """One file per channel, killed after the first rename: each final name holds a
    complete file or nothing; a re-run with --overwrite finishes the set."""
    src, data, _ = source
    sha = _sha(src)
    out = tmp_path / "out.ome.tif"
    proc = _run("convert", src, out, "--split", "c", "-q", fault="mid-commit")
    assert proc.returncode == FAULT_EXIT, proc.stderr
    assert _sha(src) == sha
    finals = sorted(p for p in tmp_path.iterdir() if not p.name.startswith("."))
    temps = _temps(tmp_path)
    assert len(finals) == 1 and len(temps) == 1
    with tifffile.TiffFile(finals[0]) as tf:  # the renamed file is whole
        planes = np.stack([p.asarray() for p in tf.pages])
    assert any(np.array_equal(planes, data[c]) for c in range(2))
    proc = _run("convert", src, out, "--split", "c", "-q", "--overwrite")
    assert proc.returncode == 0, proc.stderr
    assert _temps(tmp_path) == []
    done = sorted(p for p in tmp_path.iterdir())
    assert len(done) == 2
    np.testing.assert_array_equal(ometiff.imread(done[0])[0], data)  # the set reads whole


def test_stale_temporaries_only_of_dead_processes_are_removed(tmp_path: Path) -> None:
    final = tmp_path / "x.ome.tif"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        )
        dead_pid = int(dead.stdout)
        gone = tmp_path / f".x.ome.tif.ometiff-tmp-{dead_pid}-0badf00d"
        live = tmp_path / f".x.ome.tif.ometiff-tmp-{sleeper.pid}-0badf00d"
        other = tmp_path / f".y.ome.tif.ometiff-tmp-{dead_pid}-0badf00d"  # another output's
        mine = tmp_path / ".x.ome.tif.something-else"  # not a name ometiff makes
        for p in (gone, live, other, mine):
            p.write_bytes(b"half")
        assert atomic.remove_stale(final) == [gone]
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            p.name for p in (live, other, mine)
        )
    finally:
        sleeper.kill()
        sleeper.wait()


# --- meta set and repair: kill -9 ----------------------------------------------------


def _name(path: Path) -> str | None:
    return parse_ome(read_description(path) or "").images[0].name


@pytest.mark.parametrize(
    ("point", "new_name"),
    [*((p, "n") for p in FAULT_POINTS), ("after-append", "n" * 3000), ("after-entry", "n" * 3000)],
)
def test_meta_set_killed_at_every_step(tmp_path: Path, point: str, new_name: str) -> None:
    """The file reads the old or the new metadata whatever the step the edit dies at
    (the new XML in the old one's bytes, or appended); its pixels are untouched; the
    same command run again completes the edit."""
    path = tmp_path / "a.ome.tif"
    write_ome(path, ome_xml(uuid=new_uuid()))
    pixels = pixels_hash(path)
    fits = len(new_name) < 10  # the new XML takes the old one's bytes
    proc = _run("meta", "set", path, "--name", new_name, "-q", fault=point)
    assert fits or point not in ("mid-xml", "after-xml")
    assert proc.returncode == FAULT_EXIT, proc.stderr
    assert _name(path) in ("test", new_name)
    assert pixels_hash(path) == pixels
    assert_valid(path)
    proc = _run("meta", "set", path, "--name", new_name, "-q")
    assert proc.returncode == 0, proc.stderr
    assert _name(path) == new_name and pixels_hash(path) == pixels
    assert _temps(tmp_path) == []


def _state(paths: list[Path]) -> list[str]:
    return [
        "binary-only" if parse_ome(read_description(p) or "").binary_only else "full" for p in paths
    ]


@pytest.mark.parametrize(
    "point", ["companion-before-rename", "repair-after-companion", "repair-after-member"]
)
def test_repair_to_companion_killed_then_rerun_finishes(tmp_path: Path, point: str) -> None:
    """Killed before the companion's rename, after it, or after the first member: the
    re-run finishes the conversion (it used to refuse "companion exists already")."""
    a, b = embedded_pair(tmp_path / "set")
    pixels = [pixels_hash(a), pixels_hash(b)]
    companion = a.with_name("set.companion.ome")
    proc = _run("repair", a, b, "--to-companion", "-q", fault=point)
    assert proc.returncode == FAULT_EXIT, proc.stderr
    assert companion.exists() == (point != "companion-before-rename")
    assert _state([a, b]) == (
        ["binary-only", "full"] if point == "repair-after-member" else ["full", "full"]
    )
    assert [pixels_hash(a), pixels_hash(b)] == pixels
    proc = _run("repair", a, b, "--to-companion", "-q")
    assert proc.returncode == 0, proc.stderr
    assert _state([a, b]) == ["binary-only", "binary-only"]
    comp_uuid = parse_ome(companion.read_text("utf-8")).uuid
    for p in (a, b):
        view = parse_ome(read_description(p) or "")
        assert view.binary_only is not None and view.binary_only.uuid == comp_uuid
    assert [pixels_hash(a), pixels_hash(b)] == pixels
    assert_valid(companion)
    assert_valid(a)
    assert _temps(a.parent) == []


def test_repair_to_companion_still_refuses_a_foreign_companion(tmp_path: Path) -> None:
    a, b = embedded_pair(tmp_path / "set")
    companion = a.with_name("set.companion.ome")
    companion.write_text(ome_xml(uuid=new_uuid()), encoding="utf-8")  # someone else's
    before = [_sha(a), _sha(b), _sha(companion)]
    proc = _run("repair", a, b, "--to-companion")
    _one_error_line(proc, companion.name, "does not hold this set's metadata")
    assert [_sha(a), _sha(b), _sha(companion)] == before


def test_repair_to_embedded_killed_then_rerun_finishes(tmp_path: Path) -> None:
    a, b = embedded_pair(tmp_path / "set")
    pixels = [pixels_hash(a), pixels_hash(b)]
    ometiff.repair([a, b], to_companion=True)
    companion = a.with_name("set.companion.ome")
    proc = _run("repair", companion, "--to-embedded", "-q", fault="repair-after-member")
    assert proc.returncode == FAULT_EXIT, proc.stderr
    assert companion.exists() and _state([a, b]) == ["full", "binary-only"]
    proc = _run("repair", companion, "--to-embedded", "-q")
    assert proc.returncode == 0, proc.stderr
    assert not companion.exists() and _state([a, b]) == ["full", "full"]
    assert [pixels_hash(a), pixels_hash(b)] == pixels
    assert_valid(a)
    assert_valid(b)


# --- a full disk -----------------------------------------------------------------------


def test_convert_file_size_limit(source: tuple[Path, np.ndarray, int], tmp_path: Path) -> None:
    src, _, _ = source
    sha = _sha(src)
    out = tmp_path / "out.ome.tif"
    proc = _run("convert", src, out, "-q", preexec=_fsize_limit(200_000))
    _one_error_line(proc, out.name, "file too large")
    assert list(tmp_path.iterdir()) == []
    assert _sha(src) == sha


@pytest.mark.parametrize("new_name", ["n", "n" * 3000])
def test_meta_set_file_size_limit(tmp_path: Path, new_name: str) -> None:
    path = tmp_path / "a.ome.tif"
    write_ome(path, ome_xml(uuid=new_uuid()))
    sha = _sha(path)
    proc = _run("meta", "set", path, "--name", new_name, preexec=_fsize_limit(path.stat().st_size))
    _one_error_line(proc, path.name, "file too large")
    assert _sha(path) == sha  # not a byte changed, not even at the end
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_repair_to_companion_file_size_limit(tmp_path: Path) -> None:
    a, b = embedded_pair(tmp_path / "set")
    before = [_sha(a), _sha(b)]
    proc = _run("repair", a, b, "--to-companion", preexec=_fsize_limit(300))
    _one_error_line(proc, "set.companion.ome", "file too large")
    assert [_sha(a), _sha(b)] == before
    assert sorted(p.name for p in a.parent.iterdir()) == [a.name, b.name]


def test_patch_out_of_space_restores_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.ome.tif"
    write_ome(path, ome_xml(uuid=new_uuid()))
    sha, size = _sha(path), path.stat().st_size
    real = os.pwrite

    def pwrite(fd: int, data: bytes, offset: int) -> int:
        if offset + len(data) > size + 16:  # the first bytes past the end land, then no more
            if offset < size + 16:
                return real(fd, bytes(data)[: size + 16 - offset], offset)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", pwrite)
    with pytest.raises(WriteError, match=r"a\.ome\.tif: cannot edit the metadata: no space left"):
        write_description(path, ome_xml(uuid=new_uuid()).replace("test", "x" * 500))
    monkeypatch.undo()
    assert _sha(path) == sha


def test_replace_file_out_of_space(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "set.companion.ome"
    path.write_bytes(b"<OME/>")

    def fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(WriteError, match=r"set\.companion\.ome: cannot write: no space left"):
        atomic.replace_file(path, b"<OME>new</OME>")
    assert path.read_bytes() == b"<OME/>"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (root only; skipped where mounting is not allowed)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {made.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> None:
    """Take every free byte of the file system under ``folder``."""
    with open(folder / "filler", "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


def test_full_disk_convert_meta_set_and_repair(
    source: tuple[Path, np.ndarray, int], tiny_disk: Path
) -> None:
    """A real full disk (ENOSPC): one clear line, exit 2, the files as they were."""
    src, _, _ = source
    sha = _sha(src)
    out = tiny_disk / "out.ome.tif"
    proc = _run("convert", src, out, "-q")
    _one_error_line(proc, out.name, "no space")
    assert list(tiny_disk.iterdir()) == [] and _sha(src) == sha
    a, b = embedded_pair(tiny_disk / "set")
    single = tiny_disk / "one.ome.tif"
    write_ome(single, ome_xml(uuid=new_uuid()))
    _fill(tiny_disk)
    before = {p: _sha(p) for p in (a, b, single)}
    proc = _run("meta", "set", single, "--name", "n" * 3000)
    _one_error_line(proc, single.name, "no space")
    proc = _run("repair", a, b, "--to-companion")
    _one_error_line(proc, "set.companion.ome", "no space")
    assert {p: _sha(p) for p in before} == before
    assert sorted(p.name for p in a.parent.iterdir()) == [a.name, b.name]
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["filler", single.name, "set"]
