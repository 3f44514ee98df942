"""The same scenarios on every chat service: post, notify, ask by reply, by reaction, by button, quorum,
veto, timeout, retry reuse, a forged question, a triggerer restart.

Each case is written once, with service-neutral acts (:class:`Reply`, :class:`React`, :class:`Click`) played
through a :class:`~.chat.Chat` driver, and runs on Slack and on Discord (the ``chat`` fixture's params): real
Airflow (``dag.test()``, the trigger run inline) against each service's emulator, the DAG differing only in its
connection (``tests/integration/dags/ask_test_dags.py``, ``scenario_post_dags.py``).
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_chat_alerts import formatting
from airflow_chat_alerts.decisions import AskPolicy
from airflow_chat_alerts.hooks.chat_alerter import ChatAlerterHook
from airflow_chat_alerts.model import ASK_EVENT_TYPE
from airflow_chat_alerts.testing.asks import wait_until
from airflow_chat_alerts.triggers.ask import ChatAskTrigger

from ..people import AskRun
from .chat import Chat, Question, Verdict
from .conftest import undecided_question

POST_DAGS = Path(__file__).resolve().parents[1] / "dags" / "scenario_post_dags.py"
CONN_IDS = {"slack": "slack_api_default", "discord": "discord_bot_default"}


@dataclass(frozen=True)
class Reply:
    person: str
    text: str

    def __call__(self, chat: Chat, question: Question) -> None:
        chat.reply(self.person, question, self.text)


@dataclass(frozen=True)
class React:
    person: str
    verdict: Verdict

    def __call__(self, chat: Chat, question: Question) -> None:
        chat.react(self.person, question, self.verdict)


@dataclass(frozen=True)
class Click:
    person: str
    verdict: Verdict

    def __call__(self, chat: Chat, question: Question) -> None:
        chat.click(self.person, question, self.verdict)


@dataclass(frozen=True)
class Scenario:
    """One case: the DAG (``scenario_<case>__<service>``), what people do in order, and how the ask ends."""

    case: str
    acts: tuple = ()
    outcome: str = "approved"
    by: tuple[str, ...] = ()
    comment: str | None = None
    states: dict[str, str] = field(default_factory=dict)


SCENARIOS = {
    # Bob may not answer: only alice's reply counts.
    "reply": Scenario("alice", (Reply("bob", "approve"), Reply("alice", "approve - looks good")),
                      by=("alice",), comment="looks good"),
    "reaction": Scenario("anyone", (React("carol", "approve"),), by=("carol",)),
    # Bob's click changes nothing; carol counts through the approver group (Slack) or role (Discord).
    "button": Scenario("alice_or_leads", (Click("bob", "approve"), Click("carol", "approve")), by=("carol",)),
    "quorum": Scenario("quorum", (Reply("alice", "approve"), Click("bob", "approve")), by=("alice", "bob")),
    "veto": Scenario("quorum", (Reply("alice", "approve"), Reply("carol", "reject - numbers look off")),
                     outcome="rejected", by=("carol",), comment="numbers look off"),
    "timeout": Scenario("timeout", outcome="timed_out"),
    "retry reuse": Scenario("retry", (Reply("alice", "yes"),), by=("alice",)),
    "branch": Scenario("branches", (React("alice", "reject"),), outcome="rejected", by=("alice",),
                       states={"deploy": "skipped", "discard": "success", "escalate": "skipped"}),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario(run_scenario, chat, name):
    scenario = SCENARIOS[name]

    def people(chat: Chat, question: Question) -> None:
        for act in scenario.acts:
            act(chat, question)

    result = run_scenario(scenario.case, people if scenario.acts else None)

    assert result.states["ask"] == "success", result.failures
    assert result.decision["outcome"] == scenario.outcome
    assert result.decision["by"] == [chat.user_id(person) for person in scenario.by]
    assert result.decision["comment"] == scenario.comment
    assert result.xcom("return_value") is (scenario.outcome == "approved")
    for task_id, state in scenario.states.items():
        assert result.states[task_id] == state
    [question] = chat.questions()  # one question, even across a retry, and it says how it ended
    assert question.decided
    assert result.decision["ts"] == question.ts
    mark = {"approved": "✅ Approved", "rejected": "❌ Rejected", "timed_out": "⌛ Timed out"}[scenario.outcome]
    assert mark in question.text
    if name == "retry reuse":
        assert result.dag_run.get_task_instance("ask").try_number == 2


def test_a_forged_copy_of_the_question_decides_nothing(run_scenario, chat, tmp_path, monkeypatch):
    """Between a failed first try and its retry, another bot posts a copy naming the same ask and an approver
    approves the copy: the retry does not adopt it, asks anew, and only the answer to its own question counts."""
    identity = tmp_path / "identity.json"
    monkeypatch.setenv("ASK_TEST_IDENTITY", str(identity))
    forged: list[Question] = []
    failure: list[BaseException] = []

    def attack() -> None:
        try:
            wait_until(identity.exists, what="the first try to name its task instance")
            named = {**json.loads(identity.read_text()), "try_number": 1, "deadline": "2999-01-01T00:00:00+00:00"}
            forged.append(chat.forge("ci-bot", named, "pizza on Friday?"))
            chat.react("alice", forged[0], "approve")
            (tmp_path / "identity.json.done").touch()
            ours = undecided_question(chat)
            chat.reply("alice", ours, "reject - not ready")
        except BaseException as err:  # re-raised in the test
            failure.append(err)
            chat.give_up()

    attacker = threading.Thread(target=attack, daemon=True)
    attacker.start()
    result = run_scenario("forged")
    attacker.join(timeout=60)
    assert not failure, failure

    [ours] = chat.questions()
    assert result.decision["outcome"] == "rejected" and result.decision["ts"] == ours.ts
    assert forged[0].ts != ours.ts


def test_post_and_notify_mask_secrets_and_show_untrusted_values_as_text(load_dag, chat):
    from airflow_chat_alerts.testing.dags import save_dags

    post, notify = (load_dag(POST_DAGS, f"scenario_{kind}__{chat.service}") for kind in ("post", "notify"))
    save_dags(post, notify)

    assert post.test().state == "success"
    assert notify.test().state == "failed"

    alert, notification = chat.posted()
    assert "0.97" in alert and "scenario_post__" in alert  # the text and the context line
    assert "hunter2-very-secret" not in alert and "***" in alert
    assert "ValueError" in notification and "scenario_notify__" in notification
    assert "hunter2-very-secret" not in notification and "***" in notification


def _question(chat: Chat, deadline: datetime):
    """The question as ChatAskSensor posts it (the trigger never posts)."""
    hook = ChatAlerterHook(chat_conn_id=CONN_IDS[chat.service])
    payload = {"dag_id": "d", "run_id": "r", "task_id": "ask", "map_index": -1, "try_number": 1,
               "deadline": deadline.isoformat()}
    message = formatting.question_message(
        "Deploy?", context=None, approve_keywords=["approve"], reject_keywords=["reject"],
        approve_reactions=["white_check_mark"], reject_reactions=["x"], approvers=None, required_approvals=1,
        deadline=deadline, on_timeout="reject", metadata={"event_type": ASK_EVENT_TYPE, "event_payload": payload},
        interactive=hook.settings().interactive,
    )
    return hook.get_alerter().post_question(message)


def test_a_triggerer_restart_loses_no_answer_given_while_none_ran(chat):
    deadline = datetime.now(timezone.utc) + timedelta(seconds=60)
    ref = _question(chat, deadline)
    question = undecided_question(chat)
    trigger = ChatAskTrigger(conn_id=CONN_IDS[chat.service], channel=ref.channel, ts=ref.ts,
                             policy=AskPolicy().to_dict(), deadline=deadline.isoformat(), poll_interval=0.2,
                             reconcile_interval=0.2)

    async def run_then_cancel() -> None:
        task = asyncio.ensure_future(anext(trigger.run()))
        enough = chat.reads() + 3
        while chat.reads() < enough:  # a few reads with nothing to find
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run_then_cancel())  # the triggerer stops (its loop ends with it)
    chat.reply("carol", question, "approve - while you were away")
    restarted = ChatAskTrigger(**trigger.serialize()[1])  # another triggerer, from the kwargs alone

    async def first_event() -> dict:
        return (await asyncio.wait_for(anext(restarted.run()), 120)).payload

    event = asyncio.run(first_event())
    assert event["status"] == "approved"
    assert event["decision"]["by"] == [chat.user_id("carol")]
    assert len(chat.questions()) == 1


__all__ = ["AskRun"]
