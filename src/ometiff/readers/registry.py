"""The ordered registry of readers, imported lazily.

Order matters: :func:`find_reader` tries readers in this order (like tifffile's
``TIFF.SERIES`` priority), so OME-TIFF comes before the generic TIFF reader and
OME-Zarr before the image-series reader (both accept directories).
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ometiff.errors import MissingDependencyError, MissingFileError, UnsupportedFormatError
from ometiff.tiff.names import OME_XML_SUFFIXES, TIFF_SUFFIXES, TIFF_VENDOR_SUFFIXES

if TYPE_CHECKING:
    from ometiff.readers.base import Reader
    from ometiff.types import StrPath


@dataclass(frozen=True, slots=True)
class ReaderSpec:
    """How to find and import one reader.

    Attributes
    ----------
    name
        Reader name (``ometiff convert --reader`` and ``ometiff formats``).
    target
        ``"module:Class"``, imported on demand.
    suffixes
        Lower-case name endings used as a prefilter; empty means any path
        (directories, globs, patterns).
    description
        One line for ``ometiff formats`` and "unsupported format" messages.
    extra
        pip extra installing the dependencies, or None for core readers.
    requires
        Top-level modules that must be importable for the reader to work.
    """

    name: str
    target: str
    suffixes: tuple[str, ...]
    description: str
    extra: str | None = None
    requires: tuple[str, ...] = ()

    @property
    def available(self) -> bool:
        """True when every required module is installed (no import is done)."""
        return all(importlib.util.find_spec(m) is not None for m in self.requires)

    @property
    def install_hint(self) -> str:
        """The pip command that installs this reader's extra ('' for core readers)."""
        return f'pip install "ometiff[{self.extra}]"' if self.extra else ""

    def matches_suffix(self, path: Path) -> bool:
        """True if the suffix prefilter lets ``path`` through."""
        return not self.suffixes or path.name.lower().endswith(self.suffixes)

    def load(self) -> type[Reader]:
        """Import and return the reader class.

        Raises
        ------
        MissingDependencyError
            When a required module (the extra) is not installed.
        """
        missing = [m for m in self.requires if importlib.util.find_spec(m) is None]
        if missing:
            needs = ", ".join(missing)
            raise MissingDependencyError(
                f"the {self.name} reader needs {needs}: {self.install_hint}"
            )
        module_name, _, cls_name = self.target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            hint = f": {self.install_hint}" if self.extra else ""
            raise MissingDependencyError(
                f"the {self.name} reader cannot be imported ({exc}){hint}"
            ) from exc
        cls: type[Reader] = getattr(module, cls_name)
        return cls


#: Every reader, in the order :func:`find_reader` tries them.
READERS: tuple[ReaderSpec, ...] = (
    ReaderSpec(
        "ome-tiff",
        "ometiff.readers.ome_tiff:OmeTiffReader",
        (*TIFF_SUFFIXES, *OME_XML_SUFFIXES),
        "OME-TIFF: single file, multi-file sets, companion .companion.ome, pyramids",
        requires=("tifffile",),
    ),
    # Whole-slide and Micro-Manager NDTiff files are TIFFs too: they must be tried
    # before the generic TIFF reader, which would read them page by page.
    ReaderSpec(
        "svs",
        "ometiff.readers.svs:SvsReader",
        (".svs", ".tif", ".tiff"),
        "Aperio SVS whole slides (pyramid; thumbnail, label, macro as series)",
        requires=("tifffile", "imagecodecs"),
    ),
    ReaderSpec(
        "ndpi",
        "ometiff.readers.ndpi:NdpiReader",
        (".ndpi",),
        "Hamamatsu NDPI whole slides (pyramid; macro and its mask as series)",
        requires=("tifffile", "imagecodecs"),
    ),
    ReaderSpec(
        "qptiff",
        "ometiff.readers.qptiff:QptiffReader",
        (".qptiff", ".tif", ".tiff"),
        "Akoya/PerkinElmer QPTIFF (channels, pyramid; thumbnail, overview, label)",
        requires=("tifffile", "imagecodecs"),
    ),
    ReaderSpec(
        "ndtiff",
        "ometiff.readers.ndtiff:NdtiffReader",
        (),
        "Micro-Manager NDTiff datasets v2/v3 (folder or stack; positions, tiles, pyramid)",
        requires=("tifffile",),
    ),
    ReaderSpec(
        "vsi",
        "ometiff.readers.vsi:VsiReader",
        (".vsi",),
        "Olympus/Evident cellSens VSI with its ETS folder",
        extra="vsi",
        requires=("slideio", "tifffile"),
    ),
    ReaderSpec(
        "tiff",
        "ometiff.readers.tiff:TiffReader",
        (*TIFF_SUFFIXES, *TIFF_VENDOR_SUFFIXES),
        "TIFF: ImageJ hyperstacks, Micro-Manager, LSM, STK, SVS/NDPI/QPTIFF, plain",
        requires=("tifffile",),
    ),
    ReaderSpec(
        "lif",
        "ometiff.readers.lif:LifReader",
        (".lif",),
        "Leica LIF (every series)",
        extra="lif",
        requires=("liffile",),
    ),
    ReaderSpec(
        "czi",
        "ometiff.readers.czi:CziReader",
        (".czi",),
        "Zeiss CZI (scenes, mosaics, RGB)",
        extra="czi",
        requires=("pylibCZIrw",),
    ),
    ReaderSpec(
        "nd2",
        "ometiff.readers.nd2:Nd2Reader",
        (".nd2",),
        "Nikon ND2",
        extra="nd2",
        requires=("nd2",),
    ),
    ReaderSpec(
        "dv",
        "ometiff.readers.dv:DvReader",
        (".dv", ".r3d"),
        "DeltaVision (.dv, .r3d)",
        extra="dv",
        requires=("mrc",),
    ),
    ReaderSpec(
        "mrc",
        "ometiff.readers.mrc:MrcReader",
        (".mrc", ".map", ".ccp4", ".mrcs"),
        "MRC2014 / CCP4 maps and image stacks",
        extra="mrc",
        requires=("mrcfile",),
    ),
    ReaderSpec(
        "sif",
        "ometiff.readers.sif:SifReader",
        (".sif",),
        "Andor SIF (Solis images and spectra)",
        extra="sif",
        requires=("sif_parser",),
    ),
    ReaderSpec(
        "ims",
        "ometiff.readers.ims:ImsReader",
        (".ims",),
        "Bitplane Imaris 5.5+ (HDF5; resolution levels as a pyramid)",
        extra="ims",
        requires=("h5py",),
    ),
    ReaderSpec(
        "ptu",
        "ometiff.readers.ptu:PtuReader",
        (".ptu",),
        "PicoQuant PTU FLIM images (lifetime bins as Modulo along T)",
        extra="ptu",
        requires=("ptufile",),
    ),
    ReaderSpec(
        "sdt",
        "ometiff.readers.sdt:SdtReader",
        (".sdt",),
        "Becker & Hickl SDT FLIM images (lifetime bins as Modulo along T)",
        extra="sdt",
        requires=("sdtfile",),
    ),
    ReaderSpec(
        "spc",
        "ometiff.readers.spc:SpcReader",
        (".spc",),
        "Becker & Hickl SPC FIFO photon streams (recognised; refused: no image)",
    ),
    ReaderSpec(
        "ome-zarr",
        "ometiff.readers.ome_zarr:OmeZarrReader",
        (),
        "OME-Zarr (NGFF 0.4/0.5 multiscales, bioformats2raw layout)",
        extra="zarr",
        requires=("zarr",),
    ),
    ReaderSpec(
        "npy",
        "ometiff.readers.npy:NpyReader",
        (".npy",),
        "NumPy .npy arrays (axes given with --axes)",
    ),
    ReaderSpec(
        "sequence",
        "ometiff.readers.sequence:SequenceReader",
        (),
        "Image series: folder, glob or pattern of TIFF/PNG/JPEG planes",
        requires=("PIL",),
        extra="render",
    ),
)


def get_spec(name: str) -> ReaderSpec:
    """Return the spec of the reader called ``name``."""
    for spec in READERS:
        if spec.name == name:
            return spec
    names = ", ".join(s.name for s in READERS)
    raise UnsupportedFormatError(f"unknown reader {name!r}; readers are: {names}")


def supported_formats() -> str:
    """One line naming the supported formats, with install hints for missing extras."""
    parts = []
    for spec in READERS:
        state = "" if spec.available else f" (not installed: {spec.install_hint})"
        parts.append(f"{spec.name}{state}")
    return ", ".join(parts) + "; `ometiff formats` describes each"


def _looks_like_pattern(path: Path) -> bool:
    text = str(path)
    return any(ch in text for ch in "*?[{")


def find_reader(path: StrPath) -> type[Reader]:
    """Return the first reader class whose ``can_read`` accepts ``path``.

    Raises
    ------
    UnsupportedFormatError
        When no reader accepts the input (or it does not exist); the message lists
        the supported formats and the extras to install.
    MissingDependencyError
        When only a reader whose extra is missing would match by suffix.
    """
    p = Path(path)
    if not p.exists() and not _looks_like_pattern(p):
        raise MissingFileError(f"{p}: no such file or directory")
    missing: list[ReaderSpec] = []
    for spec in READERS:
        if not spec.matches_suffix(p):
            continue
        if not spec.available:
            if spec.suffixes:  # a vendor suffix match: tell the user what to install
                missing.append(spec)
            continue
        try:
            cls = spec.load()
        except MissingDependencyError:
            if spec.suffixes:
                missing.append(spec)
            continue
        if cls.can_read(p):
            return cls
    if missing:
        spec = missing[0]
        raise MissingDependencyError(
            f"{p}: reading {spec.description} needs the '{spec.extra}' extra: {spec.install_hint}"
        )
    raise UnsupportedFormatError(
        f"{p}: no reader accepts this input; supported formats: {supported_formats()}"
    )


def open_image(path: StrPath, *, reader: str | None = None, **options: Any) -> Reader:
    """Open ``path`` with the named reader, or the first one that accepts it.

    Parameters
    ----------
    path
        File, directory, glob or pattern.
    reader
        Reader name (see ``ometiff formats``); None picks one by sniffing.
    **options
        Reader options, e.g. ``axes="ZYX"`` for ``.npy``.

    Returns
    -------
    Reader
        An open reader; use it as a context manager.
    """
    cls = get_spec(reader).load() if reader else find_reader(path)
    return cls(path, **options)
