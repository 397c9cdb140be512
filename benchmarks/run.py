"""Run every benchmark module (benchmarks/bench_*.py) and print ratios against anchors.

Each module defines ``run(quick: bool) -> list[dict]``; a row has at least
``name``, ``ours_s``, ``anchor``, ``anchor_s``, ``ratio`` (anchor_s / ours_s unless
the row says otherwise), ``target`` (text) and ``ok`` (bool), and may add
``peak_rss_mb``, ``notes`` and ``reference`` (a comparison with no target: printed
as REF, never counted as missed). Anchors (tifffile, ome-types, Bio-Formats) are
measured in the same run.

Usage: python benchmarks/run.py [--quick] [NAME ...]   (NAME: info, validate, write, convert, vendor, zarr, read, view, scale)
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _load(path: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # so that Dask can ship its functions (bench_scale)
    sys.path.insert(0, str(HERE))
    spec.loader.exec_module(module)
    return module


def _as_installed() -> None:
    """Time ometiff as an installed package runs: with its bytecode compiled.

    ``pip install`` compiles every module; a tree run with
    ``PYTHONDONTWRITEBYTECODE`` set would recompile ometiff's modules in every
    timed process while the anchors (installed wheels) load theirs compiled.
    """
    import compileall
    import os

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.dont_write_bytecode = False
    compileall.compile_dir(str(HERE.parent / "src" / "ometiff"), quiet=1)


def main(argv: list[str] | None = None) -> int:
    _as_installed()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="only these benchmarks (e.g. info write)")
    parser.add_argument("--quick", action="store_true", help="smaller inputs")
    args = parser.parse_args(argv)
    modules = sorted(HERE.glob("bench_*.py"))
    if args.names:
        modules = [m for m in modules if m.stem.removeprefix("bench_") in args.names]
    failed = 0
    for path in modules:
        print(f"== {path.stem} ==", flush=True)
        t0 = time.perf_counter()
        rows = _load(path).run(quick=args.quick)
        for row in rows:
            if row.get("reference"):
                mark = "REF "  # a comparison without a target: informs, never counts
            else:
                mark = "OK  " if row.get("ok") else "MISS"
                failed += not row.get("ok")
            extra = ""
            if row.get("peak_rss_mb") is not None:
                extra += f"  peak RSS {row['peak_rss_mb']:.0f} MB"
            if row.get("notes"):
                extra += f"  ({row['notes']})"
            print(
                f"{mark} {row['name']}: ours {row['ours_s']:.3f} s, "
                f"{row['anchor']} {row['anchor_s']:.3f} s, ratio {row['ratio']:.2f} "
                f"[target {row['target']}]{extra}",
                flush=True,
            )
        print(f"   ({time.perf_counter() - t0:.0f} s)", flush=True)
    print(f"{failed} target(s) missed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
