"""Discord emulator tests need no Airflow metadata database."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def airflow_db() -> None:
    return None
