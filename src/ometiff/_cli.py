"""The ``ometiff`` command: a typer app with one thin command per library function.

Exit codes: 0 ok, 1 file invalid (validate), 2 usage error or unreadable input.
An ``OmeTiffError`` is printed as one line on stderr; anything else is a bug and
shows a traceback. Command modules register themselves on :data:`app`; they are
imported at the bottom of this module so heavy imports stay inside commands.
"""

# no `from __future__ import annotations`: typer reads the hints at runtime

import logging
import sys
from collections.abc import Sequence

import typer

from ometiff._errors import OmeTiffError

app = typer.Typer(
    name="ometiff",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Inspect, validate, create, convert and edit OME-TIFF.",
)


def _version(value: bool) -> None:
    if value:
        from ometiff import __version__

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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0, 1 or 2)."""
    args = list(sys.argv[1:] if argv is None else argv)
    # tifffile logs recoverable damage (IFD loops, bad tags) itself; ometiff reports
    # those as problems in its own words, so keep its log quiet on the terminal.
    logging.getLogger("tifffile").setLevel(logging.CRITICAL)
    try:
        result = app(args, standalone_mode=False, prog_name="ometiff")
    except OmeTiffError as exc:
        error(str(exc))
        return 2
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        error("aborted")
        return 2
    except typer.TyperException as exc:  # usage errors: bad option, missing argument
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            error(str(exc))
        return 2
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except BrokenPipeError:
        return 0
    return int(result) if isinstance(result, int) else 0


# Command modules: each registers its commands on `app`.
from ometiff import (  # noqa: E402, F401
    _cli_convert,
    _cli_info,
    _cli_meta,
    _cli_show,
    _cli_validate,
)
