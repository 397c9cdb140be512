"""ometiff.convert and `ometiff convert`: round trips, subsetting, verification, bad input."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import ome_types
import pytest
import tifffile

import ometiff
from ometiff import (
    FileAccessError,
    FileExistsOmeTiffError,
    InvalidTiffError,
    MissingFileError,
    VerificationError,
    WriteError,
)
from ometiff.cli.main import main


def _hyperstack(path: Path) -> np.ndarray:
    data = np.random.default_rng(0).integers(0, 4000, (3, 4, 2, 32, 40), dtype=np.uint16)
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        resolution=(1 / 0.5, 1 / 0.5),
        metadata={"axes": "TZCYX", "unit": "um", "spacing": 2.0, "finterval": 5.0},
    )
    return data  # T, Z, C, Y, X


def _read(path: Path) -> tuple[np.ndarray, ome_types.OME]:
    ome = ome_types.from_tiff(path)
    with tifffile.TiffFile(path) as tf:
        arr = tf.series[0].asarray()
    return arr, ome


def test_imagej_round_trip_pixels_and_metadata(tmp_path: Path) -> None:
    src = tmp_path / "hs.tif"
    data = _hyperstack(src)
    before = src.read_bytes()
    out = ometiff.convert(src, tmp_path / "out.ome.tif", report=tmp_path / "r.json")
    assert out == [tmp_path / "out.ome.tif"]
    assert src.read_bytes() == before  # source untouched
    arr, ome = _read(out[0])
    px = ome.images[0].pixels
    assert (px.size_t, px.size_c, px.size_z, px.size_y, px.size_x) == (3, 2, 4, 32, 40)
    assert px.physical_size_x == 0.5 and px.physical_size_z == 2.0 and px.time_increment == 5.0
    axes = tifffile.TiffFile(out[0]).series[0].axes
    want = np.moveaxis(data, [0, 1, 2], [axes.index("T"), axes.index("Z"), axes.index("C")])
    np.testing.assert_array_equal(arr, want)
    receipt = out.receipts[0]
    assert receipt.planes_verified == 24 and receipt.reader == "tiff"
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["planes_verified"] == 24
    assert any(m["source"] == "ImageJ spacing" for m in report["conversions"][0]["mapped"])


def test_subset_regenerates_channels_and_planes(tmp_path: Path) -> None:
    src = tmp_path / "a.ome.tif"
    data = np.arange(2 * 3 * 4 * 8 * 8, dtype=np.uint16).reshape(2, 3, 4, 8, 8)
    tifffile.imwrite(
        src,
        data,
        metadata={
            "axes": "TCZYX",
            "PhysicalSizeZ": 1.0,
            "TimeIncrement": 3.0,
            "Channel": {"Name": ["dapi", "gfp", "rfp"]},
            "Plane": {"DeltaT": [float(i) for i in range(24)]},
        },
    )
    out = ometiff.convert(src, tmp_path / "sub.ome.tif", channels=[2, 0], z=[1, 3], t=[1])
    ome = ome_types.from_tiff(out[0])
    px = ome.images[0].pixels
    assert [ch.name for ch in px.channels] == ["rfp", "dapi"]  # pain point 2
    assert (px.size_c, px.size_z, px.size_t) == (2, 2, 1)
    assert px.physical_size_z == 2.0  # every 2nd section
    assert {(p.the_t, p.the_c, p.the_z) for p in px.planes} <= {
        (0, c, z) for c in range(2) for z in range(2)
    }
    report = ometiff.validate(out[0]) if hasattr(ometiff, "validate") else None
    if report is not None:
        assert report.ok, report.issues
    with tifffile.TiffFile(out[0]) as tf:
        ifds = tf.pages
        for td in px.tiff_data_blocks:
            t, c, z = td.first_t, td.first_c, td.first_z
            np.testing.assert_array_equal(
                ifds[td.ifd].asarray(), data[[1][t], [2, 0][c], [1, 3][z]]
            )
    with pytest.raises(WriteError, match="out of range"):
        ometiff.convert(src, tmp_path / "bad.ome.tif", channels=[5])
    assert not (tmp_path / "bad.ome.tif").exists()


def test_original_metadata_map_annotation(tmp_path: Path) -> None:
    src = tmp_path / "hs.tif"
    _hyperstack(src)
    out = ometiff.convert(src, tmp_path / "o.ome.tif", original_metadata=True, pyramid=None)
    ome = ome_types.from_tiff(out[0])
    anns = [
        a
        for a in ome.structured_annotations.map_annotations
        if a.namespace == "openmicroscopy.org/OriginalMetadata"
    ]
    assert len(anns) == 1
    keys = {m.k for m in anns[0].value.ms}
    assert "ImageJ.spacing" in keys
    assert ome.images[0].annotation_refs


def test_several_inputs_into_a_folder_and_split(tmp_path: Path) -> None:
    a, b = tmp_path / "a.tif", tmp_path / "b.tif"
    _hyperstack(a)
    tifffile.imwrite(b, np.ones((3, 2, 16, 16), np.uint8), imagej=True, metadata={"axes": "ZCYX"})
    out = ometiff.convert([a, b], tmp_path / "outdir", split="c")
    assert {p.parent for p in out} == {tmp_path / "outdir"}
    assert len(out) == 4  # two channels each
    assert sum(r.planes_verified for r in out.receipts) == out.planes_verified == 24 + 6


def test_verification_mismatch_removes_output(tmp_path: Path, monkeypatch) -> None:
    import ometiff.writer.verify as verify

    src = tmp_path / "hs.tif"
    _hyperstack(src)
    real = verify.plane_digest
    calls = {"n": 0}

    def flaky(plane: np.ndarray) -> bytes:
        calls["n"] += 1
        return real(plane) if calls["n"] != 30 else b"corrupt"

    monkeypatch.setattr(verify, "plane_digest", flaky)
    with pytest.raises(VerificationError, match="differs from its source"):
        ometiff.convert(src, tmp_path / "v.ome.tif")
    assert not list(tmp_path.glob("v*"))


def test_bad_inputs_and_destinations(tmp_path: Path) -> None:
    src = tmp_path / "hs.tif"
    _hyperstack(src)
    dst = tmp_path / "o.ome.tif"
    ometiff.convert(src, dst, pyramid=None)
    with pytest.raises(FileExistsOmeTiffError):
        ometiff.convert(src, dst)
    ometiff.convert(src, dst, overwrite=True, pyramid=None)
    # the same class as ometiff.write for the same problem (one check for both)
    with pytest.raises(MissingFileError, match=r"folder .* does not exist"):
        ometiff.convert(src, tmp_path / "nope" / "o.ome.tif")
    with pytest.raises(MissingFileError, match=r"folder .* does not exist"):
        ometiff.write(tmp_path / "nope" / "o.ome.tif", np.zeros((4, 4), np.uint8))
    with pytest.raises(WriteError, match=r"\.ome\.tif"):
        ometiff.convert(src, tmp_path / "o.tif")
    truncated = tmp_path / "t.tif"
    rng = np.random.default_rng(2)
    tifffile.imwrite(
        truncated, rng.integers(0, 255, (5, 200, 200), np.uint8), compression="zlib", imagej=True
    )
    truncated.write_bytes(truncated.read_bytes()[:30000])
    with pytest.raises(ometiff.OmeTiffError):
        ometiff.convert(truncated, tmp_path / "t.ome.tif")
    assert not list(tmp_path.glob("t.ome.tif*"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_unwritable_destination(tmp_path: Path) -> None:
    src = tmp_path / "hs.tif"
    _hyperstack(src)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(FileAccessError, match="not writable"):
            ometiff.convert(src, ro / "o.ome.tif")
    finally:
        ro.chmod(stat.S_IRWXU)


def test_image_series_with_missing_plane_fails_cleanly(tmp_path: Path) -> None:
    from PIL import Image

    folder = tmp_path / "series"
    folder.mkdir()
    for z in range(3):
        for c in range(2):
            Image.fromarray(np.full((6, 7), z, np.uint8)).save(folder / f"s_z{z}_c{c}.png")
    out = ometiff.convert(folder, tmp_path / "s.ome.tif")
    _arr, ome = _read(out[0])
    assert ome.images[0].pixels.size_z == 3 and ome.images[0].pixels.size_c == 2
    (folder / "s_z1_c1.png").unlink()
    assert main(["convert", str(folder), str(tmp_path / "s2.ome.tif"), "--quiet"]) == 2
    assert not (tmp_path / "s2.ome.tif").exists()


def test_npy_convert_with_axes(tmp_path: Path) -> None:
    src = tmp_path / "a.npy"
    data = np.arange(5 * 9 * 11, dtype=np.float32).reshape(5, 9, 11)
    np.save(src, data)
    out = ometiff.convert(src, tmp_path / "a.ome.tif", reader_options={"axes": "ZYX"})
    arr, ome = _read(out[0])
    np.testing.assert_array_equal(arr, data)
    assert ome.images[0].pixels.physical_size_x is None  # U3: never invented


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "hs.tif"
    _hyperstack(src)
    dst = tmp_path / "c.ome.tif"
    code = main(
        [
            "convert",
            str(src),
            str(dst),
            "--channels",
            "1",
            "--t",
            "0-1",
            "--tile",
            "16",
            "--pyramid",
            "none",
            "--compression",
            "zstd",
        ]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "8 planes verified" in out.out  # 2 t x 1 c x 4 z
    assert main(["convert", str(src), str(dst)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists" in err
    assert main(["convert", str(tmp_path / "missing.tif"), str(tmp_path / "m.ome.tif")]) == 2
    assert main(["convert", str(src), str(tmp_path / "q.ome.tif"), "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["formats"]) == 0
    listing = capsys.readouterr().out
    for name in ("ome-tiff", "tiff", "lif", "czi", "nd2", "ome-zarr", "npy", "sequence"):
        assert name in listing
    assert main(["convert", str(src), str(tmp_path / "x.ome.tif"), "--channels", "a"]) == 2


def test_inputs_never_invalid_tiff_leak(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"II*\x00" + b"\xff" * 50)
    with pytest.raises(InvalidTiffError):
        ometiff.convert(bad, tmp_path / "bad.ome.tif")


@pytest.mark.parametrize("suffix", [".ome.btf", ".ome.tf2", ".ome.tf8"])
def test_bigtiff_endings_and_option(tmp_path: Path, suffix: str) -> None:
    """Bug 10: BigTIFF endings must hold BigTIFF (C2); --bigtiff / bigtiff=True force it."""
    src = tmp_path / "hs.tif"
    data = _hyperstack(src)
    out = ometiff.convert(src, tmp_path / f"o{suffix}", pyramid=None)
    assert out.receipts[0].planes_verified == 24
    for path in (out[0], ometiff.convert(src, tmp_path / "b.ome.tif", bigtiff=True)[0]):
        assert path.read_bytes()[:4] == b"II+\x00"  # BigTIFF magic 43
        arr, _ = _read(path)
        assert arr.size == data.size and sorted(arr.ravel()) == sorted(data.ravel())
    assert ometiff.convert(src, tmp_path / "c.ome.tif")[0].read_bytes()[:4] == b"II*\x00"
    assert main(["convert", str(src), str(tmp_path / "cli.ome.tif"), "--bigtiff", "--quiet"]) == 0
    assert (tmp_path / "cli.ome.tif").read_bytes()[:4] == b"II+\x00"


def test_library_calls_print_nothing(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "hs.tif"
    _hyperstack(src)
    capfd.readouterr()
    result = ometiff.convert(src, tmp_path / "o.ome.tif")
    ometiff.write(tmp_path / "w.ome.tif", np.zeros((4, 64, 64), np.uint16), pyramid_levels=1)
    assert capfd.readouterr() == ("", "")
    assert result == [tmp_path / "o.ome.tif"] and result.planes_written == 24


def test_cli_progress_lines_when_not_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    import ometiff.progress as progress
    from ometiff.cli.app import app

    src = tmp_path / "hs.tif"
    _hyperstack(src)
    monkeypatch.setattr(progress, "PLAIN_INTERVAL", 0.0)
    res = CliRunner().invoke(
        app, ["convert", str(src), str(tmp_path / "o.ome.tif"), "--pyramid", "none"]
    )
    assert res.exit_code == 0, res.output
    lines = res.stderr.splitlines()
    assert "convert hs.tif: 1/24 planes (4%), " in lines[0] and lines[0].endswith(" s left")
    assert "convert hs.tif: 24/24 planes (100%)" in lines
    assert "verify hs.tif: 24/24 planes (100%)" in lines
    assert "\x1b" not in res.stderr  # no terminal control codes in a log
    assert "24 planes verified" in res.stdout
    res = CliRunner().invoke(app, ["convert", str(src), str(tmp_path / "q.ome.tif"), "-q"])
    assert res.exit_code == 0 and res.stderr == "" and res.stdout == ""


def test_plain_progress_is_periodic() -> None:
    import io

    from ometiff.progress import ProgressReporter

    out = io.StringIO()
    with ProgressReporter(stream=out, interval=3600) as report:
        for done in range(1, 121):
            report.update("convert a.czi", done, 120)
    assert out.getvalue() == ""  # quick tasks stay quiet; nothing is due within the hour
    out = io.StringIO()
    with ProgressReporter(stream=out, interval=0, unit="tiles") as report:
        report.update("show a", 40, 120)
        report.update("show a", 120, 120)
    first, last = out.getvalue().splitlines()
    assert first.startswith("show a: 40/120 tiles (33%), ") and first.endswith(" s left")
    assert last == "show a: 120/120 tiles (100%)"


def test_plane_digest_tells_planes_apart() -> None:
    from ometiff.writer.verify import plane_digest

    rng = np.random.default_rng(5)
    plane = rng.integers(0, 4000, (64, 80), dtype=np.uint16)
    digest = plane_digest(plane)
    assert len(digest) == 8 and plane_digest(plane.copy()) == digest
    assert plane_digest(plane.astype(">u2")) == digest  # byte order does not matter
    assert plane_digest(np.asfortranarray(plane)) == digest  # nor memory layout
    changed = plane.copy()
    changed[40, 7] += 1
    assert plane_digest(changed) != digest
    assert plane_digest(np.roll(plane, 1, axis=1)) != digest
    other = rng.integers(0, 4000, (64, 80), dtype=np.uint16)
    assert plane_digest(other) != digest


def test_selection_scales_or_drops_the_z_and_t_steps(tmp_path: Path) -> None:
    """Every k-th z or t plane: PhysicalSizeZ and TimeIncrement are k times larger; an
    uneven selection has no step: the value is dropped and the receipt says so."""
    data = np.arange(4 * 5 * 8 * 8, dtype=np.uint16).reshape(4, 1, 5, 8, 8)
    src = ometiff.write(
        tmp_path / "src.ome.tif",
        data,
        axes="TCZYX",
        physical_size={"X": 0.2, "Y": 0.2, "Z": 0.5},
        time_increment=2.0,
    )
    even = ometiff.convert(src, tmp_path / "even.ome.tif", z=[0, 2, 4], t=[1, 3])
    with ometiff.open(even[0]) as f:
        s = f.series[0]
        assert (s.sizes["Z"], s.sizes["T"]) == (3, 2)
        assert s.physical_size["Z"] == pytest.approx(1.0)
        assert s.time_increment == pytest.approx(4.0)
        np.testing.assert_array_equal(f.asarray(), data[[1, 3]][:, :, [0, 2, 4]])
    uneven = ometiff.convert(src, tmp_path / "uneven.ome.tif", z=[0, 1, 3], t=[0, 1, 3])
    with ometiff.open(uneven[0]) as f:
        assert f.series[0].physical_size["Z"] is None
        assert f.series[0].time_increment is None
    reasons = {u["source"].split()[-1]: u["reason"] for u in uneven.receipts[0].unmapped}
    assert "not evenly spaced" in reasons["PhysicalSizeZ"]
    assert "not evenly spaced" in reasons["TimeIncrement"]
