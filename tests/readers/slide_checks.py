"""Checks shared by the whole-slide, VSI and NDTiff reader tests.

* :func:`convert_verified`: ``ometiff.convert`` of a corpus file, every plane
  verified, and a pyramid source gives a pyramid output;
* :func:`refused`: the command line refuses a bad input with one line, exit 2,
  nothing written;
* :func:`bioformats_decoding`: Bio-Formats' own decoding of an original file
  (``bfconvert -noflat``), to compare our planes with, level by level;
* :func:`bioformats_reads_conversion`: Bio-Formats reads our OME-TIFF like our
  reader describes the original, and decodes the same pixels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from bf_expected import assert_bioformats_pixels_equal_source, assert_like_bioformats, recorder
from bf_expected import summarize_ome as summarize_ome

import ometiff
from ometiff.cli.main import main
from ometiff.readers import open_image


def convert_verified(src: Path, tmp_path: Path, **options: Any) -> Path:
    """Convert ``src``; every plane is verified and pyramids stay pyramids."""
    out = tmp_path / f"{src.stem}.ome.tif"
    result = ometiff.convert(src, out, **options)
    assert result.planes_verified == result.planes_written > 0
    with open_image(src) as rdr, open_image(result[0]) as back:
        assert back.series_count == rdr.series_count
        for i in range(rdr.series_count):
            ours, theirs = rdr.level_shapes(i), back.level_shapes(i)
            assert theirs[0] == ours[0]
            if len(ours) > 1 and max(ours[0][3:]) > 512:
                assert len(theirs) > 1, f"series {i}: a pyramid source gave one level"
    return Path(result[0])


def refused(
    args: list[str], capsys: pytest.CaptureFixture[str], *needles: str, out: Path | None = None
) -> str:
    """``ometiff <args>`` exits 2 with one error line holding every needle."""
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("ometiff: error:"), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    if out is not None:
        assert not out.exists()
        assert not list(out.parent.glob(f"{out.name}*")), "a partial output was left behind"
    return err


def truncated_copy(src: Path, dst: Path, size: int) -> Path:
    """The first ``size`` bytes of ``src`` as ``dst``."""
    with src.open("rb") as fh:
        dst.write_bytes(fh.read(size))
    return dst


def bioformats_decoding(src: Path, tmp_path: Path) -> Path:
    """Bio-Formats' decoding of ``src`` as an OME-TIFF (levels as resolutions)."""
    from tests.bioformats import bfconvert

    out = tmp_path / "bf-original.ome.tif"
    bfconvert(src, out, "-noflat", timeout=600)
    return out


def bf_level(tf: tifffile.TiffFile, series: int, level: int) -> np.ndarray:
    """One level of a Bio-Formats OME-TIFF, channels (or RGB samples) last."""
    s = tf.series[series]
    arr = s.levels[level].asarray()
    axes = s.levels[level].axes
    if axes[0] in "CS" and arr.ndim == 3:
        arr = np.moveaxis(arr, 0, -1)
    return arr


def assert_planes_like_bioformats(
    src: Path,
    bf_file: Path,
    series_map: dict[int, int],
    *,
    levels: dict[int, list[int]],
    tolerance: int = 0,
    max_fraction: float = 0.0,
) -> None:
    """Our planes equal Bio-Formats' decoding of the same original.

    ``series_map`` maps our series to Bio-Formats' series; ``levels`` says which
    levels of each of our series to compare. Lossy JPEG 2000 is decoded by two
    different decoders: ``tolerance`` and ``max_fraction`` bound the difference.
    """
    with open_image(src) as rdr, tifffile.TiffFile(bf_file) as tf:
        for ours, theirs in series_map.items():
            shape = rdr.level_shapes(ours)
            for level in levels.get(ours, [0]):
                want = bf_level(tf, theirs, level)
                size_c = shape[level][1]
                got = np.stack(
                    [rdr.read_plane(ours, 0, c, 0, level=level) for c in range(size_c)], axis=-1
                )
                if got.shape[-1] == 1 and got.ndim == 3 and want.ndim == 2:
                    got = got[..., 0]
                if got.ndim == 4:  # RGB planes: (Y, X, S, 1)
                    got = got[..., 0]
                assert got.shape == want.shape, (ours, level, got.shape, want.shape)
                diff = np.abs(got.astype(np.int64) - want.astype(np.int64))
                where = f"series {ours} level {level}"
                assert diff.max() <= tolerance, f"{where}: max difference {diff.max()}"
                assert (diff > 0).mean() <= max_fraction, f"{where}: {(diff > 0).mean():.4%}"


def bioformats_reads_conversion(src: Path, out: Path, tmp_path: Path) -> None:
    """Bio-Formats reads our OME-TIFF as our reader describes the original, and
    decodes exactly our reader's planes."""
    with open_image(src) as rdr:
        expected = summarize_ome(rdr.ome())
    assert_like_bioformats(recorder().summarize_file(out), expected, where=str(src))
    assert_bioformats_pixels_equal_source(src, out, tmp_path)
