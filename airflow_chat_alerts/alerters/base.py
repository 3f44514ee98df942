"""The alerter abstraction: what a chat service must offer to post alerts and to ask questions.

Everything here is pure (dataclasses and an abstract class): no I/O and no Airflow imports, so
`decisions.py` and `formatting.py` can use the value types freely. Only concrete alerters under
`alerters/` talk to a chat service.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_chat_alerts.exceptions import ChatCapabilityError

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
class Capabilities:
    """What an alerter can do; operators check these and fail with a clear error instead of guessing."""

    ask: bool = False
    threads: bool = False
    reactions: bool = False
    buttons: bool = False
    files: bool = False
    post_ephemeral: bool = False


class BaseAlerter(ABC):
    """A chat service seen from a pipeline: post and update messages, ask questions, read answers.

    Sync methods run on workers; ``async`` ones run in the triggerer and must never block the loop.

    :param conn_id: the Airflow connection this alerter was built from (named in every error).
    :param default_channel: the channel used when a call gives none.
    """

    capabilities: Capabilities = Capabilities()

    def __init__(self, *, conn_id: str, default_channel: str | None = None) -> None:
        self.conn_id = conn_id
        self.default_channel = default_channel

    # -- posting (workers) -------------------------------------------------------------------
    @abstractmethod
    def post(self, message: Message, *, channel: str | None = None, thread_ts: str | None = None) -> MessageRef:
        """Post a message (or a thread reply when ``thread_ts`` is given) and return where it is."""

    @abstractmethod
    def update(self, ref: MessageRef, message: Message) -> None:
        """Replace the text/blocks (and metadata) of a posted message."""

    def post_ephemeral(self, channel: str, user: str, text: str) -> str:
        """Show ``text`` to ``user`` alone, in ``channel`` (e.g. why their click changed nothing); Slack
        keeps no copy in the channel's history. Returns the ephemeral message's ts.

        :param channel: the channel id (the person must be a member).
        :param user: the user id of the person who sees it.
        :param text: the text (mrkdwn).
        """
        self._require("post_ephemeral")
        raise NotImplementedError

    async def apost_ephemeral(self, channel: str, user: str, text: str) -> str:
        """:meth:`post_ephemeral` without blocking the event loop (the triggerer)."""
        self._require("post_ephemeral")
        raise NotImplementedError

    def post_file(
        self,
        content: bytes,
        *,
        filename: str,
        channel: str | None = None,
        title: str | None = None,
        comment: str | None = None,
        thread_ts: str | None = None,
    ) -> MessageRef:
        """Upload a file (a plot, a report) to a channel."""
        self._require("files")
        raise NotImplementedError

    # -- asking (workers post, the triggerer reads) ------------------------------------------
    def post_question(self, message: Message, *, channel: str | None = None) -> MessageRef:
        """Post a question; ``message.metadata`` identifies the asking task instance."""
        self._require("ask")
        return self.post(message, channel=channel)

    def find_question(
        self,
        channel: str,
        *,
        match: Mapping[str, Any],
        oldest: str | None = None,
        timeout: float | None = None,
        clock_skew: float = 0.0,
    ) -> PostedQuestion | None:
        """Find the newest undecided question this app posted whose metadata payload contains all of
        ``match`` (and, when ``timeout`` is given, whose deadline lies within ``timeout`` + ``clock_skew``
        of its post); other messages are ignored. The lookup is bounded (pages, rate)."""
        self._require("ask")
        raise NotImplementedError

    async def read_thread(self, ref: MessageRef, *, oldest: str | None = None) -> tuple[MessageSnapshot, list[Answer]]:
        """Read a question and its thread replies newer than ``oldest``."""
        self._require("ask")
        raise NotImplementedError

    async def read_channel(
        self, channel: str, *, oldest: str, questions: Collection[str] | None = None
    ) -> list[MessageSnapshot]:
        """Read every top-level message of a channel from ``oldest`` (inclusive) on; the reactions of
        ``questions`` only (None: of every message)."""
        self._require("ask")
        raise NotImplementedError

    async def read_answers(self, ref: MessageRef, *, since: str | None = None) -> list[Answer]:
        """The answers to a question: replies newer than ``since`` and the current reactions."""
        snapshot, replies = await self.read_thread(ref, oldest=since)
        return [*snapshot.reactions, *replies]

    def read_channel_pages(
        self, channel: str, *, oldest: str, questions: Collection[str] | None = None
    ) -> AsyncIterator[list[MessageSnapshot]]:
        """:meth:`read_channel` a page at a time, as the chat service returns them."""
        self._require("ask")
        raise NotImplementedError

    async def group_members(self, group_id: str) -> frozenset[str]:
        """The user ids in a user group (for approvers given as a group)."""
        self._require("ask")
        raise NotImplementedError

    async def aself_user_id(self) -> str | None:
        """The app's own user id on the chat service (its answers never count), if it has one."""
        return None

    async def is_archived(self, channel: str) -> bool:
        """Whether the channel no longer takes answers."""
        self._require("ask")
        raise NotImplementedError

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:  # noqa: B027 - optional: an alerter holding nothing has nothing to release
        """Release sync resources."""

    async def aclose(self) -> None:  # noqa: B027 - optional, as close()
        """Release async resources (HTTP sessions)."""

    def _require(self, capability: str) -> None:
        if not getattr(self.capabilities, capability):
            raise ChatCapabilityError(
                f"Connection {self.conn_id!r} ({type(self).__name__}) cannot {capability.replace('_', ' ')}: "
                f"use a connection type that supports it (for Slack: a 'slack' API connection with a bot token).",
                conn_id=self.conn_id,
            )
