"""Slack refreshes Socket Mode connections unprompted: disconnect / warning, then refresh_requested after
the period hello announces (approximate_connection_time), then it closes a socket the client keeps."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from slack_sdk import WebClient

from . import schemas
from .socket_apps import App, in_thread, socket_calls, until


def _ws_url(emulator, *, debug: bool = False) -> str:
    url = WebClient(base_url=emulator.base_url).apps_connections_open(app_token=emulator.app_token)["url"]
    return url + "&debug_reconnects=true" if debug else url


def test_hello_announces_slacks_period_and_360_s_with_debug_reconnects(slack_emulator):
    async def hello(url: str) -> dict:
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            return await ws.receive_json(timeout=10)

    plain = asyncio.run(hello(_ws_url(slack_emulator)))
    debug = asyncio.run(hello(_ws_url(slack_emulator, debug=True)))
    schemas.assert_payload("hello", plain)
    assert plain["debug_info"]["approximate_connection_time"] == 18060
    assert debug["debug_info"]["approximate_connection_time"] == 360
    slack_emulator.configure_sockets(refresh_after=2)
    assert asyncio.run(hello(_ws_url(slack_emulator, debug=True)))["debug_info"]["approximate_connection_time"] == 2
    slack_emulator.reset()
    assert asyncio.run(hello(_ws_url(slack_emulator)))["debug_info"]["approximate_connection_time"] == 18060


def test_a_socket_the_client_keeps_gets_warning_then_refresh_requested_then_is_closed(slack_emulator):
    slack_emulator.configure_sockets(refresh_after=1.0, refresh_warning=0.4, refresh_grace=0.3)
    url = _ws_url(slack_emulator)

    async def scenario():
        frames = []
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            async for message in ws:  # a client that never leaves by itself
                if message.type == aiohttp.WSMsgType.TEXT:
                    frames.append(message.json())
            return frames, ws.closed

    frames, closed = asyncio.run(scenario())
    assert [f["type"] for f in frames] == ["hello", "disconnect", "disconnect"]
    assert frames[0]["debug_info"]["approximate_connection_time"] == 1
    assert [f["reason"] for f in frames[1:]] == ["warning", "refresh_requested"]
    for frame in frames[1:]:
        schemas.assert_payload("disconnect", frame)
    assert closed
    disconnects = socket_calls(slack_emulator, "socket.disconnect")
    assert [(c.args["reason"], c.args["scheduled"]) for c in disconnects] == [("warning", True),
                                                                              ("refresh_requested", True)]
    [close] = socket_calls(slack_emulator, "socket.close")
    assert close.args["by"] == "server"


def test_slack_sdks_client_follows_the_unprompted_refresh_and_keeps_getting_events(slack_emulator):
    slack_emulator.configure_sockets(refresh_after=1.0)

    async def scenario():
        async with App(slack_emulator) as app:
            await until(lambda: len(socket_calls(slack_emulator, "socket.open")) >= 3, "two refreshes")
            await until(lambda: slack_emulator.open_sockets() == 1, "one socket after the refresh")
            await in_thread(slack_emulator.act_as("alice").post, "ml-alerts", "after the refresh")
            await until(lambda: app.events(), "an event on the refreshed socket")
            return [m for m in app.messages if m.get("type") == "hello"]

    hellos = asyncio.run(scenario())
    assert len(hellos) >= 3 and all(h["num_connections"] == 1 for h in hellos)
    # slack_sdk leaves at the warning, so the refresh_requested finds no old socket to close
    assert {c.args["reason"] for c in socket_calls(slack_emulator, "socket.disconnect")} <= {"warning",
                                                                                           "refresh_requested"}
    assert {c.args["by"] for c in socket_calls(slack_emulator, "socket.close")} == {"client"}


def test_a_debug_reconnects_client_is_told_360_s(slack_emulator):
    async def scenario():
        async with App(slack_emulator, debug_reconnects=True) as app:
            await until(lambda: app.messages, "hello")
            return app.messages[0]

    assert asyncio.run(scenario())["debug_info"]["approximate_connection_time"] == 360


def test_refresh_settings_must_be_positive(slack_emulator):
    for bad in ({"refresh_after": 0}, {"refresh_warning": -1}, {"refresh_grace": 0}):
        with pytest.raises(ValueError, match="must be positive"):
            slack_emulator.configure_sockets(**bad)
