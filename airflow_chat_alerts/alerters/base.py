"""The alerter abstraction: what a chat service must offer to post alerts and to ask questions.

Pure (an abstract class over the value types of :mod:`airflow_chat_alerts.model`): no I/O and no
Airflow imports. Only concrete alerters under `alerters/` talk to a chat service.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from airflow_chat_alerts.exceptions import ChatCapabilityError, ChatConfigError
from airflow_chat_alerts.model import (
    ASK_EVENT_TYPE,
    Answer,
    Message,
    MessageRef,
    MessageSnapshot,
    PostedQuestion,
    QuestionRead,
)


def _can(what: str) -> Any:
    """A capability: off unless an alerter declares it; ``what`` completes "cannot …" in its error."""
    return field(default=False, metadata={"what": what})


@dataclass(frozen=True)
class Capabilities:
    """What an alerter can do; each is checked (:meth:`BaseAlerter.require`) before anything is posted or
    written, so that a connection that cannot fails with a clear error instead of half-doing it.

    There is no flag for reading reactions or receiving button clicks: asking means reading replies *and*
    reactions (an ask's policy always counts reactions), and whether people can click is a fact of the
    connection, not of the service (a Slack connection with an app-level token, a Discord bot:
    ``ChatConnectionSettings.interactive``), which decides whether a question carries buttons at all.
    """

    ask: bool = _can("ask questions and read their answers")
    threads: bool = _can("post in a thread")
    files: bool = _can("upload files")
    post_ephemeral: bool = _can("show a message to one person only")
    hitl: bool = _can("answer Human-in-the-loop requests")  # forms, menus: Slack only
    direct: bool = _can("ask people in a direct conversation")  # Discord bots cannot open group ones

    @classmethod
    def what(cls, capability: str) -> str:
        """What ``capability`` lets an alerter do, in words ("post in a thread").

        :raises ValueError: ``capability`` is not a field of :class:`Capabilities` (a programming error).
        """
        for known in fields(cls):
            if known.name == capability:
                return str(known.metadata["what"])
        raise ValueError(
            f"unknown capability {capability!r}: use one of {', '.join(f.name for f in fields(cls))}"
        )


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

    def channel_for(self, channel: str | None) -> str:
        """The channel a call goes to: the one given, else the connection's default channel.

        :param channel: the channel the caller gave (id or name), if any.
        :raises ChatConfigError: neither is set.
        """
        target = channel or self.default_channel
        if not target:
            raise ChatConfigError(
                f"no channel: give a channel, or set the extra 'channel' of connection {self.conn_id!r}",
                conn_id=self.conn_id,
            )
        return target

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
        self.require("post_ephemeral")
        raise NotImplementedError

    async def apost_ephemeral(self, channel: str, user: str, text: str) -> str:
        """:meth:`post_ephemeral` without blocking the event loop (the triggerer)."""
        self.require("post_ephemeral")
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
        self.require("files")
        raise NotImplementedError

    # -- asking (workers post, the triggerer reads) ------------------------------------------
    def post_question(self, message: Message, *, channel: str | None = None) -> MessageRef:
        """Post a question; ``message.metadata`` identifies the asking task instance."""
        self.require("ask")
        return self.post(message, channel=channel)

    def find_question(
        self,
        channel: str,
        *,
        match: Mapping[str, Any],
        oldest: str | None = None,
        timeout: float | None = None,
        clock_skew: float = 0.0,
        event_type: str = ASK_EVENT_TYPE,
    ) -> PostedQuestion | None:
        """Find the newest undecided question this app posted whose metadata payload contains all of
        ``match`` (and, when ``timeout`` is given, whose deadline lies within ``timeout`` + ``clock_skew``
        of its post); other messages are ignored. The lookup is bounded (pages, rate).

        :param event_type: the metadata event type of the questions looked for (an ask's, or a
            Human-in-the-loop request's)."""
        self.require("ask")
        raise NotImplementedError

    def open_conversation(self, people: Sequence[str]) -> str:
        """The direct conversation with these people (one: a direct message; several: a group one),
        opened if need be; returns its channel id."""
        self.require("direct")
        raise NotImplementedError

    def read_question(self, ref: MessageRef, *, check_archived: bool = False) -> QuestionRead:
        """Read a question once, from a worker: the message with its reactions and every thread reply
        and, with ``check_archived``, whether the channel is still open.

        :raises ChatQuestionDeletedError: the question is gone.
        :raises ChatChannelArchivedError: asked to check, and the channel is archived.
        """
        self.require("ask")
        raise NotImplementedError

    def read_groups(self, groups: Collection[str]) -> dict[str, frozenset[str]]:
        """The members of each user group, read once from a worker."""
        self.require("ask")
        raise NotImplementedError

    async def read_thread(self, ref: MessageRef, *, oldest: str | None = None) -> tuple[MessageSnapshot, list[Answer]]:
        """Read a question and its thread replies newer than ``oldest``."""
        self.require("ask")
        raise NotImplementedError

    async def read_channel(
        self, channel: str, *, oldest: str, questions: Collection[str] | None = None
    ) -> list[MessageSnapshot]:
        """Read every top-level message of a channel from ``oldest`` (inclusive) on; the reactions of
        ``questions`` only (None: of every message)."""
        self.require("ask")
        raise NotImplementedError

    async def read_answers(self, ref: MessageRef, *, since: str | None = None) -> list[Answer]:
        """The answers to a question: replies newer than ``since`` and the current reactions."""
        snapshot, replies = await self.read_thread(ref, oldest=since)
        return [*snapshot.reactions, *replies]

    def read_channel_pages(
        self, channel: str, *, oldest: str, questions: Collection[str] | None = None
    ) -> AsyncIterator[list[MessageSnapshot]]:
        """:meth:`read_channel` a page at a time, as the chat service returns them."""
        self.require("ask")
        raise NotImplementedError

    async def group_members(self, group_id: str) -> frozenset[str]:
        """The user ids in a user group (for approvers given as a group)."""
        self.require("ask")
        raise NotImplementedError

    async def aself_user_id(self) -> str | None:
        """The app's own user id on the chat service (its answers never count), if it has one."""
        return None

    async def aperson_email(self, user: str) -> str | None:
        """A person's e-mail address (for ``airflow_users_by_email``), when the service tells it."""
        return None

    async def is_archived(self, channel: str) -> bool:
        """Whether the channel no longer takes answers."""
        self.require("ask")
        raise NotImplementedError

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:  # noqa: B027 - optional: an alerter holding nothing has nothing to release
        """Release sync resources."""

    async def aclose(self) -> None:  # noqa: B027 - optional, as close()
        """Release async resources (HTTP sessions)."""

    def require(self, capability: str) -> None:
        """Fail clearly, before anything is posted or written, when this connection cannot do ``capability``
        (a field of :class:`Capabilities`).

        :raises ChatCapabilityError: it cannot.
        :raises ValueError: ``capability`` is not a field of :class:`Capabilities`.
        """
        what = Capabilities.what(capability)
        if not getattr(self.capabilities, capability):
            raise ChatCapabilityError(
                f"Connection {self.conn_id!r} ({type(self).__name__}) cannot {what}: "
                f"use a connection type that supports it (for Slack: a 'slack' API connection with a bot token).",
                conn_id=self.conn_id,
            )
