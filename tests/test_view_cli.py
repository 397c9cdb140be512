"""``ometiff view`` on the command line: URL with token, loopback only, clean Ctrl-C, bad input."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

ROOT = Path(__file__).resolve().parents[1]


def start(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.Popen(
        [sys.executable, "-m", "ometiff", "view", "--no-browser", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_prints_a_tokened_url_serves_and_stops_on_ctrl_c(tmp_path):
    proc = start(str(tmp_path))
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        url = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=(\S+)", lines[1])
        assert url, lines
        assert status(url.group(0)) == 200
        base = f"http://127.0.0.1:{url.group(1)}"
        assert status(f"{base}/api/session") == 403
        assert status(f"{base}/api/session?token=wrong") == 403
        assert status(f"{base}/api/session?token={url.group(2)}") == 200
        # bound to the loopback address only
        with socket.socket() as s:
            s.settimeout(2)
            other = socket.gethostbyname(socket.gethostname())
            if not other.startswith("127."):
                assert s.connect_ex((other, int(url.group(1)))) != 0
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


def test_a_port_in_use_and_a_missing_path_are_one_line_errors(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        proc = start("--port", str(busy.getsockname()[1]), str(tmp_path))
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert err.count("\n") == 1 and err.startswith("ometiff: error: port ")
    assert "cannot listen" in err
    proc = start(str(tmp_path / "nope.ome.tif"))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert err == f"ometiff: error: {tmp_path / 'nope.ome.tif'}: no such file or folder\n"
