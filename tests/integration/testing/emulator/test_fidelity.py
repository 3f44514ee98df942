"""Where Slack differs from a naive emulator, as Slack documents it: orphan replies, reaction user lists
cut short, reaction names, tombstones, archiving, guests and external members, malformed bodies,
metadata from user tokens, user-group changes and token rotation; and the shape of every method's
answer against Slack's reference data (schemas.py)."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest

from airflow_chat_alerts.testing import SlackEmulator, Workspace

from . import schemas
from .slack_errors import error_of


def test_a_reply_to_a_thread_ts_that_names_no_message_is_accepted_and_shown_nowhere(slack_emulator, bot, ml):
    bot.chat_postMessage(channel=ml, text="a real message")
    resp = slack_emulator.client("alice").chat_postMessage(channel=ml, text="lost reply", thread_ts="1000000000.000100")
    assert resp["ok"] is True and resp["message"]["thread_ts"] == "1000000000.000100"
    history = bot.conversations_history(channel=ml)["messages"]
    assert [m["text"] for m in history] == ["a real message"]
    assert error_of(bot.conversations_replies, channel=ml, ts="1000000000.000100")["error"] == "thread_not_found"
    assert "lost reply" not in slack_emulator.transcript("ml-alerts")


def test_reaction_users_are_cut_short_but_count_is_complete_unless_full(slack_emulator, bot, ml):
    slack_emulator.set_reaction_users_shown(2)
    ts = bot.chat_postMessage(channel=ml, text="deploy?")["ts"]
    people = ["alice", "bob", "carol", "dave"]
    for person in people:
        slack_emulator.act_as(person).react("ml-alerts", ts, "white_check_mark")
    everyone = [slack_emulator.user_id(p) for p in people]

    def reaction(message):
        (only,) = message["reactions"]
        return only["users"], only["count"]

    assert reaction(bot.conversations_history(channel=ml)["messages"][0]) == (everyone[:2], 4)
    assert reaction(bot.conversations_replies(channel=ml, ts=ts)["messages"][0]) == (everyone[:2], 4)
    assert reaction(bot.reactions_get(channel=ml, timestamp=ts)["message"]) == (everyone[:2], 4)
    assert reaction(bot.reactions_get(channel=ml, timestamp=ts, full=True)["message"]) == (everyone, 4)
    # the caller's own reaction is always listed
    users, _ = reaction(slack_emulator.client("dave").conversations_history(channel=ml)["messages"][0])
    assert len(users) == 2 and slack_emulator.user_id("dave") in users
    with pytest.raises(ValueError):
        slack_emulator.set_reaction_users_shown(0)
    slack_emulator.reset()
    assert slack_emulator.state.reaction_users_shown == 50


def test_the_constructor_sets_how_many_reaction_users_are_listed():
    with SlackEmulator(reaction_users_shown=1) as emu:
        ml = emu.channel_id("ml-alerts")
        ts = emu.client().chat_postMessage(channel=ml, text="q")["ts"]
        emu.act_as("alice").react("ml-alerts", ts, "+1")
        emu.act_as("bob").react("ml-alerts", ts, "+1")
        (reaction,) = emu.client().conversations_history(channel=ml)["messages"][0]["reactions"]
        assert reaction["users"] == [emu.user_id("alice")] and reaction["count"] == 2
        emu.reset()
        assert emu.state.reaction_users_shown == 1


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("white_check_mark", "white_check_mark"),
        ("heavy_check_mark", "heavy_check_mark"),
        (":+1:", "+1"),
        ("thumbsup", "+1"),
        ("-1", "-1"),
        ("thumbsdown", "-1"),
        ("x", "x"),
        ("no_entry", "no_entry"),
        ("+1::skin-tone-2", "+1::skin-tone-2"),
        ("thumbsup::skin-tone-6", "+1::skin-tone-6"),
    ],
)
def test_slack_emoji_names_are_accepted_under_their_stored_name(slack_emulator, bot, ml, name, stored):
    ts = bot.chat_postMessage(channel=ml, text="q")["ts"]
    slack_emulator.client("alice").reactions_add(channel=ml, timestamp=ts, name=name)
    assert [r["name"] for r in bot.reactions_get(channel=ml, timestamp=ts)["message"]["reactions"]] == [stored]


@pytest.mark.parametrize("name", ["approve", "not_an_emoji", "x::skin-tone-2", "+1::skin-tone-7", "thumbs up"])
def test_reaction_names_that_are_no_emoji_are_refused_with_invalid_name(slack_emulator, bot, ml, name):
    ts = bot.chat_postMessage(channel=ml, text="q")["ts"]
    alice = slack_emulator.client("alice")
    assert error_of(alice.reactions_add, channel=ml, timestamp=ts, name=name)["error"] == "invalid_name"
    assert "reactions" not in bot.reactions_get(channel=ml, timestamp=ts)["message"]


def test_custom_emoji_of_the_workspace_are_reaction_names():
    data = json.loads(_default_json())
    data["emoji"] = ["shipit", ":party-parrot:"]
    with SlackEmulator(Workspace.from_dict(data)) as emu:
        ml = emu.channel_id("ml-alerts")
        ts = emu.client().chat_postMessage(channel=ml, text="q")["ts"]
        emu.act_as("alice").react("ml-alerts", ts, "shipit")
        emu.act_as("alice").react("ml-alerts", ts, "party-parrot")
        names = [r["name"] for r in emu.client().reactions_get(channel=ml, timestamp=ts)["message"]["reactions"]]
        assert names == ["shipit", "party-parrot"]


def _default_json() -> str:
    from importlib import resources

    return resources.files("airflow_chat_alerts.testing").joinpath("default_workspace.json").read_text()


def test_a_deleted_thread_parent_leaves_a_hidden_tombstone(slack_emulator, bot, ml):
    parent = bot.chat_postMessage(channel=ml, text="question", metadata={"event_type": "ask", "event_payload": {}})
    slack_emulator.act_as("alice").reply("ml-alerts", parent["ts"], "approve")
    slack_emulator.act_as("bob").react("ml-alerts", parent["ts"], "+1")
    bot.chat_delete(channel=ml, ts=parent["ts"])
    (tombstone,) = bot.conversations_history(channel=ml, include_all_metadata=True)["messages"]
    assert tombstone["subtype"] == "tombstone" and tombstone["hidden"] is True
    assert tombstone["user"] == "USLACKBOT" and tombstone["text"] == "This message was deleted."
    assert tombstone["reply_count"] == 1 and tombstone["thread_ts"] == parent["ts"]
    for absent in ("bot_id", "app_id", "metadata", "reactions", "team", "blocks"):
        assert absent not in tombstone
    assert bot.conversations_replies(channel=ml, ts=parent["ts"])["messages"][0]["hidden"] is True


def test_archiving_mid_conversation_refuses_answers_and_keeps_history_readable(slack_emulator, bot, ml):
    question = bot.chat_postMessage(channel=ml, text="deploy?")["ts"]
    slack_emulator.act_as("alice").reply("ml-alerts", question, "wait")
    archived_ts = slack_emulator.archive_channel("ml-alerts")
    bob = slack_emulator.client("bob")
    assert error_of(bob.chat_postMessage, channel=ml, text="approve", thread_ts=question)["error"] == "is_archived"
    assert error_of(bob.reactions_add, channel=ml, timestamp=question, name="+1")["error"] == "is_archived"
    history = bot.conversations_history(channel=ml)["messages"]
    assert history[0] == {
        "type": "message",
        "subtype": "channel_archive",
        "user": slack_emulator.user_id("alice"),
        "text": f"<{slack_emulator.user_id('alice')}|@alice> archived the channel",
        "ts": archived_ts,
        "team": slack_emulator.team_id,
    }
    assert history[1]["ts"] == question and history[1]["reply_count"] == 1
    assert [m["text"] for m in bot.conversations_replies(channel=ml, ts=question)["messages"]] == ["deploy?", "wait"]
    assert bot.conversations_info(channel=ml)["channel"]["is_archived"] is True
    transcript = slack_emulator.transcript("ml-alerts")
    assert transcript.startswith("#ml-alerts (archived)") and "alice: @alice archived the channel" in transcript
    assert slack_emulator.archive_channel("ops", by="bob")  # by a named member


def test_guests_external_members_and_users_the_app_cannot_see(slack_emulator, bot):
    guest = bot.users_info(user=slack_emulator.user_id("gina"))["user"]
    assert guest["is_restricted"] is True and guest["is_ultra_restricted"] is False
    assert guest["team_id"] == slack_emulator.team_id
    member = bot.users_info(user=slack_emulator.user_id("alice"))["user"]
    assert member["is_restricted"] is False and "is_stranger" not in member
    external = bot.users_info(user=slack_emulator.user_id("xena"))["user"]
    # in a channel shared with the app: another team, but no stranger
    assert external["team_id"] == "T0PARTNER" and external["profile"]["team"] == "T0PARTNER"
    assert "is_stranger" not in external
    hidden = slack_emulator.user_id("nico")
    assert error_of(bot.users_info, user=hidden)["error"] == "user_not_visible"
    assert slack_emulator.client("alice").users_info(user=hidden)["user"]["id"] == hidden
    members = bot.conversations_members(channel=slack_emulator.channel_id("ml-alerts"))["members"]
    assert {slack_emulator.user_id(u) for u in ("gina", "xena", "nico")} <= set(members)
    shared = bot.conversations_info(channel=slack_emulator.channel_id("ml-alerts"))["channel"]
    assert shared["is_shared"] is True and shared["is_ext_shared"] is True
    assert bot.conversations_info(channel=slack_emulator.channel_id("ml-private"))["channel"]["is_ext_shared"] is False


def test_an_external_member_sharing_no_channel_with_the_app_is_a_stranger_and_guests_can_be_single_channel():
    data = json.loads(_default_json())
    data["users"] += [
        {"name": "sam", "id": "U0SAM", "team_id": "T0ELSEWHERE"},
        {"name": "sol", "id": "U0SOL", "is_ultra_restricted": True},
    ]
    with SlackEmulator(Workspace.from_dict(data)) as emu:
        assert emu.client().users_info(user="U0SAM")["user"]["is_stranger"] is True
        sol = emu.client().users_info(user="U0SOL")["user"]
        assert sol["is_restricted"] is True and sol["is_ultra_restricted"] is True


def test_an_external_members_message_carries_their_team(slack_emulator, bot, ml):
    ts = slack_emulator.act_as("xena").post("ml-alerts", "hello from the partner")
    (message,) = bot.conversations_history(channel=ml)["messages"]
    assert message["ts"] == ts and message["team"] == "T0PARTNER"


def _raw_call(emu: SlackEmulator, method: str, **args: str) -> tuple[int, str]:
    request = urllib.request.Request(
        f"{emu.base_url}{method}",
        data=urllib.parse.urlencode(args).encode(),
        headers={"Authorization": f"Bearer {emu.bot_token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read().decode()


def test_a_truncated_fault_answers_200_with_malformed_json_after_doing_the_call(slack_emulator, ml):
    slack_emulator.faults.add("chat.postMessage", "truncated")
    status, body = _raw_call(slack_emulator, "chat.postMessage", channel=ml, text="posted anyway")
    assert status == 200 and body.startswith('{"ok": true')
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    assert [m["text"] for m in slack_emulator.messages("ml-alerts")] == ["posted anyway"]
    status, body = _raw_call(slack_emulator, "conversations.history", channel=ml)
    assert json.loads(body)["ok"] is True  # one call only


def test_metadata_from_a_user_token_is_refused_but_another_apps_bot_may_copy_it(slack_emulator, bot, ml):
    metadata = {"event_type": "chat_alerts_ask", "event_payload": {"dag_id": "train", "run_id": "r1"}}
    alice = slack_emulator.client("alice")
    assert error_of(alice.chat_postMessage, channel=ml, text="pizza?", metadata=metadata)["error"] == (
        "metadata_must_be_sent_from_app"
    )
    own = alice.chat_postMessage(channel=ml, text="pizza?")["ts"]
    assert error_of(alice.chat_update, channel=ml, ts=own, text="pizza!", metadata=metadata)["error"] == (
        "metadata_must_be_sent_from_app"
    )
    bot.chat_postMessage(channel=ml, text="deploy?", metadata=metadata)
    slack_emulator.client("ci-bot").chat_postMessage(channel=ml, text="pizza on Friday?", metadata=metadata)
    copy, ours, person = bot.conversations_history(channel=ml, include_all_metadata=True)["messages"]
    assert copy["metadata"] == ours["metadata"] == metadata and "metadata" not in person
    assert (copy["user"], copy["bot_id"], copy["app_id"]) == ("U0CIBOT", "B0CIBOT", "A0CIBOT")
    assert copy["bot_profile"]["id"] == "B0CIBOT" and copy["bot_profile"]["app_id"] == "A0CIBOT"
    assert (ours["bot_id"], ours["app_id"]) == (slack_emulator.bot_id, slack_emulator.app_id)
    assert ours["bot_profile"]["app_id"] == slack_emulator.app_id
    assert person["user"] == slack_emulator.user_id("alice")
    assert not {"bot_id", "app_id", "bot_profile"} & set(person)


def test_user_group_membership_changes_mid_test(slack_emulator, bot):
    group = slack_emulator.usergroup_id("ml-leads")
    assert bot.usergroups_users_list(usergroup=group)["users"] == ["U0ALICE", "U0CAROL"]
    slack_emulator.set_usergroup_members("ml-leads", ["alice"])
    assert bot.usergroups_users_list(usergroup=group)["users"] == ["U0ALICE"]
    (listed,) = bot.usergroups_list(include_users=True)["usergroups"]
    assert listed["users"] == ["U0ALICE"] and listed["user_count"] == 1
    with pytest.raises(KeyError):
        slack_emulator.set_usergroup_members("ml-leads", ["nobody"])
    slack_emulator.reset()
    assert bot.usergroups_users_list(usergroup=group)["users"] == ["U0ALICE", "U0CAROL"]


def test_rotating_the_bot_token_revokes_the_old_one_and_keeps_the_bot(slack_emulator, ml):
    old = slack_emulator.bot_token
    old_client = slack_emulator.client()
    new = slack_emulator.rotate_token()
    assert new != old and slack_emulator.bot_token == new
    assert error_of(old_client.auth_test)["error"] == "token_revoked"
    identity = slack_emulator.client().auth_test()
    assert (identity["user_id"], identity["bot_id"]) == (slack_emulator.bot_user_id, slack_emulator.bot_id)
    posted = slack_emulator.client().chat_postMessage(channel=ml, text="still me")["message"]
    assert posted["app_id"] == slack_emulator.app_id
    newer = slack_emulator.rotate_token()
    assert error_of(_client(slack_emulator, new).auth_test)["error"] == "token_revoked"
    assert _client(slack_emulator, newer).auth_test()["ok"]
    slack_emulator.reset()
    assert slack_emulator.bot_token == old and slack_emulator.client().auth_test()["ok"]


def _client(emu: SlackEmulator, token: str):
    from slack_sdk import WebClient

    return WebClient(token=token, base_url=emu.base_url)


# --- shapes against Slack's reference data ----------------------------------------------------------


def test_every_method_answers_in_the_shape_slack_documents(slack_emulator, bot, ml):
    """One successful call of each method the emulator serves, checked against the method's
    output_schema (Slack's reference data) and the objects it names (schemas.NAMED)."""
    alice = slack_emulator.client("alice")
    metadata = {"event_type": "chat_alerts_ask", "event_payload": {"dag_id": "train"}}
    question = bot.chat_postMessage(channel=ml, text="Deploy?", metadata=metadata,
                                    blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "Deploy?"}}])
    slack_emulator.act_as("alice").reply("ml-alerts", question["ts"], "approve <@U0BOB> :+1:")
    alice.reactions_add(channel=ml, timestamp=question["ts"], name="white_check_mark")
    spare = bot.chat_postMessage(channel=ml, text="to delete")["ts"]
    upload = bot.files_getUploadURLExternal(filename="report.txt", length=5)
    urllib.request.urlopen(urllib.request.Request(upload["upload_url"], data=b"hello"), timeout=10).close()
    answers = {
        "auth.test": bot.auth_test(),
        "chat.postMessage": question,
        "chat.update": bot.chat_update(channel=ml, ts=question["ts"], text="Deploy? (edited)",
                                       blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "Deploy!"}}]),
        "chat.delete": bot.chat_delete(channel=ml, ts=spare),
        "chat.getPermalink": bot.chat_getPermalink(channel=ml, message_ts=question["ts"]),
        "chat.postEphemeral": bot.chat_postEphemeral(channel=ml, user="U0BOB", text="psst"),
        "conversations.history": bot.conversations_history(channel=ml, include_all_metadata=True),
        "conversations.replies": bot.conversations_replies(channel=ml, ts=question["ts"]),
        "conversations.info": bot.conversations_info(channel=ml),
        "conversations.list": bot.conversations_list(types="public_channel,private_channel"),
        "conversations.members": bot.conversations_members(channel=ml, limit=3),
        "reactions.add": bot.reactions_add(channel=ml, timestamp=question["ts"], name="eyes"),
        "reactions.get": bot.reactions_get(channel=ml, timestamp=question["ts"]),
        "reactions.remove": bot.reactions_remove(channel=ml, timestamp=question["ts"], name="eyes"),
        "usergroups.list": bot.usergroups_list(include_users=True),
        "usergroups.users.list": bot.usergroups_users_list(usergroup=slack_emulator.usergroup_id("ml-leads")),
        "users.info": bot.users_info(user="U0ALICE"),
        "files.getUploadURLExternal": upload,
        "files.completeUploadExternal": bot.files_completeUploadExternal(files=[{"id": upload["file_id"]}],
                                                                         channel_id=ml),
        "apps.connections.open": slack_emulator.client().apps_connections_open(app_token=slack_emulator.app_token),
    }
    assert set(answers) == set(schemas.output_schemas())  # every method of the reference data is checked
    for method, answer in answers.items():
        schemas.assert_method_answer(method, answer.data)


def test_chat_update_answers_with_slacks_fields_and_no_message_ts(slack_emulator, bot, ml):
    """chat.update's `message` carries the message's content and author, never its ts or thread (Slack's
    chat.update responses, as the Node SDK's generated ChatUpdateResponse types list them)."""
    posted = bot.chat_postMessage(channel=ml, text="Deploy?", metadata={"event_type": "ask", "event_payload": {}})
    slack_emulator.act_as("alice").reply("ml-alerts", posted["ts"], "approve")
    answer = bot.chat_update(channel=ml, ts=posted["ts"], text="Approved",
                             blocks=[{"type": "section", "block_id": "outcome", "text": {"type": "mrkdwn", "text": "Approved"}}])
    assert (answer["channel"], answer["ts"], answer["text"]) == (ml, posted["ts"], "Approved")
    message = answer["message"]
    assert set(message) == {"type", "text", "user", "team", "bot_id", "app_id", "bot_profile", "blocks", "edited",
                            "metadata"}
    assert message["blocks"][0]["block_id"] == "outcome" and message["edited"]["user"] == slack_emulator.bot_user_id
    assert message["metadata"] == {"event_type": "ask", "event_payload": {}}


def test_chat_update_with_empty_metadata_removes_the_metadata(slack_emulator, bot, ml):
    metadata = {"event_type": "chat_alerts_ask", "event_payload": {"run_id": "r1"}}
    ts = bot.chat_postMessage(channel=ml, text="Deploy?", metadata=metadata)["ts"]
    bot.chat_update(channel=ml, ts=ts, text="Deploy? (kept)")  # no metadata argument: it stays
    assert bot.conversations_history(channel=ml, include_all_metadata=True)["messages"][0]["metadata"] == metadata
    answer = bot.chat_update(channel=ml, ts=ts, text="Approved", metadata={})
    assert "metadata" not in answer["message"]
    (message,) = bot.conversations_history(channel=ml, include_all_metadata=True)["messages"]
    assert message["text"] == "Approved" and "metadata" not in message
    # a form-encoded "{}" too (the async client and other SDKs send metadata that way)
    bot.chat_update(channel=ml, ts=ts, text="again", metadata=metadata)
    assert bot.api_call("chat.update", data={"channel": ml, "ts": ts, "metadata": "{}"})["ok"]
    assert "metadata" not in bot.conversations_history(channel=ml, include_all_metadata=True)["messages"][0]
