"""ChatAskTrigger driven directly (as a triggerer would) against the Slack emulator.

These cover what dag.test() cannot show: a copy rebuilt from serialize() alone after another copy was
cancelled, a copy that starts after its deadline, and the exact events.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from airflow_chat_alerts.decisions import AskPolicy
from airflow_chat_alerts.triggers.ask import ChatAskTrigger
from airflow_chat_alerts.utils import within

CHANNEL = "ml-alerts"


def iso_in(seconds: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat()


def make_trigger(emu, ts: str, *, deadline: str, policy: dict | None = None, **kwargs) -> ChatAskTrigger:
    return ChatAskTrigger(
        conn_id="slack_api_default",
        channel=emu.channel_id(CHANNEL),
        ts=ts,
        policy=AskPolicy().to_dict() if policy is None else policy,
        deadline=deadline,
        poll_interval=0.1,
        **kwargs,
    )


def reads_since(emu, moment: str) -> int:
    """Reads of the question the trigger made at or after ``moment`` (an ISO time, as for deadlines)."""
    since = datetime.fromisoformat(moment).timestamp()
    return sum(1 for call in emu.journal.calls("conversations.replies") if call.time >= since)


def first_event(trigger: ChatAskTrigger, *, within: float = 120.0) -> dict:
    """The trigger's first event; the bound is for a hung trigger, far above any answer's time."""
    async def run():
        return await asyncio.wait_for(anext(trigger.run()), within)

    return asyncio.run(run()).payload


@pytest.fixture
def question(slack_emulator, ask_conn) -> str:
    """The ts of a question the app posted (as ChatAskSensor would have)."""
    return slack_emulator.act_as("chat-alerts").post(CHANNEL, "Deploy the model?")


def test_serialize_carries_the_kwargs_and_no_secret(slack_emulator, question):
    trigger = make_trigger(slack_emulator, question, deadline=iso_in(60), remind_at=iso_in(30))

    classpath, kwargs = trigger.serialize()

    assert classpath == "airflow_chat_alerts.triggers.ask.ChatAskTrigger"
    assert set(kwargs) == {
        "conn_id", "channel", "ts", "policy", "deadline", "poll_interval", "remind_at", "reconcile_interval",
        "settled_at",
    }
    assert ChatAskTrigger(**kwargs).serialize() == (classpath, kwargs)
    assert json.loads(json.dumps(kwargs)) == kwargs  # plain JSON, as the triggerer stores it
    assert slack_emulator.bot_token not in json.dumps(kwargs)


def test_a_copy_rebuilt_from_serialize_finds_an_answer_given_while_none_ran(slack_emulator, question):
    first = make_trigger(slack_emulator, question, deadline=iso_in(30))

    async def run_then_cancel():
        task = asyncio.ensure_future(anext(first.run()))
        while slack_emulator.journal.count("conversations.replies") < 3:  # a few polls with nothing to find
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run_then_cancel())
    reads_while_running = slack_emulator.journal.count("conversations.replies")
    slack_emulator.act_as("alice").reply(CHANNEL, question, "approve - ship it")
    time.sleep(0.3)
    assert slack_emulator.journal.count("conversations.replies") == reads_while_running  # really stopped

    classpath, kwargs = first.serialize()
    event = first_event(ChatAskTrigger(**kwargs))

    assert event["status"] == "approved"
    assert event["decision"]["by"] == ["U0ALICE"]
    assert event["decision"]["comment"] == "ship it"
    # Neither copy posted anything: only the question itself and alice's reply exist.
    assert slack_emulator.journal.count("chat.postMessage") == 2


def test_an_answer_found_at_once_is_handed_back_only_once_the_deferral_has_settled(slack_emulator, question):
    """Airflow's scheduler can fail a task resumed before it processed the exit of the process that
    deferred it: the answer waits until ``settled_at``, then decides as it would have."""
    slack_emulator.act_as("alice").reply(CHANNEL, question, "approve")
    settled_at = datetime.now(timezone.utc) + timedelta(seconds=1.5)
    trigger = make_trigger(slack_emulator, question, deadline=iso_in(60), settled_at=settled_at.isoformat())

    event = first_event(trigger)

    assert datetime.now(timezone.utc) >= settled_at
    assert event["status"] == "approved" and event["decision"]["by"] == ["U0ALICE"]


def test_a_copy_started_after_its_deadline_counts_a_reply_given_before_it(slack_emulator, question):
    slack_emulator.act_as("carol").reply(CHANNEL, question, "reject: not on a Friday")
    time.sleep(0.05)
    trigger = make_trigger(slack_emulator, question, deadline=iso_in(0))
    time.sleep(0.05)

    event = first_event(trigger)

    assert event["status"] == "rejected"
    assert event["decision"]["comment"] == "not on a Friday"


def test_a_copy_started_after_its_deadline_ignores_a_reply_given_after_it(slack_emulator, question):
    deadline = iso_in(0)
    trigger = make_trigger(slack_emulator, question, deadline=deadline)
    time.sleep(0.05)
    slack_emulator.act_as("alice").reply(CHANNEL, question, "approve")

    assert first_event(trigger) == {"status": "timed_out"}
    assert reads_since(slack_emulator, deadline) == 1  # one read, then the answer


def test_a_reaction_first_seen_after_the_deadline_still_counts(slack_emulator, question):
    # Slack does not say when a reaction was added: one found by the first read after a triggerer
    # outage may have been added before the deadline, so it counts.
    slack_emulator.act_as("bob").react(CHANNEL, question, "+1")
    trigger = make_trigger(slack_emulator, question, deadline=iso_in(0))
    time.sleep(0.05)

    event = first_event(trigger)

    assert event["status"] == "approved"
    assert event["decision"]["by"] == ["U0BOB"]


def test_no_answer_times_out_at_the_deadline(slack_emulator, question):
    deadline = iso_in(0.8)
    event = first_event(make_trigger(slack_emulator, question, deadline=deadline))

    assert event == {"status": "timed_out"}
    assert datetime.now(timezone.utc) >= datetime.fromisoformat(deadline)
    # The first complete read after the deadline decides: one, or two when a round under way as the
    # deadline fell due had not yet looked whether the channel was archived.
    assert 1 <= reads_since(slack_emulator, deadline) <= 2


def test_remind_at_hands_back_for_a_reminder(slack_emulator, question):
    remind_at = iso_in(0.5)
    event = first_event(make_trigger(slack_emulator, question, deadline=iso_in(30), remind_at=remind_at))

    assert event == {"status": "remind"}
    assert datetime.now(timezone.utc) >= datetime.fromisoformat(remind_at)
    assert reads_since(slack_emulator, remind_at) <= 1  # handed back at the reminder, not later


def test_an_answer_beats_the_reminder(slack_emulator, question):
    slack_emulator.act_as("alice").react(CHANNEL, question, "x")
    # The reminder is already due when this copy starts: it reads first and finds the decision.
    event = first_event(make_trigger(slack_emulator, question, deadline=iso_in(30), remind_at=iso_in(-5)))

    assert event["status"] == "rejected"


def test_a_deleted_question_is_an_error_event(slack_emulator, question):
    slack_emulator.delete_message(CHANNEL, question)

    event = first_event(make_trigger(slack_emulator, question, deadline=iso_in(30)))

    assert event["status"] == "error"
    assert event["code"] in ("message_not_found", "thread_not_found")  # Slack's word depends on the thread
    assert "deleted" in event["message"]


def test_a_revoked_token_is_an_error_event(slack_emulator, question):
    slack_emulator.revoke_token(slack_emulator.bot_token)

    event = first_event(make_trigger(slack_emulator, question, deadline=iso_in(30)))

    assert event["status"] == "error"
    assert event["code"] == "token_revoked"
    assert "slack_api_default" in event["message"]
    assert slack_emulator.bot_token not in event["message"]


def test_a_bad_policy_is_an_error_event_not_a_crash(slack_emulator, question):
    policy = {**AskPolicy().to_dict(), "reject_keywords": ["approve"]}

    event = first_event(make_trigger(slack_emulator, question, deadline=iso_in(30), policy=policy))

    assert event["status"] == "error"
    assert "overlap" in event["message"]


@pytest.mark.parametrize("finishes", [True, False])
def test_within_never_swallows_a_cancellation(finishes):
    """A trigger cancelled as its read completes must stop (asyncio.wait_for before 3.12 would return)."""

    async def main() -> None:
        read_done = asyncio.Event()
        waiting = asyncio.create_task(within(read_done.wait(), 5))
        await asyncio.sleep(0.01)
        if finishes:
            read_done.set()  # the read completes in the same tick as the cancellation
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting

    asyncio.run(main())


def test_within_times_out_and_returns_results():
    async def main() -> None:
        assert await within(asyncio.sleep(0, result="read"), 1) == "read"
        with pytest.raises(asyncio.TimeoutError):
            await within(asyncio.sleep(5), 0.05)

    asyncio.run(main())


# -- bugs fail loudly; only Slack's garbled answers are retried ---------------------------------------


def test_an_error_in_the_packages_own_code_fails_the_ask_at_once_with_its_traceback(
    slack_emulator, question, monkeypatch
):
    """A bug in reading a well-formed answer (here: in reading a reactor's profile) must not pass for a
    garbled answer from Slack, to be retried until the deadline: the trigger fails with the bug itself."""
    from airflow_chat_alerts.alerters import slack

    def broken(user, team):
        raise KeyError("is_restricted")

    monkeypatch.setattr(slack, "_profile", broken)
    slack_emulator.act_as("alice").react(CHANNEL, question, "white_check_mark")
    trigger = make_trigger(slack_emulator, question, deadline=iso_in(600))
    with pytest.raises(KeyError, match="is_restricted"):
        first_event(trigger, within=60)


def test_an_answer_slack_garbled_is_retried_and_the_ask_goes_on(slack_emulator, question):
    slack_emulator.faults.add("conversations.replies", "truncated", count=2)
    slack_emulator.act_as("alice").reply(CHANNEL, question, "approve")
    event = first_event(make_trigger(slack_emulator, question, deadline=iso_in(600)))
    assert event["status"] == "approved"
    assert slack_emulator.journal.count("conversations.replies") >= 3  # two garbled, then read


def test_a_round_under_way_as_the_last_ask_leaves_ends_quietly(slack_emulator, question, caplog):
    """The channel's poller is in the middle of a read when its last ask leaves: the round ends without
    an error (it once computed the oldest of no questions, and logged a failure)."""
    slack_emulator.faults.add("conversations.replies", "stall", delay=1.0)
    slack_emulator.faults.add("conversations.history", "stall", delay=1.0)
    trigger = make_trigger(slack_emulator, question, deadline=iso_in(600))

    async def main():
        task = asyncio.ensure_future(anext(trigger.run()))
        await asyncio.sleep(0.4)  # the first round is waiting for Slack
        task.cancel()
        await asyncio.wait({task})
        await asyncio.sleep(1.5)  # the stalled answers come back

    asyncio.run(main())
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL") or "unexpectedly" in r.getMessage()]
