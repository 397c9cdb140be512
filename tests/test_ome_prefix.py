"""OME-XML whose root carries a namespace prefix (``<ome:OME xmlns:ome=...>``, schema-valid,
written by pyometiff) is OME-XML everywhere: info, validate, convert, meta, plane map (X1)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile

from ometiff import convert, info, meta_get, meta_set, read_ome_xml, validate
from ometiff.ome.fileset import resolve_fileset
from ometiff.ome.planemap import plane_map
from ometiff.ome.view import parse_ome
from ometiff.ome.xml import is_ome_xml, root_name
from ometiff.readers import find_reader
from ometiff.readers.ome_tiff import OmeTiffReader
from ometiff.tiff.structure import inspect_tiff, read_description
from ometiff.tiff.variant import detect_variants

NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


def prefixed(xml: str, *, children: bool) -> str:
    """``xml`` with its root as ``ome:OME``; with ``children`` every element is prefixed
    (pyometiff), else the children stay in the default namespace."""
    if children:
        xml = re.sub(r"<(/?)(?=[A-Za-z])", r"<\1ome:", xml)
        return xml.replace('xmlns="', 'xmlns:ome="', 1)
    xml = re.sub(r"<(/?)OME(?=[\s>])", r"<\1ome:OME", xml)
    return xml.replace('xmlns="', f'xmlns:ome="{NS}" xmlns="', 1)


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    path = tmp_path / "plain.ome.tif"
    data = np.arange(2 * 3 * 16 * 24, dtype=np.uint16).reshape(2, 3, 16, 24)
    tifffile.imwrite(
        path,
        data,
        metadata={
            "axes": "CZYX",
            "PhysicalSizeX": 0.5,
            "PhysicalSizeY": 0.25,
            "PhysicalSizeZ": 2.0,
            "Channel": {"Name": ["DAPI", "GFP"]},
        },
    )
    return path


@pytest.fixture(params=[False, True], ids=["root-prefixed", "all-prefixed"])
def sample(request: pytest.FixtureRequest, plain: Path, tmp_path: Path) -> Path:
    path = tmp_path / "prefixed.ome.tif"
    shutil.copy(plain, path)
    xml = prefixed(tifffile.tiffcomment(plain), children=request.param)
    tifffile.tiffcomment(path, xml.encode())
    assert "<ome:OME " in read_description(path)  # type: ignore[operator]
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f'<OME xmlns="{NS}"/>', True),
        (f'<?xml version="1.0"?><!-- c --><ome:OME xmlns:ome="{NS}"><ome:Image/>', True),
        (f'\ufeff<o:OME xmlns:o="{NS}">', True),
        ("<!-- " + "x" * 200_000 + f' --><OME xmlns="{NS}">', True),
        (f'<Root><OME xmlns="{NS}"/></Root>', False),  # OME inside, not the root
        ("<!-- <OME> -->", False),
        ("ImageJ=\nimages=3", False),
        ("", False),
    ],
)
def test_is_ome_xml_parses_the_root(text: str, expected: bool) -> None:
    assert is_ome_xml(text) is expected
    assert is_ome_xml(text.encode()) is expected


def test_root_name_never_raises_on_garbage() -> None:
    assert root_name(b"\x00\xff<<<") is None


def test_undeclared_prefix_is_reported_as_broken_xml(plain: Path, tmp_path: Path) -> None:
    xml = prefixed(tifffile.tiffcomment(plain), children=True).replace("xmlns:ome=", "xmlns:omx=")
    path = tmp_path / "undeclared.ome.tif"
    tifffile.imwrite(path, np.zeros((16, 24), np.uint16), description=xml.encode(), metadata=None)
    codes = [i.code for i in validate(path).issues]
    assert codes == ["X2-not-well-formed"]


def test_walker_and_variant_see_ome_xml(sample: Path) -> None:
    st = inspect_tiff(sample)
    assert st.ifds[0].description_kind == "OME-XML"
    assert detect_variants(st)[0].name == "OME-TIFF"


def test_info(sample: Path) -> None:
    fi = info(sample)
    assert fi.problems == []
    assert fi.metadata_source == "ome"
    (s,) = fi.series
    assert (s.physical_size_x, s.physical_size_y, s.physical_size_z) == (0.5, 0.25, 2.0)
    assert [c.name for c in s.channels] == ["DAPI", "GFP"]
    assert len(s.planes) == 6


def test_validate_finds_what_a_plain_copy_gets(sample: Path, plain: Path) -> None:
    report = validate(sample)
    assert report.ok
    assert sorted(i.code for i in report.issues) == sorted(i.code for i in validate(plain).issues)


def test_plane_map(sample: Path) -> None:
    view = parse_ome(read_ome_xml(sample))
    planes = plane_map(view.images[0], ifd_count=lambda _uuid, _name: 6)
    assert len(planes.planes) == 6 and planes.unmapped == () and planes.duplicates == ()
    assert resolve_fileset(sample).ome.images[0].channels[1].name == "GFP"


def test_reader_registry_picks_the_ome_tiff_reader(sample: Path) -> None:
    assert OmeTiffReader.can_read(sample)
    assert find_reader(sample) is OmeTiffReader


def test_convert_keeps_sizes_and_channel_names(sample: Path, tmp_path: Path) -> None:
    (out,) = convert(sample, tmp_path / "out.ome.tif")
    (s,) = info(out).series
    assert (s.physical_size_x, s.physical_size_y, s.physical_size_z) == (0.5, 0.25, 2.0)
    assert [c.name for c in s.channels] == ["DAPI", "GFP"]
    assert validate(out).ok
    np.testing.assert_array_equal(tifffile.imread(out), tifffile.imread(sample))


def test_meta_get_and_set(sample: Path) -> None:
    assert is_ome_xml(meta_get(sample))
    meta_set(sample, channel_names={1: "mCherry"}, physical_size={"x": "0.75 µm"})
    (s,) = info(sample).series
    assert s.physical_size_x == 0.75
    assert [c.name for c in s.channels] == ["DAPI", "mCherry"]
    assert validate(sample).ok


def test_prefixed_companion_is_read(sample: Path, tmp_path: Path) -> None:
    companion = tmp_path / "set.companion.ome"
    companion.write_text(read_description(sample) or "", encoding="utf-8")
    assert OmeTiffReader.can_read(companion)
    assert info(companion).series[0].size_c == 2
