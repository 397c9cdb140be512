"""The reader interface: one open image source yielding OME metadata and plane sources.

Every input format is read by a :class:`Reader` subclass. The contract:

* ``can_read(path)`` is a cheap sniff (suffix, magic bytes, a small header read);
  it returns ``False`` for "not mine" and never raises for that.
* Constructing a reader opens the file; a corrupt or truncated file raises an
  :class:`~ometiff.OmeTiffError` subclass (``InvalidTiffError`` or
  ``UnsupportedFormatError``) naming the file, never a bare library exception.
* ``ome()`` returns the full metadata as ``ome_types.OME``: one Image per series,
  in the same order as ``sources()``; each call returns a fresh copy the caller
  may edit (a reader caches its model privately and hands out deep copies). Physical sizes are set only when the file
  states them, always with a unit (checklist U3, W3): never invent 1.0.
* ``sources()`` returns one :class:`~ometiff.readers.source.SeriesSource` per series;
  ``get_plane(t, c, z)`` reads one plane on demand (streaming, STYLE 2.1 #6).
* ``original_metadata()`` returns the vendor's own key-value metadata as strings
  (kept as an OME MapAnnotation by ``convert(..., original_metadata=True)``).
* ``notes`` records what was mapped to which OME field and what could not be
  mapped; ``convert(..., report=...)`` writes it into the conversion receipt.
* ``close()`` releases file handles; readers are context managers.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from typing import Self

    from ome_types import OME

    from ometiff.readers.source import SeriesSource
    from ometiff.types import StrPath


@dataclass
class MappingNotes:
    """What a reader mapped to OME, and what it could not map.

    Attributes
    ----------
    mapped
        ``(source field, OME location)`` pairs, e.g.
        ``("ImageJ spacing", "Image:0/Pixels@PhysicalSizeZ")``.
    unmapped
        ``(source field, reason)`` pairs, e.g.
        ``("ImageJ unit 'pixel'", "no physical unit; PhysicalSize left unset")``.
    """

    mapped: list[tuple[str, str]] = field(default_factory=list)
    unmapped: list[tuple[str, str]] = field(default_factory=list)

    def map(self, source: str, target: str) -> None:
        """Record that ``source`` was written to the OME location ``target``."""
        self.mapped.append((source, target))

    def skip(self, source: str, reason: str) -> None:
        """Record that ``source`` was not mapped, and why."""
        self.unmapped.append((source, reason))

    def as_dict(self) -> dict[str, list[dict[str, str]]]:
        """JSON-ready form for the conversion report."""
        return {
            "mapped": [{"source": s, "ome": t} for s, t in self.mapped],
            "unmapped": [{"source": s, "reason": r} for s, r in self.unmapped],
        }


class Reader(abc.ABC):
    """An open image source that yields OME metadata and plane sources.

    Parameters
    ----------
    path
        The input: a file, a directory, or (for image series) a glob or pattern.
    **options
        Reader-specific options named in :attr:`options` (e.g. ``axes`` for
        ``.npy``); an option the reader does not accept is an error.

    Attributes
    ----------
    name
        Short reader name, e.g. ``"nd2"``.
    suffixes
        Lower-case file name endings this reader claims, e.g. ``(".nd2",)``.
        Empty means "no suffix prefilter" (directories, patterns).
    extra
        The pip extra that installs this reader's dependencies
        (``pip install "ometiff[<extra>]"``), or None for core readers.
    options
        Names of keyword options the constructor accepts.
    """

    name: ClassVar[str]
    suffixes: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = None
    options: ClassVar[tuple[str, ...]] = ()

    def __init__(self, path: StrPath, **options: Any) -> None:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            from ometiff.errors import UnsupportedFormatError

            accepted = ", ".join(self.options) or "none"
            raise UnsupportedFormatError(
                f"{path}: the {self.name} reader does not accept option(s) "
                f"{', '.join(unknown)} (accepted: {accepted})"
            )
        self.path = Path(path)
        self.notes = MappingNotes()

    @classmethod
    def can_read(cls, path: Path) -> bool:
        """Return True if this reader can probably read ``path`` (cheap; never raises).

        The default checks the suffix only; subclasses sniff magic bytes too.
        """
        return bool(cls.suffixes) and path.name.lower().endswith(cls.suffixes)

    @abc.abstractmethod
    def ome(self) -> OME:
        """Return the metadata as OME: one Image per series, same order as sources().

        Each call returns a new model: edits by one caller never reach the next.
        """

    @abc.abstractmethod
    def sources(self) -> list[SeriesSource]:
        """Return one plane source per series, in the order of the OME Images."""

    def original_metadata(self) -> dict[str, str]:
        """Return the vendor's own metadata as flat key-value strings."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook, default is a no-op
        """Release open file handles (idempotent)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {str(self.path)!r}>"
