"""The ``ometiff`` command: a typer app with one thin command per library function.

Exit codes: 0 ok, 1 file invalid (validate), 2 usage error or unreadable input,
3 internal error (a bug). An ``OmeTiffError`` is printed as one line on stderr,
in command-line words (:func:`cli_message`); anything else is a bug, printed as
one line asking for a report, with the traceback behind the global ``--debug``.
Command modules (``ometiff.cli.*``) register themselves on :data:`app`;
:mod:`ometiff.cli.main` imports them all and runs the app.
"""

# no `from __future__ import annotations`: typer reads the hints at runtime

import re
from typing import Annotated

import typer

from ometiff.errors import OmeTiffError

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
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show the full traceback of an error (for bug reports)."
    ),
    max_memory: str | None = typer.Option(
        None,
        "--max-memory",
        metavar="SIZE",
        help="Memory budget for decoding one plane or region (e.g. 512M, 8G); a file "
        "declaring more is refused. Default: 2G, or less on a small machine.",
    ),
) -> None:
    """Inspect, validate, create, convert and edit OME-TIFF."""
    if isinstance(ctx.obj, dict):  # main() passes a dict to learn about --debug
        ctx.obj["debug"] = debug
    if max_memory is not None:
        from ometiff.readers.decode import memory_budget

        # in force for this command only: the context closes when the command ends
        ctx.with_resource(memory_budget(max_memory))


def cli_message(exc: OmeTiffError) -> str:
    """The message of a library error in command-line words.

    Library messages speak API (``pass overwrite=True``); an error that names the
    argument in ``exc.option`` gets it rewritten as the option of the same name
    (``--overwrite``; ``compression='foo'`` becomes ``--compression foo``).
    """
    text = str(exc)
    if exc.option:
        name, flag = re.escape(exc.option), "--" + exc.option.replace("_", "-")
        text = re.sub(rf"\b{name}=True\b", flag, text)
        text = re.sub(rf"\b{name}=(['\"]?)([^\s,;:'\"]*)\1", rf"{flag} \2", text)
    return text


def error(message: "str | OmeTiffError") -> None:
    """Print one diagnostic line on stderr (an error in command-line words)."""
    text = cli_message(message) if isinstance(message, OmeTiffError) else message
    text = " ".join(text.split())  # one line, whatever a library put in its message
    typer.echo(f"ometiff: error: {text}", err=True)


#: ``--reader``, ``--axes`` and ``--pattern``: how commands that read any input open it.
ReaderOption = Annotated[
    str | None, typer.Option("--reader", help="Force a reader (see `ometiff formats`).")
]
AxesOption = Annotated[str | None, typer.Option("--axes", help="Axes of a .npy input, e.g. ZYX.")]
PatternOption = Annotated[
    str | None,
    typer.Option("--pattern", help="Regex with named groups t, z, c for an image series."),
]


def reader_options(axes: "str | None", pattern: "str | None") -> "dict[str, str]":
    """The reader options given on the command line (``--axes``, ``--pattern``)."""
    options = {}
    if axes:
        options["axes"] = axes
    if pattern:
        options["pattern"] = pattern
    return options


def internal_error(exc: BaseException) -> None:
    """Print the one line that reports a bug (the traceback is behind ``--debug``)."""
    detail = str(exc).splitlines()[0] if str(exc) else ""
    what = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    typer.echo(
        f"ometiff: internal error ({what}); please report it, with the output of --debug",
        err=True,
    )
