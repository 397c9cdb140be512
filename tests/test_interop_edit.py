"""Bio-Formats reads back what ometiff edited and repaired (two JVM starts in all)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bioformats import requires_bioformats, showinf_omexml
from conftest import CORPUS, requires_corpus
from ometiff import meta_set, repair
from ometiff.ome.view import parse_ome
from ometiff.tiff.structure import read_description
from test_edit_helpers import copy_corpus

BF = CORPUS / "ome-tiff" / "bioformats-7.3.1"

pytestmark = [requires_bioformats, requires_corpus, pytest.mark.bioformats]


def _dims(image) -> tuple:  # type: ignore[no-untyped-def]
    return (image.size_x, image.size_y, image.size_z, image.size_c, image.size_t, image.pixel_type)


def test_bioformats_reads_edited_names_and_sizes(tmp_path: Path) -> None:
    folder = copy_corpus(BF / "split-C-no-companion", tmp_path / "set")
    entry = folder / "cluster_C0.ome.tif"
    meta_set(
        entry,
        channel_names={0: "DAPI", 1: "GFP µ"},
        physical_size={"x": "0.325um", "y": "0.325 micron", "z": "1.5µm"},
        time_increment="2s",
    )
    image = parse_ome(showinf_omexml(folder / "cluster_C1.ome.tif")).images[0]
    assert [c.name for c in image.channels] == ["DAPI", "GFP µ"]
    assert image.physical_size_x is not None and image.physical_size_z is not None
    assert (image.physical_size_x.value, image.physical_size_x.unit) == (0.325, "µm")
    assert (image.physical_size_z.value, image.physical_size_z.unit) == (1.5, "µm")
    assert image.time_increment is not None and image.time_increment.value == 2


def test_bioformats_opens_repaired_renamed_set(tmp_path: Path) -> None:
    folder = copy_corpus(BF / "split-C-no-companion", tmp_path / "set")
    original = parse_ome(read_description(folder / "cluster_C0.ome.tif") or "").images[0]
    (folder / "cluster_C0.ome.tif").rename(folder / "experiment_A.ome.tif")
    (folder / "cluster_C1.ome.tif").rename(folder / "experiment_B.ome.tif")
    report = repair(folder / "experiment_A.ome.tif")
    assert report.ok and {a.code for a in report.actions} == {"M2-filename"}
    image = parse_ome(showinf_omexml(folder / "experiment_B.ome.tif")).images[0]
    assert _dims(image) == _dims(original)
    assert {t.filename for t in image.tiffdata if t.filename} <= {
        "experiment_A.ome.tif",
        "experiment_B.ome.tif",
    }
