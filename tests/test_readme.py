"""The README must not lie: its example prints what its comments say, and its Quickstart holds
exactly the two one-line commands that .ci/run reads."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def python_block() -> str:
    m = re.search(r"```python\n(.*?)```", README, re.S)
    assert m, "README.md has no python example"
    return m.group(1)


def test_example_prints_what_its_comments_say():
    code = python_block()
    expected = [ln.split("#", 1)[1].strip() for ln in code.splitlines()
                if ln.startswith("print(") and "#" in ln]
    assert len(expected) >= 4
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    assert out.getvalue().splitlines() == expected


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
