"""Record what Bio-Formats (the reference reader) reports for each corpus file.

Runs ``showinf -nopix -noflat -omexml`` once per file (with a timeout) and stores a
compact JSON summary per corpus folder in ``tests/expected/bioformats/<kind>.json``:
series count and, per series, name, sizes, pixel type, physical sizes in µm, channel
names, samples per pixel and resolution count. Tests compare ometiff's readers and
converted output against these expectations without starting a JVM per check.

Usage::

    python scripts/record_bioformats.py                 # whole corpus (minus ome-xml/)
    python scripts/record_bioformats.py czi lif         # only these corpus folders
    python scripts/record_bioformats.py --files czi/czitools/10x10.czi
    python scripts/record_bioformats.py --missing       # only files without a record
    python scripts/record_bioformats.py --pixels czi    # what Bio-Formats decodes

``--pixels`` records, in ``tests/expected/bioformats/pixels/<kind>.json``, the SHA-1 of
the top-left window (at most 512x512) of the first and last plane of every series and
resolution as Bio-Formats decodes it (``scripts/BfPixels.java``, one JVM per batch of
files), with the byte order and RGB layout needed to hash ometiff's planes alike.

Existing entries of other files are kept, so a partial run updates in place.
``summarize_omexml(xml)`` and ``summarize_file(path)`` are importable.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("OMETIFF_TESTDATA", ROOT.parent / "shared" / "testdata"))
JAR = Path(os.environ.get("OMETIFF_BFJAR", ROOT / ".cache" / "bioformats_package.jar"))
OUT_DIR = ROOT / "tests" / "expected" / "bioformats"
TIMEOUT = 300.0

#: Corpus folders recorded by default (ome-xml/ holds bare XML, not images).
KINDS = (
    "czi",
    "lif",
    "nd2",
    "lsm",
    "imagej",
    "tiff",
    "ome-tiff",
    "ome-zarr",
    "svs",
    "ndpi",
    "qptiff",
    "vsi",
    "ndtiff",
    "dv",
    "mrc",
    "sif",
    "ims",
    "ptu",
    "sdt",
    "spc",
)

#: Length units (OME UnitsLength symbols) -> factor to micrometres.
_TO_UM = {
    "Ym": 1e30,
    "Zm": 1e27,
    "Em": 1e24,
    "Pm": 1e21,
    "Tm": 1e18,
    "Gm": 1e15,
    "Mm": 1e12,
    "km": 1e9,
    "hm": 1e8,
    "dam": 1e7,
    "m": 1e6,
    "dm": 1e5,
    "cm": 1e4,
    "mm": 1e3,
    "µm": 1.0,
    "nm": 1e-3,
    "pm": 1e-6,
    "fm": 1e-9,
    "am": 1e-12,
    "zm": 1e-15,
    "ym": 1e-18,
    "Å": 1e-4,
    "thou": 25.4,
    "li": 2116.67,
    "in": 25400.0,
    "ft": 304800.0,
    "yd": 914400.0,
    "mi": 1.609344e9,
    "pt": 352.777778,
}


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _children(el: Any, name: str) -> list[Any]:
    return [c for c in el if _local(c.tag) == name]


def _physical_um(pixels: Any, axis: str) -> float | None:
    value = pixels.get(f"PhysicalSize{axis}")
    if value is None:
        return None
    unit = pixels.get(f"PhysicalSize{axis}Unit", "µm")
    factor = _TO_UM.get(unit)
    if factor is None:  # "pixel", "reference frame": not a length
        return None
    return float(value) * factor


def summarize_omexml(xml: str | bytes) -> dict[str, Any]:
    """Summarise OME-XML as written by Bio-Formats into a JSON-able dict.

    Parameters
    ----------
    xml
        An OME-XML document.

    Returns
    -------
    dict
        ``{"series_count": n, "series": [...]}``; each series holds name, size_x,
        size_y, size_z, size_c, size_t, pixel_type, physical_size_x/y/z (µm or
        None), channel_count, channel_names, samples_per_pixel.
    """
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    root = etree.fromstring(data, parser)
    series = []
    for image in _children(root, "Image"):
        pixels = _children(image, "Pixels")[0]
        channels = _children(pixels, "Channel")
        spp = {int(c.get("SamplesPerPixel", "1")) for c in channels} or {1}
        series.append(
            {
                "name": image.get("Name"),
                "size_x": int(pixels.get("SizeX")),
                "size_y": int(pixels.get("SizeY")),
                "size_z": int(pixels.get("SizeZ")),
                "size_c": int(pixels.get("SizeC")),
                "size_t": int(pixels.get("SizeT")),
                "pixel_type": pixels.get("Type"),
                "physical_size_x": _physical_um(pixels, "X"),
                "physical_size_y": _physical_um(pixels, "Y"),
                "physical_size_z": _physical_um(pixels, "Z"),
                "channel_count": len(channels),
                "channel_names": [c.get("Name") for c in channels],
                "samples_per_pixel": max(spp),
                "resolution_count": 1,
            }
        )
    return {"series_count": len(series), "series": series}


_FORMAT_RE = re.compile(r"^Checking file format \[(?P<name>.*)\]", re.MULTILINE)
_SERIES_RE = re.compile(r"^Series #(?P<i>\d+)", re.MULTILINE)
_RES_RE = re.compile(r"^\s*Resolutions = (?P<n>\d+)", re.MULTILINE)
_COUNT_RE = re.compile(r"^Series count = (?P<n>\d+)", re.MULTILINE)


def _resolution_counts(text: str) -> dict[int, int]:
    """Map series index -> resolution count from showinf's text (``-noflat``)."""
    out: dict[int, int] = {}
    starts = list(_SERIES_RE.finditer(text))
    for k, m in enumerate(starts):
        end = starts[k + 1].start() if k + 1 < len(starts) else len(text)
        block = text[m.end() : end]
        res = _RES_RE.search(block.split("Reading global metadata")[0])
        out[int(m.group("i"))] = int(res.group("n")) if res else 1
    return out


def run_showinf(path: Path, *, timeout: float = TIMEOUT) -> str:
    """Return showinf's full stdout for ``path`` (raises RuntimeError on failure)."""
    java = shutil.which("java")
    if java is None or not JAR.is_file():
        raise RuntimeError(f"java or {JAR} missing")
    cmd = [
        java,
        "-Xmx2g",
        "-Dbioformats_can_do_upgrade_check=false",
        "-cp",
        str(JAR),
        "loci.formats.tools.ImageInfo",
        "-nopix",
        "-noflat",
        "-omexml",
        "-novalid",
        "-no-upgrade",
        str(path),
    ]
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            encoding="utf-8",
            errors="replace",
        )
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"showinf timed out after {timeout:.0f} s") from e
    if proc.returncode != 0 or "<OME" not in proc.stdout:
        lines = (proc.stdout + proc.stderr).splitlines()
        why = [ln.strip() for ln in lines if "Exception" in ln and "\tat " not in ln]
        reason = why[0] if why else " | ".join(lines[-3:])
        raise RuntimeError(f"showinf failed ({proc.returncode}): {reason[:300]}")
    return proc.stdout


def summarize_showinf(text: str) -> dict[str, Any]:
    """Summarise showinf's stdout: the OME-XML summary plus format and resolutions."""
    start = text.find("<?xml")
    if start < 0:
        start = text.find("<OME")
    summary = summarize_omexml(text[start:])
    fmt = _FORMAT_RE.search(text)
    count = _COUNT_RE.search(text)
    summary["format"] = fmt.group("name") if fmt else None
    summary["core_series_count"] = int(count.group("n")) if count else None
    for i, n in _resolution_counts(text[:start]).items():
        if i < len(summary["series"]):
            summary["series"][i]["resolution_count"] = n
    return summary


def summarize_file(path: Path, *, timeout: float = TIMEOUT) -> dict[str, Any]:
    """Run showinf on one file and summarise; errors are recorded, not raised."""
    try:
        return summarize_showinf(run_showinf(path, timeout=timeout))
    except (RuntimeError, etree.XMLSyntaxError, IndexError, TypeError) as e:
        return {"error": str(e)}


def corpus_inputs(kind: str) -> list[Path]:
    """The entry files of one corpus folder that Bio-Formats should be asked about."""
    base = CORPUS / kind
    if not base.is_dir():
        return []
    if kind == "ome-zarr":
        # One entry per image container: *.zarr folders (not nested ones).
        found = sorted(p for p in base.rglob("*.zarr") if p.is_dir())
        return [p for p in found if not any(q in p.parents for q in found)]
    if kind == "vsi":
        # the .vsi file; its _<name>_/ folder of .ets files is read through it
        return sorted(p for p in base.rglob("*.vsi") if p.is_file())
    if kind == "ndtiff":
        # Bio-Formats has no NDTiff reader: it opens the full-resolution stacks as
        # plain TIFF (what it makes of them is recorded; downsampled levels are not)
        return sorted(
            p
            for p in base.rglob("*_NDTiffStack*.tif")
            if p.is_file() and not p.parent.name.startswith("Downsampled_x")
        )
    return sorted(p for p in base.rglob("*") if p.is_file() and p.suffix != ".md")


def unrecorded_inputs(kind: str) -> list[Path]:
    """The entry files of one corpus folder that have no committed record yet."""
    recorded = load_expected(kind)["files"]
    return [p for p in corpus_inputs(kind) if p.relative_to(CORPUS).as_posix() not in recorded]


def bioformats_version() -> str | None:
    """The version string of the jar (``showinf -version``)."""
    java = shutil.which("java")
    if java is None or not JAR.is_file():
        return None
    proc = subprocess.run(
        [java, "-cp", str(JAR), "loci.formats.tools.ImageInfo", "-version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    m = re.search(r"Version: (\S+)", proc.stdout)
    return m.group(1) if m else None


def record(paths: Iterable[Path], *, jobs: int = 1) -> dict[str, dict[str, Any]]:
    """Summaries keyed by corpus-relative path."""
    items = list(paths)

    def one(p: Path) -> tuple[str, dict[str, Any]]:
        rel = p.relative_to(CORPUS).as_posix()
        summary = summarize_file(p)
        status = summary.get("error") or f"{summary['series_count']} series"
        print(f"{rel}: {status}", flush=True)
        return rel, summary

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return dict(pool.map(one, items))


def load_expected(kind: str) -> dict[str, Any]:
    """The committed expectations of one corpus folder (empty when absent)."""
    path = OUT_DIR / f"{kind}.json"
    if not path.is_file():
        return {"bioformats_version": None, "files": {}}
    return json.loads(path.read_text(encoding="utf-8"))


def save_expected(kind: str, files: dict[str, Any], version: str | None) -> Path:
    """Merge ``files`` into ``tests/expected/bioformats/<kind>.json``."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    data = load_expected(kind)
    data["bioformats_version"] = version or data.get("bioformats_version")
    data["files"].update(files)
    data["files"] = dict(sorted(data["files"].items()))
    path = OUT_DIR / f"{kind}.json"
    tmp = path.with_suffix(".json.part")
    text = json.dumps(data, indent=1, ensure_ascii=False, sort_keys=False)
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


PIXELS_DIR = OUT_DIR / "pixels"
PIXELS_JAVA = ROOT / "scripts" / "BfPixels.java"


def run_pixels(paths: list[Path], *, timeout: float = TIMEOUT) -> dict[str, dict[str, Any]]:
    """Bio-Formats' decoded-pixel hashes of ``paths`` (one JVM), keyed by corpus path."""
    java = shutil.which("java")
    if java is None or not JAR.is_file():
        raise RuntimeError(f"java or {JAR} missing")
    cmd = [
        java,
        "-Xmx2g",
        "-Dbioformats_can_do_upgrade_check=false",
        "-cp",
        str(JAR),
        str(PIXELS_JAVA),
        *map(str, paths),
    ]
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout * len(paths),
            check=False,
            encoding="utf-8",
            errors="replace",
        )
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"BfPixels timed out on {[p.name for p in paths]}") from e
    out: dict[str, dict[str, Any]] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            rel = Path(entry.pop("file")).relative_to(CORPUS).as_posix()
            out[rel] = entry
    return out


def record_pixels(paths: Iterable[Path], *, jobs: int = 1) -> dict[str, dict[str, Any]]:
    """Decoded-pixel hashes of every path, a few files per JVM, ``jobs`` JVMs at once."""
    items = list(paths)
    batches = [items[k : k + 8] for k in range(0, len(items), 8)]
    found: dict[str, dict[str, Any]] = {}

    def one(batch: list[Path]) -> dict[str, dict[str, Any]]:
        try:
            got = run_pixels(batch)
        except RuntimeError as e:
            got = {p.relative_to(CORPUS).as_posix(): {"error": str(e)} for p in batch}
        for rel, entry in got.items():
            print(
                f"{rel}: {entry.get('error') or str(len(entry['series'])) + ' series'}", flush=True
            )
        return got

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for got in pool.map(one, batches):
            found.update(got)
    return found


def save_pixels(kind: str, files: dict[str, Any], version: str | None) -> Path:
    """Merge ``files`` into ``tests/expected/bioformats/pixels/<kind>.json``."""
    PIXELS_DIR.mkdir(parents=True, exist_ok=True)
    path = PIXELS_DIR / f"{kind}.json"
    data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"files": {}}
    data["bioformats_version"] = version or data.get("bioformats_version")
    data["files"].update(files)
    data = {
        "bioformats_version": data["bioformats_version"],
        "files": dict(sorted(data["files"].items())),
    }
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kinds", nargs="*", default=list(KINDS), help="corpus folders")
    ap.add_argument("--files", nargs="*", default=None, help="corpus-relative files")
    ap.add_argument("--missing", action="store_true", help="only files without a record")
    ap.add_argument("--jobs", type=int, default=1, help="parallel JVMs")
    ap.add_argument(
        "--pixels",
        action="store_true",
        help="record decoded-pixel hashes (tests/expected/bioformats/pixels/)",
    )
    args = ap.parse_args(argv)
    if not CORPUS.is_dir():
        print(f"corpus not found at {CORPUS}", file=sys.stderr)
        return 2
    version = bioformats_version()
    if args.files:
        by_kind: dict[str, list[Path]] = {}
        for f in args.files:
            by_kind.setdefault(Path(f).parts[0], []).append(CORPUS / f)
    elif args.missing:
        by_kind = {k: unrecorded_inputs(k) for k in args.kinds}
    else:
        by_kind = {k: corpus_inputs(k) for k in args.kinds}
    for kind, paths in by_kind.items():
        if paths and args.pixels:
            out = save_pixels(kind, record_pixels(paths, jobs=args.jobs), version)
            print(f"wrote {out}", flush=True)
        elif paths:
            out = save_expected(kind, record(paths, jobs=args.jobs), version)
            print(f"wrote {out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
