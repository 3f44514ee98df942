"""The real slack_sdk AsyncWebClient (GET with a query string for reads) against the emulator."""

from __future__ import annotations

import asyncio

import pytest
from slack_sdk.errors import SlackApiError


def test_async_client_posts_reads_and_reacts(slack_emulator):
    ml = slack_emulator.channel_id("ml-alerts")

    async def scenario():
        bot = slack_emulator.async_client()
        alice = slack_emulator.async_client("alice")
        try:
            meta = {"event_type": "airflow_chat_alerts_ask", "event_payload": {"task_id": "ask"}}
            posted = await bot.chat_postMessage(channel=ml, text="Deploy?", metadata=meta)
            ts = posted["ts"]
            await alice.chat_postMessage(channel=ml, text="approve", thread_ts=ts)
            await alice.reactions_add(channel=ml, timestamp=ts, name="white_check_mark")
            history = await bot.conversations_history(channel=ml, include_all_metadata=True, limit=10)
            replies = await bot.conversations_replies(channel=ml, ts=ts)
            reactions = await bot.reactions_get(channel=ml, timestamp=ts)
            group = await bot.usergroups_users_list(usergroup=slack_emulator.usergroup_id("ml-leads"))
            user = await bot.users_info(user=slack_emulator.user_id("alice"))
            with pytest.raises(SlackApiError) as info:
                await bot.conversations_replies(channel=ml, ts="1.000001")
            return ts, history, replies, reactions, group, user, info.value.response["error"]
        finally:
            await bot.session.close() if bot.session else None
            await alice.session.close() if alice.session else None

    ts, history, replies, reactions, group, user, error = asyncio.run(scenario())
    assert history["messages"][0]["metadata"]["event_payload"] == {"task_id": "ask"}
    assert history["messages"][0]["reply_count"] == 1 and history["has_more"] is False
    assert [m["text"] for m in replies["messages"]] == ["Deploy?", "approve"]
    assert reactions["message"]["reactions"][0]["users"] == [slack_emulator.user_id("alice")]
    assert group["users"] == [slack_emulator.user_id("alice"), slack_emulator.user_id("carol")]
    assert user["user"]["name"] == "alice"
    assert error == "thread_not_found"
    read_calls = [c for c in slack_emulator.journal.calls() if c.method.startswith("conversations.")]
    assert {c.http_method for c in read_calls} == {"GET"}  # the async client reads with GET
    assert read_calls[0].args["include_all_metadata"] == "1"  # booleans travel as "1"/"0"


def test_async_pagination_iterator(slack_emulator):
    ml = slack_emulator.channel_id("ml-alerts")
    bot = slack_emulator.client()
    stamps = [bot.chat_postMessage(channel=ml, text=str(i))["ts"] for i in range(5)]

    async def collect():
        client = slack_emulator.async_client()
        seen = []
        async for page in await client.conversations_history(channel=ml, limit=2):
            seen.extend(m["ts"] for m in page["messages"])
        return seen

    assert asyncio.run(collect()) == stamps[::-1]
