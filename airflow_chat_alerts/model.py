"""The project's value types: what a message, a question and an answer are, on any chat service.

Also the typed contracts between the package's parts: the events ChatAskTrigger hands the worker and
the records the sensor keeps in XCom. Near the bottom of the package (only `utils` and `exceptions` lie
below): no I/O, no Airflow imports, so every layer above can use them freely.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypedDict

from airflow_chat_alerts.exceptions import ChatPermanentError
from airflow_chat_alerts.utils import parse_utc

AnswerKind = Literal["reply", "reaction", "button", "choice"]

# Message metadata event type that marks a question posted by ChatAskSensor.
ASK_EVENT_TYPE = "airflow_chat_alerts_ask"


@dataclass(frozen=True)
class PipelineContext:
    """Where a message comes from, shown in a context line and stored in question metadata.

    :param dag_id: the DAG id.
    :param run_id: the DAG run id.
    :param task_id: the task id, if the message is about a task.
    :param try_number: the task instance's try number.
    :param map_index: the task instance's map index (-1 when not mapped).
    :param link: a link to the task (or its log) in the Airflow UI.
    """

    dag_id: str
    run_id: str
    task_id: str | None = None
    try_number: int | None = None
    map_index: int = -1
    link: str | None = None

    @classmethod
    def of(cls, ti: Any, *, try_number: int | None = None) -> PipelineContext:
        """The context of an Airflow task instance: the one place operators, sensors and notifiers
        build it (duck-typed, so this module imports no Airflow).

        :param ti: the task instance (``context["ti"]``).
        :param try_number: the try to name instead of the task instance's current one (a question
            posted by an earlier try names that try).
        """
        return cls(
            dag_id=ti.dag_id,
            run_id=ti.run_id,
            task_id=ti.task_id,
            try_number=ti.try_number if try_number is None else try_number,
            map_index=ti.map_index if ti.map_index is not None else -1,
            link=getattr(ti, "log_url", None),
        )


@dataclass(frozen=True)
class Message:
    """A message to post.

    :param text: the plain text (also the notification/fallback text when blocks are given).
    :param blocks: optional Block Kit blocks.
    :param context: optional pipeline context (DAG/run/task/try/link).
    :param metadata: optional structured metadata (Slack: ``{"event_type": ..., "event_payload": {...}}``).
    """

    text: str
    blocks: list[dict[str, Any]] | None = None
    context: PipelineContext | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class MessageRef:
    """Where a posted message lives.

    :param channel: the channel id (e.g. ``C0123``).
    :param ts: the message timestamp, the message's id within its channel (a string).
    :param permalink: a link to the message, when known.
    :param thread_ts: the parent's ts when the message is a thread reply.
    """

    channel: str
    ts: str
    permalink: str | None = None
    thread_ts: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "ts": self.ts, "permalink": self.permalink, "thread_ts": self.thread_ts}


@dataclass(frozen=True)
class Answer:
    """One thing a person (or bot) did in answer to a question.

    :param kind: ``reply`` (a thread reply), ``reaction`` (an emoji on the question), ``button`` (an
        Approve / Reject click) or ``choice`` (a Human-in-the-loop request answered with its buttons, menus
        or form, as recorded by the app).
    :param user: the user id who answered.
    :param text: the reply text, the reaction's emoji name, the button's verdict (``approve``/``reject``),
        or for a ``choice`` the recorded choice (:func:`airflow_chat_alerts.hitl.records.encode_choice`).
    :param ts: the reply's ts, or the click's ``action_ts``; for a reaction the ``event_ts`` of its
        ``reaction_added`` event when it came as a pushed event, else ``""`` (a read does not say when it
        was added).
    :param is_bot: True for bots and apps (they never count).
    :param edited_ts: for an edited reply, the ts of the last edit.
    :param guest: a guest or a member of another organisation (Slack Connect); counts only when named
        as an approver, or when the policy allows guests.
    """

    kind: AnswerKind
    user: str
    text: str
    ts: str = ""
    is_bot: bool = False
    edited_ts: str | None = None
    guest: bool = False


@dataclass(frozen=True)
class MessageSnapshot:
    """A top-level message as read back from the channel: enough to tell whether it has news.

    :param ts: the message ts.
    :param user: the author's user id (None for some bot messages).
    :param text: the message text.
    :param reply_count: number of thread replies.
    :param latest_reply: ts of the newest reply, if any.
    :param reactions: current reactions, one :class:`Answer` per (emoji, user).
    :param metadata: the message metadata, if any.
    :param is_bot: True when a bot or app posted it.
    """

    ts: str
    user: str | None = None
    text: str = ""
    reply_count: int = 0
    latest_reply: str | None = None
    reactions: tuple[Answer, ...] = ()
    metadata: dict[str, Any] | None = None
    is_bot: bool = False


@dataclass(frozen=True)
class PostedQuestion:
    """A question found in the channel, posted by an earlier try of the same task instance.

    :param ref: where it is.
    :param payload: its metadata payload (dag_id, run_id, task_id, map_index, deadline, ...).
    """

    ref: MessageRef
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QuestionRead:
    """A question as read: the message with its reactions and every thread reply, and when it was read.

    The one type for "a question as read", whoever read it: a channel poller in the triggerer, a
    worker's one look at a question an earlier try posted, or pushed events applied to either (their
    times are kept, so nothing pushed can make a read look newer than it was).

    :param snapshot: the question message itself (reactions, reply count, latest reply).
    :param replies: every thread reply after the question, oldest first.
    :param read_at: when the read of the snapshot was sent (epoch seconds): everything in it was true at
        that moment or later. 0 for a question known only from pushed events: such a read may decide
        (every event reached this reader), but never time the question out.
    :param replies_read_at: when the replies were read; earlier than ``read_at`` when they are a copy
        from an earlier round (the thread had not moved since, but an edit does not move a thread, so
        such a copy may hold a reply's old text).
    :param app_user_id: the user id of the app that reads (its own answers never count; a question it
        did not post is not one to decide).
    :param open_since: when the channel was last seen not archived (epoch seconds; infinite when the
        connection cannot tell): a timeout needs a look made after the deadline.
    """

    snapshot: MessageSnapshot
    replies: tuple[Answer, ...] = ()
    read_at: float = 0.0
    replies_read_at: float = 0.0
    app_user_id: str | None = None
    open_since: float = math.inf

    @property
    def answers(self) -> list[Answer]:
        return [*self.snapshot.reactions, *self.replies]

    @property
    def ours(self) -> bool:
        """The reading app posted the question (when the reader knows its own id)."""
        return not self.app_user_id or self.snapshot.user == self.app_user_id

    @property
    def current(self) -> bool:
        """The whole question, its reactions and every reply's latest text, as of ``read_at``."""
        return not self.snapshot.reply_count or self.replies_read_at >= self.read_at

    def complete_since(self, moment: float) -> bool:
        """Everything a timeout rests on was read at or after ``moment`` (epoch seconds): the question
        with every reply's latest text, and the channel seen open."""
        return self.current and min(self.read_at, self.open_since) >= moment

    def same_question(self, other: QuestionRead) -> bool:
        """The question, its reactions and replies read the same as in ``other`` (whenever read)."""
        return self.snapshot == other.snapshot and self.replies == other.replies and self.current == other.current


# -- contracts between the sensor (worker) and ChatAskTrigger (triggerer) ------------------------
QUESTION_XCOM_KEY = "question"  # XCom key of the QuestionRecord
DECISION_XCOM_KEY = "decision"  # XCom key of the DecisionRecord


class DecisionSummary(TypedDict):
    """How a decided question was decided (:meth:`Decision.to_dict()
    <airflow_chat_alerts.decisions.Decision.to_dict>`), carried by a :class:`DecidedEvent`."""

    outcome: Literal["approved", "rejected"]
    approved: bool
    by: list[str]
    at: str
    comment: str | None
    approvals: int


class DecidedEvent(TypedDict):
    """The question is decided."""

    status: Literal["approved", "rejected"]
    decision: DecisionSummary


class TimedOutEvent(TypedDict):
    """A complete read made at or after the deadline shows no decision."""

    status: Literal["timed_out"]


class RemindEvent(TypedDict):
    """A reminder fell due with no decision: the worker posts it and defers again, same deadline."""

    status: Literal["remind"]


class ErrorEvent(TypedDict):
    """The wait cannot go on (credentials refused, question gone, no read after the deadline)."""

    status: Literal["error"]
    message: str
    code: str | None


# Exactly one per trigger run.
AskEvent = DecidedEvent | TimedOutEvent | RemindEvent | ErrorEvent


class DecisionRecord(TypedDict):
    """The XCom ``decision`` record a finished ask pushes (see the README's "Asking for approval")."""

    outcome: Literal["approved", "rejected", "timed_out"]
    approved: bool
    by: list[str]
    at: str
    comment: str | None
    channel: str
    ts: str
    permalink: str | None


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
            raise ChatPermanentError(
                f"Task {task_id} resumed without the record of its question (XCom {QUESTION_XCOM_KEY!r})"
            )
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


# -- contracts between the Human-in-the-loop operators (worker) and ChatHITLTrigger (triggerer) ----


class HITLUserDict(TypedDict):
    """An Airflow user as Airflow's ``HITLUser`` names one."""

    id: str
    name: str


class HITLAnsweredEvent(TypedDict):
    """The request was answered: in Slack (written to Airflow by the trigger) or in Airflow (read from
    its row). The first answer wins wherever it was given."""

    status: Literal["answered"]
    source: Literal["slack", "airflow"]
    chosen_options: list[str]
    params_input: dict[str, Any]
    responded_at: str  # ISO-8601 UTC
    responded_by_user: HITLUserDict | None  # Slack: the mapped Airflow user (or "slack:U…"); Airflow: its responder
    slack_user: str | None  # the Slack-verified person (source "slack")
    comment: str | None  # a reply's comment


class HITLTimedOutEvent(TypedDict):
    """A complete read at or after the deadline shows no answer: the defaults were written (``chosen_options``),
    or there are none (empty: the task fails as Airflow's does)."""

    status: Literal["timed_out"]
    chosen_options: list[str]
    params_input: dict[str, Any]
    responded_at: str | None


HITLEvent = HITLAnsweredEvent | HITLTimedOutEvent | RemindEvent | ErrorEvent
