"""TIFF reader for every non-OME flavour tifffile knows, via its series.

ImageJ hyperstacks, Micro-Manager MMStack, Zeiss LSM, MetaMorph STK, Aperio SVS,
Hamamatsu NDPI, QPTIFF, ScanImage and plain multi-page / RGB TIFF. The series and
where each plane lives come from :func:`ometiff.readers.tifflayout.tiff_layouts`
(shared with ``ometiff info``); metadata of each flavour is mapped by
:mod:`ometiff.readers.tiffmeta`. Every pyramid level tifffile finds can be read (``read_plane(..., level=)``).
"""

from __future__ import annotations

import math
import struct
import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import tifffile

from ometiff.errors import InvalidTiffError, NoSuchPlaneError
from ometiff.ome.colour import rgba_to_ome
from ometiff.readers.base import Reader, region_into
from ometiff.readers.decode import DECODE_ERRORS, decode_page
from ometiff.readers.source import SeriesSource
from ometiff.readers.tifflayout import TiffLayout, tiff_layouts
from ometiff.readers.tiffmeta import ANNOTATION_NS, TiffCalibration
from ometiff.readers.tiles import SegmentFile, can_read_tiles, read_page_region, tile_shape
from ometiff.readers.vendor import (
    ome_document,
    ome_element,
    ome_model,
    pixels_element,
    xsd_datetime,
)
from ometiff.tiff.names import TIFF_SUFFIXES, TIFF_VENDOR_SUFFIXES
from ometiff.tiff.structure import is_tiff

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ome_types import model as m

    from ometiff.ome.view import OmeView
    from ometiff.types import StrPath

# What a damaged file makes tifffile raise: its own error, bad values, short reads,
# unpackable bytes, and codec failures (imagecodecs errors are RuntimeErrors).
# Programming errors (TypeError, AttributeError, KeyError, ...) are not caught:
# they are bugs and must surface as such, not as "not a readable TIFF".
READ_ERRORS = (tifffile.TiffFileError, ValueError, OSError, EOFError, struct.error, RuntimeError)
# tifffile's page lists raise IndexError when a damaged file has fewer pages than
# its series claims (corpus: tiff/bioformats-7.3.1/Fluorescence_RGB_bfwriter_jpeg.tif)
PAGE_ERRORS = (*READ_ERRORS, IndexError)


def page_plane(
    page: Any,
    samples: int,
    dtype: np.dtype,
    yx: tuple[int, int],
    *,
    where: str,
    sample: int | None = None,
) -> np.ndarray:
    """Decode one page into a ``(Y, X)`` or ``(Y, X, S)`` plane of ``dtype``.

    ``sample`` picks one sample of a multi-sample page (non-RGB samples read as
    channels).
    """
    return as_plane(
        decode(page, where=where), page.axes, samples, dtype, yx, where=where, sample=sample
    )


def decode(page: Any, *, where: str) -> np.ndarray:
    """The pixels of one page (all its slices and samples); the one place pages are decoded."""
    try:
        arr: np.ndarray = decode_page(page)  # Bio-Formats' planar YCbCr JPEG tiles too
    except DECODE_ERRORS as exc:
        raise InvalidTiffError(f"{where}: cannot read pixel data ({exc})") from exc
    return arr


def as_plane(
    arr: np.ndarray,
    axes: str,
    samples: int,
    dtype: np.dtype,
    yx: tuple[int, int],
    *,
    where: str,
    sample: int | None = None,
    depth: int = 0,
) -> np.ndarray:
    """One plane of a decoded page with tifffile ``axes``, as ``(Y, X)`` or ``(Y, X, S)``.

    ``depth`` picks a slice of a volumetric page (ImageDepth, axis Z); ``sample`` one
    sample of a multi-sample page.
    """
    if arr.size == 0:
        raise InvalidTiffError(f"{where}: the plane decodes to no pixels")
    if "Z" in axes and arr.ndim == len(axes):
        arr = np.take(arr, depth, axis=axes.index("Z"))
        axes = axes.replace("Z", "")
    if "S" in axes and arr.ndim == len(axes):
        arr = np.moveaxis(arr, axes.index("S"), -1)
    if sample is not None:
        arr = arr[..., sample]
    want = yx if samples == 1 else (*yx, samples)
    if arr.shape != want:
        squeezed = arr.reshape(want) if arr.size == math.prod(want) else None
        if squeezed is None:
            raise InvalidTiffError(f"{where}: plane has shape {arr.shape}, expected {want}")
        arr = squeezed
    if arr.dtype != dtype:
        arr = arr.astype(dtype)
    return arr


class TiffReader(Reader):
    """Read ImageJ, Micro-Manager, LSM, STK, SVS, NDPI, QPTIFF and plain TIFF."""

    name = "tiff"
    suffixes = (*TIFF_SUFFIXES, *TIFF_VENDOR_SUFFIXES)
    thread_safe = True  # tifffile access is serialised by a lock; tiles use os.pread

    @classmethod
    def can_read(cls, path: Path) -> bool:
        """True for a file that starts with TIFF or BigTIFF magic bytes."""
        if not path.is_file() or not path.name.lower().endswith(cls.suffixes):
            return False
        return is_tiff(path)

    def __init__(self, path: StrPath, **options: Any) -> None:
        super().__init__(path, **options)
        try:
            self._tf = tifffile.TiffFile(self.path)
        except READ_ERRORS as exc:
            raise InvalidTiffError(f"{self.path}: not a readable TIFF: {exc}") from exc
        try:
            self._init_layouts()
        except BaseException:
            self._tf.close()
            raise

    def _init_layouts(self) -> None:
        self._lock = threading.Lock()
        self._segments: dict[str, SegmentFile] = {}  # tile reads, per file
        self._memmaps: dict[int, np.ndarray | None] = {}
        self._volume: tuple[tuple[int, int, int], np.ndarray] | None = None  # last volume
        found = tiff_layouts(self._tf, self.notes, where=self.path)
        self._layouts = found.layouts
        self._calibration = found.calibration

    @property
    def kind(self) -> str:
        """tifffile's flavour of the first series ('imagej', 'lsm', 'generic'...)."""
        return str(self._tf.series[0].kind)

    # -- pixels ---------------------------------------------------------------------

    def _contiguous(self, lay: TiffLayout) -> np.ndarray | None:
        """A memory map of an uncompressed contiguous series (fast path), else None."""
        if lay.index in self._memmaps:
            return self._memmaps[lay.index]
        s = lay.series
        kf = s.keyframe
        mm = None
        offset = getattr(s, "dataoffset", None)
        if offset is not None and kf.compression == 1 and kf.fillorder == 1:
            if kf.predictor == 1 and kf.bitspersample % 8 == 0:
                dt = np.dtype(s.dtype).newbyteorder(self._tf.byteorder)
                shape = (*lay.frame_shape, *kf.shape)
                nbytes = math.prod(shape) * dt.itemsize  # Python ints: no overflow warning
                try:
                    if isinstance(offset, int) and offset + nbytes <= self.path.stat().st_size:
                        mm = np.memmap(self.path, dtype=dt, mode="r", offset=offset, shape=shape)
                except (ValueError, OSError, OverflowError):  # sizes past what can be mapped
                    mm = None
        self._memmaps[lay.index] = mm
        return mm

    def _page(self, s: Any, k: int, where: str) -> Any:
        try:
            page = s.pages[k] if len(s.pages) > k else None
            if page is None and len(self._tf.series) == 1:
                # ImageJ series that tifffile assumed contiguous but are not
                page = self._tf.pages[s.keyframe.index + k]
        except PAGE_ERRORS as exc:
            raise InvalidTiffError(f"{where}: page {k} cannot be read: {exc}") from exc
        if page is None:
            raise InvalidTiffError(f"{where}: page {k} is missing (truncated file?)")
        return page

    def _decoded(self, lay: TiffLayout, level: int, k: int, where: str) -> np.ndarray:
        """Page ``k`` of a level decoded; the last volumetric page is kept, so that
        reading its slices one by one decodes it once."""
        key = (lay.index, level, k)
        if self._volume is not None and self._volume[0] == key:
            return self._volume[1]
        s = lay.series if level == 0 else lay.series.levels[level]
        page = self._page(s, k, where)
        arr = decode(page, where=f"{where} page {k} (IFD {getattr(page, 'index', None)})")
        if lay.depth > 1:
            self._volume = (key, arr)
        return arr

    def level_shapes(self, series: int) -> list[tuple[int, int, int, int, int]]:
        """``(T, C, Z, Y, X)`` of level 0 and each reduced level tifffile finds (SVS,
        NDPI, SubIFD pyramids); the levels share the series' page layout."""
        if not 0 <= series < len(self._layouts):
            raise NoSuchPlaneError(f"{self.path}: no series {series}")
        lay = self._layouts[series]
        out = [lay.shape]
        for level in lay.series.levels[1:]:
            kf = level.keyframe
            out.append((*lay.shape[:3], int(kf.imagelength), int(kf.imagewidth)))
        return out

    def read_plane(self, series: int, t: int, c: int, z: int, *, level: int = 0) -> np.ndarray:
        """One plane of one pyramid level: ``(Y, X)``, or ``(Y, X, S)`` for RGB(A)."""
        self.check_plane(series, t, c, z, level=level)
        return self._getter(series, level)(t, c, z)

    def _getter(self, index: int, level: int = 0) -> Any:
        """``get_plane(t, c, z)`` of series ``index`` at pyramid ``level`` (0 = full size):
        pyramid levels of a tifffile series share its page layout, so a plane is found
        on every level the same way (:meth:`TiffLayout.locate`)."""
        lay = self._layouts[index]  # read_plane has checked series and level
        kf = lay.series.levels[level].keyframe
        y, x = (lay.shape[3], lay.shape[4]) if level == 0 else (kf.imagelength, kf.imagewidth)
        where = f"{self.path} series {lay.index}" + (f" level {level}" if level else "")

        def get_plane(t: int, c: int, z: int) -> np.ndarray:
            page = self._tiled_page(index, t, c, z, level)
            if page is not None and (int(page.imagelength), int(page.imagewidth)) == (y, x):
                # tiles decoded in parallel, each read into a reused buffer (tifffile
                # reads every compressed tile of the page into memory at once)
                return self.read_region(index, t, c, z, 0, y, 0, x, level=level)
            k, depth, sample = lay.locate(t, c, z)
            with self._lock:
                mm = self._contiguous(lay) if level == 0 else None
                if mm is not None:
                    arr = np.asarray(
                        mm[np.unravel_index(k, lay.frame_shape)] if lay.frame_shape else mm
                    )
                    try:
                        arr = np.array(arr, dtype=arr.dtype.newbyteorder("="))
                    except OSError as exc:
                        raise InvalidTiffError(f"{where}: truncated: {exc}") from exc
                else:
                    arr = self._decoded(lay, level, k, where)
            return as_plane(
                arr,
                kf.axes,
                lay.samples,
                lay.dtype,
                (y, x),
                where=f"{where} page {k}",
                sample=sample,
                depth=depth,
            )

        return get_plane

    def _tiled_page(self, series: int, t: int, c: int, z: int, level: int) -> Any:
        """The page of a plane when it can be read tile by tile, else None."""
        lay = self._layouts[series]
        if lay.depth > 1:
            return None
        k = lay.locate(t, c, z)[0]
        s = lay.series if level == 0 else lay.series.levels[level]
        with self._lock:  # tifffile loads pages through the shared file handle
            page = self._page(s, k, f"{self.path} series {lay.index}")
            if not isinstance(page, tifffile.TiffPage):
                page = page.aspage()
            return page if can_read_tiles(page) else None

    def read_region(
        self,
        series: int,
        t: int,
        c: int,
        z: int,
        y0: int,
        y1: int,
        x0: int,
        x1: int,
        *,
        level: int = 0,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """A window of one plane; of a tiled page only the touched tiles are decoded
        (straight into ``out`` when given and the page holds just this plane's samples)."""
        self.check_region(series, t, c, z, y0, y1, x0, x1, level=level)
        lay = self._layouts[series]
        page = self._tiled_page(series, t, c, z, level)
        yx = (int(page.imagelength), int(page.imagewidth)) if page is not None else None
        if yx is None or yx != tuple(self.level_shapes(series)[level][3:]):
            return super().read_region(series, t, c, z, y0, y1, x0, x1, level=level, out=out)
        where = f"{self.path} series {lay.index}" + (f" level {level}" if level else "")
        # the page's own file: series of some flavours (Micro-Manager) span several files
        read = self._segments.get(page.parent.filehandle.path)
        if read is None:
            with self._lock:
                path = page.parent.filehandle.path
                read = self._segments.setdefault(path, SegmentFile(Path(path)))
        sample = lay.locate(t, c, z)[2]
        want = (y1 - y0, x1 - x0) + ((lay.samples,) if lay.samples > 1 else ())
        if (
            out is not None
            and out.shape == want
            and sample is None
            and int(page.samplesperpixel) == lay.samples
        ):
            return read_page_region(page, y0, y1, x0, x1, read=read, where=where, out=out)
        arr = read_page_region(page, y0, y1, x0, x1, read=read, where=where)
        if sample is not None:
            arr = arr[..., sample]
        elif lay.samples == 1:
            arr = arr[..., 0]
        if out is not None:
            return region_into(out, arr, self.path)
        return arr if arr.dtype == lay.dtype else arr.astype(lay.dtype)

    def tile_shape(self, series: int, *, level: int = 0) -> tuple[int, int] | None:
        """Tile size of the series' first page at ``level`` (None for strips)."""
        self.check_plane(series, 0, 0, 0, level=level)
        page = self._tiled_page(series, 0, 0, 0, level)
        return None if page is None else tile_shape(page)

    @property
    def layouts(self) -> tuple[TiffLayout, ...]:
        """The series as laid out for ``info`` and conversion (one per OME Image)."""
        return self._layouts

    # -- Reader API -----------------------------------------------------------------

    def sources(self) -> list[SeriesSource]:
        return [
            SeriesSource(lay.shape, lay.samples, lay.dtype, self._getter(i), name=lay.name)
            for i, lay in enumerate(self._layouts)
        ]

    @cached_property
    def ome_tree(self) -> Any:
        """The OME metadata as an OME-XML element tree (lxml), built without ome_types:
        ``convert`` conforms it directly (``writer.omexml.conform_tree``), as it does
        the vendor readers' trees."""
        return _build_tree(self._tf, self._layouts, self._calibration)

    def ome(self) -> m.OME:
        """One Image per layout, flavour metadata mapped (an ome_types model of
        :attr:`ome_tree`; a new model each call: callers may edit theirs)."""
        return ome_model(self.ome_tree)

    def ome_view(self) -> OmeView:
        """:meth:`ome` as the fast OME view, straight from the XML (no ome_types)."""
        from ometiff.ome.view import parse_ome

        return parse_ome(ome_document(self.ome_tree), source=str(self.path))

    def original_metadata(self) -> dict[str, str]:
        from ometiff.readers.tiffmeta import original_tiff_metadata

        return original_tiff_metadata(self._tf)

    def close(self) -> None:
        self._memmaps.clear()
        for seg in self._segments.values():
            seg.close()
        self._segments.clear()
        self._tf.close()


def _build_tree(tf: tifffile.TiffFile, layouts: Sequence[TiffLayout], cal: TiffCalibration) -> Any:
    """The OME of a non-OME TIFF as an OME-XML tree: one Image per layout, flavour
    metadata mapped (physical sizes and time step in the file's units, channel names
    and colours, per-plane DeltaT, the acquisition date, other calibration as a
    MapAnnotation)."""
    root = ome_element(None, "OME")
    annotated = bool(cal.annotations)
    for i, lay in enumerate(layouts):
        t, c, z, _y, _x = lay.shape
        image = ome_element(root, "Image", ID=f"Image:{i}", Name=lay.name or str(tf.filename))
        if cal.date is not None:
            ome_element(image, "AcquisitionDate", xsd_datetime(cal.date))
        channels = []
        for k in range(c):
            ch: dict[str, Any] = {"Name": lay.channel_names[k] or None}
            rgba = lay.channel_colors[k]
            if rgba is not None:
                ch["Color"] = rgba_to_ome(*rgba)  # R4
            channels.append(ch)
        planes = []
        if cal.delta_t and len(cal.delta_t) >= t:
            planes = [
                {"TheT": ti, "TheC": ci, "TheZ": zi, "DeltaT": cal.delta_t[ti], "DeltaTUnit": "s"}
                for ti in range(t)
                for ci in range(c)
                for zi in range(z)
            ]
        px, py, pz = (lay.physical.get(axis, (None, "µm")) for axis in "xyz")
        pixels_element(
            image,
            i,
            shape=lay.shape,
            samples=lay.samples,
            dtype=lay.dtype,
            physical=(px[0], py[0], pz[0]),
            units=(px[1], py[1], pz[1]),
            time_increment=lay.time_increment[0] if lay.time_increment else None,
            time_unit=lay.time_increment[1] if lay.time_increment else "s",
            channels=channels,
            planes=planes,
            dimension_order=lay.dimension_order,
        )
        if annotated:
            ome_element(image, "AnnotationRef", ID="Annotation:0")
    if annotated:
        ann = ome_element(
            ome_element(root, "StructuredAnnotations"),
            "MapAnnotation",
            ID="Annotation:0",
            Namespace=ANNOTATION_NS + "/tiff",
        )
        value = ome_element(ann, "Value")
        for key, text in cal.annotations.items():
            ome_element(value, "M", str(text), K=key)
    return root
