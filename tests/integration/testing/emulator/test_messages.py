"""chat.* methods through the real slack_sdk WebClient: success shapes, fidelity details, errors."""

from __future__ import annotations

import json

import pytest

from .slack_errors import error_of


def test_post_message_shape_marks_the_app_bot(slack_emulator, bot, ml):
    resp = bot.chat_postMessage(channel=ml, text="Training finished")
    assert resp["ok"] is True and resp["channel"] == ml
    ts = resp["ts"]
    assert isinstance(ts, str) and len(ts.split(".")[1]) == 6
    msg = resp["message"]
    assert msg["text"] == "Training finished" and msg["ts"] == ts and msg["type"] == "message"
    assert msg["user"] == slack_emulator.bot_user_id
    assert msg["bot_id"] == slack_emulator.bot_id and msg["app_id"] == slack_emulator.app_id
    assert msg["bot_profile"]["app_id"] == slack_emulator.app_id
    assert "subtype" not in msg


def test_post_accepts_channel_name_and_blocks_as_string_or_list(bot, ml):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    by_name = bot.chat_postMessage(channel="#ml-alerts", text="a", blocks=blocks)
    as_string = bot.api_call("chat.postMessage", params={"channel": ml, "text": "b", "blocks": json.dumps(blocks)})
    assert by_name["channel"] == ml
    stored = [by_name["message"]["blocks"], as_string["message"]["blocks"]]
    # Slack gives a block posted without a block_id one of its own
    assert [[{k: v for k, v in block.items() if k != "block_id"} for block in shown] for shown in stored] == [blocks] * 2
    assert all(block["block_id"] for shown in stored for block in shown)


def test_ts_unique_and_increasing_in_a_channel(bot, ml):
    stamps = [bot.chat_postMessage(channel=ml, text=str(i))["ts"] for i in range(20)]
    assert stamps == sorted(stamps, key=float) and len(set(stamps)) == 20


def test_token_from_the_token_argument_works_too(slack_emulator, ml):
    client = slack_emulator.client()
    client.token = None
    resp = client.api_call("chat.postMessage", params={"token": slack_emulator.bot_token, "channel": ml, "text": "x"})
    assert resp["ok"]
    assert "token" not in slack_emulator.journal.calls("chat.postMessage")[-1].args


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing:UserWarning")
def test_post_errors(slack_emulator, bot, ml):
    assert error_of(bot.chat_postMessage, channel="C0NOPE", text="x")["error"] == "channel_not_found"
    assert error_of(bot.chat_postMessage, channel=slack_emulator.channel_id("ops"), text="x")["error"] == "not_in_channel"
    assert error_of(bot.chat_postMessage, channel=slack_emulator.channel_id("old-alerts"), text="x")["error"] == "is_archived"
    assert error_of(bot.chat_postMessage, channel=ml, text="")["error"] == "no_text"
    assert error_of(bot.chat_postMessage, channel=ml, text="x", blocks="not json")["error"] == "invalid_blocks_format"
    assert error_of(bot.chat_postMessage, channel=ml, text="x", metadata={"event_payload": {}})["error"] == (
        "invalid_metadata_format"
    )
    # nothing was stored by the failed calls
    assert slack_emulator.messages("ml-alerts") == []


def test_private_channel_is_invisible_to_non_members(slack_emulator, ml):
    private = slack_emulator.channel_id("ml-private")
    bob = slack_emulator.client("bob")
    assert error_of(bob.chat_postMessage, channel=private, text="x")["error"] == "channel_not_found"
    assert slack_emulator.client("alice").chat_postMessage(channel=private, text="x")["ok"]


def test_chat_write_public_lets_the_bot_post_where_it_is_not_a_member(slack_emulator):
    from airflow_chat_alerts.testing import SlackEmulator, Workspace

    ws = Workspace.default()
    ws = ws.with_scopes("chat-alerts", [*ws.bot.scopes, "chat:write.public"])
    with SlackEmulator(ws) as emu:
        assert emu.client().chat_postMessage(channel=emu.channel_id("ops"), text="hello ops")["ok"]


def test_too_many_blocks_and_long_section_give_invalid_blocks_with_errors(bot, ml):
    many = [{"type": "divider"}] * 51
    data = error_of(bot.chat_postMessage, channel=ml, text="x", blocks=many)
    assert data["error"] == "invalid_blocks" and any("/blocks]" in e for e in data["errors"])
    long = [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3001}}]
    data = error_of(bot.chat_postMessage, channel=ml, text="x", blocks=long)
    assert data["error"] == "invalid_blocks"
    assert data["errors"] == ["must be less than 3001 characters [json-pointer:/blocks/0/text/text]"]
    ok = [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3000}}] + [{"type": "divider"}] * 49
    assert bot.chat_postMessage(channel=ml, text="x", blocks=ok)["ok"]


def test_text_over_40000_characters_is_truncated_with_a_warning(slack_emulator, bot, ml):
    resp = bot.chat_postMessage(channel=ml, text="z" * 40_500)
    assert resp["ok"] and resp["response_metadata"]["warnings"] == ["message_truncated"]
    assert len(resp["message"]["text"]) == 40_000
    assert slack_emulator.journal.calls("chat.postMessage")[-1].warnings == ("message_truncated",)


def test_update_marks_edited_and_replaces_text(slack_emulator, bot, ml):
    ts = bot.chat_postMessage(channel=ml, text="Deploy?", blocks=[{"type": "divider"}])["ts"]
    resp = bot.chat_update(channel=ml, ts=ts, text="Approved by @alice")
    assert resp["ok"] and resp["ts"] == ts and resp["text"] == "Approved by @alice"
    stored = slack_emulator.messages("ml-alerts")[0]
    assert stored["text"] == "Approved by @alice" and stored["edited"]["user"] == slack_emulator.bot_user_id
    assert "blocks" not in stored  # a text-only update drops the old blocks, as in Slack
    assert float(stored["edited"]["ts"]) > float(ts)


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing:UserWarning")
def test_update_errors(slack_emulator, bot, ml):
    alice_ts = slack_emulator.act_as("alice").post("ml-alerts", "mine")
    assert error_of(bot.chat_update, channel=ml, ts=alice_ts, text="x")["error"] == "cant_update_message"
    assert error_of(bot.chat_update, channel=ml, ts="1.000001", text="x")["error"] == "message_not_found"
    ts = bot.chat_postMessage(channel=ml, text="a")["ts"]
    assert error_of(bot.chat_update, channel=ml, ts=ts)["error"] == "no_text"
    assert error_of(bot.chat_update, channel=ml, ts=ts, text="q" * 40_001)["error"] == "msg_too_long"


def test_delete_and_its_errors(slack_emulator, bot, ml):
    ts = bot.chat_postMessage(channel=ml, text="bye")["ts"]
    bob_ts = slack_emulator.act_as("bob").post("ml-alerts", "bob's")
    assert bot.chat_delete(channel=ml, ts=ts).data == {"ok": True, "channel": ml, "ts": ts}
    assert error_of(bot.chat_delete, channel=ml, ts=ts)["error"] == "message_not_found"
    assert error_of(bot.chat_delete, channel=ml, ts=bob_ts)["error"] == "cant_delete_message"
    assert [m["ts"] for m in slack_emulator.messages("ml-alerts")] == [bob_ts]


def test_permalink_for_message_and_reply(slack_emulator, bot, ml):
    ts = bot.chat_postMessage(channel=ml, text="q")["ts"]
    reply = slack_emulator.act_as("alice").reply("ml-alerts", ts, "a")
    link = bot.chat_getPermalink(channel=ml, message_ts=ts)["permalink"]
    assert link == f"https://chat-alerts-test.slack.com/archives/{ml}/p{ts.replace('.', '')}"
    reply_link = bot.chat_getPermalink(channel=ml, message_ts=reply)["permalink"]
    assert reply_link.endswith(f"?thread_ts={ts}&cid={ml}")
    assert error_of(bot.chat_getPermalink, channel=ml, message_ts="2.000000")["error"] == "message_not_found"


def test_metadata_returned_only_with_include_all_metadata(bot, ml):
    meta = {"event_type": "airflow_chat_alerts_ask", "event_payload": {"dag_id": "d", "run_id": "r"}}
    ts = bot.chat_postMessage(channel=ml, text="q", metadata=meta)["ts"]
    bot.api_call("chat.postMessage", json={"channel": ml, "text": "q2", "metadata": json.dumps(meta)})
    plain = bot.conversations_history(channel=ml)["messages"]
    assert all("metadata" not in m for m in plain)
    full = bot.conversations_history(channel=ml, include_all_metadata=True)["messages"]
    assert [m["metadata"] for m in full] == [meta, meta]
    replies = bot.conversations_replies(channel=ml, ts=ts, include_all_metadata=True)["messages"]
    assert replies[0]["metadata"] == meta
    assert "metadata" not in bot.conversations_replies(channel=ml, ts=ts)["messages"][0]


def test_metadata_can_be_changed_by_update(bot, ml):
    ts = bot.chat_postMessage(channel=ml, text="q", metadata={"event_type": "a", "event_payload": {"x": 1}})["ts"]
    bot.chat_update(channel=ml, ts=ts, text="done", metadata={"event_type": "a", "event_payload": {"x": 2}})
    msg = bot.conversations_history(channel=ml, include_all_metadata=True)["messages"][0]
    assert msg["metadata"]["event_payload"] == {"x": 2}


def test_reply_broadcast_shows_in_channel_and_thread(slack_emulator, bot, ml):
    parent = bot.chat_postMessage(channel=ml, text="q")["ts"]
    alice = slack_emulator.client("alice")
    reply = alice.chat_postMessage(channel=ml, text="also to channel", thread_ts=parent, reply_broadcast=True)
    assert reply["message"]["subtype"] == "thread_broadcast"
    history = bot.conversations_history(channel=ml)["messages"]
    assert [m["ts"] for m in history] == [reply["ts"], parent]
    thread = bot.conversations_replies(channel=ml, ts=parent)["messages"]
    assert thread[1]["ts"] == reply["ts"] and thread[0]["reply_count"] == 1


def test_reply_to_a_reply_threads_under_the_root(slack_emulator, bot, ml):
    parent = bot.chat_postMessage(channel=ml, text="q")["ts"]
    first = slack_emulator.act_as("alice").reply("ml-alerts", parent, "one")
    second = slack_emulator.act_as("bob").reply("ml-alerts", first, "two")
    thread = bot.conversations_replies(channel=ml, ts=parent)["messages"]
    assert [m["ts"] for m in thread] == [parent, first, second]
    assert thread[2]["thread_ts"] == parent


def test_deleting_a_parent_with_replies_leaves_a_tombstone(slack_emulator, bot, ml):
    parent = bot.chat_postMessage(channel=ml, text="q")["ts"]
    slack_emulator.act_as("alice").reply("ml-alerts", parent, "approve")
    slack_emulator.delete_message("ml-alerts", parent)
    thread = bot.conversations_replies(channel=ml, ts=parent)["messages"]
    assert thread[0]["subtype"] == "tombstone" and thread[0]["reply_count"] == 1
    data = error_of(bot.chat_update, channel=ml, ts=parent, text="x")
    assert data["error"] == "message_not_found"


def test_deleting_a_message_mid_wait_makes_its_thread_disappear(slack_emulator, bot, ml):
    parent = bot.chat_postMessage(channel=ml, text="q")["ts"]
    assert bot.conversations_replies(channel=ml, ts=parent)["ok"]
    slack_emulator.delete_message("ml-alerts", parent)
    assert error_of(bot.conversations_replies, channel=ml, ts=parent)["error"] == "thread_not_found"
    assert error_of(bot.reactions_get, channel=ml, timestamp=parent)["error"] == "message_not_found"
