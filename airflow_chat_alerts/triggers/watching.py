"""How a waiting ask gets its answers: the seam between ChatAskTrigger and the chat service.

`watch_question()` is the only entry point the trigger uses. It joins the ask to the running loop's
poller registry (:mod:`~airflow_chat_alerts.triggers.polling`: one shared connection per connection, one
channel poller per channel) and, when the connection has an app-level token, to the loop's Socket Mode
client of that token (:mod:`~airflow_chat_alerts.triggers.push`), which pushes answers to the ask and
slows the pollers down to reconciliation.

The rate budgets are the process's (:data:`budgets`): every loop of the process spends the same Slack
allowance.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from airflow_chat_alerts.decisions import AskPolicy
from airflow_chat_alerts.triggers.polling.channel import ChannelPoller
from airflow_chat_alerts.triggers.polling.connection import SharedConnection
from airflow_chat_alerts.triggers.polling.rate_budget import RateBudgets
from airflow_chat_alerts.triggers.polling.registry import Pollers
from airflow_chat_alerts.triggers.polling.watch import QuestionUpdate, QuestionWatch
from airflow_chat_alerts.triggers.push.registry import join_push, leave_push

__all__ = ["QuestionUpdate", "QuestionWatch", "active_connections", "active_pollers", "budgets", "watch_question"]

# The process's rate budgets, by connection id.
budgets = RateBudgets()


def active_pollers() -> dict[tuple[str, str], ChannelPoller]:
    """The channel pollers of the running loop, by (connection, channel): empty when no ask waits."""
    pollers = Pollers.running()
    return dict(pollers.channels) if pollers else {}


def active_connections() -> dict[str, SharedConnection]:
    """The open shared connections of the running loop, by connection id."""
    pollers = Pollers.running()
    return pollers.connections if pollers else {}


@asynccontextmanager
async def watch_question(
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
    :param policy: the ask's policy (push judges button clicks by it).
    """
    pollers = Pollers.of_running_loop(budgets)
    connection = await pollers.acquire(conn_id)
    try:
        poller = pollers.poller(connection, channel)
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
            pushing = join_push(connection, watch, poller, pollers.channels)
            yield watch
        finally:
            poller.remove(watch)
            if pushing is not None:
                await leave_push(pushing, conn_id)
            await pollers.drop_if_idle(poller)
    finally:
        await pollers.release(conn_id)
