"""One chat client per Airflow connection per triggerer process, shared by every waiting ask.

A :class:`SharedConnection` holds the connection's alerter, one aiohttp session under it, and the
connection's :class:`~airflow_chat_alerts.triggers.polling.rate_budget.RateBudget`. The session carries a trace
hook that makes every HTTP request (each page of a paginated read, each retry) wait for a slot of its
Slack method, and that turns a 429's ``Retry-After`` into a pause of that method for the whole
process. Waiting happens before the request starts, so it never counts against the request timeout.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from airflow_chat_alerts.alerters.slack_errors import rate_limit_pause
from airflow_chat_alerts.hooks.chat_alerter import ChatAlerterHook
from airflow_chat_alerts.settings import ChatConnectionSettings
from airflow_chat_alerts.triggers.polling.rate_budget import RateBudget

if TYPE_CHECKING:
    import aiohttp

    from airflow_chat_alerts.alerters.ports import AnswerReader

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 30.0
# A user group read serves asks that are only looking for this long; a decision reads it again.
GROUP_TTL_SECONDS = 60.0


def _import_clients() -> None:
    import aiohttp  # noqa: F401
    import slack_sdk.web.async_client  # noqa: F401
    from airflow.providers.common.compat import connection  # noqa: F401

    from airflow_chat_alerts.alerters import slack  # noqa: F401
    from airflow_chat_alerts.hooks import chat_alerter  # noqa: F401


@dataclass
class CallCount:
    """HTTP calls made inside :func:`counting_calls`, by Slack method, the last ``limit`` asked, and
    when the first one was sent (after its wait for a rate slot): what it read was true from then on."""

    calls: Counter[str] = field(default_factory=Counter)
    page_limit: int | None = None
    first_sent: float | None = None


_current_count: ContextVar[CallCount | None] = ContextVar("chat_alerts_call_count", default=None)


@contextmanager
def counting_calls() -> Iterator[CallCount]:
    """Count the HTTP calls the current task makes inside the block (the pages of one read)."""
    count = CallCount()
    token = _current_count.set(count)
    try:
        yield count
    finally:
        _current_count.reset(token)


def slack_method(url: Any) -> str:
    """``https://…/api/conversations.history?…`` → ``conversations.history``."""
    return str(getattr(url, "path", url)).rstrip("/").rsplit("/", 1)[-1]


def budget_trace_config(budget: RateBudget, *, conn_id: str) -> aiohttp.TraceConfig:
    """An aiohttp trace config that paces requests by ``budget`` and honours 429s for the process."""
    import aiohttp

    async def on_request_start(session: Any, ctx: SimpleNamespace, params: aiohttp.TraceRequestStartParams) -> None:
        method = slack_method(params.url)
        await budget.acquire(method)
        count = _current_count.get()
        if count is not None:
            if count.first_sent is None:
                count.first_sent = time.time()
            count.calls[method] += 1
            limit = params.url.query.get("limit")
            if limit and limit.isdigit():
                count.page_limit = int(limit)

    async def on_request_end(session: Any, ctx: SimpleNamespace, params: aiohttp.TraceRequestEndParams) -> None:
        retry_after = rate_limit_pause(params.response.status, params.response.headers)
        if retry_after is None:
            return
        method = slack_method(params.url)
        budget.pause(method, retry_after)
        log.warning(
            "Slack rate-limited %s on connection %r; pausing it for %.0fs for every waiting ask",
            method,
            conn_id,
            retry_after,
        )

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    trace.on_request_end.append(on_request_end)
    return trace


class SharedConnection:
    """The alerter, HTTP session and rate budget of one connection, shared inside one event loop.

    :param settings: the connection as read (how channels are read, the page size, its secret's digest).
    :param alerter: the connection's alerter (its async client uses ``session``).
    :param budget: the connection's process-wide rate budget.
    :param session: the HTTP session this object owns and closes, if any.
    """

    def __init__(
        self,
        settings: ChatConnectionSettings,
        alerter: AnswerReader,
        budget: RateBudget,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.conn_id = settings.conn_id
        self.settings = settings
        self.alerter = alerter
        self.budget = budget
        self.session = session
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}
        self._group_reads: dict[str, asyncio.Task[frozenset[str]]] = {}
        self._reloading = asyncio.Lock()

    @classmethod
    async def open(cls, conn_id: str, budget: RateBudget) -> SharedConnection:
        """Look the connection up (without blocking the loop) and build its client and session.

        :param conn_id: the Airflow connection id.
        :param budget: the connection's rate budget (shared by every loop of the process).

        :raises ChatConfigError: the connection is missing or its extras are invalid.
        """
        # The first ask of a process imports the HTTP and Slack clients: in a thread, so the triggerer's
        # loop (every other trigger) does not stall for the import.
        await asyncio.to_thread(_import_clients)
        import aiohttp

        settings = await ChatAlerterHook(chat_conn_id=conn_id).asettings()
        budget.configure(settings.per_minute)
        timeout = float(settings.timeout or DEFAULT_TIMEOUT_SECONDS)
        # No total timeout: a request may wait for its rate slot before it starts; I/O stays bounded.
        session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout),
            trace_configs=[budget_trace_config(budget, conn_id=conn_id)],
        )
        alerter = ChatAlerterHook.alerter_for(settings, session=session)
        return cls(settings, alerter, budget, session)

    async def group_members(self, group_id: str, fresh: bool = False) -> frozenset[str]:
        """Members of a user group: one read shared by every ask of the connection.

        A copy younger than :data:`GROUP_TTL_SECONDS` serves asks that are only looking; ``fresh``
        reads again (a decision that rests on a member's answer must see today's membership). A read
        already under way serves both. A failure is raised at once: the asks try again on their next
        read, so their deadlines bound the wait.
        """
        cached = self._groups.get(group_id)
        task = self._group_reads.get(group_id)
        if task is None:
            if cached and not fresh and time.monotonic() - cached[0] < GROUP_TTL_SECONDS:
                return cached[1]
            task = asyncio.ensure_future(self._read_group(group_id))
            self._group_reads[group_id] = task
            task.add_done_callback(lambda _: self._group_reads.pop(group_id, None))
        return await asyncio.shield(task)

    async def _read_group(self, group_id: str) -> frozenset[str]:
        started = time.monotonic()
        members = await self.alerter.group_members(group_id)
        self._groups[group_id] = (started, members)
        return members

    async def reload_credentials(self, refused: AnswerReader) -> bool:
        """After Slack refused the credentials of ``refused``: look the connection up again, and when
        its secret changed (a rotated token), carry on with a new alerter. False: nothing changed.
        """
        async with self._reloading:
            if self.alerter is not refused:
                return True  # another reader of this connection already picked up the new token
            settings = await ChatAlerterHook(chat_conn_id=self.conn_id).asettings()
            if settings.fingerprint == self.settings.fingerprint:
                return False
            self.alerter = ChatAlerterHook.alerter_for(settings, session=self.session)
            self.settings = settings
            await refused.aclose()
            log.warning("Connection %r has new credentials; waiting asks use them from now on", self.conn_id)
            return True

    async def aclose(self) -> None:
        """Stop group reads and close the alerter and the session."""
        for task in list(self._group_reads.values()):
            task.cancel()
        try:
            await self.alerter.aclose()
        finally:
            if self.session is not None:
                await self.session.close()
