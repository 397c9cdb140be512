"""Image-series reader: a folder, glob or pattern of TIFF/PNG/JPEG planes.

The axes come from the file names:

* a pattern with placeholders, ``img_t{t}_z{z}_c{c}.tif`` (also ``{t:03d}``-free
  forms: any run of digits matches);
* a regular expression with named groups ``t``, ``z``, ``c`` (``pattern=`` option,
  matched against file names);
* otherwise tokens such as ``_t3``, ``_z12``, ``_c1`` / ``_ch1`` in the names, or,
  when names carry one varying number only, that number as Z.

Every (t, c, z) must be present exactly once, and every plane must have the same
size, samples and pixel type; otherwise opening fails with a message naming the
missing plane or the odd file, before anything is written.
"""

from __future__ import annotations

import glob as _glob
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.errors import InvalidTiffError, UnsupportedFormatError
from ometiff.readers.base import Reader, array_ome
from ometiff.readers.source import SeriesSource
from ometiff.readers.tifflayout import plane_dtype
from ometiff.tiff.names import TIFF_SUFFIXES, has_tiff_suffix

if TYPE_CHECKING:
    from ome_types import model as m

    from ometiff.types import StrPath

IMAGE_SUFFIXES = (*TIFF_SUFFIXES, ".png", ".jpg", ".jpeg")
_TOKEN = re.compile(r"(?i)(?:^|[^a-z])(t|z|c|ch)(\d+)(?=[^0-9]|$)")
_NUMBER = re.compile(r"\d+")
_PIL_MODES = {
    "L": ("uint8", 1),
    "I;16": ("uint16", 1),
    "I;16B": ("uint16", 1),
    "I": ("int32", 1),
    "F": ("float32", 1),
    "RGB": ("uint8", 3),
    "RGBA": ("uint8", 4),
    "1": ("uint8", 1),
    "P": ("uint8", 3),
}


def _is_pattern(text: str) -> bool:
    return any(ch in text for ch in "*?[{")


def _placeholder_regex(name: str) -> re.Pattern[str]:
    """``img_t{t}_z{z}.tif`` -> a regex with named digit groups (other text literal)."""
    out, pos = [], 0
    for match in re.finditer(r"\{([tzcTZC])(?::[^}]*)?\}", name):
        out.append(re.escape(name[pos : match.start()]).replace(r"\*", ".*").replace(r"\?", "."))
        out.append(f"(?P<{match.group(1).lower()}>\\d+)")
        pos = match.end()
    out.append(re.escape(name[pos:]).replace(r"\*", ".*").replace(r"\?", "."))
    return re.compile("^" + "".join(out) + "$")


def _candidates(path: Path) -> list[Path]:
    """Image files named by a folder, glob or placeholder pattern."""
    if path.is_dir():
        return sorted(
            p for p in path.iterdir() if p.is_file() and p.name.lower().endswith(IMAGE_SUFFIXES)
        )
    text = str(path)
    if "{" in text:
        text = re.sub(r"\{[tzcTZC](?::[^}]*)?\}", "*", text)
    if _is_pattern(text):
        return sorted(
            Path(p)
            for p in _glob.glob(text)
            if Path(p).is_file() and p.lower().endswith(IMAGE_SUFFIXES)
        )
    return []


def _natural_key(name: str) -> list[Any]:
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", name)]


class SequenceReader(Reader):
    """Read planes stored one per file, with axes in the file names."""

    name = "sequence"
    suffixes = ()
    options = ("pattern",)

    @classmethod
    def can_read(cls, path: Path) -> bool:
        """True for a folder, glob or pattern naming at least one TIFF/PNG/JPEG file."""
        try:
            if path.is_dir() and ((path / "zarr.json").exists() or (path / ".zattrs").exists()):
                return False
            if not path.is_dir() and not _is_pattern(str(path)):
                return False
            return bool(_candidates(path))
        except OSError:
            return False

    def __init__(self, path: StrPath, **options: Any) -> None:
        super().__init__(path, **options)
        files = _candidates(self.path)
        if not files:
            raise UnsupportedFormatError(f"{self.path}: no TIFF/PNG/JPEG files found")
        self._grid = self._index(files, options.get("pattern"))
        self._shape, self._samples, self._dtype = self._check_planes()

    # -- naming ---------------------------------------------------------------------

    def _index(self, files: list[Path], pattern: str | None) -> dict[tuple[int, int, int], Path]:
        regex: re.Pattern[str] | None = None
        if pattern:
            try:
                regex = re.compile(pattern)
            except re.error as exc:
                raise UnsupportedFormatError(f"pattern {pattern!r} is not a regex: {exc}") from exc
        elif "{" in self.path.name:
            regex = _placeholder_regex(self.path.name)
        found: dict[Path, dict[str, int]] = {}
        for f in files:
            if regex is not None:
                match = regex.search(f.name)
                if match is None:
                    continue
                found[f] = {
                    k: int(v) for k, v in match.groupdict().items() if k in "tzc" and v is not None
                }
            else:
                tokens = {
                    ("c" if k.lower() == "ch" else k.lower()): int(v)
                    for k, v in _TOKEN.findall(f.stem)
                }
                found[f] = tokens
        if not found:
            raise UnsupportedFormatError(f"{self.path}: no file name matches the pattern")
        if regex is None and not any(found.values()):
            # No axis tokens: one varying number (a plain numbered stack) is Z.
            numbers = {f: _NUMBER.findall(f.stem) for f in found}
            if len(found) > 1:
                varying = self._varying_number(numbers)
                found = {f: {"z": int(numbers[f][varying])} for f in found}
                self.notes.skip("file names", "no t/z/c tokens; the varying number read as Z")
            else:
                found = {f: {} for f in found}
        keys = {tuple(sorted(v)) for v in found.values()}
        if len(keys) > 1:
            raise UnsupportedFormatError(
                f"{self.path}: file names carry different axes ({sorted(keys)}); "
                "give a pattern such as img_t{{t}}_z{{z}}_c{{c}}.tif"
            )
        values = {a: sorted({v.get(a, 0) for v in found.values()}) for a in "tcz"}
        grid: dict[tuple[int, int, int], Path] = {}
        for f, v in sorted(found.items(), key=lambda kv: _natural_key(kv[0].name)):
            key = (
                values["t"].index(v.get("t", 0)),
                values["c"].index(v.get("c", 0)),
                values["z"].index(v.get("z", 0)),
            )
            if key in grid:
                raise UnsupportedFormatError(
                    f"{self.path}: {f.name} and {grid[key].name} are the same plane "
                    f"(t, c, z) = {key}"
                )
            grid[key] = f
        sizes = [len(values[a]) for a in "tcz"]
        for t in range(sizes[0]):
            for c in range(sizes[1]):
                for z in range(sizes[2]):
                    if (t, c, z) not in grid:
                        raise InvalidTiffError(
                            f"{self.path}: missing plane t={values['t'][t]} "
                            f"c={values['c'][c]} z={values['z'][z]} "
                            f"({len(grid)} of {sizes[0] * sizes[1] * sizes[2]} files present)"
                        )
        self._sizes = sizes
        self.notes.map("file names", f"T={sizes[0]}, C={sizes[1]}, Z={sizes[2]}")
        return grid

    def _varying_number(self, numbers: dict[Path, list[str]]) -> int:
        counts = {len(n) for n in numbers.values()}
        if len(counts) != 1 or counts == {0}:
            raise UnsupportedFormatError(
                f"{self.path}: cannot tell the axes from the file names; give a pattern such "
                "as img_t{t}_z{z}_c{c}.tif or a regular expression"
            )
        n = counts.pop()
        varying = [i for i in range(n) if len({v[i] for v in numbers.values()}) > 1]
        if len(varying) != 1:
            raise UnsupportedFormatError(
                f"{self.path}: several numbers vary in the file names; give a pattern such as "
                "img_t{t}_z{z}_c{c}.tif"
            )
        return varying[0]

    # -- pixels ---------------------------------------------------------------------

    def _header(self, f: Path) -> tuple[tuple[int, int], int, np.dtype]:
        try:
            if has_tiff_suffix(f.name):
                import tifffile

                with tifffile.TiffFile(f) as tf:
                    page = tf.pages.first
                    spp = int(page.samplesperpixel)
                    return (
                        (int(page.imagelength), int(page.imagewidth)),
                        spp,
                        plane_dtype(np.dtype(page.dtype), f),
                    )
            from PIL import Image

            with Image.open(f) as im:
                mode = im.mode
                if mode not in _PIL_MODES:
                    raise UnsupportedFormatError(f"{f}: image mode {mode} is not supported")
                dtype, spp = _PIL_MODES[mode]
                if mode == "P" and "transparency" in im.info:
                    spp = 4
                return (im.size[1], im.size[0]), spp, np.dtype(dtype)
        except (OSError, ValueError, SyntaxError) as exc:
            raise InvalidTiffError(f"{f}: not a readable image: {exc}") from exc

    def _check_planes(self) -> tuple[tuple[int, int, int, int, int], int, np.dtype]:
        first: tuple[tuple[int, int], int, np.dtype] | None = None
        first_file: Path | None = None
        for f in self._grid.values():
            head = self._header(f)
            if first is None:
                first, first_file = head, f
            elif head != first:
                raise InvalidTiffError(
                    f"{f}: plane is {head[0][1]}x{head[0][0]} {head[2]} with {head[1]} sample(s) "
                    f"but {first_file.name if first_file else '?'} is {first[0][1]}x{first[0][0]} "
                    f"{first[2]} with {first[1]}; all planes of a series must match"
                )
        assert first is not None
        (y, x), spp, dtype = first
        if spp not in (1, 3, 4):
            raise UnsupportedFormatError(f"{first_file}: {spp} samples per pixel not supported")
        t, c, z = self._sizes
        return (t, c, z, y, x), spp, dtype

    def _get_plane(self, t: int, c: int, z: int) -> np.ndarray:
        f = self._grid[(t, c, z)]
        try:
            if has_tiff_suffix(f.name):
                import tifffile

                arr = tifffile.imread(f, key=0)
            else:
                from PIL import Image

                with Image.open(f) as opened:
                    im: Any = opened
                    if im.mode == "P":
                        im = im.convert("RGBA" if self._samples == 4 else "RGB")
                    elif im.mode == "1":
                        im = im.convert("L")
                    arr = np.asarray(im)
        except (OSError, ValueError, SyntaxError) as exc:
            raise InvalidTiffError(f"{f}: cannot read: {exc}") from exc
        want = self._shape[3:] if self._samples == 1 else (*self._shape[3:], self._samples)
        if arr.shape != want:
            raise InvalidTiffError(f"{f}: plane has shape {arr.shape}, expected {want}")
        return np.ascontiguousarray(arr, dtype=self._dtype)

    def sources(self) -> list[SeriesSource]:
        return [
            SeriesSource(
                self._shape, self._samples, self._dtype, self._get_plane, name=self._series_name()
            )
        ]

    def _series_name(self) -> str:
        return self.path.name if self.path.is_dir() else self.path.parent.name or self.path.name

    def ome(self) -> m.OME:
        self.notes.skip("image files", "carry no calibration; physical sizes left unset (U3)")
        return array_ome(self._shape, self._samples, self._dtype, self._series_name())

    def original_metadata(self) -> dict[str, str]:
        return {f"file t={t} c={c} z={z}": f.name for (t, c, z), f in self._grid.items()}
