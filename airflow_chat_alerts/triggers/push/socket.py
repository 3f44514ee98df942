"""One Socket Mode websocket: opened with a URL Slack handed out for it, read until it closes.

Why not slack_sdk's ``SocketModeClient``: it reconnects by itself the moment Slack says ``disconnect``
(with no backoff, so a ``too_many_websockets`` refusal loops at once), retries a URL whose single-use
ticket is spent, and closes the old socket before opening the new one (a gap in which events go
elsewhere). Here a socket only reports what happened (:class:`Opened`, a ``disconnect`` reason, its
close) and :class:`~.stream.PushStream` decides when and how to open the next one, each time with a
fresh URL. slack_sdk still parses the envelopes (``SocketModeRequest``).

Nothing here logs a payload, the URL (its ticket opens a socket) or a token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiohttp
    from slack_sdk.socket_mode.request import SocketModeRequest

log = logging.getLogger(__name__)

# Seconds between websocket pings: a socket whose pong is missing this long is dropped (aiohttp).
HEARTBEAT_SECONDS = 5.0
# How long the first message (Slack's hello) may take.
HELLO_SECONDS = 10.0


class SocketRefused(Exception):
    """Slack would not keep the socket open.

    :param reason: ``too_many_websockets``, ``invalid_ticket``, ``http_<status>``, ``no_hello``...
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Opened:
    """What Slack's ``hello`` said.

    :param connections: the app's open Socket Mode connections, this one included.
    :param lifetime: seconds Slack means to keep the connection before it asks for a refresh, if said.
    """

    connections: int
    lifetime: float | None


class SlackSocket:
    """One websocket of the app.

    :param session: the aiohttp session to connect with (not closed here).
    :param on_envelope: called with each envelope (events, interactions), in its own task.
    :param on_disconnect: called with the reason of each ``disconnect`` message Slack sends.
    :param proxy: an HTTP proxy URL.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        on_envelope: Callable[[SlackSocket, SocketModeRequest], Coroutine[Any, Any, None]],
        on_disconnect: Callable[[SlackSocket, str], None],
        proxy: str | None = None,
    ) -> None:
        self._session = session
        self._on_envelope = on_envelope
        self._on_disconnect = on_disconnect
        self._proxy = proxy
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._handling: set[asyncio.Task[Any]] = set()
        self.closed = asyncio.Event()

    async def open(self, url: str) -> Opened:
        """Connect and wait for Slack's ``hello``.

        :raises SocketRefused: the handshake was refused (a spent ticket, a server error) or Slack
            closed the socket before saying hello (``too_many_websockets``: every slot is taken).
        :raises OSError, aiohttp.ClientError, asyncio.TimeoutError: the network failed.
        """
        import aiohttp

        try:
            ws = await self._session.ws_connect(url, heartbeat=HEARTBEAT_SECONDS, proxy=self._proxy, autoping=True)
        except aiohttp.WSServerHandshakeError as err:
            raise SocketRefused(_handshake_reason(err)) from None
        self._ws = ws
        try:
            first = await asyncio.wait_for(ws.receive(), HELLO_SECONDS)
        except BaseException:
            await self.close()
            raise
        message = _json(first)
        if message.get("type") != "hello":
            await self.close()
            reason = message.get("reason") if message.get("type") == "disconnect" else None
            raise SocketRefused(str(reason or "no_hello"))
        self._reader = asyncio.create_task(self._read(ws), name="chat-alerts socket reader")
        count = message.get("num_connections")
        lifetime = (message.get("debug_info") or {}).get("approximate_connection_time")
        return Opened(
            connections=count if isinstance(count, int) and count > 0 else 1,
            lifetime=float(lifetime) if isinstance(lifetime, (int, float)) else None,
        )

    async def ack(self, envelope_id: str, payload: Mapping[str, Any] | None = None) -> bool:
        """Acknowledge an envelope, with a response ``payload`` if given (a modal's ``response_action``);
        False when the socket is gone (Slack then does not count the ack)."""
        ws = self._ws
        if ws is None or ws.closed:
            return False
        message: dict[str, Any] = {"envelope_id": envelope_id}
        if payload is not None:
            message["payload"] = dict(payload)
        try:
            await ws.send_str(json.dumps(message))
        except (ConnectionError, RuntimeError, OSError) as err:
            log.warning("Could not acknowledge a Socket Mode envelope (%s)", type(err).__name__)
            return False
        return True

    async def close(self) -> None:
        """Close the socket, letting envelopes under way finish (each acks within Slack's 3 s or never)."""
        if self._handling:
            await asyncio.wait(set(self._handling), timeout=3.0)
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self.closed.set()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        import aiohttp
        from slack_sdk.socket_mode.request import SocketModeRequest

        try:
            async for frame in ws:
                if frame.type != aiohttp.WSMsgType.TEXT:
                    continue
                message = _json(frame)
                kind = message.get("type")
                if kind == "disconnect":
                    self._on_disconnect(self, str(message.get("reason") or "unknown"))
                    continue
                request = SocketModeRequest.from_dict(message) if message.get("envelope_id") else None
                if request is not None:
                    task: asyncio.Task[None] = asyncio.create_task(self._on_envelope(self, request))
                    self._handling.add(task)
                    task.add_done_callback(self._handling.discard)
        finally:
            self.closed.set()


def _json(frame: Any) -> dict[str, Any]:
    import aiohttp

    if getattr(frame, "type", None) != aiohttp.WSMsgType.TEXT:
        return {}
    try:
        message = json.loads(frame.data)
    except (TypeError, ValueError):
        return {}
    return message if isinstance(message, dict) else {}


def _handshake_reason(err: Exception) -> str:
    """``invalid_ticket`` for a refused ticket (HTTP 401/403), else ``http_<status>``."""
    status = getattr(err, "status", None)
    return "invalid_ticket" if status in (401, 403) else f"http_{status}"
