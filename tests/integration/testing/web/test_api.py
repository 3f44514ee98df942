"""The web view's read-only API and event stream over HTTP: what the page reads, live, and never a secret."""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse

import pytest

from airflow_chat_alerts.testing import SlackEmulator
from airflow_chat_alerts.testing.web import SlackSource, WebView

from .conftest import Page


def secrets_of(emu) -> list[str]:
    hooks = [emu.webhook_url(ch.name).rsplit("/", 1)[1] for ch in emu.workspace.channels]
    return [*(u.token for u in emu.workspace.users), emu.app_token, emu.bot_token, *hooks]


def channel(page: Page, name: str, emu, **query) -> dict:
    return page.get(f"api/slack/channels/{emu.channel_id(name)}?{urllib.parse.urlencode(query)}")


def test_the_page_is_served_with_its_files_and_strict_headers(page):
    status, headers, html = page.request("")
    assert status == 200 and '<script src="/static/app.js" defer></script>' in html
    assert "script-src 'self'" in headers["Content-Security-Policy"] and "unsafe" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    status, headers, _ = page.request("static/app.js")
    assert (status, headers["Content-Type"].split(";")[0]) == (200, "text/javascript")
    assert page.request("static/../server.py")[0] == 404
    assert page.request("static/secrets.txt")[0] == 404


def test_the_workspace_and_a_channel_as_the_page_reads_them(page, slack_emulator):
    workspace = page.get("api/slack/workspace")
    assert workspace["name"] == "Chat Alerts Test Workspace"
    alice = next(p for p in workspace["people"] if p["name"] == "alice")
    assert (alice["id"], alice["kind"], alice["admin"]) == ("U0ALICE", "person", True)
    assert {p["name"]: p["badge"] for p in workspace["people"]}["chat-alerts"] == "APP"
    assert [c["name"] for c in workspace["channels"]] == ["ml-alerts", "ops", "ml-private", "old-alerts"]

    ts = slack_emulator.client().chat_postMessage(channel="ml-alerts", text="Deploy? <@U0ALICE>")["ts"]
    slack_emulator.act_as("alice").reply("ml-alerts", ts, "approve")
    read = channel(page, "ml-alerts", slack_emulator, viewer="U0ALICE")
    assert read["full"] and [m["ts"] for m in read["messages"]][0] == ts
    parent, reply = read["messages"]
    assert parent["reply_count"] == 1 and reply["thread_ts"] == ts
    assert parent["body"] == [{"t": "text", "c": ["Deploy? ", {"t": "mention", "kind": "user", "id": "U0ALICE",
                                                                 "label": "@alice"}]}]


def test_a_read_since_a_revision_brings_only_what_changed(page, slack_emulator):
    bob = slack_emulator.act_as("bob")
    first, second = bob.post("ops", "one"), bob.post("ops", "two")
    before = channel(page, "ops", slack_emulator)
    bob.react("ops", first, "eyes")
    bob.delete("ops", second)
    reply = slack_emulator.act_as("alice").reply("ops", first, "seen")
    after = channel(page, "ops", slack_emulator, since=before["revision"], epoch=before["epoch"])
    assert not after["full"]
    assert sorted(m["ts"] for m in after["messages"]) == sorted([first, reply])
    assert after["removed"] == [second]
    assert next(m for m in after["messages"] if m["ts"] == first)["reactions"][0]["name"] == "eyes"
    nothing = channel(page, "ops", slack_emulator, since=after["revision"], epoch=after["epoch"])
    assert (nothing["messages"], nothing["removed"]) == ([], [])


def test_a_reset_is_a_new_epoch_and_a_full_read(page, slack_emulator):
    slack_emulator.act_as("bob").post("ops", "before the reset")
    before = channel(page, "ops", slack_emulator)
    slack_emulator.reset()
    slack_emulator.act_as("bob").post("ops", "after")
    after = channel(page, "ops", slack_emulator, since=before["revision"], epoch=before["epoch"])
    assert after["full"] and after["epoch"] != before["epoch"]
    assert [m["text"] for m in after["messages"]] == ["after"]


def test_ephemeral_messages_are_read_by_their_viewer_only(page, slack_emulator):
    slack_emulator.client().chat_postEphemeral(channel="ml-alerts", user="U0BOB", text="only for bob")
    assert [m["text"] for m in channel(page, "ml-alerts", slack_emulator, viewer="U0BOB")["ephemeral"]] == ["only for bob"]
    assert channel(page, "ml-alerts", slack_emulator, viewer="U0ALICE")["ephemeral"] == []
    assert channel(page, "ml-alerts", slack_emulator)["ephemeral"] == []


def test_the_journal_names_who_called_and_marks_429s(page, slack_emulator):
    slack_emulator.faults.add("chat.postMessage", "429", retry_after=7)
    assert page.act(action="post", **{"as": "U0BOB"}, channel=slack_emulator.channel_id("ops"), text="x")["error"] == "ratelimited"
    slack_emulator.act_as("alice").post("ops", "hello")
    entries = page.get("api/slack/journal")["entries"]
    limited, ok = entries[-2:]
    assert (limited["kind"], limited["status"], limited["method"]) == ("limited", 429, "chat.postMessage")
    assert (ok["kind"], ok["who"], ok["summary"]) == ("call", "alice", "channel=#ops text=hello blocks[1]")
    later = page.get(f"api/slack/journal?since={len(entries)}&epoch={page.get('api/slack/journal')['epoch']}")
    assert later["entries"] == []


def test_no_secret_ever_reaches_the_page(page, slack_emulator):
    rotated = slack_emulator.rotate_token("alice")
    secrets = [*secrets_of(slack_emulator), rotated]
    leak = f"my token is {slack_emulator.bot_token} and {slack_emulator.app_token} and {rotated}"
    slack_emulator.client().chat_postMessage(channel="ml-alerts", text=leak, metadata={
        "event_type": "x", "event_payload": {"token": slack_emulator.workspace.user("bob").token}})
    slack_emulator.client().chat_postMessage(channel="ml-alerts", text="x", token=slack_emulator.bot_token)
    shown = [
        page.request("")[2],
        json.dumps(page.get("api/services")),
        json.dumps(page.get("api/slack/workspace")),
        json.dumps(channel(page, "ml-alerts", slack_emulator, viewer="U0ALICE")),
        json.dumps(page.get("api/slack/journal")),
    ]
    for text in shown:
        for secret in secrets:
            assert secret not in text
    assert "my token is [hidden] and [hidden] and [hidden]" in shown[3]


def status_events(view: WebView, until, then, timeout: float = 30.0) -> list[dict]:
    """The page's event stream's status events until ``until(event)`` holds (``then()`` is called once
    the first has come)."""
    connection = http.client.HTTPConnection("127.0.0.1", view.port, timeout=timeout)
    connection.request("GET", "/api/events", headers={"Host": f"127.0.0.1:{view.port}"})
    response = connection.getresponse()
    assert response.status == 200 and response.headers["Content-Type"] == "text/event-stream"
    events: list[dict] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            line = response.readline().decode()
            if line.startswith("data: "):
                events.append(json.loads(line[len("data: "):])["services"])
                if len(events) == 1:
                    then()
                if until(events[-1]):
                    return events
        raise AssertionError(f"no event within {timeout} s showed the change: {events}")
    finally:
        connection.close()


def test_the_event_stream_tells_of_a_change_without_being_asked(slack_emulator, slack_web_view):
    ops = slack_emulator.channel_id("ops")
    # The post changes the channel, then the journal: an event may come between the two.
    events = status_events(
        slack_web_view,
        until=lambda services: ops in services.get("slack", {}).get("channels", ())
        and services["slack"]["journal"] >= 1,
        then=lambda: slack_emulator.act_as("bob").post("ops", "hi"),
    )
    assert events[-1]["slack"]["sockets"] == 0


def test_a_second_service_plugs_in_beside_the_first(slack_emulator):
    other = SlackEmulator()
    try:
        with WebView(SlackSource(slack_emulator), SlackSource(other, id="partner", name="Slack (partner)")) as view:
            page = Page(view.url)
            assert page.get("api/services")["services"] == [{"id": "slack", "name": "Slack"},
                                                            {"id": "partner", "name": "Slack (partner)"}]
            other.act_as("bob").post("ops", "in the partner workspace")
            assert [m["text"] for m in page.get("api/partner/channels/C0OPS")["messages"]] == ["in the partner workspace"]
            assert page.get("api/slack/channels/C0OPS")["messages"] == []
            assert page.request("api/nothing/workspace")[0] == 404
        with pytest.raises(ValueError, match="shown already"):
            WebView(SlackSource(slack_emulator), SlackSource(other))
    finally:
        other.stop()
