"""Answers pushed over the Gateway to ChatAskTrigger: hikari's real Gateway and REST clients against the
Discord emulator, and the Gateway's faults (a drop, op 7, op 9, a zombie socket, a late acknowledgement).

Each "triggerer process" is an event loop (in a thread of its own when there are two) running the real
trigger. Reads are counted in the emulator's journal, never by time: "decided by push" means decided
with no read after the event.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_chat_alerts.clicks import already_decided_text, not_approver_text
from airflow_chat_alerts.decisions import AskPolicy
from airflow_chat_alerts.testing import ClickFailed
from airflow_chat_alerts.triggers.runtime import Runtime

from .conftest import CHANNEL, custom_id, first_event, message_id, post_question, reads, run, trigger, until


def stream() -> Any:
    """The running loop's push stream (call it on the loop)."""
    found = list(Runtime.current().streams.values())
    return found[0] if found else None


async def settled(emu: Any) -> None:
    """The Gateway session is up and every ask has its read made since the session began: from now on no
    read is due, and every event patches that read."""

    def read_since_session() -> bool:
        since = stream().complete_since if stream() is not None else None
        watches = [w for p in Runtime.current().pollers.values() for w in p.all_watches()]
        return since is not None and bool(watches) and all(
            w.latest is not None and w.latest.read_at >= since for w in watches)

    await until(read_since_session, "the Gateway session, and a read since it began")


def no_more_reads(emu: Any) -> None:
    """From now on every read of a channel fails: what decides now was pushed."""
    emu.faults.add("list_messages", "503", count=10_000)


def records(emu: Any) -> list[dict]:
    """The click records in the channel: the bot's interaction responses."""
    return [m for m in emu.messages(CHANNEL) if m.get("interaction_metadata")]


# -- what push decides -----------------------------------------------------------------------------------------
def test_a_click_is_recorded_and_decides_without_a_read(discord_emulator, connect):
    emu, conn = discord_emulator, connect()
    ref = post_question(conn)

    async def scenario():
        ask = asyncio.ensure_future(first_event(trigger(conn, ref)))
        await settled(emu)
        no_more_reads(emu)
        clicked = await emu.act_as("alice").click_async(CHANNEL, message_id(ref), custom_id(emu, ref))
        return await ask, clicked

    event, clicked = run(scenario())

    assert event["status"] == "approved" and event["decision"]["by"] == [emu.user_id("alice")]
    [record] = records(emu)
    assert record["interaction_metadata"]["id"] == clicked["id"]
    assert record["interaction_metadata"]["user"]["id"] == emu.user_id("alice")
    assert record["interaction_metadata"]["interacted_message_id"] == message_id(ref)
    assert record["content"] == f"<@{emu.user_id('alice')}> pressed **Approve**" and record["mentions"] == []


@pytest.mark.parametrize("act", ["reply", "reaction", "thread"])
def test_a_reply_a_reaction_or_a_message_in_the_questions_thread_decides_without_a_read(
        discord_emulator, connect, act):
    emu, conn = discord_emulator, connect()
    ref = post_question(conn)

    async def scenario():
        ask = asyncio.ensure_future(first_event(trigger(conn, ref)))
        await settled(emu)
        no_more_reads(emu)
        carol = emu.act_as("carol")
        if act == "reply":
            await asyncio.to_thread(carol.reply, CHANNEL, message_id(ref), "approve - ship it")
        elif act == "reaction":
            await asyncio.to_thread(carol.react, CHANNEL, message_id(ref), "👍🏽")
        else:
            thread = await asyncio.to_thread(carol.start_thread, CHANNEL, message_id(ref), "deploy?")
            await asyncio.to_thread(carol.post_in_thread, thread, "LGTM")
        return await ask

    event = run(scenario())

    assert event["status"] == "approved" and event["decision"]["by"] == [emu.user_id("carol")]


def test_someone_who_may_not_answer_is_told_privately_and_a_decided_question_says_so(discord_emulator, connect):
    emu, conn = discord_emulator, connect(grace=30)
    ref = post_question(conn, approvers=[emu.user_id("alice")])
    policy = AskPolicy(approvers=[emu.user_id("alice")])

    async def scenario():
        ask = asyncio.ensure_future(first_event(trigger(conn, ref, policy=policy)))
        await settled(emu)
        await emu.act_as("bob").click_async(CHANNEL, message_id(ref), custom_id(emu, ref))  # acknowledged
        await emu.act_as("alice").click_async(CHANNEL, message_id(ref), custom_id(emu, ref, "reject"))
        event = await ask
        # The ask is over; its session lingers for the grace period: a late click is told how it ended.
        await emu.act_as("bob").click_async(CHANNEL, message_id(ref), custom_id(emu, ref))
        return event

    event = run(scenario())

    assert event["status"] == "rejected" and event["decision"]["by"] == [emu.user_id("alice")]
    told = [m["content"] for m in emu.ephemeral_messages("bob")]
    assert told[0] == not_approver_text()
    assert told[1].startswith(already_decided_text("").rstrip("."))
    assert [r["interaction_metadata"]["user"]["id"] for r in records(emu)] == [emu.user_id("alice")]


def test_an_approver_role_counts_as_the_click_says(discord_emulator, connect):
    """Carol is an approver through the ml-leads role: her click carries her roles, as Discord verified them."""
    emu, conn = discord_emulator, connect()
    leads = "&" + emu.role_id("ml-leads")
    ref = post_question(conn, approvers=[leads])

    async def scenario():
        ask = asyncio.ensure_future(first_event(trigger(conn, ref, policy=AskPolicy(approvers=[leads]))))
        await settled(emu)
        await emu.act_as("carol").click_async(CHANNEL, message_id(ref), custom_id(emu, ref))
        return await ask

    event = run(scenario())

    assert event["decision"]["by"] == [emu.user_id("carol")]


# -- the Gateway's faults ----------------------------------------------------------------------------------------
def test_a_dropped_session_resumes_and_the_events_held_back_meanwhile_decide(discord_emulator, connect):
    emu, conn = discord_emulator, connect()
    ref = post_question(conn)

    async def scenario():
        ask = asyncio.ensure_future(first_event(trigger(conn, ref)))
        await settled(emu)
        emu.refuse_gateway(2)  # the first tries to come back are refused: the reply lands in the gap
        emu.drop_gateway(code=4000)
        await until(lambda: not stream().connected, "the drop to be noticed")
        await asyncio.to_thread(emu.act_as("alice").reply, CHANNEL, message_id(ref), "approve")
        return await ask

    event = run(scenario())

    assert event["status"] == "approved"
    resumed = [c for c in emu.journal.calls("gateway.resume") if not c.error]
    assert resumed and resumed[0].args["replayed"] >= 1  # the reply came back with the resume
    assert emu.journal.count("gateway.identify") == 1  # the same session: nothing was missed


@pytest.mark.parametrize("fault", ["reconnect", "zombie"])
def test_op7_and_a_missing_heartbeat_ack_resume_the_session(discord_emulator, connect, fault):
    emu, conn = discord_emulator, connect()
    emu.configure_gateway(heartbeat_interval=0.5)
    ref = post_question(conn)

    async def scenario():
        ask = asyncio.ensure_future(first_event(trigger(conn, ref)))
        await settled(emu)
        if fault == "reconnect":
            emu.send_reconnect()
        else:
            emu.lose_heartbeat_acks(1)
        await until(lambda: any(not c.error for c in emu.journal.calls("gateway.resume")), "a resume")
        await until(lambda: stream().connected, "the session back")
        await emu.act_as("alice").click_async(CHANNEL, message_id(ref), custom_id(emu, ref))
        return await ask

    event = run(scenario())

    assert event["status"] == "approved"
    assert emu.journal.count("gateway.identify") == 1


def test_an_invalid_session_starts_a_new_one_and_reads_what_it_may_have_missed(discord_emulator, connect):
    emu, conn = discord_emulator, connect()
    ref = post_question(conn)

    async def scenario():
        ask = asyncio.ensure_future(first_event(trigger(conn, ref)))
        await settled(emu)
        emu.invalidate_session(resumable=False)
        await until(lambda: emu.journal.count("gateway.identify") == 2, "a new session")
        await until(lambda: stream().connected and stream().opens == 2, "the new session in use")
        identified = max(i for i, c in enumerate(list(emu.journal)) if c.method == "gateway.identify")
        await until(lambda: any(c.method == "list_messages" for c in list(emu.journal)[identified:]),
                    "a read after the new session began (events may have been missed in between)")
        await emu.act_as("alice").click_async(CHANNEL, message_id(ref), custom_id(emu, ref))
        return await ask

    assert run(scenario())["status"] == "approved"


def test_a_click_not_acknowledged_within_3_seconds_counts_for_nothing(discord_emulator, connect):
    emu, conn = discord_emulator, connect()
    ref = post_question(conn)
    emu.faults.add("interaction_callback", "stall", delay=3.5)  # the answer reaches Discord too late

    async def scenario():
        ask = asyncio.ensure_future(first_event(trigger(conn, ref)))
        await settled(emu)
        with pytest.raises(ClickFailed) as failed:  # the person sees "This interaction failed"
            await emu.act_as("alice").click_async(CHANNEL, message_id(ref), custom_id(emu, ref, "reject"))
        assert failed.value.reason == "not_acknowledged"
        assert not ask.done() and records(emu) == []
        await emu.act_as("alice").click_async(CHANNEL, message_id(ref), custom_id(emu, ref))  # clicks again
        return await ask

    event = run(scenario())

    assert event["status"] == "approved"  # the unacknowledged Reject never counted
    [record] = records(emu)  # the answer to the first click, given up at 2.5 s, recorded nothing
    assert "Approve" in record["content"]


def test_a_click_on_a_question_no_ask_holds_is_recorded_and_decides_when_its_ask_starts(discord_emulator, connect):
    """Between two asks the session lingers (gateway_grace): a click then is recorded by the stream that
    holds no ask of it (after giving a holder elsewhere the first word), and decides once the ask starts."""
    emu, conn = discord_emulator, connect(grace=60)
    first, second = post_question(conn, text="first?"), post_question(conn, text="second?")

    async def scenario():
        ask = asyncio.ensure_future(first_event(trigger(conn, first)))
        await settled(emu)
        ask.cancel()  # that ask ends; the session stays for the grace period
        await asyncio.gather(ask, return_exceptions=True)
        await emu.act_as("carol").click_async(CHANNEL, message_id(second), custom_id(emu, second))
        return await first_event(trigger(conn, second))

    event = run(scenario())

    assert event["status"] == "approved" and event["decision"]["by"] == [emu.user_id("carol")]
    assert emu.journal.count("gateway.identify") == 1  # one session served both


def test_two_triggerers_each_receive_the_click_and_it_is_recorded_once(discord_emulator, connect):
    """Discord sends the click to every session: the holder answers it, the other's answer comes second."""
    emu, conn = discord_emulator, connect()
    held, other = post_question(conn, text="held?"), post_question(conn, text="other?")
    results: dict[str, Any] = {}
    started = threading.Event()

    def triggerer(name: str, ref) -> None:
        async def wait():
            ask = asyncio.ensure_future(first_event(trigger(conn, ref)))
            await settled(emu)
            started.set()
            return await ask

        try:
            results[name] = run(wait(), timeout=60) if name == "A" else run(asyncio.wait_for(wait(), 15))
        except BaseException as err:  # B never decides: its own ask waits on another question
            results[name] = err

    a = threading.Thread(target=triggerer, args=("A", held))
    a.start()
    started.wait(30)
    started.clear()
    b = threading.Thread(target=triggerer, args=("B", other))
    b.start()
    started.wait(30)
    emu.wait_for_gateway(2)
    emu.act_as("alice").click(CHANNEL, message_id(held), custom_id(emu, held))
    a.join(60)
    b.join(60)

    assert results["A"]["status"] == "approved"
    assert len(records(emu)) == 1
    callbacks = emu.journal.calls("interaction_callback")
    assert [c.error for c in callbacks] in ([None], [None, "40060"])


# -- intents ---------------------------------------------------------------------------------------------------
def test_without_message_content_a_reply_that_pings_the_bot_still_counts(discord_emulator, connect):
    """The application lacks the privileged intent (portal switch off, connection extra message_content false):
    a Discord reply pings its author by default, and Discord shows the bot the content of what pings it."""
    emu = discord_emulator
    emu.set_message_content_intent(False)
    conn = connect(message_content=False)
    ref = post_question(conn)

    async def scenario():
        ask = asyncio.ensure_future(first_event(trigger(conn, ref, poll=0.2, reconcile=0.2)))
        await settled(emu)
        thread = await asyncio.to_thread(emu.act_as("bob").start_thread, CHANNEL, message_id(ref), "q")
        await asyncio.to_thread(emu.act_as("bob").post_in_thread, thread, "approve")  # unreadable: no ping
        await until(lambda: reads(emu) > 3, "reads that see bob's message")
        assert not ask.done()
        await asyncio.to_thread(emu.act_as("alice").reply, CHANNEL, message_id(ref), "approve")
        return await ask

    event = run(scenario())

    assert event["decision"]["by"] == [emu.user_id("alice")]


def test_an_intent_the_application_lacks_fails_the_ask_saying_what_to_change(discord_emulator, connect):
    emu = discord_emulator
    emu.set_message_content_intent(False)  # the portal switch is off, the connection still asks for it
    conn = connect()
    ref = post_question(conn)

    event = run(first_event(trigger(conn, ref)))

    assert event["status"] == "error"
    assert "4014" in event["message"] and "message_content" in event["message"] and conn in event["message"]


def test_a_deadline_passed_with_no_decision_times_out_after_a_read(discord_emulator, connect):
    emu, conn = discord_emulator, connect()
    deadline = datetime.now(timezone.utc) + timedelta(seconds=1)
    ref = post_question(conn, deadline=deadline)

    event = run(first_event(trigger(conn, ref, deadline=deadline)))

    assert event == {"status": "timed_out"}
    assert any(c.time >= deadline.timestamp() for c in emu.journal.calls("list_messages"))


def test_no_log_line_shows_a_token_at_any_level(discord_emulator, connect, caplog):
    """hikari logs routes at DEBUG and whole Gateway payloads at TRACE (5): the bot token, the interaction's
    token (a credential for 15 minutes) and a webhook's never show."""
    caplog.set_level(1)
    emu, conn = discord_emulator, connect()
    ref = post_question(conn)

    async def scenario():
        ask = asyncio.ensure_future(first_event(trigger(conn, ref)))
        await settled(emu)
        await emu.act_as("alice").click_async(CHANNEL, message_id(ref), custom_id(emu, ref))
        return await ask

    assert run(scenario())["status"] == "approved"
    [interaction] = emu.interactions()
    assert "INTERACTION_CREATE" in caplog.text  # the payloads were logged...
    assert interaction.token not in caplog.text  # ...without the interaction's token
    assert emu.bot_token not in caplog.text


def test_an_ask_that_starts_after_its_question_was_posted_starts_from_the_sessions_events(discord_emulator, connect):
    """While one ask holds the session, a second question is posted and answered before its ask starts; every
    event since reached the session, so the ask decides from them, though no read of the channel works."""
    emu, conn = discord_emulator, connect()
    first = post_question(conn, text="first?")

    async def scenario():
        holding = asyncio.ensure_future(first_event(trigger(conn, first)))
        await settled(emu)
        second = await asyncio.to_thread(post_question, conn, text="second?")
        await asyncio.to_thread(emu.act_as("carol").react, CHANNEL, message_id(second), "✅")
        emu.faults.add("list_messages", "503", count=10_000)  # from now on, no read of the channel works
        event = await first_event(trigger(conn, second))
        holding.cancel()
        return event

    event = run(scenario())

    assert event["status"] == "approved" and event["decision"]["by"] == [emu.user_id("carol")]
