"""Benchmark: OME-TIFF re-tiling with zlib and a 3-resolution pyramid.

The issue's case: a 1 GiB uncompressed OME-TIFF (2 channels x 16 z x 4096 x 4096
uint16) written by Bio-Formats, converted to 512x512 tiles, zlib, 3 resolutions
(full + 2 sub-levels). Compared, as whole processes, with

* ``bfconvert -noflat -pyramid-resolutions 3 -pyramid-scale 2 -tilex 512
  -tiley 512 -compression zlib`` (the anchor), and
* the same layout built by hand with tifffile (float mean downsample, zlib).

``ometiff convert`` verifies every plane by default, so its time includes reading
every IFD (planes and pyramid levels) back from disk and comparing checksums,
overlapped with the write. The input is created once (data generated
here, written by bfconvert) and cached under ``_common.WORK``.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np

from _common import PY, WORK, bf_cmd, bfconvert_pyramid, have_bioformats, time_process

TARGET_RATIO = 6.0
TARGET_RSS_MB = 512


def _shape(quick: bool) -> tuple[int, int, int]:
    return (2, 4, 2048) if quick else (2, 16, 4096)


def _make_input(quick: bool) -> Path:
    """A Bio-Formats-written uncompressed OME-TIFF (cached)."""
    import tifffile

    c, z, n = _shape(quick)
    tag = f"c{c}z{z}_{n}"
    out = WORK / f"convert_in_{tag}.ome.tif"
    if out.exists():
        return out
    WORK.mkdir(parents=True, exist_ok=True)
    raw = WORK / f"convert_raw_{tag}.tif"
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:n, 0:n]
    base = ((xx // 7 + yy // 5) % 2048).astype(np.uint16)

    def planes():  # microscope-like: smooth structure plus shot noise
        for zi in range(z):
            for ci in range(c):
                noise = rng.integers(0, 64, (n, n), dtype=np.uint16)
                yield base + noise + np.uint16(ci * 500 + zi * 10)

    tifffile.imwrite(
        raw, planes(), shape=(z, c, n, n), dtype=np.uint16, imagej=True, metadata={"axes": "ZCYX"}
    )
    tmp = out.with_name("tmp_" + out.name)
    import subprocess

    subprocess.run(
        bf_cmd("loci.formats.tools.ImageConverter", "-overwrite", "-bigtiff", str(raw), str(tmp)),
        check=True,
        capture_output=True,
    )
    tmp.replace(out)
    raw.unlink()
    return out


_BY_HAND = textwrap.dedent("""
    import sys, numpy as np, tifffile
    src, dst = sys.argv[1], sys.argv[2]
    with tifffile.TiffFile(src) as tf:
        s = tf.series[0]
        n = len(s.pages)
        with tifffile.TiffWriter(dst, bigtiff=True) as tw:
            for i in range(n):
                plane = s.pages[i].asarray()
                opts = dict(tile=(512, 512), compression="zlib", maxworkers=2)
                tw.write(plane, subifds=2, metadata=None, **opts)
                level = plane
                for _ in range(2):
                    f = level.astype(np.float32)
                    f = (f[0::2, 0::2] + f[1::2, 0::2] + f[0::2, 1::2] + f[1::2, 1::2]) / 4
                    level = np.round(f).astype(plane.dtype)
                    tw.write(level, subfiletype=1, **opts)
""")


def run(quick: bool) -> list[dict]:
    """Time ours, bfconvert and tifffile-by-hand on the same input."""
    if not have_bioformats():
        return [
            {
                "name": "convert 1 GiB OME-TIFF -> tiled zlib pyramid",
                "ours_s": None,
                "anchor": "bfconvert",
                "anchor_s": None,
                "ratio": None,
                "target": f">= {TARGET_RATIO}x",
                "ok": False,
                "notes": "Bio-Formats missing (make bfjar): input is written by bfconvert",
            }
        ]
    src = _make_input(quick)
    out_dir = WORK / "convert_out"
    out_dir.mkdir(parents=True, exist_ok=True)
    ours_out = out_dir / "ours.ome.tif"
    bf_out = out_dir / "bf.ome.tif"
    hand_out = out_dir / "hand.ome.tif"
    ours_cmd = [
        PY,
        "-m",
        "ometiff",
        "convert",
        str(src),
        str(ours_out),
        "--tile",
        "512",
        "--compression",
        "zlib",
        "--pyramid",
        "2",
        "--overwrite",
        "--quiet",
    ]
    ours_s, ours_rss = time_process(ours_cmd, repeat=1 if not quick else 2)
    bf_s, bf_rss = time_process(bfconvert_pyramid(src, bf_out))
    script = out_dir / "by_hand.py"
    script.write_text(_BY_HAND)
    hand_s, hand_rss = time_process([PY, str(script), str(src), str(hand_out)])
    c, z, n = _shape(quick)
    size = f"{c}c x {z}z x {n}x{n} uint16"
    ratio = bf_s / ours_s
    rows = [
        {
            "name": f"convert {size} -> 512 tiles, zlib, 3 resolutions (verified)",
            "ours_s": round(ours_s, 2),
            "anchor": "bfconvert",
            "anchor_s": round(bf_s, 2),
            "ratio": round(ratio, 2),
            "target": f">= {TARGET_RATIO}x, peak < {TARGET_RSS_MB} MB",
            "ok": ratio >= TARGET_RATIO and ours_rss < TARGET_RSS_MB,
            "peak_rss_mb": ours_rss,
            "notes": f"bfconvert peak {bf_rss} MB",
        },
        {
            "name": f"convert {size} vs tifffile by hand",
            "ours_s": round(ours_s, 2),
            "anchor": "tifffile by hand",
            "anchor_s": round(hand_s, 2),
            "ratio": round(hand_s / ours_s, 2),
            "target": "reference (no target)",
            "ok": hand_s >= ours_s,
            "reference": True,
            "peak_rss_mb": ours_rss,
            "notes": f"by-hand peak {hand_rss} MB; ours also reads back and verifies every IFD",
        },
    ]
    for p in (ours_out, bf_out, hand_out):
        p.unlink(missing_ok=True)
    return rows


if __name__ == "__main__":
    for row in run("--quick" in sys.argv):
        print(row)
