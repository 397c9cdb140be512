"""Corpus correctness: files Bio-Formats wrote and 2016-06 samples are valid; the files
the corpus marks schema-invalid get an error with the right code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.conftest import CORPUS, corpus_files, corpus_id, requires_corpus

import ometiff

pytestmark = requires_corpus

BIOFORMATS = corpus_files(
    "ome-tiff/bioformats-7.3.1/**/*.ome.tif*",
    "ome-tiff/bioformats-7.3.1/**/*.ome.tf2",
    "ome-tiff/bioformats-7.3.1/**/*.companion.ome",
)
SAMPLES_2016 = corpus_files("ome-xml/ome-model-samples/2016-06/*")


def _marked_invalid() -> list[Path]:
    """Files SOURCES.md marks 'XSD check: INVALID' or schema-invalid by design."""
    sources = CORPUS / "SOURCES.md"
    if not sources.is_file():
        return []
    out = []
    for line in sources.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\| `([^`]+)` \|", line)
        if m and ("XSD check: INVALID" in line or "XSD-invalid" in line):
            if m.group(1).startswith(("ome-tiff/", "ome-xml/")):
                out.append(CORPUS / m.group(1))
    return sorted(p for p in out if p.is_file())


INVALID = _marked_invalid()


@pytest.mark.parametrize("path", BIOFORMATS, ids=corpus_id)
def test_bioformats_output_is_valid(path: Path) -> None:
    report = ometiff.validate(path)
    assert report.errors == (), report.errors
    assert report.warnings == (), report.warnings


@pytest.mark.parametrize("path", SAMPLES_2016, ids=corpus_id)
def test_2016_samples_are_valid(path: Path) -> None:
    report = ometiff.validate(path)
    assert report.errors == (), report.errors


def test_corpus_lists_are_not_empty() -> None:
    assert len(BIOFORMATS) >= 19
    assert len(SAMPLES_2016) >= 25
    assert len(INVALID) >= 10


@pytest.mark.parametrize("path", INVALID, ids=corpus_id)
def test_marked_invalid_gets_a_schema_error(path: Path) -> None:
    report = ometiff.validate(path)
    codes = {i.code.split("-")[0] for i in report.errors}
    assert codes & {"S7", "S8"}, report.issues


def test_micromanager_ids_are_s7(corpus: Path) -> None:
    for path in corpus_files("ome-tiff/micromanager/*.ome.tif"):
        report = ometiff.validate(path)
        assert any(i.code == "S7-id-pattern" for i in report.errors), path


def test_edge_cases(corpus: Path) -> None:
    edge = corpus / "ome-xml/edge-cases/ome-model"
    assert any(
        i.code == "X2-not-well-formed"
        for i in ometiff.validate(edge / "18x24y5z5t2c8b-text-invalid2.ome").errors
    )
    invalid = ometiff.validate(edge / "18x24y5z5t2c8b-text-invalid.ome")
    assert any(i.code == "S8-schema" and "Invalid" in i.message for i in invalid.errors)
    unreleased = ometiff.validate(edge / "18x24y5z5t2c8b-text-unit-none.ome")
    assert [i.code for i in unreleased.warnings] == ["S2-unreleased-version"]


def test_companion_set_from_every_entry(corpus: Path) -> None:
    folder = corpus / "ome-tiff/bioformats-7.3.1/companion-split-T"
    reports = [ometiff.validate(p) for p in sorted(folder.iterdir())]
    assert all(r.ok for r in reports)
    assert all(len(r.files) == 4 for r in reports)  # companion + 3 members


def test_legacy_versions_are_upgraded(corpus: Path) -> None:
    path = corpus / "ome-tiff/ome-model-samples/2010-06/18x24y5z5t2c8b-text.ome.tiff"
    report = ometiff.validate(path)
    assert report.ok
    assert any(i.code == "S3-old-version" for i in report.issues)
