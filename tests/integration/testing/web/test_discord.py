"""The Discord emulator in the web view, over HTTP: its guild, channels with threads, replies, embeds and buttons
as the page reads them, live changes, acts carried out through the emulator's own paths (a click goes to the
bot's Gateway session and its 3 s acknowledgement), ephemerals for their person only, the journal, and never a
token."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.parse
import urllib.request

import hikari
import pytest

from airflow_chat_alerts.testing.discord import DiscordEmulator
from airflow_chat_alerts.testing.web import DiscordSource, SlackSource, WebView

from ..discord.bots import hikari_bot
from .conftest import Page

pytestmark = pytest.mark.timeout(120)

QUESTION_ROWS = [{"type": 1, "components": [
    {"type": 2, "style": 3, "label": "Approve", "custom_id": "approve"},
    {"type": 2, "style": 4, "label": "Reject", "custom_id": "reject"},
    {"type": 2, "style": 5, "label": "Open in Airflow", "url": "https://airflow.example/run"},
]}]


@pytest.fixture
def page(discord_web_view) -> Page:
    return Page(discord_web_view.url)


def act(page: Page, emu: DiscordEmulator, action: str, who: str, channel: str = "ml-alerts", **fields) -> dict:
    person = emu.user_id(who) if who in {m.name for m in emu.guild.members.values()} else who
    body = {"action": action, "as": person, "channel": emu.channel_id(channel), **fields}
    status, _, text = page.request("api/discord/act", body)
    assert status == 200, (status, text)
    return json.loads(text)


def read(page: Page, emu: DiscordEmulator, channel: str = "ml-alerts", **query) -> dict:
    return page.get(f"api/discord/channels/{emu.channel_id(channel)}?{urllib.parse.urlencode(query)}")


def test_the_guild_as_the_page_reads_it(page, discord_emulator):
    emu = discord_emulator
    assert page.get("api/services") == {"services": [{"id": "discord", "name": "Discord"}]}
    workspace = page.get("api/discord/workspace")
    assert workspace["name"] == "chat-alerts-test" and workspace["transport"] == "Gateway"
    people = {p["name"]: p for p in workspace["people"]}
    assert (people["alice"]["label"], people["alice"]["kind"], people["alice"]["admin"]) == ("Alice Andersen", "person", True)
    assert (people["bob"]["admin"], people["chat-alerts"]["badge"], people["ci-bot"]["kind"]) == (False, "APP", "bot")
    channels = {c["name"]: c for c in workspace["channels"]}
    assert list(channels) == ["ml-alerts", "ops", "ml-private"]
    assert not channels["ml-alerts"]["private"] and channels["ml-private"]["private"]
    assert emu.user_id("carol") in channels["ml-private"]["members"]
    assert emu.user_id("bob") not in channels["ml-private"]["members"]
    assert workspace["default_channel"] == emu.channel_id("ml-alerts")


def test_a_channel_with_a_reply_a_thread_an_embed_and_buttons(page, discord_emulator):
    emu = discord_emulator
    bot, alice = emu.act_as("chat-alerts"), emu.act_as("alice")
    question = bot.post("ml-alerts", f"Deploy **v42**? <@&{emu.role_id('ml-leads')}>", components=QUESTION_ROWS,
                        embeds=[{"title": "Accuracy", "description": "`0.97`", "color": 0x2EB67D}])
    reply = emu.act_as("bob").reply("ml-alerts", question, "reject, numbers look off")
    thread = alice.start_thread("ml-alerts", question, "Deploy v42")
    in_thread = alice.post_in_thread(thread, "looking")
    alice.react("ml-alerts", question, "✅")

    full = read(page, emu, viewer=emu.user_id("alice"))
    assert full["full"] and full["ephemeral"] == []
    views = {m["ts"]: m for m in full["messages"]}
    assert set(views) == {question, reply, in_thread}
    asked = views[question]
    text, card, actions = asked["body"]
    assert text["c"][-1] == {"t": "mention", "kind": "group", "id": emu.role_id("ml-leads"), "label": "@ml-leads"}
    assert card["accent"] == "#2eb67d" and card["c"][0] == {"t": "header", "c": ["Accuracy"]}
    assert [(b["label"], b["action_id"], b["style"], b["url"]) for b in actions["elements"]] == [
        ("Approve", "approve", "primary", None), ("Reject", "reject", "danger", None),
        ("Open in Airflow", "", None, "https://airflow.example/run")]
    assert (asked["thread_name"], asked["reply_count"]) == ("Deploy v42", 1)
    assert asked["reactions"] == [{"name": "white_check_mark", "char": "✅", "users": [emu.user_id("alice")], "count": 1}]
    assert views[reply]["reply_to"]["line"].startswith("chat-alerts: Deploy v42?")
    assert views[in_thread]["thread_ts"] == question and views[reply]["thread_ts"] is None

    # Only what changed since, then the deleted starter's stand-in (its thread lives on).
    emu.act_as("bob").edit("ml-alerts", reply, "approve after all")
    since = read(page, emu, since=full["revision"], epoch=full["epoch"])
    assert not since["full"] and [m["ts"] for m in since["messages"]] == [reply]
    assert since["messages"][0]["edited"] and since["messages"][0]["text"] == "approve after all"
    emu.delete_message("ml-alerts", question)
    after = read(page, emu, since=since["revision"], epoch=since["epoch"])
    [stand_in] = after["messages"]
    assert (stand_in["ts"], stand_in["deleted"], stand_in["thread_name"]) == (question, True, "Deploy v42")
    emu.act_as("bob").delete("ml-alerts", reply)
    assert read(page, emu, since=after["revision"], epoch=after["epoch"])["removed"] == [reply]


def test_acts_go_through_the_emulators_rest_api_as_the_person(page, discord_emulator):
    emu = discord_emulator
    posted = act(page, emu, "post", "alice", text="Deploy v42?")
    assert posted["ok"] and emu.messages("ml-alerts")[0]["author"]["username"] == "alice"
    question = posted["ts"]
    answered = act(page, emu, "reply", "bob", thread_ts=question, text="approve")  # no thread: a Discord reply
    assert emu.messages("ml-alerts")[1]["message_reference"]["message_id"] == question
    assert act(page, emu, "react", "carol", ts=question, name="white_check_mark")["ok"]  # a short name, as the page has
    assert emu.messages("ml-alerts")[0]["reactions"][0]["emoji"]["name"] == "✅"
    assert act(page, emu, "unreact", "carol", ts=question, name="✅")["ok"]
    assert "reactions" not in emu.messages("ml-alerts")[0]
    thread = emu.act_as("alice").start_thread("ml-alerts", question, "talk")
    in_thread = act(page, emu, "reply", "carol", thread_ts=question, text="in the thread")  # the thread: in it
    assert [m["content"] for m in emu.thread_messages(thread)] == ["in the thread"]
    assert act(page, emu, "react", "bob", ts=in_thread["ts"], name="eyes")["ok"]  # a thread's message, found
    assert act(page, emu, "edit", "bob", ts=answered["ts"], text="reject")["ok"]

    # Discord's answers, shown where the person acted.
    edit_other = act(page, emu, "edit", "bob", ts=question, text="mine now")
    assert (edit_other["ok"], edit_other["error"]) == (False, "50005")
    assert "HTTP 403" in edit_other["message"]
    assert act(page, emu, "delete", "bob", ts=question)["error"] == "50013"  # no MANAGE_MESSAGES
    assert act(page, emu, "post", "gina", channel="ml-private", text="hi")["error"] == "50001"
    assert act(page, emu, "react", "bob", ts=question, name="no-such-emoji")["error"] == "10014"
    assert act(page, emu, "delete", "alice", ts=answered["ts"])["ok"]  # an admin deletes anyone's
    assert act(page, emu, "select", "alice", ts=question, action_id="x", values=["y"])["error"] == "not_supported"
    assert act(page, emu, "post", "nobody-here", text="x")["error"] == "unknown_person"
    emu.faults.add("create_message", "429", retry_after=2)
    limited = act(page, emu, "post", "alice", text="again")
    assert (limited["error"], "Retry after" in limited["message"]) == ("http_429", True)
    entries = page.get("api/discord/journal")["entries"]
    assert {e["kind"] for e in entries} >= {"call", "error", "limited"}
    assert any(e["method"] == "create_message" and e["who"] == "alice" and "#ml-alerts" in e["summary"] for e in entries)


def test_a_click_with_no_bot_connected_fails_as_discord_shows_it(page, discord_emulator):
    emu = discord_emulator
    question = emu.act_as("chat-alerts").post("ml-alerts", "Deploy?", components=QUESTION_ROWS)
    failed = act(page, emu, "click", "alice", ts=question, action_id="approve")
    assert (failed["ok"], failed["error"]) == (False, "no_connection")
    assert "no Gateway session of the bot is connected" in failed["message"]
    assert act(page, emu, "click", "alice", ts=question, action_id="nope")["error"] == "button_not_found"
    [refused] = [e for e in page.get("api/discord/journal")["entries"] if e["method"] == "gateway.interaction"]
    assert (refused["kind"], refused["error"]) == ("socket", "no_connection")
    assert [(i.user_id, i.status) for i in emu.interactions()] == [(emu.user_id("alice"), "expired")]


def test_a_click_goes_to_the_bot_and_its_ephemeral_answer_shows_to_the_clicker_only(page, discord_emulator,
                                                                                     discord_web_view):
    emu = discord_emulator
    channel = int(emu.channel_id("ml-alerts"))
    [source] = discord_web_view.sources
    before = source.status()

    async def scenario() -> tuple[dict, dict]:
        async with hikari_bot(emu) as (bot, received):
            async def acknowledge(event: hikari.InteractionCreateEvent) -> None:
                interaction = event.interaction
                assert isinstance(interaction, hikari.ComponentInteraction)
                await interaction.create_initial_response(
                    hikari.ResponseType.MESSAGE_CREATE, f"<@{interaction.user.id}> may not decide **yet**",
                    flags=hikari.MessageFlag.EPHEMERAL)

            bot.event_manager.subscribe(hikari.InteractionCreateEvent, acknowledge)
            await received.wait_for(hikari.ShardReadyEvent)
            question = await bot.rest.create_message(channel, "Deploy?", components=[
                bot.rest.build_message_action_row().add_interactive_button(hikari.ButtonStyle.SUCCESS, "approve",
                                                                           label="Approve")])
            clicked = await asyncio.to_thread(act, page, emu, "click", "bob", ts=str(question.id), action_id="approve")
            return clicked, {"question": str(question.id)}

    clicked, seen = asyncio.run(scenario())
    assert clicked == {"ok": True}
    [interaction] = emu.interactions()
    assert (interaction.user_id, interaction.custom_id, interaction.status) == (emu.user_id("bob"), "approve",
                                                                               "acknowledged")
    [note] = read(page, emu, viewer=emu.user_id("bob"))["ephemeral"]
    assert note["ephemeral"] and note["reply_to"] == {"id": seen["question"], "line": "bob used a button"}
    assert note["body"][0]["c"] == [{"t": "mention", "kind": "user", "id": emu.user_id("bob"), "label": "@bob"},
                                    " may not decide ", {"t": "b", "c": ["yet"]}]
    assert read(page, emu, viewer=emu.user_id("alice"))["ephemeral"] == []
    after = source.status()  # what tells the page to look again
    assert after["ephemeral"] > before["ephemeral"] and after["revision"] > before["revision"]
    kinds = [e["method"] for e in page.get("api/discord/journal")["entries"] if e["kind"] == "socket"]
    assert "gateway.open" in kinds and "gateway.identify" in kinds and "gateway.dispatch" in kinds
    assert "gateway.interaction" in kinds


def test_no_token_ever_reaches_the_page(page, discord_emulator):
    emu = discord_emulator
    emu.act_as("bob").post("ml-alerts", f"oops: {emu.bot_token} and {emu.token_for('alice')}")
    hook = emu.webhook_url("ml-alerts")
    request = urllib.request.Request(hook, data=json.dumps({"content": "from a webhook"}).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30).close()
    answers = [page.request(path)[2] for path in (
        "api/discord/workspace", f"api/discord/channels/{emu.channel_id('ml-alerts')}", "api/discord/journal")]
    secrets = [m.token for m in emu.guild.members.values()] + [hook.rsplit("/", 1)[1]]
    for answer in answers:
        for secret in secrets:
            assert secret not in answer
    assert "oops: [hidden] and [hidden]" in answers[1]


def test_the_page_follows_a_reset_and_shows_both_emulators_at_once(discord_emulator, slack_emulator):
    emu = discord_emulator
    with WebView(SlackSource(slack_emulator), DiscordSource(emu)) as view:
        page = Page(view.url)
        assert [s["id"] for s in page.get("api/services")["services"]] == ["slack", "discord"]
        emu.act_as("alice").post("ml-alerts", "on discord")
        slack_emulator.act_as("alice").post("ml-alerts", "on slack")
        before = read(page, emu)
        assert [m["text"] for m in before["messages"]] == ["on discord"]
        assert page.get(f"api/slack/channels/{slack_emulator.channel_id('ml-alerts')}")["messages"][0]["text"] == "on slack"
        emu.reset()
        after = read(page, emu, since=before["revision"], epoch=before["epoch"])
        assert after["full"] and after["epoch"] != before["epoch"] and after["messages"] == []


def test_the_command_line_serves_the_page_and_the_emulator_stops_it():
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_chat_alerts.testing.discord.cli", "--port", "0", "--ui", "--ui-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while not any(line.startswith("Press Ctrl+C") for line in lines):
            line = process.stdout.readline()
            assert line, process.stderr.read()
            lines.append(line)
        [address] = [line.split(": ", 1)[1].strip() for line in lines if line.startswith("web view: ")]
        assert Page(address).get("api/services")["services"] == [{"id": "discord", "name": "Discord"}]
    finally:
        process.terminate()
        process.wait(timeout=30)

    emu = DiscordEmulator()
    view = emu.web_view()
    assert emu.web_view() is view
    Page(view.url).get("api/services")
    emu.stop()
    with pytest.raises(OSError):
        Page(view.url).request("api/services")
