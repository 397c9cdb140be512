"""OME-Zarr output (``ometiff convert ... out.ome.zarr``, ``ometiff.write("x.ome.zarr")``).

Every output here is read back with zarr-python (an independent reader of the
chunks) and its NGFF JSON is checked against the values given to the writer.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ometiff
from ometiff.cli.main import main
from ometiff.errors import FileAccessError, FileExistsOmeTiffError, VerificationError, WriteError
from ometiff.readers.source import SeriesSource

zarr = pytest.importorskip("zarr")


def _attrs(group: Path) -> dict[str, Any]:
    if (group / "zarr.json").is_file():
        doc = json.loads((group / "zarr.json").read_text())
        return dict(doc["attributes"].get("ome", {}))
    return dict(json.loads((group / ".zattrs").read_text()))


def _noise(shape: tuple[int, ...], dtype: Any = np.uint16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.random(shape).astype(dtype)
    return rng.integers(0, 1000, shape).astype(dtype)


@pytest.fixture
def tiff_with_pyramid(tmp_path: Path) -> tuple[Path, np.ndarray]:
    data = _noise((2, 3, 4, 300, 520))
    path = tmp_path / "in.ome.tif"
    ometiff.write(
        path,
        data,
        physical_size={"X": 0.25, "Y": 0.25, "Z": (500, "nm")},
        time_increment="2 min",
        channel_names=["DAPI", "GFP", "RFP"],
        channel_colors=["blue", "#00FF00", (255, 0, 0)],
        pyramid_levels=2,
        compression="zlib",
    )
    return path, data


# --- what is written ---------------------------------------------------------------------


def test_convert_05_bioformats2raw_layout(
    tiff_with_pyramid: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    src, data = tiff_with_pyramid
    out = tmp_path / "out.ome.zarr"
    result = ometiff.convert(src, out)
    assert list(result) == [out]
    receipt = result.receipts[0]
    assert receipt.planes_written == receipt.planes_verified == 24
    assert receipt.series[0]["chunks_verified"] == receipt.series[0]["chunks_written"] > 24
    root = _attrs(out)
    assert root == {"version": "0.5", "bioformats2raw.layout": 3}
    assert _attrs(out / "OME") == {"version": "0.5", "series": ["0"]}
    xml = (out / "OME" / "METADATA.ome.xml").read_text()
    assert "MetadataOnly" in xml and "TiffData" not in xml and 'Name="GFP"' in xml
    image = _attrs(out / "0")
    ms = image["multiscales"][0]
    assert [a["name"] for a in ms["axes"]] == list("tczyx")
    units = {a["name"]: a.get("unit") for a in ms["axes"]}
    # one spatial unit for x, y and z (500 nm becomes 0.5 micrometer); t keeps minutes
    assert units == {
        "t": "minute",
        "c": None,
        "z": "micrometer",
        "y": "micrometer",
        "x": "micrometer",
    }
    # the source's pyramid is used (no re-downsampling): 3 levels, as in the TIFF
    scales = [d["coordinateTransformations"][0]["scale"] for d in ms["datasets"]]
    assert scales == [
        [2.0, 1.0, 0.5, 0.25, 0.25],
        [2.0, 1.0, 0.5, 0.5, 0.5],
        [2.0, 1.0, 0.5, 1.0, 1.0],
    ]
    assert ms["metadata"]["method"] == "the source's own pyramid"
    channels = image["omero"]["channels"]
    assert [c["label"] for c in channels] == ["DAPI", "GFP", "RFP"]
    assert [c["color"] for c in channels] == ["0000FF", "00FF00", "FF0000"]
    for k, ch in enumerate(channels):
        assert ch["window"]["start"] == data[:, k].min()
        assert ch["window"]["end"] == data[:, k].max()
        assert ch["window"]["max"] == 65535
    group = zarr.open_group(out / "0", mode="r")
    assert group["0"].metadata.zarr_format == 3
    np.testing.assert_array_equal(group["0"][:], data)
    assert group["1"].shape == (2, 3, 4, 150, 260)
    assert group["2"].shape == (2, 3, 4, 75, 130)
    with _reader(src) as rdr:
        np.testing.assert_array_equal(group["2"][1, 2, 3], rdr.read_plane(0, 1, 2, 3, level=2))


def _reader(path: Path) -> Any:
    from ometiff.readers import open_image

    return open_image(path)


def test_convert_04_zarr_v2(tiff_with_pyramid: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    src, data = tiff_with_pyramid
    out = tmp_path / "out.ome.zarr"
    ometiff.convert(src, out, ngff="0.4", compression="gzip", chunks=(2, 128, 256))
    assert json.loads((out / ".zattrs").read_text()) == {"bioformats2raw.layout": 3}
    assert json.loads((out / ".zgroup").read_text()) == {"zarr_format": 2}
    ms = _attrs(out / "0")["multiscales"][0]
    assert ms["version"] == "0.4"
    meta = json.loads((out / "0" / "0" / ".zarray").read_text())
    assert meta["chunks"] == [1, 1, 2, 128, 256]
    assert meta["compressor"]["id"] == "gzip"
    assert meta["dimension_separator"] == "/"
    arr = zarr.open_array(out / "0" / "0", mode="r")
    np.testing.assert_array_equal(arr[:], data)


@pytest.mark.parametrize("codec", ["zstd", "blosc", "gzip", "none"])
def test_codecs_and_shards_read_by_zarr(codec: str, tmp_path: Path) -> None:
    data = _noise((1, 2, 3, 200, 333), np.float32)
    out = tmp_path / f"{codec}.ome.zarr"
    ometiff.write(out, data, compression=codec, shards=True, chunks=64, pyramid_levels=1)
    arr = zarr.open_array(out / "0" / "0", mode="r")
    assert arr.chunks == (1, 1, 1, 64, 64)
    assert arr.shards == (1, 1, 1, 256, 256)
    np.testing.assert_array_equal(arr[:], data)
    level1 = zarr.open_array(out / "0" / "1", mode="r")
    assert level1.shape == (1, 2, 3, 100, 167)
    # the TIFF writer's downsampler: 2x2 mean (floats: sum * 0.25), edge repeated
    from ometiff.writer.pyramid import downsample

    np.testing.assert_array_equal(level1[0, 1, 2], downsample(data[0, 1, 2]))


def test_write_rgb_becomes_three_channels(tmp_path: Path) -> None:
    data = _noise((2, 40, 50, 3), np.uint8)
    out = ometiff.write(tmp_path / "rgb.ome.zarr", data, axes="ZYXS")
    arr = zarr.open_array(out / "0" / "0", mode="r")
    np.testing.assert_array_equal(arr[0], data.transpose(3, 0, 1, 2))
    channels = _attrs(out / "0")["omero"]["channels"]
    assert [c["color"] for c in channels] == ["FF0000", "00FF00", "0000FF"]
    assert [c["label"] for c in channels] == ["Channel 0 R", "Channel 0 G", "Channel 0 B"]
    assert 'SamplesPerPixel="3"' in (out / "OME" / "METADATA.ome.xml").read_text()


def test_layout_image_and_built_pyramid(tmp_path: Path) -> None:
    data = _noise((600, 700), np.uint8)
    out = ometiff.write(
        tmp_path / "one.ome.zarr", data, layout="image", pyramid_levels="auto", physical_size=0.5
    )
    assert sorted(p.name for p in out.iterdir()) == ["0", "1", "2", "OME", "zarr.json"]
    ms = _attrs(out)["multiscales"][0]
    assert ms["type"] == "mean"
    assert [d["path"] for d in ms["datasets"]] == ["0", "1", "2"]
    assert ms["datasets"][2]["coordinateTransformations"][0]["scale"][3:] == [2.0, 2.0]
    arr = zarr.open_array(out / "2", mode="r")
    assert arr.shape == (1, 1, 1, 150, 175)


def _plate_ome(n: int) -> Any:
    from ome_types import model as m

    images = [
        m.Image(
            id=f"Image:{i}",
            name=f"field {i}",
            pixels=m.Pixels(
                id=f"Pixels:{i}",
                size_x=32,
                size_y=24,
                size_z=1,
                size_c=1,
                size_t=1,
                type="uint8",
                dimension_order="XYZCT",
                channels=[m.Channel(id=f"Channel:{i}:0")],
            ),
        )
        for i in range(n)
    ]
    wells = [
        m.Well(
            id="Well:0",
            row=0,
            column=0,
            well_samples=[
                m.WellSample(id="WellSample:0", index=0, image_ref=m.ImageRef(id="Image:0")),
                m.WellSample(id="WellSample:1", index=1, image_ref=m.ImageRef(id="Image:1")),
            ],
        ),
        m.Well(
            id="Well:1",
            row=1,
            column=2,
            well_samples=[
                m.WellSample(id="WellSample:2", index=2, image_ref=m.ImageRef(id="Image:2"))
            ],
        ),
    ]
    return m.OME(images=images, plates=[m.Plate(id="Plate:0", name="P1", wells=wells)])


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_plate_layout(version: str, tmp_path: Path) -> None:
    data = [_noise((24, 32), np.uint8, seed=k) for k in range(3)]
    out = ometiff.write(tmp_path / "plate.ome.zarr", data, ome=_plate_ome(3), ngff=version)
    root = _attrs(out)
    assert root["bioformats2raw.layout"] == 3
    plate = root["plate"]
    assert plate["rows"] == [{"name": "A"}, {"name": "B"}]
    assert plate["columns"] == [{"name": "1"}, {"name": "3"}]
    assert plate["wells"] == [
        {"path": "A/1", "rowIndex": 0, "columnIndex": 0},
        {"path": "B/3", "rowIndex": 1, "columnIndex": 1},
    ]
    assert plate["field_count"] == 2
    assert _attrs(out / "A" / "1")["well"]["images"] == [{"path": "0"}, {"path": "1"}]
    for k, group in enumerate(["A/1/0", "A/1/1", "B/3/0"]):
        arr = zarr.open_array(out / group / "0", mode="r")
        np.testing.assert_array_equal(arr[0, 0, 0], data[k])
    assert _attrs(out / "OME")["series"] == ["A/1/0", "A/1/1", "B/3/0"]
    assert "<Plate" in (out / "OME" / "METADATA.ome.xml").read_text()


def test_plate_not_holding_every_image_keeps_series(tmp_path: Path) -> None:
    out = ometiff.write(
        tmp_path / "p.ome.zarr", [np.zeros((24, 32), np.uint8)] * 4, ome=_plate_ome(4)
    )
    assert "plate" not in _attrs(out)  # Image:3 is in no well: a plate reader would miss it
    assert _attrs(out / "OME")["series"] == ["0", "1", "2", "3"]


def test_plate_without_image_refs_keeps_series_layout(corpus: Path, tmp_path: Path) -> None:
    src = corpus / "ome-tiff/ome-model-samples/2010-06/6x4y1z1t1c8b-swatch-1s1p4w2ws.ome.tiff"
    if not src.is_file():
        pytest.skip("plate sample not in the corpus")
    out = tmp_path / "plate.ome.zarr"
    ometiff.convert(src, out)
    assert "plate" not in _attrs(out)  # its WellSamples name no Image
    assert "<Plate" in (out / "OME" / "METADATA.ome.xml").read_text()
    from ometiff.readers import open_image

    with open_image(out) as rdr, open_image(src) as orig:
        assert len(rdr.sources()) == len(orig.sources())


# --- safety ------------------------------------------------------------------------------


def test_existing_output_is_kept_without_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "x.ome.zarr"
    ometiff.write(out, np.zeros((16, 16), np.uint8))
    before = sorted(str(p) for p in out.rglob("*"))
    with pytest.raises(FileExistsOmeTiffError):
        ometiff.write(out, np.ones((16, 16), np.uint8))
    assert sorted(str(p) for p in out.rglob("*")) == before
    ometiff.write(out, np.ones((16, 16), np.uint8), overwrite=True)
    assert zarr.open_array(out / "0" / "0", mode="r")[0, 0, 0, 0, 0] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["x.ome.zarr"]


def test_verification_mismatch_removes_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ometiff.writer import ngff

    real = ngff._encoder

    def corrupt(spec: Any) -> Any:
        enc, dec = real(spec)
        return enc, (lambda b: (lambda d: d[:-1] + bytes([d[-1] ^ 0xFF]))(bytes(dec(b))))

    monkeypatch.setattr(ngff, "_encoder", corrupt)
    with pytest.raises(VerificationError, match="differs"):
        ometiff.write(tmp_path / "v.ome.zarr", _noise((40, 40)))
    assert list(tmp_path.iterdir()) == []


def _source(dtype: Any) -> SeriesSource:
    return SeriesSource(
        (1, 1, 1, 8, 8), 1, np.dtype(dtype), lambda t, c, z: np.zeros((8, 8), dtype)
    )


@pytest.mark.parametrize("dtype", ["complex64", "int64", "float16"])
def test_unsupported_pixel_type(dtype: str, tmp_path: Path) -> None:
    from ome_types import model as m

    from ometiff.writer.ngff import write_ngff

    ome = m.OME(
        images=[
            m.Image(
                pixels=m.Pixels(
                    size_x=8,
                    size_y=8,
                    size_z=1,
                    size_c=1,
                    size_t=1,
                    type="uint8",
                    dimension_order="XYZCT",
                )
            )
        ]
    )
    with pytest.raises(WriteError, match=r"OME-Zarr 0\.5"):
        write_ngff(tmp_path / "d.ome.zarr", [_source(dtype)], ome=ome)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ngff": "0.4", "shards": True}, "sharding needs NGFF 0.5"),
        ({"ngff": "0.6"}, "use 0.5"),
        ({"compression": "lzw"}, "not an OME-Zarr codec"),
        ({"chunks": (0, 16)}, "each >= 1"),
        ({"chunks": 64, "shards": (100, 100)}, "multiple of the chunk"),
    ],
)
def test_bad_options(kwargs: dict[str, Any], match: str, tmp_path: Path) -> None:
    with pytest.raises(WriteError, match=match):
        ometiff.write(tmp_path / "o.ome.zarr", np.zeros((16, 16), np.uint8), **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_layout_image_needs_one_series(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match="one series"):
        ometiff.write(tmp_path / "o.ome.zarr", [np.zeros((16, 16), np.uint8)] * 2, layout="image")
    assert list(tmp_path.iterdir()) == []


# --- the command line ----------------------------------------------------------------------


def test_cli_convert_with_report(
    tiff_with_pyramid: tuple[Path, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, data = tiff_with_pyramid
    out = tmp_path / "cli.ome.zarr"
    report = tmp_path / "r.json"
    assert (
        main(
            [
                "convert",
                str(src),
                str(out),
                "--shard",
                "--chunks",
                "128",
                "--compression",
                "blosc",
                "--report",
                str(report),
                "-q",
            ]
        )
        == 0
    )
    rep = json.loads(report.read_text())
    assert rep["verified"] is True
    assert rep["conversions"][0]["outputs"] == [str(out)]
    assert rep["conversions"][0]["series"][0]["shards"] == [
        1,
        1,
        1,
        384,
        512,
    ]  # clipped to the 300 rows
    arr = zarr.open_array(out / "0" / "0", mode="r")
    np.testing.assert_array_equal(arr[:], data)


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_cli_existing_output(
    tiff_with_pyramid: tuple[Path, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, _ = tiff_with_pyramid
    out = tmp_path / "e.ome.zarr"
    out.mkdir()
    assert main(["convert", str(src), str(out), "-q"]) == 2
    assert "--overwrite" in _one_error_line(capsys)
    assert list(out.iterdir()) == []


def test_cli_output_inside_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = ometiff.write(tmp_path / "in.ome.zarr", np.zeros((16, 16), np.uint8))
    before = sorted(str(p) for p in src.rglob("*"))
    assert main(["convert", str(src), str(src / "nested.ome.zarr"), "-q"]) == 2
    assert "inside the input" in _one_error_line(capsys)
    assert sorted(str(p) for p in src.rglob("*")) == before


def test_cli_ngff04_with_shard(
    tiff_with_pyramid: tuple[Path, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, _ = tiff_with_pyramid
    assert (
        main(["convert", str(src), str(tmp_path / "s.ome.zarr"), "--ngff", "0.4", "--shard"]) == 2
    )
    assert "sharding needs NGFF 0.5" in _one_error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.ome.tif"]


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders"
)
def test_cli_read_only_folder(
    tiff_with_pyramid: tuple[Path, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, _ = tiff_with_pyramid
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        assert main(["convert", str(src), str(ro / "x.ome.zarr"), "-q"]) == 2
        assert "not writable" in _one_error_line(capsys)
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(stat.S_IRWXU)


def test_read_only_folder_via_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Root ignores permissions: the access check itself is what refuses."""
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == ro else real(p, mode))
    with pytest.raises(FileAccessError, match="not writable"):
        ometiff.write(ro / "x.ome.zarr", np.zeros((16, 16), np.uint8))
    assert list(ro.iterdir()) == []


def test_full_disk_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ometiff.writer import ngff

    real = ngff._Array.store
    calls = {"n": 0}

    def store(self: Any, *args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real(self, *args)

    monkeypatch.setattr(ngff._Array, "store", store)
    with pytest.raises(WriteError, match="cannot write: no space left"):
        ometiff.write(tmp_path / "full.ome.zarr", _noise((4, 64, 64)), chunks=32)
    assert list(tmp_path.iterdir()) == []


def test_cli_bad_chunks(
    tiff_with_pyramid: tuple[Path, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, _ = tiff_with_pyramid
    assert main(["convert", str(src), str(tmp_path / "c.ome.zarr"), "--chunks", "a,b"]) == 2
    assert "--chunks 'a,b'" in _one_error_line(capsys)
    assert main(["convert", str(src), str(tmp_path / "c.ome.zarr"), "--chunks", "0,16"]) == 2
    assert "each >= 1" in _one_error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.ome.tif"]


def test_cli_layout_image_with_several_series(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "two.ome.tif"
    ometiff.write(src, [np.zeros((16, 16), np.uint8), np.ones((8, 8), np.uint8)])
    out = tmp_path / "one.ome.zarr"
    assert main(["convert", str(src), str(out), "--layout", "image", "-q"]) == 2
    assert "--layout" in _one_error_line(capsys)
    assert not out.exists()
    assert main(["convert", str(src), str(out), "--layout", "image", "--series", "1", "-q"]) == 0
    np.testing.assert_array_equal(
        zarr.open_array(out / "0", mode="r")[0, 0, 0], np.ones((8, 8), np.uint8)
    )


def test_progress_and_several_series(tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    src = tmp_path / "two.ome.tif"
    ometiff.write(src, [_noise((3, 32, 32)), _noise((2, 16, 16), seed=1)], axes=["ZYX", "CYX"])
    result = ometiff.convert(src, tmp_path / "two.ome.zarr", on_plane=lambda *a: calls.append(a))
    assert calls == [("write", k, 5) for k in range(1, 6)]
    assert _attrs(tmp_path / "two.ome.zarr" / "OME")["series"] == ["0", "1"]
    assert result.planes_verified == 5


@pytest.mark.parametrize(
    ("value", "unit", "kind", "want"),
    [
        (0.5, "µm", "length", (0.5, "micrometer")),
        (650, "nm", "length", (650.0, "nanometer")),
        (1, "Å", "length", (1.0, "angstrom")),
        (2, "thou", "length", (50.8, "micrometer")),  # no NGFF name: converted
        (3, None, "length", (3.0, "micrometer")),  # no unit: the schema default (U3)
        (1, "pixel", "length", None),  # not a physical length: no unit invented
        (250, "ms", "time", (250.0, "millisecond")),
        (2, "min", "time", (2.0, "minute")),
        (1, "das", "time", (10.0, "second")),
    ],
)
def test_ngff_units(value: float, unit: str | None, kind: Any, want: Any) -> None:
    from ometiff.ome.units import ngff_quantity

    assert ngff_quantity(value, unit, kind) == want


def test_convert_default_codec_is_zstd_and_tiff_stays_zlib(tmp_path: Path) -> None:
    import tifffile

    src = tmp_path / "in.ome.tif"
    ometiff.write(src, _noise((2, 64, 64)))
    ometiff.convert(src, tmp_path / "z.ome.zarr")
    doc = json.loads((tmp_path / "z.ome.zarr" / "0" / "0" / "zarr.json").read_text())
    assert doc["codecs"][1] == {"name": "zstd", "configuration": {"level": 1, "checksum": False}}
    ometiff.convert(src, tmp_path / "t.ome.tif")
    with tifffile.TiffFile(tmp_path / "t.ome.tif") as tf:
        assert tf.pages[0].compression == tifffile.COMPRESSION.ADOBE_DEFLATE


def test_selection_reads_the_matching_source_levels(
    tiff_with_pyramid: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    src, data = tiff_with_pyramid
    out = tmp_path / "sel.ome.zarr"
    ometiff.convert(src, out, channels=[2, 0], z=[1, 3], t=[1])
    group = zarr.open_group(out / "0", mode="r")
    np.testing.assert_array_equal(group["0"][0], data[1][[2, 0]][:, [1, 3]])
    with _reader(src) as rdr:
        for c_out, c_in in enumerate([2, 0]):
            for z_out, z_in in enumerate([1, 3]):
                for level in (1, 2):
                    np.testing.assert_array_equal(
                        group[str(level)][0, c_out, z_out],
                        rdr.read_plane(0, 1, c_in, z_in, level=level),
                    )
    labels = [c["label"] for c in _attrs(out / "0")["omero"]["channels"]]
    assert labels == ["RFP", "DAPI"]
    scale = _attrs(out / "0")["multiscales"][0]["datasets"][0]["coordinateTransformations"]
    assert scale[0]["scale"][2] == 1.0  # z step 2 x 0.5 micrometer


def test_options_of_the_other_format_are_refused(tmp_path: Path) -> None:
    src = tmp_path / "in.ome.tif"
    ometiff.write(src, np.zeros((16, 16), np.uint8))
    with pytest.raises(WriteError, match="split, tile only apply to OME-TIFF"):
        ometiff.convert(src, tmp_path / "z.ome.zarr", split="c", tile=256)
    with pytest.raises(WriteError, match=r"chunks only apply to OME-Zarr \(\.ome\.zarr\)"):
        ometiff.convert(src, tmp_path / "t.ome.tif", chunks=64)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.ome.tif"]
    with pytest.raises(WriteError, match="companion only apply to OME-TIFF"):
        ometiff.write(tmp_path / "w.ome.zarr", np.zeros((16, 16), np.uint8), companion=True)
    # write() refuses OME-Zarr's options for an OME-TIFF output too (it ignored them)
    with pytest.raises(WriteError, match=r"chunks, shards only apply to OME-Zarr \(\.ome\.zarr\)"):
        ometiff.write(tmp_path / "w.ome.tif", np.zeros((16, 16), np.uint8), chunks=8, shards=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.ome.tif"]
