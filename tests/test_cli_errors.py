"""How the command line reports errors (STYLE 2.7), driven through ``main([...])``.

User errors: one line ``ometiff: error: ...``, exit 2, in command-line words.
Bugs: one line asking for a report, exit 3; the traceback only with ``--debug``.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
import typer

import ometiff
from ometiff.cli.app import app, cli_message
from ometiff.cli.main import main
from ometiff.errors import FileExistsOmeTiffError, InvalidTiffError, WriteError

SRC = Path(__file__).resolve().parents[1] / "src" / "ometiff"


@pytest.fixture
def ome_tiff(tmp_path: Path) -> Path:
    path = tmp_path / "image.ome.tif"
    ometiff.write(path, np.zeros((2, 16, 16), np.uint16), axes="CYX")
    return path


@pytest.fixture
def bad_xml(tmp_path: Path) -> Path:
    path = tmp_path / "badxml.ome.tif"
    xml = (
        '<?xml version="1.0"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image'
    )
    tifffile.imwrite(path, np.zeros((16, 16), np.uint8), description=xml, metadata=None)
    return path


def _boom(*args: object, **kwargs: object) -> object:
    raise TypeError("boom")


# --- bugs --------------------------------------------------------------------------------


def test_bug_is_one_line_and_exit_3(
    ome_tiff: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("ometiff.inspection.info", _boom)
    assert main(["info", str(ome_tiff)]) == 3
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "ometiff: internal error (TypeError: boom); please report it, with the output of --debug"
    ]


def test_debug_shows_the_traceback(
    ome_tiff: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("ometiff.inspection.info", _boom)
    assert main(["--debug", "info", str(ome_tiff)]) == 3
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert 'raise TypeError("boom")' in err
    assert err.rstrip().endswith("please report it, with the output of --debug")


def test_bug_in_the_tiff_reader_is_reported_as_a_bug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "plain.tif"
    tifffile.imwrite(src, np.zeros((16, 16), np.uint8))
    monkeypatch.setattr(tifffile, "TiffFile", _boom)
    assert main(["convert", str(src), str(tmp_path / "out.ome.tif")]) == 3
    err = capsys.readouterr().err
    assert "internal error (TypeError: boom)" in err
    assert "not a readable" not in err
    assert not (tmp_path / "out.ome.tif").exists()


# --- user errors -------------------------------------------------------------------------


def test_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.ome.tif"
    for command in (["info"], ["validate"], ["xml"], ["meta", "get"], ["repair"]):
        assert main([*command, str(missing)]) == 2, command
        err = capsys.readouterr().err
        assert err.splitlines() in (
            [f"ometiff: error: {missing}: no such file"],
            [f"ometiff: error: {missing}: no such file or folder"],
            [f"ometiff: error: {missing}: no such file or directory"],  # any input: folders too
        ), (command, err)


def test_user_error_with_debug_keeps_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--debug", "xml", str(tmp_path / "missing.ome.tif")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert err.splitlines()[-1].startswith("ometiff: error: ")


def test_path_is_not_repeated(bad_xml: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(bad_xml)]) == 2
    captured = capsys.readouterr()
    for line in (captured.out + captured.err).splitlines():
        assert line.count(bad_xml.name) <= 1, line
    assert main(["validate", str(bad_xml)]) == 1
    out = capsys.readouterr().out
    assert out.count("IFD 0/tag 270") == 1, out
    assert "(<string>, line 1)" not in out


def test_cli_speaks_cli_for_library_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "plain.tif"
    tifffile.imwrite(src, np.zeros((16, 16), np.uint8))
    out = tmp_path / "out.ome.tif"
    assert main(["convert", str(src), str(out), "--compression", "foo"]) == 2
    err = capsys.readouterr().err
    assert "--compression foo is not supported" in err
    assert "compression=" not in err
    assert main(["convert", str(src), str(out), "--tile", "100"]) == 2
    err = capsys.readouterr().err
    assert "--tile 100" in err and "tile=" not in err


def test_cli_message_maps_the_named_option() -> None:
    exc = FileExistsOmeTiffError(
        "a.ome.tif exists; pass overwrite=True to replace it", option="overwrite"
    )
    assert cli_message(exc) == "a.ome.tif exists; pass --overwrite to replace it"
    exc2 = WriteError("compression='foo' is not supported", option="compression")
    assert cli_message(exc2) == "--compression foo is not supported"
    exc3 = WriteError("x: pass bigtiff_mode=True", option="bigtiff_mode")
    assert cli_message(exc3) == "x: pass --bigtiff-mode"
    plain = InvalidTiffError("a.tif: level=3 in the file")  # no option named: unchanged
    assert cli_message(plain) == "a.tif: level=3 in the file"


def test_usage_errors_are_one_line_without_checklist_codes(
    ome_tiff: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = str(tmp_path / "x.png")
    cases = [
        (["show", str(ome_tiff), "-o", png, "--c", "x"], "--c takes a channel number"),
        (["show", str(ome_tiff), "-o", png, "--project", "min"], "--project takes 'max'"),
        (["meta", "set", str(ome_tiff)], "nothing to set"),
        (["meta", "set", str(ome_tiff), "--channel-name", "DAPI"], "expected KEY=VALUE"),
        (["repair", "--to-companion", "--to-embedded", str(ome_tiff)], "exclude each other"),
    ]
    for args, text in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and text in err, (args, err)
        assert re.search(r"\b[A-Z]\d+\b|checklist", err) is None, err


# --- every `ometiff <command>` named in a message exists ------------------------------


def _named_commands(root: Path) -> set[str]:
    found: set[str] = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.update(m.strip() for m in re.findall(r"`ometiff ([^`]+)`", node.value))
    return found


def _resolves(words: list[str]) -> str | None:
    """None when ``ometiff <words>`` names a real command and its options; else why not."""
    command: Any = typer.main.get_command(app)  # typer vendors click: duck-type groups
    resolved = False
    for word in words:
        if word in getattr(command, "commands", {}):
            command, resolved = command.commands[word], True
        elif word.startswith("-"):
            flag = word.split("=")[0]
            if not any(flag in p.opts for p in command.params):
                return f"{command.name} has no option {flag}"
        elif not resolved:
            return f"no command {word!r}"
    if hasattr(command, "commands"):
        return f"{command.name} needs a subcommand"
    return None


def test_named_command_checker_refuses_unknown_commands() -> None:
    assert _resolves(["edit"]) == "no command 'edit'"
    assert _resolves(["meta"]) == "meta needs a subcommand"
    assert _resolves(["convert", "--no-such-option"]) == "convert has no option --no-such-option"
    assert _resolves(["meta", "set", "FILE", "--name", "NAME"]) is None


def _variants(text: str) -> list[list[str]]:
    """``meta get|set`` -> ``[["meta", "get"], ["meta", "set"]]``."""
    out: list[list[str]] = [[]]
    for word in text.split():
        out = [[*v, alt] for v in out for alt in word.split("|")]
    return out


def test_every_command_named_in_a_message_exists() -> None:
    named = _named_commands(SRC)
    assert {"repair", "xml --upgrade"} <= named  # the scan sees the hints
    problems = {
        " ".join(words): why
        for text in sorted(named)
        for words in _variants(text)
        if (why := _resolves(words))
    }
    assert problems == {}


def test_time_increment_example_is_a_time(
    ome_tiff: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["meta", "set", str(ome_tiff), "--time-increment", "xx"]) == 2
    err = capsys.readouterr().err
    assert "e.g. 2s" in err and "µm" not in err


def test_convert_onto_an_existing_file_speaks_each_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """convert's refusal to replace an output: the library names ``overwrite=True``,
    the command line ``--overwrite`` (never both in one message)."""
    src = ometiff.write(tmp_path / "src.ome.tif", np.zeros((8, 8), np.uint8), axes="YX")
    dst = tmp_path / "dst.ome.tif"
    dst.write_bytes(b"keep me")
    with pytest.raises(ometiff.FileExistsOmeTiffError) as info:
        ometiff.convert(src, dst)
    assert "overwrite=True" in str(info.value) and "--overwrite" not in str(info.value)
    assert main(["convert", str(src), str(dst)]) == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and "overwrite=True" not in err
    assert dst.read_bytes() == b"keep me"


@pytest.mark.parametrize("command", [["info", "--json"], ["info", "--stats"], ["convert"]])
def test_library_message_with_a_newline_stays_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """A NUL inside the OME-XML (a fuzz finding, issue 15): lxml's message has a newline."""
    path = tmp_path / "nul.ome.tif"
    ometiff.write(path, np.zeros((2, 16, 16), np.uint16), axes="CYX")
    data = bytearray(path.read_bytes())
    at = data.index(b"<Image") + 3
    data[at : at + 4] = b"\x00" * 4
    path.write_bytes(bytes(data))
    args = [*command, str(path)] + (
        [str(tmp_path / "out.ome.tif")] if command == ["convert"] else []
    )
    code = main(args)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith("ometiff: error: ") and path.name in lines[0]
    assert not (tmp_path / "out.ome.tif").exists()


def test_stats_line_speaks_cli_words(
    ome_tiff: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``info --stats`` over the memory budget: the stats line and the error both name
    ``--max-memory``, not the API's ``max_memory=``."""
    assert main(["--max-memory", "100", "info", "--stats", str(ome_tiff)]) == 2
    out, err = capsys.readouterr()
    stats = [line for line in out.splitlines() if "pixels cannot be read" in line]
    assert stats and all("--max-memory SIZE" in line for line in stats), out
    assert "max_memory=" not in out + err
    assert err.startswith("ometiff: error: ") and "--max-memory SIZE" in err


def test_stats_json_speaks_cli_words(ome_tiff: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``info --stats --json`` says what the text says: ``--max-memory SIZE``; the
    option's name stays in ``option`` for a program to act on."""
    assert main(["--max-memory", "100", "info", "--stats", "--json", str(ome_tiff)]) == 2
    out, err = capsys.readouterr()
    rows = json.loads(out)["stats"]
    assert rows and all("error" in r for r in rows), rows
    for r in rows:
        assert "--max-memory SIZE" in r["error"] and "max_memory=" not in r["error"]
        assert r["option"] == "max_memory"
    assert "--max-memory SIZE" in err
