"""What one waiting ask holds: its :class:`QuestionWatch` (the handle a channel poller and the push
client deliver to) and each :class:`QuestionUpdate` it gets (a read, or a read patched by pushed events).
"""

from __future__ import annotations

import asyncio
import copy
import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from airflow_chat_alerts.decisions import AskPolicy
from airflow_chat_alerts.exceptions import ChatTransientError
from airflow_chat_alerts.model import Answer, MessageSnapshot


class Feeder(Protocol):
    """What a watch asks of the channel poller that feeds it (:class:`~.channel.ChannelPoller`)."""

    def refresh(self, ts: str) -> None: ...

    def wake(self, *, deadline: bool = False) -> None: ...


@dataclass(frozen=True)
class QuestionUpdate:
    """The latest read of a question.

    :param snapshot: the question message itself (reactions, reply count, latest reply).
    :param replies: every thread reply after the question, oldest first.
    :param read_at: when the read of the snapshot was sent (epoch seconds): everything in it was
        true at that moment or later.
    :param replies_read_at: when the replies were read; earlier than ``read_at`` when they are the
        poller's copy from an earlier round (the thread had not moved since, but an edit does not
        move a thread, so such a copy may hold a reply's old text).
    :param app_user_id: the user id of the app that reads (its own answers never count; a question
        it did not post is not one to wait on).
    :param open_since: when the channel was last seen not archived (epoch seconds; infinite when the
        connection cannot tell): a timeout needs a look made after the deadline.
    """

    snapshot: MessageSnapshot
    replies: tuple[Answer, ...]
    read_at: float = 0.0
    replies_read_at: float = 0.0
    app_user_id: str | None = None
    open_since: float = math.inf

    @property
    def answers(self) -> list[Answer]:
        return [*self.snapshot.reactions, *self.replies]

    def same_question(self, other: QuestionUpdate) -> bool:
        """The question, its reactions and replies read the same as in ``other`` (whenever read)."""
        return self.snapshot == other.snapshot and self.replies == other.replies and self.current == other.current

    @property
    def current(self) -> bool:
        """The whole question, its reactions and every reply's latest text, as of ``read_at``."""
        return not self.snapshot.reply_count or self.replies_read_at >= self.read_at

    def complete_since(self, moment: float) -> bool:
        """Everything a timeout rests on was read at or after ``moment`` (epoch seconds): the question
        with every reply's latest text, and the channel seen open."""
        return self.current and min(self.read_at, self.open_since) >= moment


class QuestionWatch:
    """One ask's view of its question; the channel's poller feeds it.

    :param ts: the question's ts.
    :param poll_interval: seconds between reads this ask wants.
    :param read_group: reads a user group's members (shared by the connection).
    :param reconcile_interval: seconds between reads while answers are pushed (default: ``poll_interval``).
    :param policy: who may answer and how (push judges button clicks by it); None when not pushed.
    """

    def __init__(
        self,
        ts: str,
        *,
        poll_interval: float,
        read_group: Callable[[str, bool], Awaitable[frozenset[str]]],
        reconcile_interval: float | None = None,
        policy: AskPolicy | None = None,
    ) -> None:
        self.ts = ts
        self.poll_interval = poll_interval
        self.reconcile_interval = max(reconcile_interval or poll_interval, poll_interval)
        self.policy = policy
        self.on_settle: Callable[[str], None] | None = None  # set by push: remembers decided questions
        self.on_change: Callable[[QuestionUpdate], None] | None = None  # set by push: judges click records
        self._read_group = read_group
        self._news = asyncio.Event()
        self._wanted = True  # the ask wants the next read whatever it holds (its first, a deadline...)
        self._update: QuestionUpdate | None = None
        self._error: BaseException | None = None
        self.last_error: Exception | None = None  # the latest transient failure seen, if any
        self.poller: Feeder | None = None  # set while a poller feeds this watch

    async def next(self) -> QuestionUpdate:
        """Wait for the next round that read this question and return what it found.

        :raises ChatPermanentError: credentials, channel or question gone; waiting will not help.
        """
        await self._news.wait()
        if self._error is not None:
            raise copy.copy(self._error)
        self._news.clear()
        assert self._update is not None
        return self._update

    async def group_members(self, group_ids: Iterable[str], *, fresh: bool = False) -> dict[str, frozenset[str]]:
        """Members of each user group (the connection shares the reads).

        :param fresh: read them again now (before a decision that rests on a group member's answer),
            rather than use the connection's recent copy.
        """
        try:
            return {group_id: await self._read_group(group_id, fresh) for group_id in group_ids}
        except ChatTransientError as err:
            self.note_error(err)
            raise

    def refresh(self) -> None:
        """Ask for a read of the whole thread (every reply's latest text) as soon as the budget allows."""
        self._wanted = True
        if self.poller is not None:
            self.poller.refresh(self.ts)

    def wake(self, *, deadline: bool = False) -> None:
        """Ask for a read as soon as the budget allows (a reminder or, with ``deadline``, the deadline
        fell due: the read then also makes sure the channel was not archived meanwhile)."""
        self._wanted = True
        if self.poller is not None:
            self.poller.wake(deadline=deadline)

    def deliver(self, update: QuestionUpdate) -> None:
        """Hand over a read. The ask is woken only when the question changed since the update it last
        got, or when it asked for a read: thousands of unanswered asks sleep through a round."""
        changed = self._update is None or not update.same_question(self._update)
        self._update = update
        if changed and self.on_change is not None:
            self.on_change(update)
        if changed or self._wanted:
            self._wanted = False
            self._news.set()

    @property
    def latest(self) -> QuestionUpdate | None:
        """The last update handed over (a read, or a read patched by pushed events)."""
        return self._update

    def patch(self, edit: Callable[[QuestionUpdate], QuestionUpdate]) -> bool:
        """Apply a pushed event to the latest read and wake the ask if that changed it (no read).

        The patched update keeps the read's times: a timeout still needs a real read after the
        deadline. False when nothing was read yet (the caller asks for a read instead).
        """
        if self._update is None:
            return False
        self.deliver(edit(self._update))
        return True

    def settle(self, outcome: str) -> None:
        """The ask decided (``outcome``: its outcome line): later clicks are told so."""
        if self.on_settle is not None:
            self.on_settle(outcome)

    def note_error(self, error: Exception) -> None:
        self.last_error = error

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._news.set()
