"""Safety: XXE never leaks a local file, entity expansion and input size are bounded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

import ometiff
from ometiff import OmeXmlError
from ometiff.cli.main import main

SECRET = "TOP-SECRET-7f3a9c"
NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


def _xxe(secret_file: Path) -> str:
    return (
        f'<?xml version="1.0"?><!DOCTYPE OME [<!ENTITY xxe SYSTEM "file://{secret_file}">]>'
        f'<OME xmlns="{NS}"><Image ID="Image:0" Name="&xxe;"><Pixels ID="Pixels:0" '
        'DimensionOrder="XYZCT" Type="uint8" SizeX="4" SizeY="4" SizeZ="1" SizeC="1" SizeT="1">'
        '<Channel ID="Channel:0:0"/><TiffData/></Pixels></Image></OME>'
    )


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


def test_xxe_in_tiff_description_never_leaks(
    tmp_path: Path, secret: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "xxe.ome.tif"
    tifffile.imwrite(
        path, np.zeros((4, 4), np.uint8), description=_xxe(secret).encode(), metadata=None
    )
    report = ometiff.validate(path)
    assert [i.code for i in report.errors] == ["X2-entities"]
    assert SECRET not in json.dumps(report.to_dict())
    assert main(["validate", "--json", str(path)]) == 1
    assert main(["xml", str(path)]) == 2
    out = capsys.readouterr()
    assert SECRET not in out.out and SECRET not in out.err


def test_xxe_in_companion_never_leaks(
    tmp_path: Path, secret: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "xxe.companion.ome"
    path.write_text(_xxe(secret))
    report = ometiff.validate(path)
    assert not report.ok and "X2-entities" in {i.code for i in report.errors}
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err


def test_entity_expansion_is_refused(tmp_path: Path) -> None:
    lol = (
        '<?xml version="1.0"?><!DOCTYPE OME [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
        '<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
        f'<OME xmlns="{NS}"><Image ID="Image:0" Name="&d;&d;&d;&d;"/></OME>'
    )
    path = tmp_path / "lol.ome.xml"
    path.write_text(lol)
    report = ometiff.validate(path)
    assert "X2-entities" in {i.code for i in report.errors}


def test_input_size_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ometiff.ome.xml as x
    import ometiff.validation.validator as v

    body = f'<OME xmlns="{NS}"><!-- {"x" * 5000} --></OME>'
    xml_path = tmp_path / "big.ome.xml"
    xml_path.write_text(body)
    tif_path = tmp_path / "big.ome.tif"
    tifffile.imwrite(tif_path, np.zeros((4, 4), np.uint8), description=body.encode(), metadata=None)
    monkeypatch.setattr(x, "MAX_XML_BYTES", 1000)
    monkeypatch.setattr(v, "MAX_XML_BYTES", 1000)
    with pytest.raises(OmeXmlError, match="limit"):
        ometiff.validate(xml_path)
    assert "X2-too-large" in {i.code for i in ometiff.validate(tif_path).errors}
