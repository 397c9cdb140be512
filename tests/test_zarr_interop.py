"""Other readers read ometiff's OME-Zarr: ome-zarr-py, ome-zarr-models, bioio-ome-zarr, ours.

What a reader cannot read, and why (recorded here, asserted below):

- ome-zarr-py's ``Reader`` and bioio-ome-zarr do not descend from a bioformats2raw
  root (bioio says so: "This layout describes multiple image series ... BioIO does
  *not* support reading stores using this format"); both read each series group
  (``out.ome.zarr/0``) and ``layout="image"`` outputs, as for bioformats2raw's
  own output.
- ome-zarr-models' ``open_ome_zarr`` does not try the 0.5 bioformats2raw model;
  the model class itself (``v05.bioformats2raw.BioFormats2Raw``) validates it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import ometiff

pytest.importorskip("zarr")

PHYS = {"X": 0.25, "Y": 0.3, "Z": 1.5}
NAMES = ["DAPI", "GFP"]


def _data() -> np.ndarray:
    return np.random.default_rng(5).integers(0, 3000, (2, 2, 3, 260, 300)).astype(np.uint16)


@pytest.fixture(params=["0.4", "0.5"])
def output(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str, np.ndarray]:
    data = _data()
    src = tmp_path / "in.ome.tif"
    ometiff.write(src, data, physical_size=PHYS, time_increment=0.5, channel_names=NAMES)
    out = tmp_path / "out.ome.zarr"
    ometiff.convert(src, out, ngff=request.param, pyramid=2)
    return out, request.param, data


def test_ome_zarr_py_reads_axes_scales_channels(output: tuple[Path, str, np.ndarray]) -> None:
    pytest.importorskip("ome_zarr")
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    out, _, data = output
    nodes = list(Reader(parse_url(str(out / "0")))())
    assert len(nodes) == 1
    md = nodes[0].metadata
    assert [a["name"] for a in md["axes"]] == list("tczyx")
    assert [a.get("unit") for a in md["axes"]] == [
        "second",
        None,
        "micrometer",
        "micrometer",
        "micrometer",
    ]
    scales = [t[0]["scale"] for t in md["coordinateTransformations"]]
    assert scales == [
        [0.5, 1.0, 1.5, 0.3, 0.25],
        [0.5, 1.0, 1.5, 0.6, 0.5],
        [0.5, 1.0, 1.5, 1.2, 1.0],
    ]
    assert md["channel_names"] == NAMES
    levels = nodes[0].data
    assert [tuple(d.shape) for d in levels] == [data.shape, (2, 2, 3, 130, 150), (2, 2, 3, 65, 75)]
    np.testing.assert_array_equal(np.asarray(levels[0]), data)


def test_ome_zarr_models_validates(output: tuple[Path, str, np.ndarray]) -> None:
    pytest.importorskip("ome_zarr_models")
    import zarr

    out, version, _ = output
    if version == "0.4":
        from ome_zarr_models.v04.bioformats2raw import BioFormats2Raw
        from ome_zarr_models.v04.image import Image
    else:
        from ome_zarr_models.v05.bioformats2raw import BioFormats2Raw  # type: ignore[assignment]
        from ome_zarr_models.v05.image import Image  # type: ignore[assignment]
    BioFormats2Raw.from_zarr(zarr.open_group(out, mode="r"))
    image = Image.from_zarr(zarr.open_group(out / "0", mode="r"))
    attrs = image.attributes if version == "0.4" else image.ome_attributes  # type: ignore[union-attr]
    assert len(attrs.multiscales[0].datasets) == 3


def test_ome_zarr_models_validates_plate_and_image_layouts(tmp_path: Path) -> None:
    pytest.importorskip("ome_zarr_models")
    import zarr
    from ome_zarr_models import open_ome_zarr

    from test_zarr_write import _plate_ome

    for version in ("0.4", "0.5"):
        plate = tmp_path / f"plate{version}.ome.zarr"
        ometiff.write(plate, [np.zeros((24, 32), np.uint8)] * 3, ome=_plate_ome(3), ngff=version)
        with warnings.catch_warnings():
            # ome-zarr-models asks for a version inside "plate"; NGFF 0.5 keeps it in "ome"
            warnings.filterwarnings("ignore", "'version' field not specified")
            hcs = open_ome_zarr(zarr.open_group(plate, mode="r"), version=version)  # type: ignore[arg-type]
        assert type(hcs).__name__ == "HCS"
        one = tmp_path / f"one{version}.ome.zarr"
        ometiff.write(one, _data()[0], axes="CZYX", layout="image", ngff=version, pyramid_levels=1)
        assert type(open_ome_zarr(zarr.open_group(one, mode="r"))).__name__ == "Image"


def test_bioio_reads_05(tmp_path: Path) -> None:
    pytest.importorskip("bioio")
    bioio_ome_zarr = pytest.importorskip("bioio_ome_zarr")
    from bioio import BioImage

    data = _data()
    for layout, where in (("bioformats2raw", "0"), ("image", "")):
        out = tmp_path / f"{layout}.ome.zarr"
        ometiff.write(
            out,
            data,
            physical_size=PHYS,
            channel_names=NAMES,
            layout=layout,  # type: ignore[arg-type]
            pyramid_levels=1,
            shards=True,
            chunks=128,
        )
        img = BioImage(out / where if where else out, reader=bioio_ome_zarr.Reader)
        assert img.dims.order == "TCZYX" and img.shape == data.shape
        assert img.channel_names == NAMES
        pps = img.physical_pixel_sizes
        assert (pps.Z, pps.Y, pps.X) == (1.5, 0.3, 0.25)
        assert len(img.resolution_levels) == 2
        np.testing.assert_array_equal(img.get_image_data("TCZYX"), data)


def test_our_reader_reads_it_back(output: tuple[Path, str, np.ndarray]) -> None:
    from ometiff.readers import open_image

    out, _, data = output
    with open_image(out) as rdr:
        assert rdr.name == "ome-zarr"
        (src,) = rdr.sources()
        got = np.stack(
            [
                np.stack([np.stack([src.get_plane(t, c, z) for z in range(3)]) for c in range(2)])
                for t in range(2)
            ]
        )
        np.testing.assert_array_equal(got, data)
        px = rdr.ome().images[0].pixels
        assert (px.physical_size_x, px.physical_size_y, px.physical_size_z) == (0.25, 0.3, 1.5)
        assert [c.name for c in px.channels] == NAMES
        assert px.time_increment == 0.5
