"""``ometiff info``: the OME meaning, other variants, multi-file sets, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile
from tests.conftest import CORPUS, corpus_files, corpus_id, requires_corpus

from ometiff import OmeTiffError, info
from ometiff.cli.main import main

OME_NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


def _ome_xml(
    *,
    size_x: int,
    size_y: int,
    z: int,
    c: int,
    t: int,
    order: str = "XYZCT",
    pixel_type: str = "uint16",
    tiffdata: str | None = None,
    extra_pixels: str = "",
    channels: str | None = None,
) -> str:
    if channels is None:
        channels = "".join(
            f'<Channel ID="Channel:0:{k}" Name="ch{k}" SamplesPerPixel="1" Color="{-16776961 if k == 0 else 16711935}" '
            f'EmissionWavelength="{500 + k}" EmissionWavelengthUnit="nm"/>'
            for k in range(c)
        )
    if tiffdata is None:
        tiffdata = f'<TiffData IFD="0" PlaneCount="{z * c * t}"/>'
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><OME xmlns="{OME_NS}" UUID="urn:uuid:11111111-2222-3333-4444-555555555555" Creator="test">'
        f'<Image ID="Image:0" Name="séries"><AcquisitionDate>2024-01-02T03:04:05</AcquisitionDate>'
        f'<Pixels ID="Pixels:0" DimensionOrder="{order}" Type="{pixel_type}" SizeX="{size_x}" SizeY="{size_y}" '
        f'SizeZ="{z}" SizeC="{c}" SizeT="{t}" PhysicalSizeX="325" PhysicalSizeXUnit="nm" PhysicalSizeY="0.325" '
        f'PhysicalSizeZ="1.5" PhysicalSizeZUnit="µm" TimeIncrement="250" TimeIncrementUnit="ms" {extra_pixels}>'
        f"{channels}{tiffdata}</Pixels></Image></OME>"
    )


def write_ome(path: Path, data: np.ndarray, xml: str, **kw: object) -> Path:
    tifffile.imwrite(
        path, data, description=xml.encode("utf-8"), metadata=None, photometric="minisblack", **kw
    )  # type: ignore[arg-type]
    return path


def test_ome_meaning(tmp_path: Path) -> None:
    data = np.arange(2 * 3 * 4 * 5 * 6, dtype=np.uint16).reshape(2 * 3 * 4, 5, 6)
    path = write_ome(tmp_path / "a.ome.tif", data, _ome_xml(size_x=6, size_y=5, z=4, c=3, t=2))
    fi = info(path)
    assert fi.variant == "OME-TIFF" and fi.ifd_count == 24 and fi.schema_version == "2016-06"
    (s,) = fi.series
    assert (s.size_x, s.size_y, s.size_z, s.size_c, s.size_t) == (6, 5, 4, 3, 2)
    assert s.name == "séries" and s.dtype == "uint16" and s.dimension_order == "XYZCT"
    assert s.physical_size_x == pytest.approx(0.325) and s.physical_size_y == pytest.approx(0.325)
    assert s.physical_size_z == pytest.approx(1.5) and s.time_increment == pytest.approx(0.25)
    assert s.physical_size_units == {"x": "nm", "y": "µm", "z": "µm"}
    assert [c.name for c in s.channels] == ["ch0", "ch1", "ch2"]
    assert s.channels[0].color == "#FF0000" and s.channels[1].color == "#00FF00"
    assert s.channels[1].emission_nm == pytest.approx(501)
    # XYZCT: Z fastest, then C, then T (D3)
    assert [(p.z, p.c, p.t, p.ifd) for p in s.planes[:6]] == [
        (0, 0, 0, 0),
        (1, 0, 0, 1),
        (2, 0, 0, 2),
        (3, 0, 0, 3),
        (0, 1, 0, 4),
        (1, 1, 0, 5),
    ]
    assert s.planes[-1].ifd == 23 and s.acquisition_date == "2024-01-02T03:04:05"
    assert s.levels == [[5, 6]] and not s.plane_problems


def test_dimension_order_and_explicit_tiffdata(tmp_path: Path) -> None:
    data = np.zeros((4, 3, 3), np.uint8)
    # reverse T order with one TiffData per plane (T5), order XYTCZ
    tds = "".join(f'<TiffData IFD="{3 - k}" FirstT="{k}" PlaneCount="1"/>' for k in range(4))
    path = write_ome(
        tmp_path / "r.ome.tif",
        data,
        _ome_xml(
            size_x=3, size_y=3, z=1, c=1, t=4, order="XYTCZ", pixel_type="uint8", tiffdata=tds
        ),
    )
    (s,) = info(path).series
    assert [(p.t, p.ifd) for p in s.planes] == [(0, 3), (1, 2), (2, 1), (3, 0)]


def test_unmapped_and_duplicate_planes_are_reported(tmp_path: Path) -> None:
    data = np.zeros((3, 3, 3), np.uint8)
    tds = '<TiffData IFD="0" PlaneCount="1"/><TiffData IFD="1" PlaneCount="1"/><TiffData IFD="2" FirstT="1" PlaneCount="1"/>'
    path = write_ome(
        tmp_path / "u.ome.tif",
        data,
        _ome_xml(size_x=3, size_y=3, z=1, c=1, t=3, pixel_type="uint8", tiffdata=tds),
    )
    (s,) = info(path).series
    assert any("not mapped" in p for p in s.plane_problems)
    assert any("more than once" in p for p in s.plane_problems)


def test_imagej_hyperstack(tmp_path: Path) -> None:
    path = tmp_path / "ij.tif"
    data = np.zeros((3, 4, 2, 8, 9), np.uint16)  # TZCYX
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        resolution=(1 / 0.5, 1 / 0.5),
        metadata={"axes": "TZCYX", "spacing": 2.0, "unit": "um", "finterval": 0.5},
    )
    fi = info(path)
    assert fi.variant == "ImageJ"
    (s,) = fi.series
    assert (s.size_x, s.size_y, s.size_z, s.size_c, s.size_t) == (9, 8, 4, 2, 3)
    assert s.physical_size_x == pytest.approx(0.5) and s.physical_size_z == pytest.approx(2.0)
    assert s.time_increment == pytest.approx(0.5)
    assert len(s.planes) == 24 and s.planes[1].c == 1


def test_imagej_and_ome_disagree_is_warned(tmp_path: Path) -> None:
    path = tmp_path / "both.ome.tif"
    data = np.zeros((4, 3, 3), np.uint8)
    xml = _ome_xml(size_x=3, size_y=3, z=4, c=1, t=1, pixel_type="uint8")
    ij = "ImageJ=1.54f\nimages=4\nslices=1\nframes=4\nhyperstack=true\n"
    tifffile.imwrite(
        path,
        data,
        description=xml.encode(),
        metadata=None,
        photometric="minisblack",
        extratags=[(65000, "s", 0, ij, True)],
    )
    # tifffile writes one ImageDescription only; turn the private tag into a second one
    raw = path.read_bytes()
    entry = (65000).to_bytes(2, "little") + (2).to_bytes(2, "little")
    assert raw.count(entry) == 1
    path.write_bytes(raw.replace(entry, (270).to_bytes(2, "little") + (2).to_bytes(2, "little")))
    fi = info(path)
    assert any("X7" in w and "frames=4" in w for w in fi.warnings)


def test_plain_and_rgb_tiff(tmp_path: Path) -> None:
    path = tmp_path / "rgb.tif"
    tifffile.imwrite(path, np.zeros((7, 5, 3), np.uint8), photometric="rgb", metadata=None)
    fi = info(path)
    assert fi.variant.startswith("plain TIFF")
    (s,) = fi.series
    assert s.samples_per_pixel == 3 and s.size_c == 3 and (s.size_x, s.size_y) == (5, 7)


def test_bad_xml_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = write_ome(
        tmp_path / "bad.ome.tif",
        np.zeros((2, 2), np.uint8),
        '<?xml version="1.0"?><OME xmlns="x"><Image ID="Image:0"',
    )
    fi = info(path)
    assert fi.problems and "not well-formed" in fi.problems[0]
    assert fi.ifd_count == 1  # the TIFF part is still reported


def test_non_utf8_description_is_warned(tmp_path: Path) -> None:
    xml = _ome_xml(size_x=2, size_y=2, z=1, c=1, t=1, pixel_type="uint8").replace(
        "séries", "s\xe9ries"
    )
    path = tmp_path / "latin1.ome.tif"
    tifffile.imwrite(
        path, np.zeros((2, 2), np.uint8), description=xml.encode("latin-1"), metadata=None
    )
    fi = info(path)
    assert any("UTF-8" in w for w in fi.warnings)
    assert fi.series[0].name == "s\xe9ries"


def test_entity_declarations_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    xml = f'<?xml version="1.0"?><!DOCTYPE OME [<!ENTITY x SYSTEM "file://{secret}">]>' + _ome_xml(
        size_x=2, size_y=2, z=1, c=1, t=1, pixel_type="uint8"
    ).split("?>", 1)[1].replace('Name="séries"', 'Name="&x;"')
    path = write_ome(tmp_path / "xxe.ome.tif", np.zeros((2, 2), np.uint8), xml)
    fi = info(path)
    assert "TOP-SECRET-VALUE" not in json.dumps(fi.to_dict())
    assert any("entities" in p for p in fi.problems)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(OmeTiffError, match="no such file"):
        info(tmp_path / "nope.tif")
    with pytest.raises(OmeTiffError, match="no reader accepts this input"):
        info(tmp_path)  # an empty folder: neither an OME-Zarr nor an image series
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(OmeTiffError, match="not a TIFF"):
        info(junk)


@requires_corpus
def test_companion_set_from_member_and_companion() -> None:
    folder = CORPUS / "ome-tiff/bioformats-7.3.1/companion-split-T"
    for entry in (folder / "cluster_T1.ome.tif", folder / "cluster.companion.ome"):
        fi = info(entry)
        names = [f["name"] for f in fi.files]
        assert names == [
            "cluster.companion.ome",
            "cluster_T0.ome.tif",
            "cluster_T1.ome.tif",
            "cluster_T2.ome.tif",
        ]
        (s,) = fi.series
        assert (s.size_z, s.size_c, s.size_t) == (10, 2, 3)
        assert {p.file for p in s.planes} == {
            "cluster_T0.ome.tif",
            "cluster_T1.ome.tif",
            "cluster_T2.ome.tif",
        }
        assert len(s.planes) == 60 and not fi.problems


@requires_corpus
def test_missing_member_is_named(tmp_path: Path) -> None:
    src = CORPUS / "ome-tiff/bioformats-7.3.1/companion-split-T"
    dst = tmp_path / "set"
    shutil.copytree(src, dst)
    (dst / "cluster_T2.ome.tif").unlink()
    fi = info(dst / "cluster.companion.ome")
    assert any("cluster_T2.ome.tif" in p and "missing" in p for p in fi.problems)
    assert len(fi.series[0].planes) == 60  # the map is known; the file is not
    assert main(["info", str(dst / "cluster_T0.ome.tif")]) == 2


TIFF_FAMILY = corpus_files(
    "ome-tiff/**/*.tif*",
    "ome-tiff/**/*.tf2",
    "ome-tiff/**/*.tf8",
    "ome-tiff/**/*.btf",
    "ome-tiff/**/*.companion.ome",
    "tiff/**/*",
    "imagej/**/*.tif*",
    "lsm/**/*.lsm",
)


@pytest.mark.parametrize("path", TIFF_FAMILY, ids=[corpus_id(p) for p in TIFF_FAMILY])
def test_every_corpus_file_is_inspected(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No unexpected error on any TIFF-family corpus file; JSON always has the documented keys."""
    code = main(["info", "--json", str(path)])
    out, err = capsys.readouterr()
    assert code in (0, 2)
    assert "Traceback" not in err
    if code == 0:
        doc = json.loads(out)
        for key in ("path", "variant", "bigtiff", "byte_order", "ifd_count", "files", "series"):
            assert key in doc
        for s in doc["series"]:
            for key in (
                "name",
                "size_x",
                "size_y",
                "size_z",
                "size_c",
                "size_t",
                "samples_per_pixel",
                "dtype",
                "dimension_order",
                "physical_size_x",
                "physical_size_y",
                "physical_size_z",
                "channels",
                "levels",
                "planes",
            ):
                assert key in s
    else:
        assert err.startswith("ometiff: error: ") and len(err.strip().splitlines()) >= 1


MALFORMED = corpus_files(
    "tiff/libtiff/test_ifd_loop_*",
    "tiff/image-tiff/fuzz-*",
    "tiff/pillow/crash-*",
    "tiff/pillow/oom-*",
    "tiff/openslide-python/unopenable.tiff",
)


@pytest.mark.parametrize("path", MALFORMED, ids=[corpus_id(p) for p in MALFORMED])
def test_malformed_files_give_one_line(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["info", str(path)])
    _, err = capsys.readouterr()
    assert "Traceback" not in err
    if code == 2:
        assert all(line.startswith("ometiff: error: ") for line in err.strip().splitlines())


def test_cli_views(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--ifds lists every IFD, --tags N dumps IFD N's tags, --planes the plane map, --json a list."""
    data = np.zeros((2 * 3, 5, 6), np.uint16)
    path = write_ome(tmp_path / "v.ome.tif", data, _ome_xml(size_x=6, size_y=5, z=1, c=3, t=2))
    assert main(["info", str(path)]) == 0
    runs = capsys.readouterr().out
    assert "IFD 1–5" in runs and "IFD 3 " not in runs
    assert main(["info", "--ifds", str(path)]) == 0
    every = capsys.readouterr().out
    assert all(f"IFD {k} " in every for k in range(6))
    assert main(["info", "--tags", "0", str(path)]) == 0
    tags = capsys.readouterr().out
    assert "ImageWidth" in tags and "  256 " in tags and "ImageDescription" in tags
    # enumerated values as "number (name)", not Python's enum repr
    assert "1 (MINISBLACK)" in tags and "<PHOTOMETRIC" not in tags
    assert main(["info", "--tags", "9", str(path)]) == 2
    assert "no IFD 9" in capsys.readouterr().err
    assert main(["info", "--planes", str(path)]) == 0
    assert "Z0 C2 T1 -> v.ome.tif IFD 5" in capsys.readouterr().out
    assert main(["info", "--json", str(path), str(path)]) == 0
    docs = json.loads(capsys.readouterr().out)
    assert isinstance(docs, list) and len(docs) == 2 and docs[0]["ifd_count"] == 6


def test_json_version_is_documented(tmp_path: Path) -> None:
    """The README's JSON table names the layout version `info --json` writes."""
    import re

    import numpy as np

    import ometiff
    from ometiff.inspection import JSON_VERSION

    path = ometiff.write(tmp_path / "v.ome.tif", np.zeros((4, 4), np.uint8), axes="YX")
    assert ometiff.info(path).to_dict()["json_version"] == JSON_VERSION
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    documented = re.search(r"`json_version` \| int \| version of this layout \((\d+)\)", readme)
    assert documented is not None and int(documented.group(1)) == JSON_VERSION
