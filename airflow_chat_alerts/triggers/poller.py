"""How a waiting ask reads its question: the seam between ChatAskTrigger and the chat service.

`watch_question()` is the only entry point the trigger uses. Behind it, every ask waiting on the same
event loop (a triggerer runs all its triggers on one) shares:

* one :class:`~airflow_chat_alerts.triggers.shared_connection.SharedConnection` per connection (alerter,
  HTTP session, rate budget), closed when the last ask of that connection leaves;
* one :class:`~airflow_chat_alerts.triggers.channel_poller.ChannelPoller` per (connection, channel),
  whose single read per round serves every ask in the channel.

When the connection has an app-level token, one Socket Mode client per token
(:mod:`~airflow_chat_alerts.triggers.push`) pushes answers to the asks and slows the pollers down to
reconciliation. They are created lazily on the running loop and dropped when empty, and nothing outlives its loop:
``dag.test()`` may run triggers in fresh loops one after another. The rate budgets alone are
process-wide (they hold no loop), so every loop of the process spends the same Slack allowance.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from airflow_chat_alerts.decisions import AskPolicy
from airflow_chat_alerts.triggers.channel_poller import ChannelPoller, QuestionUpdate, QuestionWatch
from airflow_chat_alerts.triggers.push.registry import join_push, leave_push
from airflow_chat_alerts.triggers.shared_connection import SharedConnection

__all__ = ["QuestionUpdate", "QuestionWatch", "active_connections", "active_pollers", "watch_question"]


@dataclass
class _Connection:
    opening: asyncio.Future[SharedConnection]
    users: int = 0


@dataclass
class _LoopShare:
    """What the asks on one event loop share."""

    connections: dict[str, _Connection] = field(default_factory=dict)
    pollers: dict[tuple[str, str], ChannelPoller] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.connections and not self.pollers


_SHARES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopShare] = weakref.WeakKeyDictionary()


def _share() -> _LoopShare:
    return _SHARES.setdefault(asyncio.get_running_loop(), _LoopShare())


def _drop_if_empty(share: _LoopShare) -> None:
    loop = asyncio.get_running_loop()
    if share.empty and _SHARES.get(loop) is share:
        del _SHARES[loop]


def active_pollers() -> dict[tuple[str, str], ChannelPoller]:
    """The channel pollers of the running loop, by (connection, channel): empty when no ask waits."""
    share = _SHARES.get(asyncio.get_running_loop())
    return dict(share.pollers) if share else {}


def active_connections() -> dict[str, SharedConnection]:
    """The open shared connections of the running loop, by connection id."""
    share = _SHARES.get(asyncio.get_running_loop())
    if share is None:
        return {}
    return {
        conn_id: entry.opening.result()
        for conn_id, entry in share.connections.items()
        if entry.opening.done() and not entry.opening.cancelled() and entry.opening.exception() is None
    }


async def _acquire(share: _LoopShare, conn_id: str) -> SharedConnection:
    entry = share.connections.get(conn_id)
    if entry is None:
        entry = share.connections[conn_id] = _Connection(asyncio.ensure_future(SharedConnection.open(conn_id)))
    entry.users += 1
    try:
        return await asyncio.shield(entry.opening)
    except BaseException:
        await _release(share, conn_id)
        raise


async def _release(share: _LoopShare, conn_id: str) -> None:
    entry = share.connections[conn_id]
    entry.users -= 1
    if entry.users:
        return
    del share.connections[conn_id]
    _drop_if_empty(share)
    if not entry.opening.done():
        entry.opening.cancel()
    elif not entry.opening.cancelled() and entry.opening.exception() is None:
        await entry.opening.result().aclose()


def _fail_connection(share: _LoopShare, conn_id: str, error: BaseException) -> None:
    """Hand a connection-wide error (its credentials refused) to every ask of the connection."""
    for (poller_conn_id, _), poller in list(share.pollers.items()):
        if poller_conn_id == conn_id:
            poller.fail_all(error)


@asynccontextmanager
async def watch_question(
    conn_id: str,
    channel: str,
    ts: str,
    *,
    poll_interval: float,
    reconcile_interval: float | None = None,
    policy: AskPolicy | None = None,
    push: bool = True,
) -> AsyncIterator[QuestionWatch]:
    """Watch one question until the block exits (on completion or cancellation).

    :param conn_id: the Airflow connection to read through.
    :param channel: the channel id of the question.
    :param ts: the question's ts.
    :param poll_interval: seconds between reads this ask wants; the channel is read at the smallest
        interval among its asks, and never faster than the connection's rate budget allows.
    :param reconcile_interval: seconds between reads while answers are pushed (default: poll_interval).
    :param policy: the ask's policy (push judges button clicks by it).
    :param push: receive pushed answers when the connection has an app token (a worker's one-off
        look passes False: it opens no socket).
    """
    share = _share()
    connection = await _acquire(share, conn_id)
    try:
        key = (conn_id, channel)
        poller = share.pollers.get(key)
        if poller is None:
            poller = share.pollers[key] = ChannelPoller(
                connection,
                channel,
                strategy=connection.settings.read_strategy,
                fail_connection=lambda error: _fail_connection(share, conn_id, error),
            )
        watch = QuestionWatch(
            ts,
            poll_interval=poll_interval,
            read_group=connection.group_members,
            reconcile_interval=reconcile_interval,
            policy=policy,
        )
        poller.add(watch)
        pushing = None
        try:
            if push:
                pushing = join_push(connection, watch, poller, share.pollers)
            yield watch
        finally:
            poller.remove(watch)
            if pushing is not None:
                await leave_push(pushing, conn_id)
            if poller.idle and share.pollers.get(key) is poller:
                del share.pollers[key]
                await poller.aclose()
    finally:
        await _release(share, conn_id)
