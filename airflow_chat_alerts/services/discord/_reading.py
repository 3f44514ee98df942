"""Discord messages read back as the package's questions and answers. Pure: no I/O, no hikari.

A :class:`Seen` is a message reduced to what the package reads, from a REST read or a Gateway event alike.
What answers a question ``Q`` (posted by the bot):

* a **reply**: a message replying to ``Q`` (a Discord reply), or a message in the thread started on ``Q``
  (Discord gives that thread ``Q``'s id);
* a **click record**: the bot's interaction response to a click on ``Q``'s own buttons (:mod:`._clicks`);
* a **reaction** on ``Q`` (read separately: a message lists only its reactions' counts).

Only messages Discord shows in full count: replies need the MESSAGE_CONTENT intent to be read, except
those that mention the bot (a reply with its ping on does), which Discord shows the bot anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from airflow_chat_alerts.model import Answer, MessageSnapshot
from airflow_chat_alerts.services.discord._clicks import ButtonIdentity, action_of_record, parse_custom_id
from airflow_chat_alerts.services.discord._ids import time_ts, ts_of

# Message types (Discord's "Message Types"): what people write, and what the bot writes.
DEFAULT, REPLY, THREAD_STARTER = 0, 19, 21
PERSON_TYPES = frozenset({DEFAULT, REPLY})
COMPONENT_INTERACTION = 3
EPHEMERAL = 1 << 6


@dataclass(frozen=True)
class Clicked:
    """The interaction a message answers (Discord's ``interaction_metadata``).

    :param interaction_id: the interaction's id (when Discord registered the click).
    :param user_id: who clicked, as Discord verified it.
    :param message_id: the message whose button was clicked.
    :param kind: the interaction type (3: a component).
    """

    interaction_id: int
    user_id: int
    message_id: int | None
    kind: int = COMPONENT_INTERACTION


@dataclass(frozen=True)
class Reaction:
    """A reaction on a message as a read lists it: which emoji (for the REST path and for people) and how
    many reacted."""

    path: str
    name: str
    count: int
    me: bool = False


@dataclass(frozen=True)
class Seen:
    """A Discord message, reduced to what the package reads.

    :param id: the message id.
    :param channel_id: its channel (or thread).
    :param author_id: its author (a webhook's id for a webhook message).
    :param author_bot: the author is a bot (or a webhook).
    :param content: its text ("" when the bot may not read it).
    :param type: Discord's message type.
    :param edited: when it was last edited, if it was.
    :param replies_to: the message it replies to (a Discord reply), if any.
    :param webhook_id: set for webhook messages and interaction responses.
    :param clicked: the interaction it answers, if any.
    :param thread_count: messages in the thread started on it (0: none).
    :param thread_last: the newest message of that thread, if known.
    :param reactions: its reactions (counts, not who).
    :param custom_ids: the ``custom_id`` of every button on it.
    :param flags: Discord's message flags.
    """

    id: int
    channel_id: int
    author_id: int
    author_bot: bool = False
    content: str = ""
    type: int = DEFAULT
    edited: datetime | None = None
    replies_to: int | None = None
    webhook_id: int | None = None
    clicked: Clicked | None = None
    thread_count: int = 0
    thread_last: int | None = None
    reactions: tuple[Reaction, ...] = ()
    custom_ids: tuple[str, ...] = ()
    flags: int = 0

    @property
    def ts(self) -> str:
        return ts_of(self.id)


def posted_by_bot(message: Seen, bot_id: int) -> bool:
    """The bot posted ``message`` itself (not a webhook, not an interaction response)."""
    return message.author_id == bot_id and message.webhook_id is None


def question_identity(message: Seen, bot_id: int) -> ButtonIdentity | None:
    """The ask identity a question of the bot carries in its buttons (both buttons agreeing), else None."""
    if not posted_by_bot(message, bot_id):
        return None
    found = {parsed[1] for parsed in map(parse_custom_id, message.custom_ids) if parsed is not None}
    return next(iter(found)) if len(found) == 1 else None


def click_of_record(message: Seen, bot_id: int, question_id: int) -> Answer | None:
    """The click a record answers on question ``question_id``: an interaction response of the bot to a click
    on that very message, whose line names the clicker Discord verified. Anything else is no click."""
    clicked = message.clicked
    if (
        clicked is None
        or clicked.kind != COMPONENT_INTERACTION
        or clicked.message_id != question_id
        or message.author_id != bot_id
        or message.flags & EPHEMERAL
    ):
        return None
    written = action_of_record(message.content)
    if written is None or written[0] != str(clicked.user_id):
        return None
    return Answer(kind="button", user=str(clicked.user_id), text=written[1], ts=ts_of(clicked.interaction_id))


def question_of(message: Seen) -> int | None:
    """The message ``message`` may answer: the one it replies to, whose button it records, or whose thread
    it is in (a thread started on a message has that message's id)."""
    if message.clicked is not None:
        return message.clicked.message_id
    if message.replies_to is not None:
        return message.replies_to
    return message.channel_id


def answers_to(question_id: int, channel_id: int, messages: Iterable[Seen]) -> list[Seen]:
    """The messages among ``messages`` that may answer question ``question_id`` of ``channel_id``: replies to
    it in the channel, click records of its buttons, and messages of its thread."""
    found = []
    for message in messages:
        if message.id == question_id or message.flags & EPHEMERAL:
            continue
        in_thread = message.channel_id == question_id and message.type != THREAD_STARTER
        in_channel = message.channel_id == channel_id and question_of(message) == question_id
        if in_thread or in_channel:
            found.append(message)
    return found


def reply_answer(message: Seen, *, is_bot: bool, guest: bool) -> Answer | None:
    """A reply as an answer (its text as written, its edit time); None for what people do not write
    (joins, pins, thread announcements)."""
    if message.type not in PERSON_TYPES:
        return None
    return Answer(
        kind="reply",
        user=str(message.author_id),
        text=message.content.replace("<@!", "<@"),
        ts=message.ts,
        is_bot=is_bot or message.author_bot,
        edited_ts=time_ts(message.edited) if message.edited else None,
        guest=guest,
    )


def snapshot(question: Seen, answers: Sequence[Seen], reactions: Sequence[Answer] = ()) -> MessageSnapshot:
    """A message as a read shows it: its replies counted, the newest named (so a reader knows when they
    moved), its reactions as answers when they were read."""
    newest = max((message.id for message in answers), default=None)
    if question.thread_last is not None:
        newest = max(newest or 0, question.thread_last)
    counted = len([m for m in answers if m.channel_id != question.id]) + question.thread_count
    return MessageSnapshot(
        ts=question.ts,
        user=str(question.author_id),
        text=question.content,
        reply_count=counted,
        latest_reply=ts_of(newest) if newest else None,
        reactions=tuple(reactions),
        metadata=None,
        is_bot=question.author_bot or question.webhook_id is not None,
    )


def by_question(messages: Iterable[Seen], channel_id: int, questions: Mapping[int, Seen]) -> dict[int, list[Seen]]:
    """The messages of a channel read that may answer each of ``questions``."""
    found: dict[int, list[Seen]] = {question: [] for question in questions}
    for message in messages:
        target = question_of(message) if message.channel_id == channel_id else None
        if target in found and message.id != target and not message.flags & EPHEMERAL:
            found[target].append(message)
    return found
