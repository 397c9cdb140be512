"""``ometiff info``: text and JSON views of :func:`ometiff.info`."""

# no `from __future__ import annotations`: typer reads the hints at runtime

import functools
import itertools
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ometiff.cli.app import (
    AxesOption,
    PatternOption,
    ReaderOption,
    app,
    cli_message,
    error,
    reader_options,
)
from ometiff.errors import InvalidArgumentError, OmeTiffError
from ometiff.progress import ProgressReporter


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"


def _ifd_line(ifd: Any) -> str:
    dtype = ifd.dtype or f"{ifd.bits_per_sample}-bit fmt {ifd.sample_format}"
    parts = [f"{ifd.width}×{ifd.height} {dtype}"]
    if ifd.samples_per_pixel != 1:
        planar = "planar" if ifd.planar_config == 2 else "interleaved"
        parts.append(f"{ifd.samples_per_pixel} samples ({planar})")
    parts += [ifd.photometric_name, ifd.compression_name, ifd.layout]
    if ifd.new_subfile_type:
        parts.append(f"NewSubfileType {ifd.new_subfile_type}")
    if ifd.subifds:
        sizes = ", ".join(f"{s.width}×{s.height}" for s in ifd.subifds)
        parts.append(f"{len(ifd.subifds)} SubIFDs ({sizes})")
    if ifd.description_kind:
        parts.append(f"description: {ifd.description_kind} ({ifd.description_length:,} bytes)")
    return ", ".join(parts)


def _plane_summary(series: Any, reader: str | None = None) -> str:
    planes = series.planes
    total = series.size_z * (series.size_c // max(series.samples_per_pixel, 1)) * series.size_t
    if reader is not None:  # a vendor container: planes are where its reader finds them
        return f"{total} plane{'s' if total != 1 else ''}, read by the {reader} reader"
    if not planes:
        return "no plane mapped to an IFD"
    files = {p.file for p in planes}
    ifds = [p.ifd for p in planes]
    if (
        len(files) == 1
        and None not in ifds
        and all(b - a == 1 for a, b in itertools.pairwise(ifds))
    ):
        span = f"IFD {ifds[0]}" if len(ifds) == 1 else f"IFDs {ifds[0]}–{ifds[-1]}"
        return f"{len(planes)} of {total} planes in {span} of {next(iter(files))}, in {series.dimension_order} order"
    if len(files) > 1:
        per: dict[str | None, int] = {}
        for p in planes:
            per.setdefault(p.file, 0)
            per[p.file] += 1
        return (
            f"{len(planes)} of {total} planes across {len(files)} files ("
            + ", ".join(f"{f}: {n}" for f, n in per.items())
            + ")"
        )
    return f"{len(planes)} of {total} planes, irregular IFD order (use --planes)"


def _q(v: Any, unit: str = "µm") -> str:
    return "—" if v is None else f"{v:g} {unit}"


def render_text(fi: Any, *, all_ifds: bool = False, list_planes: bool = False) -> str:
    """Human-readable report of a FileInfo."""
    out = [str(fi.path)]
    for k, v in enumerate(fi.variants):
        out.append(f"  {'Variant:' if k == 0 else '':<11}{v.name}  [{v.evidence}]")
    if fi.structure is not None:
        st = fi.structure
        bo = "little-endian" if st.byte_order == "<" else "big-endian"
        kind = "BigTIFF" if st.bigtiff else "classic TIFF"
        out.append(
            f"  {'TIFF:':<11}{bo} {kind}, {_size(st.file_size)}, {st.ifd_count} IFD{'s' if st.ifd_count != 1 else ''} in the main chain"
        )
        out.append("  IFDs:")
        if all_ifds:
            rows = [(i, i, ifd) for i, ifd in enumerate(st.ifds)]
        else:
            rows = st.runs()
        for first, last, ifd in rows:
            label = f"IFD {first}" if first == last else f"IFD {first}–{last}"
            out.append(f"    {label:<16}{_ifd_line(ifd)}")
    if fi.container is not None:
        cont = fi.container
        count = f"{cont.series_count} series"
        out.append(f"  {'Container:':<11}{cont.description}, {_size(fi.file_size)}, {count}")
    elif fi.schema_version or fi.creator:
        out.append(
            f"  {'OME-XML:':<11}schema {fi.schema_version or '?'}, creator {fi.creator or '—'!s}, {fi.annotation_count} annotations"
        )
    if len(fi.files) > 1 or any(not f.get("exists", True) for f in fi.files):
        out.append("  Files:")
        for f in fi.files:
            state = "ok" if f.get("exists") else "MISSING"
            role = " (metadata)" if f.get("role") == "metadata" else ""
            ifds = f" {f['ifd_count']} IFDs" if f.get("ifd_count") is not None else ""
            out.append(f"    {state:<8}{f['name']}{role}{ifds}  {f.get('uuid') or ''}")
    for s in fi.series:
        out.append(f"  Series {s.index}: {s.name!r}" if s.name else f"  Series {s.index}")
        rgb = f", {s.samples_per_pixel} samples/pixel (RGB)" if s.samples_per_pixel > 1 else ""
        out.append(
            f"    {'Size:':<13}X {s.size_x} × Y {s.size_y} × Z {s.size_z} × C {s.size_c} × T {s.size_t}  ({s.dtype}, {s.dimension_order}{rgb})"
        )
        phys = f"X {_q(s.physical_size_x)}, Y {_q(s.physical_size_y)}, Z {_q(s.physical_size_z)}"
        written = {u for u in s.physical_size_units.values() if u != "µm"}
        if written:
            phys += f"  (written in {', '.join(sorted(written))})"
        out.append(f"    {'Pixel size:':<13}{phys}")
        if s.time_increment is not None:
            out.append(f"    {'Time step:':<13}{s.time_increment:g} s")
        for k, ch in enumerate(s.channels):
            bits = [f"{ch.name!r}" if ch.name else "(unnamed)"]
            if ch.color:
                bits.append(ch.color)
            if ch.excitation_nm:
                bits.append(f"ex {ch.excitation_nm:g} nm")
            if ch.emission_nm:
                bits.append(f"em {ch.emission_nm:g} nm")
            if ch.fluor:
                bits.append(f"fluor {ch.fluor}")
            if ch.samples_per_pixel > 1:
                bits.append(f"{ch.samples_per_pixel} samples")
            out.append(f"    {'Channels:' if k == 0 else '':<13}{k}: {' '.join(bits)}")
        if len(s.levels) > 1:
            out.append(f"    {'Levels:':<13}" + ", ".join(f"{w}×{h}" for h, w in s.levels))
        reader = fi.container.reader if fi.container is not None else None
        out.append(f"    {'Planes:':<13}{_plane_summary(s, reader)}")
        if list_planes:
            for p in s.planes:
                out.append(f"      Z{p.z} C{p.c} T{p.t} -> {p.file} IFD {p.ifd}")
        if s.acquisition_date:
            out.append(f"    {'Acquired:':<13}{s.acquisition_date}")
        if s.instrument:
            out.append(f"    {'Instrument:':<13}{s.instrument}")
        for prob in s.plane_problems:
            out.append(f"    warning: {prob}")
    if fi.container is not None:
        out += _mapping_text(fi.container)
    for w in fi.warnings:
        out.append(f"  warning: {w}")
    for p in fi.problems:
        out.append(f"  problem: {p}")
    return "\n".join(out)


def _mapping_text(cont: Any) -> list[str]:
    """What a reader mapped (one line: the vendor fields) and did not (one line each)."""
    out = []
    sources = list(dict.fromkeys(m["source"] for m in cont.mapped))
    if sources:
        out.append(f"  {'Mapped:':<11}" + "; ".join(sources))
    for k, m in enumerate(cont.unmapped):
        out.append(f"  {'Not mapped:' if k == 0 else '':<11} {m['source']}: {m['reason']}")
    return out


@app.command()
def info(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Any input `ometiff formats` lists: TIFF, .companion.ome, LIF, CZI, ND2, "
            "OME-Zarr or image-series folders, globs, patterns, .npy."
        ),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON document per file (a list for several).")
    ] = False,
    ifds: Annotated[
        bool, typer.Option("--ifds", help="List every IFD instead of runs of alike IFDs.")
    ] = False,
    tags: Annotated[
        int | None, typer.Option("--tags", metavar="N", help="Dump every tag of IFD N.")
    ] = None,
    planes: Annotated[
        bool, typer.Option("--planes", help="List the plane map (Z, C, T -> file, IFD).")
    ] = False,
    stats: Annotated[
        bool, typer.Option("--stats", help="Per-channel min, max, mean (streamed).")
    ] = False,
    diagram: Annotated[
        Path | None, typer.Option("--diagram", help="Draw the file's layout as a PNG.")
    ] = None,
    reader: ReaderOption = None,
    axes: AxesOption = None,
    pattern: PatternOption = None,
) -> None:
    """Show the structure (or vendor container), variant and OME meaning of any input."""
    from ometiff.inspection import info as inspect_file

    failed = False
    docs: list[dict[str, Any]] = []
    options = reader_options(axes, pattern)
    for path in paths:
        try:
            fi = inspect_file(path, reader=reader, **options)
            if fi.container is not None and (tags is not None or diagram is not None):
                flag = "--tags" if tags is not None else "--diagram"
                raise InvalidArgumentError(
                    f"{path}: {flag} shows the IFDs of a TIFF file; this is a {fi.variant} "
                    "input without TIFF structure"
                )
            if tags is not None:
                from ometiff.tiff.structure import dump_tags

                rows = dump_tags(path, tags)
                if as_json:
                    docs.append(
                        {
                            "path": str(path),
                            "ifd": tags,
                            "tags": [
                                {"code": c, "name": n, "type": t, "count": k, "value": v}
                                for c, n, t, k, v in rows
                            ],
                        }
                    )
                else:
                    typer.echo(f"{path}: IFD {tags}")
                    for code, name, typ, count, value in rows:
                        typer.echo(f"  {code:>5} {name:<28} {typ:<9} {count:>6}  {value}")
                continue
            doc = fi.to_dict() if as_json else None
            stats_errors: list[str] = []
            if stats:
                from ometiff.render.png import channel_stats

                # a series whose pixels cannot be read is reported; the rest stays
                try:
                    with ProgressReporter() as reporter:
                        result = channel_stats(
                            path,
                            errors="report",
                            reader=reader,
                            reader_options=options,
                            on_plane=functools.partial(reporter.update, f"stats {path.name}"),
                        )
                except OmeTiffError as exc:
                    result = [{"series": None, "error": str(exc), "option": exc.option}]
                # the command speaks its own words (--max-memory SIZE, not the API's
                # max_memory=SIZE), in the text, on stderr and in --json alike
                for r in result:
                    if "error" in r:
                        r["error"] = cli_message(OmeTiffError(r["error"], option=r.get("option")))
                        if r.get("option") is None:
                            r.pop("option", None)
                stats_errors = [r["error"] for r in result if "error" in r]
                if doc is not None:
                    doc["stats"] = result
            if diagram is not None:
                from ometiff.render.png import draw_diagram

                target = (
                    diagram
                    if len(paths) == 1
                    else diagram.with_name(f"{diagram.stem}-{path.stem}{diagram.suffix}")
                )
                draw_diagram(fi, target)
            if doc is not None:
                docs.append(doc)
            else:
                typer.echo(render_text(fi, all_ifds=ifds, list_planes=planes))
                if stats:
                    typer.echo(_stats_text(result))
                if diagram is not None:
                    typer.echo(f"  diagram written to {target}")
            problems = [f"{path}: {p}" for p in fi.problems] + stats_errors
            if problems:
                failed = True
                error(_one_line(path, problems))
        except OmeTiffError as exc:
            failed = True
            error(exc)
    if as_json and docs:
        json.dump(
            docs[0] if len(docs) == 1 and len(paths) == 1 else docs,
            sys.stdout,
            indent=2,
            ensure_ascii=False,
        )
        sys.stdout.write("\n")
    raise typer.Exit(2 if failed else 0)


def _one_line(path: Path, problems: list[str]) -> str:
    """One stderr line per failing file: the first problem, and how many more there are."""
    first = problems[0] if str(problems[0]).startswith(str(path)) else f"{path}: {problems[0]}"
    more = len(problems) - 1
    if more:
        first += f" (and {more} more problem{'s' if more > 1 else ''}; see --json)"
    return first


def _stats_text(result: Any) -> str:
    lines = ["  Statistics (per channel):"]
    for s in result:
        if "error" in s:
            which = "all series" if s["series"] is None else f"series {s['series']}"
            lines.append(f"    {which}: pixels cannot be read: {s['error']}")
            continue
        values = ", ".join(
            f"{key} {'—' if s[key] is None else format(s[key], fmt)}"
            for key, fmt in (("min", "g"), ("max", "g"), ("mean", ".6g"))
        )
        lines.append(
            f"    series {s['series']} channel {s['channel']}: {values} ({s['planes']} planes)"
        )
    return "\n".join(lines)
