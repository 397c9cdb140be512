"""Units (U1-U3) and colours (R4): the one table, the one parser, and their call sites.

``ometiff.write`` and ``meta set`` take lengths, times and colours through the same
parsers, so the same input gives the same stored value or the same error. ImageJ
calibrations (unit/yunit/zunit, spacing, finterval/tunit) are mapped through the same
table by ``info`` and ``convert`` (bug 7: a frame interval in ms, min or hr was
read as seconds).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from tests.bioformats import requires_bioformats, showinf_omexml

import ometiff
from ometiff import InvalidValueError, info, meta_set
from ometiff.ome.colour import (
    LUT_COLORS,
    hex_to_ome,
    ome_to_hex,
    ome_to_rgba,
    parse_color,
    rgba_to_ome,
)
from ometiff.ome.units import (
    convert,
    length_symbol,
    normalize_unit,
    parse_length,
    parse_time,
    time_symbol,
    to_micrometres,
    to_seconds,
)
from ometiff.ome.view import parse_ome


def _image(path: Path, k: int = 0) -> Any:
    with tifffile.TiffFile(path) as tf:
        return parse_ome(tf.pages.first.description).images[k]


def _pixels_attrs(path: Path) -> dict[str, str]:
    from lxml import etree

    with tifffile.TiffFile(path) as tf:
        root = etree.fromstring(tf.pages.first.description.encode())
    (px,) = root.iter("{*}Pixels")
    return dict(px.attrib)


# --- the table ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "symbol"),
    [
        ("µm", "µm"),
        ("\u03bcm", "µm"),
        ("um", "µm"),
        ("micron", "µm"),
        ("Microns", "µm"),
        ("\\u00B5m", "µm"),
        ("\\u00b5m", "µm"),
        (" micrometre ", "µm"),
        ("nm", "nm"),
        ("NM", "nm"),
        ("nanometer", "nm"),
        ("mm", "mm"),
        ("Mm", "Mm"),
        ("cm", "cm"),
        ("m", "m"),
        ("angstrom", "Å"),
        ("Å", "Å"),
        ("\u212b", "Å"),
        ("A", "Å"),
        ("inch", "in"),
        ("pixel", "pixel"),
        ("reference frame", "reference frame"),
    ],
)
def test_length_spellings(spelling: str, symbol: str) -> None:
    assert length_symbol(spelling) == symbol
    assert time_symbol(spelling) is None
    assert normalize_unit(spelling) == symbol


@pytest.mark.parametrize(
    ("spelling", "symbol"),
    [
        ("s", "s"),
        ("sec", "s"),
        ("second", "s"),
        ("Seconds", "s"),
        ("ms", "ms"),
        ("msec", "ms"),
        ("us", "µs"),
        ("µs", "µs"),
        ("\u03bcs", "µs"),
        ("\\u00B5s", "µs"),
        ("ns", "ns"),
        ("min", "min"),
        ("MIN", "min"),
        ("minutes", "min"),
        ("h", "h"),
        ("hr", "h"),
        ("hours", "h"),
        ("d", "d"),
        ("days", "d"),
        ("Ms", "Ms"),
    ],
)
def test_time_spellings(spelling: str, symbol: str) -> None:
    assert time_symbol(spelling) == symbol
    assert length_symbol(spelling) is None


@pytest.mark.parametrize("spelling", ["furlong", "MM", "MS", "a", "", "fortnight", None, 3])
def test_unknown_spellings_are_not_guessed(spelling: Any) -> None:
    """U3: a unit not in the table is unknown ("MM" may be mm or Mm), never µm or s."""
    assert length_symbol(spelling) is None and time_symbol(spelling) is None


def test_conversions() -> None:
    assert to_micrometres(1e-7, "m") == 0.1  # no binary noise
    assert to_micrometres(2, "\\u00B5m") == 2 and to_micrometres(3, None) == 3  # U3: µm
    assert to_micrometres(5, "pixel") is None and to_micrometres(5, "furlong") is None
    assert to_seconds(1.5, "hr") == 5400 and to_seconds(250, "msec") == 0.25
    assert to_seconds(7, None) == 7 and to_seconds(1, "fortnight") is None
    assert convert(1.5e-7, "m", "µm") == 0.15 and convert(2, "hr", "min") == 120
    for bad in (("pixel", "µm"), ("s", "µm"), ("furlong", "m")):
        with pytest.raises(InvalidValueError, match="cannot convert"):
            convert(1, *bad)


# --- the quantity parser --------------------------------------------------------------

LENGTHS = [
    ("325nm", (325.0, "nm")),
    ("0.325 µm", (0.325, "µm")),
    ("0.325um", (0.325, "µm")),
    ("0.325 \u03bcm", (0.325, "µm")),
    ("0.325 micron", (0.325, "µm")),
    ((0.325, "µm"), (0.325, "µm")),
    ((0.325, "um"), (0.325, "µm")),
    (0.325, (0.325, "µm")),  # U3: a bare number is µm
    ("0.325", (0.325, "µm")),
    ("1e-3 mm", (0.001, "mm")),
    (np.float32(2.0), (2.0, "µm")),
]
BAD_LENGTHS = [
    ("-1um", "must be greater than 0"),
    (0, "must be greater than 0"),
    ("nan", "not a finite number"),
    (float("inf"), "not a finite number"),
    ("3 furlong", "unknown length unit 'furlong'"),
    ("5 s", "is a time, not a length"),
    ("um", "not a number with a unit"),
    ((1, 2, 3), r"not a number or \(number, unit\)"),
    (True, "not a number with a unit"),
]
TIMES = [
    ("500 ms", (500.0, "ms")),
    ("2s", (2.0, "s")),
    ("1.5 hr", (1.5, "h")),
    ((3, "min"), (3.0, "min")),
    (4, (4.0, "s")),  # U3: a bare number is s
]
BAD_TIMES = [
    ("2 parsecs", "unknown time unit 'parsecs'"),
    ("2 nm", "is a length, not a time"),
    (-0.5, "must be greater than 0"),
]


@pytest.mark.parametrize(("value", "expected"), LENGTHS)
def test_parse_length(value: Any, expected: tuple[float, str]) -> None:
    assert parse_length(value) == pytest.approx(expected)
    assert parse_length(value)[1] == expected[1]


@pytest.mark.parametrize(("value", "expected"), TIMES)
def test_parse_time(value: Any, expected: tuple[float, str]) -> None:
    assert parse_time(value) == expected


def test_parse_defaults_and_signs() -> None:
    assert parse_length(488, default_unit="nm") == (488.0, "nm")  # wavelengths (U3)
    assert parse_length("-3 mm", positive=False) == (-3.0, "mm")  # plane positions
    assert parse_time(0, positive=False) == (0.0, "s")  # DeltaT of the first plane


@pytest.mark.parametrize(("value", "match"), BAD_LENGTHS)
def test_parse_length_refuses(value: Any, match: str) -> None:
    with pytest.raises(InvalidValueError, match=match):
        parse_length(value, what="physical size")


# --- write and meta set: same input, same result or same error ---------------------------


@pytest.fixture
def written(tmp_path: Path) -> Path:
    return ometiff.write(tmp_path / "a.ome.tif", np.zeros((2, 8, 8), np.uint8), axes="CYX")


@pytest.mark.parametrize(("value", "expected"), LENGTHS)
def test_write_and_meta_set_store_the_same_length(
    tmp_path: Path, written: Path, value: Any, expected: tuple[float, str]
) -> None:
    out = ometiff.write(
        tmp_path / "w.ome.tif", np.zeros((8, 8), np.uint8), physical_size={"X": value, "Y": value}
    )
    meta_set(written, physical_size={"x": value, "y": value})
    for path in (out, written):
        im = _image(path)
        for q in (im.physical_size_x, im.physical_size_y):
            assert (q.value, q.unit) == pytest.approx(expected) and q.unit == expected[1]


@pytest.mark.parametrize(("value", "expected"), TIMES)
def test_write_and_meta_set_store_the_same_time(
    tmp_path: Path, written: Path, value: Any, expected: tuple[float, str]
) -> None:
    out = ometiff.write(tmp_path / "w.ome.tif", np.zeros((8, 8), np.uint8), time_increment=value)
    meta_set(written, time_increment=value)
    for path in (out, written):
        q = _image(path).time_increment
        assert (q.value, q.unit) == expected


def _detail(exc: BaseException) -> str:
    return str(exc).split(": ", 1)[1]  # without the field name each API uses


@pytest.mark.parametrize(
    ("write_kw", "set_kw"),
    [
        *[({"physical_size": {"X": v}}, {"physical_size": {"x": v}}) for v, _ in BAD_LENGTHS],
        *[({"time_increment": v}, {"time_increment": v}) for v, _ in BAD_TIMES],
    ],
)
def test_write_and_meta_set_refuse_the_same_way(
    tmp_path: Path, written: Path, write_kw: dict[str, Any], set_kw: dict[str, Any]
) -> None:
    raw = written.read_bytes()
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InvalidValueError) as by_write:
        ometiff.write(out / "w.ome.tif", np.zeros((8, 8), np.uint8), **write_kw)
    with pytest.raises(InvalidValueError) as by_set:
        meta_set(written, **set_kw)
    assert _detail(by_write.value) == _detail(by_set.value)
    assert os.listdir(out) == [] and written.read_bytes() == raw  # nothing written


def test_cli_reports_a_bad_length_in_one_line(
    written: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ometiff.cli.main import main

    assert main(["meta", "set", str(written), "--physical-size", "x=5 s"]) == 2
    err = capsys.readouterr().err.strip()
    assert "is a time, not a length" in err and "\n" not in err and "Traceback" not in err


# --- colours (R4) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rgba"),
    [
        (-1, (255, 255, 255, 255)),  # the schema default: opaque white
        (0, (0, 0, 0, 0)),
        (-16776961, (255, 0, 0, 255)),
        (0xFF0000FF, (255, 0, 0, 255)),  # the unsigned spelling of the same colour
        (0x00FF00FF, (0, 255, 0, 255)),
        (255, (0, 0, 0, 255)),
        (2**31 - 1, (127, 255, 255, 255)),
        (-(2**31), (128, 0, 0, 0)),
    ],
)
def test_ome_colour_round_trip(value: int, rgba: tuple[int, int, int, int]) -> None:
    assert ome_to_rgba(value) == rgba
    signed = rgba_to_ome(*rgba)
    assert -(2**31) <= signed < 2**31 and signed % 2**32 == value % 2**32
    assert parse_color(value) == signed


def test_colour_text() -> None:
    assert ome_to_hex(-1) == "#FFFFFF" and ome_to_hex(0x11223380) == "#11223380"
    assert ome_to_hex(None) is None
    assert hex_to_ome("#FF0000") == hex_to_ome("ff0000ff") == -16776961
    assert hex_to_ome("#80FF0000", alpha_first=True) == rgba_to_ome(255, 0, 0, 128)  # Zeiss
    assert hex_to_ome("#12345") is None and hex_to_ome(None) is None
    assert parse_color("lime") == rgba_to_ome(0, 255, 0)  # CSS names
    assert parse_color("green") == rgba_to_ome(0, 128, 0)
    assert LUT_COLORS["green"] == (0, 255, 0)  # a LUT named green is full green
    assert parse_color("-16776961") == parse_color("#FF0000FF") == parse_color((255, 0, 0))
    assert parse_color("0xff0000ff") == parse_color(" 4278190335 ") == -16776961
    assert parse_color("0255") == 255


@pytest.mark.parametrize(
    "value", ["not-a-colour", "#12345", 2**32, -(2**31) - 1, (256, 0, 0), (1, 2), True, 1.5]
)
def test_bad_colours(tmp_path: Path, written: Path, value: Any) -> None:
    raw = written.read_bytes()
    with pytest.raises(InvalidValueError, match="is not a colour") as by_write:
        ometiff.write(tmp_path / "c.ome.tif", np.zeros((8, 8), np.uint8), channel_colors=[value])
    with pytest.raises(InvalidValueError, match="is not a colour") as by_set:
        meta_set(written, channel_colors={0: value})
    assert _detail(by_write.value) == _detail(by_set.value)
    assert not (tmp_path / "c.ome.tif").exists() and written.read_bytes() == raw


@pytest.mark.parametrize(
    "value", ["#FF000080", "red", -1, 0xFF0000FF, "0xFF0000FF", "-16776961", (0, 0, 255)]
)
def test_write_and_meta_set_store_the_same_colour(
    tmp_path: Path, written: Path, value: Any
) -> None:
    out = ometiff.write(tmp_path / "w.ome.tif", np.zeros((8, 8), np.uint8), channel_colors=[value])
    meta_set(written, channel_colors={0: value})
    assert _image(out).channels[0].color == _image(written).channels[0].color == parse_color(value)
    assert info(out).series[0].channels[0].color == ome_to_hex(parse_color(value))


# --- ImageJ calibrations (bug 7) ---------------------------------------------------------


def _imagej(path: Path, **metadata: Any) -> Path:
    res = metadata.pop("res", 325.0)  # pixel size in the unit
    data = np.zeros((3, 2, 2, 8, 8), np.uint16)  # TZCYX
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        resolution=(1 / res, 1 / res),
        metadata={"axes": "TZCYX", **metadata},
    )
    return path


@pytest.mark.parametrize(
    ("metadata", "xy", "z", "t"),
    [
        # Bio-Formats 7.3.1 showinf of this file: PhysicalSizeX=325 nm, but
        # PhysicalSizeZ=500 µm and TimeIncrement=0.5 s (it ignores the Z unit and
        # tunit). ImageJ's Calibration reads spacing in the unit and finterval in tunit.
        (
            {"unit": "nm", "spacing": 500.0, "finterval": 0.5, "tunit": "ms"},
            (325.0, "nm"),
            (500.0, "nm"),
            (0.5, "ms"),
        ),
        (
            {"unit": "\\u00B5m", "res": 0.5, "spacing": 1.5, "finterval": 1.5, "tunit": "hr"},
            (0.5, "µm"),
            (1.5, "µm"),
            (1.5, "h"),
        ),
        (
            {"unit": "micron", "res": 0.5, "spacing": 2.0, "finterval": 2.0, "tunit": "min"},
            (0.5, "µm"),
            (2.0, "µm"),
            (2.0, "min"),
        ),
        (
            {"unit": "um", "res": 0.5, "spacing": 2.0, "finterval": 20.0, "tunit": "ns"},
            (0.5, "µm"),
            (2.0, "µm"),
            (20.0, "ns"),
        ),
        (
            {"unit": "um", "res": 0.5, "zunit": "mm", "spacing": 0.002, "finterval": 3.0},
            (0.5, "µm"),
            (0.002, "mm"),
            (3.0, "s"),
        ),  # no tunit: ImageJ's default "sec"
    ],
)
def test_imagej_units_in_info_and_convert(
    tmp_path: Path,
    metadata: dict[str, Any],
    xy: tuple[float, str],
    z: tuple[float, str],
    t: tuple[float, str],
) -> None:
    src = _imagej(tmp_path / "ij.tif", **metadata)
    (s,) = info(src).series
    assert s.physical_size_x == pytest.approx(to_micrometres(*xy))
    assert s.physical_size_z == pytest.approx(to_micrometres(*z))
    assert s.time_increment == pytest.approx(to_seconds(*t))
    (dst,) = ometiff.convert(src, tmp_path / "ij.ome.tif")
    im = _image(dst)
    assert (im.physical_size_x.value, im.physical_size_x.unit) == pytest.approx(xy)
    assert im.physical_size_x.unit == xy[1] and im.physical_size_y.unit == xy[1]
    assert (im.physical_size_z.value, im.physical_size_z.unit) == pytest.approx(z)
    assert im.physical_size_z.unit == z[1]
    assert (im.time_increment.value, im.time_increment.unit) == pytest.approx(t)
    assert im.time_increment.unit == t[1]
    (c,) = info(dst).series  # the converted file says the same as its source
    assert (c.physical_size_x, c.physical_size_z, c.time_increment) == pytest.approx(
        (s.physical_size_x, s.physical_size_z, s.time_increment)
    )


def test_imagej_unknown_units_are_reported_not_guessed(tmp_path: Path) -> None:
    """U3: 'furlong' and 'fortnight' are not mapped; Bio-Formats 7.3.1 shows 0.5 µm and 1.5 s."""
    src = _imagej(
        tmp_path / "ij.tif", unit="furlong", res=0.5, spacing=1.5, finterval=1.5, tunit="fortnight"
    )
    fi = info(src)
    (s,) = fi.series
    assert (s.physical_size_x, s.physical_size_z, s.time_increment) == (None, None, None)
    assert any("'furlong' is not a known length unit" in w for w in fi.warnings)
    assert any("'fortnight' is not a known time unit" in w for w in fi.warnings)
    (dst,) = ometiff.convert(src, tmp_path / "ij.ome.tif")
    attrs = _pixels_attrs(dst)
    assert not {"PhysicalSizeX", "PhysicalSizeZ", "TimeIncrement"} & set(attrs)


@requires_bioformats
def test_imagej_seconds_and_microns_agree_with_bioformats(tmp_path: Path) -> None:
    """Where Bio-Formats reads an ImageJ calibration right (µm, s), we read the same."""
    src = _imagej(tmp_path / "ij.tif", unit="micron", res=0.5, spacing=1.5, finterval=2.0)
    xml = showinf_omexml(src)
    bf = parse_ome(xml).images[0]
    (s,) = info(src).series
    assert s.physical_size_x == to_micrometres(bf.physical_size_x.value, bf.physical_size_x.unit)
    assert s.physical_size_z == to_micrometres(bf.physical_size_z.value, bf.physical_size_z.unit)
    assert s.time_increment == to_seconds(bf.time_increment.value, bf.time_increment.unit)


# --- repair and validate: unit attributes by kind --------------------------------------


def test_repair_fixes_spellings_within_the_attributes_kind(tmp_path: Path) -> None:
    """U1/U2: 'msec' in TimeIncrementUnit becomes 'ms'; 'sec' in PhysicalSizeXUnit is not
    turned into the time 's' (it used to be, so the whole repair was refused as invalid)."""
    from tests.test_edit_helpers import new_uuid, ome_xml, write_ome

    from ometiff import repair, validate

    path = tmp_path / "kinds.ome.tif"
    write_ome(
        path,
        ome_xml(
            uuid=new_uuid(),
            pixel_attrs=(
                'PhysicalSizeX="0.5" PhysicalSizeXUnit="sec" PhysicalSizeY="0.5" '
                'PhysicalSizeYUnit="\u03bcm" TimeIncrement="2" TimeIncrementUnit="msec"'
            ),
        ),
    )
    report = repair([path])
    fixed = sorted(a.message for a in report.actions if a.code == "U1-unit")
    assert fixed == ["unit 'msec' written as 'ms' (1x)", "unit '\u03bcm' written as 'µm' (1x)"]
    attrs = _pixels_attrs(path)
    assert (attrs["PhysicalSizeXUnit"], attrs["PhysicalSizeYUnit"], attrs["TimeIncrementUnit"]) == (
        "sec",
        "µm",
        "ms",
    )
    codes = {i.code for i in validate(path).issues}
    assert "U1-unknown-unit" in codes and "U2-unit-spelling" not in codes
