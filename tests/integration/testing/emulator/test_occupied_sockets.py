"""Slots of the app held by another client of it (another triggerer): they count toward the 10, take
envelopes at random like any connection, and ack them at once or never."""

from __future__ import annotations

import asyncio

import pytest

from airflow_chat_alerts.testing import ClickFailed

from .socket_apps import QUESTION_BLOCKS, App, in_thread, socket_calls, until


def _question(emulator) -> str:
    return emulator.client().chat_postMessage(channel=emulator.channel_id("ml-alerts"), text="Deploy?",
                                              blocks=QUESTION_BLOCKS)["ts"]


def test_a_client_finding_every_slot_held_is_refused_until_they_are_freed(slack_emulator):
    others = slack_emulator.occupy_sockets(10)
    assert slack_emulator.open_sockets() == 10 and others.held == 10

    async def scenario():
        app = App(slack_emulator)
        app.client.ping_interval = 0.1  # slack_sdk's pause between connection attempts
        await app.client.connect()
        try:
            await until(lambda: socket_calls(slack_emulator, "socket.refused", reason="too_many_websockets"),
                        "the refusal")
            assert not any(m.get("type") == "hello" for m in app.messages)
            assert await in_thread(others.release) == 10
            await until(lambda: any(m.get("type") == "hello" for m in app.messages), "hello once slots are free")
            return next(m for m in app.messages if m.get("type") == "hello")
        finally:
            await app.__aexit__()

    hello = asyncio.run(scenario())
    assert hello["num_connections"] == 1
    assert others.held == 0 and others.release() == 0  # released once


def test_held_slots_count_in_hello_and_take_envelopes_which_they_ack(slack_emulator):
    slack_emulator.configure_sockets(seed=3)
    others = slack_emulator.occupy_sockets(2)
    alice = slack_emulator.act_as("alice")

    async def scenario():
        async with App(slack_emulator) as app:
            await until(lambda: app.messages, "hello")
            for i in range(20):
                await in_thread(alice.post, "ml-alerts", f"message {i}")
            await until(lambda: len(app.events()) + len(others.envelopes()) >= 20, "twenty deliveries")
            return app.messages[0], [e["text"] for e in app.events()]

    hello, texts = asyncio.run(scenario())
    assert hello["num_connections"] == 3
    elsewhere = [e["payload"]["event"]["text"] for e in others.envelopes()]
    assert elsewhere and texts  # spread among all three connections
    assert sorted(texts + elsewhere) == sorted(f"message {i}" for i in range(20))
    assert {e["type"] for e in others.envelopes()} == {"events_api"}
    acked = {c.args["envelope_id"] for c in slack_emulator.journal.calls("socket.ack") if c.error is None}
    assert {e["envelope_id"] for e in others.envelopes()} <= acked
    assert not slack_emulator.journal.calls("socket.expired")
    opened = [c for c in socket_calls(slack_emulator, "socket.open") if c.args.get("occupant")]
    assert [c.args["connection"] for c in opened] == others.connections


def test_a_click_handed_to_a_slot_that_never_acks_fails_and_events_are_retried_elsewhere(slack_emulator):
    slack_emulator.configure_sockets(ack_timeout=0.2, seed=2)
    ts = _question(slack_emulator)  # posted while no socket is open: its event goes nowhere
    others = slack_emulator.occupy_sockets(1, acks=False)
    with pytest.raises(ClickFailed) as info:
        slack_emulator.act_as("alice").click("ml-alerts", ts, "approve")
    assert info.value.reason == "not_acknowledged"
    assert [e["type"] for e in others.envelopes()] == ["interactive"]
    others.acks = True
    payload = slack_emulator.act_as("alice").click("ml-alerts", ts, "approve")
    assert others.envelopes()[-1]["payload"] == payload

    others.acks = False

    async def scenario():
        async with App(slack_emulator) as app:
            await until(lambda: app.messages, "hello")
            await in_thread(slack_emulator.act_as("bob").post, "ml-alerts", "an event nobody else acks")
            await until(lambda: app.events(), "the event, retried until it reaches the app")
            return app.requests

    [request] = asyncio.run(scenario())
    envelopes = socket_calls(slack_emulator, "socket.envelope", type="events_api")
    # (the seed sends the first attempt to the silent slot) the retry reached the app's own socket
    assert [e.args["connection"] == others.connections[0] for e in envelopes] == [True] * (len(envelopes) - 1) + [False]
    assert len(envelopes) >= 2 and request.retry_attempt == len(envelopes) - 1


def test_held_slots_outlast_drops_disconnects_and_refreshes_but_not_reset(slack_emulator):
    slack_emulator.configure_sockets(refresh_after=0.3, refresh_warning=0.1, refresh_grace=0.1)
    others = slack_emulator.occupy_sockets(3)

    async def scenario():
        async with App(slack_emulator) as app:
            await until(lambda: app.messages, "hello")
            assert await in_thread(slack_emulator.drop_sockets) == 1  # the app's own socket only
            assert await in_thread(slack_emulator.send_disconnect, "refresh_requested") <= 1
            await until(lambda: len(socket_calls(slack_emulator, "socket.disconnect", scheduled=True)) >= 2,
                        "a scheduled refresh of the app's socket")

    asyncio.run(scenario())
    assert others.held == 3
    touched = {c.args["connection"] for c in slack_emulator.journal.calls("socket.disconnect")}
    assert not touched & set(others.connections)
    assert others.release(1) == 1 and others.held == 2
    closes = [c for c in socket_calls(slack_emulator, "socket.close") if c.args.get("occupant")]
    assert [(c.args["connection"], c.args["by"]) for c in closes] == [(others.connections[0], "client")]
    slack_emulator.reset()
    assert slack_emulator.open_sockets() == 0 and others.held == 0


def test_only_free_slots_can_be_held(slack_emulator):
    with slack_emulator.occupy_sockets(7):
        with pytest.raises(ValueError, match="3 of the app.s 10 slots are free"):
            slack_emulator.occupy_sockets(4)
        with pytest.raises(ValueError):
            slack_emulator.occupy_sockets(0)
        assert slack_emulator.occupy_sockets(3).held == 3
        assert slack_emulator.open_sockets() == 10


def test_revoking_the_app_token_closes_held_slots_too(slack_emulator):
    others = slack_emulator.occupy_sockets(2)
    slack_emulator.revoke_token(slack_emulator.app_token)
    assert others.held == 0 and slack_emulator.open_sockets() == 0
    closes = [c for c in socket_calls(slack_emulator, "socket.close") if c.args.get("occupant")]
    assert {c.args["by"] for c in closes} == {"server"} and len(closes) == 2
