"""ometiff repair: renamed sets, companions, 1-based and missing TiffData, units, conversions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import CORPUS, requires_corpus
from ometiff import OmeTiffError, repair
from ometiff.cli.main import main
from ometiff.ome.view import parse_ome
from ometiff.tiff.structure import read_description
from test_edit_helpers import (
    assert_valid,
    copy_corpus,
    embedded_pair,
    new_uuid,
    ome_xml,
    pixels_hash,
    write_ome,
)

BF = CORPUS / "ome-tiff" / "bioformats-7.3.1"


def _view(path: Path):  # type: ignore[no-untyped-def]
    text = read_description(path) if path.suffix != ".ome" else path.read_text("utf-8")
    return parse_ome(text or "")


def _codes(report) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted({a.code for a in report.actions})


def test_one_tiffdata_counted_from_one_on_every_axis(tmp_path: Path) -> None:
    """One TiffData ``FirstZ=1 FirstC=1 FirstT=1`` for all planes (N1, T4, T5): its
    values never reach the axis sizes, so a per-axis "1..size" rule misses it."""
    path = tmp_path / "one.ome.tif"
    tds = '<TiffData FirstZ="1" FirstC="1" FirstT="1" IFD="0" PlaneCount="{n}"/>'
    write_ome(path, ome_xml(uuid=new_uuid(), size_z=5, size_c=3, tiffdata=tds), planes=15)
    before = pixels_hash(path)
    report = repair([path])
    assert _codes(report) == ["N1-one-based"]
    (td,) = _view(path).images[0].tiffdata
    assert (td.first_z, td.first_c, td.first_t, td.plane_count) == (0, 0, 0, 15)
    assert pixels_hash(path) == before
    assert_valid(path)
    assert repair([path]).actions == ()


def test_a_valid_partial_map_is_not_shifted(tmp_path: Path) -> None:
    """FirstZ=1 that maps the planes it names correctly is left alone."""
    path = tmp_path / "partial.ome.tif"
    tds = "".join(f'<TiffData FirstZ="{z}" IFD="{z}" PlaneCount="1"/>' for z in range(2))
    write_ome(path, ome_xml(uuid=new_uuid(), size_c=1, tiffdata=tds), planes=2)
    assert repair([path], dry_run=True).actions == ()


def test_units_one_based_and_missing_tiffdata(tmp_path: Path) -> None:
    units = tmp_path / "units.ome.tif"
    write_ome(
        units,
        ome_xml(
            uuid=new_uuid(),
            pixel_attrs=(
                'PhysicalSizeX="0.5" PhysicalSizeXUnit="um" PhysicalSizeY="0.5" PhysicalSizeYUnit="micron" '
                'TimeIncrement="2" TimeIncrementUnit="sec"'
            ),
        ),
    )
    one = tmp_path / "onebased.ome.tif"
    tds = "".join(
        f'<TiffData FirstZ="{z + 1}" FirstC="{c + 1}" IFD="{2 * c + z}" PlaneCount="1"/>'
        for c in range(2)
        for z in range(2)
    )
    write_ome(one, ome_xml(uuid=new_uuid(), tiffdata=tds))
    bare = tmp_path / "notiffdata.ome.tif"
    write_ome(bare, ome_xml(uuid=new_uuid(), tiffdata=None))
    hashes = {p: pixels_hash(p) for p in (units, one, bare)}
    raw = {p: p.read_bytes() for p in hashes}

    dry = repair([units, one, bare], dry_run=True)
    assert _codes(dry) == ["N1-one-based", "N4-tiffdata", "U1-unit"]
    assert all(p.read_bytes() == raw[p] for p in raw)

    report = repair([units, one, bare])
    assert report.ok and set(report.written) == {units, one, bare}
    im = _view(units).images[0]
    assert (im.physical_size_x.unit, im.physical_size_y.unit, im.time_increment.unit) == (
        "µm",
        "µm",
        "s",
    )  # type: ignore[union-attr]
    tds_view = _view(one).images[0].tiffdata
    assert sorted((t.first_z, t.first_c) for t in tds_view) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    rebuilt = _view(bare).images[0].tiffdata
    assert [(t.ifd, t.plane_count) for t in rebuilt] == [(0, 4)]
    for p in hashes:
        assert pixels_hash(p) == hashes[p]
        assert_valid(p)
    assert repair([units, one, bare]).actions == ()  # idempotent


def test_missing_tiffdata_that_cannot_be_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "short.ome.tif"
    write_ome(path, ome_xml(uuid=new_uuid(), tiffdata=None, size_z=5), planes=4)
    raw = path.read_bytes()
    report = repair(path)
    assert not report.ok and report.unresolved[0].code == "N4-tiffdata"
    assert path.read_bytes() == raw
    assert main(["repair", str(path)]) == 1


def test_renamed_embedded_set(tmp_path: Path) -> None:
    a, b = embedded_pair(tmp_path / "set")
    a2, b2 = a.with_name("renamed_first.ome.tif"), b.with_name("other-name.ome.tif")
    a.rename(a2)
    b.rename(b2)
    report = repair(a2)  # one member is enough: the other is found by its UUID
    assert _codes(report) == ["M2-filename"] and set(report.written) == {a2, b2}
    for p in (a2, b2):
        names = {t.filename for t in _view(p).images[0].tiffdata}
        assert names == {a2.name, b2.name}
        assert_valid(p)


def test_embedded_to_companion_and_back(tmp_path: Path) -> None:
    a, b = embedded_pair(tmp_path / "set")
    hashes = [pixels_hash(a), pixels_hash(b)]
    uuids = [_view(a).uuid, _view(b).uuid]
    report = repair([a, b], to_companion=True)
    companion = a.with_name("set.companion.ome")
    assert "to-companion" in _codes(report) and companion.is_file()
    for p, u in zip((a, b), uuids, strict=True):
        v = _view(p)
        assert v.binary_only is not None and v.binary_only.metadata_file == companion.name
        assert v.uuid == u and v.binary_only.uuid == _view(companion).uuid
    assert_valid(companion)
    assert_valid(a)
    report = repair(companion, to_embedded=True)
    assert "to-embedded" in _codes(report) and not companion.exists()
    for p, u, h in zip((a, b), uuids, hashes, strict=True):
        v = _view(p)
        assert v.binary_only is None and v.uuid == u and v.images[0].size_c == 2
        assert pixels_hash(p) == h
        assert_valid(p)


def test_single_file_to_companion(tmp_path: Path) -> None:
    path = tmp_path / "one.ome.tif"
    write_ome(path, ome_xml(uuid=new_uuid()))
    repair(path, to_companion=True)
    companion = tmp_path / "one.companion.ome"
    td = _view(companion).images[0].tiffdata[0]
    assert td.filename == "one.ome.tif" and td.uuid == _view(path).uuid
    assert_valid(companion)


def test_bad_input(tmp_path: Path) -> None:
    text = tmp_path / "x.ome.tif"
    text.write_text("no")
    assert main(["repair", str(text)]) == 2
    assert main(["repair", str(tmp_path / "missing.ome.tif")]) == 2
    with pytest.raises(OmeTiffError):
        repair(text)


# --- corpus sets, copied to tmp first --------------------------------------------------------


@requires_corpus
def test_corpus_renamed_companion_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = copy_corpus(BF / "companion-split-T", tmp_path / "set")
    before = _view(folder / "cluster.companion.ome").images[0]
    (folder / "cluster.companion.ome").rename(folder / "renamed.companion.ome")
    (folder / "cluster_T1.ome.tif").rename(folder / "moved_T1.ome.tif")
    assert main(["repair", str(folder / "moved_T1.ome.tif"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "M4-metadata-file" in out and "dry run" in out
    assert main(["repair", str(folder / "moved_T1.ome.tif")]) == 0
    companion = folder / "renamed.companion.ome"
    after = _view(companion).images[0]
    assert (after.size_x, after.size_y, after.size_z, after.size_c, after.size_t) == (
        before.size_x,
        before.size_y,
        before.size_z,
        before.size_c,
        before.size_t,
    )
    assert "moved_T1.ome.tif" in {t.filename for t in after.tiffdata}
    for p in folder.glob("*.ome.tif"):
        assert _view(p).binary_only.metadata_file == "renamed.companion.ome"  # type: ignore[union-attr]
    assert_valid(companion)
    assert_valid(folder / "cluster_T0.ome.tif")


@requires_corpus
def test_corpus_companion_lost_names(tmp_path: Path) -> None:
    folder = copy_corpus(CORPUS / "ome-tiff" / "multifile-companion", tmp_path / "set")
    companion = folder / "multifile.companion.ome"
    text = companion.read_text("utf-8")

    companion.write_text(re.sub(r'\sFileName="[^"]*"', "", text), encoding="utf-8")
    report = repair(companion)
    # the corpus companion also lacks OME@UUID (M5): it gets the one its members point with
    assert _codes(report) == ["M2-filename", "M5-companion-uuid"]
    member_uuid = _view(folder / "multifile-Z1.ome.tiff").binary_only.uuid  # type: ignore[union-attr]
    assert _view(companion).uuid == member_uuid
    names = sorted(t.filename or "" for t in _view(companion).images[0].tiffdata)
    assert names == [f"multifile-Z{k}.ome.tiff" for k in range(1, 6)]
    assert_valid(companion)
