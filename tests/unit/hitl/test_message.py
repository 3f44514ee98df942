"""The Slack message of a Human-in-the-loop request and of its answer (pure)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_chat_alerts.formatting import MAX_BLOCKS, OUTCOME_BLOCK_ID
from airflow_chat_alerts.hitl import choices
from airflow_chat_alerts.hitl.choices import Choice
from airflow_chat_alerts.hitl.message import (
    HITL_EVENT_TYPE,
    HOW_TO_BLOCK_ID,
    already_answered_text,
    answered_line,
    answered_message,
    request_message,
    request_metadata,
)
from airflow_chat_alerts.hitl.request import HITLRequest
from airflow_chat_alerts.model import PipelineContext

from .slack_models import assert_slack_accepts_blocks

DEADLINE = datetime(2030, 1, 1, 12, tzinfo=timezone.utc)
CONTEXT = PipelineContext(dag_id="deploy", run_id="manual__1", task_id="choose", link="https://airflow/log")


def param(value=None, **schema):
    return {"value": value, "description": None, "schema": schema, "source": "task"}


def message(request, **kwargs):
    kwargs.setdefault("context", CONTEXT)
    kwargs.setdefault("deadline", DEADLINE)
    kwargs.setdefault("interactive", True)
    return request_message(request, **kwargs)


def block(msg, block_id):
    return next((b for b in msg.blocks if b.get("block_id") == block_id), None)


def elements(msg):
    found = block(msg, choices.CHOICES_BLOCK_ID)
    return [] if found is None else found["elements"]


def kinds(msg):
    return [e.get("action_id", "").rstrip("0123456789") for e in elements(msg)]


def req(options=("EU", "US", "Nowhere"), **kwargs):
    return HITLRequest.of(subject="Where should v2 go?", body="Accuracy **0.93**", options=list(options), **kwargs)


def test_a_request_shows_its_subject_body_context_help_and_one_button_per_option():
    msg = message(req(defaults="Nowhere"), answerers=["U0ALICE", "S0MLLEADS"])
    assert msg.blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "Where should v2 go?", "emoji": True}}
    assert msg.blocks[1] == {"type": "markdown", "text": "Accuracy **0.93**"}
    assert msg.blocks[2]["type"] == "context" and "Open in Airflow" in msg.blocks[2]["elements"][0]["text"]
    help_text = block(msg, HOW_TO_BLOCK_ID)["text"]["text"]
    assert "Choose below, or reply in this thread starting with one of *EU* · *US* · *Nowhere*" in help_text
    assert "*Who can answer:* <@U0ALICE>, <!subteam^S0MLLEADS>" in help_text
    assert "if nobody answers by then, the defaults apply: *Nowhere*." in help_text
    assert [e["text"]["text"] for e in elements(msg)] == ["EU", "US", "Nowhere"]
    assert kinds(msg) == [choices.OPTION_ACTION_PREFIX] * 3
    assert_slack_accepts_blocks(msg.blocks)


def test_without_defaults_the_help_says_the_task_fails_and_without_timeout_there_is_no_deadline():
    assert "the task *fails*" in block(message(req()), HOW_TO_BLOCK_ID)["text"]["text"]
    assert "*Deadline:* none." in block(message(req(), deadline=None), HOW_TO_BLOCK_ID)["text"]["text"]


def test_an_approval_styles_its_buttons_and_keeps_the_keywords_and_reactions():
    msg = message(req(options=("Approve", "Reject")), approval=True)
    assert [(e["text"]["text"], e.get("style")) for e in elements(msg)] == [("Approve", "primary"), ("Reject", "danger")]
    help_text = block(msg, HOW_TO_BLOCK_ID)["text"]["text"]
    assert "Press *Approve* or *Reject* below" in help_text and "*approve* or *reject*" in help_text
    assert ":white_check_mark: / :x:" in help_text


def test_an_approval_must_have_airflows_approval_options():
    with pytest.raises(ValueError, match="an approval's options"):
        message(req(options=("Yes", "No")), approval=True)


@pytest.mark.parametrize(
    ("count", "params", "expected"),
    [
        (25, {}, [choices.OPTION_ACTION_PREFIX] * 25),  # 25 buttons fill an actions block
        (24, {"n": param(1, type="integer")}, [choices.OPTION_ACTION_PREFIX] * 24 + [choices.FORM_ACTION]),
        (26, {}, [choices.CHOOSE_ACTION]),  # more than fit: a menu
        (25, {"n": param(1, type="integer")}, [choices.CHOOSE_ACTION, choices.FORM_ACTION]),
        (300, {}, [choices.CHOOSE_ACTION]),
    ],
)
def test_buttons_while_they_fit_then_a_menu(count, params, expected):
    msg = message(req(options=[f"target {i}" for i in range(count)], params=params))
    assert kinds(msg) == expected
    if count <= 100:
        assert_slack_accepts_blocks(msg.blocks)


def test_multiple_is_a_multi_select_with_a_submit_button_showing_the_defaults():
    msg = message(req(multiple=True, defaults=["EU", "US"]))
    assert kinds(msg) == [choices.CHOOSE_MANY_ACTION, choices.SUBMIT_ACTION]
    menu = elements(msg)[0]
    assert [o["text"]["text"] for o in menu["initial_options"]] == ["EU", "US"]
    assert "press *Submit*" in block(msg, HOW_TO_BLOCK_ID)["text"]["text"]
    assert_slack_accepts_blocks(msg.blocks)


def test_a_form_whose_defaults_are_valid_adds_a_form_button_to_the_options():
    msg = message(req(params={"n": param(1, type="integer")}))
    assert kinds(msg) == [choices.OPTION_ACTION_PREFIX] * 3 + [choices.FORM_ACTION]
    assert "*Fill in the form* to change its fields" in block(msg, HOW_TO_BLOCK_ID)["text"]["text"]


def test_a_form_that_needs_an_answer_shows_only_the_form_button():
    msg = message(req(params={"reason": param(None, type="string", minLength=3)}))
    assert kinds(msg) == [choices.FORM_ACTION]
    assert elements(msg)[0]["style"] == "primary"
    assert block(msg, HOW_TO_BLOCK_ID)["text"]["text"].startswith("Press *Fill in the form* below to answer.")
    assert "Answer with the request's form" in msg.text


def test_a_form_slack_cannot_show_links_to_airflows_form():
    msg = message(req(params={"config": param(None, type="object")}), airflow_url="https://airflow/required_actions")
    assert kinds(msg) == [choices.AIRFLOW_ACTION]
    assert elements(msg)[0]["url"] == "https://airflow/required_actions"
    help_text = block(msg, HOW_TO_BLOCK_ID)["text"]["text"]
    assert "fields Slack cannot show (`config` (an object))" in help_text
    assert "<https://airflow/required_actions|Airflow's form>" in help_text


def test_without_clicks_there_are_no_elements_and_replies_are_explained():
    msg = message(req(), interactive=False)
    assert block(msg, choices.CHOICES_BLOCK_ID) is None
    assert block(msg, HOW_TO_BLOCK_ID)["text"]["text"].startswith(
        "To answer, reply in this thread starting with one of *EU* · *US* · *Nowhere*")
    assert msg.text.endswith("Answer by replying in the thread with one of: EU, US, Nowhere.")


def test_without_clicks_a_form_that_needs_an_answer_points_to_airflow():
    msg = message(req(params={"reason": param(None, type="string")}), interactive=False, airflow_url="https://a/b")
    assert "answer it in <https://a/b|Airflow's form>" in block(msg, HOW_TO_BLOCK_ID)["text"]["text"]


def mrkdwn_texts(value):
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn":
            yield value["text"]
        for item in value.values():
            yield from mrkdwn_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from mrkdwn_texts(item)


def test_options_and_names_are_escaped():
    request = HITLRequest.of(subject="s", options=["<!channel>", "a*b"],
                             assigned_users=[{"id": "x", "name": "<@U0EVIL>"}])
    msg = message(request)
    mrkdwn = json.dumps(list(mrkdwn_texts(msg.blocks)))  # plain_text (buttons, header) shows markup literally
    assert "<!channel>" not in mrkdwn and "&lt;!channel&gt;" in mrkdwn
    assert "<@U0EVIL>" not in mrkdwn
    line = answered_line(["<!channel>"], by_airflow_user="<!here>")
    assert "<!" not in line


options_strategy = st.lists(st.text(max_size=120), min_size=1, max_size=40, unique=True)


@given(options_strategy, st.booleans(), st.booleans(), st.text(max_size=400), st.text(max_size=20_000))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_request_is_valid_block_kit_within_slacks_limits(options, multiple, interactive, subject, body):
    msg = message(HITLRequest.of(subject=subject, body=body, options=options, multiple=multiple),
                  interactive=interactive)
    assert len(msg.blocks) < MAX_BLOCKS
    assert len(elements(msg)) <= choices.MAX_ACTIONS_ELEMENTS
    assert len({e.get("action_id") for e in elements(msg)}) == len(elements(msg))  # unique per block
    assert_slack_accepts_blocks(msg.blocks)


@given(options_strategy, st.data())
@settings(max_examples=40, deadline=None)
def test_every_button_chooses_its_own_option(options, data):
    request = HITLRequest.of(subject="s", options=options)
    buttons = [e for e in elements(message(request)) if e["action_id"].startswith(choices.OPTION_ACTION_PREFIX)]
    if not buttons:
        return
    pressed = data.draw(st.sampled_from(buttons))
    payload = {
        "type": "block_actions", "user": {"id": "U0BOB"}, "trigger_id": "t",
        "container": {"type": "message", "message_ts": "1.2", "channel_id": "C0X"},
        "actions": [{**pressed, "action_ts": "1.3"}],
    }
    choice = Choice.from_payload(payload, options)
    assert choice.chosen == (options[int(pressed["action_id"].removeprefix(choices.OPTION_ACTION_PREFIX))],)


# -- once answered ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "kwargs", "line"),
    [
        (["EU"], {"by_slack_user": "U0ALICE"}, "✅ <@U0ALICE> chose *EU*"),
        (["EU", "US"], {"by_slack_user": "U0ALICE", "comment": "both"}, "✅ <@U0ALICE> chose *EU* · *US*: “both”"),
        (["Approve"], {"by_slack_user": "U0ALICE", "approval": True}, "✅ Approved by <@U0ALICE>"),
        (["Reject"], {"by_slack_user": "U0BOB", "approval": True, "comment": "too soon"},
         "❌ Rejected by <@U0BOB>: “too soon”"),
        (["Approve"], {"by_airflow_user": "admin", "approval": True}, "✅ Answered in Airflow by admin: *Approve*"),
        (["Reject"], {"by_airflow_user": "admin", "approval": True}, "❌ Answered in Airflow by admin: *Reject*"),
        (["US"], {}, "✅ Answered in Airflow: *US*"),
        (["Reject"], {"timed_out": True}, "⌛ Timed out → defaults: *Reject*"),
        ([], {"timed_out": True}, "⌛ Timed out: nobody answered, the task failed"),
    ],
)
def test_the_outcome_line(args, kwargs, line):
    assert answered_line(args, **kwargs) == line


def test_an_answered_request_loses_its_help_and_choices_and_gains_its_outcome():
    question = message(req(params={"n": param(1, type="integer")}), interactive=True)
    answered = answered_message(question, answered_line(["EU"], by_slack_user="U0ALICE"))
    ids = [b.get("block_id") for b in answered.blocks]
    assert HOW_TO_BLOCK_ID not in ids and choices.CHOICES_BLOCK_ID not in ids
    assert answered.blocks[:3] == question.blocks[:3]  # subject, body, context
    assert answered.blocks[-1]["block_id"] == OUTCOME_BLOCK_ID
    assert answered.text == "Where should v2 go?\n\nAccuracy **0.93**\n\n✅ <@U0ALICE> chose *EU*"
    again = answered_message(answered, answered_line(["US"], by_airflow_user="admin"))
    assert [b.get("block_id") for b in again.blocks].count(OUTCOME_BLOCK_ID) == 1
    assert again.text.endswith("**0.93**\n\n✅ Answered in Airflow by admin: *US*")
    assert_slack_accepts_blocks(again.blocks)


def test_a_body_paragraph_that_looks_like_help_stays():
    question = message(HITLRequest.of(subject="s", body="Answer by replying in the thread, please", options=["A"]))
    assert "please" in answered_message(question, "✅ done").text


def test_someone_answering_too_late_is_told_the_outcome():
    assert already_answered_text("✅ Answered in Airflow by admin: *EU*") == (
        "This request is already answered: ✅ Answered in Airflow by admin: *EU*. Your answer changed nothing.")


def test_the_metadata_names_the_task_instance_the_try_and_the_deadline():
    identity = {"dag_id": "d", "run_id": "r", "task_id": "t", "map_index": -1, "extra": "ignored"}
    assert request_metadata(identity, deadline=DEADLINE, try_number=2) == {
        "event_type": HITL_EVENT_TYPE,
        "event_payload": {"dag_id": "d", "run_id": "r", "task_id": "t", "map_index": -1, "try_number": 2,
                          "deadline": "2030-01-01T12:00:00+00:00"},
    }
    assert "deadline" not in request_metadata(identity, deadline=None, try_number=1)["event_payload"]
