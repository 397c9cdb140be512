"""``ometiff meta get|set|replace`` and ``ometiff repair``: safe metadata edits and repairs."""

# no `from __future__ import annotations`: typer reads the hints at runtime

from pathlib import Path
from typing import Annotated, Any

import typer

from ometiff.cli.app import app
from ometiff.errors import InvalidArgumentError, file_error

meta_app = typer.Typer(
    name="meta",
    no_args_is_help=True,
    add_completion=False,
    help="Read or edit the OME-XML of an OME-TIFF (or of every copy in its file set), safely.",
)
app.add_typer(meta_app, name="meta")


def _pairs(values: list[str], what: str) -> dict[str, str]:
    """``['0=DAPI', 'x=0.3µm,y=0.3µm']`` -> ``{'0': 'DAPI', 'x': '0.3µm', 'y': '0.3µm'}``."""
    out: dict[str, str] = {}
    for value in values:
        for part in value.split(",") if what == "--physical-size" else [value]:
            key, sep, rest = part.partition("=")
            if not sep or not key.strip() or not rest.strip():
                raise InvalidArgumentError(
                    f"{what} {part!r}: expected KEY=VALUE (e.g. {_EXAMPLES[what]})"
                )
            out[key.strip()] = rest.strip()
    return out


_EXAMPLES = {
    "--channel-name": "0=DAPI",
    "--channel-color": "0=#0000FF",
    "--physical-size": "x=0.325µm",
}


def _channels(values: list[str], what: str) -> dict[int, str]:
    out: dict[int, str] = {}
    for key, value in _pairs(values, what).items():
        if not key.isdigit():
            raise InvalidArgumentError(
                f"{what} {key}={value}: the key must be a channel index (0, 1, ...)"
            )
        out[int(key)] = value
    return out


def _print_result(result: Any, quiet: bool) -> None:
    if quiet:
        return
    for edit in result.edits:
        if not edit.changes:
            typer.echo(f"{edit.path}: unchanged")
            continue
        verb = "would change" if result.dry_run else "changed"
        typer.echo(f"{edit.path}: {verb}")
        for change in edit.changes:
            typer.echo(f"  {change}")
        if edit.written:
            how = (
                "in place"
                if edit.in_place
                else "appended, tag pointer updated"
                if edit.in_place is False
                else "file replaced"
            )
            typer.echo(
                f"  wrote {edit.new_bytes:,} bytes of OME-XML ({how}; was {edit.old_bytes:,})"
            )
        if edit.backup is not None:
            typer.echo(f"  old OME-XML kept in {edit.backup}")


@meta_app.command("get")
def get(
    path: Annotated[Path, typer.Argument(help="An OME-TIFF, a member of a set, or a companion.")],
    raw: Annotated[
        bool, typer.Option("--raw", help="This file's own XML, even for a BinaryOnly member.")
    ] = False,
) -> None:
    """Print the OME-XML (for a BinaryOnly member: its companion's)."""
    from ometiff.editing.meta import meta_get

    typer.echo(meta_get(path, raw=raw).rstrip("\n"))


@meta_app.command(
    "set", context_settings={"allow_extra_args": True, "ignore_unknown_options": False}
)
def set_(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="An OME-TIFF, a member of a set, or a companion.")],
    series: Annotated[int, typer.Option("--series", help="Image to edit (0-based).")] = 0,
    channel_name: Annotated[
        list[str] | None,
        typer.Option("--channel-name", help="INDEX=NAME, e.g. 0=DAPI (repeat per channel)."),
    ] = None,
    channel_color: Annotated[
        list[str] | None,
        typer.Option(
            "--channel-color", help="INDEX=COLOR: #RRGGBB, #RRGGBBAA, a name or an RGBA int."
        ),
    ] = None,
    physical_size: Annotated[
        list[str] | None,
        typer.Option(
            "--physical-size",
            help="AXIS=SIZE, e.g. x=0.325µm y=0.325µm z=1.5µm (um/micron accepted, written µm).",
        ),
    ] = None,
    time_increment: Annotated[
        str | None, typer.Option("--time-increment", help="e.g. 2s, 500ms, 1.5 min.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Image name.")] = None,
    description: Annotated[
        str | None, typer.Option("--description", help="Image description.")
    ] = None,
    backup: Annotated[
        bool, typer.Option("--backup", help="Keep the old XML as <name>.ome.xml.bak.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and show the changes; write nothing.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
) -> None:
    """Edit metadata fields; the edit is checked first and written crash-safely."""
    from ometiff.editing.meta import meta_set

    sizes = list(physical_size or [])
    for extra in ctx.args:  # "--physical-size x=1µm y=1µm z=2µm": y=, z= arrive here
        key = extra.partition("=")[0].strip().lower()
        if "=" in extra and key and set(key) <= set("xyz"):
            sizes.append(extra)
        else:
            raise InvalidArgumentError(
                f"unexpected argument {extra!r} (repeat the option for each value, "
                "e.g. --channel-name 0=DAPI --channel-name 1=GFP)"
            )
    given = (time_increment, name, description)
    if not (channel_name or channel_color or sizes or any(v is not None for v in given)):
        raise InvalidArgumentError("nothing to set: give at least one field option (see --help)")
    result = meta_set(
        path,
        series=series,
        channel_names=_channels(channel_name or [], "--channel-name"),
        channel_colors=_channels(channel_color or [], "--channel-color"),
        physical_size=_pairs(sizes, "--physical-size"),
        time_increment=time_increment,
        name=name,
        description=description,
        backup=backup,
        dry_run=dry_run,
    )
    _print_result(result, quiet)


@meta_app.command("replace")
def replace(
    path: Annotated[Path, typer.Argument(help="An OME-TIFF, a member of a set, or a companion.")],
    xml_file: Annotated[Path, typer.Argument(help="The new OME-XML document.")],
    backup: Annotated[
        bool, typer.Option("--backup", help="Keep the old XML as <name>.ome.xml.bak.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check the new document; write nothing.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
) -> None:
    """Replace the whole OME-XML; the document is checked against the file first."""
    from ometiff.editing.meta import meta_replace

    try:
        data = xml_file.read_bytes()
    except OSError as exc:
        raise file_error(xml_file, exc) from exc
    _print_result(meta_replace(path, data, backup=backup, dry_run=dry_run), quiet)


@app.command("repair")
def repair(
    paths: Annotated[
        list[Path], typer.Argument(help="Files of the set (members and/or companion) or folders.")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be repaired; write nothing.")
    ] = False,
    to_companion: Annotated[
        bool,
        typer.Option("--to-companion", help="Move the metadata to a .companion.ome (BinaryOnly)."),
    ] = False,
    to_embedded: Annotated[
        bool,
        typer.Option("--to-embedded", help="Embed the companion's metadata in every member."),
    ] = False,
    backup: Annotated[
        bool, typer.Option("--backup", help="Keep each old XML as <name>.ome.xml.bak.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
) -> None:
    """Fix broken OME-TIFF sets: links, TiffData, units; convert embedded <-> companion."""
    from ometiff.editing.repair import repair as run_repair

    if to_companion and to_embedded:
        raise InvalidArgumentError("--to-companion and --to-embedded exclude each other")
    report = run_repair(
        paths,
        dry_run=dry_run,
        to_companion=to_companion,
        to_embedded=to_embedded,
        backup=backup,
    )
    for action in report.unresolved:
        typer.echo(f"{action.path}: [{action.code}] not repaired: {action.message}", err=True)
    if not quiet:
        for action in report.actions:
            typer.echo(f"{action.path}: [{action.code}] {action.message}")
        if not report.actions:
            typer.echo("nothing to repair")
        elif dry_run:
            typer.echo(f"{len(report.actions)} repair(s) planned (dry run: nothing written)")
        else:
            typer.echo(f"{len(report.actions)} repair(s) done")
    if report.unresolved:
        raise typer.Exit(1)
