"""Run the code of a documentation page, block by block, as a reader would.

The rules the pages follow (stated for readers in docs/tutorials/index.md):

* ```` ```bash ```` blocks run in a fresh ``bash -euo pipefail``, ```` ```python ```` blocks in one
  Python process per page (so later blocks see earlier names), all in document order and in the
  same scratch folder, with ``EQUIMOL_REPO`` set to the clone and the environment's ``bin``
  first on ``PATH``.
* A block with ``title="NAME"`` (any language) is a file the reader saves as NAME: it is written
  into the scratch folder, not run.
* ``<!-- output -->`` right before a ```` ```text ```` block: every non-empty line of that block
  must appear in the output (stdout and stderr) of the block run just before it.
* ``<!-- skip: REASON -->`` right before a ```` ```bash ```` or ```` ```python ```` block: the block is
  not run. The test module keeps the list of every skipped block, so none is skipped silently.
* ``sh``, ``shell``, ``console``, ``py`` and ``python3`` fences are not allowed (they would escape
  these rules).
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
RUN_LANGS = ("bash", "python")
FORBIDDEN_LANGS = ("sh", "shell", "console", "py", "python3", "zsh")
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>.*)$")
MARKER = re.compile(r"^<!--\s*(?P<kind>skip|output)\s*(?::\s*(?P<reason>.*?))?\s*-->$")
BLOCK_TIMEOUT_S = 240


@dataclass
class Block:
    page: str
    line: int  # 1-based line of the opening fence
    lang: str
    title: str | None
    code: str
    marker: str | None = None  # "skip" or "output"
    reason: str | None = None

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def parse(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown page, with their language, title and marker."""
    lines = path.read_text(encoding="utf-8").splitlines()
    rel = path.relative_to(DOCS).as_posix()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m or (m.group("fence")[0] == "`" and "`" in m.group("info")):  # a code span, not a fence
            i += 1
            continue
        fence, info = m.group("fence"), m.group("info").strip()
        lang = info.split()[0].lower() if info else ""
        title = re.search(r'title="([^"]*)"', info)
        prev = next((lines[k].strip() for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        mk = MARKER.match(prev)
        body = []
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence[0] * len(fence)):
            body.append(lines[j])
            j += 1
        if j == len(lines):
            raise AssertionError(f"{rel}:{i + 1}: unclosed code fence")
        blocks.append(
            Block(
                rel,
                i + 1,
                lang,
                title.group(1) if title else None,
                textwrap.dedent("\n".join(body)) + "\n",
                mk.group("kind") if mk else None,
                (mk.group("reason") or "").strip() if mk else None,
            )
        )
        i = j + 1
    return blocks


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        EQUIMOL_REPO=str(ROOT),
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MPLBACKEND="Agg",
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


# One Python process per page: reads {"code", "name"} lines on stdin, runs each in one namespace,
# answers {"ok": bool} on the status pipe (stdout and stderr go to a log file).
WORKER = r"""
import json, os, sys, traceback
status = os.fdopen(int(sys.argv[1]), "w")
namespace = {"__name__": "__main__"}
for line in sys.stdin:
    job = json.loads(line)
    try:
        exec(compile(job["code"], job["name"], "exec"), namespace)
        ok = True
    except SystemExit as e:
        ok = e.code in (0, None)
    except BaseException:
        traceback.print_exc()
        ok = False
    sys.stdout.flush(); sys.stderr.flush()
    status.write(json.dumps({"ok": ok}) + "\n"); status.flush()
"""


class PythonSession:
    def __init__(self, cwd: Path, env: dict[str, str]):
        self.log_path = cwd / ".python-blocks.log"
        self.log = self.log_path.open("wb")
        read_fd, write_fd = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(write_fd)],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            pass_fds=(write_fd,),
            text=True,
        )
        os.close(write_fd)
        self.status = os.fdopen(read_fd)

    def run(self, block: Block) -> tuple[bool, str]:
        start = self.log_path.stat().st_size
        self.proc.stdin.write(json.dumps({"code": block.code, "name": f"<{block.where}>"}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.status], [], [], BLOCK_TIMEOUT_S)
        line = self.status.readline() if ready else ""
        with self.log_path.open("rb") as f:
            f.seek(start)
            output = f.read().decode(errors="replace")
        if not line:
            return False, output + f"\n[no answer within {BLOCK_TIMEOUT_S} s or the process died]"
        return json.loads(line)["ok"], output

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.status.close()
        self.log.close()


def run_page(path: Path, cwd: Path) -> dict[str, float]:
    """Run every block of ``path`` in ``cwd``; raise AssertionError naming the first failing block.

    Returns the wall time of each block that ran, keyed by its location."""
    env = environment()
    blocks = parse(path)
    session: PythonSession | None = None
    times: dict[str, float] = {}
    last_output: str | None = None
    try:
        for block in blocks:
            if block.lang in FORBIDDEN_LANGS:
                raise AssertionError(f"{block.where}: use ```bash or ```python, not ```{block.lang}")
            if block.marker == "output":
                assert block.lang == "text", f"{block.where}: <!-- output --> must precede a ```text block"
                assert last_output is not None, (
                    f"{block.where}: <!-- output --> without a block run before it"
                )
                for expected in (ln.strip() for ln in block.code.splitlines()):
                    assert not expected or expected in last_output, (
                        f"{block.where}: the documented output line\n  {expected}\nis not in the output of "
                        f"the block before it:\n{last_output[-3000:]}"
                    )
                continue
            if block.title is not None:
                target = cwd / block.title
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(block.code)
                continue
            if block.lang not in RUN_LANGS:
                continue
            if block.marker == "skip":
                assert block.reason, f"{block.where}: <!-- skip --> needs a reason"
                continue
            t0 = time.perf_counter()
            if block.lang == "bash":
                r = subprocess.run(
                    ["bash", "-euo", "pipefail", "-c", block.code],
                    cwd=cwd,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=BLOCK_TIMEOUT_S,
                )
                ok, output = r.returncode == 0, r.stdout + r.stderr
            else:
                session = session or PythonSession(cwd, env)
                ok, output = session.run(block)
            times[block.where] = time.perf_counter() - t0
            assert ok, (
                f"{block.where}: the {block.lang} block failed:\n{block.code}\n--- output ---\n{output[-4000:]}"
            )
            last_output = output
    finally:
        if session is not None:
            session.close()
    return times
