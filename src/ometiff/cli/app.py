"""The ``ometiff`` command: a typer app with one thin command per library function.

Exit codes: 0 ok, 1 file invalid (validate), 2 usage error or unreadable input.
An ``OmeTiffError`` is printed as one line on stderr; anything else is a bug and
shows a traceback. Command modules (``ometiff.cli.*``) register themselves on
:data:`app`; :mod:`ometiff.cli.main` imports them all and runs the app.
"""

# no `from __future__ import annotations`: typer reads the hints at runtime

import typer

app = typer.Typer(
    name="ometiff",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Inspect, validate, create, convert and edit OME-TIFF.",
)


def _version(value: bool) -> None:
    if value:
        from ometiff.version import __version__

        typer.echo(f"ometiff {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """Inspect, validate, create, convert and edit OME-TIFF."""


def error(message: str) -> None:
    """Print one diagnostic line on stderr."""
    typer.echo(f"ometiff: error: {message}", err=True)
