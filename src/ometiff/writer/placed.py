"""One huge image on Dask workers: tiles read and encoded there, placed here in order.

:class:`PlacedTiles` is the ``place=`` of :func:`ometiff.writer.core.write_sources`: the
writer core still decides everything about the output (OME-XML, file plan, BigTIFF,
tile sizes, pyramid sizes, temporary names, the final plane-map check); only the
pixels of each file are made elsewhere. Every plane is cut into **bands**: whole rows
of tiles, the full width of the plane, a few tile rows high (:data:`BAND_BYTES` of raw
pixels at most, but at least one tile row). One task per band runs on a worker: it
opens the input itself (shared file system; one cached reader per worker process),
reads its rows with the reader's ``read_region``, and returns the band's tiles
encoded exactly as the local writer encodes them (:func:`ometiff.writer.encode.encode_tiles`)
with the checksums of its pixels (:func:`ometiff.writer.verify.row_sums`). Nothing but
paths, options, encoded tiles and small bands goes through Dask; whole planes never.

Pyramid levels are built on the workers too, from tiles the same way: a band of
``th * 2**m`` rows is halved ``m`` times by the task that read it (each halving of a
band is the halving of the plane restricted to it, since bands start on even rows,
so the levels equal the local writer's), and the tiles of each level are encoded
there. Its last level, one tile row high (the band's **bottom**), stays on the worker;
``2**n`` consecutive bottoms are joined by a task of the next **stage**, which halves
them further, and so on up to the smallest level: every task holds a few tile rows.
A source with its own pyramid has each of its levels read in bands instead.

The writer process (the Dask client) submits the bands in the order the file needs
them, at most ``window`` bands ahead of the one being written, and hands tifffile an
iterator of the encoded tiles (``TiffWriter.write`` with ``compression=`` and bytes)
for each page: the plane, then its SubIFD levels. A level's tiles wait on the
workers until their page is written (so up to the encoded levels 1+ of one plane,
about a third of its compressed size, are held across the workers). Each band's tiles
are fetched straight from the worker that holds them when the scheduler runs in this
process (a ``LocalCluster``) or the client asks for it (``direct_to_workers=True``).

Verification is split where the work is, and the chain stays whole:

1. the task that encodes a tile decodes it again with the decoder a reader of the file
   uses for its Compression tag (tifffile's) and compares it with the pixels it was
   encoded from, bit for bit (:func:`ometiff.writer.verify.round_trip`), and returns
   the CRC-32 and Adler-32 of the tile's bytes with it;
2. :class:`OutputCheck` follows the written file's IFD chain on disk (main IFDs and
   SubIFDs, as any reader finds them) and, for each page, checks the tags that say how
   its tiles are decoded (shape, tile, samples, contiguous samples, pixel type, byte
   order, compression, no predictor, fill order, the number of tiles: the layout the
   round trip assumed), then reads every tile's bytes back at the offset and length
   its IFD gives and compares their checksums with the worker's, in tile order
   (:class:`ometiff.writer.verify.Segments`).

So what is on disk decodes to the source's pixels, with the decoding checked once on
the workers instead of a second time in the writer process (which, on few cores, was
the serial part of the conversion). The band checksums of each level are joined into
the plane digest (:func:`ometiff.writer.verify.joined_digest`), which the batch
journal records, as the single-process writer records the digest it read back. A
lost worker's tasks are run again by Dask (``distributed.scheduler.allowed-failures``);
a task that raises :class:`~ometiff.errors.OmeTiffError` (bad input, a tile whose round
trip fails) fails the conversion at once.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import tifffile

from ometiff.errors import OmeTiffError, VerificationError, WriteError
from ometiff.readers.decode import thread_pool
from ometiff.readers.tiles import decode_threads
from ometiff.writer.core import (
    SourceFailed,
    level_tile,
    page_opts,
    plane_shape,
    read_checked,
    write_tiff,
)
from ometiff.writer.encode import encode_tiles, tile_encoder
from ometiff.writer.pyramid import downsample, pyramid_shapes
from ometiff.writer.verify import (
    COMPRESSION_TAG,
    OutputCheck,
    Segments,
    Sums,
    joined_digest,
    round_trip,
    row_sums,
)

if TYPE_CHECKING:
    from ometiff.readers.base import Reader
    from ometiff.readers.source import SeriesSource
    from ometiff.writer.compression import Codec
    from ometiff.writer.multifile import FilePlan
    from ometiff.writer.pyramid import Downsample, SourcePyramid
    from ometiff.writer.verify import PlaneKey

#: Raw bytes of the rows one task reads, at most (but at least one row of tiles).
BAND_BYTES = 32 << 20
#: Most pyramid levels one task halves its band into.
MAX_STAGE_LEVELS = 3


@dataclass(frozen=True)
class RegionSpec:
    """How a worker opens the input and finds a written plane in it (picklable).

    ``planes[i]`` is, for written series ``i``: the source series, and the source's
    t, c and z of each written t, c and z (a selection of the input).
    """

    path: str
    reader: str | None
    options: tuple[tuple[str, Any], ...]
    state: tuple[int, int]  # size and mtime (ns): a changed input is opened again
    planes: tuple[tuple[int, tuple[int, ...], tuple[int, ...], tuple[int, ...]], ...]


@dataclass(frozen=True)
class SeriesLevels:
    """What a task needs to know of a written series: its levels and their tiles."""

    samples: int
    dtype: np.dtype
    shapes: tuple[tuple[int, int], ...]  # (Y, X) of every level, full resolution first
    tiles: tuple[tuple[int, int], ...]  # the tile of every level


@dataclass(frozen=True)
class Band:
    """One task: rows ``y0:y1`` of ``level`` of a plane, and the levels it encodes."""

    series: int
    tcz: tuple[int, int, int]
    level: int
    y0: int
    y1: int
    read: bool  # rows read from the input; else joined from the children's bottoms
    children: tuple[int, ...]  # jobs (global indices) whose bottoms are these rows
    out: tuple[int, ...]  # levels whose tiles this task returns
    bottom: bool  # keep its last level's rows for a task of the next stage


#: What a task returns for each level it encodes: the encoded tiles, the checksums of the
#: pixels, and the :func:`~ometiff.writer.verify.segment_digest` of each tile, verified
#: by decoding it again (None when the write is not verified).
LevelTiles = tuple[list[bytes], Sums, list[int] | None]


class Failed:
    """A task's bad-input error, returned (not raised) so that Dask does not retry it."""

    def __init__(self, error: OmeTiffError) -> None:
        self.error = error


# --- on the workers ----------------------------------------------------------------------

#: Readers open in this (worker) process: a band task reuses the one its input had.
_OPEN: OrderedDict[tuple[Any, ...], tuple[Reader, list[SeriesSource]]] = OrderedDict()
_OPEN_LOCK = threading.Lock()
#: Inputs kept open per worker process.
OPEN_READERS = 2


def _reader(spec: RegionSpec) -> tuple[Reader, list[SeriesSource]]:
    key = (spec.path, spec.reader, spec.options, spec.state)
    with _OPEN_LOCK:
        found = _OPEN.get(key)
        if found is not None:
            _OPEN.move_to_end(key)
            return found
        from ometiff.readers import open_image

        rdr = open_image(Path(spec.path), reader=spec.reader, **dict(spec.options))
        _OPEN[key] = found = (rdr, rdr.sources())
        while len(_OPEN) > OPEN_READERS:
            _OPEN.popitem(last=False)[1][0].close()
        return found


def _read_rows(spec: RegionSpec, band: Band, width: int) -> np.ndarray:
    rdr, sources = _reader(spec)
    s_in, ts, cs, zs = spec.planes[band.series]
    t, c, z = band.tcz
    src = sources[s_in]
    call = f"rows {band.y0}:{band.y1} of plane (t={t}, c={c}, z={z})" + (
        f" level {band.level}" if band.level else ""
    )
    try:
        return read_checked(
            band.series,
            src,
            lambda: rdr.read_region(
                s_in, ts[t], cs[c], zs[z], band.y0, band.y1, 0, width, level=band.level
            ),
            (band.y1 - band.y0, width),
            call,
        )
    except SourceFailed as e:
        raise e.error from e.error.__cause__


def worker_threads() -> int | None:
    """The thread count of the Dask worker this runs on (None outside a worker): its
    tasks encode and decode on that many threads, never more (no oversubscription of
    the cores a cluster gave it)."""
    try:
        from distributed import get_worker

        return int(get_worker().state.nthreads)
    except (ImportError, ValueError):
        return None


def band_task(
    spec: RegionSpec,
    band: Band,
    info: SeriesLevels,
    codec: Codec,
    method: Downsample,
    verify: int | None,
    *bottoms: Any,
) -> Failed | tuple[dict[int, LevelTiles], np.ndarray | None]:
    """Run on a worker: the encoded tiles and checksums of each level of ``band.out``,
    and the band's bottom rows when a later stage needs them. With ``verify`` (the
    page's Compression tag), every tile is decoded again and compared with its pixels
    (:func:`~ometiff.writer.verify.round_trip`) and the digests of its bytes returned."""
    for b in bottoms:
        if isinstance(b, Failed):
            return b
    try:
        with decode_threads(worker_threads()):  # a worker of one thread keeps to its core
            encode = tile_encoder(codec, info.samples, info.dtype)
            assert encode is not None  # PlacedTiles checked it
            if band.read:
                rows = _read_rows(spec, band, info.shapes[band.level][1])
            else:
                rows = np.concatenate(bottoms, axis=0)
            out: dict[int, LevelTiles] = {}
            level = band.level
            while True:
                if level in band.out:
                    tiles = encode_tiles(rows, info.tiles[level], encode)
                    digests = None
                    if verify is not None:
                        t, c, z = band.tcz
                        where = (
                            f"series {band.series} plane t={t} c={c} z={z}"
                            + (f" level {level}" if level else "")
                            + f" rows {band.y0 >> (level - band.level)}:"
                            f"{-(-band.y1 >> (level - band.level))}"
                        )
                        digests = round_trip(rows, info.tiles[level], tiles, verify, where=where)
                    out[level] = (tiles, row_sums(rows), digests)
                if level >= max(band.out):
                    break
                rows = downsample(rows, method)
                level += 1
            return out, rows if band.bottom else None
    except OmeTiffError as e:
        return Failed(e)


def _pick(result: Any, key: int | str) -> Any:
    """One part of a band's result, as its own Dask key (the writer fetches one level)."""
    if isinstance(result, Failed):
        return result
    return result[1] if key == "bottom" else result[0][key]


# --- in the writer ----------------------------------------------------------------------


def _exponent(row_bytes: int, tile_h: int, budget: int) -> int:
    """Largest ``m`` (at most MAX_STAGE_LEVELS) with ``tile_h * 2**m`` rows in ``budget``."""
    fits = budget // max(1, tile_h * row_bytes)
    return max(0, min(MAX_STAGE_LEVELS, int(math.log2(fits)) if fits >= 1 else 0))


def plane_bands(
    series: int, tcz: tuple[int, int, int], info: SeriesLevels, own: bool, budget: int, first: int
) -> tuple[list[Band], list[list[int]]]:
    """The tasks of one plane, in submission order (children before their parent), and,
    per level, the tasks (global indices from ``first``) whose tiles make its page."""
    jobs: list[Band] = []
    pages: list[list[int]] = [[] for _ in info.shapes]
    row_bytes = [w * info.samples * info.dtype.itemsize for _h, w in info.shapes]
    if own:  # the source's own levels: each read in bands
        for k, (h, _w) in enumerate(info.shapes):
            th = info.tiles[k][0]
            step = th << _exponent(row_bytes[k], th, budget)
            for y in range(0, h, step):
                pages[k].append(first + len(jobs))
                jobs.append(Band(series, tcz, k, y, min(y + step, h), True, (), (k,), False))
        return jobs, pages
    last = len(info.shapes) - 1
    th = info.tiles[0][0]
    # stages: (input level, band height there, levels halved); a later stage's band
    # joins height // th bottoms of the stage before (each one tile row high)
    stages: list[tuple[int, int, int]] = []
    level = 0
    while True:
        m = _exponent(row_bytes[level], th, budget)
        if level < last:
            m = max(1, m)  # every stage halves at least once
        halvings = min(m, last - level)
        stages.append((level, th << m, halvings))
        if level + halvings >= last:
            break
        level += halvings
    counts = [-(-info.shapes[lv][0] // height) for lv, height, _h in stages]
    index: list[list[int]] = [[] for _ in stages]  # global indices of each stage's bands

    def add(j: int) -> None:
        lv, height, halvings = stages[j]
        b = len(index[j])
        fan = height // th
        children = () if j == 0 else tuple(index[j - 1][b * fan : (b + 1) * fan])
        out = tuple(range(lv if j == 0 else lv + 1, lv + halvings + 1))
        g = first + len(jobs)
        jobs.append(
            Band(
                series,
                tcz,
                lv,
                b * height,
                min((b + 1) * height, info.shapes[lv][0]),
                j == 0,
                children,
                out,
                j + 1 < len(stages),
            )
        )
        index[j].append(g)
        for k in out:
            pages[k].append(g)
        if j + 1 < len(stages):  # the parent follows its last child
            fan_up = stages[j + 1][1] // th
            if len(index[j]) % fan_up == 0 or len(index[j]) == counts[j]:
                add(j + 1)

    for _ in range(counts[0]):
        add(0)
    assert [len(ix) for ix in index] == counts
    return jobs, pages


class PlacedTiles:
    """``place=`` for :func:`~ometiff.writer.core.write_sources`: the pixels of each file
    read and encoded by tasks on the workers of a Dask ``client`` (module docstring).

    Parameters
    ----------
    client
        A ``distributed.Client``; its workers see ``spec.path`` at the same path.
    spec
        The input and where each written plane is in it.
    window
        Bands submitted ahead of the one being written (default: 3 per worker, at
        least 4).
    band_bytes
        Raw bytes of the rows one task reads, at most (at least one tile row); default
        :data:`BAND_BYTES`.
    retries
        Further attempts of a task that raised an unexpected exception (a worker lost
        is retried by Dask itself).
    """

    def __init__(
        self,
        client: Any,
        spec: RegionSpec,
        *,
        window: int | None = None,
        band_bytes: int | None = None,
        retries: int = 2,
    ) -> None:
        self.client, self.spec = client, spec
        self.window = window
        self.band_bytes = band_bytes
        self.retries = retries
        #: tasks run in the last call (for tests and the receipt)
        self.tasks = 0
        #: why the last file was written in this process instead, or None
        self.local: str | None = None

    def _local_reason(
        self,
        plan: FilePlan,
        sources: Sequence[SeriesSource],
        tiles: Sequence[tuple[int, int] | None],
        codec: Codec,
        verify: bool,
    ) -> str | None:
        if verify and codec.tifffile not in COMPRESSION_TAG:
            return f"compression {codec.name!r} is verified by decoding in this process"
        for series, _planes in plan.runs:
            src = sources[series]
            if tiles[series] is None:
                return f"series {series} is written in strips (not tiled)"
            if src.dtype.kind == "b":
                return f"series {series} is bool"
            if tile_encoder(codec, src.samples, src.dtype) is None:
                return f"compression {codec.name!r} is encoded by tifffile only"
        return None

    def __call__(
        self,
        tmp: Path,
        plan: FilePlan,
        xml: bytes,
        sources: Sequence[SeriesSource],
        levels: Sequence[int],
        tiles: Sequence[tuple[int, int] | None],
        codec: Codec,
        method: Downsample,
        bigtiff: bool,
        threads: int,
        progress: Callable[[], None],
        check_as: tuple[Path, Callable[[int], None]] | None = None,
        pyramids: Sequence[SourcePyramid | None] | None = None,
        record: dict[PlaneKey, bytes] | None = None,
    ) -> None:
        """Write one file of the set (the arguments of the core's ``write_tiff``)."""
        self.local = self._local_reason(plan, sources, tiles, codec, check_as is not None)
        if self.local is not None:
            write_tiff(
                tmp,
                plan,
                xml,
                sources,
                levels,
                tiles,
                codec,
                method,
                bigtiff,
                threads,
                progress,
                check_as,
                pyramids,
                record,
            )
            return
        pyramids = pyramids or [None] * len(sources)
        infos: list[SeriesLevels] = []
        for i, src in enumerate(sources):
            tile = tiles[i]
            shapes = pyramid_shapes(src.shape[3], src.shape[4], levels[i], pyramids[i])
            level_tiles = [tile] + [
                # level_tile reads only the shape: a zero-byte array of it
                level_tile(tile, np.empty((h, w, 0), np.uint8))
                for h, w in shapes[1:]
            ]
            infos.append(
                SeriesLevels(
                    src.samples,
                    np.dtype(src.dtype).newbyteorder("="),
                    tuple((int(h), int(w)) for h, w in shapes),
                    tuple(t for t in level_tiles if t is not None),
                )
            )
        items = [(series, *tcz) for series, planes in plan.runs for tcz in planes]
        jobs: list[Band] = []
        pages: list[list[list[int]]] = []
        for series, t, c, z in items:
            more, page = plane_bands(
                series,
                (t, c, z),
                infos[series],
                pyramids[series] is not None,
                self.band_bytes or BAND_BYTES,
                len(jobs),
            )
            jobs.extend(more)
            pages.append(page)
        self.tasks = len(jobs)
        # verified: every tile decoded again where it was encoded (round_trip), its bytes
        # found on disk under an IFD that decodes them the same way (OutputCheck)
        tag = None if check_as is None else COMPRESSION_TAG[codec.tifffile]
        run = _Run(self, jobs, infos, codec, method, str(check_as[0] if check_as else tmp), tag)
        description: bytes | None = xml  # only on the first IFD (X1)
        with thread_pool(threads, "ometiff-verify") as pool:
            check = (
                None
                if check_as is None
                else OutputCheck(tmp, check_as[0], sources, pool, check_as[1], record)
            )
            try:
                with (
                    open(tmp, "r+b") as fh,
                    tifffile.TiffWriter(fh, bigtiff=bigtiff, byteorder="<", ome=False) as tw,
                ):
                    for item, page in zip(items, pages, strict=True):
                        series = item[0]
                        src, info = sources[series], infos[series]
                        opts = page_opts(src)
                        digests = []
                        segments = []
                        for k, (h, w) in enumerate(info.shapes):
                            sums: list[Sums] = []
                            tile_digests: list[int] = []
                            if k == 0:
                                extra: dict[str, Any] = {
                                    "description": description,
                                    "subifds": levels[series] or None,
                                }
                                description = None
                            else:  # P-2, P-4: sub-resolutions in SubIFDs, NewSubfileType=1
                                extra = {"subfiletype": 1}
                            tw.write(
                                run.tiles(page[k], k, sums, tile_digests),
                                shape=plane_shape(src, h, w),
                                dtype=src.dtype,
                                tile=info.tiles[k],
                                compression=codec.tifffile,
                                **extra,
                                **opts,
                            )
                            digests.append(joined_digest(sums))
                            if tag is not None:
                                segments.append(Segments((h, w), info.tiles[k], tag, tile_digests))
                        if check is not None:
                            check.expect(item, digests, segments if tag is not None else None)
                            fh.flush()
                            check.poll()
                        progress()
                if check is not None:
                    check.finish()
            finally:
                run.cancel()
                if check is not None:
                    check.close()
                pool.shutdown(wait=True, cancel_futures=True)


class _Run:
    """The tasks of one file: submitted in order, a bounded window ahead of the writer."""

    def __init__(
        self,
        owner: PlacedTiles,
        jobs: list[Band],
        infos: list[SeriesLevels],
        codec: Codec,
        method: Downsample,
        name: str,
        verify: int | None,
    ) -> None:
        self.client, self.spec = owner.client, owner.spec
        self.verify = verify
        self.retries = owner.retries
        self.jobs, self.infos, self.codec, self.method = jobs, infos, codec, method
        self.name = name
        workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        self.window = owner.window or max(4, 3 * workers)
        self.parts: dict[tuple[int, int], Any] = {}
        self.bottoms: dict[int, Any] = {}
        self.submitted = 0
        self.reads_ahead = 0  # read tasks submitted whose first level is not written yet
        self.token = os.urandom(4).hex()
        self.direct = gather_direct(self.client)

    def _submit(self) -> None:
        g = self.submitted
        job = self.jobs[g]
        deps = [self.bottoms.pop(c) for c in job.children]
        key = f"ometiff-band-{self.token}-{g}"
        fut = self.client.submit(
            band_task,
            self.spec,
            job,
            self.infos[job.series],
            self.codec,
            self.method,
            self.verify,
            *deps,
            key=key,
            priority=-g,
            pure=False,
            retries=self.retries,
        )
        for k in job.out:
            self.parts[(g, k)] = self.client.submit(
                _pick, fut, k, key=f"{key}-{k}", priority=-g, pure=False
            )
        if job.bottom:
            self.bottoms[g] = self.client.submit(
                _pick, fut, "bottom", key=f"{key}-b", priority=-g, pure=False
            )
        self.submitted += 1
        if job.read:
            self.reads_ahead += 1

    def pump(self, need: int = -1) -> None:
        """Submit tasks in order while fewer than ``window`` reads are ahead (and at
        least through task ``need``)."""
        while self.submitted < len(self.jobs) and (
            self.submitted <= need
            or not self.jobs[self.submitted].read
            or self.reads_ahead < self.window
        ):
            self._submit()

    def tiles(
        self, page: list[int], level: int, sums: list[Sums], digests: list[int]
    ) -> Iterator[bytes]:
        """The encoded tiles of one page, in order, as their tasks finish; their pixels'
        checksums are appended to ``sums``, their bytes' digests to ``digests``."""
        for g in page:
            self.pump(g)
            fut = self.parts.pop((g, level))
            try:
                result = self.client.gather(fut, direct=self.direct)
            except OmeTiffError:
                raise
            except Exception as e:  # a task that kept failing, a worker lost too often
                text = str(e).strip().splitlines()
                raise WriteError(
                    f"{self.name}: a worker task failed: {type(e).__name__}: "
                    f"{text[0] if text else ''}"
                ) from e
            finally:
                fut.release()
            if isinstance(result, Failed):
                if isinstance(result.error, VerificationError):
                    raise VerificationError(f"{self.name}: {result.error}") from result.error
                raise result.error
            encoded, part, verified = result
            if self.jobs[g].read and level == self.jobs[g].out[0]:
                self.reads_ahead -= 1
                self.pump()
            sums.append(part)
            if verified is not None:
                digests.extend(verified)
            yield from encoded

    def cancel(self) -> None:
        """Drop every task still queued or held (after the file, or on failure)."""
        left = [*self.parts.values(), *self.bottoms.values()]
        self.parts.clear()
        self.bottoms.clear()
        if left:
            with contextlib.suppress(Exception):
                self.client.cancel(left)


def gather_direct(client: Any) -> bool | None:
    """Whether results are fetched from the workers themselves: as the client was told
    (``Client(direct_to_workers=)``), else when the scheduler runs in this process (a
    ``LocalCluster``, or a dask-jobqueue cluster: through it, every byte would cross to
    this process, then again from its scheduler to its client), else Dask's default
    (through the scheduler: a remote client may not reach the workers)."""
    if getattr(client, "direct_to_workers", None) is not None:
        return bool(client.direct_to_workers)
    try:
        from distributed import Scheduler
    except ImportError:  # pragma: no cover - a client comes with distributed
        return None
    scheduler = getattr(getattr(client, "cluster", None), "scheduler", None)
    return True if isinstance(scheduler, Scheduler) else None


def region_spec(
    path: Path,
    reader: str | None,
    options: dict[str, Any] | None,
    planes: Sequence[tuple[int, Sequence[int], Sequence[int], Sequence[int]]],
    state: tuple[int, int],
) -> RegionSpec:
    """The :class:`RegionSpec` of an input (``planes``: see :class:`RegionSpec`)."""
    return RegionSpec(
        str(Path(path).resolve()),
        reader,
        tuple(sorted((options or {}).items())),
        state,
        tuple((s, tuple(ts), tuple(cs), tuple(zs)) for s, ts, cs, zs in planes),
    )


def regions_problem(rdr: Reader, reads: Sequence[tuple[int, int]]) -> str | None:
    """Why band tasks would not read this input by tiles, or None when they would.

    ``reads``: per written series, its source series and how many of its levels are
    read (1, or all of them for a source pyramid kept as read). A reader that crops
    regions from whole planes (``tile_shape`` None: strips, or formats without region
    reads) would decode every plane once per band: such inputs are converted in the
    writer's process instead.
    """
    for series, levels in reads:
        for level in range(levels):
            if rdr.tile_shape(series, level=level) is None:
                where = f"series {series}" + (f" level {level}" if level else "")
                return f"the {rdr.name} reader reads {where} as whole planes (not tiled)"
    return None


__all__ = [
    "Band",
    "PlacedTiles",
    "RegionSpec",
    "band_task",
    "plane_bands",
    "region_spec",
    "regions_problem",
]
