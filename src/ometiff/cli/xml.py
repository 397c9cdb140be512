"""``ometiff xml``: the OME-XML of any input.

For an OME-TIFF (or a ``.companion.ome``), the XML the file holds. For every other
input (a TIFF without OME-XML, LIF, CZI, ND2, OME-Zarr, an image series, ``.npy``),
the OME-XML ``ometiff convert`` would write into the output: the reader's OME after
the conversion's preparation, conformed by the writer to the planes it writes
(sizes, pixel type, TiffData), for the default single-file output: both come from
:func:`ometiff.conversion.ome_xml_of`, the library's one home for this.
"""

# no `from __future__ import annotations`: typer reads the hints at runtime

from pathlib import Path
from typing import Annotated

import typer

from ometiff.cli.app import AxesOption, PatternOption, ReaderOption, app, reader_options


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

    from ometiff.conversion import ome_xml_of
    from ometiff.errors import OmeXmlError
    from ometiff.ome.xml import parse_xml

    options = reader_options(axes, pattern)
    xml = ome_xml_of(path, reader=reader, **options)
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
