"""SlackAlerter against the emulator over real HTTP: sync posting, async reading, errors."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

import pytest

from airflow_chat_alerts import formatting
from airflow_chat_alerts.alerters.slack import MAX_LOOKUP_PAGES, SlackAlerter
from airflow_chat_alerts.exceptions import (
    ChatConfigError,
    ChatPermanentError,
    ChatQuestionDeletedError,
    ChatTransientError,
)
from airflow_chat_alerts.model import ASK_EVENT_TYPE, Message, MessageRef, PipelineContext
from airflow_chat_alerts.testing import SlackEmulator


def alerter_for(emu: SlackEmulator, *, token: str | None = None, **kwargs) -> SlackAlerter:
    kwargs.setdefault("default_channel", emu.channel_id("ml-alerts"))
    return SlackAlerter(conn_id="chat_test", token=token or emu.bot_token, base_url=emu.base_url, **kwargs)


def question(emu: SlackEmulator, alerter: SlackAlerter, **payload) -> MessageRef:
    metadata = {"event_type": ASK_EVENT_TYPE, "event_payload": {"dag_id": "d", "run_id": "r", **payload}}
    return alerter.post_question(Message(text="Deploy?", metadata=metadata))


def deadline_in(emu: SlackEmulator, seconds: float) -> str:
    """An ask deadline ``seconds`` after the emulator's now (its clock dates the messages)."""
    return datetime.fromtimestamp(emu.clock.now() + seconds, timezone.utc).isoformat()


# -- posting -----------------------------------------------------------------------------------
def test_post_sends_text_blocks_and_metadata_and_returns_a_permalinked_ref(slack_emulator):
    alerter = alerter_for(slack_emulator)
    ctx = PipelineContext(dag_id="train", run_id="manual_1", task_id="post", try_number=2, link="http://af/log")
    blocks = formatting.alert_blocks("Accuracy *0.93*", context=ctx)

    ref = alerter.post(
        Message(text="Accuracy 0.93", blocks=blocks, metadata={"event_type": "x", "event_payload": {"k": 1}})
    )

    assert ref.channel == slack_emulator.channel_id("ml-alerts")
    assert ref.permalink and ref.ts.replace(".", "") in ref.permalink
    [posted] = slack_emulator.messages("ml-alerts")
    assert posted["ts"] == ref.ts
    assert posted["text"] == "Accuracy 0.93"
    assert [{k: v for k, v in b.items() if k != "block_id"} for b in posted["blocks"]] == blocks
    assert posted["metadata"] == {"event_type": "x", "event_payload": {"k": 1}}


def test_post_by_channel_name_returns_the_channel_id_and_replies_in_threads(slack_emulator):
    alerter = alerter_for(slack_emulator, default_channel=None)
    parent = alerter.post(Message(text="parent"), channel="#ml-alerts")
    reply = alerter.post(Message(text="child"), channel=parent.channel, thread_ts=parent.ts)

    assert parent.channel == reply.channel == slack_emulator.channel_id("ml-alerts")
    assert reply.thread_ts == parent.ts
    assert [m["text"] for m in slack_emulator.thread("ml-alerts", parent.ts)] == ["parent", "child"]


def test_update_replaces_text_and_clears_blocks(slack_emulator):
    alerter = alerter_for(slack_emulator)
    ref = alerter.post(Message(text="pending", blocks=[formatting.section("pending")]))

    alerter.update(ref, Message(text="Approved by alice"))

    [posted] = slack_emulator.messages("ml-alerts")
    assert posted["text"] == "Approved by alice"
    assert not posted.get("blocks")


def test_post_file_uploads_into_a_thread(slack_emulator):
    alerter = alerter_for(slack_emulator)
    parent = alerter.post(Message(text="plots"))

    ref = alerter.post_file(b"\x89PNG fake", filename="loss.png", channel=parent.channel, thread_ts=parent.ts)

    assert ref.thread_ts == parent.ts and ref.permalink and "loss.png" in ref.permalink
    assert "loss.png" in slack_emulator.transcript("ml-alerts")
    assert slack_emulator.journal.count("files.completeUploadExternal") == 1


def test_post_file_needs_a_channel_id(slack_emulator):
    with pytest.raises(ChatConfigError, match="channel id"):
        alerter_for(slack_emulator).post_file(b"x", filename="a.txt", channel="#ml-alerts")
    assert slack_emulator.journal.count() == 0


def test_text_over_the_limit_is_truncated_visibly_and_posted(slack_emulator):
    alerter = alerter_for(slack_emulator)
    alerter.post(Message(text="x" * 45_000))

    [posted] = slack_emulator.messages("ml-alerts")
    assert len(posted["text"]) <= formatting.MAX_TEXT
    assert "more characters" in posted["text"]
    [call] = slack_emulator.journal.calls("chat.postMessage")
    assert call.ok and not call.warnings


def test_too_many_blocks_are_fitted_and_posted(slack_emulator):
    alerter = alerter_for(slack_emulator)
    blocks = [formatting.section(f"row {i}") for i in range(80)]

    alerter.post(Message(text="table", blocks=blocks))

    [posted] = slack_emulator.messages("ml-alerts")
    assert len(posted["blocks"]) <= formatting.MAX_BLOCKS
    assert {k: v for k, v in posted["blocks"][0].items() if k != "block_id"} == blocks[0]


@pytest.mark.parametrize(
    ("message", "channel", "default", "error"),
    [
        (Message(text="  "), None, "C0MLALERTS", "empty message"),
        (Message(text="hi"), None, None, "no channel"),
    ],
)
def test_bad_input_is_refused_before_any_call(slack_emulator, message, channel, default, error):
    alerter = alerter_for(slack_emulator, default_channel=default)
    with pytest.raises(ChatConfigError, match=error) as info:
        alerter.post(message, channel=channel)
    assert "chat_test" in str(info.value)
    assert slack_emulator.journal.count() == 0


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("channel", "code", "expected"),
    [
        ("C0OPS", "not_in_channel", "not_in_channel: invite the app to #ops (C0OPS) or use chat:write.public"),
        ("#ops", "not_in_channel", "invite the app to #ops"),
        ("C0NOPE", "channel_not_found", "channel_not_found: channel C0NOPE does not exist"),
        ("old-alerts", "is_archived", "is_archived: channel #old-alerts is archived"),
    ],
)
def test_channel_errors_name_connection_channel_and_code(slack_emulator, channel, code, expected):
    with pytest.raises(ChatPermanentError) as info:
        alerter_for(slack_emulator).post(Message(text="hello"), channel=channel)
    assert expected in str(info.value)
    assert "'chat_test'" in str(info.value)
    assert info.value.code == code and info.value.conn_id == "chat_test"
    assert slack_emulator.messages("ml-alerts") == []


# -- ephemeral messages ----------------------------------------------------------------------------
def test_post_ephemeral_shows_a_message_to_one_person_only(slack_emulator):
    alerter = alerter_for(slack_emulator)
    channel = slack_emulator.channel_id("ml-alerts")

    ts = alerter.post_ephemeral(channel, slack_emulator.user_id("bob"), "You are *not* an approver")
    later = asyncio.run(alerter.apost_ephemeral(channel, slack_emulator.user_id("bob"), "Already decided"))

    shown = slack_emulator.ephemeral_messages("bob", "ml-alerts")
    assert [(m["ts"], m["text"]) for m in shown] == [(ts, "You are *not* an approver"), (later, "Already decided")]
    assert slack_emulator.ephemeral_messages("alice") == []
    assert slack_emulator.messages("ml-alerts") == []  # never in the channel's history


def test_post_ephemeral_to_someone_outside_the_channel_is_a_clear_permanent_error(slack_emulator):
    alerter = alerter_for(slack_emulator)
    private = slack_emulator.channel_id("ml-private")
    for attempt in (
        lambda: alerter.post_ephemeral(private, slack_emulator.user_id("bob"), "hello"),
        lambda: asyncio.run(alerter.apost_ephemeral(private, slack_emulator.user_id("bob"), "hello")),
    ):
        with pytest.raises(ChatPermanentError) as info:
            attempt()
        assert info.value.code == "user_not_in_channel" and info.value.conn_id == "chat_test"
        assert "the person is not a member of" in str(info.value) and "'chat_test'" in str(info.value)
        assert "chat.postEphemeral" in str(info.value)
    assert slack_emulator.ephemeral_messages("bob") == []


@pytest.mark.parametrize("revoke", [False, True])
def test_bad_tokens_are_permanent_and_never_shown(slack_emulator, revoke):
    token = slack_emulator.bot_token if revoke else "xoxb-not-a-real-token"
    if revoke:
        slack_emulator.revoke_token(token)
    with pytest.raises(ChatPermanentError) as info:
        alerter_for(slack_emulator, token=token).post(Message(text="hello"))
    assert info.value.code == ("token_revoked" if revoke else "invalid_auth")
    assert "is invalid or revoked; update the password of connection 'chat_test'" in str(info.value)
    assert token not in str(info.value) and token not in repr(info.value.__cause__)
    assert slack_emulator.messages("ml-alerts") == []


def test_missing_scope_names_the_scope_and_the_method():
    with SlackEmulator(SlackEmulator(start=False).workspace.with_scopes("chat-alerts", ["chat:write"])) as emu:
        alerter = alerter_for(emu)
        ref = alerter.post(Message(text="q"))
        with pytest.raises(ChatPermanentError) as info:
            asyncio.run(alerter.read_thread(ref))
    message = str(info.value)
    assert message.startswith("missing_scope: the token of connection 'chat_test' lacks channels:history")
    assert "conversations.replies" in message and "(the token has: chat:write)" in message


def test_a_429_is_waited_out_on_workers_and_surfaces_at_once_in_the_triggerer(slack_emulator):
    alerter = alerter_for(slack_emulator)
    slack_emulator.faults.add("chat.postMessage", "429", count=1, retry_after=1)
    alerter.post(Message(text="after one 429"))
    assert slack_emulator.journal.count("chat.postMessage") == 2

    slack_emulator.faults.add("chat.postMessage", "429", count=5, retry_after=1)
    with pytest.raises(ChatTransientError) as info:
        alerter.post(Message(text="never posted"))
    assert info.value.retry_after == 1.0 and info.value.code == "ratelimited"
    assert slack_emulator.journal.count("chat.postMessage") == 2 + 3  # the first try and two retries

    # The triggerer's client never waits a 429 out itself: the caller hears it at once, with Retry-After
    # (the rate budget pauses the method, and the caller decides whether to try again).
    slack_emulator.faults.add("conversations.history", "429", count=5, retry_after=1)
    with pytest.raises(ChatTransientError) as info:
        asyncio.run(alerter.read_channel(slack_emulator.channel_id("ml-alerts"), oldest="0"))
    assert info.value.retry_after == 1.0
    assert slack_emulator.journal.count("conversations.history") == 1
    assert [m["text"] for m in slack_emulator.messages("ml-alerts")] == ["after one 429"]


def test_a_post_whose_answer_was_lost_is_not_sent_again(slack_emulator):
    alerter = alerter_for(slack_emulator)
    slack_emulator.faults.add("chat.postMessage", "lost")
    with pytest.raises(ChatTransientError) as info:
        alerter.post(Message(text="accepted once"))
    assert info.value.code == "connection_error"
    assert [m["text"] for m in slack_emulator.messages("ml-alerts")] == ["accepted once"]
    assert slack_emulator.journal.count("chat.postMessage") == 1

    # Reads are still retried after a dropped connection: reading twice does no harm.
    slack_emulator.faults.add("auth.test", "reset")
    assert alerter.auth_test()["user_id"] == slack_emulator.bot_user_id


def test_a_webhook_post_whose_answer_was_lost_is_not_sent_again(slack_emulator, slack_webhook_conn):
    from airflow_chat_alerts.hooks.chat_alerter import ChatAlerterHook

    alerter = ChatAlerterHook(chat_conn_id=slack_webhook_conn).get_alerter()
    slack_emulator.faults.add("webhook", "lost")
    with pytest.raises(ChatTransientError, match="connection_error"):
        alerter.post(Message(text="accepted once"))
    assert [m["text"] for m in slack_emulator.messages("ml-alerts")] == ["accepted once"]
    assert slack_emulator.journal.count("webhook") == 1


@pytest.mark.parametrize("kind", ["500", "503", "reset"])
def test_server_errors_and_resets_are_transient(slack_emulator, kind):
    alerter = alerter_for(slack_emulator)
    slack_emulator.faults.add("auth.test", kind, count=5)
    with pytest.raises(ChatTransientError) as info:
        alerter.auth_test()
    assert "chat_test" in str(info.value)
    with pytest.raises(ChatTransientError):
        asyncio.run(alerter.aself_user_id())


def test_the_async_client_only_has_async_retry_handlers(slack_emulator):
    from slack_sdk.http_retry.async_handler import AsyncRetryHandler
    from slack_sdk.http_retry.handler import RetryHandler

    alerter = alerter_for(slack_emulator)
    assert alerter.async_client.retry_handlers and all(
        isinstance(h, AsyncRetryHandler) for h in alerter.async_client.retry_handlers
    )
    assert all(isinstance(h, RetryHandler) for h in alerter.client.retry_handlers)


# -- asking and reading --------------------------------------------------------------------------
def test_find_question_returns_the_newest_undecided_match(slack_emulator):
    alerter = alerter_for(slack_emulator)
    channel = slack_emulator.channel_id("ml-alerts")
    first = question(slack_emulator, alerter, task_id="ask", try_number=1)
    second = question(slack_emulator, alerter, task_id="ask", try_number=2)
    question(slack_emulator, alerter, task_id="other")
    alerter.post(Message(text="unrelated"))

    found = alerter.find_question(channel, match={"dag_id": "d", "run_id": "r", "task_id": "ask"})
    assert found is not None and found.ref.ts == second.ts and found.payload["try_number"] == 2

    decided = {
        "event_type": ASK_EVENT_TYPE,
        "event_payload": {"dag_id": "d", "run_id": "r", "task_id": "ask", "outcome": "approved"},
    }
    alerter.update(second, Message(text="approved", metadata=decided))
    assert alerter.find_question(channel, match={"task_id": "ask"}).ref.ts == first.ts
    assert alerter.find_question(channel, match={"task_id": "missing"}) is None
    assert alerter.find_question(channel, match={"task_id": "ask"}, oldest=second.ts) is None


@pytest.mark.parametrize(
    ("poster", "deadline_after", "why"),
    [
        ("ci-bot", 60, "posted by B0CIBOT, not by this app"),  # another app
        ("bob", 60, "posted by U0BOB, not by this app"),  # a person with a user token
        (None, 10 * 86400, "is not within the ask's timeout (3600 s) of its post"),  # our app, forged deadline
        (None, -3600, "is not within the ask's timeout (3600 s) of its post"),  # a deadline before the post
    ],
)
def test_find_question_ignores_copies_not_posted_as_a_question_by_this_app(
    slack_emulator, caplog, poster, deadline_after, why
):
    alerter = alerter_for(slack_emulator)
    channel = slack_emulator.channel_id("ml-alerts")
    ours = question(slack_emulator, alerter, task_id="ask", try_number=1, deadline=deadline_in(slack_emulator, 3600))
    payload = {"dag_id": "d", "run_id": "r", "task_id": "ask", "try_number": 1}
    metadata = {
        "event_type": ASK_EVENT_TYPE,
        "event_payload": {**payload, "deadline": deadline_in(slack_emulator, deadline_after)},
    }
    if poster is None:
        copy = alerter.post(Message(text="pizza on Friday? ✅", metadata=metadata)).ts
    elif poster == "bob":  # Slack refuses metadata from user tokens; should it ever pass, it is still not ours
        user = slack_emulator.state.user(poster)
        copy = slack_emulator.state.post(channel, user, text="pizza on Friday? ✅", metadata=metadata).ts
    else:
        copy = slack_emulator.act_as(poster).post("ml-alerts", "pizza on Friday? ✅", metadata=metadata)

    with caplog.at_level(logging.WARNING, logger="airflow_chat_alerts.alerters.slack"):
        found = alerter.find_question(channel, match=payload, timeout=3600, clock_skew=300)

    assert found is not None and found.ref.ts == ours.ts
    [warning] = [r.getMessage() for r in caplog.records if copy in r.getMessage()]
    assert why in warning
    # Without a question of our own, the copy is not adopted either.
    alerter.update(ours, Message(text="decided", metadata={**metadata, "event_payload": {"outcome": "approved"}}))
    assert alerter.find_question(channel, match=payload, timeout=3600, clock_skew=300) is None


@pytest.mark.parametrize(("messages_since", "history_calls"), [(40, 3), (1000, MAX_LOOKUP_PAGES)])
def test_a_lookup_in_a_busy_channel_is_paced_and_bounded(slack_emulator, messages_since, history_calls):
    # A non-Marketplace app: 15 messages a page, 1 history read a minute. The clock runs a minute per
    # second, so the pace the connection's budget sets (0.9 of Slack's rate) is scaled the same way.
    emu = slack_emulator
    emu.clock.speed = 60
    alerter = alerter_for(emu, page_size=15, history_interval=60 / 0.9 / 60)
    channel = emu.channel_id("ml-alerts")
    ours = question(emu, alerter, task_id="ask", try_number=1, deadline=deadline_in(emu, 3600))
    bob = emu.state.user("bob")
    for n in range(messages_since):
        emu.state.post(channel, bob, text=f"chatter {n}")
    emu.set_marketplace(False)
    emu.set_rate_limits("realistic")
    emu.journal.clear()
    lookup = {"channel": channel, "match": {"task_id": "ask"}, "timeout": 3600, "clock_skew": 300}
    oldest = f"{emu.clock.now() - 3600 - 300:.6f}"

    if messages_since < 15 * MAX_LOOKUP_PAGES:
        assert alerter.find_question(**lookup, oldest=oldest).ref.ts == ours.ts
    else:
        with pytest.raises(ChatTransientError, match="lookup_incomplete: more than 5 pages of 15 messages") as info:
            alerter.find_question(**lookup, oldest=oldest)
        assert info.value.code == "lookup_incomplete"
    calls = emu.journal.calls("conversations.history")
    assert len(calls) == history_calls
    assert [c.status for c in calls] == [200] * history_calls  # paced: never a 429


def test_channel_names_resolve_to_ids_once_and_unknown_names_are_permanent(slack_emulator):
    alerter = alerter_for(slack_emulator)
    asked = question(slack_emulator, alerter, task_id="ask")

    found = alerter.find_question("#ml-alerts", match={"task_id": "ask"})
    assert found is not None and found.ref.channel == slack_emulator.channel_id("ml-alerts")
    assert found.ref.ts == asked.ts
    assert alerter.channel_id("ml-alerts") == slack_emulator.channel_id("ml-alerts")
    assert slack_emulator.journal.count("conversations.list") == 1  # the name is looked up once

    with pytest.raises(ChatPermanentError, match="no channel named #nowhere.*'chat_test'") as err:
        alerter.find_question("#nowhere", match={"task_id": "ask"})
    assert err.value.code == "channel_not_found"


def test_read_thread_returns_reactions_and_replies_with_bots_marked(slack_emulator):
    alerter = alerter_for(slack_emulator)
    ref = question(slack_emulator, alerter)
    alice, bot = slack_emulator.act_as("alice"), slack_emulator.act_as("ci-bot")
    first = alice.reply("ml-alerts", ref.ts, "looks odd")
    alice.reply("ml-alerts", ref.ts, "approve")
    bot.reply("ml-alerts", ref.ts, "approve")
    alice.edit("ml-alerts", first, "looks fine")
    slack_emulator.act_as("bob").react("ml-alerts", ref.ts, "white_check_mark")
    bot.react("ml-alerts", ref.ts, "white_check_mark")
    alerter.post(Message(text="the app answers itself"), channel=ref.channel, thread_ts=ref.ts)

    snapshot, replies = asyncio.run(alerter.read_thread(ref))

    assert snapshot.ts == ref.ts and snapshot.reply_count == 4 and snapshot.is_bot
    assert snapshot.metadata["event_payload"]["dag_id"] == "d"
    assert {(a.user, a.text, a.is_bot) for a in snapshot.reactions} == {
        (slack_emulator.user_id("bob"), "white_check_mark", False),
        (slack_emulator.user_id("ci-bot"), "white_check_mark", True),
    }
    assert [(a.kind, a.user, a.text, a.is_bot) for a in replies] == [
        ("reply", slack_emulator.user_id("alice"), "looks fine", False),
        ("reply", slack_emulator.user_id("alice"), "approve", False),
        ("reply", slack_emulator.user_id("ci-bot"), "approve", True),
        ("reply", slack_emulator.bot_user_id, "the app answers itself", True),
    ]
    assert replies[0].edited_ts is not None and replies[1].edited_ts is None

    newer = asyncio.run(alerter.read_thread(ref, oldest=replies[1].ts))[1]
    assert [a.ts for a in newer] == [a.ts for a in replies[2:]]


def test_a_thread_read_is_written_once_and_reads_the_same_through_the_sync_client(slack_emulator):
    """The operation behind read_thread names no client: driven on a worker's sync client it makes the
    same calls and gives the same answers (what a worker-side read relies on)."""
    ref = question(slack_emulator, alerter_for(slack_emulator))
    for user, text in [("alice", "approve"), ("ci-bot", "approve"), ("bob", "looks odd")]:
        slack_emulator.act_as(user).reply("ml-alerts", ref.ts, text)
    slack_emulator.act_as("carol").react("ml-alerts", ref.ts, "+1")
    before = len(slack_emulator.journal.calls())

    read_async = asyncio.run(alerter_for(slack_emulator, page_size=2).read_thread(ref))
    async_calls = [(c.method, c.args.get("cursor") is None) for c in slack_emulator.journal.calls()[before:]]
    sync_alerter = alerter_for(slack_emulator, page_size=2)
    read_sync = sync_alerter._run(sync_alerter._thread(ref, None))
    sync_calls = [(c.method, c.args.get("cursor") is None) for c in slack_emulator.journal.calls()[before:]]

    assert read_sync == read_async and len(read_async[1]) == 3 and len(read_async[0].reactions) == 1
    assert sorted(sync_calls[len(async_calls) :]) == sorted(async_calls)
    assert sync_alerter._async_client is None  # a worker never builds the async client


def test_reactor_lookups_are_cached_per_alerter(slack_emulator):
    alerter = alerter_for(slack_emulator)
    ref = question(slack_emulator, alerter)
    for user, emoji in [("alice", "+1"), ("bob", "+1"), ("carol", "-1"), ("alice", "eyes")]:
        slack_emulator.act_as(user).react("ml-alerts", ref.ts, emoji)

    async def read_twice():
        await alerter.read_thread(ref)
        await alerter.read_thread(ref)

    asyncio.run(read_twice())
    assert slack_emulator.journal.count("users.info") == 3
    assert slack_emulator.journal.count("auth.test") == 1


@pytest.mark.parametrize("with_replies", [False, True])
def test_a_deleted_question_is_reported_as_such(slack_emulator, with_replies):
    alerter = alerter_for(slack_emulator)
    ref = question(slack_emulator, alerter)
    if with_replies:
        slack_emulator.act_as("alice").reply("ml-alerts", ref.ts, "hmm")
    slack_emulator.delete_message("ml-alerts", ref.ts)

    with pytest.raises(ChatQuestionDeletedError) as info:
        asyncio.run(alerter.read_thread(ref))
    assert "deleted" in str(info.value) and "chat_test" in str(info.value)


def test_read_channel_reads_every_page_from_oldest_inclusive(slack_emulator):
    alerter = alerter_for(slack_emulator, page_size=2)
    refs = [alerter.post(Message(text=f"m{i}")) for i in range(5)]
    slack_emulator.act_as("alice").reply("ml-alerts", refs[3].ts, "reply")
    slack_emulator.act_as("alice").react("ml-alerts", refs[4].ts, "+1")

    snapshots = asyncio.run(alerter.read_channel(refs[0].channel, oldest=refs[1].ts))

    assert [s.text for s in snapshots] == ["m1", "m2", "m3", "m4"]
    assert snapshots[2].reply_count == 1 and snapshots[2].latest_reply
    assert [(a.text, a.is_bot) for a in snapshots[3].reactions] == [("+1", False)]
    assert slack_emulator.journal.count("conversations.history") == 2


def test_group_members_and_the_apps_own_id(slack_emulator):
    alerter = alerter_for(slack_emulator)

    async def read():
        return await alerter.group_members(slack_emulator.usergroup_id("ml-leads")), await alerter.aself_user_id()

    members, self_id = asyncio.run(read())
    assert members == {slack_emulator.user_id("alice"), slack_emulator.user_id("carol")}
    assert self_id == slack_emulator.bot_user_id

    with pytest.raises(ChatPermanentError, match="no_such_subteam"):
        asyncio.run(alerter.group_members("S0NOPE"))


def test_a_shared_aiohttp_session_is_used_and_left_open(slack_emulator):
    import aiohttp

    async def read():
        async with aiohttp.ClientSession() as session:
            alerter = alerter_for(slack_emulator, session=session)
            members = await alerter.group_members(slack_emulator.usergroup_id("ml-leads"))
            await alerter.aclose()
            assert not session.closed
            return members

    assert len(asyncio.run(read())) == 2
