"""The people in the channel, played from background threads, and what a dag.test() run left behind.

People act through the emulator's real Web API (``emu.act_as``) once the question shows up in the
channel; whatever they assert is re-raised in the test when they are joined. A person who gives up (the
question never came) or whose script fails revokes the app's token first, so the DAG's next call to
Slack fails for good and ``dag.test()`` ends at once instead of waiting out the ask's deadline.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_chat_alerts.testing import asks

DAGS = Path(__file__).parent / "dags" / "ask_test_dags.py"
CHANNEL = "ml-alerts"


def questions(emu) -> list[dict[str, Any]]:
    """The ask questions in ml-alerts (oldest first)."""
    return asks.questions(emu, CHANNEL)


class Person(threading.Thread):
    """Runs ``script(emu, question_ts)`` once the question is posted; errors are kept for ``finish``."""

    def __init__(self, emu, script: Callable[[Any, str], None]) -> None:
        super().__init__(daemon=True, name="simulated-person")
        self.emu, self.script = emu, script
        self.error: BaseException | None = None
        self.dag_ended = threading.Event()

    def run(self) -> None:
        try:
            self.script(self.emu, self._wait_for_question()["ts"])
        except BaseException as err:  # re-raised in the test's thread
            self.error = err
            # End the ask now: with the token revoked its next read (or its post) fails for good.
            self.emu.revoke_token(self.emu.bot_token)

    def _wait_for_question(self) -> dict[str, Any]:
        def asked() -> dict[str, Any] | None:
            if self.dag_ended.is_set():
                raise AssertionError("the DAG run ended before an undecided question was in #ml-alerts")
            found = questions(self.emu)
            return found[-1] if found and not asks.is_decided(found[-1]) else None

        return asks.wait_until(asked, what="an undecided question in #ml-alerts")

    def finish(self) -> None:
        """Join the person after dag.test() returned; re-raise what went wrong in their thread."""
        self.dag_ended.set()
        self.join(timeout=asks.DEFAULT_TIMEOUT)
        assert not self.is_alive(), f"the person was still acting {asks.DEFAULT_TIMEOUT:g} s after the DAG ended"
        if self.error is not None:
            raise self.error


def run_with(emu, script: Callable[[Any, str], None] | None, dag) -> Any:
    """``dag.test()`` while a person plays ``script`` (none: nobody answers); returns the DAG run."""
    person = Person(emu, script) if script else None
    if person:
        person.start()
    try:
        return dag.test()
    finally:
        if person:
            person.finish()


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
