"""pytest fixtures for the Slack emulator (registered through the ``pytest11`` entry point).

- ``slack_emulator``: a running `SlackEmulator`, one per test session, reset before every test.
- ``slack_conn``: points the Airflow connection ``slack_api_default`` (env
  ``AIRFLOW_CONN_SLACK_API_DEFAULT``) at the emulator with the app's bot token and ``ml-alerts`` as
  the default channel; returns the connection id. Undone after the test.
- ``slack_webhook_conn``: the same for a ``slackwebhook`` connection ``slack_webhook_default``
  posting into ``ml-alerts``.
- ``slack_workspace``: override it in your conftest.py to return a `Workspace` or a JSON file path.

Importing this module starts nothing and imports neither aiohttp nor slack_sdk: the emulator is
loaded when a fixture is first used.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_chat_alerts.testing.emulator import SlackEmulator

DEFAULT_CHANNEL = "ml-alerts"


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
