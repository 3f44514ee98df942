"""The people in the channel, played from background threads, and what a dag.test() run left behind.

People act through the emulator's real Web API (``emu.act_as``) once the question shows up in the
channel; whatever they assert is re-raised in the test when they are joined.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_chat_alerts.alerters.base import ASK_EVENT_TYPE

DAGS = Path(__file__).parent / "dags" / "ask_test_dags.py"
CHANNEL = "ml-alerts"


def questions(emu, channel: str = CHANNEL) -> list[dict[str, Any]]:
    """The ask questions in the channel (oldest first)."""
    return [m for m in emu.messages(channel) if (m.get("metadata") or {}).get("event_type") == ASK_EVENT_TYPE]


def wait_for(predicate: Callable[[], Any], *, timeout: float = 15.0, what: str = "a condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def wait_for_question(emu, *, undecided: bool = True, count: int = 1) -> dict[str, Any]:
    """The newest question once ``count`` questions exist (and it is still undecided, by default)."""

    def newest():
        found = questions(emu)
        if len(found) < count:
            return None
        last = found[-1]
        if undecided and "outcome" in last["metadata"]["event_payload"]:
            return None
        return last

    return wait_for(newest, what="the question to be posted")


class Person(threading.Thread):
    """Runs ``script(emu, question_ts)`` once the question is posted; errors are kept for ``join``."""

    def __init__(self, emu, script: Callable[[Any, str], None]) -> None:
        super().__init__(daemon=True, name="simulated-person")
        self.emu, self.script = emu, script
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.script(self.emu, wait_for_question(self.emu)["ts"])
        except BaseException as err:  # re-raised in the test's thread
            self.error = err

    def finish(self) -> None:
        self.join(timeout=30)
        assert not self.is_alive(), "the simulated person never finished"
        if self.error is not None:
            raise self.error


@dataclass
class AskRun:
    """What a dag.test() run of a test DAG left behind."""

    dag_run: Any
    states: dict[str, str]
    failures: list[dict[str, str]] = field(default_factory=list)

    def xcom(self, key: str, task_id: str = "ask") -> Any:
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            row = session.scalars(
                XComModel.get_many(
                    run_id=self.dag_run.run_id, dag_ids=self.dag_run.dag_id, task_ids=task_id, key=key
                )
            ).first()
            return XComModel.deserialize_value(row) if row is not None else None

    @property
    def decision(self) -> dict[str, Any] | None:
        return self.xcom("decision")
