"""One poller per channel: a single channel read per round serves every ask waiting in the channel.

Each round reads the channel's history from the oldest pending question (a thread parent carries its
reactions, ``reply_count`` and ``latest_reply``), reads the thread of a question only when those moved,
and hands every waiting :class:`QuestionWatch` its update. When reading each question on its own is
cheaper (a few asks in a busy channel, where the history from the oldest one spans many pages), the
round reads those questions instead: :func:`choose_strategy` compares the expected calls of both.

Rounds run every poll interval (the smallest among the channel's watches), or every reconciliation
interval while the connection's Socket Mode client is connected (push then brings the answers, and the
reads only catch what it missed); each HTTP call also waits
for its slot in the connection's rate budget, so when the budget cannot keep up rounds simply take
longer. Transient failures are retried with backoff; permanent ones fail every watch concerned.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from airflow_chat_alerts.alerters.ports import AnswerReader
from airflow_chat_alerts.exceptions import (
    ChatAlertError,
    ChatChannelArchivedError,
    ChatCredentialsRefusedError,
    ChatPermanentError,
    ChatQuestionDeletedError,
    ChatTransientError,
)
from airflow_chat_alerts.model import Answer, MessageRef, MessageSnapshot, QuestionRead
from airflow_chat_alerts.settings import READ_STRATEGIES, Strategy
from airflow_chat_alerts.triggers.polling.connection import CallCount, counting_calls
from airflow_chat_alerts.triggers.polling.rate_budget import backoff_delay
from airflow_chat_alerts.triggers.polling.watch import QuestionWatch
from airflow_chat_alerts.utils import ts_key

if TYPE_CHECKING:
    from airflow_chat_alerts.triggers.polling.connection import SharedConnection

log = logging.getLogger(__name__)

# Asks that start together (a triggerer restart) share their first round.
SETTLE_SECONDS = 0.05
# Slack's default page size when a read does not say.
DEFAULT_PAGE_SIZE = 100
# Weight of the newest round in the running mean of thread reads per round.
MOVED_SMOOTHING = 0.2
# How often a channel is checked for having been archived (conversations.info, tier 3).
ARCHIVE_CHECK_SECONDS = 60.0


@dataclass
class ThreadState:
    """What the poller last knew of one question's thread."""

    author: str | None
    reply_count: int
    latest_reply: str | None
    replies: tuple[Answer, ...]
    replies_read_at: float = 0.0

    @classmethod
    def of(cls, snapshot: MessageSnapshot, replies: Sequence[Answer], replies_read_at: float) -> ThreadState:
        return cls(snapshot.user, snapshot.reply_count, snapshot.latest_reply, tuple(replies), replies_read_at)

    def moved(self, snapshot: MessageSnapshot) -> bool:
        return (snapshot.reply_count, snapshot.latest_reply) != (self.reply_count, self.latest_reply)

    def replaced(self, snapshot: MessageSnapshot) -> bool:
        """The author changed: Slack shows a deleted thread parent as a tombstone by another user."""
        return snapshot.user != self.author


@dataclass(frozen=True)
class HistoryStats:
    """What the last channel read cost: the ts of the messages it returned and how many pages."""

    message_ts: tuple[Decimal, ...]
    pages: int
    page_size: float

    @classmethod
    def observe(cls, message_ts: Iterable[str], count: CallCount, *, page_cap: int | None) -> HistoryStats:
        """Stats of a read that returned messages with ``message_ts`` with the calls in ``count``.

        :param page_cap: the most messages a page holds for this connection (non-Marketplace: 15).
        """
        pages = max(1, count.calls.get("conversations.history", 0))
        page_size = min(count.page_limit or DEFAULT_PAGE_SIZE, page_cap or math.inf)
        return cls(tuple(sorted(ts_key(ts) for ts in message_ts)), pages, page_size)

    def pages_from(self, oldest: str) -> int:
        """Pages a read from ``oldest`` would take, judging by the last read."""
        newer = len(self.message_ts) - bisect_left(self.message_ts, ts_key(oldest))
        return max(1, math.ceil(newer / self.page_size))


def choose_strategy(asks: int, history_pages: float, moved_per_round: float) -> Literal["channel", "per_ask"]:
    """The cheaper way to read ``asks`` questions of one channel, in expected calls per round.

    Reading the channel costs its history pages plus one thread read per question whose thread moved;
    reading each question costs one call per ask (it returns the thread, its reactions and replies).
    A tie goes to the per-question read, which also sees edits.
    """
    return "per_ask" if asks <= history_pages + moved_per_round else "channel"


class ChannelPoller:
    """Polls one channel of one connection for every ask waiting there.

    Two tasks share the work: the rounds (the channel's history, or each question on its own when
    that is cheaper) and a reader of threads, fed by a queue, so neither waits for the other: a backlog
    of thread reads never delays the next history read, whose budget is separate.

    :param connection: the shared client of the connection.
    :param channel: the channel id (as the asks name it).
    :param strategy: ``"auto"`` (by cost), ``"channel"`` (always one history read) or ``"per_ask"``.
    :param fail_connection: fails every ask of the connection (its credentials were refused); the
        runtime that owns the poller passes it in. None: only this poller's asks.
    """

    def __init__(
        self,
        connection: SharedConnection,
        channel: str,
        *,
        strategy: Strategy = "auto",
        fail_connection: Callable[[BaseException], None] | None = None,
    ) -> None:
        if strategy not in READ_STRATEGIES:
            raise ValueError(f"unknown read strategy {strategy!r}: use one of {', '.join(READ_STRATEGIES)}")
        self.connection = connection
        self.channel = channel
        self.strategy = strategy
        self.rounds: Counter[str] = Counter()  # rounds run, by strategy
        self._watches: dict[str, set[QuestionWatch]] = {}
        self._threads: dict[str, ThreadState] = {}
        self._queue: dict[str, None] = {}  # threads to read, in the order asked (an ordered set)
        self._queued = asyncio.Event()
        self._history: HistoryStats | None = None
        self._moved_per_round = 0.0
        self._archive_checked = time.monotonic()  # the last look at whether it is archived
        self._open_since = 0.0  # when that look was sent (epoch seconds; inf: cannot look)
        self._due = False  # a read was asked for: the next round starts without waiting
        self._deadline_due = False  # ...for a deadline: the round also looks whether it is archived
        self._app_user: str | None = None
        self.pushed = False  # the connection's Socket Mode client is connected: read to reconcile only
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._fail_connection = fail_connection or self.fail_all

    # -- membership ------------------------------------------------------------------------------
    @property
    def idle(self) -> bool:
        return not self._watches

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def add(self, watch: QuestionWatch) -> None:
        self._watches.setdefault(watch.ts, set()).add(watch)
        watch.poller = self
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"chat-alerts poller {self.channel}")
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_threads(), name=f"chat-alerts threads {self.channel}")
        if watch.latest is None:
            # Its first read is due now, not after the interval (minutes while answers are pushed): an
            # answer given before the ask was held here (a click recorded by then) must not wait for it.
            self._due = True
        self._wake.set()  # the new ask may want a shorter interval, or its first read

    def remove(self, watch: QuestionWatch) -> None:
        watch.poller = None
        watches = self._watches.get(watch.ts)
        if watches is None:
            return
        watches.discard(watch)
        if not watches:
            del self._watches[watch.ts]
            self._threads.pop(watch.ts, None)
            self._queue.pop(watch.ts, None)

    def all_watches(self) -> list[QuestionWatch]:
        """Every ask waiting here."""
        return [watch for watches in self._watches.values() for watch in watches]

    def watches_of(self, ts: str) -> list[QuestionWatch]:
        """The asks waiting on question ``ts`` here (none: it is not held by this process)."""
        return list(self._watches.get(ts, ()))

    def set_pushed(self, pushed: bool) -> None:
        """Socket Mode (dis)connected: on connect read at once (catch what came meanwhile), then at
        the reconciliation interval; on a drop go back to the poll interval."""
        if pushed == self.pushed:
            return
        self.pushed = pushed
        if pushed:
            self.wake()
        else:
            self._wake.set()  # the sleep under way is measured again, by the poll interval

    def refresh(self, ts: str) -> None:
        """Read the whole thread of ``ts`` (every reply's latest text) as soon as the budget allows."""
        self._enqueue(ts)

    def wake(self, *, deadline: bool = False) -> None:
        """Start the next round without waiting out the interval (the rate budget still paces it)."""
        self._due = True
        self._deadline_due = self._deadline_due or deadline
        self._wake.set()

    async def aclose(self) -> None:
        """Stop polling (the last ask left)."""
        tasks = {task for task in (self._task, self._reader) if task is not None and not task.done()}
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)  # unlike awaiting them, lets our own cancellation through

    def fail_all(self, error: BaseException) -> None:
        """Hand ``error`` to every ask waiting here; they leave (the error says why)."""
        for watches in self._watches.values():
            for watch in watches:
                watch.fail(error)
        self._watches.clear()
        self._threads.clear()
        self._queue.clear()
        self._wake.set()
        self._queued.set()

    # -- the rounds -------------------------------------------------------------------------------
    def interval(self) -> float:
        watches = [w for ws in self._watches.values() for w in ws]
        if self.pushed:
            return min((w.reconcile_interval for w in watches), default=0.0)
        return min((w.poll_interval for w in watches), default=0.0)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(SETTLE_SECONDS)
        attempt = 0
        while self._watches:
            started = loop.time()
            self._due = False
            retry_in: float | None = None
            alerter = self.connection.alerter
            try:
                await self._round()
                attempt = 0
            except ChatTransientError as err:
                attempt += 1
                retry_in = backoff_delay(attempt, retry_after=err.retry_after)
                log.warning("Reading channel %s failed (%s); retrying in %.1fs", self.channel, err, retry_in)
                self._note_error(err, self._watches)
            except ChatAlertError as err:
                if await self._carry_on_after(err, alerter):
                    continue
                return
            except Exception as err:  # a bug: fail the asks loudly rather than loop on it
                log.exception("Reading channel %s failed unexpectedly", self.channel)
                self.fail_all(err)
                return
            # Sleep until the next round; an ask joining meanwhile may shorten the interval, and an
            # ask that needs a read now (a deadline, a reminder) ends the sleep.
            while self._watches and (retry_in is not None or not self._due):
                remaining = started + (self.interval() if retry_in is None else retry_in) - loop.time()
                if remaining <= 0:
                    break
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), remaining)
                except asyncio.TimeoutError:
                    break

    async def _carry_on_after(self, error: ChatAlertError, alerter: AnswerReader) -> bool:
        """A permanent error: True when the connection's credentials changed and reading goes on;
        otherwise the asks concerned fail (all of the connection's for a credentials error)."""
        refused = isinstance(error, ChatCredentialsRefusedError)
        if refused:
            try:
                if await self.connection.reload_credentials(alerter):
                    conn_id = self.connection.conn_id
                    log.warning("Connection %r was refused (%s); it has new credentials now", conn_id, error.code)
                    return True
            except Exception:  # the connection itself cannot be read again: the refusal stands
                log.exception("Looking connection %r up again failed", self.connection.conn_id)
        log.error("Reading channel %s failed for good: %s", self.channel, error)
        if refused:
            self._fail_connection(error)
        self.fail_all(error)
        return False

    def _note_error(self, error: Exception, questions: Iterable[str]) -> None:
        for ts in questions:
            for watch in self._watches.get(ts, ()):
                watch.note_error(error)

    def planned_strategy(self) -> Literal["channel", "per_ask"]:
        if self.strategy == "channel" or self.strategy == "per_ask":
            return self.strategy
        oldest = min(self._watches, key=ts_key)
        pages = self._history.pages_from(oldest) if self._history else 1
        return choose_strategy(len(self._watches), pages, self._moved_per_round)

    async def _round(self) -> None:
        self._app_user = await self.connection.alerter.aself_user_id()
        await self._check_archived()
        if not self._watches:
            return  # the last ask left while the round waited for Slack
        strategy = self.planned_strategy()
        self.rounds[strategy] += 1
        if strategy == "per_ask":
            await self._read_each(sorted(self._watches, key=ts_key))
        else:
            await self._read_channel()

    async def _check_archived(self) -> None:
        """People cannot answer in an archived channel: that ends its asks like a deleted question.

        Looked at every :data:`ARCHIVE_CHECK_SECONDS`, and in a round that a deadline asked for (a
        timeout must not be decided in a channel archived since the last look). Answers seen before
        need no look: they were given while people could answer.
        """
        now = time.monotonic()
        if not self._deadline_due and now - self._archive_checked < ARCHIVE_CHECK_SECONDS:
            return
        self._archive_checked = now
        self._deadline_due = False
        started = time.time()  # an alerter whose calls the session does not trace: its look began then
        try:
            with counting_calls() as count:
                archived = await self.connection.alerter.is_archived(self.channel)
        except ChatPermanentError as err:
            if err.code != "missing_scope":
                raise
            self._archive_checked = self._open_since = math.inf  # no channels:read: archiving goes unnoticed
            log.warning("Cannot tell whether channel %s gets archived (%s); add channels:read", self.channel, err)
            return
        if not archived:
            self._open_since = max(self._open_since, count.first_sent or started)
            return
        raise ChatChannelArchivedError.of(conn_id=self.connection.conn_id, channel=self.channel)

    async def _read_each(self, questions: Sequence[str]) -> None:
        """Read each question on its own; a failing one does not stop the others."""
        transient: ChatTransientError | None = None
        for ts in questions:
            if ts not in self._watches:
                continue  # its ask left meanwhile
            try:
                await self._read_question(ts)
            except ChatTransientError as err:
                transient = err
                self._note_error(err, [ts])
        if transient is not None:
            raise transient

    async def _read_question(self, ts: str) -> None:
        """One per-message read: the question, its reactions and its thread."""
        started = time.time()  # an alerter whose calls the session does not trace: its read began then
        try:
            with counting_calls() as count:
                snapshot, replies = await self.connection.alerter.read_thread(MessageRef(channel=self.channel, ts=ts))
        except ChatQuestionDeletedError as err:
            for watch in self._watches.pop(ts, ()):
                watch.fail(err)
            self._threads.pop(ts, None)
            return
        self._queue.pop(ts, None)
        read_at = count.first_sent or started  # sent then: everything read was true from then on
        self._threads[ts] = ThreadState.of(snapshot, replies, read_at)
        self._deliver(ts, snapshot, read_at)

    async def _read_channel(self) -> None:
        """One history read from the oldest pending question; each page's questions are handed over as
        the page arrives, and threads that moved are queued for the thread reader."""
        if not self._watches:
            return
        oldest = min(self._watches, key=ts_key)
        seen: list[str] = []
        moved = 0
        started = time.time()  # an alerter whose calls the session does not trace: its read began then
        with counting_calls() as count:
            pages = self.connection.alerter.read_channel_pages(
                self.channel, oldest=oldest, questions=set(self._watches)
            )
            async for page in pages:
                read_at = count.first_sent or started  # sent then: the page was true from then on
                for snapshot in page:
                    seen.append(snapshot.ts)
                    if snapshot.ts in self._watches:
                        moved += self._consider(snapshot, read_at)
        self._history = HistoryStats.observe(seen, count, page_cap=self.connection.settings.page_size)
        self._moved_per_round += MOVED_SMOOTHING * (moved - self._moved_per_round)
        # Not in the history: deleted? A per-message read confirms it before anyone fails. (Asks that
        # joined during the read are read on their own once, the same way.)
        found = set(seen)
        for ts in [ts for ts in self._watches if ts not in found]:
            self._enqueue(ts)

    def _consider(self, snapshot: MessageSnapshot, read_at: float) -> int:
        """Hand over the question as the history shows it, or queue its thread: 1 when it moved."""
        ts, state = snapshot.ts, self._threads.get(snapshot.ts)
        if state is not None and state.replaced(snapshot):
            self._enqueue(ts)  # a deleted thread parent shows as a tombstone by another user
            return 0
        if snapshot.reply_count and (state is None or state.moved(snapshot)):
            self._enqueue(ts)  # first sight of a thread with replies, or new replies
            return int(state is not None)
        if not snapshot.reply_count:
            self._threads[ts] = ThreadState.of(snapshot, (), read_at)
        self._deliver(ts, snapshot, read_at)
        return 0

    def _deliver(self, ts: str, snapshot: MessageSnapshot, read_at: float) -> None:
        state = self._threads.get(ts)
        replies, replies_read_at = (state.replies, state.replies_read_at) if state else ((), 0.0)
        read = QuestionRead(snapshot, replies, read_at, replies_read_at, self._app_user, self._open_since)
        for watch in self._watches.get(ts, ()):
            watch.deliver(read)

    # -- the thread reader ------------------------------------------------------------------------
    def _enqueue(self, ts: str) -> None:
        if ts in self._watches:
            self._queue[ts] = None
            self._queued.set()

    async def _read_threads(self) -> None:
        """Read the queued threads one after another, at the pace of the replies budget."""
        attempt = 0
        while True:
            if not self._queue:
                if not self._watches:
                    return
                self._queued.clear()
                await self._queued.wait()
                continue
            ts = next(iter(self._queue))
            alerter = self.connection.alerter
            try:
                await self._read_question(ts)
                attempt = 0
            except ChatTransientError as err:
                attempt += 1
                self._note_error(err, [ts])
                if ts in self._queue:  # to the back: one thread that fails does not hold the rest
                    del self._queue[ts]
                    self._queue[ts] = None
                delay = backoff_delay(attempt, retry_after=err.retry_after)
                log.warning("Reading a thread in channel %s failed (%s); retrying in %.1fs", self.channel, err, delay)
                await asyncio.sleep(delay)
            except ChatAlertError as err:
                if not await self._carry_on_after(err, alerter):
                    return
            except Exception as err:  # a bug: fail the asks loudly rather than loop on it
                log.exception("Reading threads in channel %s failed unexpectedly", self.channel)
                self.fail_all(err)
                return
