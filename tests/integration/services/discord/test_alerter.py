"""The Discord alerters (bot and webhook) through hikari's real REST client against the Discord emulator:
what is posted, what people see, what may ping, what is masked, and errors that say what to fix."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone

import pytest

from airflow_chat_alerts import formatting
from airflow_chat_alerts.exceptions import (
    ChatCapabilityError,
    ChatConfigError,
    ChatCredentialsRefusedError,
    ChatPermanentError,
    ChatQuestionDeletedError,
    ChatTransientError,
)
from airflow_chat_alerts.hooks.chat_alerter import ChatAlerterHook
from airflow_chat_alerts.model import Message, MessageRef, PipelineContext

from .conftest import CHANNEL, ask_message, message_id, post_question

CTX = PipelineContext("train", "manual__1", "post", 1, -1, "http://airflow.example/log?try=1")
SECRET = "s3cr3t-db-password"


@pytest.fixture
def alerter(discord_conn):
    return ChatAlerterHook(chat_conn_id=discord_conn).get_alerter()


def last(emu, channel: str = CHANNEL) -> dict:
    return emu.messages(channel)[-1]


def test_an_alert_is_posted_as_text_with_its_context_line(discord_emulator, alerter):
    text = "Accuracy *0.97* on <https://airflow.example/run|the run>"
    ref = alerter.post(Message(text, blocks=formatting.alert_blocks(text, context=CTX), context=CTX))

    posted = last(discord_emulator)
    assert posted["content"].startswith("Accuracy **0.97** on [the run](<https://airflow.example/run>)")
    assert "-# **DAG** `train` · **Run** `manual__1` · **Task** `post`" in posted["content"]
    assert ref == MessageRef(channel=discord_emulator.channel_id(CHANNEL), ts=ref.ts, permalink=ref.permalink)
    assert ref.permalink == (f"https://discord.com/channels/{discord_emulator.guild_id}/"
                             f"{discord_emulator.channel_id(CHANNEL)}/{posted['id']}")
    assert message_id(ref) == posted["id"]


def test_values_the_package_inserts_mention_nobody_while_the_authors_own_mentions_ping(discord_emulator, alerter):
    emu = discord_emulator
    alice, bob, leads = emu.user_id("alice"), emu.user_id("bob"), emu.role_id("ml-leads")
    untrusted = f"<@{bob}> <@&{leads}> @everyone @here <!channel> [x](https://evil.example)"
    text = f"<@{alice}> <!here> please look: {formatting.slack_escape(untrusted)}"
    alerter.post(Message(text, blocks=formatting.alert_blocks(text, context=CTX)))
    failed = formatting.task_state_message(state="failed", dag_id="d", run_id=untrusted, task_id="t",
                                           exception=f"ValueError: {untrusted}")
    alerter.post(failed)

    alert, notification = emu.messages(CHANNEL)
    assert [m["id"] for m in alert["mentions"]] == [alice] and alert["mention_everyone"] is True
    assert alert["mention_roles"] == []
    assert notification["mentions"] == [] and notification["mention_roles"] == []
    assert notification["mention_everyone"] is False


def test_a_reminder_pings_the_approvers_it_names(discord_emulator, alerter):
    emu = discord_emulator
    question = post_question("discord_bot_default")
    reminder = formatting.reminder_message(approvers=[emu.user_id("alice"), "&" + emu.role_id("ml-leads")],
                                           deadline=datetime.now(timezone.utc) + timedelta(hours=1))

    alerter.post(reminder, channel=question.channel, thread_ts=question.ts)

    posted = last(emu)
    assert posted["message_reference"]["message_id"] == message_id(question)  # a reply to the question
    assert [m["id"] for m in posted["mentions"]] == [emu.user_id("alice")]
    assert posted["mention_roles"] == [emu.role_id("ml-leads")]


def test_everything_posted_passes_through_the_secrets_masker(discord_emulator, alerter):
    from airflow.sdk.log import mask_secret

    mask_secret(SECRET)
    leak = f"password {SECRET}"
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": leak}},
              {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*Key*\n{leak}"}]}]
    parent = alerter.post(Message(leak, blocks=blocks))
    alerter.post(Message(leak), channel=parent.channel, thread_ts=parent.ts)
    alerter.post_file(b"a,b", filename="r.csv", channel=parent.channel, thread_ts=parent.ts, comment=leak)
    reply = alerter.post(Message("pending"), channel=parent.channel)
    alerter.update(reply, Message(leak))

    everything = json.dumps(discord_emulator.messages(CHANNEL), ensure_ascii=False)
    assert SECRET not in everything and everything.count("\\\\*\\\\*\\\\*") >= 5


def test_files_are_attachments_of_a_reply_to_the_message(discord_emulator, alerter):
    parent = alerter.post(Message("the plot"))

    ref = alerter.post_file(b"\x89PNG...", filename="cm.png", channel=parent.channel, thread_ts=parent.ts,
                            comment="Confusion *matrix*")

    posted = last(discord_emulator)
    assert posted["content"] == "Confusion **matrix**"
    assert posted["message_reference"]["message_id"] == message_id(parent)
    [attachment] = posted["attachments"]
    assert attachment["filename"] == "cm.png" and ref.permalink == attachment["url"]


def test_over_long_text_is_cut_visibly_within_discords_limits_never_refused(discord_emulator, alerter):
    text = "lorem ipsum " * 1_000
    alerter.post(Message(text, blocks=formatting.alert_blocks(text)))
    alerter.post(Message("x" * 5_000))

    long_blocks, long_text = discord_emulator.messages(CHANNEL)
    assert long_blocks["content"] == "" and "more characters" in long_blocks["embeds"][0]["description"]
    assert len(long_text["embeds"][0]["description"]) <= 4_096


@pytest.mark.parametrize(
    ("channel", "error", "code", "says"),
    [
        ("ops", ChatPermanentError, "missing_permissions", "50013 Missing Permissions"),
        ("1191168914227209999", ChatPermanentError, "channel_not_found", "10003 Unknown Channel"),
    ],
)
def test_errors_name_the_connection_the_channel_and_discords_code(discord_emulator, alerter, channel, error, code,
                                                                  says):
    target = discord_emulator.channel_id(channel) if not channel.isdigit() else channel

    with pytest.raises(error) as raised:
        alerter.post(Message("hello"), channel=target)

    assert raised.value.code == code and says in str(raised.value)
    assert "'discord_bot_default'" in str(raised.value) and target in str(raised.value)
    assert discord_emulator.bot_token not in str(raised.value)


def test_a_channel_name_is_refused_saying_to_give_the_id(alerter):
    with pytest.raises(ChatConfigError, match="Copy Channel ID"):
        alerter.post(Message("hello"), channel="#ml-alerts")


def test_asking_people_directly_is_refused_clearly_before_anything_is_posted(discord_emulator, alerter):
    with pytest.raises(ChatCapabilityError, match="'discord_bot_default' .*cannot ask people in a direct conversation"):
        alerter.open_conversation(["U0ALICE"])
    assert discord_emulator.messages(CHANNEL) == []


def test_a_revoked_token_is_refused_credentials(discord_emulator, alerter):
    discord_emulator.revoke_token(discord_emulator.bot_token)

    with pytest.raises(ChatCredentialsRefusedError, match="invalid_auth.*'discord_bot_default'") as raised:
        alerter.post(Message("hello"))
    assert discord_emulator.bot_token not in str(raised.value)


def test_a_server_error_is_transient_and_a_post_whose_answer_was_lost_is_not_sent_again(discord_emulator, alerter):
    discord_emulator.faults.add("create_message", "lost")

    with pytest.raises(ChatTransientError) as raised:
        alerter.post(Message("hello"))

    assert raised.value.code == "connection_error"
    assert len(discord_emulator.messages(CHANNEL)) == 1  # posted once, and not again
    discord_emulator.faults.add("create_message", "503")
    with pytest.raises(ChatTransientError, match="http_503"):
        alerter.post(Message("hello"))


# -- the webhook connection ----------------------------------------------------------------------------------------
def test_a_webhook_posts_and_does_nothing_else(discord_emulator, discord_webhook_conn, caplog):
    caplog.set_level(logging.DEBUG)
    webhook = ChatAlerterHook(chat_conn_id=discord_webhook_conn).get_alerter()
    token = discord_emulator.webhook_url(CHANNEL).rsplit("/", 1)[-1]

    ref = webhook.post(Message("Accuracy *0.97*", blocks=formatting.alert_blocks("Accuracy *0.97*", context=CTX)))

    posted = last(discord_emulator)
    assert posted["content"].startswith("Accuracy **0.97**") and posted["webhook_id"]
    assert ref.channel == discord_emulator.channel_id(CHANNEL)
    for attempt in (lambda: webhook.post(Message("x"), thread_ts=ref.ts), lambda: webhook.update(ref, Message("y")),
                    lambda: webhook.post_question(Message("ask?")), lambda: webhook.read_question(ref),
                    lambda: webhook.post_file(b"x", filename="f")):
        with pytest.raises(ChatCapabilityError, match="'discord_default' is a Discord webhook"):
            attempt()
    discord_emulator.revoke_webhook(CHANNEL)
    with pytest.raises(ChatPermanentError, match="50027") as raised:
        webhook.post(Message("again"))
    assert token not in str(raised.value) and token not in caplog.text


# -- a worker's look at its question -------------------------------------------------------------------------------
IDENTITY = {"dag_id": "d", "run_id": "r", "task_id": "ask", "map_index": -1}


def test_a_retry_finds_the_undecided_question_only_the_bot_posted(discord_emulator, alerter, caplog):
    emu = discord_emulator
    deadline = datetime.now(timezone.utc) + timedelta(hours=1)
    ours = alerter.post_question(ask_message(deadline))
    message = ask_message(deadline)
    components = [m for m in emu.messages(CHANNEL) if m["id"] == message_id(ours)][0]["components"]
    emu.act_as("ci-bot").post(CHANNEL, "pizza?", components=components)  # a copy naming the same ask

    found = alerter.find_question(emu.channel_id(CHANNEL), match=IDENTITY, timeout=7200)

    assert found.ref.ts == ours.ts and found.payload == {**IDENTITY, "try_number": 1,
                                                          "deadline": deadline.isoformat()}
    assert "not by this bot" in caplog.text
    decided = formatting.outcome_message(message, outcome="approved", by=[emu.user_id("alice")])
    alerter.update(ours, Message(decided.text, decided.blocks, metadata={
        "event_type": "airflow_chat_alerts_ask", "event_payload": {**IDENTITY, "outcome": "approved"}}))
    assert alerter.find_question(emu.channel_id(CHANNEL), match=IDENTITY, timeout=7200) is None
    assert alerter.find_question(emu.channel_id(CHANNEL), match={**IDENTITY, "map_index": 0}) is None


def test_a_question_whose_deadline_is_too_far_from_its_post_is_not_this_asks(discord_emulator, alerter, caplog):
    alerter.post_question(ask_message(datetime.now(timezone.utc) + timedelta(days=30)))

    assert alerter.find_question(discord_emulator.channel_id(CHANNEL), match=IDENTITY, timeout=3600) is None
    assert "not within the ask's timeout" in caplog.text


def test_a_workers_read_of_its_question_sees_every_answer_and_who_gave_it(discord_emulator, alerter):
    emu = discord_emulator
    question = post_question("discord_bot_default")
    qid = message_id(question)
    emu.act_as("alice").reply(CHANNEL, qid, "approve - fine")
    emu.act_as("gina").react(CHANNEL, qid, "✅")  # no role: a guest
    emu.act_as("ci-bot").reply(CHANNEL, qid, "approve")  # a bot
    thread = emu.act_as("carol").start_thread(CHANNEL, qid, "talk")
    emu.act_as("carol").post_in_thread(thread, "reject - too early")
    emu.act_as("bob").post(CHANNEL, "unrelated")

    read = alerter.read_question(question, check_archived=True)

    assert read.ours and read.current and read.open_since == read.read_at
    replies = {(a.user, a.text, a.is_bot) for a in read.replies}
    assert replies == {(emu.user_id("alice"), "approve - fine", False), (emu.user_id("ci-bot"), "approve", True),
                       (emu.user_id("carol"), "reject - too early", False)}
    [reaction] = read.snapshot.reactions
    assert (reaction.user, reaction.text, reaction.guest) == (emu.user_id("gina"), "✅", True)
    assert alerter.read_groups(["&" + emu.role_id("ml-leads")]) == {
        "&" + emu.role_id("ml-leads"): frozenset({emu.user_id("alice"), emu.user_id("carol")})}


def test_a_deleted_question_is_said_to_be_deleted(discord_emulator, alerter):
    question = post_question("discord_bot_default")
    discord_emulator.delete_message(CHANNEL, message_id(question))

    with pytest.raises(ChatQuestionDeletedError, match="message_not_found.*'discord_bot_default'"):
        alerter.read_question(question)


def test_the_hook_tests_the_connection(discord_emulator, discord_conn, discord_webhook_conn):
    ok, text = ChatAlerterHook(chat_conn_id=discord_conn).test_connection()
    assert ok and "chat-alerts" in text and discord_emulator.bot_user_id in text
    ok, text = ChatAlerterHook(chat_conn_id=discord_webhook_conn).test_connection()
    assert not ok and "webhook" in text
