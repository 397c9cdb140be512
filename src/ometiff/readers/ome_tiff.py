"""OME-TIFF reader: single files, multi-file sets, companions, BinaryOnly members.

The set is resolved by :func:`ometiff.ome.fileset.resolve_fileset` (M1-M5); each
Image's TiffData is applied by :func:`ometiff.ome.view.plane_map` (T1-T6). Pixels are
read one IFD at a time with tifffile; only level 0 of a pyramid is read (the
writer builds new sub-resolutions, P-1..P-3). The TIFF structure wins over the
OME-XML where they disagree (D5, N5).
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import tifffile
from ome_types import model as m

from ometiff.errors import InvalidTiffError, OmeTiffError, OmeXmlError, UnsupportedFormatError
from ometiff.ome.view import ChannelView
from ometiff.readers.base import Reader
from ometiff.readers.source import SeriesSource
from ometiff.readers.tiff import page_plane
from ometiff.readers.tifflayout import plane_dtype
from ometiff.types import DTYPE_TO_OME

if TYPE_CHECKING:
    from ometiff.ome.fileset import FileSet
    from ometiff.ome.view import ImageView, PlaneMap, PlaneRef
    from ometiff.types import StrPath

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_XML_SUFFIXES = (".ome", ".ome.xml")  # ".companion.ome" and "x-companion.ome"


def _head(path: Path, n: int) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(n)
    except OSError:
        return b""


class OmeTiffReader(Reader):
    """Read an OME-TIFF file or set (any member, master file or companion)."""

    name = "ome-tiff"
    suffixes = (".tif", ".tiff", ".tf2", ".tf8", ".btf", *_XML_SUFFIXES)

    @classmethod
    def can_read(cls, path: Path) -> bool:
        """True for a TIFF whose IFD0 ImageDescription is OME-XML, or a companion."""
        if not path.is_file() or not path.name.lower().endswith(cls.suffixes):
            return False
        head = _head(path, 65536)
        if path.name.lower().endswith(_XML_SUFFIXES):
            return b"<OME" in head or b":OME" in head
        if head[:4] not in _TIFF_MAGIC:
            return False
        from ometiff.tiff.structure import read_description

        try:
            desc = read_description(path)
        except (OSError, ValueError, OmeTiffError):
            return False
        return desc is not None and "<OME" in desc and desc.rstrip().endswith("OME>")

    def __init__(self, path: StrPath, **options: Any) -> None:
        super().__init__(path, **options)
        from ometiff.ome.fileset import resolve_fileset

        try:
            self._set: FileSet = resolve_fileset(self.path)
        except OSError as exc:
            raise InvalidTiffError(f"{self.path}: cannot read: {exc}") from exc
        self._local = threading.local()
        self._open: list[tifffile.TiffFile] = []
        self._lock = threading.Lock()
        missing = self._set.missing
        if missing:
            names = ", ".join(mb.filename for mb in missing[:5])
            raise OmeXmlError(
                f"{self.path}: {len(missing)} file(s) of the OME-TIFF set are missing: "
                f"{names} (M2); restore them or run `ometiff repair`"
            )
        self._views: list[ImageView] = []
        self._maps: list[PlaneMap] = []
        self._layout: list[tuple[int, int, np.dtype]] = []  # (C planes, samples, dtype)
        try:
            for i, image in enumerate(self._set.ome.images):
                pm = self._plane_map(image, check=False)
                samples = self._tiff_samples(i, pm.planes[0])
                if samples != image.samples_per_pixel:
                    # N5: the TIFF's SamplesPerPixel wins over the OME's.
                    self.notes.skip(
                        f"Image:{i} Channel SamplesPerPixel={image.samples_per_pixel}",
                        f"the TIFF has {samples}; the TIFF wins (N5)",
                    )
                    chans = tuple(replace(ch, samples_per_pixel=samples)
                                  for ch in image.channels)
                    if not chans:
                        chans = (ChannelView(None, None, samples, None, None, None, None),)
                    image = replace(image, channels=chans)
                self._views.append(image)
                self._maps.append(self._plane_map(image, check=True))
                self._layout.append(self._probe(i, image, samples))
        except BaseException:
            self.close()
            raise
        self._ome: m.OME | None = None
        self._ome_given = False

    # -- file access ---------------------------------------------------------------

    def _plane_map(self, image: ImageView, *, check: bool) -> PlaneMap:
        from ometiff.ome.view import plane_map

        pm = plane_map(image, ifd_count=self._set.ifd_count)
        if pm.counted and check:
            self.notes.skip("TiffData", "absent; IFDs assigned in DimensionOrder (N4)")
        if 0 not in pm.planes or (check and pm.unmapped):
            z, c, t = image.zct_of(pm.unmapped[0])
            raise OmeXmlError(
                f"{self.path}: Image {image.index}: {len(pm.unmapped)} plane(s) are not mapped "
                f"to any IFD, first z={z} c={c} t={t} (T4)"
            )
        return pm

    def _tiff(self, ref: PlaneRef) -> tifffile.TiffFile:
        """The member's TiffFile for the calling thread (file handles are not shared:
        concurrent reads through one handle corrupt each other)."""
        member = self._set.member_for(ref.uuid, ref.filename)
        if member is None or member.path is None:
            raise OmeXmlError(
                f"{self.path}: TiffData names a file that is not in the set "
                f"({ref.filename or ref.uuid})"
            )
        files: dict[Path, tifffile.TiffFile] | None = getattr(self._local, "files", None)
        if files is None:
            files = self._local.files = {}
        tf = files.get(member.path)
        if tf is None:
            try:
                tf = tifffile.TiffFile(member.path, is_ome=False)
            except (tifffile.TiffFileError, OSError, ValueError) as exc:
                raise InvalidTiffError(f"{member.path}: not a readable TIFF: {exc}") from exc
            files[member.path] = tf
            with self._lock:
                self._open.append(tf)
        return tf

    def _page(self, ref: PlaneRef) -> tifffile.TiffPage:
        tf = self._tiff(ref)
        try:
            page = tf.pages[ref.ifd]
        except (IndexError, tifffile.TiffFileError, ValueError, OSError) as exc:
            raise InvalidTiffError(
                f"{tf.filename}: IFD {ref.ifd} named by TiffData cannot be read: {exc}"
            ) from exc
        if not isinstance(page, tifffile.TiffPage):
            page = page.aspage()
        return page

    def _tiff_samples(self, index: int, ref: PlaneRef) -> int:
        page = self._page(ref)
        spp = int(page.samplesperpixel)
        if spp > 1 and not (spp in (3, 4) and page.photometric in (2, 6)):
            raise UnsupportedFormatError(
                f"{self.path}: Image {index}: IFD {ref.ifd} holds {spp} non-RGB samples per "
                "pixel; not supported"
            )
        return spp

    def _probe(self, index: int, image: ImageView, samples: int) -> tuple[int, int, np.dtype]:
        """Planes per (Z, T), samples and dtype from the TIFF of the first plane (D5)."""
        first = self._maps[index].planes[0]
        page = self._page(first)
        size_c = image.size_c or 1
        planes_c = size_c // samples if size_c % samples == 0 else image.effective_size_c
        if (page.imagelength, page.imagewidth) != (image.size_y, image.size_x):
            self.notes.skip(
                f"Image:{index} SizeX/SizeY={image.size_x}x{image.size_y}",
                f"the TIFF has {page.imagewidth}x{page.imagelength}; the TIFF wins (D5)",
            )
        return planes_c, samples, plane_dtype(np.dtype(page.dtype), self.path)

    # -- Reader API ----------------------------------------------------------------

    def ome(self) -> m.OME:
        if self._ome is None:
            self._ome = self._build_ome()
        if not self._ome_given:  # the first caller gets the cached model itself
            self._ome_given = True
            return self._ome
        return self._ome.model_copy(deep=True)

    def _build_ome(self) -> m.OME:
        import ome_types

        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                ome = ome_types.from_xml(self._set.xml)
            for w in caught:
                self.notes.skip("OME-XML", f"ome-types: {str(w.message).splitlines()[0]}")
        except Exception as exc:
            self.notes.skip(
                "OME-XML", f"not loadable as 2016-06 ({str(exc).splitlines()[0]}); rebuilt"
            )
            ome = self._fallback_ome()
        if len(ome.images) != len(self._views):
            ome = self._fallback_ome()
        for i, (image, view) in enumerate(zip(ome.images, self._views, strict=True)):
            px = image.pixels
            planes_c, samples, dtype = self._layout[i]
            y, x = self._plane_shape(i)
            px.size_x, px.size_y = x, y
            px.size_c = planes_c * samples
            px.type = m.PixelType(DTYPE_TO_OME[dtype.name])
            px.tiff_data_blocks = []
            px.bin_data_blocks = []
            px.metadata_only = None
            channels = list(px.channels[:planes_c])
            for k in range(len(channels), planes_c):
                channels.append(m.Channel(id=f"Channel:{i}:{k}"))
            for ch in channels:
                ch.samples_per_pixel = samples
            px.channels = channels
            size_t, size_z = view.size_t or 1, view.size_z or 1
            kept = [p for p in px.planes
                    if p.the_t < size_t and p.the_c < planes_c and p.the_z < size_z]
            if len(kept) != len(px.planes):
                self.notes.skip(f"Image:{i} Plane elements",
                                f"{len(px.planes) - len(kept)} outside the image dropped (PL1)")
                px.planes = kept
        return ome

    def _plane_shape(self, index: int) -> tuple[int, int]:
        page = self._page(self._maps[index].planes[0])
        return int(page.imagelength), int(page.imagewidth)

    def _fallback_ome(self) -> m.OME:
        """Minimal OME from the lxml view, for schemas ome-types cannot load (2003-FC)."""
        images = []
        for i, v in enumerate(self._views):
            px_kw: dict[str, Any] = {}
            for axis in ("x", "y", "z"):
                q = getattr(v, f"physical_size_{axis}")
                if q is not None and q.value > 0:
                    px_kw[f"physical_size_{axis}"] = q.value
                    self.notes.map(f"PhysicalSize{axis.upper()}", f"Image:{i}/Pixels")
            channels = [
                m.Channel(id=f"Channel:{i}:{k}", name=ch.name)
                for k, ch in enumerate(v.channels)
            ]
            pixels = m.Pixels(
                id=f"Pixels:{i}",
                dimension_order=m.Pixels_DimensionOrder(v.dimension_order or "XYZCT"),
                type=m.PixelType((v.pixel_type or "uint8").lower()),
                size_x=v.size_x or 1,
                size_y=v.size_y or 1,
                size_z=v.size_z or 1,
                size_c=v.size_c or 1,
                size_t=v.size_t or 1,
                channels=channels,
                **px_kw,
            )
            images.append(m.Image(id=f"Image:{i}", name=v.name, pixels=pixels))
        return m.OME(images=images)

    def sources(self) -> list[SeriesSource]:
        out = []
        for i, image in enumerate(self._views):
            planes_c, samples, dtype = self._layout[i]
            y, x = self._plane_shape(i)
            shape = (image.size_t or 1, planes_c, image.size_z or 1, y, x)
            out.append(
                SeriesSource(shape, samples, dtype, self._getter(i, (y, x)), name=image.name)
            )
        return out

    def _getter(self, index: int, yx: tuple[int, int]) -> Any:
        image = self._views[index]
        pm = self._maps[index]
        _, samples, dtype = self._layout[index]

        def get_plane(t: int, c: int, z: int) -> np.ndarray:
            ref = pm.planes[image.index_of(z, c, t)]
            page = self._page(ref)
            return page_plane(page, samples, dtype, yx, where=f"{self.path} IFD {ref.ifd}")

        return get_plane

    def close(self) -> None:
        with self._lock:
            for tf in self._open:
                tf.close()
            self._open.clear()
        self._local = threading.local()
