"""One conformance check for every reader (like bioio-base's ``run_image_file_checks``).

Usage from a reader's test module (``tests/readers/`` is on ``sys.path``)::

    from reader_conformance import check_reader

    def test_conformance(path):
        check_reader(path, reader="lif")

It opens the input through the registry, checks the Reader contract of
``ometiff/readers/base.py`` and returns a short summary for further asserts.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import ome_types
import pytest
from ome_types import model as m

from ometiff.errors import NoSuchPlaneError
from ometiff.readers import Reader, find_reader, get_spec, open_image
from ometiff.readers.source import SeriesSource
from ometiff.types import DIMENSION_ORDERS, DTYPE_TO_OME


@dataclass(frozen=True)
class ReaderSummary:
    reader: str
    series: int
    shapes: list[tuple[int, int, int, int, int]]
    samples: list[int]
    dtypes: list[str]
    ome: m.OME


def _plane_indices(shape: tuple[int, ...], every: bool) -> list[tuple[int, int, int]]:
    t, c, z = shape[:3]
    if every:
        return [(ti, ci, zi) for ti in range(t) for ci in range(c) for zi in range(z)]
    return sorted({(0, 0, 0), (t - 1, c - 1, z - 1), (t // 2, c // 2, z // 2)})


def _schema_check(ome: m.OME) -> None:
    """The OME must serialise to schema-valid XML (TiffData is the writer's job)."""
    copy = ome.model_copy(deep=True)
    for image in copy.images:
        px = image.pixels
        has_data = px.tiff_data_blocks or px.bin_data_blocks
        if not has_data and px.metadata_only is None:
            px.metadata_only = m.MetadataOnly()
    xml = ome_types.to_xml(copy)
    ome_types.from_xml(xml, validate=True)


def _check_levels(rdr: Reader, i: int, src: SeriesSource, where: str) -> None:
    """The level API (base.py): level 0 is the source, smaller levels follow."""
    shapes = rdr.level_shapes(i)
    assert shapes[0] == src.shape, f"{where}: level 0 {shapes[0]} != {src.shape}"
    for prev, level in pairwise(shapes):
        assert level[:3] == src.shape[:3], where
        assert level[3] <= prev[3] and level[4] <= prev[4], f"{where}: levels {shapes}"
    np.testing.assert_array_equal(rdr.read_plane(i, 0, 0, 0), src.get_plane(0, 0, 0))
    last = rdr.read_plane(i, 0, 0, 0, level=len(shapes) - 1)
    assert last.shape[:2] == shapes[-1][3:], f"{where}: last level plane {last.shape}"
    with pytest.raises(NoSuchPlaneError):
        rdr.read_plane(i, 0, 0, 0, level=len(shapes))


def check_reader(
    path: Path | str,
    *,
    reader: str | None = None,
    options: dict[str, Any] | None = None,
    every_plane: bool = False,
    expect_series: int | None = None,
) -> ReaderSummary:
    """Check the reader contract on one input; return a summary.

    Parameters
    ----------
    path
        The input.
    reader
        Expected reader name (the registry must pick it when options are empty).
    options
        Reader options (e.g. ``{"axes": "ZYX"}``).
    every_plane
        Read every plane (small inputs); else first, middle and last of each series.
    expect_series
        Expected number of series, when known.
    """
    path = Path(path)
    options = options or {}
    if reader is not None and not options:
        cls = find_reader(path)
        assert cls.name == reader, f"registry picked {cls.name}, expected {reader}"
    # can_read is a bool and says no to a file that is not an image at all
    cls = find_reader(path) if reader is None else get_spec(reader).load()
    assert issubclass(cls, Reader)
    assert cls.can_read(Path(__file__)) is False
    assert cls.can_read(path.parent / "does-not-exist.xyz") is False

    with open_image(path, reader=reader, **options) as rdr:
        ome = rdr.ome()
        assert isinstance(ome, m.OME)
        sources = rdr.sources()
        assert len(sources) == len(ome.images) > 0
        if expect_series is not None:
            assert len(sources) == expect_series
        for i, (image, src) in enumerate(zip(ome.images, sources, strict=True)):
            px = image.pixels
            t, c, z, y, x = src.shape
            where = f"{path.name} series {i}"
            assert (px.size_t, px.size_z, px.size_y, px.size_x) == (t, z, y, x), where
            msg = f"{where}: SizeC {px.size_c} != {src.size_c} (R2)"
            assert px.size_c == src.size_c, msg
            assert px.type.value == DTYPE_TO_OME[np.dtype(src.dtype).name], where
            assert px.dimension_order.value in DIMENSION_ORDERS
            # R1: one Channel per channel; R2: SamplesPerPixel carries RGB
            assert len(px.channels) == c, f"{where}: {len(px.channels)} Channels, C={c}"
            for ch in px.channels:
                assert (ch.samples_per_pixel or 1) == src.samples, where
            # U3/W3: physical sizes are positive when present (never placeholders)
            for attr in ("physical_size_x", "physical_size_y", "physical_size_z"):
                value = getattr(px, attr)
                assert value is None or value > 0, f"{where}: {attr}={value}"
            for plane in px.planes:  # PL1
                assert plane.the_t < t and plane.the_c < c and plane.the_z < z, where
            if src.name is not None and image.name is not None:
                assert src.name == image.name, where
            for ti, ci, zi in _plane_indices(src.shape, every_plane):
                data = src.get_plane(ti, ci, zi)
                want = (y, x) if src.samples == 1 else (y, x, src.samples)
                assert data.shape == want, f"{where} plane {(ti, ci, zi)}: {data.shape}"
                assert data.dtype == src.dtype, where
            _check_levels(rdr, i, src, where)
        assert rdr.series_count == len(sources)
        meta = rdr.original_metadata()
        assert isinstance(meta, dict)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())
        notes = rdr.notes.as_dict()
        assert set(notes) == {"mapped", "unmapped"}
        _schema_check(ome)
        summary = ReaderSummary(
            reader=rdr.name,
            series=len(sources),
            shapes=[s.shape for s in sources],
            samples=[s.samples for s in sources],
            dtypes=[np.dtype(s.dtype).name for s in sources],
            ome=ome,
        )
    rdr.close()  # idempotent
    return summary
