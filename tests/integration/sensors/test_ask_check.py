"""The worker's one look at a question an earlier try posted (sensors/ask_check.py), against the emulator.

It reads through the connection's sync alerter and decides with decisions.evaluate under the trigger's
rules: only the app's own question, answers up to the deadline, approver groups read with it, a timeout
only after the deadline in a channel not archived; a read that fails leaves the waiting to the trigger.
"""

from __future__ import annotations

from contextlib import closing
from datetime import datetime, timezone

import pytest

from airflow_chat_alerts.alerters.slack import SlackAlerter
from airflow_chat_alerts.decisions import AskPolicy
from airflow_chat_alerts.exceptions import ChatPermanentError
from airflow_chat_alerts.hooks.chat_alerter import ChatAlerterHook
from airflow_chat_alerts.model import QuestionRecord
from airflow_chat_alerts.sensors.ask_check import decided_already
from airflow_chat_alerts.testing import SlackEmulator

from ..triggers.test_ask_trigger import CHANNEL, iso_in


@pytest.fixture
def question(slack_emulator, ask_conn) -> str:
    """The ts of a question the app posted (as ChatAskSensor would have)."""
    return slack_emulator.act_as("chat-alerts").post(CHANNEL, "Deploy the model?")


def check(emu, ts: str, *, deadline: str, policy: AskPolicy | None = None) -> dict | None:
    record = QuestionRecord(channel=emu.channel_id(CHANNEL), ts=ts, deadline=deadline)
    with closing(ChatAlerterHook(chat_conn_id="slack_api_default").get_alerter()) as alerter:
        return decided_already(alerter, record, policy or AskPolicy(), now=datetime.now(timezone.utc))


def test_an_answer_given_meanwhile_decides_in_one_read(slack_emulator, question):
    slack_emulator.act_as("alice").reply(CHANNEL, question, "approve - while you were away")
    slack_emulator.journal.clear()

    event = check(slack_emulator, question, deadline=iso_in(60))

    assert event["status"] == "approved"
    assert event["decision"]["by"] == ["U0ALICE"] and event["decision"]["comment"] == "while you were away"
    assert slack_emulator.journal.count("conversations.replies") == 1
    assert slack_emulator.journal.count("conversations.history") == 0  # no channel poller's read


def test_an_undecided_question_before_its_deadline_is_left_to_the_trigger(slack_emulator, question):
    slack_emulator.act_as("bob").reply(CHANNEL, question, "approve?")  # a question, not an answer

    assert check(slack_emulator, question, deadline=iso_in(60)) is None
    assert slack_emulator.journal.count("conversations.info") == 0  # archiving matters only for a timeout


def test_a_question_past_its_deadline_times_out_without_deferring(slack_emulator, question):
    """A retry reusing an expired question hands back the timeout at once (a trigger firing right after
    a deferral is what Airflow 3.3 can mishandle), after the same complete read a trigger would need."""
    assert check(slack_emulator, question, deadline=iso_in(-1)) == {"status": "timed_out"}
    assert slack_emulator.journal.count("conversations.info") == 1  # not archived: looked at after the deadline


def test_an_answer_after_the_deadline_does_not_count(slack_emulator, question):
    deadline = iso_in(-1)
    slack_emulator.act_as("alice").reply(CHANNEL, question, "approve")

    assert check(slack_emulator, question, deadline=deadline) == {"status": "timed_out"}


def test_a_question_past_its_deadline_in_an_archived_channel_fails(slack_emulator, question):
    slack_emulator.archive_channel(CHANNEL)

    with pytest.raises(ChatPermanentError, match="is_archived.*slack_api_default") as failed:
        check(slack_emulator, question, deadline=iso_in(-1))
    assert failed.value.code == "is_archived"


def test_a_message_the_app_did_not_post_decides_nothing(slack_emulator, ask_conn):
    forged = slack_emulator.act_as("bob").post(CHANNEL, "pizza on Friday?")
    slack_emulator.act_as("alice").react(CHANNEL, forged, "white_check_mark")

    with pytest.raises(ChatPermanentError, match="not_our_question") as failed:
        check(slack_emulator, forged, deadline=iso_in(60))
    assert failed.value.code == "not_our_question"


def test_a_group_approver_counts_by_the_groups_members_read_now(slack_emulator, question):
    slack_emulator.act_as("bob").reply(CHANNEL, question, "approve")  # not in ml-leads
    slack_emulator.act_as("carol").react(CHANNEL, question, "heavy_check_mark")  # in ml-leads
    policy = AskPolicy(approvers=["S0MLLEADS"])

    event = check(slack_emulator, question, deadline=iso_in(60), policy=policy)

    assert event["status"] == "approved" and event["decision"]["by"] == ["U0CAROL"]
    slack_emulator.set_usergroup_members("ml-leads", ["alice"])
    assert check(slack_emulator, question, deadline=iso_in(60), policy=policy) is None


def test_guests_count_only_when_allowed(slack_emulator, question):
    slack_emulator.act_as("gina").react(CHANNEL, question, "white_check_mark")  # a guest

    assert check(slack_emulator, question, deadline=iso_in(60)) is None
    allowed = check(slack_emulator, question, deadline=iso_in(60), policy=AskPolicy(allow_guests=True))
    assert allowed["status"] == "approved" and allowed["decision"]["by"] == ["U0GINA"]


def test_a_read_that_keeps_failing_leaves_the_waiting_to_the_trigger(slack_emulator, question):
    slack_emulator.act_as("alice").reply(CHANNEL, question, "approve")
    slack_emulator.faults.add("conversations.replies", "503", count=100)

    assert check(slack_emulator, question, deadline=iso_in(60)) is None


def test_a_token_that_may_not_read_the_groups_leaves_the_waiting_to_the_trigger():
    """Without usergroups:read the trigger fails only once a group's member answers: the look does not."""
    scopes = ["chat:write", "channels:history", "reactions:read", "users:read", "channels:read"]
    with SlackEmulator(SlackEmulator(start=False).workspace.with_scopes("chat-alerts", scopes)) as emu:
        ts = emu.act_as("chat-alerts").post(CHANNEL, "Deploy the model?")
        record = QuestionRecord(channel=emu.channel_id(CHANNEL), ts=ts, deadline=iso_in(60))
        with closing(SlackAlerter(conn_id="chat_test", token=emu.bot_token, base_url=emu.base_url)) as alerter:
            event = decided_already(alerter, record, AskPolicy(approvers=["U0ALICE", "S0MLLEADS"]),
                                    now=datetime.now(timezone.utc))

    assert event is None
