"""FLIM readers: PicoQuant PTU, Becker & Hickl SDT and SPC.

Images become OME with the TCSPC lifetime bins folded into T and a ModuloAlongT
annotation, as Bio-Formats writes SDT; files with no image (point measurements,
single decay curves, FIFO photon streams) are refused with one "not an image"
line. Bio-Formats cannot read PTU or SPC (recorded as UnknownFormatException); for
SDT it agrees with ometiff on series, X, Y, Z, T and pixel type, and on the
pixels of every channel it shares (docs/vendor-formats.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from bf_expected import assert_every_file_recorded, expected_for, summarize_ome
from reader_conformance import check_reader
from tests.bioformats import requires_bioformats
from tests.conftest import CORPUS, corpus_files, corpus_id
from vendor_checks import (
    assert_bioformats_reads_our_conversion,
    assert_converts_verified,
    assert_pixels_equal_bioformats,
    assert_refused_not_an_image,
    assert_truncations_fail_cleanly,
)

from ometiff.errors import MissingDependencyError, OmeTiffError, UnsupportedFormatError
from ometiff.readers import open_image

PTUS = corpus_files("ptu/**/*.ptu")
SDTS = corpus_files("sdt/**/*.sdt")
SPCS = corpus_files("spc/**/*.spc")
#: Files that hold an image; every other FLIM corpus file holds none.
IMAGES = {
    "ptu/napari-flim-phasor-plotter/ptu_stack_FLIM_z1.ptu",
    "ptu/napari-flim-phasor-plotter/ptu_stack_FLIM_z2.ptu",
    "sdt/pytcspc/SDT_c01.sdt",
}
FLIM = PTUS + SDTS + SPCS
WITH_IMAGE = [p for p in FLIM if corpus_id(p) in IMAGES]
WITHOUT_IMAGE = [p for p in FLIM if corpus_id(p) not in IMAGES]
PTU_IMAGE = CORPUS / "ptu/napari-flim-phasor-plotter/ptu_stack_FLIM_z1.ptu"
SDT_IMAGE = CORPUS / "sdt/pytcspc/SDT_c01.sdt"


def _modulo(ome_xml: str) -> str:
    start = ome_xml.find("<ModuloAlongT")
    assert start >= 0, "no ModuloAlongT"
    return ome_xml[start : ome_xml.find("/>", start)]


@pytest.mark.parametrize("kind", ["ptu", "sdt", "spc"])
def test_every_flim_file_is_tested_and_recorded(kind: str) -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus missing")
    assert_every_file_recorded(kind, [corpus_id(p) for p in FLIM])
    assert IMAGES <= {corpus_id(p) for p in FLIM}


@pytest.mark.parametrize("path", PTUS + SPCS, ids=corpus_id)
def test_bioformats_cannot_read_ptu_or_spc(path: Path) -> None:
    """The deliberate difference: Bio-Formats 7.3.1 has no PTU or SPC reader."""
    bf = expected_for(corpus_id(path))
    assert bf is not None and "UnknownFormatException" in bf["error"]


@pytest.mark.parametrize("path", WITHOUT_IMAGE, ids=corpus_id)
def test_files_without_an_image_are_refused(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(UnsupportedFormatError, match="not an image"):
        open_image(path)
    assert_refused_not_an_image(path, tmp_path, capsys)


@pytest.mark.parametrize("path", WITH_IMAGE, ids=corpus_id)
def test_conformance_and_converts_with_verified_pixels(path: Path, tmp_path: Path) -> None:
    pytest.importorskip(path.suffix[1:] + "file")
    check_reader(path, reader=path.suffix[1:])
    assert_converts_verified(path, tmp_path)
    out = tmp_path / f"{path.stem}.ome.tif"
    with tifffile.TiffFile(out) as tif:
        modulo = _modulo(tif.ome_metadata or "")
    assert 'Type="lifetime"' in modulo and 'Unit="ps"' in modulo


# --- PTU ---------------------------------------------------------------------------


def test_ptu_planes_equal_ptufile() -> None:
    ptufile = pytest.importorskip("ptufile")
    if not PTU_IMAGE.is_file():
        pytest.skip("corpus missing")
    with ptufile.PtuFile(PTU_IMAGE) as f:
        whole = f.decode_image()  # T, Y, X, C, H
        step = f.tcspc_resolution * 1e12
    with open_image(PTU_IMAGE) as rdr:
        src = rdr.sources()[0]
        frames, y, x, channels, bins = whole.shape
        assert src.shape == (frames * bins, channels, 1, y, x)
        for frame, lifetime_bin in [(0, 0), (0, 40), (2, 7), (frames - 1, bins - 1)]:
            np.testing.assert_array_equal(
                src.get_plane(frame * bins + lifetime_bin, 0, 0),
                whole[frame, :, :, 0, lifetime_bin],
            )
        summed = sum(src.get_plane(t, 0, 0).astype(np.int64).sum() for t in range(src.shape[0]))
        assert summed == int(whole.sum())  # no photon lost or counted twice
        ome = rdr.ome()
    px = ome.images[0].pixels
    assert px.physical_size_x == pytest.approx(0.1463261569)
    value = ome.structured_annotations.xml_annotations[0]
    assert ome.images[0].annotation_refs[0].id == value.id
    from ome_types import to_xml

    modulo = _modulo(to_xml(ome))
    assert f'Step="{step!r}"' in modulo and f'End="{step * (bins - 1)!r}"' in modulo


def test_generated_ptu_z_stack_with_two_channels(tmp_path: Path) -> None:
    """T, Z, C and bins of a PTU written by ptufile land where OME says they are."""
    ptufile = pytest.importorskip("ptufile")
    rng = np.random.default_rng(1)
    data = rng.integers(0, 3, (2, 3, 8, 10, 2, 16), dtype=np.uint16)  # T Z Y X C H
    path = tmp_path / "gen.ptu"
    ptufile.imwrite(path, data, 1e-8, 1e-10, 1e-5, dims="TZYXCH", pixel_resolution=0.25)
    summary = check_reader(path, reader="ptu", every_plane=True)
    assert summary.shapes == [(2 * 16, 2, 3, 8, 10)]
    px = summary.ome.images[0].pixels
    assert px.physical_size_x == pytest.approx(0.25)
    with open_image(path) as rdr:
        src = rdr.sources()[0]
        for frame in range(2):
            for z in range(3):
                for c in range(2):
                    for lifetime_bin in (0, 5, 15):
                        np.testing.assert_array_equal(
                            src.get_plane(frame * 16 + lifetime_bin, c, z),
                            data[frame, z, :, :, c, lifetime_bin],
                        )
    assert_converts_verified(path, tmp_path)


def test_ptu_truncated_is_a_clean_error(tmp_path: Path) -> None:
    pytest.importorskip("ptufile")
    if not PTU_IMAGE.is_file():
        pytest.skip("corpus missing")
    size = PTU_IMAGE.stat().st_size
    cuts = [8, 40, 64, 100, 200, 2000, 20_000, size // 2, size - 1]
    assert_truncations_fail_cleanly(PTU_IMAGE, tmp_path, cuts)


def test_not_a_ptu(tmp_path: Path) -> None:
    from ometiff.readers.ptu import PtuReader

    fake = tmp_path / "fake.ptu"
    fake.write_bytes(b"PQRESULT" + bytes(100))
    assert PtuReader.can_read(fake) is False
    with pytest.raises(OmeTiffError, match="not a PicoQuant PTU"):
        PtuReader(fake)


def test_missing_ptufile_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from ometiff.readers.ptu import PtuReader

    monkeypatch.setitem(sys.modules, "ptufile", None)
    with pytest.raises(MissingDependencyError, match=r"ometiff\[ptu\]"):
        PtuReader(PTU_IMAGE)


# --- SDT ---------------------------------------------------------------------------


def test_sdt_agrees_with_bioformats_except_its_empty_channels() -> None:
    """Series, X, Y, Z, T (the lifetime bins) and pixel type; Bio-Formats' SizeC
    counts the file's blocks in every series, and all but the first are empty."""
    pytest.importorskip("sdtfile")
    if not SDT_IMAGE.is_file():
        pytest.skip("corpus missing")
    summary = check_reader(SDT_IMAGE, reader="sdt")
    ours, bf = summarize_ome(summary.ome), expected_for(corpus_id(SDT_IMAGE))
    assert bf is not None and ours["series_count"] == bf["series_count"] == 2
    keys = ("size_x", "size_y", "size_z", "size_t", "pixel_type")
    for a, b in zip(ours["series"], bf["series"], strict=True):
        assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
        assert (a["size_c"], b["size_c"]) == (1, 2)
        assert a["physical_size_x"] is b["physical_size_x"] is None


def test_sdt_planes_equal_sdtfile() -> None:
    sdtfile = pytest.importorskip("sdtfile")
    if not SDT_IMAGE.is_file():
        pytest.skip("corpus missing")
    f = sdtfile.SdtFile(SDT_IMAGE)
    try:
        with open_image(SDT_IMAGE) as rdr:
            for block, src in zip(f.data, rdr.sources(), strict=True):
                for t in (0, 17, 128, src.shape[0] - 1):
                    np.testing.assert_array_equal(src.get_plane(t, 0, 0), block[:, :, t])
            ome = rdr.ome()
    finally:
        f.close()
    step = float(f.times[0][1] - f.times[0][0]) * 1e12
    assert ome.images[0].acquisition_date is not None
    from ome_types import to_xml

    assert f'Step="{step!r}"' in _modulo(to_xml(ome))


@requires_bioformats
@pytest.mark.slow
def test_sdt_planes_equal_live_bioformats(tmp_path: Path) -> None:
    pytest.importorskip("sdtfile")
    if not SDT_IMAGE.is_file():
        pytest.skip("corpus missing")
    assert_pixels_equal_bioformats(SDT_IMAGE, tmp_path, channels=1)


def test_sdt_truncated_is_a_clean_error(tmp_path: Path) -> None:
    pytest.importorskip("sdtfile")
    if not SDT_IMAGE.is_file():
        pytest.skip("corpus missing")
    size = SDT_IMAGE.stat().st_size
    assert_truncations_fail_cleanly(SDT_IMAGE, tmp_path, [41, 500, 30_000, size // 2, size - 10])


def test_missing_sdtfile_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from ometiff.readers.sdt import SdtReader

    monkeypatch.setitem(sys.modules, "sdtfile", None)
    with pytest.raises(MissingDependencyError, match=r"ometiff\[sdt\]"):
        SdtReader(SDT_IMAGE)


# --- SPC ---------------------------------------------------------------------------


def test_spc_sniff(tmp_path: Path) -> None:
    from ometiff.readers.spc import SpcReader

    fake = tmp_path / "notes.spc"
    fake.write_bytes(b"plain text, not photons")
    assert SpcReader.can_read(fake) is False
    for path in SPCS:
        assert SpcReader.can_read(path) is True


@requires_bioformats
@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in WITH_IMAGE if p.suffix == ".ptu"], ids=corpus_id)
def test_bioformats_reads_our_flim_conversion(path: Path, tmp_path: Path) -> None:
    """Bio-Formats reads our OME-TIFF with our sizes (T = frames x bins) and pixels.

    PTU only: Bio-Formats cannot read the original, so this is its only check; SDT's
    pixels are compared with Bio-Formats' reading of the original instead (its
    re-encoding of our 512 planes of 512 x 512 takes minutes)."""
    pytest.importorskip(path.suffix[1:] + "file")
    with open_image(path) as rdr:
        expected = summarize_ome(rdr.ome())
    assert_bioformats_reads_our_conversion(path, tmp_path, expected)
