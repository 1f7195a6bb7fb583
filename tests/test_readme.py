"""Every Python snippet of the README runs as written (each in a fresh namespace, in a temporary folder)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_readme_has_snippets_for_every_task():
    import rnnlab

    text = "\n".join(SNIPPETS)
    assert all(f"rnnlab.{name}(" in text for name in rnnlab._ESTIMATORS if name != "CopyProblem")


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[f"snippet-{i}" for i in range(len(SNIPPETS))])
def test_a_snippet_runs(snippet, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # snippets that save write runs/ here
    exec(compile(snippet, str(README), "exec"), {"__name__": "__readme__"})
