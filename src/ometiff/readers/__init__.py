"""Readers: every input format behind one small interface (:class:`Reader`).

``open_image(path)`` picks a reader by sniffing (registry order, see
:data:`READERS`); vendor readers need their pip extra (``ometiff formats`` lists
which are installed).
"""

from __future__ import annotations

from ometiff.readers.base import MappingNotes, Reader
from ometiff.readers.registry import (
    READERS,
    ReaderSpec,
    find_reader,
    get_spec,
    open_image,
    supported_formats,
)

__all__ = [
    "READERS",
    "MappingNotes",
    "Reader",
    "ReaderSpec",
    "find_reader",
    "get_spec",
    "open_image",
    "supported_formats",
]
