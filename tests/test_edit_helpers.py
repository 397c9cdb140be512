"""Helpers (no tests) for the edit and repair tests: OME-TIFFs written by tifffile with our own OME-XML."""

from __future__ import annotations

import hashlib
import shutil
import stat
import uuid as _uuid
from pathlib import Path

import numpy as np
import tifffile

NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


def ome_xml(
    *,
    size_x: int = 48,
    size_y: int = 32,
    size_z: int = 2,
    size_c: int = 2,
    size_t: int = 1,
    tiffdata: str | None = '<TiffData IFD="0" PlaneCount="{n}"/>',
    pixel_attrs: str = "",
    uuid: str | None = None,
    channel_names: tuple[str, ...] = (),
    extra: str = "",
) -> str:
    channels = "".join(
        f'<Channel ID="Channel:0:{c}" SamplesPerPixel="1"'
        + (f' Name="{channel_names[c]}"' if c < len(channel_names) else "")
        + "/>"
        for c in range(size_c)
    )
    n = size_z * size_c * size_t
    td = (tiffdata or "").format(n=n)
    root_uuid = f' UUID="{uuid}"' if uuid else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<OME xmlns="{NS}"{root_uuid}>'
        f'<Image ID="Image:0" Name="test"><Pixels ID="Pixels:0" DimensionOrder="XYZCT" '
        f'Type="uint16" SizeX="{size_x}" SizeY="{size_y}" SizeZ="{size_z}" SizeC="{size_c}" '
        f'SizeT="{size_t}"{" " + pixel_attrs if pixel_attrs else ""}>{channels}{td}</Pixels></Image>{extra}</OME>'
    )


def write_ome(
    path: Path,
    xml: str,
    *,
    planes: int = 4,
    size_y: int = 32,
    size_x: int = 48,
    bigtiff: bool = False,
) -> np.ndarray:
    data = (np.arange(planes * size_y * size_x, dtype=np.uint16) * 7).reshape(
        planes, size_y, size_x
    )
    tifffile.imwrite(
        path,
        data,
        description=xml.encode("utf-8"),
        metadata=None,
        photometric="minisblack",
        bigtiff=bigtiff,
    )
    return data


def new_uuid() -> str:
    return f"urn:uuid:{_uuid.uuid4()}"


def pixels_hash(path: Path) -> str:
    with tifffile.TiffFile(path) as tf:
        h = hashlib.sha1()
        for page in tf.pages:
            h.update(page.asarray().tobytes())
        return h.hexdigest()


def copy_corpus(src: Path, dst: Path) -> Path:
    """Copy a corpus file or folder into tmp and make the copy writable (corpus stays read-only)."""
    if src.is_dir():
        shutil.copytree(src, dst)
        for p in dst.iterdir():
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
    else:
        shutil.copyfile(src, dst)
        dst.chmod(dst.stat().st_mode | stat.S_IWUSR)
    return dst


def assert_valid(path: Path) -> None:
    """No errors from ometiff.validate."""
    from ometiff.validation.validator import validate

    report = validate(path)
    errors = [(i.code, i.loc, i.message) for i in report.issues if i.severity == "error"]
    assert errors == []


def embedded_pair(folder: Path) -> list[Path]:
    """Two files, one channel each, full metadata embedded in both (M3)."""
    folder.mkdir()
    uuids = [new_uuid(), new_uuid()]
    names = ["set_C0.ome.tif", "set_C1.ome.tif"]
    tds = "".join(
        f'<TiffData FirstC="{c}" IFD="0" PlaneCount="2"><UUID FileName="{names[c]}">{uuids[c]}</UUID></TiffData>'
        for c in range(2)
    )
    paths = []
    for c in range(2):
        p = folder / names[c]
        write_ome(p, ome_xml(tiffdata=tds, uuid=uuids[c]), planes=2)
        paths.append(p)
    return paths
