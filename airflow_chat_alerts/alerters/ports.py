"""The small protocols through which the operators, the sensor, the trigger, the poller and push talk to a
chat service's alerter.

Each names only what one consumer calls; a service implements them by having the methods
(:class:`~airflow_chat_alerts.alerters.base.BaseAlerter` subclasses satisfy :class:`Poster`, :class:`Asker`
and :class:`AnswerReader`; the Slack alerter also :class:`PushPort`), so no consumer needs to know which
service it holds, or casts to one. Pure: protocols over the value types of :mod:`airflow_chat_alerts.model`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from airflow_chat_alerts.clicks import Click
from airflow_chat_alerts.hitl.records import ChoiceRecord
from airflow_chat_alerts.model import (
    ASK_EVENT_TYPE,
    Answer,
    AnswerKind,
    Message,
    MessageRef,
    MessageSnapshot,
    PostedQuestion,
    QuestionRead,
)


class Poster(Protocol):
    """Posting from a worker (ChatPostOperator, ChatNotifier, reminders, outcomes)."""

    @property
    def conn_id(self) -> str:
        """The Airflow connection (named in every error)."""

    def require(self, capability: str) -> None:
        """Fail with ``ChatCapabilityError`` when the connection cannot do ``capability``."""

    def post(self, message: Message, *, channel: str | None = None, thread_ts: str | None = None) -> MessageRef:
        """Post a message (a thread reply with ``thread_ts``); where it is."""

    def update(self, ref: MessageRef, message: Message) -> None:
        """Replace a posted message."""

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
        """Upload a file to a channel (or a thread)."""


class Asker(Poster, Protocol):
    """Asking from a worker: post a question at most once per task instance, and look at it once."""

    def post_question(self, message: Message, *, channel: str | None = None) -> MessageRef:
        """Post a question, ``message.metadata`` naming the asking task instance."""

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
        """The newest undecided question of this app whose metadata contains ``match``, if any."""

    def read_question(self, ref: MessageRef, *, check_archived: bool = False) -> QuestionRead:
        """The question with its reactions and replies, read once."""

    def read_groups(self, groups: Collection[str]) -> dict[str, frozenset[str]]:
        """The members of each user group, read once."""


class AnswerReader(Protocol):
    """Reading questions and their answers in the triggerer (the poller, the triggers), never blocking."""

    @property
    def conn_id(self) -> str:
        """The Airflow connection (named in every error)."""

    async def read_thread(self, ref: MessageRef, *, oldest: str | None = None) -> tuple[MessageSnapshot, list[Answer]]:
        """A question and its replies newer than ``oldest``."""

    def read_channel_pages(
        self, channel: str, *, oldest: str, questions: Collection[str] | None = None
    ) -> AsyncIterator[list[MessageSnapshot]]:
        """A channel's top-level messages from ``oldest`` on, a page at a time (reactions of ``questions``
        only; None: of every message)."""

    async def is_archived(self, channel: str) -> bool:
        """Whether the channel no longer takes answers."""

    async def aself_user_id(self) -> str | None:
        """The app's own user id (its answers never count), if it has one."""

    async def group_members(self, group_id: str) -> frozenset[str]:
        """The user ids in a user group."""

    async def aperson_email(self, user: str) -> str | None:
        """A person's e-mail address, when the service tells it (None otherwise)."""

    async def aclose(self) -> None:
        """Release the async resources (HTTP sessions)."""


@runtime_checkable
class PushPort(Protocol):
    """What Socket Mode push needs of the service: reading pushed answers and recording clicks, without
    blocking the event loop."""

    async def app_identity(self) -> tuple[str | None, str | None]:
        """The app's bot user id and bot id."""

    async def person_answer(self, kind: AnswerKind, user: str, text: str, ts: str = "") -> Answer | None:
        """An answer by ``user``, with what the service says of them; None when they cannot be looked up."""

    async def aperson_email(self, user: str) -> str | None:
        """A person's e-mail address, when the service tells it (None otherwise)."""

    async def reply_answers(
        self, replies: Sequence[Mapping[str, Any]], *, channel: str, question_ts: str
    ) -> list[Answer]:
        """Thread replies as answers (click records of the app included)."""

    async def apost(self, message: Message, *, channel: str, thread_ts: str | None = None) -> str:
        """Post (never re-sent); the message's ts."""

    async def adelete(self, channel: str, ts: str) -> None:
        """Delete one of the app's own messages."""

    async def aclick_records(self, channel: str, thread_ts: str) -> list[tuple[str, list[Click | ChoiceRecord]]]:
        """The app's click records in a thread (clicks and Human-in-the-loop answers), each with what it
        carries."""

    async def amessage_metadata(self, channel: str, ts: str) -> Mapping[str, Any] | None:
        """The metadata of one top-level message (None without)."""

    async def aopen_view(self, trigger_id: str, view: Mapping[str, Any]) -> None:
        """Open a form (a modal) for the person whose interaction issued ``trigger_id``."""

    async def apost_ephemeral(self, channel: str, user: str, text: str) -> str:
        """Show a message to one person only."""
