"""Answers pushed over Socket Mode to ChatAskTrigger: real slack_sdk clients against the emulator.

Each "triggerer process" is an event loop (in its own thread when there are two), running the real
trigger with its own Socket Mode client. Reads are counted in the emulator's journal, never by time.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest

from airflow_chat_alerts.clicks import (
    APPROVE_ACTION,
    REJECT_ACTION,
    already_decided_text,
    buttons_block,
    not_approver_text,
)
from airflow_chat_alerts.decisions import AskPolicy
from airflow_chat_alerts.exceptions import ChatConfigError
from airflow_chat_alerts.formatting import outcome_line
from airflow_chat_alerts.sensors.ask import ChatAskSensor
from airflow_chat_alerts.testing import ClickFailed
from airflow_chat_alerts.triggers.ask import ChatAskTrigger
from airflow_chat_alerts.triggers.polling.channel import ChannelPoller
from airflow_chat_alerts.triggers.polling.watch import QuestionWatch
from airflow_chat_alerts.triggers.runtime import Runtime

T = TypeVar("T")
CHANNEL = "ml-alerts"
ALICE, BOB = "U0ALICE", "U0BOB"
POLICY = AskPolicy(approvers=(ALICE,)).to_dict()
READS = ("conversations.history", "conversations.replies")
NEVER = 3600.0  # a poll or reconciliation interval no test waits out


def run(coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
    try:
        return asyncio.run(asyncio.wait_for(coro, timeout))
    except TimeoutError as err:
        raise AssertionError(f"the triggerer was still waiting after {timeout:g} s") from err


async def until(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Wait for ``check()`` to be truthy (the state, not a time); fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}")
        await asyncio.sleep(0.02)
    return result


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0) -> None:
    """`until` for the test's own thread."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}")
        time.sleep(0.02)


def post_question(emu: Any, text: str = "Deploy model v42?") -> str:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}, buttons_block({"dag_id": "d"})]
    return emu.client().chat_postMessage(channel=emu.channel_id(CHANNEL), text=text, blocks=blocks)["ts"]


def trigger(emu: Any, conn_id: str, ts: str, *, poll: float = NEVER, reconcile: float = NEVER) -> ChatAskTrigger:
    deadline = datetime.now(timezone.utc) + timedelta(hours=1)
    return ChatAskTrigger(
        conn_id=conn_id,
        channel=emu.channel_id(CHANNEL),
        ts=ts,
        policy=POLICY,
        deadline=deadline.isoformat(),
        poll_interval=poll,
        reconcile_interval=reconcile,
    )


async def first_event(ask: ChatAskTrigger) -> dict[str, Any]:
    async for event in ask.run():
        return event.payload
    raise AssertionError("the trigger ended without an event")


def reads(emu: Any) -> int:
    return sum(emu.journal.count(method) for method in READS)


def poller(emu: Any, conn_id: str) -> ChannelPoller | None:
    """The running loop's poller of the channel (call it on the loop)."""
    return Runtime.current().pollers.get((conn_id, emu.channel_id(CHANNEL)))


def streams() -> dict[str, Any]:
    """The running loop's push streams (call it on the loop)."""
    return dict(Runtime.current().streams)


def watch_of(emu: Any, conn_id: str, ts: str) -> QuestionWatch | None:
    found = poller(emu, conn_id)
    watches = found.watches_of(ts) if found else []
    return watches[0] if watches else None


async def settled(emu: Any, conn_id: str, *questions: str) -> None:
    """Push is connected, and the read it asked for on connecting is in: from now on no read is due."""
    await until(lambda: (p := poller(emu, conn_id)) is not None and p.pushed, "the socket to connect")
    calls = list(emu.journal)
    opened = max(i for i, call in enumerate(calls) if call.method == "socket.open")
    await until(
        lambda: any(call.method in READS for call in list(emu.journal)[opened:]), "the read made on connecting"
    )
    await until(
        lambda: all((w := watch_of(emu, conn_id, ts)) is not None and w.latest is not None for ts in questions),
        "the first read of every question",
    )
    await until(lambda: not poller(emu, conn_id)._due, "the poller to have no read due")  # type: ignore[union-attr]


def record_then_ack(emu: Any, ts: str) -> None:
    """The click's record was posted in the question's thread before the envelope was acknowledged."""
    calls = list(emu.journal)
    posted = [i for i, c in enumerate(calls) if c.method == "chat.postMessage" and c.args.get("thread_ts") == ts and c.ok]
    acked = [i for i, c in enumerate(calls) if c.method == "socket.ack" and c.error is None]
    assert posted and acked, (posted, acked)
    assert posted[0] < acked[-1]


def records(emu: Any, ts: str) -> list[dict[str, Any]]:
    return [m for m in emu.thread(CHANNEL, ts)[1:] if (m.get("metadata") or {}).get("event_type")]


# -- buttons ---------------------------------------------------------------------------------------


def test_a_click_by_an_approver_is_recorded_then_acked_and_decides_without_a_read(slack_emulator, connect) -> None:
    conn_id = connect()
    ts = post_question(slack_emulator)

    async def main() -> dict[str, Any]:
        ask = asyncio.create_task(first_event(trigger(slack_emulator, conn_id, ts)))
        await settled(slack_emulator, conn_id, ts)
        slack_emulator.journal.clear()
        await slack_emulator.act_as("alice").click_async(CHANNEL, ts, APPROVE_ACTION)
        event = await ask
        assert reads(slack_emulator) == 0
        return event

    event = run(main())
    assert event["status"] == "approved"
    assert event["decision"]["by"] == [ALICE]
    record_then_ack(slack_emulator, ts)
    [record] = records(slack_emulator, ts)
    assert record["metadata"]["event_payload"]["clicks"][0]["user"] == ALICE
    assert record["user"] == slack_emulator.workspace.bot.id


def test_a_click_by_someone_else_gets_an_ephemeral_and_changes_nothing(slack_emulator, connect) -> None:
    conn_id = connect()
    ts = post_question(slack_emulator)

    async def main() -> dict[str, Any]:
        ask = asyncio.create_task(first_event(trigger(slack_emulator, conn_id, ts)))
        await settled(slack_emulator, conn_id, ts)
        await slack_emulator.act_as("bob").click_async(CHANNEL, ts, REJECT_ACTION)  # acked: no error shown
        assert [m["text"] for m in slack_emulator.ephemeral_messages("bob")] == [not_approver_text()]
        assert not ask.done() and records(slack_emulator, ts) == []
        await slack_emulator.act_as("alice").click_async(CHANNEL, ts, APPROVE_ACTION)
        return await ask

    event = run(main())
    assert (event["status"], event["decision"]["by"]) == ("approved", [ALICE])


def test_a_click_after_the_decision_is_told_it_is_decided(slack_emulator, connect) -> None:
    conn_id = connect()
    first, second = post_question(slack_emulator), post_question(slack_emulator, "Deploy model v43?")

    async def main() -> dict[str, Any]:
        other = asyncio.create_task(first_event(trigger(slack_emulator, conn_id, second)))  # keeps the socket
        ask = asyncio.create_task(first_event(trigger(slack_emulator, conn_id, first)))
        await settled(slack_emulator, conn_id, first, second)
        await slack_emulator.act_as("alice").click_async(CHANNEL, first, APPROVE_ACTION)
        event = await ask
        await slack_emulator.act_as("alice").click_async(CHANNEL, first, REJECT_ACTION)
        other.cancel()
        return event

    event = run(main())
    assert event["status"] == "approved"
    decided = outcome_line("approved", by=[ALICE])
    assert [m["text"] for m in slack_emulator.ephemeral_messages("alice")] == [already_decided_text(decided)]
    assert len(records(slack_emulator, first)) == 1  # the late click left no record


def test_a_click_whose_record_cannot_be_posted_is_not_acked_and_decides_nothing(slack_emulator, connect) -> None:
    conn_id = connect()
    ts = post_question(slack_emulator)
    slack_emulator.configure_sockets(ack_timeout=1.0)

    async def main() -> dict[str, Any]:
        ask = asyncio.create_task(first_event(trigger(slack_emulator, conn_id, ts)))
        await settled(slack_emulator, conn_id, ts)
        slack_emulator.faults.add("chat.postMessage", "500")
        with pytest.raises(ClickFailed) as failed:
            await slack_emulator.act_as("alice").click_async(CHANNEL, ts, APPROVE_ACTION)
        assert failed.value.reason == "not_acknowledged"
        assert not ask.done() and records(slack_emulator, ts) == []
        await slack_emulator.act_as("alice").click_async(CHANNEL, ts, APPROVE_ACTION)  # clicking again works
        return await ask

    assert run(main())["status"] == "approved"


def test_a_click_landing_on_the_other_triggerer_is_recorded_there_and_decided_by_the_holder(
    slack_emulator, connect
) -> None:
    """Two triggerer processes: A holds the ask, B another one. With A's socket down, Slack can only
    hand the click to B, which records it and acks; A finds the record on its next read."""
    conn_id = connect()
    held, other = post_question(slack_emulator), post_question(slack_emulator, "Deploy model v43?")
    stop_b = threading.Event()
    results: dict[str, Any] = {}

    async def process_a() -> None:
        results["a"] = await first_event(trigger(slack_emulator, conn_id, held, poll=0.3))

    async def process_b() -> None:
        ask = asyncio.create_task(first_event(trigger(slack_emulator, conn_id, other)))
        await asyncio.to_thread(stop_b.wait, 120)
        ask.cancel()
        await asyncio.wait({ask})

    a = threading.Thread(target=lambda: run(process_a()), daemon=True)
    b = threading.Thread(target=lambda: run(process_b()), daemon=True)
    a.start()
    slack_emulator.wait_for_sockets(1)
    b.start()
    slack_emulator.wait_for_sockets(2)
    try:
        slack_emulator.refuse_sockets(1000)  # A cannot come back while the click is under way
        slack_emulator.drop_sockets(1)  # the oldest: A's
        slack_emulator.wait_for_sockets(1)
        slack_emulator.act_as("bob").click(CHANNEL, held, APPROVE_ACTION)  # recorded by B: A tells bob
        record_then_ack(slack_emulator, held)
        wait_for(lambda: slack_emulator.ephemeral_messages("bob"), "the holder to tell bob on reading his record")
        assert [m["text"] for m in slack_emulator.ephemeral_messages("bob")] == [not_approver_text()]
        assert a.is_alive(), "bob's click decided"
        slack_emulator.act_as("alice").click(CHANNEL, held, APPROVE_ACTION)
        a.join(60)
        assert not a.is_alive(), "the holder never decided"
    finally:
        stop_b.set()
        slack_emulator.configure_sockets()
        b.join(60)
    assert (results["a"]["status"], results["a"]["decision"]["by"]) == ("approved", [ALICE])
    assert len(records(slack_emulator, held)) == 2


def test_reads_slow_down_only_while_a_triggerer_knows_of_no_other_socket(slack_emulator, connect) -> None:
    """A click that reaches another triggerer reaches the holder only through a read, so a triggerer
    reads at the reconciliation interval only while it knows of no other socket of the app: Slack's
    hello counts the connections, and a click record another triggerer wrote shows one too."""
    conn_id = connect()
    held_a, held_b = post_question(slack_emulator), post_question(slack_emulator, "Deploy model v43?")
    seen: dict[str, Any] = {}
    stop = threading.Event()

    async def process(name: str, ts: str) -> None:
        ask = asyncio.create_task(first_event(trigger(slack_emulator, conn_id, ts, poll=0.3)))
        seen[name] = await until(lambda: (c := streams()) and next(iter(c.values())), "a push stream")
        seen[f"poller_{name}"] = await until(lambda: poller(slack_emulator, conn_id), "a poller")
        await asyncio.to_thread(stop.wait, 120)
        ask.cancel()
        await asyncio.wait({ask})

    a = threading.Thread(target=lambda: run(process("a", held_a)), daemon=True)
    b = threading.Thread(target=lambda: run(process("b", held_b)), daemon=True)
    a.start()
    slack_emulator.wait_for_sockets(1)
    wait_for(lambda: "poller_a" in seen and seen["poller_a"].pushed, "A alone: reads slowed down")
    b.start()
    slack_emulator.wait_for_sockets(2)
    try:
        wait_for(lambda: "b" in seen and seen["b"].connected, "B connected")
        assert not seen["b"].alone and not seen["poller_b"].pushed, "B was told of A's socket, yet slowed down"
        assert seen["a"].alone and seen["poller_a"].pushed  # A's hello counted only itself
        slack_emulator.refuse_sockets(1000)  # A cannot come back while the click is under way
        slack_emulator.drop_sockets(1)  # the oldest: A's
        slack_emulator.wait_for_sockets(1)
        slack_emulator.act_as("bob").click(CHANNEL, held_a, APPROVE_ACTION)  # recorded by B, read by A
        wait_for(lambda: not seen["a"].alone, "A to learn of B from the record B wrote")
        slack_emulator.configure_sockets()  # A may come back
        slack_emulator.wait_for_sockets(2)
        wait_for(lambda: seen["a"].connected, "A connected again")
        assert not seen["poller_a"].pushed, "A slowed down again although it knows of B"
    finally:
        stop.set()
        slack_emulator.configure_sockets()
        a.join(60)
        b.join(60)


def test_an_ask_joining_a_slowed_down_poller_is_read_at_once_and_sees_a_click_taken_before(
    slack_emulator, connect
) -> None:
    """Reads are slowed to the reconciliation interval; an ask that starts then is read at once, so a
    click recorded before its trigger started (Slack gave it to the socket while the ask was not held
    here yet) decides it without waiting for the next reconciliation read."""
    conn_id = connect()
    first, second = post_question(slack_emulator), post_question(slack_emulator, "Deploy model v43?")

    async def main() -> dict[str, Any]:
        other = asyncio.create_task(first_event(trigger(slack_emulator, conn_id, first)))
        await settled(slack_emulator, conn_id, first)
        await slack_emulator.act_as("alice").click_async(CHANNEL, second, APPROVE_ACTION)  # not held yet
        assert len(records(slack_emulator, second)) == 1
        event = await asyncio.wait_for(first_event(trigger(slack_emulator, conn_id, second)), 30)
        other.cancel()
        return event

    event = run(main())
    assert (event["status"], event["decision"]["by"]) == ("approved", [ALICE])


# -- replies and reactions -------------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["reply", "reaction"])
def test_replies_and_reactions_decide_without_waiting_for_a_read(slack_emulator, connect, answer) -> None:
    conn_id = connect()
    ts = post_question(slack_emulator)
    alice = slack_emulator.act_as("alice")

    async def main() -> dict[str, Any]:
        ask = asyncio.create_task(first_event(trigger(slack_emulator, conn_id, ts)))
        await settled(slack_emulator, conn_id, ts)
        slack_emulator.journal.clear()
        if answer == "reply":
            await asyncio.to_thread(alice.reply, CHANNEL, ts, "approve: looks good")
        else:
            await asyncio.to_thread(alice.react, CHANNEL, ts, "white_check_mark")
        event = await ask
        assert reads(slack_emulator) == 0
        return event

    event = run(main())
    assert (event["status"], event["decision"]["by"]) == ("approved", [ALICE])


def test_a_reply_by_someone_else_and_a_withdrawn_reaction_wake_nobody_into_a_decision(slack_emulator, connect) -> None:
    conn_id = connect()
    ts = post_question(slack_emulator)

    async def main() -> dict[str, Any]:
        ask = asyncio.create_task(first_event(trigger(slack_emulator, conn_id, ts)))
        await settled(slack_emulator, conn_id, ts)
        watch = watch_of(slack_emulator, conn_id, ts)
        assert watch is not None
        await asyncio.to_thread(slack_emulator.act_as("bob").reply, CHANNEL, ts, "approve")
        await until(lambda: watch.latest and any(a.user == BOB for a in watch.latest.replies), "bob's reply pushed")
        alice = slack_emulator.act_as("alice")
        await asyncio.to_thread(alice.react, CHANNEL, ts, "eyes")
        await until(lambda: watch.latest and watch.latest.snapshot.reactions, "alice's reaction pushed")
        await asyncio.to_thread(alice.unreact, CHANNEL, ts, "eyes")
        await until(lambda: watch.latest and not watch.latest.snapshot.reactions, "the reaction withdrawn")
        assert not ask.done()
        await asyncio.to_thread(alice.reply, CHANNEL, ts, "reject")
        return await ask

    event = run(main())
    assert (event["status"], event["decision"]["by"]) == ("rejected", [ALICE])


# -- the socket's life -----------------------------------------------------------------------------


def test_one_socket_serves_every_ask_and_closes_a_grace_period_after_the_last(slack_emulator, connect) -> None:
    conn_id = connect(grace=1.0)
    questions = [post_question(slack_emulator, f"Deploy model {i}?") for i in range(3)]

    async def main() -> None:
        asks = [asyncio.create_task(first_event(trigger(slack_emulator, conn_id, ts))) for ts in questions]
        await settled(slack_emulator, conn_id, *questions)
        assert slack_emulator.open_sockets() == 1 and len(streams()) == 1
        for ts in questions:
            await asyncio.to_thread(slack_emulator.act_as("alice").reply, CHANNEL, ts, "ok")
        await asyncio.gather(*asks)
        assert slack_emulator.open_sockets() == 1 and len(streams()) == 1  # kept for the grace period
        await until(lambda: not streams(), "the socket to close once the grace period ran out")
        assert Runtime.current().idle

    run(main())
    slack_emulator.wait_for_sockets(0)


def test_a_click_between_two_asks_lands_on_the_socket_kept_open_and_is_recorded(slack_emulator, connect) -> None:
    """The last ask of a triggerer ended; the next one has not started yet (its question is posted). A
    click now reaches the socket the triggerer keeps for its grace period: it is recorded and acked, and
    the next ask, once it starts, is decided by the record."""
    conn_id = connect(grace=60.0)
    first, second = post_question(slack_emulator), post_question(slack_emulator, "Deploy model v43?")

    async def main() -> dict[str, Any]:
        ask = asyncio.create_task(first_event(trigger(slack_emulator, conn_id, first)))
        await settled(slack_emulator, conn_id, first)
        await asyncio.to_thread(slack_emulator.act_as("alice").reply, CHANNEL, first, "approve")
        await ask
        assert slack_emulator.open_sockets() == 1
        await slack_emulator.act_as("alice").click_async(CHANNEL, second, APPROVE_ACTION)  # no ask holds it
        return await asyncio.wait_for(first_event(trigger(slack_emulator, conn_id, second)), 30)

    event = run(main())
    assert (event["status"], event["decision"]["by"]) == ("approved", [ALICE])
    assert len(records(slack_emulator, second)) == 1


def test_without_the_socket_reads_go_back_to_the_poll_interval_and_a_reconnect_reads_at_once(
    slack_emulator, connect
) -> None:
    conn_id = connect()
    ts = post_question(slack_emulator)

    async def main() -> dict[str, Any]:
        ask = asyncio.create_task(first_event(trigger(slack_emulator, conn_id, ts, poll=0.2)))
        await settled(slack_emulator, conn_id, ts)
        slack_emulator.journal.clear()
        slack_emulator.refuse_sockets(1000)
        await asyncio.to_thread(slack_emulator.drop_sockets)
        await until(lambda: not poller(slack_emulator, conn_id).pushed, "the drop to be noticed")  # type: ignore[union-attr]
        await until(lambda: reads(slack_emulator) >= 3, "reads at the poll interval while the socket is down")
        slack_emulator.configure_sockets()  # Slack takes connections again
        await until(lambda: poller(slack_emulator, conn_id).pushed, "the socket to come back", timeout=60)  # type: ignore[union-attr]
        await settled(slack_emulator, conn_id, ts)  # includes a read made after the new socket opened
        slack_emulator.journal.clear()
        await asyncio.to_thread(slack_emulator.act_as("alice").reply, CHANNEL, ts, "approve")
        event = await ask
        assert reads(slack_emulator) == 0  # pushed again: decided without a read
        return event

    assert run(main())["status"] == "approved"


@pytest.mark.parametrize("reason", ["refresh_requested", "link_disabled", "warning"])
def test_disconnect_messages_move_to_a_new_socket_and_nothing_is_missed(slack_emulator, connect, reason) -> None:
    conn_id = connect()
    ts = post_question(slack_emulator)

    async def main() -> dict[str, Any]:
        ask = asyncio.create_task(first_event(trigger(slack_emulator, conn_id, ts)))
        await settled(slack_emulator, conn_id, ts)
        await asyncio.to_thread(slack_emulator.send_disconnect, reason, close_after=0.5)
        await until(lambda: slack_emulator.journal.count("socket.open") >= 2, "a new socket")
        await until(lambda: slack_emulator.open_sockets() == 1, "the old socket to close")
        await slack_emulator.act_as("alice").click_async(CHANNEL, ts, APPROVE_ACTION)
        return await ask

    assert run(main())["status"] == "approved"


def test_a_revoked_app_token_fails_its_asks_naming_the_connection_and_spares_polling_asks(
    slack_emulator, connect
) -> None:
    conn_id, polling = connect(), connect("slack_poll", app_token=False)
    pushed_q, polled_q = post_question(slack_emulator), post_question(slack_emulator, "Deploy model v43?")

    async def main() -> dict[str, Any]:
        ask = asyncio.create_task(first_event(trigger(slack_emulator, conn_id, pushed_q)))
        spared = asyncio.create_task(first_event(trigger(slack_emulator, polling, polled_q, poll=0.2)))
        await settled(slack_emulator, conn_id, pushed_q)
        await asyncio.to_thread(slack_emulator.revoke_token, slack_emulator.app_token)
        event = await ask
        assert not spared.done()
        await asyncio.to_thread(slack_emulator.act_as("alice").reply, CHANNEL, polled_q, "approve")
        assert (await spared)["status"] == "approved"
        return event

    event = run(main())
    assert event["status"] == "error" and event["code"] == "token_revoked"
    assert repr(conn_id) in event["message"] and "app_token" in event["message"]
    assert slack_emulator.app_token not in event["message"]


# -- parameters ------------------------------------------------------------------------------------


def test_reconcile_interval_is_in_the_trigger_kwargs_and_no_secret_is(slack_emulator, connect) -> None:
    ask = trigger(slack_emulator, connect(), "1.000100", poll=10, reconcile=600)
    _, kwargs = ask.serialize()
    assert kwargs["reconcile_interval"] == 600
    assert slack_emulator.app_token not in repr(kwargs) and "xapp" not in repr(kwargs)


def test_reconcile_interval_below_the_poll_interval_is_refused() -> None:
    with pytest.raises(ChatConfigError, match="reconcile_interval .* must be at least poll_interval"):
        ChatAskSensor(task_id="gate", message="Deploy?", channel="#ml-alerts", poll_interval=60, reconcile_interval=30)
    sensor = ChatAskSensor(task_id="gate", message="Deploy?", channel="#ml-alerts", poll_interval=60)
    assert sensor.reconcile_interval == 300
