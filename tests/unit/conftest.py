"""Unit tests exercise pure modules: no Airflow metadata database, so skip the session's (slow) creation."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def airflow_db() -> None:
    return None
