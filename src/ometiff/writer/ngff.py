"""The streaming OME-Zarr (NGFF 0.4 / 0.5) writer: :func:`write_ngff`.

Layout (bioformats2raw, the default): the root group says
``bioformats2raw.layout: 3``; ``OME/METADATA.ome.xml`` holds the full OME model
(the OME the OME-TIFF writer would write, with MetadataOnly instead of TiffData);
series are the multiscales images ``0``, ``1``, ...; an OME Plate becomes the HCS
layout (``<row>/<column>/<field>``). ``layout="image"`` writes one multiscales
image at the root.

Arrays are 5-D ``tczyx``; an RGB(A) channel is stored as 3 (4) channels. Planes
are pulled from the :class:`~ometiff.readers.source.SeriesSource` one at a time
(the next read in the background), each pyramid level is computed from the
previous one with the OME-TIFF writer's downsampler (or read from the source's
own pyramid), and every chunk (or shard) is encoded, written, read back from disk,
decoded and compared with its pixels in a thread pool. At most two groups of
``chunk-depth`` planes are in memory. Everything is written under a temporary
name renamed at the end; any failure removes it.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ometiff.atomic import create_temp, discard, temp_path, write_error
from ometiff.errors import (
    FileExistsOmeTiffError,
    MissingDependencyError,
    OmeTiffError,
    VerificationError,
    WriteError,
)
from ometiff.readers.decode import thread_pool
from ometiff.writer.core import SourceFailed, fetcher, prefetched
from ometiff.writer.multifile import check_output
from ometiff.writer.ngffmeta import (
    BLOSC_CNAME,
    DEFAULT_LEVEL,
    NGFF_CODECS,
    NGFF_VERSIONS,
    ArraySpec,
    NgffVersion,
    axes_and_scales,
    check_dtype,
    group_documents,
    multiscales,
    omero,
    plate_layout,
)
from ometiff.writer.pyramid import (
    Downsample,
    SourcePyramid,
    levels_problem,
    pyramid_shapes,
    start_downsample,
)
from ometiff.writer.pyramid import downsample as _downsample

if TYPE_CHECKING:
    from ome_types import model as m

    from ometiff.readers.source import SeriesSource
    from ometiff.types import StrPath

#: Output names written as OME-Zarr (a folder).
#: Default chunk: one plane deep, 1024 x 1024 (``(z, y, x)``).
DEFAULT_CHUNKS = (1, 1024, 1024)
#: Default shard with ``shards=True``: 4 x 4 chunks of one plane.
DEFAULT_SHARD_CHUNKS = 4
Layout = Literal["bioformats2raw", "image"]
#: ``on_plane(done, total)`` after each full-resolution plane is written and verified.
OnPlane = Callable[[int, int], None]
_MISSING = 2**64 - 1


@dataclass
class NgffResult:
    """What :func:`write_ngff` wrote."""

    path: Path
    planes: int = 0
    chunks: int = 0
    chunks_verified: int = 0
    series: list[dict[str, Any]] = field(default_factory=list)


# --- options ----------------------------------------------------------------------------


def _triple(value: int | Sequence[int], what: str) -> tuple[int, int, int]:
    vals = [value] if isinstance(value, int | np.integer) else list(value)
    if not 1 <= len(vals) <= 3 or any(isinstance(v, bool) or int(v) < 1 for v in vals):
        raise WriteError(
            f"{what}={value!r}: give an edge (Y and X), (y, x) or (z, y, x), each >= 1", option=what
        )
    ints = [int(v) for v in vals]
    if len(ints) == 1:
        return 1, ints[0], ints[0]
    if len(ints) == 2:
        return 1, ints[0], ints[1]
    return ints[0], ints[1], ints[2]


def resolve_options(
    version: str,
    compression: str | None,
    compression_level: int | None,
    chunks: int | Sequence[int] | None,
    shards: bool | int | Sequence[int] | None,
) -> tuple[NgffVersion, str, int, tuple[int, int, int], tuple[int, int, int] | None]:
    """Check the NGFF options: (version, codec, level, chunk zyx, shard zyx or None)."""
    if version not in NGFF_VERSIONS:
        raise WriteError(f"ngff={version!r}: use 0.5 (Zarr v3) or 0.4 (Zarr v2)", option="ngff")
    ver: NgffVersion = "0.4" if version == "0.4" else "0.5"
    codec = "zstd" if compression is None else str(compression).lower()
    if codec not in NGFF_CODECS:
        raise WriteError(
            f"compression={compression!r} is not an OME-Zarr codec here; use "
            + ", ".join(NGFF_CODECS),
            option="compression",
        )
    level = DEFAULT_LEVEL.get(codec, 0) if compression_level is None else int(compression_level)
    czyx = DEFAULT_CHUNKS if chunks is None else _triple(chunks, "chunks")
    shard: tuple[int, int, int] | None = None
    if shards not in (None, False):
        if ver == "0.4":
            raise WriteError("sharding needs NGFF 0.5 (Zarr v3); NGFF 0.4 (Zarr v2) has no shards")
        if shards is True:
            shard = (czyx[0], czyx[1] * DEFAULT_SHARD_CHUNKS, czyx[2] * DEFAULT_SHARD_CHUNKS)
        else:
            assert shards is not None and shards is not False
            shard = _triple(shards, "shards")
            if not isinstance(shards, Sequence) or len(shards) != 3:
                shard = (czyx[0], shard[1], shard[2])  # a shard is one chunk deep
            if shard[0] != czyx[0]:
                raise WriteError(f"shards={shards!r}: a shard is one chunk deep in z ({czyx[0]})")
            if any(s % c for s, c in zip(shard, czyx, strict=True)):
                raise WriteError(
                    f"shards={shards!r} must be a multiple of the chunk shape {czyx} (z, y, x)"
                )
    return ver, codec, level, czyx, shard


def _level_spec(
    shape: tuple[int, int, int, int, int],
    czyx: tuple[int, int, int],
    shard: tuple[int, int, int] | None,
    dtype: np.dtype,
    codec: str,
    level: int,
    version: NgffVersion,
) -> ArraySpec:
    z, y, x = shape[2:]
    cz, cy, cx = min(czyx[0], z), min(czyx[1], y), min(czyx[2], x)
    shards = None
    if shard is not None:
        sz = cz
        sy = cy * max(1, min(shard[1] // czyx[1], -(-y // cy)))
        sx = cx * max(1, min(shard[2] // czyx[2], -(-x // cx)))
        shards = (1, 1, sz, sy, sx)
    return ArraySpec(
        shape, (1, 1, cz, cy, cx), shards, dtype, codec, level, 2 if version == "0.4" else 3
    )


# --- chunk encoding ------------------------------------------------------------------


Codec = Callable[[Any], Any]


def _encoder(spec: ArraySpec) -> tuple[Codec, Codec]:
    import imagecodecs

    lvl = spec.level
    if spec.codec == "zstd":
        return (lambda b: imagecodecs.zstd_encode(b, level=lvl)), imagecodecs.zstd_decode
    if spec.codec == "gzip":
        return (lambda b: imagecodecs.gzip_encode(b, level=lvl)), imagecodecs.gzip_decode
    if spec.codec == "blosc":
        size = spec.dtype.itemsize
        shuffle = 1 if size > 1 else 0
        return (
            lambda b: imagecodecs.blosc_encode(
                b, level=lvl, compressor=BLOSC_CNAME, shuffle=shuffle, typesize=size, numthreads=1
            )
        ), imagecodecs.blosc_decode
    return (lambda a: memoryview(a).cast("B")), (lambda b: b)


def _crc32c(data: bytes) -> bytes:
    try:
        import google_crc32c
    except ImportError:
        raise MissingDependencyError(
            'sharded OME-Zarr needs google-crc32c: pip install "ometiff[zarr]"'
        ) from None
    return int(google_crc32c.value(data)).to_bytes(4, "little")


class _Array:
    """One level being written: its spec, folder, codec and statistics."""

    def __init__(self, spec: ArraySpec, folder: Path) -> None:
        self.spec = spec
        self.folder = folder
        self.encode, self.decode = _encoder(spec)
        self.dtype = spec.dtype.newbyteorder("<")
        self.chunks = 0
        self.verified = 0
        self.lock = threading.Lock()

    def _chunk(self, block: np.ndarray) -> np.ndarray:
        """A chunk's pixels: ``block`` padded with the fill value to the chunk shape."""
        want = self.spec.chunks[2:]
        if block.shape != want:
            full = np.zeros(want, self.dtype)
            full[: block.shape[0], : block.shape[1], : block.shape[2]] = block
            return full
        return np.ascontiguousarray(block, self.dtype)

    def store(
        self, slab: np.ndarray, t: int, c: int, z0: int, iy: int, ix: int, verify: bool
    ) -> tuple[float, float] | None:
        """Encode, write (and verify) the stored object at grid (t, c, z0, iy, ix).

        ``slab`` is the ``(cz, Y, X)`` block of planes ``z0 * cz ...``; returns the
        data range of the valid pixels of this object.
        """
        spec = self.spec
        uy, ux = spec.store_unit[3], spec.store_unit[4]
        cy, cx = spec.chunks[3], spec.chunks[4]
        ys, xs = iy * uy, ix * ux
        region = slab[:, ys : ys + uy, xs : xs + ux]
        if region.size == 0:
            return None
        key = self.folder / spec.chunk_key((t, c, z0, iy, ix))
        key.parent.mkdir(parents=True, exist_ok=True)
        chunks: list[np.ndarray] = []
        if spec.shards is None:
            chunks.append(self._chunk(region))
            data = self.encode(chunks[0])
        else:
            ny, nx = uy // cy, ux // cx
            index = np.full((ny, nx, 2), _MISSING, "<u8")
            blobs: list[bytes] = []
            offset = 0
            for jy in range(ny):
                for jx in range(nx):
                    sub = region[:, jy * cy : (jy + 1) * cy, jx * cx : (jx + 1) * cx]
                    if sub.size == 0:
                        continue
                    chunk = self._chunk(sub)
                    blob = self.encode(chunk)
                    index[jy, jx] = (offset, len(blob))
                    offset += len(blob)
                    blobs.append(blob)
                    chunks.append(chunk)
            idx = index.tobytes()
            blobs.append(idx + _crc32c(idx))
            data = b"".join(blobs)
        with open(key, "wb") as fh:
            fh.write(data)
        del data
        if verify:
            self._verify(key, chunks)
        lo_hi = _range(region)
        with self.lock:
            self.chunks += len(chunks)
            if verify:
                self.verified += len(chunks)
        return lo_hi

    def _verify(self, key: Path, chunks: list[np.ndarray]) -> None:
        """Read the object back from disk, decode it and compare every chunk's bytes."""
        stored = key.read_bytes()
        if self.spec.shards is None:
            decoded = [self.decode(stored)]
        else:
            _, _, _, uy, ux = self.spec.store_unit
            _, _, _, cy, cx = self.spec.chunks
            count = (uy // cy) * (ux // cx)
            idx = stored[-(count * 16 + 4) : -4]
            if _crc32c(idx) != stored[-4:]:
                raise VerificationError(f"{key}: shard index checksum differs after writing")
            table = np.frombuffer(idx, "<u8").reshape(-1, 2)
            decoded = [
                self.decode(stored[int(o) : int(o) + int(s)])
                for o, s in table
                if int(o) != _MISSING
            ]
        same = len(decoded) == len(chunks) and all(
            len(d) == c.nbytes
            and np.array_equal(np.frombuffer(d, np.uint8), c.reshape(-1).view(np.uint8))
            for d, c in zip(decoded, chunks, strict=False)
        )
        if not same:
            raise VerificationError(
                f"{key}: the chunk read back differs from the pixels written; "
                "the output was removed"
            )


def _range(region: np.ndarray) -> tuple[float, float] | None:
    if region.dtype.kind == "f":
        finite = region[np.isfinite(region)] if not np.isfinite(region).all() else region
        if finite.size == 0:
            return None
        return float(finite.min()), float(finite.max())
    return float(region.min()), float(region.max())


# --- the output folder ----------------------------------------------------------------


class _AtomicFolder:
    """A temporary folder next to the destination, renamed to it at the end."""

    def __init__(self, dest: Path, overwrite: bool) -> None:
        self.dest, self.overwrite = dest, overwrite
        check_output(dest, overwrite=overwrite, folder_output=True)
        self.tmp = create_temp(dest, folder=True)

    def commit(self) -> None:
        old = None
        if self.dest.exists() or self.dest.is_symlink():
            if not self.overwrite:
                raise FileExistsOmeTiffError(
                    f"{self.dest}: appeared while writing; pass overwrite=True to replace it",
                    option="overwrite",
                )
            old = temp_path(self.dest)
            os.replace(self.dest, old)
        os.replace(self.tmp, self.dest)
        if old is not None:
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)

    def discard(self) -> None:
        discard(self.tmp)


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, allow_nan=False), encoding="utf-8")


def _write_group(folder: Path, attrs: dict[str, Any], version: NgffVersion) -> None:
    for name, doc in group_documents(attrs, version).items():
        _write_json(folder / name, doc)


def check_destination(dest: Path, inputs: Sequence[Path]) -> None:
    """Refuse an OME-Zarr output that is, or is inside, one of the inputs."""
    target = dest.resolve()
    for src in inputs:
        try:
            s = src.resolve()
        except OSError:  # pragma: no cover - unreadable input: the reader says so
            continue
        if target == s or s in target.parents:
            raise WriteError(
                f"{dest}: the output is inside the input {src}; write it somewhere else"
            )


# --- the writer -----------------------------------------------------------------------


def _ome_xml(ome: m.OME, sources: Sequence[SeriesSource]) -> str:
    """The OME the OME-TIFF writer would write, MetadataOnly instead of TiffData."""
    from ome_types import model as mm
    from ome_types import to_xml

    from ometiff.writer.omebuild import conform_ome

    orders = [im.pixels.dimension_order.value for im in ome.images]
    out = conform_ome(ome, sources, orders, [], multi_file=False)
    for image in out.images:
        image.pixels.tiff_data_blocks = []
        image.pixels.metadata_only = mm.MetadataOnly()
    return to_xml(out)


def write_ngff(
    path: StrPath,
    sources: Sequence[SeriesSource],
    *,
    ome: m.OME,
    ngff: str = "0.5",
    layout: Layout = "bioformats2raw",
    compression: str | None = None,
    compression_level: int | None = None,
    chunks: int | Sequence[int] | None = None,
    shards: bool | int | Sequence[int] | None = None,
    pyramid_levels: int | str = "auto",
    source_pyramids: Sequence[SourcePyramid | None] | None = None,
    downsample: Downsample = "mean",
    verify: bool = True,
    overwrite: bool = False,
    on_plane: OnPlane | None = None,
    threads: int | None = None,
) -> NgffResult:
    """Stream plane sources into an OME-Zarr folder.

    Parameters
    ----------
    path
        Output folder ``<name>.ome.zarr``.
    sources, ome
        One source per series and the OME that describes them
        (``ome.images[i]`` is ``sources[i]``); all of it goes to
        ``OME/METADATA.ome.xml``.
    ngff
        ``"0.5"`` (Zarr v3, default) or ``"0.4"`` (Zarr v2).
    layout
        ``"bioformats2raw"`` (default; the HCS layout when the OME has a Plate) or
        ``"image"``: one multiscales image at the root (one series only).
    compression, compression_level
        ``"zstd"`` (default, level 1), ``"blosc"`` (lz4 inside, shuffle),
        ``"gzip"`` or ``"none"``.
    chunks
        Chunk edge, ``(y, x)`` or ``(z, y, x)``; default ``(1, 1024, 1024)``
        (clipped to each level).
    shards
        NGFF 0.5 only: ``True`` for 4 x 4 chunks per shard, or a ``(z, y, x)``
        shard shape (multiple of the chunk).
    pyramid_levels, source_pyramids
        Sub-resolutions built by halving (``"auto"``: down to ~256 px), unless a
        series' entry in ``source_pyramids`` gives its own levels (read, not
        recomputed).
    verify
        Read every written chunk back from disk and compare it with the pixels
        it came from (a mismatch raises :class:`VerificationError`; nothing stays).
    overwrite, on_plane, threads
        Replace an existing output; progress ``on_plane(done, total)`` per
        full-resolution plane; threads to read, encode and verify on (default: all
        cores; 1: the calling thread).
    """
    dest = Path(os.fspath(path))
    sources = list(sources)
    if not sources:
        raise WriteError(f"{dest}: nothing to write (no series)")
    if len(ome.images) != len(sources):
        raise WriteError(
            f"ome has {len(ome.images)} Image(s) but {len(sources)} series are written"
        )
    version, codec, level, czyx, shard = resolve_options(
        ngff, compression, compression_level, chunks, shards
    )
    if layout not in ("bioformats2raw", "image"):
        raise WriteError(f"layout={layout!r}: use bioformats2raw or image", option="layout")
    if layout == "image" and len(sources) > 1:
        raise WriteError(
            f"{dest}: layout='image' holds one series but there are "
            f"{len(sources)}; select one series or use layout='bioformats2raw'",
            option="layout",
        )
    for i, src in enumerate(sources):
        if len(src.shape) != 5 or any(int(n) < 1 for n in src.shape):
            raise WriteError(
                f"series {i}: shape {src.shape} must be 5 sizes (T, C, Z, Y, X) "
                f">= 1 for OME-Zarr {version}"
            )
        if src.samples not in (1, 3, 4):
            raise WriteError(
                f"series {i}: {src.samples} samples per pixel cannot be "
                f"written as OME-Zarr {version}; use 1, 3 or 4"
            )
        check_dtype(src.dtype.newbyteorder("="), version, f"series {i}")
    if downsample not in ("mean", "nearest"):
        raise WriteError(f"downsample={downsample!r} is not understood; use 'mean' or 'nearest'")
    pyramids = list(source_pyramids) if source_pyramids is not None else [None] * len(sources)
    shapes = [
        pyramid_shapes(src.shape[3], src.shape[4], pyramid_levels, pyr)
        for src, pyr in zip(sources, pyramids, strict=True)
    ]
    for i, pyr in enumerate(pyramids):
        problem = None if pyr is None else levels_problem(shapes[i])
        if problem is not None:
            raise WriteError(f"series {i}: the source pyramid cannot be written: {problem}")
    xml = _ome_xml(ome, sources)
    plate = plate_layout(ome, version) if layout == "bioformats2raw" else None
    atomic = _AtomicFolder(dest, overwrite)
    result = NgffResult(dest)
    total = sum(s.plane_count for s in sources)
    try:
        root = atomic.tmp
        groups: list[str] = []
        for i in range(len(sources)):
            if layout == "image":
                groups.append("")
            elif plate is not None and i in plate.paths:
                groups.append(plate.paths[i])
            else:
                groups.append(str(i))
        workers = max(1, threads or os.cpu_count() or 1)
        with thread_pool(workers, "ometiff-zarr") as pool:
            for i, src in enumerate(sources):
                folder = root / groups[i] if groups[i] else root
                arrays = []
                for k, (ly, lx) in enumerate(shapes[i]):
                    t, c, z = src.shape[:3]
                    spec = _level_spec(
                        (t, c * src.samples, z, ly, lx),
                        czyx,
                        shard,
                        src.dtype.newbyteorder("="),
                        codec,
                        level,
                        version,
                    )
                    name, doc = spec.metadata()
                    _write_json(folder / str(k) / name, doc)
                    arrays.append(_Array(spec, folder / str(k)))
                ranges = _write_series(
                    i,
                    src,
                    arrays,
                    pyramids[i],
                    downsample,
                    verify,
                    pool,
                    workers,
                    result,
                    total,
                    on_plane,
                )
                image = ome.images[i]
                axes, scales = axes_and_scales(image, shapes[i], version)
                attrs = {
                    "multiscales": [
                        multiscales(
                            image.name,
                            axes,
                            scales,
                            version,
                            "source" if pyramids[i] is not None else downsample,
                        )
                    ],
                    "omero": omero(
                        image,
                        src.shape[1],
                        src.samples,
                        src.dtype.newbyteorder("="),
                        ranges,
                        src.shape[2],
                        version,
                    ),
                }
                _write_group(folder, attrs, version)
                result.chunks += sum(a.chunks for a in arrays)
                result.chunks_verified += sum(a.verified for a in arrays)
                result.series.append(
                    {
                        "group": groups[i] or ".",
                        "levels": [list(a.spec.shape) for a in arrays],
                        "chunks": list(arrays[0].spec.chunks),
                        "shards": list(arrays[0].spec.shards) if arrays[0].spec.shards else None,
                        "chunks_written": sum(a.chunks for a in arrays),
                        "chunks_verified": sum(a.verified for a in arrays),
                    }
                )
        if layout == "bioformats2raw":
            root_attrs: dict[str, Any] = {"bioformats2raw.layout": 3}
            if plate is not None:
                root_attrs.update(plate.plate)
                for wpath, wdoc in plate.wells.items():
                    row = wpath.split("/")[0]
                    if not (root / row / group_documents({}, version).popitem()[0]).exists():
                        _write_group(root / row, {}, version)
                    _write_group(root / wpath, wdoc, version)
            _write_group(root, root_attrs, version)
            _write_group(root / "OME", {"series": list(groups)}, version)
            (root / "OME" / "METADATA.ome.xml").write_text(xml, encoding="utf-8")
        else:
            (root / "OME").mkdir()
            (root / "OME" / "METADATA.ome.xml").write_text(xml, encoding="utf-8")
        atomic.commit()
    except SourceFailed as e:
        atomic.discard()
        raise e.error from e.error.__cause__
    except OSError as e:
        atomic.discard()
        if isinstance(e, OmeTiffError):
            raise
        raise write_error(dest, e) from e
    except BaseException:
        atomic.discard()
        raise
    return result


def _write_series(
    index: int,
    src: SeriesSource,
    arrays: list[_Array],
    pyramid: SourcePyramid | None,
    method: Downsample,
    verify: bool,
    pool: Executor,
    threads: int,
    result: NgffResult,
    total: int,
    on_plane: OnPlane | None,
) -> list[tuple[float, float] | None]:
    """Stream one series: groups of chunk-depth planes, every level, every object
    (``pool`` has ``threads`` threads; with one, all in this thread)."""
    t_size, c_size, z_size = src.shape[:3]
    samples = src.samples
    depth = arrays[0].spec.chunks[2]
    units = [
        (t, c, z0) for t in range(t_size) for c in range(c_size) for z0 in range(0, z_size, depth)
    ]
    items = [(index, t, c, z) for t, c, z0 in units for z in range(z0, min(z0 + depth, z_size))]
    # items name the series
    planes = prefetched(items, fetcher([src] * (index + 1)), threads)
    ranges: list[tuple[float, float] | None] = [None] * (c_size * samples)
    pending: list[tuple[list[Future[Any]], int, int]] = []

    def settle(batch: tuple[list[Future[Any]], int, int]) -> None:
        futures, c, n = batch
        for f in futures:
            lo_hi = f.result()
            if lo_hi is None or lo_hi[0] is None:
                continue
            lo, hi, s = lo_hi
            k = c * samples + s
            old = ranges[k]
            ranges[k] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))
        result.planes += n
        if on_plane is not None:
            on_plane(result.planes, total)

    try:
        for t, c, z0 in units:
            n = min(depth, z_size - z0)
            stack = [next(planes)[1] for _ in range(n)]
            futures: list[Future[Any]] = []
            # level 0 and its first halving (started first, as the TIFF writer does)
            if pyramid is None and len(arrays) > 1:
                starts = [start_downsample(p, method, pool) for p in stack]
            else:
                starts = []
            levels: list[list[np.ndarray]] = [stack]
            futures += _submit(
                pool, arrays[0], stack, samples, t, c, z0 // depth, verify, stats=True
            )
            for k in range(1, len(arrays)):
                if pyramid is not None:
                    lvl = [np.asarray(pyramid.read(k, t, c, z)) for z in range(z0, z0 + n)]
                elif k == 1:
                    lvl = [s() for s in starts]
                else:
                    lvl = [_downsample(p, method) for p in levels[-1]]
                levels.append(lvl)
                futures += _submit(
                    pool, arrays[k], lvl, samples, t, c, z0 // depth, verify, stats=False
                )
            del levels, stack, starts
            if len(pending) >= 1:
                settle(pending.pop(0))
            pending.append((futures, c, n))
        while pending:
            settle(pending.pop(0))
    except BaseException:
        for futures, _, _ in pending:
            for f in futures:
                f.cancel()
        raise
    return ranges


def _submit(
    pool: Executor,
    array: _Array,
    planes: list[np.ndarray],
    samples: int,
    t: int,
    c: int,
    zi: int,
    verify: bool,
    *,
    stats: bool,
) -> list[Future[Any]]:
    """Queue the stored objects of one group of planes (every sample) of one level."""
    spec = array.spec
    _, _, _, uy, ux = spec.store_unit
    y, x = spec.shape[3], spec.shape[4]
    if planes[0].shape[:2] != (y, x):
        raise WriteError(
            f"level {array.folder.name}: a plane of shape {planes[0].shape[:2]} "
            f"does not match the level's {(y, x)}"
        )
    slab = np.stack(planes) if len(planes) > 1 else planes[0][None]
    futures = []
    for s in range(samples):
        part = slab if samples == 1 else slab[..., s]
        for iy in range(-(-y // uy)):
            for ix in range(-(-x // ux)):
                futures.append(
                    pool.submit(
                        _task,
                        array,
                        part,
                        t,
                        c * samples + s,
                        zi,
                        iy,
                        ix,
                        verify,
                        s if stats else None,
                    )
                )
    return futures


def _task(
    array: _Array,
    slab: np.ndarray,
    t: int,
    c: int,
    zi: int,
    iy: int,
    ix: int,
    verify: bool,
    sample: int | None,
) -> tuple[float, float, int] | None:
    lo_hi = array.store(slab, t, c, zi, iy, ix, verify)
    if sample is None or lo_hi is None:
        return None
    return lo_hi[0], lo_hi[1], sample
