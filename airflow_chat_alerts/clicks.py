"""Button clicks: what a click payload says, and the durable record of it in the question's thread.

Pure: no I/O, no Airflow imports.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from airflow_chat_alerts.alerters.base import Message

APPROVE_ACTION = "chat_alerts_approve"
REJECT_ACTION = "chat_alerts_reject"
BUTTONS_BLOCK_ID = "chat_alerts_buttons"
CLICK_EVENT_TYPE = "airflow_chat_alerts_click"

_ACTIONS: dict[str, Literal["approve", "reject"]] = {APPROVE_ACTION: "approve", REJECT_ACTION: "reject"}


@dataclass(frozen=True)
class Click:
    """One press of Approve or Reject, as Slack reported it.

    :param user: the Slack-verified user id of who clicked (never the button's value).
    :param action: ``approve`` or ``reject``.
    :param action_ts: when Slack says the click happened.
    :param channel: the channel id of the question.
    :param question_ts: the ts of the question carrying the buttons.
    """

    user: str
    action: Literal["approve", "reject"]
    action_ts: str
    channel: str
    question_ts: str

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Click | None:
        """The click of a ``block_actions`` payload on one of our buttons on a message, else None."""
        try:
            if payload.get("type") != "block_actions":
                return None
            container = payload["container"]
            action = payload["actions"][0]
            verdict = _ACTIONS.get(action.get("action_id"))
            if verdict is None or container.get("type") != "message":
                return None
            return cls(
                user=str(payload["user"]["id"]),
                action=verdict,
                action_ts=str(action["action_ts"]),
                channel=str(container["channel_id"]),
                question_ts=str(container["message_ts"]),
            )
        except (KeyError, IndexError, TypeError, AttributeError):
            return None

    def record(self) -> Message:
        """The thread reply that makes the click durable (read back by the ask that holds it)."""
        label = "Approve" if self.action == "approve" else "Reject"
        return Message(
            text=f"<@{self.user}> pressed *{label}*",
            metadata={
                "event_type": CLICK_EVENT_TYPE,
                "event_payload": {"user": self.user, "action": self.action, "action_ts": self.action_ts},
            },
        )


def click_from_reply(reply: Mapping[str, Any], *, app_user_id: str, app_bot_id: str | None) -> Click | None:
    """The click a thread reply records, when our own app posted it with a well-formed payload."""
    ours = reply.get("user") == app_user_id or (app_bot_id is not None and reply.get("bot_id") == app_bot_id)
    metadata = reply.get("metadata") or {}
    if not ours or not isinstance(metadata, Mapping) or metadata.get("event_type") != CLICK_EVENT_TYPE:
        return None
    data = metadata.get("event_payload") or {}
    if not isinstance(data, Mapping):
        return None
    user, action, action_ts = data.get("user"), data.get("action"), data.get("action_ts")
    if not isinstance(user, str) or not user or action not in ("approve", "reject") or not isinstance(action_ts, str):
        return None
    return Click(user, action, action_ts, str(reply.get("channel") or ""), str(reply.get("thread_ts") or ""))


def buttons_block(identity: Mapping[str, Any]) -> dict[str, Any]:
    """The Approve / Reject actions block; the value names the ask (informative, never trusted)."""
    value = json.dumps(dict(identity), separators=(",", ":"), sort_keys=True)
    return {
        "type": "actions",
        "block_id": BUTTONS_BLOCK_ID,
        "elements": [
            {"type": "button", "action_id": APPROVE_ACTION, "style": "primary", "value": value,
             "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "button", "action_id": REJECT_ACTION, "style": "danger", "value": value,
             "text": {"type": "plain_text", "text": "Reject"}},
        ],
    }


def not_approver_text() -> str:
    return "You are not an approver of this question; your click changed nothing."


def already_decided_text(outcome: str) -> str:
    return f"This question is already decided: {outcome}."
