"""Direct messages: conversations.open, and a DM or group DM working like a channel for its members.

Shapes from Slack's documentation (slack-ruby/slack-api-ref conversations.open): ``{"ok": true,
"channel": {"id": "D…"}}`` for a new conversation; ``{"ok": true, "no_op": true, "already_open": true,
"channel": {… "is_im": true, "user": "U…" …}}`` when it is open already (and the full object with
``return_im``); errors ``users_list_not_supplied``, ``user_not_found``, ``user_not_visible``,
``user_disabled``, ``too_many_users`` (at most 8), ``method_not_supported_for_channel_type``,
``channel_not_found``, ``invalid_user_combination``, ``missing_scope``. Scopes: ``im:write`` for a DM,
``mpim:write`` for a group DM; reading them ``im:history`` / ``mpim:history``. Their message events carry
``channel_type`` ``im`` / ``mpim``.
"""

from __future__ import annotations

import asyncio

import pytest
from slack_sdk.errors import SlackApiError

from airflow_chat_alerts.testing import SlackEmulator, Workspace

from .test_socket_mode import App, in_thread, until


def error_of(call, *args, **kwargs):
    with pytest.raises(SlackApiError) as info:
        call(*args, **kwargs)
    return info.value.response["error"]


def test_a_dm_with_one_person_and_a_group_dm_with_several(bot, slack_emulator):
    dm = bot.conversations_open(users=slack_emulator.user_id("alice"))
    assert dm.data == {"ok": True, "channel": {"id": dm["channel"]["id"]}}
    assert dm["channel"]["id"].startswith("D")
    ids = ",".join(slack_emulator.user_id(u) for u in ("alice", "bob", "carol"))
    group = bot.conversations_open(users=ids, return_im=True)["channel"]
    assert group["id"].startswith("G") and group["is_mpim"] and not group["is_channel"]
    assert group["name"] == "mpdm-chat-alerts--alice--bob--carol-1"


def test_opening_it_again_gives_the_same_conversation(bot, slack_emulator):
    alice = slack_emulator.user_id("alice")
    first = bot.conversations_open(users=alice)["channel"]["id"]
    again = bot.conversations_open(users=alice)
    assert again["no_op"] and again["already_open"] and again["channel"]["id"] == first
    assert again["channel"]["is_im"] and again["channel"]["user"] == alice
    assert bot.conversations_open(channel=first)["channel"]["id"] == first


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"users": " , "}, "users_list_not_supplied"),  # (slack_sdk itself refuses neither users nor channel)
        ({"users": "U0NOBODY"}, "user_not_found"),
        ({"users": "U0NICO"}, "user_not_visible"),  # the app's bot may not see nico
        ({"users": ",".join(f"U0{i}" for i in range(9))}, "too_many_users"),
        ({"channel": "C0MLALERTS"}, "method_not_supported_for_channel_type"),
        ({"channel": "D0NOPE"}, "channel_not_found"),
    ],
)
def test_what_cannot_be_opened(bot, kwargs, error):
    assert error_of(bot.conversations_open, **kwargs) == error


def test_nine_real_people_are_too_many():
    people = [{"name": f"p{i}"} for i in range(9)]  # the default workspace has fewer people
    ws = Workspace.from_dict({"users": [{"name": "app", "is_bot": True}, *people], "channels": []})
    with SlackEmulator(ws) as emu:
        ids = ",".join(emu.user_id(p["name"]) for p in people)
        assert error_of(emu.client().conversations_open, users=ids) == "too_many_users"
        eight = ",".join(emu.user_id(p["name"]) for p in people[:8])
        assert emu.client().conversations_open(users=eight)["channel"]["id"].startswith("G")


def test_the_scopes_a_dm_and_a_group_dm_need():
    ws = Workspace.default()
    without = ws.with_scopes("chat-alerts", [s for s in ws.bot.scopes if s not in ("im:write", "mpim:write")])
    with SlackEmulator(without) as emu:
        with pytest.raises(SlackApiError) as info:
            emu.client().conversations_open(users=emu.user_id("alice"))
        assert (info.value.response["error"], info.value.response["needed"]) == ("missing_scope", "im:write")
        with pytest.raises(SlackApiError) as info:
            emu.client().conversations_open(users=f"{emu.user_id('alice')},{emu.user_id('bob')}")
        assert info.value.response["needed"] == "mpim:write"


def test_a_dm_works_like_a_channel_for_its_members_only(bot, slack_emulator):
    dm = bot.conversations_open(users=slack_emulator.user_id("alice"))["channel"]["id"]
    ts = bot.chat_postMessage(channel=dm, text="Deploy?")["ts"]
    slack_emulator.act_as("alice").reply(dm, ts, "approve")
    slack_emulator.act_as("alice").react(dm, ts, "white_check_mark")
    replies = bot.conversations_replies(channel=dm, ts=ts)["messages"]
    assert [m["text"] for m in replies] == ["Deploy?", "approve"]
    assert bot.conversations_history(channel=dm)["messages"][0]["reactions"][0]["name"] == "white_check_mark"
    assert error_of(slack_emulator.client("carol").conversations_history, channel=dm) == "channel_not_found"
    with pytest.raises(PermissionError):
        slack_emulator.act_as("carol").click(dm, ts, "anything")
    assert slack_emulator.transcript(dm).startswith("direct message with @chat-alerts, @alice\n")
    assert dm not in {c["id"] for c in bot.conversations_list(types="public_channel,private_channel")["channels"]}


def test_reading_a_dm_needs_im_history():
    ws = Workspace.default()
    with SlackEmulator(ws.with_scopes("chat-alerts", [s for s in ws.bot.scopes if s != "im:history"])) as emu:
        dm = emu.client().conversations_open(users=emu.user_id("alice"))["channel"]["id"]
        with pytest.raises(SlackApiError) as info:
            emu.client().conversations_history(channel=dm)
        assert info.value.response["needed"] == "im:history"


def test_dm_messages_arrive_as_im_events(slack_emulator, bot):
    dm = bot.conversations_open(users=slack_emulator.user_id("alice"))["channel"]["id"]
    group = bot.conversations_open(users=",".join(slack_emulator.user_id(u) for u in ("alice", "bob")))
    group_id = group["channel"]["id"]

    async def scenario():
        async with App(slack_emulator) as app:
            await until(lambda: app.messages, "hello")
            await in_thread(slack_emulator.act_as("alice").post, dm, "hi")
            await in_thread(slack_emulator.act_as("bob").post, group_id, "hello all")
            await until(lambda: len(app.events()) == 2, "two events")
            return app.events()

    events = asyncio.run(scenario())
    assert [(e["channel"], e["channel_type"], e["text"]) for e in events] == [
        (dm, "im", "hi"), (group_id, "mpim", "hello all")]
