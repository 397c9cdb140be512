"""The bioio reader plugin (src/ometiff/plugins/bioio.py).

The reader passes bioio-base's own conformance checks
(``bioio_base.test_utilities.run_image_container_checks``) on files generated with
``ometiff.write`` (read back independently with tifffile), and matches Bio-Formats'
recorded answers on a LIF, a CZI and an ND2 of the corpus. bioio's plugin choice is
tested twice: with bioio's real ordering code over our entry point and
bioio-tifffile's (always), and with the installed entry points (when this checkout
is the one installed).
"""

from __future__ import annotations

import importlib.metadata
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from tests.conftest import CORPUS, corpus_id
from tests.readers.bf_expected import expected_for

import ometiff
from ometiff.readers.registry import READERS
from ometiff.tiff.names import OME_SUFFIXES

bioio = pytest.importorskip("bioio")
bioio_base = pytest.importorskip("bioio_base")
from bioio_base.types import PhysicalPixelSizes  # noqa: E402

from ometiff.plugins import bioio as plugin  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(11)


@pytest.fixture(scope="module")
def pyramid(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    """Two series: a T=3 C=2 Z=4 pyramid (2 levels) with metadata, and an unnamed 2-D."""
    a = RNG.integers(0, 5000, (3, 2, 4, 300, 260), dtype=np.uint16)
    b = RNG.integers(0, 200, (50, 40), dtype=np.uint16)
    path = tmp_path_factory.mktemp("bioio") / "cells.ome.tif"
    ometiff.write(
        path,
        [a, b],
        axes=["TCZYX", "YX"],
        names=["cells", None],
        physical_size=[{"X": 0.5, "Y": 0.25, "Z": 1.5}, None],
        time_increment=[2.0, None],
        channel_names=[["DAPI", "GFP"], ["only"]],
        pyramid_levels=1,
        tile=(128, 128),
    )
    return path, a, b


# -- plugin metadata and bioio's choice ------------------------------------------------


def test_extensions_cover_the_registry_and_ome_tiff() -> None:
    exts = plugin.ReaderMetadata.get_supported_extensions()
    assert set(OME_SUFFIXES) <= set(exts)
    assert {s for spec in READERS for s in spec.suffixes} <= set(exts)
    assert len(exts) == len(set(exts))
    assert plugin.ReaderMetadata.get_reader() is plugin.Reader
    assert plugin.ReaderMetadata.supports_directory_images()


def test_pyproject_declares_entry_point_and_one_bioio_base() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    # the entry point's name is the distribution's: bioio checks its bioio-base by it
    assert project["entry-points"]["bioio.readers"] == {"ometiff": "ometiff.plugins.bioio"}
    extras = project["optional-dependencies"]
    bioio_base_lines = [r for reqs in extras.values() for r in reqs if r.startswith("bioio-base")]
    assert bioio_base_lines == [r for r in extras["bioio"] if r.startswith("bioio-base")]
    assert len(bioio_base_lines) == 1
    # an extra including "ometiff[...bioio...]" would get a copy of the line
    assert not [
        r for reqs in extras.values() for r in reqs if r.startswith("ometiff[") and "bioio" in r
    ]


def _ours_and_tifffile(monkeypatch: pytest.MonkeyPatch) -> None:
    """bioio's plugin discovery sees our entry point and bioio-tifffile's only."""
    from bioio import plugins

    tifffile_eps = [
        ep
        for ep in importlib.metadata.entry_points(group="bioio.readers")
        if ep.name == "bioio-tifffile"
    ]
    if not tifffile_eps:
        pytest.skip("bioio-tifffile is not installed")
    ours = importlib.metadata.EntryPoint("ometiff", "ometiff.plugins.bioio", "bioio.readers")
    monkeypatch.setattr(plugins, "entry_points", lambda group: [ours, *tifffile_eps])
    real = plugins.get_dependency_version_range_for_distribution

    def versions(dist: str, dep: str) -> tuple[str | None, str | None]:
        # the installed ometiff may predate the bioio extra: its requirement is pyproject's
        return (None, None) if dist == "ometiff" else real(dist, dep)

    monkeypatch.setattr(plugins, "get_dependency_version_range_for_distribution", versions)


def test_bioio_picks_ometiff_for_ome_tiff_ahead_of_bioio_tifffile(
    pyramid: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ours_and_tifffile(monkeypatch)
    path, _, _ = pyramid
    entry = bioio.BioImage.determine_plugin(path)
    assert entry.entrypoint.name == "ometiff"
    image = bioio.BioImage(path)
    assert isinstance(image.reader, plugin.Reader)
    for suffix in OME_SUFFIXES:
        other = tmp_path / f"copy{suffix}"
        other.write_bytes(path.read_bytes())
        assert bioio.BioImage.determine_plugin(other).entrypoint.name == "ometiff", suffix
    # a plain TIFF goes to bioio-tifffile, the plugin with fewer extension families
    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, np.zeros((8, 8), np.uint8))
    assert bioio.BioImage.determine_plugin(plain).entrypoint.name == "bioio-tifffile"
    # vendor files no installed bioio plugin claims come to ometiff
    lif = CORPUS / VENDOR[0]
    if lif.is_file():
        assert bioio.BioImage.determine_plugin(lif).entrypoint.name == "ometiff"


def test_installed_entry_point_is_chosen(pyramid: Any) -> None:
    eps = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="bioio.readers")}
    if "ometiff" not in eps:
        pytest.skip("ometiff is installed without its entry points (reinstall: pip install -e .)")
    assert eps["ometiff"] == "ometiff.plugins.bioio"
    reqs = importlib.metadata.requires("ometiff") or []
    assert len([r for r in reqs if r.startswith("bioio-base")]) == 1  # bioio's check
    path, _, _ = pyramid
    assert isinstance(bioio.BioImage(path).reader, plugin.Reader)


# -- the reader --------------------------------------------------------------------------


def test_bioio_base_conformance(pyramid: Any) -> None:
    pytest.importorskip("distributed")  # the checks serialise the reader with it
    from bioio_base.test_utilities import run_image_container_checks
    from ome_types import OME

    path, a, b = pyramid
    image = bioio.BioImage(path, reader=plugin.Reader)
    run_image_container_checks(
        image,
        set_scene="cells",
        expected_scenes=("cells", "Image:1"),
        expected_current_scene="cells",
        expected_shape=a.shape,
        expected_dtype=np.dtype(np.uint16),
        expected_dims_order="TCZYX",
        expected_channel_names=["DAPI", "GFP"],
        expected_physical_pixel_sizes=PhysicalPixelSizes(1.5, 0.25, 0.5),
        expected_metadata_type=OME,
        expected_resolution_levels=(0, 1),
    )
    # level 1 of the pyramid: half the size, twice the pixel size
    with tifffile.TiffFile(path) as tf:
        small = tf.series[0].levels[1].asarray()
    run_image_container_checks(
        image,
        set_scene="cells",
        expected_scenes=("cells", "Image:1"),
        expected_current_scene="cells",
        expected_shape=small.shape,
        expected_dtype=np.dtype(np.uint16),
        expected_dims_order="TCZYX",
        expected_channel_names=["DAPI", "GFP"],
        expected_physical_pixel_sizes=PhysicalPixelSizes(1.5, 0.5, 1.0),
        expected_metadata_type=OME,
        set_resolution_level=1,
        expected_current_resolution_level=1,
        expected_resolution_levels=(0, 1),
    )
    np.testing.assert_array_equal(image.data, small)
    with tifffile.TiffFile(path) as tf:
        levels_of_2d = tuple(range(len(tf.series[1].levels)))
    run_image_container_checks(
        image,
        set_scene="Image:1",
        expected_scenes=("cells", "Image:1"),
        expected_current_scene="Image:1",
        expected_shape=(1, 1, 1, 50, 40),
        expected_dtype=np.dtype(np.uint16),
        expected_dims_order="TCZYX",
        expected_channel_names=["only"],
        expected_physical_pixel_sizes=PhysicalPixelSizes(None, None, None),
        expected_metadata_type=OME,
        expected_resolution_levels=levels_of_2d,
    )
    np.testing.assert_array_equal(image.data[0, 0, 0], b)


def test_reader_pixels_metadata_and_laziness(pyramid: Any) -> None:
    path, a, _ = pyramid
    image = bioio.BioImage(path, reader=plugin.Reader)
    assert image.resolution_level_dims == {0: a.shape, 1: (3, 2, 4, 150, 130)}
    dask_data = image.dask_data
    assert dask_data.chunksize[:3] == (1, 1, 1)  # planes or tiles: nothing read yet
    np.testing.assert_array_equal(dask_data.compute(), tifffile.imread(path, series=0))
    np.testing.assert_array_equal(image.get_image_data("ZYX", T=2, C=1), a[2, 1])
    assert image.time_interval == timedelta(seconds=2)
    assert image.scale.T == 2.0 and image.scale.X == 0.5
    assert image.channel_names == ["DAPI", "GFP"]
    assert all(type(name) is str for name in image.reader.channel_names)
    ome = image.ome_metadata
    assert [im.name for im in ome.images] == ["cells", None]
    coords = image.xarray_dask_data.coords
    np.testing.assert_allclose(coords["X"].values[:3], [0.0, 0.5, 1.0])
    assert image.reader.file.reader == "ome-tiff"


def test_reader_rgb(tmp_path: Path) -> None:
    path = tmp_path / "rgb.ome.tif"
    rgb = RNG.integers(0, 255, (30, 40, 3), dtype=np.uint8)
    ometiff.write(path, rgb)
    image = bioio.BioImage(path, reader=plugin.Reader)
    assert image.dims.order == "TCZYXS"
    np.testing.assert_array_equal(image.get_image_data("YXS"), rgb)


def test_unsupported_inputs_are_false_not_errors(tmp_path: Path) -> None:
    text = tmp_path / "notes.ome.tif"
    text.write_text("not an image")
    assert plugin.Reader.is_supported_image(text) is False
    import fsspec

    memory = fsspec.filesystem("memory")
    memory.pipe("/remote.ome.tif", text.read_bytes())
    try:  # not a local file: not ours (ometiff reads local files)
        assert plugin.Reader.is_supported_image("memory://remote.ome.tif") is False
    finally:
        memory.rm("/remote.ome.tif")
    with pytest.raises(FileNotFoundError):  # bioio's own existence check
        plugin.Reader.is_supported_image(tmp_path / "gone.ome.tif")


def test_damaged_file_raises_ometiff_error(pyramid: Any, tmp_path: Path) -> None:
    path, _, _ = pyramid
    cut = tmp_path / "cut.ome.tif"
    cut.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ometiff.OmeTiffError, match=r"cut\.ome\.tif"):
        plugin.Reader(cut)


# -- corpus: one LIF, one CZI, one ND2, compared with Bio-Formats' recorded answers ------

VENDOR = [
    "lif/readlif/testdata_2channel_xz.lif",
    "czi/czitools/DAPI_GFP.czi",
    "nd2/arcadia-microscopy-tools/example-multichannel.nd2",
]


@pytest.mark.parametrize("rel", VENDOR, ids=VENDOR)
def test_reader_vendor_corpus(rel: str) -> None:
    path = CORPUS / rel
    if not path.is_file():
        pytest.skip(f"corpus file {rel} not found (set OMETIFF_TESTDATA)")
    expected = expected_for(corpus_id(path))
    assert expected is not None, f"no Bio-Formats record for {rel}"
    image = bioio.BioImage(path, reader=plugin.Reader)
    assert len(image.scenes) == expected["series_count"]
    for index, bf in enumerate(expected["series"]):
        image.set_scene(index)
        dims = image.dims
        assert (dims.T, dims.C, dims.Z, dims.Y, dims.X) == (
            bf["size_t"],
            bf["size_c"],
            bf["size_z"],
            bf["size_y"],
            bf["size_x"],
        )
        assert str(image.dtype) == bf["pixel_type"]
        assert image.channel_names == bf["channel_names"]
        sizes = image.physical_pixel_sizes
        for got, key in (
            (sizes.X, "physical_size_x"),
            (sizes.Y, "physical_size_y"),
            (sizes.Z, "physical_size_z"),
        ):
            if bf[key] is None:
                assert got is None
            else:
                assert got == pytest.approx(bf[key], rel=1e-3)
        np.testing.assert_array_equal(image.data, ometiff.imread(path, series=index))
