"""Small shared type aliases."""

from __future__ import annotations

import os

type StrPath = str | os.PathLike[str]

#: OME pixel type names in the order of the 2016-06 schema (checklist D2).
OME_PIXEL_TYPES = (
    "int8",
    "int16",
    "int32",
    "uint8",
    "uint16",
    "uint32",
    "float",
    "double",
    "complex",
    "double-complex",
    "bit",
)

#: numpy dtype string -> OME pixel type name.
DTYPE_TO_OME = {
    "int8": "int8",
    "int16": "int16",
    "int32": "int32",
    "uint8": "uint8",
    "uint16": "uint16",
    "uint32": "uint32",
    "float32": "float",
    "float64": "double",
    "complex64": "complex",
    "complex128": "double-complex",
    "bool": "bit",
}

#: OME pixel type name -> numpy dtype string.
OME_TO_DTYPE = {v: k for k, v in DTYPE_TO_OME.items()}

#: The six legal DimensionOrder values (checklist D3).
DIMENSION_ORDERS = ("XYZCT", "XYZTC", "XYCTZ", "XYCZT", "XYTCZ", "XYTZC")
