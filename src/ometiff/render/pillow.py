"""Pillow, imported on demand, and atomic PNG output shared by ``show`` and the diagram."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ometiff.atomic import create_temp, write_error
from ometiff.errors import MissingDependencyError, MissingFileError

if TYPE_CHECKING:
    from ometiff.types import StrPath


def require_pillow() -> Any:
    """Import Pillow's ``Image`` module or explain how to install it."""
    try:
        from PIL import Image
    except ImportError as exc:
        raise MissingDependencyError(
            'drawing PNG files needs Pillow: pip install "ometiff[render]"'
        ) from exc
    return Image


def save_png(image: Any, out: StrPath) -> Path:
    """Write a Pillow image as PNG atomically (temporary name, then rename)."""
    target = Path(out)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise MissingFileError(f"{target}: folder {folder} does not exist")
    tmp = create_temp(folder / target.name)
    try:
        image.save(tmp, format="PNG", optimize=True)
        os.replace(tmp, target)
    except OSError as exc:
        raise write_error(target, exc, "write PNG") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return target
