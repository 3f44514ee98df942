"""Socket Mode and interactivity, driven by slack_sdk's own aiohttp SocketModeClient over a real websocket."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import aiohttp
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from airflow_chat_alerts.testing import ButtonNotFound, ClickFailed, SlackEmulator, Workspace

from . import schemas
from .socket_apps import QUESTION_BLOCKS, App, in_thread, socket_calls, until

# --- apps.connections.open --------------------------------------------------------------------------


def test_connections_open_wants_the_app_level_token_with_connections_write(slack_emulator):
    api = WebClient(base_url=slack_emulator.base_url)
    url = api.apps_connections_open(app_token=slack_emulator.app_token)["url"]
    assert url.startswith(f"ws://127.0.0.1:{slack_emulator.port}/link/?ticket=")
    assert url.endswith(f"&app_id={slack_emulator.app_id}")

    def error(token: str, method: str = "apps.connections.open") -> str:
        with pytest.raises(SlackApiError) as info:
            api.api_call(method, params={"token": token})
        return info.value.response["error"]

    assert error(slack_emulator.bot_token) == "not_allowed_token_type"
    assert error(slack_emulator.token_for("alice")) == "not_allowed_token_type"
    assert error("xapp-1-A0OTHER-nope") == "invalid_auth"
    assert error(slack_emulator.app_token, "chat.postMessage") == "not_allowed_token_type"
    slack_emulator.revoke_token(slack_emulator.app_token)
    assert error(slack_emulator.app_token) == "token_revoked"

    workspace = dataclasses.replace(Workspace.default(), app_token_scopes=frozenset({"authorizations:read"}))
    with SlackEmulator(workspace) as emu, pytest.raises(SlackApiError) as info:
        WebClient(base_url=emu.base_url).apps_connections_open(app_token=emu.app_token)
    assert info.value.response["error"] == "missing_scope"
    assert info.value.response["needed"] == "connections:write"


def test_connections_open_is_tier_1_and_answers_429_with_retry_after_over_it(slack_emulator):
    slack_emulator.set_rate_limits("realistic")
    api = WebClient(base_url=slack_emulator.base_url)
    assert api.apps_connections_open(app_token=slack_emulator.app_token)["ok"]
    with pytest.raises(SlackApiError) as info:
        api.apps_connections_open(app_token=slack_emulator.app_token)
    assert info.value.response.status_code == 429 and info.value.response["error"] == "ratelimited"
    assert 1 <= int(info.value.response.headers["Retry-After"]) <= 60
    slack_emulator.clock.advance(60)
    assert api.apps_connections_open(app_token=slack_emulator.app_token)["ok"]
    assert [c.status for c in slack_emulator.journal.calls("apps.connections.open")] == [200, 429, 200]


def test_a_ticket_opens_one_socket_and_the_first_message_is_hello(slack_emulator):
    url = WebClient(base_url=slack_emulator.base_url).apps_connections_open(app_token=slack_emulator.app_token)["url"]

    async def scenario():
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            hello = await ws.receive_json(timeout=10)
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(url)
            return hello, refused.value.status

    hello, status = asyncio.run(scenario())
    assert hello["type"] == "hello" and hello["num_connections"] == 1
    assert hello["connection_info"] == {"app_id": slack_emulator.app_id}
    assert set(hello["debug_info"]) >= {"host", "approximate_connection_time"}
    assert status == 401
    assert [c.args["reason"] for c in slack_emulator.journal.calls("socket.refused")] == ["invalid_ticket"]


def test_slack_sdk_socket_mode_client_connects_and_counts_connections(slack_emulator):
    async def scenario():
        async with App(slack_emulator) as first, App(slack_emulator) as second:
            await until(lambda: first.messages and second.messages, "two hellos")
            return first.messages[0], second.messages[0], slack_emulator.open_sockets()

    first, second, open_during = asyncio.run(scenario())
    assert first["type"] == second["type"] == "hello"
    assert (first["num_connections"], second["num_connections"]) == (1, 2)
    assert open_during == 2
    slack_emulator.wait_for_sockets(0)
    assert len(slack_emulator.journal.calls("socket.open")) == 2
    assert {c.args["by"] for c in slack_emulator.journal.calls("socket.close")} == {"client"}


# --- Events API ---------------------------------------------------------------------------------


def test_replies_and_reactions_arrive_as_events_in_channels_the_app_is_in(slack_emulator):
    ml = slack_emulator.channel_id("ml-alerts")
    alice, carol = slack_emulator.act_as("alice"), slack_emulator.act_as("carol")

    async def scenario():
        async with App(slack_emulator) as app:
            await until(lambda: app.messages, "hello")
            ts = await in_thread(slack_emulator.act_as("chat-alerts").post, "ml-alerts", "Deploy?")
            reply = await in_thread(alice.reply, "ml-alerts", ts, "approve")
            await in_thread(carol.react, "ml-alerts", ts, "thumbsup")
            await in_thread(carol.unreact, "ml-alerts", ts, "thumbsup")
            await in_thread(alice.edit, "ml-alerts", reply, "approve!")
            await in_thread(alice.post, "ops", "not the app's channel")
            await in_thread(alice.delete, "ml-alerts", reply)
            await until(lambda: len(app.events()) == 6, "six events")
            return ts, reply, app.requests

    ts, reply, requests = asyncio.run(scenario())
    payloads = [r.payload for r in requests]
    assert {r.type for r in requests} == {"events_api"}
    assert [r.retry_attempt for r in requests] == [0] * 6
    assert all(p["type"] == "event_callback" and p["api_app_id"] == slack_emulator.app_id for p in payloads)
    assert all(p["team_id"] == slack_emulator.team_id and p["event_id"].startswith("Ev") for p in payloads)
    assert len({p["event_id"] for p in payloads}) == 6
    question, answer, added, removed, edited, deleted = (p["event"] for p in payloads)
    assert question["type"] == "message" and question["ts"] == ts and question["bot_id"] == slack_emulator.bot_id
    assert answer["type"] == "message" and answer["text"] == "approve" and answer["thread_ts"] == ts
    assert answer["user"] == slack_emulator.user_id("alice") and answer["channel"] == ml
    assert added["type"] == "reaction_added" and added["reaction"] == "+1"
    assert added["user"] == slack_emulator.user_id("carol") and added["item_user"] == slack_emulator.bot_user_id
    assert added["item"] == {"type": "message", "channel": ml, "ts": ts} and added["event_ts"]
    assert removed["type"] == "reaction_removed" and removed["item"]["ts"] == ts
    assert edited["subtype"] == "message_changed" and edited["channel"] == ml
    assert edited["message"]["text"] == "approve!" and edited["previous_message"]["text"] == "approve"
    assert deleted["subtype"] == "message_deleted" and deleted["deleted_ts"] == reply
    assert deleted["previous_message"]["text"] == "approve!"
    assert len(slack_emulator.journal.calls("socket.ack", error=None)) == 6


def test_deleting_a_thread_parent_with_replies_is_a_change_to_a_tombstone(slack_emulator):
    alice = slack_emulator.act_as("alice")
    parent = alice.post("ml-private", "question")
    alice.reply("ml-private", parent, "answer")

    async def scenario():
        async with App(slack_emulator) as app:
            await until(lambda: app.messages, "hello")
            await in_thread(alice.delete, "ml-private", parent)
            await until(lambda: app.events(), "the event")
            return app.events()

    [event] = asyncio.run(scenario())
    assert event["subtype"] == "message_changed" and event["channel_type"] == "group"
    assert event["message"]["subtype"] == "tombstone" and event["previous_message"]["text"] == "question"


def test_revoking_the_app_token_closes_its_sockets(slack_emulator):
    async def scenario():
        app = App(slack_emulator)
        app.client.auto_reconnect_enabled = app.client.default_auto_reconnect_enabled = False
        await app.client.connect()
        try:
            await until(lambda: app.messages, "hello")
            await in_thread(slack_emulator.revoke_token, slack_emulator.app_token)
            await until(lambda: slack_emulator.open_sockets() == 0, "the socket to close")
            with pytest.raises(SlackApiError) as info:
                await app.client.web_client.apps_connections_open(app_token=slack_emulator.app_token)
            return info.value.response["error"]
        finally:
            await app.__aexit__()

    assert asyncio.run(scenario()) == "token_revoked"
    assert slack_emulator.journal.calls("socket.close")[0].args["by"] == "server"


def test_events_are_not_delivered_while_no_socket_is_open(slack_emulator):
    slack_emulator.act_as("alice").post("ml-alerts", "nobody listens")

    async def scenario():
        async with App(slack_emulator) as app:
            await until(lambda: app.messages, "hello")
            await in_thread(slack_emulator.act_as("alice").post, "ml-alerts", "now someone does")
            await until(lambda: app.events(), "an event")
            await asyncio.sleep(0.2)  # let anything queued arrive: only one message may
            return app.events()

    events = asyncio.run(scenario())
    assert [e["text"] for e in events] == ["now someone does"]


def test_an_unacknowledged_event_is_retried_three_times_then_dropped(slack_emulator):
    slack_emulator.configure_sockets(ack_timeout=0.2)

    async def scenario():
        async with App(slack_emulator, ack=False) as app:
            await until(lambda: app.messages, "hello")
            await in_thread(slack_emulator.act_as("alice").post, "ml-alerts", "ping")
            await until(lambda: socket_calls(slack_emulator, "socket.expired"), "the event to expire")
            return app.requests

    requests = asyncio.run(scenario())
    assert [(r.retry_attempt, r.retry_reason) for r in requests] == [(0, ""), (1, "timeout"), (2, "timeout"),
                                                                     (3, "timeout")]
    assert len({r.payload["event_id"] for r in requests}) == 1
    assert len({r.envelope_id for r in requests}) == 4


def test_a_lost_ack_gets_the_event_again_until_an_ack_arrives(slack_emulator):
    slack_emulator.configure_sockets(ack_timeout=0.2)
    slack_emulator.lose_acks(1)

    async def scenario():
        async with App(slack_emulator) as app:
            await until(lambda: app.messages, "hello")
            await in_thread(slack_emulator.act_as("alice").post, "ml-alerts", "ping")
            await until(lambda: socket_calls(slack_emulator, "socket.ack") and len(app.requests) == 2, "the retry")
            await asyncio.sleep(0.5)  # more than the ack timeout: no third delivery may follow
            return app.requests

    requests = asyncio.run(scenario())
    assert [r.retry_attempt for r in requests] == [0, 1]
    assert [c.error for c in slack_emulator.journal.calls("socket.ack")] == ["lost", None]
    assert not slack_emulator.journal.calls("socket.expired")


def test_late_acks_count_for_the_event_and_stop_its_retries(slack_emulator):
    slack_emulator.configure_sockets(ack_timeout=0.2)
    slack_emulator.delay_acks(0.3)

    async def scenario():
        async with App(slack_emulator) as app:
            await until(lambda: app.messages, "hello")
            await in_thread(slack_emulator.act_as("alice").post, "ml-alerts", "ping")
            await until(lambda: socket_calls(slack_emulator, "socket.ack"), "the delayed ack")
            await asyncio.sleep(1.0)  # past every retry the event could still get
            return app.requests

    requests = asyncio.run(scenario())
    assert 2 <= len(requests) <= 4 and requests[1].retry_reason == "timeout"
    assert not slack_emulator.journal.calls("socket.expired")
    assert [c.error for c in slack_emulator.journal.calls("socket.ack")][0] is None


def test_the_client_comes_back_after_its_connection_is_cut(slack_emulator):
    async def scenario():
        app = App(slack_emulator)
        app.client.ping_interval = 0.2  # how soon the client notices a dead connection
        await app.client.connect()
        try:
            await until(lambda: app.messages, "hello")
            assert await in_thread(slack_emulator.drop_sockets, abrupt=True) == 1
            await until(lambda: len(socket_calls(slack_emulator, "socket.open")) == 2, "a new connection")
            await until(lambda: slack_emulator.open_sockets() == 1, "one socket")
            await in_thread(slack_emulator.act_as("alice").post, "ml-alerts", "back?")
            await until(lambda: app.events(), "an event on the new socket")
        finally:
            await app.__aexit__()

    asyncio.run(scenario())
    assert slack_emulator.journal.calls("socket.close")[0].args["by"] == "server"


def test_each_envelope_goes_to_exactly_one_connection(slack_emulator):
    slack_emulator.configure_sockets(seed=7)
    alice = slack_emulator.act_as("alice")

    async def scenario():
        async with App(slack_emulator) as a, App(slack_emulator) as b, App(slack_emulator) as c:
            apps = (a, b, c)
            await until(lambda: all(app.messages for app in apps), "three hellos")
            for i in range(30):
                await in_thread(alice.post, "ml-alerts", f"message {i}")
            await until(lambda: sum(len(app.events()) for app in apps) >= 30, "thirty events")
            await asyncio.sleep(0.2)  # any duplicate would have arrived by now
            return [[e["text"] for e in app.events()] for app in apps]

    per_app = asyncio.run(scenario())
    received = [text for texts in per_app for text in texts]
    assert sorted(received) == sorted(f"message {i}" for i in range(30))
    assert all(texts for texts in per_app), per_app  # spread at random, not all to one


def test_an_eleventh_connection_is_told_too_many_websockets(slack_emulator):
    api = WebClient(base_url=slack_emulator.base_url)

    async def scenario():
        apps = [App(slack_emulator) for _ in range(10)]
        try:
            for app in apps:
                await app.client.connect()
            await until(lambda: all(app.messages for app in apps), "ten hellos")
            url = (await in_thread(api.apps_connections_open, app_token=slack_emulator.app_token))["url"]
            async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
                first = await ws.receive_json(timeout=10)
                closing = await ws.receive(timeout=10)
            return first, closing.type, slack_emulator.open_sockets(), [app.messages[0] for app in apps]
        finally:
            for app in apps:
                await app.__aexit__()

    first, closing, open_then, hellos = asyncio.run(scenario())
    assert first["type"] == "disconnect" and first["reason"] == "too_many_websockets"
    # as Slack sends it (SDK issue reports quote it): the reason and its host, no connection count
    schemas.assert_payload("disconnect", first)
    assert closing in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
    assert open_then == 10
    assert sorted(h["num_connections"] for h in hellos) == list(range(1, 11))


def test_the_client_follows_a_refresh_and_a_dropped_socket(slack_emulator):
    async def scenario():
        async with App(slack_emulator) as app:
            await until(lambda: app.messages, "hello")
            assert await in_thread(slack_emulator.send_disconnect, "refresh_requested") == 1
            await until(lambda: len(socket_calls(slack_emulator, "socket.open")) == 2, "a second connection")
            await until(lambda: slack_emulator.open_sockets() == 1, "the old socket to close")
            assert await in_thread(slack_emulator.drop_sockets) == 1
            await until(lambda: len(socket_calls(slack_emulator, "socket.open")) == 3, "a third connection")
            await until(lambda: slack_emulator.open_sockets() == 1, "one socket again")
            await in_thread(slack_emulator.act_as("alice").post, "ml-alerts", "still there?")
            await until(lambda: app.events(), "an event on the new socket")
            return [m.get("type") for m in app.messages]

    types = asyncio.run(scenario())
    assert types.count("hello") == 3  # slack_sdk handles disconnect itself: its listeners never see it
    assert [c.args["reason"] for c in slack_emulator.journal.calls("socket.disconnect")] == ["refresh_requested"]
    closes = slack_emulator.journal.calls("socket.close")
    assert [c.args["by"] for c in closes[:2]] == ["client", "server"]


def test_refused_handshakes_and_a_failing_connections_open_are_retried_by_the_client(slack_emulator):
    slack_emulator.refuse_sockets(1)
    slack_emulator.faults.add("apps.connections.open", "503")

    async def scenario():
        app = App(slack_emulator)
        app.client.ping_interval = 0.1  # the client's pause between connection attempts
        task = asyncio.ensure_future(app.client.connect())
        try:
            await until(lambda: app.messages, "hello after the refusals")
        finally:
            await task
            await app.__aexit__()

    asyncio.run(scenario())
    assert [c.error for c in slack_emulator.journal.calls("apps.connections.open")][:2] == ["service_unavailable", None]
    assert [c.args["reason"] for c in slack_emulator.journal.calls("socket.refused")] == ["refused"]


def test_reset_closes_sockets(slack_emulator):
    async def scenario():
        app = App(slack_emulator)
        app.client.auto_reconnect_enabled = app.client.default_auto_reconnect_enabled = False
        await app.client.connect()
        try:
            await until(lambda: app.messages, "hello")
            await in_thread(slack_emulator.reset)
            return slack_emulator.open_sockets()
        finally:
            await app.__aexit__()

    assert asyncio.run(scenario()) == 0


# --- buttons --------------------------------------------------------------------------------------


def test_a_click_arrives_as_block_actions_with_the_verified_user(slack_emulator):
    ml = slack_emulator.channel_id("ml-alerts")
    ts = slack_emulator.client().chat_postMessage(channel=ml, text="Deploy?", blocks=QUESTION_BLOCKS)["ts"]
    alice = slack_emulator.act_as("alice")

    async def scenario():
        async with App(slack_emulator) as app:
            await until(lambda: app.messages, "hello")
            sent = await alice.click_async("ml-alerts", ts, "approve")
            await until(lambda: any(r.type == "interactive" for r in app.requests), "the interaction")
            with pytest.raises(ButtonNotFound):
                await alice.click_async("ml-alerts", ts, "escalate")
            return sent, [r for r in app.requests if r.type == "interactive"]

    sent, interactions = asyncio.run(scenario())
    assert len(interactions) == 1
    payload = interactions[0].payload
    assert payload == sent
    assert payload["type"] == "block_actions"
    assert payload["user"] == {"id": "U0ALICE", "username": "alice", "name": "alice", "team_id": slack_emulator.team_id}
    assert payload["api_app_id"] == slack_emulator.app_id
    assert payload["container"]["type"] == "message" and payload["container"]["message_ts"] == ts
    assert payload["container"]["channel_id"] == ml and payload["channel"]["id"] == ml
    assert payload["message"]["ts"] == ts
    section, buttons = payload["message"]["blocks"]
    assert buttons == QUESTION_BLOCKS[1] and section == {**QUESTION_BLOCKS[0], "block_id": section["block_id"]}
    assert payload["trigger_id"] and payload["response_url"]
    [action] = payload["actions"]
    assert action["type"] == "button" and action["action_id"] == "approve"
    assert action["block_id"] == "decision" and action["value"] == "ask-123" and action["action_ts"]
    assert interactions[0].accepts_response_payload is False and interactions[0].retry_attempt is None


def test_a_click_with_no_socket_open_fails_at_once(slack_emulator):
    ml = slack_emulator.channel_id("ml-alerts")
    ts = slack_emulator.client().chat_postMessage(channel=ml, text="Deploy?", blocks=QUESTION_BLOCKS)["ts"]
    with pytest.raises(ClickFailed) as info:
        slack_emulator.act_as("alice").click("ml-alerts", ts, "reject")
    assert info.value.reason == "no_connection"
    assert info.value.payload["actions"][0]["action_id"] == "reject"
    assert not slack_emulator.journal.calls("socket.envelope")


def test_an_unacknowledged_click_fails_and_is_never_delivered_again(slack_emulator):
    slack_emulator.configure_sockets(ack_timeout=0.2)
    ml = slack_emulator.channel_id("ml-alerts")
    ts = slack_emulator.client().chat_postMessage(channel=ml, text="Deploy?", blocks=QUESTION_BLOCKS)["ts"]

    async def scenario():
        async with App(slack_emulator, ack=False) as app:
            await until(lambda: app.messages, "hello")
            with pytest.raises(ClickFailed) as info:
                await slack_emulator.act_as("bob").click_async("ml-alerts", ts, "approve")
            await asyncio.sleep(0.6)  # three ack timeouts: a retry would have come by now
            return info.value.reason, [r for r in app.requests if r.type == "interactive"]

    reason, interactions = asyncio.run(scenario())
    assert reason == "not_acknowledged"
    assert len(interactions) == 1
    assert len(socket_calls(slack_emulator, "socket.envelope", type="interactive")) == 1


# --- chat.postEphemeral ---------------------------------------------------------------------------


def test_post_ephemeral_shows_to_one_person_and_never_in_history(slack_emulator, bot, ml):
    ts = bot.chat_postMessage(channel=ml, text="Deploy?")["ts"]
    answer = bot.chat_postEphemeral(channel=ml, user="U0BOB", text="you are not an approver", thread_ts=ts)
    assert answer["message_ts"]
    [shown] = slack_emulator.ephemeral_messages("bob")
    assert shown["text"] == "you are not an approver" and shown["channel"] == ml and shown["thread_ts"] == ts
    assert shown["user"] == slack_emulator.bot_user_id
    assert slack_emulator.ephemeral_messages("alice") == []
    assert slack_emulator.ephemeral_messages("bob", "ml-private") == []
    assert [m["text"] for m in slack_emulator.messages("ml-alerts")] == ["Deploy?"]
    assert bot.conversations_replies(channel=ml, ts=ts)["messages"][0].get("reply_count") is None

    def error(**kwargs: Any) -> str:
        with pytest.raises(SlackApiError) as info:
            bot.chat_postEphemeral(**{"channel": ml, "user": "U0BOB", "text": "hi", **kwargs})
        return info.value.response["error"]

    assert error(channel=slack_emulator.channel_id("ml-private")) == "user_not_in_channel"
    assert error(user="U0NOBODY") == "user_not_in_channel"
    assert error(channel="C0NOPE") == "channel_not_found"
    assert error(channel=slack_emulator.channel_id("ops")) == "not_in_channel"
    with pytest.warns(UserWarning):  # slack_sdk warns before sending a message without text
        assert error(text="") == "no_text"
    slack_emulator.reset()
    assert slack_emulator.ephemeral_messages("bob") == []


def test_post_ephemeral_needs_chat_write(slack_emulator):
    workspace = Workspace.default().with_scopes("chat-alerts", ["channels:history"])
    with SlackEmulator(workspace) as emu, pytest.raises(SlackApiError) as info:
        emu.client().chat_postEphemeral(channel=emu.channel_id("ml-alerts"), user="U0BOB", text="hi")
    assert info.value.response["error"] == "missing_scope"


def test_socket_events_are_journalled_for_counting(slack_emulator):
    async def scenario():
        async with App(slack_emulator) as app:
            await until(lambda: app.messages, "hello")
            await in_thread(slack_emulator.act_as("alice").post, "ml-alerts", "one")
            await until(lambda: socket_calls(slack_emulator, "socket.ack"), "the ack")

    asyncio.run(scenario())
    [envelope] = slack_emulator.journal.calls("socket.envelope")
    assert envelope.args["type"] == "events_api" and envelope.args["payload_type"] == "message"
    assert envelope.args["retry_attempt"] == 0 and envelope.http_method == "WS"
    [ack] = slack_emulator.journal.calls("socket.ack")
    assert ack.args["envelope_id"] == envelope.args["envelope_id"]
    assert json.dumps(envelope.args)  # plain data, as for every journalled call
