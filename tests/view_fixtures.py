"""Shared by the ``ometiff view`` tests: a generated multi-channel pyramid and a client."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import ometiff

CHANNELS = ("DAPI", "GFP", "mCherry")
COLORS = ("#0000FF", "#00FF00", "#FF0000")
SHAPE = (2, 3, 3, 600, 700)  # T C Z Y X


def pyramid_data() -> np.ndarray:
    """Cells-like pixels that differ by T, C, Z, Y and X (so a wrong plane or place shows).

    Channel 0: round "nuclei" on a jittered grid; channel 1: rings around them;
    channel 2: a diagonal texture. Z and T move the pattern and scale the signal.
    """
    t, c, z, y, x = np.indices(SHAPE, dtype=np.int32)
    cx = (x + 17 * t + 9 * z) % 120 - 60
    cy = (y + 11 * z) % 100 - 50
    r2 = cx * cx + cy * cy
    nuclei = np.where(r2 < 30 * 30, 20000 - r2 * 10, 600)
    rings = np.where((r2 > 32 * 32) & (r2 < 40 * 40), 15000, 800)
    texture = 1500 + 1200 * ((x + y + 5 * t) // 20 % 2) + (x * 3 + y * 5) % 700
    out = np.where(c == 0, nuclei, np.where(c == 1, rings, texture))
    out = out + z * 300 + t * 700 + (x * 7 + y * 13) % 97  # noise-like detail
    return out.astype(np.uint16)


def write_pyramid(folder: Path, name: str = "pyramid.ome.tif") -> tuple[Path, np.ndarray]:
    """A tiled 2-level pyramid, 3 named channels with colours, 0.5 µm pixels."""
    data = pyramid_data()
    path = folder / name
    ometiff.write(
        path,
        data,
        axes="TCZYX",
        channel_names=list(CHANNELS),
        channel_colors=list(COLORS),
        physical_size={"X": 0.5, "Y": 0.5, "Z": 2.0},
        tile=(256, 256),
        pyramid_levels=2,
        compression="zlib",
    )
    return path, data


def composite_of(
    planes: list[np.ndarray], specs: list[tuple[tuple[int, int, int], float, float]]
) -> np.ndarray:
    """The expected composite, computed here from the data (not by the viewer's code)."""
    out = np.zeros((*planes[0].shape, 3), np.float64)
    for plane, (rgb, lo, hi) in zip(planes, specs, strict=True):
        v = np.clip((plane.astype(np.float64) - lo) / (hi - lo), 0, 1)
        out += v[:, :, None] * (np.array(rgb) / 255.0)
    return np.round(np.clip(out, 0, 1) * 255).astype(np.uint8)
