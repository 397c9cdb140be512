"""Entry point of the ``ometiff`` command: registers every command module on the app."""

# no `from __future__ import annotations`: typer reads the hints at runtime

import logging
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import typer

# Each command module registers its commands on `app` when imported.
from ometiff.cli import convert, info, meta, show, validate, view, xml  # noqa: F401
from ometiff.cli.app import app, error, internal_error
from ometiff.errors import OmeTiffError

EXIT_INTERNAL = 3


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0, 1, 2, or 3 for a bug)."""
    args = list(sys.argv[1:] if argv is None else argv)
    run: dict[str, Any] = {"debug": False}
    # tifffile logs recoverable damage (IFD loops, bad tags) itself; ometiff reports
    # those as problems in its own words, so its log stays quiet for this run only.
    tifffile_log = logging.getLogger("tifffile")
    level = tifffile_log.level
    tifffile_log.setLevel(logging.CRITICAL)
    try:
        result = app(args, standalone_mode=False, prog_name="ometiff", obj=run)
    except OmeTiffError as exc:
        if run["debug"]:
            traceback.print_exc()
        error(exc)
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
    except MemoryError as exc:  # past the budget's checks: only when --max-memory was raised
        if run["debug"]:
            traceback.print_exc()
        error(f"out of memory ({exc}); a smaller --max-memory refuses such inputs up front")
        return 2
    except Exception as exc:  # a bug: one line, the traceback behind --debug
        if run["debug"]:
            traceback.print_exc()
        internal_error(exc)
        return EXIT_INTERNAL
    finally:
        tifffile_log.setLevel(level)
    return int(result) if isinstance(result, int) else 0
