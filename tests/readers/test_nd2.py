"""Nikon ND2 reader: every corpus file against Bio-Formats and the nd2 library."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from bf_expected import (
    assert_bioformats_pixels_equal_source,
    assert_every_file_recorded,
    assert_like_bioformats,
    expected_for,
    summarize_ome,
)
from reader_conformance import check_reader
from tests.bioformats import requires_bioformats
from tests.conftest import CORPUS, corpus_files, corpus_id

from ometiff.errors import MissingDependencyError, OmeTiffError
from ometiff.readers import open_image

nd2 = pytest.importorskip("nd2")

ND2S = corpus_files("nd2/**/*.nd2")
#: cluster.nd2 has a committed bfconvert output (below); the live check runs on one
#: other file by default and on every file with --run-slow.
PIXEL_PARAMS = [
    pytest.param(
        p,
        id=corpus_id(p),
        marks=() if p.name == "example-multichannel.nd2" else pytest.mark.slow,
    )
    for p in ND2S
]
CLUSTER = CORPUS / "nd2/pims/cluster.nd2"
CLUSTER_BF = CORPUS / "ome-tiff/bioformats-7.3.1/cluster_from_nd2.ome.tif"


def test_every_nd2_is_tested_and_recorded() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus missing")
    assert_every_file_recorded("nd2", [corpus_id(p) for p in ND2S])


@pytest.mark.parametrize("path", ND2S, ids=corpus_id)
def test_conformance_and_bioformats_agreement(path: Path) -> None:
    summary = check_reader(path, reader="nd2", every_plane=True)
    bf = expected_for(corpus_id(path))
    assert bf is not None, "run scripts/record_bioformats.py nd2"
    assert_like_bioformats(summarize_ome(summary.ome), bf, where=corpus_id(path))


@pytest.mark.parametrize("path", ND2S, ids=corpus_id)
def test_planes_equal_nd2_library(path: Path) -> None:
    with open_image(path) as rdr, nd2.ND2File(path) as f:
        # nd2 leaves out absent loops ({"C": 2, "Y", "X"} gives (C, Y, X)): index
        # its array by its own dimension names, never by a fixed (T, Z, C) layout
        whole = f.asarray()  # small corpus files
        dims = list(f.sizes)
        assert whole.shape == tuple(f.sizes.values())
        assert set(dims) <= {"P", "T", "Z", "C", "Y", "X", "S"}, dims
        for p, src in enumerate(rdr.sources()):
            t_n, c_n, z_n = src.shape[:3]
            for t in range(t_n):
                for c in range(c_n):
                    for z in range(z_n):
                        at = {"P": p, "T": t, "C": c, "Z": z}
                        want = whole[tuple(at.get(d, slice(None)) for d in dims)]
                        plane = src.get_plane(t, c, z)
                        assert plane.shape == want.shape, (t, c, z)
                        np.testing.assert_array_equal(plane, want, err_msg=f"{(t, c, z)}")


@requires_bioformats
@pytest.mark.parametrize("path", PIXEL_PARAMS)
def test_planes_equal_live_bioformats(path: Path, tmp_path: Path) -> None:
    """Every plane equals Bio-Formats' decoding of the original (bfconvert)."""
    assert_bioformats_pixels_equal_source(path, path, tmp_path)


def test_pixels_equal_bioformats_conversion() -> None:
    if not CLUSTER_BF.is_file():
        pytest.skip("corpus missing")
    with open_image(CLUSTER) as rdr, tifffile.TiffFile(CLUSTER_BF) as bf:
        src = rdr.sources()[0]
        ref = bf.series[0].asarray()  # TZCYX
        for t, z, c in [(0, 0, 0), (1, 4, 1), (2, 9, 1)]:
            np.testing.assert_array_equal(src.get_plane(t, c, z), ref[t, z, c])


def test_metadata_mapping() -> None:
    if not CLUSTER.is_file():
        pytest.skip("corpus missing")
    with open_image(CLUSTER) as rdr:
        ome = rdr.ome()
        meta = rdr.original_metadata()
    px = ome.images[0].pixels
    assert [ch.name for ch in px.channels] == ["5-FAM/pH 9.0", "FM 4-64/2% CHAPS"]
    assert [ch.excitation_wavelength for ch in px.channels] == [488.0, 561.0]
    assert [ch.emission_wavelength for ch in px.channels] == [525.0, 700.0]
    assert px.channels[0].color is not None
    assert len(px.planes) == 60 and all(p.delta_t is not None for p in px.planes)
    assert px.planes[0].position_x is not None
    assert ome.instruments[0].objectives[0].lens_na == pytest.approx(0.95)
    assert ome.images[0].acquisition_date is not None
    assert not px.metadata_only and not px.tiff_data_blocks  # the writer adds storage
    assert any(k.startswith("text_info") for k in meta)


def test_truncated_file_is_a_clean_error(tmp_path: Path) -> None:
    if not CLUSTER.is_file():
        pytest.skip("corpus missing")
    data = CLUSTER.read_bytes()
    for n in (100, len(data) // 2):
        bad = tmp_path / f"cut{n}.nd2"
        bad.write_bytes(data[:n])
        with pytest.raises(OmeTiffError) as info:
            with open_image(bad) as rdr:
                rdr.ome_view()
                rdr.sources()[0].get_plane(0, 0, 0)
        assert str(bad) in str(info.value) and "\n" not in str(info.value)


def test_not_an_nd2(tmp_path: Path) -> None:
    from ometiff.readers.nd2 import Nd2Reader

    fake = tmp_path / "fake.nd2"
    fake.write_bytes(b"just text")
    assert Nd2Reader.can_read(fake) is False
    with pytest.raises(OmeTiffError, match="not a Nikon ND2"):
        Nd2Reader(fake)


def test_missing_nd2_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from ometiff.readers.nd2 import Nd2Reader

    monkeypatch.setitem(sys.modules, "nd2", None)
    with pytest.raises(MissingDependencyError, match=r"ometiff\[nd2\]"):
        Nd2Reader(CLUSTER)


def _in(value: float | None, unit: object, scale: dict[str, float]) -> float | None:
    """A quantity in the base unit of ``scale`` (s or µm)."""
    if value is None:
        return None
    return value * scale[getattr(unit, "value", str(unit))]


_S = {"s": 1.0, "ms": 1e-3}
_UM = {"µm": 1.0}


@pytest.mark.parametrize("path", ND2S, ids=corpus_id)
def test_ome_keeps_what_nd2s_own_mapping_gives(path: Path) -> None:
    """ometiff's ND2 mapping (built without ome_types) against ``ome_metadata()``, the
    nd2 library's own OME, field by field. Deliberate differences: times in s (nd2: ms,
    rounded), IDs ``Channel:<image>:<c>``/``Objective:0:0`` (unique per image, as
    Bio-Formats), no units without a value, and PositionZ from the stage reading of each
    frame where the file recorded one (``Z Coord``; nd2 repeats one position for every
    plane of a Z stack)."""
    with open_image(path) as rdr, nd2.ND2File(path) as f:
        ours = rdr.ome()
        theirs = f.ome_metadata(include_unstructured=False)
        events = {row["Index"]: row for row in f.events() if "Index" in row}
        frame_of = {
            (i.get("P", 0), i.get("T", 0), i.get("Z", 0)): k for k, i in enumerate(f.loop_indices)
        }
    assert len(ours.images) == len(theirs.images) >= 1
    inst_a, inst_b = ours.instruments[0], theirs.instruments[0]
    assert {(d.model, d.serial_number) for d in inst_a.detectors} == {
        (d.model, d.serial_number) for d in inst_b.detectors
    }
    obj = ("model", "lens_na", "nominal_magnification")
    assert [[getattr(o, k) for k in obj] for o in inst_a.objectives] == [
        [getattr(o, k) for k in obj] for o in inst_b.objectives
    ]
    for p, (a, b) in enumerate(zip(ours.images, theirs.images, strict=True)):
        assert a.name == b.name
        assert a.acquisition_date == b.acquisition_date  # the same instant
        assert a.objective_settings is not None and b.objective_settings is not None
        assert a.objective_settings.refractive_index == b.objective_settings.refractive_index
        pa, pb = a.pixels, b.pixels
        for key in (
            "dimension_order",
            "type",
            "significant_bits",
            "size_x",
            "size_y",
            "size_z",
            "size_c",
            "size_t",
            "physical_size_x",
            "physical_size_x_unit",
            "physical_size_y",
            "physical_size_y_unit",
            "physical_size_z",
        ):
            assert getattr(pa, key) == getattr(pb, key), key
        assert len(pa.channels) == len(pb.channels)
        for ca, cb in zip(pa.channels, pb.channels, strict=True):
            for key in (
                "name",
                "color",
                "excitation_wavelength",
                "emission_wavelength",
                "pinhole_size",
                "illumination_type",
                "acquisition_mode",
                "contrast_method",
                "samples_per_pixel",
            ):
                assert getattr(ca, key) == getattr(cb, key), key
        assert [(q.the_t, q.the_c, q.the_z) for q in pa.planes] == [
            (q.the_t, q.the_c, q.the_z) for q in pb.planes
        ]
        for qa, qb in zip(pa.planes, pb.planes, strict=True):
            where = (qa.the_t, qa.the_c, qa.the_z)
            assert _in(qa.delta_t, qa.delta_t_unit, _S) == pytest.approx(
                _in(qb.delta_t, qb.delta_t_unit, _S), abs=1e-9
            ), where
            assert _in(qa.exposure_time, qa.exposure_time_unit, _S) == pytest.approx(
                _in(qb.exposure_time, qb.exposure_time_unit, _S), rel=1e-12
            ), where
            for axis in "xy":
                assert _in(
                    getattr(qa, f"position_{axis}"), getattr(qa, f"position_{axis}_unit"), _UM
                ) == pytest.approx(getattr(qb, f"position_{axis}"), abs=1e-6)
            row = events.get(frame_of[(p, qa.the_t, qa.the_z)], {})
            recorded = row.get("Z Coord [µm]")
            want = recorded if recorded else qb.position_z
            assert qa.position_z == pytest.approx(want, abs=1e-6), where


def test_z_stack_planes_carry_their_stage_z() -> None:
    """Each plane of a Z stack is at its own recorded Z (as Bio-Formats reads it), one
    Z step (PhysicalSizeZ) apart, not at one position repeated."""
    path = CORPUS / "nd2/arcadia-microscopy-tools/example-zstack.nd2"
    if not path.is_file():
        pytest.skip("corpus missing")
    with open_image(path) as rdr:
        px = rdr.ome().images[0].pixels
    zs = [q.position_z for q in sorted(px.planes, key=lambda q: q.the_z)]
    assert len(zs) == px.size_z == 11
    assert px.physical_size_z == 6.0
    assert np.diff(zs) == pytest.approx([6.0] * 10)
    # Bio-Formats 7.3.1 (ImageInfo -omexml) reports the first plane at this Z
    assert zs[0] == pytest.approx(8806.58)


def test_plane_metadata_like_bioformats() -> None:
    """Exposure, stage X/Y, colours, wavelengths and objective as Bio-Formats recorded
    them for cluster.nd2 (its OME-XML in the corpus); DeltaT per frame (Bio-Formats
    7.3.1 repeats every other frame time on this file, so only the first is compared)."""
    from ome_types import from_xml

    bf_xml = CORPUS / "ome-xml/bioformats-7.3.1/cluster_from_nd2.ome.xml"
    if not (bf_xml.is_file() and CLUSTER.is_file()):
        pytest.skip("corpus missing")
    bf = from_xml(bf_xml.read_text(encoding="utf-8"))
    with open_image(CLUSTER) as rdr:
        ours = rdr.ome()
    a, b = ours.images[0].pixels, bf.images[0].pixels
    assert a.significant_bits == b.significant_bits == 12
    for ca, cb in zip(a.channels, b.channels, strict=True):
        assert (ca.name, ca.color, ca.emission_wavelength) == (
            cb.name,
            cb.color,
            cb.emission_wavelength,
        )
    planes_b = {(q.the_t, q.the_c, q.the_z): q for q in b.planes}
    for q in a.planes:
        r = planes_b[(q.the_t, q.the_c, q.the_z)]
        assert q.exposure_time == pytest.approx(r.exposure_time)
        assert q.exposure_time_unit == r.exposure_time_unit
        assert (q.position_x, q.position_y) == pytest.approx((r.position_x, r.position_y))
    first = min(a.planes, key=lambda q: (q.the_t, q.the_z, q.the_c))
    assert first.delta_t == pytest.approx(planes_b[(0, 0, 0)].delta_t)
    obj_a, obj_b = ours.instruments[0].objectives[0], bf.instruments[0].objectives[0]
    assert (obj_a.model, obj_a.lens_na) == (obj_b.model, obj_b.lens_na)
    ref_a = ours.images[0].objective_settings
    ref_b = bf.images[0].objective_settings
    assert ref_a is not None and ref_b is not None
    assert ref_a.refractive_index == ref_b.refractive_index


def test_import_nd2_needs_no_ome_types() -> None:
    """``import nd2`` itself imports neither ome_types nor pydantic (start-up)."""
    import subprocess

    code = (
        "import sys, nd2\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'ome_types', 'pydantic'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


def _fake_nd2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An ND2 with two XY positions and an extra (unknown, ``U``) loop, which the corpus
    lacks: the nd2 library cannot write ND2, so ``ND2File`` is replaced by a stand-in
    that answers the metadata API the reader uses, frame k holding the value k."""
    from types import SimpleNamespace as NS

    order = [(t, p, u) for t in range(2) for p in range(2) for u in range(3)]  # T, P, U
    point = NS(name="well A1"), NS(name="")
    channel = NS(
        channel=NS(
            name="GFP",
            color=NS(r=0, g=255, b=0, a=1.0),
            emissionLambdaNm=510.0,
            excitationLambdaNm=None,
        ),
        microscope=NS(
            modalityFlags=["fluorescence"],
            pinholeDiameterUm=None,
            objectiveName="Plan 10x",
            objectiveNumericalAperture=0.3,
            objectiveMagnification=10.0,
            immersionRefractiveIndex=1.0,
        ),
        volume=NS(axesCalibrated=(True, True, False), axesCalibration=(0.5, 0.5, 1.0)),
    )

    class FakeND2File:
        def __init__(self, path: object) -> None:
            self.sizes = {"T": 2, "P": 2, "U": 3, "Y": 4, "X": 5}
            self.loop_indices = tuple({"T": t, "P": p, "U": u} for t, p, u in order)
            self.dtype = np.dtype("uint16")
            self.is_legacy = self.is_rgb = False
            self.version = (3, 0)
            self.experiment = [
                NS(type="TimeLoop"),
                NS(type="XYPosLoop", parameters=NS(points=point)),
            ]
            self.metadata = NS(channels=[channel])
            self.attributes = NS(bitsPerComponentSignificant=12)

        def unstructured_metadata(self, include: set[str], strip_prefix: bool) -> dict:
            return {
                "ImageMetadataSeqLV|0": {
                    "SLxPictureMetadata": {
                        "dTimeAbsolute": 2460000.5,
                        "sPicturePlanes": {"sSampleSetting": {"a0": {"dExposureTime": 20.0}}},
                    }
                }
            }

        def events(self, orient: str) -> list[dict]:
            rows: list[dict] = [{"Time [s]": 0.0, "Events": "start"}]  # no frame index
            for k, (_t, p, _u) in enumerate(order):
                rows.append(
                    {
                        "Index": k,
                        "Time [s]": 0.5 * k,
                        "X Coord [µm]": 100.0 * p + k,
                        "Y Coord [µm]": -1.0 - k,
                    }
                )
            return rows

        def frame_metadata(self, k: int) -> NS:
            p = order[k][1]
            return NS(channels=[NS(position=NS(stagePositionUm=NS(x=0.0, y=0.0, z=7.0 + p)))])

        def read_frame(self, k: int) -> np.ndarray:
            return np.full((4, 5), k, np.uint16)

        def close(self) -> None:
            pass

    monkeypatch.setattr(nd2, "ND2File", FakeND2File)
    path = tmp_path / "fake.nd2"
    path.write_bytes(b"\xda\xce\xbe\x0a" + bytes(1020))  # room for its 12 frames
    return path


def test_positions_and_folded_loops(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each XY position is a series named by its point (else the file), an unknown loop
    is folded into T after T, and every plane keeps its own frame's time and stage
    coordinates; the conversion writes and verifies it without ome_types."""
    import ometiff
    from ometiff.readers.nd2 import Nd2Reader

    path = _fake_nd2(monkeypatch, tmp_path)
    with Nd2Reader(path) as rdr:
        view = rdr.ome_view()
        ome = rdr.ome()
        sources = rdr.sources()
        planes = [src.get_plane(t, 0, 0)[0, 0] for src in sources for t in range(6)]
    assert [im.name for im in ome.images] == ["well A1", "fake (Series 1)"]
    assert [s.shape for s in sources] == [(6, 1, 1, 4, 5)] * 2
    # frame k = (T, P, U) in that nesting: position p, folded t = T * 3 + U
    assert planes == [0, 1, 2, 6, 7, 8, 3, 4, 5, 9, 10, 11]
    for p, image in enumerate(ome.images):
        px = image.pixels
        assert (px.dimension_order.value, px.size_t, px.physical_size_x) == ("XYCZT", 6, 0.5)
        assert px.physical_size_z is None  # not calibrated, no Z loop (W3)
        assert px.channels[0].id == f"Channel:{p}:0"
        assert px.channels[0].color.as_rgb_tuple() == (0, 255, 0)
        by_t = {q.the_t: q for q in px.planes}
        assert sorted(by_t) == list(range(6))
        for t, q in by_t.items():
            k = (t // 3) * 6 + p * 3 + t % 3
            assert (q.delta_t, q.position_x, q.position_y) == (0.5 * k, 100.0 * p + k, -1.0 - k)
            assert (q.position_z, q.exposure_time) == (7.0 + p, 0.02)
    assert image.acquisition_date is not None and image.acquisition_date.year == 2023
    assert len(view.images) == 2
    result = ometiff.convert(path, tmp_path / "out.ome.tif")  # verified: every plane
    assert result.planes_written == 12
    written = ometiff.read_ome(result[0])
    assert [im.name for im in written.images] == ["well A1", "fake (Series 1)"]
    assert [q.position_x for q in written.images[1].pixels.planes] == [
        q.position_x for q in ome.images[1].pixels.planes
    ]


def test_more_frames_than_bytes_is_refused_before_nd2_lists_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A header declaring billions of frames: nd2 would enumerate every loop index."""
    from ometiff.readers.nd2 import Nd2Reader

    path = _fake_nd2(monkeypatch, tmp_path)
    fake = nd2.ND2File

    class Huge(fake):  # type: ignore[misc, valid-type]
        def __init__(self, p: object) -> None:
            super().__init__(p)
            self.sizes = {"T": 100000, "P": 100000, "Y": 4, "X": 5}

        @property
        def loop_indices(self) -> object:
            raise AssertionError("listed the frames")

        @loop_indices.setter
        def loop_indices(self, value: object) -> None:
            pass

    monkeypatch.setattr(nd2, "ND2File", Huge)
    with pytest.raises(OmeTiffError, match=r"declares 10000000000 frames .* hold at most 64"):
        Nd2Reader(path)


def test_frame_over_the_memory_budget(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from ometiff.readers.decode import memory_budget
    from ometiff.readers.nd2 import Nd2Reader

    path = _fake_nd2(monkeypatch, tmp_path)
    with Nd2Reader(path) as rdr, memory_budget(16):
        with pytest.raises(OmeTiffError, match=r"ND2 frame .* more than the memory budget"):
            rdr.sources()[0].get_plane(0, 0, 0)
