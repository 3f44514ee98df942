"""Test-session set-up shared by every test directory.

Airflow reads its configuration on first import, so the environment is set here at import time
(pytest imports this file before any test module): a fresh AIRFLOW_HOME per session, no example DAGs,
and DAG bundles for ``dags_examples/`` and ``tests/integration/dags/``, because ``dag.test()``
only runs DAGs that a bundle holds (``load_dag(path, dag_id)`` loads one). The package's ``airflow_db``
fixture, requested for every test here, creates the metadata database once per session so that ``dag.test()`` works; a directory with its own
database (the e2e tests) can override it by defining a fixture of the same name in its conftest.py.

Every test body runs under pytest-timeout's ``thread`` method (pyproject.toml): a timer thread that Airflow
cannot disarm (its DAG importer resets SIGALRM, which the ``signal`` method relies on). When it fires,
the test's name is printed first, then every thread's stack, and the session ends.

Hypothesis runs derandomized (the same examples every run, no example database shared between two
copies of the suite) and without its per-example deadline, which a loaded machine would miss; to hunt
for new failing examples, run with ``--hypothesis-profile=explore``.

Environment a developer may set: ``CHAT_ALERTS_KEEP_AIRFLOW_HOME=1`` keeps the session's AIRFLOW_HOME
(its path is printed in the header) for inspecting task logs after a run.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

import hypothesis
import pytest

# The package's test kit (the emulators' fixtures, airflow_db, airflow_dags), loaded as a user loads it.
pytest_plugins = ["airflow_chat_alerts.testing.pytest_plugin"]

REPO = Path(__file__).resolve().parent.parent

if "airflow.configuration" in sys.modules:  # pragma: no cover - a plugin imported airflow too early
    raise RuntimeError(
        "airflow was imported before tests/conftest.py could set AIRFLOW_HOME; pytest plugins must import "
        "airflow lazily (inside fixtures)"
    )

AIRFLOW_HOME = tempfile.mkdtemp(prefix="chat-alerts-airflow-home-")
os.environ["AIRFLOW_HOME"] = AIRFLOW_HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags_examples")
# dag.test() runs only DAGs found in a bundle: the examples, plus the integration tests' DAGs (the e2e
# ones are served by their own deployment).
TEST_DAG_FOLDERS = [REPO / "tests" / "integration" / "dags"]
os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(
    [
        {
            "name": name,
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(path)},
        }
        for name, path in [("dags-folder", REPO / "dags_examples")]
        + [(f"tests-{p.parent.name}", p) for p in TEST_DAG_FOLDERS]
    ]
)
os.environ.setdefault("AIRFLOW__API__BASE_URL", "http://localhost:8080")
# dag.test() has no scheduler to race with: answers are handed back as soon as they are found (the e2e
# deployment, which gets no AIRFLOW_* variable from here, keeps the default hold).
os.environ["AIRFLOW__CHAT_ALERTS__DEFERRAL_SETTLE_SECONDS"] = "0"


# too_slow is a timed check: on a busy machine it fails the machine, not the test.
hypothesis.settings.register_profile(
    "deterministic",
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow],
)
hypothesis.settings.register_profile(
    "explore", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile("deterministic")


def pytest_report_header(config: pytest.Config) -> str:
    return f"AIRFLOW_HOME: {AIRFLOW_HOME}"


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings) -> bool | None:
    """pytest-timeout's thread method, with the test that ran out of time named before the stacks."""
    if settings.method != "thread":
        return None
    import pytest_timeout

    def expire() -> None:
        capture = item.config.pluginmanager.getplugin("capturemanager")
        if capture:
            capture.suspend_global_capture(item)
        name = f"TIMEOUT: {item.nodeid} still running after {settings.timeout:g} s"
        item.config.get_terminal_writer().sep("!", name)
        pytest_timeout.timeout_timer(item, settings)  # dumps every thread's stack, then ends the session

    timer = threading.Timer(settings.timeout, expire)
    timer.name = f"timeout {item.nodeid}"
    timer.daemon = True

    def cancel() -> None:
        timer.cancel()
        timer.join()

    item.cancel_timeout = cancel  # read by pytest-timeout's own cancel hook
    timer.start()
    return True


def pytest_unconfigure(config: pytest.Config) -> None:
    if not os.environ.get("CHAT_ALERTS_KEEP_AIRFLOW_HOME"):
        shutil.rmtree(AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _metadata_database(airflow_db: str) -> str:
    """Every test has the session's metadata database: the packaged ``airflow_db`` fixture (SQLite in
    AIRFLOW_HOME), or the override of a directory with its own database (e2e)."""
    return airflow_db


@pytest.fixture(scope="session")
def load_dag():
    """``load_dag(path)`` → the DAG defined in that file (one of the bundles above), ready for ``dag.test()``."""
    from airflow.dag_processing.dagbag import DagBag

    def load(path: str | Path, dag_id: str | None = None):
        bag = DagBag(dag_folder=str(path))
        assert not bag.import_errors, bag.import_errors
        return bag.get_dag(dag_id) if dag_id else next(iter(bag.dags.values()))

    return load
