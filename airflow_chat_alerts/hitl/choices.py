"""A request's options on Slack buttons and menus, and what a person chose, read back from Slack's
``block_actions`` payload.

Options may hold any characters and be of any length, while Slack caps a button's text at 75
characters, its ``value`` at 2,000, a menu option's ``value`` at 150 and an ``action_id`` at 255. So an
option travels as ``"<index>:<digest>"`` (its position among the request's options and a digest of its
text): short, unambiguous, and refused when the options changed since the message was posted. The
visible label is the option's text, cut visibly when too long.

What a click carries is never trusted for identity: the person is the Slack-verified ``user`` of the
payload, the request is the message the click came from. Reading never raises: what cannot be read is
not a choice.

Pure: no I/O, no Airflow or slack_sdk imports.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

# Slack's limits (Block Kit reference; slack_sdk.models.blocks carries the same figures).
MAX_ACTIONS_ELEMENTS = 25  # elements in one actions block
MAX_BUTTON_TEXT = 75
MAX_OPTION_TEXT = 75  # a menu option's text, and an option group's label
MAX_OPTION_VALUE = 150  # a menu option's value (a button's value may hold 2,000)
MAX_MENU_OPTIONS = 100  # options in a menu, and options in one option group
MAX_OPTION_GROUPS = 100
MAX_PLACEHOLDER = 150
MAX_MENU_CHOICES = MAX_MENU_OPTIONS * MAX_OPTION_GROUPS

CHOICES_BLOCK_ID = "chat_alerts_hitl_choices"  # the actions block holding the options
OPTION_ACTION_PREFIX = "chat_alerts_option_"  # + the option's index: one button per option
CHOOSE_ACTION = "chat_alerts_choose"  # a menu of the options (one answer per selection)
CHOOSE_MANY_ACTION = "chat_alerts_choose_many"  # a multi-select (multiple=True); its changes answer nothing
SUBMIT_ACTION = "chat_alerts_submit"  # sends the multi-select's selection
FORM_ACTION = "chat_alerts_form"  # opens the request's form (a modal)
AIRFLOW_ACTION = "chat_alerts_open_airflow"  # a link to Airflow's own form; Slack still reports the click

ChoiceKind = Literal["choose", "form", "select"]

_USER_ID = re.compile(r"[UW][A-Z0-9]+")
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]+")
_TS = re.compile(r"[0-9]+\.[0-9]+")
_VALUE = re.compile(r"(0|[1-9][0-9]{0,5}):([0-9a-f]{12})")


def option_digest(option: str) -> str:
    """A short digest of an option's text."""
    return hashlib.sha256(option.encode()).hexdigest()[:12]


def choice_value(index: int, option: str) -> str:
    """The value that names ``option`` (at ``index`` among the request's options) on a button or menu."""
    return f"{index}:{option_digest(option)}"


def option_of(value: Any, options: Sequence[str]) -> str | None:
    """The option a button's or menu option's ``value`` names, or None when it names none of ``options``
    (a stale message, or not one of ours)."""
    match = _VALUE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    index = int(match.group(1))
    if index >= len(options) or option_digest(options[index]) != match.group(2):
        return None
    return options[index]


def label(text: str, limit: int = MAX_BUTTON_TEXT) -> str:
    """``text`` as a plain-text label of at most ``limit`` characters, cut visibly ("…"); blank text shows
    as "(blank)" (Slack refuses an empty label)."""
    text = " ".join(text.split())
    if not text:
        return "(blank)"
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def option_button(index: int, option: str, *, style: str | None = None) -> dict[str, Any]:
    """The button that chooses ``option``.

    :param index: the option's position among the request's options.
    :param option: the option's text.
    :param style: ``primary`` or ``danger``, or None.
    """
    button: dict[str, Any] = {
        "type": "button",
        "action_id": f"{OPTION_ACTION_PREFIX}{index}",
        "text": _plain(label(option)),
        "value": choice_value(index, option),
    }
    if style:
        button["style"] = style
    return button


def _menu_option(index: int, option: str) -> dict[str, Any]:
    return {"text": _plain(label(option, MAX_OPTION_TEXT)), "value": choice_value(index, option)}


def fits_menu(options: Sequence[str]) -> bool:
    """Whether a menu can hold every option (in groups of 100 when there are more than 100)."""
    return len(options) <= MAX_MENU_CHOICES


def options_menu(
    options: Sequence[str], *, multiple: bool, initial: Sequence[str] = (), action_id: str | None = None
) -> dict[str, Any]:
    """A static menu (``multiple``: a multi-select) of the options; more than 100 go in groups of 100.

    :param options: the request's options.
    :param multiple: a multi-select (several options) rather than a single choice.
    :param initial: options shown selected at first.
    :param action_id: the element's action id (default :data:`CHOOSE_ACTION` / :data:`CHOOSE_MANY_ACTION`).
    :raises ValueError: more options than a menu can hold (:func:`fits_menu`).
    """
    if not fits_menu(options):
        raise ValueError(f"{len(options)} options do not fit a menu (at most {MAX_MENU_CHOICES})")
    items = [_menu_option(i, option) for i, option in enumerate(options)]
    element: dict[str, Any] = {
        "type": "multi_static_select" if multiple else "static_select",
        "action_id": action_id or (CHOOSE_MANY_ACTION if multiple else CHOOSE_ACTION),
        "placeholder": _plain("Choose options" if multiple else "Choose an option"),
    }
    if len(items) <= MAX_MENU_OPTIONS:
        element["options"] = items
    else:
        element["option_groups"] = [
            {"label": _plain(f"Options {start + 1}–{start + len(chunk)}"), "options": chunk}
            for start in range(0, len(items), MAX_MENU_OPTIONS)
            for chunk in [items[start : start + MAX_MENU_OPTIONS]]
        ]
    chosen = [items[options.index(option)] for option in initial if option in options]
    if chosen and multiple:
        element["initial_options"] = chosen
    elif chosen:
        element["initial_option"] = chosen[0]
    return element


@dataclass(frozen=True)
class Choice:
    """What a person did on a request's message.

    :param user: the Slack-verified id of the person (``payload["user"]["id"]``).
    :param kind: ``choose`` (an answer: ``chosen`` holds the options; empty when they submitted an empty
        selection), ``form`` (they asked for the form) or ``select`` (they changed the multi-select's
        selection: not an answer yet).
    :param chosen: the options chosen, in the request's order.
    :param action_ts: when Slack registered the action (a ts string).
    :param channel: the message's channel id.
    :param message_ts: the message's ts.
    :param trigger_id: Slack's trigger id, to open a modal within 3 seconds.
    """

    user: str
    kind: ChoiceKind
    chosen: tuple[str, ...]
    action_ts: str
    channel: str
    message_ts: str
    trigger_id: str | None = None

    @classmethod
    def from_payload(cls, payload: Any, options: Sequence[str]) -> Choice | None:
        """The choice in a ``block_actions`` payload on a request's message; None unless it is one of our
        elements on a (non-ephemeral) message, naming the request's current options, with every field
        Slack always sends well formed.

        :param payload: the interaction payload as Slack sends it (any JSON value is accepted).
        :param options: the request's options.
        """
        if not isinstance(payload, Mapping) or payload.get("type") != "block_actions":
            return None
        container, user, actions = payload.get("container"), payload.get("user"), payload.get("actions")
        if not (isinstance(container, Mapping) and isinstance(user, Mapping) and isinstance(actions, list)):
            return None
        if container.get("type") != "message" or container.get("is_ephemeral") is True or not actions:
            return None
        action = actions[0]
        if not isinstance(action, Mapping):
            return None
        fields = (
            _text(user.get("id"), _USER_ID),
            _text(action.get("action_ts"), _TS),
            _text(container.get("channel_id"), _CHANNEL_ID),
            _text(container.get("message_ts"), _TS),
        )
        if None in fields:
            return None
        read = _read_action(action, payload.get("state"), options)
        if read is None:
            return None
        kind, chosen = read
        trigger = payload.get("trigger_id")
        user_id, action_ts, channel, message_ts = fields
        return cls(
            user=user_id,  # type: ignore[arg-type]
            kind=kind,
            chosen=chosen,
            action_ts=action_ts,  # type: ignore[arg-type]
            channel=channel,  # type: ignore[arg-type]
            message_ts=message_ts,  # type: ignore[arg-type]
            trigger_id=trigger if isinstance(trigger, str) and trigger else None,
        )


def _read_action(
    action: Mapping[str, Any], state: Any, options: Sequence[str]
) -> tuple[ChoiceKind, tuple[str, ...]] | None:
    action_id = action.get("action_id")
    if not isinstance(action_id, str):
        return None
    if action_id.startswith(OPTION_ACTION_PREFIX):
        option = option_of(action.get("value"), options)
        if option is None or action_id != f"{OPTION_ACTION_PREFIX}{options.index(option)}":
            return None
        return "choose", (option,)
    if action_id == CHOOSE_ACTION:
        selected = action.get("selected_option")
        option = option_of(selected.get("value"), options) if isinstance(selected, Mapping) else None
        return None if option is None else ("choose", (option,))
    if action_id == CHOOSE_MANY_ACTION:
        return "select", ()
    if action_id == SUBMIT_ACTION:
        chosen = _selected_many(state, options)
        return None if chosen is None else ("choose", chosen)
    if action_id == FORM_ACTION:
        return "form", ()
    return None


def _selected_many(state: Any, options: Sequence[str]) -> tuple[str, ...] | None:
    """The multi-select's selection in a payload's ``state.values``, in the request's order; None when
    the state does not hold our multi-select or names an option the request does not have."""
    values = state.get("values") if isinstance(state, Mapping) else None
    block = values.get(CHOICES_BLOCK_ID) if isinstance(values, Mapping) else None
    element = block.get(CHOOSE_MANY_ACTION) if isinstance(block, Mapping) else None
    if not isinstance(element, Mapping):
        return None
    selected = element.get("selected_options")
    if not isinstance(selected, list):
        return None
    chosen = {option_of(item.get("value"), options) if isinstance(item, Mapping) else None for item in selected}
    if None in chosen:
        return None
    return tuple(option for option in options if option in chosen)


def _text(value: Any, pattern: re.Pattern[str]) -> str | None:
    return value if isinstance(value, str) and pattern.fullmatch(value) else None
