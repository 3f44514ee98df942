"""Socket Mode, as Slack serves it: ``apps.connections.open`` hands out single-use websocket URLs
for the app-level token, and `SocketHub` serves the websockets behind them.

On connect the hub sends ``hello``; each envelope (an Events API callback or an interaction) goes to
exactly one live connection of the app, chosen at random, and waits for its ack
(``{"envelope_id": …}``). An unacknowledged ``events_api`` envelope is sent again after the ack
timeout, up to 3 times, with ``retry_attempt`` / ``retry_reason: "timeout"``; an unacknowledged
``interactive`` one is never sent again (the person sees an error on the button). An app holds at most
10 connections: the 11th is told ``disconnect`` / ``too_many_websockets`` and closed, as Slack does.

Slack refreshes every connection on its own schedule: ``approximate_connection_time`` seconds after
``hello`` (hours; 360 s for a websocket URL with ``debug_reconnects=true``) it sends ``disconnect`` /
``refresh_requested``, about 10 s after a ``disconnect`` / ``warning``, and closes a socket the client
does not leave. Tests shorten the period (`SocketHub.configure`) to run that path.

Everything here runs on the emulator's event loop; the emulator calls in from other threads through
``loop`` (`SlackEmulator` does that). Socket events go into the journal as calls named ``socket.*``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from airflow_chat_alerts.testing.clock import Clock
from airflow_chat_alerts.testing.events import EventSource
from airflow_chat_alerts.testing.journal import Call, Journal
from airflow_chat_alerts.testing.ratelimit import RateLimiter
from airflow_chat_alerts.testing.socket_connections import Connection, Occupant, WebSocketConnection
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
# Seconds Slack says a connection may live before it asks for a refresh (hello's debug_info), and the
# same with ``debug_reconnects=true`` on the websocket URL (Slack's Socket Mode guide).
CONNECTION_TIME = 18060.0
DEBUG_CONNECTION_TIME = 360.0
# Slack's disconnect / warning comes this long before its refresh_requested.
REFRESH_WARNING = 10.0


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

    def configure(
        self,
        *,
        ack_timeout: float = ACK_TIMEOUT,
        seed: int | None = None,
        refresh_after: float | None = None,
        refresh_warning: float = REFRESH_WARNING,
        refresh_grace: float = DISCONNECT_GRACE,
    ) -> None:
        """Ack timeout (real seconds), the seed of the random choice of connection, and the refresh
        schedule of sockets opened from now on (real seconds; ``refresh_after=None``: Slack's)."""
        for name, value in (("ack_timeout", ack_timeout), ("refresh_warning", refresh_warning),
                            ("refresh_grace", refresh_grace), ("refresh_after", refresh_after)):
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        self.ack_timeout = float(ack_timeout)
        self.refresh_after = None if refresh_after is None else float(refresh_after)
        self.refresh_warning = float(refresh_warning)
        self.refresh_grace = float(refresh_grace)
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
        conn = WebSocketConnection(f"conn-{next(self._ids)}", app_id, ws, request)
        if len(self.live(app_id)) >= MAX_CONNECTIONS:
            # Slack's frame names the reason only (as SDK issue reports quote it), no connection count.
            self._record("socket.refused", {"reason": "too_many_websockets"}, error="too_many_websockets")
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_json({"type": "disconnect", "reason": "too_many_websockets",
                                    "debug_info": {"host": HOST}})
            await ws.close()
            return ws
        count = len(self.live(app_id)) + 1
        period = self.connection_time(debug=request.query.get("debug_reconnects", "").lower() == "true")
        self._record("socket.open", {"connection": conn.id, "num_connections": count})
        try:
            await ws.send_json({
                "type": "hello",
                "num_connections": count,
                "debug_info": {"host": HOST, "build_number": 1, "approximate_connection_time": math.ceil(period)},
                "connection_info": {"app_id": app_id},
            })
            self._connections.append(conn)  # after hello: no envelope may come before it
            self._schedule_refresh(conn, period)
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._received(conn, msg.data)
        finally:
            conn.cancel_timers()
            if conn in self._connections:
                self._connections.remove(conn)
            self._record("socket.close", {"connection": conn.id, "by": conn.closed_by})
        return ws

    def connection_time(self, *, debug: bool) -> float:
        """Seconds from ``hello`` to ``refresh_requested`` for a socket opened now."""
        if self.refresh_after is not None:
            return self.refresh_after
        return DEBUG_CONNECTION_TIME if debug else CONNECTION_TIME

    def _schedule_refresh(self, conn: Connection, period: float) -> None:
        """Slack's unprompted refresh: ``warning`` (at most half the period early), ``refresh_requested``."""
        if self.loop is None:
            return
        early = min(self.refresh_warning, period / 2)
        conn.timers += [
            self.loop.call_later(period - early, self._scheduled_disconnect, conn, "warning"),
            self.loop.call_later(period, self._scheduled_disconnect, conn, "refresh_requested"),
        ]

    def _scheduled_disconnect(self, conn: Connection, reason: str) -> None:
        if conn.closed or self.loop is None:
            return
        self._record("socket.disconnect", {"connection": conn.id, "reason": reason, "scheduled": True})
        self.loop.create_task(conn.send(_disconnect_frame(reason)))
        if reason != "warning":
            conn.timers.append(self.loop.call_later(self.refresh_grace, self._close_soon, conn))

    def live(self, app_id: str | None = None) -> list[Connection]:
        """The app's open connections (occupied slots included), oldest first."""
        app_id = app_id or self.workspace.app_id
        return [c for c in self._connections if c.app_id == app_id and not c.closed]

    async def occupy(self, count: int, *, acks: bool) -> list[Occupant]:
        """Let another client of the app hold ``count`` more slots (see `Occupant`).

        :raises ValueError: fewer than ``count`` of the app's slots are free.
        """
        free = MAX_CONNECTIONS - len(self.live())
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        if count > free:
            raise ValueError(f"cannot occupy {count} sockets: {free} of the app's {MAX_CONNECTIONS} slots are free")
        occupants = []
        for _ in range(count):
            occupant = Occupant(f"conn-{next(self._ids)}", self.workspace.app_id, self._received, acks=acks)
            self._connections.append(occupant)
            self._record("socket.open", {"connection": occupant.id, "num_connections": len(self.live()),
                                         "occupant": True})
            occupants.append(occupant)
        return occupants

    async def release(self, occupants: list[Occupant], *, by: str = "client") -> int:
        """These slots are left (``by`` the other client, or closed by the server); returns how many."""
        left = 0
        for occupant in occupants:
            if occupant.closed:
                continue
            await occupant.close()
            if occupant in self._connections:
                self._connections.remove(occupant)
            self._record("socket.close", {"connection": occupant.id, "by": by, "occupant": True})
            left += 1
        return left

    async def close_all(self) -> None:
        """Close every connection of the app from the server side (its app-level token was revoked)."""
        await self.drop()
        await self.release([c for c in self.live() if isinstance(c, Occupant)], by="server")

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
            **({"message_ts": ts} if (ts := _message_ts(delivery.payload)) else {}),
        })
        self.loop.create_task(conn.send(json.dumps(envelope)))
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

    def _websockets(self, count: int | None) -> list[WebSocketConnection]:
        """``count`` of the app's clients' websockets, oldest first (None: all); occupants are left be."""
        sockets = [c for c in self.live() if isinstance(c, WebSocketConnection)]
        return sockets[:count] if count is not None else sockets

    async def drop(self, count: int | None = None, *, abrupt: bool = False) -> int:
        """Close ``count`` of the app's websockets (oldest first; None: all) from the server side;
        ``abrupt``: cut the TCP connection without a close frame. Returns how many were closed."""
        victims = self._websockets(count)
        for conn in victims:
            conn.closed_by = "server"
            if abrupt:
                conn.abort()
            else:
                await conn.close()
        return len(victims)

    async def disconnect(self, reason: str, count: int | None = None, close_after: float | None = None) -> int:
        """Send ``{"type": "disconnect", "reason": reason}`` to ``count`` sockets (None: all)."""
        if reason not in DISCONNECT_REASONS:
            raise ValueError(f"unknown disconnect reason {reason!r}; choose from {DISCONNECT_REASONS}")
        victims = self._websockets(count)
        if close_after is None and reason != "warning":
            close_after = DISCONNECT_GRACE
        for conn in victims:
            self._record("socket.disconnect", {"connection": conn.id, "reason": reason})
            await conn.send(_disconnect_frame(reason))
            if close_after is not None and self.loop is not None:
                conn.timers.append(self.loop.call_later(close_after, self._close_soon, conn))
        return len(victims)

    def _close_soon(self, conn: Connection) -> None:
        if not conn.closed and self.loop is not None:
            conn.closed_by = "server"
            self.loop.create_task(conn.close())

    async def reset(self) -> None:
        """Close every socket, forget tickets and envelopes in flight, and the settings."""
        for delivery in set(self._deliveries.values()):
            self._finish(delivery, acknowledged=False)
        self._deliveries.clear()
        self._tickets.clear()
        for conn in list(self._connections):
            conn.closed_by = "server"
            conn.cancel_timers()
            with contextlib.suppress(Exception):
                await conn.close()
        self._connections.clear()
        self.configure()

    def _record(self, what: str, args: dict[str, Any], error: str | None = None) -> None:
        self.journal.record(Call(self.clock.now(), what, args, 200, error, None, "WS"))


def _accepts_response(payload: dict[str, Any]) -> bool:
    """Whether the app may answer in its ack (Socket Mode's ``accepts_response_payload``): a modal's
    submission takes a ``response_action``; a click or an event takes nothing."""
    return payload.get("type") == "view_submission"


def _message_ts(payload: dict[str, Any]) -> str | None:
    """The message an interaction was made on (a click's container), for the journal."""
    container = payload.get("container")
    return container.get("message_ts") if isinstance(container, dict) else None


def _payload_type(payload: dict[str, Any]) -> str:
    event = payload.get("event")
    if isinstance(event, dict):
        return str(event.get("subtype") or event.get("type"))
    return str(payload.get("type"))


def _disconnect_frame(reason: str) -> str:
    return json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": HOST}})
