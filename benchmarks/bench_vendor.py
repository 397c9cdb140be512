"""Vendor conversion start-up: ``ometiff convert`` vs OpenReadout's verified export.

Small CZI, LIF and ND2 files from the corpus (``OMETIFF_TESTDATA``, default
``../shared/testdata``) converted to OME-TIFF as whole processes, both verified:
``python -m ometiff convert SRC DST --quiet`` (zlib, pyramid "auto": none for
these sizes) against ``openreadout.export(SRC, DST)`` (its defaults; it reads
back and verifies too). On files this small the time is start-up: imports,
opening the vendor file, building the OME metadata. Target: ours at most 1.5x
OpenReadout's time (ratio = OpenReadout / ours >= 0.67). Runs are interleaved,
best of N, so machine noise hits both sides alike. OpenReadout is in the
optional ``bench`` extra. A reference row times the floor every ``ometiff``
conversion pays before reading a byte (importing numpy, tifffile, typer, lxml)
in the same run, and one per format that adds the vendor library's import to that
floor (what is left above it is ometiff's own work: its modules, opening the file,
building the OME-XML, writing and verifying).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from _common import PY, ROOT, WORK, time_process

CORPUS = Path(os.environ.get("OMETIFF_TESTDATA", ROOT.parent / "shared" / "testdata"))
FILES = (
    "czi/czitools/CellDivision_T3_Z5_CH2_X240_Y170_comp1.czi",
    "lif/readlif/LeicaLASX_xz-plane_example.lif",
    "nd2/arcadia-microscopy-tools/example-multichannel.nd2",
)
TARGET = 1 / 1.5
#: The library each reader imports (readers/czi.py, lif.py, nd2.py).
LIBRARIES = {".czi": "pylibCZIrw.czi", ".lif": "liffile", ".nd2": "nd2"}
_FLOOR = "import numpy, tifffile, typer, lxml.etree"

_OPENREADOUT = (
    "import sys, openreadout; assert openreadout.export(sys.argv[1], sys.argv[2])['verified']"
)


def run(quick: bool) -> list[dict[str, Any]]:
    """Time both converters on each corpus file present."""
    if importlib.util.find_spec("openreadout") is None:
        return [
            {
                "name": "vendor convert vs OpenReadout",
                "ours_s": 0.0,
                "anchor": "openreadout",
                "anchor_s": 0.0,
                "ratio": 0.0,
                "target": f">= {TARGET:.2f}",
                "ok": False,
                "reference": True,
                "notes": "openreadout missing; pip install -e '.[bench]'",
            }
        ]
    out = WORK / "vendor"
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    repeat = 3 if quick else 5
    floor, _ = time_process([PY, "-c", _FLOOR], repeat=repeat)
    libs = []
    for rel in FILES:
        src = CORPUS / rel
        if not src.is_file():
            continue
        ours_out, ref_out = out / "ours.ome.tif", out / "ref.ome.tif"
        ours_cmd = [PY, "-m", "ometiff", "convert", str(src), str(ours_out), "--quiet"]
        ref_cmd = [PY, "-c", _OPENREADOUT, str(src), str(ref_out)]
        lib = LIBRARIES[src.suffix.lower()]
        lib_cmd = [PY, "-c", f"{_FLOOR}, {lib}"]
        t_ours = t_ref = t_lib = float("inf")
        rss_ours = rss_ref = 0
        for _ in range(repeat):
            ours_out.unlink(missing_ok=True)
            ref_out.unlink(missing_ok=True)
            t, rss = time_process(ours_cmd)
            t_ours, rss_ours = min(t_ours, t), max(rss_ours, rss)
            t, rss = time_process(ref_cmd)
            t_ref, rss_ref = min(t_ref, t), max(rss_ref, rss)
            t_lib = min(t_lib, time_process(lib_cmd)[0])
        ratio = t_ref / t_ours
        rows.append(
            {
                "name": f"convert {src.name} (whole process, verified)",
                "ours_s": t_ours,
                "anchor": "openreadout.export",
                "anchor_s": t_ref,
                "ratio": ratio,
                "target": f">= {TARGET:.2f} (ours <= 1.5x)",
                "ok": ratio >= TARGET,
                "peak_rss_mb": rss_ours,
                "notes": f"OpenReadout peak {rss_ref} MB",
            }
        )
        ours_out.unlink(missing_ok=True)
        ref_out.unlink(missing_ok=True)
        libs.append(
            {
                "name": f"floor + import {lib}",
                "ours_s": t_lib,
                "anchor": f"ours on {src.suffix}",
                "anchor_s": t_ours,
                "ratio": t_ours / t_lib,
                "target": "none",
                "ok": True,
                "reference": True,
                "notes": "ratio: the whole conversion / this import floor",
            }
        )
    if rows:
        ref = min(r["anchor_s"] for r in rows)
        rows.append(
            {
                "name": "floor: import numpy, tifffile, typer, lxml",
                "ours_s": floor,
                "anchor": "fastest openreadout.export",
                "anchor_s": ref,
                "ratio": ref / floor,
                "target": "none",
                "ok": True,
                "reference": True,
            }
        )
    return rows + libs


if __name__ == "__main__":
    for row in run("--quick" in sys.argv):
        print(row)
