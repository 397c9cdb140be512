"""Bug 5: Bio-Formats' RGB JPEG pyramids (``bfconvert -compression JPEG``).

Their IFDs say Compression 7, Photometric YCbCr, PlanarConfiguration 2 and carry
no YCbCrSubsampling tag; every tile is a one-component JPEG of one sample plane,
stored without colour conversion. tifffile refuses them ("chroma subsampling not
supported"), so convert, show and ``info --stats`` failed while validate passed.
:func:`write_bf_jpeg_pyramid` makes the same layout without Java; the pixels
expected are the tiles decoded one by one, as Bio-Formats reads them.
"""

from __future__ import annotations

import json
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile
from PIL import Image

import ometiff
from bioformats import bfconvert, requires_bioformats
from conftest import CORPUS, requires_corpus
from ometiff.cli.main import main
from ometiff.readers.ome_tiff import OmeTiffReader
from ometiff.render.png import channel_stats

RNG = np.random.default_rng(5)
TILE = 64
OME = """<?xml version="1.0" encoding="UTF-8"?>
<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" Creator="test">
<Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYCZT" Type="uint8"
 SizeX="{x}" SizeY="{y}" SizeZ="{z}" SizeC="3" SizeT="1">
<Channel ID="Channel:0:0" SamplesPerPixel="3"/>
{tiffdata}</Pixels></Image></OME>"""


def _encode(img: np.ndarray) -> tuple[list[bytes], np.ndarray]:
    """One-component JPEG tiles of each sample plane, and their decoded pixels (Y, X, S)."""
    height, width, samples = img.shape
    tiles, decoded = [], np.zeros_like(img)
    for s in range(samples):
        for y in range(0, height, TILE):
            for x in range(0, width, TILE):
                part = img[y : y + TILE, x : x + TILE, s]
                block = np.zeros((TILE, TILE), np.uint8)
                block[: part.shape[0], : part.shape[1]] = part
                data = imagecodecs.jpeg8_encode(block, level=80)
                tiles.append(data)
                back = imagecodecs.jpeg8_decode(data)
                assert back.ndim == 2  # one component
                decoded[y : y + TILE, x : x + TILE, s] = back[: part.shape[0], : part.shape[1]]
    return tiles, decoded


def write_bf_jpeg_pyramid(path: Path, planes: np.ndarray) -> list[np.ndarray]:
    """Write ``planes`` (Z, Y, X, 3) like bfconvert's JPEG pyramid (one SubIFD level).

    Returns the expected pixels per level, each (Z, Y, X, 3).
    """
    size_z, height, width, _ = planes.shape
    tiffdata = "".join(
        f'<TiffData FirstZ="{z}" IFD="{z}" PlaneCount="1"/>\n' for z in range(size_z)
    )
    xml = OME.format(x=width, y=height, z=size_z, tiffdata=tiffdata)
    expected: list[list[np.ndarray]] = [[], []]
    with tifffile.TiffWriter(path) as tw:
        for z in range(size_z):
            for level, img in enumerate((planes[z], planes[z, ::2, ::2])):
                tiles, decoded = _encode(img)
                expected[level].append(decoded)
                tw.write(
                    iter(tiles),
                    shape=(3, *img.shape[:2]),
                    dtype=np.uint8,
                    tile=(TILE, TILE),
                    compression=7,
                    photometric="rgb",
                    planarconfig="separate",
                    metadata=None,
                    description=xml if z == level == 0 else None,
                    **({"subifds": 1} if level == 0 else {"subfiletype": 1}),
                )
    with tifffile.TiffFile(path, mode="r+b") as tf:
        for page in tf.pages:
            for p in (page, *tifffile.TiffPages(page)):
                p.tags[262].overwrite(6)  # Photometric YCbCr, as Bio-Formats writes it
    return [np.stack(e) for e in expected]


@pytest.fixture(scope="module")
def bf_jpeg(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    path = tmp_path_factory.mktemp("jpeg") / "bf_jpeg.ome.tif"
    y, x = np.mgrid[0:150, 0:130]
    smooth = np.stack([x * 1.7, y * 1.5, (x + y) * 0.8], -1) % 256
    planes = np.stack([smooth, 255 - smooth]).astype(np.uint8)
    planes = (planes + RNG.integers(0, 12, planes.shape)).clip(0, 255).astype(np.uint8)
    return path, write_bf_jpeg_pyramid(path, planes)


def test_generator_makes_the_bioformats_layout(bf_jpeg: tuple[Path, list]) -> None:
    path, _ = bf_jpeg
    with tifffile.TiffFile(path) as tf:
        for page in (tf.pages[0], tifffile.TiffPages(tf.pages[0])[0]):
            assert (page.compression, page.photometric, page.planarconfig) == (7, 6, 2)
            assert 530 not in page.tags  # no YCbCrSubsampling
        with pytest.raises(NotImplementedError):
            tf.pages[0].asarray()  # what tifffile makes of it


def test_pixels_are_the_one_component_tile_decode(bf_jpeg: tuple[Path, list]) -> None:
    path, expected = bf_jpeg
    with OmeTiffReader(path) as rdr:
        assert rdr.level_shapes(0) == [(1, 1, 2, 150, 130), (1, 1, 2, 75, 65)]
        for level in (0, 1):
            for z in range(2):
                got = rdr.read_plane(0, 0, 0, z, level=level)
                np.testing.assert_array_equal(got, expected[level][z])


def test_convert_show_and_stats_work(
    bf_jpeg: tuple[Path, list], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, expected = bf_jpeg
    out = tmp_path / "plain.ome.tif"
    assert main(["convert", str(path), str(out)]) == 0, capsys.readouterr().err
    with tifffile.TiffFile(out) as tf:
        np.testing.assert_array_equal(tf.series[0].asarray(), expected[0])
    png = tmp_path / "z1.png"
    assert main(["show", str(path), "-o", str(png), "--z", "1", "--level", "1"]) == 0
    with Image.open(png) as im:
        np.testing.assert_array_equal(np.asarray(im), expected[1][1])
    capsys.readouterr()
    assert main(["info", "--stats", "--json", str(path)]) == 0
    rows = json.loads(capsys.readouterr().out)["stats"]
    assert [r["channel"] for r in rows] == [0, 1, 2]
    for r in rows:
        sample = expected[0][..., r["sample"]]
        assert (r["min"], r["max"]) == (sample.min(), sample.max())
        assert r["mean"] == pytest.approx(sample.mean(dtype=np.float64))
    assert channel_stats(path) == rows


@pytest.mark.bioformats
@requires_bioformats
def test_pixels_equal_bioformats(bf_jpeg: tuple[Path, list], tmp_path: Path) -> None:
    path, _ = bf_jpeg
    plain = tmp_path / "bf_plain.ome.tif"
    bfconvert(path, plain, "-noflat")  # Bio-Formats decodes, writes uncompressed
    with tifffile.TiffFile(plain) as tf, OmeTiffReader(path) as rdr:
        for z in range(2):
            page = tf.pages[z]
            levels = [page, *tifffile.TiffPages(page)]
            assert len(levels) == 2
            for level, bf_page in enumerate(levels):
                bf = np.moveaxis(bf_page.asarray(), 0, -1)  # planar (S, Y, X)
                np.testing.assert_array_equal(rdr.read_plane(0, 0, 0, z, level=level), bf)


def test_info_stats_keeps_the_report_when_one_series_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = RNG.integers(0, 255, (2, 32, 32), dtype=np.uint8)
    path = ometiff.write(
        tmp_path / "two.ome.tif", [good, good[0]], axes=["ZYX", "YX"], compression="zlib"
    )
    with tifffile.TiffFile(path) as tf:
        offset, count = tf.pages[2].dataoffsets[0], tf.pages[2].databytecounts[0]
    with open(path, "r+b") as fh:  # series 1 is IFD 2: make its data undecodable
        fh.seek(offset)
        fh.write(b"\xff" * count)
    code = main(["info", "--stats", str(path)])
    out, err = capsys.readouterr()
    assert code == 2
    assert "Image 0" in out or "series 0" in out  # the report is printed
    assert "series 0 channel 0: min" in out
    assert "series 1: pixels cannot be read" in out and "IFD 2" in out
    assert "IFD 2: cannot read pixel data" in err and "Traceback" not in err
    code = main(["info", "--stats", "--json", str(path)])
    doc = json.loads(capsys.readouterr().out)
    assert code == 2
    assert doc["stats"][0]["max"] == good.max()
    assert doc["stats"][-1]["series"] == 1 and "IFD 2" in doc["stats"][-1]["error"]


CMU_JPEG = "ome-tiff/bioformats-7.3.1/CMU-1-Small-Region_crop_pyramid-3_tiled256_jpeg.ome.tif"


@requires_corpus
def test_corpus_bfconvert_jpeg_pyramid_stats_and_levels(tmp_path: Path) -> None:
    path = CORPUS / CMU_JPEG
    rows = channel_stats(path)
    assert [r["sample"] for r in rows] == [0, 1, 2]
    assert all(r["planes"] == 1 and r["pixels"] == 1200 * 1200 for r in rows)
    with OmeTiffReader(path) as rdr:
        assert [s[3:] for s in rdr.level_shapes(0)] == [(1200, 1200), (600, 600), (300, 300)]
        assert rdr.read_plane(0, 0, 0, 0, level=2).shape == (300, 300, 3)


@pytest.mark.bioformats
@requires_bioformats
@requires_corpus
def test_corpus_bfconvert_jpeg_pyramid_equals_bioformats(tmp_path: Path) -> None:
    plain = tmp_path / "cmu_plain.ome.tif"
    bfconvert(CORPUS / CMU_JPEG, plain, "-noflat")
    with tifffile.TiffFile(plain) as tf, OmeTiffReader(CORPUS / CMU_JPEG) as rdr:
        page = tf.pages[0]
        levels = [page, *tifffile.TiffPages(page)]
        assert len(levels) == 3
        for level, bf_page in enumerate(levels):
            bf = np.moveaxis(bf_page.asarray(), 0, -1)
            np.testing.assert_array_equal(rdr.read_plane(0, 0, 0, 0, level=level), bf)
