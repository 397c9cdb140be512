"""Compare a reader's OME with what Bio-Formats reported for the same file.

The expectations are recorded by ``scripts/record_bioformats.py`` into
``tests/expected/bioformats/<kind>.json``; both sides are summarised by the same
``summarize_omexml`` so the comparison is like for like.
"""

from __future__ import annotations

import importlib.util
import json
import math
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import ome_types
from ome_types import model as m

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = ROOT / "tests" / "expected" / "bioformats"


@cache
def recorder() -> ModuleType:
    """The ``scripts/record_bioformats.py`` module."""
    spec = importlib.util.spec_from_file_location(
        "record_bioformats", ROOT / "scripts" / "record_bioformats.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def _load(kind: str) -> dict[str, Any]:
    path = EXPECTED / f"{kind}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"files": {}}


def expected_for(rel: str) -> dict[str, Any] | None:
    """Bio-Formats' summary of a corpus file (``rel`` relative to the corpus)."""
    kind = Path(rel).parts[0]
    return _load(kind)["files"].get(rel)


def assert_every_file_recorded(kind: str, tested: Iterable[str]) -> None:
    """Corpus folder ``kind``, the files a test runs on and the records all agree.

    ``tested`` are corpus-relative paths. Fails when the folder holds a file the
    test does not run on, when a file has no Bio-Formats record (run
    ``scripts/record_bioformats.py``), when a recorded file is gone (the corpus
    shrank) and when there are no records at all: neither an empty nor a shrunken
    corpus passes, while recorded additions do.
    """
    recorded = set(_load(kind)["files"])
    assert recorded, f"no Bio-Formats records for {kind}/ in {EXPECTED}"
    module = recorder()
    inputs = {p.relative_to(module.CORPUS).as_posix() for p in module.corpus_inputs(kind)}
    untested = sorted(inputs - set(tested))
    unrecorded = sorted(inputs - recorded)
    gone = sorted(recorded - inputs)
    assert not untested, f"{kind}/ files no test runs on: {untested}"
    assert not unrecorded, f"run scripts/record_bioformats.py {kind}: {unrecorded}"
    assert not gone, f"recorded but missing from the corpus: {gone}"


def summarize_ome(ome: m.OME) -> dict[str, Any]:
    """Summarise our OME exactly as Bio-Formats' OME-XML is summarised."""
    copy = ome.model_copy(deep=True)
    for image in copy.images:
        px = image.pixels
        if not (px.tiff_data_blocks or px.bin_data_blocks or px.metadata_only):
            px.metadata_only = m.MetadataOnly()
    return recorder().summarize_omexml(ome_types.to_xml(copy))


def _name(value: str | None) -> str | None:
    return value or None  # Bio-Formats writes Name="" where others omit it


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-3)


def assert_like_bioformats(
    ours: dict[str, Any], bf: dict[str, Any], *, names: bool = True, where: str = ""
) -> None:
    """Series count, sizes, pixel type, physical sizes, channels (and names) agree."""
    assert "error" not in bf, f"{where}: Bio-Formats could not read it: {bf['error']}"
    assert ours["series_count"] == bf["series_count"], where
    keys = ("size_x", "size_y", "size_z", "size_c", "size_t", "pixel_type")
    for i, (a, b) in enumerate(zip(ours["series"], bf["series"], strict=True)):
        at = f"{where} series {i}"
        assert {k: a[k] for k in keys} == {k: b[k] for k in keys}, at
        for axis in "xyz":
            key = f"physical_size_{axis}"
            assert _close(a[key], b[key]), f"{at}: {key} {a[key]} != {b[key]}"
        assert a["channel_count"] == b["channel_count"], at
        assert a["samples_per_pixel"] == b["samples_per_pixel"], at
        if names:
            ours_names = [_name(n) for n in a["channel_names"]]
            bf_names = [_name(n) for n in b["channel_names"]]
            assert ours_names == bf_names, at


def assert_bioformats_pixels_equal_source(src: Path, ours: Path, tmp_path: Path) -> None:
    """Bio-Formats decodes ``ours`` (bfconvert -noflat) to exactly the source reader's planes.

    Bio-Formats' re-encoded file is read through its own OME-XML plane map, so
    Modulo annotations and any DimensionOrder it chooses are honoured.
    """
    import numpy as np
    from tests.bioformats import bfconvert

    from ometiff.readers import open_image

    back = tmp_path / "bf.ome.tif"
    bfconvert(ours, back, "-noflat")
    with open_image(src) as rdr, open_image(back) as bf:
        sources, decoded = rdr.sources(), bf.sources()
        assert len(decoded) == len(sources)
        for source, other in zip(sources, decoded, strict=True):
            assert other.shape == source.shape and other.samples == source.samples
            t_n, c_n, z_n = source.shape[:3]
            for t in range(t_n):
                for c in range(c_n):
                    for z in range(z_n):
                        np.testing.assert_array_equal(
                            other.get_plane(t, c, z),
                            source.get_plane(t, c, z),
                            err_msg=f"plane t={t} c={c} z={z}",
                        )
