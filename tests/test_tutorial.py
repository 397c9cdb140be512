"""The tutorial (docs/tutorial/) runs: every block of every page, output as shown.

Each page runs in its own temporary folder (after the pages it builds on); shell
blocks go through ``python -m ometiff`` of this tree, Python blocks through exec.
A page whose shown output drifts from the real output fails, naming the block.
``python tests/tutorial_runner.py --update PAGE`` rewrites a page's output blocks.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

import pytest

import tutorial_runner as tr

PAGES = tr.pages()
CORPUS = Path(os.environ.get("OMETIFF_TESTDATA", tr.ROOT.parent / "shared" / "testdata"))


def _param(path: Path) -> object:
    marks = [pytest.mark.slow] if "slow" in tr.options(path) else []
    return pytest.param(path, id=path.stem, marks=marks)


def test_pages_exist_and_readme_links_them() -> None:
    names = [p.name for p in PAGES]
    assert len(names) >= 6, names
    index = (tr.TUTORIAL / "README.md").read_text(encoding="utf-8")
    for name in names:
        assert f"({name})" in index, f"docs/tutorial/README.md does not link {name}"
    assert "docs/tutorial/" in (tr.ROOT / "README.md").read_text(encoding="utf-8")


def test_every_page_has_exercises_with_hidden_answers() -> None:
    for path in PAGES:
        text = path.read_text(encoding="utf-8")
        if path.name.startswith("07"):
            continue
        assert "## Exercises" in text, path.name
        assert text.count("<details>") >= 2, path.name
        assert text.count("<details>") == text.count("</details>"), path.name


def test_images_referenced_exist() -> None:
    for path in [*PAGES, tr.TUTORIAL / "README.md"]:
        for ref in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", path.read_text(encoding="utf-8")):
            assert (path.parent / ref).is_file(), f"{path.name}: missing image {ref}"


@pytest.mark.parametrize("path", [_param(p) for p in PAGES])
def test_page_runs_as_shown(path: Path, tmp_path: Path) -> None:
    opts = tr.options(path)
    if "corpus" in opts and not CORPUS.is_dir():
        pytest.skip(f"test corpus not found at {CORPUS} (set OMETIFF_TESTDATA)")
    for word in opts:
        if word.startswith("needs="):  # optional packages the page (or its prerequisites) use
            for module in word.split("=", 1)[1].split(","):
                pytest.importorskip(module)
    results = tr.run_page(path, tmp_path, quiet_pages=tr.prerequisites(path))
    assert results, f"{path.name} has no runnable block"
    for r in results:
        actual = tr.normalise(r.actual, tmp_path)
        expected = tr.normalise(r.block.expected or "", tmp_path)
        if actual != expected:
            diff = "".join(
                difflib.unified_diff(
                    expected.splitlines(True), actual.splitlines(True), "shown", "real"
                )
            )
            pytest.fail(f"{path.name}: output of\n{r.block.code}\ndrifted:\n{diff}")


def test_runner_catches_drift_and_normalises_only_machine_parts(tmp_path: Path) -> None:
    page = tmp_path / "99-drift.md"
    page.write_text(
        "```sh\nometiff info missing.tif\n```\n\n```text\n$ ometiff info missing.tif\nok\n```\n"
        "```python\nprint('took 1.5 s', 3)\n```\n\n```text\ntook 0.2 s 4\n```\n",
        encoding="utf-8",
    )
    work = tmp_path / "work"
    work.mkdir()
    shell, python = tr.run_page(page, work)
    assert shell.block.expected == "$ ometiff info missing.tif\nok\n"
    assert shell.actual == (
        "$ ometiff info missing.tif\nometiff: error: missing.tif: no such file or directory\n"
    )
    # timings are masked, other numbers are not: the second block still drifts
    assert tr.normalise(python.actual, work) == "took <time> 3\n"
    assert tr.normalise(python.block.expected or "", work) == "took <time> 4\n"
    assert tr.normalise(f"{work}/a.tif {work}", work) == "a.tif ."
