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
