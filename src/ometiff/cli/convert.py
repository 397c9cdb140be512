"""``ometiff convert`` and ``ometiff formats``: thin wrappers over :func:`ometiff.convert`."""

# no `from __future__ import annotations`: typer reads the hints at runtime

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from ometiff.cli.app import app
from ometiff.errors import WriteError
from ometiff.progress import ProgressReporter
from ometiff.tiff.names import OME_SUFFIXES


def _indices(text: str | None, what: str) -> list[int] | None:
    """'0,2,5-7' -> [0, 2, 5, 6, 7]."""
    if text is None:
        return None
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part[1:]:
                lo, hi = part.split("-", 1)
                out.extend(range(int(lo), int(hi) + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise WriteError(
                f"--{what} {text!r}: give 0-based indices and ranges, e.g. 0,2,4-6"
            ) from None
    return out


def _pyramid(text: str) -> Any:
    if text in ("auto", "none", "0"):
        return None if text in ("none", "0") else "auto"
    try:
        return int(text)
    except ValueError:
        raise WriteError(f"--pyramid {text!r}: use auto, none or a number of levels") from None


def _chunks(text: str | None) -> list[int] | None:
    """'512' / '256,256' / '4,256,256' -> sizes."""
    if text is None:
        return None
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise WriteError(
            f"--chunks {text!r}: give EDGE, Y,X or Z,Y,X in pixels, e.g. 1024 or 4,512,512",
            option="chunks",
        ) from None


class _ConvertProgress:
    """Route ``convert``'s ``on_plane(stage, done, total)`` to labelled progress tasks.

    Tasks are ``convert <input>`` and ``verify <input>``; a write that starts again
    at plane 1 belongs to the next input.
    """

    def __init__(self, reporter: ProgressReporter, names: list[str]) -> None:
        self.reporter, self.names = reporter, names
        self.index = -1

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage == "write" and done == 1:
            self.index = min(self.index + 1, len(self.names) - 1)
        name = self.names[max(self.index, 0)]
        self.reporter.update(f"{'convert' if stage == 'write' else 'verify'} {name}", done, total)


@app.command()
def convert(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Inputs (files, folders, globs or patterns such as 'img_t{t}_z{z}.tif'), "
            "then the output .ome.tif or folder."
        ),
    ],
    series: Annotated[str | None, typer.Option(help="Series to keep, e.g. 0,2 or 1-3.")] = None,
    channels: Annotated[str | None, typer.Option(help="Channels to keep (0-based).")] = None,
    z: Annotated[str | None, typer.Option("--z", help="Z sections to keep.")] = None,
    t: Annotated[str | None, typer.Option("--t", help="Time points to keep.")] = None,
    split: Annotated[str | None, typer.Option(help="One file per 'series', 'c' or 't'.")] = None,
    companion: Annotated[
        bool, typer.Option(help="Put the metadata in a .companion.ome file.")
    ] = False,
    compression: Annotated[
        str,
        typer.Option(
            help="Codec: zlib (OME-TIFF default), lzw, zstd (OME-Zarr default), jpeg, blosc, "
            "gzip, none..."
        ),
    ] = "auto",
    tile: Annotated[int | None, typer.Option(help="Tile edge in pixels (e.g. 512).")] = None,
    pyramid: Annotated[
        str,
        typer.Option(
            help="Pyramid: auto (the source's own levels, else built), none, or N levels "
            "built by halving."
        ),
    ] = "auto",
    bigtiff: Annotated[
        bool,
        typer.Option("--bigtiff", help="Write BigTIFF (always for .ome.btf/.ome.tf2/.ome.tf8)."),
    ] = False,
    verify: Annotated[
        bool,
        typer.Option("--verify/--no-verify", help="Compare every written plane with its source."),
    ] = True,
    original_metadata: Annotated[
        bool, typer.Option("--original-metadata", help="Keep vendor key-values as a MapAnnotation.")
    ] = False,
    report: Annotated[Path | None, typer.Option(help="Write a JSON conversion receipt.")] = None,
    axes: Annotated[str | None, typer.Option(help="Axes of a .npy input, e.g. ZYX.")] = None,
    pattern: Annotated[
        str | None, typer.Option(help="Regex with named groups t, z, c for an image series.")
    ] = None,
    reader: Annotated[
        str | None, typer.Option(help="Force a reader (see `ometiff formats`).")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace existing outputs.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress, no summary.")] = False,
    ngff: Annotated[
        str, typer.Option(help="OME-Zarr: NGFF version, 0.5 (Zarr v3) or 0.4 (Zarr v2).")
    ] = "0.5",
    layout: Annotated[
        str,
        typer.Option(
            help="OME-Zarr: bioformats2raw (OME/METADATA.ome.xml, series 0, 1...) or image "
            "(one series at the root)."
        ),
    ] = "bioformats2raw",
    chunks: Annotated[
        str | None,
        typer.Option(help="OME-Zarr chunk shape: EDGE, Y,X or Z,Y,X (default 1,1024,1024)."),
    ] = None,
    shard: Annotated[
        bool, typer.Option("--shard", help="OME-Zarr 0.5: store 4x4 chunks per shard file.")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Convert on a local Dask cluster of N worker processes (default with "
            "several inputs: one per core); one input into one .ome.tif: its tiles are "
            "read and encoded on all of them."
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Convert on a running Dask scheduler, e.g. tcp://head:8786 (inputs and "
            "output on a file system the workers share)."
        ),
    ] = None,
    recursive: Annotated[
        bool,
        typer.Option(
            "--recursive",
            "-r",
            help="Convert the image files in input folders and their "
            "subfolders (the structure is kept).",
        ),
    ] = False,
    retries: Annotated[
        int,
        typer.Option(
            help="Further attempts after a transient failure (a lost worker); bad input "
            "is never retried."
        ),
    ] = 2,
    threads: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Threads each conversion decodes, compresses and verifies on (default: "
            "all cores; on workers: each worker's); 1 keeps it on one thread, e.g. in a "
            "one-core cluster job.",
        ),
    ] = None,
    journal: Annotated[
        bool,
        typer.Option(
            "--journal/--no-journal",
            help="Skip inputs the output folder's journal records "
            "as done; record each converted file.",
        ),
    ] = True,
) -> None:
    """Convert images (OME-TIFF, ImageJ, TIFF variants, LIF, CZI, ND2, OME-Zarr, series, .npy)
    to OME-TIFF, or to OME-Zarr when the output ends with .ome.zarr."""
    from ometiff.conversion import convert as _convert

    if len(paths) < 2:
        raise WriteError("give at least one input and an output (SRC... DST)")
    *srcs, dst = paths
    if split not in (None, "series", "c", "t"):
        raise WriteError(f"--split {split!r}: use series, c or t")
    options: dict[str, Any] = {}
    if axes:
        options["axes"] = axes
    if pattern:
        options["pattern"] = pattern
    on_workers = workers is not None or scheduler is not None
    # one input into one file: the image's tiles are encoded on the workers
    one_image = (
        on_workers
        and len(srcs) == 1
        and not recursive
        and not dst.is_dir()
        and dst.name.lower().endswith(OME_SUFFIXES)
    )
    if (len(srcs) > 1 or recursive or on_workers) and not one_image:
        _convert_batch(
            srcs,
            dst,
            workers=workers,
            scheduler=scheduler,
            recursive=recursive,
            retries=retries,
            journal=journal,
            quiet=quiet,
            report=report,
            kwargs={
                "reader": reader,
                "reader_options": options or None,
                "series": _indices(series, "series"),
                "channels": _indices(channels, "channels"),
                "z": _indices(z, "z"),
                "t": _indices(t, "t"),
                "split": split,
                "companion": companion,
                "compression": compression,
                "tile": tile,
                "pyramid": _pyramid(pyramid),
                "bigtiff": True if bigtiff else None,
                "verify": verify,
                "original_metadata": original_metadata,
                "overwrite": overwrite,
                "threads": threads,
            },
        )
        return
    if one_image:  # refused before a cluster is started
        from ometiff.writer.multifile import check_output

        check_output(dst, overwrite=overwrite)
    with contextlib.ExitStack() as stack:
        client = (
            stack.enter_context(_dask_client(workers, scheduler, retries, quiet))
            if one_image
            else None
        )
        reporter = stack.enter_context(ProgressReporter(enabled=not quiet))
        result = _convert(
            srcs if len(srcs) > 1 else srcs[0],
            dst,
            reader=reader,
            reader_options=options or None,
            series=_indices(series, "series"),
            channels=_indices(channels, "channels"),
            z=_indices(z, "z"),
            t=_indices(t, "t"),
            split=split,  # type: ignore[arg-type]
            companion=companion,
            compression=compression,
            tile=tile,
            pyramid=_pyramid(pyramid),
            bigtiff=True if bigtiff else None,
            verify=verify,
            original_metadata=original_metadata,
            report=report,
            overwrite=overwrite,
            on_plane=_ConvertProgress(reporter, [p.name or str(p) for p in srcs]),
            ngff=ngff,
            layout=layout,  # type: ignore[arg-type]
            chunks=_chunks(chunks),
            shards=True if shard else None,
            threads=threads,
            client=client,
            retries=retries,
        )
    if quiet:
        return
    for r in result.receipts:
        typer.echo(
            f"{r.source} -> {', '.join(r.outputs)} ({r.reader}, "
            f"{len(r.series)} series, {r.planes_written} planes, {r.seconds:.2f} s)"
        )
    if verify:
        typer.echo(f"{result.planes_verified} planes verified")
    else:
        typer.echo(f"{result.planes_written} planes written (not verified)")
    if report is not None:
        typer.echo(f"report: {report}")


def _quiet_tifffile(client: Any) -> None:
    """On every worker (also those started later), tifffile's own log stays quiet, as in
    the command's process (main.py): damage is reported in ometiff's words."""
    import logging

    from distributed.diagnostics.plugin import WorkerPlugin

    class QuietTifffile(WorkerPlugin):
        def setup(self, worker: Any) -> None:
            logging.getLogger("tifffile").setLevel(logging.CRITICAL)

    client.register_plugin(QuietTifffile(), name="ometiff-quiet-tifffile")


@contextlib.contextmanager
def _dask_client(
    workers: int | None, scheduler: str | None, retries: int, quiet: bool
) -> Iterator[Any]:
    """The Dask client of a conversion on workers (a batch, or one image split into
    tiles): ``--retries`` checked, tifffile quiet on the workers, the cluster announced."""
    from ometiff.batch import dashboard_link, open_client

    if retries < 0:
        raise WriteError(f"--retries {retries}: give 0 or more")
    with open_client(workers=workers, scheduler=scheduler, retries=retries) as client:
        _quiet_tifffile(client)
        if not quiet:
            _announce(client, scheduler, dashboard_link(client))
        yield client


def _announce(client: Any, scheduler: str | None, link: str | None) -> None:
    where = (
        scheduler
        or f"a local cluster of {len(client.scheduler_info()['workers'])} worker processes"
    )
    typer.echo(f"converting on {where}" + (f"; dashboard: {link}" if link else ""), err=True)


def _convert_batch(
    srcs: list[Path],
    dst: Path,
    *,
    workers: int | None,
    scheduler: str | None,
    recursive: bool,
    retries: int,
    journal: bool,
    quiet: bool,
    report: Path | None,
    kwargs: dict[str, Any],
) -> None:
    """Several inputs on Dask workers (:mod:`ometiff.batch`): progress per file,
    one line per failed input, the totals; exit 1 when any input failed."""
    from ometiff.conversion import convert as _convert

    with _dask_client(workers, scheduler, retries, quiet) as client:
        with ProgressReporter(enabled=not quiet, unit="files") as reporter:
            result = _convert(
                srcs,
                dst,
                client=client,
                recursive=recursive,
                retries=retries,
                journal=journal,
                report=report,
                on_file=lambda done, total: reporter.update(f"convert {total} files", done, total),
                **kwargs,
            )
    summary = result.batch
    assert summary is not None
    if not quiet:
        typer.echo(summary.summary())
        if report is not None:
            typer.echo(f"report: {report}")
    elif not summary.ok:
        for o in summary.outcomes:
            if o.status == "failed":
                typer.echo(f"failed: {o.source}: {o.reason}", err=True)
    if not summary.ok:
        raise typer.Exit(1)


@app.command()
def formats() -> None:
    """List the input formats, their readers and whether their extras are installed."""
    from ometiff.readers import READERS

    for spec in READERS:
        state = "installed" if spec.available else f"missing: {spec.install_hint}"
        extra = f"[{spec.extra}]" if spec.extra else "core"
        suffixes = " ".join(spec.suffixes) or "(folders, globs, patterns)"
        typer.echo(f"{spec.name:<9} {extra:<9} {state:<10} {spec.description}")
        typer.echo(f"{'':<9} {suffixes}")
