"""One error hierarchy, used consistently; no process-wide side effects (STYLE 2.5).

* a missing input raises :class:`MissingFileError` from every public function;
* ``OmeTiffError`` itself is never raised bare;
* a programming error inside a reader surfaces as itself, not as "not a readable file";
* library calls leave tifffile's logger, the garbage collector and the reader's
  cached metadata alone.
"""

from __future__ import annotations

import ast
import gc
import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

import ometiff
from ometiff.errors import (
    FileExistsOmeTiffError,
    InvalidTiffError,
    MissingFileError,
    OmeTiffError,
    WriteError,
)

SRC = Path(__file__).resolve().parents[1] / "src" / "ometiff"


@pytest.fixture
def ome_tiff(tmp_path: Path) -> Path:
    path = tmp_path / "image.ome.tif"
    ometiff.write(
        path, np.arange(2 * 3 * 16 * 16, dtype=np.uint16).reshape(2, 3, 16, 16), axes="CZYX"
    )
    return path


@pytest.fixture
def plain_tiff(tmp_path: Path) -> Path:
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, np.arange(3 * 16 * 16, dtype=np.uint8).reshape(3, 16, 16))
    return path


# --- a missing file: one class from every public function ----------------------------

MISSING_CALLS: dict[str, Callable[[Path, Path], object]] = {
    "info": lambda p, d: ometiff.info(p),
    "validate": lambda p, d: ometiff.validate(p),
    "inspect_tiff": lambda p, d: ometiff.inspect_tiff(p),
    "read_ome": lambda p, d: ometiff.read_ome(p),
    "read_ome_xml": lambda p, d: ometiff.read_ome_xml(p),
    "convert": lambda p, d: ometiff.convert(p, d / "out.ome.tif"),
    "ome_xml_of": lambda p, d: ometiff.ome_xml_of(p),
    "open_image": lambda p, d: ometiff.open_image(p),
    "open": lambda p, d: ometiff.open(p),
    "imread": lambda p, d: ometiff.imread(p),
    "meta_get": lambda p, d: ometiff.meta_get(p),
    "meta_set": lambda p, d: ometiff.meta_set(p, name="x"),
    "meta_replace": lambda p, d: ometiff.meta_replace(p, b"<OME/>"),
    "repair": lambda p, d: ometiff.repair([p]),
    "channel_stats": lambda p, d: ometiff.channel_stats(p),
    "render_png": lambda p, d: ometiff.render_png(p, d / "out.png"),
}


@pytest.mark.parametrize("name", sorted(MISSING_CALLS))
def test_missing_input_raises_missing_file_error(name: str, tmp_path: Path) -> None:
    missing = tmp_path / "missing.ome.tif"
    with pytest.raises(MissingFileError, match=r"missing\.ome\.tif: no such file") as info:
        MISSING_CALLS[name](missing, tmp_path)
    assert isinstance(info.value, FileNotFoundError)  # `except FileNotFoundError` works too


def test_every_public_path_function_is_covered() -> None:
    takes_path = {
        name
        for name in ometiff.__all__
        if callable(getattr(ometiff, name)) and not isinstance(getattr(ometiff, name), type)
    } - {"parse_ome", "write", "write_sources", "memory_budget"}  # these take no path to read
    assert takes_path == set(MISSING_CALLS)


@pytest.mark.parametrize("overwrite", [False, True])
def test_write_into_missing_folder_raises_missing_file_error(
    tmp_path: Path, overwrite: bool
) -> None:
    target = tmp_path / "no-such-folder" / "x.ome.tif"
    with pytest.raises(MissingFileError, match="no-such-folder does not exist"):
        ometiff.write(target, np.zeros((8, 8), np.uint8), overwrite=overwrite)


def test_render_png_into_missing_folder(ome_tiff: Path, tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="does not exist"):
        ometiff.render_png(ome_tiff, tmp_path / "nowhere" / "x.png")


# --- the base class is never raised bare -----------------------------------------------


def _bare_raises(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and node.exc is not None:
                exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                name = exc.attr if isinstance(exc, ast.Attribute) else getattr(exc, "id", None)
                if name == "OmeTiffError":
                    found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_scanner_finds_a_bare_raise(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("def f():\n    raise OmeTiffError('x')\n")
    assert _bare_raises(tmp_path) == ["m.py:2"]


def test_ometiff_error_is_never_raised_bare() -> None:
    assert _bare_raises(SRC) == []


# --- programming errors are bugs, not "unreadable file" --------------------------------


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise TypeError("boom")


def test_bug_while_opening_a_tiff_is_not_a_clean_refusal(
    plain_tiff: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tifffile, "TiffFile", _boom)
    with pytest.raises(TypeError, match="boom"):
        ometiff.open_image(plain_tiff)


def test_bug_while_decoding_a_plane_is_not_a_clean_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "zlib.tif"  # compressed: planes are decoded page by page
    tifffile.imwrite(path, np.ones((2, 16, 16), np.uint8), compression="zlib")
    with ometiff.open_image(path) as reader:
        source = reader.sources()[0]
        assert int(source.get_plane(0, 0, 0).sum()) == 256
        monkeypatch.setattr(tifffile.TiffPage, "asarray", _boom)
        with pytest.raises(TypeError, match="boom"):
            source.get_plane(0, 0, 1)


def test_damaged_tiff_is_still_a_clean_refusal(tmp_path: Path) -> None:
    path = tmp_path / "junk.tif"
    path.write_bytes(b"II*\x00" + b"\xff" * 12)
    with pytest.raises(InvalidTiffError, match=r"junk\.tif"):
        ometiff.open_image(path)


def test_bug_in_tiff_calibration_surfaces_in_info(
    plain_tiff: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ometiff.readers.tifflayout as tifflayout

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("boom")

    monkeypatch.setattr(tifflayout, "tiff_calibration", broken)
    with pytest.raises(KeyError, match="boom"):
        ometiff.info(plain_tiff)


# --- no process-wide side effects ------------------------------------------------------


def test_importing_the_readers_leaves_tifffile_logging_alone() -> None:
    code = (
        "import logging, ometiff.readers.tiff, ometiff.readers.ome_tiff, ometiff.cli.main;"
        "print(logging.getLogger('tifffile').level)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(SRC.parent)},
    )
    assert out.stdout.strip() == str(logging.NOTSET)


def test_cli_restores_tifffile_log_level(
    plain_tiff: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ometiff.cli.main import main

    log = logging.getLogger("tifffile")
    before = log.level
    log.setLevel(logging.INFO)
    try:
        assert main(["info", str(plain_tiff)]) == 0
        assert log.level == logging.INFO
    finally:
        log.setLevel(before)


def test_validate_never_touches_the_garbage_collector(
    ome_tiff: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(gc, "disable", lambda: calls.append("disable"))
    monkeypatch.setattr(gc, "enable", lambda: calls.append("enable"))
    assert ometiff.validate(ome_tiff).ok
    assert calls == []


@pytest.mark.parametrize("kind", ["ome_tiff", "plain_tiff"])
def test_reader_metadata_edits_do_not_leak(kind: str, request: pytest.FixtureRequest) -> None:
    path: Path = request.getfixturevalue(kind)
    with ometiff.open_image(path) as reader:
        first = reader.ome()
        original = first.images[0].name
        first.images[0].name = "edited by the caller"
        first.images[0].pixels.channels.clear()
        second = reader.ome()
        assert second.images[0].name == original
        assert second.images[0].pixels.channels
        second.images[0].name = "edited again"
        assert reader.ome().images[0].name == original


def test_npy_reader_metadata_edits_do_not_leak(tmp_path: Path) -> None:
    path = tmp_path / "a.npy"
    np.save(path, np.zeros((2, 8, 8), np.uint8))
    with ometiff.open_image(path, axes="ZYX") as reader:
        reader.ome().images[0].name = "edited"
        assert reader.ome().images[0].name != "edited"


# --- library messages speak API --------------------------------------------------------


def test_overwrite_message_speaks_api(ome_tiff: Path) -> None:
    with pytest.raises(FileExistsOmeTiffError) as info:
        ometiff.write(ome_tiff, np.zeros((8, 8), np.uint8))
    assert "overwrite=True" in str(info.value)
    assert "--overwrite" not in str(info.value)
    assert info.value.option == "overwrite"


def test_usage_errors_carry_no_checklist_codes(tmp_path: Path) -> None:
    with pytest.raises(WriteError) as info:
        ometiff.write(tmp_path / "x.tif", np.zeros((8, 8), np.uint8))
    assert "C2" not in str(info.value) and "checklist" not in str(info.value)
    with pytest.raises(ometiff.InvalidValueError) as info:
        ometiff.write(tmp_path / "y.ome.tif", np.zeros((8, 8), np.uint8), physical_size={"X": 0})
    assert "W3" not in str(info.value) and "checklist" not in str(info.value)
    with pytest.raises(WriteError) as info:  # ambiguous RGB-like stack (R2)
        ometiff.write(tmp_path / "z.ome.tif", np.zeros((5, 8, 8, 3), np.uint8))
    assert "R2" not in str(info.value) and "checklist" not in str(info.value)
    with pytest.raises(WriteError) as info:  # a BigTIFF ending without BigTIFF (C2)
        ometiff.write(tmp_path / "b.ome.btf", np.zeros((8, 8), np.uint8), bigtiff=False)
    assert "C2" not in str(info.value) and "checklist" not in str(info.value)


def test_without_prefix() -> None:
    exc = InvalidTiffError("a.tif: broken")
    assert exc.without_prefix("a.tif") == "broken"
    assert exc.without_prefix("b.tif") == "a.tif: broken"
    assert isinstance(exc, OmeTiffError)


def test_bug_while_loading_ome_types_is_not_an_xml_error(
    ome_tiff: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ome_types

    monkeypatch.setattr(ome_types, "from_xml", _boom)
    with pytest.raises(TypeError, match="boom"):
        ometiff.read_ome(ome_tiff)
    with ometiff.open_image(ome_tiff) as reader, pytest.raises(TypeError, match="boom"):
        reader.ome()  # not a silent "not loadable; rebuilt" fallback


@pytest.mark.filterwarnings("ignore::Warning")  # xsdata warns, then raises ConverterError
def test_bad_ome_xml_is_still_an_xml_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.ome.tif"
    xml = (
        '<?xml version="1.0"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">'
        '<Image ID="Image:0"><Pixels ID="Pixels:0" SizeX="x"/></Image></OME>'
    )
    tifffile.imwrite(path, np.zeros((8, 8), np.uint8), description=xml, metadata=None)
    with pytest.raises(ometiff.OmeXmlError, match="cannot be loaded"):
        ometiff.read_ome(path)


# --- library calls draw no progress bar unless asked -----------------------------------


@pytest.fixture
def many_planes(tmp_path: Path) -> Path:
    path = tmp_path / "many.ome.tif"
    ometiff.write(path, np.zeros((80, 8, 8), np.uint8), axes="ZYX")
    return path


def _spy_bars(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    import rich.progress

    started: list[str] = []
    monkeypatch.setattr(rich.progress.Progress, "start", lambda self: started.append("bar"))
    monkeypatch.setattr(rich.progress.Progress, "stop", lambda self: None)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # as if on a terminal
    return started


def test_library_draws_no_progress_bar_by_default(
    many_planes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("PIL")
    started = _spy_bars(monkeypatch)
    ometiff.channel_stats(many_planes)
    ometiff.render_png(many_planes, tmp_path / "max.png", project="max")
    assert started == []
    ometiff.channel_stats(many_planes, progress=True)
    assert started == ["bar"]


def test_on_plane_reports_every_plane(many_planes: Path, tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    seen: list[tuple[int, int]] = []
    ometiff.channel_stats(many_planes, on_plane=lambda done, total: seen.append((done, total)))
    assert seen == [(k, 80) for k in range(1, 81)]
    seen.clear()
    ometiff.render_png(
        many_planes,
        tmp_path / "max.png",
        project="max",
        on_plane=lambda done, total: seen.append((done, total)),
    )
    assert seen[-1] == (80, 80) and len(seen) == 80
