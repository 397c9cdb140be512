"""Round trip over the corpus: OME-TIFF -> OME-Zarr -> OME-TIFF keeps every pixel and the OME.

For each corpus OME-TIFF ``A``: ``B`` is its OME-TIFF conversion (the reference),
``Z`` its OME-Zarr conversion and ``C`` the OME-TIFF conversion of ``Z``.

- every plane of ``C`` (and of ``Z``) equals the plane of ``A``;
- ``Z``'s ``OME/METADATA.ome.xml`` is ``B``'s OME-XML apart from TiffData, UUIDs and
  MetadataOnly (the whole model: instruments, annotations, ROIs, plates...);
- ``C``'s Images (names, pixels, physical sizes, channels, planes) are ``B``'s.

A sample runs by default; the full sweep is marked slow.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ometiff
from conftest import corpus_files, corpus_id
from ometiff import OmeTiffError
from ometiff.readers import open_image

pytest.importorskip("zarr")

FILES = [
    p
    for p in corpus_files(
        "ome-tiff/**/*.ome.tif", "ome-tiff/**/*.ome.tiff", "ome-tiff/**/*.ome.btf"
    )
    if p.stat().st_size < 64 << 20
]
#: The default sample: multi-channel, z/t stacks, plate, instrument, ROI, modulo.
SAMPLE_NAMES = (
    "2010-06/18x24y5z5t2c8b-text.ome.tiff",
    "2010-06/6x4y1z1t1c8b-swatch-instrument.ome.tiff",
    "2010-06/6x4y1z1t3c8b-swatch-ROI.ome.tiff",
    "2010-06/6x4y1z1t1c8b-swatch-1s1p4w2ws.ome.tiff",
    "2010-04/6x4y1z1t1c8b-swatch-1s1p4w2ws.ome.tiff",  # every Image in the plate: HCS layout
    "2013-06/FLIM-modulo-sample.ome.tif",
    "2008-02/single-channel.ome.tif",
    "bioformats-7.3.1/RGB-multichannel_7x_rgb.ome.tif",
)
SAMPLE = [p for p in FILES if any(str(p).endswith(n) for n in SAMPLE_NAMES)]


def _normal(ome: Any) -> Any:
    """The OME without what differs by design between containers (TiffData, UUIDs)."""
    out = ome.model_copy(deep=True)
    out.uuid = None
    for image in out.images:
        image.pixels.tiff_data_blocks = []
        image.pixels.metadata_only = None
    return out


def _planes(path: Path) -> dict[tuple[int, int, int, int], bytes]:
    out = {}
    with open_image(path) as rdr:
        for s, src in enumerate(rdr.sources()):
            t, c, z = src.shape[:3]
            for tt in range(t):
                for cc in range(c):
                    for zz in range(z):
                        plane = np.asarray(src.get_plane(tt, cc, zz))
                        if plane.ndim == 3:  # RGB(A): compare sample planes
                            for k in range(plane.shape[2]):
                                out[(s, tt, cc * plane.shape[2] + k, zz)] = plane[..., k].tobytes()
                        else:
                            out[(s, tt, cc, zz)] = plane.tobytes()
    return out


def _model(source: Path | str) -> Any:
    import ome_types

    with warnings.catch_warnings():  # dangling references of the corpus files
        warnings.simplefilter("ignore", UserWarning)
        if isinstance(source, Path):
            return _normal(ome_types.from_tiff(source, validate=False))
        return _normal(ome_types.from_xml(source, validate=False))


def _roundtrip(path: Path, tmp: Path, ngff: str = "0.5") -> None:
    b, zarr_out, c = tmp / "b.ome.tif", tmp / "z.ome.zarr", tmp / "c.ome.tif"
    try:
        ometiff.convert(path, b)
    except OmeTiffError as exc:
        pytest.skip(f"not convertible to OME-TIFF either: {exc}")
    ometiff.convert(path, zarr_out, ngff=ngff)
    ometiff.convert(zarr_out, c)
    original = _planes(path)
    assert _planes(c) == original
    ref = _model(b)
    meta = _model((zarr_out / "OME" / "METADATA.ome.xml").read_text(encoding="utf-8"))
    back = _model(c)
    if "micromanager/" in str(path):
        # its Instrument ID "Microscope" is invalid; ome-types makes up a new one on
        # every read (Instrument:0, Instrument:1...), so two conversions differ there
        skip = {"instruments", "images"}
        assert meta.model_dump(exclude=skip) == ref.model_dump(exclude=skip)
        assert back.model_dump(exclude=skip) == ref.model_dump(exclude=skip)
        for got, want in zip(back.images, ref.images, strict=True):
            assert got.model_dump(exclude={"instrument_ref"}) == want.model_dump(
                exclude={"instrument_ref"}
            )
    else:
        assert meta == ref
        # the whole OME comes back: instruments, annotations, ROIs, plates, RGB
        # channels of SamplesPerPixel 3... everything but TiffData and UUIDs
        assert back == ref


@pytest.mark.parametrize("path", SAMPLE, ids=[corpus_id(p) for p in SAMPLE])
def test_roundtrip_sample(path: Path, tmp_path: Path) -> None:
    _roundtrip(path, tmp_path)


#: NGFF 0.4 (Zarr v2): a plate, RGB channels, an instrument.
SAMPLE_V04 = [
    p for p in SAMPLE if "1s1p4w2ws" in p.name or "7x_rgb" in p.name or "instrument" in p.name
]


@pytest.mark.parametrize("path", SAMPLE_V04, ids=[corpus_id(p) for p in SAMPLE_V04])
def test_roundtrip_sample_ngff04(path: Path, tmp_path: Path) -> None:
    _roundtrip(path, tmp_path, ngff="0.4")


PYRAMID = corpus_files(
    "ome-tiff/bioformats-7.3.1/CMU-1-Small-Region_crop_pyramid-3_tiled256_jpeg.ome.tif"
)


@pytest.mark.parametrize("ngff", ["0.4", "0.5"])
@pytest.mark.parametrize("path", PYRAMID, ids=[corpus_id(p) for p in PYRAMID])
def test_pyramid_levels_roundtrip(path: Path, tmp_path: Path, ngff: str) -> None:
    """The source's pyramid is written as multiscales and read back level by level."""
    out = tmp_path / "z.ome.zarr"
    ometiff.convert(path, out, ngff=ngff)
    with open_image(path) as src, open_image(out) as back:
        shapes = src.level_shapes(0)
        assert len(shapes) > 1
        assert back.level_shapes(0) == shapes
        for k in range(len(shapes)):
            np.testing.assert_array_equal(
                back.read_plane(0, 0, 0, 0, level=k), src.read_plane(0, 0, 0, 0, level=k)
            )
        assert back.sources()[0].samples == src.sources()[0].samples == 3


@pytest.mark.slow
@pytest.mark.parametrize("path", FILES, ids=[corpus_id(p) for p in FILES])
def test_roundtrip_corpus(path: Path, tmp_path: Path) -> None:
    _roundtrip(path, tmp_path)


#: One small file per reader: every input ometiff reads converts to OME-Zarr.
READER_SAMPLES = [
    "imagej/readlif/xem_y32.tif",
    "lsm/jimpipeline/test.lsm",
    "tiff/python-bioformats/Channel1-01-A-01.tif",
    "lif/readlif/LeicaLASX_wavelength-sweep_example.lif",
    "czi/aicspylibczi/s_1_t_1_c_1_z_1.czi",
    "nd2/pims/cluster.nd2",
    "ome-zarr/ome-zarr-py-0.18.0/mosaic_multiscale_labels_v05.ome.zarr",
    "ome-tiff/bioformats-7.3.1/RGB-8bit_interleaved_lzw.ome.tif",
]


@pytest.mark.parametrize("name", READER_SAMPLES)
def test_every_reader_to_zarr(name: str, corpus: Path, tmp_path: Path) -> None:
    from ometiff.readers.registry import READERS

    path = corpus / name
    if not path.exists():
        pytest.skip(f"{name} not in the corpus")
    out = tmp_path / "x.ome.zarr"
    try:
        result = ometiff.convert(path, out)
    except OmeTiffError as exc:
        if any(not spec.available for spec in READERS):
            pytest.skip(f"reader extra missing: {exc}")
        raise
    assert result.planes_verified == result.planes_written > 0
    with open_image(path) as src, open_image(out) as back:
        assert back.name == "ome-zarr"
        assert len(back.sources()) == len(src.sources())
        for a, b in zip(src.sources(), back.sources(), strict=True):
            # an RGB(A) channel comes back as one channel of its samples (R2)
            assert (b.shape, b.samples) == (a.shape, a.samples)
            np.testing.assert_array_equal(b.get_plane(0, 0, 0), a.get_plane(0, 0, 0))
