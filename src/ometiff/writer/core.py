"""The streaming OME-TIFF writer core: :func:`write_sources`.

Planes are pulled one at a time from each :class:`~ometiff.readers.source.SeriesSource`
(the next one is fetched in a background thread while the current one is
compressed and written); each pyramid level is computed from the previous one,
or, for a source with its own pyramid (:class:`~ometiff.writer.pyramid.SourcePyramid`),
read from it with the plane, so peak memory is a few planes whatever the size of
the image.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import tifffile

from ometiff.atomic import write_error
from ometiff.errors import OmeTiffError, WriteError
from ometiff.readers.decode import ContextPool, thread_pool
from ometiff.tiff.names import has_bigtiff_suffix
from ometiff.types import DIMENSION_ORDERS, DTYPE_TO_OME
from ometiff.writer.compression import Codec, check_codec_dtype, resolve_codec
from ometiff.writer.encode import Encoder, encoded, submit_page, tile_encoder
from ometiff.writer.multifile import (
    AtomicSet,
    FilePlan,
    Split,
    companion_path,
    order_for_split,
    plan_files,
    tiffdata_runs,
)
from ometiff.writer.omexml import (
    LightOme,
    SeriesMeta,
    binary_only_xml,
    new_uuid,
    prepare,
    render,
    with_root_uuid,
)
from ometiff.writer.pyramid import (
    Downsample,
    SourcePyramid,
    levels_problem,
    pyramid_shapes,
    start_downsample,
)
from ometiff.writer.pyramid import downsample as _downsample
from ometiff.writer.verify import OutputCheck, PlaneKey, check_layout, digest

if TYPE_CHECKING:
    from ome_types import model as m

    from ometiff.readers.source import SeriesSource
    from ometiff.types import StrPath

OnPlane = Callable[[int, int], None]
#: Writes one file of a set instead of :func:`write_tiff`, with its arguments (the
#: distributed writer, :class:`ometiff.writer.placed.PlacedTiles`).
PlaceFile = Callable[..., None]

#: Tile edge used when ``tile=None`` and the image is large or has a pyramid (P-6).
DEFAULT_TILE = 512
#: Images with a side above this are tiled by default.
TILE_ABOVE = 2048
#: Classic TIFF limit with a safety margin (checklist C3, C4).
CLASSIC_LIMIT = 2**32 - 2**25


def _resolve_tile(
    tile: tuple[int, int] | int | bool | None, src: SeriesSource, levels: int
) -> tuple[int, int] | None:
    if tile is False:
        return None
    if tile is None or tile is True:
        y, x = src.shape[3], src.shape[4]
        if tile is True or levels or max(y, x) > TILE_ABOVE:
            # no larger than the image (rounded up to 16): a 256-pixel image with a
            # pyramid must not pad every plane to 512x512 tiles
            edge = min(DEFAULT_TILE, max(16, -(-max(y, x) // 16) * 16))
            return (edge, edge)
        return None
    pair = (tile, tile) if isinstance(tile, int) else tuple(tile)
    if len(pair) != 2 or any(int(v) <= 0 or int(v) % 16 for v in pair):
        raise WriteError(
            f"tile={tile!r}: give (height, width), each a positive multiple of 16", option="tile"
        )
    return int(pair[0]), int(pair[1])


def level_tile(tile: tuple[int, int] | None, level: np.ndarray) -> tuple[int, int] | None:
    """A sub-resolution's tile: the series' tile, shrunk (16-aligned) to the level's size."""
    if tile is None:
        return None
    h, w = level.shape[0], level.shape[1]
    return min(tile[0], max(16, -(-h // 16) * 16)), min(tile[1], max(16, -(-w // 16) * 16))


def _check_source(i: int, src: SeriesSource) -> None:
    if len(src.shape) != 5 or any(int(n) < 1 for n in src.shape):
        raise WriteError(f"series {i}: shape {src.shape} must be 5 sizes (T, C, Z, Y, X) >= 1")
    if src.samples not in (1, 3, 4):
        raise WriteError(f"series {i}: {src.samples} samples per pixel; use 1, 3 (RGB) or 4 (RGBA)")
    if src.dtype.name not in DTYPE_TO_OME or src.dtype.kind == "c":
        raise WriteError(
            f"series {i}: pixel type {src.dtype} cannot be written as OME-TIFF (checklist D2); "
            "convert it first, e.g. data.astype('float32') or data.astype('int32')"
        )


def _orders(
    sources: Sequence[SeriesSource],
    ome: m.OME | None,
    dimension_order: str | Sequence[str | None] | None,
    split: Split | None,
) -> list[str]:
    if isinstance(dimension_order, str) or dimension_order is None:
        wanted: list[str | None] = [dimension_order] * len(sources)
    else:
        wanted = list(dimension_order)
    out = []
    for i in range(len(sources)):
        order = wanted[i]
        if order is None and ome is not None and i < len(ome.images):
            order = ome.images[i].pixels.dimension_order.value
        order = order or "XYZCT"
        if order not in DIMENSION_ORDERS:
            raise WriteError(f"dimension_order={order!r}: use one of {', '.join(DIMENSION_ORDERS)}")
        out.append(order_for_split(order, split))
    return out


def estimate_size(
    plan: FilePlan,
    sources: Sequence[SeriesSource],
    levels: Sequence[int],
    codec: Codec,
    xml_size: int,
    shapes: Sequence[Sequence[tuple[int, int]]] | None = None,
) -> int:
    """Upper bound of a file's size in bytes (checklist C4).

    ``shapes``: (Y, X) of every level of each series when they are not halvings.
    """
    total = 16 + xml_size
    for series, planes in plan.runs:
        src = sources[series]
        y, x = src.shape[3], src.shape[4]
        sizes = shapes[series] if shapes is not None else pyramid_shapes(y, x, levels[series])
        pixels = sum(a * b for a, b in sizes)
        # tiles are padded; count a generous 4 KB of IFD and offsets per IFD
        raw = pixels * src.samples * src.dtype.itemsize
        total += len(planes) * (int(raw * codec.growth * 1.05) + 4096 * len(sizes))
    return total


class SourceFailed(Exception):
    """Carries an exception raised by a source's ``get_plane`` through the writer."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def prefetched[T](
    items: Sequence[tuple[int, int, int, int]],
    fetch: Callable[[int, int, int, int], T],
    threads: int = 2,
) -> Iterator[tuple[tuple[int, int, int, int], T]]:
    """Yield planes in order, reading the next one (in a thread of its own) while the
    caller writes this one; with ``threads=1``, each one in the calling thread when
    it is needed."""
    if not items:
        return
    if threads <= 1:  # one plane held at a time, read when the writer asks for it
        for item in items:
            yield item, fetch(*item)
        return
    with ContextPool(1, thread_name_prefix="ometiff-read") as pool:
        future = pool.submit(fetch, *items[0])
        for k, item in enumerate(items):
            plane = future.result()
            if k + 1 < len(items):
                future = pool.submit(fetch, *items[k + 1])
            yield item, plane


def read_checked(
    series: int, src: SeriesSource, read: Callable[[], Any], yx: tuple[int, int], call: str
) -> np.ndarray:
    """A plane from ``read()``, checked against its expected shape and the series' dtype."""
    try:
        plane = np.asarray(read())
    except OmeTiffError:
        raise
    except Exception as e:
        # the source's own error, with where it happened; not "tifffile refused"
        e.add_note(f"ometiff: while reading {call} of series {series}")
        raise SourceFailed(e) from e
    want = plane_shape(src, *yx)
    if plane.shape != want:
        if src.samples == 1 and plane.shape == (*yx, 1):
            plane = plane[..., 0]
        else:
            raise WriteError(
                f"series {series}: {call} returned shape {plane.shape}, expected {want}"
            )
    if plane.dtype != src.dtype:
        if not np.can_cast(plane.dtype, src.dtype, casting="same_kind") or (
            plane.dtype.newbyteorder("=") != src.dtype.newbyteorder("=")
        ):
            raise WriteError(
                f"series {series}: {call} returned {plane.dtype}, expected {src.dtype}"
            )
    return np.ascontiguousarray(plane, dtype=src.dtype.newbyteorder("="))


def fetcher(sources: Sequence[SeriesSource]) -> Callable[[int, int, int, int], np.ndarray]:
    def fetch(series: int, t: int, c: int, z: int) -> np.ndarray:
        src = sources[series]
        return read_checked(
            series,
            src,
            lambda: src.get_plane(t, c, z),
            (src.shape[3], src.shape[4]),
            f"get_plane(t={t}, c={c}, z={z})",
        )

    return fetch


#: A plane and, for a series with a source pyramid, its levels 1, 2, ... as read.
Fetched = tuple[np.ndarray, list[np.ndarray] | None]


def _level_fetcher(
    sources: Sequence[SeriesSource],
    pyramids: Sequence[SourcePyramid | None],
) -> Callable[[int, int, int, int], Fetched]:
    """Fetch a plane with its source levels, in the same (background) thread: a
    reader is never called from two threads at once."""
    fetch = fetcher(sources)

    def fetch_levels(series: int, t: int, c: int, z: int) -> Fetched:
        plane = fetch(series, t, c, z)
        pyr = pyramids[series]
        if pyr is None:
            return plane, None
        return plane, [
            read_checked(
                series,
                sources[series],
                functools.partial(pyr.read, k, t, c, z),
                yx,
                f"level {k} of plane (t={t}, c={c}, z={z})",
            )
            for k, yx in enumerate(pyr.shapes, start=1)
        ]

    return fetch_levels


def page_opts(src: SeriesSource) -> dict[str, Any]:
    return {
        "photometric": "rgb" if src.samples > 1 else "minisblack",  # W2
        "planarconfig": "contig" if src.samples > 1 else None,
        "extrasamples": ("unassalpha",) if src.samples == 4 else None,
        "metadata": None,  # X7: no second (ImageJ / JSON) description
        "software": "ometiff",
    }


def plane_shape(src: SeriesSource, y: int, x: int) -> tuple[int, ...]:
    return (y, x) if src.samples == 1 else (y, x, src.samples)


Item = tuple[int, int, int, int]


def _groups(
    items: Sequence[Item],
    sources: Sequence[SeriesSource],
    levels: Sequence[int],
    tiles: Sequence[tuple[int, int] | None],
    encoders: Sequence[Encoder | None],
) -> list[tuple[str, list[Item]]]:
    """Split the planes of a file into runs written the same way.

    ``pipe``: tiled pages whose tiles we encode in our pool (any pyramid);
    ``batch``: stripped pages without pyramid, a whole run in one tifffile call
    (uncompressed data is then written in one contiguous block);
    ``page``: everything else, one tifffile call per page.
    """
    out: list[tuple[str, list[Item]]] = []
    for item in items:
        series = item[0]
        src = sources[series]
        if tiles[series] is not None and encoders[series] is not None and src.dtype.kind != "b":
            mode = "pipe"
        elif tiles[series] is None and not levels[series]:
            mode = "batch"
        else:
            mode = "page"
        if out and out[-1][0] == mode and out[-1][1][-1][0] == series:
            out[-1][1].append(item)
        else:
            out.append((mode, [item]))
    return out


def _block(src: SeriesSource, group: Sequence[Item]) -> np.ndarray | None:
    """The planes of ``group`` as one ``(n, Y, X[, S])`` array view, if the source has one.

    Sources made by ``ometiff.write`` from a C-ordered numpy array offer
    ``get_plane.block(planes)``; tifffile then writes the run as one block.
    """
    block = getattr(src.get_plane, "block", None)
    if block is None:
        return None
    arr = block([item[1:] for item in group])
    want = (len(group), *plane_shape(src, src.shape[3], src.shape[4]))
    if (
        not isinstance(arr, np.ndarray)
        or arr.shape != want
        or arr.dtype != src.dtype
        or not arr.flags.c_contiguous
    ):
        return None
    return arr


def write_tiff(
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
    """Write one file of a set; with ``check_as`` = (final path, on_verified), verify
    every IFD from disk while later ones are encoded (:class:`OutputCheck`)."""
    fetch = _level_fetcher(sources, pyramids or [None] * len(sources))
    items = [(series, *tcz) for series, planes in plan.runs for tcz in planes]
    encoders = [tile_encoder(codec, s.samples, s.dtype) for s in sources]
    description: bytes | None = xml  # only on the first IFD (X1)

    def take_description() -> bytes | None:
        nonlocal description
        out, description = description, None
        return out

    # The temporary file exists (empty) already; opening it again with truncation
    # ("wb") makes ext4 flush the whole file to disk on close (auto_da_alloc), which
    # costs more than writing it, so it is opened for update instead.
    with thread_pool(threads, "ometiff-encode") as pool:
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

                def written() -> None:
                    """Whole planes (with their levels) are in the file: check them."""
                    if check is not None:
                        fh.flush()
                        check.poll()

                for mode, group in _groups(items, sources, levels, tiles, encoders):
                    _write_group(
                        tw,
                        pool,
                        mode,
                        group,
                        fetch,
                        sources,
                        levels,
                        tiles,
                        encoders,
                        codec,
                        method,
                        threads,
                        take_description,
                        progress,
                        check,
                        written,
                    )
                    written()
            if check is not None:
                check.finish()  # pages tifffile wrote on closing, and the last checks
        finally:
            if check is not None:
                check.close()
            pool.shutdown(wait=True, cancel_futures=True)


def _write_group(
    tw: tifffile.TiffWriter,
    pool: Executor,
    mode: str,
    group: list[Item],
    fetch: Callable[[int, int, int, int], Fetched],
    sources: Sequence[SeriesSource],
    levels: Sequence[int],
    tiles: Sequence[tuple[int, int] | None],
    encoders: Sequence[Encoder | None],
    codec: Codec,
    method: Downsample,
    threads: int,
    take_description: Callable[[], bytes | None],
    progress: Callable[[], None],
    check: OutputCheck | None,
    written: Callable[[], None],
) -> None:
    """Write a run of planes of one series, written the same way (see :func:`_groups`)."""
    series = group[0][0]
    src = sources[series]
    opts = page_opts(src)
    shape = plane_shape(src, src.shape[3], src.shape[4])
    block = _block(src, group) if mode == "batch" else None
    planes = prefetched(group, fetch, threads) if block is None else iter(())
    if block is not None:
        # an in-memory array whose planes are consecutive: one write, no copy
        if check is not None:
            for k, item in enumerate(group):
                check.expect(item, [digest(block[k])])
        tw.write(
            block,
            description=take_description(),
            compression=codec.tifffile,
            compressionargs=codec.args,
            maxworkers=threads,
            **opts,
        )
        for _ in group:
            progress()
    elif mode == "batch":

        def run(
            n: int = len(group),
            planes: Iterator[Any] = planes,
        ) -> Iterator[np.ndarray]:
            for k in range(n):
                if k:
                    progress()
                item, (plane, _) = next(planes)
                if check is not None:
                    check.expect(item, [digest(plane)])
                yield plane

        tw.write(
            run(),
            shape=(len(group), *shape),
            dtype=src.dtype,
            description=take_description(),
            compression=codec.tifffile,
            compressionargs=codec.args,
            maxworkers=threads,
            **opts,
        )
        progress()
    elif mode == "pipe":
        encode = encoders[series]
        assert encode is not None
        _pipe(
            tw,
            pool,
            planes,
            len(group),
            src,
            levels[series],
            tiles[series],
            encode,
            codec,
            method,
            opts,
            take_description,
            progress,
            check,
            written,
            ahead=threads > 1,
        )
    else:
        for _ in group:
            item, (plane, given) = next(planes)
            tw.write(
                plane,
                description=take_description(),
                subifds=levels[series] or None,
                tile=tiles[series],
                compression=codec.tifffile,
                compressionargs=codec.args,
                maxworkers=threads,
                **opts,
            )
            digests = [digest(plane)] if check is not None else []
            level = plane
            for k in range(levels[series]):  # P-2, P-4: SubIFDs, NewSubfileType=1
                # the source's own level, or a halving of the previous (pool idle here)
                level = given[k] if given is not None else _downsample(level, method, pool)
                tw.write(
                    level,
                    subfiletype=1,
                    tile=level_tile(tiles[series], level),
                    compression=codec.tifffile,
                    compressionargs=codec.args,
                    maxworkers=threads,
                    **opts,
                )
                if check is not None:
                    digests.append(digest(level))
            del level, plane, given
            if check is not None:
                check.expect(item, digests)
                written()
            progress()


def _pipe(
    tw: tifffile.TiffWriter,
    pool: Executor,
    planes: Iterator[tuple[Item, Fetched]],
    count: int,
    src: SeriesSource,
    levels: int,
    tile: tuple[int, int] | None,
    encode: Encoder,
    codec: Codec,
    method: Downsample,
    opts: dict[str, Any],
    take_description: Callable[[], bytes | None],
    progress: Callable[[], None],
    check: OutputCheck | None = None,
    written: Callable[[], None] | None = None,
    *,
    ahead: bool = True,
) -> None:
    """Write ``count`` tiled planes (and their pyramids) encoded in our pool.

    Levels are halvings of the plane, or the source's own levels fetched with it.
    With ``ahead``, plane k+1 and its levels are submitted before plane k is
    written, so the pool never waits for the writer; at most two planes (and their
    levels) are held in memory besides the one being read. Without (one thread,
    which encodes as it submits), each plane is written as soon as it is encoded.
    """
    assert tile is not None
    Page = tuple[tuple[int, ...], tuple[int, int], list[Future[list[bytes]]]]
    pending: list[Page] | None = None

    def flush(pages: list[Page]) -> None:
        for k, (shape, page_tile, futures) in enumerate(pages):
            if k == 0:
                extra: dict[str, Any] = {
                    "description": take_description(),
                    "subifds": levels or None,
                }
            else:  # P-2, P-4: sub-resolutions in SubIFDs with NewSubfileType=1
                extra = {"subfiletype": 1}
            tw.write(
                encoded(futures),
                shape=shape,
                dtype=src.dtype,
                tile=page_tile,
                compression=codec.tifffile,
                **extra,
                **opts,
            )
        if written is not None:
            written()
        progress()

    for _ in range(count):
        item, (plane, given) = next(planes)
        # the first sub-resolution (3/4 of all downsampling work) is computed in
        # row bands on the pool, queued before this plane's tiles; smaller levels
        # are halved here while the pool encodes
        first = start_downsample(plane, method, pool) if levels and given is None else None
        pages: list[Page] = [(plane.shape, tile, submit_page(pool, plane, tile, encode))]
        digests = [digest(plane)] if check is not None else []
        level = plane
        for k in range(levels):
            if given is not None:
                level = given[k]
            elif first is not None and k == 0:
                level = first()
            else:
                level = _downsample(level, method)
            lvl_tile = level_tile(tile, level)
            assert lvl_tile is not None
            pages.append((level.shape, lvl_tile, submit_page(pool, level, lvl_tile, encode)))
            if check is not None:
                digests.append(digest(level))
        if check is not None:
            check.expect(item, digests)
        del level, plane, given
        if pending is not None:
            flush(pending)
        pending = pages
        if not ahead:
            flush(pending)
            pending = None
    if pending is not None:
        flush(pending)


def write_sources(
    path: StrPath,
    sources: Sequence[SeriesSource],
    *,
    ome: m.OME | LightOme | None = None,
    compression: str | None = None,
    compression_level: int | None = None,
    tile: tuple[int, int] | int | bool | None = None,
    pyramid_levels: int | str = 0,
    downsample: Downsample = "mean",
    bigtiff: bool | None = None,
    split: Split | None = None,
    companion: bool = False,
    overwrite: bool = False,
    dimension_order: str | Sequence[str | None] | None = None,
    on_plane: OnPlane | None = None,
    threads: int | None = None,
    verify: bool = False,
    on_verified: OnPlane | None = None,
    source_pyramids: Sequence[SourcePyramid | None] | None = None,
    verified_digests: dict[PlaneKey, bytes] | None = None,
    place: PlaceFile | None = None,
) -> list[Path]:
    """Stream plane sources into an OME-TIFF file or file set.

    This is the core ``ometiff.write`` uses, and the entry point of converters.

    Parameters
    ----------
    path
        Output file (``.ome.tif`` / ``.ome.tiff``). With ``split``, members are
        named ``<stem>_s<i>``, ``<stem>_c<c>`` or ``<stem>_t<t>`` (and
        ``<stem>_s<i>_c<c>`` for several series) next to it, plus
        ``<stem>.companion.ome`` with ``companion=True``.
    sources
        One :class:`~ometiff.readers.source.SeriesSource` per series (OME Image).
    ome
        Metadata to keep. Contract: ``ome.images[i]`` describes ``sources[i]``
        (same number of Images as sources, else :class:`WriteError`).
        Everything in it is kept (instrument, annotations, ROIs, image names,
        channel names and colours, physical sizes, time increment, planes),
        except what must describe the written pixels, which is rewritten: Pixels
        ``SizeX/Y/Z/C/T``, ``Type``, ``DimensionOrder``, ``BigEndian``,
        ``Interleaved``, the TiffData blocks with their UUIDs, and the root
        UUID of every file. Channels are cut or padded to the source's C and
        each gets ``SamplesPerPixel`` = ``source.samples``; Planes outside the
        written sizes are dropped; BinData, MetadataOnly and BinaryOnly are
        dropped; units of present quantities are written explicitly. Without
        ``ome`` a minimal OME is built from the sources (names only).
    compression, compression_level
        Codec (none, lzw, zlib/deflate, zstd, jpeg, jpeg2000, jpegxl, webp,
        lerc) and its level or quality. Codecs Bio-Formats cannot decode warn.
    tile
        ``(height, width)`` (multiples of 16) or an int; ``False`` for strips;
        ``None`` tiles 512x512 when a side exceeds 2048 or there is a pyramid.
    pyramid_levels
        Sub-resolutions per plane (factor 2 each), or ``"auto"`` (down to about
        256 px). Written as SubIFDs with NewSubfileType=1.
    downsample
        ``"mean"`` (2x2 average) or ``"nearest"``.
    bigtiff
        ``None`` decides from an upper bound of each file's size; files named
        ``.ome.btf``, ``.ome.tf2`` or ``.ome.tf8`` are always BigTIFF (C2).
    split, companion
        ``"series"``, ``"c"`` or ``"t"``: one file per series / channel / time
        point linked by UUIDs. Without companion every file carries the full
        OME-XML (M3); with it, members are BinaryOnly and the metadata is in
        the companion (M4, M5).
    overwrite
        Replace existing files; otherwise :class:`FileExistsOmeTiffError` is
        raised before anything is written.
    dimension_order
        DimensionOrder per series (or one for all); default: the one in ``ome``,
        else ``XYZCT``. ``get_plane`` is called in this order (with the split
        axis moved to the slowest place).
    on_plane
        ``on_plane(done, total)`` after each full-resolution plane is written.
    threads
        Threads to compress and verify on (default: all cores); 1: the calling thread.
    verify
        Read every written IFD (each plane and each of its sub-resolutions) back
        from disk while later planes are encoded, decode it and compare its
        CRC-32 and Adler-32 with those of the plane given (or computed, for
        sub-resolutions); then re-open the committed output with the OME-TIFF
        reader and check that every plane maps to the IFD verified for it.
        A difference raises :class:`~ometiff.errors.VerificationError` and
        nothing is left behind.
    on_verified
        ``on_verified(done, total)`` as full-resolution planes are verified.
    source_pyramids
        One entry per series: a :class:`~ometiff.writer.pyramid.SourcePyramid`
        whose levels are written as that series' SubIFDs as read (and verified
        like computed ones; ``pyramid_levels`` is then ignored for it), or None
        to build levels from ``pyramid_levels``. Level sizes need only decrease
        in Y and X (P-2).
    verified_digests
        With ``verify``, a dict filled with ``(series, t, c, z) -> digest`` (8 bytes,
        :func:`~ometiff.writer.verify.plane_digest`) of each plane read back and found
        equal to its source (the batch journal records them).
    place
        Writes each file's pixels instead of this process (same arguments as
        ``write_tiff``): :class:`ometiff.writer.placed.PlacedTiles` has Dask workers
        read and encode the tiles. Metadata, checks and verification are unchanged.

    Returns
    -------
    list of Path
        Files written; the companion file, when asked for, comes first.
    """
    return write_all(
        path,
        sources,
        ome=ome,
        light=None,
        compression=compression,
        compression_level=compression_level,
        tile=tile,
        pyramid_levels=pyramid_levels,
        downsample=downsample,
        bigtiff=bigtiff,
        split=split,
        companion=companion,
        overwrite=overwrite,
        dimension_order=dimension_order,
        on_plane=on_plane,
        threads=threads,
        verify=verify,
        on_verified=on_verified,
        source_pyramids=source_pyramids,
        verified_digests=verified_digests,
        place=place,
    )


def write_all(
    path: StrPath,
    sources: Sequence[SeriesSource],
    *,
    ome: m.OME | LightOme | None,
    light: LightOme | None,
    compression: str | None,
    compression_level: int | None,
    tile: tuple[int, int] | int | bool | None,
    pyramid_levels: int | str,
    downsample: Downsample,
    bigtiff: bool | None,
    split: Split | None,
    companion: bool,
    overwrite: bool,
    dimension_order: str | Sequence[str | None] | None,
    on_plane: OnPlane | None,
    threads: int | None,
    verify: bool = False,
    on_verified: OnPlane | None = None,
    source_pyramids: Sequence[SourcePyramid | None] | None = None,
    verified_digests: dict[PlaneKey, bytes] | None = None,
    place: PlaceFile | None = None,
) -> list[Path]:
    """:func:`write_sources` with metadata as an OME model or checked keywords."""
    dest = Path(os.fspath(path))
    sources = list(sources)
    if isinstance(ome, LightOme):  # a vendor reader's OME-XML tree: no ome_types
        light, ome = ome, None
        dimension_order = dimension_order or light.orders()
    if not sources:
        raise WriteError(f"{dest}: nothing to write (no series)")
    for i, src in enumerate(sources):
        _check_source(i, src)
    codec = resolve_codec(compression, compression_level)
    for src in sources:
        check_codec_dtype(codec, src.dtype, src.samples)
    if verify and codec.tifffile == "jpeg":
        raise WriteError(  # refused before anything is written: it could never pass
            f"{dest}: compression='jpeg' is lossy, so the written pixels cannot equal the "
            "source and verification would fail; use a lossless codec (zlib, zstd, lzw) or "
            "turn verification off",
            option="compression",
        )
    if downsample not in ("mean", "nearest"):
        raise WriteError(f"downsample={downsample!r} is not understood; use 'mean' or 'nearest'")
    pyramids = list(source_pyramids) if source_pyramids is not None else [None] * len(sources)
    if len(pyramids) != len(sources):
        raise WriteError(f"{dest}: {len(pyramids)} source pyramids given for {len(sources)} series")
    shapes = [
        pyramid_shapes(s.shape[3], s.shape[4], pyramid_levels, pyr)
        for s, pyr in zip(sources, pyramids, strict=True)
    ]
    for i, pyr in enumerate(pyramids):
        problem = None if pyr is None else levels_problem(shapes[i])
        if problem is not None:  # P-2: SubIFDs from the largest to the smallest
            raise WriteError(
                f"series {i}: the source pyramid cannot be written as SubIFDs: {problem}"
            )
    levels = [len(sh) - 1 for sh in shapes]
    tiles = [_resolve_tile(tile, s, n) for s, n in zip(sources, levels, strict=True)]
    if companion and split is None and len(sources) == 0:  # pragma: no cover
        raise WriteError("companion needs at least one series")
    orders = _orders(sources, ome, dimension_order, split)
    plans = plan_files(dest, sources, orders, split)
    if bigtiff is False and has_bigtiff_suffix(dest.name):
        raise WriteError(
            f"{dest}: a .ome.btf/.ome.tf2/.ome.tf8 file must be BigTIFF; "  # C2
            "drop bigtiff=False or name it .ome.tif",
            option="bigtiff",
        )
    multi = len(plans) > 1 or companion
    comp = companion_path(dest) if companion else None
    finals = ([comp] if comp else []) + [p.path for p in plans]
    atomic = AtomicSet(finals, overwrite=overwrite)

    runs = tiffdata_runs(plans)
    if ome is None and light is None:
        light = prepare(sources, [SeriesMeta() for _ in sources])
    if light is not None and ome is None:
        template = render(light, sources, orders, runs, multi_file=multi)
    else:  # the full model (slow to import): a user's or reader's OME
        from ometiff.writer.omebuild import build_ome, conform_ome, ome_xml_template

        if ome is None:
            ome = build_ome(sources, [SeriesMeta() for _ in sources])
        template = ome_xml_template(conform_ome(ome, sources, orders, runs, multi_file=multi))
    comp_uuid = new_uuid()

    total = sum(p.plane_count for p in plans)
    done = 0

    def progress() -> None:
        nonlocal done
        done += 1
        if on_plane is not None:
            on_plane(done, total)

    checked = 0

    def verified(count: int) -> None:
        nonlocal checked
        checked += count
        if on_verified is not None:
            on_verified(checked, total)

    # where each plane goes: (file name, IFD), for the final check of the plane map
    locations: dict[PlaneKey, tuple[str, int]] = {}
    if verify:
        for plan in plans:
            ifd = 0
            for series, planes in plan.runs:
                for t, c, z in planes:
                    locations[(series, t, c, z)] = (plan.path.name, ifd)
                    ifd += 1

    workers = threads or os.cpu_count() or 1
    try:
        if comp is not None:
            tmp = atomic.temp(comp)
            tmp.write_bytes(with_root_uuid(template, comp_uuid))
        for plan in plans:
            if comp is not None:
                xml = binary_only_xml(plan.uuid, comp.name, comp_uuid)
            else:
                xml = with_root_uuid(template, plan.uuid)
            use_big = bigtiff
            if has_bigtiff_suffix(plan.path.name):
                use_big = True  # C2: the name promises BigTIFF
            elif use_big is None:
                use_big = (
                    estimate_size(plan, sources, levels, codec, len(xml), shapes) > CLASSIC_LIMIT
                )
            elif not use_big and codec.tifffile is None:
                if estimate_size(plan, sources, levels, codec, len(xml), shapes) > CLASSIC_LIMIT:
                    raise WriteError(  # checklist C3: the 4 GB ceiling of classic TIFF
                        f"{plan.path}: uncompressed data exceed 4 GB; classic TIFF cannot "
                        "hold them; pass bigtiff=True or None",
                        option="bigtiff",
                    )
            tmp = atomic.temp(plan.path)
            try:
                (place or write_tiff)(
                    tmp,
                    plan,
                    xml,
                    sources,
                    levels,
                    tiles,
                    codec,
                    downsample,
                    bool(use_big),
                    workers,
                    progress,
                    (plan.path, verified) if verify else None,
                    pyramids,
                    verified_digests,
                )
            except SourceFailed as e:
                raise e.error from e.error.__cause__
            except OSError as e:
                raise write_error(plan.path, e) from e  # a full disk said in words
            except ValueError as e:
                if isinstance(e, OmeTiffError):
                    raise
                raise WriteError(f"{plan.path}: tifffile refused the data: {e}") from e
        atomic.commit()
    except BaseException:
        atomic.discard()
        raise
    if verify:
        try:
            check_layout(finals[0], sources, levels, locations, shapes=shapes)
        except BaseException:
            for final in finals:
                final.unlink(missing_ok=True)
            raise
    return finals
