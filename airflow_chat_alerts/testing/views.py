"""Modals as Slack serves them: a view checked as ``views.open`` checks it, the view object Slack
returns, and what a person's submission sends (``view_submission``).

Checked (Slack's limits for modals, the same figures as slack_sdk's ``View`` and block models): ``type``
``modal``; a plain-text ``title`` of 1 to 24 characters; ``submit`` (required once there is an input
block) and ``close`` of at most 24; 1 to 100 blocks with unique ``block_id``s; ``private_metadata`` up to
3,000 characters and ``callback_id`` / ``external_id`` up to 255; each input block a label (up to 2,000)
and one element of a known kind, with that kind's limits (options, lengths, dates); the whole view at
most 250 kB (``view_too_large``). Anything else answers ``invalid_arguments`` with Slack's
``[ERROR] … [json-pointer:/view/…]`` messages.

A submission is what the person's Slack client sends: it refuses to submit a required field left
empty, text outside its length bounds, a number outside its bounds or with decimals where none are
allowed, and more selections than allowed (:class:`ViewInputError`, as the client shows its own message
and sends nothing); otherwise ``view.state.values`` holds every input block, with the initial value of
a field the person did not touch and ``null`` / ``[]`` for one left empty.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from airflow_chat_alerts.testing.interactions import OpenView
from airflow_chat_alerts.testing.workspace import User

MAX_TITLE = 24
MAX_BUTTON = 24
MAX_BLOCKS = 100
MAX_PRIVATE_METADATA = 3_000
MAX_ID = 255
MAX_LABEL = 2_000
MAX_TEXT_INPUT = 3_000
MAX_OPTIONS = 100
MAX_CHOICE_OPTIONS = 10  # radio buttons and checkboxes
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_VIEW_BYTES = 250_000

INPUT_ELEMENTS = (
    "plain_text_input", "number_input", "static_select", "multi_static_select", "radio_buttons", "checkboxes",
    "datepicker",
)


@dataclass(frozen=True)
class ViewSubmitted:
    """A submitted modal and what the app answered.

    :param payload: the ``view_submission`` payload that was delivered.
    :param response: the app's ack payload (``response_action`` …), or None.
    :param errors: with ``response_action: errors``, input block id → message shown under it.
    :param still_open: whether the modal is still open (errors, update) or closed.
    """

    payload: dict[str, Any]
    response: Any
    errors: dict[str, str]
    still_open: bool


class InvalidResponseAction(ValueError):
    """The app acknowledged a submission with a ``response_action`` Slack would refuse (the person sees
    Slack's generic error and the modal stays as it was).

    :param problems: what is wrong.
    :param response: the ack payload.
    """

    def __init__(self, problems: list[str], response: Any) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.response = response


class ViewInputError(ValueError):
    """The person's Slack client refuses to submit: a field is empty, out of bounds or malformed.

    :param block_id: the input block at fault.
    :param reason: what the client says.
    """

    def __init__(self, block_id: str, reason: str) -> None:
        super().__init__(f"{block_id}: {reason}")
        self.block_id = block_id
        self.reason = reason


# -- checking a view -------------------------------------------------------------------------------
def view_errors(view: Any) -> list[str]:
    """Slack's ``[ERROR] …`` messages for a view ``views.open`` / ``views.update`` would refuse; empty if valid."""
    errors: list[str] = []

    def error(message: str, pointer: str) -> None:
        errors.append(f"[ERROR] {message} [json-pointer:/view{pointer}]")

    if not isinstance(view, Mapping):
        return ["[ERROR] failed to match all allowed schemas [json-pointer:/view]"]
    if view.get("type") != "modal":
        error("must be one of modal", "/type")
    _plain_text(view.get("title"), "/title", error, required=True, most=MAX_TITLE)
    blocks = view.get("blocks")
    if not isinstance(blocks, list) or not blocks:
        error("missing required field: blocks", "/blocks")
        blocks = []
    elif len(blocks) > MAX_BLOCKS:
        error(f"no more than {MAX_BLOCKS} items allowed", "/blocks")
    has_input = any(isinstance(b, Mapping) and b.get("type") == "input" for b in blocks)
    _plain_text(view.get("submit"), "/submit", error, required=has_input, most=MAX_BUTTON)
    _plain_text(view.get("close"), "/close", error, required=False, most=MAX_BUTTON)
    for key, most in (("private_metadata", MAX_PRIVATE_METADATA), ("callback_id", MAX_ID), ("external_id", MAX_ID)):
        value = view.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > most):
            error(f"must be a string of at most {most} characters", f"/{key}")
    seen: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"/blocks/{index}"
        if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
            error("missing required field: type", where)
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not block_id or len(block_id) > MAX_ID:
                error(f"must be a string of 1 to {MAX_ID} characters", f"{where}/block_id")
            elif block_id in seen:
                error(f"duplicate block_id {block_id}", f"{where}/block_id")
            seen.add(str(block_id))
        if block["type"] == "input":
            _plain_text(block.get("label"), f"{where}/label", error, required=True, most=MAX_LABEL)
            _plain_text(block.get("hint"), f"{where}/hint", error, required=False, most=MAX_LABEL)
            _check_element(block.get("element"), f"{where}/element", error)
    if not errors and len(json.dumps(view)) > MAX_VIEW_BYTES:
        return ["view_too_large"]
    return errors


def _plain_text(value: Any, pointer: str, error: Any, *, required: bool, most: int) -> None:
    if value is None:
        if required:
            error("missing required field: text", pointer)
        return
    if not isinstance(value, Mapping) or value.get("type") != "plain_text" or not isinstance(value.get("text"), str):
        error("must be a plain_text text object", pointer)
    elif not 1 <= len(value["text"]) <= most:
        error(f"must be between 1 and {most} characters", f"{pointer}/text")


def _options(element: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield from element.get("options") or []
    for group in element.get("option_groups") or []:
        yield from (group.get("options") or []) if isinstance(group, Mapping) else []


def _check_element(element: Any, where: str, error: Any) -> None:
    if not isinstance(element, Mapping) or element.get("type") not in INPUT_ELEMENTS:
        error(f"must be one of {', '.join(INPUT_ELEMENTS)}", f"{where}/type")
        return
    kind = element["type"]
    action_id = element.get("action_id")
    if action_id is not None and (not isinstance(action_id, str) or len(action_id) > MAX_ID):
        error(f"must be a string of at most {MAX_ID} characters", f"{where}/action_id")
    if kind == "plain_text_input":
        low, high = element.get("min_length", 0), element.get("max_length", MAX_TEXT_INPUT)
        if not (isinstance(low, int) and isinstance(high, int) and 0 <= low <= high <= MAX_TEXT_INPUT):
            error(f"min_length and max_length must lie within 0..{MAX_TEXT_INPUT}, in order", where)
    elif kind == "number_input":
        if not isinstance(element.get("is_decimal_allowed"), bool):
            error("missing required field: is_decimal_allowed", where)
        for key in ("initial_value", "min_value", "max_value"):
            if key in element and _number(element[key]) is None:
                error("must be a number", f"{where}/{key}")
    elif kind == "datepicker":
        if "initial_date" in element and _date(element["initial_date"]) is None:
            error("must be a date in the format YYYY-MM-DD", f"{where}/initial_date")
    else:
        options = list(_options(element))
        most = MAX_CHOICE_OPTIONS if kind in ("radio_buttons", "checkboxes") else MAX_OPTIONS
        if not options:
            error("missing required field: options", where)
        if len(element.get("options") or []) > most or len(element.get("option_groups") or []) > MAX_OPTIONS:
            error(f"no more than {most} items allowed", f"{where}/options")
        for i, option in enumerate(options):
            text = option.get("text") if isinstance(option, Mapping) else None
            value = option.get("value") if isinstance(option, Mapping) else None
            if not isinstance(text, Mapping) or not 1 <= len(str(text.get("text", ""))) <= MAX_OPTION_TEXT:
                error(f"option text must be between 1 and {MAX_OPTION_TEXT} characters", f"{where}/options/{i}/text")
            if not isinstance(value, str) or not 1 <= len(value) <= MAX_OPTION_VALUE:
                error(f"option value must be between 1 and {MAX_OPTION_VALUE} characters", f"{where}/options/{i}/value")
        values = {option.get("value") for option in options if isinstance(option, Mapping)}
        initial = element.get("initial_options") or ([element["initial_option"]] if "initial_option" in element else [])
        for option in initial:
            if not isinstance(option, Mapping) or option.get("value") not in values:
                error("initial options must be among the options", where)


# -- the view object -------------------------------------------------------------------------------
def view_object(
    open_view: OpenView, *, team_id: str, bot: User, state: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A modal as Slack shows it to the app (``views.open``'s ``view``, a submission's ``view``)."""
    view = copy.deepcopy(open_view.view)
    blocks = view.get("blocks") or []
    for index, block in enumerate(blocks):
        if isinstance(block, dict) and not block.get("block_id"):
            block["block_id"] = f"{open_view.id[-4:]}{index}"  # Slack names blocks the app left unnamed
    return {
        "id": open_view.id,
        "team_id": team_id,
        "type": view.get("type", "modal"),
        "blocks": blocks,
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "state": {"values": dict(state or {})},
        "hash": open_view.hash,
        "title": view.get("title"),
        "clear_on_close": bool(view.get("clear_on_close", False)),
        "notify_on_close": bool(view.get("notify_on_close", False)),
        "close": view.get("close"),
        "submit": view.get("submit"),
        "previous_view_id": None,
        "root_view_id": open_view.id,
        "app_id": open_view.app_id,
        "external_id": open_view.external_id,
        "app_installed_team_id": team_id,
        "bot_id": bot.bot_id,
    }


# -- a submission ----------------------------------------------------------------------------------
_MISSING = object()


def submitted_values(view: Mapping[str, Any], answers: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``view.state.values`` for a person's answers, checked as their Slack client checks them.

    :param view: the modal as open.
    :param answers: input block id (or the block's label) → what the person entered: text, a number, a
        date (``date`` or ``"YYYY-MM-DD"``), an option's value or text, a list of those, or ``True`` /
        ``False`` for a single checkbox. Blocks left out keep their initial value.
    :raises ViewInputError: the client would refuse to submit.
    :raises KeyError: an answer names no input block of the view.
    """
    inputs = [b for b in view.get("blocks") or [] if isinstance(b, Mapping) and b.get("type") == "input"]
    by_key = {str(b.get("block_id")): b for b in inputs}
    for block in inputs:  # a label names its block too, unless it is some block's id
        by_key.setdefault(str((block.get("label") or {}).get("text")), block)
    unknown = [key for key in answers if key not in by_key]
    if unknown:
        raise KeyError(f"the modal has no input {unknown!r} (inputs: {[str(b.get('block_id')) for b in inputs]})")
    given = {str(by_key[key].get("block_id")): value for key, value in answers.items()}
    values: dict[str, dict[str, Any]] = {}
    for block in inputs:
        block_id = str(block.get("block_id"))
        element = block["element"]
        state = _element_state(element, given.get(block_id, _MISSING), block_id)
        if not block.get("optional", False) and _empty(state):
            raise ViewInputError(block_id, "Please complete this required field.")
        values[block_id] = {str(element.get("action_id") or "value"): state}
    return values


def _empty(state: Mapping[str, Any]) -> bool:
    for key in ("value", "selected_option", "selected_date"):
        if key in state:
            return state[key] in (None, "")
    return not state.get("selected_options")


def _find_option(element: Mapping[str, Any], wanted: Any, block_id: str) -> dict[str, Any]:
    for option in _options(element):
        if option.get("value") == wanted or (option.get("text") or {}).get("text") == wanted:
            return dict(option)
    raise ViewInputError(block_id, f"no option {wanted!r}")


def _element_state(element: Mapping[str, Any], given: Any, block_id: str) -> dict[str, Any]:
    kind = element["type"]
    state: dict[str, Any] = {"type": kind}
    if kind == "plain_text_input":
        text = element.get("initial_value") if given is _MISSING else given
        if text is not None and not isinstance(text, str):
            raise TypeError(f"{block_id}: a text input takes text, got {text!r}")
        if text:
            if len(text) < element.get("min_length", 0):
                raise ViewInputError(block_id, f"Please enter at least {element['min_length']} characters.")
            if len(text) > element.get("max_length", MAX_TEXT_INPUT):
                raise ViewInputError(block_id, "Too many characters.")
        state["value"] = text or None
    elif kind == "number_input":
        raw = element.get("initial_value") if given is _MISSING else given
        if raw is None or raw == "":
            state["value"] = None
        else:
            number = _number(raw)
            if number is None:
                raise ViewInputError(block_id, "Please enter a number.")
            if not element.get("is_decimal_allowed") and number != number.to_integral_value():
                raise ViewInputError(block_id, "Please enter a whole number.")
            low, high = _number(element.get("min_value")), _number(element.get("max_value"))
            if (low is not None and number < low) or (high is not None and number > high):
                raise ViewInputError(block_id, "Please enter a number within the allowed range.")
            state["value"] = str(raw)
    elif kind == "datepicker":
        picked = element.get("initial_date") if given is _MISSING else given
        picked = picked.isoformat() if isinstance(picked, date) else picked
        if picked is not None and _date(picked) is None:
            raise ViewInputError(block_id, "Please pick a date.")
        state["selected_date"] = picked
    elif kind in ("static_select", "radio_buttons"):
        if given is _MISSING:
            state["selected_option"] = copy.deepcopy(element.get("initial_option"))
        else:
            state["selected_option"] = None if given is None else _find_option(element, given, block_id)
    else:  # multi_static_select, checkboxes
        if given is _MISSING:
            chosen = copy.deepcopy(element.get("initial_options") or [])
        elif isinstance(given, bool) and kind == "checkboxes":
            chosen = list(_options(element))[:1] if given else []
        else:
            chosen = [_find_option(element, item, block_id) for item in given or []]
        most = element.get("max_selected_items")
        if isinstance(most, int) and len(chosen) > most:
            raise ViewInputError(block_id, f"Please select no more than {most} items.")
        state["selected_options"] = chosen
    return state


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _date(value: Any) -> str | None:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        date.fromisoformat(value)
    except ValueError:
        return None
    return value


def view_submission_payload(
    view: Mapping[str, Any], *, person: User, team_id: str, domain: str, app_id: str, trigger_id: str, token: str
) -> dict[str, Any]:
    """What Slack sends the app when ``person`` submits a modal (``view``: :func:`view_object` with the state)."""
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": domain},
        "user": {"id": person.id, "username": person.name, "name": person.name, "team_id": team_id},
        "api_app_id": app_id,
        "token": token,
        "trigger_id": trigger_id,
        "view": dict(view),
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def response_errors(response: Any, view: Mapping[str, Any]) -> list[str]:
    """Why Slack would not apply an app's ``response_action`` to a submission of ``view``; empty if it would.

    ``errors`` must map the view's input block ids to messages; ``update`` and ``push`` carry a valid view.
    """
    if response is None or response == {}:
        return []
    if not isinstance(response, Mapping):
        return ["the response payload is not a JSON object"]
    action = response.get("response_action")
    if action == "errors":
        blocks = view.get("blocks") or []
        inputs = {b.get("block_id") for b in blocks if isinstance(b, Mapping) and b.get("type") == "input"}
        errors = response.get("errors")
        if not isinstance(errors, Mapping) or not errors:
            return ["errors must map input block ids to messages"]
        return [f"errors names {key!r}, which is no input block of the view" for key in errors if key not in inputs] + [
            f"the error for {key!r} is not text" for key, message in errors.items() if not isinstance(message, str)
        ]
    if action in ("update", "push"):
        return view_errors(response.get("view"))
    if action == "clear":
        return []
    return [f"unknown response_action {action!r}"]
