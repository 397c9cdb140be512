"""OME-Zarr reader: NGFF 0.4/0.5 images, labels, plates and bioformats2raw output.

Bio-Formats 7.3.1 (our reference jar) has no OME-Zarr reader, so its view comes
from the files these containers were made from: cluster_5d was written from
nd2/pims/cluster.nd2 and bioformats2raw's METADATA.ome.xml is Bio-Formats' own OME.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bf_expected import assert_like_bioformats, expected_for, summarize_ome
from reader_conformance import check_reader
from tests.conftest import CORPUS, corpus_id

from ometiff.errors import MissingDependencyError, NoSuchPlaneError, OmeTiffError
from ometiff.readers import open_image

zarr = pytest.importorskip("zarr")

BASE = CORPUS / "ome-zarr"
CONTAINERS = sorted(
    p
    for p in (
        [
            *BASE.glob("*/*.ome.zarr"),
            *BASE.glob("*/*/*.ome.zarr"),
            BASE / "viv/bioformats-zarr/data.zarr",
        ]
        if BASE.is_dir()
        else []
    )
    if p.is_dir()
)
CLUSTER_V = [BASE / f"ome-zarr-py-0.18.0/cluster_5d_v0{v}.ome.zarr" for v in (4, 5)]


@pytest.mark.parametrize("path", CONTAINERS, ids=corpus_id)
def test_conformance(path: Path) -> None:
    summary = check_reader(path, reader="ome-zarr")
    assert summary.series >= 1


@pytest.mark.parametrize("path", CONTAINERS, ids=corpus_id)
def test_planes_equal_zarr(path: Path) -> None:
    with open_image(path, reader="ome-zarr") as rdr:
        for im, src in zip(rdr._images, rdr.sources(), strict=True):  # type: ignore[attr-defined]
            whole = np.asarray(im.array[...])
            full = whole.reshape(src.shape)  # every corpus image is in t,c,z,y,x order
            t, c, z = (n - 1 for n in src.shape[:3])
            for plane in {(0, 0, 0), (t, c, z)}:
                np.testing.assert_array_equal(src.get_plane(*plane), full[plane])


@pytest.mark.parametrize("path", CLUSTER_V, ids=lambda p: p.name)
def test_v04_and_v05_agree_with_bioformats_on_the_source_nd2(path: Path) -> None:
    if not path.is_dir():
        pytest.skip("corpus missing")
    with open_image(path) as rdr:
        ours = summarize_ome(rdr.ome())
    bf = expected_for("nd2/pims/cluster.nd2")
    assert bf is not None
    # the omero block written by ome-zarr-py carries no channel labels
    assert_like_bioformats(ours, bf, names=False, where=path.name)


def test_labels_are_not_series() -> None:
    path = BASE / "ome-zarr-py-0.18.0/mosaic_multiscale_labels_v05.ome.zarr"
    if not path.is_dir():
        pytest.skip("corpus missing")
    with open_image(path) as rdr:
        assert len(rdr.sources()) == 1
        assert rdr.sources()[0].shape == (1, 1, 1, 512, 512)
        px = rdr.ome().images[0].pixels
        assert px.physical_size_x == pytest.approx(1.0833333, rel=1e-6)
        assert px.physical_size_z is None  # no z axis: nothing invented (U3)
        assert any("labels" in src for src, _ in rdr.notes.unmapped)


def test_bioformats2raw_uses_metadata_xml() -> None:
    path = BASE / "viv/bioformats-zarr/data.zarr"
    if not path.is_dir():
        pytest.skip("corpus missing")
    for entry in (path, path.parent):  # the container, or the folder holding it
        with open_image(entry) as rdr:
            ome = rdr.ome()
            assert [im.name for im in ome.images] == ["multi-channel.ome.tif"]
            px = ome.images[0].pixels
            assert (px.size_c, px.size_y, px.size_x, px.type.value) == (3, 167, 439, "int8")
            assert not px.tiff_data_blocks


def test_unitless_scale_gives_no_physical_size() -> None:
    path = BASE / "viv/ome-zarr/blobs_image_v04.ome.zarr"
    if not path.is_dir():
        pytest.skip("corpus missing")
    with open_image(path) as rdr:
        px = rdr.ome().images[0].pixels
    assert px.physical_size_x is None  # axis unit "unit" is not a length (U3)
    assert [ch.name for ch in px.channels] == ["0", "1", "2"]


def test_plate_fields_are_series() -> None:
    path = BASE / "ome-zarr-models-py/hcs_example.ome.zarr"
    if not path.is_dir():
        pytest.skip("corpus missing")
    with open_image(path) as rdr:
        sources = rdr.sources()
        assert len(sources) == 1 and sources[0].shape == (1, 1, 2, 2160, 5120)
        assert rdr.ome().images[0].pixels.channels[0].name == "DAPI"


def test_not_a_container(tmp_path: Path) -> None:
    from ometiff.readers.ome_zarr import OmeZarrReader

    (tmp_path / ".zattrs").write_text(json.dumps({"something": 1}))
    assert OmeZarrReader.can_read(tmp_path) is False
    assert OmeZarrReader.can_read(tmp_path / "missing") is False
    with pytest.raises(OmeTiffError, match="not an OME-Zarr"):
        OmeZarrReader(tmp_path)


def test_broken_container_is_a_clean_error(tmp_path: Path) -> None:
    from ometiff.readers.ome_zarr import OmeZarrReader

    attrs = {"multiscales": [{"axes": ["y", "x"], "datasets": [{"path": "0"}]}]}
    (tmp_path / ".zattrs").write_text(json.dumps(attrs))
    (tmp_path / ".zgroup").write_text('{"zarr_format": 2}')
    with pytest.raises(OmeTiffError) as info:
        OmeZarrReader(tmp_path)
    assert str(tmp_path) in str(info.value) and "\n" not in str(info.value)


def test_missing_zarr_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from ometiff.readers.ome_zarr import OmeZarrReader

    monkeypatch.setitem(sys.modules, "zarr", None)
    with pytest.raises(MissingDependencyError, match=r"ometiff\[zarr\]"):
        OmeZarrReader(CLUSTER_V[0])


# --- levels (issue 10), RGB(A), the whole METADATA.ome.xml, plates in OME order ------


@pytest.mark.parametrize("path", CONTAINERS, ids=corpus_id)
def test_every_multiscales_level_is_read(path: Path) -> None:
    """level_shapes/read_plane(level=) follow the multiscales datasets (truth: zarr)."""
    with open_image(path, reader="ome-zarr") as rdr:
        for s in range(rdr.series_count):
            group = rdr.root / rdr._images[s].group  # type: ignore[attr-defined]
            attrs = json.loads(
                next(
                    group / n for n in (".zattrs", "zarr.json") if (group / n).is_file()
                ).read_text()
            )
            attrs = attrs.get("attributes", {}).get("ome", attrs)
            datasets = attrs["multiscales"][0]["datasets"]
            shapes = rdr.level_shapes(s)
            assert len(shapes) == len(datasets)
            for k, ds in enumerate(datasets):
                with warnings.catch_warnings():  # zarr: legacy v2 metadata quirks
                    warnings.simplefilter("ignore")
                    level = zarr.open_array(str(group / ds["path"]), mode="r")
                whole = np.asarray(level[...]).reshape(shapes[k])  # corpus: t,c,z,y,x
                assert shapes[k][3:] == level.shape[-2:]
                last = tuple(n - 1 for n in shapes[k][:3])
                np.testing.assert_array_equal(rdr.read_plane(s, *last, level=k), whole[last])
            with pytest.raises(NoSuchPlaneError, match=f"level {len(datasets)} does not"):
                rdr.read_plane(s, 0, 0, 0, level=len(datasets))
        with pytest.raises(NoSuchPlaneError, match="series"):
            rdr.level_shapes(rdr.series_count)


def test_hcs_example_has_five_levels() -> None:
    path = BASE / "ome-zarr-models-py/hcs_example.ome.zarr"
    if not path.is_dir():
        pytest.skip("corpus missing")
    with open_image(path) as rdr:
        assert [sh[3:] for sh in rdr.level_shapes(0)] == [
            (2160, 5120),
            (1080, 2560),
            (540, 1280),
            (270, 640),
            (135, 320),
        ]
        assert {sh[:3] for sh in rdr.level_shapes(0)} == {(1, 1, 2)}


def _ome(n: int, shape: tuple[int, ...], samples: int, plate: bool) -> Any:
    """An OME with an instrument, an ROI, an annotation and (optionally) a plate whose
    wells run opposite to the Image order (Image:0 in B1, Image:1 in A1...)."""
    from ome_types import model as m

    t, c, z, y, x = shape
    images = []
    for i in range(n):
        chans = [
            m.Channel(id=f"Channel:{i}:{k}", name=f"ch{k}", samples_per_pixel=samples)
            for k in range(c)
        ]
        px = m.Pixels(
            id=f"Pixels:{i}",
            dimension_order="XYZCT",
            type="uint8",
            size_x=x,
            size_y=y,
            size_z=z,
            size_c=c * samples,
            size_t=t,
            channels=chans,
            physical_size_x=0.5,
            physical_size_y=0.5,
        )
        images.append(
            m.Image(
                id=f"Image:{i}",
                name=f"field {i}",
                pixels=px,
                instrument_ref=m.InstrumentRef(id="Instrument:0"),
                roi_refs=[m.ROIRef(id="ROI:0")],
                annotation_refs=[m.AnnotationRef(id="Annotation:0")],
            )
        )
    ome = m.OME(
        images=images,
        instruments=[m.Instrument(id="Instrument:0", microscope=m.Microscope(model="M"))],
        rois=[m.ROI(id="ROI:0", union=[m.Rectangle(id="Shape:0", x=1, y=1, width=2, height=2)])],
        structured_annotations=m.StructuredAnnotations(
            comment_annotations=[m.CommentAnnotation(id="Annotation:0", value="kept")]
        ),
    )
    if plate:
        wells = [
            m.Well(
                id=f"Well:{i}",
                row=n - 1 - i,
                column=0,
                well_samples=[
                    m.WellSample(
                        id=f"WellSample:{i}", index=i, image_ref=m.ImageRef(id=f"Image:{i}")
                    )
                ],
            )
            for i in range(n)
        ]
        ome.plates = [m.Plate(id="Plate:0", name="p", wells=wells)]
    return ome


def _write(
    dest: Path,
    data: list[np.ndarray],
    samples: int,
    plate: bool,
    ngff: str,
    layout: str = "bioformats2raw",
    levels: int = 1,
) -> Any:
    from ometiff.readers.source import SeriesSource
    from ometiff.writer.ngff import write_ngff

    shape = data[0].shape[:5]
    sources = [
        SeriesSource(shape, samples, a.dtype, lambda t, c, z, a=a: a[t, c, z], f"field {i}")
        for i, a in enumerate(data)
    ]
    ome = _ome(len(data), shape, samples, plate)
    write_ngff(
        dest,
        sources,
        ome=ome,
        ngff=ngff,
        layout=layout,  # type: ignore[arg-type]
        pyramid_levels=levels,
    )
    return ome


def _without_storage(ome: Any) -> Any:
    """The OME apart from the Pixels storage and the creator (the writer's name)."""
    out = ome.model_copy(deep=True)
    out.creator = None
    for im in out.images:
        im.pixels.tiff_data_blocks = []
        im.pixels.metadata_only = None
    return out


NGFF = ["0.4", "0.5"]


@pytest.mark.parametrize("ngff", NGFF)
@pytest.mark.parametrize("samples", [3, 4])
def test_rgb_channel_comes_back_with_its_samples(tmp_path: Path, ngff: str, samples: int) -> None:
    """An RGB(A) channel is stored as 3 (4) Zarr channels and read back as one (R2)."""
    rng = np.random.default_rng(5)
    data = rng.integers(0, 256, (1, 2, 2, 40, 56, samples), dtype=np.uint8)
    ome = _write(tmp_path / "rgb.ome.zarr", [data], samples, False, ngff, levels=1)
    with open_image(tmp_path / "rgb.ome.zarr") as rdr:
        (src,) = rdr.sources()
        assert (src.shape, src.samples) == ((1, 2, 2, 40, 56), samples)
        for c in range(2):
            np.testing.assert_array_equal(src.get_plane(0, c, 1), data[0, c, 1])
        assert rdr.level_shapes(0) == [(1, 2, 2, 40, 56), (1, 2, 2, 20, 28)]
        assert rdr.read_plane(0, 0, 1, 0, level=1).shape == (20, 28, samples)
        back = rdr.ome()
    px = back.images[0].pixels
    assert [(ch.name, ch.samples_per_pixel) for ch in px.channels] == [
        ("ch0", samples),
        ("ch1", samples),
    ]
    assert px.size_c == 2 * samples
    assert _without_storage(back) == _without_storage(ome)


@pytest.mark.parametrize("ngff", NGFF)
def test_whole_ome_document_is_kept(tmp_path: Path, ngff: str) -> None:
    """Instruments, ROIs, annotations: nothing of METADATA.ome.xml is dropped."""
    data = [np.arange(2 * 3 * 16 * 24, dtype=np.uint8).reshape(1, 2, 3, 16, 24)] * 2
    ome = _write(tmp_path / "x.ome.zarr", data, 1, False, ngff)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Reference to unknown ID"
        with open_image(tmp_path / "x.ome.zarr") as rdr:
            back = rdr.ome()
            sources = rdr.sources()
    assert _without_storage(back) == _without_storage(ome)
    assert back.instruments[0].microscope.model == "M"
    assert back.rois[0].id == "ROI:0"
    assert [s.name for s in sources] == ["field 0", "field 1"]


@pytest.mark.parametrize("ngff", NGFF)
def test_image_layout_keeps_its_metadata_xml(tmp_path: Path, ngff: str) -> None:
    data = [np.arange(16 * 24, dtype=np.uint8).reshape(1, 1, 1, 16, 24)]
    ome = _write(tmp_path / "x.ome.zarr", data, 1, False, ngff, layout="image")
    with open_image(tmp_path / "x.ome.zarr") as rdr:
        assert _without_storage(rdr.ome()) == _without_storage(ome)


@pytest.mark.parametrize("ngff", NGFF)
@pytest.mark.parametrize("series_list", [True, False], ids=["OME-series", "plate-refs"])
def test_plate_series_follow_the_ome_images(tmp_path: Path, ngff: str, series_list: bool) -> None:
    """Image:0 sits in the last well: series stay in OME order, from the OME group's
    ``series`` list or (without it, as older bioformats2raw writes) from the OME Plate's
    WellSample ImageRefs paired with the NGFF wells."""
    out = tmp_path / "plate.ome.zarr"
    data = [np.full((1, 1, 1, 8, 12), i, dtype=np.uint8) for i in range(3)]
    ome = _write(out, data, 1, True, ngff)
    assert (out / "C/1/0").is_dir() and (out / "A/1/0").is_dir()  # Image:0 is in C1
    if not series_list:
        name = ".zattrs" if ngff == "0.4" else "zarr.json"
        doc = json.loads((out / "OME" / name).read_text())
        (doc if ngff == "0.4" else doc["attributes"]["ome"]).pop("series")
        (out / "OME" / name).write_text(json.dumps(doc))
    with open_image(out) as rdr:
        assert [int(s.get_plane(0, 0, 0)[0, 0]) for s in rdr.sources()] == [0, 1, 2]
        assert [im.group for im in rdr._images] == ["C/1/0", "B/1/0", "A/1/0"]  # type: ignore[attr-defined]
        assert _without_storage(rdr.ome()) == _without_storage(ome)


def test_plate_not_matching_the_ome_is_read_in_plate_order(tmp_path: Path) -> None:
    out = tmp_path / "plate.ome.zarr"
    data = [np.full((1, 1, 1, 8, 12), i, dtype=np.uint8) for i in range(2)]
    _write(out, data, 1, True, "0.4")
    doc = json.loads((out / "OME" / ".zattrs").read_text())
    doc.pop("series")
    (out / "OME" / ".zattrs").write_text(json.dumps(doc))
    xml = (out / "OME" / "METADATA.ome.xml").read_text()
    xml = xml.replace('<WellSample ID="WellSample:1"', '<WellSample ID="WellSample:9"')
    (out / "OME" / "METADATA.ome.xml").write_text(xml.replace('<ImageRef ID="Image:1"/>', "", 1))
    with open_image(out) as rdr:
        assert [im.group for im in rdr._images] == ["A/1/0", "B/1/0"]  # type: ignore[attr-defined]
        assert any("do not match the NGFF plate" in why for _, why in rdr.notes.unmapped)


def test_group_path_leaving_the_container_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "x.ome.zarr"
    _write(out, [np.zeros((1, 1, 1, 8, 8), np.uint8)], 1, False, "0.4")
    (out / "OME" / ".zattrs").write_text(json.dumps({"series": ["../elsewhere"]}))
    with pytest.raises(OmeTiffError, match="leaves the container"):
        open_image(out)


@pytest.mark.parametrize(
    ("old", "new"),
    [('SizeC="6"', 'SizeC="5"'), ('SamplesPerPixel="3"', 'SamplesPerPixel="1"')],
    ids=["SizeC", "mixed-SamplesPerPixel"],
)
def test_pixels_not_matching_the_array_are_rebuilt(tmp_path: Path, old: str, new: str) -> None:
    """A Pixels of METADATA.ome.xml that does not describe its array is rebuilt from
    NGFF (noted); the rest of the document stays."""
    out = tmp_path / "x.ome.zarr"
    _write(out, [np.zeros((1, 2, 1, 8, 12, 3), np.uint8)], 3, False, "0.4")  # 2 "RGB" channels
    xml = (out / "OME" / "METADATA.ome.xml").read_text()
    (out / "OME" / "METADATA.ome.xml").write_text(xml.replace(old, new, 1))
    with open_image(out) as rdr:
        (src,) = rdr.sources()
        assert (src.shape, src.samples) == ((1, 6, 1, 8, 12), 1)
        ome = rdr.ome()
    px = ome.images[0].pixels
    assert (px.id, px.size_c, len(px.channels)) == ("Pixels:0", 6, 6)
    assert ome.instruments and ome.rois and ome.images[0].name == "field 0"
    assert any("differ from the Zarr arrays" in why for _, why in rdr.notes.unmapped)


def test_metadata_xml_with_other_image_count_is_not_used(tmp_path: Path) -> None:
    out = tmp_path / "x.ome.zarr"
    _write(out, [np.zeros((1, 1, 1, 8, 12), np.uint8)] * 2, 1, False, "0.5")
    doc = json.loads((out / "OME" / "zarr.json").read_text())
    doc["attributes"]["ome"]["series"] = ["1"]
    (out / "OME" / "zarr.json").write_text(json.dumps(doc))
    with open_image(out) as rdr:
        ome = rdr.ome()
    assert len(ome.images) == 1 and not ome.instruments
    assert any("2 Image(s) for 1 Zarr image(s)" in why for _, why in rdr.notes.unmapped)
