"""Socket Mode, as Slack serves it: ``apps.connections.open`` hands out single-use websocket URLs
for the app-level token, and `SocketHub` serves the websockets behind them.

On connect the hub sends ``hello``; each envelope (an Events API callback or an interaction) goes to
exactly one live connection of the app, chosen at random, and waits for its ack
(``{"envelope_id": …}``). An unacknowledged ``events_api`` envelope is sent again after the ack
timeout, up to 3 times, with ``retry_attempt`` / ``retry_reason: "timeout"``; an unacknowledged
``interactive`` one is never sent again (the person sees an error on the button). An app holds at most
10 connections: the 11th is told ``disconnect`` / ``too_many_websockets`` and closed, as Slack does.

Everything here runs on the emulator's event loop; the emulator calls in from other threads through
``loop`` (`SlackEmulator` does that). Socket events go into the journal as calls named ``socket.*``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from airflow_chat_alerts.testing.clock import Clock
from airflow_chat_alerts.testing.events import EventSource
from airflow_chat_alerts.testing.journal import Call, Journal
from airflow_chat_alerts.testing.ratelimit import RateLimiter
from airflow_chat_alerts.testing.state import State
from airflow_chat_alerts.testing.workspace import Workspace

OPEN_METHOD = "apps.connections.open"
SCOPE = "connections:write"
MAX_CONNECTIONS = 10
ACK_TIMEOUT = 3.0
MAX_RETRIES = 3
DISCONNECT_REASONS = ("warning", "refresh_requested", "link_disabled")
# After refresh_requested or link_disabled, Slack closes a socket the client does not leave itself.
DISCONNECT_GRACE = 10.0
HOST = "applink-emulator"
# Seconds Slack says a connection may live before it asks for a refresh (hello's debug_info).
CONNECTION_TIME = 18060


class ClickFailed(Exception):
    """A button click that did not go through: the person sees an error on the button.

    :param reason: ``"no_connection"`` (no socket of the app was open) or ``"not_acknowledged"``
        (no connection acknowledged the interaction within the ack timeout).
    :param payload: the ``block_actions`` payload that was (or would have been) sent.
    """

    def __init__(self, reason: str, payload: dict[str, Any]) -> None:
        super().__init__(f"click failed: {reason}")
        self.reason = reason
        self.payload = payload


@dataclass(eq=False)
class Connection:
    """One open websocket of an app."""

    id: str
    app_id: str
    ws: web.WebSocketResponse
    request: web.Request
    closed_by: str = "client"


@dataclass(eq=False)
class _Delivery:
    """An event or interaction on its way to the app, across its attempts."""

    kind: str  # "events_api" | "interactive"
    payload: dict[str, Any]
    attempt: int = 0
    finished: bool = False
    timer: asyncio.TimerHandle | None = None
    outcome: asyncio.Future[bool] | None = None
    envelopes: list[str] = field(default_factory=list)
    response: Any = None  # the ack's "payload" (a view_submission's response_action), when it carried one


class SocketHub:
    """The app's Socket Mode connections and the envelopes in flight.

    :param workspace: whose app (id, app-level token and its scopes) connects.
    :param clock: the emulator's clock (journal times, event times).
    :param journal: where socket events are recorded.
    :param limiter: rate limits (``apps.connections.open`` is tier 1).
    """

    def __init__(self, workspace: Workspace, clock: Clock, journal: Journal, limiter: RateLimiter) -> None:
        self.workspace = workspace
        self.clock = clock
        self.journal = journal
        self.limiter = limiter
        self.loop: asyncio.AbstractEventLoop | None = None  # the emulator's, once it serves
        self.root_url = ""  # "ws://host:port/", once it serves
        self.events = EventSource(self._emit_event, self.connected)
        self._tickets: dict[str, str] = {}
        self._connections: list[Connection] = []
        self._deliveries: dict[str, _Delivery] = {}  # envelope id -> delivery
        self._ids = itertools.count(1)
        self.configure()

    # --- settings and faults (set from the test's thread; plain values) -----------------------------

    def configure(self, *, ack_timeout: float = ACK_TIMEOUT, seed: int | None = None) -> None:
        """Ack timeout (real seconds) and the seed of the random choice of connection."""
        if ack_timeout <= 0:
            raise ValueError(f"ack_timeout must be positive, got {ack_timeout}")
        self.ack_timeout = float(ack_timeout)
        self._random = random.Random(seed)
        self.lost_acks = 0
        self.ack_delay = 0.0
        self.refused_connections = 0

    # --- Web API ------------------------------------------------------------------------------------

    def handles(self, method: str, token: str) -> bool:
        """Whether this call is for the hub: ``apps.connections.open``, or any call with the app token."""
        return method == OPEN_METHOD or token == self.workspace.app_token

    def web_call(self, method: str, token: str, state: State) -> tuple[int, dict[str, Any], dict[str, str]]:
        """(HTTP status, body, headers) of a call that `handles` accepted (token not revoked)."""
        ws = self.workspace
        if token != ws.app_token:
            error = "not_allowed_token_type" if token in state.tokens else "invalid_auth"
            return 200, {"ok": False, "error": error}, {}
        if method != OPEN_METHOD:
            return 200, {"ok": False, "error": "not_allowed_token_type"}, {}
        headers = {"X-OAuth-Scopes": ",".join(sorted(ws.app_token_scopes))}
        if SCOPE not in ws.app_token_scopes:
            body = {"ok": False, "error": "missing_scope", "needed": SCOPE,
                    "provided": ",".join(sorted(ws.app_token_scopes))}
            return 200, body, headers
        wait = self.limiter.acquire(ws.app_id, method)
        if wait > 0:
            headers["Retry-After"] = str(self.clock.real_seconds(wait))
            return 429, {"ok": False, "error": "ratelimited"}, headers
        ticket = uuid.uuid4().hex
        self._tickets[ticket] = ws.app_id
        return 200, {"ok": True, "url": f"{self.root_url}link/?ticket={ticket}&app_id={ws.app_id}"}, headers

    # --- the websocket endpoint ---------------------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        """``GET /link/?ticket=…``: a Socket Mode connection."""
        if self.refused_connections > 0:
            self.refused_connections -= 1
            self._record("socket.refused", {"reason": "refused"}, error="refused")
            return web.Response(status=503, text="service_unavailable")
        app_id = self._tickets.pop(request.query.get("ticket", ""), None)  # a ticket opens one socket
        if app_id is None:
            self._record("socket.refused", {"reason": "invalid_ticket"}, error="invalid_ticket")
            return web.Response(status=401, text="invalid_ticket")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = Connection(f"conn-{next(self._ids)}", app_id, ws, request)
        if len(self.live(app_id)) >= MAX_CONNECTIONS:
            self._record("socket.refused", {"reason": "too_many_websockets"}, error="too_many_websockets")
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_json({"type": "disconnect", "reason": "too_many_websockets",
                                    "debug_info": {"host": HOST}})
            await ws.close()
            return ws
        count = len(self.live(app_id)) + 1
        self._record("socket.open", {"connection": conn.id, "num_connections": count})
        try:
            await ws.send_json({
                "type": "hello",
                "num_connections": count,
                "debug_info": {"host": HOST, "build_number": 1, "approximate_connection_time": CONNECTION_TIME},
                "connection_info": {"app_id": app_id},
            })
            self._connections.append(conn)  # after hello: no envelope may come before it
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._received(conn, msg.data)
        finally:
            if conn in self._connections:
                self._connections.remove(conn)
            self._record("socket.close", {"connection": conn.id, "by": conn.closed_by})
        return ws

    def live(self, app_id: str | None = None) -> list[Connection]:
        app_id = app_id or self.workspace.app_id
        return [c for c in self._connections if c.app_id == app_id and not c.ws.closed]

    def connected(self) -> bool:
        return bool(self.live())

    def _received(self, conn: Connection, data: str) -> None:
        try:
            message = json.loads(data)
        except json.JSONDecodeError:
            return
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        if not envelope_id:
            return
        response = message.get("payload")
        if self.lost_acks > 0:
            self.lost_acks -= 1
            self._record("socket.ack", {"envelope_id": envelope_id, "connection": conn.id}, error="lost")
        elif self.ack_delay > 0 and self.loop is not None:
            self.loop.call_later(self.ack_delay, self._acknowledged, conn, envelope_id, response)
        else:
            self._acknowledged(conn, envelope_id, response)

    def _acknowledged(self, conn: Connection, envelope_id: str, response: Any = None) -> None:
        delivery = self._deliveries.get(envelope_id)
        args = {"envelope_id": envelope_id, "connection": conn.id}
        if delivery is None or delivery.finished:
            self._record("socket.ack", args, error="late" if delivery else "unknown_envelope")
            return
        self._record("socket.ack", args)
        # Slack reads a response only where the envelope said it accepts one (a view_submission's).
        delivery.response = response if _accepts_response(delivery.payload) else None
        self._finish(delivery, acknowledged=True)

    # --- delivery -----------------------------------------------------------------------------------

    def _emit_event(self, payload: dict[str, Any]) -> None:
        """From `EventSource`, in any thread: deliver on the loop."""
        if self.loop is not None:
            with contextlib.suppress(RuntimeError):  # the emulator stopped: nobody is connected
                self.loop.call_soon_threadsafe(self._send, _Delivery("events_api", payload))

    async def interact(self, payload: dict[str, Any]) -> str:
        """Deliver an interaction; ``"acknowledged"``, ``"no_connection"`` or ``"not_acknowledged"``."""
        return (await self.interact_for_response(payload))[0]

    async def interact_for_response(self, payload: dict[str, Any]) -> tuple[str, Any]:
        """Deliver an interaction: (outcome as `interact` gives it, the ack's response payload or None)."""
        delivery = _Delivery("interactive", payload, outcome=asyncio.get_running_loop().create_future())
        if not self._send(delivery):
            return "no_connection", None
        assert delivery.outcome is not None
        return ("acknowledged" if await delivery.outcome else "not_acknowledged"), delivery.response

    def _send(self, delivery: _Delivery) -> bool:
        """Send the delivery's next envelope to one live connection picked at random; False if none."""
        live = self.live()
        if not live or self.loop is None:
            return False
        conn = self._random.choice(live)
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "payload": delivery.payload,
            "type": delivery.kind,
            "accepts_response_payload": _accepts_response(delivery.payload),
        }
        if delivery.kind == "events_api":
            envelope["retry_attempt"] = delivery.attempt
            envelope["retry_reason"] = "timeout" if delivery.attempt else ""
        delivery.envelopes.append(envelope_id)
        self._deliveries[envelope_id] = delivery
        delivery.timer = self.loop.call_later(self.ack_timeout, self._timed_out, delivery)
        self._record("socket.envelope", {
            "envelope_id": envelope_id,
            "connection": conn.id,
            "type": delivery.kind,
            "payload_type": _payload_type(delivery.payload),
            "retry_attempt": delivery.attempt,
        })
        self.loop.create_task(_send_quietly(conn.ws, json.dumps(envelope)))
        return True

    def _timed_out(self, delivery: _Delivery) -> None:
        if delivery.finished:
            return
        if delivery.kind == "events_api" and delivery.attempt < MAX_RETRIES:
            delivery.attempt += 1
            if self._send(delivery):
                return
        self._record("socket.expired", {"envelope_id": delivery.envelopes[-1], "type": delivery.kind,
                                        "attempts": delivery.attempt + 1}, error="not_acknowledged")
        self._finish(delivery, acknowledged=False)

    def _finish(self, delivery: _Delivery, *, acknowledged: bool) -> None:
        delivery.finished = True
        if delivery.timer is not None:
            delivery.timer.cancel()
        if delivery.outcome is not None and not delivery.outcome.done():
            delivery.outcome.set_result(acknowledged)

    # --- interventions (run on the loop) ------------------------------------------------------------

    async def drop(self, count: int | None = None, *, abrupt: bool = False) -> int:
        """Close ``count`` of the app's sockets (oldest first; None: all) from the server side;
        ``abrupt``: cut the TCP connection without a close frame. Returns how many were closed."""
        victims = self.live()[:count] if count is not None else self.live()
        for conn in victims:
            conn.closed_by = "server"
            if abrupt and conn.request.transport is not None:
                conn.request.transport.abort()
            else:
                await conn.ws.close()
        return len(victims)

    async def disconnect(self, reason: str, count: int | None = None, close_after: float | None = None) -> int:
        """Send ``{"type": "disconnect", "reason": reason}`` to ``count`` sockets (None: all)."""
        if reason not in DISCONNECT_REASONS:
            raise ValueError(f"unknown disconnect reason {reason!r}; choose from {DISCONNECT_REASONS}")
        victims = self.live()[:count] if count is not None else self.live()
        if close_after is None and reason != "warning":
            close_after = DISCONNECT_GRACE
        for conn in victims:
            self._record("socket.disconnect", {"connection": conn.id, "reason": reason})
            await _send_quietly(conn.ws, json.dumps({"type": "disconnect", "reason": reason,
                                                     "debug_info": {"host": HOST}}))
            if close_after is not None and self.loop is not None:
                self.loop.call_later(close_after, self._close_soon, conn)
        return len(victims)

    def _close_soon(self, conn: Connection) -> None:
        if not conn.ws.closed and self.loop is not None:
            conn.closed_by = "server"
            self.loop.create_task(conn.ws.close())

    async def reset(self) -> None:
        """Close every socket, forget tickets and envelopes in flight, and the settings."""
        for delivery in set(self._deliveries.values()):
            self._finish(delivery, acknowledged=False)
        self._deliveries.clear()
        self._tickets.clear()
        for conn in list(self._connections):
            conn.closed_by = "server"
            with contextlib.suppress(Exception):
                await conn.ws.close()
        self._connections.clear()
        self.configure()

    def _record(self, what: str, args: dict[str, Any], error: str | None = None) -> None:
        self.journal.record(Call(self.clock.now(), what, args, 200, error, None, "WS"))


def _accepts_response(payload: dict[str, Any]) -> bool:
    """Whether the app may answer in its ack (Socket Mode's ``accepts_response_payload``): a modal's
    submission takes a ``response_action``; a click or an event takes nothing."""
    return payload.get("type") == "view_submission"


def _payload_type(payload: dict[str, Any]) -> str:
    event = payload.get("event")
    if isinstance(event, dict):
        return str(event.get("subtype") or event.get("type"))
    return str(payload.get("type"))


async def _send_quietly(ws: web.WebSocketResponse, text: str) -> None:
    """Send, ignoring a socket that closed meanwhile (the ack timeout deals with what was lost)."""
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_str(text)
