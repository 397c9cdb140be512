"""One TIFF magic sniff and one table of TIFF / OME-TIFF name endings (C1, C2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from ometiff.readers.ome_tiff import OmeTiffReader
from ometiff.readers.registry import READERS
from ometiff.readers.tiff import TiffReader
from ometiff.tiff.names import (
    OME_SUFFIXES,
    TIFF_SUFFIXES,
    has_tiff_magic,
    has_tiff_suffix,
    split_suffix,
)
from ometiff.tiff.structure import is_tiff
from ometiff.writer.multifile import companion_path, split_name


@pytest.mark.parametrize("byteorder", ["<", ">"])
@pytest.mark.parametrize("bigtiff", [False, True], ids=["classic", "bigtiff"])
def test_every_sniff_accepts_all_four_headers(
    tmp_path: Path, byteorder: str, bigtiff: bool
) -> None:
    path = tmp_path / ("a.ome.btf" if bigtiff else "a.ome.tif")
    tifffile.imwrite(path, np.zeros((4, 4), np.uint8), byteorder=byteorder, bigtiff=bigtiff)
    assert has_tiff_magic(path.read_bytes()[:4])
    assert is_tiff(path)
    assert TiffReader.can_read(path)
    assert OmeTiffReader.can_read(path)  # tifffile writes OME-XML for .ome.* names


def test_sniffs_refuse_non_tiff(tmp_path: Path) -> None:
    path = tmp_path / "fake.tif"
    path.write_bytes(b"II*")  # too short
    assert not is_tiff(path)
    assert not TiffReader.can_read(path)
    assert not OmeTiffReader.can_read(path)
    assert not has_tiff_magic(b"MM\x00*"[:3])
    assert not is_tiff(tmp_path / "missing.tif")


def test_split_suffix_keeps_case_and_needs_a_stem() -> None:
    assert split_suffix("Cells.OME.TIF", OME_SUFFIXES) == ("Cells", ".OME.TIF")
    assert split_suffix("x.ome.tiff", OME_SUFFIXES) == ("x", ".ome.tiff")
    assert split_suffix("big.ome.btf", OME_SUFFIXES) == ("big", ".ome.btf")
    assert split_suffix(".ome.tif", OME_SUFFIXES) is None
    assert split_suffix("plain.tif", OME_SUFFIXES) is None
    assert has_tiff_suffix("A.TF8") and not has_tiff_suffix("a.png")


def test_writer_names_use_the_table(tmp_path: Path) -> None:
    assert split_name(tmp_path / "s.ome.tf2") == ("s", ".ome.tf2")
    assert companion_path(tmp_path / "s.ome.tf8").name == "s.companion.ome"


def test_registry_prefilters_every_tiff_ending() -> None:
    specs = {spec.name: spec for spec in READERS}
    for name in ("ome-tiff", "tiff"):
        assert set(TIFF_SUFFIXES) <= set(specs[name].suffixes)
    assert specs["ome-tiff"].suffixes == OmeTiffReader.suffixes
    assert specs["tiff"].suffixes == TiffReader.suffixes
