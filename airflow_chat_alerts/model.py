"""The project's value types: what a message, a question and an answer are, on any chat service.

The bottom of the package: no I/O, no Airflow imports, nothing of this package but what it defines here,
so every layer above (pure logic, alerters, hooks, triggers, operators) can use them freely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

AnswerKind = Literal["reply", "reaction", "button"]

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

    :param kind: ``reply`` (a thread reply), ``reaction`` (an emoji on the question) or ``button``.
    :param user: the user id who answered.
    :param text: the reply text, the reaction's emoji name, or the button's verdict (``approve``/``reject``).
    :param ts: the reply's ts, or the click's ``action_ts``; ``""`` for a reaction (Slack does not say when
        it was added).
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
    """A question read once, with everything a decision on it needs: a worker's look at a question
    before it defers (no polling, no shared state).

    :param snapshot: the question message with all its reactions.
    :param replies: every thread reply, oldest first.
    :param app_user_id: the reading app's user id (its answers never count; a question it did not
        post is not one to decide).
    :param group_members: the members of each user group asked for, read with the question.
    :param archived: whether the channel is archived, when asked (None: not asked, or the token may
        not tell).
    """

    snapshot: MessageSnapshot
    replies: tuple[Answer, ...] = ()
    app_user_id: str | None = None
    group_members: Mapping[str, frozenset[str]] = field(default_factory=dict)
    archived: bool | None = None

    @property
    def answers(self) -> list[Answer]:
        return [*self.snapshot.reactions, *self.replies]
