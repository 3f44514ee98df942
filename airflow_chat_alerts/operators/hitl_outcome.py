"""What the Human-in-the-loop operators keep between deferrals, and how they read the event they resume
with: :class:`RequestRecord` (XCom ``question``) and :class:`HITLOutcome` (this package's
:data:`~airflow_chat_alerts.model.HITLEvent`, or Airflow's own resume payload when the request was answered
in Airflow and the REST handler resumed the task itself).

No Airflow imports: the events are plain dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from airflow_chat_alerts.exceptions import ChatPermanentError
from airflow_chat_alerts.hitl.message import answered_line
from airflow_chat_alerts.model import QUESTION_XCOM_KEY, HITLUserDict, MessageRef
from airflow_chat_alerts.utils import parse_utc


@dataclass(frozen=True)
class RequestRecord:
    """The request message a task posted (XCom ``question``).

    :param channel: its channel id.
    :param ts: its ts.
    :param deadline: its deadline (ISO-8601 UTC), or None without ``response_timeout``.
    :param permalink: a link to it, when Slack gave one.
    :param payload: its metadata payload (the task instance, the try, the deadline, the request).
    """

    channel: str
    ts: str
    deadline: str | None = None
    permalink: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, ref: MessageRef, payload: Mapping[str, Any]) -> RequestRecord:
        return cls(channel=ref.channel, ts=ref.ts, deadline=payload.get("deadline"), permalink=ref.permalink,
                   payload=dict(payload))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, task_id: str) -> RequestRecord:
        """:raises ChatPermanentError: no record, or one without channel and ts."""
        if not data or not data.get("channel") or not data.get("ts"):
            raise ChatPermanentError(
                f"Task {task_id} resumed without the record of its request (XCom {QUESTION_XCOM_KEY!r})"
            )
        return cls(channel=data["channel"], ts=data["ts"], deadline=data.get("deadline"),
                   permalink=data.get("permalink"), payload=dict(data.get("payload") or {}))

    def to_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "ts": self.ts, "deadline": self.deadline, "permalink": self.permalink,
                "payload": dict(self.payload)}

    @property
    def ref(self) -> MessageRef:
        return MessageRef(channel=self.channel, ts=self.ts, permalink=self.permalink)

    @property
    def deadline_at(self) -> datetime | None:
        return parse_utc(self.deadline) if self.deadline else None

    @property
    def label(self) -> str:
        return self.permalink or self.ts


def _user(value: Any) -> HITLUserDict | None:
    """Airflow's ``HITLUser`` (a dict, or an object with ``id`` and ``name``), as a dict."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {"id": str(value.get("id")), "name": str(value.get("name") or value.get("id"))}
    return {"id": str(value.id), "name": str(getattr(value, "name", None) or value.id)}


def _when(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, str) and value:
        return parse_utc(value)
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class HITLOutcome:
    """How a request ended, whichever way the task resumed.

    :param source: ``slack``, ``airflow`` or ``timeout``.
    :param chosen_options: the options chosen (for a timeout: the defaults, or none).
    :param params_input: the params given.
    :param responded_at: when.
    :param responded_by_user: who, as the task's result names them (a Slack answer: the mapped Airflow user
        or ``slack:U…``; Airflow: its responder; a timeout: None).
    :param slack_user: the Slack-verified person, for a Slack answer.
    :param comment: a reply's comment.
    """

    source: Literal["slack", "airflow", "timeout"]
    chosen_options: tuple[str, ...]
    params_input: dict[str, Any]
    responded_at: datetime
    responded_by_user: HITLUserDict | None = None
    slack_user: str | None = None
    comment: str | None = None

    @classmethod
    def of(cls, event: Any) -> HITLOutcome:
        """Read a trigger event (this package's, or Airflow's own resume payload).

        :raises ChatPermanentError: neither.
        """
        if not isinstance(event, Mapping):
            raise ChatPermanentError(f"Unexpected event for a Human-in-the-loop request: {event!r:.300}")
        status = event.get("status")
        if status == "answered":
            return cls(source="slack" if event.get("source") == "slack" else "airflow",
                       chosen_options=tuple(event.get("chosen_options") or ()),
                       params_input=dict(event.get("params_input") or {}),
                       responded_at=_when(event.get("responded_at")),
                       responded_by_user=_user(event.get("responded_by_user")),
                       slack_user=event.get("slack_user"), comment=event.get("comment"))
        if status == "timed_out":
            return cls(source="timeout", chosen_options=tuple(event.get("chosen_options") or ()),
                       params_input=dict(event.get("params_input") or {}),
                       responded_at=_when(event.get("responded_at")))
        if status is None and "chosen_options" in event:  # Airflow's HITLDetail.as_resume_event_payload
            return cls(source="timeout" if event.get("timedout") else "airflow",
                       chosen_options=tuple(event.get("chosen_options") or ()),
                       params_input=dict(event.get("params_input") or {}),
                       responded_at=_when(event.get("responded_at")),
                       responded_by_user=_user(event.get("responded_by_user")))
        raise ChatPermanentError(f"Unexpected event for a Human-in-the-loop request: {dict(event)!r:.300}")

    @property
    def failed(self) -> bool:
        """A timeout without defaults: the task fails, as Airflow's operator does."""
        return self.source == "timeout" and not self.chosen_options

    def line(self, *, approval: bool) -> str:
        """The outcome line on the request's message."""
        if self.source == "timeout":
            return answered_line(self.chosen_options, timed_out=True)
        if self.source == "slack":
            return answered_line(self.chosen_options, by_slack_user=self.slack_user, comment=self.comment,
                                 approval=approval)
        by = self.responded_by_user["name"] if self.responded_by_user else None
        return answered_line(self.chosen_options, by_airflow_user=by, approval=approval)

    def airflow_event(self) -> dict[str, Any]:
        """The event Airflow's ``HITLOperator.execute_complete`` takes."""
        if self.failed:
            return {"error": "The request was not answered before its response_timeout, and it has no defaults",
                    "error_type": "timeout"}
        return {
            "chosen_options": list(self.chosen_options),
            "params_input": dict(self.params_input),
            "responded_at": self.responded_at,
            "responded_by_user": self.responded_by_user,
            "timedout": self.source == "timeout",
        }

    def record(self, request: RequestRecord) -> dict[str, Any]:
        """The XCom ``decision`` record: where and by whom the request was answered."""
        return {
            "source": self.source,
            "chosen_options": list(self.chosen_options),
            "params_input": dict(self.params_input),
            "by": self.slack_user,
            "responded_by_user": self.responded_by_user,
            "at": self.responded_at.isoformat(),
            "comment": self.comment,
            "timed_out": self.source == "timeout",
            "channel": request.channel,
            "ts": request.ts,
            "permalink": request.permalink,
        }
