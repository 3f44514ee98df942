"""What push needs of a chat service's alerter: the one seam between Socket Mode handling and the
service's Web API (the Slack alerter implements it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from airflow_chat_alerts.clicks import Click
from airflow_chat_alerts.hitl.records import ChoiceRecord
from airflow_chat_alerts.model import Answer, AnswerKind, Message


@runtime_checkable
class PushPort(Protocol):
    """Reading pushed answers and recording clicks, without blocking the event loop."""

    async def app_identity(self) -> tuple[str | None, str | None]:
        """The app's bot user id and bot id."""

    async def person_answer(self, kind: AnswerKind, user: str, text: str, ts: str = "") -> Answer | None:
        """An answer by ``user``, with what the service says of them; None when they cannot be looked up."""

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
