"""End-to-end fixtures: one real Airflow deployment (PostgreSQL, LocalExecutor), one Slack emulator and one
Discord emulator per session, shared by the tests, which each work on their own DAG runs.

Everything here is marked ``e2e``: `make e2e` runs it, `make test` leaves it out (``-m "not e2e"``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .deployment import AirflowDeployment, PostgresCluster, slack_connection_json

REPO = Path(__file__).resolve().parents[2]
DAG_SOURCES = (REPO / "dags_examples", REPO / "tests" / "e2e" / "dags")
TEST_DAGS = ("e2e_ask", "e2e_ask_pooled", "e2e_ask_worker_dies", "e2e_ask_discord", "e2e_filler",
             "slack_alert_ask", "slack_alert_hitl_approval", "slack_alert_hitl_branch")
CHANNEL = "ml-alerts"
E2E_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """On a failure, attach the end of every Airflow process log to the test report."""
    report = yield
    deployment = getattr(item, "funcargs", {}).get("airflow_e2e")
    if report.failed and isinstance(deployment, AirflowDeployment):
        report.sections.append(("Airflow process logs", f"(full logs in {deployment.logs})\n{deployment.log_tails()}"))
    return report


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """Overrides the session's local SQLite database: these tests use their deployment's PostgreSQL."""
    return ""


@pytest.fixture(scope="session")
def chat() -> Iterator:
    """The Slack emulator on loopback, in this process: the tests play the people through it."""
    from airflow_chat_alerts.testing import SlackEmulator

    with SlackEmulator() as emu:
        yield emu


@pytest.fixture(scope="session")
def chat_channel(chat) -> str:
    return chat.channel_id(CHANNEL)


@pytest.fixture(scope="session")
def discord_chat() -> Iterator:
    """The Discord emulator (REST API and Gateway) on loopback, in this process."""
    from airflow_chat_alerts.testing.discord import DiscordEmulator

    with DiscordEmulator() as emu:
        yield emu


@pytest.fixture(scope="session")
def airflow_e2e(tmp_path_factory: pytest.TempPathFactory, chat, chat_channel: str,
                discord_chat) -> Iterator[AirflowDeployment]:
    """A running Airflow deployment whose `slack_api_default` connection points at the Slack emulator, with
    the app-level token (extra ``app_token``): questions carry buttons, triggerers hold sockets; and whose
    `discord_e2e` connection (a `discord_bot`) points at the Discord emulator."""
    from airflow_chat_alerts.testing.discord.emulator import discord_connection

    root = tmp_path_factory.mktemp("airflow-e2e")
    postgres = PostgresCluster()
    deployment = AirflowDeployment(
        root=root,
        db_url=postgres.url,
        db_dsn=postgres.dsn,
        dag_sources=DAG_SOURCES,
        extra_env={
            "AIRFLOW_CONN_SLACK_API_DEFAULT": slack_connection_json(
                chat.base_url, chat.bot_token, chat_channel, app_token=chat.app_token
            ),
            # The example DAG: answers read every 2 s; only the ml-leads group may approve.
            "CHAT_ALERTS_POLL_INTERVAL": "2",
            "CHAT_ALERTS_APPROVERS": chat.usergroup_id("ml-leads"),
            # e2e_ask_discord: its connection, and only the ml-leads role may approve.
            "AIRFLOW_CONN_DISCORD_E2E": json.dumps(discord_connection(discord_chat, CHANNEL)),
            "E2E_DISCORD_APPROVERS": "&" + discord_chat.role_id("ml-leads"),
        },
    )
    try:
        postgres.start()
        deployment.boot()
        deployment.wait_for_dags(TEST_DAGS)
        deployment.set_pool("one_slot", 1)
        yield deployment
    except BaseException:
        print(f"Airflow deployment in {root}\n{deployment.log_tails()}")
        raise
    finally:
        deployment.stop()
        postgres.stop()
        if postgres.log.exists():
            shutil.copy(postgres.log, deployment.logs / "postgres.log")
        postgres.remove()
        leftovers = deployment.stragglers()
        assert not leftovers, f"processes left running: {leftovers}"


@pytest.fixture(autouse=True)
def _one_triggerer(request: pytest.FixtureRequest) -> None:
    """Each test starts with the deployment's single default triggerer, whatever the last one did."""
    if "airflow_e2e" in request.fixturenames:
        request.getfixturevalue("airflow_e2e").use_triggerers({"triggerer": None})
