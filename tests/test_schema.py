"""Offline XSD validation with identity constraints, and the XSLT upgrade chain."""

from __future__ import annotations

import socket
import sys

import pytest
from tests.conftest import CORPUS, requires_corpus

from ometiff import OmeXmlError
from ometiff.ome.schema import load_schema, upgrade, upgrade_path, validate_schema
from ometiff.ome.xml import parse_xml, schema_version

NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


def doc(body: str, ns: str = NS) -> str:
    return f'<OME xmlns="{ns}">{body}</OME>'


IMAGE = (
    '<Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="uint8" '
    'SizeX="2" SizeY="2" SizeZ="1" SizeC="1" SizeT="1"><Channel ID="Channel:0:0"/>'
    "<TiffData/></Pixels></Image>"
)


def test_schema_loads_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event == "socket.connect":
            calls.append(args)

    sys.addaudithook(hook)
    load_schema.cache_clear()
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("network"))
    schema = load_schema()
    assert schema is load_schema()
    assert validate_schema(parse_xml(doc(IMAGE))) == []
    assert calls == []


def test_identity_constraints_are_checked() -> None:
    body = IMAGE + IMAGE  # the same Image ID twice
    errors = validate_schema(parse_xml(doc(body)))
    assert any("Duplicate key-sequence" in e.message for e in errors)
    ref = IMAGE.replace("<Pixels", '<InstrumentRef ID="Instrument:9"/><Pixels')
    errors = validate_schema(parse_xml(doc(ref)))
    assert any("keyref" in e.message or "key-sequence" in e.message for e in errors)


def test_error_locations_are_readable() -> None:
    bad = IMAGE.replace('ID="Channel:0:0"', 'ID="nope"')
    (first, *_) = validate_schema(parse_xml(doc(bad)))
    assert first.path == "Image/Pixels/Channel"
    assert first.attribute == "ID" and first.line == 1


def test_upgrade_chain() -> None:
    assert upgrade_path("2016-06") == ()
    assert upgrade_path("2015-01") == ("2016-06",)
    assert upgrade_path("2003-FC")[0] == "2008-09" and upgrade_path("2003-FC")[-1] == "2016-06"
    with pytest.raises(OmeXmlError, match="cannot be upgraded"):
        upgrade_path("2013-10-dev-5")


def test_upgrade_2015_document() -> None:
    old = doc(IMAGE, ns="http://www.openmicroscopy.org/Schemas/OME/2015-01")
    new = upgrade(parse_xml(old))
    assert schema_version(new) == "2016-06"
    assert validate_schema(new) == []


@requires_corpus
@pytest.mark.parametrize("version", ["2008-09", "2010-06", "2012-06", "2015-01"])
def test_upgrade_corpus_samples(version: str) -> None:
    folder = CORPUS / "ome-xml/ome-model-samples" / version
    for path in sorted(folder.glob("*.ome.xml"))[:4]:
        root = upgrade(parse_xml(path.read_bytes()))
        assert schema_version(root) == "2016-06"
        assert validate_schema(root) == [], path


def _many_tiffdata_xml(n: int, *, bad: str | None = None) -> str:
    uuid = "urn:uuid:12345678-1234-1234-1234-123456789abc"
    tds = [
        f'<TiffData FirstC="0" FirstT="{t}" FirstZ="0" IFD="{t}" PlaneCount="1">'
        f'<UUID FileName="a.ome.tif">{uuid}</UUID></TiffData>'
        for t in range(n)
    ]
    if bad is not None:
        tds[n // 2] = bad
    return (
        '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">'
        '<Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="uint8" '
        f'SizeX="2" SizeY="2" SizeZ="1" SizeC="1" SizeT="{n}">'
        '<Channel ID="Channel:0:0" SamplesPerPixel="1"/>'
        + "\n".join(tds)
        + "</Pixels></Image></OME>"
    )


def test_tiffdata_fast_path_thins_only_simple_documents() -> None:
    from ometiff.ome.schema import thin_tiffdata, validate_schema, validate_schema_text
    from ometiff.ome.xml import parse_xml

    good = _many_tiffdata_xml(200)
    root = parse_xml(good)
    assert thin_tiffdata(good.encode(), root) == 198  # two kept for the XSD
    assert validate_schema(root) == [] and validate_schema_text(good) == []
    # one unusual TiffData (an extra attribute) disables the fast path entirely
    odd = _many_tiffdata_xml(200, bad='<TiffData IFD="3" Foo="1"/>')
    assert thin_tiffdata(odd.encode(), parse_xml(odd)) == 0


@pytest.mark.parametrize(
    "bad",
    [
        '<TiffData IFD="-1" PlaneCount="1"/>',
        '<TiffData IFD="7"><UUID>urn:uuid:not-a-uuid</UUID></TiffData>',
        '<TiffData IFD="99999999999"/>',
    ],
)
def test_tiffdata_fast_path_keeps_every_finding(bad: str) -> None:
    """S7: a bad TiffData among many is found with the same message and line as a full run."""
    from ometiff.ome.schema import validate_schema, validate_schema_text
    from ometiff.ome.xml import parse_xml

    xml = _many_tiffdata_xml(200, bad=bad)
    full = validate_schema(parse_xml(xml))
    assert full
    assert validate_schema_text(xml) == full
