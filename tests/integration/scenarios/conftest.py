"""The scenario table's fixtures: the chat service under test (each scenario runs on every one) and
``run_scenario`` (dag.test() of the case's DAG for that service while people act)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from typing import Any

import pytest

from airflow_chat_alerts.testing import asks

from ..people import DAGS, AskRun
from .chat import Chat, DiscordChat, Question, SlackChat

SERVICES = ("slack", "discord")


@pytest.fixture(params=SERVICES)
def chat(request, monkeypatch) -> Chat:
    """A chat service with its emulator and its connection: Slack (bot token, app-level token for clicks,
    a rate budget to match the emulator's generous limits) or Discord (a bot)."""
    if request.param == "slack":
        emu = request.getfixturevalue("slack_emulator")
        conn_id = request.getfixturevalue("slack_conn")
        env = f"AIRFLOW_CONN_{conn_id.upper()}"
        conn = json.loads(os.environ[env])
        conn["extra"]["app_token"] = emu.app_token
        conn["extra"]["rate_limits"] = {"conversations.replies": 1200, "conversations.history": 1200}
        monkeypatch.setenv(env, json.dumps(conn))
        return SlackChat(emu)
    emu = request.getfixturevalue("discord_emulator")
    request.getfixturevalue("discord_conn")
    return DiscordChat(emu)


class Person(threading.Thread):
    """Plays ``script(chat, question)`` once an undecided question of the bot is posted; a person whose
    script fails, or who waits in vain, revokes the bot's token so the DAG ends at once."""

    def __init__(self, chat: Chat, script: Callable[[Chat, Question], None]) -> None:
        super().__init__(daemon=True, name="scenario-person")
        self.chat, self.script = chat, script
        self.error: BaseException | None = None
        self.dag_ended = threading.Event()

    def run(self) -> None:
        try:
            self.script(self.chat, undecided_question(self.chat, self.dag_ended))
        except BaseException as err:  # re-raised in the test's thread
            self.error = err
            self.chat.give_up()

    def finish(self) -> None:
        self.dag_ended.set()
        self.join(timeout=asks.DEFAULT_TIMEOUT)
        assert not self.is_alive(), "the person was still acting after the DAG ended"
        if self.error is not None:
            raise self.error


def undecided_question(chat: Chat, stop: threading.Event | None = None) -> Question:
    def asked() -> Question | None:
        if stop is not None and stop.is_set():
            raise AssertionError(f"the DAG run ended before an undecided question was in #ml-alerts ({chat.service})")
        found = [q for q in chat.questions() if not q.decided]
        return found[-1] if found else None

    return asks.wait_until(asked, what=f"an undecided question of the bot in #ml-alerts ({chat.service})")


@pytest.fixture
def run_scenario(load_dag, chat, tmp_path, monkeypatch):
    """``run_scenario(case, script=None)``: dag.test() of ``scenario_<case>__<service>`` while a person plays
    ``script(chat, question)``."""
    failures = tmp_path / "failures.jsonl"
    monkeypatch.setenv("ASK_TEST_FAILURES", str(failures))

    def run(case: str, script: Callable[[Chat, Question], None] | None = None) -> AskRun:
        dag = load_dag(DAGS, f"scenario_{case}__{chat.service}")
        person = Person(chat, script) if script else None
        if person:
            person.start()
        try:
            dag_run = dag.test()
        finally:
            if person:
                person.finish()
        states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
        lines = failures.read_text().splitlines() if failures.exists() else []
        return AskRun(dag_run, states, [json.loads(line) for line in lines])

    return run


__all__ = ["Any"]
