"""`ometiff validate` and `ometiff xml`: exit codes, human and JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import CORPUS, heavy_imports_of, requires_corpus
from tests.test_validate import ome_xml, write_tiff

from ometiff.cli.main import main


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return write_tiff(tmp_path / "good.ome.tif", ome_xml(), 1)


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    return write_tiff(tmp_path / "bad.ome.tif", ome_xml(size_x=33), 1)


@pytest.fixture
def warned(tmp_path: Path) -> Path:
    return write_tiff(tmp_path / "warn.tif", ome_xml(), 1)  # C2-extension warning


def test_exit_codes(
    good: Path, bad: Path, warned: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(good)]) == 0
    assert main(["validate", str(warned)]) == 0
    assert main(["validate", "--strict", str(warned)]) == 1
    assert main(["validate", str(good), str(bad)]) == 1
    assert main(["validate", str(good), str(tmp_path / "missing.ome.tif")]) == 2
    out = capsys.readouterr()
    assert "missing.ome.tif: no such file" in out.err
    assert out.err.count("\n") == 1  # one line, no traceback


def test_human_output(good: Path, bad: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["validate", str(good), str(bad)])
    out = capsys.readouterr().out
    assert f"✓ {good}" in out
    assert f"✗ {bad}  (1 error" in out
    assert "  errors:\n    ✗ [D5-size-x] bad.ome.tif: IFD 0:" in out


def test_json_output(bad: Path, good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--json", str(bad)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    assert {"severity": "error", "code": "D5-size-x"}.items() <= data["issues"][0].items()
    assert main(["validate", "--json", str(good), str(bad)]) == 1
    both = json.loads(capsys.readouterr().out)
    assert [r["ok"] for r in both] == [True, False]


def test_no_schema_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_tiff(tmp_path / "id.ome.tif", ome_xml().replace('"Channel:0:0"', '"x"'), 1)
    assert main(["validate", str(path)]) == 1
    assert main(["validate", "--no-schema", str(path)]) == 0


def test_xml_command(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["xml", str(good)]) == 0
    out = capsys.readouterr().out
    assert out.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<OME')
    assert '\n  <Image ID="Image:0"' in out and "\n    <Pixels" in out


@requires_corpus
def test_xml_upgrade(capsys: pytest.CaptureFixture[str]) -> None:
    path = CORPUS / "ome-tiff/ome-model-samples/2010-06/6x4y1z1t1c8b-swatch.ome.tiff"
    assert main(["xml", str(path)]) == 0
    assert "Schemas/OME/2010-06" in capsys.readouterr().out
    assert main(["xml", "--upgrade", str(path)]) == 0
    out = capsys.readouterr().out
    assert 'xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"' in out


def test_xml_unreadable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["xml", str(tmp_path / "nope.ome.tif")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_validate_imports_no_ome_types(good: Path) -> None:
    """Start-up: the schema check finds ome-types' bundled XSD without importing the
    package (about a second of imports), so `ometiff validate` never loads it."""
    assert heavy_imports_of(["validate", good]) == []
