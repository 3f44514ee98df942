"""Buttons, clicks and click records (pure: table tests and hypothesis)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_chat_alerts import clicks
from airflow_chat_alerts.clicks import Click, buttons_block, clicks_from_record, recorded_in_time
from airflow_chat_alerts.model import Answer

APP_USER, APP_BOT = "U0CHATALERTS", "B0CHATALERTS"
QUESTION_TS = "1714557600.000100"
IDENTITY = {"dag_id": "ml_train", "run_id": "manual__2024-05-01", "task_id": "ask", "map_index": -1}


def payload(action_id: str = clicks.APPROVE_ACTION) -> dict:
    """A block_actions payload as Slack sends it for a click on the question's button."""
    block = buttons_block(IDENTITY)
    button = next(e for e in block["elements"] if e["action_id"] == action_id)
    return {
        "type": "block_actions",
        "user": {"id": "U0ALICE", "username": "alice", "name": "alice", "team_id": "T0CHATALERTS"},
        "api_app_id": "A0CHATALERTS",
        "container": {"type": "message", "message_ts": QUESTION_TS, "channel_id": "C0MLALERTS", "is_ephemeral": False},
        "trigger_id": "1714557700.abcdef",
        "team": {"id": "T0CHATALERTS", "domain": "chat-alerts-test"},
        "channel": {"id": "C0MLALERTS", "name": "ml-alerts"},
        "message": {"ts": QUESTION_TS, "blocks": [block]},
        "state": {"values": {}},
        "response_url": "https://hooks.slack.com/actions/T0CHATALERTS/1/x",
        "actions": [
            {"type": "button", "action_id": action_id, "block_id": clicks.BUTTONS_BLOCK_ID,
             "text": button["text"], "value": button["value"], "style": button["style"],
             "action_ts": "1714557700.123456"}
        ],
    }


def as_reply(click: Click, **overrides) -> dict:
    """The record as conversations.replies lists it once our app posted it (1.1 s after the click)."""
    message = click.record()
    reply = {
        "type": "message", "user": APP_USER, "bot_id": APP_BOT, "text": message.text, "ts": "1714557701.223456",
        "thread_ts": click.question_ts, "metadata": message.metadata,
    }
    return {**reply, **overrides}


def read_back(reply) -> list[Click]:
    return clicks_from_record(reply, app_user_id=APP_USER, app_bot_id=APP_BOT, channel="C0MLALERTS")


# -- from_payload -------------------------------------------------------------------------------
@pytest.mark.parametrize(("action_id", "action"), [(clicks.APPROVE_ACTION, "approve"), (clicks.REJECT_ACTION, "reject")])
def test_a_click_on_our_button_is_read_from_the_payload(action_id, action):
    assert Click.from_payload(payload(action_id)) == Click(
        user="U0ALICE", action=action, action_ts="1714557700.123456", channel="C0MLALERTS", question_ts=QUESTION_TS
    )


def test_the_clicker_is_the_verified_user_never_the_button_value():
    forged = payload()
    forged["actions"][0]["value"] = json.dumps({"user": "U0CAROL"})
    assert Click.from_payload(forged).user == "U0ALICE"


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p.update(type="view_submission"),
        lambda p: p["actions"][0].update(action_id="someone_elses_button"),
        lambda p: p["container"].update(type="view"),
        lambda p: p["container"].update(is_ephemeral=True),
        lambda p: p.update(actions=[]),
        lambda p: p["user"].pop("id"),
        lambda p: p["user"].update(id="alice"),
        lambda p: p["actions"][0].update(action_ts=1714557700.5),
        lambda p: p["container"].update(message_ts="yesterday"),
        lambda p: p["container"].pop("channel_id"),
    ],
)
def test_anything_but_a_click_on_our_button_is_not_a_click(change):
    wrong = payload()
    change(wrong)
    assert Click.from_payload(wrong) is None


@pytest.mark.parametrize("where", ["container", "message"])
def test_a_copy_of_the_buttons_in_the_questions_thread_is_not_a_click(where):
    """A thread reply carrying the same buttons (posted by the app, so Slack hands us its clicks) is not the
    question: its click decides nothing."""
    copy = payload()
    copy["container"]["message_ts"] = copy["message"]["ts"] = "1714557650.000900"
    copy[where]["thread_ts"] = QUESTION_TS
    assert Click.from_payload(copy) is None


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=25,
)
# Keys of a real payload, so that random values land where the parser looks.
KEYS = st.sampled_from(["type", "user", "id", "container", "actions", "action_id", "action_ts", "channel_id",
                        "message_ts", "is_ephemeral", "value"])


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


@given(st.one_of(JSON, st.dictionaries(KEYS, JSON, max_size=6)))
def test_from_payload_never_raises_on_any_json(value):
    assert Click.from_payload(value) is None


@given(st.data())
def test_from_payload_never_raises_on_a_damaged_payload(data):
    """A real payload with one value replaced (or removed) anywhere: a well-formed Click or None."""
    damaged = payload(data.draw(st.sampled_from([clicks.APPROVE_ACTION, clicks.REJECT_ACTION])))
    path = data.draw(st.sampled_from([p for p in _paths(damaged) if p]))
    parent = damaged
    for key in path[:-1]:
        parent = parent[key]
    if data.draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(JSON)
    click = Click.from_payload(damaged)
    if click is not None:
        assert click.user.startswith(("U", "W")) and click.action in ("approve", "reject")
        assert all(isinstance(v, str) and v for v in (click.action_ts, click.channel, click.question_ts))


# -- records --------------------------------------------------------------------------------------
def test_the_record_is_an_audit_line_carrying_the_click_in_its_metadata():
    click = Click.from_payload(payload(clicks.REJECT_ACTION))
    message = click.record()
    assert message.text == "<@U0ALICE> pressed *Reject*"
    assert message.metadata == {
        "event_type": clicks.CLICK_EVENT_TYPE,
        "event_payload": {"clicks": [
            {"user": "U0ALICE", "action": "reject", "action_ts": "1714557700.123456", "question_ts": QUESTION_TS}
        ]},
    }


@pytest.mark.parametrize("posted_by", [{"user": APP_USER}, {"bot_id": APP_BOT, "user": "U0OTHER"}])
def test_our_apps_record_reads_back_as_the_click(posted_by):
    click = Click.from_payload(payload())
    reply = {**as_reply(click), "user": None, "bot_id": None, **posted_by}
    assert read_back(reply) == [click]


def test_one_record_carries_the_clicks_of_several_questions_each_naming_its_own():
    first = Click.from_payload(payload())
    other = Click("U0BOB", "reject", "1714557700.523456", "C0MLALERTS", "1714557600.000700")
    message = Click.record_of([first, other])
    assert message.text == "<@U0ALICE> pressed *Approve*\n<@U0BOB> pressed *Reject* on the question of 1714557600.000700"
    reply = {**as_reply(first), "text": message.text, "metadata": message.metadata}
    assert read_back(reply) == [first, other]
    with pytest.raises(ValueError):
        Click.record_of([])
    with pytest.raises(ValueError):
        Click.record_of([first, Click("U0BOB", "reject", "1714557700.5", "C0ELSEWHERE", QUESTION_TS)])


@pytest.mark.parametrize(
    ("record_ts", "counts"),
    [
        ("1714557700.123456", True),  # stored at the click's own time
        ("1714557702.123456", True),  # exactly the window later
        ("1714557702.123457", False),  # a microsecond late: the ack could not be in time
        ("1714557760.000000", False),  # a post held up for a minute (a 429 waited out, say)
        ("1714557700.123455", False),  # before the click: not a record of it
    ],
)
def test_a_record_counts_only_when_slack_stored_it_within_the_window_of_the_click(record_ts, counts):
    click = Click.from_payload(payload())
    assert recorded_in_time(record_ts, click.action_ts) is counts
    assert read_back(as_reply(click, ts=record_ts)) == ([click] if counts else [])


@pytest.mark.parametrize(
    "forged",
    [
        {"user": "U0CIBOT", "bot_id": "B0CIBOT"},  # another app
        {"user": "U0ALICE", "bot_id": None},  # a person (Slack refuses metadata from them anyway)
        {"metadata": {"event_type": "something_else", "event_payload": {}}},
        {"metadata": {"event_type": clicks.CLICK_EVENT_TYPE, "event_payload": "approve"}},
        {"metadata": {"event_type": clicks.CLICK_EVENT_TYPE, "event_payload": {"clicks": [
            {"user": "U0ALICE", "action": "maybe", "action_ts": "1714557700.123456", "question_ts": QUESTION_TS}]}}},
        {"metadata": {"event_type": clicks.CLICK_EVENT_TYPE, "event_payload": {"clicks": [
            {"user": "alice", "action": "approve", "action_ts": "1714557700.123456", "question_ts": QUESTION_TS}]}}},
        {"metadata": {"event_type": clicks.CLICK_EVENT_TYPE,  # an earlier form, without the question
                      "event_payload": {"user": "U0ALICE", "action": "approve", "action_ts": "1714557700.123456"}}},
        {"metadata": None},
        {"thread_ts": None},  # not a thread reply
    ],
)
def test_records_our_app_did_not_post_or_that_are_malformed_are_no_clicks(forged):
    reply = {**as_reply(Click.from_payload(payload())), **forged}
    assert read_back(reply) == []


@given(st.one_of(JSON, st.dictionaries(st.sampled_from(["user", "bot_id", "metadata", "thread_ts", "ts", "channel"]),
                                       JSON, max_size=6)))
def test_clicks_from_record_never_raises(value):
    assert clicks_from_record(value, app_user_id=APP_USER, app_bot_id=APP_BOT) == []


def test_a_click_answers_like_a_keyword_reply_by_the_clicker():
    click = Click.from_payload(payload())
    assert click.answer(guest=True) == Answer(
        kind="button", user="U0ALICE", text="approve", ts="1714557700.123456", guest=True
    )


# -- the buttons --------------------------------------------------------------------------------
def test_buttons_block_has_approve_and_reject_with_the_ask_identity_as_value():
    block = buttons_block(IDENTITY)
    assert block["type"] == "actions" and block["block_id"] == clicks.BUTTONS_BLOCK_ID
    approve, reject = block["elements"]
    assert (approve["action_id"], approve["style"], approve["text"]["text"]) == (clicks.APPROVE_ACTION, "primary", "Approve")
    assert (reject["action_id"], reject["style"], reject["text"]["text"]) == (clicks.REJECT_ACTION, "danger", "Reject")
    assert json.loads(approve["value"]) == IDENTITY == json.loads(reject["value"])


def test_a_huge_identity_still_fits_slacks_button_value():
    block = buttons_block({**IDENTITY, "run_id": "r" * 5_000})
    assert all(len(button["value"]) <= clicks.MAX_BUTTON_VALUE for button in block["elements"])


def test_texts_shown_to_the_clicker():
    assert clicks.not_approver_text() == "You are not an approver of this question; your click changed nothing."
    assert clicks.already_decided_text("✅ Approved by <@U0ALICE>") == (
        "This question is already decided: ✅ Approved by <@U0ALICE>."
    )
