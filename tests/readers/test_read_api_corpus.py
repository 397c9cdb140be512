"""The read API on every corpus file Bio-Formats decodes: the shared API conformance check.

For each file with a recorded Bio-Formats pixel entry (``scripts/record_bioformats.py
--pixels``), :func:`reader_conformance.check_read_api` opens it with ``ometiff.open``
and compares series, levels, numpy, dask and region reads with each other and with
the windows Bio-Formats decoded. One file per corpus folder runs by default, every
file with ``--run-slow``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from reader_conformance import _pixel_records, check_read_api
from tests.conftest import CORPUS

KINDS = ("ome-tiff", "tiff", "imagej", "lsm", "czi", "lif", "nd2")
#: The file of each folder checked without --run-slow (small, several series or levels).
DEFAULT = {
    "ome-tiff/bioformats-7.3.1/mosaic_test_pyramid-3_tiled256_zlib_uint16.ome.tif",
    "ome-tiff/bioformats-7.3.1/RGB-8bit_interleaved_lzw.ome.tif",
    "imagej/imagej-1.53t/hyperstack_c3_z5_8bit_composite.tif",
    "czi/czitools/S3_1Pos_2Mosaic_T2Z3_CH2_sm.czi",
    "nd2/pims/cluster.nd2",
}
_COMPANION = (
    "Bio-Formats reads blank planes through this companion (its OME says 1 sample per "
    "pixel, the TIFFs hold RGB; the TIFF wins, N5)"
)
_DAMAGED = "damaged file: ometiff raises InvalidTiffError where Bio-Formats returns pixels"
#: Files where ometiff shows other pixels than Bio-Formats, and why.
KNOWN: dict[str, str] = {
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
    "czi/czitools/S3_1Pos_2Mosaic_T1_Z1_CH1.czi": "overlapping mosaic tiles drawn in another "
    "order (docs/vendor-formats.md)",
}


def _params() -> list[object]:
    out = []
    for kind in KINDS:
        for rel, entry in sorted(_pixel_records(kind).items()):
            if "error" in entry or not (CORPUS / rel).exists():
                continue  # Bio-Formats cannot read it: nothing to compare with
            marks = [] if rel in DEFAULT else [pytest.mark.slow]
            if rel in KNOWN:
                marks.append(pytest.mark.xfail(reason=KNOWN[rel], strict=True))
            out.append(pytest.param(rel, id=rel, marks=marks))
    return out


@pytest.mark.parametrize("rel", _params())
def test_read_api_matches_bioformats(rel: str) -> None:
    from ometiff.errors import MissingDependencyError

    try:
        matched = check_read_api(Path(CORPUS / rel))
    except MissingDependencyError as exc:
        pytest.skip(str(exc))
    assert matched > 0, "no window compared with Bio-Formats (other series or sizes)"


@pytest.mark.parametrize("kind", KINDS)
def test_every_corpus_file_has_bioformats_pixels(kind: str) -> None:
    """A file added to the corpus needs `scripts/record_bioformats.py --pixels KIND`."""
    from bf_expected import recorder

    if not CORPUS.is_dir():
        pytest.skip("corpus missing")
    inputs = {p.relative_to(CORPUS).as_posix() for p in recorder().corpus_inputs(kind)}
    recorded = set(_pixel_records(kind))
    assert recorded, f"no Bio-Formats pixel records for {kind}/"
    assert not inputs - recorded, f"run scripts/record_bioformats.py --pixels {kind}"
    assert not recorded - inputs, "recorded files missing from the corpus"
