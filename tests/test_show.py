"""``ometiff show`` and the image-data options of ``ometiff info`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import ometiff
from ometiff.cli.main import main

RNG = np.random.default_rng(11)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    d = tmp_path_factory.mktemp("show")
    data = RNG.integers(0, 1000, (2, 3, 24, 32), dtype=np.uint16)  # CZYX
    path = ometiff.write(d / "cz.ome.tif", data, axes="CZYX", channel_colors=["red", "#00FF00"])
    return path, data


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_show_writes_png_and_reports(
    sample: tuple[Path, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = sample
    png = tmp_path / "view.png"
    code, out, err = _run(capsys, "show", path, "-o", png, "--project", "max")
    assert code == 0, err
    assert "32x24 PNG" in out and "max over Z 0–2" in out
    with Image.open(png) as im:
        px = np.asarray(im)
    assert px.shape == (24, 32, 3)
    assert px[..., 2].max() == 0  # red + green channels only
    assert px[..., 0].max() == 255 and px[..., 1].max() == 255
    code, out, _ = _run(capsys, "show", path, "-o", png, "--c", "1", "--z", "0", "--quiet")
    assert code == 0 and out == ""  # replaced without asking, quietly


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--z", "3"], "Z 3 does not exist"),
        (["--c", "2"], "channel 2 does not exist"),
        (["--c", "green"], "--c takes a channel number or 'all'"),
        (["--project", "mean"], "--project takes 'max'"),
        (["--series", "1"], "series 1 does not exist"),
        (["--level", "2"], "level 2 does not exist"),
        (["--t", "-1"], "T -1 does not exist"),
    ],
)
def test_show_bad_input_is_one_line_exit_2(
    sample: tuple[Path, np.ndarray],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    path, _ = sample
    png = tmp_path / "x.png"
    code, _, err = _run(capsys, "show", path, "-o", png, *args)
    assert code == 2
    assert message in err
    assert err.startswith("ometiff: error:") and err.count("\n") == 1
    assert "Traceback" not in err
    assert not png.exists()


def test_show_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "show", tmp_path / "nope.tif", "-o", tmp_path / "x.png")
    assert code == 2 and "nope.tif: no such file" in err
    text = tmp_path / "notes.tif"
    text.write_bytes(b"hello, not a TIFF")
    code, _, err = _run(capsys, "show", text, "-o", tmp_path / "x.png")
    assert code == 2 and "notes.tif" in err and err.count("\n") == 1
    ok = ometiff.write(tmp_path / "ok.ome.tif", np.zeros((8, 8), np.uint8))
    code, _, err = _run(capsys, "show", ok, "-o", tmp_path / "missing" / "x.png")
    assert code == 2 and "does not exist" in err


def test_info_stats_text_and_json(
    sample: tuple[Path, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    path, data = sample
    code, out, err = _run(capsys, "info", path, "--stats")
    assert code == 0, err
    assert f"series 0 channel 1: min {data[1].min()}, max {data[1].max()}" in out
    code, out, _ = _run(capsys, "info", path, "--stats", "--json")
    assert code == 0
    stats = json.loads(out)["stats"]
    assert [s["channel"] for s in stats] == [0, 1]
    assert stats[0]["mean"] == pytest.approx(data[0].mean(dtype=np.float64))
    assert stats[0]["planes"] == 3


def test_info_diagram(
    sample: tuple[Path, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = sample
    png = tmp_path / "layout.png"
    code, out, err = _run(capsys, "info", path, "--diagram", png)
    assert code == 0, err
    assert f"diagram written to {png}" in out
    with Image.open(png) as im:
        assert im.width > 300 and im.height > 150


def test_info_stats_on_corrupt_data_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import tifffile

    path = ometiff.write(
        tmp_path / "bad.ome.tif", np.ones((2, 32, 32), np.uint8), axes="ZYX", compression="zlib"
    )
    with tifffile.TiffFile(path) as tf:
        offset, count = tf.pages[0].dataoffsets[0], tf.pages[0].databytecounts[0]
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(b"\x00" * count)
    code, _, err = _run(capsys, "info", path, "--stats")
    assert code == 2
    assert "bad.ome.tif: IFD 0: cannot read pixel data" in err
    code, _, err = _run(capsys, "show", path, "-o", tmp_path / "x.png", "--z", "0")
    assert code == 2 and "IFD 0" in err and not (tmp_path / "x.png").exists()


def test_show_and_stats_log_progress_lines_when_not_a_terminal(
    sample: tuple[Path, np.ndarray],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Off a terminal (CI, cluster logs) show and info --stats print plain progress lines
    through the CLI's one progress reporter; the library calls print nothing."""
    import ometiff.progress as progress

    path, _ = sample
    monkeypatch.setattr(progress, "PLAIN_INTERVAL", 0.0)
    rc, _, err = _run(capsys, "show", str(path), "-o", str(tmp_path / "p.png"), "--project", "max")
    assert rc == 0
    lines = err.splitlines()
    assert lines and all(line.startswith(f"show {path.name}: ") for line in lines)
    assert any("(100%)" in line for line in lines) and "\x1b" not in err
    rc, _, err = _run(capsys, "info", "--stats", str(path))
    assert rc == 0
    assert any(
        line.startswith(f"stats {path.name}: ") and "(100%)" in line for line in err.splitlines()
    )
    rc, _, err = _run(capsys, "show", str(path), "-o", str(tmp_path / "q.png"), "-q")
    assert rc == 0 and err == ""
    from ometiff.render.png import channel_stats

    channel_stats(path)
    assert capsys.readouterr().err == ""


def test_stats_and_show_resolve_the_file_set_once(
    sample: tuple[Path, np.ndarray], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """info() has resolved the set already; the pixel reader reuses it (no second parse
    of the OME-XML, which costs ~0.2 s on a 30,000-plane file)."""
    import ometiff.inspection
    import ometiff.ome.fileset
    from ometiff.render.png import channel_stats, render_png

    calls: list[Path] = []
    real = ometiff.ome.fileset.resolve_fileset

    def counting(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(Path(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(ometiff.ome.fileset, "resolve_fileset", counting)
    monkeypatch.setattr(ometiff.inspection, "resolve_fileset", counting)
    path, data = sample
    rows = channel_stats(path)
    assert len(calls) == 1
    assert rows[0]["max"] == int(data[0].max())
    render_png(path, tmp_path / "once.png")
    assert len(calls) == 2
