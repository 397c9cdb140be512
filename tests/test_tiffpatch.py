"""Crash-safe IFD0 description patch: in place, appended, both TIFF flavours, every fault point."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

from ometiff.atomic import FAULT_ENV, FAULT_EXIT
from ometiff.errors import InvalidTiffError, WriteError
from ometiff.tiff.patch import (
    FAULT_POINTS,
    read_raw_description,
    write_description,
    write_text_atomic,
)
from ometiff.tiff.structure import inspect_tiff, read_description

OLD = '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">' + "<!--{}-->" + "</OME>"


def _make(path: Path, *, bigtiff: bool = False, byteorder: str = "<", pad: int = 200) -> np.ndarray:
    data = np.arange(3 * 32 * 48, dtype=np.uint16).reshape(3, 32, 48)
    tifffile.imwrite(
        path,
        data,
        description=OLD.format("o" * pad).encode(),
        metadata=None,
        bigtiff=bigtiff,
        byteorder=byteorder,
        photometric="minisblack",
    )
    return data


def _pixels_hash(path: Path) -> str:
    with tifffile.TiffFile(path) as tf:
        return hashlib.sha1(np.stack([p.asarray() for p in tf.pages]).tobytes()).hexdigest()


@pytest.mark.parametrize("bigtiff", [False, True], ids=["classic", "bigtiff"])
@pytest.mark.parametrize("byteorder", ["<", ">"], ids=["II", "MM"])
def test_in_place_and_appended(tmp_path: Path, bigtiff: bool, byteorder: str) -> None:
    path = tmp_path / "a.ome.tif"
    _make(path, bigtiff=bigtiff, byteorder=byteorder)
    size0, pixels0 = path.stat().st_size, _pixels_hash(path)
    ifd0 = inspect_tiff(path).offsets[0]
    short = OLD.format("µ" * 20)  # fits in the old value's bytes
    r = write_description(path, short)
    assert r.in_place and path.stat().st_size == size0
    assert read_description(path) == short
    assert read_raw_description(path).rstrip(b"\x00") == short.encode()
    long = OLD.format("é" * 3000)  # does not fit: appended
    r = write_description(path, long)
    assert not r.in_place
    assert path.stat().st_size < size0 + len(long.encode()) + 16
    st = inspect_tiff(path)
    assert st.offsets[0] == ifd0  # IFD0 stays where it was
    assert st.description == long and st.ifd_count == 3 and not st.problems
    assert _pixels_hash(path) == pixels0
    with tifffile.TiffFile(path) as tf:
        assert tf.pages[0].description == long


def test_refuses_bad_input(tmp_path: Path) -> None:
    text = tmp_path / "x.ome.tif"
    text.write_bytes(b"hello, not a TIFF")
    with pytest.raises(InvalidTiffError, match="not a TIFF"):
        write_description(text, "<OME/>")
    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, np.zeros((8, 8), np.uint8), metadata=None)
    before = plain.read_bytes()
    with pytest.raises(InvalidTiffError, match="no ImageDescription"):
        write_description(plain, "<OME/>")
    assert plain.read_bytes() == before
    ro = tmp_path / "ro.ome.tif"
    _make(ro)
    before = ro.read_bytes()
    ro.chmod(stat.S_IRUSR | stat.S_IRGRP)
    try:
        with pytest.raises(WriteError, match="read-only"):
            write_description(ro, OLD.format("new"))
    finally:
        ro.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert ro.read_bytes() == before


_CHILD = (
    "import sys\n"
    "from ometiff.tiff.patch import write_description\n"
    "write_description(sys.argv[1], open(sys.argv[2], encoding='utf-8').read())\n"
)


@pytest.mark.parametrize("fits", [True, False], ids=["in-place", "appended"])
@pytest.mark.parametrize("point", FAULT_POINTS)
def test_crash_at_every_point_leaves_old_or_new(tmp_path: Path, point: str, fits: bool) -> None:
    """Kill the editing process at each step: the file holds the complete old or new XML."""
    for bigtiff in (False, True):
        path = tmp_path / f"crash{int(bigtiff)}.ome.tif"
        _make(path, bigtiff=bigtiff)
        old = read_description(path)
        pixels0 = _pixels_hash(path)
        new = OLD.format(("n" * 50) if fits else ("N" * 5000))
        xml = tmp_path / "new.xml"
        xml.write_text(new, encoding="utf-8")
        env = {**os.environ, FAULT_ENV: point}
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path), str(xml)],
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        reached = fits or point not in ("mid-xml", "after-xml")
        assert proc.returncode == (FAULT_EXIT if reached else 0), proc.stderr
        got = read_description(path)
        expected = new if point == "after-switch-back" or not reached else old
        assert got == expected
        with tifffile.TiffFile(path) as tf:  # an independent reader agrees
            assert tf.pages[0].description == expected
            assert len(tf.pages) == 3
        assert _pixels_hash(path) == pixels0
        # the next edit works on whatever the crash left
        write_description(path, OLD.format("after"))
        assert read_description(path) == OLD.format("after")
        assert _pixels_hash(path) == pixels0


def test_companion_replace_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "set.companion.ome"
    path.write_bytes(b"<OME/>")
    code = (
        "import sys\nfrom ometiff.tiff.patch import write_text_atomic\n"
        "write_text_atomic(sys.argv[1], b'<OME>new</OME>')\n"
    )
    env = {**os.environ, FAULT_ENV: "companion-before-rename"}
    proc = subprocess.run([sys.executable, "-c", code, str(path)], env=env, timeout=60, check=False)
    assert proc.returncode == FAULT_EXIT
    assert path.read_bytes() == b"<OME/>"
    left = [p.name for p in tmp_path.iterdir() if p != path]  # the killed run's temporary
    assert len(left) == 1 and left[0].startswith(f".{path.name}.ometiff-tmp-"), left
    write_text_atomic(path, b"<OME>new</OME>")
    assert path.read_bytes() == b"<OME>new</OME>"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # the stale one is gone
