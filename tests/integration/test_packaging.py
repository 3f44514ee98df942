"""The package as a user installs it: built into a wheel and an sdist, then installed from the wheel.

Every other test imports the editable checkout, where a file missing from the wheel, a wrong entry
point or a package-data file left out goes unnoticed. Here the wheel and sdist are built the way a
user's installer builds them (``uv build``: an isolated build environment with the pinned hatchling),
their metadata passes the check PyPI applies on upload, and the wheel is installed into a fresh virtual
environment of its own (no editable install, no checkout on ``sys.path``) in which Airflow lists the
provider and a user's test gets the pytest plugin's fixtures.

The fresh environment installs the pinned dependencies from uv's cache (``--offline``), which
``make install`` filled: about 2 s, so no shortcut through the project's environment is needed.
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import pytest
from uv import find_uv_bin

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "airflow_chat_alerts"
UV = find_uv_bin()


def run(*args: str | Path, cwd: Path = REPO, env: dict[str, str] | None = None) -> str:
    """Run a command; on failure the assertion shows its output."""
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(map(str, args))} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist and the wheel built from it, as ``uv build`` makes them (the wheel from the sdist)."""
    out = tmp_path_factory.mktemp("dist")
    run(UV, "build", "--offline", "--build-constraint", REPO / "constraints.txt", "--out-dir", out)
    [wheel] = out.glob("*.whl")
    [sdist] = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


@pytest.fixture(scope="module")
def wheel_env(dist: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A fresh virtual environment with only the wheel (and pytest) installed; its python and environment."""
    root = tmp_path_factory.mktemp("wheel-env")
    venv = root / "venv"
    run(UV, "venv", "--quiet", "--python", sys.executable, venv)
    python = venv / "bin" / "python"
    constraints = REPO / "constraints.txt"
    run(UV, "pip", "install", "--quiet", "--offline", "--python", python, "-c", constraints,
        f"{dist['wheel']}[testing]", "pytest")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON", "VIRTUAL_ENV"))}
    # The environment's own AIRFLOW_HOME; bytecode written on first import so the second process is quicker.
    env["AIRFLOW_HOME"] = str(root / "airflow-home")
    return {"python": python, "env": env, "cwd": root}


def test_metadata_passes_the_upload_check(dist: dict[str, Path]) -> None:
    out = run(sys.executable, "-m", "twine", "check", "--strict", dist["wheel"], dist["sdist"])
    assert out.count("PASSED") == 2, out


def test_wheel_holds_the_package_its_data_and_the_license_but_no_tests(dist: dict[str, Path]) -> None:
    names = set(zipfile.ZipFile(dist["wheel"]).namelist())
    dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
    assert f"{dist_info}/licenses/LICENSE" in names
    assert f"{PACKAGE}/py.typed" in names
    assert f"{PACKAGE}/testing/default_workspace.json" in names
    assert {f"{PACKAGE}/testing/web/static/{name}" for name in ("index.html", "app.js", "app.css", "icon.svg")} <= names
    assert {n.split("/")[0] for n in names} == {PACKAGE, dist_info}, "only the package and its metadata"
    license_text = zipfile.ZipFile(dist["wheel"]).read(f"{dist_info}/licenses/LICENSE")
    assert license_text == (REPO / "LICENSE").read_bytes()
    assert b"Apache License\n                           Version 2.0, January 2004" in license_text


def test_wheel_metadata_declares_the_license_and_the_entry_points(dist: dict[str, Path]) -> None:
    wheel = zipfile.ZipFile(dist["wheel"])
    dist_info = next(n.split("/")[0] for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    metadata = wheel.read(f"{dist_info}/METADATA").decode()
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
    assert "License-File: LICENSE" in metadata.splitlines()
    entry_points = configparser.ConfigParser()
    entry_points.read_string(wheel.read(f"{dist_info}/entry_points.txt").decode())
    assert dict(entry_points["apache_airflow_provider"]) == {
        "provider_info": f"{PACKAGE}.get_provider_info:get_provider_info"
    }
    assert "pytest11" not in entry_points, "the test kit must load only where a conftest.py asks for it"
    assert dict(entry_points["console_scripts"]) == {
        "chat-alerts-slack-emulator": f"{PACKAGE}.testing.slack_emulator:main",
        "chat-alerts-discord-emulator": f"{PACKAGE}.testing.discord.cli:main",
    }


def test_sdist_holds_the_license_and_what_the_wheel_is_built_from(dist: dict[str, Path]) -> None:
    with tarfile.open(dist["sdist"]) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    assert {"LICENSE", "pyproject.toml", "PKG-INFO", "README.md", f"{PACKAGE}/py.typed"} <= names
    assert f"{PACKAGE}/testing/default_workspace.json" in names


def test_airflow_lists_the_provider_from_the_installed_wheel(wheel_env: dict[str, Any]) -> None:
    probe = textwrap.dedent(
        """
        import json
        from airflow.providers_manager import ProvidersManager
        import airflow_chat_alerts

        provider = ProvidersManager().providers["airflow-chat-alerts"]
        print(json.dumps({"version": provider.version, "module": airflow_chat_alerts.__file__}))
        """
    )
    out = run(wheel_env["python"], "-c", probe, cwd=wheel_env["cwd"], env=wheel_env["env"])
    found = json.loads(out.strip().splitlines()[-1])
    assert found["version"] == "0.1.0"
    assert Path(found["module"]).is_relative_to(wheel_env["python"].parent.parent), "imported from the wheel"


def test_a_users_test_gets_the_emulator_fixtures_from_the_installed_wheel(wheel_env: dict[str, Any]) -> None:
    user_tests = wheel_env["cwd"] / "user_tests"
    user_tests.mkdir()
    (user_tests / "test_my_dag.py").write_text(
        textwrap.dedent(
            """
            from pathlib import Path
            import sys

            import airflow_chat_alerts


            def test_post_reaches_the_emulator(slack_emulator, slack_conn):
                assert Path(airflow_chat_alerts.__file__).is_relative_to(sys.prefix), "imported from the wheel"
                assert slack_conn == "slack_api_default"
                slack_emulator.client().chat_postMessage(channel="ml-alerts", text="built from the wheel")
                assert slack_emulator.messages("ml-alerts")[-1]["text"] == "built from the wheel"
            """
        )
    )
    python = wheel_env["python"]
    # Installed but not asked for: another suite gets no fixture of ours and its environment untouched.
    other = wheel_env["cwd"] / "other_suite"
    other.mkdir()
    (other / "test_other.py").write_text(
        "import os\n\ndef test_untouched():\n    assert 'AIRFLOW_HOME' not in os.environ\n"
    )
    bare = {k: v for k, v in wheel_env["env"].items() if k != "AIRFLOW_HOME"}
    fixtures = run(python, "-m", "pytest", "-p", "no:cacheprovider", "--fixtures", cwd=other, env=bare)
    assert "slack_emulator" not in fixtures, fixtures
    assert "1 passed" in run(python, "-m", "pytest", "-p", "no:cacheprovider", "-q", cwd=other, env=bare)
    # One line in the suite's conftest.py loads the test kit (as the README says).
    (user_tests / "conftest.py").write_text('pytest_plugins = ["airflow_chat_alerts.testing.pytest_plugin"]\n')
    fixtures = run(python, "-m", "pytest", "-p", "no:cacheprovider", "--fixtures", cwd=user_tests, env=wheel_env["env"])
    assert "slack_emulator" in fixtures and "pytest_plugin.py" in fixtures, fixtures
    out = run(python, "-m", "pytest", "-p", "no:cacheprovider", "-q", cwd=user_tests, env=wheel_env["env"])
    assert "1 passed" in out, out
