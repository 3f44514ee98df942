"""Fixtures for the shared-poller tests: a connection aimed at the emulator with chosen extras."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

CONN_ID = "slack_scale"
# Fast budgets for tests that do not test the budget itself: 10 reads a second.
FAST_READS = {"conversations.history": 600, "conversations.replies": 600}



@pytest.fixture
def scale_conn(slack_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """``scale_conn(emulator=None, **extras)`` → the id of a ``slack`` connection aimed at ``emulator``
    (default: the session's emulator) with these extras."""

    def connect(emulator: Any = None, **extras: Any) -> str:
        emulator = emulator or slack_emulator
        extra = {"base_url": emulator.base_url, "rate_limits": FAST_READS, **extras}
        conn = {"conn_type": "slack", "password": emulator.bot_token, "extra": extra}
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
        return CONN_ID

    return connect
