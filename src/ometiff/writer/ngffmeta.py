"""NGFF (OME-Zarr) metadata: array metadata, ``multiscales``, ``omero``, plate and well.

The JSON documents of NGFF 0.4 (Zarr v2: ``.zarray``, ``.zgroup``, ``.zattrs``) and
NGFF 0.5 (Zarr v3: ``zarr.json`` with the NGFF attributes under ``"ome"``), built
from plain values so that :mod:`ometiff.writer.ngff` can write them without
importing zarr. Physical sizes and the time increment become ``scale``
transformations with NGFF unit names (:func:`ometiff.ome.units.ngff_quantity`);
channel colours go through :mod:`ometiff.ome.colour`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ometiff.errors import WriteError
from ometiff.ome.colour import ome_to_hex
from ometiff.ome.units import ngff_quantity

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ome_types import model as m

NgffVersion = Literal["0.4", "0.5"]
NGFF_VERSIONS: tuple[NgffVersion, ...] = ("0.4", "0.5")
#: Codecs of the chunks: the names of the ``compression`` option.
NGFF_CODECS = ("zstd", "blosc", "gzip", "none")
#: Default levels: zstd 1 encodes noisy 16-bit data 3x faster than level 3 for 15 %
#: larger chunks; blosc is lz4 level 5 with byte shuffle, as bioformats2raw writes it.
DEFAULT_LEVEL = {"zstd": 1, "blosc": 5, "gzip": 6}
BLOSC_CNAME = "lz4"
#: The five axes every array has, in NGFF order (bioformats2raw writes 5-D too).
AXES = "tczyx"
#: Channel colours when the OME has none (one channel: white; RGB samples: red, green, blue).
DEFAULT_COLOURS = ("FF0000", "00FF00", "0000FF", "FF00FF", "00FFFF", "FFFF00")


@dataclass(frozen=True)
class ArraySpec:
    """One Zarr array (one pyramid level): shape, chunking and codec."""

    shape: tuple[int, int, int, int, int]
    chunks: tuple[int, int, int, int, int]
    shards: tuple[int, int, int, int, int] | None
    dtype: np.dtype
    codec: str
    level: int
    zarr_format: int

    @property
    def store_unit(self) -> tuple[int, int, int, int, int]:
        """The shape of one stored object: a shard when sharded, else a chunk."""
        return self.shards or self.chunks

    def chunk_key(self, index: Sequence[int]) -> str:
        """Path of the stored object at grid ``index`` (``/`` separated keys)."""
        key = "/".join(str(int(i)) for i in index)
        return f"c/{key}" if self.zarr_format == 3 else key

    def metadata(self) -> tuple[str, dict[str, Any]]:
        """The array metadata document: (file name, JSON)."""
        if self.zarr_format == 2:
            compressor: dict[str, Any] | None = None
            if self.codec == "zstd":
                compressor = {"id": "zstd", "level": self.level, "checksum": False}
            elif self.codec == "blosc":
                compressor = {
                    "id": "blosc",
                    "cname": BLOSC_CNAME,
                    "clevel": self.level,
                    "shuffle": 1 if self.dtype.itemsize > 1 else 0,
                    "blocksize": 0,
                }
            elif self.codec == "gzip":
                compressor = {"id": "gzip", "level": self.level}
            return ".zarray", {
                "zarr_format": 2,
                "shape": list(self.shape),
                "chunks": list(self.chunks),
                "dtype": self.dtype.newbyteorder("<").str
                if self.dtype.itemsize > 1
                else self.dtype.str,
                "compressor": compressor,
                "fill_value": _fill(self.dtype),
                "order": "C",
                "filters": None,
                "dimension_separator": "/",
            }
        codecs: list[dict[str, Any]] = [{"name": "bytes", "configuration": {"endian": "little"}}]
        if self.codec == "zstd":
            codecs.append(
                {"name": "zstd", "configuration": {"level": self.level, "checksum": False}}
            )
        elif self.codec == "blosc":
            codecs.append(
                {
                    "name": "blosc",
                    "configuration": {
                        "typesize": self.dtype.itemsize,
                        "cname": BLOSC_CNAME,
                        "clevel": self.level,
                        "shuffle": "shuffle" if self.dtype.itemsize > 1 else "noshuffle",
                        "blocksize": 0,
                    },
                }
            )
        elif self.codec == "gzip":
            codecs.append({"name": "gzip", "configuration": {"level": self.level}})
        if self.shards is not None:
            codecs = [
                {
                    "name": "sharding_indexed",
                    "configuration": {
                        "chunk_shape": list(self.chunks),
                        "codecs": codecs,
                        "index_codecs": [
                            {"name": "bytes", "configuration": {"endian": "little"}},
                            {"name": "crc32c"},
                        ],
                        "index_location": "end",
                    },
                }
            ]
        return "zarr.json", {
            "zarr_format": 3,
            "node_type": "array",
            "shape": list(self.shape),
            "data_type": self.dtype.name,
            "chunk_grid": {
                "name": "regular",
                "configuration": {"chunk_shape": list(self.store_unit)},
            },
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": _fill(self.dtype),
            "codecs": codecs,
            "attributes": {},
            "dimension_names": list(AXES),
            "storage_transformers": [],
        }


def _fill(dtype: np.dtype) -> Any:
    if dtype.kind == "b":
        return False
    return 0.0 if dtype.kind == "f" else 0


def group_documents(attrs: dict[str, Any], version: NgffVersion) -> dict[str, dict[str, Any]]:
    """The files of a group holding NGFF attributes ``attrs``: {file name: JSON}."""
    if version == "0.4":
        return {".zgroup": {"zarr_format": 2}, ".zattrs": attrs}
    ome = {"version": "0.5", **attrs} if attrs else {}
    return {
        "zarr.json": {
            "zarr_format": 3,
            "node_type": "group",
            "attributes": {"ome": ome} if ome else {},
        }
    }


def check_dtype(dtype: np.dtype, version: NgffVersion, where: str) -> None:
    """Refuse pixel types the NGFF version (and OME's pixel types) cannot describe."""
    if (
        dtype.kind not in "biuf"
        or dtype.itemsize > 8
        or (dtype.kind in "iu" and dtype.itemsize == 8)
    ):
        raise WriteError(
            f"{where}: pixel type {dtype} cannot be written as OME-Zarr {version} "
            "(OME pixel types: bool, (u)int8-32, float32, float64); convert it first, "
            "e.g. data.astype('float32')"
        )
    if dtype == np.float16:
        raise WriteError(
            f"{where}: float16 has no OME pixel type; convert it to float32 "
            f"before writing OME-Zarr {version}"
        )


def axes_and_scales(
    image: m.Image | None,
    level_yx: Sequence[tuple[int, int]],
    version: NgffVersion,
) -> tuple[list[dict[str, Any]], list[list[float]]]:
    """NGFF ``axes`` and the ``scale`` of each level from an OME Image.

    Y and X scales grow with the level's downsampling (the full-resolution size
    divided by the level's size); Z and T keep theirs. Axes without a physical
    size carry no unit (never invented, U3), and their scale is 1.
    """
    px = image.pixels if image is not None else None
    units: dict[str, str | None] = dict.fromkeys(AXES)
    base = dict.fromkeys(AXES, 1.0)
    if px is not None:
        for axis, value, unit in (
            ("x", px.physical_size_x, px.physical_size_x_unit),
            ("y", px.physical_size_y, px.physical_size_y_unit),
            ("z", px.physical_size_z, px.physical_size_z_unit),
        ):
            if value is not None and value > 0:
                q = ngff_quantity(value, _unit_text(unit), "length")
                if q is not None:
                    base[axis], units[axis] = q
        if px.time_increment is not None and px.time_increment > 0:
            q = ngff_quantity(px.time_increment, _unit_text(px.time_increment_unit), "time")
            if q is not None:
                base["t"], units["t"] = q
    # one spatial unit for x, y and z (NGFF readers assume it): convert to micrometer
    space = {units[a] for a in "zyx" if units[a] is not None}
    if len(space) > 1:
        for a in "zyx":
            if units[a] is not None:
                base[a] = _to_um(base[a], units[a])
                units[a] = "micrometer"
    axes: list[dict[str, Any]] = []
    for a in AXES:
        kind = "time" if a == "t" else "channel" if a == "c" else "space"
        entry: dict[str, Any] = {"name": a, "type": kind}
        if units[a] is not None:
            entry["unit"] = units[a]
        axes.append(entry)
    y0, x0 = level_yx[0]
    scales = []
    for y, x in level_yx:
        scales.append(
            [base["t"], 1.0, base["z"], _tidy(base["y"] * y0 / y), _tidy(base["x"] * x0 / x)]
        )
    return axes, scales


def _unit_text(unit: Any) -> str | None:
    if unit is None:
        return None
    return str(getattr(unit, "value", unit))


def _to_um(value: float, ngff_unit: str | None) -> float:
    from ometiff.ome.units import NGFF_LENGTH_UNITS, to_micrometres

    symbol = next((k for k, v in NGFF_LENGTH_UNITS.items() if v == ngff_unit), "µm")
    out = to_micrometres(value, symbol)
    return value if out is None else out


def _tidy(value: float) -> float:
    return float(f"{value:.12g}")


def multiscales(
    name: str | None,
    axes: list[dict[str, Any]],
    scales: list[list[float]],
    version: NgffVersion,
    method: str,
) -> dict[str, Any]:
    """One ``multiscales`` entry: datasets ``0``, ``1``, ... with their scales."""
    ms: dict[str, Any] = {}
    if version == "0.4":
        ms["version"] = "0.4"
    if name:
        ms["name"] = name
    ms["axes"] = axes
    ms["datasets"] = [
        {"path": str(k), "coordinateTransformations": [{"type": "scale", "scale": scale}]}
        for k, scale in enumerate(scales)
    ]
    if method != "source":
        ms["type"] = method
    ms["metadata"] = {
        "method": f"ometiff.writer.pyramid.downsample ({method})"
        if method != "source"
        else "the source's own pyramid"
    }
    return ms


def omero(
    image: m.Image | None,
    size_c: int,
    samples: int,
    dtype: np.dtype,
    ranges: Sequence[tuple[float, float] | None],
    size_z: int,
    version: NgffVersion,
) -> dict[str, Any]:
    """The ``omero`` block: one entry per stored channel, window from the data.

    ``size_c`` counts OME channels; an RGB(A) channel is stored as 3 (4) Zarr
    channels labelled ``<name> R``/``G``/``B``(/``A``).
    """
    if dtype.kind == "b":
        lo, hi = 0.0, 1.0
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = float(info.min), float(info.max)
    else:
        lo = hi = 0.0  # floats: the data range (below)
    chans = image.pixels.channels if image is not None else []
    out = []
    for c in range(size_c):
        ch = chans[c] if c < len(chans) else None
        label = (ch.name if ch is not None and ch.name else None) or f"Channel {c}"
        colour = ome_to_hex(int(ch.color)) if ch is not None and ch.color is not None else None
        for s in range(samples):
            k = c * samples + s
            data = ranges[k] if k < len(ranges) else None
            start, end = data if data is not None else (lo, hi)
            if samples > 1:
                name = f"{label} {'RGBA'[s]}"
                hexc = ("FF0000", "00FF00", "0000FF", "FFFFFF")[s]
            else:
                name = label
                hexc = (
                    colour[1:7] if colour else ("FFFFFF" if size_c == 1 else DEFAULT_COLOURS[c % 6])
                )
            wmin, wmax = (lo, hi) if dtype.kind != "f" else (start, end)
            out.append(
                {
                    "active": True,
                    "coefficient": 1.0,
                    "color": hexc,
                    "family": "linear",
                    "inverted": False,
                    "label": name,
                    "window": {"min": wmin, "max": wmax, "start": start, "end": end},
                }
            )
    block: dict[str, Any] = {
        "channels": out,
        "rdefs": {
            "defaultT": 0,
            "defaultZ": size_z // 2,
            "model": "color" if len(out) > 1 else "greyscale",
        },
    }
    if version == "0.4":
        block["version"] = "0.4"
    if image is not None and image.name:
        block["name"] = image.name
    return block


def row_name(index: int, naming: str | None) -> str:
    """A plate row name: letters (A..Z, AA..) unless the plate names rows by number."""
    if naming == "number":
        return str(index + 1)
    name, n = "", index
    while True:
        name = chr(ord("A") + n % 26) + name
        n = n // 26 - 1
        if n < 0:
            return name


def column_name(index: int, naming: str | None) -> str:
    """A plate column name: numbers (1, 2, ...) unless the plate names columns by letter."""
    if naming == "letter":
        return row_name(index, None)
    return str(index + 1)


@dataclass
class PlateLayout:
    """Where each series goes in an HCS plate: ``{series: "A/1/0"}`` plus the JSON."""

    paths: dict[int, str]
    plate: dict[str, Any]
    wells: dict[str, dict[str, Any]]


def plate_layout(ome: m.OME, version: NgffVersion) -> PlateLayout | None:
    """The NGFF plate of the first OME Plate, or None when there is none.

    Each WellSample's Image becomes field ``<row>/<column>/<k>``. Only when the
    first Plate holds every Image: readers of an NGFF plate see nothing else, so
    otherwise the series stay ``0``, ``1``, ... (the Plate is in the OME-XML).
    """
    if not ome.plates:
        return None
    plate = ome.plates[0]
    index = {im.id: i for i, im in enumerate(ome.images)}
    rnaming = _unit_text(plate.row_naming_convention)
    cnaming = _unit_text(plate.column_naming_convention)
    paths: dict[int, str] = {}
    wells: dict[str, dict[str, Any]] = {}
    rows: set[int] = set()
    cols: set[int] = set()
    for well in plate.wells:
        r, c = int(well.row), int(well.column)
        images: list[dict[str, str]] = []
        for ws in well.well_samples:
            if ws.image_ref is None or ws.image_ref.id not in index:
                continue
            k = len(images)
            images.append({"path": str(k)})
            path = f"{row_name(r, rnaming)}/{column_name(c, cnaming)}"
            paths[index[ws.image_ref.id]] = f"{path}/{k}"
        if images:
            rows.add(r)
            cols.add(c)
            path = f"{row_name(r, rnaming)}/{column_name(c, cnaming)}"
            doc: dict[str, Any] = {"images": images}
            if version == "0.4":
                doc["version"] = "0.4"
            wells[path] = {"well": doc}
    if len(paths) != len(ome.images):
        return None  # Images outside the plate: readers of a plate would not see them
    row_list, col_list = sorted(rows), sorted(cols)
    doc = {
        "name": plate.name or plate.id,
        "rows": [{"name": row_name(r, rnaming)} for r in row_list],
        "columns": [{"name": column_name(c, cnaming)} for c in col_list],
        "wells": [
            {
                "path": p,
                "rowIndex": row_list.index(int(w.row)),
                "columnIndex": col_list.index(int(w.column)),
            }
            for p, w in sorted(
                (
                    (f"{row_name(int(w.row), rnaming)}/{column_name(int(w.column), cnaming)}", w)
                    for w in plate.wells
                ),
                key=lambda pw: pw[0],
            )
            if p in wells
        ],
        "field_count": max(len(w["well"]["images"]) for w in wells.values()),
    }
    if version == "0.4":
        doc["version"] = "0.4"
    return PlateLayout(paths, {"plate": doc}, wells)
