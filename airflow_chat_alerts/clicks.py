"""Approve and Reject buttons on a question: the buttons themselves, a click read from Slack's
``block_actions`` payload, and the durable record of clicks (a thread reply by the app).

A click reaches one connection of the app, chosen by Slack, which may not be the triggerer that holds
the ask; so the process that receives it first posts a record in the question's thread carrying the
click in its metadata, and only records posted by our own app (:func:`clicks_from_record`) count, exactly
like a keyword reply by the person who clicked. The clicker is the Slack-verified ``user`` of the
payload, never the button's value. A click counts only on the question itself: a copy of its buttons on
any other message (a thread reply included) decides nothing.

A click counts only if it was acknowledged in time, which a reader cannot see; so the record is only
honoured when Slack stored it within :data:`RECORD_WINDOW` of the click (:func:`recorded_in_time`), the
same rule the recording process applies before it acknowledges. A record that lands later (its post was
held up) counts for nobody, and the person, who saw Slack's error on the button, clicks again.

When clicks in one channel come faster than Slack lets the app post there, one record carries several
(each naming its own question): :meth:`Click.record_of`.

Pure: no I/O, no Airflow or slack_sdk imports. Nothing here raises on malformed input: what cannot be
read is not a click.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from airflow_chat_alerts.model import Answer, Message

APPROVE_ACTION = "chat_alerts_approve"  # button action_id
REJECT_ACTION = "chat_alerts_reject"
BUTTONS_BLOCK_ID = "chat_alerts_buttons"  # block_id of the actions block
CLICK_EVENT_TYPE = "airflow_chat_alerts_click"  # metadata event_type of a click record

ClickAction = Literal["approve", "reject"]
ACTIONS: Mapping[str, ClickAction] = {APPROVE_ACTION: "approve", REJECT_ACTION: "reject"}
LABELS: Mapping[ClickAction, str] = {"approve": "Approve", "reject": "Reject"}
# Slack's limit on a button's value; the value is informative only, so a longer one is cut.
MAX_BUTTON_VALUE = 2_000
# Slack waits 3 s for a click's acknowledgement. A record counts only when Slack stored it at most this
# long after the click (both times are Slack's), so the ack that follows it still arrives in time.
RECORD_WINDOW = Decimal("2.0")
# Clicks one record carries at most (Slack's metadata stays small; a busier second waits for the next post).
MAX_CLICKS_PER_RECORD = 20

_USER_ID = re.compile(r"[UW][A-Z0-9]+")
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]+")
_TS = re.compile(r"[0-9]{1,12}\.[0-9]{1,9}")


def _text(value: Any, pattern: re.Pattern[str]) -> str | None:
    return value if isinstance(value, str) and pattern.fullmatch(value) else None


def recorded_in_time(record_ts: str, action_ts: str) -> bool:
    """Whether a record stored at ``record_ts`` was in time for the click made at ``action_ts``: the
    recording process acknowledges exactly these clicks, and readers honour exactly these records.

    :param record_ts: the record message's ts (when Slack stored it).
    :param action_ts: the click's ``action_ts`` (when Slack registered it).
    """
    if not (_TS.fullmatch(record_ts) and _TS.fullmatch(action_ts)):
        return False
    delay = Decimal(record_ts) - Decimal(action_ts)
    return Decimal(0) <= delay <= RECORD_WINDOW


@dataclass(frozen=True)
class Click:
    """A person's click on the Approve or Reject button of a question.

    :param user: the Slack-verified id of the person who clicked (``payload["user"]["id"]``).
    :param action: ``approve`` or ``reject``.
    :param action_ts: when Slack registered the click (a ts string).
    :param channel: the question's channel id.
    :param question_ts: the ts of the message clicked: a top-level message (the question, if any).
    """

    user: str
    action: ClickAction
    action_ts: str
    channel: str
    question_ts: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What tells this click apart from every other: (channel, question ts, user, click time)."""
        return (self.channel, self.question_ts, self.user, self.action_ts)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Click | None:
        """The click in a ``block_actions`` interaction payload; None unless it is one of our buttons
        clicked on a top-level, non-ephemeral message, with every field Slack always sends well formed.
        A click on a thread reply (a copy of the buttons posted in the thread) is not a click.

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
        user_id, action_ts, channel, message_ts = fields
        message = payload.get("message")
        threads = [container.get("thread_ts"), message.get("thread_ts") if isinstance(message, Mapping) else None]
        if any(thread not in (None, message_ts) for thread in threads):
            return None  # a reply in a thread: never the question itself
        return cls(user=user_id, action=verdict, action_ts=action_ts, channel=channel, question_ts=message_ts)  # type: ignore[arg-type]

    def record(self) -> Message:
        """The durable record of this click alone: a thread reply on the question that reads as an audit
        line and carries the click in its metadata (Slack keeps metadata only from an app's bot token)."""
        return Click.record_of([self])

    @staticmethod
    def record_of(clicks: Sequence[Click]) -> Message:
        """One record of several clicks in one channel (posted in the thread of the first one's question):
        an audit line per click, and every click, each naming its question, in the metadata.

        :param clicks: at most :data:`MAX_CLICKS_PER_RECORD` clicks, all in one channel.
        :raises ValueError: no clicks, too many, or clicks of several channels.
        """
        if not clicks or len(clicks) > MAX_CLICKS_PER_RECORD or len({c.channel for c in clicks}) != 1:
            raise ValueError(f"a record holds 1 to {MAX_CLICKS_PER_RECORD} clicks of one channel, got {len(clicks)}")
        host = clicks[0].question_ts
        lines = [
            f"<@{c.user}> pressed *{LABELS[c.action]}*"
            + ("" if c.question_ts == host else f" on the question of {c.question_ts}")
            for c in clicks
        ]
        return Message(
            text="\n".join(lines),
            metadata={
                "event_type": CLICK_EVENT_TYPE,
                "event_payload": {
                    "clicks": [
                        {"user": c.user, "action": c.action, "action_ts": c.action_ts, "question_ts": c.question_ts}
                        for c in clicks
                    ]
                },
            },
        )

    def answer(self, *, guest: bool = False) -> Answer:
        """This click as an answer to its question: weighed like a keyword reply by :attr:`user`.

        :param guest: the clicker is a guest or a member of another organisation.
        """
        return Answer(kind="button", user=self.user, text=self.action, ts=self.action_ts, guest=guest)


def clicks_from_record(
    reply: Mapping[str, Any], *, app_user_id: str, app_bot_id: str | None, channel: str | None = None
) -> list[Click]:
    """The clicks a thread reply records, when OUR app posted it (its user is ``app_user_id``, or its
    ``bot_id`` is ``app_bot_id``) with well-formed click metadata, each recorded in time
    (:func:`recorded_in_time`); anything else gives no click, so a record forged by a person or another
    app, or one that landed too late, never counts. Each click is for the question it names.

    :param reply: a thread reply as Slack lists it (``conversations.replies`` with metadata, or an event).
    :param app_user_id: our app's bot user id (``auth.test``).
    :param app_bot_id: our app's bot id (``auth.test``), if known.
    :param channel: the question's channel, when the reply does not say (``conversations.replies``).
    """
    if not isinstance(reply, Mapping):
        return []
    ours = (app_user_id and reply.get("user") == app_user_id) or (app_bot_id and reply.get("bot_id") == app_bot_id)
    metadata = reply.get("metadata")
    if not ours or not isinstance(metadata, Mapping) or metadata.get("event_type") != CLICK_EVENT_TYPE:
        return []
    payload = metadata.get("event_payload")
    items = payload.get("clicks") if isinstance(payload, Mapping) else None
    where = _text(reply.get("channel") or channel, _CHANNEL_ID)
    record_ts = _text(reply.get("ts"), _TS)
    thread_ts = _text(reply.get("thread_ts"), _TS)
    if not isinstance(items, list) or where is None or record_ts is None or thread_ts in (None, record_ts):
        return []
    found = []
    for item in items[:MAX_CLICKS_PER_RECORD]:
        if not isinstance(item, Mapping):
            continue
        action = item.get("action")
        fields = (
            _text(item.get("user"), _USER_ID),
            _text(item.get("action_ts"), _TS),
            _text(item.get("question_ts"), _TS),
        )
        if action not in LABELS or None in fields or not recorded_in_time(record_ts, fields[1]):  # type: ignore[arg-type]
            continue
        user, action_ts, question_ts = fields
        found.append(Click(user=user, action=action, action_ts=action_ts, channel=where, question_ts=question_ts))  # type: ignore[arg-type]
    return found


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
