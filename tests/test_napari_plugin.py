"""The napari plugin (src/ometiff/plugins/napari.py + napari.yaml).

The reader and writer contract is tested without a display: the manifest is
validated by npe2 and the hooks are called through npe2's PluginManager (as napari
calls them) and directly. Inputs are generated with ``ometiff.write`` and read back
with tifffile and ome_types, independently of ometiff's readers; the vendor files of
the corpus are compared with Bio-Formats' recorded answers. The last test opens a
real napari viewer headless (Qt offscreen; an Xvfb display is started for OpenGL
when there is none) and runs when napari is installed.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import shutil
import signal
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import ome_types
import pytest
import tifffile
from tests.conftest import CORPUS, corpus_id
from tests.readers.bf_expected import expected_for

import ometiff
from ometiff.dataset import file as dataset_file
from ometiff.errors import NoSuchPlaneError, WriteError
from ometiff.ome.colour import ome_to_rgba
from ometiff.plugins import napari as plugin
from ometiff.readers.registry import READERS

npe2 = pytest.importorskip("npe2")

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "src/ometiff/plugins/napari.yaml"
RNG = np.random.default_rng(7)


@pytest.fixture(scope="module")
def pm() -> npe2.PluginManager:
    """npe2's plugin manager (napari's), with this checkout's manifest in it.

    When ometiff is installed with its entry point npe2 finds the manifest itself;
    otherwise it is registered here, as the entry point would.
    """
    manager = npe2.PluginManager.instance()
    manager.discover()
    if "ometiff" not in manager._manifests:
        manager.register(npe2.PluginManifest.from_file(MANIFEST))
    return manager


def _npe2_read(pm: npe2.PluginManager, path: Path) -> list[Any]:
    return npe2.read([str(path)], stack=False, plugin_name="ometiff")


@pytest.fixture(scope="module")
def cells(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """T=2, C=2, Z=3, 600x700 uint16 with sizes, names, colours and 2 pyramid levels."""
    data = RNG.integers(100, 4000, (2, 2, 3, 600, 700), dtype=np.uint16)
    data[0, 1, 0, 0, 0] = 60000  # a bright pixel only the full resolution keeps
    path = tmp_path_factory.mktemp("napari") / "cells.ome.tif"
    ometiff.write(
        path,
        data,
        physical_size={"X": 0.5, "Y": 0.25, "Z": 2.0},
        time_increment=1.5,
        channel_names=["DAPI", "GFP"],
        channel_colors=["#0000ff", "#00ff00"],
        names="cells",
        pyramid_levels=2,
        tile=(256, 256),
    )
    return path, data


def _tifffile_levels(path: Path, series: int = 0) -> list[np.ndarray]:
    with tifffile.TiffFile(path) as tf:
        return [level.asarray() for level in tf.series[series].levels]


# -- manifest -----------------------------------------------------------------------


def test_manifest_is_valid_and_its_commands_exist() -> None:
    manifest = npe2.PluginManifest.from_file(MANIFEST)  # validates against npe2's schema
    assert manifest.name == "ometiff"
    for command in manifest.contributions.commands or ():
        module, _, name = command.python_name.partition(":")
        assert module.startswith("ometiff.plugins.napari")
        if module != "ometiff.plugins.napari":  # the widget module imports napari
            pytest.importorskip("napari")
        assert callable(getattr(importlib.import_module(module), name)), command.id
    (widget,) = manifest.contributions.widgets or ()
    assert widget.command == "ometiff.open_series" and widget.autogenerate


def test_parse_series() -> None:
    assert plugin.parse_series("") is None
    assert plugin.parse_series("0, 2-4,7") == [0, 2, 3, 4, 7]
    with pytest.raises(ometiff.InvalidArgumentError, match=r"x\.lif: series 'a-b'"):
        plugin.parse_series("a-b", "x.lif")


def test_reader_patterns_are_the_registry_suffixes() -> None:
    manifest = npe2.PluginManifest.from_file(MANIFEST)
    (reader,) = manifest.contributions.readers or ()
    suffixes = {s for spec in READERS for s in spec.suffixes}
    assert set(reader.filename_patterns) == {f"*{s}" for s in suffixes}
    # OME-Zarr and image-series folders: registry readers without suffixes
    assert any(not spec.suffixes for spec in READERS)
    assert reader.accepts_directories


def test_entry_point_declared_and_shipped() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["napari.manifest"] == {"ometiff": "ometiff.plugins:napari.yaml"}
    assert "napari" in project["optional-dependencies"]
    installed = {
        ep.name: ep.value for ep in importlib.metadata.entry_points(group="napari.manifest")
    }
    if "ometiff" not in installed:
        pytest.skip("ometiff is installed without its entry points (reinstall: pip install -e .)")
    assert installed["ometiff"] == "ometiff.plugins:napari.yaml"


# -- reader -------------------------------------------------------------------------


def test_reader_layers_of_generated_file(pm: npe2.PluginManager, cells: Any) -> None:
    path, data = cells
    ((layers, meta, kind),) = _npe2_read(pm, path)
    assert kind == "image"
    # lazy multiscale: dask arrays, full resolution first, channel axis kept for napari
    expected = _tifffile_levels(path)
    assert len(layers) == len(expected) == 3
    assert meta["multiscale"] is True
    assert all(isinstance(level, da.Array) for level in layers)
    assert [level.shape for level in layers] == [e.shape for e in expected]  # TCZYX
    np.testing.assert_array_equal(layers[0].compute(), data)
    np.testing.assert_array_equal(layers[-1].compute(), expected[-1])
    assert meta["channel_axis"] == 1
    assert meta["name"] == ["DAPI", "GFP"]
    assert meta["colormap"] == ["#0000ff", "#00ff00"]
    # contrast limits from the smallest level's data, not the dtype range
    smallest = expected[-1]
    assert meta["contrast_limits"] == [
        (float(smallest[:, c].min()), float(smallest[:, c].max())) for c in range(2)
    ]
    assert meta["contrast_limits"][1][1] < 60000 < np.iinfo(np.uint16).max
    # scale from the physical sizes (T, Z, Y, X of each channel's layer)
    assert meta["scale"] == [[1.5, 2.0, 0.25, 0.5]] * 2
    assert meta["units"] == [["second", "micrometer", "micrometer", "micrometer"]] * 2
    assert meta["axis_labels"] == [["t", "z", "y", "x"]] * 2
    # the OME metadata passed along: ometiff's summary and the lazy ome_types model
    md = meta["metadata"][1]
    assert md["ometiff"]["dims"] == "TZYX"
    assert md["ometiff"]["channel_name"] == "GFP"
    assert md["ometiff"]["physical_size"] == {"X": 0.5, "Y": 0.25, "Z": 2.0}
    ome = md["ome_types"]()  # ome-types' napari widget calls it
    assert isinstance(ome, ome_types.OME)
    written = ome_types.from_tiff(path)
    assert ome.images[0].name == written.images[0].name == "cells"
    assert ome.images[0].pixels.channels == written.images[0].pixels.channels


def test_reader_2d_single_channel_is_2d(tmp_path: Path) -> None:
    path = tmp_path / "plain.ome.tif"
    ometiff.write(path, np.arange(64 * 80, dtype=np.float32).reshape(64, 80))
    ((layer, meta, _),) = plugin.napari_get_reader(str(path))(str(path))  # type: ignore[misc]
    assert layer.shape == (64, 80)
    assert "channel_axis" not in meta
    assert meta["multiscale"] is False
    assert meta["name"] == "plain.ome.tif"
    assert meta["contrast_limits"] == (0.0, 64 * 80 - 1.0)
    assert meta["scale"] == [1.0, 1.0]
    assert meta["units"] == ["pixel", "pixel"]
    assert "colormap" not in meta  # no OME colour: napari's default


def test_reader_rgb(tmp_path: Path) -> None:
    path = tmp_path / "rgb.ome.tif"
    rgb = RNG.integers(0, 255, (40, 50, 3), dtype=np.uint8)
    ometiff.write(path, rgb)
    ((layer, meta, _),) = plugin.read_layers(path)
    assert meta["rgb"] is True
    assert layer.shape == (40, 50, 3)
    assert "contrast_limits" not in meta  # 8-bit RGB keeps the full range
    np.testing.assert_array_equal(layer.compute(), rgb)


def test_reader_series_prefix_and_choice(tmp_path: Path) -> None:
    path = tmp_path / "two.ome.tif"
    a = RNG.integers(0, 100, (2, 30, 40), dtype=np.uint8)
    b = RNG.integers(0, 100, (5, 20, 10), dtype=np.uint8)
    ometiff.write(
        path,
        [a, b],
        axes=["CYX", "ZYX"],
        names=["left", "right"],
        channel_names=[["a1", "a2"], ["b"]],
    )
    layers = plugin.read_layers(path)
    assert [meta["name"] for _, meta, _ in layers] == [["left: a1", "left: a2"], "right: b"]
    # one file, one set of axes: Z kept for the 2-D series too
    assert [data.shape for data, _, _ in layers] == [(2, 1, 30, 40), (5, 20, 10)]
    ((data, meta, _),) = plugin.read_layers(path, series=[1])
    assert meta["name"] == "right: b"
    np.testing.assert_array_equal(data.compute(), b)
    with pytest.raises(NoSuchPlaneError, match="series 2"):
        plugin.read_layers(path, series=2)


def test_reader_contrast_samples_planes_of_large_levels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "z.ome.tif"
    data = np.zeros((9, 32, 32), dtype=np.uint16)
    data[:, 0, 0] = np.arange(1, 10) * 100
    ometiff.write(path, data)
    monkeypatch.setattr(plugin, "CONTRAST_SAMPLE", 3 * 32 * 32)  # room for 3 planes
    ((_, meta, _),) = plugin.read_layers(path)
    assert meta["contrast_limits"] == (0.0, 900.0)  # planes 0, 4 and 8: first and last kept


def test_reader_contrast_of_a_huge_plane_reads_a_centred_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.ome.tif"
    data = np.full((256, 256), 10, dtype=np.uint16)
    data[0, 0] = 9000  # outside the window
    data[100:156, 100:156] = 20
    data[128, 128] = 500
    ometiff.write(path, data, tile=(64, 64))
    monkeypatch.setattr(plugin, "CONTRAST_SAMPLE", 64 * 64)
    monkeypatch.setattr(dataset_file, "CHUNK_BYTES", 64 * 64 * 2)  # one tile per chunk
    with ometiff.open(path) as f:
        calls: list[Any] = []
        read = f.read_block
        monkeypatch.setattr(f, "read_block", lambda *a: calls.append(a) or read(*a))
        ((_, meta, _),) = plugin.layer_data(f)
    assert meta["contrast_limits"] == (10.0, 500.0)
    # rows 96-160 and columns 96-160: 4 of the 16 tiles (2 x 2), decoded
    assert len(calls) == 4


def test_reader_constant_image_gets_a_range(tmp_path: Path) -> None:
    path = tmp_path / "flat.ome.tif"
    ometiff.write(path, np.full((16, 16), 7, dtype=np.uint8))
    ((_, meta, _),) = plugin.read_layers(path)
    assert meta["contrast_limits"] == (7.0, 8.0)


def _other_inputs(tmp: Path) -> dict[str, Path]:
    """One input of each non-OME-TIFF reader that needs no vendor library."""
    plane = RNG.integers(0, 999, (3, 24, 32), dtype=np.uint16)
    tifffile.imwrite(tmp / "plain.tif", plane[0])
    tifffile.imwrite(tmp / "hyper.tif", plane, imagej=True, metadata={"axes": "ZYX"})
    np.save(tmp / "array.npy", plane[0])
    (tmp / "planes").mkdir()
    for z in range(3):
        tifffile.imwrite(tmp / "planes" / f"p{z}.tif", plane[z])
    inputs = {
        p.name: p for p in (tmp / "plain.tif", tmp / "hyper.tif", tmp / "array.npy", tmp / "planes")
    }
    zarr = CORPUS / "ome-zarr/ome-zarr-py-0.18.0/cluster_5d_v05.ome.zarr"
    if zarr.is_dir():
        inputs["ome-zarr"] = zarr
    return inputs


def test_reader_opens_every_kind_of_input(tmp_path: Path) -> None:
    for name, path in _other_inputs(tmp_path).items():
        reader = plugin.napari_get_reader(str(path))
        assert reader is not None, name
        layers = reader(str(path))
        with ometiff.open(path) as f:
            assert len(layers) == len(f.series), name
            data = layers[0][0]
            full = data[0] if isinstance(data, list) else data
            np.testing.assert_array_equal(
                np.asarray(full).reshape(-1), f.asarray(0).reshape(-1), err_msg=name
            )


def test_reader_returns_none_for_other_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.tif"
    text.write_text("not an image")
    table = tmp_path / "table.csv"
    table.write_text("a,b\n1,2\n")
    assert plugin.napari_get_reader(str(table)) is None
    assert plugin.napari_get_reader(str(text)) is None  # not a TIFF at all: silent
    empty = tmp_path / "empty.tif"
    empty.write_bytes(b"II*\x00" + b"\x00" * 4)  # a TIFF without images: say why
    with pytest.warns(UserWarning, match=r"ometiff cannot open .*empty\.tif: .*no image"):
        assert plugin.napari_get_reader(str(empty)) is None
    with pytest.warns(UserWarning, match="no such file"):
        assert plugin.napari_get_reader(str(tmp_path / "gone.ome.tif")) is None
    assert plugin.napari_get_reader([]) is None


def test_reader_refuses_damaged_file_with_a_reason(cells: Any, tmp_path: Path) -> None:
    path, _ = cells
    cut = tmp_path / "cut.ome.tif"
    cut.write_bytes(path.read_bytes()[:200])  # the header points past the end
    with pytest.warns(UserWarning, match="cut.ome.tif"):
        assert plugin.napari_get_reader(str(cut)) is None


def test_reader_through_npe2_refuses(pm: npe2.PluginManager, tmp_path: Path) -> None:
    text = tmp_path / "notes.tif"
    text.write_bytes(b"II*\x00" + b"\x00" * 4)  # a TIFF header pointing nowhere
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="refused the file"):
        _npe2_read(pm, text)


# -- writer -------------------------------------------------------------------------


def _ome(path: Path) -> ome_types.OME:
    return ome_types.from_tiff(path)


def test_writer_roundtrip_of_read_layers(
    pm: npe2.PluginManager, cells: Any, tmp_path: Path
) -> None:
    """Layers as napari hands them to a writer after channel_axis split them."""
    path, data = cells
    ((levels, meta, _),) = _npe2_read(pm, path)
    layers = []
    for c in range(2):
        layer_meta = {
            k: (v[c] if isinstance(v, list) and k != "multiscale" else v)
            for k, v in meta.items()
            if k != "channel_axis"
        }
        layers.append(([level[:, c] for level in levels], layer_meta, "image"))
    out = tmp_path / "saved.ome.tif"
    written = _npe2_write(pm, out, layers)
    assert written == [str(out)]
    ome = _ome(out)
    (image,) = ome.images
    px = image.pixels
    assert (px.size_t, px.size_c, px.size_z, px.size_y, px.size_x) == (2, 2, 3, 600, 700)
    assert (px.physical_size_x, px.physical_size_y, px.physical_size_z) == (0.5, 0.25, 2.0)
    assert px.time_increment == 1.5
    assert [ch.name for ch in px.channels] == ["DAPI", "GFP"]
    assert [ome_to_rgba(int(ch.color))[:3] for ch in px.channels] == [(0, 0, 255), (0, 255, 0)]
    assert image.name == "cells"
    levels_back = _tifffile_levels(out)
    assert len(levels_back) > 1  # pyramidal
    np.testing.assert_array_equal(levels_back[0], data)
    with tifffile.TiffFile(out) as tf:
        assert tf.pages[0].compression == tifffile.COMPRESSION.ADOBE_DEFLATE


def _npe2_write(pm: npe2.PluginManager, path: Path, layers: list[Any]) -> list[str]:
    """npe2's writer dispatch, as napari's File > Save Layers uses it."""
    return npe2.write(str(path), layers, plugin_name="ometiff")


def test_writer_plain_layer_scale_units_colormap(tmp_path: Path) -> None:
    data = RNG.integers(0, 1000, (4, 300, 200), dtype=np.uint16)
    meta = {
        "name": "nuclei",
        "scale": [2.0, 0.5, 0.5],
        "units": ["nanometer", "pixel", "pixel"],
        "colormap": "magenta",
        "rgb": False,
        "metadata": {},
    }
    out = tmp_path / "one.ome.tif"
    assert plugin.write_image(str(out), data, meta) == [str(out)]
    (image,) = _ome(out).images
    px = image.pixels
    assert (px.size_z, px.size_y, px.size_x, px.size_c) == (4, 300, 200, 1)
    assert px.physical_size_z == pytest.approx(0.002)  # 2 nm
    assert (px.physical_size_x, px.physical_size_y) == (0.5, 0.5)  # napari's pixel: µm
    assert px.channels[0].name == "nuclei"
    assert ome_to_rgba(int(px.channels[0].color))[:3] == (255, 0, 255)
    np.testing.assert_array_equal(tifffile.imread(out), data)


def test_writer_colormap_dict_as_napari_gives_it(tmp_path: Path) -> None:
    out = tmp_path / "c.ome.tif"
    cmap = {"name": "orange", "colors": np.array([[0, 0, 0, 1], [1, 0.5, 0, 1]])}
    plugin.write_image(str(out), np.zeros((32, 32), np.uint8), {"name": "x", "colormap": cmap})
    assert ome_to_rgba(int(_ome(out).images[0].pixels.channels[0].color))[:3] == (255, 128, 0)
    viridis = {"name": "viridis", "colors": np.linspace(0.2, 1, 12).reshape(3, 4)}
    plugin.write_image(str(out), np.zeros((32, 32), np.uint8), {"name": "x", "colormap": viridis})
    assert (
        _ome(out).images[0].pixels.channels[0].color is None
        or int(_ome(out).images[0].pixels.channels[0].color) == -1
    )  # no single colour: default


def test_writer_layers_of_other_shapes_are_series(tmp_path: Path) -> None:
    a = np.ones((20, 30), np.uint8)
    b = np.ones((10, 10), np.uint16)
    out = tmp_path / "two.ome.tif"
    plugin.write_images(str(out), [(a, {"name": "a"}, "image"), (b, {"name": "b"}, "image")])
    ome = _ome(out)
    assert [im.name for im in ome.images] == ["a", "b"]
    assert [(im.pixels.size_y, im.pixels.type.value) for im in ome.images] == [
        (20, "uint8"),
        (10, "uint16"),
    ]


def test_writer_same_shape_layers_become_channels(tmp_path: Path) -> None:
    a = RNG.integers(0, 9, (3, 20, 30), dtype=np.uint8)
    b = RNG.integers(0, 9, (3, 20, 30), dtype=np.uint8)
    out = tmp_path / "ch.ome.tif"
    plugin.write_images(
        str(out),
        [
            (a, {"name": "a", "colormap": "red"}, "image"),
            (b, {"name": "b", "colormap": "green"}, "image"),
        ],
    )
    (image,) = _ome(out).images
    assert image.pixels.size_c == 2 and image.pixels.size_z == 3
    assert [ch.name for ch in image.pixels.channels] == ["a", "b"]
    np.testing.assert_array_equal(ometiff.imread(out)[0, :, :, :, :], np.stack([a, b]))


def test_writer_keeps_series_and_channels_of_a_multi_series_file(tmp_path: Path) -> None:
    path = tmp_path / "two.ome.tif"
    a = RNG.integers(0, 9, (2, 30, 40), dtype=np.uint8)
    b = RNG.integers(0, 9, (2, 30, 40), dtype=np.uint8)  # same shape, other series
    ometiff.write(
        path,
        [a, b],
        axes="CYX",
        names=["left", "right"],
        channel_names=[["a1", "a2"], ["b1", "b2"]],
    )
    layers = []  # as napari hands them over after splitting channel_axis
    for data, meta, kind in plugin.read_layers(path):
        for c in range(2):
            one = {k: v[c] if isinstance(v, list) else v for k, v in meta.items()}
            del one["channel_axis"]
            layers.append((data[c], one, kind))
    layers[3][1]["name"] = "renamed"
    out = tmp_path / "saved.ome.tif"
    plugin.write_images(str(out), layers)
    ome = _ome(out)
    assert [im.name for im in ome.images] == ["left", "right"]
    assert [[ch.name for ch in im.pixels.channels] for im in ome.images] == [
        ["a1", "a2"],
        ["b1", "renamed"],
    ]
    np.testing.assert_array_equal(ometiff.imread(out, series=1)[0, :, 0], b)


def test_writer_rgb_layer(tmp_path: Path) -> None:
    rgb = RNG.integers(0, 255, (30, 40, 3), dtype=np.uint8)
    out = tmp_path / "rgb.ome.tif"
    plugin.write_image(str(out), rgb, {"name": "photo", "rgb": True})
    px = _ome(out).images[0].pixels
    assert px.channels[0].samples_per_pixel == 3
    np.testing.assert_array_equal(tifffile.imread(out), rgb)


def test_writer_refuses_what_ome_tiff_cannot_hold(tmp_path: Path) -> None:
    out = tmp_path / "bad.ome.tif"
    with pytest.raises(WriteError, match="6-D layer"):
        plugin.write_image(str(out), np.zeros((2,) * 6, np.uint8), {"name": "x"})
    with pytest.raises(WriteError, match="not an array"):
        plugin.write_image(str(out), "pixels", {"name": "x"})
    assert not out.exists()


# -- corpus: one LIF, one CZI, one ND2, compared with Bio-Formats' recorded answers ----

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
    reader = plugin.napari_get_reader(str(path))
    assert reader is not None
    layers = reader(str(path))
    assert len(layers) == expected["series_count"]
    with ometiff.open(path) as f:
        for (data, meta, _), bf, s in zip(layers, expected["series"], f.series, strict=True):
            full = data[0] if isinstance(data, list) else data
            n_c = bf["size_c"]
            assert full.shape[meta.get("channel_axis", 0)] == n_c or n_c == 1
            names = meta["name"] if n_c > 1 else [meta["name"]]
            assert [n.split(": ")[-1] for n in names] == bf["channel_names"]
            scale = meta["scale"][0] if n_c > 1 else meta["scale"]
            for axis, key in (("x", "physical_size_x"), ("y", "physical_size_y")):
                want = bf[key] if bf[key] is not None else 1.0
                got = scale[
                    (meta["axis_labels"][0] if n_c > 1 else meta["axis_labels"]).index(axis)
                ]
                assert got == pytest.approx(want, rel=1e-3)
            colours = meta.get("colormap")
            if colours is not None:
                want_colours = ["#{:02x}{:02x}{:02x}".format(*ch.color) for ch in s.channels]
                assert (colours if n_c > 1 else [colours]) == want_colours
            pixels = np.asarray(full)
            np.testing.assert_array_equal(pixels.reshape(-1), f.asarray(s.index).reshape(-1))


# -- a real napari viewer, headless --------------------------------------------------


@pytest.fixture(scope="module")
def display() -> Iterator[None]:
    """An X display for OpenGL: the session's, or an Xvfb started here.

    Once Qt has connected, Xvfb must outlive the test process (Xlib ends a process
    whose server goes away with status 1), so a watcher stops it when this process
    has exited; it is stopped right away if nothing connected.
    """
    if os.environ.get("DISPLAY"):
        yield
        return
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("no display and no Xvfb: napari's canvas needs OpenGL")
    # -displayfd: Xvfb picks a free display and writes its number once it is ready;
    # -noreset: a client that connects and leaves during Qt's start-up must not reset
    # the server under the OpenGL context being made (contexts then fail at random)
    read_end, write_end = os.pipe()
    watcher = (
        f'"{xvfb}" -displayfd {write_end} -screen 0 1024x768x24 -nolisten tcp -noreset '
        f">/dev/null 2>&1 & x=$!; while kill -0 {os.getpid()} 2>/dev/null && "
        'kill -0 "$x" 2>/dev/null; do sleep 1; done; kill "$x" 2>/dev/null'
    )
    proc = subprocess.Popen(["sh", "-c", watcher], pass_fds=(write_end,), start_new_session=True)
    os.close(write_end)
    with os.fdopen(read_end) as ready:
        number = ready.readline().strip()
    if not number:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        pytest.skip("Xvfb did not start")
    os.environ["DISPLAY"] = f":{number}"
    try:
        yield
    finally:
        del os.environ["DISPLAY"]
        if not _qt_connected():  # nobody connected: stop it now
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)


def _qt_connected() -> bool:
    import sys

    widgets = sys.modules.get("qtpy.QtWidgets")
    return widgets is not None and widgets.QApplication.instance() is not None


@pytest.mark.filterwarnings("ignore:System theme detection requires:UserWarning")
def test_napari_viewer_opens_and_saves(
    display: None, cells: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    napari = pytest.importorskip("napari")
    pytest.importorskip("qtpy")
    manager = npe2.PluginManager.instance()
    if "ometiff" not in manager._manifests:  # installed without the entry point
        manager.register(npe2.PluginManifest.from_file(MANIFEST))
    path, data = cells
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer(show=False)
    QApplication.processEvents()  # let the canvas make its OpenGL context
    try:
        layers = viewer.open(str(path), plugin="ometiff")
        assert [layer.name for layer in layers] == ["DAPI", "GFP"]
        dapi, gfp = layers
        assert dapi.multiscale and len(dapi.data) == 3
        assert list(gfp.scale) == [1.5, 2.0, 0.25, 0.5]
        assert gfp.colormap.colors[-1][:3].tolist() == [0.0, 1.0, 0.0]
        assert gfp.contrast_limits[1] < 60000
        assert viewer.dims.axis_labels == ("t", "z", "y", "x")
        np.testing.assert_array_equal(np.asarray(dapi.data[0]), data[:, 0])
        out = tmp_path / "viewer.ome.tif"
        saved = viewer.layers.save(str(out), plugin="ometiff")
        assert saved == [str(out)]
        px = _ome(out).images[0].pixels
        assert px.size_c == 2 and [ch.name for ch in px.channels] == ["DAPI", "GFP"]
        assert (px.physical_size_x, px.physical_size_z) == (0.5, 2.0)
        np.testing.assert_array_equal(tifffile.imread(out), data)
        # the "Open series" widget, as napari builds it from the manifest
        two = tmp_path / "two.ome.tif"
        ometiff.write(two, [data[0, 0, 0], data[1, 1, 1]], names=["first", "second"])
        _, widget = viewer.window.add_plugin_dock_widget("ometiff", "Open series")
        widget.path.value = two
        widget.series.value = "1"
        widget()
        assert viewer.layers[-1].name == "second"
        np.testing.assert_array_equal(np.asarray(viewer.layers[-1].data), data[1, 1, 1])
    finally:
        viewer.close()
