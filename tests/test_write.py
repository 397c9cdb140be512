"""Round-trips of ometiff.write / write_sources through tifffile and ome_types."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import ome_types
import pytest
import tifffile

import ometiff
from ometiff import FileAccessError, FileExistsOmeTiffError, MissingFileError, WriteError
from ometiff.readers.source import SeriesSource
from ometiff.writer.compression import BioFormatsCodecWarning
from ometiff.writer.omebuild import WARNING_COMMENT
from ometiff.writer.pyramid import auto_levels, downsample, level_shapes

RNG = np.random.default_rng(42)


def _ome(path: Path) -> ome_types.OME:
    with tifffile.TiffFile(path) as tf:
        raw = tf.pages[0].tags["ImageDescription"].value
    return ome_types.from_xml(raw, validate=True)


def _description_bytes(path: Path) -> bytes:
    with tifffile.TiffFile(path) as tf:
        tag = tf.pages[0].tags["ImageDescription"]
        tf.filehandle.seek(tag.valueoffset)
        return tf.filehandle.read(tag.count)


def _covered(ome: ome_types.OME, image: int = 0) -> int:
    return sum(td.plane_count or 1 for td in ome.images[image].pixels.tiff_data_blocks)


def _no_temps(folder: Path) -> None:
    assert not [p for p in os.listdir(folder) if ".ometiff-tmp-" in p]


def test_roundtrip_5d_metadata(tmp_path: Path) -> None:
    data = RNG.integers(0, 60000, (2, 3, 4, 50, 70), dtype=np.uint16)
    out = ometiff.write(
        tmp_path / "a.ome.tif",
        data,
        physical_size={"X": 0.5, "Y": 0.25, "Z": (2, "nm")},
        time_increment=(3, "ms"),
        channel_names=["DAPI", "GFP", "µ-RFP"],
        channel_colors=["red", "#00ff00", (0, 0, 255)],
        excitation_wavelength=[405, 488, (561, "nm")],
        names="cells",
        plane_metadata={(1, 2, 3): {"DeltaT": 0.5, "ExposureTime": (10, "ms"), "PositionX": 12.5}},
        objective={"nominal_magnification": 40, "lens_na": 1.2},
        acquisition_date="2024-05-06T07:08:09",
        annotations={"study": "x", "n": 3},
    )
    assert out == tmp_path / "a.ome.tif"
    raw = _description_bytes(out)
    assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')  # X2
    assert WARNING_COMMENT.encode() in raw  # X4
    assert "µ-RFP".encode() in raw  # UTF-8, not ASCII-escaped
    ome = _ome(out)
    px = ome.images[0].pixels
    assert (px.size_t, px.size_c, px.size_z, px.size_y, px.size_x) == data.shape
    assert px.type.value == "uint16" and px.dimension_order.value == "XYZCT"
    assert px.physical_size_x == 0.5 and px.physical_size_y == 0.25
    assert px.physical_size_z == 2 and px.physical_size_z_unit.value == "nm"
    assert px.time_increment == 3 and px.time_increment_unit.value == "ms"
    assert [c.name for c in px.channels] == ["DAPI", "GFP", "µ-RFP"]
    assert px.channels[0].color.as_rgb_tuple() == (255, 0, 0)
    assert px.channels[2].excitation_wavelength == 561
    assert all(c.samples_per_pixel == 1 for c in px.channels)
    assert _covered(ome) == 24  # W1: every plane mapped
    (plane,) = px.planes
    assert (plane.the_t, plane.the_c, plane.the_z) == (1, 2, 3)
    assert plane.exposure_time_unit.value == "ms" and plane.position_x_unit.value == "µm"
    assert ome.images[0].name == "cells"
    assert ome.instruments[0].objectives[0].nominal_magnification == 40
    assert ome.structured_annotations.map_annotations[0].value.ms[1].value == "3"
    # units are explicit in the XML text (W3)
    assert b'PhysicalSizeXUnit="\xc2\xb5m"' in raw and b'TimeIncrementUnit="ms"' in raw
    with tifffile.TiffFile(out) as tf:
        assert len(tf.pages) == 24
        assert tf.series[0].axes == "TCZYX"
        np.testing.assert_array_equal(tf.series[0].asarray(), data)
        assert "ImageJ" not in (tf.pages[0].description or "")  # X7
        assert "ImageDescription" not in tf.pages[1].aspage().tags  # X3: only IFD0


def test_no_invented_physical_sizes(tmp_path: Path) -> None:
    out = ometiff.write(tmp_path / "p.ome.tiff", np.zeros((8, 8), np.uint8))
    px = _ome(out).images[0].pixels
    assert px.physical_size_x is None and px.physical_size_z is None  # W3
    assert b"PhysicalSize" not in _description_bytes(out)


@pytest.mark.parametrize("axes", ["ZCYX", "YXZ", "XYC", "CTYXZ"])
def test_axes_any_order(tmp_path: Path, axes: str) -> None:
    shape = {"Z": 3, "C": 2, "T": 2, "Y": 20, "X": 30}
    data = RNG.integers(0, 255, [shape[a] for a in axes], dtype=np.uint8)
    out = ometiff.write(tmp_path / "x.ome.tif", data, axes=axes)
    px = _ome(out).images[0].pixels
    want = {a: data.shape[axes.index(a)] if a in axes else 1 for a in "TCZYX"}
    assert (px.size_t, px.size_c, px.size_z, px.size_y, px.size_x) == tuple(want.values())
    with tifffile.TiffFile(out) as tf:
        got = tf.series[0].asarray()
        ref = np.moveaxis(data, [axes.index(a) for a in axes], range(len(axes)))
        expected = np.transpose(data, [axes.index(a) for a in tf.series[0].axes if a in axes])
        assert ref.shape == data.shape
        np.testing.assert_array_equal(got.reshape(expected.shape), expected)


def test_rgb_one_channel_three_samples(tmp_path: Path) -> None:
    rgb = RNG.integers(0, 255, (2, 40, 50, 3), dtype=np.uint8)
    out = ometiff.write(tmp_path / "rgb.ome.tif", rgb, axes="ZYXS", channel_names=["bf"])
    px = _ome(out).images[0].pixels
    assert px.size_c == 3 and len(px.channels) == 1  # R2
    assert px.channels[0].samples_per_pixel == 3 and px.interleaved is True
    with tifffile.TiffFile(out) as tf:
        assert tf.pages[0].photometric == tifffile.PHOTOMETRIC.RGB
        assert tf.pages[0].samplesperpixel == 3
        np.testing.assert_array_equal(tf.series[0].asarray().reshape(rgb.shape), rgb)
    planar = np.moveaxis(rgb[0], -1, 0)  # S first
    out2 = ometiff.write(tmp_path / "rgb2.ome.tif", planar, axes="SYX")
    np.testing.assert_array_equal(tifffile.imread(out2), rgb[0])


def test_pyramid_subifds(tmp_path: Path) -> None:
    data = RNG.integers(0, 4000, (2, 1000, 1500), dtype=np.uint16)
    out = ometiff.write(
        tmp_path / "pyr.ome.tif",
        data,
        axes="CYX",
        pyramid_levels="auto",
        compression="zlib",
        tile=(256, 256),
    )
    levels = auto_levels(1000, 1500)
    assert levels == 3
    with tifffile.TiffFile(out) as tf:
        assert len(tf.pages) == 2  # P-1/P-3: levels are not in the main chain
        series = tf.series[0]
        assert len(series.levels) == levels + 1
        for frame in tf.pages:
            page = frame.aspage()
            assert len(page.subifds) == levels  # P-7
            assert page.is_tiled
        for k, (y, x) in enumerate(level_shapes(1000, 1500, levels), start=1):
            assert series.levels[k].shape == (2, y, x)
            for page in series.levels[k].pages:
                assert page.aspage().subfiletype & 1  # P-4
        lvl1 = series.levels[1].asarray()
    np.testing.assert_array_equal(lvl1[1], downsample(data[1], "mean"))
    assert _covered(_ome(out)) == 2


def test_downsample_mean_and_nearest() -> None:
    a = np.array([[0, 2, 5], [4, 6, 7], [9, 9, 1]], dtype=np.uint8)
    np.testing.assert_array_equal(downsample(a, "mean"), [[3, 6], [9, 1]])
    np.testing.assert_array_equal(downsample(a, "nearest"), [[0, 5], [9, 1]])
    f = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    assert downsample(f).dtype == np.float32 and downsample(f)[0, 0] == 2.5
    big = np.full((2, 2), 65535, np.uint16)
    assert downsample(big)[0, 0] == 65535  # no overflow


def test_several_series_and_compression(tmp_path: Path) -> None:
    a = RNG.integers(0, 255, (3, 30, 40), dtype=np.uint8)
    b = RNG.random((2, 20, 10)).astype(np.float32)
    out = ometiff.write(
        tmp_path / "s.ome.tif",
        [a, b],
        axes=["ZYX", "CYX"],
        names=["one", "two"],
        compression="zstd",
        channel_names=[["x"], ["p", "q"]],
    )
    ome = _ome(out)
    assert [i.name for i in ome.images] == ["one", "two"]
    assert [c.name for c in ome.images[1].pixels.channels] == ["p", "q"]
    assert ome.images[1].pixels.tiff_data_blocks[0].ifd == 3
    with tifffile.TiffFile(out) as tf:
        assert tf.pages[0].compression == tifffile.COMPRESSION.ZSTD
        np.testing.assert_array_equal(tf.series[0].asarray(), a)
        np.testing.assert_array_equal(tf.series[1].asarray(), b)


def test_dask_and_zarr_inputs(tmp_path: Path) -> None:
    da = pytest.importorskip("dask.array")
    zarr = pytest.importorskip("zarr")
    data = RNG.integers(0, 1000, (2, 64, 48), dtype=np.int16)
    out = ometiff.write(tmp_path / "d.ome.tif", da.from_array(data, chunks=(1, 32, 48)), axes="ZYX")
    np.testing.assert_array_equal(tifffile.imread(out), data)
    z = zarr.create_array(
        store=zarr.storage.MemoryStore(), shape=data.shape, dtype=data.dtype, chunks=(1, 64, 48)
    )
    z[:] = data
    out2 = ometiff.write(tmp_path / "z.ome.tif", z, axes="TYX")
    assert _ome(out2).images[0].pixels.size_t == 2
    np.testing.assert_array_equal(tifffile.imread(out2), data)


def test_plane_iterator(tmp_path: Path) -> None:
    data = RNG.integers(0, 255, (2, 3, 16, 16), dtype=np.uint8)
    planes = (data[t, c] for t in range(2) for c in range(3))
    out = ometiff.write(
        tmp_path / "it.ome.tif", planes, axes="TCYX", shape=data.shape, dtype=np.uint8
    )
    px = _ome(out).images[0].pixels
    assert px.dimension_order.value == "XYCTZ"  # C fastest, as iterated
    np.testing.assert_array_equal(tifffile.imread(out).reshape(data.shape), data)
    short = (data[0, c] for c in range(2))
    with pytest.raises(WriteError, match="ended early"):
        ometiff.write(
            tmp_path / "short.ome.tif", short, axes="TCYX", shape=data.shape, dtype=np.uint8
        )
    _no_temps(tmp_path)
    with pytest.raises(WriteError, match="needs shape"):
        ometiff.write(tmp_path / "n.ome.tif", iter([data[0, 0]]))


def test_split_channels_full_metadata(tmp_path: Path) -> None:
    data = RNG.integers(0, 255, (2, 3, 2, 8, 8), dtype=np.uint8)
    out = ometiff.write(tmp_path / "set.ome.tif", data, split="c", channel_names=["a", "b", "c"])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["set_c0.ome.tif", "set_c1.ome.tif", "set_c2.ome.tif"]
    assert out == tmp_path / "set_c0.ome.tif"
    omes = [_ome(tmp_path / n) for n in names]
    uuids = [o.uuid for o in omes]
    assert len(set(uuids)) == 3  # M1
    for o in omes:  # M3: every file carries the full metadata
        tds = o.images[0].pixels.tiff_data_blocks
        assert [td.uuid.file_name for td in tds] == names  # M2
        assert [td.uuid.value for td in tds] == uuids
        assert [td.first_c for td in tds] == [0, 1, 2]
        assert sum(td.plane_count for td in tds) == 12
    for c, n in enumerate(names):
        with tifffile.TiffFile(tmp_path / n) as tf:
            assert len(tf.pages) == 4
            got = np.stack([p.asarray() for p in tf.pages])
        # XYZTC: Z fastest, then T, within one channel
        np.testing.assert_array_equal(got, data[:, c].reshape(4, 8, 8))


def test_split_series_companion(tmp_path: Path) -> None:
    a = RNG.integers(0, 255, (3, 8, 8), dtype=np.uint8)
    b = RNG.integers(0, 255, (2, 8, 8), dtype=np.uint16)
    out = ometiff.write(
        tmp_path / "cs.ome.tiff", [a, b], axes="TYX", split="series", companion=True
    )
    assert out == tmp_path / "cs.companion.ome"
    comp = ome_types.from_xml(out.read_bytes(), validate=True)
    assert comp.uuid  # M5
    for i, name in enumerate(["cs_s0.ome.tiff", "cs_s1.ome.tiff"]):
        member = _ome(tmp_path / name)
        assert member.binary_only.metadata_file == "cs.companion.ome"  # M4
        assert member.binary_only.uuid == comp.uuid and not member.images
        (td,) = comp.images[i].pixels.tiff_data_blocks
        assert td.uuid.value == member.uuid and td.uuid.file_name == name
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "cs_s1.ome.tiff"), b)


def test_split_t(tmp_path: Path) -> None:
    data = RNG.integers(0, 255, (3, 2, 8, 8), dtype=np.uint8)
    ometiff.write(tmp_path / "t.ome.tif", data, axes="TCYX", split="t")
    o = _ome(tmp_path / "t_t2.ome.tif")
    assert o.images[0].pixels.dimension_order.value.endswith("T")
    assert [td.first_t for td in o.images[0].pixels.tiff_data_blocks] == [0, 1, 2]
    with tifffile.TiffFile(tmp_path / "t_t2.ome.tif") as tf:
        np.testing.assert_array_equal(tf.pages[1].asarray(), data[2, 1])


def test_user_ome_checked_and_kept(tmp_path: Path) -> None:
    data = RNG.integers(0, 255, (2, 16, 24), dtype=np.uint8)
    first = ometiff.write(
        tmp_path / "a.ome.tif", data, axes="CYX", channel_names=["x", "y"], physical_size=0.3
    )
    ome = _ome(first)
    ome.images[0].description = "kept"
    out = ometiff.write(tmp_path / "b.ome.tif", data, axes="CYX", ome=ome)
    again = _ome(out)
    assert again.images[0].description == "kept"
    assert [c.name for c in again.images[0].pixels.channels] == ["x", "y"]
    assert again.uuid != ome.uuid
    with pytest.raises(WriteError, match="SizeC=2 but the data has 3"):
        ometiff.write(tmp_path / "c.ome.tif", np.zeros((3, 16, 24), np.uint8), axes="CYX", ome=ome)
    with pytest.raises(WriteError, match="Type=uint8"):
        ometiff.write(tmp_path / "c.ome.tif", data.astype(np.uint16), axes="CYX", ome=ome)
    assert not (tmp_path / "c.ome.tif").exists()


def test_write_sources_conforms_reader_metadata(tmp_path: Path) -> None:
    """The converter contract: pixels-describing fields are rewritten, the rest kept."""
    plane = np.arange(12 * 10, dtype=np.uint16).reshape(12, 10)
    src = SeriesSource(
        (1, 2, 1, 12, 10), 1, np.dtype(np.uint16), lambda t, c, z: plane + c, name="s"
    )
    ome = ome_types.from_xml(
        """<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">
        <Image ID="Image:0" Name="vendor"><Pixels ID="Pixels:0" DimensionOrder="XYCZT"
        Type="uint8" SizeX="1" SizeY="1" SizeZ="5" SizeC="3" SizeT="1" PhysicalSizeX="0.2"
        SignificantBits="12" BigEndian="true">
        <Channel ID="Channel:0:0" Name="A" SamplesPerPixel="3"/><Channel ID="Channel:0:1"
        Name="B"/><Channel ID="Channel:0:2" Name="C"/>
        <MetadataOnly/><Plane TheZ="0" TheT="0" TheC="1" DeltaT="2"/>
        <Plane TheZ="4" TheT="0" TheC="0"/></Pixels></Image></OME>"""
    )
    paths = ometiff.write_sources(tmp_path / "w.ome.tif", [src], ome=ome, compression="lzw")
    assert paths == [tmp_path / "w.ome.tif"]
    px = _ome(paths[0]).images[0].pixels
    assert (px.size_x, px.size_y, px.size_z, px.size_c) == (10, 12, 1, 2)
    assert px.type.value == "uint16" and px.big_endian is False
    assert px.dimension_order.value == "XYCZT" and px.significant_bits == 12
    assert [c.name for c in px.channels] == ["A", "B"]
    assert [c.samples_per_pixel for c in px.channels] == [1, 1]
    assert px.metadata_only is None and _covered(_ome(paths[0])) == 2
    assert [(p.the_c, p.delta_t) for p in px.planes] == [(1, 2.0)]
    assert px.physical_size_x == 0.2 and px.physical_size_x_unit.value == "µm"
    assert b'PhysicalSizeXUnit="\xc2\xb5m"' in _description_bytes(paths[0])
    np.testing.assert_array_equal(tifffile.imread(paths[0])[1], plane + 1)


def test_progress_callback(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    ometiff.write(
        tmp_path / "p.ome.tif",
        np.zeros((2, 3, 8, 8), np.uint8),
        axes="CZYX",
        on_plane=lambda d, t: calls.append((d, t)),
    )
    assert calls == [(k, 6) for k in range(1, 7)]


def test_existing_file_refused(tmp_path: Path) -> None:
    target = tmp_path / "e.ome.tif"
    target.write_bytes(b"keep")
    with pytest.raises(FileExistsOmeTiffError, match="overwrite=True"):
        ometiff.write(target, np.zeros((4, 4), np.uint8))
    assert target.read_bytes() == b"keep"
    (tmp_path / "s_c1.ome.tif").write_bytes(b"keep")
    with pytest.raises(FileExistsOmeTiffError):
        ometiff.write(tmp_path / "s.ome.tif", np.zeros((2, 4, 4), np.uint8), axes="CYX", split="c")
    assert not (tmp_path / "s_c0.ome.tif").exists()
    ometiff.write(target, np.ones((4, 4), np.uint8), overwrite=True)
    np.testing.assert_array_equal(tifffile.imread(target), np.ones((4, 4)))
    _no_temps(tmp_path)


def test_atomic_on_failing_source(tmp_path: Path) -> None:
    target = tmp_path / "f.ome.tif"
    target.write_bytes(b"old")

    def get_plane(t: int, c: int, z: int) -> np.ndarray:
        if z == 3:
            raise RuntimeError("camera unplugged")
        return np.zeros((8, 8), np.uint8)

    src = SeriesSource((1, 1, 6, 8, 8), 1, np.dtype(np.uint8), get_plane)
    with pytest.raises(RuntimeError, match="camera unplugged"):
        ometiff.write_sources(target, [src], overwrite=True, split=None)
    assert target.read_bytes() == b"old"
    with pytest.raises(RuntimeError, match="camera unplugged"):
        ometiff.write_sources(tmp_path / "g.ome.tif", [src, src], split="series", companion=True)
    assert sorted(os.listdir(tmp_path)) == ["f.ome.tif"]


def test_bad_plane_from_source(tmp_path: Path) -> None:
    src = SeriesSource(
        (1, 1, 1, 8, 8), 1, np.dtype(np.uint8), lambda t, c, z: np.zeros((8, 9), np.uint8)
    )
    with pytest.raises(WriteError, match=r"returned shape \(8, 9\)"):
        ometiff.write_sources(tmp_path / "b.ome.tif", [src])
    _no_temps(tmp_path)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"axes": "ZYXQ"}, "unknown letter"),
        ({"axes": "ZYX"}, "has 3 letters but the data has 4"),
        ({"axes": "ZZYX"}, "repeats"),
        ({"axes": "TCZX"}, "must contain Y and X"),
        ({"compression": "rar"}, "not supported"),
        ({"tile": (100, 100)}, "multiple of 16"),
        ({"pyramid_levels": -1}, "pyramid_levels"),
        ({"pyramid_levels": 40}, "too many"),
        ({"downsample": "cubic"}, "downsample"),
        ({"split": "z"}, "split"),
        ({"channel_names": ["a"]}, "1 entries but series 0 has 2"),
        ({"plane_metadata": {(0, 5, 0): {"DeltaT": 1}}}, "outside series"),
        ({"plane_metadata": {(0, 0, 0): {"Speed": 1}}}, "unknown plane field"),
    ],
)
def test_bad_options(tmp_path: Path, kwargs: dict, match: str) -> None:
    data = np.zeros((1, 2, 32, 32), np.uint16)
    kwargs = {"axes": "TCYX", **kwargs}
    with pytest.raises(WriteError, match=match):
        ometiff.write(tmp_path / "bad.ome.tif", data, **kwargs)
    assert os.listdir(tmp_path) == []


def test_bad_dtypes_and_names(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match=r"int64 has no OME pixel type.*int32"):
        ometiff.write(tmp_path / "i.ome.tif", np.zeros((4, 4), np.int64))
    with pytest.raises(WriteError, match="complex"):
        ometiff.write(tmp_path / "c.ome.tif", np.zeros((4, 4), np.complex64))
    with pytest.raises(WriteError, match="jpeg' needs uint8"):
        ometiff.write(tmp_path / "j.ome.tif", np.zeros((4, 4), np.uint16), compression="jpeg")
    with pytest.raises(WriteError, match=r"must end with \.ome\.tif"):
        ometiff.write(tmp_path / "plain.tif", np.zeros((4, 4), np.uint8))
    with pytest.raises(MissingFileError, match=r"folder .* does not exist"):
        ometiff.write(tmp_path / "nope" / "x.ome.tif", np.zeros((4, 4), np.uint8))
    with pytest.warns(UserWarning, match="float16"):
        out = ometiff.write(tmp_path / "h.ome.tif", np.full((4, 4), 1.5, np.float16))
    assert _ome(out).images[0].pixels.type.value == "float"
    assert tifffile.imread(out).dtype == np.float32
    assert os.listdir(tmp_path) == ["h.ome.tif"]


def test_unwritable_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ometiff.writer.multifile as mf

    def denied(*args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(mf.os, "open", denied)  # also fails as root, unlike chmod
    with pytest.raises(FileAccessError, match=r"cannot write in .*Permission denied"):
        ometiff.write(tmp_path / "x.ome.tif", np.zeros((4, 4), np.uint8))
    assert os.listdir(tmp_path) == []


def test_codec_warning_for_bioformats(tmp_path: Path) -> None:
    pytest.importorskip("imagecodecs")
    with pytest.warns(BioFormatsCodecWarning, match="Bio-Formats"):
        out = ometiff.write(
            tmp_path / "x.ome.tif", np.zeros((32, 32), np.uint8), compression="jpegxl"
        )
    with tifffile.TiffFile(out) as tf:
        assert tf.pages[0].compression == tifffile.COMPRESSION.JPEGXL


def test_bigtiff_auto(tmp_path: Path) -> None:
    from ometiff.writer.compression import resolve_codec
    from ometiff.writer.core import CLASSIC_LIMIT, estimate_size
    from ometiff.writer.multifile import plan_files

    big = SeriesSource((1, 1, 300, 4096, 4096), 1, np.dtype(np.uint16), lambda t, c, z: None)
    (plan,) = plan_files(tmp_path / "b.ome.tif", [big], ["XYZCT"], None)
    assert estimate_size(plan, [big], [0], resolve_codec("zlib", None), 1000) > CLASSIC_LIMIT
    small = ometiff.write(tmp_path / "s.ome.tif", np.zeros((4, 4), np.uint8))
    forced = ometiff.write(tmp_path / "f.ome.tif", np.zeros((4, 4), np.uint8), bigtiff=True)
    with tifffile.TiffFile(small) as a, tifffile.TiffFile(forced) as b:
        assert not a.is_bigtiff and b.is_bigtiff


def test_our_validator_accepts_ours(tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("ometiff.validation.validator") is None:
        pytest.skip("ometiff.validate not available yet (schema validation runs in _ome)")
    rgb = RNG.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    files = [
        ometiff.write(
            tmp_path / "a.ome.tif",
            RNG.integers(0, 9, (2, 3, 300, 300), np.uint16),
            axes="CZYX",
            pyramid_levels=1,
            compression="zlib",
            physical_size=0.5,
            channel_names=["a", "b"],
        ),
        ometiff.write(tmp_path / "rgb.ome.tif", rgb, axes="YXS"),
        ometiff.write(
            tmp_path / "s.ome.tif",
            np.zeros((2, 8, 8), np.uint8),
            axes="CYX",
            split="c",
            channel_names=["x", "y"],
        ),
        ometiff.write(
            tmp_path / "m.ome.tif", [rgb, rgb], axes="YXS", split="series", companion=True
        ),
    ]
    for path in files:
        report = ometiff.validate(path)
        assert [i for i in report.issues if i.severity in ("error", "warning")] == [], path


def test_source_pyramid_annotation_is_not_copied(tmp_path: Path) -> None:
    """P-7: a PyramidResolution MapAnnotation from a source describes its levels, not ours;
    Bio-Formats trusts it over the SubIFDs, so write_sources drops it and keeps the rest."""
    import ome_types
    from ome_types import model as om

    from ometiff.readers.source import SeriesSource
    from ometiff.writer.api import write_sources

    data = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)
    src = SeriesSource((1, 1, 1, 64, 64), 1, data.dtype, lambda t, c, z: data)
    ome = om.OME(
        images=[
            om.Image(
                id="Image:0",
                pixels=om.Pixels(
                    id="Pixels:0",
                    dimension_order="XYZCT",
                    type="uint16",
                    size_x=64,
                    size_y=64,
                    size_z=1,
                    size_c=1,
                    size_t=1,
                    channels=[om.Channel(id="Channel:0:0")],
                    metadata_only=om.MetadataOnly(),
                ),
                annotation_refs=[
                    om.AnnotationRef(id="Annotation:0"),
                    om.AnnotationRef(id="Annotation:1"),
                ],
            )
        ],
        structured_annotations=om.StructuredAnnotations(
            map_annotations=[
                om.MapAnnotation(
                    id="Annotation:0",
                    namespace="openmicroscopy.org/PyramidResolution",
                    value=om.Map(ms=[om.Map.M(k="1", value="32 32")]),
                ),
                om.MapAnnotation(
                    id="Annotation:1",
                    namespace="lab/notes",
                    value=om.Map(ms=[om.Map.M(k="stain", value="DAPI")]),
                ),
            ]
        ),
    )
    (out,) = write_sources(tmp_path / "p.ome.tif", [src], ome=ome)
    written = ome_types.from_tiff(out)
    namespaces = [a.namespace for a in written.structured_annotations.map_annotations]
    assert namespaces == ["lab/notes"]
    assert [r.id for r in written.images[0].annotation_refs] == ["Annotation:1"]


def test_small_image_pyramid_is_not_padded_to_big_tiles(tmp_path: Path) -> None:
    """P-6: default tiles are no larger than the image (16-aligned), so small pyramids stay small."""
    data = np.random.default_rng(0).integers(0, 4000, (2, 5, 200, 200), dtype=np.uint16)
    out = ometiff.write(tmp_path / "small.ome.tif", data, axes="CZYX", pyramid_levels=1)
    with tifffile.TiffFile(out) as tf:
        page = tf.pages[0]
        assert (page.tilelength, page.tilewidth) == (208, 208)
        np.testing.assert_array_equal(tf.series[0].asarray().reshape(data.shape), data)
    assert out.stat().st_size < 1.5 * data.nbytes


def _bigtiff_magic(path: Path) -> int:
    head = path.read_bytes()[:4]
    return int.from_bytes(head[2:4], "little" if head[:2] == b"II" else "big")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("samples", [3, 4])
def test_rgb_array_without_axes_is_one_rgb_channel(
    tmp_path: Path, dtype: type, samples: int
) -> None:
    """Bug 9: a (Y, X, 3) array used to be written as Z=Y, Y=X, X=3."""
    rgb = RNG.integers(0, 255, (30, 40, samples)).astype(dtype)
    out = ometiff.write(tmp_path / "rgb.ome.tif", rgb)
    px = _ome(out).images[0].pixels
    assert (px.size_z, px.size_y, px.size_x, px.size_c) == (1, 30, 40, samples)  # R2
    assert len(px.channels) == 1 and px.channels[0].samples_per_pixel == samples
    with tifffile.TiffFile(out) as tf:
        assert tf.pages[0].photometric == tifffile.PHOTOMETRIC.RGB
        np.testing.assert_array_equal(tf.series[0].asarray(), rgb)


def test_ambiguous_rgb_like_stack_needs_axes(tmp_path: Path) -> None:
    stack = RNG.integers(0, 255, (5, 30, 40, 3), dtype=np.uint8)
    with pytest.raises(WriteError, match=r"ambiguous.*axes='ZYXS'.*axes='CZYX'"):
        ometiff.write(tmp_path / "z.ome.tif", stack)
    assert not list(tmp_path.iterdir())
    with pytest.raises(WriteError, match="ambiguous"):
        ometiff.write(tmp_path / "i.ome.tif", iter(stack), shape=stack.shape, dtype=np.uint8)
    out = ometiff.write(tmp_path / "z.ome.tif", stack, axes="ZYXS")
    assert _ome(out).images[0].pixels.size_z == 5
    # other pixel types and a last axis that is not 3 or 4 keep the TCZYX default
    out = ometiff.write(tmp_path / "f.ome.tif", np.zeros((30, 40, 3), np.float32))
    px = _ome(out).images[0].pixels
    assert (px.size_z, px.size_y, px.size_x) == (30, 40, 3)
    out = ometiff.write(tmp_path / "u.ome.tif", np.zeros((30, 40, 5), np.uint8))
    assert _ome(out).images[0].pixels.size_z == 30


@pytest.mark.parametrize("suffix", [".ome.btf", ".ome.tf2", ".ome.tf8"])
def test_bigtiff_endings_write_bigtiff(tmp_path: Path, suffix: str) -> None:
    """Bug 10: .ome.btf/.tf2/.tf8 were written as classic TIFF (checklist C2)."""
    data = RNG.integers(0, 4000, (2, 3, 20, 24), dtype=np.uint16)
    out = ometiff.write(tmp_path / f"a{suffix}", data, axes="CZYX")
    assert _bigtiff_magic(out) == 43
    with tifffile.TiffFile(out) as tf:
        assert tf.is_bigtiff
        np.testing.assert_array_equal(tf.series[0].asarray(), data)
    members = ometiff.write(tmp_path / f"s{suffix}", data, axes="CZYX", split="c")
    assert _bigtiff_magic(members) == 43
    assert _bigtiff_magic(tmp_path / f"s_c1{suffix}") == 43
    with pytest.raises(WriteError, match="must be BigTIFF"):
        ometiff.write(tmp_path / f"b{suffix}", data, axes="CZYX", bigtiff=False)
    assert not (tmp_path / f"b{suffix}").exists()
    assert _bigtiff_magic(ometiff.write(tmp_path / "c.ome.tif", data, axes="CZYX")) == 42
