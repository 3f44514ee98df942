"""Which :class:`~airflow_chat_alerts.triggers.push.client.PushClient` serves an ask: one per
app-level token (by its fingerprint) per event loop, opened by the first ask of a connection with an
``app_token`` and closed when the last one leaves. Nothing outlives its loop."""

from __future__ import annotations

import asyncio
import copy
import weakref
from collections.abc import Mapping

from airflow_chat_alerts.triggers.polling.channel import ChannelPoller
from airflow_chat_alerts.triggers.polling.connection import SharedConnection
from airflow_chat_alerts.triggers.polling.watch import QuestionWatch
from airflow_chat_alerts.triggers.push.client import PushClient, token_fingerprint

_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, PushClient]] = weakref.WeakKeyDictionary()


def active_push_clients() -> dict[str, PushClient]:
    """The push clients of the running loop, by token fingerprint."""
    return dict(_CLIENTS.get(asyncio.get_running_loop(), {}))


def join_push(
    connection: SharedConnection,
    watch: QuestionWatch,
    poller: ChannelPoller,
    pollers: Mapping[tuple[str, str], ChannelPoller],
) -> PushClient | None:
    """Route pushed answers to ``watch`` (None: the connection has no app token, so it only polls).

    :raises ChatPermanentError: Slack refused the connection's app-level token.
    """
    app_token = connection.settings.app_token
    if not app_token:
        return None
    clients = _CLIENTS.setdefault(asyncio.get_running_loop(), {})
    key = token_fingerprint(app_token)
    push = clients.get(key)
    if push is None:
        push = clients[key] = PushClient(app_token, connection, pollers)
    if push.error is not None:
        raise copy.copy(push.error)
    push.join(connection, watch, poller.channel)
    poller.set_pushed(push.slows_reads)
    return push


async def leave_push(push: PushClient, conn_id: str) -> None:
    """An ask routed by ``push`` left; the last one closes it."""
    if not push.leave(conn_id):
        return
    loop = asyncio.get_running_loop()
    clients = _CLIENTS.get(loop, {})
    if clients.get(push.fingerprint) is push:
        del clients[push.fingerprint]
        if not clients:
            _CLIENTS.pop(loop, None)
    await push.aclose()
