"""Fixtures for the push tests: connections aimed at the emulator, with and without an app token."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

PUSH_CONN_ID = "slack_push"
POLL_CONN_ID = "slack_poll"
# Fast budgets: these tests count reads and sockets, they do not test the budget.
FAST_READS = {"conversations.history": 600, "conversations.replies": 600, "apps.connections.open": 600}



@pytest.fixture
def connect(slack_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """``connect(conn_id=PUSH_CONN_ID, app_token=True, grace=0.1)`` → a ``slack`` connection aimed at the
    emulator; with ``app_token`` it carries the app-level token in its extra (push), else it only polls;
    ``grace`` is its ``socket_grace`` (short: a test's loop ends with its asks)."""

    def make(conn_id: str = PUSH_CONN_ID, *, app_token: bool = True, grace: float = 0.1) -> str:
        extra: dict[str, Any] = {
            "base_url": slack_emulator.base_url, "rate_limits": FAST_READS, "socket_grace": grace,
        }
        if app_token:
            extra["app_token"] = slack_emulator.app_token
        conn = {"conn_type": "slack", "password": slack_emulator.bot_token, "extra": extra}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        return conn_id

    return make
