"""``ometiff view``: the local web app (:mod:`ometiff.viewer`)."""

# no `from __future__ import annotations`: typer reads the hints at runtime

from pathlib import Path
from typing import Annotated

import typer

from ometiff.cli.app import app


@app.command()
def view(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files to open and folders to browse (default: this folder). "
            "Nothing else is read or listed."
        ),
    ] = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (default: a free one).")] = 0,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the URL; do not open a browser.")
    ] = False,
) -> None:
    """Look inside files and convert them in a local web app (Ctrl-C stops it)."""
    from ometiff.viewer.server import serve

    serve(list(paths or []), port=port, open_browser=not no_browser, echo=typer.echo)
