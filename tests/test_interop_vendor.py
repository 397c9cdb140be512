"""Vendor files converted by ometiff, read back by live Bio-Formats.

For each LIF, CZI and ND2 file: our OME-TIFF, read by Bio-Formats, has the series
count, sizes, pixel type, physical sizes (rel 1e-3), channel count and names that
Bio-Formats reports for the original (tests/expected/bioformats/), and its pixels,
as Bio-Formats decodes them (bfconvert back to OME-TIFF), equal the source reader's
planes. Two JVM starts per file; a representative subset runs by default, the whole
corpus with --run-slow.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from tests.bioformats import requires_bioformats
from tests.conftest import CORPUS, corpus_files, corpus_id
from tests.readers.bf_expected import (
    assert_bioformats_pixels_equal_source,
    assert_every_file_recorded,
    assert_like_bioformats,
    expected_for,
    recorder,
)

from ometiff.readers import open_image

VENDOR = corpus_files("lif/**/*.lif", "czi/**/*.czi", "nd2/**/*.nd2")
#: Default subset: multi-series LIF with lambda folded into T, xz scans, CZI
#: scenes (mosaic), multichannel RGB, zstd-compressed CZI, the ND2.
SUBSET = {
    "lif/readlif/LeicaLASX_wavelength-sweep_example.lif",
    "lif/readlif/testdata_2channel_xz.lif",
    "czi/czitools/S3_1Pos_2Mosaic_T1_Z1_CH1.czi",
    "czi/aicspylibczi/RGB-multichannel.czi",
    "czi/czitools/CellDivision_T3_Z6_CH1_X300_Y200_DCV_ZSTD.czi",
    "nd2/pims/cluster.nd2",
}
PARAMS = [
    pytest.param(p, id=corpus_id(p), marks=() if corpus_id(p) in SUBSET else pytest.mark.slow)
    for p in VENDOR
]


def _convert(src: Path, dst: Path) -> Path:
    """``ometiff.convert`` when it exists, else the same reader -> writer pipeline."""
    if importlib.util.find_spec("ometiff.conversion") is not None:
        from ometiff import convert

        out = convert(src, dst)
        return Path(out[0] if isinstance(out, list) else out)
    from ometiff.writer.core import write_sources

    with open_image(src) as rdr:
        return write_sources(dst, rdr.sources(), ome=rdr.ome())[0]


@requires_bioformats
@pytest.mark.parametrize("path", PARAMS)
def test_bioformats_reads_our_conversion_like_the_original(path: Path, tmp_path: Path) -> None:
    expected = expected_for(corpus_id(path))
    assert expected is not None, "run scripts/record_bioformats.py"
    out = _convert(path, tmp_path / f"{path.stem}.ome.tif")

    # metadata, as Bio-Formats reads our file (-noflat: pyramid levels are
    # resolutions of a series, not series)
    ours = recorder().summarize_file(out)
    assert_like_bioformats(ours, expected, where=corpus_id(path))

    # pixels, as Bio-Formats decodes our file
    assert_bioformats_pixels_equal_source(path, out, tmp_path)


@pytest.mark.parametrize("kind", ["lif", "czi", "nd2"])
def test_corpus_has_every_vendor_file(kind: str) -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus missing")
    found = [corpus_id(p) for p in VENDOR]
    assert_every_file_recorded(kind, [rel for rel in found if rel.startswith(f"{kind}/")])
    assert SUBSET <= set(found)


@requires_bioformats
@pytest.mark.slow
@pytest.mark.parametrize(
    "rel",
    ["czi/czitools/10x10.czi", "lif/readlif/testdata_2channel_xz.lif", "nd2/pims/cluster.nd2"],
)
def test_recorded_expectations_are_current(rel: str) -> None:
    """scripts/record_bioformats.py run now gives what is committed."""
    if not (CORPUS / rel).is_file():
        pytest.skip("corpus missing")
    assert recorder().summarize_file(CORPUS / rel) == expected_for(rel)


def test_summarize_omexml_converts_units_and_counts_samples() -> None:
    xml = """<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">
      <Image ID="Image:0" Name="a"><Pixels ID="Pixels:0" DimensionOrder="XYCZT"
        Type="uint8" SizeX="4" SizeY="3" SizeZ="2" SizeC="3" SizeT="1"
        PhysicalSizeX="500" PhysicalSizeXUnit="nm" PhysicalSizeY="0.5"
        PhysicalSizeZ="1" PhysicalSizeZUnit="pixel">
        <Channel ID="Channel:0:0" Name="" SamplesPerPixel="3"/></Pixels></Image></OME>"""
    s = recorder().summarize_omexml(xml)
    assert s["series_count"] == 1
    one = s["series"][0]
    assert one["physical_size_x"] == pytest.approx(0.5)
    assert one["physical_size_y"] == pytest.approx(0.5)  # µm is the default unit (U3)
    assert one["physical_size_z"] is None  # "pixel" is not a length
    assert (one["size_c"], one["channel_count"], one["samples_per_pixel"]) == (3, 1, 3)


def test_unrecorded_inputs_lists_only_files_without_a_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``record_bioformats.py --missing`` asks Bio-Formats only about new files."""
    module = recorder()
    corpus, out = tmp_path / "corpus", tmp_path / "expected"
    (corpus / "czi" / "a").mkdir(parents=True)
    for name in ("old.czi", "new.czi", "README.md"):
        (corpus / "czi" / "a" / name).write_bytes(b"x")
    monkeypatch.setattr(module, "CORPUS", corpus)
    monkeypatch.setattr(module, "OUT_DIR", out)
    assert [p.name for p in module.unrecorded_inputs("czi")] == ["new.czi", "old.czi"]
    module.save_expected("czi", {"czi/a/old.czi": {"series_count": 1, "series": []}}, "7.3.1")
    assert [p.name for p in module.unrecorded_inputs("czi")] == ["new.czi"]
