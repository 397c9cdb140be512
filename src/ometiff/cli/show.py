"""``ometiff show``: render a plane, a Z projection or a channel composite as PNG."""

# no `from __future__ import annotations`: typer reads the hints at runtime

from pathlib import Path
from typing import Annotated

import typer

from ometiff.cli.app import AxesOption, PatternOption, ReaderOption, app, reader_options
from ometiff.errors import InvalidArgumentError
from ometiff.progress import ProgressReporter


def _channel(value: str | None) -> int | str | None:
    if value is None or value.lower() == "all":
        return "all" if value else None
    try:
        number = int(value)
    except ValueError:
        raise InvalidArgumentError(f"--c takes a channel number or 'all', not {value!r}") from None
    return number


@app.command()
def show(
    path: Annotated[
        Path,
        typer.Argument(
            help="Any input `ometiff formats` lists: TIFF, .companion.ome, LIF, CZI, ND2, "
            "OME-Zarr or image-series folders, globs, patterns, .npy."
        ),
    ],
    out: Annotated[
        Path, typer.Option("-o", "--output", help="PNG to write (replaced if it exists).")
    ],
    series: Annotated[int, typer.Option("--series", help="Series (image) index.")] = 0,
    z: Annotated[int | None, typer.Option("--z", help="Z plane (default: the middle one).")] = None,
    t: Annotated[int, typer.Option("--t", help="Time point.")] = 0,
    c: Annotated[
        str | None,
        typer.Option(
            "--c", metavar="N|all", help="One channel (drawn in gray) or 'all' (default)."
        ),
    ] = None,
    project: Annotated[
        str | None, typer.Option("--project", metavar="max", help="Maximum projection over Z.")
    ] = None,
    level: Annotated[int, typer.Option("--level", help="Pyramid level (0 = full resolution).")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress, no summary.")] = False,
    reader: ReaderOption = None,
    axes: AxesOption = None,
    pattern: PatternOption = None,
) -> None:
    """Render a plane, a Z max-projection or a channel composite as an RGB PNG.

    Channels are drawn in their OME colours with automatic contrast
    (0.1-99.9 percentiles per channel); RGB images are shown as RGB.
    """
    from ometiff.render.png import render

    if project is not None and project != "max":
        raise InvalidArgumentError(f"--project takes 'max', not {project!r}")
    label = f"show {path.name}"
    # progress: a bar on a terminal, plain log lines otherwise (the library draws none)
    with ProgressReporter(enabled=not quiet) as reporter:
        result = render(
            path,
            out,
            series=series,
            z=z,
            t=t,
            c=_channel(c),  # type: ignore[arg-type]
            project="max" if project else None,
            level=level,
            on_plane=lambda done, total: reporter.update(label, done, total),
            reader=reader,
            reader_options=reader_options(axes, pattern),
        )
    if not quiet:
        ranges = "; ".join(f"C{ch} {lo:.5g}–{hi:.5g}" for ch, lo, hi in result.limits)
        typer.echo(
            f"{result.path}: {result.width}x{result.height} PNG of {path.name} "
            f"({result.description}; display range {ranges})"
        )
