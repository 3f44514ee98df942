"""A message as Discord's body: content or embeds, within Discord's limits; the question's buttons carry its
identity; only explicit mentions may ping."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_chat_alerts import formatting
from airflow_chat_alerts.exceptions import ChatConfigError
from airflow_chat_alerts.model import ASK_EVENT_TYPE, Message, PipelineContext
from airflow_chat_alerts.services.discord._clicks import parse_custom_id
from airflow_chat_alerts.services.discord._render import (
    MAX_CONTENT,
    MAX_DESCRIPTION,
    MAX_EMBED_TOTAL,
    MAX_FIELDS,
    render,
)

CTX = PipelineContext("train", "manual__1", "ask", 1, -1, "http://airflow.example/log?a=1")
ALICE, LEADS = "1191168914227200007", "&1191168914227200004"
DEADLINE = datetime(2030, 1, 1, tzinfo=timezone.utc)
PAYLOAD = {"dag_id": "train", "run_id": "manual__1", "task_id": "ask", "map_index": -1, "try_number": 2,
           "deadline": DEADLINE.isoformat()}


def question(**changes) -> Message:
    kwargs = dict(context=CTX, approve_keywords=["approve"], reject_keywords=["reject"],
                  approve_reactions=["white_check_mark"], reject_reactions=["x"], approvers=[ALICE, LEADS],
                  required_approvals=1, deadline=DEADLINE, on_timeout="reject",
                  metadata={"event_type": ASK_EVENT_TYPE, "event_payload": PAYLOAD}, interactive=True)
    return formatting.question_message("Deploy model v42?", **{**kwargs, **changes})


def test_a_question_is_text_with_its_two_buttons_naming_the_ask():
    body = render(question(), conn_id="c")

    assert body.content.startswith("Deploy model v42?") and not body.embeds
    assert "-# **DAG** `train`" in body.content  # the context line, as small text
    assert "reply to this message" in body.content and "thread" not in body.content
    [[approve, reject]] = body.rows
    assert (approve.label, approve.style, reject.label, reject.style) == ("Approve", "success", "Reject", "danger")
    verdict, identity = parse_custom_id(approve.custom_id)
    assert verdict == "approve" and parse_custom_id(reject.custom_id)[0] == "reject"
    assert identity.payload(PAYLOAD) == PAYLOAD  # the deadline comes back to the microsecond
    # The approvers are mentioned: they may be pinged, and only they.
    assert body.users == (ALICE,) and body.roles == (LEADS[1:],) and not body.everyone
    assert body.allowed_mentions() == {"parse": [], "users": [ALICE], "roles": [LEADS[1:]], "replied_user": False}


def test_a_decided_question_loses_its_buttons():
    decided = formatting.outcome_message(question(), outcome="approved", by=[ALICE], comment="ok")
    decided = Message(decided.text, decided.blocks, decided.context,
                      {"event_type": ASK_EVENT_TYPE, "event_payload": {**PAYLOAD, "outcome": "approved"}})

    body = render(decided, conn_id="c")

    assert body.rows == [] and "✅ Approved by <@1191168914227200007>: “ok”" in body.content
    assert body.body()["components"] == [] and body.body()["embeds"] == []


def test_a_notification_is_an_embed_with_fields():
    message = formatting.task_state_message(state="failed", dag_id="d", run_id="r", task_id="t", try_number=2,
                                            exception="ValueError: <@1191168914227200007> @everyone",
                                            link="http://airflow.example/log")
    body = render(message, conn_id="c")

    [embed] = body.embeds
    assert embed["title"] == "🔴 Task failed: d.t" and body.content == ""
    assert [f["name"] for f in embed["fields"]] == ["Run", "State", "Try"]
    # In a code block, and inert even where Discord might see the block end sooner.
    assert "```ValueError: <\u200b@1191168914227200007> @\u200beveryone```" in embed["description"]
    assert (body.users, body.roles, body.everyone) == ((), (), False)


def test_long_text_goes_into_an_embed_and_everything_stays_within_discords_limits():
    text = "word " * 3_000
    body = render(Message(text, blocks=formatting.alert_blocks(text, context=CTX)), conn_id="c")
    assert len(body.content) <= MAX_CONTENT
    assert all(len(e.get("description", "")) <= MAX_DESCRIPTION for e in body.embeds)
    assert "more characters" in body.embeds[0]["description"]

    fields = [{"type": "mrkdwn", "text": f"*F{i}*\n" + "v" * 3_000} for i in range(8)]
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": "H" * 300}}] + [
        {"type": "section", "fields": fields} for _ in range(5)] + [
        {"type": "image", "image_url": f"https://img.example/{i}.png", "alt_text": "plot"} for i in range(15)]
    body = render(Message("x", blocks=blocks), conn_id="c")
    assert len(body.embeds) <= 10 and len(body.embeds[0]["title"]) <= 256
    assert len(body.embeds[0]["fields"]) <= MAX_FIELDS and all(len(f["value"]) <= 1024 for f in body.embeds[0]["fields"])
    size = sum(len(e.get("title", "")) + len(e.get("description", "")) +
               sum(len(f["name"]) + len(f["value"]) for f in e.get("fields", [])) for e in body.embeds)
    assert size <= MAX_EMBED_TOTAL


def test_buttons_a_dag_adds_become_link_buttons_and_others_are_left_out():
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "Report"}},
              {"type": "actions", "elements": [
                  {"type": "button", "text": {"type": "plain_text", "text": "Open"}, "url": "https://r.example"},
                  {"type": "button", "text": {"type": "plain_text", "text": "Go"}, "action_id": "x"}]}]

    body = render(Message("Report", blocks=blocks), conn_id="c")

    assert [(b.style, b.label, b.url) for row in body.rows for b in row] == [("link", "Open", "https://r.example")]


def test_an_empty_message_is_refused_naming_the_connection():
    with pytest.raises(ChatConfigError, match="'discord_bot_default'"):
        render(Message("  "), conn_id="discord_bot_default")


def test_a_reminder_pings_the_approvers():
    reminder = formatting.reminder_message(approvers=[ALICE, LEADS], deadline=DEADLINE + timedelta(hours=1))
    body = render(reminder, conn_id="c")

    assert body.content.startswith("🔔 <@1191168914227200007> <@&1191168914227200004>")
    assert body.users == (ALICE,) and body.roles == (LEADS[1:],)
