"""The emulator's Gateway spoken to directly over a websocket (aiohttp): the handshake's close codes,
sessions fanned out, resume and invalid session, and message content without the privileged intent."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

GUILDS, GUILD_MESSAGES, MESSAGE_CONTENT = 1 << 0, 1 << 9, 1 << 15

pytestmark = pytest.mark.timeout(60)


class Socket:
    """One raw Gateway connection: receive payloads, send ops."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def receive(self, timeout: float = 10.0) -> dict[str, Any]:
        message = await asyncio.wait_for(self.ws.receive(), timeout)
        if message.type != aiohttp.WSMsgType.TEXT:
            return {"closed": self.ws.close_code, "type": str(message.type)}
        return json.loads(message.data)

    async def until(self, name: str) -> dict[str, Any]:
        while True:
            payload = await self.receive()
            if "closed" in payload:
                raise AssertionError(f"closed with {payload['closed']} while waiting for {name}")
            if payload.get("t") == name:
                return payload

    async def send(self, op: int, d: Any) -> None:
        await self.ws.send_str(json.dumps({"op": op, "d": d}))

    async def identify(self, token: str, intents: int, shard: list[int] | None = None) -> dict[str, Any]:
        await self.send(2, {"token": token, "intents": intents, "properties": {}, "shard": shard or [0, 1]})
        return await self.until("READY")


async def connect(session: aiohttp.ClientSession, url: str) -> Socket:
    socket = Socket(await session.ws_connect(f"{url}?v=10&encoding=json"))
    hello = await socket.receive()
    assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
    return socket


def run(coro_fn) -> None:
    async def main():
        async with aiohttp.ClientSession() as session:
            await coro_fn(session)

    asyncio.run(main())


@pytest.mark.parametrize(("first", "code"), [
    ({"op": 2, "d": {"token": "not-a-token", "intents": 513}}, 4004),
    ({"op": 2, "d": {"token": None, "intents": 1 << 40}}, 4004),
    ({"op": 3, "d": {"status": "online"}}, 4003),
    ({"op": 99, "d": None}, 4001),
    ("not json", 4002),
])
def test_handshake_errors_close_with_discords_codes(discord_emulator, first, code):
    emu = discord_emulator

    async def scenario(session):
        socket = await connect(session, emu.gateway_url)
        await socket.ws.send_str(first if isinstance(first, str) else json.dumps(first))
        assert (await socket.receive())["closed"] == code

    run(scenario)


def test_invalid_intents_close_with_4013_and_disallowed_ones_with_4014(discord_emulator):
    emu = discord_emulator

    async def scenario(session):
        socket = await connect(session, emu.gateway_url)
        await socket.send(2, {"token": emu.bot_token, "intents": 1 << 40})
        assert (await socket.receive())["closed"] == 4013
        emu.set_message_content_intent(False)
        socket = await connect(session, emu.gateway_url)
        await socket.send(2, {"token": emu.bot_token, "intents": GUILD_MESSAGES | MESSAGE_CONTENT})
        assert (await socket.receive())["closed"] == 4014

    run(scenario)


def test_every_session_on_the_guilds_shard_receives_each_dispatch(discord_emulator):
    emu = discord_emulator
    shard_of_guild = (int(emu.guild_id) >> 22) % 2

    async def scenario(session):
        first, second, other_shard = [await connect(session, emu.gateway_url) for _ in range(3)]
        await first.identify(emu.bot_token, GUILD_MESSAGES | MESSAGE_CONTENT)
        await second.identify(emu.bot_token, GUILD_MESSAGES | MESSAGE_CONTENT)
        await other_shard.identify(emu.bot_token, GUILD_MESSAGES, shard=[1 - shard_of_guild, 2])
        message_id = await asyncio.to_thread(emu.act_as("alice").post, "ml-alerts", "hello")
        for socket in (first, second):
            event = await socket.until("MESSAGE_CREATE")
            assert event["d"]["id"] == message_id and event["d"]["content"] == "hello"
            assert event["d"]["guild_id"] == emu.guild_id and event["d"]["member"]["roles"]
        with pytest.raises(asyncio.TimeoutError):
            await other_shard.receive(timeout=0.5)

    run(scenario)


def test_without_message_content_events_carry_no_content_but_the_bots_own(discord_emulator):
    emu = discord_emulator

    async def scenario(session):
        socket = await connect(session, emu.gateway_url)
        ready = await socket.identify(emu.bot_token, GUILDS | GUILD_MESSAGES)
        assert ready["s"] == 1 and ready["d"]["resume_gateway_url"].endswith("/gateway/resume")
        guild = await socket.until("GUILD_CREATE")
        assert {c["name"] for c in guild["d"]["channels"]} == {"ml-alerts", "ops", "ml-private"}
        await asyncio.to_thread(emu.act_as("alice").post, "ml-alerts", "approve", embeds=[{"title": "x"}])
        event = await socket.until("MESSAGE_CREATE")
        assert (event["d"]["content"], event["d"]["embeds"]) == ("", [])
        await asyncio.to_thread(emu.act_as("chat-alerts").post, "ml-alerts", "my own")
        assert (await socket.until("MESSAGE_CREATE"))["d"]["content"] == "my own"

    run(scenario)
    emu.set_message_content_intent(False)
    [theirs, ours] = emu.act_as("chat-alerts").call("GET", f"/channels/{emu.channel_id('ml-alerts')}/messages")[::-1]
    assert (theirs["content"], ours["content"]) == ("", "my own")  # REST reads follow the application's switch


def test_resume_replays_after_the_given_sequence_and_a_stale_session_is_invalid(discord_emulator):
    emu = discord_emulator

    async def scenario(session):
        socket = await connect(session, emu.gateway_url)
        ready = await socket.identify(emu.bot_token, GUILD_MESSAGES | MESSAGE_CONTENT)
        session_id, seq = ready["d"]["session_id"], ready["s"]
        await socket.ws.close(code=4000)  # not 1000/1001: the session stays resumable
        missed = [await asyncio.to_thread(emu.act_as("bob").post, "ml-alerts", f"missed {i}") for i in range(2)]
        resumed = await connect(session, ready["d"]["resume_gateway_url"])
        await resumed.send(6, {"token": emu.bot_token, "session_id": session_id, "seq": seq})
        replayed = [await resumed.receive() for _ in range(3)]
        assert [p.get("t") for p in replayed] == ["MESSAGE_CREATE", "MESSAGE_CREATE", "RESUMED"]
        assert [p["d"].get("id") for p in replayed[:2]] == missed
        assert [p["s"] for p in replayed] == [seq + 1, seq + 2, seq + 3]
        await resumed.ws.close(code=1000)  # a clean close ends the session
        again = await connect(session, emu.gateway_url)
        await again.send(6, {"token": emu.bot_token, "session_id": session_id, "seq": seq + 3})
        assert await again.receive() == {"op": 9, "d": False, "s": None, "t": None}

    run(scenario)
