"""The README's "Testing your own DAGs with the emulator" snippet, run as written in a fresh project.

A separate pytest process in an empty directory, with none of this suite's Airflow environment: the
package's own fixtures must give it an AIRFLOW_HOME, a database and serialized DAGs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[3] / "README.md"
SECTION = "## Testing your own DAGs with the emulator"


def readme_section() -> str:
    return README.read_text().split(SECTION, 1)[1].split("\n## ", 1)[0]


def readme_snippet() -> str:
    [code] = re.findall(r"```python\n(.*?)```", readme_section(), re.S)
    return code


def readme_conftest() -> str:
    [code] = re.findall(r"```\n(# conftest.py\n.*?)```", readme_section(), re.S)
    return code


def test_the_readme_snippet_passes_in_a_fresh_project(tmp_path):
    (tmp_path / "test_my_dag.py").write_text(readme_snippet())
    (tmp_path / "conftest.py").write_text(readme_conftest())
    # Nothing of this session's Airflow set-up (AIRFLOW_HOME, bundles, connections) leaks in.
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AIRFLOW", "PYTEST_"))}

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "test_my_dag.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout
