"""pytest fixtures for the Slack emulator (registered through the ``pytest11`` entry point).

- ``slack_emulator``: a running `SlackEmulator`, one per test session, reset before every test.
- ``slack_conn``: points the Airflow connection ``slack_api_default`` (env
  ``AIRFLOW_CONN_SLACK_API_DEFAULT``) at the emulator with the app's bot token and ``ml-alerts`` as
  the default channel; returns the connection id. Undone after the test.
- ``slack_webhook_conn``: the same for a ``slackwebhook`` connection ``slack_webhook_default``
  posting into ``ml-alerts``.
- ``slack_web_view``: the web page showing the session's emulator live (``.url``), started on first use.
- ``slack_workspace``: override it in your conftest.py to return a `Workspace` or a JSON file path.
- ``discord_emulator``, ``discord_conn``, ``discord_webhook_conn``, ``discord_web_view``, ``discord_guild``:
  the same for Discord (the session's `DiscordEmulator`, reset before every test; the bot connection
  ``discord_bot_default`` and the webhook connection ``discord_default`` aimed at it; its web page; the
  seed).
- ``airflow_db``: the session's Airflow metadata database, created once (SQLite in AIRFLOW_HOME).
- ``airflow_dags``: the DAGs defined at the top level of the test's module, saved to that database so
  that ``dag.test()`` runs them; returns them by dag id.

AIRFLOW_HOME: when it is not set and nothing has imported Airflow yet, the session gets a temporary
one (removed at the end), so tests never touch ``~/airflow``; set AIRFLOW_HOME to use your own.

Importing this module starts nothing and imports neither Airflow, aiohttp nor slack_sdk: they are
loaded when a fixture is first used.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_chat_alerts.testing.discord.emulator import DiscordEmulator
    from airflow_chat_alerts.testing.emulator import SlackEmulator
    from airflow_chat_alerts.testing.web.server import WebView

DEFAULT_CHANNEL = "ml-alerts"
_OWN_HOME = "_chat_alerts_airflow_home"  # the config attribute naming the AIRFLOW_HOME made here


def pytest_configure(config: pytest.Config) -> None:
    """A temporary AIRFLOW_HOME for the session, set before test modules import Airflow."""
    if "AIRFLOW_HOME" in os.environ or "airflow.configuration" in sys.modules:
        return
    home = tempfile.mkdtemp(prefix="chat-alerts-airflow-home-")
    os.environ["AIRFLOW_HOME"] = home
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    setattr(config, _OWN_HOME, home)


def pytest_report_header(config: pytest.Config) -> str | None:
    home = getattr(config, _OWN_HOME, None)
    return f"AIRFLOW_HOME (temporary, from airflow-chat-alerts): {home}" if home else None


def pytest_unconfigure(config: pytest.Config) -> None:
    home = getattr(config, _OWN_HOME, None)
    if home:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """The session's Airflow metadata database, created once; returns its URL."""
    from airflow import settings
    from airflow.utils import db

    db.initdb()
    return str(settings.SQL_ALCHEMY_CONN)


@pytest.fixture
def airflow_dags(request: pytest.FixtureRequest, airflow_db: str) -> dict[str, Any]:
    """The test module's top-level DAGs, saved to the metadata database so ``dag.test()`` runs them."""
    from airflow.sdk import DAG

    from airflow_chat_alerts.testing.dags import save_dags

    dags = {value.dag_id: value for value in vars(request.module).values() if isinstance(value, DAG)}
    save_dags(*dags.values())
    return dags


@pytest.fixture(scope="session")
def slack_workspace() -> Any:
    """The workspace the session's emulator serves (None: the packaged default workspace)."""
    return None


@pytest.fixture(scope="session")
def _slack_emulator_session(slack_workspace: Any) -> Iterator[SlackEmulator]:
    from airflow_chat_alerts.testing.emulator import SlackEmulator

    emulator = SlackEmulator(slack_workspace)
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def slack_emulator(_slack_emulator_session: SlackEmulator) -> SlackEmulator:
    """The session's emulator, reset to its seeded workspace for this test."""
    _slack_emulator_session.reset()
    return _slack_emulator_session


@pytest.fixture
def slack_web_view(slack_emulator: SlackEmulator) -> WebView:
    """The web page showing the session's emulator (its ``url``), started on first use and kept for the
    session: it follows each test's reset."""
    return slack_emulator.web_view()


def _default_channel(emulator: SlackEmulator) -> str | None:
    try:
        return emulator.channel_id(DEFAULT_CHANNEL)
    except KeyError:
        return None


@pytest.fixture
def slack_conn(slack_emulator: SlackEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """Airflow connection ``slack_api_default`` (type ``slack``) aimed at the emulator."""
    extra: dict[str, Any] = {"base_url": slack_emulator.base_url}
    channel = _default_channel(slack_emulator)
    if channel:
        extra["channel"] = channel
    conn = {"conn_type": "slack", "password": slack_emulator.bot_token, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", json.dumps(conn))
    return "slack_api_default"


@pytest.fixture
def slack_webhook_conn(slack_emulator: SlackEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """Airflow connection ``slack_webhook_default`` (type ``slackwebhook``) posting into ml-alerts."""
    conn = {"conn_type": "slackwebhook", "password": slack_emulator.webhook_url(DEFAULT_CHANNEL)}
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_WEBHOOK_DEFAULT", json.dumps(conn))
    return "slack_webhook_default"


@pytest.fixture(scope="session")
def discord_guild() -> Any:
    """The guild the session's Discord emulator serves (None: the packaged default guild)."""
    return None


@pytest.fixture(scope="session")
def _discord_emulator_session(discord_guild: Any) -> Iterator[DiscordEmulator]:
    from airflow_chat_alerts.testing.discord.emulator import DiscordEmulator

    emulator = DiscordEmulator(discord_guild)
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def discord_emulator(_discord_emulator_session: DiscordEmulator) -> DiscordEmulator:
    """The session's Discord emulator, reset to its seed for this test."""
    _discord_emulator_session.reset()
    return _discord_emulator_session


@pytest.fixture
def discord_web_view(discord_emulator: DiscordEmulator) -> WebView:
    """The web page showing the session's Discord emulator (its ``url``), started on first use and kept
    for the session: it follows each test's reset."""
    return discord_emulator.web_view()


@pytest.fixture
def discord_conn(discord_emulator: DiscordEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """Airflow connection ``discord_bot_default`` (type ``discord_bot``) aimed at the emulator: the bot
    token in the password; extras ``base_url``, ``gateway_url``, ``application_id``, ``guild_id`` and
    the default ``channel`` (ml-alerts' id)."""
    from airflow_chat_alerts.testing.discord.emulator import discord_connection

    conn = discord_connection(discord_emulator, DEFAULT_CHANNEL)
    monkeypatch.setenv("AIRFLOW_CONN_DISCORD_BOT_DEFAULT", json.dumps(conn))
    return "discord_bot_default"


@pytest.fixture
def discord_webhook_conn(discord_emulator: DiscordEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """Airflow connection ``discord_default`` (type ``discord``, the Discord provider's webhook
    connection) posting into ml-alerts through the emulator: ``host`` the API root, extra
    ``webhook_endpoint`` ``webhooks/{id}/{token}``."""
    from airflow_chat_alerts.testing.discord.emulator import discord_webhook_connection

    conn = discord_webhook_connection(discord_emulator, DEFAULT_CHANNEL)
    monkeypatch.setenv("AIRFLOW_CONN_DISCORD_DEFAULT", json.dumps(conn))
    return "discord_default"
