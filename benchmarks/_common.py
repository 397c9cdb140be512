"""Helpers shared by the benchmark modules: timing whole processes and Bio-Formats."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JAR = Path(os.environ.get("OMETIFF_BFJAR", ROOT / ".cache" / "bioformats_package.jar"))
PY = sys.executable
WORK = Path(os.environ.get("OMETIFF_BENCH_DIR", ROOT / ".cache" / "bench"))


def have_bioformats() -> bool:
    return shutil.which("java") is not None and JAR.is_file()


def bf_cmd(main: str, *args: str) -> list[str]:
    return [
        "java",
        "-Xmx4g",
        "-Dbioformats_can_do_upgrade_check=false",
        "-cp",
        str(JAR),
        main,
        *args,
    ]


def bfconvert_pyramid(src: object, dst: object) -> list[str]:
    """``bfconvert`` writing a 3-resolution pyramid of 512² zlib tiles: the anchor of
    the write and convert benchmarks."""
    return bf_cmd(
        "loci.formats.tools.ImageConverter",
        "-overwrite",
        "-noflat",
        "-pyramid-resolutions",
        "3",
        "-pyramid-scale",
        "2",
        "-tilex",
        "512",
        "-tiley",
        "512",
        "-compression",
        "zlib",
        str(src),
        str(dst),
    )


def time_process(cmd: list[str], *, repeat: int = 1, timeout: float = 900) -> tuple[float, int]:
    """Best wall time of ``repeat`` runs of a process, and its peak RSS in MB.

    Peak RSS is read from ``/usr/bin/time -v`` when available, else 0.
    """
    best = float("inf")
    peak = 0
    gnu_time = Path("/usr/bin/time")
    for _ in range(repeat):
        full = [str(gnu_time), "-v", *cmd] if gnu_time.exists() else cmd
        t0 = time.perf_counter()
        proc = subprocess.run(full, capture_output=True, text=True, timeout=timeout, check=False)
        elapsed = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[:3]}... failed: {proc.stderr[-1500:]}")
        best = min(best, elapsed)
        for line in proc.stderr.splitlines():
            if "Maximum resident set size" in line:
                peak = max(peak, int(line.split(":")[1]) // 1024)
    return best, peak


def bioformats_ome_tiff(name: str, planes: int) -> Path:
    """An OME-TIFF of ``planes`` 32x32 uint16 planes (2 channels x planes/2 time points),
    converted by Bio-Formats when it is available (one TiffData per plane, as it writes
    them), cached under :data:`WORK`."""
    import numpy as np
    import tifffile

    out = WORK / f"{name}_{planes}.ome.tif"
    if out.exists():
        return out
    WORK.mkdir(parents=True, exist_ok=True)
    src = WORK / f"{name}_{planes}_src.ome.tif"
    data = np.random.default_rng(1).integers(0, 4000, (planes // 2, 2, 32, 32), np.uint16)
    tifffile.imwrite(src, data, metadata={"axes": "TCYX"}, ome=True)
    if have_bioformats():
        time_process(bf_cmd("loci.formats.tools.ImageConverter", "-overwrite", str(src), str(out)))
        src.unlink()
    else:
        src.rename(out)
    return out
