"""Pushed events (Events API over Socket Mode) applied to the asks a stream serves.

A thread reply (new, edited, deleted) or a reaction on a question held here patches that ask's latest
read and wakes that ask alone (no read); a reaction carries Slack's ``event_ts``, kept as its time so
that two readers of the same events weigh them alike. Anything about questions not held here is
dropped: replies and reactions are durable in Slack, and the holder's reads find them.

:func:`replay` gives an ask that joins late the question as the stream's buffered events tell it, when
every event of the app reached the stream since the question was posted (its own post is among them).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from airflow_chat_alerts.alerters.ports import PushPort
from airflow_chat_alerts.model import MessageSnapshot, QuestionRead
from airflow_chat_alerts.triggers.push import patches

if TYPE_CHECKING:
    from airflow_chat_alerts.triggers.polling.watch import QuestionWatch

log = logging.getLogger(__name__)

# Message subtypes that are thread replies people wrote (others: joins, topic changes, ...).
REPLY_SUBTYPES = frozenset({None, "thread_broadcast", "bot_message", "file_share", "me_message"})


class Stream(Protocol):
    """What applying events needs of the stream (:class:`~.stream.PushStream`)."""

    def holders(self, channel: str, ts: str) -> list[QuestionWatch]: ...

    def patchable(self, watch: QuestionWatch) -> bool: ...

    @property
    def complete(self) -> bool: ...

    @property
    def answers(self) -> PushPort: ...


def question_of(event: Mapping[str, Any]) -> str | None:
    """The ts of the top-level message an event concerns: the message itself, the thread it is a reply
    in, the message a reaction is on (for a buffer of events by question)."""
    if str(event.get("type", "")).startswith("reaction_"):
        item = event.get("item")
        return str(item.get("ts")) if isinstance(item, Mapping) and item.get("ts") else None
    if event.get("subtype") == "message_deleted":
        previous = event.get("previous_message") or {}
        return str(previous.get("thread_ts") or event.get("deleted_ts") or "") or None
    message = event.get("message") if event.get("subtype") == "message_changed" else event
    if not isinstance(message, Mapping):
        return None
    return str(message.get("thread_ts") or message.get("ts") or "") or None


def channel_of(event: Mapping[str, Any]) -> str | None:
    """The channel an event happened in (a message's ``channel``, a reaction's ``item.channel``)."""
    item = event.get("item") if event.get("type", "").startswith("reaction_") else event
    channel = item.get("channel") if isinstance(item, Mapping) else None
    return channel if isinstance(channel, str) and channel else None


async def apply(stream: Stream, event: Mapping[str, Any], targets: list[QuestionWatch] | None = None) -> None:
    """Patch the asks ``event`` concerns (``targets``, or those held by the stream) and wake them alone."""

    def held(channel: str, ts: str) -> list[QuestionWatch]:
        if targets is not None:
            return [watch for watch in targets if (watch.channel, watch.ts) == (channel, ts)]
        return stream.holders(channel, ts)

    kind = event.get("type")
    if kind in ("reaction_added", "reaction_removed"):
        item = event.get("item") or {}
        watches = held(str(item.get("channel")), str(item.get("ts")))
        if not watches:
            return
        user, name = str(event.get("user") or ""), str(event.get("reaction") or "")
        if kind == "reaction_removed":
            for watch in watches:
                watch.note_reaction(user, name, None)
            _patch(stream, watches, patches.without_reaction(user, name))
            return
        event_ts = str(event.get("event_ts") or "")
        answer = await stream.answers.person_answer("reaction", user, name, event_ts)
        if answer is None:
            return  # a person who cannot be looked up: skipped, as a read skips them
        for watch in watches:
            watch.note_reaction(user, name, event_ts or None)
        _patch(stream, watches, patches.with_reaction(answer))
        return
    if kind != "message":
        return
    channel = str(event.get("channel") or "")
    subtype = event.get("subtype")
    if subtype == "message_deleted":
        previous = event.get("previous_message") or {}
        deleted = str(event.get("deleted_ts") or "")
        if watches := held(channel, deleted):
            for watch in watches:
                watch.refresh()  # the question itself: a read confirms it before its ask fails
        elif watches := held(channel, str(previous.get("thread_ts") or "")):
            _patch(stream, watches, patches.without_reply(deleted))
        return
    message = event.get("message") if subtype == "message_changed" else event
    if not isinstance(message, Mapping) or (subtype != "message_changed" and subtype not in REPLY_SUBTYPES):
        return
    thread_ts, ts = str(message.get("thread_ts") or ""), str(message.get("ts") or "")
    if watches := held(channel, ts):  # the question itself changed, or this is its own post
        if message.get("subtype") == "tombstone":
            for watch in watches:
                watch.refresh()
        elif subtype != "message_changed" and stream.complete:
            # An ask that joined before its question's own event came: it starts from the events now.
            app_user, app_bot = await stream.answers.app_identity()
            for watch in watches:
                if watch.latest is None and app_user and _is_post_of(event, watch, app_user, app_bot):
                    watch.deliver(_posted(watch, event, app_user))
        return
    watches = held(channel, thread_ts) if thread_ts else []
    if not watches:
        return
    answers = await stream.answers.reply_answers([message], channel=channel, question_ts=thread_ts)
    app_user, _ = await stream.answers.app_identity()
    if any(answer.kind == "reply" and answer.is_bot and answer.user == app_user for answer in answers):
        if not message.get("metadata"):  # perhaps a click record whose metadata the event left out: read it
            for watch in watches:
                watch.refresh()
        return
    for answer in answers:
        _patch(stream, watches, patches.with_reply(answer))


async def replay(stream: Stream, watch: QuestionWatch, buffered: Iterable[Mapping[str, Any]]) -> bool:
    """Give ``watch`` its question as the buffered events tell it, when its own post is among them (so
    every later event about it is too); True when it did. The read has no read time: it may decide,
    never time the question out."""
    app_user, app_bot = await stream.answers.app_identity()
    events = list(buffered)
    posted = next((event for event in events if _is_post_of(event, watch, app_user, app_bot)), None)
    if posted is None or not app_user:
        return False
    watch.deliver(_posted(watch, posted, app_user))
    for event in events[events.index(posted) + 1 :]:
        await apply(stream, event, targets=[watch])
    return True


def _posted(watch: QuestionWatch, posted: Mapping[str, Any], app_user: str) -> QuestionRead:
    """The question as its own post's event shows it: no reply, no reaction yet, and no read time."""
    snapshot = MessageSnapshot(ts=watch.ts, user=app_user, text=str(posted.get("text") or ""), is_bot=True)
    return QuestionRead(snapshot, (), read_at=0.0, replies_read_at=0.0, app_user_id=app_user)


def _is_post_of(event: Mapping[str, Any], watch: QuestionWatch, app_user: str | None, app_bot: str | None) -> bool:
    """``event`` is the app's own post of the question ``watch`` waits on."""
    if event.get("type") != "message" or event.get("subtype") not in (None, "bot_message"):
        return False
    if event.get("channel") != watch.channel or event.get("ts") != watch.ts:
        return False
    if event.get("thread_ts") not in (None, watch.ts):
        return False
    return bool((app_user and event.get("user") == app_user) or (app_bot and event.get("bot_id") == app_bot))


def _patch(stream: Stream, watches: list[QuestionWatch], edit: patches.Edit) -> None:
    """Apply ``edit`` to each ask's read when every event since that read reached the stream; otherwise
    an event may be missing beside this one, so the question is read instead."""
    for watch in watches:
        if not (stream.patchable(watch) and watch.patch(edit)):
            watch.refresh()
