"""Vendor readers build their OME as XML: ``convert`` writes it without ome_types (issue 9).

The CZI, LIF and ND2 readers build one OME-XML tree (``ome_tree``); ``ome()`` is that tree
read by ome_types, and the writer conforms the tree itself
(:func:`ometiff.writer.omexml.conform_tree`). Both routes must give the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import corpus_files, corpus_id, heavy_imports_of

from ometiff.readers import open_image
from ometiff.readers.vendor import OME_ATTRIBUTES, xsd_datetime, xsd_float
from ometiff.writer.multifile import plan_files, tiffdata_runs
from ometiff.writer.omebuild import conform_ome, ome_xml_template
from ometiff.writer.omexml import LightOme, render

XML_READERS = {"czi": "pylibCZIrw", "lif": "liffile", "nd2": "nd2"}
FILES = corpus_files("czi/**/*.czi", "lif/**/*.lif", "nd2/**/*.nd2")


def _ready(path: Path) -> None:
    pytest.importorskip(XML_READERS[path.suffix[1:].lower()])


@pytest.mark.parametrize("multi", [False, True])
@pytest.mark.parametrize("path", FILES, ids=[corpus_id(p) for p in FILES])
def test_tree_conforms_like_ome_types(path: Path, multi: bool, tmp_path: Path) -> None:
    """The XML the writer puts into a file is the same by either route, byte for byte."""
    _ready(path)
    with open_image(path) as rdr:
        sources = rdr.sources()
        light = LightOme.of_tree(rdr.ome_tree)  # type: ignore[attr-defined]
        orders = light.orders()
        plans = plan_files(tmp_path / "x.ome.tif", sources, orders, "series" if multi else None)
        runs = tiffdata_runs(plans)
        fast = render(light, sources, orders, runs, multi_file=multi)
        full = ome_xml_template(conform_ome(rdr.ome(), sources, orders, runs, multi_file=multi))
    assert fast == full


@pytest.mark.parametrize("path", FILES, ids=[corpus_id(p) for p in FILES])
def test_ome_view_reads_the_tree_like_the_model(path: Path) -> None:
    """``ome_view()`` (from the XML) describes what ``ome()`` (ome_types) holds."""
    from ome_types import to_xml

    from ometiff.ome.view import parse_ome

    _ready(path)
    with open_image(path) as rdr:
        view = rdr.ome_view()
        model = parse_ome(to_xml(rdr.ome()), source=str(path))
    assert view.images == model.images


def test_ome_copies_are_independent() -> None:
    """Library hygiene: a caller's edit of ``ome()`` never reaches the next caller."""
    if not FILES:
        pytest.skip("corpus missing")
    path = FILES[0]
    _ready(path)
    with open_image(path) as rdr:
        first = rdr.ome()
        first.images[0].name = "edited"
        assert rdr.ome().images[0].name != "edited"


def test_attribute_order_is_ome_types_field_order() -> None:
    """OME_ATTRIBUTES lists each element's attributes in ome_types' field order."""
    from ome_types import model as m

    for tag, names in OME_ATTRIBUTES.items():
        if not names:  # a text element (AcquisitionDate)
            continue
        cls = m.Map.M if tag == "M" else getattr(m, tag)  # M: a Map's key-value pair
        fields = []
        for info in cls.model_fields.values():
            meta = info.json_schema_extra
            if isinstance(meta, dict) and meta.get("type") == "Attribute":
                fields.append(meta.get("name"))
        assert [n for n in fields if n in names] == list(names), tag
        assert set(names) <= set(fields), tag


@pytest.mark.parametrize(
    "value", [2.0, 1e-05, 1e20, 0.1 + 0.2, 3.5e-300, 63.0, 123456789012345678.0]
)
def test_xsd_float_matches_ome_types(value: float) -> None:
    from ome_types import from_xml, to_xml
    from ome_types import model as m

    ome = m.OME(
        images=[
            m.Image(
                pixels=m.Pixels(
                    dimension_order="XYZCT",
                    type="uint8",
                    size_x=1,
                    size_y=1,
                    size_z=1,
                    size_c=1,
                    size_t=1,
                    physical_size_x=value,
                )
            )
        ]
    )
    xml = to_xml(ome)
    assert f'PhysicalSizeX="{xsd_float(value)}"' in xml
    assert from_xml(xml).images[0].pixels.physical_size_x == value


def test_xsd_datetime_matches_ome_types() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from ome_types import model as m
    from ome_types import to_xml

    for when in (
        datetime(2021, 1, 29, 15, 44, 20, 942000, tzinfo=UTC),
        datetime(2021, 1, 29, 15, 44, 20, tzinfo=UTC),
        datetime(2021, 1, 29, 15, 44, 20, 940000),
        datetime(2021, 1, 29, 15, 44, 20, 123456, tzinfo=timezone(timedelta(hours=-2))),
        datetime(2021, 1, 29, 15, 44, 20, 100),
    ):
        xml = to_xml(
            m.OME(
                images=[
                    m.Image(
                        acquisition_date=when,
                        pixels=m.Pixels(
                            dimension_order="XYZCT",
                            type="uint8",
                            size_x=1,
                            size_y=1,
                            size_z=1,
                            size_c=1,
                            size_t=1,
                        ),
                    )
                ]
            )
        )
        assert f"<AcquisitionDate>{xsd_datetime(when)}</AcquisitionDate>" in xml


@pytest.mark.parametrize("command", ["convert", "xml"])
@pytest.mark.parametrize("suffix", ["czi", "lif", "nd2"])
def test_convert_of_vendor_file_imports_no_ome_types(
    suffix: str, command: str, tmp_path: Path
) -> None:
    """Start-up: converting a whole CZI, LIF or ND2 file (or printing the XML a conversion
    writes) never imports ome_types or pydantic."""
    files = [p for p in FILES if p.suffix.lower() == f".{suffix}"]
    if not files:
        pytest.skip("corpus missing")
    src = min(files, key=lambda p: p.stat().st_size)
    _ready(src)
    args = (
        ["convert", src, tmp_path / "o.ome.tif", "--quiet"]
        if command == "convert"
        else ["xml", src]
    )
    assert heavy_imports_of(args) == []
