"""Crash-safe replacement of IFD0's ImageDescription (the OME-XML, checklist X1/X2/X6).

Only the description changes: pixel data, every other IFD and every other tag
stay where they are. The hard part is that a TIFF tag entry holds the count and
the offset of its value in two fields (8 bytes in classic TIFF, 16 in BigTIFF,
aligned to 2 only), and a crash between writing the new XML and updating both
fields would leave a torn description. Writing the entry in place is therefore
never done while that entry is live. Instead the only write that switches from
old to new metadata is the **IFD0 pointer in the file header** (4 bytes at offset
4, or 8 bytes at offset 8 in BigTIFF): naturally aligned, inside the first disk
sector, one ``pwrite`` -- atomic for the page cache and for the disk.

The sequence (``fsync`` after each numbered step; ``OMETIFF_FAULT=<point>``
makes the process exit at that point, for the crash tests):

1. Append a *shadow* copy of IFD0 at the end of the file. It describes the old
   metadata: if the new XML fits in the old value's bytes, the old XML is
   first copied next to the shadow (the old bytes are about to be overwritten)
   and the shadow points to the copy; otherwise the new XML is appended first
   (unreferenced, harmless) and the shadow is an exact copy of IFD0.
   -- fault point ``after-append``.
2. Switch the header to the shadow. The file now reads the old XML through the
   shadow; the original IFD0 block and, when the XML fits, the old value's bytes
   are unreferenced. -- ``after-switch``.
3. When the XML fits: write it over the old value's bytes, NUL-padded to the
   old length so no stale text remains. -- ``mid-xml`` (half written), ``after-xml``.
4. Rewrite the original IFD0's 270 entry (count and offset) -- unreferenced, so
   torn writes cannot be seen. -- ``after-entry``.
5. Switch the header back to the original IFD0: the new XML is live.
   -- ``after-switch-back``.
6. Truncate the shadow (and the old XML's copy) off the end of the file.

At every instant the header points either to an IFD0 whose description is the
complete old XML or to one whose description is the complete new XML. A crash
before step 6 leaves a few unreferenced bytes at the end of the file (harmless;
no reader looks at them). When the new XML fits, the file ends at its old size;
otherwise it grows by the new XML (the old value's bytes become unused, which is
what Bio-Formats and tifffile do too, X6). IFD0 keeps its offset, so readers
that expect it early in the file are not affected.

A copy-on-write of the whole file with a rename would be simpler but costs a
full copy of the pixel data (gigabytes for a slide) for a change of kilobytes,
and needs that much free space; the pointer switch costs two small appends.
"""

from __future__ import annotations

import contextlib
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ometiff.atomic import FAULT_ENV, fault, replace_file, write_error
from ometiff.errors import InvalidTiffError, MissingFileError, WriteError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ometiff.types import StrPath

#: Fault points of :func:`write_description`, in order.
FAULT_POINTS = (
    "after-append",
    "after-switch",
    "mid-xml",
    "after-xml",
    "after-entry",
    "after-switch-back",
)

_DESCRIPTION = 270
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}
_TYPE_SIZES.update({13: 4, 16: 8, 17: 8, 18: 8})


@dataclass(frozen=True, slots=True)
class PatchResult:
    """What :func:`write_description` did."""

    path: Path
    in_place: bool  # the new XML took the old value's bytes
    old_bytes: int  # length of the old value (count)
    new_bytes: int  # length of the new value (count, incl. the NUL)
    file_size: int  # file size afterwards


@dataclass(frozen=True, slots=True)
class _Layout:
    bo: str
    big: bool
    header_ptr_at: int  # where the IFD0 pointer sits in the header
    ifd0: int  # IFD0 offset
    ifd_bytes: bytes  # the whole IFD0: count, entries, next pointer
    entry_index: int  # index of the 270 entry
    typ: int
    count: int
    value_offset: int | None  # None when the value is inline
    value: bytes

    @property
    def entry_size(self) -> int:
        return 20 if self.big else 12

    @property
    def count_size(self) -> int:
        return 8 if self.big else 2

    def entry_at(self, k: int) -> int:
        """Offset of entry ``k`` inside the IFD block."""
        return self.count_size + k * self.entry_size

    def with_value(self, count: int, offset: int) -> bytes:
        """The IFD block with the 270 entry pointing at ``count`` bytes at ``offset``."""
        fmt = self.bo + ("QQ" if self.big else "II")
        at = self.entry_at(self.entry_index) + 4
        block = bytearray(self.ifd_bytes)
        block[at : at + struct.calcsize(fmt)] = struct.pack(fmt, count, offset)
        return bytes(block)


def _pread(fd: int, size: int, offset: int, path: Path, what: str) -> bytes:
    data = os.pread(fd, size, offset)
    if len(data) != size:
        raise InvalidTiffError(f"{path}: {what} at offset {offset} lies beyond the end of the file")
    return data


def _layout(fd: int, path: Path) -> _Layout:
    size = os.fstat(fd).st_size
    head = os.pread(fd, 16, 0)
    if head[:2] not in (b"II", b"MM") or len(head) < 8:
        raise InvalidTiffError(f"{path}: not a TIFF file (starts with {head[:4]!r})")
    bo = "<" if head[:2] == b"II" else ">"
    (magic,) = struct.unpack(bo + "H", head[2:4])
    if magic == 42:
        big, ptr_at = False, 4
        (ifd0,) = struct.unpack(bo + "I", head[4:8])
    elif magic == 43 and len(head) == 16:
        big, ptr_at = True, 8
        (ifd0,) = struct.unpack(bo + "Q", head[8:16])
    else:
        raise InvalidTiffError(f"{path}: not a TIFF file (magic number {magic})")
    if ifd0 == 0 or ifd0 >= size:
        raise InvalidTiffError(f"{path}: the header points to no valid first IFD ({ifd0})")
    count_fmt, entry_size = (bo + "Q", 20) if big else (bo + "H", 12)
    (n,) = struct.unpack(count_fmt, _pread(fd, struct.calcsize(count_fmt), ifd0, path, "IFD0"))
    block_size = struct.calcsize(count_fmt) + n * entry_size + (8 if big else 4)
    if n == 0 or n > 10000:
        raise InvalidTiffError(f"{path}: IFD0 is damaged ({n} entries)")
    block = _pread(fd, block_size, ifd0, path, "IFD0")
    entry_fmt = struct.Struct(bo + ("HHQ8s" if big else "HHI4s"))
    inline = 8 if big else 4
    for k in range(n):
        tag, typ, count, raw = entry_fmt.unpack_from(
            block, struct.calcsize(count_fmt) + k * entry_size
        )
        if tag != _DESCRIPTION:
            continue
        nbytes = _TYPE_SIZES.get(typ, 1) * count
        if nbytes <= inline:
            return _Layout(bo, big, ptr_at, ifd0, block, k, typ, count, None, raw[:nbytes])
        (offset,) = struct.unpack(bo + ("Q" if big else "I"), raw)
        value = _pread(fd, nbytes, offset, path, "the ImageDescription value")
        return _Layout(bo, big, ptr_at, ifd0, block, k, typ, count, offset, value)
    raise InvalidTiffError(
        f"{path}: IFD0 has no ImageDescription tag, so it holds no OME-XML (X1); not an OME-TIFF"
    )


def read_raw_description(path: StrPath) -> bytes:
    """IFD0's ImageDescription value exactly as stored (incl. a trailing NUL)."""
    p = Path(path)
    with _open(p, write=False) as fd:
        return _layout(fd, p).value


def _align(n: int, to: int = 8) -> int:
    return (n + to - 1) // to * to


def check_writable(path: Path) -> None:
    """Refuse to edit ``path`` unless it is an existing, writable regular file.

    Raises
    ------
    InvalidTiffError
        Missing, or not a regular file.
    WriteError
        Read-only (marked so, or not writable by this user).
    """
    try:
        st = path.stat()
    except FileNotFoundError as exc:
        raise MissingFileError(f"{path}: no such file") from exc
    if not stat.S_ISREG(st.st_mode):
        raise InvalidTiffError(f"{path}: not a regular file")
    # A file marked read-only is never edited, even by a user (root) who could.
    if not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(
        path, os.W_OK
    ):
        raise WriteError(f"{path}: the file is read-only; make it writable (chmod u+w) to edit it")


@contextlib.contextmanager
def _open(path: Path, *, write: bool) -> Iterator[int]:
    try:
        fd = os.open(path, (os.O_RDWR if write else os.O_RDONLY) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError as exc:
        raise MissingFileError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise InvalidTiffError(f"{path}: is a folder, not a TIFF file") from exc
    except PermissionError as exc:
        raise WriteError(f"{path}: permission denied") from exc
    try:
        if write:
            _lock(fd, path)
        yield fd
    finally:
        os.close(fd)


def _lock(fd: int, path: Path) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        raise WriteError(f"{path}: another process is editing this file; try again later") from exc


def _pwrite(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def encode_description(xml: str | bytes) -> bytes:
    """The tag value for an OME-XML document: UTF-8 (X2) plus the ASCII NUL terminator."""
    data = xml.encode("utf-8") if isinstance(xml, str) else bytes(xml)
    return data.rstrip(b"\x00") + b"\x00"


def write_description(path: StrPath, xml: str | bytes) -> PatchResult:
    """Replace IFD0's ImageDescription with ``xml``, crash-safely (see the module docstring).

    Parameters
    ----------
    path
        The TIFF file, edited in place.
    xml
        The new description; ``str`` is encoded as UTF-8 (X2).

    Raises
    ------
    InvalidTiffError
        Not a TIFF, or IFD0 has no ImageDescription.
    WriteError
        The file is read-only, locked by another edit, or a classic TIFF would
        pass 4 GiB.
    """
    p = Path(path)
    check_writable(p)
    new = encode_description(xml)
    with _open(p, write=True) as fd:
        lay = _layout(fd, p)
        if lay.typ not in (1, 2, 7):
            raise InvalidTiffError(
                f"{p}: IFD0's ImageDescription has TIFF type {lay.typ}, not ASCII; not an OME-TIFF"
            )
        size = os.fstat(fd).st_size
        tail = _align(size)
        fits = lay.value_offset is not None and len(new) <= lay.count
        if fits:
            assert lay.value_offset is not None
            target = lay.value_offset
            old_copy_at = tail
            shadow_at = _align(old_copy_at + len(lay.value))
            shadow = lay.with_value(lay.count, old_copy_at)
            appended = lay.value + bytes(shadow_at - old_copy_at - len(lay.value)) + shadow
            start, keep = old_copy_at, size
        else:
            target = tail
            shadow_at = _align(target + len(new))
            shadow = lay.ifd_bytes
            appended = new + bytes(shadow_at - target - len(new)) + shadow
            start, keep = target, target + len(new)
        end = start + len(appended)
        if not lay.big and end > 0xFFFFFFFF:
            raise WriteError(
                f"{p}: the new description does not fit below 4 GiB in this classic TIFF "
                "(C3); convert the file to BigTIFF first"
            )
        try:
            if size < start:
                _pwrite(fd, bytes(start - size), size)
            # 1. shadow IFD0 (+ the old XML's copy, or the new XML) after the end
            _pwrite(fd, appended, start)
            os.fsync(fd)
        except OSError as exc:  # a full disk: the file goes back to its old bytes
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
                os.fsync(fd)
            raise write_error(p, exc, "edit the metadata") from exc
        fault("after-append")
        try:
            return _switch(fd, p, lay, new, fits, target, shadow_at, keep)
        except OSError as exc:  # the header names a complete IFD0 at every step
            raise write_error(p, exc, "edit the metadata") from exc


def _switch(
    fd: int, p: Path, lay: _Layout, new: bytes, fits: bool, target: int, shadow_at: int, keep: int
) -> PatchResult:
    """Steps 2 to 6 of :func:`write_description`, once the shadow is on disk."""
    ptr_fmt = lay.bo + ("Q" if lay.big else "I")
    # 2. header -> shadow: the old XML is read through the shadow
    _pwrite(fd, struct.pack(ptr_fmt, shadow_at), lay.header_ptr_at)
    os.fsync(fd)
    fault("after-switch")
    # 3. the new XML over the old value's bytes (unreferenced now)
    if fits:
        padded = new + bytes(lay.count - len(new))
        if os.environ.get(FAULT_ENV) == "mid-xml":
            _pwrite(fd, padded[: len(padded) // 2], target)
            os.fsync(fd)
            fault("mid-xml")
        _pwrite(fd, padded, target)
        os.fsync(fd)
        fault("after-xml")
    # 4. the original IFD0's entry -> new XML (IFD0 is unreferenced now)
    entry = lay.with_value(len(new), target)
    at = lay.entry_at(lay.entry_index)
    _pwrite(fd, entry[at : at + lay.entry_size], lay.ifd0 + at)
    os.fsync(fd)
    fault("after-entry")
    # 5. header -> original IFD0: the new XML is live
    _pwrite(fd, struct.pack(ptr_fmt, lay.ifd0), lay.header_ptr_at)
    os.fsync(fd)
    fault("after-switch-back")
    # 6. drop the shadow
    os.ftruncate(fd, keep)
    os.fsync(fd)
    return PatchResult(p, fits, lay.count, len(new), keep)


def write_text_atomic(path: StrPath, data: bytes) -> None:
    """Replace a whole (small) file atomically (:func:`ometiff.atomic.replace_file`).

    Used for companion OME-XML files (M5) and backups; an existing file must be
    writable (:func:`check_writable`). Fault point ``companion-before-rename``.
    """
    p = Path(path)
    if p.exists():
        check_writable(p)
    replace_file(p, data, fault_point="companion-before-rename")
