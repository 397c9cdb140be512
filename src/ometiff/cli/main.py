"""Entry point of the ``ometiff`` command: registers every command module on the app."""

# no `from __future__ import annotations`: typer reads the hints at runtime

import logging
import sys
from collections.abc import Sequence

import typer

# Each command module registers its commands on `app` when imported.
from ometiff.cli import convert, info, meta, show, validate  # noqa: F401
from ometiff.cli.app import app, error
from ometiff.errors import OmeTiffError


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
