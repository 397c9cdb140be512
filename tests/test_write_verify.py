"""Verification inside the write (``write_sources(verify=True)``, used by ``convert``).

Every IFD is read back from disk while later planes are encoded, decoded and
compared with its source plane (level 0) or computed sub-resolution; the
committed output's plane map is then checked with the OME-TIFF reader.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import ometiff
from ometiff import VerificationError
from ometiff.readers import open_image
from ometiff.readers.source import SeriesSource
from ometiff.writer import encode
from ometiff.writer.verify import check_layout


def _source(
    t: int = 2,
    c: int = 2,
    z: int = 3,
    y: int = 300,
    x: int = 260,
    samples: int = 1,
    dtype: str = "uint16",
) -> SeriesSource:
    rng = np.random.default_rng(5)
    shape = (y, x) if samples == 1 else (y, x, samples)
    base = rng.integers(0, 200, shape).astype(dtype)

    def get_plane(ti: int, ci: int, zi: int) -> np.ndarray:
        return base + np.array(ti * 7 + ci * 3 + zi, dtype=dtype)

    return SeriesSource((t, c, z, y, x), samples, np.dtype(dtype), get_plane, name="s")


# (writer options, the write mode of core._groups they select)
MODES = [
    ({"tile": 64, "compression": "zlib", "pyramid_levels": 2}, "pipe: our encoder, pyramid"),
    ({"tile": False, "compression": "zlib"}, "batch: strips, one tifffile call"),
    ({"tile": False}, "batch: uncompressed, IFDs written on closing"),
    ({"tile": 64, "compression": "zstd", "pyramid_levels": 1, "bigtiff": True}, "pipe: BigTIFF"),
    ({"tile": 64, "compression": "jpeg2000", "pyramid_levels": 1}, "page: tifffile encodes"),
    ({"tile": False, "pyramid_levels": 1}, "page: stripped pyramid"),
]


@pytest.mark.parametrize(("options", "mode"), MODES, ids=[m for _, m in MODES])
def test_every_plane_is_verified_in_every_write_mode(
    tmp_path: Path, options: dict[str, object], mode: str
) -> None:
    if options.get("compression") == "jpeg2000":
        pytest.importorskip("imagecodecs")
    src = _source()
    seen: list[tuple[int, int]] = []
    out = ometiff.write_sources(
        tmp_path / "v.ome.tif",
        [src],
        verify=True,
        on_verified=lambda d, n: seen.append((d, n)),
        **options,
    )
    assert seen[-1] == (12, 12) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    with open_image(out[0]) as rdr:  # what was verified is what a reader gets
        assert np.array_equal(rdr.read_plane(0, 1, 1, 2), src.get_plane(1, 1, 2))


def test_in_memory_block_is_verified(tmp_path: Path) -> None:
    data = np.random.default_rng(1).integers(0, 255, (4, 50, 40), np.uint8)
    block = SeriesSource((1, 1, 4, 50, 40), 1, np.dtype(np.uint8), lambda t, c, z: data[z])
    block.get_plane.block = lambda planes: data  # type: ignore[attr-defined]
    seen: list[int] = []
    ometiff.write_sources(
        tmp_path / "b.ome.tif", [block], verify=True, on_verified=lambda d, n: seen.append(d)
    )
    assert seen[-1] == 4


def test_split_set_with_companion_is_verified(tmp_path: Path) -> None:
    seen: list[int] = []
    out = ometiff.write_sources(
        tmp_path / "set.ome.tif",
        [_source(), _source(t=1)],
        split="c",
        companion=True,
        tile=64,
        compression="zlib",
        pyramid_levels=1,
        verify=True,
        on_verified=lambda d, n: seen.append(d),
    )
    assert len(out) == 5 and seen[-1] == 12 + 6


def _bad_tile_encoder(monkeypatch: pytest.MonkeyPatch, *, page_size: tuple[int, int]) -> None:
    """Make the writer's encoder store zeros for the tiles of pages of ``page_size``:
    a writer bug that only reading the pixels back can catch."""
    real = encode.submit_page

    def submit(pool, plane, tile, enc):  # type: ignore[no-untyped-def]
        if plane.shape[:2] == page_size:
            plane = np.zeros_like(plane)
        return real(pool, plane, tile, enc)

    monkeypatch.setattr("ometiff.writer.core.submit_page", submit)


def test_damaged_sub_resolution_is_caught_and_nothing_is_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _bad_tile_encoder(monkeypatch, page_size=(150, 130))  # level 1 of 300 x 260
    with pytest.raises(VerificationError, match=r"plane t=0 c=0 z=0 level 1 differs"):
        ometiff.write_sources(
            tmp_path / "d.ome.tif",
            [_source()],
            tile=64,
            compression="zlib",
            pyramid_levels=2,
            verify=True,
        )
    assert os.listdir(tmp_path) == []


def test_damaged_full_resolution_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _bad_tile_encoder(monkeypatch, page_size=(300, 260))
    with pytest.raises(VerificationError, match=r"plane t=0 c=0 z=0 differs from its source"):
        ometiff.write_sources(
            tmp_path / "d.ome.tif", [_source()], tile=64, compression="zlib", verify=True
        )
    assert os.listdir(tmp_path) == []
    # without verification the same bug goes unnoticed: the check is what catches it
    ometiff.write_sources(tmp_path / "d.ome.tif", [_source()], tile=64, compression="zlib")


def test_plane_map_is_checked_against_where_planes_were_written(tmp_path: Path) -> None:
    src = _source(t=1, c=2, z=1)
    out = ometiff.write_sources(tmp_path / "m.ome.tif", [src], verify=True)
    name = out[0].name
    assert check_layout(out[0], [src], [0], {(0, 0, 0, 0): (name, 0), (0, 0, 1, 0): (name, 1)}) == 2
    with pytest.raises(
        VerificationError,
        match=r"c=1 z=0 is mapped to m.ome.tif IFD 1, "
        r"but was written to m.ome.tif IFD 0",
    ):
        check_layout(out[0], [src], [0], {(0, 0, 1, 0): (name, 0)})
    with pytest.raises(VerificationError, match="0 sub-resolutions, 1 were written"):
        check_layout(out[0], [src], [1], {})


@pytest.mark.parametrize(
    ("shape", "dtype", "options"),
    [
        ((300, 260), "uint16", {"tile": (64, 48), "compression": "zlib"}),  # edge tiles
        ((100, 90, 3), "uint8", {"tile": (32, 32), "compression": "jpeg", "photometric": "rgb"}),
        ((70, 50), "float32", {"compression": "zlib"}),  # strips: decoded whole
        ((64, 64), ">u2", {"tile": (16, 16)}),  # big-endian file
    ],
)
def test_page_digest_is_the_digest_of_the_decoded_plane(
    tmp_path: Path, shape: tuple[int, ...], dtype: str, options: dict[str, object]
) -> None:
    import tifffile

    from ometiff.writer.verify import page_digest, plane_digest

    if options.get("compression") == "jpeg":
        pytest.importorskip("imagecodecs")
    data = np.random.default_rng(3).integers(0, 250, shape).astype(dtype)
    path = tmp_path / "p.tif"
    tifffile.imwrite(path, data, byteorder=">" if dtype.startswith(">") else "<", **options)
    samples = shape[2] if len(shape) == 3 else 1
    with tifffile.TiffFile(path) as tf:
        page = tf.pages[0]
        decoded = page.asarray()
        got = page_digest(page, samples, np.dtype(dtype), where="p.tif")
    assert got == plane_digest(decoded)
    changed = decoded.copy()
    changed.flat[-1] += 1
    assert got != plane_digest(changed)


def test_lossy_jpeg_cannot_be_verified(tmp_path: Path) -> None:
    rgb = _source(samples=3, dtype="uint8", t=1, c=1, z=1)
    with pytest.raises(ometiff.WriteError, match="'jpeg' is lossy"):
        ometiff.write_sources(tmp_path / "j.ome.tif", [rgb], compression="jpeg", verify=True)
    assert os.listdir(tmp_path) == []
    ometiff.write_sources(tmp_path / "j.ome.tif", [rgb], compression="jpeg")  # unverified: fine
