"""OME-TIFF reader: single files, multi-file sets, companions, BinaryOnly members.

The set is resolved by :func:`ometiff.ome.fileset.resolve_fileset` (M1-M5); each
Image's TiffData is applied by :func:`ometiff.ome.planemap.plane_map` (T1-T6). This is
the one pixel reader of OME-TIFF: ``convert`` and its verification, ``info --stats``
and ``show`` all read through it. Pixels are read one IFD at a time with tifffile
(:func:`ometiff.readers.decode.decode_page`), so memory stays at about one plane;
every pyramid level is readable through :meth:`OmeTiffReader.read_plane` (level
``k`` is SubIFD ``k - 1`` of each plane's IFD, P-2). Member files are opened only
here, at the paths the :class:`~ometiff.ome.fileset.FileSet` resolved. The TIFF
structure wins over the OME-XML where they disagree (D5, N5).
"""

from __future__ import annotations

import copy
import threading
import warnings
from collections import OrderedDict
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import tifffile

from ometiff.errors import (
    InvalidArgumentError,
    InvalidTiffError,
    NoSuchPlaneError,
    OmeTiffError,
    OmeXmlError,
    UnsupportedFormatError,
)
from ometiff.ome.view import ChannelView
from ometiff.ome.xml import is_ome_xml
from ometiff.readers.base import Reader, region_into
from ometiff.readers.source import SeriesSource
from ometiff.readers.tiff import page_plane
from ometiff.readers.tifflayout import plane_dtype
from ometiff.readers.tiles import SegmentFile, can_read_tiles, read_page_region, tile_shape
from ometiff.tiff.names import OME_XML_SUFFIXES, TIFF_SUFFIXES, has_tiff_magic
from ometiff.types import DIMENSION_ORDERS, DTYPE_TO_OME

if TYPE_CHECKING:
    from ome_types import model as m

    from ometiff.ome.fileset import FileSet
    from ometiff.ome.planemap import PlaneMap, PlaneRef
    from ometiff.ome.view import ImageView, OmeView
    from ometiff.types import StrPath

#: Member files kept open per thread; older ones are closed (sets of one file per
#: plane can have thousands of members, more than the open-file limit).
MAX_OPEN_MEMBERS = 64

#: IFDs (with their SubIFD levels) kept parsed per thread by ``_level_page``.
MAX_CACHED_PAGES = 64


def _head(path: Path, n: int) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(n)
    except OSError:
        return b""


class OmeTiffReader(Reader):
    """Read an OME-TIFF file or set (any member, master file or companion).

    Options
    -------
    partial
        ``True`` opens sets with missing members (M2) or planes not mapped to any
        IFD (T4) and raises only when such a plane is read (for inspection:
        ``info --stats``, ``show``). By default both are refused on opening.
    """

    name = "ome-tiff"
    suffixes = (*TIFF_SUFFIXES, *OME_XML_SUFFIXES)
    options = ("partial",)
    thread_safe = True  # one TiffFile per thread; tiles are read with os.pread

    @classmethod
    def can_read(cls, path: Path) -> bool:
        """True for a TIFF whose IFD0 ImageDescription is OME-XML, or a companion."""
        if not path.is_file() or not path.name.lower().endswith(cls.suffixes):
            return False
        if path.name.lower().endswith(OME_XML_SUFFIXES):
            return is_ome_xml(_head(path, 65536))
        if not has_tiff_magic(_head(path, 4)):
            return False
        from ometiff.tiff.structure import read_description

        try:
            desc = read_description(path)
        except (OSError, ValueError, OmeTiffError):
            return False
        return desc is not None and is_ome_xml(desc)

    def __init__(self, path: StrPath, *, fileset: FileSet | None = None, **options: Any) -> None:
        """``fileset``: the set of ``path`` when the caller has resolved it already
        (``info`` has, for ``info --stats`` and ``show``), so it is not read twice."""
        super().__init__(path, **options)
        from ometiff.ome.fileset import resolve_fileset

        if fileset is not None and fileset.entry == self.path:
            self._set: FileSet = fileset
        else:
            try:
                self._set = resolve_fileset(self.path)
            except OSError as exc:
                raise InvalidTiffError(f"{self.path}: cannot read: {exc}") from exc
        self._partial = bool(options.get("partial", False))
        self._local = threading.local()
        self._open: list[tifffile.TiffFile] = []
        self._lock = threading.Lock()
        self._segment_files: dict[str, SegmentFile] = {}
        self._shapes: dict[int, list[tuple[int, int, int, int, int]]] = {}
        refused = self._set.refused
        if refused:
            # M2: a member named outside the set's folder is never opened, partial or not.
            mb = refused[0]
            raise OmeXmlError(
                f"{self.path}: member {mb.filename!r} {mb.refused}; not opened "
                "(no file outside the set's folder is read)"
            )
        missing = self._set.missing
        if missing and not self._partial:
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
                    chans = tuple(replace(ch, samples_per_pixel=samples) for ch in image.channels)
                    if not chans:
                        chans = (ChannelView(None, None, samples, None, None, None, None),)
                    image = replace(image, channels=chans)
                    pm = self._plane_map(image, check=False)  # planes per (Z, T) changed
                self._views.append(image)
                self._maps.append(self._checked(image, pm) if not self._partial else pm)
                self._layout.append(self._probe(i, image, samples))
        except BaseException:
            self.close()
            raise
        self._ome: m.OME | None = None

    # -- file access ---------------------------------------------------------------

    def _plane_map(self, image: ImageView, *, check: bool) -> PlaneMap:
        from ometiff.ome.planemap import plane_map

        pm = plane_map(image, ifd_count=self._set.ifd_count)
        return self._checked(image, pm, check=check)

    def _checked(self, image: ImageView, pm: PlaneMap, *, check: bool = True) -> PlaneMap:
        """``pm``, after refusing a map without plane 0 (and, with ``check``, with
        unmapped planes, T4)."""
        if pm.counted and check:
            self.notes.skip("TiffData", "absent; IFDs assigned in DimensionOrder (N4)")
        if 0 not in pm.planes or (check and pm.unmapped):
            z, c, t = image.zct_of(pm.unmapped[0])
            raise OmeXmlError(
                f"{self.path}: Image {image.index}: {len(pm.unmapped)} plane(s) are not mapped "
                f"to any IFD, first z={z} c={c} t={t} (T4)"
            )
        return pm

    def _member_path(self, ref: PlaneRef) -> Path:
        """The path of the member file holding ``ref`` (only files of the set, M2)."""
        member = self._set.member_for(ref.uuid, ref.filename)
        if member is not None and member.refused is not None:
            raise OmeXmlError(
                f"{self.path}: member {member.filename!r} {member.refused}; not opened"
            )
        if member is None or member.path is None:
            raise OmeXmlError(
                f"{self.path}: TiffData names a file that is not in the set "
                f"({ref.filename or ref.uuid})"
            )
        if not member.exists:
            raise InvalidTiffError(
                f"{self.path}: member {member.path} of the file set is missing (M2)"
            )
        return member.path

    def _tiff(self, ref: PlaneRef) -> tifffile.TiffFile:
        """The member's TiffFile for the calling thread (file handles are not shared:
        concurrent reads through one handle corrupt each other). Each thread keeps
        at most :data:`MAX_OPEN_MEMBERS` open, closing the least recently used."""
        path = self._member_path(ref)
        files: OrderedDict[Path, tifffile.TiffFile] | None = getattr(self._local, "files", None)
        if files is None:
            files = self._local.files = OrderedDict()
        tf = files.get(path)
        if tf is not None:
            files.move_to_end(path)
            return tf
        if len(files) >= MAX_OPEN_MEMBERS:
            getattr(self._local, "pages", {}).clear()  # they may belong to the closed file
            _, oldest = files.popitem(last=False)
            with self._lock:
                self._open.remove(oldest)
            oldest.close()
        try:
            tf = tifffile.TiffFile(path, is_ome=False)
        except (tifffile.TiffFileError, OSError, ValueError) as exc:
            raise InvalidTiffError(f"{path}: not a readable TIFF: {exc}") from exc
        files[path] = tf
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
        return self._ome.model_copy(deep=True)  # callers may edit their copy

    def _build_ome(self) -> m.OME:
        import ome_types
        from lxml import etree
        from ome_types import model as m  # imported on use: ~1 s, not needed for pixels

        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                ome = ome_types.from_xml(self._set.xml)
            for w in caught:
                self.notes.skip("OME-XML", f"ome-types: {str(w.message).splitlines()[0]}")
        except (ValueError, etree.Error) as exc:  # pydantic, xsdata and lxml errors
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
            kept = [
                p for p in px.planes if p.the_t < size_t and p.the_c < planes_c and p.the_z < size_z
            ]
            if len(kept) != len(px.planes):
                self.notes.skip(
                    f"Image:{i} Plane elements",
                    f"{len(px.planes) - len(kept)} outside the image dropped (PL1)",
                )
                px.planes = kept
        return ome

    @cached_property
    def ome_tree(self) -> Any:
        """The set's OME-XML as an element tree for the writer to conform without
        ome_types (importing it costs about a second: issue 9), or None where the
        ome_types route must load, repair or rebuild it.

        Taken only when the document is 2016-06 OME-XML in the default namespace that
        the XSD accepts (S7), with one Image per series read; the Channels are cut or
        filled to the planes the TIFF holds, as :meth:`ome` does, and Planes outside
        the image are counted here (PL1) and dropped by the writer.
        """
        from ometiff.ome.schema import validate_schema
        from ometiff.ome.xml import OME_NS_2016 as ns
        from ometiff.ome.xml import namespace

        root = self._set.ome.root
        if root is None or namespace(root.tag) != ns or root.prefix is not None:
            return None
        images = root.findall(f"{{{ns}}}Image")
        if len(images) != len(self._views) or validate_schema(root, limit=1):
            return None
        tree = copy.deepcopy(root)
        for i, image in enumerate(tree.findall(f"{{{ns}}}Image")):
            px = image.find(f"{{{ns}}}Pixels")
            planes_c = self._layout[i][0]
            channels = px.findall(f"{{{ns}}}Channel")
            for extra in channels[planes_c:]:
                px.remove(extra)
            for k in range(len(channels), planes_c):
                px.insert(k, px.makeelement(f"{{{ns}}}Channel", {"ID": f"Channel:{i}:{k}"}))
            size_t, size_z = self._views[i].size_t or 1, self._views[i].size_z or 1
            outside = sum(
                1
                for p in px.iterfind(f"{{{ns}}}Plane")
                if not (
                    int(p.get("TheT", 0)) < size_t
                    and int(p.get("TheC", 0)) < planes_c
                    and int(p.get("TheZ", 0)) < size_z
                )
            )
            if outside:
                self.notes.skip(
                    f"Image:{i} Plane elements", f"{outside} outside the image dropped (PL1)"
                )
        return tree

    def _plane_shape(self, index: int) -> tuple[int, int]:
        return self.level_shapes(index)[0][3:]

    def _fallback_ome(self) -> m.OME:
        """Minimal OME from the lxml view, for schemas ome-types cannot load (2003-FC)."""
        from ome_types import model as m

        images = []
        for i, v in enumerate(self._views):
            px_kw: dict[str, Any] = {}
            for axis in ("x", "y", "z"):
                q = getattr(v, f"physical_size_{axis}")
                if q is not None and q.value > 0:
                    px_kw[f"physical_size_{axis}"] = q.value
                    self.notes.map(f"PhysicalSize{axis.upper()}", f"Image:{i}/Pixels")
            channels = [
                m.Channel(id=f"Channel:{i}:{k}", name=ch.name) for k, ch in enumerate(v.channels)
            ]
            order = (v.dimension_order or "XYZCT").upper()
            if order not in DIMENSION_ORDERS:  # D3: read as XYZCT, as the plane map does
                self.notes.skip(
                    f"Image:{i} DimensionOrder={v.dimension_order!r}",
                    "not one of the six orders; planes read as XYZCT (D3)",
                )
                order = "XYZCT"
            pixels = m.Pixels(
                id=f"Pixels:{i}",
                dimension_order=m.Pixels_DimensionOrder(order),
                type=m.PixelType(DTYPE_TO_OME[self._layout[i][2].name]),  # the TIFF wins (D5)
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
            _, samples, dtype = self._layout[i]
            shape = self.level_shapes(i)[0]
            out.append(SeriesSource(shape, samples, dtype, self._getter(i), name=image.name))
        return out

    def _getter(self, index: int) -> Any:
        def get_plane(t: int, c: int, z: int) -> np.ndarray:
            return self.read_plane(index, t, c, z)

        return get_plane

    @property
    def series_count(self) -> int:
        return len(self._views)

    def level_shapes(self, series: int) -> list[tuple[int, int, int, int, int]]:
        """Shapes of level 0 and of each SubIFD level of the first plane's IFD (P-2)."""
        shapes = self._shapes.get(series)
        if shapes is None:
            if not 0 <= series < len(self._views):
                raise NoSuchPlaneError(
                    f"{self.path}: series {series} does not exist ({len(self._views)} series)"
                )
            image = self._views[series]
            planes_c = self._layout[series][0]
            tcz = (image.size_t or 1, planes_c, image.size_z or 1)
            first = self._maps[series].planes[0]
            page = self._page(first)
            try:
                pages = [page, *self._subifds(page)]
            except (tifffile.TiffFileError, ValueError, OSError, IndexError) as exc:
                where = self._shown(Path(page.parent.filehandle.path))
                raise InvalidTiffError(
                    f"{where}: IFD {first.ifd}: SubIFDs cannot be read: {exc}"
                ) from exc
            shapes = [(*tcz, int(p.imagelength), int(p.imagewidth)) for p in pages]
            self._shapes[series] = shapes
        return shapes

    @staticmethod
    def _subifds(page: tifffile.TiffPage) -> list[tifffile.TiffPage]:
        if not page.subifds:
            return []
        return [
            p if isinstance(p, tifffile.TiffPage) else p.aspage() for p in tifffile.TiffPages(page)
        ]

    def _shown(self, member: Path) -> Path:
        """A member's path as the user would write it: next to the path they gave."""
        if member.parent == self.path.parent.resolve():
            return self.path.parent / member.name
        return member

    def locate(self, series: int, t: int, c: int, z: int) -> tuple[Path, int]:
        """The member file and IFD that the OME-XML maps a plane to (T1-T6, M1-M5).

        Raises
        ------
        NoSuchPlaneError
            The series or plane does not exist, or is not mapped to any IFD (T4).
        """
        self.check_plane(series, t, c, z)
        ref = self._ref(series, t, c, z)
        return self._member_path(ref), ref.ifd

    def _ref(self, series: int, t: int, c: int, z: int) -> PlaneRef:
        """The TiffData mapping of one plane; unmapped planes raise (T4)."""
        image = self._views[series]
        ref = self._maps[series].planes.get(image.index_of(z, c, t))
        if ref is None:
            raise NoSuchPlaneError(
                f"{self.path}: series {series} plane t={t} c={c} z={z} is not mapped to "
                "any IFD (T4)"
            )
        return ref

    def _level_page(
        self, series: int, t: int, c: int, z: int, level: int
    ) -> tuple[tifffile.TiffPage, str]:
        """The IFD (or SubIFD) holding a plane at a level, and its name for messages.

        The last :data:`MAX_CACHED_PAGES` are kept per thread (tifffile parses an IFD
        again on every lookup; chunked reads look the same IFD up once per tile).
        """
        shapes = self.level_shapes(series)  # before _page: it may open another member
        ref = self._ref(series, t, c, z)
        pages: OrderedDict[tuple[Any, ...], tuple[tifffile.TiffPage, str]] | None = getattr(
            self._local, "pages", None
        )
        if pages is None:
            pages = self._local.pages = OrderedDict()
        key = (ref.uuid, ref.filename, ref.ifd, level)
        hit = pages.get(key)
        if hit is not None:
            pages.move_to_end(key)
            return hit
        found = self._find_level_page(ref, shapes, level)
        pages[key] = found
        if len(pages) > MAX_CACHED_PAGES:
            pages.popitem(last=False)
        return found

    def _find_level_page(
        self, ref: PlaneRef, shapes: list[tuple[int, int, int, int, int]], level: int
    ) -> tuple[tifffile.TiffPage, str]:
        page = self._page(ref)
        where = f"{self._shown(Path(page.parent.filehandle.path))}: IFD {ref.ifd}"
        if level:
            try:
                subs = self._subifds(page)
            except (tifffile.TiffFileError, ValueError, OSError, IndexError) as exc:
                raise InvalidTiffError(f"{where}: SubIFDs cannot be read: {exc}") from exc
            if level > len(subs):
                raise InvalidTiffError(
                    f"{where} has {len(subs)} SubIFD levels; the first plane has "
                    f"{len(shapes) - 1} (P-2)"
                )
            page = subs[level - 1]
            where += f" SubIFD {level - 1}"
        return page, where

    def read_plane(self, series: int, t: int, c: int, z: int, *, level: int = 0) -> np.ndarray:
        """One plane of one level, ``(Y, X)`` or ``(Y, X, S)``; one IFD is decoded.

        Raises
        ------
        NoSuchPlaneError
            The series, plane or level does not exist, or the plane is not mapped
            to any IFD (T4, only with ``partial``).
        InvalidTiffError
            The pixels cannot be decoded or the member is missing; the message
            names the file and the IFD.
        """
        self.check_plane(series, t, c, z, level=level)
        page, where = self._level_page(series, t, c, z, level)
        _, samples, dtype = self._layout[series]
        y, x = self.level_shapes(series)[level][3:]
        if (int(page.imagelength), int(page.imagewidth)) == (y, x) and can_read_tiles(page):
            # tiles decoded in parallel, each read into a reused buffer (tifffile reads
            # every compressed tile of the page into memory at once)
            return self.read_region(series, t, c, z, 0, y, 0, x, level=level)
        return page_plane(page, samples, dtype, (y, x), where=where)

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
        """A window of one plane; of a tiled IFD only the touched tiles are decoded
        (straight into ``out`` when given)."""
        self.check_region(series, t, c, z, y0, y1, x0, x1, level=level)
        page, where = self._level_page(series, t, c, z, level)
        _, samples, dtype = self._layout[series]
        yx = self.level_shapes(series)[level][3:]
        if (int(page.imagelength), int(page.imagewidth)) != yx or not can_read_tiles(page):
            plane = page_plane(page, samples, dtype, yx, where=where)
            if out is not None:
                return region_into(out, plane[y0:y1, x0:x1], self.path)
            return plane[y0:y1, x0:x1].copy()
        read = self._segments(page.parent.filehandle.path)
        if out is not None:
            want = (y1 - y0, x1 - x0) + ((samples,) if samples > 1 else ())
            if out.shape != want:
                raise InvalidArgumentError(
                    f"{self.path}: out= has shape {out.shape}; the region is {want}"
                )
            return read_page_region(page, y0, y1, x0, x1, read=read, where=where, out=out)
        arr = read_page_region(page, y0, y1, x0, x1, read=read, where=where)
        if samples == 1:
            arr = arr[..., 0]
        return arr if arr.dtype == dtype else arr.astype(dtype)

    def tile_shape(self, series: int, *, level: int = 0) -> tuple[int, int] | None:
        """Tile size of the first plane's IFD at ``level`` (None for strips)."""
        self.check_plane(series, 0, 0, 0, level=level)
        page, _ = self._level_page(series, 0, 0, 0, level)
        return tile_shape(page)

    def _segments(self, path: str) -> SegmentFile:
        """The shared random-access reader of a member file (for tile reads)."""
        seg = self._segment_files.get(path)
        if seg is None:
            with self._lock:
                seg = self._segment_files.setdefault(path, SegmentFile(Path(path)))
        return seg

    def ome_view(self) -> OmeView:
        """The parsed OME-XML of the set, with the TIFF's sizes and samples (D5, N5).

        No ome-types model is built: this is what ``ometiff.open`` describes
        series with, on a 30,000-plane file too.
        """
        images = []
        for i, view in enumerate(self._views):
            planes_c, samples, dtype = self._layout[i]
            y, x = self._plane_shape(i)
            images.append(
                replace(
                    view,
                    size_x=x,
                    size_y=y,
                    size_c=planes_c * samples,
                    pixel_type=DTYPE_TO_OME[dtype.name],
                )
            )
        return replace(self._set.ome, images=tuple(images))

    def close(self) -> None:
        with self._lock:
            for tf in self._open:
                tf.close()
            self._open.clear()
            for seg in self._segment_files.values():
                seg.close()
            self._segment_files.clear()
        self._local = threading.local()
