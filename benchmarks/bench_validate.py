"""``ometiff.validate`` on a 30,000-plane OME-TIFF written by Bio-Formats.

Targets (issue 3): validating the file takes <= 1.5x the time of lxml's XSD
validation of its OME-XML alone (parse + validate, schema compiled beforehand),
and >= 5x less than ``ome_types.from_xml(xml, validate=True)``. All three run in
this process, best of ``repeat`` runs, on the same file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from _common import bioformats_ome_tiff

PLANES = 30000


def _bioformats_file(planes: int) -> Path:
    return bioformats_ome_tiff("validate", planes)


def _best(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run(quick: bool = False) -> list[dict[str, object]]:
    import ome_types

    import ometiff
    from ometiff.ome.schema import load_schema
    from ometiff.ome.xml import parse_xml
    from ometiff.tiff.structure import read_description

    path = _bioformats_file(PLANES)
    xml = read_description(path) or ""
    schema = load_schema()
    repeat = 2 if quick else 3
    report = ometiff.validate(path)  # warm-up (imports, schema compile)
    ours = _best(lambda: ometiff.validate(path), repeat)
    xsd = _best(lambda: schema.validate(parse_xml(xml)), repeat)
    ome_types_s = _best(lambda: ome_types.from_xml(xml, validate=True), 1)
    note = f"{len(xml):,} bytes of OME-XML; findings: {len(report.issues)}"
    return [
        {
            "name": f"validate {PLANES:,} planes vs lxml XSD of the XML alone",
            "ours_s": ours,
            "anchor": "lxml parse + XMLSchema.validate",
            "anchor_s": xsd,
            "ratio": ours / xsd,
            "target": "<= 1.5",
            "ok": ours / xsd <= 1.5,
            "notes": note,
        },
        {
            "name": f"validate {PLANES:,} planes vs ome_types.from_xml(validate=True)",
            "ours_s": ours,
            "anchor": "ome_types.from_xml(xml, validate=True)",
            "anchor_s": ome_types_s,
            "ratio": ome_types_s / ours,
            "target": ">= 5",
            "ok": ome_types_s / ours >= 5,
        },
    ]


if __name__ == "__main__":
    for row in run(quick=False):
        print(
            f"{row['name']}: ours {row['ours_s']:.2f} s, {row['anchor']} {row['anchor_s']:.2f} s, "
            f"ratio {row['ratio']:.2f} (target {row['target']}) {'ok' if row['ok'] else 'MISSED'}"
        )
