"""The bioio reader plugin: ``bioio.BioImage(path)`` reads through ometiff.

Registered in the ``bioio.readers`` entry-point group under the distribution's
name (entry point ``ometiff``, value ``ometiff.plugins.bioio``): bioio loads this module, takes its
:class:`ReaderMetadata` and, for a path, tries the plugins of the longest matching
extension first. ``.ome.tif``, ``.ome.tiff`` and the BigTIFF OME endings are
longer than bioio-tifffile's ``.tif``/``.tiff``, so OME-TIFF files come here
ahead of it; for plain ``.tif`` and the vendor endings bioio prefers plugins that
declare fewer extension families (bioio's rule), and this one is the fallback.

Scenes are the series of :func:`ometiff.open` (named by the series name when it is
unique, else ``Image:<i>``), resolution levels its pyramid levels, dims
``TCZYX`` (``S`` for RGB), and pixels the lazy :meth:`File.to_dask` views.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr
from bioio_base import exceptions, io, reader, reader_metadata
from bioio_base.types import PhysicalPixelSizes
from fsspec.implementations.local import LocalFileSystem

from ometiff.dataset import open as open_file
from ometiff.errors import OmeTiffError
from ometiff.readers.registry import READERS, find_reader
from ometiff.tiff.names import COMPANION_SUFFIX, OME_SUFFIXES

if TYPE_CHECKING:
    from fsspec.spec import AbstractFileSystem
    from ome_types import OME

    from ometiff.dataset import File

__all__ = ["Reader", "ReaderMetadata"]


def supported_extensions() -> list[str]:
    """The name endings of every ometiff reader, OME-TIFF's own endings first."""
    out: list[str] = [*OME_SUFFIXES, COMPANION_SUFFIX]
    for spec in READERS:
        out.extend(s for s in spec.suffixes if s not in out)
    return out


class Reader(reader.Reader):
    """bioio's Reader over :func:`ometiff.open` (any input ometiff reads, local files).

    Parameters
    ----------
    image
        Path of the file (or folder) to read.
    fs_kwargs
        fsspec options (bioio passes them; only the local file system is supported).
    **kwargs
        Reader options of :func:`ometiff.open` (e.g. ``axes="ZYX"`` for ``.npy``).
    """

    NAME = "ometiff"

    @staticmethod
    def _is_supported_image(fs: AbstractFileSystem, path: str, **kwargs: Any) -> bool:
        # a cheap sniff through ometiff's registry; "not mine" is False, never an error
        if not isinstance(fs, LocalFileSystem):
            return False
        try:
            find_reader(path)
        except OmeTiffError:
            return False
        return True

    def __init__(self, image: Any, fs_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self._fs, self._path = io.pathlike_to_fs(
            image, enforce_exists=True, fs_kwargs=fs_kwargs or {}
        )
        if not isinstance(self._fs, LocalFileSystem):
            raise exceptions.UnsupportedFileFormatError(
                self.NAME, self._path, "ometiff reads local files only"
            )
        self._file: File = open_file(self._path, **kwargs)
        names = [s.name for s in self._file.series]
        self._scenes = tuple(
            name if name and names.count(name) == 1 else f"Image:{i}"
            for i, name in enumerate(names)
        )

    def close(self) -> None:
        """Close the file (later reads raise)."""
        self._file.close()

    @property
    def file(self) -> File:
        """The :class:`ometiff.File` behind this reader."""
        return self._file

    @property
    def scenes(self) -> tuple[str, ...]:
        """One scene per series of the file."""
        assert self._scenes is not None
        return self._scenes

    @property
    def resolution_levels(self) -> tuple[int, ...]:
        """Pyramid levels of the current scene, full resolution (0) first."""
        return tuple(range(len(self._file.series[self.current_scene_index].levels)))

    def _channel_names(self) -> list[str]:
        index = self.current_scene_index
        s = self._file.series[index]
        names = [ch.name or f"Channel:{index}:{c}" for c, ch in enumerate(s.channels)]
        if len(set(names)) != len(names):  # coordinates must be unique
            names = [f"{n} ({c})" for c, n in enumerate(names)]
        return names

    @property
    def channel_names(self) -> list[str]:
        """Channel names of the current scene (``Channel:<scene>:<c>`` where unnamed)."""
        return self._channel_names()

    def _read_delayed(self) -> xr.DataArray:
        index, level = self.current_scene_index, self.current_resolution_level
        s = self._file.series[index]
        shape = dict(zip(s.dims, s.levels[level], strict=True))
        coords: dict[str, Any] = {"C": self._channel_names()}
        for axis, size in s.level_physical_size(level).items():
            if size is not None:
                coords[axis] = np.arange(shape[axis]) * size
        if s.time_increment is not None:
            coords["T"] = np.arange(shape["T"]) * s.time_increment
        return xr.DataArray(
            self._file.to_dask(index, level),
            dims=tuple(s.dims),
            coords=coords,
            attrs={
                "ometiff": {
                    "path": str(self._file.path),
                    "reader": self._file.reader,
                    "series": index,
                    "level": level,
                }
            },
        )

    def _read_immediate(self) -> xr.DataArray:
        delayed = self._read_delayed()
        pixels = self._file.asarray(self.current_scene_index, self.current_resolution_level)
        return delayed.copy(data=pixels)

    @property
    def metadata(self) -> OME:
        """The ``ome_types.OME`` of the file (as :attr:`ome_metadata`)."""
        return self.ome_metadata

    @property
    def ome_metadata(self) -> OME:
        """The ``ome_types.OME`` of the whole file (one Image per scene)."""
        return self._file.ome

    @property
    def physical_pixel_sizes(self) -> PhysicalPixelSizes:
        """Z, Y, X pixel sizes in µm at the current level (None where the file is silent)."""
        s = self._file.series[self.current_scene_index]
        size = s.level_physical_size(self.current_resolution_level)
        return PhysicalPixelSizes(size["Z"], size["Y"], size["X"])

    @property
    def time_interval(self) -> timedelta | None:
        """Time between time points of the current scene, or None."""
        ti = self._file.series[self.current_scene_index].time_increment
        return None if ti is None else timedelta(seconds=ti)


class ReaderMetadata(reader_metadata.ReaderMetadata):
    """What bioio reads before importing the reader: extensions and the reader class."""

    @staticmethod
    def get_supported_extensions() -> list[str]:
        """Every ending ometiff reads (:data:`ometiff.readers.registry.READERS`)."""
        return supported_extensions()

    @staticmethod
    def get_reader() -> type[reader.Reader]:  # type: ignore[override]
        """The reader class."""
        return Reader

    @staticmethod
    def supports_directory_images() -> bool:
        """OME-Zarr stores and image-series folders are directories."""
        return True
