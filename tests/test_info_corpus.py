"""``info --json``, ``info --stats`` and ``show`` on every corpus LIF, CZI, ND2 and OME-Zarr.

Series count, sizes, pixel type and samples per pixel are compared with what
Bio-Formats recorded for the same file (``tests/expected/bioformats``); Bio-Formats
7.3.1 has no OME-Zarr reader, so OME-Zarr containers are compared with the arrays
zarr itself reads (and cluster_5d with Bio-Formats' view of the ND2 it was written from).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from tests.conftest import CORPUS, corpus_files, corpus_id
from tests.readers.bf_expected import expected_for

from ometiff.cli.main import main

VENDOR = corpus_files("lif/**/*.lif", "czi/**/*.czi", "nd2/**/*.nd2")
MODULES = {".lif": "liffile", ".czi": "pylibCZIrw", ".nd2": "nd2"}
ZARR_BASE = CORPUS / "ome-zarr"
ZARRS = sorted(
    p
    for p in (
        [
            *ZARR_BASE.glob("*/*.ome.zarr"),
            *ZARR_BASE.glob("*/*/*.ome.zarr"),
            ZARR_BASE / "viv/bioformats-zarr/data.zarr",
        ]
        if ZARR_BASE.is_dir()
        else []
    )
    if p.is_dir()
)


def _needs_reader(path: Path) -> None:
    module = "zarr" if path.is_dir() else MODULES[path.suffix.lower()]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} not installed")


def _run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _info_json(capsys: pytest.CaptureFixture[str], path: Path) -> dict[str, Any]:
    code, out, err = _run(capsys, "info", path, "--json")
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def _assert_series_like(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> None:
    assert len(ours) == len(theirs)
    keys = ("size_x", "size_y", "size_z", "size_c", "size_t", "samples_per_pixel")
    for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert {key: a[key] for key in keys} == {key: b[key] for key in keys}, f"series {k}"
        assert a["dtype"] == b["pixel_type"], f"series {k}"
        assert a["levels"][0] == [b["size_y"], b["size_x"]]
        for axis in "xyz":  # µm on both sides; None where the file states none (U3)
            ours, ref = a[f"physical_size_{axis}"], b[f"physical_size_{axis}"]
            assert (ours is None) == (ref is None), f"series {k} PhysicalSize{axis.upper()}"
            if ref is not None:
                assert ours == pytest.approx(ref, rel=1e-5), f"series {k}"


@pytest.mark.parametrize("path", VENDOR, ids=corpus_id)
def test_vendor_info_json_like_bioformats(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _needs_reader(path)
    bf = expected_for(corpus_id(path))
    assert bf is not None and "series" in bf, "run scripts/record_bioformats.py"
    doc = _info_json(capsys, path)
    assert doc["format"] == path.suffix.lower()[1:]
    assert doc["container"]["series_count"] == bf["series_count"]
    _assert_series_like(doc["series"], bf["series"])


def _ngff_image(path: Path) -> dict[str, Any] | None:
    """Axes sizes and dtype of a single-image container's full level, read with zarr."""
    zarr = pytest.importorskip("zarr")
    group = zarr.open_group(str(path), mode="r")
    attrs = dict(group.attrs)
    multiscales = attrs.get("ome", attrs).get("multiscales")
    if not multiscales:
        return None  # a plate or a bioformats2raw layout: no single image at the root
    ms = multiscales[0]
    array = group[ms["datasets"][0]["path"]]
    names = [a["name"] if isinstance(a, dict) else a for a in ms["axes"]]
    sizes = {n.upper(): int(n_) for n, n_ in zip(names, array.shape, strict=True)}
    return {"sizes": sizes, "dtype": str(array.dtype), "levels": len(ms["datasets"])}


@pytest.mark.parametrize("path", ZARRS, ids=corpus_id)
def test_ome_zarr_info_json_like_zarr(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _needs_reader(path)
    doc = _info_json(capsys, path)
    assert doc["format"] == "ome-zarr" and doc["series"]
    if path.name.startswith("cluster_5d"):
        bf = expected_for("nd2/pims/cluster.nd2")
        assert bf is not None
        _assert_series_like(doc["series"], bf["series"])
    expected = _ngff_image(path)
    if expected is None:
        return
    (s,) = doc["series"]
    sizes = expected["sizes"]
    got = {"X": s["size_x"], "Y": s["size_y"], "Z": s["size_z"], "C": s["size_c"], "T": s["size_t"]}
    assert {k: v for k, v in got.items() if k in sizes} == sizes
    assert all(v == 1 for k, v in got.items() if k not in sizes)
    assert np.dtype(expected["dtype"]).name == {"float": "float32", "double": "float64"}.get(
        s["dtype"], s["dtype"]
    )
    assert len(s["levels"]) in (1, expected["levels"])


@pytest.mark.parametrize("path", [*VENDOR, *ZARRS], ids=corpus_id)
def test_show_and_stats(path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _needs_reader(path)
    png = tmp_path / "view.png"
    code, out, err = _run(capsys, "show", path, "-o", png)
    assert code == 0, err
    doc = _info_json(capsys, path)
    first = doc["series"][0]
    with Image.open(png) as im:
        assert im.size == (first["size_x"], first["size_y"]) and im.mode == "RGB"
    code, out, err = _run(capsys, "info", path, "--stats", "--json")
    assert code == 0, err
    stats = json.loads(out)["stats"]
    assert not [row for row in stats if "error" in row]
    for s in doc["series"]:
        rows = [row for row in stats if row["series"] == s["index"]]
        assert len(rows) == s["size_c"]  # one row per channel (per sample for RGB)
        planes = s["size_z"] * s["size_t"]
        assert all(row["planes"] == planes for row in rows)
        assert all(row["min"] <= row["mean"] <= row["max"] for row in rows)


XML_CASES = [
    p
    for p in (CORPUS / "nd2/pims/cluster.nd2", CORPUS / "lif/readlif/testdata_2channel_xz.lif")
    if p.is_file()
]


@pytest.mark.parametrize("path", XML_CASES, ids=corpus_id)
def test_xml_equals_the_converted_files_xml(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import re

    import ometiff

    _needs_reader(path)
    code, planned, err = _run(capsys, "xml", path)
    assert code == 0, err
    out = ometiff.convert(path, tmp_path / "c.ome.tif")[0]
    code, written, err = _run(capsys, "xml", out)
    assert code == 0, err

    def strip(xml: str) -> str:
        return re.sub(r'UUID="urn:uuid:[0-9a-f-]+"', 'UUID="-"', xml)

    assert strip(planned) == strip(written)


# --- TIFF files a vendor reader converts: structure from the walker, series from the reader

SLIDES = corpus_files("svs/**/*.svs", "ndpi/**/*.ndpi", "qptiff/**/*.qptiff", "vsi/**/*.vsi")


@pytest.mark.parametrize("path", SLIDES, ids=corpus_id)
def test_tiff_vendor_files_list_the_series_convert_reads(
    capsys: pytest.CaptureFixture[str], path: Path
) -> None:
    from ometiff.readers import open_image

    doc = _info_json(capsys, path)
    assert doc["ifd_count"] and doc["bigtiff"] is not None, "the TIFF structure is still shown"
    with open_image(path) as reader:
        view = reader.ome_view()
        assert doc["format"] == reader.name
        assert doc["container"]["reader"] == reader.name
        assert len(doc["series"]) == len(view.images) == reader.series_count
        for s, image in zip(doc["series"], view.images, strict=True):
            shape = reader.level_shapes(image.index)
            assert (s["size_t"], s["size_z"], s["size_y"], s["size_x"]) == (
                shape[0][0],
                shape[0][2],
                shape[0][3],
                shape[0][4],
            )
            assert s["name"] == image.name
            assert len(s["levels"]) == len(shape)
