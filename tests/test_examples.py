"""The demo `make demo` runs works: it writes, inspects, validates and draws the file."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import tifffile

import ometiff

ROOT = Path(__file__).resolve().parents[1]


def test_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demo = runpy.run_path(str(ROOT / "examples" / "demo.py"))
    assert demo["main"]([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    target = tmp_path / "textbook.ome.tif"
    assert "Series 0: 'z-stack'" in out and "Series 1: 'multi-channel time series'" in out
    assert "✓" in out
    report = ometiff.validate(target)
    assert report.errors == () and report.warnings == ()
    fi = ometiff.info(target)
    assert [(s.size_z, s.size_c, s.size_t) for s in fi.series] == [(12, 1, 1), (1, 3, 5)]
    with tifffile.TiffFile(target) as tf:
        assert len(tf.pages) == 27
    assert (tmp_path / "textbook-layout.png").stat().st_size > 1000
