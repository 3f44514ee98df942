"""Events API and interactivity payloads, shaped as Slack sends them over Socket Mode.

`EventSource` watches a `State` (its ``observers`` hook) and turns each change to a message in a
channel the app is a member of into an ``event_callback`` payload: ``message`` (new messages and
thread replies, ``message_changed``, ``message_deleted``) and ``reaction_added`` /
``reaction_removed``. `block_actions_payload` builds what a button click sends.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
from collections.abc import Callable
from typing import Any

from airflow_chat_alerts.testing.selections import message_elements, message_state
from airflow_chat_alerts.testing.state import ChannelState, Message, State
from airflow_chat_alerts.testing.workspace import User

# Slack still sends the (deprecated) verification token in payloads; apps must not rely on it.
VERIFICATION_TOKEN = "emulated-verification-token"


class ButtonNotFound(LookupError):
    """A click on a button that the message does not carry."""


def _event_ts(state: State) -> str:
    return f"{state.clock.now():.6f}"


def channel_type(ch: ChannelState) -> str:
    if ch.kind != "channel":
        return ch.kind  # "im" / "mpim"
    return "group" if ch.is_private else "channel"


def message_event(state: State, ch: ChannelState, msg: Message) -> dict[str, Any]:
    """A new message or thread reply (``thread_ts`` set) as a ``message`` event."""
    event = state.render(ch, msg)
    event.pop("reactions", None)
    event.update({"channel": ch.id, "event_ts": msg.ts, "channel_type": channel_type(ch)})
    return event


def changed_event(state: State, ch: ChannelState, msg: Message, previous: dict[str, Any]) -> dict[str, Any]:
    """An edit (or a thread parent turned into a tombstone) as ``message_changed``."""
    ts = _event_ts(state)
    return {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": ch.id,
        "message": state.render(ch, msg),
        "previous_message": previous,
        "ts": ts,
        "event_ts": ts,
        "channel_type": channel_type(ch),
    }


def deleted_event(state: State, ch: ChannelState, msg: Message, previous: dict[str, Any]) -> dict[str, Any]:
    ts = _event_ts(state)
    return {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "channel": ch.id,
        "deleted_ts": msg.ts,
        "previous_message": previous,
        "ts": ts,
        "event_ts": ts,
        "channel_type": channel_type(ch),
    }


def reaction_event(
    state: State, kind: str, ch: ChannelState, msg: Message, user: str, reaction: str
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": kind,
        "user": user,
        "reaction": reaction,
        "item": {"type": "message", "channel": ch.id, "ts": msg.ts},
        "event_ts": _event_ts(state),
    }
    if msg.user:
        event["item_user"] = msg.user
    return event


class EventSource:
    """Turns `State` changes into ``event_callback`` payloads for the app and hands them to ``emit``.

    :param emit: receives each payload (called under the state's lock: it must only queue it).
    :param wanted: asked before any payload is built; False (no live socket) skips the work.
    """

    def __init__(self, emit: Callable[[dict[str, Any]], None], wanted: Callable[[], bool]) -> None:
        self.emit = emit
        self.wanted = wanted
        self._ids = itertools.count(1)

    def watch(self, state: State) -> None:
        state.observers.append(lambda *args, **kw: self._changed(state, *args, **kw))

    def _changed(self, state: State, change: str, ch: ChannelState, msg: Message, **details: Any) -> None:
        bot = state.workspace.bot
        if bot.id not in ch.members or not self.wanted():
            return
        if change == "posted":
            event = message_event(state, ch, msg)
        elif change == "changed":
            event = changed_event(state, ch, msg, details["previous"])
        elif change == "deleted":
            event = deleted_event(state, ch, msg, details["previous"])
        else:
            event = reaction_event(state, change, ch, msg, details["user"], details["reaction"])
        self.emit(self.callback(state, event, ch))

    def callback(self, state: State, event: dict[str, Any], ch: ChannelState) -> dict[str, Any]:
        """The ``event_callback`` wrapper the app receives, for an event in channel ``ch``."""
        ws = state.workspace
        return {
            "token": VERIFICATION_TOKEN,
            "team_id": ws.team_id,
            "context_team_id": ws.team_id,
            "context_enterprise_id": None,
            "api_app_id": ws.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev0{next(self._ids):09d}",
            "event_time": int(state.clock.now()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": ws.team_id,
                    "user_id": ws.bot.id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": ch.is_ext_shared,
            "event_context": event_context(ws.team_id, ws.app_id, ch.id, str(event.get("type"))),
        }


def event_context(team_id: str, app_id: str, channel_id: str, event_type: str) -> str:
    """Slack's opaque ``event_context`` (what ``apps.event.authorizations.list`` takes): a version prefix
    and an encoded description of the event, as Slack's look (``4-eyJldCI6…``)."""
    described = json.dumps({"et": event_type, "tid": team_id, "aid": app_id, "cid": channel_id},
                           separators=(",", ":"))
    return "4-" + base64.urlsafe_b64encode(described.encode()).decode().rstrip("=")


def find_button(
    msg: Message, action_id: str, value: str | None = None
) -> tuple[str, dict[str, Any]]:
    """(block_id, button) of the button ``action_id`` (and ``value``, if given) in the message's blocks.

    :raises ButtonNotFound: the message carries no such button.
    """
    for block_id, element in message_elements(msg):
        if (
            element.get("type") == "button"
            and element.get("action_id") == action_id
            and (value is None or element.get("value") == value)
        ):
            return block_id, element
    wanted = action_id if value is None else f"{action_id} with value {value!r}"
    raise ButtonNotFound(f"message {msg.ts} has no button {wanted}")


def block_actions_payload(
    state: State,
    ch: ChannelState,
    msg: Message,
    user: User,
    action_id: str,
    value: str | None,
    root_url: str,
) -> dict[str, Any]:
    """What Slack sends when ``user`` clicks the button ``action_id`` on ``msg``.

    :raises ButtonNotFound: the message carries no such button.
    """
    block_id, button = find_button(msg, action_id, value)
    action: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "block_id": block_id,
        "text": copy.deepcopy(button.get("text", {"type": "plain_text", "text": ""})),
        "action_ts": _event_ts(state),
    }
    if "value" in button:
        action["value"] = button["value"]
    if "style" in button:
        action["style"] = button["style"]
    return interaction_payload(state, ch, msg, user, action, root_url)


def interaction_payload(
    state: State, ch: ChannelState, msg: Message, user: User, action: dict[str, Any], root_url: str
) -> dict[str, Any]:
    """The ``block_actions`` payload of ``action`` by ``user`` on ``msg``: with a new trigger id (good for
    3 s, see interactions.py) and the person's ``state.values`` of the message's menus (selections.py)."""
    ws = state.workspace
    message = state.render(ch, msg)
    response_url = state.response_urls.issue(ch.id, msg.ts, user.id, state.clock.now())
    selections = state.interactions.selections.get((ch.id, msg.ts, user.id), {})
    return {
        "type": "block_actions",
        "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": ws.team_id},
        "api_app_id": ws.app_id,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": msg.ts,
            "channel_id": ch.id,
            "is_ephemeral": False,
            **({"thread_ts": msg.thread_ts} if msg.is_reply else {}),
        },
        "trigger_id": state.interactions.issue_trigger(user.id, ws.app_id, state.clock.now()),
        "team": {"id": ws.team_id, "domain": ws.domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": ch.id, "name": ch.name},
        "message": message,
        "state": {"values": message_state(msg, selections)},
        "response_url": root_url + response_url.path(ws.team_id),
        "actions": [action],
    }
