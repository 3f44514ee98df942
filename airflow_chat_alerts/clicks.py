"""Approve and Reject buttons on a question: the buttons themselves, a click read from Slack's
``block_actions`` payload, and the durable record of a click (a thread reply by the app).

A click reaches one connection of the app, chosen by Slack, which may not be the triggerer that holds
the ask; so the process that receives it first posts :meth:`Click.record` in the question's thread, and
only records posted by our own app (:func:`click_from_reply`) count, exactly like a keyword reply by the
person who clicked. The clicker is the Slack-verified ``user`` of the payload, never the button's value.

Pure: no I/O, no Airflow or slack_sdk imports. Nothing here raises on malformed input: what cannot be
read is not a click.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from airflow_chat_alerts.alerters.base import Answer, Message

APPROVE_ACTION = "chat_alerts_approve"  # button action_id
REJECT_ACTION = "chat_alerts_reject"
BUTTONS_BLOCK_ID = "chat_alerts_buttons"  # block_id of the actions block
CLICK_EVENT_TYPE = "airflow_chat_alerts_click"  # metadata event_type of a click record

ClickAction = Literal["approve", "reject"]
ACTIONS: Mapping[str, ClickAction] = {APPROVE_ACTION: "approve", REJECT_ACTION: "reject"}
LABELS: Mapping[ClickAction, str] = {"approve": "Approve", "reject": "Reject"}
# Slack's limit on a button's value; the value is informative only, so a longer one is cut.
MAX_BUTTON_VALUE = 2_000

_USER_ID = re.compile(r"[UW][A-Z0-9]+")
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]+")
_TS = re.compile(r"[0-9]+\.[0-9]+")


def _text(value: Any, pattern: re.Pattern[str]) -> str | None:
    return value if isinstance(value, str) and pattern.fullmatch(value) else None


@dataclass(frozen=True)
class Click:
    """A person's click on the Approve or Reject button of a question.

    :param user: the Slack-verified id of the person who clicked (``payload["user"]["id"]``).
    :param action: ``approve`` or ``reject``.
    :param action_ts: when Slack registered the click (a ts string).
    :param channel: the question's channel id.
    :param question_ts: the question's ts.
    """

    user: str
    action: ClickAction
    action_ts: str
    channel: str
    question_ts: str

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Click | None:
        """The click in a ``block_actions`` interaction payload; None unless it is one of our buttons
        clicked on a (non-ephemeral) message, with every field Slack always sends well formed.

        :param payload: the interaction payload as Slack sends it (any JSON value is accepted).
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
        action_id = action.get("action_id")
        verdict = ACTIONS.get(action_id) if isinstance(action_id, str) else None
        fields = (
            _text(user.get("id"), _USER_ID),
            _text(action.get("action_ts"), _TS),
            _text(container.get("channel_id"), _CHANNEL_ID),
            _text(container.get("message_ts"), _TS),
        )
        if verdict is None or None in fields:
            return None
        user_id, action_ts, channel, question_ts = fields
        return cls(user=user_id, action=verdict, action_ts=action_ts, channel=channel, question_ts=question_ts)  # type: ignore[arg-type]

    def record(self) -> Message:
        """The durable record of this click: a thread reply on the question that reads as an audit line
        and carries the click in its metadata (Slack keeps metadata only from an app's bot token)."""
        return Message(
            text=f"<@{self.user}> pressed *{LABELS[self.action]}*",
            metadata={
                "event_type": CLICK_EVENT_TYPE,
                "event_payload": {"user": self.user, "action": self.action, "action_ts": self.action_ts},
            },
        )

    def answer(self, *, guest: bool = False) -> Answer:
        """This click as an answer to its question: weighed like a keyword reply by :attr:`user`.

        :param guest: the clicker is a guest or a member of another organisation.
        """
        return Answer(kind="button", user=self.user, text=self.action, ts=self.action_ts, guest=guest)


def click_from_reply(
    reply: Mapping[str, Any], *, app_user_id: str, app_bot_id: str | None, channel: str | None = None
) -> Click | None:
    """The click a thread reply records, when OUR app posted it (its user is ``app_user_id``, or its
    ``bot_id`` is ``app_bot_id``) with well-formed click metadata; anything else is None, so a record
    forged by a person or another app never counts.

    :param reply: a thread reply as Slack lists it (``conversations.replies`` with metadata, or an event).
    :param app_user_id: our app's bot user id (``auth.test``).
    :param app_bot_id: our app's bot id (``auth.test``), if known.
    :param channel: the question's channel, when the reply does not say (``conversations.replies``).
    """
    if not isinstance(reply, Mapping):
        return None
    ours = (app_user_id and reply.get("user") == app_user_id) or (app_bot_id and reply.get("bot_id") == app_bot_id)
    metadata = reply.get("metadata")
    if not ours or not isinstance(metadata, Mapping) or metadata.get("event_type") != CLICK_EVENT_TYPE:
        return None
    payload = metadata.get("event_payload")
    if not isinstance(payload, Mapping):
        return None
    action = payload.get("action")
    fields = (
        _text(payload.get("user"), _USER_ID),
        _text(payload.get("action_ts"), _TS),
        _text(reply.get("channel") or channel, _CHANNEL_ID),
        _text(reply.get("thread_ts"), _TS),
    )
    if action not in LABELS or None in fields or reply.get("thread_ts") == reply.get("ts"):
        return None
    user, action_ts, where, question_ts = fields
    return Click(user=user, action=action, action_ts=action_ts, channel=where, question_ts=question_ts)  # type: ignore[arg-type]


def buttons_block(identity: Mapping[str, Any]) -> dict[str, Any]:
    """The question's actions block: Approve (primary) and Reject (danger).

    :param identity: the ask's identity (dag_id, run_id, task_id, map_index), carried as each button's
        value for people and tools reading the message: informative only, never trusted, never a secret.
    """
    value = json.dumps(dict(identity), separators=(",", ":"), sort_keys=True, default=str)[:MAX_BUTTON_VALUE]

    def button(action_id: str, style: str) -> dict[str, Any]:
        label = LABELS[ACTIONS[action_id]]
        return {
            "type": "button",
            "action_id": action_id,
            "text": {"type": "plain_text", "text": label},
            "style": style,
            "value": value,
        }

    return {
        "type": "actions",
        "block_id": BUTTONS_BLOCK_ID,
        "elements": [button(APPROVE_ACTION, "primary"), button(REJECT_ACTION, "danger")],
    }


def not_approver_text() -> str:
    """What a person who may not answer sees (ephemeral) after clicking."""
    return "You are not an approver of this question; your click changed nothing."


def already_decided_text(outcome: str) -> str:
    """What a person sees (ephemeral) after clicking on a question already decided.

    :param outcome: the outcome line (``formatting.outcome_line``).
    """
    return f"This question is already decided: {outcome}."
