"""docs/python.md runs: its Python blocks in order, each output block what they print."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "python.md"
BLOCK = re.compile(r"```(python|text)\n(.*?)```", re.S)


def _blocks() -> list[tuple[str, str | None]]:
    """(code, expected output or None) for every python block of the page."""
    found = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    out: list[tuple[str, str | None]] = []
    for kind, body in found:
        if kind == "python":
            out.append((body, None))
        elif out and out[-1][1] is None:
            out[-1] = (out[-1][0], body)
    return out


def test_python_md_examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("xarray")
    monkeypatch.chdir(tmp_path)
    blocks = _blocks()
    assert len(blocks) >= 8
    namespace: dict[str, object] = {"__name__": "docs_python"}
    for code, expected in blocks:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            exec(compile(code, str(DOC), "exec"), namespace)  # the page's own examples
        if expected is not None:
            assert buf.getvalue() == expected, f"output of:\n{code}"
