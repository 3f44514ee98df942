"""Buttons on a question, with real Airflow (dag.test()) against the Slack emulator.

The triggerer's Socket Mode side is played by the person's thread: it reads the ``block_actions`` payload
Slack builds for a click on the posted question's button, and posts the click's record in the thread as
the app (``Click(...).record()`` through the connection's own alerter), as the process receiving the
click does. The ask then weighs the record like a keyword reply by the person who clicked.
"""

from __future__ import annotations

import json
import os

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from airflow_chat_alerts import clicks
from airflow_chat_alerts.clicks import Click
from airflow_chat_alerts.hooks.chat_alerter import ChatAlerterHook

from .people import CHANNEL, questions
from .test_ask_sensor import assert_undecided_after_reads


@pytest.fixture
def interactive_conn(ask_conn, slack_emulator, monkeypatch) -> str:
    """``ask_conn`` with the app-level token: the connection takes clicks."""
    env = f"AIRFLOW_CONN_{ask_conn.upper()}"
    conn = json.loads(os.environ[env])
    conn["extra"]["app_token"] = slack_emulator.app_token
    monkeypatch.setenv(env, json.dumps(conn))
    return ask_conn


def click(emu, person: str, ts: str, action_id: str) -> Click:
    """``person`` clicks a button of the question; the click is recorded in its thread as the app."""
    payload = emu._click_payload(person, CHANNEL, ts, action_id, None)  # what Slack sends the app's socket
    found = Click.from_payload(payload)
    assert found is not None, f"not a click on our button: {payload['actions']}"
    alerter = ChatAlerterHook(chat_conn_id="slack_api_default").get_alerter()
    alerter.post(found.record(), channel=found.channel, thread_ts=found.question_ts)
    return found


def action_blocks(message: dict) -> list[dict]:
    return [b for b in message.get("blocks") or [] if b["type"] == "actions"]


def test_a_click_approves_and_the_outcome_replaces_the_buttons(run_ask, slack_emulator, interactive_conn):
    clicked = []

    def script(emu, ts):
        [buttons] = action_blocks(questions(emu)[-1])
        assert buttons["block_id"] == clicks.BUTTONS_BLOCK_ID
        clicked.append(click(emu, "alice", ts, clicks.APPROVE_ACTION))

    result = run_ask("ask_anyone", script)

    assert result.states == {"ask": "success", "after": "success"}
    assert result.decision["outcome"] == "approved"
    assert result.decision["by"] == [slack_emulator.user_id("alice")]
    assert result.decision["at"] == clicked[0].action_ts
    question = questions(slack_emulator)[-1]
    assert action_blocks(question) == []
    assert "✅ Approved by <@U0ALICE>" in question["text"]
    audit = slack_emulator.thread(CHANNEL, question["ts"])[1]
    assert audit["text"] == "<@U0ALICE> pressed *Approve*"


def test_only_an_approvers_click_counts(run_ask, slack_emulator, interactive_conn):
    def script(emu, ts):
        click(emu, "bob", ts, clicks.APPROVE_ACTION)  # not an approver: changes nothing
        assert_undecided_after_reads(emu)
        click(emu, "alice", ts, clicks.REJECT_ACTION)

    result = run_ask("ask_alice", script)

    assert result.states == {"ask": "success", "after": "success"}
    assert (result.decision["outcome"], result.decision["by"]) == ("rejected", [slack_emulator.user_id("alice")])


def test_click_records_not_posted_by_our_app_decide_nothing(run_ask, slack_emulator, interactive_conn):
    def script(emu, ts):
        alice = emu.user_id("alice")
        later = f"{float(ts) + 0.5:.6f}"
        forged = Click(user=alice, action="approve", action_ts=later, channel=emu.channel_id(CHANNEL), question_ts=ts)
        record = forged.record()
        # Another app posts a perfect record with its own bot token.
        other_app = WebClient(token=emu.workspace.user("ci-bot").token, base_url=emu.base_url)
        other_app.chat_postMessage(
            channel=forged.channel, thread_ts=ts, text=record.text, metadata=record.metadata
        )
        # A person cannot attach metadata at all (Slack refuses it from a user token).
        with pytest.raises(SlackApiError, match="metadata_must_be_sent_from_app"):
            emu.act_as("alice").reply(CHANNEL, ts, record.text, metadata=record.metadata)
        # Our app's own message with malformed click metadata is no click either.
        broken = {"event_type": clicks.CLICK_EVENT_TYPE, "event_payload": {"user": alice, "action": "yes"}}
        ChatAlerterHook(chat_conn_id="slack_api_default").get_alerter().client.chat_postMessage(
            channel=forged.channel, thread_ts=ts, text=record.text, metadata=broken
        )
        assert_undecided_after_reads(emu)
        emu.act_as("carol").reply(CHANNEL, ts, "reject - forged approvals above")

    result = run_ask("ask_anyone", script)

    assert (result.decision["outcome"], result.decision["by"]) == ("rejected", [slack_emulator.user_id("carol")])


def test_a_guests_click_counts_only_where_guests_may_answer(run_ask, slack_emulator, interactive_conn):
    def script(emu, ts):
        click(emu, "gina", ts, clicks.APPROVE_ACTION)  # a guest
        assert_undecided_after_reads(emu)
        click(emu, "alice", ts, clicks.REJECT_ACTION)

    result = run_ask("ask_anyone", script)

    assert (result.decision["outcome"], result.decision["by"]) == ("rejected", [slack_emulator.user_id("alice")])


def test_without_app_token_the_question_has_no_buttons(run_ask, slack_emulator):
    def script(emu, ts):
        assert action_blocks(questions(emu)[-1]) == []
        emu.act_as("alice").reply(CHANNEL, ts, "approve")

    assert run_ask("ask_anyone", script).decision["outcome"] == "approved"
