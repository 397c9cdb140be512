"""The ometiff demo: write the OME-TIFF textbook figure, then inspect and validate it.

One file holding two image series — a z-stack and a multi-channel time series —
is written with :func:`ometiff.write`, then shown the way ``ometiff info`` shows
it, validated, and its layout drawn as a picture.

Usage: python examples/demo.py [OUTPUT_FOLDER]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import ometiff
from ometiff.cli.main import main as cli


def make_data() -> tuple[np.ndarray, np.ndarray]:
    """A synthetic z-stack (a bead blurring with depth) and a 3-channel time series."""
    yy, xx = np.mgrid[0:128, 0:160]
    zstack = np.empty((12, 128, 160), np.uint16)
    for z in range(12):
        sigma = 4 + abs(z - 6) * 2
        zstack[z] = (3000 * np.exp(-((yy - 64) ** 2 + (xx - 80) ** 2) / (2 * sigma**2))).astype(
            np.uint16
        )
    channels = np.zeros((5, 3, 128, 160), np.uint8)  # T, C, Y, X
    for t in range(5):
        for c in range(3):
            cy, cx = 30 + 30 * c, 20 + 25 * t
            channels[t, c] = (200 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 200.0)).astype(
                np.uint8
            )
    return zstack, channels


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "demo-output")
    out.mkdir(parents=True, exist_ok=True)
    target = out / "textbook.ome.tif"
    zstack, channels = make_data()
    ometiff.write(
        target,
        [zstack, channels],
        axes=["ZYX", "TCYX"],
        names=["z-stack", "multi-channel time series"],
        physical_size=[{"X": 0.325, "Y": 0.325, "Z": 1.5}, {"X": 0.65, "Y": 0.65}],
        time_increment=[None, 2.0],
        channel_names=[["GFP"], ["DAPI", "GFP", "mCherry"]],
        channel_colors=[["#00FF00"], ["#0000FF", "#00FF00", "#FF0000"]],
        compression="zlib",
        overwrite=True,
    )
    print(f"wrote {target}\n")
    print("$ ometiff info", target)
    code = cli(["info", str(target), "--diagram", str(out / "textbook-layout.png")])
    print("\n$ ometiff validate", target)
    code = max(code, cli(["validate", str(target)]))
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
