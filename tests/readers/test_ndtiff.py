"""Micro-Manager NDTiff reader: index axes, stitched tiles and pyramids, bad input.

Bio-Formats has no NDTiff reader (it opens a stack as a plain TIFF, every image a
time point); its records are kept to show that it sees the same images, and our
reading is checked against the index itself, tifffile and, where installed,
Micro-Manager's own ndstorage (docs/vendor-formats.md).
"""

from __future__ import annotations

import contextlib
import io
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile
from bf_expected import assert_every_file_recorded, expected_for, recorder
from reader_conformance import check_reader
from slide_checks import bioformats_reads_conversion, convert_verified, refused
from tests.bioformats import requires_bioformats
from tests.conftest import CORPUS, corpus_id

from ometiff.inspection import info
from ometiff.readers import find_reader, open_image
from ometiff.readers.ndtiff import FULL, INDEX, dataset_root, parse_index

BASE = CORPUS / "ndtiff" / "ndstorage"
DATASETS = sorted(p for p in BASE.iterdir() if p.is_dir()) if BASE.is_dir() else []


def _stack(dataset: Path) -> Path:
    folder = dataset / FULL if (dataset / FULL).is_dir() else dataset
    return next(folder.glob("*_NDTiffStack*.tif"))


def test_every_dataset_is_tested_and_recorded() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus missing")
    tested = [corpus_id(_stack(d)) for d in DATASETS]
    assert_every_file_recorded("ndtiff", tested)


@pytest.mark.parametrize("dataset", DATASETS, ids=lambda p: p.name)
def test_conformance_every_plane_at_its_index_offset(dataset: Path) -> None:
    """Each image of the index is the plane its axes name, read at its offset; the
    TIFF page at that offset (tifffile) holds the same pixels."""
    summary = check_reader(dataset, reader="ndtiff", every_plane=True)
    folder = _stack(dataset).parent
    entries = parse_index((folder / INDEX).read_bytes(), folder)
    with open_image(dataset) as rdr, tifffile.TiffFile(_stack(dataset)) as tf:
        pages = {int(p.dataoffsets[0]): p for p in tf.pages}
        if rdr.tiled:
            return  # stitched planes: test_stitched_levels_equal_ndstorage
        for e in entries:
            p, t, c, z = rdr._key(e.axes)
            np.testing.assert_array_equal(rdr.read_plane(p, t, c, z), pages[e.offset].asarray())
        # Bio-Formats reads the same images, as plain TIFF pages
        bf = expected_for(corpus_id(_stack(dataset)))
        assert bf is not None
        bf_planes = sum(
            s["size_t"] * s["size_z"] * s["size_c"] // s["samples_per_pixel"] for s in bf["series"]
        )
        assert (
            bf_planes
            == len(entries)
            == sum(math.prod(rdr.level_shapes(i)[0][:3]) for i in range(summary.series))
        )


@pytest.mark.parametrize(
    ("name", "series", "shape", "channels"),
    [
        ("ndtiffv2.0_test", 1, (5, 2, 1, 32, 32), ["DAPI", "FITC"]),
        ("ndtiffv3.0_test", 1, (5, 2, 1, 32, 32), ["DAPI", "FITC"]),
        ("12_bit_pycromanager_mda", 1, (4, 2, 1, 64, 64), ["DAPI", "FITC"]),
        ("labeled_positions_1", 3, (1, 1, 1, 512, 512), [None]),
        ("ndtiff3.2_11bit_1", 1, (10, 1, 1, 64, 64), [None]),
        ("ndtiffv3.0_stitched_test", 1, (1, 1, 1, 56, 56), [None]),
        ("ndtiff3.2_magellan_explore_rgb", 1, (1, 1, 1, 93, 93), [None]),
        ("no_magellan_explore_no_channel", 1, (1, 1, 1, 320, 384), [None]),
    ],
)
def test_axes_from_the_index(
    name: str, series: int, shape: tuple[int, ...], channels: list[str | None]
) -> None:
    """Sizes as ndstorage's axes give them (SOURCES.md), stitched tile grids
    (rows x stride - overlap) and channel names from the index or image metadata."""
    if not (BASE / name).is_dir():
        pytest.skip("corpus missing")
    with open_image(BASE / name) as rdr:
        assert rdr.series_count == series
        assert rdr.level_shapes(0)[0] == shape
        ome = rdr.ome()
    assert [c.name for c in ome.images[0].pixels.channels] == channels
    assert ome.images[0].pixels.physical_size_x == 1.0  # summary PixelSize_um


def test_positions_are_series_in_natural_order() -> None:
    if not (BASE / "labeled_positions_1").is_dir():
        pytest.skip("corpus missing")
    with open_image(BASE / "labeled_positions_1") as rdr:
        names = [im.name for im in rdr.ome().images]
    assert names == [f"labeled_positions_1 Pos{k}" for k in range(3)]


def test_significant_bits_of_11_and_12_bit_data() -> None:
    if not BASE.is_dir():
        pytest.skip("corpus missing")
    for name, bits in (("ndtiff3.2_11bit_1", 11), ("12_bit_pycromanager_mda", 12)):
        with open_image(BASE / name) as rdr:
            assert rdr.ome().images[0].pixels.significant_bits == bits


@pytest.mark.parametrize("dataset", DATASETS, ids=lambda p: p.name)
def test_every_path_into_a_dataset_opens_it(dataset: Path) -> None:
    stack = _stack(dataset)
    for path in (dataset, stack, stack.parent / INDEX, stack.parent):
        assert find_reader(path).name == "ndtiff"
        assert dataset_root(path) == dataset


@pytest.mark.parametrize(
    ("name", "levels"),
    [
        ("ndtiffv3.0_stitched_test", 5),
        ("ndtiff3.2_magellan_explore_rgb", 6),
        ("no_magellan_explore_no_channel", 8),
    ],
)
def test_stitched_levels_equal_ndstorage(name: str, levels: int) -> None:
    """Micro-Manager's own reader stitches the same planes at every level (cropped
    to the full-resolution extent, as ndstorage crops its pyramid)."""
    if not (BASE / name).is_dir():
        pytest.skip("corpus missing")
    ndstorage = pytest.importorskip("ndstorage")
    with open_image(BASE / name) as rdr, contextlib.redirect_stdout(io.StringIO()):
        assert len(rdr.level_shapes(0)) == levels
        ds = ndstorage.Dataset(str(BASE / name))
        (y0, _), (x0, _) = rdr.extent
        for level, factor in enumerate(rdr.level_factors):
            want = np.asarray(ds.as_array(stitched=True, res_level=level))
            want = want.reshape(-1, *want.shape[-(3 if rdr.samples > 1 else 2) :])[0]
            res = ds.res_levels[level]
            oy = y0 // factor - min(res.axes["row"]) * rdr.stride[0]
            ox = x0 // factor - min(res.axes["column"]) * rdr.stride[1]
            got = rdr.read_plane(0, 0, 0, 0, level=level)
            np.testing.assert_array_equal(got, want[oy : oy + got.shape[0], ox : ox + got.shape[1]])


@pytest.mark.parametrize("dataset", DATASETS, ids=lambda p: p.name)
def test_converts(dataset: Path, tmp_path: Path) -> None:
    out = convert_verified(dataset, tmp_path)
    with open_image(dataset) as rdr, open_image(out) as back:
        assert back.series_count == rdr.series_count


def test_info_names_the_ndtiff_variant() -> None:
    if not DATASETS:
        pytest.skip("corpus missing")
    fi = info(_stack(BASE / "ndtiffv3.0_test"))
    assert fi.variant == "Micro-Manager NDTiff"
    assert INDEX in fi.variants[0].evidence


# -- bad input ----------------------------------------------------------------------------


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    if not (BASE / "ndtiffv3.0_test").is_dir():
        pytest.skip("corpus missing")
    return Path(shutil.copytree(BASE / "ndtiffv3.0_test", tmp_path / "ds"))


def test_folder_without_its_index_is_refused(
    copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (copy / INDEX).unlink()
    out = tmp_path / "out.ome.tif"
    refused(["convert", str(copy), str(out)], capsys, "ds", INDEX, out=out)
    stack = _stack(copy)
    refused(["convert", str(stack), str(out)], capsys, INDEX, out=out)


def test_cut_short_index_is_refused(
    copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = (copy / INDEX).read_bytes()
    (copy / INDEX).write_bytes(data[: len(data) - 40])
    out = tmp_path / "out.ome.tif"
    refused(["convert", str(copy), str(out)], capsys, INDEX, "cut short", out=out)


def test_truncated_stack_is_refused(
    copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = _stack(copy)
    data = stack.read_bytes()
    stack.write_bytes(data[:20_000])
    out = tmp_path / "out.ome.tif"
    refused(["convert", str(copy), str(out)], capsys, stack.name, "truncated", out=out)


def test_missing_stack_is_refused(
    copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _stack(copy).unlink()
    out = tmp_path / "out.ome.tif"
    refused(["convert", str(copy), str(out)], capsys, "NDTiffStack", "no such file", out=out)


def test_index_parser_rejects_garbage() -> None:
    from ometiff.readers.vendor import VendorFileError

    with pytest.raises(VendorFileError, match="cut short"):
        parse_index(b"\x05\x00\x00\x00{}", "x")
    assert parse_index(b"", "x") == []


@requires_bioformats
@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["ndtiffv3.0_test", "labeled_positions_1", "no_magellan_explore_no_channel"]
)
def test_bioformats_reads_our_conversion(name: str, tmp_path: Path) -> None:
    """Bio-Formats cannot read NDTiff's axes, but reads our OME-TIFF of it with them."""
    if not (BASE / name).is_dir():
        pytest.skip("corpus missing")
    out = convert_verified(BASE / name, tmp_path)
    bioformats_reads_conversion(BASE / name, out, tmp_path)
    assert recorder().summarize_file(out)["series_count"] >= 1
