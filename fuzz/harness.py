"""Seeded fuzzing of the ``ometiff`` command over mutated corpus and generated files.

Every input is a mutation of a seed file (a corpus TIFF or a small file made here):
bit flips, truncations, NextIFD and SubIFD loops, corrupted tag types, counts and
offsets, oversized dimensions with tiny strips, and broken or huge OME-XML. Each
mutated file is given to every command (``info --json``, ``info --stats``, ``show``,
``convert``, ``validate``) in a child process with a time limit and an address-space
limit, and the outcome is checked against the promise ometiff makes for bad input:

* exit code 0 or 2 (1 only from ``validate``: "invalid"), never a signal;
* no traceback, and at most one line on stderr for an error, naming the file;
* no hang (``--timeout`` seconds of CPU time; wall-clock time up to ten times that,
  as the machine may be shared) and no out-of-memory (``--max-memory``);
* nothing left under an output name after a failed ``show`` or ``convert``.

A broken promise is a *finding*: the input is kept under ``--out`` with a JSON line
describing it (command, kind, the stderr tail), and findings are grouped by a
signature (kind + command + the last traceback frame or the message shape), so a
run ends with a count per signature. The same ``--seed`` replays the same inputs.

Usage::

    python fuzz/harness.py --seconds 1800 --seed 1 --out fuzz-findings
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tifffile

logging.getLogger("tifffile").setLevel(
    logging.CRITICAL
)  # a script of its own: seeds are parsed quietly

ROOT = Path(__file__).resolve().parent.parent
COMMANDS: dict[str, list[str]] = {
    "info-json": ["info", "--json", "{in}"],
    "info-stats": ["info", "--stats", "{in}"],
    "show": ["show", "{in}", "-o", "{out}/x.png", "-q"],
    "convert": ["convert", "{in}", "{out}/x.ome.tif", "-q"],
    "validate": ["validate", "{in}"],
}
TIFF_SEED_DIRS = ("ome-tiff", "imagej", "tiff", "lsm")
#: Vendor formats read through their libraries (seeds: corpus files of these folders).
VENDOR_SEEDS = {"czi": (".czi",), "lif": (".lif",), "nd2": (".nd2",)}


# -- seeds --------------------------------------------------------------------------


def generated_seeds(folder: Path) -> list[Path]:
    """Small well-formed files covering strips, tiles, pyramids, ImageJ and OME."""
    import ometiff

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    data = rng.integers(0, 4000, (2, 3, 32, 48), dtype=np.uint16)
    seeds = [folder / "gen-ome.ome.tif", folder / "gen-pyramid.ome.tif"]
    ometiff.write(seeds[0], data, axes="CZYX", physical_size={"X": 0.5, "Y": 0.5})
    big = rng.integers(0, 255, (1, 512, 512), dtype=np.uint8)
    ometiff.write(seeds[1], big, axes="CYX", tile=(128, 128), pyramid_levels=3, compression="zlib")
    imagej = folder / "gen-imagej.tif"
    tifffile.imwrite(imagej, data.transpose(1, 0, 2, 3), imagej=True, metadata={"axes": "ZCYX"})
    plain = folder / "gen-plain.tif"
    tifffile.imwrite(plain, data[0], compression="zlib", tile=(16, 16))
    return [*seeds, imagej, plain]


def corpus_seeds(testdata: Path, rng: random.Random, count: int) -> list[Path]:
    """Up to ``count`` corpus TIFFs under 4 MB, chosen by the seed."""
    found = [
        p
        for d in TIFF_SEED_DIRS
        for p in sorted((testdata / d).rglob("*"))
        if p.is_file()
        and p.suffix.lower() in (".tif", ".tiff", ".btf", ".lsm")
        and p.stat().st_size < 4_000_000
    ]
    rng.shuffle(found)
    return found[:count]


def vendor_seeds(testdata: Path, rng: random.Random, count: int) -> list[Path]:
    """Up to ``count`` corpus CZI, LIF and ND2 files under 2 MB each, chosen by the seed,
    and a small CZI written here (when pylibCZIrw is installed)."""
    found = []
    for folder, suffixes in VENDOR_SEEDS.items():
        files = [
            p
            for p in sorted((testdata / folder).rglob("*"))
            if p.is_file() and p.suffix.lower() in suffixes and p.stat().st_size < 2_000_000
        ]
        rng.shuffle(files)
        found += files[:count]
    return found


def generated_vendor_seeds(folder: Path) -> list[Path]:
    """A 2-channel, 2-scene CZI written by pylibCZIrw (none without it)."""
    try:
        from pylibCZIrw import czi
    except ImportError:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "gen.czi"
    with czi.create_czi(str(path), exist_ok=True) as w:
        for c in range(2):
            for scene, x in ((0, 0), (1, 64)):
                plane = np.full((24, 32), 10 * c + scene, np.uint16)
                w.write(plane, plane={"C": c, "Z": 0, "T": 0}, scene=scene, location=(x, 0))
    return [path]


# -- mutations ----------------------------------------------------------------------


def _pages(data: bytes) -> list[tuple[int, list[tuple[int, int, int, int]]]]:
    """(IFD offset, [(tag code, entry offset, type, count)]) of the first IFDs, via tifffile."""
    with tempfile.NamedTemporaryFile(suffix=".tif") as tmp:
        tmp.write(data)
        tmp.flush()
        try:
            with tifffile.TiffFile(tmp.name) as tf:
                out = []
                for page in list(tf.pages)[:8]:
                    if not isinstance(page, tifffile.TiffPage):
                        continue
                    tags = [(t.code, t.offset, t.dtype, t.count) for t in page.tags.values()]
                    out.append((page.offset, tags))
                return out
        except Exception:  # a seed tifffile cannot parse has no pages to aim at
            return []


def _byteorder(data: bytes) -> str:
    return "<" if data[:2] == b"II" else ">"


def m_bitflip(data: bytearray, rng: random.Random) -> str:
    n = rng.choice((1, 4, 32))
    for _ in range(n):
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    return f"bitflip x{n}"


def m_truncate(data: bytearray, rng: random.Random) -> str:
    cut = rng.randrange(8, max(9, len(data)))
    del data[cut:]
    return f"truncate at {cut}"


def m_tag(data: bytearray, rng: random.Random) -> str:
    """Corrupt one IFD entry: its type, count or value."""
    pages = _pages(bytes(data))
    if not pages:
        return m_bitflip(data, rng)
    bigtiff = data[2:4] in (b"\x2b\x00", b"\x00\x2b")
    bo = _byteorder(data)
    _, tags = rng.choice(pages)
    code, off, _, _ = rng.choice(tags)
    what = rng.choice(("type", "count", "value"))
    if what == "type":
        struct.pack_into(bo + "H", data, off + 2, rng.choice((0, 1, 2, 5, 7, 12, 13, 99)))
    elif what == "count":
        fmt = "Q" if bigtiff else "I"
        struct.pack_into(bo + fmt, data, off + 4, rng.choice((0, 2**31 - 1, 65535, 3)))
    else:
        fmt, at = ("Q", off + 12) if bigtiff else ("I", off + 8)
        struct.pack_into(bo + fmt, data, at, rng.choice((0, 1, len(data) + 10, 2**31 - 1)))
    return f"tag {code} {what}"


def m_dims(data: bytearray, rng: random.Random) -> str:
    """Declare huge ImageWidth/ImageLength (a decompression or allocation bomb)."""
    pages = _pages(bytes(data))
    bigtiff = data[2:4] in (b"\x2b\x00", b"\x00\x2b")
    bo = _byteorder(data)
    size = rng.choice((65536, 200000, 2**31 - 1))
    hit = 0
    for _, tags in pages[:1]:
        for code, off, _, _ in tags:
            if code in (256, 257):
                struct.pack_into(bo + "H", data, off + 2, 4)  # LONG
                struct.pack_into(bo + "Q" if bigtiff else bo + "I", data, off + 4, 1)
                at = off + (12 if bigtiff else 8)
                struct.pack_into(bo + ("Q" if bigtiff else "I"), data, at, size)
                hit += 1
    return f"dims {size}² ({hit} tags)"


def m_loop(data: bytearray, rng: random.Random) -> str:
    """Point a NextIFD (or the first-IFD offset) back at an earlier IFD."""
    pages = _pages(bytes(data))
    if not pages:
        return m_bitflip(data, rng)
    bigtiff = data[2:4] in (b"\x2b\x00", b"\x00\x2b")
    bo = _byteorder(data)
    target = rng.choice(pages)[0]
    ifd = rng.choice(pages)[0]
    entry, count_fmt, off_fmt = (20, "Q", "Q") if bigtiff else (12, "H", "I")
    (count,) = struct.unpack_from(bo + count_fmt, data, ifd)
    next_at = ifd + struct.calcsize(count_fmt) + count * entry
    if next_at + struct.calcsize(off_fmt) <= len(data):
        struct.pack_into(bo + off_fmt, data, next_at, target)
    return f"loop IFD@{ifd} -> {target}"


def m_xml(data: bytearray, rng: random.Random) -> str:
    """Break the OME-XML in place (same length where possible)."""
    text = bytes(data)
    start = text.find(b"<OME")
    if start < 0:
        start = text.find(b"<ome:OME")
    if start < 0:
        return m_bitflip(data, rng)
    choice = rng.choice(("sizet", "dtd", "cut", "ns"))
    if choice == "sizet":
        new = re.sub(rb'SizeT="\d+"', b'SizeT="1e308"', text, count=1)
    elif choice == "dtd":
        dtd = b'<!DOCTYPE OME SYSTEM "nowhere.dtd">'
        new = text[:start] + dtd + text[start + len(dtd) :]
    elif choice == "cut":
        end = text.find(b"</OME>", start)
        mid = rng.randrange(start, end if end > start else start + 10)
        new = text[:mid] + b"\x00" * 8 + text[mid + 8 :]
    else:
        new = text.replace(b"Schemas/OME/2016-06", b"Schemas/OME/2099-99", 1)
    data[:] = new
    return f"xml {choice}"


def m_czi(data: bytearray, rng: random.Random) -> str:
    """Corrupt a CZI's header or one subblock directory entry (positions, counts, sizes)."""
    if not data.startswith(b"ZISRAWFILE") or len(data) < 112:
        return m_bitflip(data, rng)
    (directory,) = struct.unpack_from("<q", data, 84)
    entry = directory + 32 + 128
    if entry + 32 > len(data):
        return m_bitflip(data, rng)
    what = rng.choice(("dirpos", "metapos", "count", "subpos", "ptype", "ndims", "size", "start"))
    huge = rng.choice((0, -1, 2**31 - 1, 65536, 200000, len(data) + 10))
    if what == "dirpos":
        struct.pack_into("<q", data, 84, huge)
    elif what == "metapos":
        struct.pack_into("<q", data, 92, huge)
    elif what == "count":
        struct.pack_into("<i", data, directory + 32, huge)
    elif what == "subpos":
        struct.pack_into("<q", data, entry + 6, huge)
    elif what == "ptype":
        struct.pack_into("<i", data, entry + 2, rng.choice((-1, 5, 7, 99)))
    elif what == "ndims":
        struct.pack_into("<i", data, entry + 28, huge)
    else:
        (ndims,) = struct.unpack_from("<i", data, entry + 28)
        k = rng.randrange(max(1, min(ndims, 16)))
        at = entry + 32 + 20 * k
        if at + 20 <= len(data):
            struct.pack_into("<i", data, at + (8 if what == "size" else 4), huge)
            if what == "size" and rng.random() < 0.5:
                struct.pack_into("<i", data, at + 16, huge)  # the stored size too
    return f"czi {what} {huge}"


MUTATORS: tuple[Callable[[bytearray, random.Random], str], ...] = (
    m_bitflip,
    m_truncate,
    m_tag,
    m_dims,
    m_loop,
    m_xml,
)


# -- running ------------------------------------------------------------------------


#: A child may take this many times ``--timeout`` of wall-clock time (the machine may
#: be shared and the fuzzer runs under ``nice``); ``--timeout`` itself is CPU time.
WALL_FACTOR = 10


def _limit(max_memory: int, cpu_seconds: float) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (max_memory, max_memory))
        cpu = max(1, int(cpu_seconds))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))  # SIGXCPU, then SIGKILL

    return apply


def run_one(
    path: Path, command: str, timeout: float, max_memory: int, *, debug: bool = False
) -> dict[str, object]:
    """Run one command on one file; return the outcome and the broken promise, if any."""
    with tempfile.TemporaryDirectory(prefix="ometiff-fuzz-") as out:
        argv = [a.format(**{"in": str(path), "out": out}) for a in COMMANDS[command]]
        argv = ["--debug", *argv] if debug else argv
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "NO_COLOR": "1", "COLUMNS": "200"}
        start = time.monotonic()
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "ometiff", *argv],
                capture_output=True,
                timeout=timeout * WALL_FACTOR,
                env=env,
                preexec_fn=_limit(max_memory, timeout),
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"kind": "hang", "seconds": timeout * WALL_FACTOR, "stderr": ""}
        seconds = round(time.monotonic() - start, 2)
        if proc.returncode == -signal.SIGXCPU or (proc.returncode == -9 and seconds >= timeout):
            return {"kind": "hang", "rc": proc.returncode, "seconds": seconds, "stderr": ""}
        err = proc.stderr.decode("utf-8", "replace")
        lines = [line for line in err.splitlines() if line.strip()]
        left = sorted(p.name for p in Path(out).iterdir())
        kind = ""
        allowed = {0, 1, 2} if command == "validate" else {0, 2}
        if "MemoryError" in err or proc.returncode in (-9, 137):
            kind = "oom"
        elif "Traceback" in err or "internal error" in err:
            kind = "traceback"
        elif proc.returncode not in allowed:
            kind = f"exit {proc.returncode}"
        elif proc.returncode == 2 and (len(lines) != 1 or path.name not in lines[0]):
            kind = "message"
        elif proc.returncode != 0 and left:
            kind = "leftover"
        return {"kind": kind, "rc": proc.returncode, "seconds": seconds, "stderr": err[-2000:]}


def signature(command: str, outcome: dict[str, object]) -> str:
    """Group findings: kind, command and the last frame or the message's shape."""
    err = str(outcome.get("debug") or outcome.get("stderr", ""))
    frames = re.findall(r'File "([^"]+)", line \d+, in (\w+)', err)
    last = err.strip().splitlines()[-1] if err.strip() else ""
    if frames:
        where = f"{Path(frames[-1][0]).name}:{frames[-1][1]}"
    else:
        where = re.sub(r"[0-9]+", "N", re.sub(r"\S*/\S*", "PATH", last))[:80]
    raised = re.findall(r"^(\w[\w.]*(?:Error|Exception))\b", err, flags=re.M)
    exc = raised[-1] if frames and raised else ""
    return f"{outcome['kind']} | {command} | {exc} {where}".strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("fuzz-findings"))
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--max-memory", type=int, default=4 << 30, help="bytes (RLIMIT_AS)")
    parser.add_argument("--testdata", type=Path, default=None)
    parser.add_argument("--commands", default=",".join(COMMANDS))
    parser.add_argument(
        "--formats",
        default="tiff,vendor",
        help="seed kinds: tiff (TIFF/OME-TIFF), vendor (CZI/LIF/ND2)",
    )
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    testdata = args.testdata or Path(
        os.environ.get("OMETIFF_TESTDATA", ROOT.parent / "shared" / "testdata")
    )
    work = Path(tempfile.mkdtemp(prefix="ometiff-fuzz-seeds-"))
    formats = {f for f in args.formats.split(",") if f}
    seeds = generated_seeds(work / "gen") if "tiff" in formats else []
    if testdata.is_dir() and "tiff" in formats:
        seeds += corpus_seeds(testdata, rng, 40)
    if "vendor" in formats:
        seeds += generated_vendor_seeds(work / "gen-vendor")
        if testdata.is_dir():
            seeds += vendor_seeds(testdata, rng, 6)
    commands = [c for c in args.commands.split(",") if c]
    args.out.mkdir(parents=True, exist_ok=True)
    log = (args.out / "findings.jsonl").open("a", encoding="utf-8")
    counts: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    tried = runs = 0
    deadline = time.monotonic() + args.seconds
    try:
        while time.monotonic() < deadline:
            seed = rng.choice(seeds)
            data = bytearray(seed.read_bytes())
            mutators = (*MUTATORS, m_czi, m_czi) if seed.suffix == ".czi" else MUTATORS
            mutation = rng.choice(mutators)(data, rng)
            digest = hashlib.sha1(data).hexdigest()[:12]
            case = work / f"case-{digest}{''.join(seed.suffixes[-2:])}"
            case.write_bytes(data)
            tried += 1
            for command in commands:
                if time.monotonic() >= deadline:
                    break
                outcome = run_one(case, command, args.timeout, args.max_memory)
                runs += 1
                if not outcome["kind"]:
                    continue
                if outcome["kind"] in ("traceback", "oom"):  # again, for the frames
                    again = run_one(case, command, args.timeout, args.max_memory, debug=True)
                    outcome["debug"] = str(again.get("stderr", ""))
                sig = signature(command, outcome)
                kinds[str(outcome["kind"])] += 1
                if counts[sig] == 0:
                    shutil.copy(case, args.out / case.name)
                counts[sig] += 1
                record = {
                    "signature": sig,
                    "file": case.name,
                    "seed": str(seed),
                    "mutation": mutation,
                    "command": command,
                    **outcome,
                }
                log.write(json.dumps(record) + "\n")
                log.flush()
            case.unlink()
    finally:
        log.close()
        shutil.rmtree(work, ignore_errors=True)
    print(f"inputs tried: {tried}; command runs: {runs}; findings: {sum(kinds.values())}")
    for kind in ("hang", "oom", "traceback", "message", "leftover"):
        print(f"  {kind}: {kinds.get(kind, 0)}")
    for sig, n in counts.most_common():
        print(f"  {n:4d}  {sig}")
    return 1 if kinds else 0


if __name__ == "__main__":
    sys.exit(main())
