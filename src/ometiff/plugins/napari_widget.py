"""napari's "Open series" widget: the series of a file to open, by index.

An npe2 widget contribution (``autogenerate: true``): napari builds the form from
the signature of :func:`open_series` with magicgui, and passes the current viewer.
This module imports napari (for the ``Viewer`` annotation magicgui reads), so only
napari loads it; the reading itself is :func:`ometiff.plugins.napari.read_layers`.

No ``from __future__ import annotations`` here: magicgui evaluates the annotations
of :func:`open_series` at run time, in napari's namespace.
"""

from pathlib import Path

import napari

from ometiff.plugins.napari import parse_series, read_layers


def open_series(viewer: napari.Viewer, path: Path, series: str = "") -> None:
    """Open the chosen series of any input ometiff reads (empty: all of them).

    Parameters
    ----------
    viewer
        The viewer to add the layers to (napari passes the current one).
    path
        The file (or OME-Zarr / image-series folder) to open.
    series
        Series indices and ranges, e.g. ``0,2-4`` (``ometiff info`` lists them).
    """
    for data, meta, _ in read_layers(path, parse_series(series, path)):
        # add_image splits channel_axis into named layers (returning layer data to
        # napari cannot: its magicgui hook looks the list of names up as one name)
        viewer.add_image(data, **meta)
