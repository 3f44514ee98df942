"""The Discord emulator's REST behaviour over real HTTP: people acting, what messages record, paging,
reactions, threads, webhooks and follow-ups, permissions, rate-limit headers and faults."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest

from airflow_chat_alerts.testing import ButtonNotFound, ClickFailed
from airflow_chat_alerts.testing.discord import DiscordApiError, Guild


def bot_call(emu, method, path, body=None):
    return emu.act_as("chat-alerts").call(method, path, body)


def error_code(call) -> tuple[int, object]:
    with pytest.raises(DiscordApiError) as err:
        call()
    return err.value.status, err.value.code


def test_people_act_and_the_transcript_shows_it(discord_emulator):
    emu = discord_emulator
    question = bot_call(emu, "POST", f"/channels/{emu.channel_id('ml-alerts')}/messages", {
        "content": "Deploy?", "components": [{"type": 1, "components": [
            {"type": 2, "style": 3, "label": "Approve", "custom_id": "approve"}]}]})["id"]
    alice = emu.act_as("alice")
    reply = alice.reply("ml-alerts", question, "approve")
    alice.react("ml-alerts", question, "✅")
    emu.act_as("bob").react("ml-alerts", question, "✅")
    emu.act_as("bob").unreact("ml-alerts", question, "✅")
    alice.edit("ml-alerts", reply, "approve, looks good")
    thread = alice.start_thread("ml-alerts", question, "deploy")
    assert thread == question  # a thread started from a message has the message's id
    emu.act_as("carol").post_in_thread(thread, "agreed")
    gone = emu.act_as("gina").post("ml-alerts", "oops")
    emu.act_as("gina").delete("ml-alerts", gone)
    text = emu.transcript("ml-alerts")
    assert "chat-alerts [bot]: Deploy?" in text
    assert "buttons: [Approve]" in text
    assert "reactions: ✅ alice" in text and "bob" not in text
    assert f"alice: (reply to {question}) approve, looks good (edited)" in text
    assert "thread 'deploy'" in text and "carol: agreed" in text
    assert "oops" not in text


def test_allowed_mentions_decide_what_is_recorded(discord_emulator):
    emu = discord_emulator
    ch = emu.channel_id("ml-alerts")
    alice, bob, leads = emu.user_id("alice"), emu.user_id("bob"), emu.role_id("ml-leads")
    content = f"<@{alice}> <@{bob}> <@&{leads}> @everyone"
    everything = bot_call(emu, "POST", f"/channels/{ch}/messages", {"content": content})
    assert [u["id"] for u in everything["mentions"]] == [alice, bob]
    assert everything["mention_roles"] == [leads] and everything["mention_everyone"] is True
    nothing = bot_call(emu, "POST", f"/channels/{ch}/messages", {"content": content, "allowed_mentions": {"parse": []}})
    assert (nothing["mentions"], nothing["mention_roles"], nothing["mention_everyone"]) == ([], [], False)
    some = bot_call(emu, "POST", f"/channels/{ch}/messages",
                    {"content": content, "allowed_mentions": {"users": [bob], "roles": [leads]}})
    assert [u["id"] for u in some["mentions"]] == [bob] and some["mention_roles"] == [leads]
    reply = emu.act_as("carol").call("POST", f"/channels/{ch}/messages", {
        "content": "noted", "message_reference": {"message_id": nothing["id"]},
        "allowed_mentions": {"parse": [], "replied_user": False}})
    assert reply["mentions"] == [] and reply["referenced_message"]["id"] == nothing["id"] and reply["type"] == 19
    assert error_code(lambda: bot_call(emu, "POST", f"/channels/{ch}/messages", {
        "content": "x", "allowed_mentions": {"parse": ["users"], "users": [bob]}})) == (400, 50035)


def test_listing_pages_with_before_after_around_and_limit(discord_emulator):
    emu = discord_emulator
    ch = emu.channel_id("ml-alerts")
    ids = [emu.act_as("alice").post("ml-alerts", f"m{i}") for i in range(7)]
    page = lambda query: [m["content"] for m in bot_call(emu, "GET", f"/channels/{ch}/messages?{query}")]
    assert page("limit=3") == ["m6", "m5", "m4"]  # newest first
    assert page(f"before={ids[4]}&limit=2") == ["m3", "m2"]
    assert page(f"after={ids[1]}&limit=2") == ["m3", "m2"]  # the oldest after it, still newest first
    assert page(f"around={ids[3]}&limit=3") == ["m4", "m3", "m2"]
    assert error_code(lambda: page("limit=101")) == (400, 50035)


def test_reaction_users_page_by_id(discord_emulator):
    emu = discord_emulator
    ch = emu.channel_id("ml-alerts")
    message = emu.act_as("bob").post("ml-alerts", "vote")
    for person in ("carol", "alice", "gina", "bob"):
        emu.act_as(person).react("ml-alerts", message, "👍")
    users = lambda query="": [u["username"] for u in bot_call(
        emu, "GET", f"/channels/{ch}/messages/{message}/reactions/%F0%9F%91%8D?{query}")]
    everyone = users()
    assert sorted(everyone) == ["alice", "bob", "carol", "gina"]
    assert everyone == sorted(everyone, key=lambda name: int(emu.user_id(name)))  # by user id
    first_two = users("limit=2")
    assert users(f"limit=2&after={emu.user_id(first_two[-1])}") == everyone[2:]
    read = bot_call(emu, "GET", f"/channels/{ch}/messages/{message}")
    assert read["reactions"][0]["count"] == 4 and read["reactions"][0]["me"] is False
    assert error_code(lambda: emu.act_as("alice").react("ml-alerts", message, "thumbsup")) == (400, 10014)


def test_permissions_and_unknowns_answer_discord_codes(discord_emulator):
    emu = discord_emulator
    ops, private = emu.channel_id("ops"), emu.channel_id("ml-private")
    assert error_code(lambda: emu.act_as("chat-alerts").post("ops", "hello")) == (403, 50013)
    assert bot_call(emu, "GET", f"/channels/{ops}")["name"] == "ops"  # the app may read ops
    assert error_code(lambda: emu.act_as("bob").call("GET", f"/channels/{private}/messages")) == (403, 50001)
    assert emu.act_as("carol").post("ml-private", "leads only")  # an ml-leads member
    assert error_code(lambda: bot_call(emu, "GET", "/channels/1")) == (404, 10003)
    assert error_code(lambda: bot_call(emu, "GET", f"/channels/{ops}/messages/1")) == (404, 10008)
    mine = emu.act_as("alice").post("ml-alerts", "mine")
    assert error_code(lambda: emu.act_as("chat-alerts").edit("ml-alerts", mine, "hijack")) == (403, 50005)
    assert error_code(lambda: emu.act_as("bob").delete("ml-alerts", mine)) == (403, 50013)
    emu.act_as("alice").delete("ml-alerts", mine)  # an admin: any message
    assert error_code(lambda: bot_call(emu, "GET", f"/guilds/{emu.guild_id}/members/1")) == (404, 10007)
    assert error_code(lambda: bot_call(emu, "GET", "/guilds/1/roles")) == (404, 10004)
    member = bot_call(emu, "GET", f"/guilds/{emu.guild_id}/members/{emu.user_id('gina')}")
    assert member["roles"] == []  # the guest-like member
    roles = {r["name"]: r for r in bot_call(emu, "GET", f"/guilds/{emu.guild_id}/roles")}
    assert {"@everyone", "admins", "ml-leads", "engineers", "chat-alerts", "ci-bot"} <= set(roles)
    assert roles["chat-alerts"]["managed"] is True and roles["chat-alerts"]["tags"] == {"bot_id": emu.bot_user_id}


def test_authentication_needs_the_right_scheme(discord_emulator):
    emu = discord_emulator

    def get(authorization):
        request = urllib.request.Request(f"{emu.base_url}/users/@me", headers={"Authorization": authorization})
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    assert get(f"Bot {emu.bot_token}")[1]["id"] == emu.bot_user_id
    assert get(emu.bot_token) == (401, {"message": "401: Unauthorized", "code": 0})  # a bot token needs "Bot "
    assert get(f"Bot {emu.token_for('alice')}")[0] == 401
    assert get(emu.token_for("alice"))[1]["username"] == "alice"
    emu.revoke_token(emu.bot_token)
    assert get(f"Bot {emu.bot_token}")[0] == 401


def test_files_go_up_as_multipart_and_come_back_as_attachments(discord_emulator):
    emu = discord_emulator
    ch = emu.channel_id("ml-alerts")
    boundary = "xyz"
    payload = json.dumps({"content": "the log", "attachments": [{"id": 0, "filename": "run.log"}]})
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"payload_json\"\r\n\r\n{payload}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"files[0]\"; filename=\"run.log\"\r\n"
            f"Content-Type: text/plain\r\n\r\nline 1\r\n--{boundary}--\r\n").encode()
    request = urllib.request.Request(f"{emu.base_url}/channels/{ch}/messages", data=body, method="POST", headers={
        "Authorization": f"Bot {emu.bot_token}", "Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request) as response:
        message = json.loads(response.read())
    [attachment] = message["attachments"]
    assert (attachment["filename"], attachment["size"], attachment["content_type"]) == ("run.log", 6, "text/plain")
    with urllib.request.urlopen(attachment["url"]) as download:
        assert download.read() == b"line 1"


def test_webhooks_post_without_a_bot_token(discord_emulator):
    emu = discord_emulator
    url = emu.webhook_url("ml-alerts")

    def execute(body, query=""):
        request = urllib.request.Request(url + query, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request) as response:
            return response.status, response.read()

    assert execute({"content": "quiet"}) == (204, b"")
    status, raw = execute({"content": "loud", "username": "Airflow"}, "?wait=true")
    message = json.loads(raw)
    assert status == 200 and message["author"]["username"] == "Airflow" and message["webhook_id"]
    assert [m["content"] for m in emu.messages("ml-alerts")] == ["quiet", "loud"]
    emu.revoke_webhook("ml-alerts")
    with pytest.raises(urllib.error.HTTPError) as revoked:
        execute({"content": "x"})
    assert revoked.value.code == 401 and json.loads(revoked.value.read())["code"] == 50027


def test_a_click_needs_a_gateway_session_and_an_existing_button(discord_emulator):
    emu = discord_emulator
    message = bot_call(emu, "POST", f"/channels/{emu.channel_id('ml-alerts')}/messages", {
        "content": "Deploy?", "components": [{"type": 1, "components": [
            {"type": 2, "style": 1, "label": "Yes", "custom_id": "yes"},
            {"type": 2, "style": 2, "label": "Off", "custom_id": "off", "disabled": True}]}]})["id"]
    with pytest.raises(ClickFailed) as failed:
        emu.act_as("alice").click("ml-alerts", message, "yes")
    assert failed.value.reason == "no_connection"
    with pytest.raises(ButtonNotFound):
        emu.act_as("alice").click("ml-alerts", message, "off")
    with pytest.raises(ButtonNotFound):
        emu.act_as("alice").click("ml-alerts", message, "nope")


def test_a_deferred_response_is_completed_through_the_original_message(discord_emulator):
    emu = discord_emulator
    message = bot_call(emu, "POST", f"/channels/{emu.channel_id('ml-alerts')}/messages", {
        "content": "Deploy?", "components": [{"type": 1, "components": [
            {"type": 2, "style": 1, "label": "Yes", "custom_id": "yes"}]}]})["id"]
    interaction = emu._click("bob", "ml-alerts", message, "yes")
    done = threading.Event()

    def app():
        base = emu.base_url
        for method, url, body in [
            ("POST", f"{base}/interactions/{interaction.id}/{interaction.token}/callback", {"type": 5}),
            ("PATCH", f"{base}/webhooks/{emu.application_id}/{interaction.token}/messages/@original",
             {"content": "Deployed"}),
        ]:
            request = urllib.request.Request(url, data=json.dumps(body).encode(), method=method,
                                             headers={"Content-Type": "application/json"})
            urllib.request.urlopen(request).read()
        done.set()

    emu.gateway.interaction_timeout = 30.0
    threading.Thread(target=app).start()
    assert done.wait(30)
    contents = [(m["content"], m.get("interaction_metadata", {}).get("user", {}).get("username"))
                for m in emu.messages("ml-alerts")]
    assert contents == [("Deploy?", None), ("Deployed", "bob")]


def test_rate_limit_headers_and_the_429_shape(discord_emulator):
    emu = discord_emulator
    emu.set_rate_limits("realistic")
    ch = emu.channel_id("ml-alerts")

    def post(i):
        request = urllib.request.Request(f"{emu.base_url}/channels/{ch}/messages",
                                         data=json.dumps({"content": f"m{i}"}).encode(), method="POST", headers={
                                             "Authorization": f"Bot {emu.bot_token}",
                                             "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, dict(response.headers), json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), json.loads(err.read())

    answers = [post(i) for i in range(6)]
    assert [a[0] for a in answers] == [200] * 5 + [429]
    assert [a[1]["X-RateLimit-Remaining"] for a in answers[:5]] == ["4", "3", "2", "1", "0"]
    assert {a[1]["X-RateLimit-Limit"] for a in answers[:5]} == {"5"}
    assert len({a[1]["X-RateLimit-Bucket"] for a in answers}) == 1
    status, headers, body = answers[5]
    assert body["global"] is False and 0 < body["retry_after"] <= 5 and body["message"]
    assert headers["X-RateLimit-Scope"] == "user" and int(headers["Retry-After"]) >= 1
    emu.clock.advance(5)
    assert post(6)[0] == 200  # a new window


def test_the_global_limit(discord_emulator):
    """50 requests per second per bot token across routes, each route's own bucket not yet spent."""
    emu = discord_emulator
    message = emu.act_as("alice").post("ml-alerts", "vote")
    emu.act_as("alice").react("ml-alerts", message, "👍")
    emu.set_rate_limits("realistic")
    emu.clock.speed = 0.001  # the whole burst falls in one emulated second
    channels = [emu.channel_id(name) for name in ("ml-alerts", "ops", "ml-private")]
    paths = ([f"/channels/{c}" for c in channels for _ in range(5)]
             + [f"/channels/{c}/messages?limit=1" for c in channels for _ in range(5)]
             + [f"/guilds/{emu.guild_id}/roles"] * 10 + ["/users/@me"] * 5 + ["/gateway/bot"] * 2
             + [f"/channels/{channels[0]}/messages/{message}/reactions/%F0%9F%91%8D"] * 5)
    statuses, bodies = [], []
    for path in paths:
        try:
            bot_call(emu, "GET", path)
            statuses.append(200)
        except DiscordApiError as err:
            statuses.append(err.status)
            bodies.append(err.body)
    assert statuses[:50] == [200] * 50 and set(statuses[50:]) == {429}
    assert all(body["global"] is True for body in bodies)
    assert all(c.error == "rate_limited" for c in emu.journal.calls()[-len(bodies):])


def test_faults_fail_the_next_calls_of_a_route(discord_emulator):
    emu = discord_emulator
    emu.faults.add("create_message", "503")
    emu.faults.add("list_messages", "429", retry_after=2)
    assert error_code(lambda: emu.act_as("alice").post("ml-alerts", "x"))[0] == 503
    emu.act_as("alice").post("ml-alerts", "x")  # the fault is spent
    with pytest.raises(DiscordApiError) as limited:
        bot_call(emu, "GET", f"/channels/{emu.channel_id('ml-alerts')}/messages")
    assert limited.value.status == 429 and limited.value.body["retry_after"] == 2.0
    assert [c.status for c in emu.journal.calls("create_message")] == [503, 200]


def test_a_guild_seed_is_checked():
    with pytest.raises(ValueError, match="duplicate member name"):
        Guild.from_dict({"members": [{"name": "a", "bot": True}, {"name": "a"}]})
    with pytest.raises(ValueError, match="no bot member"):
        Guild.from_dict({"members": [{"name": "a"}]})
    with pytest.raises(ValueError, match="unknown permission"):
        Guild.from_dict({"members": [{"name": "b", "bot": True}], "roles": [{"name": "r", "permissions": ["FLY"]}]})
    with pytest.raises(KeyError, match="no role"):
        Guild.from_dict({"members": [{"name": "b", "bot": True, "roles": ["nope"]}]})
