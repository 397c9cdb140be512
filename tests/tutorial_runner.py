"""Run the tutorial's pages (docs/tutorial/*.md): every code block, in order.

A page is a list of fenced blocks. ``sh`` blocks hold shell commands, one a line
(``ometiff`` runs as ``python -m ometiff`` of this tree, ``python`` as this
interpreter); ``python`` blocks are executed with ``exec`` in one namespace per
page. The ``text`` block that follows a code block is what it prints: for ``sh``
blocks a transcript (``$ command`` then its stdout and stderr), for ``python``
blocks their stdout. A code block with no ``text`` block after it must print
nothing. Temporary paths, timings, UUIDs and the viewer's port and token are
normalised on both sides before comparing.

A page can carry one HTML comment ``<!-- tutorial: ... -->`` with words:
``corpus`` (needs $OMETIFF_TESTDATA), ``slow`` (pytest ``--run-slow``),
``after=NN`` (first run page NN's blocks silently, in the same folder) and
``needs=mod1,mod2`` (optional packages: the test skips the page without them).

``python tests/tutorial_runner.py --update [PAGE...]`` rewrites the ``text``
blocks with the real output (then read the diff before committing it).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial"
FENCE = re.compile(r"^```([a-z]*)[^\n]*\n(.*?)^```[ \t]*\n", re.S | re.M)
OPTIONS = re.compile(r"<!--\s*tutorial:([^>]*)-->")
SHELL_PRELUDE = 'ometiff() { "$TUTORIAL_PY" -m ometiff "$@"; }\npython() { "$TUTORIAL_PY" "$@"; }\n'
SERVER_WAIT_S = 60


@dataclass
class Block:
    kind: str  # "sh" or "python"
    code: str
    start: int  # offsets of the code block in the page
    end: int
    expected: str | None  # the text block after it, or None
    expected_span: tuple[int, int] | None  # offsets of that text block


def pages() -> list[Path]:
    """The tutorial's pages in reading order (the numbered files)."""
    return sorted(TUTORIAL.glob("[0-9][0-9]-*.md"))


def page(number: str) -> Path:
    """The page whose name starts with ``number`` ("01", "02", ...)."""
    (found,) = TUTORIAL.glob(f"{number}-*.md")
    return found


def options(path: Path) -> set[str]:
    """The words of the page's ``<!-- tutorial: ... -->`` comment."""
    m = OPTIONS.search(path.read_text(encoding="utf-8"))
    return set(m.group(1).split()) if m else set()


def blocks(text: str) -> list[Block]:
    """The runnable blocks of a page with the output block following each."""
    found: list[Block] = []
    for m in FENCE.finditer(text):
        kind, body = m.group(1), m.group(2)
        if kind in ("sh", "python"):
            found.append(Block(kind, body, m.start(), m.end(), None, None))
        elif kind == "text" and found and found[-1].expected is None:
            previous = found[-1]
            # only the text block directly after its code block (blank lines between)
            if text[previous.end : m.start()].strip() == "":
                previous.expected = body
                previous.expected_span = (m.start(), m.end())
    return found


def _commands(code: str) -> list[str]:
    """Shell lines of a block: comments dropped, backslash continuations joined."""
    out: list[str] = []
    pending = ""
    for line in code.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        out.append(pending + line)
        pending = ""
    return out


def _shell_env() -> dict[str, str]:
    env = dict(os.environ)
    env["TUTORIAL_PY"] = sys.executable
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
    )
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("OMETIFF_TESTDATA", str(ROOT.parent / "shared" / "testdata"))
    env["COLUMNS"] = "100"
    env.pop("FORCE_COLOR", None)
    return env


def _wait_until_served(line: str) -> None:
    """Poll the address the viewer printed until it answers (then Ctrl-C is handled)."""
    m = re.search(r"http://\S+", line)
    deadline = time.monotonic() + SERVER_WAIT_S
    while m and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(m.group(0), timeout=5):
                return
        except OSError:
            time.sleep(0.1)


def _run_server(command: str, cwd: Path, env: dict[str, str]) -> str:
    """Start ``ometiff view``, wait for its address, stop it with Ctrl-C."""
    proc = subprocess.Popen(
        [
            "bash",
            "-c",
            SHELL_PRELUDE + "exec " + command.replace("ometiff ", '"$TUTORIAL_PY" -m ometiff ', 1),
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line)
        if "Ctrl-C stops" in line:
            _wait_until_served(line)
            break
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=SERVER_WAIT_S)
    return "".join(lines) + "^C\n" + rest


def run_shell(code: str, cwd: Path) -> str:
    """The transcript of a ``sh`` block."""
    env = _shell_env()
    out: list[str] = []
    for command in _commands(code):
        out.append(f"$ {command}\n")
        if command.startswith("ometiff view"):
            out.append(_run_server(command, cwd, env))
            continue
        done = subprocess.run(
            ["bash", "-c", SHELL_PRELUDE + command],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300,
            check=False,
        )
        out.append(done.stdout)
    return "".join(out)


def run_python(code: str, namespace: dict[str, object], name: str) -> str:
    """What a ``python`` block prints (exceptions propagate: a block must not fail)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, name, "exec"), namespace)  # the tutorial's own example
    return buf.getvalue()


_NORMAL = (
    (re.compile(r"urn:uuid:[0-9a-f-]{36}"), "urn:uuid:<uuid>"),
    (re.compile(r"\b\d+(\.\d+)? ?(s|ms|min)\b(?! µm)"), "<time>"),
    (re.compile(r"127\.0\.0\.1:\d+/\?token=[\w-]+"), "127.0.0.1:<port>/?token=<token>"),
    (re.compile(r"[ \t]+$", re.M), ""),
)


def normalise(text: str, workdir: Path) -> str:
    """Output with the machine-specific parts replaced."""
    testdata = os.environ.get("OMETIFF_TESTDATA", str(ROOT.parent / "shared" / "testdata"))
    for folder in {str(workdir), os.path.realpath(workdir)}:
        text = text.replace(folder + os.sep, "").replace(folder, ".")
    text = text.replace(testdata.rstrip(os.sep), "$OMETIFF_TESTDATA")
    for pattern, repl in _NORMAL:
        text = pattern.sub(repl, text)
    return text


@dataclass
class Result:
    block: Block
    actual: str


def run_page(path: Path, workdir: Path, *, quiet_pages: tuple[Path, ...] = ()) -> list[Result]:
    """Run a page (after ``quiet_pages``) in ``workdir``, returning each block's output."""
    previous = Path.cwd()
    os.chdir(workdir)
    try:
        results: list[Result] = []
        for p in (*quiet_pages, path):
            namespace: dict[str, object] = {"__name__": "tutorial"}
            for block in blocks(p.read_text(encoding="utf-8")):
                if block.kind == "sh":
                    actual = run_shell(block.code, workdir)
                else:
                    actual = run_python(block.code, namespace, str(p))
                if p == path:
                    results.append(Result(block, actual))
        return results
    finally:
        os.chdir(previous)


def prerequisites(path: Path) -> tuple[Path, ...]:
    """The pages to run silently before ``path`` (its ``after=`` option, recursively)."""
    out: list[Path] = []
    for word in options(path):
        if word.startswith("after="):
            before = page(word.split("=", 1)[1])
            out.extend((*prerequisites(before), before))
    return tuple(out)


def update(path: Path, workdir: Path) -> None:
    """Rewrite the page's output blocks with what its blocks print now."""
    text = path.read_text(encoding="utf-8")
    results = run_page(path, workdir, quiet_pages=prerequisites(path))
    pieces: list[str] = []
    cursor = 0
    for r in results:
        shown = r.actual.replace(str(workdir) + os.sep, "").replace(str(workdir), ".")
        testdata = os.environ.get("OMETIFF_TESTDATA", "")
        if testdata:
            shown = shown.replace(testdata.rstrip(os.sep), "$OMETIFF_TESTDATA")
        new_block = f"\n```text\n{shown}```\n" if shown else ""
        if r.block.expected_span is not None:
            s, e = r.block.expected_span
            pieces.append(text[cursor:s] if new_block else text[cursor : r.block.end])
            pieces.append(new_block.lstrip("\n") if new_block else "")
            cursor = e
        else:
            pieces.append(text[cursor : r.block.end])
            pieces.append(new_block)
            cursor = r.block.end
    pieces.append(text[cursor:])
    path.write_text(re.sub(r"\n{3,}```text", "\n\n```text", "".join(pieces)), encoding="utf-8")


if __name__ == "__main__":
    import tempfile

    args = sys.argv[1:]
    if not args or args[0] != "--update":
        sys.exit("usage: python tests/tutorial_runner.py --update [PAGE...]")
    targets = [Path(a) for a in args[1:]] or pages()
    for target in targets:
        with tempfile.TemporaryDirectory() as tmp:
            update(target.resolve(), Path(tmp))
            print(f"updated {target}")
