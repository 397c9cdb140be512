"""``info`` and ``convert`` lay out a TIFF the same way: one layout, one plane map.

Non-OME TIFFs (ImageJ, tifffile "shaped", plain, volumetric pages, LSM) go through
:func:`ometiff.readers.tifflayout.tiff_layouts`; OME-TIFFs without TiffData through
the one fallback of :func:`ometiff.ome.planemap.plane_map` (checklist N4, T1, T6).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from tests.conftest import ROOT, corpus_files, corpus_id

from ometiff import OmeTiffError, info, validate
from ometiff.inspection import SeriesSummary
from ometiff.ome.units import to_micrometres
from ometiff.readers.ome_tiff import OmeTiffReader
from ometiff.readers.tiff import TiffReader

OME_NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


def _µm(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.9g}")


def _info_series(s: SeriesSummary) -> tuple[object, ...]:
    """What a series is, as info reports it: (T, C planes, Z, Y, X), samples, type, µm sizes."""
    spp = s.samples_per_pixel
    shape = (s.size_t, s.size_c // spp, s.size_z, s.size_y, s.size_x)
    sizes = (_µm(s.physical_size_x), _µm(s.physical_size_y), _µm(s.physical_size_z))
    return shape, spp, s.dtype, *sizes


def _reader_series(path: Path) -> list[tuple[object, ...]]:
    """The same facts from the TIFF reader that ``convert`` uses."""
    with TiffReader(path) as rdr:
        out = []
        for src, image in zip(rdr.sources(), rdr.ome().images, strict=True):
            px = image.pixels
            sizes = []
            for axis in "xyz":
                value = getattr(px, f"physical_size_{axis}")
                unit = getattr(px, f"physical_size_{axis}_unit")
                sizes.append(None if value is None else _µm(to_micrometres(value, unit.value)))
            out.append((tuple(src.shape), src.samples, px.type.value, *sizes))
        return out


def assert_info_matches_reader(path: Path) -> list[SeriesSummary]:
    series = info(path).series
    assert [_info_series(s) for s in series] == _reader_series(path)
    return series


# --- generated variants ------------------------------------------------------------


def _imagej_tzcyx(path: Path) -> np.ndarray:
    data = np.arange(2 * 4 * 3 * 16 * 20, dtype=np.uint16).reshape(2, 4, 3, 16, 20)
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        resolution=(1 / 0.3, 1 / 0.3),
        metadata={"axes": "TZCYX", "unit": "um", "spacing": 2.5},
    )
    return data


def test_imagej_hyperstack(tmp_path: Path) -> None:
    path = tmp_path / "ij.tif"
    data = _imagej_tzcyx(path)
    (s,) = assert_info_matches_reader(path)
    assert (s.size_t, s.size_c, s.size_z) == (2, 3, 4)
    assert (s.physical_size_x, s.physical_size_z) == (0.3, 2.5)
    assert s.dimension_order == "XYCZT"  # C varies fastest in ImageJ order
    with TiffReader(path) as rdr:
        np.testing.assert_array_equal(rdr.sources()[0].get_plane(1, 2, 3), data[1, 3, 2])


def test_imagej_rgb(tmp_path: Path) -> None:
    path = tmp_path / "ijrgb.tif"
    tifffile.imwrite(
        path,
        np.zeros((3, 16, 20, 3), np.uint8),
        imagej=True,
        photometric="rgb",
        metadata={"axes": "ZYXS"},
    )
    (s,) = assert_info_matches_reader(path)
    assert (s.size_z, s.size_c, s.samples_per_pixel) == (3, 3, 3)  # R2: one Channel of 3


def test_plain_multipage(tmp_path: Path) -> None:
    path = tmp_path / "plain.tif"
    with tifffile.TiffWriter(path) as tw:
        for i in range(5):
            tw.write(np.full((16, 20), i, np.uint16), metadata=None)
    (s,) = assert_info_matches_reader(path)
    assert s.size_t == 5  # Bio-Formats counts a plain page sequence as T


def test_shaped_rtyx_is_one_series_like_bioformats(tmp_path: Path) -> None:
    """tifffile's R is a tile axis here, not a position: showinf gives 1 series of 6 planes."""
    path = tmp_path / "rtyx.tif"
    data = np.arange(3 * 2 * 16 * 20).astype(np.uint8).reshape(3, 2, 16, 20)
    tifffile.imwrite(path, data, metadata={"axes": "RTYX"}, photometric="minisblack")
    (s,) = assert_info_matches_reader(path)
    assert s.size_t == 6
    with TiffReader(path) as rdr:
        src = rdr.sources()[0]
        for t in range(6):
            np.testing.assert_array_equal(src.get_plane(t, 0, 0), data.reshape(6, 16, 20)[t])


@pytest.mark.parametrize("shape,axes", [((4, 16, 16), None), ((2, 4, 16, 16), "TZYX")])
def test_volumetric_pages_are_read_slice_by_slice(
    tmp_path: Path, shape: tuple[int, ...], axes: str | None
) -> None:
    path = tmp_path / "vol.tif"
    data = np.arange(math.prod(shape)).astype(np.uint8).reshape(shape)
    tifffile.imwrite(
        path,
        data,
        volumetric=True,
        tile=(16, 16),
        photometric="minisblack",
        metadata=None if axes is None else {"axes": axes},
    )
    (s,) = assert_info_matches_reader(path)
    assert s.size_z == 4 and s.size_t == (shape[0] if len(shape) == 4 else 1)
    assert any("ImageDepth" in w for w in info(path).warnings)
    vols = data.reshape(-1, 4, 16, 16)
    with TiffReader(path) as rdr:
        src = rdr.sources()[0]
        for t in range(vols.shape[0]):
            for z in range(4):
                np.testing.assert_array_equal(src.get_plane(t, 0, z), vols[t, z])


@pytest.mark.parametrize("planar", ["separate", "contig"])
def test_non_rgb_samples_are_channels_in_both(tmp_path: Path, planar: str) -> None:
    path = tmp_path / "s5.tif"
    data = np.arange(5 * 16 * 20).astype(np.uint8).reshape(5, 16, 20)
    tifffile.imwrite(
        path,
        data if planar == "separate" else np.moveaxis(data, 0, -1),
        photometric="minisblack",
        planarconfig=planar,
    )
    (s,) = assert_info_matches_reader(path)
    assert (s.size_c, s.samples_per_pixel, len(s.channels)) == (5, 1, 5)
    with TiffReader(path) as rdr:
        np.testing.assert_array_equal(rdr.sources()[0].get_plane(0, 3, 0), data[3])


def test_imagej_header_naming_missing_pages_is_ignored(tmp_path: Path) -> None:
    """bfconvert wrote such a file (testdata Fluorescence_RGB_bfwriter_jpeg.tif): showinf
    reads one RGB plane; tifffile's ImageJ series names three pages of which two are missing."""
    path = tmp_path / "badij.tif"
    header = "ImageJ=\nhyperstack=true\nimages=3\nchannels=3\nslices=1\nframes=1\n"
    rgb = np.arange(16 * 20 * 3).astype(np.uint8).reshape(16, 20, 3)
    tifffile.imwrite(
        path, rgb, photometric="rgb", description=header, metadata=None, compression="zlib"
    )
    (s,) = assert_info_matches_reader(path)
    assert (s.size_c, s.samples_per_pixel) == (3, 3)
    assert any("names more pages" in w for w in info(path).warnings)
    with TiffReader(path) as rdr:
        np.testing.assert_array_equal(rdr.sources()[0].get_plane(0, 0, 0), rgb)


def test_unsupported_pixel_type_is_refused_by_both(tmp_path: Path) -> None:
    path = tmp_path / "i64.tif"
    tifffile.imwrite(path, np.zeros((8, 8), np.int64))
    fi = info(path)
    assert fi.series == [] and any("int64" in w for w in fi.warnings)
    with pytest.raises(OmeTiffError, match="int64"):
        TiffReader(path)


# --- corpus: info and the reader agree on every file, or both refuse it ---------------

LAYOUT_CORPUS = [
    p for p in corpus_files("imagej/**/*", "lsm/**/*", "tiff/**/*") if TiffReader.can_read(p)
]


@pytest.mark.parametrize("path", LAYOUT_CORPUS, ids=[corpus_id(p) for p in LAYOUT_CORPUS])
def test_corpus_info_and_reader_agree(path: Path) -> None:
    try:
        fi = info(path)
    except OmeTiffError:
        fi = None
    if fi is not None and fi.metadata_source == "ome":
        pytest.skip("OME-XML: read by the OME-TIFF reader")
    try:
        reader = _reader_series(path)
    except OmeTiffError:
        reader = None
    if reader is None:  # convert refuses: info shows no series (and says why)
        assert fi is None or (fi.series == [] and (fi.warnings or fi.problems))
    else:
        assert fi is not None and [_info_series(s) for s in fi.series] == reader


# --- OME-TIFF without TiffData (N4, T1, T6) -------------------------------------------


def _no_tiffdata_pyramid(path: Path, ifds: int = 6) -> np.ndarray:
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?><OME xmlns="{OME_NS}" '
        'UUID="urn:uuid:0b5ee0b4-8d6c-4a4b-9d0e-0a7d3f0a0f00"><Image ID="Image:0" Name="p">'
        '<Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="uint8" SizeX="64" SizeY="48" '
        'SizeZ="3" SizeC="2" SizeT="1"><Channel ID="Channel:0:0" SamplesPerPixel="1"/>'
        '<Channel ID="Channel:0:1" SamplesPerPixel="1"/></Pixels></Image></OME>'
    )
    data = np.random.default_rng(0).integers(0, 255, (2, 3, 48, 64), dtype=np.uint8)
    kw = {"metadata": None, "photometric": "minisblack", "tile": (16, 16)}
    with tifffile.TiffWriter(path) as tw:
        for k, plane in enumerate(data.reshape(6, 48, 64)[:ifds]):
            tw.write(plane, subifds=2, description=xml.encode() if k == 0 else None, **kw)
            tw.write(plane[::2, ::2], subfiletype=1, **kw)
            tw.write(plane[::4, ::4], subfiletype=1, **kw)
    return data


def test_no_tiffdata_pyramid_info_convert_validate_agree(tmp_path: Path) -> None:
    path = tmp_path / "notd.ome.tif"
    data = _no_tiffdata_pyramid(path)
    (s,) = info(path).series
    # every plane mapped, IFDs in DimensionOrder XYZCT (T1): IFD = z + 3 * c
    assert sorted((p.c, p.z, p.ifd) for p in s.planes) == [
        (c, z, z + 3 * c) for c in range(2) for z in range(3)
    ]
    assert s.levels == [[48, 64], [24, 32], [12, 16]]
    assert not any("T4" in p for p in s.plane_problems)
    assert any("N4" in p for p in s.plane_problems)
    with OmeTiffReader(path) as rdr:
        src = rdr.sources()[0]
        assert tuple(src.shape) == (1, 2, 3, 48, 64)
        for c in range(2):
            for z in range(3):
                np.testing.assert_array_equal(src.get_plane(0, c, z), data[c, z])
    codes = {i.code for i in validate(path).issues}
    assert "T6-no-tiffdata" in codes
    assert not any(code.startswith("T4") for code in codes)


def test_no_tiffdata_with_too_few_ifds_is_t4(tmp_path: Path) -> None:
    path = tmp_path / "short.ome.tif"
    _no_tiffdata_pyramid(path, ifds=4)
    (s,) = info(path).series
    assert len(s.planes) == 4
    assert any("2 of 6 planes are not mapped" in p for p in s.plane_problems)
    report = validate(path)
    assert any(i.code == "T4-plane-not-mapped" and "only 4 IFD" in i.message for i in report.issues)
    with pytest.raises(OmeTiffError, match="not mapped"):
        OmeTiffReader(path)


# --- start-up: info needs neither ome_types nor pydantic -----------------------------


def _small_files(folder: Path) -> list[Path]:
    ij = folder / "ij.tif"
    _imagej_tzcyx(ij)
    plain = folder / "plain.tif"
    tifffile.imwrite(plain, np.zeros((3, 8, 8), np.uint8), metadata=None, photometric="minisblack")
    ome = folder / "small.ome.tif"
    tifffile.imwrite(ome, np.zeros((2, 3, 8, 8), np.uint8), metadata={"axes": "CZYX"})
    return [ij, plain, ome]


def test_info_imports_no_ome_types_or_pydantic(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from ometiff.cli.main import main\n"
        "for f in sys.argv[1:]:\n"
        "    assert main(['info', f]) == 0\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'ome_types', 'pydantic'}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *map(str, _small_files(tmp_path))],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        timeout=120,
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


# --- info --stats / show read the series info shows --------------------------------


def test_stats_read_the_layout_info_shows(tmp_path: Path) -> None:
    from ometiff.render.png import channel_stats

    vol = tmp_path / "vol.tif"
    data = np.arange(2 * 4 * 16 * 16).astype(np.uint16).reshape(2, 4, 16, 16)
    tifffile.imwrite(
        vol,
        data,
        volumetric=True,
        tile=(16, 16),
        photometric="minisblack",
        metadata={"axes": "TZYX"},
    )
    (row,) = channel_stats(vol)
    assert (row["planes"], row["min"], row["max"]) == (8, 0, data.max())
    assert row["mean"] == pytest.approx(float(data.mean()))
    bad = tmp_path / "badij.tif"
    header = "ImageJ=\nhyperstack=true\nimages=3\nchannels=3\nslices=1\nframes=1\n"
    rgb = np.arange(16 * 20 * 3).astype(np.uint8).reshape(16, 20, 3)
    tifffile.imwrite(
        bad, rgb, photometric="rgb", description=header, metadata=None, compression="zlib"
    )
    rows = channel_stats(bad)
    assert [r["max"] for r in rows] == [int(rgb[..., k].max()) for k in range(3)]


def test_reduced_levels_share_the_layout(tmp_path: Path) -> None:
    path = tmp_path / "pyr.tif"
    data = np.arange(3 * 32 * 48).astype(np.uint16).reshape(3, 32, 48)
    with tifffile.TiffWriter(path) as tw:
        tw.write(data, subifds=1, metadata=None, photometric="minisblack")
        tw.write(data[:, ::2, ::2], subfiletype=1, metadata=None, photometric="minisblack")
    (s,) = info(path).series
    assert s.levels == [[32, 48], [16, 24]] and s.size_t == 3
    with TiffReader(path) as rdr:
        assert rdr.level_shapes(0) == [(3, 1, 1, 32, 48), (3, 1, 1, 16, 24)]
        np.testing.assert_array_equal(rdr.read_plane(0, 2, 0, 0, level=1), data[2, ::2, ::2])
        with pytest.raises(OmeTiffError, match="level 2"):
            rdr.read_plane(0, 0, 0, 0, level=2)


# --- plain and ImageJ TIFFs laid out from the IFD walk (info without tifffile) -------


def _layout_facts(found: object) -> list[tuple[object, ...]]:
    from ometiff.readers.tifflayout import TiffLayouts

    assert isinstance(found, TiffLayouts)
    return [
        (
            lay.name,
            lay.shape,
            lay.samples,
            lay.dtype_name,
            lay.dimension_order,
            lay.physical,
            lay.time_increment,
            lay.channel_names,
            lay.channel_colors,
            lay.frame_shape,
            lay.depth,
            lay.dims,
            lay.page_samples,
            lay.plane_table(),
            [tuple(lv.shape) for lv in lay.series.levels],
            lay.series.axes,
        )
        for lay in found.layouts
    ] + [
        (
            found.warnings,
            found.calibration.psize,
            found.calibration.time_increment,
            found.calibration.date,
        )
    ]


def _both_layouts(path: Path) -> tuple[object, object]:
    """(the walk-only layouts or None, tifffile's layouts), each with its mapping notes."""
    from ometiff.readers.base import MappingNotes
    from ometiff.readers.tifflayout import plain_layouts, tiff_layouts
    from ometiff.tiff.structure import inspect_tiff

    light_notes, notes = MappingNotes(), MappingNotes()
    light = plain_layouts(inspect_tiff(path), light_notes)
    with tifffile.TiffFile(path) as tf:
        full = tiff_layouts(tf, notes, where=path.name)
    if light is None:
        return None, full
    assert light_notes == notes
    return _layout_facts(light), _layout_facts(full)


_IJ = {"unit": "um", "spacing": 2.5, "finterval": 0.5}
PLAIN_CASES = {
    "imagej-tzcyx": (
        (2, 4, 3, 16, 24),
        "uint16",
        {"imagej": True, "resolution": (1 / 0.3, 1 / 0.3), "metadata": {"axes": "TZCYX", **_IJ}},
    ),
    "imagej-zyx-float": (
        (5, 16, 24),
        "float32",
        {"imagej": True, "metadata": {"axes": "ZYX", "unit": "nm"}},
    ),
    "imagej-tyx-min": (
        (4, 16, 24),
        "uint8",
        {
            "imagej": True,
            "resolution": (2.0, 4.0),
            "metadata": {"axes": "TYX", "finterval": 2, "tunit": "ms"},
        },
    ),
    "imagej-cyx-unknown-unit": (
        (3, 16, 24),
        "uint16",
        {"imagej": True, "resolution": (2.0, 2.0), "metadata": {"axes": "CYX", "unit": "furlong"}},
    ),
    "imagej-pixel-unit": (
        (2, 16, 24),
        "uint8",
        {"imagej": True, "resolution": (2.0, 2.0), "metadata": {"axes": "ZYX", "unit": "pixel"}},
    ),
    "imagej-single": ((16, 24), "int16", {"imagej": True}),
    "imagej-rgb": ((3, 16, 24, 3), "uint8", {"imagej": True, "photometric": "rgb"}),
    "imagej-no-unit-cm": (
        (2, 16, 24),
        "uint8",
        {"imagej": True, "resolution": (100.0, 100.0), "resolutionunit": "CENTIMETER"},
    ),
    "plain-pages": ((5, 16, 24), "uint16", {"photometric": "minisblack", "metadata": None}),
    "plain-one": ((16, 24), "float64", {"photometric": "minisblack", "metadata": None}),
    "plain-rgb": ((2, 16, 24, 3), "uint8", {"photometric": "rgb", "metadata": None}),
    "plain-rgba": (
        (16, 24, 4),
        "uint8",
        {"photometric": "rgb", "metadata": None, "extrasamples": ["unassalpha"]},
    ),
    "plain-cm": (
        (3, 16, 24),
        "int32",
        {
            "photometric": "minisblack",
            "metadata": None,
            "resolution": (1e4, 1e4),
            "resolutionunit": 3,
            "datetime": "2024:01:02 03:04:05",
        },
    ),
    "plain-tiled-zlib": (
        (2, 32, 32),
        "uint16",
        {"photometric": "minisblack", "metadata": None, "tile": (16, 16), "compression": "zlib"},
    ),
    "plain-inch": (
        (16, 24),
        "uint8",
        {"photometric": "minisblack", "metadata": None, "resolution": (72.0, 72.0)},
    ),
    # left to tifffile: shaped JSON, float16, planar RGB, non-RGB samples
    "shaped": ((2, 3, 16, 24), "uint8", {}),
    "plain-float16": ((2, 16, 24), "float16", {"photometric": "minisblack", "metadata": None}),
    "plain-planar-rgb": (
        (3, 16, 24),
        "uint8",
        {"photometric": "rgb", "planarconfig": "separate", "metadata": None},
    ),
    "plain-2-samples": (
        (16, 24, 2),
        "uint8",
        {"photometric": "minisblack", "metadata": None, "planarconfig": "contig"},
    ),
}
#: cases the walk alone describes (the rest go to tifffile)
WALK_CASES = {
    k
    for k in PLAIN_CASES
    if k.startswith(("imagej", "plain"))
    and k not in ("plain-float16", "plain-planar-rgb", "plain-2-samples")
}


@pytest.mark.parametrize("case", sorted(PLAIN_CASES))
def test_walk_layout_equals_tifffile_layout(tmp_path: Path, case: str) -> None:
    shape, dtype, kw = PLAIN_CASES[case]
    path = tmp_path / f"{case}.tif"
    data = np.arange(math.prod(shape), dtype=np.float64).reshape(shape).astype(dtype)
    tifffile.imwrite(path, data, **kw)
    light, full = _both_layouts(path)
    assert (light is not None) == (case in WALK_CASES)
    if light is not None:
        assert light == full


def test_walk_layout_refuses_imagej_header_naming_other_pages(tmp_path: Path) -> None:
    """An ImageJ header whose sizes do not match the pages is tifffile's to judge."""
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, np.zeros((6, 8, 8), np.uint8), imagej=True, metadata={"axes": "ZYX"})
    with tifffile.TiffFile(path, mode="r+") as tf:
        tf.pages[0].tags["ImageDescription"].overwrite(
            tf.pages[0].description.replace("slices=6", "slices=3")
        )
    assert _both_layouts(path)[0] is None


@pytest.mark.parametrize("path", LAYOUT_CORPUS, ids=[corpus_id(p) for p in LAYOUT_CORPUS])
def test_corpus_walk_layout_equals_tifffile_layout(path: Path) -> None:
    from ometiff.readers.base import MappingNotes
    from ometiff.readers.tifflayout import plain_layouts
    from ometiff.tiff.structure import inspect_tiff

    try:
        structure = inspect_tiff(path)
    except OmeTiffError:
        pytest.skip("not a TIFF")
    if plain_layouts(structure, MappingNotes()) is None:
        pytest.skip("not a plain or ImageJ TIFF the walk describes")
    light, full = _both_layouts(path)  # tifffile must lay out what the walk lays out
    assert light == full
    from ometiff.inspection import _tiff_vendor_info

    assert _tiff_vendor_info(path) is None  # no vendor reader claims what the walk takes


def test_info_of_plain_and_imagej_imports_no_tifffile_or_numpy(tmp_path: Path) -> None:
    """Start-up: ``info`` of a plain or ImageJ TIFF imports neither (issue 9)."""
    files = _small_files(tmp_path)
    code = (
        "import sys\n"
        "from ometiff.cli.main import main\n"
        "for f in sys.argv[1:]:\n"
        "    assert main(['info', f]) == 0\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'tifffile', 'numpy'}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *map(str, files[:2])],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        timeout=120,
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
