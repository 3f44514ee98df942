"""One Socket Mode connection per app-level token per event loop, shared by the asks that use it.

:class:`PushClient` wraps slack_sdk's aiohttp ``SocketModeClient``: it opens the socket, keeps it open
(slack_sdk follows Slack's ``disconnect`` messages itself; a socket that drops or fails to open is
opened again here, with backoff), tells the channel pollers of its connections whether push is live
(they read at the reconciliation interval while it is, and once at every (re)connect), and hands each
envelope to :mod:`~airflow_chat_alerts.triggers.push.envelopes`.

A refused app-level token (revoked, not an ``xapp-`` token) fails the asks of its connections with an
error naming them; the token itself is never logged (slack_sdk logs through a scrubbing logger).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from airflow_chat_alerts.alerters.redaction import Scrubber, ScrubbingLogger
from airflow_chat_alerts.exceptions import ChatPermanentError
from airflow_chat_alerts.triggers.polling.connection import DEFAULT_TIMEOUT_SECONDS
from airflow_chat_alerts.triggers.polling.rate_budget import backoff_delay
from airflow_chat_alerts.triggers.push.envelopes import handle_envelope, tell_if_not_approver

if TYPE_CHECKING:
    from slack_sdk.socket_mode.aiohttp import SocketModeClient
    from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
    from slack_sdk.socket_mode.request import SocketModeRequest

    from airflow_chat_alerts.triggers.polling.channel import ChannelPoller
    from airflow_chat_alerts.triggers.polling.connection import SharedConnection
    from airflow_chat_alerts.triggers.polling.watch import QuestionUpdate, QuestionWatch

log = logging.getLogger(__name__)

# How often the socket is looked at when nothing told us it changed (an abrupt drop sends nothing).
CHECK_SECONDS = 1.0
# Slack's answers to apps.connections.open that no retry will change: the asks fail instead.
REFUSED_TOKEN_ERRORS = frozenset(
    {"invalid_auth", "not_allowed_token_type", "token_revoked", "token_expired", "account_inactive", "not_authed",
     "missing_scope"}
)
# Slack waits this long for an ack: closing waits as long for envelopes being handled.
ACK_SECONDS = 3.0
# Decided questions remembered for clicks that come after the decision.
DECIDED_MEMORY = 10_000

K = TypeVar("K")
V = TypeVar("V")


def _import_socket_mode() -> None:
    import slack_sdk.socket_mode.aiohttp  # noqa: F401
    import slack_sdk.socket_mode.response  # noqa: F401


def token_fingerprint(app_token: str) -> str:
    """A digest naming the app-level token in keys (never the token itself)."""
    return hashlib.sha256(app_token.encode()).hexdigest()[:16]


class PushClient:
    """The Socket Mode client of one app-level token on the running loop.

    :param app_token: the app-level token (kept in slack_sdk's client only).
    :param connection: the shared connection of the first ask (its base URL, proxy and timeout).
    :param pollers: the loop's channel pollers, by (connection id, channel).
    """

    def __init__(
        self, app_token: str, connection: SharedConnection, pollers: Mapping[tuple[str, str], ChannelPoller]
    ) -> None:
        self.fingerprint = token_fingerprint(app_token)
        self.connections: dict[str, SharedConnection] = {}
        self.users: collections.Counter[str] = collections.Counter()  # asks per connection id
        self.pollers = pollers
        self.connected = False
        # No other triggerer holds a socket of the app, as far as this one knows: only then do reads slow
        # down, since a click reaching another triggerer gets to the ask held here only through a read.
        self.alone = True
        # Click records this process posted, by (channel, question ts, user, click time).
        self.recorded: collections.OrderedDict[tuple[str, str, str, str], None] = collections.OrderedDict()
        self.error: ChatPermanentError | None = None
        self.decided: collections.OrderedDict[tuple[str, str], str] = collections.OrderedDict()
        # Button answers already judged here, by (channel, question ts, user, click time).
        self.judged: collections.OrderedDict[tuple[str, str, str, str], None] = collections.OrderedDict()
        self._app_token = app_token
        self._settings = connection.settings
        self._changed = asyncio.Event()
        self._client: SocketModeClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._handling: set[asyncio.Task[Any]] = set()  # envelopes being handled (each in its own task)

    # -- asks ---------------------------------------------------------------------------------------
    def join(self, connection: SharedConnection, watch: QuestionWatch, channel: str) -> None:
        """An ask of ``connection`` starts waiting on ``channel``: route its events, start the socket."""
        self.connections[connection.conn_id] = connection
        self.users[connection.conn_id] += 1
        watch.on_settle = lambda outcome: self.remember_decided(channel, watch.ts, outcome)
        watch.on_change = lambda update: self._judge_records(connection, watch, channel, update)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"chat-alerts socket {self.fingerprint}")

    def leave(self, conn_id: str) -> bool:
        """An ask left; True when it was the last one (the caller closes the client)."""
        self.users[conn_id] -= 1
        if self.users[conn_id] <= 0:
            del self.users[conn_id]
            self.connections.pop(conn_id, None)
        return not self.users

    def holders(self, channel: str, ts: str) -> tuple[SharedConnection, list[QuestionWatch]] | None:
        """The connection and asks of this process waiting on question ``ts`` in ``channel``, if any."""
        for conn_id, connection in self.connections.items():
            poller = self.pollers.get((conn_id, channel))
            watches = poller.watches_of(ts) if poller is not None else []
            if watches:
                return connection, watches
        return None

    def any_connection(self) -> SharedConnection | None:
        return next(iter(self.connections.values()), None)

    def note_recorded(self, key: tuple[str, str, str, str]) -> None:
        """This process posted the record of a click (channel, question ts, user, click time)."""
        _remember(self.recorded, key, None)

    def note_judged(self, key: tuple[str, str, str, str]) -> None:
        """This process judged a click (channel, question ts, user, click time): never again."""
        _remember(self.judged, key, None)

    def not_alone(self, why: str) -> None:
        """Another triggerer holds a socket of the app: read at the poll interval from now on."""
        if not self.alone:
            return
        self.alone = False
        log.info("Another triggerer shares this app's Socket Mode connections (%s): reading every poll "
                 "interval, so that clicks it receives for asks held here are read promptly", why)
        self._pace_pollers()

    @property
    def slows_reads(self) -> bool:
        """Whether the pollers may read at the reconciliation interval: connected, and alone."""
        return self.connected and self.alone

    def remember_decided(self, channel: str, ts: str, outcome: str) -> None:
        _remember(self.decided, (channel, ts), outcome)

    def _judge_records(
        self, connection: SharedConnection, watch: QuestionWatch, channel: str, update: QuestionUpdate
    ) -> None:
        """Click records another triggerer wrote for this ask: a person who may not answer is told
        so, once per process (the click itself counts for nothing, like any answer of theirs)."""
        for answer in update.replies:
            key = (channel, watch.ts, answer.user, answer.ts)
            if answer.kind != "button" or key in self.judged:
                continue
            if key not in self.recorded:
                self.not_alone("it read a click another triggerer recorded")
            self.note_judged(key)
            task = asyncio.ensure_future(tell_if_not_approver(connection, watch, channel, answer))
            self._handling.add(task)
            task.add_done_callback(self._handling.discard)

    def pollers_of_connections(self) -> list[ChannelPoller]:
        return [poller for (conn_id, _), poller in self.pollers.items() if conn_id in self.connections]

    # -- the socket ---------------------------------------------------------------------------------
    def _build(self) -> SocketModeClient:
        from slack_sdk.socket_mode.aiohttp import SocketModeClient
        from slack_sdk.web.async_client import AsyncWebClient

        settings = self._settings
        logger = cast(logging.Logger, ScrubbingLogger(log, Scrubber(self._app_token)))
        web = AsyncWebClient(  # the app token goes with each call; this client holds none
            base_url=settings.base_url or AsyncWebClient.BASE_URL,
            timeout=int(settings.timeout or DEFAULT_TIMEOUT_SECONDS),
            proxy=settings.proxy,
            logger=logger,
        )
        client = SocketModeClient(
            app_token=self._app_token, web_client=web, proxy=settings.proxy, logger=logger,
            auto_reconnect_enabled=False,  # reconnecting after a drop is ours, with backoff
        )
        client.message_listeners.append(self._on_message)
        client.socket_mode_request_listeners.append(self._on_request)
        client.on_close_listeners.append(self._on_socket_news)
        client.on_error_listeners.append(self._on_socket_news)
        return client

    async def _on_message(self, client: AsyncBaseSocketModeClient, message: dict, raw: str | None) -> None:
        # Slack's hello counts the app's connections, this one included.
        if message.get("type") == "hello":
            count = message.get("num_connections")
            if isinstance(count, int) and count > 1:
                self.not_alone(f"Slack counts {count} connections of the app")

    async def _on_socket_news(self, message: Any) -> None:
        self._changed.set()

    async def _on_request(self, client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handling.add(task)
        try:
            await handle_envelope(self, request)
        finally:
            if task is not None:
                self._handling.discard(task)

    async def ack(self, envelope_id: str) -> None:
        """Acknowledge an envelope (Slack then neither retries it nor shows the person an error)."""
        from slack_sdk.socket_mode.response import SocketModeResponse

        if self._client is None:
            return
        try:
            await self._client.send_socket_mode_response(SocketModeResponse(envelope_id=envelope_id))
        except (ConnectionError, RuntimeError, OSError) as err:  # the socket went: Slack sends it again
            log.warning("Could not acknowledge a Socket Mode envelope (%s)", type(err).__name__)

    async def _run(self) -> None:
        """Keep the socket open until closed; fail the asks if Slack refuses the app-level token."""
        from slack_sdk.errors import SlackApiError

        await asyncio.to_thread(_import_socket_mode)  # the first socket imports: not on the loop
        self._client = client = self._build()
        attempt = 0
        while True:
            if not await client.is_connected():
                self._set_connected(False)
                try:
                    async with client.connect_operation_lock:
                        if not await client.is_connected():
                            client.wss_uri = await client.issue_new_wss_url()
                            await client.connect()
                            if not await client.is_connected():
                                raise ConnectionError("the socket closed as it opened")
                except SlackApiError as err:
                    code = str((err.response or {}).get("error") or "")
                    if code in REFUSED_TOKEN_ERRORS:
                        self._refused(code)
                        return
                    attempt += 1
                    delay = backoff_delay(attempt, retry_after=None)
                    log.warning("Opening Socket Mode failed (%s); trying again in %.1fs", code, delay)
                    await asyncio.sleep(delay)
                    continue
                except Exception as err:  # network, TLS, a garbled answer: try again, never give up silently
                    attempt += 1
                    delay = backoff_delay(attempt, retry_after=None)
                    log.warning("Opening Socket Mode failed (%s); trying again in %.1fs", type(err).__name__, delay)
                    await asyncio.sleep(delay)
                    continue
                attempt = 0
                log.info("Socket Mode connected for connection(s) %s", ", ".join(map(repr, self.connections)))
            self._set_connected(True)
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), CHECK_SECONDS)

    def _set_connected(self, connected: bool) -> None:
        if connected == self.connected:
            return
        self.connected = connected
        if not connected:
            log.warning("Socket Mode disconnected; reading every poll interval until it is back")
        self._pace_pollers()

    def _pace_pollers(self) -> None:
        for poller in self.pollers_of_connections():
            poller.set_pushed(self.slows_reads)

    def _refused(self, code: str) -> None:
        names = ", ".join(repr(conn_id) for conn_id in self.connections)
        self.error = ChatPermanentError(
            f"{code}: Slack refused the app-level token (extra app_token) of connection {names}, so answers "
            f"cannot be pushed; put a valid xapp-… token with the connections:write scope in the extra, or "
            f"remove it to read by polling alone",
            conn_id=next(iter(self.connections), None),
            code=code,
        )
        log.error("%s", self.error)
        self._set_connected(False)
        for poller in self.pollers_of_connections():
            poller.fail_all(self.error)

    async def aclose(self) -> None:
        """Stop the socket (the last ask left), once the envelopes under way are acked."""
        handling = self._handling - {asyncio.current_task()}
        if handling:
            await asyncio.wait(handling, timeout=ACK_SECONDS)
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})
        if self._client is not None:
            await self._client.close()
            self._client = None
        leftover = self._handling - {asyncio.current_task()}
        for task in leftover:  # began after the wait: the connection they would use is closing
            task.cancel()
        if leftover:
            await asyncio.wait(leftover)
        self._set_connected(False)


def _remember(memory: collections.OrderedDict[K, V], key: K, value: V) -> None:
    """Keep ``key`` in a memory of at most :data:`DECIDED_MEMORY` entries, forgetting the oldest."""
    memory[key] = value
    while len(memory) > DECIDED_MEMORY:
        memory.popitem(last=False)
