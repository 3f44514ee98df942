"""Push under the faults a real deployment meets: sockets refused, lost or refreshed; click records that
cannot be made durable in time; copies of the buttons; events that are the whole story; bugs.

Real slack_sdk clients and the real trigger against the emulator; one event loop per triggerer.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from airflow_chat_alerts.clicks import APPROVE_ACTION, buttons_block
from airflow_chat_alerts.decisions import AskPolicy
from airflow_chat_alerts.testing import ClickFailed
from airflow_chat_alerts.testing.events import VERIFICATION_TOKEN
from airflow_chat_alerts.triggers.runtime import Runtime

from .test_push_trigger import (
    ALICE,
    CHANNEL,
    first_event,
    post_question,
    reads,
    records,
    run,
    settled,
    trigger,
    until,
    watch_of,
)


def stream() -> Any:
    streams = list(Runtime.current().streams.values())
    return streams[0] if streams else None


def socket_calls(emu: Any, what: str, **args: Any) -> list[Any]:
    return [c for c in list(emu.journal) if c.method == what and all(c.args.get(k) == v for k, v in args.items())]


# -- 1. refused or lost sockets recover, politely ---------------------------------------------------


def test_with_every_slot_taken_the_socket_is_retried_with_backoff_and_comes_back_when_one_frees(
    slack_emulator, connect, caplog
) -> None:
    """Slack's 10 sockets are all held by other clients of the app: each try is refused with
    too_many_websockets. The triggerer backs off (a few tries, not one per millisecond), asks for a new
    URL for every try (never a spent ticket), warns once, reads at the poll interval meanwhile, and has
    push back by itself once a slot frees."""
    conn_id = connect()
    ts = post_question(slack_emulator)
    others = slack_emulator.occupy_sockets(10)
    caplog.set_level(logging.INFO, logger="airflow_chat_alerts")

    async def main() -> dict[str, Any]:
        ask = asyncio.create_task(first_event(trigger(slack_emulator, conn_id, ts, poll=0.3)))
        await until(lambda: len(socket_calls(slack_emulator, "socket.refused", reason="too_many_websockets")) >= 2,
                    "two refused tries")
        await asyncio.sleep(3)
        refused = socket_calls(slack_emulator, "socket.refused")
        assert len(refused) <= 6, f"{len(refused)} tries in a few seconds: no backoff"
        assert all(c.args["reason"] == "too_many_websockets" for c in refused)  # never a spent ticket
        opens = [c for c in list(slack_emulator.journal) if c.method == "apps.connections.open" and c.ok]
        assert len(opens) == len(refused)  # a fresh URL for every try
        assert not stream().connected and reads(slack_emulator) >= 3  # polling meanwhile
        await asyncio.to_thread(others.release, 1)
        await until(lambda: stream().connected, "push to come back once a slot freed", timeout=90)
        await asyncio.to_thread(slack_emulator.act_as("alice").reply, CHANNEL, ts, "approve")
        return await ask

    assert run(main(), timeout=180)["status"] == "approved"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "is down" in r.getMessage()]
    assert len(warnings) == 1 and "'slack_push'" in warnings[0].getMessage()
    assert "too_many_websockets" in warnings[0].getMessage()
    others.release()


def test_a_429_on_opening_a_socket_is_waited_out_for_its_retry_after(slack_emulator, connect) -> None:
    conn_id = connect()
    ts = post_question(slack_emulator)
    slack_emulator.faults.add("apps.connections.open", "429", retry_after=3)

    async def main() -> None:
        ask = asyncio.create_task(first_event(trigger(slack_emulator, conn_id, ts)))
        await until(lambda: stream() is not None and stream().connected, "the socket, after the 429", timeout=60)
        ask.cancel()
        await asyncio.wait({ask})

    run(main())
    opens = slack_emulator.journal.calls("apps.connections.open")
    assert [c.status for c in opens[:2]] == [429, 200]
    assert opens[1].time - opens[0].time >= 3.0  # Slack's Retry-After, on its own clock


# -- 2. a click's outcome is what the person sees ---------------------------------------------------


def test_a_record_held_up_past_the_ack_window_never_counts_then_or_later(slack_emulator, connect) -> None:
    """The record's post gets a 429 asking to wait 5 s: the click cannot be made durable within Slack's
    3 s, so it is not acknowledged (the person sees Slack's error), and it never counts: nothing is
    posted late. Clicking again works."""
    conn_id = connect()
    ts = post_question(slack_emulator)

    async def main() -> dict[str, Any]:
        ask = asyncio.create_task(first_event(trigger(slack_emulator, conn_id, ts)))
        await settled(slack_emulator, conn_id, ts)
        slack_emulator.faults.add("chat.postMessage", "429", retry_after=5)
        with pytest.raises(ClickFailed) as failed:
            await slack_emulator.act_as("alice").click_async(CHANNEL, ts, APPROVE_ACTION)
        assert failed.value.reason == "not_acknowledged"
        await asyncio.sleep(6)  # past the Retry-After: a late post would be in by now
        assert records(slack_emulator, ts) == [] and not ask.done()
        await slack_emulator.act_as("alice").click_async(CHANNEL, ts, APPROVE_ACTION)
        return await ask

    assert run(main())["status"] == "approved"
    assert len(records(slack_emulator, ts)) == 1


def test_a_record_whose_answer_was_lost_is_deleted_and_decides_nothing(slack_emulator, connect) -> None:
    """Slack stored the record but its answer never came back (the connection dropped): the click is not
    acknowledged, so the record must count nowhere; the triggerer finds it and deletes it."""
    conn_id = connect()
    ts = post_question(slack_emulator)

    async def main() -> dict[str, Any]:
        ask = asyncio.create_task(first_event(trigger(slack_emulator, conn_id, ts, poll=0.3)))
        await settled(slack_emulator, conn_id, ts)
        slack_emulator.faults.add("chat.postMessage", "lost")
        with pytest.raises(ClickFailed):
            await slack_emulator.act_as("alice").click_async(CHANNEL, ts, APPROVE_ACTION)
        await until(lambda: slack_emulator.journal.count("chat.delete") >= 1, "the stray record to be deleted")
        assert records(slack_emulator, ts) == []
        await asyncio.sleep(1.0)  # reads at the poll interval: none decides on the stray record
        assert not ask.done()
        await slack_emulator.act_as("alice").click_async(CHANNEL, ts, APPROVE_ACTION)
        return await ask

    event = run(main())
    assert event["status"] == "approved"


def test_a_copy_of_the_buttons_in_the_questions_thread_decides_nothing(slack_emulator, connect) -> None:
    """The app's own thread reply carrying the question's buttons (a DAG's ChatPostOperator can post
    any blocks): an approver presses its Approve, and nothing is decided."""
    conn_id = connect()
    ts = post_question(slack_emulator)
    copy = slack_emulator.client().chat_postMessage(
        channel=slack_emulator.channel_id(CHANNEL), thread_ts=ts, text="press here", blocks=[buttons_block({})]
    )["ts"]

    async def main() -> dict[str, Any]:
        ask = asyncio.create_task(first_event(trigger(slack_emulator, conn_id, ts, poll=0.3)))
        await settled(slack_emulator, conn_id, ts)
        await slack_emulator.act_as("alice").click_async(CHANNEL, copy, APPROVE_ACTION)
        await asyncio.sleep(1.0)
        assert not ask.done() and records(slack_emulator, ts) == []
        await slack_emulator.act_as("alice").click_async(CHANNEL, ts, APPROVE_ACTION)
        return await ask

    assert run(main())["status"] == "approved"


# -- 6. push alone decides when nothing was missed ---------------------------------------------------


def test_with_every_event_seen_a_pushed_answer_decides_without_any_read(slack_emulator, connect) -> None:
    """A non-Marketplace app (one read a minute): the socket was open before the question was posted and
    no other socket of the app was, so its events are the whole story. An answer given before the ask
    started and one given after both decide without a single read."""
    slack_emulator.set_marketplace(False)
    conn_id = connect()
    keeper = post_question(slack_emulator, "Keeps the socket open")

    async def main() -> list[dict[str, Any]]:
        other = asyncio.create_task(first_event(trigger(slack_emulator, conn_id, keeper)))
        await settled(slack_emulator, conn_id, keeper)
        assert stream().complete
        early, late = post_question(slack_emulator), post_question(slack_emulator, "Deploy model v43?")
        slack_emulator.journal.clear()
        await asyncio.to_thread(slack_emulator.act_as("alice").reply, CHANNEL, early, "approve")
        await until(lambda: any(c.args.get("thread_ts") == early for c in slack_emulator.journal.calls(
            "chat.postMessage")), "alice's reply")
        asks = [asyncio.create_task(first_event(trigger(slack_emulator, conn_id, ts))) for ts in (early, late)]
        await until(lambda: watch_of(slack_emulator, conn_id, late) is not None, "the late ask")
        await asyncio.to_thread(slack_emulator.act_as("alice").react, CHANNEL, late, "x")
        events = await asyncio.gather(*asks)
        assert reads(slack_emulator) == 0
        other.cancel()
        return list(events)

    early_event, late_event = run(main())
    assert (early_event["status"], early_event["decision"]["by"]) == ("approved", [ALICE])
    assert (late_event["status"], late_event["decision"]["by"]) == ("rejected", [ALICE])


def test_after_a_gap_in_the_socket_pushed_events_alone_decide_nothing(slack_emulator, connect) -> None:
    """The socket dropped after the question was posted: an event may have been missed, so a pushed
    answer waits for a real read (which a fault holds back here) before it decides."""
    conn_id = connect()
    ts = post_question(slack_emulator)

    async def main() -> dict[str, Any]:
        ask = asyncio.create_task(first_event(trigger(slack_emulator, conn_id, ts, poll=0.3)))
        await settled(slack_emulator, conn_id, ts)
        slack_emulator.faults.add("conversations.history", "500", count=1000)
        slack_emulator.faults.add("conversations.replies", "500", count=1000)
        await asyncio.to_thread(slack_emulator.drop_sockets)
        await until(lambda: stream().connected and stream().opens >= 2, "the socket to come back")
        await asyncio.to_thread(slack_emulator.act_as("alice").reply, CHANNEL, ts, "approve")
        await asyncio.sleep(1.5)
        assert not ask.done(), "decided on events although one may have been missed"
        slack_emulator.faults.clear()
        return await ask

    assert run(main())["status"] == "approved"


# -- 7. reactions carry their time ---------------------------------------------------------------------


def test_a_pushed_reaction_keeps_its_time_so_a_later_read_weighs_it_in_order(slack_emulator, connect) -> None:
    """Alice and Carol approve by reply (Carol's completes the quorum of 2) while this triggerer's socket
    is down; then Bob's ❌ reaches it as an event. The first read after shows all three: Bob's reaction
    came after the quorum, as its event said, so the question is approved (a read alone cannot tell
    when a reaction was added, and a rejection of unknown time vetoes)."""
    conn_id = connect()
    ts = post_question(slack_emulator)
    policy = AskPolicy(approvers=("U0ALICE", "U0BOB", "U0CAROL"), required_approvals=2).to_dict()

    async def main() -> dict[str, Any]:
        ask_trigger = trigger(slack_emulator, conn_id, ts, poll=0.3)
        ask_trigger.policy = policy
        ask = asyncio.create_task(first_event(ask_trigger))
        await settled(slack_emulator, conn_id, ts)
        slack_emulator.faults.add("conversations.history", "500", count=1000)
        slack_emulator.faults.add("conversations.replies", "500", count=1000)
        slack_emulator.refuse_sockets(1000)
        await asyncio.to_thread(slack_emulator.drop_sockets)
        await until(lambda: not stream().connected, "the socket to drop")
        await asyncio.to_thread(slack_emulator.act_as("alice").reply, CHANNEL, ts, "approve")
        await asyncio.to_thread(slack_emulator.act_as("carol").reply, CHANNEL, ts, "approve")
        slack_emulator.configure_sockets()
        await until(lambda: stream().connected, "the socket to come back", timeout=60)
        await asyncio.to_thread(slack_emulator.act_as("bob").react, CHANNEL, ts, "x")
        watch = watch_of(slack_emulator, conn_id, ts)
        await until(lambda: watch is not None and ("U0BOB", "x") in watch._reaction_times, "bob's reaction event")
        slack_emulator.faults.clear()
        return await ask

    event = run(main())
    assert (event["status"], sorted(event["decision"]["by"])) == ("approved", ["U0ALICE", "U0CAROL"])


# -- 11. logs carry no credentials ---------------------------------------------------------------------


def test_no_log_line_carries_a_token_a_socket_ticket_or_the_verification_token(slack_emulator, connect, caplog):
    conn_id = connect()
    ts = post_question(slack_emulator)
    caplog.set_level(logging.DEBUG)

    async def main() -> dict[str, Any]:
        ask = asyncio.create_task(first_event(trigger(slack_emulator, conn_id, ts)))
        await settled(slack_emulator, conn_id, ts)
        await asyncio.to_thread(slack_emulator.send_disconnect, "refresh_requested", close_after=0.5)
        await until(lambda: stream().opens >= 2, "a second socket")
        await slack_emulator.act_as("alice").click_async(CHANNEL, ts, APPROVE_ACTION)
        return await ask

    assert run(main())["status"] == "approved"
    text = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    assert "apps.connections.open" in text  # slack_sdk's DEBUG lines were captured...
    assert slack_emulator.app_token not in text and slack_emulator.bot_token not in text
    tickets = [c.args for c in slack_emulator.journal.calls("apps.connections.open")]
    assert "ticket=" not in text.replace("ticket=***", "")  # ...without the socket URLs' tickets
    assert VERIFICATION_TOKEN not in text, tickets

