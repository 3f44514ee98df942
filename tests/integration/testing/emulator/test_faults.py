"""Faults on demand, seen through the real slack_sdk clients (retry handlers off unless stated)."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncServerErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler


@pytest.fixture
def bot(slack_emulator):
    return slack_emulator.client(retry_handlers=[], timeout=5)


@pytest.mark.parametrize(
    ("kind", "status", "error"),
    [("429", 429, "ratelimited"), ("500", 500, "internal_error"), ("503", 503, "service_unavailable")],
)
def test_error_status_faults_hit_only_the_next_n_calls(slack_emulator, bot, kind, status, error):
    ml = slack_emulator.channel_id("ml-alerts")
    slack_emulator.faults.add("conversations.replies", kind, count=2, retry_after=7)
    ts = bot.chat_postMessage(channel=ml, text="q")["ts"]  # other methods are unaffected
    for _ in range(2):
        with pytest.raises(SlackApiError) as info:
            bot.conversations_replies(channel=ml, ts=ts)
        assert info.value.response.status_code == status and info.value.response["error"] == error
        if kind == "429":
            assert info.value.response.headers["Retry-After"] == "7"
    assert bot.conversations_replies(channel=ml, ts=ts)["ok"]
    assert [c.status for c in slack_emulator.journal.calls("conversations.replies")] == [status, status, 200]
    assert slack_emulator.faults.pending() == []


def test_server_error_retried_by_slack_sdk_handler(slack_emulator):
    slack_emulator.faults.add("auth.test", "503")
    client = slack_emulator.client(retry_handlers=[ServerErrorRetryHandler(max_retry_count=1)])
    assert client.auth_test()["ok"]
    assert [c.status for c in slack_emulator.journal.calls("auth.test")] == [503, 200]


def test_reset_fault_drops_the_connection(slack_emulator, bot):
    slack_emulator.faults.add("auth.test", "reset")
    with pytest.raises(ConnectionError):
        bot.auth_test()
    assert bot.auth_test()["ok"]
    assert slack_emulator.journal.calls("auth.test")[0].error == "connection_reset"


def test_lost_fault_does_the_call_then_drops_the_answer(slack_emulator, bot):
    slack_emulator.faults.add("chat.postMessage", "lost")
    with pytest.raises(ConnectionError):
        bot.chat_postMessage(channel=slack_emulator.channel_id("ml-alerts"), text="accepted, answer lost")
    assert [m["text"] for m in slack_emulator.messages("ml-alerts")] == ["accepted, answer lost"]
    assert [c.status for c in slack_emulator.journal.calls("chat.postMessage")] == [200]

    from slack_sdk.webhook import WebhookClient

    slack_emulator.faults.add("webhook", "lost")
    with pytest.raises(ConnectionError):
        WebhookClient(slack_emulator.webhook_url("ml-alerts"), retry_handlers=[]).send(text="posted, answer lost")
    assert slack_emulator.messages("ml-alerts")[-1]["text"] == "posted, answer lost"


def test_reset_fault_with_async_client(slack_emulator):
    # aiohttp itself retries an idempotent GET once on a dropped connection: two resets to see one
    slack_emulator.faults.add("conversations.history", "reset", count=2)

    async def read():
        client = slack_emulator.async_client(retry_handlers=[])
        with pytest.raises(aiohttp.ClientError):
            await client.conversations_history(channel=slack_emulator.channel_id("ml-alerts"))
        return await client.conversations_history(channel=slack_emulator.channel_id("ml-alerts"))

    assert asyncio.run(read())["ok"]
    assert [c.status for c in slack_emulator.journal.calls("conversations.history")] == [0, 0, 200]


def test_stall_fault_times_out_a_short_client_then_answers(slack_emulator):
    slack_emulator.faults.add("auth.test", "stall", delay=1.5)
    impatient = slack_emulator.client(retry_handlers=[], timeout=0.5)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        impatient.auth_test()
    assert time.monotonic() - start < 1.4
    slack_emulator.faults.add("auth.test", "stall", delay=0.3)
    start = time.monotonic()
    assert slack_emulator.client(retry_handlers=[], timeout=5).auth_test()["ok"]
    assert time.monotonic() - start >= 0.3


def test_async_server_error_handler_and_wildcard_fault(slack_emulator):
    slack_emulator.faults.add("*", "500", count=1)

    async def call():
        client = slack_emulator.async_client(retry_handlers=[AsyncServerErrorRetryHandler(max_retry_count=1)])
        return await client.users_info(user=slack_emulator.user_id("bob"))

    assert asyncio.run(call())["user"]["name"] == "bob"
    assert [c.status for c in slack_emulator.journal.calls("users.info")] == [500, 200]


def test_bad_fault_arguments_are_refused(slack_emulator):
    with pytest.raises(ValueError, match="unknown fault kind"):
        slack_emulator.faults.add("auth.test", "404")
    with pytest.raises(ValueError, match="count"):
        slack_emulator.faults.add("auth.test", "500", count=0)


def test_token_revoked_mid_run(slack_emulator, bot):
    ml = slack_emulator.channel_id("ml-alerts")
    ts = bot.chat_postMessage(channel=ml, text="q")["ts"]
    assert bot.conversations_replies(channel=ml, ts=ts)["ok"]
    slack_emulator.revoke_token(slack_emulator.bot_token)
    with pytest.raises(SlackApiError) as info:
        bot.conversations_replies(channel=ml, ts=ts)
    assert info.value.response["error"] == "token_revoked"
    assert slack_emulator.journal.calls()[-1].error == "token_revoked"


def test_a_call_stalled_across_reset_does_not_leak_into_the_next_test(slack_emulator):
    import threading

    ml = slack_emulator.channel_id("ml-alerts")
    slack_emulator.faults.add("chat.postMessage", "stall", delay=0.5)
    client = slack_emulator.client(retry_handlers=[], timeout=5)
    outcome = []

    def post():
        try:
            client.chat_postMessage(channel=ml, text="late")
        except Exception as err:  # the connection is dropped
            outcome.append(err)

    thread = threading.Thread(target=post)
    thread.start()
    time.sleep(0.1)
    slack_emulator.reset()
    thread.join(timeout=5)
    assert outcome and slack_emulator.messages("ml-alerts") == [] and len(slack_emulator.journal) == 0
