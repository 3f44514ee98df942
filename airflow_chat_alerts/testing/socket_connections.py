"""The two kinds of Socket Mode connection an app holds in the emulator: a client's websocket
(`WebSocketConnection`), and an `Occupant`, a slot held by another client of the app that a test asks
for (``occupy_sockets``), with no socket behind it.

Both take envelopes the same way (`SocketHub` picks among them at random), so a test can watch how the
code under test copes when other processes of the app hold slots and take some of the envelopes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web


class Connection:
    """One Socket Mode connection of an app.

    :param id: the connection's id in the journal (``conn-N``).
    :param app_id: the app holding it.
    """

    def __init__(self, id: str, app_id: str) -> None:
        self.id = id
        self.app_id = app_id
        self.closed_by = "client"
        self.timers: list[asyncio.TimerHandle] = []  # the scheduled refresh (cancelled when it closes)

    @property
    def closed(self) -> bool:
        raise NotImplementedError

    async def send(self, text: str) -> None:
        """Send a frame; one to a connection that closed meanwhile is lost (the ack timeout deals with it)."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    def cancel_timers(self) -> None:
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()


class WebSocketConnection(Connection):
    """A client's websocket.

    :param ws: the server side of the websocket.
    :param request: its HTTP request (for an abrupt cut of the TCP connection).
    """

    def __init__(self, id: str, app_id: str, ws: web.WebSocketResponse, request: web.Request) -> None:
        super().__init__(id, app_id)
        self.ws = ws
        self.request = request

    @property
    def closed(self) -> bool:
        return self.ws.closed

    async def send(self, text: str) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_str(text)

    async def close(self) -> None:
        await self.ws.close()

    def abort(self) -> None:
        """Cut the TCP connection without a close frame (the client notices by its pings)."""
        if self.request.transport is not None:
            self.request.transport.abort()


class Occupant(Connection):
    """A slot held by another client of the app: it takes the envelopes handed to it and acks each at
    once (``acks``) or never.

    :param ack: hands an ack (the frame a client would send) to the hub.
    :param acks: ack what it gets; may be changed while it holds the slot.
    """

    def __init__(self, id: str, app_id: str, ack: Callable[[Connection, str], None], *, acks: bool) -> None:
        super().__init__(id, app_id)
        self.acks = acks
        self.received: list[dict[str, Any]] = []  # the envelopes handed to it, in order
        self._ack = ack
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    async def send(self, text: str) -> None:
        if self._closed:
            return
        frame = json.loads(text)
        if "envelope_id" not in frame:
            return
        self.received.append(frame)
        if self.acks:
            self._ack(self, json.dumps({"envelope_id": frame["envelope_id"]}))

    async def close(self) -> None:
        self._closed = True
