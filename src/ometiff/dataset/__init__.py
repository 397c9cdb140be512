"""The read API: any supported input as numpy, dask, zarr or xarray arrays.

``ometiff.open(path)`` returns a :class:`File` (a context manager) whose
``series`` describe every image series (:class:`Series`: sizes, dims, levels,
physical sizes, channels); ``ometiff.imread(path)`` returns numpy. Built on the
reader registry (:mod:`ometiff.readers`), so every reader works here.
"""

from __future__ import annotations

from ometiff.dataset.file import File, imread, open
from ometiff.dataset.series import Channel, Series

__all__ = ["Channel", "File", "Series", "imread", "open"]
