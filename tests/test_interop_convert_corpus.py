"""Every ImageJ, LSM and OME-TIFF corpus file: our conversion, read by live Bio-Formats.

The output of ``ometiff.convert`` must have, as Bio-Formats reads it, the series
count, sizes, pixel type, physical sizes (rel 1e-3), channel count and names that
Bio-Formats recorded for the original (``tests/expected/bioformats/``), and its
pixels, as Bio-Formats decodes them, must equal the source reader's planes. Two JVM
starts per file, so the sweep is marked slow (``pytest --run-slow``); a
representative few run by default in ``test_convert_corpus.py``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from tests.bioformats import requires_bioformats
from tests.conftest import corpus_id
from tests.readers.bf_expected import (
    assert_bioformats_pixels_equal_source,
    assert_like_bioformats,
    expected_for,
    recorder,
)
from tests.test_convert_corpus import DELIBERATE, IJ_LSM_OME

import ometiff
from ometiff import OmeTiffError

FILES = [
    p for p in IJ_LSM_OME if (rec := expected_for(corpus_id(p))) is not None and "error" not in rec
]


@pytest.mark.slow
@requires_bioformats
@pytest.mark.parametrize("path", FILES, ids=[corpus_id(p) for p in FILES])
def test_bioformats_reads_our_conversion_like_the_original(path: Path, tmp_path: Path) -> None:
    rel = corpus_id(path)
    expected = expected_for(rel)
    assert expected is not None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = ometiff.convert(path, tmp_path / "out.ome.tif", pyramid=None)[0]
    except OmeTiffError as exc:
        pytest.skip(f"not convertible (clean error): {exc}")
    ours = recorder().summarize_file(out)
    for key in DELIBERATE.get(rel, ()):
        for a, b in zip(ours["series"], expected["series"], strict=False):
            a[key] = b[key]
    if (
        ours["series"]
        and expected["series"]
        and (ours["series"][0]["samples_per_pixel"] != expected["series"][0]["samples_per_pixel"])
    ):
        pytest.xfail("SamplesPerPixel: we trust the TIFF (N5), Bio-Formats the OME-XML")
    assert_like_bioformats(ours, expected, where=rel)

    assert_bioformats_pixels_equal_source(path, out, tmp_path)
