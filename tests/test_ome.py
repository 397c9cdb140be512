"""The fast OME-XML view and the TiffData plane map (checklist T1-T6, D3)."""

from __future__ import annotations

import pytest

from ometiff import OmeXmlError
from ometiff.ome.planemap import plane_map
from ometiff.ome.view import parse_ome

NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


def _image(
    tiffdata: str, *, order: str = "XYZCT", z: int = 2, c: int = 3, t: int = 2, channels: str = ""
) -> str:
    return (
        f'<OME xmlns="{NS}"><Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="{order}" '
        f'Type="uint8" SizeX="4" SizeY="4" SizeZ="{z}" SizeC="{c}" SizeT="{t}">{channels}'
        f"{tiffdata}</Pixels></Image></OME>"
    )


@pytest.mark.parametrize("order", ["XYZCT", "XYZTC", "XYCTZ", "XYCZT", "XYTCZ", "XYTZC"])
def test_rasterisation_follows_dimension_order(order: str) -> None:
    """T1/D3: the letter after XY varies fastest; index_of and zct_of are inverse."""
    image = parse_ome(_image("<TiffData/>", order=order)).images[0]
    pm = plane_map(image)
    assert len(pm.planes) == 12 and not pm.unmapped
    sizes = {"Z": 2, "C": 3, "T": 2}
    fastest = order[2]
    first, second = pm.planes[0], pm.planes[1]
    moved = {"Z": second.z - first.z, "C": second.c - first.c, "T": second.t - first.t}
    assert moved[fastest] == 1 and sum(moved.values()) == 1
    for index, ref in pm.planes.items():
        assert image.index_of(ref.z, ref.c, ref.t) == index == ref.ifd
        assert image.zct_of(index) == (ref.z, ref.c, ref.t)
    assert sizes[fastest] >= 2


def test_tiffdata_without_attributes_uses_file_ifd_count() -> None:
    """T2: PlaneCount defaults to the number of IFDs in the file."""
    image = parse_ome(_image("<TiffData/>")).images[0]
    pm = plane_map(image, ifd_count=lambda uuid, name: 5)
    assert len(pm.planes) == 5 and len(pm.unmapped) == 7


def test_ifd_without_planecount_maps_one_plane_then_fill_down() -> None:
    """T2 says one plane; Bio-Formats fills down (T6), reported as such."""
    image = parse_ome(_image('<TiffData IFD="0"/>', z=3, c=1, t=1)).images[0]
    strict = plane_map(image, fill_down=False)
    assert list(strict.planes) == [0] and strict.unmapped == (1, 2)
    lenient = plane_map(image, ifd_count=lambda u, n: 3)
    assert [r.ifd for r in lenient.planes.values()] == [0, 1, 2] and lenient.filled == (1, 2)


def test_duplicates_and_overflow() -> None:
    """T3/T5: planes mapped twice and PlaneCount past the last plane are recorded."""
    # XYZCT with Z=2, C=3, T=2: plane index = z + 2*c + 6*t
    xml = _image(
        '<TiffData IFD="0" PlaneCount="6"/>'  # planes 0-5
        '<TiffData IFD="6" FirstC="2" PlaneCount="2"/>'  # planes 4-5 again
        '<TiffData IFD="8" FirstC="2" FirstT="1" PlaneCount="4"/>'  # planes 10-13: 2 past the end
    )
    pm = plane_map(parse_ome(xml).images[0])
    assert pm.duplicates == ((4, 1), (5, 1))
    assert pm.overflow == ((2, 2),)
    assert pm.unmapped == (6, 7, 8, 9)
    assert pm.planes[10].ifd == 8 and pm.planes[11].ifd == 9


def test_rgb_effective_channels() -> None:
    """R3: planes per (Z, T) = SizeC / SamplesPerPixel."""
    ch = '<Channel ID="Channel:0:0" SamplesPerPixel="3"/>'
    image = parse_ome(_image("<TiffData/>", c=3, z=1, t=1, channels=ch)).images[0]
    assert image.samples_per_pixel == 3 and image.effective_size_c == 1 and image.plane_count == 1


def test_illegal_dimension_order_is_read_as_xyzct() -> None:
    image = parse_ome(_image("<TiffData/>", order="XYQQT")).images[0]
    pm = plane_map(image)
    assert [(r.z, r.c, r.t) for r in list(pm.planes.values())[:3]] == [
        (0, 0, 0),
        (1, 0, 0),
        (0, 1, 0),
    ]


def test_uuid_and_filename_are_read() -> None:
    xml = _image(
        '<TiffData IFD="0" PlaneCount="12"><UUID FileName="b.ome.tif">urn:uuid:x</UUID></TiffData>'
    )
    (td,) = parse_ome(xml).images[0].tiffdata
    assert (td.uuid, td.filename, td.ifd, td.plane_count) == ("urn:uuid:x", "b.ome.tif", 0, 12)


def test_not_ome() -> None:
    with pytest.raises(OmeXmlError, match="not <OME>"):
        parse_ome("<Foo/>")
    with pytest.raises(OmeXmlError, match="not well-formed"):
        parse_ome("<OME")


def test_length_and_time_conversions() -> None:
    """U1-U3: schema units, common misspellings, and non-lengths."""
    from ometiff.ome.units import to_micrometres, to_seconds

    assert to_micrometres(325, "nm") == pytest.approx(0.325)
    assert to_micrometres(1, "um") == pytest.approx(1) and to_micrometres(2, "micron") == 2
    assert to_micrometres(1, "in") == pytest.approx(25400)
    assert to_micrometres(12, "li") == pytest.approx(25400)  # a line is 1/12 inch
    assert to_micrometres(1000, "thou") == pytest.approx(25400)
    assert to_micrometres(72, "pt") == pytest.approx(25400)
    assert to_micrometres(1, "pixel") is None and to_micrometres(None, "µm") is None
    assert to_micrometres(3, None) == 3  # the schema default is µm (U3)
    assert to_seconds(250, "ms") == pytest.approx(0.25) and to_seconds(2, "min") == 120
