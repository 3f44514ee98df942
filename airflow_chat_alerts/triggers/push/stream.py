"""One Socket Mode stream per app-level token per event loop: the sockets, and the asks they serve.

:class:`PushStream` keeps one socket of the app open while asks of its connections wait, and for a grace
period after the last one leaves (the connection extra ``socket_grace``), so a click never lands on a
socket that is closing between two asks. It

* opens each socket with a fresh URL (``apps.connections.open``, paced by the connection's rate budget
  for that method), and after any failure to open or keep one (``too_many_websockets``, a 429 with its
  Retry-After, a spent ticket, the network) tries again with capped exponential backoff and jitter,
  saying so in one warning per outage that names the connections and the reason;
* replaces a socket Slack is about to refresh by opening the next one first (no gap);
* knows whether every event of the app reached it: connected without a gap, and no other socket of the
  app open as far as Slack's ``hello`` counts (and no click recorded by another triggerer seen since);
  only then may pushed events alone decide an ask, and only then do reads slow to reconciliation;
* keeps a short buffer of each channel's recent events while that holds, so an ask that joins after its
  question was posted starts from what the events said (:meth:`join`);
* hands each envelope to :mod:`.events` (replies, reactions: applied in order, per channel),
  :mod:`.clickdesk` (Approve / Reject clicks) or :mod:`.hitldesk` (answers to Human-in-the-loop
  requests: their buttons, menus and forms).

The asks a stream serves are the watches that joined it; the loop's runtime owns them, and the stream
reaches the rest of the runtime only through :class:`Directory`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import itertools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

from airflow_chat_alerts.alerters.ports import PushPort
from airflow_chat_alerts.alerters.redaction import Scrubber, ScrubbingLogger
from airflow_chat_alerts.exceptions import (
    ChatAlertError,
    ChatCredentialsRefusedError,
    ChatPermanentError,
    ChatTransientError,
)
from airflow_chat_alerts.model import QuestionRead
from airflow_chat_alerts.triggers.polling.connection import DEFAULT_TIMEOUT_SECONDS
from airflow_chat_alerts.triggers.polling.rate_budget import backoff_delay
from airflow_chat_alerts.triggers.push import events
from airflow_chat_alerts.triggers.push.clickdesk import ClickDesk
from airflow_chat_alerts.triggers.push.hitldesk import HITLDesk
from airflow_chat_alerts.triggers.push.socket import Opened, SlackSocket, SocketRefused
from airflow_chat_alerts.utils import ts_key

if TYPE_CHECKING:
    import aiohttp
    from slack_sdk.socket_mode.request import SocketModeRequest

    from airflow_chat_alerts.settings import ChatConnectionSettings
    from airflow_chat_alerts.triggers.polling.connection import SharedConnection
    from airflow_chat_alerts.triggers.polling.watch import QuestionWatch

log = logging.getLogger(__name__)

# Events kept per channel, and for how long, for asks that join after their question was posted.
BUFFER_EVENTS = 5_000
BUFFER_SECONDS = 3_600.0
# While alone, a socket is replaced this often to read Slack's count of the app's sockets again: a
# triggerer that connected later is seen within this time.
ALONE_RECHECK_SECONDS = 300.0
# Slack sends `warning` about 10 s before it refreshes a socket: time to open the next one first.
OPEN_TIMEOUT_SECONDS = 15.0
# A question's post is looked for among the events only when it is this much inside the complete stretch
# (events take a moment to arrive).
PROBE_MARGIN_SECONDS = 2.0
_TICKET = re.compile(r"(ticket=)[^&\s\"']+")


def app_key(settings: ChatConnectionSettings | None) -> str | None:
    """A digest naming a connection's app-level token (never the token itself); None without one."""
    if settings is None or not settings.app_token:
        return None
    return hashlib.sha256(settings.app_token.encode()).hexdigest()[:16]


class Directory(Protocol):
    """What a stream needs of the runtime that owns it."""

    def outcome_of(self, channel: str, ts: str) -> str | None:
        """How question ``ts`` was decided in this process, if it was (its outcome line)."""

    def pace(self, conn_ids: Collection[str], *, slow: bool) -> None:
        """Read these connections' channels at the reconciliation interval (``slow``) or the poll interval."""


@dataclass
class _Buffered:
    seq: int
    at: float
    event: Mapping[str, Any]


@dataclass
class _Channel:
    """One channel's pushed events: the recent ones (by the question they concern), and the queue
    applying them in order."""

    recent: collections.deque[tuple[str, _Buffered]] = field(default_factory=collections.deque)
    by_question: dict[str, collections.deque[_Buffered]] = field(default_factory=dict)
    jobs: asyncio.Queue[Callable[[], Awaitable[None]]] = field(default_factory=asyncio.Queue)
    worker: asyncio.Task[None] | None = None

    def keep(self, question: str, item: _Buffered) -> None:
        self.recent.append((question, item))
        self.by_question.setdefault(question, collections.deque()).append(item)
        while len(self.recent) > BUFFER_EVENTS or (self.recent and item.at - self.recent[0][1].at > BUFFER_SECONDS):
            self._forget_oldest()

    def of(self, question: str, before: int) -> list[Mapping[str, Any]]:
        """The kept events about ``question`` that came before event number ``before``."""
        return [item.event for item in self.by_question.get(question, ()) if item.seq < before]

    def clear(self) -> None:
        self.recent.clear()
        self.by_question.clear()

    def _forget_oldest(self) -> None:
        question, _ = self.recent.popleft()
        kept = self.by_question[question]
        kept.popleft()
        if not kept:
            del self.by_question[question]


class PushStream:
    """The Socket Mode stream of one app-level token on the running loop.

    :param settings: the first connection's settings (app token, base URL, proxy, timeout, grace period).
    :param directory: the runtime that owns the stream.
    :param connection: the connection the stream posts click records with (held for the stream's life).
    :param on_closed: awaited once the stream has closed for good (its grace period ran out).
    """

    def __init__(
        self,
        settings: ChatConnectionSettings,
        directory: Directory,
        connection: SharedConnection,
        *,
        on_closed: Callable[[PushStream], Awaitable[None]],
    ) -> None:
        assert settings.app_token, "a push stream needs an app-level token"
        self.key = cast(str, app_key(settings))
        self.connection = connection
        self.conn_ids: set[str] = set()
        self.error: ChatPermanentError | None = None
        self._settings = settings
        self._directory = directory
        self._on_closed = on_closed
        self._watches: dict[tuple[str, str], set[QuestionWatch]] = {}
        self._channels: dict[str, _Channel] = {}
        self._seq = itertools.count()
        self._sockets: list[SlackSocket] = []
        self._covered_since: float | None = None  # an unbroken stretch of open sockets began then
        self._alone_since: float | None = None  # no other socket of the app known since then
        self._last_hello = 0.0
        self._changed = asyncio.Event()
        self._rollover = False
        self._outage: str | None = None  # the reason of the outage under way, once warned
        self._task: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        self._socket_session: aiohttp.ClientSession | None = None
        self.desk = ClickDesk(self)
        self.requests = HITLDesk(self)  # answers to Human-in-the-loop requests (buttons, menus, forms)
        self._closed = False
        self.opens = 0  # sockets opened (a figure for tests and benchmarks)

    # -- the asks ---------------------------------------------------------------------------------
    def serve(self, conn_id: str) -> None:
        """Asks of connection ``conn_id`` (same app-level token) use this stream; it opens if closed."""
        self.conn_ids.add(conn_id)
        if self._closing is not None:
            self._closing.cancel()
            self._closing = None
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"chat-alerts socket {self.key}")

    async def join(self, watch: QuestionWatch) -> None:
        """An ask starts waiting: route its pushed events to it. When every event of the app has reached
        this stream since its question was posted, the ask gets the question as those events tell it,
        without waiting for a read; events that come meanwhile are applied after, in order."""
        mark = next(self._seq)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def seed() -> None:
            if done.cancelled():
                return  # the ask left before its turn came
            try:
                self._watches.setdefault((watch.channel, watch.ts), set()).add(watch)
                buffered = self._channel(watch.channel).of(watch.ts, mark)
                if self.complete and not await events.replay(self, watch, buffered):
                    self._probe(watch)
            finally:
                if not done.done():
                    done.set_result(None)

        self._channel(watch.channel).jobs.put_nowait(seed)
        self._ensure_worker(watch.channel)
        await done

    def leave(self, watch: QuestionWatch) -> None:
        """An ask left; the last one starts the grace period, after which the stream closes."""
        if self._closed:
            return
        watches = self._watches.get((watch.channel, watch.ts))
        if watches is not None:
            watches.discard(watch)
            if not watches:
                del self._watches[(watch.channel, watch.ts)]
        if not self._watches and self._closing is None and self._task is not None:
            self._closing = asyncio.create_task(self._linger(), name=f"chat-alerts socket grace {self.key}")

    def holders(self, channel: str, ts: str) -> list[QuestionWatch]:
        """The asks of this stream waiting on question ``ts`` in ``channel`` (none: not held here)."""
        return list(self._watches.get((channel, ts), ()))

    def all_watches(self) -> list[QuestionWatch]:
        return [watch for watches in self._watches.values() for watch in watches]

    def outcome_of(self, channel: str, ts: str) -> str | None:
        return self._directory.outcome_of(channel, ts)

    def patchable(self, watch: QuestionWatch) -> bool:
        """Whether pushed events may be applied to ``watch``'s latest read: every event of the app has
        reached this stream since that read was made (or the read is itself made of such events)."""
        read, since = watch.latest, self.complete_since
        return read is not None and since is not None and (read.read_at == 0 or read.read_at >= since)

    @property
    def answers(self) -> PushPort:
        """The connection's alerter, as push uses it."""
        alerter = self.connection.alerter
        if not isinstance(alerter, PushPort):
            raise ChatPermanentError(
                f"connection {self.connection.conn_id!r} cannot receive pushed answers: its chat service "
                f"has no push support", conn_id=self.connection.conn_id,
            )
        return alerter

    def noticed(self, watch: QuestionWatch, read: QuestionRead) -> None:
        """A changed read reached an ask: clicks on it recorded by another triggerer (see ClickDesk)."""
        self.desk.noticed(watch, read)
        self.requests.noticed(watch, read)

    def vetted(self, watch: QuestionWatch, read: QuestionRead) -> QuestionRead:
        """``read`` without the clicks this process refused to acknowledge (see ClickDesk)."""
        return self.requests.vetted(watch, self.desk.vetted(watch, read))

    # -- what the stream knows ----------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return bool(self._sockets)

    @property
    def alone(self) -> bool:
        """No other socket of the app is known to be open."""
        return self._alone_since is not None

    @property
    def complete(self) -> bool:
        """Every event of the app since :attr:`complete_since` reached this stream."""
        return self.complete_since is not None

    @property
    def complete_since(self) -> float | None:
        """Since when every event of the app reached this stream (epoch seconds), if it does now."""
        if self._covered_since is None or self._alone_since is None:
            return None
        return max(self._covered_since, self._alone_since)

    @property
    def slows_reads(self) -> bool:
        """Whether the pollers may read at the reconciliation interval: connected, and alone (a click
        another triggerer receives for an ask held here reaches it only through a read)."""
        return self.connected and self.alone

    def _probe(self, watch: QuestionWatch) -> None:
        """A question posted while every event of the app reached this stream, whose post's own event did
        not: it went to another socket of the app."""
        since, now = self.complete_since, time.time()
        posted = float(ts_key(watch.ts))
        if since is not None and since + PROBE_MARGIN_SECONDS < posted < now - PROBE_MARGIN_SECONDS:
            self.not_alone(f"the post of question {watch.ts} reached another socket of the app")

    def not_alone(self, why: str) -> None:
        """Another triggerer holds a socket of the app: events may go to it, so events alone decide
        nothing from now on, and reads go back to the poll interval."""
        if self._alone_since is None:
            return
        log.info("Another triggerer shares this app's Socket Mode connections (%s): reading every poll "
                 "interval, and deciding on pushed events only after a read", why)
        self._alone_since = None
        self._lost_completeness()

    # -- envelopes ----------------------------------------------------------------------------------
    async def ack(self, socket: SlackSocket, envelope_id: str) -> bool:
        return await socket.ack(envelope_id)

    async def _on_envelope(self, socket: SlackSocket, request: SocketModeRequest) -> None:
        payload = request.payload if isinstance(request.payload, Mapping) else {}
        log.debug("Socket Mode envelope %s (%s)", request.type, payload.get("type"))
        if request.type == "interactive":
            received = time.monotonic()
            handled = await self.desk.handle(socket, request.envelope_id, payload, received=received)
            if not handled:
                handled = await self.requests.handle(socket, request.envelope_id, payload, received=received)
            if not handled:
                await socket.ack(request.envelope_id)  # not one of our buttons
            return
        await socket.ack(request.envelope_id)
        event = payload.get("event") if request.type == "events_api" else None
        if not isinstance(event, Mapping):
            return
        channel = events.channel_of(event)
        if channel is None:
            return
        lane = self._channel(channel)
        question = events.question_of(event)
        if self.complete and question is not None:
            lane.keep(question, _Buffered(next(self._seq), time.monotonic(), event))
        lane.jobs.put_nowait(lambda: events.apply(self, event))
        self._ensure_worker(channel)

    def _channel(self, channel: str) -> _Channel:
        lane = self._channels.get(channel)
        if lane is None:
            lane = self._channels[channel] = _Channel()
        return lane

    def _ensure_worker(self, channel: str) -> None:
        lane = self._channels[channel]
        if lane.worker is None or lane.worker.done():
            lane.worker = asyncio.create_task(self._work(lane), name=f"chat-alerts events {channel}")

    async def _work(self, lane: _Channel) -> None:
        """Apply one channel's events one at a time, in the order they came."""
        while not lane.jobs.empty():
            job = lane.jobs.get_nowait()
            try:
                await job()
            except ChatAlertError as err:  # a lookup failed: reads catch up with the event (events.py)
                log.warning("A pushed event could not be applied (%s); the next read will see it", err)
            except Exception as err:  # a bug of ours: the asks concerned fail with its traceback
                log.exception("Applying a pushed event failed")
                for watch in self.all_watches():
                    watch.fail(err)

    # -- the sockets --------------------------------------------------------------------------------
    async def _run(self) -> None:
        """Keep a socket open until the stream closes; fail the asks if Slack refuses the app-level token."""
        import aiohttp

        self._socket_session = aiohttp.ClientSession()
        attempt = 0
        try:
            while True:
                if not self._sockets or self._rollover:
                    try:
                        await self._open()
                    except (ChatCredentialsRefusedError, ChatPermanentError) as err:
                        self._refused(err)
                        return
                    except (ChatTransientError, SocketRefused, OSError, aiohttp.ClientError, TimeoutError) as err:
                        attempt += 1
                        retry_after = err.retry_after if isinstance(err, ChatTransientError) else None
                        delay = backoff_delay(attempt, retry_after=retry_after)
                        self._trouble(_reason(err), delay, attempt)
                        await asyncio.sleep(delay)
                        continue
                    if self._outage is not None:
                        log.info("Socket Mode is back for connection(s) %s after %d attempt(s)", self._names, attempt)
                    attempt, self._outage, self._rollover = 0, None, False
                self._changed.clear()
                waits = [asyncio.ensure_future(self._changed.wait())] + [
                    asyncio.ensure_future(socket.closed.wait()) for socket in self._sockets
                ]
                recheck = max(0.0, self._last_hello + ALONE_RECHECK_SECONDS - time.monotonic())
                try:
                    await asyncio.wait(waits, timeout=recheck if self.alone else None, return_when="FIRST_COMPLETED")
                finally:
                    for wait in waits:
                        wait.cancel()
                self._drop_closed()
                if self.alone and time.monotonic() - self._last_hello >= ALONE_RECHECK_SECONDS:
                    self._rollover = True  # read Slack's count of the app's sockets again
        finally:
            for socket in list(self._sockets):
                await socket.close()
            self._sockets.clear()
            self._lost_coverage()
            if self._socket_session is not None:
                await self._socket_session.close()

    async def _open(self) -> None:
        """Open one more socket with a fresh URL; once Slack says hello, older sockets are closed."""
        assert self._socket_session is not None
        url = await self._open_url()
        socket = SlackSocket(
            self._socket_session, on_envelope=self._on_envelope, on_disconnect=self._on_disconnect,
            proxy=self._settings.proxy,
        )
        opened = await asyncio.wait_for(socket.open(url), OPEN_TIMEOUT_SECONDS)
        self.opens += 1
        now = time.time()
        older = list(self._sockets)
        self._sockets.append(socket)
        self._hello(opened, now)
        if self._covered_since is None:
            self._covered_since = now
        for old in older:  # the new socket took over: nothing was missed in between
            self._sockets.remove(old)
            await old.close()
        self._pace()

    def _hello(self, opened: Opened, now: float) -> None:
        self._last_hello = time.monotonic()
        others = opened.connections - len(self._sockets)
        if others > 0:
            self.not_alone(f"Slack counts {opened.connections} connections of the app")
        elif self._alone_since is None:
            self._alone_since = now

    async def _open_url(self) -> str:
        """A fresh single-use socket URL from ``apps.connections.open`` (never a spent one)."""
        from slack_sdk.errors import SlackApiError
        from slack_sdk.web.async_client import AsyncWebClient

        from airflow_chat_alerts.alerters.slack_errors import retry_after_seconds, slack_error

        settings = self._settings
        assert settings.app_token
        scrub = Scrubber(settings.app_token)
        web = AsyncWebClient(  # the connection's session: its rate budget paces apps.connections.open
            base_url=settings.base_url or AsyncWebClient.BASE_URL,
            timeout=int(settings.timeout or DEFAULT_TIMEOUT_SECONDS),
            proxy=settings.proxy,
            session=self.connection.session,
            logger=cast(logging.Logger, ScrubbingLogger(log, _TicketScrubber(scrub))),
        )
        try:
            response = await web.apps_connections_open(app_token=settings.app_token)
        except SlackApiError as err:
            answer = err.response
            data = answer.data if isinstance(getattr(answer, "data", None), dict) else {}
            raise slack_error(
                data.get("error"),
                conn_id=self.connection.conn_id,
                method="apps.connections.open",
                status=getattr(answer, "status_code", None),
                retry_after=retry_after_seconds(getattr(answer, "headers", None)),
                response=data,
            ) from None
        url = response.get("url")
        if not isinstance(url, str) or not url:
            raise ChatTransientError("malformed_response: apps.connections.open gave no socket URL",
                                     conn_id=self.connection.conn_id, code="malformed_response")
        return url

    def _on_disconnect(self, socket: SlackSocket, reason: str) -> None:
        """Slack's ``disconnect``: a refresh is coming (open the next socket first) or the socket ends."""
        log.info("Slack asked a Socket Mode connection to disconnect (%s)", reason)
        if reason in ("warning", "refresh_requested") and socket in self._sockets:
            self._rollover = True
        elif socket in self._sockets:  # link_disabled, too_many_websockets...: this socket is done
            self._sockets.remove(socket)
            asyncio.ensure_future(socket.close())
        self._changed.set()

    def _drop_closed(self) -> None:
        closed = [socket for socket in self._sockets if socket.closed.is_set()]
        for socket in closed:
            self._sockets.remove(socket)
        if not self._sockets:
            self._lost_coverage()
            self._pace()

    def _trouble(self, reason: str, delay: float, attempt: int) -> None:
        """One warning per outage, naming the connections and the reason; later tries at debug level."""
        self._lost_coverage()
        if self._outage is None:
            self._outage = reason
            log.warning(
                "Socket Mode for connection(s) %s is down (%s); answers are read every poll interval meanwhile, "
                "and it is opened again with backoff (next try in %.1fs)", self._names, reason, delay,
            )
        else:
            log.debug("Socket Mode try %d failed (%s); next in %.1fs", attempt, reason, delay)

    def _lost_coverage(self) -> None:
        """No socket is open: whatever Slack sends now goes elsewhere or nowhere."""
        if self._sockets:
            return
        self._covered_since = None
        self._lost_completeness()

    def _lost_completeness(self) -> None:
        """Events may have gone elsewhere: nothing buffered is trusted, and asks known from events alone
        wait for a read."""
        for lane in self._channels.values():
            lane.clear()
        for watch in self.all_watches():
            watch.forget_pushed()
        self._pace()

    def _pace(self) -> None:
        self._directory.pace(self.conn_ids, slow=self.slows_reads)

    def _refused(self, error: ChatPermanentError) -> None:
        self.error = ChatPermanentError(
            f"{error.code}: Slack refused the app-level token (extra app_token) of connection(s) {self._names}, "
            f"so answers cannot be pushed; put a valid xapp-… token with the connections:write scope in the "
            f"extra, or remove it to read by polling alone",
            conn_id=self.connection.conn_id,
            code=error.code,
        )
        log.error("%s", self.error)
        for watch in self.all_watches():
            watch.fail(self.error)
        self._pace()

    @property
    def _names(self) -> str:
        return ", ".join(repr(conn_id) for conn_id in sorted(self.conn_ids))

    # -- closing ------------------------------------------------------------------------------------
    async def _linger(self) -> None:
        """Keep the socket for the grace period after the last ask, then close (unless an ask came)."""
        await asyncio.sleep(self._settings.socket_grace)
        if self._closing is asyncio.current_task() and not self._watches:
            await self.aclose()

    async def aclose(self) -> None:
        """Close the sockets and the channel workers, then tell the runtime."""
        if self._closed:
            return
        self._closed = True
        closing, self._closing = self._closing, None
        if closing is not None and closing is not asyncio.current_task():
            closing.cancel()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for lane in self._channels.values():
            if lane.worker is not None and lane.worker is not asyncio.current_task():
                lane.worker.cancel()
        await self.desk.aclose()
        await self.requests.aclose()
        await self._on_closed(self)


class _TicketScrubber:
    """A scrubber that also hides the single-use ticket of a socket URL (it opens a socket)."""

    def __init__(self, scrub: Scrubber) -> None:
        self._scrub = scrub

    def __call__(self, text: str) -> str:
        return _TICKET.sub(r"\1***", self._scrub(text))


def _reason(err: BaseException) -> str:
    if isinstance(err, SocketRefused):
        return err.reason
    if isinstance(err, ChatAlertError) and err.code:
        return err.code
    return type(err).__name__
