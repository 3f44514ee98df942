"""One runtime per triggerer event loop: what every ask waiting on that loop shares.

:class:`Runtime` owns the loop's connections (one :class:`~.polling.connection.SharedConnection` per
Airflow connection: alerter, HTTP session, rate budget), its rate budgets, its channel pollers (one per
connection and channel) and its push streams (one per token: Slack's Socket Mode per app-level token, or the
one a chat service's package provides, built through :meth:`ChatAlerterHook.push_stream`: a Discord bot's
Gateway session per bot token). An ask joins
with :meth:`Runtime.watch` and leaves when the block ends; nothing else holds the asks.

Push reaches the asks only through the small interface :class:`~.push.stream.Directory` (the asks
waiting on a question, what a question was decided as, how fast to read), and a watch reports to its
runtime through :class:`~.polling.watch.WatchOwner`: no object writes callbacks onto another's.

The only state outside a runtime is the map from an event loop to its runtime (:meth:`Runtime.current`):
Airflow builds each trigger from its kwargs alone, so the loop is what the asks have in common. A
runtime lives as long as its loop; ``dag.test()`` runs each trigger in a fresh loop, with a fresh runtime.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import logging
import weakref
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from airflow_chat_alerts.decisions import AskPolicy
from airflow_chat_alerts.exceptions import ChatPermanentError
from airflow_chat_alerts.hooks.chat_alerter import ChatAlerterHook
from airflow_chat_alerts.model import QuestionRead
from airflow_chat_alerts.settings import ChatConnectionSettings
from airflow_chat_alerts.triggers.polling.channel import ChannelPoller
from airflow_chat_alerts.triggers.polling.connection import SharedConnection
from airflow_chat_alerts.triggers.polling.rate_budget import RateBudgets
from airflow_chat_alerts.triggers.polling.watch import QuestionWatch
from airflow_chat_alerts.triggers.push.stream import PushStream, app_key

log = logging.getLogger(__name__)

# Decided questions remembered, so that a click after the decision is told so.
DECIDED_MEMORY = 10_000


class Stream(Protocol):
    """What the runtime uses of a push stream: Slack's Socket Mode :class:`PushStream`, or the one a chat
    service's package provides through :meth:`ChatAlerterHook.push_stream` (a Discord bot's Gateway)."""

    key: str
    error: ChatPermanentError | None

    @property
    def connection(self) -> Any: ...

    @property
    def slows_reads(self) -> bool: ...

    def serve(self, conn_id: str) -> None: ...

    async def join(self, watch: Any) -> None: ...

    def leave(self, watch: Any) -> None: ...

    def noticed(self, watch: Any, read: QuestionRead) -> None: ...

    def vetted(self, watch: Any, read: QuestionRead) -> QuestionRead: ...

    async def aclose(self) -> None: ...


def push_key(settings: ChatConnectionSettings | None) -> str | None:
    """What names a connection's push stream: the chat service's own key, else Slack's app-level token's."""
    if settings is None:
        return None
    return ChatAlerterHook.push_key(settings) or app_key(settings)


@dataclass
class _Lease:
    """A connection being opened or open, and how many users hold it (asks and push streams)."""

    future: asyncio.Future[SharedConnection]
    users: int = 0

    def opened(self) -> SharedConnection | None:
        future = self.future
        if future.done() and not future.cancelled() and future.exception() is None:
            return future.result()
        return None


class Runtime:
    """The connections, rate budgets, channel pollers and push streams of one event loop.

    :param budgets: the rate budgets, by connection id (a test may pass its own clock's).
    """

    _of_loop: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Runtime]] = weakref.WeakKeyDictionary()

    def __init__(self, budgets: RateBudgets | None = None) -> None:
        self.budgets = budgets or RateBudgets()
        self._leases: dict[str, _Lease] = {}
        self._pollers: dict[tuple[str, str], ChannelPoller] = {}
        self._streams: dict[str, Stream] = {}
        self._decided: collections.OrderedDict[tuple[str, str], str] = collections.OrderedDict()
        self._keeper: asyncio.Task[None] | None = None
        self.closed = False

    @classmethod
    def current(cls) -> Runtime:
        """The running loop's runtime (made on first use)."""
        loop = asyncio.get_running_loop()
        runtime = cls._of_loop.get(loop)
        if runtime is None:
            runtime = cls._of_loop[loop] = cls()
            runtime._keeper = loop.create_task(runtime._keep(), name="chat-alerts runtime")
        return runtime

    async def _keep(self) -> None:
        """Live as long as the loop: when the loop shuts down (it cancels every task), close the sockets
        kept open for their grace period, which no ask is left to close."""
        try:
            await asyncio.Event().wait()
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Close every push stream now (the loop is ending); asks still waiting close their own parts."""
        self.closed = True
        for stream in list(self._streams.values()):
            await stream.aclose()

    # -- what a test or a benchmark may look at ---------------------------------------------------
    @property
    def pollers(self) -> Mapping[tuple[str, str], ChannelPoller]:
        """The channel pollers, by (connection id, channel)."""
        return dict(self._pollers)

    @property
    def connections(self) -> Mapping[str, SharedConnection]:
        """The open connections, by connection id."""
        opened = {conn_id: lease.opened() for conn_id, lease in self._leases.items()}
        return {conn_id: connection for conn_id, connection in opened.items() if connection is not None}

    @property
    def streams(self) -> Mapping[str, Stream]:
        """The push streams, by token (its digest)."""
        return dict(self._streams)

    @property
    def idle(self) -> bool:
        """Nothing is open: no ask waits and no socket lingers."""
        return not (self._leases or self._pollers or self._streams)

    # -- an ask ----------------------------------------------------------------------------------
    @asynccontextmanager
    async def watch(
        self,
        conn_id: str,
        channel: str,
        ts: str,
        *,
        poll_interval: float,
        reconcile_interval: float | None = None,
        policy: AskPolicy | None = None,
    ) -> AsyncIterator[QuestionWatch]:
        """Watch one question until the block exits (on completion or cancellation).

        :param conn_id: the Airflow connection to read through.
        :param channel: the channel id of the question.
        :param ts: the question's ts.
        :param poll_interval: seconds between reads this ask wants; the channel is read at the smallest
            interval among its asks, and never faster than the connection's rate budget allows.
        :param reconcile_interval: seconds between reads while answers are pushed (default: poll_interval).
        :param policy: the ask's policy (push judges clicks by it).
        :raises ChatPermanentError: the connection's app-level token was refused.
        """
        connection = await self.acquire(conn_id)
        try:
            watch = QuestionWatch(
                conn_id,
                channel,
                ts,
                poll_interval=poll_interval,
                read_group=connection.group_members,
                owner=self,
                reconcile_interval=reconcile_interval,
                policy=policy,
            )
            stream = self._stream_for(connection)
            poller = self._poller(connection, channel)
            if stream is not None:
                await stream.join(watch)  # may hand the watch the question as its events told it
            try:
                poller.add(watch)
                yield watch
            finally:
                poller.remove(watch)
                if stream is not None:
                    stream.leave(watch)
                await self._drop_if_idle(poller)
        finally:
            await self.release(conn_id)

    # -- connections -----------------------------------------------------------------------------
    async def acquire(self, conn_id: str) -> SharedConnection:
        """The loop's connection for ``conn_id``, opened by its first user; pair with :meth:`release`."""
        lease = self._leases.get(conn_id)
        if lease is None:
            future = asyncio.ensure_future(SharedConnection.open(conn_id, self.budgets.of(conn_id)))
            lease = self._leases[conn_id] = _Lease(future)
        lease.users += 1
        try:
            return await asyncio.shield(lease.future)
        except BaseException:
            await self.release(conn_id)
            raise

    def retain(self, conn_id: str) -> SharedConnection:
        """One more user of an open connection (a push stream keeps the connection it posts with)."""
        lease = self._leases[conn_id]
        connection = lease.opened()
        assert connection is not None, "retain() takes an open connection"
        lease.users += 1
        return connection

    async def release(self, conn_id: str) -> None:
        """One user of ``conn_id`` left; the last one closes the connection."""
        lease = self._leases[conn_id]
        lease.users -= 1
        if lease.users:
            return
        del self._leases[conn_id]
        if not lease.future.done():
            lease.future.cancel()
        elif (connection := lease.opened()) is not None:
            await connection.aclose()

    def fail_connection(self, conn_id: str, error: BaseException) -> None:
        """Hand a connection-wide error (its credentials refused) to every ask of the connection."""
        for (poller_conn_id, _), poller in list(self._pollers.items()):
            if poller_conn_id == conn_id:
                poller.fail_all(error)

    # -- pollers ---------------------------------------------------------------------------------
    def _poller(self, connection: SharedConnection, channel: str) -> ChannelPoller:
        key = (connection.conn_id, channel)
        poller = self._pollers.get(key)
        if poller is None:
            poller = self._pollers[key] = ChannelPoller(
                connection,
                channel,
                strategy=connection.settings.read_strategy,
                fail_connection=lambda error: self.fail_connection(connection.conn_id, error),
            )
            app = push_key(connection.settings)
            stream = self._streams.get(app) if app is not None else None
            poller.set_pushed(stream is not None and stream.slows_reads)
        return poller

    async def _drop_if_idle(self, poller: ChannelPoller) -> None:
        key = (poller.connection.conn_id, poller.channel)
        if poller.idle and self._pollers.get(key) is poller:
            del self._pollers[key]
            await poller.aclose()

    # -- push streams ----------------------------------------------------------------------------
    def _stream_for(self, connection: SharedConnection) -> Stream | None:
        key = push_key(connection.settings)
        if key is None or self.closed:
            return None
        stream = self._streams.get(key)
        if stream is None:
            held = self.retain(connection.conn_id)
            stream = ChatAlerterHook.push_stream(  # a chat service's own (Discord's Gateway), else Slack's
                connection.settings, directory=self, connection=held, on_closed=self._stream_closed
            ) or PushStream(connection.settings, self, held, on_closed=self._stream_closed)
            self._streams[key] = stream
        if stream.error is not None:
            raise copy.copy(stream.error)
        stream.serve(connection.conn_id)
        return stream

    async def _stream_closed(self, stream: Stream) -> None:
        """A stream lingered without asks for its grace period and closed: drop it, release its connection."""
        if self._streams.get(stream.key) is stream:
            del self._streams[stream.key]
        await self.release(stream.connection.conn_id)

    # -- the Directory push streams see ----------------------------------------------------------
    def watches_of(self, conn_ids: Collection[str], channel: str, ts: str) -> list[QuestionWatch]:
        """The asks of these connections waiting on question ``ts`` in ``channel`` (none: not held here)."""
        found: list[QuestionWatch] = []
        for conn_id in conn_ids:
            poller = self._pollers.get((conn_id, channel))
            if poller is not None:
                found.extend(poller.watches_of(ts))
        return found

    def watches_in(self, conn_ids: Collection[str]) -> list[QuestionWatch]:
        """Every ask of these connections."""
        return [
            watch
            for (conn_id, _), poller in list(self._pollers.items())
            if conn_id in conn_ids
            for watch in poller.all_watches()
        ]

    def outcome_of(self, channel: str, ts: str) -> str | None:
        """How question ``ts`` was decided here, if it was (its outcome line)."""
        return self._decided.get((channel, ts))

    def pace(self, conn_ids: Collection[str], *, slow: bool) -> None:
        """Read these connections' channels at the reconciliation interval (``slow``) or the poll interval."""
        for (conn_id, _), poller in list(self._pollers.items()):
            if conn_id in conn_ids:
                poller.set_pushed(slow)

    # -- the WatchOwner every watch reports to ---------------------------------------------------
    def settled(self, watch: QuestionWatch, outcome: str) -> None:
        key = (watch.channel, watch.ts)
        self._decided[key] = outcome
        self._decided.move_to_end(key)
        while len(self._decided) > DECIDED_MEMORY:
            self._decided.popitem(last=False)

    def delivered(self, watch: QuestionWatch, read: QuestionRead) -> None:
        stream = self._stream_of(watch.conn_id)
        if stream is not None:
            stream.noticed(watch, read)

    def vetted(self, watch: QuestionWatch, read: QuestionRead) -> QuestionRead:
        stream = self._stream_of(watch.conn_id)
        return stream.vetted(watch, read) if stream is not None else read

    def _stream_of(self, conn_id: str) -> Stream | None:
        lease = self._leases.get(conn_id)
        connection = lease.opened() if lease is not None else None
        key = push_key(connection.settings) if connection is not None else None
        return self._streams.get(key) if key is not None else None
