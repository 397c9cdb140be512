"""Which paths the viewer may read or list.

The user names files and folders on the command line. The app reads only those
files and what lies under those folders: every path the page sends is resolved
(``..`` and symbolic links followed) and must then be one of the named files or lie
inside one of the named folders. Traversal (``../..``), a symbolic link that leads
out of a folder and an absolute path elsewhere are all refused with
:class:`AccessDeniedError`, before anything is opened.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ometiff.errors import InvalidArgumentError


class AccessDeniedError(InvalidArgumentError):
    """A path outside the files and folders the user named."""


@dataclass
class Access:
    """The files and folders the user named; the judge of every path the page sends."""

    roots: list[Path] = field(default_factory=list)  # folders, resolved
    files: list[Path] = field(default_factory=list)  # single files, resolved

    @classmethod
    def from_paths(cls, paths: list[Path]) -> Access:
        """Folders become roots, anything else (files, companions) an allowed file."""
        access = cls()
        for p in paths:
            resolved = Path(os.path.realpath(p))
            if not resolved.exists():
                raise InvalidArgumentError(f"{p}: no such file or folder")
            target = access.roots if resolved.is_dir() else access.files
            if resolved not in target:
                target.append(resolved)
        return access

    def allowed(self, path: Path) -> bool:
        """True if the resolved ``path`` is a named file or under a named folder."""
        resolved = Path(os.path.realpath(path))
        if resolved in self.files:
            return True
        return any(resolved == r or resolved.is_relative_to(r) for r in self.roots)

    def resolve(self, text: str, root: int | None = None) -> Path:
        """The path the page means, after checking it may be read.

        ``text`` is relative to root number ``root``, or absolute when ``root`` is
        None. The result is the resolved path (symbolic links followed).
        """
        if "\x00" in text:
            raise AccessDeniedError("a path with a NUL byte is refused")
        if root is not None:
            if not 0 <= root < len(self.roots):
                raise AccessDeniedError(f"folder {root} was not opened")
            base = self.roots[root]
            if Path(text).is_absolute():
                raise AccessDeniedError(f"{text}: give a path relative to {base}")
            candidate = base / text
        else:
            candidate = Path(text)
            if not candidate.is_absolute():
                raise AccessDeniedError(f"{text}: give an absolute path or a folder")
        resolved = Path(os.path.realpath(candidate))
        if not self.allowed(resolved):
            raise AccessDeniedError(
                f"{text}: outside the files and folders given to `ometiff view`"
            )
        return resolved

    def listing(self, root: int, rel: str = "") -> dict[str, Any]:
        """The entries of a folder under a root: folders first, then files, by name."""
        folder = self.resolve(rel or ".", root)
        if not folder.is_dir():
            raise InvalidArgumentError(f"{rel}: not a folder")
        base = self.roots[root]
        entries: list[dict[str, Any]] = []
        with os.scandir(folder) as it:
            for entry in it:
                if entry.name.startswith("."):
                    continue
                full = Path(entry.path)
                real = Path(os.path.realpath(full))
                if not self.allowed(real):  # a link out of the folder is not shown
                    continue
                is_dir = real.is_dir()
                entries.append(
                    {
                        "name": entry.name,
                        "path": full.relative_to(base).as_posix(),
                        "dir": is_dir,
                        "size": None if is_dir else real.stat().st_size,
                    }
                )
        entries.sort(key=lambda e: (not e["dir"], e["name"].lower()))

        def relative(p: Path) -> str:
            return "" if p == base else p.relative_to(base).as_posix()

        return {
            "root": root,
            "root_path": str(base),
            "path": relative(folder),
            "parent": None if folder == base else relative(folder.parent),
            "entries": entries,
        }

    def as_dict(self) -> dict[str, Any]:
        """What the page shows: the folders and the single files the user named."""
        return {
            "roots": [
                {"index": i, "path": str(r), "name": r.name or str(r)}
                for i, r in enumerate(self.roots)
            ],
            "files": [str(f) for f in self.files],
        }
