"""``ometiff xml``: the OME-XML of any input.

For an OME-TIFF (or a ``.companion.ome``), the XML the file holds. For every other
input (a TIFF without OME-XML, LIF, CZI, ND2, OME-Zarr, an image series, ``.npy``),
the OME-XML ``ometiff convert`` would write into the output: the reader's OME after
the conversion's preparation (:func:`ometiff.conversion.prepare`), conformed by
the writer to the planes it writes (sizes, pixel type, TiffData), for the default
single-file output.
"""

# no `from __future__ import annotations`: typer reads the hints at runtime

from pathlib import Path
from typing import Annotated, Any

import typer

from ometiff.cli.app import AxesOption, PatternOption, ReaderOption, app, reader_options


def _own_xml(path: Path, reader: str | None, options: dict[str, str]) -> str | None:
    """The OME-XML a TIFF-family file holds; None when it holds none (then: converted)."""
    from ometiff.inspection import by_structure
    from ometiff.ome.view import read_ome_xml
    from ometiff.ome.xml import is_ome_xml
    from ometiff.tiff.structure import is_tiff, read_description

    if not by_structure(path, reader, options):
        return None
    if is_tiff(path):
        description = read_description(path)
        if description is None or not is_ome_xml(description):
            return None  # ImageJ, plain TIFF...: what convert makes of it
    return read_ome_xml(path)


def conversion_xml(path: Path, *, reader: str | None = None, **options: Any) -> str:
    """The OME-XML ``ometiff convert PATH out.ome.tif`` writes (default options).

    Only the root UUID differs from a real conversion (each file gets a new one).
    """
    from ometiff.conversion import prepare
    from ometiff.readers.registry import open_image
    from ometiff.writer.multifile import plan_files, tiffdata_runs
    from ometiff.writer.omexml import LightOme, render, with_root_uuid

    with open_image(path, reader=reader, **options) as rdr:
        ome, sources, _ = prepare(rdr, light=True)  # CZI, LIF: no ome_types, as convert
    if isinstance(ome, LightOme):
        orders = ome.orders()
        plans = plan_files(Path("converted.ome.tif"), sources, orders, None)
        template = render(ome, sources, orders, tiffdata_runs(plans), multi_file=False)
        return with_root_uuid(template, plans[0].uuid).decode()
    from ometiff.writer.omebuild import conform_ome, ome_xml_template

    orders = [image.pixels.dimension_order.value for image in ome.images]
    plans = plan_files(Path("converted.ome.tif"), sources, orders, None)
    conformed = conform_ome(ome, sources, orders, tiffdata_runs(plans), multi_file=False)
    return with_root_uuid(ome_xml_template(conformed), plans[0].uuid).decode()


@app.command("xml")
def xml_command(
    path: Annotated[
        Path,
        typer.Argument(
            help="An OME-TIFF or companion (its own XML), or any other input "
            "(the XML a conversion writes)."
        ),
    ],
    upgrade: Annotated[
        bool, typer.Option(help="Upgrade older schema versions to 2016-06 first.")
    ] = False,
    reader: ReaderOption = None,
    axes: AxesOption = None,
    pattern: PatternOption = None,
) -> None:
    """Print the OME-XML of a file, indented: its own, or what `ometiff convert` writes.

    OME-TIFF and .companion.ome files print the XML they hold (optionally upgraded
    to the 2016-06 schema); every other input prints the OME-XML a conversion to
    OME-TIFF would write.
    """
    from lxml import etree

    from ometiff.errors import OmeXmlError
    from ometiff.ome.xml import parse_xml

    options = reader_options(axes, pattern)
    xml = _own_xml(path, reader, options)
    if xml is None:
        xml = conversion_xml(path, reader=reader, **options)
    root = parse_xml(xml, source=str(path))
    if upgrade:
        from ometiff.ome.schema import upgrade as upgrade_xml

        try:
            root = upgrade_xml(root)
        except OmeXmlError as exc:
            raise OmeXmlError(f"{path}: {exc}") from exc
    etree.indent(root, space="  ")
    text = etree.tostring(root, encoding="unicode", pretty_print=True)
    typer.echo('<?xml version="1.0" encoding="UTF-8"?>\n' + text, nl=False)
