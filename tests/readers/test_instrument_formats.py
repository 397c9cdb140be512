"""The DV, MRC, SIF, IMS and FLIM readers are registered, listed and sniffed apart."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import CORPUS, corpus_files, corpus_id

from ometiff.cli.main import main
from ometiff.readers import find_reader
from ometiff.readers.registry import get_spec

#: reader -> (pip extra, a suffix it claims)
NEW = {
    "dv": ("dv", ".dv"),
    "mrc": ("mrc", ".map"),
    "sif": ("sif", ".sif"),
    "ims": ("ims", ".ims"),
    "ptu": ("ptu", ".ptu"),
    "sdt": ("sdt", ".sdt"),
    "spc": (None, ".spc"),
}


def test_formats_lists_each_reader_with_its_extra(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["formats"]) == 0
    listing = capsys.readouterr().out
    lines = listing.splitlines()
    for name, (extra, suffix) in NEW.items():
        spec = get_spec(name)
        assert spec.extra == extra and suffix in spec.suffixes
        row = next(ln for ln in lines if ln.split() and ln.split()[0] == name)
        assert (f"[{extra}]" if extra else "core") in row, row
    assert f"{NEW['mrc'][1]}" in listing


@pytest.mark.parametrize(
    "path",
    corpus_files("dv/**/*", "mrc/**/*", "sif/**/*", "ims/**/*", "ptu/**/*", "sdt/**/*", "spc/**/*"),
    ids=corpus_id,
)
def test_registry_picks_the_reader_of_the_folder(path: Path) -> None:
    assert find_reader(path).name == corpus_id(path).split("/")[0]


@pytest.mark.parametrize("name", sorted(NEW))
def test_sniff_says_no_to_other_formats_under_its_suffix(name: str, tmp_path: Path) -> None:
    """can_read looks at the bytes: another format renamed to this suffix is not claimed."""
    if not CORPUS.is_dir():
        pytest.skip("corpus missing")
    cls = get_spec(name).load()
    suffix = NEW[name][1]
    others = [p for p in corpus_files(*(f"{k}/**/*" for k in NEW)) if not p.name.endswith(suffix)]
    others += corpus_files("ome-tiff/bioformats-7.3.1/int16.ome.tif")
    for other in others:
        if name == "mrc" and other.suffix == ".dv":
            continue  # a DeltaVision file is an MRC file with extras
        renamed = tmp_path / f"other{suffix}"
        renamed.write_bytes(other.read_bytes())
        assert cls.can_read(renamed) is False, corpus_id(other)


def test_readme_format_table_has_a_row_per_reader() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    for name, (extra, _) in NEW.items():
        rows = [ln for ln in readme.splitlines() if ln.startswith("|") and f"| `{name}` |" in ln]
        assert rows, f"README format table has no row for {name}"
        assert (f"`{extra}`" if extra else "core") in rows[0]
        if extra:
            assert f'pip install "ometiff[{extra}]"' in readme
