"""No command reads, writes or deletes anything outside a set's folder (M2, M4).

Five routes out of a folder -- a FileName with ``../``, an absolute FileName, a
BinaryOnly MetadataFile with ``../``, a member that is a symbolic link pointing out
and a companion that is a symbolic link pointing out -- are tried with every
command that opens set members. An audit hook on ``open`` (and on deletes/renames)
watches the real paths; the outside files keep their bytes and mtimes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

from ometiff import OmeTiffError, repair
from ometiff.cli.main import main
from ometiff.validation.validator import validate
from test_edit_helpers import new_uuid, ome_xml, write_ome
from test_validate import NS, WARNING
from test_validate import ome_xml as small_xml

ROUTES = (
    "filename-dotdot",
    "filename-absolute",
    "metadatafile-dotdot",
    "member-link",
    "companion-link",
)

# -- an audit hook that records every touch of a watched folder ----------------------------

_WATCHED: list[Path] = []
_TOUCHED: list[tuple[str, str]] = []
_EVENTS = {"open", "os.remove", "os.rename", "os.truncate", "shutil.rmtree"}


def _hook(event: str, args: tuple[object, ...]) -> None:
    if not _WATCHED or event not in _EVENTS:
        return
    for arg in args[:2]:
        if isinstance(arg, (str, bytes, os.PathLike)):
            real = Path(os.path.realpath(os.fsdecode(arg)))
            if any(w == real or w in real.parents for w in _WATCHED):
                _TOUCHED.append((event, str(real)))


sys.addaudithook(_hook)


@pytest.fixture
def watch() -> object:
    """Start watching a folder; yields the list of touches."""

    def start(folder: Path) -> list[tuple[str, str]]:
        _WATCHED.append(Path(os.path.realpath(folder)))
        return _TOUCHED

    _TOUCHED.clear()
    yield start
    _WATCHED.clear()
    _TOUCHED.clear()


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


# -- the sets -----------------------------------------------------------------------------


def _tiff(path: Path, xml: str, value: int = 1) -> Path:
    tifffile.imwrite(
        path,
        np.full((24, 32), value, np.uint8),
        description=xml.encode(),
        metadata=None,
        photometric="minisblack",
    )
    return path


def _binary_only(member_uuid: str, metadata_file: str, companion_uuid: str) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{WARNING}<OME xmlns="{NS}" UUID="{member_uuid}">'
        f'<BinaryOnly MetadataFile="{metadata_file}" UUID="{companion_uuid}"/></OME>'
    )


def build(tmp_path: Path, route: str) -> tuple[Path, Path]:
    """(entry member, outside folder) for one route out of the set's folder."""
    folder, outside = tmp_path / "set", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    ua, ub, uc = new_uuid(), new_uuid(), new_uuid()
    if route.startswith("filename") or route == "member-link":
        name = {
            "filename-dotdot": "../outside/b.ome.tif",
            "filename-absolute": str(outside / "b.ome.tif"),
            "member-link": "b.ome.tif",
        }[route]
        td = (
            f'<TiffData IFD="0" FirstT="0" PlaneCount="1"><UUID FileName="a.ome.tif">{ua}</UUID></TiffData>'
            f'<TiffData IFD="0" FirstT="1" PlaneCount="1"><UUID FileName="{name}">{ub}</UUID></TiffData>'
        )
        _tiff(folder / "a.ome.tif", small_xml(size_t=2, tiffdata=td, root_uuid=ua))
        _tiff(outside / "b.ome.tif", small_xml(size_t=2, tiffdata=td, root_uuid=ub), 200)
        if route == "member-link":
            (folder / "b.ome.tif").symlink_to(Path("..") / "outside" / "b.ome.tif")
    else:
        td = f'<TiffData IFD="0" PlaneCount="1"><UUID FileName="a.ome.tif">{ua}</UUID></TiffData>'
        (outside / "x.companion.ome").write_text(
            small_xml(tiffdata=td, root_uuid=uc), encoding="utf-8"
        )
        name = "../outside/x.companion.ome" if route == "metadatafile-dotdot" else "x.companion.ome"
        _tiff(folder / "a.ome.tif", _binary_only(ua, name, uc))
        if route == "companion-link":
            (folder / "x.companion.ome").symlink_to(Path("..") / "outside" / "x.companion.ome")
    return folder / "a.ome.tif", outside


COMMANDS = {
    "info-stats": ["info", "--stats", "{entry}"],
    "show": ["show", "{entry}", "--t", "1", "-o", "{out}/plane.png"],
    "convert": ["convert", "{entry}", "{out}/copy.ome.tif"],
    "validate": ["validate", "{entry}"],
    "meta-set": ["meta", "set", "{entry}", "--name", "renamed"],
    "repair-to-embedded": ["repair", "{entry}", "--to-embedded"],
    "repair-to-companion": ["repair", "{entry}", "--to-companion"],
}
REFUSED = ("climbs out of the set's folder", "outside the set's folder")


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("route", ROUTES)
def test_no_command_leaves_the_folder(
    tmp_path: Path,
    route: str,
    command: str,
    watch,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    entry, outside = build(tmp_path, route)
    out = tmp_path / "out"
    out.mkdir()
    before = _snapshot(outside)
    args = [a.format(entry=entry, out=out) for a in COMMANDS[command]]
    touched = watch(outside)
    rc = main(args)
    assert touched == []  # nothing outside was opened, renamed or deleted
    assert _snapshot(outside) == before  # nor written
    text = capsys.readouterr()
    assert rc in (1, 2)  # the refusal is a finding or a one-line error ...
    assert "Traceback" not in text.err + text.out  # ... not a crash
    # (show on a BinaryOnly member whose companion is refused shows the member's own pixels)
    if not (command == "show" and route in ("metadatafile-dotdot", "companion-link")):
        assert any(r in text.out + text.err for r in REFUSED), text.out + text.err
    if command == "validate":
        assert "M2-path-escapes" in text.out


def test_edit_through_a_link_out_of_the_folder_is_refused(tmp_path: Path, watch) -> None:  # type: ignore[no-untyped-def]
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "one.ome.tif"
    write_ome(target, ome_xml(uuid=new_uuid()))
    (tmp_path / "set").mkdir()
    link = tmp_path / "set" / "one.ome.tif"
    link.symlink_to(target)
    before = _snapshot(outside)
    assert main(["meta", "set", str(link), "--name", "x"]) == 2
    with pytest.raises(OmeTiffError, match="symbolic link to a file outside"):
        repair(link, to_companion=True)
    assert _snapshot(outside) == before
    assert [p.name for p in link.parent.iterdir()] == ["one.ome.tif"]  # no companion either


def test_repair_of_a_folder_skips_links_out_of_it(tmp_path: Path, watch) -> None:  # type: ignore[no-untyped-def]
    entry, outside = build(tmp_path, "member-link")
    touched = watch(outside)
    report = repair(entry.parent, dry_run=True)
    assert touched == []
    assert {a.code for a in report.unresolved} == {"M2-path-escapes"}


# -- the one resolution function -----------------------------------------------------------


def test_resolve_name(tmp_path: Path) -> None:
    from ometiff.ome.fileset import resolve_name

    folder = tmp_path / "set"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.ome.tif").write_bytes(b"x")
    (folder / "sub" / "c.ome.tif").write_bytes(b"x")
    (tmp_path / "out.ome.tif").write_bytes(b"x")
    (folder / "inner-link.ome.tif").symlink_to("a.ome.tif")
    (folder / "outer-link.ome.tif").symlink_to(tmp_path / "out.ome.tif")

    assert resolve_name(folder, "a.ome.tif").path == folder / "a.ome.tif"
    assert resolve_name(folder, "sub/c.ome.tif").exists
    assert resolve_name(folder, "sub\\c.ome.tif").exists  # '\' written by Windows tools
    assert resolve_name(folder, "../set/a.ome.tif").exists  # climbs out and back in
    assert resolve_name(folder, "inner-link.ome.tif").exists
    for name, why in (
        ("../out.ome.tif", "climbs out"),
        ("sub/../../out.ome.tif", "climbs out"),
        ("outer-link.ome.tif", "symbolic link"),
        (str(tmp_path / "out.ome.tif"), "absolute path outside"),
    ):
        found = resolve_name(folder, name)
        assert found.path is None and why in (found.refused or ""), name
    # N2: an absolute name is retried by its base name inside the folder
    moved = resolve_name(folder, "/old/disk/a.ome.tif")
    assert moved.path == folder / "a.ome.tif" and moved.absolute and moved.by_basename
    inside = resolve_name(folder, str(folder / "a.ome.tif"))
    assert inside.exists and inside.absolute and not inside.by_basename
    # a relative name whose file is missing is looked up by base name only when asked
    assert not resolve_name(folder, "other/a.ome.tif").exists
    assert resolve_name(folder, "other/a.ome.tif", basename=True).by_basename
    # a file about to be written counts as existing
    new = folder / "new.companion.ome"
    assert resolve_name(folder, "new.companion.ome", virtual={new}).path == new


def test_fileset_exposes_only_safe_members(tmp_path: Path) -> None:
    from ometiff.ome.fileset import resolve_fileset

    entry, outside = build(tmp_path, "filename-dotdot")
    fs = resolve_fileset(entry)
    assert [m.filename for m in fs.refused] == ["../outside/b.ome.tif"]
    assert all(m.path is None for m in fs.refused)
    assert all(outside not in m.path.parents for m in fs.members if m.path is not None)


# -- bug 6: one set, the same findings from every entry file -------------------------------


def _companion_set(folder: Path, metadata_file: str) -> list[Path]:
    folder.mkdir()
    cu = new_uuid()
    uuids = [new_uuid(), new_uuid()]
    names = ["s_T0.ome.tif", "s_T1.ome.tif"]
    td = "".join(
        f'<TiffData IFD="0" FirstT="{k}" PlaneCount="1"><UUID FileName="{names[k]}">{uuids[k]}'
        "</UUID></TiffData>"
        for k in range(2)
    )
    companion = folder / "x.companion.ome"
    companion.write_text(small_xml(size_t=2, tiffdata=td, root_uuid=cu), encoding="utf-8")
    members = [
        _tiff(folder / names[k], _binary_only(uuids[k], metadata_file, cu)) for k in range(2)
    ]
    return [companion, *members]


@pytest.mark.parametrize(
    ("metadata_file", "code"),
    [
        ("other/x.companion.ome", "M4-metadata-file-missing"),
        ("/elsewhere/x.companion.ome", "M2-absolute-path"),
    ],
)
def test_same_findings_from_every_entry(tmp_path: Path, metadata_file: str, code: str) -> None:
    entries = _companion_set(tmp_path / "set", metadata_file)
    found = [sorted((i.code, i.loc) for i in validate(e).issues) for e in entries]
    assert found[0] == found[1] == found[2]
    assert [c for c, _ in found[0]].count(code) == 2  # one per member (M4 / N2)


# -- repair is judged by the validator ------------------------------------------------------


def test_repair_that_would_make_the_set_invalid_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    ua, ub = new_uuid(), new_uuid()
    td = "".join(
        f'<TiffData FirstC="{c}" IFD="0" PlaneCount="2"><UUID FileName="{n}">{u}</UUID></TiffData>'
        for c, (n, u) in enumerate((("a.ome.tif", ua), ("b.ome.tif", ub)))
    )
    a = folder / "a.ome.tif"
    write_ome(a, ome_xml(tiffdata=td, uuid=ua), planes=2)
    # the file that really has b's UUID is smaller than the metadata says, and renamed
    moved = folder / "moved.ome.tif"
    write_ome(moved, ome_xml(tiffdata=td, uuid=ub), planes=2, size_y=16, size_x=16)
    raw = {p: p.read_bytes() for p in (a, moved)}
    with pytest.raises(OmeTiffError, match=r"repair refused.*D5-size-x"):
        repair(a)  # relinking b.ome.tif -> moved.ome.tif would map planes to 16x16 IFDs
    assert {p: p.read_bytes() for p in raw} == raw


def test_validate_judges_candidate_documents_of_a_whole_set(tmp_path: Path) -> None:
    """validate(documents=...): members rewritten as BinaryOnly plus a companion not written yet."""
    folder = tmp_path / "set"
    folder.mkdir()
    ua, cu = new_uuid(), new_uuid()
    member = _tiff(folder / "a.ome.tif", small_xml(root_uuid=ua))
    companion = folder / "a.companion.ome"
    td = f'<TiffData IFD="0" PlaneCount="1"><UUID FileName="a.ome.tif">{ua}</UUID></TiffData>'
    docs: dict[Path, str | bytes] = {
        member: _binary_only(ua, "a.companion.ome", cu),
        companion: small_xml(tiffdata=td, root_uuid=cu),
    }
    raw = member.read_bytes()
    for entry in (member, companion):
        report = validate(entry, documents=docs)
        assert report.errors == () and companion in report.files
    docs[companion] = small_xml(size_x=64, tiffdata=td, root_uuid=cu)  # disagrees with the IFD
    for entry in (member, companion):
        assert "D5-size-x" in {i.code for i in validate(entry, documents=docs).errors}
    assert not companion.exists() and member.read_bytes() == raw  # judged, nothing written
