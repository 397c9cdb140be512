"""ometiff.validate on files broken on purpose: each gives the exact finding (code, severity)."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest
import tifffile

import ometiff
from ometiff import InvalidTiffError, MissingFileError, OmeXmlError, ValidationError
from ometiff.validation.validator import CHECKS

NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"
WARNING = (
    "<!-- Warning: this comment is an OME-XML metadata block, which contains crucial "
    "dimensional parameters and other important metadata. -->"
)


def ome_xml(
    *,
    size_x: int = 32,
    size_y: int = 24,
    size_z: int = 1,
    size_c: int = 1,
    size_t: int = 1,
    tiffdata: str = '<TiffData IFD="0" PlaneCount="1"/>',
    planes: str = "",
    unit: str = "µm",
    root_uuid: str | None = None,
    pixel_type: str = "uint8",
    order: str = "XYZCT",
) -> str:
    channels = "".join(
        f'<Channel ID="Channel:0:{c}" Name="c{c}" SamplesPerPixel="1"/>' for c in range(size_c)
    )
    uid = f' UUID="{root_uuid}"' if root_uuid else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{WARNING}<OME xmlns="{NS}"{uid}>'
        f'<Image ID="Image:0" Name="test"><Pixels ID="Pixels:0" DimensionOrder="{order}" '
        f'Type="{pixel_type}" SizeX="{size_x}" SizeY="{size_y}" SizeZ="{size_z}" '
        f'SizeC="{size_c}" SizeT="{size_t}" PhysicalSizeX="0.5" PhysicalSizeXUnit="{unit}" '
        f'PhysicalSizeY="0.5" PhysicalSizeYUnit="µm">'
        f"{channels}{tiffdata}{planes}</Pixels></Image></OME>"
    )


def write_tiff(path: Path, xml: str, n_ifds: int, *, shape: tuple[int, int] = (24, 32)) -> Path:
    with tifffile.TiffWriter(path) as tw:
        for k in range(n_ifds):
            tw.write(
                np.full(shape, k, np.uint8),
                description=xml.encode("utf-8") if k == 0 else None,
                metadata=None,
                photometric="minisblack",
            )
    return path


def findings(report: ometiff.ValidationReport) -> set[tuple[str, str]]:
    return {(i.code, i.severity) for i in report.issues}


def error_codes(report: ometiff.ValidationReport) -> set[str]:
    return {i.code for i in report.errors}


def test_valid_file_has_no_errors_or_warnings(tmp_path: Path) -> None:
    xml = ome_xml(size_t=3, tiffdata='<TiffData IFD="0" PlaneCount="3"/>')
    path = write_tiff(tmp_path / "good.ome.tif", xml, 3)
    report = ometiff.validate(path)
    assert report.ok
    assert report.errors == () and report.warnings == ()
    assert report.files == (path,)
    report.raise_if_invalid()  # does not raise


def test_tifffile_ome_output_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "tf.ome.tif"
    tifffile.imwrite(path, np.zeros((2, 3, 16, 16), np.uint16), ome=True, metadata={"axes": "TCYX"})
    report = ometiff.validate(path)
    assert report.errors == (), report.issues


def test_tiffdata_past_last_ifd(tmp_path: Path) -> None:
    xml = ome_xml(size_t=3, tiffdata='<TiffData IFD="0" PlaneCount="3"/>')
    report = ometiff.validate(write_tiff(tmp_path / "short.ome.tif", xml, 2))
    issue = next(i for i in report.issues if i.code == "T5-ifd-out-of-range")
    assert issue.severity == "error"
    assert "IFDs 2..2" in issue.message and "has 2 IFD(s)" in issue.message
    assert not report.ok


def test_size_x_mismatch(tmp_path: Path) -> None:
    xml = ome_xml(size_x=33)
    report = ometiff.validate(write_tiff(tmp_path / "sx.ome.tif", xml, 1))
    assert ("D5-size-x", "error") in findings(report)
    issue = next(i for i in report.issues if i.code == "D5-size-x")
    assert issue.loc == "sx.ome.tif: IFD 0"
    assert "32 pixels wide" in issue.message and "SizeX=33" in issue.message
    assert "D5-size-y" not in error_codes(report)


def test_type_mismatch(tmp_path: Path) -> None:
    report = ometiff.validate(write_tiff(tmp_path / "t.ome.tif", ome_xml(pixel_type="uint16"), 1))
    assert ("D5-type", "error") in findings(report)


def test_plane_mapped_twice(tmp_path: Path) -> None:
    td = (
        '<TiffData IFD="0" FirstT="0" PlaneCount="1"/>'
        '<TiffData IFD="1" FirstT="1" PlaneCount="1"/>'
        '<TiffData IFD="1" FirstT="0" PlaneCount="1"/>'
    )
    report = ometiff.validate(
        write_tiff(tmp_path / "twice.ome.tif", ome_xml(size_t=2, tiffdata=td), 2)
    )
    issue = next(i for i in report.issues if i.code == "T5-plane-mapped-twice")
    assert issue.severity == "error"
    assert issue.loc.endswith("Image[0]/Pixels/TiffData[2]")
    assert "already mapped by TiffData[0]" in issue.message
    # IFD 1 now holds two planes of the image
    assert ("T5-ifd-mapped-twice", "error") not in findings(report)  # the duplicate was dropped
    assert "T4-plane-not-mapped" not in error_codes(report)


def test_ifd_holding_two_planes(tmp_path: Path) -> None:
    td = (
        '<TiffData IFD="0" FirstT="0" PlaneCount="1"/><TiffData IFD="0" FirstT="1" PlaneCount="1"/>'
    )
    report = ometiff.validate(
        write_tiff(tmp_path / "ifd2.ome.tif", ome_xml(size_t=2, tiffdata=td), 2)
    )
    assert ("T5-ifd-mapped-twice", "error") in findings(report)


def test_plane_never_mapped(tmp_path: Path) -> None:
    xml = ome_xml(size_t=2, tiffdata='<TiffData IFD="0" PlaneCount="1"/>')
    report = ometiff.validate(write_tiff(tmp_path / "lost.ome.tif", xml, 2))
    issue = next(i for i in report.issues if i.code == "T4-plane-not-mapped")
    assert issue.severity == "error"
    assert "1 of 2 planes" in issue.message and "Z=0 C=0 T=1" in issue.message


def test_fill_down_is_a_warning(tmp_path: Path) -> None:
    xml = ome_xml(size_t=3, tiffdata='<TiffData IFD="0"/>')  # IFD given, no PlaneCount (T6)
    report = ometiff.validate(write_tiff(tmp_path / "fill.ome.tif", xml, 3))
    assert ("T6-fill-down", "warning") in findings(report)
    assert report.ok
    assert not ometiff.validate(tmp_path / "fill.ome.tif", strict=True).ok


def test_planecount_overflow(tmp_path: Path) -> None:
    xml = ome_xml(size_t=2, tiffdata='<TiffData IFD="0" PlaneCount="3"/>')
    report = ometiff.validate(write_tiff(tmp_path / "over.ome.tif", xml, 3))
    assert ("T5-planecount-overflow", "error") in findings(report)


def test_missing_tiffdata_is_a_warning(tmp_path: Path) -> None:
    report = ometiff.validate(write_tiff(tmp_path / "notd.ome.tif", ome_xml(tiffdata=""), 1))
    assert ("T6-no-tiffdata", "warning") in findings(report)


def test_um_instead_of_micro_sign(tmp_path: Path) -> None:
    report = ometiff.validate(write_tiff(tmp_path / "um.ome.tif", ome_xml(unit="um"), 1))
    units = [i for i in report.issues if i.code.startswith("U1")]
    assert [(i.code, i.severity) for i in units] == [("U1-unit-spelling", "error")]
    assert "'µm'" in units[0].message and "PhysicalSizeXUnit='um'" in units[0].message
    assert units[0].loc == "um.ome.tif: Image/Pixels@PhysicalSizeXUnit"
    # the XSD enumeration error for the same attribute is folded into U1
    assert not any(i.code.startswith("S8") for i in report.issues)


def test_greek_mu_and_unknown_time_unit(tmp_path: Path) -> None:
    planes = '<Plane TheZ="0" TheC="0" TheT="0" DeltaT="1" DeltaTUnit="fortnight"/>'
    report = ometiff.validate(
        write_tiff(tmp_path / "mu.ome.tif", ome_xml(unit="μm", planes=planes), 1)
    )
    assert ("U1-unit-spelling", "error") in findings(report)
    assert ("U2-unknown-unit", "error") in findings(report)


def test_plane_indices(tmp_path: Path) -> None:
    planes = (
        '<Plane TheZ="0" TheC="0" TheT="0"/><Plane TheZ="0" TheC="0" TheT="0"/>'
        '<Plane TheZ="0" TheC="0" TheT="5"/>'
    )
    xml = ome_xml(size_t=2, tiffdata='<TiffData IFD="0" PlaneCount="2"/>', planes=planes)
    report = ometiff.validate(write_tiff(tmp_path / "pl.ome.tif", xml, 2))
    assert ("PL1-index-out-of-range", "error") in findings(report)
    assert ("PL1-duplicate-plane", "warning") in findings(report)


def test_subresolution_referenced_by_tiffdata(tmp_path: Path) -> None:
    xml = ome_xml(size_x=64, size_y=64, size_t=2, tiffdata='<TiffData IFD="0" PlaneCount="2"/>')
    path = tmp_path / "subres.ome.tif"
    with tifffile.TiffWriter(path) as tw:
        tw.write(np.zeros((64, 64), np.uint8), description=xml.encode(), metadata=None)
        tw.write(np.zeros((32, 32), np.uint8), subfiletype=1, metadata=None)
    report = ometiff.validate(path)
    issue = next(i for i in report.issues if i.code == "T7-subresolution-in-tiffdata")
    assert issue.severity == "error" and issue.loc == "subres.ome.tif: IFD 1"


def test_subifd_pyramid_is_valid(tmp_path: Path) -> None:
    xml = ome_xml(size_x=256, size_y=256)
    path = tmp_path / "pyr.ome.tif"
    with tifffile.TiffWriter(path) as tw:
        tw.write(
            np.zeros((256, 256), np.uint8),
            description=xml.encode(),
            metadata=None,
            subifds=2,
            tile=(64, 64),
        )
        tw.write(np.zeros((128, 128), np.uint8), subfiletype=1, metadata=None, tile=(64, 64))
        tw.write(np.zeros((64, 64), np.uint8), subfiletype=1, metadata=None, tile=(64, 64))
    report = ometiff.validate(path)
    assert report.errors == () and report.warnings == (), report.issues


def test_subifd_pyramid_bad_factors_and_subfiletype(tmp_path: Path) -> None:
    xml = ome_xml(size_x=256, size_y=256)
    path = tmp_path / "pyr.ome.tif"
    with tifffile.TiffWriter(path) as tw:
        tw.write(np.zeros((256, 256), np.uint8), description=xml.encode(), metadata=None, subifds=2)
        tw.write(np.zeros((128, 128), np.uint8), metadata=None)  # NewSubfileType 0 (P-4)
        tw.write(np.zeros((40, 40), np.uint8), subfiletype=1, metadata=None)  # factor 3.2 (P-5)
    report = ometiff.validate(path)
    assert ("P-4-subfiletype", "warning") in findings(report)
    assert ("P-5-factors", "warning") in findings(report)


def _embedded_set(folder: Path, names: tuple[str, ...]) -> list[Path]:
    uuids = [f"urn:uuid:{uuid.uuid4()}" for _ in names]
    td = "".join(
        f'<TiffData IFD="0" FirstT="{k}" PlaneCount="1"><UUID FileName="{name}">{u}</UUID></TiffData>'
        for k, (name, u) in enumerate(zip(names, uuids, strict=True))
    )
    paths = []
    for name, u in zip(names, uuids, strict=True):
        xml = ome_xml(size_t=len(names), tiffdata=td, root_uuid=u)
        paths.append(write_tiff(folder / name, xml, 1))
    return paths


def test_multifile_set_valid_from_any_member(tmp_path: Path) -> None:
    paths = _embedded_set(tmp_path, ("a.ome.tif", "b.ome.tif", "c.ome.tif"))
    for path in paths:
        report = ometiff.validate(path)
        assert report.errors == () and report.warnings == (), report.issues
        assert set(report.files) == set(paths)


def test_missing_member_of_multifile_set(tmp_path: Path) -> None:
    paths = _embedded_set(tmp_path, ("a.ome.tif", "b.ome.tif"))
    paths[1].unlink()
    report = ometiff.validate(paths[0])
    issue = next(i for i in report.issues if i.code == "M1-missing-member")
    assert issue.severity == "error" and "'b.ome.tif'" in issue.loc


def test_member_with_other_uuid(tmp_path: Path) -> None:
    paths = _embedded_set(tmp_path, ("a.ome.tif", "b.ome.tif"))
    write_tiff(paths[1], ome_xml(root_uuid=f"urn:uuid:{uuid.uuid4()}"), 1)
    report = ometiff.validate(paths[0])
    assert ("M1-uuid-mismatch", "error") in findings(report)
    assert ("M3-copies-differ", "warning") in findings(report)


def test_binaryonly_set_with_companion(tmp_path: Path) -> None:
    comp_uuid = f"urn:uuid:{uuid.uuid4()}"
    names = ("m0.ome.tif", "m1.ome.tif")
    uuids = [f"urn:uuid:{uuid.uuid4()}" for _ in names]
    td = "".join(
        f'<TiffData IFD="0" FirstZ="{k}" PlaneCount="1"><UUID FileName="{n}">{u}</UUID></TiffData>'
        for k, (n, u) in enumerate(zip(names, uuids, strict=True))
    )
    companion = tmp_path / "set.companion.ome"
    companion.write_text(ome_xml(size_z=2, tiffdata=td, root_uuid=comp_uuid), encoding="utf-8")
    for n, u in zip(names, uuids, strict=True):
        member = (
            f'<?xml version="1.0" encoding="UTF-8"?><OME xmlns="{NS}" UUID="{u}">'
            f'<BinaryOnly MetadataFile="set.companion.ome" UUID="{comp_uuid}"/></OME>'
        )
        write_tiff(tmp_path / n, member, 1)
    for entry in (companion, tmp_path / names[0], tmp_path / names[1]):
        report = ometiff.validate(entry)
        assert report.errors == (), (entry, report.issues)
        assert companion in report.files and tmp_path / names[1] in report.files
    # M5: a companion without OME@UUID
    companion.write_text(ome_xml(size_z=2, tiffdata=td), encoding="utf-8")
    assert ("M5-no-uuid", "error") in findings(ometiff.validate(tmp_path / names[0]))
    # M4: the companion is gone
    companion.unlink()
    assert ("M4-metadata-file-missing", "error") in findings(ometiff.validate(tmp_path / names[0]))


def test_escaping_filename_is_a_finding_and_never_opened(tmp_path: Path) -> None:
    import sys

    outside = tmp_path / "outside"
    folder = tmp_path / "set"
    outside.mkdir()
    folder.mkdir()
    secret = write_tiff(outside / "secret.ome.tif", ome_xml(), 1)
    u = f"urn:uuid:{uuid.uuid4()}"
    td = (
        '<TiffData IFD="0" FirstT="0" PlaneCount="1"/>'
        f'<TiffData IFD="0" FirstT="1" PlaneCount="1"><UUID FileName="../outside/secret.ome.tif">{u}</UUID></TiffData>'
        f'<TiffData IFD="0" FirstT="2" PlaneCount="1"><UUID FileName="{secret}">{u}</UUID></TiffData>'
    )
    entry = write_tiff(folder / "entry.ome.tif", ome_xml(size_t=3, tiffdata=td), 1)
    opened: list[str] = []
    watching = True

    def hook(event: str, args: tuple[object, ...]) -> None:
        if watching and event == "open" and args and "secret" in str(args[0]):
            opened.append(str(args[0]))

    sys.addaudithook(hook)
    try:
        report = ometiff.validate(entry)
    finally:
        watching = False
    escapes = [i for i in report.issues if i.code == "M2-path-escapes"]
    assert len(escapes) == 2 and all(i.severity == "error" for i in escapes)
    assert opened == []
    assert secret not in report.files


def test_binaryonly_metadata_file_outside_folder(tmp_path: Path) -> None:
    member = (
        f'<?xml version="1.0" encoding="UTF-8"?><OME xmlns="{NS}" UUID="urn:uuid:{uuid.uuid4()}">'
        f'<BinaryOnly MetadataFile="../x.companion.ome" UUID="urn:uuid:{uuid.uuid4()}"/></OME>'
    )
    report = ometiff.validate(write_tiff(tmp_path / "m.ome.tif", member, 1))
    assert ("M2-path-escapes", "error") in findings(report)


def test_not_ome_tiff(tmp_path: Path) -> None:
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, np.zeros((8, 8), np.uint8), metadata=None)
    report = ometiff.validate(path)
    assert ("X1-no-ome-xml", "error") in findings(report)


def test_not_well_formed_description(tmp_path: Path) -> None:
    path = write_tiff(tmp_path / "bad.ome.tif", "<OME><Image></OME>", 1)
    assert ("X2-not-well-formed", "error") in findings(ometiff.validate(path))


def test_codec_bioformats_cannot_read(tmp_path: Path) -> None:
    pytest.importorskip("imagecodecs")
    path = tmp_path / "webp.ome.tif"
    xml = ome_xml()
    tifffile.imwrite(
        path,
        np.zeros((24, 32), np.uint8),
        description=xml.encode(),
        metadata=None,
        compression="zstd",
    )
    assert not any(i.code == "W4-codec" for i in ometiff.validate(path).issues)
    tifffile.imwrite(
        path,
        np.zeros((24, 32), np.uint8),
        description=xml.encode(),
        metadata=None,
        compression="lerc",
    )
    assert ("W4-codec", "warning") in findings(ometiff.validate(path))


def test_imagej_header_conflicting_with_ome(tmp_path: Path) -> None:
    path = tmp_path / "ij.ome.tif"
    xml = ome_xml(size_z=2, tiffdata='<TiffData IFD="0" PlaneCount="2"/>')
    ij = "ImageJ=1.54f\nimages=2\nslices=1\nframes=2\nhyperstack=true\n"
    tifffile.imwrite(
        path,
        np.zeros((2, 24, 32), np.uint8),
        description=xml.encode(),
        metadata=None,
        photometric="minisblack",
        extratags=[(65000, "s", 0, ij, True)],
    )
    # tifffile writes one ImageDescription; turn the private tag into a second one
    raw = path.read_bytes()
    entry = (65000).to_bytes(2, "little") + (2).to_bytes(2, "little")
    assert raw.count(entry) == 1
    path.write_bytes(raw.replace(entry, (270).to_bytes(2, "little") + (2).to_bytes(2, "little")))
    report = ometiff.validate(path)
    issues = [i for i in report.issues if i.code == "X7-imagej-conflict"]
    assert [i.severity for i in issues] == ["warning", "warning"]  # slices and frames
    assert any("frames=2" in i.message and "SizeT=1" in i.message for i in issues)


def test_wrong_extension_and_no_warning_comment(tmp_path: Path) -> None:
    xml = ome_xml().replace(WARNING, "")
    report = ometiff.validate(write_tiff(tmp_path / "x.tif", xml, 1))
    assert ("C2-extension", "warning") in findings(report)
    assert ("X4-no-warning-comment", "info") in findings(report)


def test_schema_errors_and_no_schema_option(tmp_path: Path) -> None:
    xml = ome_xml().replace('ID="Channel:0:0"', 'ID="BadId"')
    path = write_tiff(tmp_path / "id.ome.tif", xml, 1)
    report = ometiff.validate(path)
    assert ("S7-id-pattern", "error") in findings(report)
    assert report.errors[0].loc.startswith("id.ome.tif: Image/Pixels/Channel")
    assert ometiff.validate(path, schema=False).ok


def test_old_schema_is_upgraded(tmp_path: Path) -> None:
    xml = ome_xml().replace("2016-06", "2015-01")
    report = ometiff.validate(write_tiff(tmp_path / "old.ome.tif", xml, 1))
    assert ("S3-old-version", "info") in findings(report)
    assert report.ok


def test_unreadable_inputs_raise(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="no such file"):
        ometiff.validate(tmp_path / "missing.ome.tif")
    junk = tmp_path / "junk.ome.tif"
    junk.write_bytes(b"\x00\x01 not a tiff nor xml")
    with pytest.raises(OmeXmlError, match="neither a TIFF"):
        ometiff.validate(junk)
    with pytest.raises(InvalidTiffError, match="folder"):
        ometiff.validate(tmp_path)


def test_report_api(tmp_path: Path) -> None:
    xml = ome_xml(size_x=33)
    report = ometiff.validate(write_tiff(tmp_path / "r.ome.tif", xml, 1))
    data = report.to_dict()
    assert data["ok"] is False and data["errors"] == len(report.errors) >= 1
    assert data["issues"][0]["severity"] == "error"
    with pytest.raises(ValidationError, match="D5-size-x"):
        report.raise_if_invalid()
    assert "D5" in report.codes()


def test_every_check_is_a_small_named_function() -> None:
    assert len(CHECKS) >= 25
    assert all(callable(c) and c.__name__.startswith("check_") for c in CHECKS)
    assert len(set(CHECKS)) == len(CHECKS)


def test_xml_override_checks_a_document_before_it_is_written(tmp_path: Path) -> None:
    """validate(path, xml=...) judges a candidate document against the file's IFDs."""
    xml = ome_xml(size_t=2, tiffdata='<TiffData IFD="0" PlaneCount="2"/>')
    path = write_tiff(tmp_path / "o.ome.tif", xml, 2)
    raw = path.read_bytes()
    assert ometiff.validate(path).ok
    bad = ometiff.validate(path, xml=xml.replace('SizeX="32"', 'SizeX="40"'))
    assert "D5-size-x" in error_codes(bad)
    worse = ometiff.validate(path, xml=xml.replace('PlaneCount="2"', 'PlaneCount="3"'))
    assert "T5-planecount-overflow" in error_codes(worse)
    assert path.read_bytes() == raw  # the file itself is never touched
    assert ometiff.validate(path).ok
