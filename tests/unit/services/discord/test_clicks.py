"""Discord clicks: the question's identity in its buttons, and which records count as clicks."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from airflow_chat_alerts.services.discord._clicks import ButtonIdentity, identity_digest, parse_custom_id, record_text
from airflow_chat_alerts.services.discord._ids import ts_of
from airflow_chat_alerts.services.discord._reading import Clicked, Seen, click_of_record, question_identity

BOT, ALICE, QUESTION, CHANNEL = 1006, 1007, 1578743742490214400, 1014
RECORD = Seen(id=QUESTION + 5000, channel_id=CHANNEL, author_id=BOT, author_bot=True,
              content=record_text(str(ALICE), "approve"), webhook_id=2, clicked=Clicked(QUESTION + 4000, ALICE, QUESTION))


def test_the_identity_survives_the_custom_id():
    payload = {"dag_id": "d", "run_id": "r", "task_id": "t", "map_index": 3, "try_number": 2,
               "deadline": datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc).isoformat()}
    identity = ButtonIdentity.of(payload)

    verdict, back = parse_custom_id(identity.custom_id("chat_alerts_reject"))

    assert verdict == "reject" and back == identity and back.payload(payload) == payload
    assert len(identity.custom_id("chat_alerts_approve")) <= 100  # Discord's limit
    assert identity.digest != identity_digest({**payload, "map_index": 4})


@pytest.mark.parametrize("custom_id", ["chat_alerts_approve", "other:abc", "chat_alerts_approve:zz:1.000000:1", ""])
def test_other_custom_ids_are_not_ours(custom_id):
    assert parse_custom_id(custom_id) is None


def test_the_bots_record_of_a_click_on_the_question_counts_as_its_clicker():
    answer = click_of_record(RECORD, BOT, QUESTION)

    assert (answer.kind, answer.user, answer.text, answer.ts) == ("button", str(ALICE), "approve", ts_of(QUESTION + 4000))


@pytest.mark.parametrize(
    "forged",
    [
        replace(RECORD, author_id=1008),  # a person, or another bot, copying the line
        replace(RECORD, clicked=None),  # the bot's own post, not an interaction response
        replace(RECORD, clicked=Clicked(QUESTION + 4000, ALICE, QUESTION + 1)),  # a click on a copy of the buttons
        replace(RECORD, content=record_text("1008", "approve")),  # the line names someone but the clicker
        replace(RECORD, clicked=Clicked(QUESTION + 4000, ALICE, QUESTION, kind=2)),  # not a button
        replace(RECORD, flags=1 << 6),  # an ephemeral answer: not in the channel
        replace(RECORD, content="pressed **Approve**"),
    ],
)
def test_anything_else_is_no_click(forged):
    assert click_of_record(forged, BOT, QUESTION) is None


def test_only_the_bots_own_question_carries_an_identity():
    identity = ButtonIdentity.of({"dag_id": "d", "run_id": "r", "task_id": "t", "map_index": -1, "try_number": 1,
                                  "deadline": "2030-01-01T00:00:00+00:00"})
    ids = (identity.custom_id("chat_alerts_approve"), identity.custom_id("chat_alerts_reject"))
    ours = Seen(id=QUESTION, channel_id=CHANNEL, author_id=BOT, author_bot=True, custom_ids=ids)

    assert question_identity(ours, BOT) == identity
    assert question_identity(replace(ours, author_id=1099), BOT) is None
    assert question_identity(replace(ours, webhook_id=5), BOT) is None
