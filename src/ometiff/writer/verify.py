"""Verification of a write: every IFD written is read back from disk and compared.

While a file is written, :class:`OutputCheck` follows the IFD chain of the
file on disk as it grows (the next-IFD pointers and SubIFDs tags, as any
reader finds them), decodes each finished page and its pyramid levels with the
readers' one decode path, and compares their digests with the digests of the
planes the writer was given (level 0) and computed (sub-resolutions). These
checks run on the writer's thread pool while later planes are being encoded,
so the source is read once and the output is decoded once, overlapped.

After the file set is committed, :func:`check_layout` re-opens it with the
OME-TIFF reader (which follows its TiffData, UUIDs and companion like any
consumer would) and checks that every plane ``(series, t, c, z)`` maps to the
file and IFD whose pixels were verified, with the written shapes, type and levels.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ometiff.errors import OmeTiffError, VerificationError
from ometiff.readers.decode import DECODE_ERRORS

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future
    from pathlib import Path

    from ometiff.readers.source import SeriesSource

PlaneKey = tuple[int, int, int, int]  # (series, t, c, z)
#: a plane announced to OutputCheck: its key, the digest of each level, and each level's
#: Segments when its tiles were verified where they were encoded
_Expected = tuple[PlaneKey, list[bytes], "Sequence[Segments] | None"]
OnVerified = Callable[[int, int], None]

#: Checks queued on the pool at a time; the writer waits for the oldest before it
#: queues another (each holds one decoded plane and its levels: memory stays bounded).
MAX_PENDING = 1
#: IFDs found on disk are checked in batches of at least this many pixel bytes (each
#: batch opens the file once), or when the file is finished.
BATCH_BYTES = 8 << 20


def _checksums() -> tuple[Any, Any]:
    try:
        import imagecodecs

        if imagecodecs.DEFLATE.available:  # libdeflate: ~35 GiB/s, 20x SHA-1
            return imagecodecs.deflate_crc32, imagecodecs.deflate_adler32
    except (ImportError, AttributeError):  # pragma: no cover - imagecodecs is a dependency
        pass
    return zlib.crc32, zlib.adler32  # pragma: no cover


_CRC32, _ADLER32 = _checksums()


def plane_digest(plane: np.ndarray) -> bytes:
    """CRC-32 and Adler-32 (64 bits) of a plane's pixels in native byte order (C order).

    Two independent checksums of the whole plane: any accidental difference
    (a wrong, shifted, swapped or damaged plane) changes them except with a
    chance of about 2**-64. The source is trusted, so no cryptographic hash is
    needed; libdeflate computes both at memory speed, where SHA-1 cost about a
    second of CPU per GiB written and read back.
    """
    arr = np.ascontiguousarray(plane)
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("="))
    data = arr.data.cast("B")
    return int(_CRC32(data)).to_bytes(4, "little") + int(_ADLER32(data)).to_bytes(4, "little")


_PLANE_DIGEST = plane_digest  # page_digest's running sums are this function's


def digest(plane: np.ndarray) -> bytes:
    """:func:`plane_digest`, looked up at call time (tests replace it to fake damage)."""
    return plane_digest(plane)


#: Compressed bytes tifffile reads at a time while a page is checked.
READ_BYTES = 4 << 20


def page_digest(page: Any, samples: int, dtype: np.dtype, *, where: str) -> bytes:
    """:func:`plane_digest` of a page's pixels, decoded from the file.

    A tiled page of one sample per pixel (or of contiguous samples) is decoded one
    row of tiles at a time by tifffile and its checksums are carried from band to
    band (both are running sums), so neither the plane nor all of its compressed
    tiles are held at once; the digest equals that of the whole decoded plane.
    Other pages are decoded whole by the readers' one decode path
    (:func:`ometiff.readers.tiff.page_plane`).
    """
    from ometiff.readers.decode import is_planar_ycbcr_jpeg
    from ometiff.readers.tiff import page_plane

    height, width = int(page.imagelength), int(page.imagewidth)
    if (
        plane_digest is not _PLANE_DIGEST  # replaced (tests): hash whole planes with it
        or not page.is_tiled
        or int(page.imagedepth) != 1
        or int(page.samplesperpixel) != samples
        or (samples > 1 and int(page.planarconfig) != 1)
        or is_planar_ycbcr_jpeg(page)
        or np.dtype(page.dtype) != dtype.newbyteorder("=")
    ):
        return digest(page_plane(page, samples, dtype, (height, width), where=where))
    tile_h, tile_w = int(page.tilelength), int(page.tilewidth)
    across = -(-width // tile_w)
    band = np.zeros((tile_h, width, samples), page.dtype)
    crc = adler = None
    row = filled = 0
    for tile, index, shape in page.segments(maxworkers=1, buffersize=READ_BYTES):
        y, x = int(index[-3]), int(index[-2])
        if y != row * tile_h:
            raise ValueError(f"tile at y={y} out of order")
        h, w = min(int(shape[-3]), height - y), min(int(shape[-2]), width - x)
        if tile is None:
            band[:h, x : x + w] = 0  # a tile never written reads as zeros, as in tifffile
        else:
            band[:h, x : x + w] = tile.reshape(tile.shape[-3:])[:h, :w]
        filled += 1
        if filled == across:
            rows = band[: min(tile_h, height - y)]
            data = rows.data.cast("B")
            crc = _CRC32(data) if crc is None else _CRC32(data, crc)
            adler = _ADLER32(data) if adler is None else _ADLER32(data, adler)
            row, filled = row + 1, 0
    if crc is None or adler is None or row * tile_h < height:
        raise ValueError(f"{row} rows of tiles decoded; the image has {-(-height // tile_h)}")
    return int(crc).to_bytes(4, "little") + int(adler).to_bytes(4, "little")


class _Chain:
    """The main IFD chain of a TIFF file on disk, read with ``pread`` as it grows."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        head = os.pread(fd, 16, 0)
        order = "<" if head[:2] == b"II" else ">"
        self.big = struct.unpack(order + "H", head[2:4])[0] == 43
        if self.big:
            self._count, self._entry, self._ptr = (
                struct.Struct(order + "Q"),
                20,
                struct.Struct(order + "Q"),
            )
            self.first = self._ptr.unpack(head[8:16])[0]
        else:
            self._count, self._entry, self._ptr = (
                struct.Struct(order + "H"),
                12,
                struct.Struct(order + "I"),
            )
            self.first = self._ptr.unpack(head[4:8])[0]
        self.last: int | None = None  # the last main IFD found

    def new_ifds(self) -> list[int]:
        """Offsets of main IFDs linked since the last call."""
        out = []
        offset = self.first if self.last is None else self._next(self.last)
        while offset:
            out.append(offset)
            self.last = offset
            offset = self._next(offset)
        return out

    def _next(self, offset: int) -> int:
        raw = os.pread(self.fd, self._count.size, offset)
        if len(raw) < self._count.size:
            return 0
        count = self._count.unpack(raw)[0]
        at = offset + self._count.size + count * self._entry
        raw = os.pread(self.fd, self._ptr.size, at)
        return self._ptr.unpack(raw)[0] if len(raw) == self._ptr.size else 0


class OutputCheck:
    """Verify one file while it is being written (see the module docstring).

    The writer announces each main IFD it is about to write, in order, with
    :meth:`expect` (the digests of the plane and of each of its sub-resolutions),
    calls :meth:`poll` when whole planes are on disk (after flushing), and
    :meth:`finish` when the file is closed.

    A page whose tiles were already verified where they were encoded (the distributed
    writer, :func:`round_trip`) is announced with its :class:`Segments`: its IFD is
    checked against them and each tile's bytes are read back and their checksums
    compared, instead of decoding it again here.
    """

    def __init__(
        self,
        tmp: Path,
        final: Path,
        sources: Sequence[SeriesSource],
        pool: Executor,
        on_verified: Callable[[int], None],
        record: dict[PlaneKey, bytes] | None = None,
    ) -> None:
        self.tmp, self.final, self.sources, self.pool = tmp, final, sources, pool
        self.on_verified = on_verified
        #: filled with each verified plane's level-0 digest (the batch journal keeps them)
        self.record = record
        self._expected: deque[_Expected] = deque()
        self._pending: deque[Future[int]] = deque()
        self._fd = os.open(tmp, os.O_RDONLY)
        self._chain: _Chain | None = None
        self._found = 0
        self._batch: list[tuple[int, int, _Expected]] = []
        self._batch_bytes = 0

    def expect(
        self, key: PlaneKey, digests: list[bytes], segments: Sequence[Segments] | None = None
    ) -> None:
        """The next main IFD holds plane ``key``; ``digests``: level 0, 1, ... of it;
        ``segments``, when given, the tiles of each level, verified where encoded."""
        if segments is not None and len(segments) != len(digests):
            raise ValueError("one Segments per level")
        self._expected.append((key, digests, segments))

    def poll(self, *, last: bool = False) -> None:
        """Queue checks of the main IFDs (and their SubIFDs) now complete on disk."""
        if self._chain is None:
            self._chain = _Chain(self._fd)
        for offset in self._chain.new_ifds():
            if not self._expected:
                raise VerificationError(f"{self.final}: IFD {self._found} was never written")
            expected = self._expected.popleft()
            self._batch.append((self._found, offset, expected))
            key = expected[0]
            src = self.sources[key[0]]
            self._batch_bytes += src.shape[3] * src.shape[4] * src.samples * src.dtype.itemsize
            self._found += 1
        if self._batch and (last or self._batch_bytes >= BATCH_BYTES):
            # progress is reported here, on the writer's thread
            while len(self._pending) >= MAX_PENDING:
                self.on_verified(self._pending.popleft().result())
            self._pending.append(self.pool.submit(self._check, self._batch))
            self._batch, self._batch_bytes = [], 0
        while self._pending and self._pending[0].done():
            self.on_verified(self._pending.popleft().result())

    def finish(self) -> None:
        """Check what is left once the file is closed; raise on any difference."""
        self.poll(last=True)
        while self._pending:
            self.on_verified(self._pending.popleft().result())
        if self._expected:
            key = self._expected[0][0]
            raise VerificationError(
                f"{self.final}: series {key[0]} plane t={key[1]} c={key[2]} z={key[3]} "
                "was never written"
            )

    def close(self) -> None:
        """Wait for queued checks (their errors are dropped) and release the file."""
        for future in self._pending:
            future.cancel()
        for future in self._pending:
            if not future.cancelled():
                future.exception()
        self._pending.clear()
        os.close(self._fd)

    def _check(self, batch: list[tuple[int, int, _Expected]]) -> int:
        import tifffile

        # a new TiffFile each time: it sees the file as long as it is now
        with tifffile.TiffFile(self.tmp, is_ome=False) as tf:
            fh = tf.filehandle
            for ifd, offset, (key, digests, segments) in batch:
                series, t, c, z = key
                src = self.sources[series]
                name = f"series {series} plane t={t} c={c} z={z}"
                try:
                    fh.seek(offset)
                    page = tifffile.TiffPage(tf, ifd)
                    offsets = [offset, *(page.subifds or ())]
                    if len(offsets) != len(digests):
                        raise VerificationError(
                            f"{self.final}: IFD {ifd} ({name}) has {len(offsets) - 1} "
                            f"SubIFD levels, {len(digests) - 1} were written"
                        )
                    for level, (at, want) in enumerate(zip(offsets, digests, strict=True)):
                        if level:
                            fh.seek(at)
                            page = tifffile.TiffPage(tf, (ifd, level - 1))
                        where = f"{self.final}: IFD {ifd}" + (
                            f" SubIFD {level - 1}" if level else ""
                        )
                        if segments is not None:
                            problem = _segments_problem(
                                self._fd,
                                tf.byteorder,
                                page,
                                segments[level],
                                src.samples,
                                src.dtype,
                            )
                            if problem is not None:
                                raise VerificationError(
                                    f"{self.final}: {name}"
                                    + (f" level {level}" if level else "")
                                    + f" (IFD {ifd}"
                                    + (f" SubIFD {level - 1}" if level else "")
                                    + f"): {problem}"
                                )
                        elif page_digest(page, src.samples, src.dtype, where=where) != want:
                            raise VerificationError(
                                f"{self.final}: {name}"
                                + (f" level {level}" if level else "")
                                + " differs from its source"
                            )
                    if self.record is not None:
                        self.record[key] = digests[0]
                except VerificationError:
                    raise
                except (OmeTiffError, tifffile.TiffFileError, OSError, ValueError) as exc:
                    raise VerificationError(
                        f"{self.final}: IFD {ifd} ({name}) cannot be read back: {exc}"
                    ) from exc
        return len(batch)


def check_layout(
    path: Path,
    sources: Sequence[SeriesSource],
    levels: Sequence[int],
    written: Mapping[PlaneKey, tuple[str, int]],
    *,
    shapes: Sequence[Sequence[tuple[int, int]]] | None = None,
) -> int:
    """Re-open the committed output and check where its OME-XML puts every plane.

    ``written`` maps each plane to the (file name, IFD) whose pixels were
    verified while writing; ``shapes``, when given, the (Y, X) of every level
    of each series. Returns the number of planes checked.

    Raises
    ------
    VerificationError
        The output's series, shapes, levels or plane map differ from what was written.
    """
    from ometiff.readers.ome_tiff import OmeTiffReader

    with OmeTiffReader(path) as rdr:
        out = rdr.sources()
        if len(out) != len(sources):
            raise VerificationError(f"{path}: {len(out)} series written, {len(sources)} expected")
        for i, (got, want) in enumerate(zip(out, sources, strict=True)):
            if got.shape != want.shape or got.samples != want.samples or got.dtype != want.dtype:
                raise VerificationError(
                    f"{path}: series {i} is {got.shape} x{got.samples} {got.dtype}, expected "
                    f"{want.shape} x{want.samples} {want.dtype}"
                )
            if len(rdr.level_shapes(i)) != 1 + levels[i]:
                raise VerificationError(
                    f"{path}: series {i} has {len(rdr.level_shapes(i)) - 1} sub-resolutions, "
                    f"{levels[i]} were written"
                )
            sizes = [(sh[3], sh[4]) for sh in rdr.level_shapes(i)]
            if shapes is not None and sizes != [tuple(yx) for yx in shapes[i]]:
                raise VerificationError(
                    f"{path}: series {i} levels are {sizes} (Y, X), "
                    f"{[tuple(yx) for yx in shapes[i]]} were written"
                )
        for key, (name, ifd) in written.items():
            member, found = rdr.locate(*key)
            if (member.name, found) != (name, ifd):
                i, t, c, z = key
                raise VerificationError(
                    f"{path}: series {i} plane t={t} c={c} z={z} is mapped to {member.name} "
                    f"IFD {found}, but was written to {name} IFD {ifd}"
                )
    return len(written)


# --- plane digests from parts (the distributed writer, ometiff.writer.placed) ----------

#: zlib's CRC-32 polynomial, reflected.
_POLY = 0xEDB88320


def _multmodp(a: int, b: int) -> int:
    """a * b modulo the CRC-32 polynomial (bit-reflected, as zlib's ``multmodp``)."""
    m, p = 1 << 31, 0
    while True:
        if a & m:
            p ^= b
            if not a & (m - 1):
                return p
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1


_X2N = [1 << 30]  # x**(2**k) modulo the polynomial, k = 0..31
for _ in range(31):
    _X2N.append(_multmodp(_X2N[-1], _X2N[-1]))


def _crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A+B from CRC-32(A), CRC-32(B) and len(B) (zlib's ``crc32_combine``)."""
    p, k = 1 << 31, 3  # x**0; len2 bytes are x**(8 * len2)
    while len2:
        if len2 & 1:
            p = _multmodp(_X2N[k & 31], p)
        len2 >>= 1
        k += 1
    return _multmodp(p, crc1) ^ crc2


def _adler32_combine(adler1: int, adler2: int, len2: int) -> int:
    """Adler-32 of A+B from Adler-32(A), Adler-32(B) and len(B)."""
    base = 65521
    a1, b1, a2, b2 = adler1 & 0xFFFF, adler1 >> 16, adler2 & 0xFFFF, adler2 >> 16
    a = (a1 + a2 - 1) % base
    b = (b1 + b2 + len2 * (a1 - 1)) % base
    return a | (b << 16)


#: CRC-32, Adler-32 and length in bytes of a run of whole rows of a plane.
Sums = tuple[int, int, int]


def row_sums(rows: np.ndarray) -> Sums:
    """The checksums of whole rows ``(n, X[, S])`` of a plane, for :func:`joined_digest`.

    Rows are taken in C order and native byte order, as :func:`plane_digest` takes them.
    """
    arr = np.ascontiguousarray(rows)
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if not arr.size:
        return 0, 1, 0  # the sums of no bytes
    data = arr.data.cast("B")
    return int(_CRC32(data)), int(_ADLER32(data)), len(data)


def joined_digest(parts: Sequence[Sums]) -> bytes:
    """:func:`plane_digest` of a plane from the :func:`row_sums` of its row bands, top
    first: what a writer whose bands were read and encoded elsewhere expects to read back."""
    if not parts:
        raise ValueError("no rows")
    crc, adler, _ = parts[0]
    for crc2, adler2, size in parts[1:]:
        crc, adler = _crc32_combine(crc, crc2, size), _adler32_combine(adler, adler2, size)
    return crc.to_bytes(4, "little") + adler.to_bytes(4, "little")


# --- tiles verified where they were encoded (the distributed writer) --------------------

#: The TIFF Compression tag (as tifffile writes it) of each lossless codec whose tiles
#: may be verified by their encoder's round trip (:func:`round_trip`).
COMPRESSION_TAG: dict[str | None, int] = {None: 1, "lzw": 5, "zlib": 8, "zstd": 50000}


def segment_digest(data: bytes | memoryview) -> int:
    """CRC-32 and Adler-32 of one encoded segment's bytes, as one 64-bit number (the two
    independent checksums of :func:`plane_digest`, of the bytes instead of the pixels)."""
    return int(_CRC32(data)) | int(_ADLER32(data)) << 32


def _same_pixels(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype.kind in "fc":  # bit for bit: NaN equals itself, -0.0 differs from 0.0
        return bool(np.array_equal(a.view(np.uint8), b.view(np.uint8)))
    return bool(np.array_equal(a, b))


def round_trip(
    rows: np.ndarray,
    tile: tuple[int, int],
    encoded: Sequence[bytes],
    compression: int,
    *,
    where: str,
) -> list[int]:
    """Decode each encoded tile of ``rows`` as a reader of the file would, compare it
    with the pixels it was encoded from, and return the :func:`segment_digest` of each.

    Run by the process that encoded the tiles (a Dask worker of
    :mod:`ometiff.writer.placed`): ``rows`` are whole rows of tiles of a page in native
    byte order (``(n, X)`` or ``(n, X, S)``), ``encoded`` their tiles in TIFF order, and
    ``compression`` the Compression tag of the page they go to. Each tile is decoded with
    tifffile's decoder of that tag (the one its reader uses) into the little-endian
    samples the file holds; the writer then only has to find the same bytes on disk,
    under an IFD that says the same compression, tile, shape and pixel type
    (:class:`OutputCheck` with :class:`Segments`), to know the file decodes to ``rows``.

    Raises
    ------
    VerificationError
        A tile decodes to other pixels than its own, or cannot be decoded (``where``
        names the page).
    """
    import tifffile

    decode = tifffile.TIFF.DECOMPRESSORS[compression]
    th, tw = tile
    height, width = rows.shape[:2]
    across = -(-width // tw)
    if len(encoded) != -(-height // th) * across:
        raise VerificationError(f"{where}: {len(encoded)} tiles encoded for {height} rows")
    stored = rows.dtype.newbyteorder("<")
    size = th * tw * int(np.prod(rows.shape[2:], dtype=np.int64)) * rows.dtype.itemsize
    out = []
    for i, data in enumerate(encoded):
        y, x = i // across * th, i % across * tw
        part = rows[y : y + th, x : x + tw]
        try:
            raw = decode(data, out=size) if compression != 1 else data
            ok = len(raw) == size
            if ok:
                got = np.frombuffer(raw, stored).reshape(th, tw, *rows.shape[2:])
                got = got[: part.shape[0], : part.shape[1]].astype(rows.dtype, copy=False)
                ok = _same_pixels(got, part)
        except DECODE_ERRORS as exc:  # a codec's own error: the tile is not what it should be
            raise VerificationError(
                f"{where}: tile {i} cannot be decoded: {type(exc).__name__}: {exc}"
            ) from exc
        if not ok:
            raise VerificationError(f"{where}: tile {i} does not decode to its source pixels")
        out.append(segment_digest(data))
    return out


@dataclass(frozen=True)
class Segments:
    """A page whose tiles were verified where they were encoded (:func:`round_trip`):
    what its IFD must say, and the :func:`segment_digest` of each tile, in TIFF order."""

    shape: tuple[int, int]  # (Y, X) of the page
    tile: tuple[int, int]
    compression: int  # the Compression tag
    digests: Sequence[int]


def _segments_problem(
    fd: int, byteorder: str, page: Any, want: Segments, samples: int, dtype: np.dtype
) -> str | None:
    """Why ``page`` (on disk, read with ``pread`` from ``fd``) is not the page
    ``want`` describes, or None: its tags say how a reader decodes it, and each of its
    tiles holds the bytes whose round trip was verified."""
    seen = {
        "byte order": byteorder,
        "tiled": bool(page.is_tiled),
        "shape": (int(page.imagelength), int(page.imagewidth), int(page.imagedepth)),
        "tile": (int(page.tilelength), int(page.tilewidth), int(page.tiledepth))
        if page.is_tiled
        else None,
        "samples": int(page.samplesperpixel),
        "planar configuration": int(page.planarconfig) if samples > 1 else 1,
        "pixel type": np.dtype(page.dtype).newbyteorder("<"),
        "compression": int(page.compression),
        "predictor": int(page.predictor),
        "fill order": int(page.fillorder),
        "tiles": len(page.dataoffsets),
    }
    expected = {
        "byte order": "<",
        "tiled": True,
        "shape": (*want.shape, 1),
        "tile": (*want.tile, 1),
        "samples": samples,
        "planar configuration": 1,  # contiguous samples
        "pixel type": dtype.newbyteorder("<"),
        "compression": want.compression,
        "predictor": 1,
        "fill order": 1,
        "tiles": len(want.digests),
    }
    for name, value in expected.items():
        if seen[name] != value:
            return f"its {name} is {seen[name]}, {value} was written"
    offsets = [int(o) for o in page.dataoffsets]
    counts = [int(c) for c in page.databytecounts]
    buffer = bytearray(max([READ_BYTES, *counts]))
    i, n = 0, len(offsets)
    while i < n:  # consecutive tiles are read together, up to READ_BYTES at a time
        start, j = offsets[i], i + 1
        end = start + counts[i]
        while j < n and offsets[j] == end and end + counts[j] - start <= len(buffer):
            end += counts[j]
            j += 1
        block = memoryview(buffer)[: os.preadv(fd, [memoryview(buffer)[: end - start]], start)]
        for k in range(i, j):
            at = offsets[k] - start
            data = block[at : at + counts[k]]
            if len(data) != counts[k] or segment_digest(data) != want.digests[k]:
                return f"tile {k} differs from the one encoded and verified"
        i = j
    return None
