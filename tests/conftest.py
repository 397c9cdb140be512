"""Shared fixtures: the real-file corpus (skipped cleanly when absent) and factories."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("OMETIFF_TESTDATA", ROOT.parent / "shared" / "testdata"))


def heavy_imports_of(*runs: list[object], then: str = "") -> list[str]:
    """Run the ``ometiff`` command lines ``runs`` (each must exit 0), then the Python
    code ``then``, in one fresh interpreter on this tree's ``src``; return which of
    ome_types and pydantic (about a second of imports) they loaded."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from ometiff.cli.main import main\n"
        f"for args in {[list(map(str, r)) for r in runs]!r}:\n"
        "    assert main(args) == 0, args\n"
        f"{then}\n"
        "import json\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'ome_types', 'pydantic'})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        timeout=300,
    )
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def corpus_files(*patterns: str) -> list[Path]:
    """Corpus files matching glob patterns (relative to the corpus root), sorted."""
    if not CORPUS.is_dir():
        return []
    out: set[Path] = set()
    for pattern in patterns:
        out.update(p for p in CORPUS.glob(pattern) if p.is_file())
    return sorted(out)


def corpus_id(path: Path) -> str:
    return str(path.relative_to(CORPUS))


requires_corpus = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"test corpus not found at {CORPUS} (set OMETIFF_TESTDATA)"
)


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"test corpus not found at {CORPUS} (set OMETIFF_TESTDATA)")
    return CORPUS


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: pass --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
