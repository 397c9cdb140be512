"""One huge image on Dask workers (ometiff.writer.placed): a LocalCluster of 2 processes.

The image's tiles and pyramid levels are read and encoded by band tasks on the workers
and placed by the client; the file must be the one a single-process convert writes
(the same bytes but for the random root UUID), verified the same way.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import ometiff
from ometiff.cli.main import main
from ometiff.writer import placed
from ometiff.writer.placed import SeriesLevels, plane_bands
from ometiff.writer.pyramid import pyramid_shapes
from ometiff.writer.verify import joined_digest, plane_digest, row_sums

distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")
# _opened runs on the workers: ship it by value (this module is not importable there)
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def client():
    from ometiff.batch import open_client

    with open_client(workers=2, retries=2, dashboard=":0") as c:
        yield c


def _pixels(shape: tuple[int, ...], dtype: str = "uint16", seed: int = 0) -> np.ndarray:
    """Noisy ramps: compressible, but every tile differs."""
    rng = np.random.default_rng(seed)
    ramp = np.add.outer(np.arange(shape[-2]), np.arange(shape[-1])) % 251
    noise = rng.integers(0, 40, shape)
    return (noise + ramp).astype(dtype)


def _normalised(path: Path) -> bytes:
    """The file's bytes with each UUID (random per file) replaced by one of its length."""
    data = path.read_bytes()
    for uuid in set(re.findall(rb"urn:uuid:[0-9a-f-]{36}", data)):
        data = data.replace(uuid, b"urn:uuid:" + b"0" * 36)
    return data


def _opened(path: str) -> bool:
    """On a worker: whether its band tasks opened ``path``."""
    return any(key[0] == path for key in placed._OPEN)


def _band_tasks(client, monkeypatch, src: Path, run) -> int:
    """Run ``run()``; return the band tasks it planned, after checking that they ran
    on both workers (each opened the input) and not in this process."""
    seen: list[tuple[int, str | None]] = []
    call = placed.PlacedTiles.__call__

    def spy(self, *args, **kwargs):
        call(self, *args, **kwargs)
        seen.append((self.tasks, self.local))

    monkeypatch.setattr(placed.PlacedTiles, "__call__", spy)
    run()
    monkeypatch.setattr(placed.PlacedTiles, "__call__", call)
    assert [local for _n, local in seen] == [None]
    assert all(client.run(_opened, str(src.resolve())).values())
    return seen[0][0]


def _no_temporaries(folder: Path) -> None:
    assert not list(folder.glob(".*.ometiff-tmp-*")), "a temporary file was left behind"


@pytest.mark.parametrize(
    ("options", "band_bytes"),
    [
        ({"tile": 16}, None),  # pyramid auto: 2 levels, one stage per band
        ({"tile": 16, "pyramid": 5}, 1),  # one tile row per task: 5 stages of halvings
        ({"tile": 32, "channels": [1], "z": [0, 2], "compression": "zstd"}, 1),
    ],
    ids=["auto-pyramid", "stages", "selection-zstd"],
)
def test_one_image_on_workers_is_the_single_process_file(
    client, tmp_path, monkeypatch, options, band_bytes
):
    data = _pixels((2, 3, 333, 517))
    src = tmp_path / "big.ome.tif"
    ometiff.write(src, data, axes="CZYX", tile=64, compression="zlib")
    ref, out = tmp_path / "ref.ome.tif", tmp_path / "out.ome.tif"
    ometiff.convert(src, ref, **options)
    if band_bytes is not None:
        monkeypatch.setattr(placed, "BAND_BYTES", band_bytes)
    tasks = _band_tasks(
        client, monkeypatch, src, lambda: ometiff.convert(src, out, client=client, **options)
    )
    assert _normalised(out) == _normalised(ref)
    # and what it holds, read back: the source's pixels, with the pyramid levels
    with ometiff.open(out) as f:
        want = data[options.get("channels", slice(None))][:, options.get("z", slice(None))]
        np.testing.assert_array_equal(f.asarray().squeeze(), want.squeeze())
        levels = len(f.series[0].levels)
    assert levels == (options.get("pyramid", 2) + 1)
    planes = want.shape[0] * want.shape[1]
    # many tasks: at least one per band of level 0 (the default budget holds 8 tile
    # rows of this width; a budget of 1 byte, 2 tile rows: one row, halved once)
    assert tasks >= planes * -(-333 // (options["tile"] << (3 if band_bytes is None else 1)))
    _no_temporaries(tmp_path)


def test_source_pyramid_is_read_in_bands_on_workers(client, tmp_path, monkeypatch):
    data = _pixels((2, 300, 410), seed=3)
    src = tmp_path / "pyr.ome.tif"
    ometiff.write(src, data, axes="CYX", tile=32, pyramid_levels=2, compression="zlib")
    ref, out = tmp_path / "ref.ome.tif", tmp_path / "out.ome.tif"
    receipt = ometiff.convert(src, ref, tile=32).receipts[0]
    assert receipt.series[0]["pyramid"] == "source"
    monkeypatch.setattr(placed, "BAND_BYTES", 1)
    tasks = _band_tasks(
        client, monkeypatch, src, lambda: ometiff.convert(src, out, client=client, tile=32)
    )
    assert _normalised(out) == _normalised(ref)
    # each level read in bands: 300/32, 150/32 and 75/32 tile rows per channel
    assert tasks == 2 * (10 + 5 + 3)


def test_rgb_image_on_workers(client, tmp_path):
    data = _pixels((2, 200, 300, 3), "uint8", seed=4)  # T, Y, X, RGB samples
    src = tmp_path / "rgb.ome.tif"
    ometiff.write(src, data, axes="TYXS", tile=32)
    ref, out = tmp_path / "ref.ome.tif", tmp_path / "out.ome.tif"
    ometiff.convert(src, ref, tile=16)
    ometiff.convert(src, out, tile=16, client=client)
    assert _normalised(out) == _normalised(ref)
    with ometiff.open(out) as f:
        assert f.series[0].sizes["S"] == 3 and len(f.series[0].levels) == 2
        np.testing.assert_array_equal(f.asarray().squeeze(), data)


def test_input_in_strips_is_converted_in_the_client(client, tmp_path):
    """A striped input would be decoded whole by every band task: the client converts it
    itself (the receipt says why), and the file is still the single-process one."""
    import tifffile

    data = _pixels((2, 300, 280), seed=6)
    src = tmp_path / "strips.tif"
    tifffile.imwrite(src, data, rowsperstrip=16, compression="zlib")
    ref, out = tmp_path / "ref.ome.tif", tmp_path / "out.ome.tif"
    ometiff.convert(src, ref, tile=32)
    result = ometiff.convert(src, out, tile=32, client=client)
    notes = [n for n in result.receipts[0].unmapped if n["source"] == "workers"]
    assert len(notes) == 1 and "not tiled" in notes[0]["reason"]
    assert _normalised(out) == _normalised(ref)


def test_truncated_input_fails_cleanly(client, tmp_path):
    src = tmp_path / "cut.ome.tif"
    ometiff.write(src, _pixels((2, 400, 400), seed=5), axes="CYX", tile=32, compression="zlib")
    raw = src.read_bytes()
    src.write_bytes(raw[: len(raw) * 2 // 3])  # the last tiles are gone
    out = tmp_path / "out.ome.tif"
    with pytest.raises(ometiff.OmeTiffError) as info:
        ometiff.convert(src, out, client=client)
    assert str(src) in str(info.value) or "cut.ome.tif" in str(info.value)
    assert not out.exists()
    _no_temporaries(tmp_path)


def test_cli_one_image_on_a_running_scheduler(client, tmp_path, capsys):
    data = _pixels((3, 260, 300), seed=7)
    src = tmp_path / "img.ome.tif"
    ometiff.write(src, data, axes="ZYX", tile=32)
    out, ref = tmp_path / "out.ome.tif", tmp_path / "ref.ome.tif"
    assert main(["convert", str(src), str(ref), "-q"]) == 0
    address = client.scheduler.address
    assert main(["convert", str(src), str(out), "--scheduler", address, "--tile", "32"]) == 0
    captured = capsys.readouterr()
    assert f"converting on {address}" in captured.err
    assert "3 planes verified" in captured.out
    assert main(["convert", str(src), str(ref), "-q", "--tile", "32", "--overwrite"]) == 0
    assert _normalised(out) == _normalised(ref)
    # an existing output is refused before any cluster is started: exit 2, one line
    assert main(["convert", str(src), str(out), "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ometiff: error: ") and "overwrite" in err
    assert err.count("\n") == 1


@pytest.mark.slow
def test_worker_killed_mid_image_still_completes(client, tmp_path, monkeypatch):
    data = _pixels((4, 768, 640), seed=11)
    src = tmp_path / "long.ome.tif"
    ometiff.write(src, data, axes="CYX", tile=16, compression="zlib")
    out = tmp_path / "out.ome.tif"
    monkeypatch.setattr(placed, "BAND_BYTES", 1)  # hundreds of small tasks
    pids = list(client.run(os.getpid).values())
    killed: list[int] = []

    def kill_when_written() -> None:
        end = time.monotonic() + 60
        while time.monotonic() < end:
            for tmp in tmp_path.glob(".out.ome.tif.ometiff-tmp-*"):
                if tmp.stat().st_size > 200_000:  # some planes are in the file
                    os.kill(pids[0], signal.SIGKILL)
                    killed.append(pids[0])
                    return
            time.sleep(0.002)

    watcher = threading.Thread(target=kill_when_written, daemon=True)
    watcher.start()
    ometiff.convert(src, out, client=client, tile=16)
    watcher.join()
    assert killed, "the run ended before a worker could be killed"
    with ometiff.open(out) as f:
        np.testing.assert_array_equal(f.asarray().squeeze(), data)
    _no_temporaries(tmp_path)
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it


def test_plane_bands_cover_every_tile_row_once():
    """The task plan of a 16384² plane with 6 levels: each level's page is made of
    consecutive bands of whole tile rows; a later stage joins its children's rows."""
    shapes = pyramid_shapes(16384, 16384, 6)
    tiles = tuple((512, 512) if h >= 512 else (-(-h // 16) * 16,) * 2 for h, _w in shapes)
    info = SeriesLevels(1, np.dtype("uint16"), tuple(shapes), tiles)
    jobs, pages = plane_bands(0, (0, 0, 0), info, False, 32 << 20, 100)
    assert len(pages) == 7
    for k, page in enumerate(pages):
        rows = []
        for g in page:
            band = jobs[g - 100]
            scale = 2 ** (k - band.level)
            y0, y1 = band.y0 // scale, -(-band.y1 // scale)
            rows.append((y0, min(y1, shapes[k][0])))
        assert rows[0][0] == 0 and rows[-1][1] == shapes[k][0]
        assert all(a[1] == b[0] for a, b in itertools.pairwise(rows))
    for g, band in enumerate(jobs, start=100):
        assert all(c < g for c in band.children)  # children are submitted first
        raw = (band.y1 - band.y0) * shapes[band.level][1] * 2
        assert raw <= 32 << 20  # bounded memory per task
        if band.children:
            kids = [jobs[c - 100] for c in band.children]
            assert all(kid.bottom for kid in kids)
            assert kids[0].y0 // 2 ** (band.level - kids[0].level) == band.y0
    assert sum(b.read for b in jobs) == 16384 // 1024  # level 0 read once, in bands


def test_joined_band_sums_are_the_plane_digest():
    plane = _pixels((301, 77, 3), "uint8", seed=2)
    for cuts in ([0, 301], [0, 16, 32, 300, 301], [0, 0, 150, 301]):
        parts = [row_sums(plane[a:b]) for a, b in itertools.pairwise(cuts)]
        assert joined_digest(parts) == plane_digest(plane)
    parts = [row_sums(plane[:150]), row_sums(plane[151:])]
    assert joined_digest(parts) != plane_digest(plane)
    big_endian = plane.astype(">u2")
    assert joined_digest([row_sums(big_endian[:9]), row_sums(big_endian[9:])]) == plane_digest(
        big_endian
    )


# --- verification: the worker's round trip, the client's read-back of every tile ----------

_ORIGINAL_ENCODE = placed.encode_tiles


def _swapping_encoder(plane, tile, encode):
    """On a worker: a band's tiles with its first two swapped (each tile decodes fine,
    but to another tile's pixels)."""
    out = _ORIGINAL_ENCODE(plane, tile, encode)
    if len(out) > 1:
        out[0], out[1] = out[1], out[0]
    return out


def _set_encoder(swapped: bool) -> None:
    placed.encode_tiles = _swapping_encoder if swapped else _ORIGINAL_ENCODE


def _image(tmp_path: Path) -> tuple[Path, np.ndarray]:
    data = _pixels((2, 200, 230), seed=21)
    src = tmp_path / "img.ome.tif"
    ometiff.write(src, data, axes="CYX", tile=32, compression="zlib")
    return src, data


def test_worker_tile_that_decodes_to_other_pixels_fails(client, tmp_path):
    """A worker whose encoded tiles are not its pixels (here swapped) is caught by its
    own round trip: the conversion fails at once, naming the output, and nothing is left."""
    src, data = _image(tmp_path)
    out = tmp_path / "out.ome.tif"
    client.run(_set_encoder, True)
    try:
        with pytest.raises(ometiff.VerificationError) as info:
            ometiff.convert(src, out, client=client, tile=32)
        message = str(info.value)
        assert str(out) in message and "tile 0 does not decode to its source pixels" in message
        assert not out.exists()
        _no_temporaries(tmp_path)
        # unverified, the same damage is written: the round trip is what caught it
        ometiff.convert(src, out, client=client, tile=32, verify=False)
    finally:
        client.run(_set_encoder, False)
    with ometiff.open(out) as f:
        damaged = f.asarray().squeeze()
    assert not np.array_equal(damaged, data)
    np.testing.assert_array_equal(damaged[:, :32, :32], data[:, :32, 32:64])  # swapped


def test_tile_damaged_after_its_worker_verified_it_fails(client, tmp_path, monkeypatch):
    """A tile that changes between the worker and the file (the transfer, the client)
    is found by the client's read-back of the tile's bytes."""
    src, _data = _image(tmp_path)
    out = tmp_path / "out.ome.tif"
    tiles = placed._Run.tiles
    pages: list[int] = []

    def damaged(self, page, level, sums, digests):
        pages.append(level)
        for i, data in enumerate(tiles(self, page, level, sums, digests)):
            if len(pages) == 2 and i == 3:  # the second page written: plane 1, level 0
                data = data[:-1] + bytes([data[-1] ^ 1])
            yield data

    monkeypatch.setattr(placed._Run, "tiles", damaged)
    with pytest.raises(ometiff.VerificationError) as info:
        ometiff.convert(src, out, client=client, tile=32)
    assert pages[:2] == [0, 0]  # no pyramid: one page per plane
    assert "t=0 c=1 z=0 (IFD 1): tile 3 differs from the one encoded and verified" in str(
        info.value
    )
    assert str(out) in str(info.value)
    assert not out.exists()
    _no_temporaries(tmp_path)


def test_byte_damaged_on_disk_fails(client, tmp_path, monkeypatch):
    """One byte of a written tile damaged on disk before the read-back: found."""
    import tifffile

    from ometiff.writer import verify

    src, _data = _image(tmp_path)
    out = tmp_path / "out.ome.tif"
    check = verify.OutputCheck._check
    hits: list[int] = []

    def damage_then_check(self, batch):
        ifd = batch[-1][0]
        with tifffile.TiffFile(self.tmp) as tf:
            at = int(tf.pages[ifd].dataoffsets[-1]) + 5
        fd = os.open(self.tmp, os.O_RDWR)
        try:
            os.pwrite(fd, bytes([os.pread(fd, 1, at)[0] ^ 0x40]), at)
        finally:
            os.close(fd)
        hits.append(ifd)
        return check(self, batch)

    monkeypatch.setattr(verify.OutputCheck, "_check", damage_then_check)
    with pytest.raises(ometiff.VerificationError) as info:
        ometiff.convert(src, out, client=client, tile=32)
    assert hits
    assert f"IFD {hits[0]}): tile 55 differs from the one encoded and verified" in str(info.value)
    assert not out.exists()
    _no_temporaries(tmp_path)


def _tiled_page_file(tmp_path: Path, data: np.ndarray, **kwargs) -> Path:
    import tifffile

    path = tmp_path / "one.tif"
    tifffile.imwrite(path, data, tile=(16, 32), **kwargs)
    return path


def test_segments_check_reads_the_tags_and_every_tile(tmp_path):
    """verify._segments_problem: a page is the one written only when its tags decode the
    way the round trip did and each tile's bytes are the verified ones."""
    import tifffile

    from ometiff.writer.verify import Segments, _segments_problem, segment_digest

    data = _pixels((40, 70), seed=3)
    path = _tiled_page_file(tmp_path, data, compression="zlib")
    with tifffile.TiffFile(path) as tf:
        page = tf.pages[0]
        raw = path.read_bytes()
        digests = [
            segment_digest(raw[o : o + n])
            for o, n in zip(page.dataoffsets, page.databytecounts, strict=True)
        ]
        assert len(digests) == 3 * 3
        fd = os.open(path, os.O_RDONLY)
        try:
            dt = np.dtype("uint16")

            def problem(**change):
                want = {"shape": (40, 70), "tile": (16, 32), "compression": 8, "digests": digests}
                return _segments_problem(fd, "<", page, Segments(**{**want, **change}), 1, dt)

            assert problem() is None
            assert problem(compression=50000) == "its compression is 8, 50000 was written"
            assert problem(tile=(32, 32)) == "its tile is (16, 32, 1), (32, 32, 1) was written"
            assert problem(shape=(40, 71)) == "its shape is (40, 70, 1), (40, 71, 1) was written"
            assert problem(digests=digests[:-1]) == "its tiles is 9, 8 was written"
            bad = [*digests]
            bad[7] ^= 1
            assert problem(digests=bad) == "tile 7 differs from the one encoded and verified"
            assert "pixel type" in _segments_problem(
                fd, "<", page, Segments((40, 70), (16, 32), 8, digests), 1, np.dtype("int16")
            )
        finally:
            os.close(fd)


def test_round_trip_decodes_every_tile(tmp_path):
    from ometiff.writer.compression import resolve_codec
    from ometiff.writer.encode import encode_tiles, tile_encoder
    from ometiff.writer.verify import COMPRESSION_TAG, round_trip, segment_digest

    rows = _pixels((48, 70, 3), "uint8", seed=8)  # 3 tile rows of 16, 3 across (padded)
    for name in ("none", "zlib", "zstd", "lzw"):
        codec = resolve_codec(name, None)
        encode = tile_encoder(codec, 3, rows.dtype)
        tiles = encode_tiles(rows, (16, 32), encode)
        tag = COMPRESSION_TAG[codec.tifffile]
        assert round_trip(rows, (16, 32), tiles, tag, where="x") == [
            segment_digest(t) for t in tiles
        ]
        wrong = rows.copy()
        wrong[20, 69, 2] ^= 1  # one sample of the edge tile of the second row
        with pytest.raises(ometiff.VerificationError, match="x: tile 5 does not decode"):
            round_trip(wrong, (16, 32), tiles, tag, where="x")
    tiles = encode_tiles(rows, (16, 32), tile_encoder(resolve_codec("zlib", None), 3, rows.dtype))
    with pytest.raises(ometiff.VerificationError, match="x: tile 2 cannot be decoded"):
        round_trip(rows, (16, 32), [*tiles[:2], b"not zlib", *tiles[3:]], 8, where="x")
    with pytest.raises(ometiff.VerificationError, match="x: 8 tiles encoded for 48 rows"):
        round_trip(rows, (16, 32), tiles[:-1], 8, where="x")
    # floats compared bit for bit: NaN tiles pass, -0.0 is not 0.0
    floats = np.full((16, 32), np.nan, np.float32)
    codec = resolve_codec("zlib", None)
    encode = tile_encoder(codec, 1, floats.dtype)
    tiles = encode_tiles(floats, (16, 32), encode)
    assert len(round_trip(floats, (16, 32), tiles, 8, where="f")) == 1
    zeros = np.zeros((16, 32), np.float32)
    with pytest.raises(ometiff.VerificationError):
        round_trip(-zeros, (16, 32), encode_tiles(zeros, (16, 32), encode), 8, where="f")


def test_plane_digests_announced_are_the_source_planes(client, tmp_path, monkeypatch):
    """The digest recorded for each plane (a batch journal's ``planes``) is the source
    plane's, joined from the workers' band checksums; each level comes with its tiles."""
    from ometiff.writer import verify

    src, data = _image(tmp_path)
    expect = verify.OutputCheck.expect
    seen: dict = {}

    def spy(self, key, digests, segments=None):
        seen[key] = (digests, segments)
        return expect(self, key, digests, segments)

    monkeypatch.setattr(verify.OutputCheck, "expect", spy)
    monkeypatch.setattr(placed, "BAND_BYTES", 1)  # several bands per plane
    ometiff.convert(src, tmp_path / "out.ome.tif", client=client, tile=32)
    assert sorted(seen) == [(0, 0, c, 0) for c in range(2)]
    for (_s, _t, c, _z), (digests, segments) in seen.items():
        assert digests[0] == plane_digest(data[c])
        assert [s.shape for s in segments] == [(200, 230)]
        assert len(segments[0].digests) == 7 * 8  # every tile of the plane, once


def test_tiles_come_straight_from_the_workers_of_a_local_cluster(client):
    from types import SimpleNamespace

    from ometiff.writer.placed import gather_direct

    assert gather_direct(client) is True  # its scheduler runs in this process
    remote = SimpleNamespace(direct_to_workers=None, cluster=None)
    assert gather_direct(remote) is None  # Dask's default: through the scheduler
    told = SimpleNamespace(direct_to_workers=False, cluster=client.cluster)
    assert gather_direct(told) is False
