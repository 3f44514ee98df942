"""conversations.history / replies / info / list / members, reactions, users and user groups:
shapes, pagination and state consistency through the real slack_sdk WebClient."""

from __future__ import annotations

from .slack_errors import error_of


def post_many(client, channel, n, prefix="m"):
    return [client.chat_postMessage(channel=channel, text=f"{prefix}{i}")["ts"] for i in range(n)]


def test_history_pages_newest_first_with_cursor(bot, ml):
    stamps = post_many(bot, ml, 7)
    pages, cursor = [], None
    while True:
        resp = bot.conversations_history(channel=ml, limit=3, cursor=cursor)
        pages.append([m["ts"] for m in resp["messages"]])
        cursor = resp["response_metadata"]["next_cursor"]
        assert resp["has_more"] is bool(cursor)
        if not cursor:
            break
    assert pages == [stamps[6:3:-1], stamps[3:0:-1], stamps[0:1]]


def test_history_pagination_through_slack_sdk_iterator(bot, ml):
    stamps = post_many(bot, ml, 5)
    seen = [m["ts"] for page in bot.conversations_history(channel=ml, limit=2) for m in page["messages"]]
    assert seen == stamps[::-1]


def test_history_oldest_latest_inclusive(bot, ml):
    s = post_many(bot, ml, 5)
    exclusive = bot.conversations_history(channel=ml, oldest=s[1], latest=s[3])
    assert [m["ts"] for m in exclusive["messages"]] == [s[2]]
    assert exclusive["latest"] == s[3]
    inclusive = bot.conversations_history(channel=ml, oldest=s[1], latest=s[3], inclusive=True)
    assert [m["ts"] for m in inclusive["messages"]] == [s[3], s[2], s[1]]
    newer = bot.conversations_history(channel=ml, oldest=s[3])
    assert [m["ts"] for m in newer["messages"]] == [s[4]]


def test_history_hides_replies_and_errors(slack_emulator, bot, ml):
    parent = bot.chat_postMessage(channel=ml, text="q")["ts"]
    slack_emulator.act_as("alice").reply("ml-alerts", parent, "a")
    assert [m["ts"] for m in bot.conversations_history(channel=ml)["messages"]] == [parent]
    assert error_of(bot.conversations_history, channel=ml, cursor="garbage!")["error"] == "invalid_cursor"
    assert error_of(bot.conversations_history, channel=ml, oldest="yesterday")["error"] == "invalid_ts_oldest"
    assert error_of(bot.conversations_history, channel=ml, latest="now")["error"] == "invalid_ts_latest"
    ops = slack_emulator.channel_id("ops")
    assert error_of(bot.conversations_history, channel=ops)["error"] == "not_in_channel"
    assert error_of(bot.conversations_history, channel="C0NOPE")["error"] == "channel_not_found"
    assert slack_emulator.client("alice").conversations_history(channel=ops)["ok"]


def test_replies_parent_first_then_pages_of_replies(slack_emulator, bot, ml):
    parent = bot.chat_postMessage(channel=ml, text="question")["ts"]
    alice = slack_emulator.act_as("alice")
    replies = [alice.reply("ml-alerts", parent, f"r{i}") for i in range(5)]
    first = bot.conversations_replies(channel=ml, ts=parent, limit=3)
    assert [m["ts"] for m in first["messages"]] == [parent, *replies[:2]]
    assert first["has_more"] is True
    second = bot.conversations_replies(channel=ml, ts=parent, limit=3, cursor=first["response_metadata"]["next_cursor"])
    assert [m["ts"] for m in second["messages"]] == replies[2:5]
    assert second["has_more"] is False and second["response_metadata"]["next_cursor"] == ""
    assert all(m["parent_user_id"] == slack_emulator.bot_user_id for m in second["messages"])


def test_replies_oldest_keeps_the_parent_first(slack_emulator, bot, ml):
    parent = bot.chat_postMessage(channel=ml, text="question")["ts"]
    r = [slack_emulator.act_as("bob").reply("ml-alerts", parent, f"r{i}") for i in range(3)]
    resp = bot.conversations_replies(channel=ml, ts=parent, oldest=r[0])
    assert [m["ts"] for m in resp["messages"]] == [parent, r[1], r[2]]
    resp = bot.conversations_replies(channel=ml, ts=parent, oldest=r[0], inclusive=True, latest=r[1])
    assert [m["ts"] for m in resp["messages"]] == [parent, r[0], r[1]]


def test_replies_errors(bot, ml):
    assert error_of(bot.conversations_replies, channel=ml, ts="123.000001")["error"] == "thread_not_found"
    assert error_of(bot.conversations_replies, channel="C0NOPE", ts="1.0")["error"] == "channel_not_found"


def test_reply_updates_parent_thread_fields_everywhere(slack_emulator, bot, ml):
    parent = bot.chat_postMessage(channel=ml, text="Deploy?")["ts"]
    a1 = slack_emulator.act_as("alice").reply("ml-alerts", parent, "approve")
    c1 = slack_emulator.act_as("carol").reply("ml-alerts", parent, "+1")
    a2 = slack_emulator.act_as("alice").reply("ml-alerts", parent, "really")
    expected = {"reply_count": 3, "latest_reply": a2, "reply_users": [slack_emulator.user_id("alice"),
                                                                        slack_emulator.user_id("carol")]}
    from_history = bot.conversations_history(channel=ml)["messages"][0]
    from_replies = bot.conversations_replies(channel=ml, ts=parent)["messages"][0]
    for parent_view in (from_history, from_replies):
        assert {k: parent_view[k] for k in expected} == expected
        assert parent_view["thread_ts"] == parent and parent_view["reply_users_count"] == 2
    slack_emulator.client("carol").chat_delete(channel=ml, ts=c1)
    after = bot.conversations_history(channel=ml)["messages"][0]
    assert after["reply_count"] == 2 and after["reply_users"] == [slack_emulator.user_id("alice")]
    assert a1 in [m["ts"] for m in bot.conversations_replies(channel=ml, ts=parent)["messages"]]


def test_reactions_add_get_remove_and_history(slack_emulator, bot, ml):
    ts = bot.chat_postMessage(channel=ml, text="Deploy?")["ts"]
    alice, carol = slack_emulator.client("alice"), slack_emulator.client("carol")
    assert alice.reactions_add(channel=ml, timestamp=ts, name="white_check_mark").data == {"ok": True}
    carol.reactions_add(channel=ml, timestamp=ts, name=":white_check_mark:")
    carol.reactions_add(channel=ml, timestamp=ts, name="thumbsup")  # stored as "+1", as Slack does
    got = bot.reactions_get(channel=ml, timestamp=ts)
    assert got["type"] == "message" and got["channel"] == ml and got["message"]["ts"] == ts
    ids = slack_emulator.user_id
    assert got["message"]["reactions"] == [
        {"name": "white_check_mark", "users": [ids("alice"), ids("carol")], "count": 2},
        {"name": "+1", "users": [ids("carol")], "count": 1},
    ]
    assert got["message"]["permalink"].endswith(ts.replace(".", ""))
    assert bot.conversations_history(channel=ml)["messages"][0]["reactions"] == got["message"]["reactions"]
    carol.reactions_remove(channel=ml, timestamp=ts, name="+1")
    assert len(bot.reactions_get(channel=ml, timestamp=ts)["message"]["reactions"]) == 1


def test_reaction_errors(slack_emulator, ml):
    bot = slack_emulator.client()
    ts = bot.chat_postMessage(channel=ml, text="x")["ts"]
    alice = slack_emulator.client("alice")
    alice.reactions_add(channel=ml, timestamp=ts, name="eyes")
    assert error_of(alice.reactions_add, channel=ml, timestamp=ts, name="eyes")["error"] == "already_reacted"
    assert error_of(alice.reactions_remove, channel=ml, timestamp=ts, name="tada")["error"] == "no_reaction"
    assert error_of(alice.reactions_add, channel=ml, timestamp="9.000009", name="eyes")["error"] == "message_not_found"
    assert error_of(alice.reactions_add, channel=ml, timestamp=ts, name="Bad Name!")["error"] == "invalid_name"
    assert error_of(bot.reactions_get, channel=ml)["error"] == "no_item_specified"


def test_users_info_for_person_and_bot(slack_emulator, bot):
    alice = bot.users_info(user=slack_emulator.user_id("alice"))["user"]
    assert alice["name"] == "alice" and alice["is_bot"] is False and alice["real_name"] == "Alice Archer"
    assert alice["profile"]["display_name"] == "alice"
    ci = bot.users_info(user=slack_emulator.user_id("ci-bot"))["user"]
    assert ci["is_bot"] is True and ci["profile"]["bot_id"] == "B0CIBOT"
    assert error_of(bot.users_info, user="U0NOBODY")["error"] == "user_not_found"


def test_usergroups(slack_emulator, bot):
    group = slack_emulator.usergroup_id("ml-leads")
    members = bot.usergroups_users_list(usergroup=group)["users"]
    assert members == [slack_emulator.user_id("alice"), slack_emulator.user_id("carol")]
    assert error_of(bot.usergroups_users_list, usergroup="S0NOPE")["error"] == "no_such_subteam"
    listed = bot.usergroups_list(include_users=True)["usergroups"]
    assert [(g["handle"], g["users"]) for g in listed] == [("ml-leads", members)]


def test_auth_test_for_bot_and_person(slack_emulator):
    bot = slack_emulator.client().auth_test()
    assert bot["user_id"] == slack_emulator.bot_user_id and bot["bot_id"] == slack_emulator.bot_id
    assert bot["team_id"] == slack_emulator.team_id and bot["url"].startswith("https://")
    assert bot.headers["X-OAuth-Scopes"].split(",") == sorted(slack_emulator.workspace.bot.scopes)
    person = slack_emulator.client("dave").auth_test()
    assert person["user"] == "dave" and "bot_id" not in person


def test_conversations_info_list_members(slack_emulator, bot, ml):
    info = bot.conversations_info(channel=ml, include_num_members=True)["channel"]
    assert info["name"] == "ml-alerts" and info["is_member"] is True and info["num_members"] == 9
    private = slack_emulator.channel_id("ml-private")
    assert bot.conversations_info(channel=private)["channel"]["is_private"] is True
    assert error_of(slack_emulator.client("bob").conversations_info, channel=private)["error"] == "channel_not_found"
    names = [c["name"] for c in bot.conversations_list(types="public_channel,private_channel")["channels"]]
    assert sorted(names) == ["ml-alerts", "ml-private", "old-alerts", "ops"]
    active = [c["name"] for c in bot.conversations_list(exclude_archived=True)["channels"]]
    assert sorted(active) == ["ml-alerts", "ops"]
    paged = [c["name"] for page in bot.conversations_list(limit=1) for c in page["channels"]]
    assert sorted(paged) == ["ml-alerts", "old-alerts", "ops"]
    assert error_of(bot.conversations_list, types="bogus")["error"] == "invalid_types"
    members = bot.conversations_members(channel=ml)["members"]
    assert slack_emulator.user_id("dave") in members and slack_emulator.bot_user_id in members


def test_tokens_missing_invalid_revoked(slack_emulator, ml):
    from slack_sdk import WebClient

    assert error_of(WebClient(base_url=slack_emulator.base_url).auth_test)["error"] == "not_authed"
    assert error_of(WebClient(token="xoxb-wrong", base_url=slack_emulator.base_url).auth_test)["error"] == "invalid_auth"
    bot = slack_emulator.client()
    bot.chat_postMessage(channel=ml, text="before")
    slack_emulator.revoke_token(slack_emulator.bot_token)
    assert error_of(bot.conversations_history, channel=ml)["error"] == "token_revoked"
    assert slack_emulator.client("alice").auth_test()["ok"]  # other tokens keep working


def test_missing_scope_names_the_needed_scope():
    from airflow_chat_alerts.testing import SlackEmulator, Workspace

    ws = Workspace.default().with_scopes("chat-alerts", ["chat:write", "channels:history"])
    with SlackEmulator(ws) as emu:
        bot = emu.client()
        ts = bot.chat_postMessage(channel=emu.channel_id("ml-alerts"), text="x")["ts"]
        data = error_of(bot.reactions_get, channel=emu.channel_id("ml-alerts"), timestamp=ts)
        assert data["error"] == "missing_scope" and data["needed"] == "reactions:read"
        assert data["provided"] == "channels:history,chat:write"
        assert error_of(bot.conversations_history, channel=emu.channel_id("ml-private"))["needed"] == "groups:history"
        assert error_of(bot.usergroups_users_list, usergroup="S0MLLEADS")["error"] == "missing_scope"


def test_conversations_members_pages_with_limit_and_cursor(slack_emulator, bot, ml):
    everyone = bot.conversations_members(channel=ml)["members"]
    assert len(everyone) == 9
    first = bot.conversations_members(channel=ml, limit=4)
    assert first["members"] == everyone[:4] and first["response_metadata"]["next_cursor"]
    second = bot.conversations_members(channel=ml, limit=4, cursor=first["response_metadata"]["next_cursor"])
    assert second["members"] == everyone[4:8]
    last = bot.conversations_members(channel=ml, limit=4, cursor=second["response_metadata"]["next_cursor"])
    assert last["members"] == everyone[8:] and last["response_metadata"]["next_cursor"] == ""
    # slack_sdk's own paginator walks the same pages
    pages = [page["members"] for page in bot.conversations_members(channel=ml, limit=4)]
    assert pages == [everyone[:4], everyone[4:8], everyone[8:]]
    assert error_of(bot.conversations_members, channel=ml, limit=0)["error"] == "invalid_limit"
    assert error_of(bot.conversations_members, channel=ml, limit=1001)["error"] == "invalid_limit"
    assert error_of(bot.conversations_members, channel=ml, cursor="bm9wZQ==")["error"] == "invalid_cursor"
