"""The public helper a user's test waits with: airflow_chat_alerts.testing.wait_for_question."""

from __future__ import annotations

import threading

import pytest

from airflow_chat_alerts.model import ASK_EVENT_TYPE
from airflow_chat_alerts.testing import wait_for_question

CHANNEL = "ml-alerts"


def ask(emu, text: str = "Deploy?", **payload) -> str:
    """Post a question as the app does (metadata marks it an ask)."""
    metadata = {"event_type": ASK_EVENT_TYPE, "event_payload": {"dag_id": "d", **payload}}
    return emu.act_as("chat-alerts").post(CHANNEL, text, metadata=metadata)


def test_returns_the_question_once_it_is_posted(slack_emulator):
    slack_emulator.act_as("alice").post(CHANNEL, "chatter, not a question")
    poster = threading.Thread(target=ask, args=(slack_emulator,))  # posts while the helper waits
    poster.start()

    question = wait_for_question(slack_emulator, CHANNEL)
    poster.join()

    assert question["text"] == "Deploy?"
    assert question["metadata"]["event_type"] == ASK_EVENT_TYPE


def test_skips_a_decided_question_unless_asked_not_to(slack_emulator):
    decided = ask(slack_emulator, "Old question", outcome="approved")

    with pytest.raises(AssertionError, match="undecided question in #ml-alerts"):
        wait_for_question(slack_emulator, CHANNEL, timeout=0.3)
    assert wait_for_question(slack_emulator, CHANNEL, undecided=False)["ts"] == decided


def test_gives_up_saying_what_it_waited_for_and_what_the_channel_held(slack_emulator):
    slack_emulator.act_as("alice").post(CHANNEL, "is the model ready?")

    with pytest.raises(AssertionError) as gave_up:
        wait_for_question(slack_emulator, CHANNEL, timeout=0.2)

    message = str(gave_up.value)
    assert "gave up after 0.2 s waiting for an undecided question in #ml-alerts" in message
    assert "is the model ready?" in message
