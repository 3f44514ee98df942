"""The shared per-process poller against the emulator, through the real SlackAlerter and slack_sdk.

Each test runs its asks as coroutines on one event loop, like a triggerer, and checks the Slack
traffic from the emulator's journal.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest

from airflow_chat_alerts.decisions import AskPolicy
from airflow_chat_alerts.exceptions import ChatConfigError, ChatPermanentError, ChatQuestionDeletedError
from airflow_chat_alerts.model import QuestionRead
from airflow_chat_alerts.testing import SlackEmulator
from airflow_chat_alerts.triggers.ask import ChatAskTrigger
from airflow_chat_alerts.triggers.polling.rate_budget import RateBudget
from airflow_chat_alerts.triggers.runtime import Runtime

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
    """Run the asks to the end; the bound is for a hang, far above what a loaded machine needs."""
    try:
        return asyncio.run(asyncio.wait_for(coro, timeout))
    except TimeoutError as err:
        raise AssertionError(f"the asks were still waiting for updates after {timeout:g} s") from err


def post_questions(emu: Any, count: int, channel: str = "ml-alerts") -> list[str]:
    bot = emu.client()
    return [bot.chat_postMessage(channel=emu.channel_id(channel), text=f"Deploy model {i}?")["ts"] for i in range(count)]


async def read(watch: Any) -> QuestionRead:
    """The next read of the question, whether or not it changed (an ask is woken only on a change
    unless it asks, as the trigger does at a deadline)."""
    watch.wake()
    return await watch.next()


async def updates(conn_id: str, channel: str, ts: str, count: int, poll: float = 0.2) -> list[QuestionRead]:
    async with watch_question(conn_id, channel, ts, poll_interval=poll) as watch:
        return [await read(watch) for _ in range(count)]


def watch_question(conn_id: str, channel: str, ts: str, *, poll_interval: float) -> Any:
    """One ask's watch of its question, joined to the running loop's runtime for the block."""
    return Runtime.current().watch(conn_id, channel, ts, poll_interval=poll_interval)


def active_pollers() -> dict[tuple[str, str], Any]:
    return dict(Runtime.current().pollers)


def active_connections() -> dict[str, Any]:
    return dict(Runtime.current().connections)


async def gather(*coros: Coroutine[Any, Any, Any]) -> list[Any]:
    return list(await asyncio.gather(*coros))


async def poller_of(conn_id: str, channel: str) -> Any:
    """The channel's poller, once the first ask has opened the connection."""
    while (conn_id, channel) not in active_pollers():
        await asyncio.sleep(0.01)
    return active_pollers()[(conn_id, channel)]


async def in_thread(func: Any, *args: Any) -> Any:
    """A person acting through the sync client, off the loop."""
    return await asyncio.to_thread(func, *args)


def test_many_asks_in_one_channel_share_one_history_read_per_round(slack_emulator, scale_conn) -> None:
    conn_id = scale_conn()
    channel = slack_emulator.channel_id("ml-alerts")
    questions = post_questions(slack_emulator, 30)
    slack_emulator.journal.clear()
    rounds: list[int] = []

    async def main() -> list[list[QuestionRead]]:
        asks = asyncio.gather(*(updates(conn_id, channel, ts, 3) for ts in questions))
        poller = await poller_of(conn_id, channel)
        results = await asks
        rounds.append(sum(poller.rounds.values()))
        return results

    results = run(main())
    for ts, got in zip(questions, results):
        assert [update.snapshot.ts for update in got] == [ts] * 3
    history = slack_emulator.journal.calls("conversations.history")
    # One read per round (a round begun as the asks left may not have read), far fewer than one per ask.
    assert 3 <= len(history) <= rounds[0] < len(questions)
    assert {call.args["oldest"] for call in history} == {questions[0]}  # from the oldest pending question
    assert slack_emulator.journal.count("conversations.replies") == 0  # no thread moved


def test_replies_are_read_only_for_threads_that_moved(slack_emulator, scale_conn) -> None:
    conn_id = scale_conn()
    channel = slack_emulator.channel_id("ml-alerts")
    questions = post_questions(slack_emulator, 6)
    alice, bob = slack_emulator.act_as("alice"), slack_emulator.act_as("bob")
    alice.reply("ml-alerts", questions[1], "looking")  # a thread that exists before the asks start
    slack_emulator.journal.clear()

    async def main() -> list[list[QuestionRead]]:
        asks = [asyncio.create_task(updates(conn_id, channel, ts, 6)) for ts in questions]
        await asyncio.sleep(0.5)
        await in_thread(bob.reply, "ml-alerts", questions[4], "approve")
        await in_thread(bob.react, "ml-alerts", questions[5], "+1")  # a reaction needs no thread read
        return await asyncio.gather(*asks)

    results = run(main())
    replies_read = [call.args["ts"] for call in slack_emulator.journal.calls("conversations.replies")]
    assert sorted(replies_read) == sorted([questions[1], questions[4]])  # first sight of q1, q4 moved once
    assert [answer.text for answer in results[1][-1].answers] == ["looking"]
    assert [answer.text for answer in results[4][-1].answers] == ["approve"]
    assert [(answer.kind, answer.text) for answer in results[5][-1].answers] == [("reaction", "+1")]


def test_asks_leave_on_completion_and_on_cancellation(slack_emulator, scale_conn) -> None:
    conn_id = scale_conn()
    channel = slack_emulator.channel_id("ml-alerts")
    questions = post_questions(slack_emulator, 4)

    async def forever(ts: str) -> None:
        async with watch_question(conn_id, channel, ts, poll_interval=0.2) as watch:
            while True:
                # like the trigger: a deadline cuts the wait short, again and again
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(watch.next(), timeout=0.05)

    async def main() -> None:
        waiting = [asyncio.create_task(forever(ts)) for ts in questions[1:]]
        first = await updates(conn_id, channel, questions[0], 2)  # completes
        assert first[0].snapshot.ts == questions[0]
        connection = active_connections()[conn_id]
        poller = active_pollers()[(conn_id, channel)]
        assert poller.running and not connection.session.closed
        # Not in the very tick that delivered a round: Python 3.11's wait_for() may swallow a
        # cancellation that coincides with its inner result.
        await asyncio.sleep(0.05)
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        assert active_pollers() == {} and active_connections() == {}
        assert connection.session.closed
        assert not poller.running

    run(main())


def test_a_429_pauses_the_method_for_every_ask_in_the_process(slack_emulator, scale_conn) -> None:
    conn_id = scale_conn()
    channels = [slack_emulator.channel_id(name) for name in ("ml-alerts", "ml-private")]
    # Two asks per channel, so that each channel is read with conversations.history.
    asks = [(channel, ts) for channel, name in zip(channels, ("ml-alerts", "ml-private")) for ts in post_questions(slack_emulator, 2, name)]
    retry_after = 2
    armed: list[bool] = []

    async def ask(channel: str, ts: str) -> None:
        async with watch_question(conn_id, channel, ts, poll_interval=0.2) as watch:
            await read(watch)
            if not armed:
                armed.append(True)
                slack_emulator.faults.add("conversations.history", "429", retry_after=retry_after)
            for _ in range(3):
                await read(watch)

    run(gather(*(ask(channel, ts) for channel, ts in asks)))
    history = slack_emulator.journal.calls("conversations.history")
    limited = [call for call in history if call.status == 429]
    assert len(limited) == 1
    after = [call for call in history if call.time > limited[0].time]
    assert {call.args["channel"] for call in after} == set(channels)
    assert min(call.time for call in after) >= limited[0].time + retry_after - 0.05


def test_non_marketplace_reads_are_spread_at_one_a_minute(scale_conn) -> None:
    speed = 30.0  # an emulated minute in two real seconds; its own emulator, as its clock runs ahead
    with SlackEmulator(rate_limits="realistic", clock_speed=speed) as emulator:
        emulator.set_marketplace(False)
        conn_id = scale_conn(emulator, non_marketplace=True, rate_limits={})
        clock = emulator.clock
        channel = emulator.channel_id("ml-alerts")
        questions = post_questions(emulator, 3)
        emulator.journal.clear()

        async def main() -> list[Any]:
            budget = RateBudget(clock=clock.now, sleep=lambda seconds: asyncio.sleep(seconds / speed))
            Runtime.current().budgets.install(conn_id, budget)  # the emulator's sped-up minute
            return await gather(*(updates(conn_id, channel, ts, 4, poll=0.1) for ts in questions))

        run(main())
        journal = emulator.journal
        assert journal.count(error="ratelimited") == 0
        times = [call.time for call in journal.calls("conversations.history")]
        assert len(times) == 4
        assert all(later - earlier >= 60.0 for earlier, later in zip(times, times[1:]))
        assert journal.max_per_minute("conversations.history") == 1
        # It asks for pages Slack will give a non-Marketplace app, not more than it will return.
        assert {str(call.args["limit"]) for call in journal.calls("conversations.history")} == {"15"}


def test_a_deleted_question_fails_only_its_own_ask(slack_emulator, scale_conn) -> None:
    conn_id = scale_conn()
    channel = slack_emulator.channel_id("ml-alerts")
    kept, gone, gone_with_thread = post_questions(slack_emulator, 3)
    slack_emulator.act_as("alice").reply("ml-alerts", gone_with_thread, "hmm")  # leaves a tombstone

    async def ask(ts: str) -> object:
        async with watch_question(conn_id, channel, ts, poll_interval=0.2) as watch:
            await read(watch)
            await asyncio.sleep(0.3)  # every ask has had its first read
            if ts == kept:
                await in_thread(slack_emulator.delete_message, "ml-alerts", gone)
                await in_thread(slack_emulator.delete_message, "ml-alerts", gone_with_thread)
            try:
                return [(await read(watch)).snapshot.ts for _ in range(3)]
            except ChatQuestionDeletedError as err:
                return err

    results = dict(zip((kept, gone, gone_with_thread), run(gather(*(ask(ts) for ts in (kept, gone, gone_with_thread))))))
    assert results[kept] == [kept] * 3
    assert isinstance(results[gone], ChatQuestionDeletedError)
    assert isinstance(results[gone_with_thread], ChatQuestionDeletedError)
    # Deletion was confirmed with a per-message read before the ask failed.
    confirmed = {call.args["ts"] for call in slack_emulator.journal.calls("conversations.replies")}
    assert {gone, gone_with_thread} <= confirmed


def test_a_busy_channel_with_few_asks_is_read_per_question(slack_emulator, scale_conn) -> None:
    conn_id = scale_conn()
    channel = slack_emulator.channel_id("ml-alerts")
    oldest = post_questions(slack_emulator, 1)[0]
    alice = slack_emulator.state.user("alice")
    for i in range(2100):  # chatter after the question: history from it spans 3 pages of 999
        slack_emulator.state.post(channel, alice, text=f"training log line {i}")
    newest = post_questions(slack_emulator, 1)[0]
    slack_emulator.journal.clear()
    seen: list[Any] = []

    async def main() -> None:
        asks = asyncio.gather(updates(conn_id, channel, oldest, 4), updates(conn_id, channel, newest, 4))
        seen.append(await poller_of(conn_id, channel))
        await asks

    run(main())
    poller = seen[0]
    assert poller.rounds["channel"] == 1  # the first round learns what the channel costs...
    assert poller.rounds["per_ask"] >= 3  # ...then two reads per round beat three pages
    journal = slack_emulator.journal
    assert journal.count("conversations.history") == 3
    # Each ask's three later reads were per question (a round begun as they left may read fewer).
    assert 2 * 3 <= journal.count("conversations.replies") <= 2 * poller.rounds["per_ask"]


def test_a_revoked_token_fails_every_ask_of_the_connection(slack_emulator, scale_conn) -> None:
    conn_id = scale_conn()
    names = ("ml-alerts", "ml-private")
    asks = [(slack_emulator.channel_id(name), ts) for name in names for ts in post_questions(slack_emulator, 2, name)]

    async def ask(channel: str, ts: str) -> object:
        async with watch_question(conn_id, channel, ts, poll_interval=0.2) as watch:
            await read(watch)
            await asyncio.sleep(0.3)
            slack_emulator.revoke_token(slack_emulator.bot_token)
            try:
                while True:
                    await read(watch)
            except ChatPermanentError as err:
                return err

    async def main() -> list[object]:
        errors = await asyncio.gather(*(ask(channel, ts) for channel, ts in asks))
        assert active_pollers() == {} and active_connections() == {}
        return errors

    errors = run(main())
    assert [getattr(err, "code", None) for err in errors] == ["token_revoked"] * 4
    assert all(conn_id in str(err) for err in errors)


def test_user_groups_are_read_once_for_every_ask(slack_emulator, scale_conn) -> None:
    conn_id = scale_conn()
    channel = slack_emulator.channel_id("ml-alerts")
    group = slack_emulator.usergroup_id("ml-leads")

    async def ask(ts: str) -> dict[str, frozenset[str]]:
        async with watch_question(conn_id, channel, ts, poll_interval=0.2) as watch:
            return await watch.group_members([group])

    members = run(gather(*(ask(ts) for ts in post_questions(slack_emulator, 5))))
    assert members == [{group: frozenset({slack_emulator.user_id("alice"), slack_emulator.user_id("carol")})}] * 5
    assert slack_emulator.journal.count("usergroups.users.list") == 1


def test_each_event_loop_gets_its_own_session(slack_emulator, scale_conn) -> None:
    """dag.test() may run triggers in fresh loops: nothing of a finished loop is reused."""
    conn_id = scale_conn()
    channel = slack_emulator.channel_id("ml-alerts")
    (question,) = post_questions(slack_emulator, 1)
    sessions = []

    async def main() -> None:
        async with watch_question(conn_id, channel, question, poll_interval=0.2) as watch:
            await read(watch)
            sessions.append(active_connections()[conn_id].session)

    run(main())
    run(main())
    assert sessions[0] is not sessions[1] and all(session.closed for session in sessions)


def test_ask_triggers_share_the_poller_and_decide(slack_emulator, scale_conn) -> None:
    conn_id = scale_conn()
    channel = slack_emulator.channel_id("ml-alerts")
    questions = post_questions(slack_emulator, 6)
    slack_emulator.journal.clear()
    policy = AskPolicy().to_dict()

    def trigger(ts: str, seconds: float) -> ChatAskTrigger:
        deadline = (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat()
        return ChatAskTrigger(conn_id, channel, ts, policy, deadline, poll_interval=0.3)

    async def first_event(t: ChatAskTrigger) -> dict:
        async for event in t.run():
            return event.payload
        raise AssertionError("no event")

    async def main() -> list[dict]:
        runs = [asyncio.create_task(first_event(trigger(ts, 30 if i < 2 else 2.5))) for i, ts in enumerate(questions)]
        await asyncio.sleep(0.5)
        await in_thread(slack_emulator.act_as("alice").reply, "ml-alerts", questions[0], "lgtm")
        await in_thread(slack_emulator.act_as("bob").react, "ml-alerts", questions[1], "x")
        events = await asyncio.gather(*runs)
        assert active_pollers() == {} and active_connections() == {}
        return events

    events = run(main())
    assert [event["status"] for event in events] == ["approved", "rejected"] + ["timed_out"] * 4
    # History reads served all six triggers; only the thread that got a reply was read on its own.
    assert slack_emulator.journal.count("conversations.history") >= 1
    assert [call.args["ts"] for call in slack_emulator.journal.calls("conversations.replies")] == [questions[0]]


def test_server_errors_are_retried_without_failing_any_ask(slack_emulator, scale_conn) -> None:
    conn_id = scale_conn()
    channel = slack_emulator.channel_id("ml-alerts")
    questions = post_questions(slack_emulator, 3)
    slack_emulator.faults.add("conversations.history", "503", count=2)

    results = run(gather(*(updates(conn_id, channel, ts, 2) for ts in questions)))
    assert [[update.snapshot.ts for update in got] for got in results] == [[ts, ts] for ts in questions]
    statuses = [call.status for call in slack_emulator.journal.calls("conversations.history")]
    assert statuses[:2] == [503, 503] and statuses[2:] and set(statuses[2:]) == {200}


def test_the_per_ask_baseline_reads_each_question(slack_emulator, scale_conn) -> None:
    conn_id = scale_conn(read_strategy="per_ask")
    channel = slack_emulator.channel_id("ml-alerts")
    questions = post_questions(slack_emulator, 4)
    slack_emulator.journal.clear()

    run(gather(*(updates(conn_id, channel, ts, 2) for ts in questions)))
    journal = slack_emulator.journal
    assert journal.count("conversations.history") == 0
    assert sorted(call.args["ts"] for call in journal.calls("conversations.replies")) == sorted(questions * 2)


def test_an_unknown_read_strategy_is_a_clear_config_error(slack_emulator, scale_conn) -> None:
    conn_id = scale_conn(read_strategy="sometimes")
    (question,) = post_questions(slack_emulator, 1)

    async def main() -> None:
        with pytest.raises(ChatConfigError, match="read_strategy"):
            await updates(conn_id, slack_emulator.channel_id("ml-alerts"), question, 1)
        assert active_connections() == {}

    run(main())
