"""``info``, ``info --stats``, ``show`` and ``xml`` on inputs that are not TIFF files.

Every input is generated here: a ``.npy`` array, a folder of PNG planes (an image
series) and an OME-Zarr written with zarr; the expected values come from the arrays
written, never from ometiff's own output.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import ometiff
from ometiff.cli.main import main
from ometiff.errors import MissingDependencyError, OmeTiffError, UnsupportedFormatError
from ometiff.inspection import info

RNG = np.random.default_rng(7)


def _run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code: int, err: str) -> None:
    assert code == 2
    assert err.startswith("ometiff: error:") and err.count("\n") == 1, err
    assert "Traceback" not in err


# --- generated inputs ------------------------------------------------------------------


@pytest.fixture(scope="module")
def npy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """A Z-stack (ZYX) as .npy: its axes must be named."""
    data = RNG.integers(0, 4000, (3, 20, 30), dtype=np.uint16)
    path = tmp_path_factory.mktemp("npy") / "stack.npy"
    np.save(path, data)
    return path, data


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """An image series: 2 channels x 3 Z planes as img_c{c}_z{z}.png (CZYX data)."""
    d = tmp_path_factory.mktemp("series") / "planes"
    d.mkdir()
    data = RNG.integers(0, 255, (2, 3, 16, 24), dtype=np.uint8)
    for c in range(2):
        for z in range(3):
            Image.fromarray(data[c, z]).save(d / f"img_c{c}_z{z}.png")
    return d, data


@pytest.fixture(scope="module")
def zarr_image(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """An NGFF 0.4 image (c, z, y, x) with two levels and a scale in micrometres."""
    zarr = pytest.importorskip("zarr")
    path = tmp_path_factory.mktemp("zarr") / "image.ome.zarr"
    data = RNG.integers(0, 60000, (2, 4, 32, 48), dtype=np.uint16)
    group = zarr.open_group(str(path), mode="w", zarr_format=2)
    axes = [
        {"name": "c", "type": "channel"},
        {"name": "z", "type": "space", "unit": "micrometer"},
        {"name": "y", "type": "space", "unit": "micrometer"},
        {"name": "x", "type": "space", "unit": "micrometer"},
    ]
    datasets = []
    for level, arr in enumerate([data, data[:, :, ::2, ::2]]):
        group.create_array(str(level), shape=arr.shape, dtype=arr.dtype, chunks=arr.shape)[:] = arr
        scale = [1.0, 2.0, 0.5 * 2**level, 0.5 * 2**level]
        datasets.append(
            {"path": str(level), "coordinateTransformations": [{"type": "scale", "scale": scale}]}
        )
    group.attrs["multiscales"] = [
        {"version": "0.4", "name": "generated", "axes": axes, "datasets": datasets}
    ]
    return path, data


# --- info ------------------------------------------------------------------------------


def test_npy_info_json_needs_axes_then_describes_the_array(
    npy: tuple[Path, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _data = npy
    code, _, err = _run(capsys, "info", path)
    _one_line_error(code, err)
    assert "--axes" in err  # the option is named in command-line words
    code, out, err = _run(capsys, "info", path, "--axes", "ZYX", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["format"] == "npy" and doc["metadata_source"] == "reader"
    assert doc["ifd_count"] is None and doc["bigtiff"] is None
    assert doc["file_size"] == path.stat().st_size
    (s,) = doc["series"]
    assert (s["size_x"], s["size_y"], s["size_z"], s["size_c"], s["size_t"]) == (30, 20, 3, 1, 1)
    assert s["dtype"] == "uint16" and s["levels"] == [[20, 30]]
    assert s["physical_size_x"] is None  # a .npy states no pixel size (U3)
    cont = doc["container"]
    assert cont["reader"] == "npy" and cont["series_count"] == 1
    assert any(m["source"] == ".npy" for m in cont["unmapped"])


def test_image_series_folder_info_text(
    folder: tuple[Path, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = folder
    code, out, err = _run(capsys, "info", path)
    assert code == 0, err
    assert "Container:" in out and "1 series" in out
    assert "X 24 × Y 16 × Z 3 × C 2 × T 1  (uint8" in out
    assert "6 planes, read by the sequence reader" in out
    assert "Mapped:" in out and "file names" in out
    assert "IFD" not in out  # no TIFF structure to show


def test_ome_zarr_info_levels_and_physical_sizes(zarr_image: tuple[Path, np.ndarray]) -> None:
    path, data = zarr_image
    fi = info(path)
    assert fi.format == "ome-zarr" and fi.structure is None
    (s,) = fi.series
    c, z, y, x = data.shape
    assert (s.size_x, s.size_y, s.size_z, s.size_c, s.size_t) == (x, y, z, c, 1)
    assert s.dtype == "uint16"
    assert (s.physical_size_x, s.physical_size_y, s.physical_size_z) == (0.5, 0.5, 2.0)
    assert s.levels[0] == [y, x]
    assert s.levels[1:] in ([], [[y // 2, x // 2]])  # the second level, where read
    assert fi.container is not None and fi.container.reader == "ome-zarr"
    assert fi.to_dict()["container"]["description"].startswith("OME-Zarr")


def test_tiff_inputs_keep_their_structure_view(tmp_path: Path) -> None:
    path = ometiff.write(tmp_path / "a.ome.tif", np.zeros((2, 8, 8), np.uint8), axes="ZYX")
    fi = info(path)
    assert fi.format == "ome-tiff" and fi.container is None and fi.ifd_count == 2
    doc = fi.to_dict()
    assert doc["format"] == "ome-tiff" and doc["container"] is None
    assert [p["ifd"] for p in doc["series"][0]["planes"]] == [0, 1]


# --- stats and show --------------------------------------------------------------------


def test_stats_of_every_generated_input(
    npy: tuple[Path, np.ndarray],
    folder: tuple[Path, np.ndarray],
    zarr_image: tuple[Path, np.ndarray],
    capsys: pytest.CaptureFixture[str],
) -> None:
    for path, data, extra in (
        (npy[0], npy[1][None], ["--axes", "ZYX"]),  # one channel
        (folder[0], folder[1], []),
        (zarr_image[0], zarr_image[1], []),
    ):
        code, out, err = _run(capsys, "info", path, "--stats", "--json", *extra)
        assert code == 0, err
        stats = json.loads(out)["stats"]
        assert [s["channel"] for s in stats] == list(range(data.shape[0])), path
        for row, channel in zip(stats, data, strict=True):
            assert row["min"] == channel.min() and row["max"] == channel.max()
            assert row["mean"] == pytest.approx(channel.mean(dtype=np.float64))
            assert row["planes"] == channel.shape[0]


def test_show_every_generated_input(
    npy: tuple[Path, np.ndarray],
    folder: tuple[Path, np.ndarray],
    zarr_image: tuple[Path, np.ndarray],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for path, data, extra in (
        (npy[0], npy[1][None], ["--axes", "ZYX"]),
        (folder[0], folder[1], []),
        (zarr_image[0], zarr_image[1], []),
    ):
        png = tmp_path / f"{path.name}.png"
        code, _out, err = _run(capsys, "show", path, "-o", png, "--project", "max", *extra)
        assert code == 0, err
        with Image.open(png) as im:
            px = np.asarray(im)
        assert px.shape == (*data.shape[2:], 3)
        assert px.max() == 255  # auto-contrast reaches full colour
        # one channel in gray: brightest where the max projection is brightest
        code, _, err = _run(capsys, "show", path, "-o", png, "--c", "0", "-q", *extra)
        assert code == 0, err
        with Image.open(png) as im:
            gray = np.asarray(im)[..., 0].astype(int)
        plane = data[0, data.shape[1] // 2].astype(float)  # the middle Z plane by default
        assert np.corrcoef(gray.ravel(), plane.ravel())[0, 1] > 0.95


def test_show_refuses_missing_plane_of_vendor_input(
    zarr_image: tuple[Path, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = zarr_image
    png = tmp_path / "x.png"
    code, _, err = _run(capsys, "show", path, "-o", png, "--z", "9")
    _one_line_error(code, err)
    assert "Z 9 does not exist" in err and not png.exists()


# --- xml -------------------------------------------------------------------------------


def _without_uuids(xml: str) -> str:
    return re.sub(r'UUID="urn:uuid:[0-9a-f-]+"', 'UUID="-"', xml)


def test_xml_is_what_convert_writes(
    folder: tuple[Path, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _data = folder
    code, planned, err = _run(capsys, "xml", path)
    assert code == 0, err
    assert 'SizeX="24"' in planned and 'SizeC="2"' in planned and 'Type="uint8"' in planned
    out = ometiff.convert(path, tmp_path / "planes.ome.tif")[0]
    code, written, err = _run(capsys, "xml", out)  # an OME-TIFF: its own XML
    assert code == 0, err
    assert _without_uuids(planned) == _without_uuids(written)


def test_xml_of_a_tiff_without_ome_xml_is_the_conversion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tifffile = pytest.importorskip("tifffile")
    path = tmp_path / "hs.tif"
    tifffile.imwrite(
        path, np.zeros((3, 2, 8, 8), np.uint16), imagej=True, metadata={"axes": "ZCYX"}
    )
    code, out, err = _run(capsys, "xml", path)
    assert code == 0, err
    assert 'SizeZ="3"' in out and 'SizeC="2"' in out and "<TiffData" in out


def test_xml_npy_uses_reader_options(
    npy: tuple[Path, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = npy
    code, out, err = _run(capsys, "xml", path, "--axes", "ZYX")
    assert code == 0, err
    assert 'SizeZ="3"' in out and 'SizeY="20"' in out and 'SizeX="30"' in out


# --- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["info"], ["info", "--json"], ["xml"], ["show", "-o"]])
def test_unsupported_input_is_one_line(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "notes.xyz"
    junk.write_bytes(b"hello, not an image")
    args = [*command, tmp_path / "x.png"] if command[0] == "show" else command
    code, _out, err = _run(capsys, *args[:1], junk, *args[1:])
    _one_line_error(code, err)
    assert "no reader accepts this input" in err and "notes.xyz" in err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("suffix", [".lif", ".czi", ".nd2"])
def test_corrupt_vendor_file_is_one_line(
    suffix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / f"broken{suffix}"
    bad.write_bytes(b"\x00" * 64)
    for command in (["info"], ["info", "--stats"], ["xml"]):
        code, _, err = _run(capsys, command[0], bad, *command[1:])
        _one_line_error(code, err)
        assert "broken" in err


def test_missing_reader_dependency_gives_the_pip_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lif = tmp_path / "x.lif"
    lif.write_bytes(b"\x70\x00\x00\x00" + b"\x00" * 60)
    monkeypatch.setitem(sys.modules, "liffile", None)  # as if the extra were missing
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "liffile" else real(name, *a)
    )
    with pytest.raises(MissingDependencyError, match=r'pip install "ometiff\[lif\]"'):
        info(lif)
    code, _, err = _run(capsys, "info", lif)
    _one_line_error(code, err)
    assert 'pip install "ometiff[lif]"' in err


def test_diagram_and_tags_need_a_tiff(
    npy: tuple[Path, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = npy
    for extra in (["--diagram", tmp_path / "d.png"], ["--tags", "0"]):
        code, _, err = _run(capsys, "info", path, "--axes", "ZYX", *extra)
        _one_line_error(code, err)
        assert "TIFF" in err
    assert not (tmp_path / "d.png").exists()


def test_library_errors_are_ometiff_errors(tmp_path: Path) -> None:
    junk = tmp_path / "a.xyz"
    junk.write_bytes(b"junk")
    with pytest.raises(UnsupportedFormatError, match="no reader accepts"):
        info(junk)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(OmeTiffError, match="no reader accepts"):
        info(empty)  # a folder that is neither an OME-Zarr nor an image series
    with pytest.raises(FileNotFoundError, match="no such file"):
        info(tmp_path / "missing.czi")


def test_every_json_key_is_documented(zarr_image: tuple[Path, np.ndarray]) -> None:
    """The README's table names every top-level key of ``info --json``, new ones too."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    doc = info(zarr_image[0]).to_dict()
    missing = [key for key in doc if f"| `{key}` |" not in readme]
    assert not missing
    assert set(doc["container"]) == {"reader", "description", "series_count", "mapped", "unmapped"}


def test_forced_reader_describes_a_tiff_through_the_registry(tmp_path: Path) -> None:
    data = np.arange(2 * 3 * 8 * 8, dtype=np.uint16).reshape(2, 3, 8, 8)
    path = ometiff.write(tmp_path / "f.ome.tif", data, axes="CZYX", channel_names=["a", "b"])
    by_tiff, by_reader = info(path), info(path, reader="ome-tiff")
    assert by_reader.container is not None and by_reader.container.reader == "ome-tiff"
    assert by_reader.structure is None and by_tiff.structure is not None
    keys = ("size_x", "size_y", "size_z", "size_c", "size_t", "dtype", "levels")
    for a, b in zip(by_tiff.series, by_reader.series, strict=True):
        assert {k: getattr(a, k) for k in keys} == {k: getattr(b, k) for k in keys}
        assert [ch.name for ch in a.channels] == [ch.name for ch in b.channels] == ["a", "b"]


def test_glob_and_placeholder_patterns(folder: tuple[Path, np.ndarray]) -> None:
    path, data = folder
    total = sum(f.stat().st_size for f in path.iterdir())
    for pattern in (path / "*.png", path / "img_c{c}_z{z}.png"):
        fi = info(pattern)
        assert fi.files == [{"name": pattern.name, "exists": True, "matches": 6}]
        assert fi.file_size == total
        (s,) = fi.series
        assert (s.size_c, s.size_z, s.size_y, s.size_x) == data.shape
