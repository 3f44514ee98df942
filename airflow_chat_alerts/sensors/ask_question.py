"""The record of a posted question (XCom ``question``): what a resumed or retried ask knows of it.

The worker writes it once, when it has posted (or found) the question, and reads it back on every
resume; it is the only state the sensor keeps between its steps. Pure: no I/O, no Airflow imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_chat_alerts.exceptions import ChatPermanentError
from airflow_chat_alerts.model import MessageRef, PostedQuestion
from airflow_chat_alerts.utils import parse_utc

XCOM_KEY = "question"


@dataclass(frozen=True)
class QuestionRecord:
    """A question the ask posted, and the metadata payload it was posted with.

    :param channel: the channel id of the question.
    :param ts: the question's message ts.
    :param permalink: a link to it, when Slack gave one.
    :param deadline: the ask's absolute deadline (ISO-8601 UTC), fixed when the question was posted.
    :param payload: its metadata payload: the task instance (dag_id, run_id, task_id, map_index), the
        try that posted it (``try_number``) and the deadline.
    """

    channel: str
    ts: str
    deadline: str
    permalink: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, posted: PostedQuestion) -> QuestionRecord:
        """The record of a question just posted or found in the channel."""
        ref = posted.ref
        return cls(
            channel=ref.channel,
            ts=ref.ts,
            permalink=ref.permalink,
            deadline=posted.payload["deadline"],
            payload=dict(posted.payload),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, task_id: str) -> QuestionRecord:
        """The record as read back from XCom.

        :param data: what :meth:`to_dict` wrote (None when nothing was found).
        :param task_id: the task, named in the error.
        :raises ChatPermanentError: there is no record, or it lacks the question's channel, ts or deadline.
        """
        if not data or not all(data.get(key) for key in ("channel", "ts", "deadline")):
            raise ChatPermanentError(f"Task {task_id} resumed without the record of its question (XCom {XCOM_KEY!r})")
        return cls(
            channel=data["channel"],
            ts=data["ts"],
            permalink=data.get("permalink"),
            deadline=data["deadline"],
            payload=dict(data.get("payload") or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form, for XCom."""
        return {
            "channel": self.channel,
            "ts": self.ts,
            "permalink": self.permalink,
            "deadline": self.deadline,
            "payload": dict(self.payload),
        }

    @property
    def ref(self) -> MessageRef:
        return MessageRef(channel=self.channel, ts=self.ts, permalink=self.permalink)

    @property
    def deadline_at(self) -> datetime:
        """The deadline as an aware UTC datetime."""
        return parse_utc(self.deadline)

    @property
    def label(self) -> str:
        """How messages name the question: its link, else its ts."""
        return self.permalink or self.ts

    def posted_by_try(self, try_number: int) -> bool:
        """Whether try ``try_number`` posted it (else an earlier try did, and it may be answered already)."""
        return self.payload.get("try_number") == try_number
