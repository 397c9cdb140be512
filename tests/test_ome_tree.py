"""OME-TIFF sources convert without ome_types: the source tree is conformed directly.

``OmeTiffReader.ome_tree`` hands a 2016-06, XSD-valid document to the writer, which
conforms it as it does the vendor readers' trees (``writer.omexml.conform_tree``).
The model of what it writes must equal what the ome_types route writes, on every
corpus OME-TIFF that takes the tree route, and documents the tree route cannot
trust (another schema version, a prefixed root, XSD errors) keep the ome_types route.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import ome_types
import pytest
import tifffile
from tests.conftest import corpus_files, corpus_id, heavy_imports_of

from ometiff import OmeTiffError, write
from ometiff.conversion import conversion_xml, prepare
from ometiff.readers.ome_tiff import OmeTiffReader
from ometiff.readers.registry import open_image
from ometiff.writer.multifile import plan_files, tiffdata_runs
from ometiff.writer.omebuild import conform_ome, ome_xml_template
from ometiff.writer.omexml import with_root_uuid

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [
    p
    for p in corpus_files(
        "ome-tiff/**/*.ome.tif", "ome-tiff/**/*.ome.tiff", "ome-tiff/**/*.companion.ome"
    )
    if p.stat().st_size < 8_000_000
]


def _full_route_xml(path: Path) -> str:
    """What the writer makes of the source through ome_types (the route before)."""
    with open_image(path) as rdr:
        ome, sources, _ = prepare(rdr, light=False)
    orders = [image.pixels.dimension_order.value for image in ome.images]
    plans = plan_files(Path("converted.ome.tif"), sources, orders, None)
    conformed = conform_ome(ome, sources, orders, tiffdata_runs(plans), multi_file=False)
    return with_root_uuid(ome_xml_template(conformed), plans[0].uuid).decode()


def _model(xml: str) -> ome_types.OME:
    ome = ome_types.from_xml(xml)
    ome.uuid = None
    return ome


@pytest.mark.parametrize("path", SOURCES, ids=corpus_id)
def test_tree_route_writes_the_model_the_ome_types_route_writes(path: Path) -> None:
    try:
        with open_image(path) as rdr:
            if not isinstance(rdr, OmeTiffReader) or rdr.ome_tree is None:
                pytest.skip("takes the ome_types route")
        light = conversion_xml(path)
        full = _full_route_xml(path)
    except OmeTiffError as exc:
        pytest.skip(f"not converted: {exc}")
    assert _model(light) == _model(full)


def test_corpus_has_files_on_the_tree_route() -> None:
    if not SOURCES:
        pytest.skip("corpus missing")
    taken = 0
    for path in SOURCES:
        try:
            with open_image(path) as rdr:
                taken += isinstance(rdr, OmeTiffReader) and rdr.ome_tree is not None
        except OmeTiffError:
            continue
    assert taken >= 10


def _ome_tiff(path: Path, xml: str, planes: int = 2) -> Path:
    tifffile.imwrite(
        path,
        np.zeros((planes, 8, 8), np.uint16),
        description=xml,
        metadata=None,
        photometric="minisblack",
    )
    return path


_NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


def _doc(pixels_inner: str, *, size_c: int = 2, root: str = "OME", xmlns: str = "") -> str:
    xmlns = xmlns or f'xmlns="{_NS}"'
    return (
        f'<{root} {xmlns}><Image ID="Image:0"><Pixels ID="Pixels:0" '
        f'DimensionOrder="XYCZT" Type="uint16" SizeX="8" SizeY="8" SizeZ="1" '
        f'SizeC="{size_c}" SizeT="1">{pixels_inner}</Pixels></Image></{root}>'
    )


def test_missing_channels_are_filled_and_outside_planes_noted(tmp_path: Path) -> None:
    xml = _doc(
        '<Channel ID="Channel:0:0" Name="dna"/><TiffData/>'
        '<Plane TheZ="0" TheT="0" TheC="0"/><Plane TheZ="0" TheT="0" TheC="5"/>'
    )
    src = _ome_tiff(tmp_path / "a.ome.tif", xml)
    with OmeTiffReader(src) as rdr:
        assert rdr.ome_tree is not None
        assert ("Image:0 Plane elements", "1 outside the image dropped (PL1)") in rdr.notes.unmapped
    out = _model(conversion_xml(src))
    assert [ch.name for ch in out.images[0].pixels.channels] == ["dna", None]
    assert [p.the_c for p in out.images[0].pixels.planes] == [0]
    assert out == _model(_full_route_xml(src))


def test_a_selection_takes_the_ome_types_route_and_notes_once(tmp_path: Path) -> None:
    """With ``channels=`` the tree is not wanted: the Plane outside the image is noted
    once, by the ome_types route, not also by building a tree that is not used."""
    from ometiff import convert

    xml = _doc(
        '<Channel ID="Channel:0:0"/><Channel ID="Channel:0:1"/><TiffData/>'
        '<Plane TheZ="0" TheT="0" TheC="0"/><Plane TheZ="0" TheT="0" TheC="5"/>'
    )
    src = _ome_tiff(tmp_path / "a.ome.tif", xml)
    result = convert(src, tmp_path / "o.ome.tif", channels=[0])
    reasons = [u["reason"] for u in result.receipts[0].unmapped]
    assert sum("outside the image dropped (PL1)" in r for r in reasons) == 1


@pytest.mark.parametrize("case", ["prefixed", "xsd-invalid", "old-schema"])
def test_untrusted_documents_keep_the_ome_types_route(tmp_path: Path, case: str) -> None:
    if case == "prefixed":
        xml = _doc(
            '<ome:Channel ID="Channel:0:0"/><ome:TiffData/>',
            size_c=1,
            root="ome:OME",
            xmlns=f'xmlns:ome="{_NS}"',
        )
        xml = xml.replace("<Image", "<ome:Image").replace("</Image", "</ome:Image")
        xml = xml.replace("<Pixels", "<ome:Pixels").replace("</Pixels", "</ome:Pixels")
    elif case == "xsd-invalid":  # a Channel after TiffData breaks the schema's order
        xml = _doc('<TiffData/><Channel ID="Channel:0:0"/>', size_c=1)
    else:
        xml = _doc(
            '<Channel ID="Channel:0:0"/><TiffData/>',
            size_c=1,
            xmlns='xmlns="http://www.openmicroscopy.org/Schemas/OME/2015-01"',
        )
    src = _ome_tiff(tmp_path / "a.ome.tif", xml, planes=1)
    with OmeTiffReader(src) as rdr:
        assert rdr.ome_tree is None


def test_convert_of_ome_tiff_imports_no_ome_types(tmp_path: Path) -> None:
    """Start-up: converting an OME-TIFF (and printing its conversion XML) never imports
    ome_types or pydantic (about a second of imports)."""
    src = tmp_path / "s.ome.tif"
    write(
        src,
        np.zeros((2, 3, 16, 16), np.uint16),
        axes="CZYX",
        channel_names=["a", "b"],
        physical_size={"X": 0.5, "Y": 0.5},
    )
    then = f"from ometiff.conversion import conversion_xml\nconversion_xml({str(src)!r})"
    assert heavy_imports_of(["convert", src, tmp_path / "o.ome.tif", "--quiet"], then=then) == []


# --- non-OME TIFF (ImageJ, LSM, Micro-Manager, plain): TiffReader.ome_tree ----------

TIFF_SOURCES = [
    p
    for p in corpus_files("tiff/**/*.tif", "tiff/**/*.tiff", "imagej/**/*.tif", "lsm/**/*.lsm")
    if p.stat().st_size < 8_000_000
]


def _tiff_reader_or_skip(path: Path) -> None:
    from ometiff.readers.tiff import TiffReader

    try:
        with open_image(path) as rdr:
            if type(rdr) is not TiffReader:
                pytest.skip(f"read by {rdr.name}")
    except OmeTiffError as exc:
        pytest.skip(f"not opened: {exc}")


@pytest.mark.parametrize("path", TIFF_SOURCES, ids=corpus_id)
def test_tiff_tree_route_writes_the_model_the_ome_types_route_writes(path: Path) -> None:
    _tiff_reader_or_skip(path)
    try:
        light = conversion_xml(path)
        full = _full_route_xml(path)
    except OmeTiffError as exc:
        pytest.skip(f"not converted: {exc}")
    assert _model(light) == _model(full)


def test_imagej_calibration_takes_the_tree_route_with_its_units(tmp_path: Path) -> None:
    """ImageJ's units (cm here), time step, channel names and the calibration kept as a
    MapAnnotation reach the conversion XML through the tree, as through ome_types."""
    from ometiff.readers.tiff import TiffReader

    src = tmp_path / "hyper.tif"
    data = np.arange(3 * 2 * 2 * 8 * 10, dtype=np.uint16).reshape(3, 2, 2, 8, 10)  # TZCYX
    tifffile.imwrite(
        src,
        data,
        imagej=True,
        resolution=(4.0, 5.0),
        metadata={
            "axes": "TZCYX",
            "unit": "cm",
            "spacing": 0.25,
            "finterval": 1.5,
            "Labels": ["DAPI", "GFP"] * 6,
            "Info": "acquired by hand",
        },
    )
    with open_image(src) as rdr:
        assert type(rdr) is TiffReader and rdr.ome_tree is not None
    ome = _model(conversion_xml(src))
    assert _model(_full_route_xml(src)) == ome
    px = ome.images[0].pixels
    assert (px.size_t, px.size_z, px.size_c) == (3, 2, 2)
    assert (px.physical_size_x, px.physical_size_y, px.physical_size_z) == (0.25, 0.2, 0.25)
    assert px.physical_size_x_unit.value == "cm" and px.physical_size_z_unit.value == "cm"
    assert (px.time_increment, px.time_increment_unit.value) == (1.5, "s")
    with TiffReader(src) as rdr:  # the model and the fast view agree
        view = rdr.ome_view()
        assert rdr.ome() == rdr.ome() and rdr.ome() is not rdr.ome()  # a new model each call
    assert view.images[0].size_t == 3


def test_convert_of_plain_tiff_imports_no_ome_types(tmp_path: Path) -> None:
    """Start-up and per-file cost: converting a non-OME TIFF builds its OME-XML with
    lxml; neither ome_types nor pydantic is imported."""
    src = tmp_path / "plain.tif"
    tifffile.imwrite(src, np.zeros((4, 16, 16), np.uint8), imagej=True, metadata={"axes": "ZYX"})
    then = f"from ometiff.conversion import conversion_xml\nconversion_xml({str(src)!r})"
    assert heavy_imports_of(["convert", src, tmp_path / "o.ome.tif", "--quiet"], then=then) == []
