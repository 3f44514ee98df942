"""What one waiting ask holds: its :class:`QuestionWatch`, the handle its channel poller delivers reads
to and push applies pushed events to. The watch keeps the latest :class:`~airflow_chat_alerts.model.
QuestionRead` of its question and wakes its ask only when the question changed or the ask asked for a
read; it tells its owner (the loop's runtime) what happened to it through :class:`WatchOwner` alone.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from typing import Protocol

from airflow_chat_alerts.decisions import AskPolicy, normalise_reaction
from airflow_chat_alerts.exceptions import ChatTransientError
from airflow_chat_alerts.model import QuestionRead


class Feeder(Protocol):
    """What a watch asks of the channel poller that feeds it (:class:`~.channel.ChannelPoller`)."""

    def refresh(self, ts: str) -> None: ...

    def wake(self, *, deadline: bool = False) -> None: ...


class WatchOwner(Protocol):
    """What a watch tells the runtime that owns it."""

    def settled(self, watch: QuestionWatch, outcome: str) -> None:
        """The ask decided (``outcome``: its outcome line): later clicks are told so."""

    def delivered(self, watch: QuestionWatch, read: QuestionRead) -> None:
        """A changed read of the question reached the ask (push looks for clicks recorded elsewhere)."""

    def vetted(self, watch: QuestionWatch, read: QuestionRead) -> QuestionRead:
        """``read`` without what this process knows not to count (a click it refused to acknowledge)."""


Edit = Callable[[QuestionRead], QuestionRead]


class QuestionWatch:
    """One ask's view of its question; the channel's poller and push feed it.

    :param conn_id: the connection the ask reads through.
    :param channel: the question's channel id.
    :param ts: the question's ts.
    :param poll_interval: seconds between reads this ask wants.
    :param read_group: reads a user group's members (shared by the connection): ``(group, fresh)``.
    :param owner: the runtime the watch reports to.
    :param reconcile_interval: seconds between reads while answers are pushed (default: ``poll_interval``).
    :param policy: who may answer and how (push tells people whose click changed nothing).
    """

    def __init__(
        self,
        conn_id: str,
        channel: str,
        ts: str,
        *,
        poll_interval: float,
        read_group: Callable[[str, bool], Awaitable[frozenset[str]]],
        owner: WatchOwner,
        reconcile_interval: float | None = None,
        policy: AskPolicy | None = None,
    ) -> None:
        self.conn_id = conn_id
        self.channel = channel
        self.ts = ts
        self.poll_interval = poll_interval
        self.reconcile_interval = max(reconcile_interval or poll_interval, poll_interval)
        self.policy = policy
        self._owner = owner
        self._read_group = read_group
        self._news = asyncio.Event()
        self._wanted = True  # the ask wants the next read whatever it holds (its first, a deadline...)
        self._read: QuestionRead | None = None
        self._error: BaseException | None = None
        # When each reaction was added, as its pushed event said (user, emoji) -> event_ts: a read does
        # not say, and two readers of the same events must weigh them in the same order.
        self._reaction_times: dict[tuple[str, str], str] = {}
        self.last_error: Exception | None = None  # the latest transient failure seen, if any
        self.poller: Feeder | None = None  # set while a poller feeds this watch

    async def next(self) -> QuestionRead:
        """Wait for the next read (or pushed change) of this question and return it.

        :raises ChatPermanentError: credentials, channel or question gone; waiting will not help. An
            error in the package's own code is raised as it is, with its traceback.
        """
        while True:
            await self._news.wait()
            if self._error is not None:
                raise copy.copy(self._error)
            self._news.clear()
            if self._read is not None:  # None: a read known from pushed events was withdrawn meanwhile
                return self._read

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

    def deliver(self, read: QuestionRead) -> None:
        """Hand over a read. The ask is woken only when the question changed since the read it last got,
        or when it asked for a read: thousands of unanswered asks sleep through a round."""
        read = self._owner.vetted(self, self._timed(read))
        changed = self._read is None or not read.same_question(self._read)
        self._read = read
        if changed:
            self._owner.delivered(self, read)
        if changed or self._wanted:
            self._wanted = False
            self._news.set()

    @property
    def latest(self) -> QuestionRead | None:
        """The last read handed over (a read, or a read patched by pushed events)."""
        return self._read

    def patch(self, edit: Edit) -> bool:
        """Apply a pushed event to the latest read and wake the ask if that changed it (no read).

        The patched read keeps its times: a timeout still needs a real read after the deadline. False
        when nothing was read yet (the caller asks for a read instead).
        """
        if self._read is None:
            return False
        self.deliver(edit(self._read))
        return True

    def note_reaction(self, user: str, name: str, event_ts: str | None) -> None:
        """A pushed ``reaction_added`` (with its ``event_ts``) or ``reaction_removed`` (None)."""
        key = (user, normalise_reaction(name))
        if event_ts:
            self._reaction_times[key] = event_ts
        else:
            self._reaction_times.pop(key, None)

    def settle(self, outcome: str) -> None:
        """The ask decided (``outcome``: its outcome line)."""
        self._owner.settled(self, outcome)

    def forget_pushed(self) -> None:
        """Push missed events (a gap, or another socket of the app): a read known from events alone
        can no longer decide, so the next real read is waited for (and asked for)."""
        if self._read is not None and self._read.read_at == 0:
            self._read = None
            self._news.clear()
            self.refresh()

    def note_error(self, error: Exception) -> None:
        self.last_error = error

    def fail(self, error: BaseException) -> None:
        """End the wait with ``error`` (permanent, or a bug of ours: raised in the ask as it is)."""
        self._error = error
        self._news.set()

    def _timed(self, read: QuestionRead) -> QuestionRead:
        """``read`` with the times pushed events gave its reactions (a read itself gives none)."""
        if not self._reaction_times:
            return read
        times = self._reaction_times
        reactions = tuple(
            replace(answer, ts=answer.ts or times.get((answer.user, normalise_reaction(answer.text)), ""))
            for answer in read.snapshot.reactions
        )
        if reactions == read.snapshot.reactions:
            return read
        return replace(read, snapshot=replace(read.snapshot, reactions=reactions))

