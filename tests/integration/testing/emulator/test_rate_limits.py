"""Rate limits: tier windows, chat.postMessage's per-channel pace, the non-Marketplace switch, the
clock, and slack_sdk's retry handlers honouring Retry-After."""

from __future__ import annotations

import asyncio
import time

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler


def ratelimited(call, **kwargs):
    with pytest.raises(SlackApiError) as info:
        call(**kwargs)
    resp = info.value.response
    assert resp.status_code == 429 and resp.data == {"ok": False, "error": "ratelimited"}
    return int(resp.headers["Retry-After"])


def test_default_profile_does_not_disturb_ordinary_tests(slack_emulator):
    bot, ml = slack_emulator.client(), slack_emulator.channel_id("ml-alerts")
    for i in range(60):
        bot.chat_postMessage(channel=ml, text=str(i))
    for _ in range(60):
        bot.conversations_history(channel=ml, limit=1)
    assert slack_emulator.journal.count(error="ratelimited") == 0


def test_tier3_window_and_clock_advance(slack_emulator):
    slack_emulator.set_rate_limits("realistic")
    bot, ml = slack_emulator.client(), slack_emulator.channel_id("ml-alerts")
    for _ in range(50):
        bot.conversations_history(channel=ml)
    retry_after = ratelimited(bot.conversations_history, channel=ml)
    assert 1 <= retry_after <= 60
    # the budget is per method: another tier-3 method still works
    assert bot.conversations_info(channel=ml)["ok"]
    slack_emulator.clock.advance(60)
    assert bot.conversations_history(channel=ml)["ok"]
    assert slack_emulator.journal.max_per_minute("conversations.history", served_only=True) == 50
    assert slack_emulator.journal.max_per_minute("conversations.history") == 51


def test_tier2_is_tighter_and_per_token(slack_emulator):
    slack_emulator.set_rate_limits("realistic")
    bot = slack_emulator.client()
    for _ in range(20):
        bot.usergroups_users_list(usergroup="S0MLLEADS")
    ratelimited(bot.usergroups_users_list, usergroup="S0MLLEADS")
    assert slack_emulator.client("alice").usergroups_users_list(usergroup="S0MLLEADS")["ok"]


def test_post_message_one_per_second_per_channel_with_small_burst(slack_emulator):
    slack_emulator.set_rate_limits("realistic")
    slack_emulator.clock.speed = 0.001  # freeze time for the burst
    bot = slack_emulator.client()
    ml, private = slack_emulator.channel_id("ml-alerts"), slack_emulator.channel_id("ml-private")
    for i in range(3):
        bot.chat_postMessage(channel=ml, text=f"burst {i}")
    ratelimited(bot.chat_postMessage, channel=ml, text="one too many")
    assert bot.chat_postMessage(channel=private, text="other channel")["ok"]
    slack_emulator.clock.advance(1.0)
    assert bot.chat_postMessage(channel=ml, text="a second later")["ok"]
    ratelimited(bot.chat_postMessage, channel=ml, text="again too fast")


def test_non_marketplace_history_once_a_minute_and_limit_15(slack_emulator):
    slack_emulator.set_rate_limits("realistic")
    slack_emulator.set_marketplace(False)
    bot, ml = slack_emulator.client(), slack_emulator.channel_id("ml-alerts")
    for i in range(20):
        slack_emulator.state.post(ml, slack_emulator.workspace.bot, text=str(i))
    first = bot.conversations_history(channel=ml, limit=100)
    assert len(first["messages"]) == 15 and first["has_more"] is True
    retry_after = ratelimited(bot.conversations_history, channel=ml)
    assert 55 <= retry_after <= 60
    newest = first["messages"][0]["ts"]
    assert bot.conversations_replies(channel=ml, ts=newest)["ok"]  # its own budget, also 1 per minute
    ratelimited(bot.conversations_replies, channel=ml, ts=newest)
    assert bot.reactions_get(channel=ml, timestamp=first["messages"][0]["ts"])["ok"]  # not affected
    slack_emulator.clock.advance(60)
    assert bot.conversations_replies(channel=ml, ts=first["messages"][0]["ts"])["ok"]


def test_rate_limits_can_be_switched_off(slack_emulator):
    slack_emulator.set_rate_limits("realistic")
    slack_emulator.set_marketplace(False)
    bot, ml = slack_emulator.client(), slack_emulator.channel_id("ml-alerts")
    bot.conversations_history(channel=ml)
    ratelimited(bot.conversations_history, channel=ml)
    slack_emulator.set_rate_limits("off")
    assert bot.conversations_history(channel=ml)["ok"]


def test_sync_retry_handler_honours_retry_after(slack_emulator):
    slack_emulator.set_rate_limits("realistic")
    slack_emulator.set_marketplace(False)
    slack_emulator.clock.speed = 60  # a minute passes per real second: Retry-After is 1
    ml = slack_emulator.channel_id("ml-alerts")
    bot = slack_emulator.client(retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)])
    start = time.monotonic()
    bot.conversations_history(channel=ml)
    assert bot.conversations_history(channel=ml)["ok"]
    assert time.monotonic() - start >= 1.0
    statuses = [c.status for c in slack_emulator.journal.calls("conversations.history")]
    assert statuses == [200, 429, 200]


def test_async_retry_handler_honours_retry_after(slack_emulator):
    slack_emulator.set_rate_limits("realistic")
    slack_emulator.set_marketplace(False)
    slack_emulator.clock.speed = 60
    ml = slack_emulator.channel_id("ml-alerts")

    async def two_reads():
        client = slack_emulator.async_client(retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)])
        await client.conversations_history(channel=ml)
        return await client.conversations_history(channel=ml)

    assert asyncio.run(two_reads())["ok"]
    statuses = [c.status for c in slack_emulator.journal.calls("conversations.history")]
    assert statuses == [200, 429, 200]


def test_journal_counts_calls_per_minute(slack_emulator):
    bot, ml = slack_emulator.client(), slack_emulator.channel_id("ml-alerts")
    bot.conversations_history(channel=ml)
    bot.conversations_history(channel=ml)
    slack_emulator.clock.advance(61)
    bot.conversations_history(channel=ml)
    bot.auth_test()
    per_minute = slack_emulator.journal.per_minute()
    assert per_minute["conversations.history"] == {0: 2, 1: 1}
    assert per_minute["auth.test"] == {1: 1}
    assert slack_emulator.journal.max_per_minute("conversations.history") == 2
