"""Regenerate the tutorial's figures (docs/tutorial/img/*.png) by running its pages.

Every figure of the tutorial is drawn by ometiff itself while a page runs
(``ometiff info --diagram``, ``ometiff show``); this script runs each page in a
temporary folder, exactly as tests/test_tutorial.py does, and copies every PNG a
page shows as ``img/NAME.png`` from that folder into docs/tutorial/img/. Pages that
need the corpus are skipped (with a note) when $OMETIFF_TESTDATA is absent.

Usage: python scripts/tutorial_figures.py   (or: make tutorial-figures)
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import tutorial_runner as tr  # noqa: E402 (the tests' page runner)

IMAGE = re.compile(r"!\[[^\]]*\]\(img/([^)]+\.png)\)")


def main() -> int:
    """Run every page and copy the figures it made; return the process exit code."""
    out = tr.TUTORIAL / "img"
    out.mkdir(exist_ok=True)
    corpus = Path(os.environ.get("OMETIFF_TESTDATA", ROOT.parent / "shared" / "testdata"))
    missing: list[str] = []
    for page in tr.pages():
        names = IMAGE.findall(page.read_text(encoding="utf-8"))
        if not names:
            continue
        if "corpus" in tr.options(page) and not corpus.is_dir():
            print(f"{page.name}: skipped (no corpus at {corpus}; set OMETIFF_TESTDATA)")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            tr.run_page(page, Path(tmp), quiet_pages=tr.prerequisites(page))
            for name in names:
                made = Path(tmp) / name
                if made.is_file():
                    shutil.copyfile(made, out / name)
                    print(f"{page.name}: img/{name}")
                else:
                    missing.append(f"{page.name}: img/{name} was not made by the page")
    for line in missing:
        print(line, file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
