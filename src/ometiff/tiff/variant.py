"""Which TIFF variant(s) a file is, with the evidence (checklist 4.11)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from ometiff.tiff.structure import TiffStructure

#: tag code -> (variant name, evidence text)
_TAG_VARIANTS = {
    51123: ("Micro-Manager", "tag 51123 MicroManagerMetadata"),
    34412: ("Zeiss LSM", "tag 34412 CZ_LSMINFO"),
    33628: ("MetaMorph STK", "tag 33628 UIC1"),
    34362: ("FluoView", "tag 34362 MM_Header"),
    43314: ("NIH Image", "tag 43314 NIHImageHeader"),
    65420: ("Hamamatsu NDPI", "tag 65420 NDPI_FORMAT_FLAG"),
    50838: ("ImageJ", "tag 50838 IJMetadataByteCounts"),
    4864: ("Andor", "tag 4864 Andor"),
    34682: ("Olympus SIS", "tag 34682"),
    33445: ("Molecular Dynamics GEL", "tag 33445 MD_FileTag"),
    37706: ("Leica / Ventana", "tag 37706 TVIPS"),
}

_DESCRIPTION_VARIANTS = {
    "OME-XML": "OME-TIFF",
    "ImageJ": "ImageJ",
    "JSON": "tifffile shaped",
    "tifffile shape": "tifffile shaped",
    "Aperio SVS": "Aperio SVS",
    "Leica SCN XML": "Leica SCN",
    "QPTIFF XML": "PerkinElmer QPTIFF",
}


@dataclass(frozen=True, slots=True)
class Variant:
    """One variant the file matches and why."""

    name: str
    evidence: str


def detect_variants(structure: TiffStructure) -> list[Variant]:
    """Every variant signature the file carries, most specific first."""
    out: list[Variant] = []
    if not structure.ifds:
        return [Variant("TIFF (no readable IFD)", "header only")]
    first = structure.ifds[0]
    kind = first.description_kind
    if kind in _DESCRIPTION_VARIANTS:
        name = _DESCRIPTION_VARIANTS[kind]
        if name == "OME-TIFF" and structure.description and "BinaryOnly" in structure.description:
            name = "OME-TIFF (BinaryOnly member)"
        out.append(
            Variant(
                name, f"IFD0 ImageDescription holds {kind} ({first.description_length:,} bytes)"
            )
        )
    for tag in first.tags:
        if tag in _TAG_VARIANTS:
            name, evidence = _TAG_VARIANTS[tag]
            if not any(v.name.startswith(name) for v in out):
                out.append(Variant(name, evidence))
    if first.software and "ImageJ" in first.software and not any(v.name == "ImageJ" for v in out):
        out.append(Variant("ImageJ", f"Software tag {first.software!r}"))
    if any(ifd.subifds for ifd in structure.ifds[:1]):
        levels = len(first.subifds) + 1
        out.append(
            Variant("pyramid (SubIFDs)", f"IFD0 has {len(first.subifds)} SubIFDs: {levels} levels")
        )
    out = _folder_formats(structure, first.tags, out)
    reduced = sum(1 for ifd in structure.ifds if ifd.new_subfile_type & 1)
    if reduced and not any(v.name.startswith("Aperio") or v.name.endswith("NDPI") for v in out):
        out.append(
            Variant(
                "pyramid (reduced-resolution IFDs in main chain)",
                f"{reduced} IFDs with NewSubfileType bit 0",
            )
        )
    if structure.bigtiff:
        out.append(Variant("BigTIFF", "header magic 43"))
    if not any(not v.name.startswith(("BigTIFF", "pyramid")) for v in out):
        pages = "multi-page" if structure.ifd_count > 1 else "single-page"
        out.insert(0, Variant(f"plain TIFF ({pages})", "no variant-specific tags or description"))
    return out


#: the pixels of these TIFF-based formats are not (all) in the TIFF itself
_NDTIFF_INDEX = "NDTiff.index"
_OLYMPUS_SIS = 33560


def _folder_formats(
    structure: TiffStructure, tags: tuple[int, ...] | list[int], found: list[Variant]
) -> list[Variant]:
    """Formats whose TIFF is one file of a folder (Micro-Manager NDTiff, Olympus VSI).

    An NDTiff stack carries the Micro-Manager tag like an MMStack, but its axes are in
    the ``NDTiff.index`` beside it; a cellSens ``.vsi`` is a TIFF holding only the
    macro photograph, its pixels are in the ``_<name>_/`` ETS folder.
    """
    path = structure.path
    if 51123 in tags and (path.parent / _NDTIFF_INDEX).is_file():
        rest = [v for v in found if v.name != "Micro-Manager"]
        return [
            Variant(
                "Micro-Manager NDTiff",
                f"tag 51123 MicroManagerMetadata and {_NDTIFF_INDEX} beside the file "
                "(axes in the index; read the dataset folder)",
            ),
            *rest,
        ]
    if path.suffix.lower() == ".vsi" and _OLYMPUS_SIS in tags:
        ets = path.with_name(f"_{path.stem}_")
        where = (
            f"pixels in {ets.name}/ (ETS files)"
            if ets.is_dir()
            else f"its ETS folder {ets.name}/ is missing"
        )
        return [Variant("Olympus cellSens VSI", f"tag 33560 OlympusSIS, .vsi; {where}"), *found]
    return found


def imagej_disagreements(
    path: Path, structure: TiffStructure, size_c: int, size_z: int, size_t: int
) -> list[tuple[str, int, str, int]] | None:
    """Where an ImageJ header beside OME-XML disagrees with it (checklist X7).

    ``size_c`` counts planes per (Z, T) (OME SizeC / SamplesPerPixel). Returns
    ``(ImageJ key, its value, OME attribute, OME value)`` per disagreement, ``[]``
    when there is no ImageJ header or it agrees, and None when a header is present
    but cannot be parsed.
    """
    if not structure.ifds:
        return []
    first = structure.ifds[0]
    signs = (
        50838 in first.tags
        or 50839 in first.tags
        or first.tags.count(270) > 1  # a second ImageDescription
        or (first.software or "").startswith("ImageJ")
    )
    if not signs:
        return []
    import tifffile

    try:
        with tifffile.TiffFile(path) as tf:
            ij = tf.imagej_metadata
    except (tifffile.TiffFileError, ValueError, OSError):
        return None
    if not ij:
        return []
    out = []
    for key, ome_value, label in (
        ("channels", size_c, "SizeC"),
        ("slices", size_z, "SizeZ"),
        ("frames", size_t, "SizeT"),
    ):
        value = ij.get(key)
        if value is not None and int(value) != ome_value:
            out.append((key, int(value), label, ome_value))
    return out
