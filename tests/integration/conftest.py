"""Fixtures for the ask tests: a connection to the emulator and ``run_ask`` (dag.test() with a person)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from .people import DAGS, AskRun, run_with


@pytest.fixture
def ask_conn(slack_conn, monkeypatch) -> str:
    """``slack_conn`` with a read budget to match the emulator's generous limits.

    The default (Slack's tier 3, one read every 1.3 s per process) would make every test wait for read
    slots; the rate budget has its own tests.
    """
    env = f"AIRFLOW_CONN_{slack_conn.upper()}"
    conn = json.loads(os.environ[env])
    conn["extra"]["rate_limits"] = {"conversations.replies": 1200, "conversations.history": 1200}
    monkeypatch.setenv(env, json.dumps(conn))
    return slack_conn


@pytest.fixture
def run_ask(load_dag, slack_emulator, ask_conn, tmp_path, monkeypatch):
    """``run_ask(dag_id, script=None)``: run the DAG with dag.test() while a person plays ``script``."""
    failures = tmp_path / "failures.jsonl"
    monkeypatch.setenv("ASK_TEST_FAILURES", str(failures))

    def run(dag_id: str, script: Callable[[Any, str], None] | None = None) -> AskRun:
        dag_run = run_with(slack_emulator, script, load_dag(DAGS, dag_id))
        states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
        lines = failures.read_text().splitlines() if failures.exists() else []
        return AskRun(dag_run, states, [json.loads(line) for line in lines])

    return run
