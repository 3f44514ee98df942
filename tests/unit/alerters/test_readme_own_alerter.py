"""The README's "Write your own alerter" example, run as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[3] / "README.md"
SECTION = "## Write your own alerter"


def readme_example() -> str:
    section = README.read_text().split(SECTION, 1)[1].split("\n## ", 1)[0]
    [code] = re.findall(r"```python\n(.*?)```", section, re.S)
    return code


def test_the_readme_alerter_posts_replies_edits_and_refuses_to_ask(capsys):
    namespace: dict[str, object] = {"__name__": "readme_example"}
    exec(compile(readme_example(), "README.md (Write your own alerter)", "exec"), namespace)

    printed = capsys.readouterr().out
    assert "Connection 'notebook' (NotebookAlerter) cannot ask questions and read their answers" in printed
    notebook = namespace["notebook"]
    assert notebook.messages == {("ml-alerts", "1.000000"): "Training finished", ("ml-alerts", "2.000000"): "Accuracy 0.97"}

