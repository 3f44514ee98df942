"""A question's Approve and Reject buttons on Discord, and the record a click leaves.

**The buttons carry the question's identity.** Discord has no message metadata, so the ``custom_id`` of each
button (which only the bot can set on its own message, and which the bot reads back whatever its intents)
holds a digest of the asking task instance, the try that posted it and the deadline:
``chat_alerts_approve:<digest>:<deadline>:<try>``. A retry finds the undecided question an earlier try
posted by it (the message must be the bot's own); once decided the buttons are gone, and so is the identity.

**A click is acknowledged and made durable in one step.** The triggerer answers a click with an interaction
response that creates a message (callback type 4): "@alice pressed **Approve**". Discord creates it only if
the answer comes within its 3 seconds (a later one is refused with 10062, and the person sees "This
interaction failed"), and stamps it with the click's own interaction metadata: who clicked (verified by
Discord), the click's id (its time) and the message clicked. So a record exists exactly when a click was
acknowledged, and :func:`~._reading.click_of_record` counts a message only when the bot posted it as an interaction
response naming the question: a copy of the line by a person or another bot, or a click on another message
(a copy of the buttons), decides nothing. Only the first answer to an interaction is taken (40060 after), so
a click is recorded once however many triggerers receive it.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from airflow_chat_alerts.clicks import ACTIONS, APPROVE_ACTION, LABELS, REJECT_ACTION

ClickAction = Literal["approve", "reject"]
# The identity of the ask the buttons belong to: what a retry's lookup matches.
IDENTITY_KEYS = ("dag_id", "run_id", "task_id", "map_index")
_CUSTOM_ID = re.compile(
    r"(chat_alerts_approve|chat_alerts_reject):([0-9a-f]{20}):([0-9]{1,12})\.([0-9]{6}):([0-9]{1,6})"
)
_RECORD = re.compile(r"<@([0-9]+)> pressed \*\*(Approve|Reject)\*\*")
_VERDICTS: Mapping[str, ClickAction] = {"Approve": "approve", "Reject": "reject"}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def identity_digest(identity: Mapping[str, Any]) -> str:
    """A digest of the asking task instance (dag_id, run_id, task_id, map_index): fits in a custom_id."""
    named = {key: identity.get(key) for key in IDENTITY_KEYS}
    text = json.dumps(named, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class ButtonIdentity:
    """What a question's buttons say of the ask.

    :param digest: :func:`identity_digest` of the task instance.
    :param deadline: the ask's deadline (ISO-8601 UTC, to the microsecond).
    :param try_number: the try that posted the question.
    """

    digest: str
    deadline: str
    try_number: int

    @classmethod
    def of(cls, payload: Mapping[str, Any]) -> ButtonIdentity | None:
        """From a question's metadata payload (dag_id, run_id, task_id, map_index, try_number, deadline)."""
        try:
            moment = datetime.fromisoformat(str(payload["deadline"]))
            try_number = int(payload.get("try_number") or 1)
        except (KeyError, TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return cls(identity_digest(payload), _iso(_seconds(moment)), try_number)

    def custom_id(self, action_id: str) -> str:
        """The ``custom_id`` of the button ``action_id`` (:data:`~airflow_chat_alerts.clicks.APPROVE_ACTION`
        or :data:`~airflow_chat_alerts.clicks.REJECT_ACTION`)."""
        return f"{action_id}:{self.digest}:{_seconds(datetime.fromisoformat(self.deadline))}:{self.try_number}"

    def payload(self, identity: Mapping[str, Any]) -> dict[str, Any]:
        """The question's metadata payload, given the identity it was matched with."""
        return {**{key: identity[key] for key in IDENTITY_KEYS if key in identity},
                "try_number": self.try_number, "deadline": self.deadline}


def parse_custom_id(custom_id: str) -> tuple[ClickAction, ButtonIdentity] | None:
    """The verdict and the ask's identity in one of our buttons' ``custom_id``; None for any other."""
    match = _CUSTOM_ID.fullmatch(custom_id or "")
    if match is None:
        return None
    action_id, digest, seconds, micros, try_number = match.groups()
    deadline = _iso(f"{seconds}.{micros}")
    return ACTIONS[action_id], ButtonIdentity(digest, deadline, int(try_number))


def button_specs(identity: ButtonIdentity) -> list[tuple[str, str, str]]:
    """(style, custom_id, label) of the question's two buttons: Approve (green) and Reject (red)."""
    return [
        ("success", identity.custom_id(APPROVE_ACTION), LABELS["approve"]),
        ("danger", identity.custom_id(REJECT_ACTION), LABELS["reject"]),
    ]


def record_text(user_id: str, action: ClickAction) -> str:
    """The line a click's interaction response posts: ``<@id> pressed **Approve**`` (the mention pings
    nobody: the response allows no mention)."""
    return f"<@{user_id}> pressed **{LABELS[action]}**"


def action_of_record(content: str) -> tuple[str, ClickAction] | None:
    """(user id, verdict) written in a record's line, or None."""
    match = _RECORD.fullmatch((content or "").strip())
    return (match.group(1), _VERDICTS[match.group(2)]) if match else None


def _seconds(moment: datetime) -> str:
    delta = moment.astimezone(timezone.utc) - _EPOCH
    whole = delta.days * 86_400 + delta.seconds
    return f"{whole}.{delta.microseconds:06d}"


def _iso(seconds: str) -> str:
    whole, _, micros = seconds.partition(".")
    return (_EPOCH + timedelta(seconds=int(whole), microseconds=int(micros or 0))).isoformat()


__all__ = ["APPROVE_ACTION", "REJECT_ACTION", "ButtonIdentity", "action_of_record", "button_specs",
           "identity_digest", "parse_custom_id", "record_text"]
