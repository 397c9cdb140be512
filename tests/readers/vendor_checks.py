"""Checks shared by the tests of the readers without a JVM (DV, MRC, SIF, IMS, FLIM).

* :func:`assert_converts_verified`: ``ometiff.convert`` writes the file, verifies
  every plane, and the OME-TIFF read back with tifffile holds the reader's planes.
* :func:`assert_refused_not_an_image`: the CLI exits 2 with one line saying
  "not an image" and writes nothing.
* :func:`assert_truncations_fail_cleanly`: truncated copies raise one
  ``OmeTiffError`` naming the file (at open time or when a plane is read).
* :func:`assert_pixels_equal_bioformats`: every plane equals Bio-Formats'
  decoding of the original (``bfconvert``), for the channels both readers have.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from ometiff import convert
from ometiff.cli.main import main
from ometiff.errors import OmeTiffError
from ometiff.readers import open_image


def assert_converts_verified(path: Path, tmp_path: Path) -> None:
    out = tmp_path / f"{path.stem}.ome.tif"
    result = convert(path, out)
    with open_image(path) as rdr:
        sources = rdr.sources()
    assert result.planes_verified == sum(s.plane_count for s in sources)
    with tifffile.TiffFile(result[0]) as tif:
        assert tif.is_ome
        assert len(tif.series) == len(sources)
        with open_image(path) as rdr:
            for src, series in zip(rdr.sources(), tif.series, strict=True):
                t_n, c_n, z_n = src.shape[:3]
                first = series.pages[0].asarray()
                np.testing.assert_array_equal(first, src.get_plane(0, 0, 0))
                last = series.pages[t_n * c_n * z_n - 1].asarray()
                np.testing.assert_array_equal(last, src.get_plane(t_n - 1, c_n - 1, z_n - 1))


def assert_refused_not_an_image(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.ome.tif"
    assert main(["convert", str(path), str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not an image" in err and str(path) in err, err
    assert len(err.splitlines()) == 1, err
    assert not out.exists() and not list(tmp_path.iterdir())


def assert_truncations_fail_cleanly(path: Path, tmp_path: Path, sizes: list[int]) -> None:
    data = path.read_bytes()
    for n in sizes:
        bad = tmp_path / f"cut{n}{path.suffix}"
        bad.write_bytes(data[:n])
        with pytest.raises(OmeTiffError) as info:
            with open_image(bad) as rdr:
                for src in rdr.sources():
                    t_n, c_n, z_n = src.shape[:3]
                    for t in range(t_n):
                        for c in range(c_n):
                            for z in range(z_n):
                                src.get_plane(t, c, z)
        message = str(info.value)
        assert str(bad) in message and "\n" not in message, (n, message)


def assert_pixels_equal_bioformats(
    path: Path, tmp_path: Path, *, channels: int | None = None
) -> None:
    """Bio-Formats' decoding of ``path`` equals our reader, plane by plane.

    ``channels`` limits the comparison to the first channels of each series (SDT:
    Bio-Formats adds empty channels, see docs/vendor-formats.md).
    """
    from tests.bioformats import bfconvert

    back = tmp_path / "bf.ome.tif"
    bfconvert(path, back, "-noflat")
    with open_image(path) as rdr, open_image(back) as bf:
        ours, theirs = rdr.sources(), bf.sources()
        assert len(ours) == len(theirs)
        for src, other in zip(ours, theirs, strict=True):
            t_n, c_n, z_n = src.shape[:3]
            assert other.shape[0] == t_n and other.shape[2:] == src.shape[2:]
            if channels is None:
                assert other.shape[1] == c_n
            for t in range(t_n):
                for c in range(channels or c_n):
                    for z in range(z_n):
                        np.testing.assert_array_equal(
                            other.get_plane(t, c, z),
                            src.get_plane(t, c, z),
                            err_msg=f"{path.name} plane t={t} c={c} z={z}",
                        )


def assert_bioformats_reads_our_conversion(path: Path, tmp_path: Path, expected: dict) -> None:
    """Bio-Formats reads ``ometiff convert``'s output of ``path`` as ``expected``
    (a ``summarize_omexml`` summary: series, sizes, pixel type, physical sizes,
    channels), and decodes it to our reader's planes."""
    from bf_expected import (
        assert_bioformats_pixels_equal_source,
        assert_like_bioformats,
        recorder,
    )

    out = convert(path, tmp_path / f"{path.stem}.ome.tif")[0]
    ours = recorder().summarize_file(out)
    assert_like_bioformats(ours, expected, where=path.name)
    assert_bioformats_pixels_equal_source(path, out, tmp_path)
