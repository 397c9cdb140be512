"""Every input that broke the promise for bad input (issue 15), run through every command.

The promise: exit 0 or 2 (1 only from ``validate``: "invalid"); on failure one line on
stderr naming the file; no traceback or internal error; nothing left in the output
folder; and no hang or out-of-memory (the cases declare up to 74.5 GiB of pixels, so a
regression fails with MemoryError here instead of passing).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from ometiff.cli.main import main

_spec = importlib.util.spec_from_file_location(
    "fuzz_cases", Path(__file__).parent / "fuzz_regressions" / "cases.py"
)
assert _spec is not None and _spec.loader is not None
cases = importlib.util.module_from_spec(_spec)
sys.modules["fuzz_cases"] = cases
_spec.loader.exec_module(cases)

COMMANDS = {
    "info-json": ["info", "--json", "{in}"],
    "info-stats": ["info", "--stats", "{in}"],
    "show": ["show", "{in}", "-o", "{out}/x.png", "-q"],
    "convert": ["convert", "{in}", "{out}/x.ome.tif", "-q"],
    "validate": ["validate", "{in}"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_regression_keeps_the_promise(
    name: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src_dir, out = tmp_path / "in", tmp_path / "out"
    src_dir.mkdir()
    out.mkdir()
    path = cases.CASES[name](src_dir)
    assert name in cases.FROM_CORPUS or path.stat().st_size < 20_000
    argv = [a.format(**{"in": str(path), "out": str(out)}) for a in COMMANDS[command]]
    rc = main(argv)
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert rc in ({0, 1, 2} if command == "validate" else {0, 2}), (rc, err)
    assert not any("Traceback" in line or "internal error" in line for line in err), err
    if rc == 2:
        assert len(err) == 1 and err[0].startswith("ometiff: error: "), err
        assert path.name in err[0], err
    if rc != 0:
        assert sorted(p.name for p in out.iterdir()) == []
    phrase = cases.EXPECT[name].get(command)
    if phrase is not None:
        assert rc == 2 and phrase in err[0], (rc, err)


def test_budget_can_be_raised_and_lowered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--max-memory decides: a 4×6 uint8 plane is refused under 16 bytes, read under 1K."""
    path = tmp_path / "small.ome.tif"
    import numpy as np
    import tifffile

    tifffile.imwrite(path, np.ones((4, 6), np.uint8), ome=True)
    assert main(["--max-memory", "16", "info", "--stats", str(path)]) == 2
    err = capsys.readouterr().err
    assert "24 bytes, more than the memory budget of 16 bytes" in err
    assert "--max-memory" in err
    assert main(["--max-memory", "1K", "info", "--stats", str(path)]) == 0
    assert main(["--max-memory", "zero", "info", str(path)]) == 2
    assert "not a positive size" in capsys.readouterr().err


def test_api_budget(tmp_path: Path) -> None:
    import numpy as np
    import tifffile

    import ometiff
    from ometiff.readers.decode import current_max_memory, default_max_memory

    path = tmp_path / "small.ome.tif"
    tifffile.imwrite(path, np.ones((4, 6), np.uint8), ome=True)
    with pytest.raises(ometiff.MemoryBudgetError, match="memory budget"):
        ometiff.channel_stats(path, max_memory=16)
    assert ometiff.channel_stats(path, max_memory="1K")[0]["max"] == 1
    with pytest.raises(ometiff.MemoryBudgetError):
        ometiff.convert(path, tmp_path / "o.ome.tif", max_memory=8)
    assert not (tmp_path / "o.ome.tif").exists()
    with ometiff.memory_budget("3M") as nbytes:
        assert nbytes == current_max_memory() == 3 << 20
    assert current_max_memory() == default_max_memory()
