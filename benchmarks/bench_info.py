"""``ometiff info`` on many-plane OME-TIFFs written by Bio-Formats, and start-up on small files.

Targets (issue 2): on 6,000 planes (2 channels x 3,000 time points, 32x32),
``ometiff info`` as a whole process takes < 1/5 of Bio-Formats ``showinf -nopix``
and < 1/2 of ``ome_types.from_tiff``; on 30,000 planes it stays under a second.
Start-up: on a small file of any variant (ImageJ, plain, OME) the whole process stays
under 0.15 s (issue 9). Plain and ImageJ files are laid out from ometiff's own IFD walk,
so none of the three imports tifffile or numpy; ``import tifffile`` (the cost they
used to pay) is timed in the same run and shown in the notes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from _common import PY, WORK, bf_cmd, bioformats_ome_tiff, have_bioformats, time_process


def _bioformats_file(planes: int) -> Path:
    return bioformats_ome_tiff("info", planes)


def _small_files() -> dict[str, Path]:
    """A small ImageJ hyperstack, plain multi-page TIFF and OME-TIFF (cached)."""
    import numpy as np
    import tifffile

    WORK.mkdir(parents=True, exist_ok=True)
    files = {
        "ImageJ": WORK / "small_imagej.tif",
        "plain": WORK / "small_plain.tif",
        "OME": WORK / "small.ome.tif",
    }
    data = np.zeros((2, 4, 3, 64, 64), np.uint16)
    if not files["ImageJ"].exists():
        tifffile.imwrite(
            files["ImageJ"],
            data,
            imagej=True,
            resolution=(1 / 0.3, 1 / 0.3),
            metadata={"axes": "TZCYX", "unit": "um", "spacing": 2.0},
        )
    if not files["plain"].exists():
        tifffile.imwrite(files["plain"], data[0, :, 0], metadata=None, photometric="minisblack")
    if not files["OME"].exists():
        tifffile.imwrite(files["OME"], data, metadata={"axes": "TZCYX"}, ome=True)
    return files


def startup_rows(repeat: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    floor, _ = time_process([PY, "-c", "import tifffile"], repeat=repeat)
    for label, path in _small_files().items():
        ours, peak = time_process([PY, "-m", "ometiff", "info", str(path)], repeat=repeat)
        rows.append(
            {
                "name": f"info small {label} file, whole process",
                "ours_s": ours,
                "anchor": "0.15 s",
                "anchor_s": 0.15,
                "ratio": 0.15 / ours,
                "target": "ours < 0.15 s",
                "ok": ours < 0.15,
                "peak_rss_mb": peak,
                "notes": f"python -c 'import tifffile' takes {floor:.3f} s",
            }
        )
    return rows


def run(quick: bool = False) -> list[dict[str, object]]:
    rows = startup_rows(repeat=3 if quick else 7)
    ometiff = [PY, "-m", "ometiff", "info"]
    f6 = _bioformats_file(6000)
    ours, peak = time_process([*ometiff, str(f6)], repeat=3)
    ome_types_s, _ = time_process(
        [PY, "-c", f"import ome_types; ome_types.from_tiff({str(f6)!r})"], repeat=1 if quick else 2
    )
    rows.append(
        {
            "name": "info 6,000 planes vs ome_types.from_tiff",
            "ours_s": ours,
            "anchor": "ome_types.from_tiff",
            "anchor_s": ome_types_s,
            "ratio": ome_types_s / ours,
            "target": ">= 2",
            "ok": ome_types_s / ours >= 2,
            "peak_rss_mb": peak,
        }
    )
    if have_bioformats():
        bf_s, _ = time_process(
            bf_cmd("loci.formats.tools.ImageInfo", "-nopix", str(f6)), repeat=1 if quick else 2
        )
        rows.append(
            {
                "name": "info 6,000 planes vs showinf -nopix",
                "ours_s": ours,
                "anchor": "Bio-Formats showinf",
                "anchor_s": bf_s,
                "ratio": bf_s / ours,
                "target": ">= 5",
                "ok": bf_s / ours >= 5,
            }
        )
    f30 = _bioformats_file(30000)
    ours30, peak30 = time_process([*ometiff, str(f30)], repeat=3)
    rows.append(
        {
            "name": "info 30,000 planes (absolute)",
            "ours_s": ours30,
            "anchor": "1 second",
            "anchor_s": 1.0,
            "ratio": 1.0 / ours30,
            "target": "ours < 1 s",
            "ok": ours30 < 1.0,
            "peak_rss_mb": peak30,
        }
    )
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
