"""meta get/set/replace: field edits, units, refusals, backups, multi-file sets, CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from conftest import CORPUS, requires_corpus
from ometiff import OmeTiffError, OmeXmlError, ValidationError, meta_get, meta_replace, meta_set
from ometiff.cli.main import main
from ometiff.editing.meta import backup_path
from ometiff.ome.view import parse_ome
from ometiff.tiff.structure import read_description
from test_edit_helpers import assert_valid, copy_corpus, new_uuid, ome_xml, pixels_hash, write_ome

BF = CORPUS / "ome-tiff" / "bioformats-7.3.1"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "cells.ome.tif"
    write_ome(path, ome_xml(uuid=new_uuid()))
    return path


def _image(path: Path, k: int = 0):  # type: ignore[no-untyped-def]
    return parse_ome(read_description(path) or "").images[k]


def test_set_every_field(sample: Path) -> None:
    before = pixels_hash(sample)
    result = meta_set(
        sample,
        channel_names={0: "DAPI", 1: "GFP"},
        channel_colors={0: "#0000FF", 1: "lime"},
        physical_size={"x": "0.325um", "y": "0.325 micron", "z": "1.5µm"},
        time_increment="500 ms",
        name="fixed",
        description="edited by ometiff",
    )
    assert result.changed and result.edits[0].written
    im = _image(sample)
    assert [c.name for c in im.channels] == ["DAPI", "GFP"]
    assert [c.color for c in im.channels] == [0x0000FFFF, 0x00FF00FF]
    assert im.physical_size_x is not None and im.physical_size_x.value == 0.325
    assert {im.physical_size_x.unit, im.physical_size_y.unit, im.physical_size_z.unit} == {"µm"}  # type: ignore[union-attr]
    assert im.time_increment is not None and (im.time_increment.value, im.time_increment.unit) == (
        500,
        "ms",
    )
    assert im.name == "fixed" and im.description == "edited by ometiff"
    assert pixels_hash(sample) == before
    assert_valid(sample)
    # tifffile still reads the file as OME with the new names
    with tifffile.TiffFile(sample) as tf:
        assert tf.is_ome and tf.series[0].shape == (2, 2, 32, 48)


def test_set_keeps_everything_else(tmp_path: Path) -> None:
    path = tmp_path / "annot.ome.tif"
    extra = (
        '<StructuredAnnotations><XMLAnnotation ID="Annotation:0"><Value>'
        '<Custom xmlns="urn:x">keep me</Custom></Value></XMLAnnotation></StructuredAnnotations>'
    )
    write_ome(path, ome_xml(uuid=new_uuid(), extra=extra))
    old = read_description(path) or ""
    meta_set(path, name="renamed")
    new = read_description(path) or ""
    assert '<Custom xmlns="urn:x">keep me</Custom>' in new
    # byte-for-byte apart from the edited attribute
    assert new.strip() == old.replace('Name="test"', 'Name="renamed"', 1).strip()


def test_dry_run_and_backup(sample: Path) -> None:
    raw = sample.read_bytes()
    result = meta_set(sample, name="x", dry_run=True)
    assert result.dry_run and result.edits[0].changes and not result.edits[0].written
    assert sample.read_bytes() == raw
    old_xml = read_description(sample)
    result = meta_set(sample, name="x", backup=True)
    saved = result.edits[0].backup
    assert saved == sample.with_name("cells.ome.xml.bak") and saved.read_text("utf-8") == old_xml
    meta_set(sample, name="y", backup=True)  # a second backup never overwrites the first
    assert saved.read_text("utf-8") == old_xml
    assert backup_path(sample).name == "cells.ome.xml.bak2"
    assert sample.with_name("cells.ome.xml.bak1").is_file()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"channel_names": {2: "x"}}, "channel 2 is out of range"),
        ({"physical_size": {"q": "1um"}}, "unknown axis"),
        ({"series": 1, "name": "x"}, "series 1 is out of range"),
    ],
)
def test_bad_values_are_refused(sample: Path, kwargs: dict, match: str) -> None:
    # bad lengths, times and colours: tests/test_units.py (the parser write() shares)
    raw = sample.read_bytes()
    with pytest.raises(ValidationError, match=match):
        meta_set(sample, **kwargs)
    assert sample.read_bytes() == raw


def test_replace(sample: Path, tmp_path: Path) -> None:
    raw = sample.read_bytes()
    xml = meta_get(sample)
    with pytest.raises(ValidationError, match=r"D5-size-x.*SizeX=49"):
        meta_replace(sample, xml.replace('SizeX="48"', 'SizeX="49"'))
    with pytest.raises(ValidationError, match=r"D3-dimension-order.*XYQCT"):
        meta_replace(sample, xml.replace('DimensionOrder="XYZCT"', 'DimensionOrder="XYQCT"'))
    with pytest.raises(ValidationError, match=r"T5|T4"):
        meta_replace(sample, xml.replace('IFD="0" PlaneCount="4"', 'IFD="2" PlaneCount="4"'))
    with pytest.raises(OmeXmlError, match="not well-formed"):
        meta_replace(sample, xml[:-20])
    assert sample.read_bytes() == raw
    new = xml.replace('Name="test"', 'Name="replaced µ"')
    meta_replace(sample, new.encode("utf-8"))
    assert meta_get(sample).strip() == new.strip()
    assert _image(sample).name == "replaced µ"


def test_edit_that_fits_stays_in_place(tmp_path: Path) -> None:
    path = tmp_path / "long.ome.tif"
    write_ome(path, ome_xml(uuid=new_uuid(), channel_names=("a-very-long-channel-name", "b" * 40)))
    size = path.stat().st_size
    result = meta_set(path, channel_names={0: "DAPI", 1: "GFP"})
    assert result.edits[0].in_place and path.stat().st_size == size
    assert [c.name for c in _image(path).channels] == ["DAPI", "GFP"]


def test_bad_input(tmp_path: Path) -> None:
    text = tmp_path / "notes.ome.tif"
    text.write_text("not a tiff")
    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, np.zeros((4, 4), "uint8"))
    for path in (text, plain, tmp_path / "missing.ome.tif"):
        with pytest.raises(OmeTiffError):
            meta_set(path, name="x")
        assert main(["meta", "set", str(path), "--name", "x"]) == 2


def test_read_only_file_is_untouched(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = sample.read_bytes()
    sample.chmod(0o444)
    try:
        assert main(["meta", "set", str(sample), "--name", "x"]) == 2
    finally:
        sample.chmod(0o644)
    err = capsys.readouterr().err
    assert "read-only" in err and len(err.strip().splitlines()) == 1
    assert sample.read_bytes() == raw


def test_cli(sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "meta",
            "set",
            str(sample),
            "--channel-name",
            "0=DAPI",
            "--channel-color",
            "0=#0000FF",
            "--physical-size",
            "x=0.325µm",
            "y=0.325um",
            "z=1.5micron",
            "--time-increment",
            "2s",
            "--name",
            "cli",
            "--description",
            "from the CLI",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "Channel 0@Name: None -> 'DAPI'" in out
    im = _image(sample)
    assert im.physical_size_z is not None and (
        im.physical_size_z.value,
        im.physical_size_z.unit,
    ) == (1.5, "µm")
    assert im.physical_size_y is not None and im.physical_size_y.unit == "µm"
    assert main(["meta", "get", str(sample)]) == 0
    assert 'Name="DAPI"' in capsys.readouterr().out
    new = tmp_path / "new.ome.xml"
    new.write_text(meta_get(sample).replace('SizeY="32"', 'SizeY="33"'), encoding="utf-8")
    raw = sample.read_bytes()
    assert main(["meta", "replace", str(sample), str(new)]) == 2
    err = capsys.readouterr().err
    assert "SizeY=33" in err and len(err.strip().splitlines()) == 1
    assert sample.read_bytes() == raw
    assert main(["meta", "set", str(sample), "--channel-name", "5=x"]) == 2
    assert main(["meta", "set", str(sample)]) == 2  # nothing to set


# --- corpus files, copied to tmp first --------------------------------------------------


@requires_corpus
def test_corpus_single_file(tmp_path: Path) -> None:
    path = copy_corpus(BF / "int16.ome.tif", tmp_path / "int16.ome.tif")
    before = pixels_hash(path)
    meta_set(path, channel_names={0: "DAPI"}, physical_size={"x": "0.5um", "y": "0.5um"})
    im = _image(path)
    assert im.channels[0].name == "DAPI" and im.physical_size_x.value == 0.5  # type: ignore[union-attr]
    assert pixels_hash(path) == before
    assert_valid(path)


@requires_corpus
def test_corpus_embedded_set_edits_every_member(tmp_path: Path) -> None:
    folder = copy_corpus(BF / "split-C-no-companion", tmp_path / "set")
    members = sorted(folder.glob("*.ome.tif"))
    hashes = [pixels_hash(p) for p in members]
    uuids = [parse_ome(read_description(p) or "").uuid for p in members]
    result = meta_set(members[1], channel_names={0: "DAPI", 1: "GFP"}, physical_size={"z": "2um"})
    assert {e.path for e in result.edits} == set(members)
    for p, h, u in zip(members, hashes, uuids, strict=True):
        view = parse_ome(read_description(p) or "")
        assert view.uuid == u  # M3: each member keeps its own UUID
        assert [c.name for c in view.images[0].channels] == ["DAPI", "GFP"]
        assert view.images[0].physical_size_z.value == 2  # type: ignore[union-attr]
        assert pixels_hash(p) == h
    assert_valid(members[0])


@requires_corpus
def test_corpus_companion_set_edits_the_companion(tmp_path: Path) -> None:
    folder = copy_corpus(BF / "companion-split-T", tmp_path / "set")
    members = sorted(folder.glob("*.ome.tif"))
    raw = {p: p.read_bytes() for p in members}
    result = meta_set(members[0], name="through a member", backup=True)
    companion = folder / "cluster.companion.ome"
    assert [e.path for e in result.edits] == [companion]
    assert parse_ome(companion.read_bytes()).images[0].name == "through a member"
    assert all(p.read_bytes() == raw[p] for p in members)  # BinaryOnly members untouched
    assert (folder / "cluster.companion.ome.xml.bak").is_file()
    assert 'Name="through a member"' in meta_get(members[2])
    assert_valid(companion)


@requires_corpus
def test_corpus_set_with_missing_member_is_refused(tmp_path: Path) -> None:
    folder = copy_corpus(BF / "split-C-no-companion", tmp_path / "set")
    (folder / "cluster_C1.ome.tif").unlink()
    path = folder / "cluster_C0.ome.tif"
    raw = path.read_bytes()
    with pytest.raises(OmeTiffError, match="missing"):
        meta_set(path, name="x")
    assert path.read_bytes() == raw
