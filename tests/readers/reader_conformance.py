"""One conformance check for every reader (like bioio-base's ``run_image_file_checks``).

Usage from a reader's test module (``tests/readers/`` is on ``sys.path``)::

    from reader_conformance import check_reader

    def test_conformance(path):
        check_reader(path, reader="lif")

It opens the input through the registry, checks the Reader contract of
``ometiff/readers/base.py`` and returns a short summary for further asserts.
Then it checks the read API on the same input (:func:`check_read_api`):
``ometiff.open`` series and levels, dask == numpy == region reads, and, for corpus
files, the same windows as Bio-Formats decodes them (hashes recorded once by
``scripts/record_bioformats.py --pixels``), pickling and closing.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import ome_types
import pytest
from ome_types import model as m

import ometiff
from ometiff.errors import InvalidArgumentError, NoSuchPlaneError
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
    check_read_api(path, reader=reader, options=options)
    return summary


# -- the read API (ometiff.open) -------------------------------------------------------

_ROOT = Path(__file__).resolve().parents[2]
_PIXELS = _ROOT / "tests" / "expected" / "bioformats" / "pixels"
_CORPUS = Path(os.environ.get("OMETIFF_TESTDATA", _ROOT.parent / "shared" / "testdata"))
#: Window edge of the recorded Bio-Formats hashes (scripts/BfPixels.java).
BF_WINDOW = 512


_COMPANION = (
    "Bio-Formats reads blank planes through this companion (its OME says 1 sample per "
    "pixel, the TIFFs hold RGB; the TIFF wins, N5)"
)
_NOT_INVESTIGATED = "pixels differ from Bio-Formats' window; not investigated yet"
_DECAY = (
    "decay curves only: ometiff refuses it as not an image (UnsupportedFormatError), "
    "Bio-Formats shows a one-row image"
)
_DAMAGED = "damaged file: ometiff raises InvalidTiffError where Bio-Formats returns pixels"
#: Corpus files where ometiff shows other pixels than Bio-Formats, and why: the
#: comparison is skipped in :func:`check_read_api` unless ``known=True`` (the corpus
#: test runs them as strict xfails, so a change on either side is noticed).
KNOWN_PIXEL_DIFFERENCES: dict[str, str] = {
    **{
        f"ome-tiff/ome-model-samples/{v}/set-1-meta-companion/18x24y5z1t1c8b-text-companion.ome": _COMPANION
        for v in ("2011-06", "2012-06", "2013-06", "2015-01")
    },
    **{
        f"ome-tiff/ome-model-samples/2011-06/set-1-meta-companion/18x24y5z1t1c8b-text-split-Z{z}"
        ".ome.tiff": "the member's OME-XML is not well-formed; ometiff refuses it, Bio-Formats "
        "reads the TIFF alone"
        for z in range(1, 6)
    },
    "tiff/image-tiff/fuzz-sample-get-lzw-stuck.tiff": _DAMAGED,
    "tiff/pillow/crash-0c7e0e8e11ce787078f00b5b0ca409a167f070e0.tif": _DAMAGED,
    "tiff/pillow/crash-86214e58da443d2b80820cff9677a38a33dcbbca.tif": _DAMAGED,
    "tiff/libtiff/miniswhite-1c-1b.tiff": "1-bit MinIsWhite: Bio-Formats inverts the bits, "
    "ometiff (tifffile) returns them as stored",
    "tiff/libtiff/test_float64_predictor2_le_lzw.tif": (
        "float64 with Predictor 2 (horizontal differencing): Bio-Formats decodes other "
        "values than tifffile"
    ),
    "tiff/libvips/subsampled.tif": "LZW with YCbCr chroma subsampling: tifffile cannot "
    "decode it (InvalidTiffError)",
    "svs/histolab/TCGA-CR-7395-01A-01-TS1.svs": _NOT_INVESTIGATED,
    "ndpi/slideio-tutorial/test3-TRITC 2 (560).ndpi": _NOT_INVESTIGATED + " (level 3 only)",
    "ndtiff/ndstorage/labeled_positions_1/labeled_positions_NDTiffStack.tif": _NOT_INVESTIGATED,
    **{
        f"ndtiff/ndstorage/{name}_NDTiffStack.tif": "Bio-Formats lays this NDTiff dataset out "
        "as other series: no series of the same size to compare"
        for name in (
            "ndtiff3.2_magellan_explore_rgb/Full resolution/Magellan_expolore_multi_channel",
            "ndtiffv3.0_stitched_test/Full resolution/ndtiffv3.0_stitched_test",
            "no_magellan_explore_no_channel/Full resolution/explore_no_channels",
        )
    },
    "sif/sif_parser/image.sif": _NOT_INVESTIGATED,
    "sdt/pytcspc/IRF.sdt": _DECAY,
    "sdt/pytcspc/test_IRF.sdt": _DECAY,
    "czi/czitools/S3_1Pos_2Mosaic_T1_Z1_CH1.czi": "overlapping mosaic tiles drawn in another "
    "order (docs/vendor-formats.md)",
}


@cache
def _pixel_records(kind: str) -> dict[str, Any]:
    path = _PIXELS / f"{kind}.json"
    return json.loads(path.read_text(encoding="utf-8"))["files"] if path.is_file() else {}


def bioformats_pixels(path: Path, *, known: bool = False) -> dict[str, Any] | None:
    """Bio-Formats' recorded window hashes of a corpus file, or None.

    None too for a file of :data:`KNOWN_PIXEL_DIFFERENCES`, unless ``known``.
    """
    try:
        rel = path.resolve().relative_to(_CORPUS.resolve()).as_posix()
    except ValueError:
        return None
    if rel in KNOWN_PIXEL_DIFFERENCES and not known:
        return None
    return _pixel_records(Path(rel).parts[0]).get(rel)


def bf_hash(window: np.ndarray, *, little_endian: bool, interleaved: bool) -> str:
    """SHA-1 of a ``(Y, X)`` or ``(Y, X, S)`` window laid out as Bio-Formats' openBytes."""
    arr = window
    if arr.ndim == 3 and not interleaved:
        arr = np.moveaxis(arr, -1, 0)
    order = "<" if little_endian else ">"
    data = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder(order))
    return hashlib.sha1(data.tobytes()).hexdigest()


def _windows(y: int, x: int) -> list[tuple[int, int, int, int]]:
    """The top-left window Bio-Formats was asked for, and one across the middle."""
    out = [(0, min(y, BF_WINDOW), 0, min(x, BF_WINDOW))]
    y0, x0 = y // 3, x // 3
    out.append((y0, min(y, y0 + max(1, y // 2)), x0, min(x, x0 + max(1, x // 2))))
    return out


def check_read_api(
    path: Path | str,
    *,
    reader: str | None = None,
    options: dict[str, Any] | None = None,
    whole_bytes: int = 64 << 20,
    known: bool = False,
) -> int:
    """Check ``ometiff.open`` on one input; return how many windows matched Bio-Formats.

    Per series: sizes, dims and levels agree with the reader's level API; at the first
    and last level, the first and last plane read through region reads, dask and zarr
    equal the reader's whole plane; levels up to ``whole_bytes`` are read whole
    (``asarray`` == ``to_dask().compute()``). Recorded Bio-Formats hashes are compared
    (for :data:`KNOWN_PIXEL_DIFFERENCES` only with ``known=True``)
    where Bio-Formats' series of the same index has a resolution of the same size.
    """
    path = Path(path)
    options = options or {}
    bf = bioformats_pixels(path, known=known)
    bf_series = bf.get("series") if bf else None
    matched = 0
    with (
        ometiff.open(path, reader=reader, **options) as f,
        open_image(path, reader=reader, **options) as rdr,
    ):
        assert f.reader == rdr.name
        assert len(f.series) == rdr.series_count
        for i, s in enumerate(f.series):
            shapes = rdr.level_shapes(i)
            samples = s.sizes["S"]
            tail = (samples,) if samples > 1 else ()
            assert s.dims == "TCZYX" + ("S" if samples > 1 else "")
            assert s.levels == tuple((*sh, *tail) for sh in shapes), f"{path.name} {i}"
            assert [s.sizes[a] for a in "TCZYX"] == list(shapes[0])
            assert len(s.channels) == s.sizes["C"]
            for axis, value in s.physical_size.items():
                assert value is None or value > 0, f"{axis}={value}"
            # series i of Bio-Formats, where it has one; windows are compared only where
            # its resolution has the same size (SVS labels, SubIFD chains: other layouts)
            bf_res = bf_series[i]["resolutions"] if bf_series and i < len(bf_series) else []
            for level in sorted({0, len(shapes) - 1}):
                t_n, c_n, z_n, y, x = shapes[level]
                dask_level = f.to_dask(i, level)
                assert dask_level.shape == s.levels[level] and dask_level.dtype == s.dtype
                for t, c, z in sorted({(0, 0, 0), (t_n - 1, c_n - 1, z_n - 1)}):
                    plane = rdr.read_plane(i, t, c, z, level=level)
                    for y0, y1, x0, x1 in _windows(y, x):
                        want = plane[y0:y1, x0:x1]
                        got = f.read(i, level, t=t, c=c, z=z, y=slice(y0, y1), x=slice(x0, x1))
                        np.testing.assert_array_equal(got, want, err_msg=f"region {i}/{level}")
                        lazy = dask_level[t, c, z, y0:y1, x0:x1].compute()
                        np.testing.assert_array_equal(lazy, want, err_msg=f"dask {i}/{level}")
                    if level < len(bf_res):
                        res = bf_res[level]
                        if (res["size_y"], res["size_x"]) == (y, x):
                            h, w = res["window"]
                            layout = {
                                "little_endian": bf_series[i]["little_endian"],
                                "interleaved": bf_series[i]["interleaved"],
                            }
                            for rec in res["planes"]:
                                if (rec["t"], rec["c"], rec["z"]) == (t, c, z):
                                    ours = bf_hash(plane[:h, :w], **layout)
                                    assert ours == rec["sha1"], (
                                        f"{path.name} series {i} level {level} plane "
                                        f"t={t} c={c} z={z}: pixels differ from Bio-Formats'"
                                    )
                                    matched += 1
                if np.dtype(s.dtype).itemsize * np.prod(s.levels[level]) <= whole_bytes:
                    whole = f.asarray(i, level)
                    np.testing.assert_array_equal(dask_level.compute(), whole)
                    np.testing.assert_array_equal(
                        whole[-1, -1, -1], rdr.read_plane(i, t_n - 1, c_n - 1, z_n - 1, level=level)
                    )
            with pytest.raises(NoSuchPlaneError):
                f.to_dask(i, len(shapes))
            with pytest.raises(InvalidArgumentError):
                f.read(i, 0, y=slice(shapes[0][3], shapes[0][3] + 1))
        with pytest.raises(NoSuchPlaneError):
            f.asarray(len(f.series))
        back = pickle.loads(pickle.dumps(f))
        try:
            assert [(b.sizes, b.dims, b.levels) for b in back.series] == [
                (a.sizes, a.dims, a.levels) for a in f.series
            ]
            np.testing.assert_array_equal(
                back.read(0, 0, y=slice(0, 1)), f.read(0, 0, y=slice(0, 1))
            )
        finally:
            back.close()
    assert f.closed
    with pytest.raises(InvalidArgumentError, match="closed"):
        f.read()
    return matched
