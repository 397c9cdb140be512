"""``ometiff validate`` (``ometiff xml`` lives in :mod:`ometiff.cli.xml`).

``validate`` exits 0 when no file has errors (warnings too with ``--strict``),
1 when a file is invalid and 2 when a file cannot be read at all.
"""

# no `from __future__ import annotations`: typer reads the hints at runtime

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ometiff.cli.app import app, cli_message, error
from ometiff.progress import ProgressReporter

_MARK = {"error": "✗", "warning": "!", "info": "·"}
_TITLE = {"error": "errors", "warning": "warnings", "info": "info"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _human(report: Any, *, show_info: bool) -> str:
    errors, warnings = len(report.errors), len(report.warnings)
    infos = len(report.issues) - errors - warnings
    counts = [_plural(errors, "error"), _plural(warnings, "warning")]
    if infos:
        counts.append(f"{infos} info")
    extra = f", {len(report.files)} files" if len(report.files) > 1 else ""
    mark = "✓" if report.ok else "✗"
    lines = [f"{mark} {report.path}  ({', '.join(counts)}{extra})"]
    for severity in ("error", "warning", "info"):
        group = [i for i in report.issues if i.severity == severity]
        if not group or (severity == "info" and not show_info):
            continue
        lines.append(f"  {_TITLE[severity]}:")
        for issue in group:
            lines.append(f"    {_MARK[severity]} [{issue.code}] {issue.loc}: {issue.message}")
    return "\n".join(lines)


@app.command("validate")
def validate_command(
    paths: Annotated[
        list[Path], typer.Argument(help="OME-TIFF files, set members or companion files.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
    strict: Annotated[bool, typer.Option(help="Treat warnings as errors.")] = False,
    no_schema: Annotated[
        bool, typer.Option("--no-schema", help="Skip the XML Schema check (faster).")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress and no info findings.")
    ] = False,
) -> None:
    """Check that each file is a correct OME-TIFF: schema, TIFF/XML agreement, plane map, sets."""
    from ometiff.errors import OmeTiffError
    from ometiff.validation.validator import validate

    reports: list[Any] = []
    unreadable = 0
    # a bar over several files on a terminal only (the reports themselves go to stdout)
    show = not quiet and not as_json and len(paths) > 1 and sys.stderr.isatty()
    with ProgressReporter(enabled=show, unit="files") as progress:
        for done, path in enumerate(paths, 1):
            try:
                report = validate(path, schema=not no_schema, strict=strict)
            except OmeTiffError as exc:
                unreadable += 1
                if as_json:
                    reports.append({"path": str(path), "ok": False, "error": cli_message(exc)})
                else:
                    error(exc)
                continue
            finally:
                progress.update("validating", done, len(paths))
            reports.append(report.to_dict() if as_json else report)
            if not as_json:
                typer.echo(_human(report, show_info=not quiet))
    if as_json:
        typer.echo(
            json.dumps(reports if len(paths) > 1 else reports[0], indent=2, ensure_ascii=False)
        )
    if unreadable:
        raise typer.Exit(2)
    invalid = any(not (r["ok"] if isinstance(r, dict) else r.ok) for r in reports)
    raise typer.Exit(1 if invalid else 0)
