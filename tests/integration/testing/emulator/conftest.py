"""Emulator tests need no Airflow metadata database: skip the session's (slow) creation here."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def airflow_db() -> None:
    return None


@pytest.fixture
def bot(slack_emulator):
    """A WebClient acting as the app's bot."""
    return slack_emulator.client()


@pytest.fixture
def ml(slack_emulator):
    """The id of #ml-alerts, where the app is a member."""
    return slack_emulator.channel_id("ml-alerts")
