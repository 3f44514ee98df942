"""Options on buttons and menus, and what a person chose read back from block_actions (pure)."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_chat_alerts.hitl import choices
from airflow_chat_alerts.hitl.choices import Choice, choice_value, option_button, option_of, options_menu

from .slack_models import assert_slack_accepts_blocks

OPTIONS = ("Deploy to EU", "Deploy to US", "Don't deploy")
TS = "1714557600.000100"


def actions_block(*elements):
    return {"type": "actions", "block_id": choices.CHOICES_BLOCK_ID, "elements": list(elements)}


def payload(action, *, state=None, **overrides):
    """A block_actions payload as Slack sends it for an action on a request's message."""
    body = {
        "type": "block_actions",
        "user": {"id": "U0ALICE", "username": "alice", "name": "alice", "team_id": "T0CHATALERTS"},
        "api_app_id": "A0CHATALERTS",
        "container": {"type": "message", "message_ts": TS, "channel_id": "C0MLALERTS", "is_ephemeral": False},
        "trigger_id": "1714557700.abcdef",
        "team": {"id": "T0CHATALERTS", "domain": "chat-alerts-test"},
        "channel": {"id": "C0MLALERTS", "name": "ml-alerts"},
        "state": {"values": state or {}},
        "actions": [{**action, "block_id": choices.CHOICES_BLOCK_ID, "action_ts": "1714557700.123456"}],
    }
    body.update(overrides)
    return body


def button_click(index, options=OPTIONS):
    button = option_button(index, options[index])
    return payload({"type": "button", "action_id": button["action_id"], "text": button["text"], "value": button["value"]})


# -- values --------------------------------------------------------------------------------------
@given(st.lists(st.text(), min_size=1, max_size=30, unique=True), st.data())
def test_a_value_names_its_option_whatever_the_options_hold(options, data):
    index = data.draw(st.integers(0, len(options) - 1))
    value = choice_value(index, options[index])
    assert len(value) <= choices.MAX_OPTION_VALUE
    assert option_of(value, options) == options[index]


@given(st.lists(st.text(), min_size=2, max_size=10, unique=True), st.data())
def test_a_value_names_nothing_once_the_options_changed(options, data):
    index = data.draw(st.integers(0, len(options) - 1))
    value = choice_value(index, options[index])
    reordered = [*options[index + 1 :], *options[: index + 1]]
    if reordered[index] != options[index]:
        assert option_of(value, reordered) is None


@pytest.mark.parametrize("value", [None, 3, "", "0", "0:", "x:abc", "9:" + "0" * 12, "01:" + "0" * 12, "0:ABCDEF012345"])
def test_malformed_values_name_nothing(value):
    assert option_of(value, OPTIONS) is None


# -- elements ------------------------------------------------------------------------------------
@given(st.text(max_size=3000), st.integers(0, 10_000))
def test_a_button_stays_within_slacks_limits(option, index):
    button = option_button(index, option)
    assert len(button["text"]["text"]) <= choices.MAX_BUTTON_TEXT
    assert button["text"]["text"].strip()  # Slack refuses an empty label
    assert len(button["action_id"]) <= 255
    assert_slack_accepts_blocks([actions_block(button)])


def test_a_long_option_is_cut_visibly_on_its_button():
    button = option_button(0, "x" * 200)
    assert button["text"]["text"] == "x" * 74 + "…"


@pytest.mark.parametrize("count", [1, 100, 101, 250, 10_000])
@pytest.mark.parametrize("multiple", [False, True])
def test_a_menu_holds_every_option_in_groups_of_100(count, multiple):
    options = [f"option {i}" for i in range(count)]
    menu = options_menu(options, multiple=multiple, initial=options[:1])
    listed = menu.get("options") or [o for g in menu["option_groups"] for o in g["options"]]
    assert [option_of(item["value"], options) for item in listed] == options
    assert ("options" in menu) is (count <= 100)
    assert all(len(group["options"]) <= 100 for group in menu.get("option_groups", []))
    if count <= 250:  # slack_sdk's models are slow on 10,000 options
        assert_slack_accepts_blocks([actions_block(menu)])


def test_more_options_than_a_menu_holds_are_refused():
    assert not choices.fits_menu(["x"] * 10_001)
    with pytest.raises(ValueError, match="do not fit a menu"):
        options_menu([str(i) for i in range(10_001)], multiple=False)


# -- reading a choice ----------------------------------------------------------------------------
@pytest.mark.parametrize("index", range(len(OPTIONS)))
def test_a_button_click_chooses_its_option(index):
    assert Choice.from_payload(button_click(index), OPTIONS) == Choice(
        user="U0ALICE", kind="choose", chosen=(OPTIONS[index],), action_ts="1714557700.123456",
        channel="C0MLALERTS", message_ts=TS, trigger_id="1714557700.abcdef",
    )


def test_a_menu_selection_chooses_its_option():
    menu = options_menu(OPTIONS, multiple=False)
    selected = menu["options"][2]
    action = {"type": "static_select", "action_id": choices.CHOOSE_ACTION, "selected_option": selected}
    assert Choice.from_payload(payload(action), OPTIONS).chosen == ("Don't deploy",)


def test_submit_sends_the_multi_selects_selection_in_the_requests_order():
    menu = options_menu(OPTIONS, multiple=True)
    state = {choices.CHOICES_BLOCK_ID: {choices.CHOOSE_MANY_ACTION: {
        "type": "multi_static_select", "selected_options": [menu["options"][2], menu["options"][0]]}}}
    action = {"type": "button", "action_id": choices.SUBMIT_ACTION, "text": {"type": "plain_text", "text": "Submit"}}
    choice = Choice.from_payload(payload(action, state=state), OPTIONS)
    assert (choice.kind, choice.chosen) == ("choose", ("Deploy to EU", "Don't deploy"))


def test_submit_with_nothing_selected_is_an_empty_choice():
    state = {choices.CHOICES_BLOCK_ID: {choices.CHOOSE_MANY_ACTION: {"type": "multi_static_select",
                                                                     "selected_options": []}}}
    action = {"type": "button", "action_id": choices.SUBMIT_ACTION}
    assert Choice.from_payload(payload(action, state=state), OPTIONS).chosen == ()


def test_changing_the_multi_selects_selection_answers_nothing():
    action = {"type": "multi_static_select", "action_id": choices.CHOOSE_MANY_ACTION, "selected_options": []}
    assert Choice.from_payload(payload(action), OPTIONS).kind == "select"


def test_the_form_button_asks_for_the_form():
    choice = Choice.from_payload(payload({"type": "button", "action_id": choices.FORM_ACTION}), OPTIONS)
    assert (choice.kind, choice.trigger_id) == ("form", "1714557700.abcdef")


def mutate(body, path, value):
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("type",), "view_submission"),
        (("user", "id"), "alice"),
        (("user",), KeyError),
        (("container", "type"), "view"),
        (("container", "is_ephemeral"), True),
        (("container", "channel_id"), "ml-alerts"),
        (("container", "message_ts"), "yesterday"),
        (("actions",), []),
        (("actions", 0, "action_ts"), None),
        (("actions", 0, "action_id"), "chat_alerts_approve"),  # an ask's button is no option
        (("actions", 0, "action_id"), choices.OPTION_ACTION_PREFIX + "2"),  # value and action id disagree
        (("actions", 0, "value"), choice_value(0, "Deploy to the Moon")),  # options changed since
        (("actions", 0, "action_id"), choices.AIRFLOW_ACTION),  # a link, not an answer
    ],
)
def test_what_cannot_be_read_is_not_a_choice(path, value):
    assert Choice.from_payload(mutate(button_click(0), path, value), OPTIONS) is None


@pytest.mark.parametrize("junk", [None, 3, "x", [], {"type": "block_actions"}, {"type": "block_actions", "actions": [3]}])
def test_junk_is_not_a_choice(junk):
    assert Choice.from_payload(junk, OPTIONS) is None


def test_a_submit_naming_an_unknown_option_is_not_a_choice():
    state = {choices.CHOICES_BLOCK_ID: {choices.CHOOSE_MANY_ACTION: {
        "type": "multi_static_select", "selected_options": [{"value": choice_value(0, "gone")}]}}}
    assert Choice.from_payload(payload({"action_id": choices.SUBMIT_ACTION}, state=state), OPTIONS) is None


def test_the_user_is_the_slack_verified_one_never_the_value():
    body = button_click(0)
    body["actions"][0]["value"] = choice_value(0, OPTIONS[0])  # values carry no identity at all
    body["user"]["id"] = "U0BOB"
    assert Choice.from_payload(body, OPTIONS).user == "U0BOB"
