"""``ometiff info`` agrees with Bio-Formats on every OME-TIFF of the corpus.

Bio-Formats' answers were recorded once by ``scripts/record_bioformats.py`` into
``tests/expected/bioformats/ome-tiff.json``; ``test_recorded_answers_are_current``
(slow) re-runs Bio-Formats on a few files and checks the recording still holds.
"""

from __future__ import annotations

import json
import math

import pytest
from tests.bioformats import requires_bioformats
from tests.conftest import CORPUS, ROOT

from ometiff import info

EXPECTED = json.loads((ROOT / "tests/expected/bioformats/ome-tiff.json").read_text())["files"]
OME_FILES = sorted(k for k, v in EXPECTED.items() if v.get("format") == "OME-TIFF")

#: Deliberate differences: corpus file -> (keys not compared, why).
KNOWN_DIFFERENCES = {
    "ome-tiff/ome-model-samples/2008-02/Iron-Plate.ome.tiff": (
        {"physical_size_x", "physical_size_y"},
        "the file says PhysicalSizeX=1.2691301E-12 µm; Bio-Formats drops such tiny values, "
        "ometiff reports what the file says",
    ),
}


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-3)


def _effective_channels(series: dict) -> int:
    return series["size_c"] // max(series["samples_per_pixel"], 1)


@pytest.mark.parametrize("rel", OME_FILES)
def test_info_agrees_with_bioformats(rel: str) -> None:
    path = CORPUS / rel
    if not path.exists():
        pytest.skip(f"corpus file missing: {path}")
    doc = info(path).to_dict()
    want = EXPECTED[rel]
    got = doc["series"]
    skip = KNOWN_DIFFERENCES.get(rel, (set(), ""))[0]
    assert len(got) == want["series_count"], "series count"
    for ours, bf in zip(got, want["series"], strict=True):
        where = f"series {ours['index']}"
        for key in ("size_x", "size_y", "size_z", "size_c", "size_t"):
            assert ours[key] == bf[key], f"{where}: {key}"
        assert ours["dtype"] == bf["pixel_type"], f"{where}: pixel type"
        for axis in ("x", "y", "z"):
            key = f"physical_size_{axis}"
            if key in skip:
                continue
            assert _close(ours[key], bf[key]), f"{where}: {key} {ours[key]} vs {bf[key]}"
        assert len(ours["channels"]) == bf["channel_count"], f"{where}: channel count"
        assert len(ours["levels"]) == bf["resolution_count"], f"{where}: levels"


@pytest.mark.slow
@requires_bioformats
@pytest.mark.parametrize("rel", OME_FILES[:: max(1, len(OME_FILES) // 6)])
def test_recorded_answers_are_current(rel: str) -> None:
    """scripts/record_bioformats.py, run now, gives what is committed."""
    from tests.readers.bf_expected import recorder

    fresh = recorder().summarize_file(CORPUS / rel)
    assert fresh["series"] == EXPECTED[rel]["series"]
