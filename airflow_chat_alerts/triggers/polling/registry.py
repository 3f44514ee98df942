"""One registry of pollers per event loop: what the asks waiting on that loop share.

* one :class:`~airflow_chat_alerts.triggers.polling.connection.SharedConnection` per connection
  (alerter, HTTP session, the connection's rate budget), closed when the last ask of it leaves;
* one :class:`~airflow_chat_alerts.triggers.polling.channel.ChannelPoller` per (connection, channel),
  whose single read per round serves every ask in the channel.

The registry also fans out connection-wide errors (credentials refused) to every poller of the
connection. It is created lazily on the running loop and dropped when empty; nothing outlives its
loop (``dag.test()`` may run triggers in fresh loops one after another). The rate budgets are handed
in: they are the process's, shared by every loop.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass

from airflow_chat_alerts.triggers.polling.channel import ChannelPoller
from airflow_chat_alerts.triggers.polling.connection import SharedConnection
from airflow_chat_alerts.triggers.polling.rate_budget import RateBudgets


@dataclass
class _Opening:
    future: asyncio.Future[SharedConnection]
    users: int = 0

    def opened(self) -> SharedConnection | None:
        future = self.future
        if future.done() and not future.cancelled() and future.exception() is None:
            return future.result()
        return None


class Pollers:
    """The connections and channel pollers of one event loop.

    :param budgets: the process's rate budgets, by connection id.
    """

    _by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Pollers] = weakref.WeakKeyDictionary()

    def __init__(self, budgets: RateBudgets) -> None:
        self.budgets = budgets
        self._connections: dict[str, _Opening] = {}
        self.channels: dict[tuple[str, str], ChannelPoller] = {}

    @classmethod
    def of_running_loop(cls, budgets: RateBudgets) -> Pollers:
        """The running loop's registry (created with ``budgets`` on first use)."""
        return cls._by_loop.setdefault(asyncio.get_running_loop(), cls(budgets))

    @classmethod
    def running(cls) -> Pollers | None:
        """The running loop's registry, if any ask waits on it."""
        return cls._by_loop.get(asyncio.get_running_loop())

    @property
    def connections(self) -> dict[str, SharedConnection]:
        """The open shared connections, by connection id."""
        opened = {conn_id: opening.opened() for conn_id, opening in self._connections.items()}
        return {conn_id: connection for conn_id, connection in opened.items() if connection is not None}

    async def acquire(self, conn_id: str) -> SharedConnection:
        """The loop's shared connection for ``conn_id``, opened by its first user; pair with :meth:`release`."""
        opening = self._connections.get(conn_id)
        if opening is None:
            future = asyncio.ensure_future(SharedConnection.open(conn_id, self.budgets.of(conn_id)))
            opening = self._connections[conn_id] = _Opening(future)
        opening.users += 1
        try:
            return await asyncio.shield(opening.future)
        except BaseException:
            await self.release(conn_id)
            raise

    async def release(self, conn_id: str) -> None:
        """One user of ``conn_id`` left; the last one closes the connection."""
        opening = self._connections[conn_id]
        opening.users -= 1
        if opening.users:
            return
        del self._connections[conn_id]
        self._drop_if_empty()
        if not opening.future.done():
            opening.future.cancel()
        elif (connection := opening.opened()) is not None:
            await connection.aclose()

    def poller(self, connection: SharedConnection, channel: str) -> ChannelPoller:
        """The channel's poller (created on first use)."""
        key = (connection.conn_id, channel)
        poller = self.channels.get(key)
        if poller is None:
            poller = self.channels[key] = ChannelPoller(
                connection,
                channel,
                strategy=connection.settings.read_strategy,
                fail_connection=lambda error: self.fail_connection(connection.conn_id, error),
            )
        return poller

    async def drop_if_idle(self, poller: ChannelPoller) -> None:
        """Close ``poller`` once no ask waits on it."""
        key = (poller.connection.conn_id, poller.channel)
        if poller.idle and self.channels.get(key) is poller:
            del self.channels[key]
            await poller.aclose()

    def fail_connection(self, conn_id: str, error: BaseException) -> None:
        """Hand a connection-wide error (its credentials refused) to every ask of the connection."""
        for (poller_conn_id, _), poller in list(self.channels.items()):
            if poller_conn_id == conn_id:
                poller.fail_all(error)

    def _drop_if_empty(self) -> None:
        loop = asyncio.get_running_loop()
        if not self._connections and not self.channels and self._by_loop.get(loop) is self:
            del self._by_loop[loop]
