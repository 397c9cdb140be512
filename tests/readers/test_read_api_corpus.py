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
from reader_conformance import KNOWN_PIXEL_DIFFERENCES as KNOWN
from reader_conformance import _pixel_records, check_read_api
from tests.conftest import CORPUS

KINDS = (
    "ome-tiff",
    "tiff",
    "imagej",
    "lsm",
    "czi",
    "lif",
    "nd2",
    "svs",
    "ndpi",
    "qptiff",
    "ndtiff",
    "vsi",
    "dv",
    "mrc",
    "sif",
    "ims",
    "ptu",
    "sdt",
    "spc",
)
#: The file of each folder checked without --run-slow (small, several series or levels).
DEFAULT = {
    "ome-tiff/bioformats-7.3.1/mosaic_test_pyramid-3_tiled256_zlib_uint16.ome.tif",
    "ome-tiff/bioformats-7.3.1/RGB-8bit_interleaved_lzw.ome.tif",
    "imagej/imagej-1.53t/hyperstack_c3_z5_8bit_composite.tif",
    "czi/czitools/S3_1Pos_2Mosaic_T2Z3_CH2_sm.czi",
    "nd2/pims/cluster.nd2",
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
        matched = check_read_api(Path(CORPUS / rel), known=True)
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
