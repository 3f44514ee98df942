"""ChatAskTrigger never decides on a read that failed, a stale copy of a thread, a stale group or a
message its app did not post; one person's unreadable profile or a garbled answer fails nobody.

Each test drives real triggers (as a triggerer would) through the shared poller against the emulator.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import timedelta

import pytest

import airflow_chat_alerts.triggers.ask as ask_trigger
import airflow_chat_alerts.triggers.polling.channel as channel_poller
from airflow_chat_alerts.decisions import AskPolicy

from .test_ask_trigger import CHANNEL, first_event, iso_in, make_trigger


@pytest.fixture
def question(slack_emulator, ask_conn) -> str:
    """The ts of a question the app posted (as ChatAskSensor would have)."""
    return slack_emulator.act_as("chat-alerts").post(CHANNEL, "Deploy the model?")


def read_channel_only(monkeypatch) -> None:
    """The connection reads the channel's history (the shared read), never each thread unasked."""
    env = "AIRFLOW_CONN_SLACK_API_DEFAULT"
    conn = json.loads(os.environ[env])
    conn["extra"]["read_strategy"] = "channel"
    monkeypatch.setenv(env, json.dumps(conn))


async def until(predicate, what: str, timeout: float = 60.0) -> None:
    """Wait (on the loop, in small steps) until ``predicate()`` holds; fail saying what was awaited."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + timeout
    while not predicate():
        if loop.time() > give_up:
            raise AssertionError(f"gave up after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.02)


# -- the deadline rule ----------------------------------------------------------------------------
def test_a_rejection_before_the_deadline_wins_when_the_read_at_the_deadline_is_rate_limited(
    slack_emulator, question
):
    """The read after the deadline waits out a long Retry-After instead of applying on_timeout blind."""
    slack_emulator.act_as("alice").reply(CHANNEL, question, "reject - the numbers look off")
    slack_emulator.faults.add("*", "429", count=1, retry_after=12)  # longer than poll interval + 10 s
    trigger = make_trigger(slack_emulator, question, deadline=iso_in(0))

    event = first_event(trigger, within=60)

    assert event["status"] == "rejected"
    assert event["decision"]["by"] == ["U0ALICE"]


def test_no_read_after_the_deadline_is_an_error_not_a_timeout(slack_emulator, question, monkeypatch):
    monkeypatch.setattr(ask_trigger, "LAST_READ_LIMIT", timedelta(seconds=3))
    slack_emulator.faults.add("*", "503", count=10_000)

    event = first_event(make_trigger(slack_emulator, question, deadline=iso_in(0.5)), within=60)

    assert event["status"] == "error"
    assert event["code"] == "service_unavailable"
    assert "could not be read after its deadline" in event["message"]
    assert "slack_api_default" in event["message"]


def test_an_archived_channel_fails_the_ask_instead_of_timing_out(slack_emulator, question, monkeypatch):
    """Nobody can answer in an archived channel: on_timeout must not apply there."""
    monkeypatch.setattr(channel_poller, "ARCHIVE_CHECK_SECONDS", 0.5)  # a look every half second
    trigger = make_trigger(slack_emulator, question, deadline=iso_in(60))

    async def main() -> dict:
        run = asyncio.ensure_future(anext(trigger.run()))
        await until(lambda: slack_emulator.journal.count("conversations.replies"), "a first read")
        await asyncio.to_thread(slack_emulator.archive_channel, CHANNEL)
        return (await asyncio.wait_for(run, 60)).payload

    event = asyncio.run(main())

    assert event["status"] == "error"
    assert event["code"] == "is_archived"
    assert "archived" in event["message"] and "slack_api_default" in event["message"]


def test_a_channel_archived_just_before_the_deadline_is_looked_at_before_timing_out(slack_emulator, question):
    """The once-a-minute look is not relied on: the read that times the question out looks again."""
    trigger = make_trigger(slack_emulator, question, deadline=iso_in(0))
    slack_emulator.archive_channel(CHANNEL)

    event = first_event(trigger)

    assert event["status"] == "error" and event["code"] == "is_archived"


# -- current reads only ---------------------------------------------------------------------------
def test_an_edit_seen_only_by_reading_the_thread_again_decides(slack_emulator, question, monkeypatch):
    """An edit moves no thread: a decision resting on an earlier copy of the replies reads them again."""
    read_channel_only(monkeypatch)
    policy = AskPolicy(required_approvals=2).to_dict()
    trigger = make_trigger(slack_emulator, question, deadline=iso_in(60), policy=policy)
    alice = slack_emulator.act_as("alice")

    async def main() -> dict:
        run = asyncio.ensure_future(anext(trigger.run()))
        reply = await asyncio.to_thread(alice.reply, CHANNEL, question, "approve")
        await until(lambda: slack_emulator.journal.count("conversations.replies"), "the thread's first read")
        await asyncio.to_thread(alice.edit, CHANNEL, reply, "reject - changed my mind")
        await asyncio.to_thread(slack_emulator.act_as("carol").react, CHANNEL, question, "white_check_mark")
        return (await asyncio.wait_for(run, 60)).payload

    event = asyncio.run(main())

    assert event["status"] == "rejected"
    assert event["decision"]["by"] == ["U0ALICE"]
    assert event["decision"]["comment"] == "changed my mind"


def test_a_message_the_app_did_not_post_is_not_waited_on(slack_emulator, ask_conn):
    """A trigger only decides on its own app's question, whatever the answers say."""
    forged = slack_emulator.act_as("bob").post(CHANNEL, "pizza on Friday?")
    slack_emulator.act_as("alice").react(CHANNEL, forged, "white_check_mark")

    event = first_event(make_trigger(slack_emulator, forged, deadline=iso_in(30)))

    assert event["status"] == "error"
    assert event["code"] == "not_our_question"


def test_two_copies_reading_the_same_thread_fire_the_same_outcome(slack_emulator, question):
    """Airflow may run a trigger twice: both copies read one history and must agree."""
    slack_emulator.act_as("alice").reply(CHANNEL, question, "approve - fine by me")
    slack_emulator.act_as("dave").react(CHANNEL, question, "x")
    copies = [make_trigger(slack_emulator, question, deadline=iso_in(30)) for _ in range(2)]

    async def main() -> list[dict]:
        return [event.payload for event in await asyncio.gather(*(anext(copy.run()) for copy in copies))]

    first, second = asyncio.run(main())

    assert first == second
    assert first["status"] == "rejected" and first["decision"]["by"] == ["U0DAVE"]


# -- containment ----------------------------------------------------------------------------------
def test_only_the_questions_reactors_are_looked_up(slack_emulator, question, monkeypatch):
    read_channel_only(monkeypatch)
    chatter = slack_emulator.act_as("bob").post(CHANNEL, "lunch?")
    for person in ("alice", "carol", "dave"):
        slack_emulator.act_as(person).react(CHANNEL, chatter, "pizza")
    slack_emulator.act_as("ci-bot").react(CHANNEL, question, "eyes")

    event = first_event(make_trigger(slack_emulator, question, deadline=iso_in(0.5)))

    assert event == {"status": "timed_out"}
    looked_up = {call.args["user"] for call in slack_emulator.journal.calls("users.info")}
    assert looked_up == {slack_emulator.user_id("ci-bot")}


def test_an_unreadable_user_group_does_not_hold_a_timeout(slack_emulator, question):
    """With nobody answering, the group's members do not matter: the deadline is kept."""
    slack_emulator.faults.add("usergroups.users.list", "503", count=10_000)
    policy = AskPolicy(approvers=["S0MLLEADS"]).to_dict()

    event = first_event(make_trigger(slack_emulator, question, deadline=iso_in(1), policy=policy), within=30)

    assert event == {"status": "timed_out"}


def test_an_unreadable_user_group_with_an_answer_to_weigh_ends_in_an_error(slack_emulator, question, monkeypatch):
    monkeypatch.setattr(ask_trigger, "LAST_READ_LIMIT", timedelta(seconds=3))
    slack_emulator.act_as("carol").reply(CHANNEL, question, "approve")
    slack_emulator.faults.add("usergroups.users.list", "503", count=10_000)
    policy = AskPolicy(approvers=["S0MLLEADS"]).to_dict()

    event = first_event(make_trigger(slack_emulator, question, deadline=iso_in(1), policy=policy), within=60)

    assert event["status"] == "error"
    assert event["code"] == "service_unavailable"


def test_a_reactor_the_app_cannot_see_is_skipped_and_others_still_count(slack_emulator, question):
    """users.info answers user_not_visible for a Slack Connect member: their reaction is skipped."""
    slack_emulator.act_as("nico").react(CHANNEL, question, "x")  # would veto, if it could be weighed
    slack_emulator.act_as("carol").react(CHANNEL, question, "white_check_mark")

    event = first_event(make_trigger(slack_emulator, question, deadline=iso_in(30)))

    assert event["status"] == "approved"
    assert event["decision"]["by"] == ["U0CAROL"]


def test_a_reaction_list_cut_short_is_read_in_full(slack_emulator, question):
    """Slack lists only the first users of a reaction (count stays complete): the rest are read too."""
    slack_emulator.set_reaction_users_shown(1)
    policy = AskPolicy(approvers=["U0CAROL"]).to_dict()
    slack_emulator.act_as("bob").react(CHANNEL, question, "white_check_mark")  # listed, not an approver
    slack_emulator.act_as("carol").react(CHANNEL, question, "white_check_mark")  # only in the count

    event = first_event(make_trigger(slack_emulator, question, deadline=iso_in(30), policy=policy))

    assert event["status"] == "approved"
    assert event["decision"]["by"] == ["U0CAROL"]
    assert slack_emulator.journal.count("reactions.get") >= 1


def test_a_garbled_answer_is_retried_not_a_failure(slack_emulator, question):
    slack_emulator.faults.add("conversations.replies", "truncated", count=2)
    slack_emulator.faults.add("conversations.history", "truncated", count=2)
    slack_emulator.act_as("alice").reply(CHANNEL, question, "approve")

    event = first_event(make_trigger(slack_emulator, question, deadline=iso_in(30)), within=60)

    assert event["status"] == "approved"


def test_a_person_removed_from_the_approver_group_no_longer_approves(slack_emulator, question):
    """Group members are read again before a group member's answer decides."""
    policy = AskPolicy(approvers=["S0MLLEADS"]).to_dict()
    trigger = make_trigger(slack_emulator, question, deadline=iso_in(60), policy=policy)

    async def main() -> dict:
        run = asyncio.ensure_future(anext(trigger.run()))
        carol = slack_emulator.act_as("carol")
        await asyncio.to_thread(carol.reply, CHANNEL, question, "hmm")  # the group is read for her
        await until(lambda: slack_emulator.journal.count("usergroups.users.list"), "a first read of the group")
        await asyncio.to_thread(slack_emulator.set_usergroup_members, "ml-leads", ["alice"])
        await asyncio.to_thread(carol.reply, CHANNEL, question, "approve")  # no longer counts...
        await asyncio.to_thread(slack_emulator.act_as("alice").reply, CHANNEL, question, "reject - not yet")
        return (await asyncio.wait_for(run, 60)).payload

    event = asyncio.run(main())

    # ...so alice's later rejection decides, not carol's earlier approval on the group as first read.
    assert event["status"] == "rejected"
    assert event["decision"]["by"] == ["U0ALICE"]
    assert slack_emulator.journal.count("usergroups.users.list") >= 2


def test_a_rotated_token_is_picked_up_by_a_waiting_ask(slack_emulator, question, monkeypatch):
    trigger = make_trigger(slack_emulator, question, deadline=iso_in(60))

    async def main() -> dict:
        run = asyncio.ensure_future(anext(trigger.run()))
        await until(lambda: slack_emulator.journal.count("conversations.replies"), "a first read")
        env = "AIRFLOW_CONN_SLACK_API_DEFAULT"
        conn = json.loads(os.environ[env])
        conn["password"] = await asyncio.to_thread(slack_emulator.rotate_token)
        monkeypatch.setenv(env, json.dumps(conn))  # the secret store now holds the new token
        await asyncio.to_thread(slack_emulator.act_as("alice").reply, CHANNEL, question, "approve")
        return (await asyncio.wait_for(run, 60)).payload

    event = asyncio.run(main())

    assert event["status"] == "approved"
    assert slack_emulator.journal.count(error="token_revoked") >= 1


@pytest.mark.parametrize("allow_guests", [False, True])
def test_guests_and_other_organisations_answer_for_anyone_only_when_allowed(slack_emulator, question, allow_guests):
    """approvers=None means the workspace's own members: a guest's or a Slack Connect member's ✅ does not count."""
    slack_emulator.act_as("gina").react(CHANNEL, question, "white_check_mark")  # a guest
    slack_emulator.act_as("xena").reply(CHANNEL, question, "approve")  # from another organisation
    policy = AskPolicy(allow_guests=allow_guests).to_dict()

    event = first_event(make_trigger(slack_emulator, question, deadline=iso_in(1), policy=policy))

    if allow_guests:
        assert event["status"] == "approved"
        assert set(event["decision"]["by"]) <= {"U0GINA", "U0XENA"}
    else:
        assert event == {"status": "timed_out"}

