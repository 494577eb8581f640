"""The README must not lie: its example prints what its comments say, and its Quickstart holds
exactly the two one-line commands that .ci/run reads."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def python_blocks() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert blocks, "README.md has no python example"
    return blocks


def test_examples_print_what_their_comments_say():
    # the blocks run in order in one namespace, as a reader would paste them
    namespace = {"__name__": "readme"}
    n_checked = 0
    for code in python_blocks():
        expected = [ln.split("#", 1)[1].strip() for ln in code.splitlines()
                    if ln.startswith("print(") and "#" in ln]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md", "exec"), namespace)
        assert out.getvalue().splitlines() == expected
        n_checked += len(expected)
    assert n_checked >= 10


def test_quickstart_has_the_two_commands():
    blocks = re.findall(r"```bash\n(.*?)```", README, re.S)
    cmds = [b.strip() for b in blocks]
    assert cmds == [
        "python -m venv .venv && . .venv/bin/activate && pip install -e . && "
        "python -m symnum demo",
        'python -m venv .venv && . .venv/bin/activate && pip install -e ".[test]" && '
        "python -m pytest",
    ]
    # .ci/run greps for the second one: keep its pattern and the README in step
    ci = (ROOT / ".ci" / "run").read_text()
    pattern = re.search(r"grep -E '([^']+)' README.md", ci).group(1)
    assert re.search(pattern, cmds[1])
