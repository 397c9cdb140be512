"""Helpers shared by the FLIM readers (PicoQuant PTU, Becker & Hickl SDT and SPC).

A TCSPC (time-correlated single photon counting) image holds, for each pixel, a
histogram of photon arrival times: the lifetime bins. OME has no axis for them;
Bio-Formats (its SDT reader) folds the bins into T and describes them with a
``ModuloAlongT`` annotation (Type ``lifetime``, TypeDescription ``TCSPC``, Unit
``ps``). The FLIM readers do the same, so T = frames x bins, bins innermost, and
a viewer that knows Modulo splits T back into frames and bins.

A measurement with no image (a single decay curve, a point measurement, a raw
photon stream) is refused with one :class:`~ometiff.errors.UnsupportedFormatError`
saying that it is not an image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ometiff.errors import UnsupportedFormatError
from ometiff.ome.xml import OME_NS_2016

if TYPE_CHECKING:
    from pathlib import Path

    from ome_types import model as m

#: Namespaces of the OME Modulo annotation (as Bio-Formats writes it).
MODULO_NS = "openmicroscopy.org/omero/dimension/modulo"
MODULO_XML_NS = "http://www.openmicroscopy.org/Schemas/Additions/2011-09"


def modulo_along_t(index: int, bins: int, step_ps: float | None) -> m.XMLAnnotation:
    """The ``ModuloAlongT`` annotation of ``bins`` TCSPC lifetime bins.

    Parameters
    ----------
    index
        The Image index; the annotation's ID is ``Annotation:Modulo:<index>``.
    bins
        Number of lifetime bins (the modulo length).
    step_ps
        Bin width in picoseconds, or None when the file does not state it (then
        the bins are labelled by index only).
    """
    import ome_types

    if step_ps is not None and step_ps > 0:
        end = step_ps * (bins - 1)
        attrs = (
            f'Type="lifetime" TypeDescription="TCSPC" Unit="ps" '
            f'Start="0.0" Step="{step_ps!r}" End="{end!r}"'
        )
    else:
        attrs = f'Type="lifetime" TypeDescription="TCSPC" Start="0" Step="1" End="{bins - 1}"'
    # parsed by ome-types itself, so the Modulo element is an OME-namespace
    # element exactly as Bio-Formats writes it
    doc = (
        f'<OME xmlns="{OME_NS_2016}"><StructuredAnnotations>'
        f'<XMLAnnotation ID="Annotation:Modulo:{index}" Namespace="{MODULO_NS}"><Value>'
        f'<Modulo namespace="{MODULO_XML_NS}"><ModuloAlongT {attrs}/></Modulo>'
        "</Value></XMLAnnotation></StructuredAnnotations></OME>"
    )
    ome = ome_types.from_xml(doc)
    assert ome.structured_annotations is not None
    return ome.structured_annotations.xml_annotations[0]


def not_an_image(path: Path, what: str) -> UnsupportedFormatError:
    """The one error for a FLIM/TCSPC file that holds no image."""
    return UnsupportedFormatError(
        f"{path}: not an image: {what}; there is nothing to convert to OME-TIFF"
    )
