"""Acting in the page goes through act_as: the person's own token, Socket Mode for buttons, and every rule,
limit and fault of the emulator; other web sites cannot act at all."""

from __future__ import annotations

import asyncio
import json

from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from airflow_chat_alerts.testing.web.slack_source import CLICK_FAILED

BUTTONS = [{"type": "actions", "block_id": "decision", "elements": [
    {"type": "button", "action_id": "approve", "text": {"type": "plain_text", "text": "Approve"}, "value": "v1"}]}]


def as_(person: str, **body):
    return {"as": person, **body}


def test_posting_replying_reacting_editing_deleting_as_a_person(page, slack_emulator):
    ops = slack_emulator.channel_id("ops")
    posted = page.act(action="post", channel=ops, text="hello from the page", **{"as": "U0ALICE"})
    assert posted["ok"]
    ts = posted["ts"]
    assert page.act(action="reply", channel=ops, thread_ts=ts, text="a reply", **{"as": "U0BOB"})["ok"]
    assert page.act(action="react", channel=ops, ts=ts, name="thumbsup", **{"as": "U0BOB"})["ok"]
    assert page.act(action="edit", channel=ops, ts=ts, text="hello, edited", **{"as": "alice"})["ok"]
    [message] = slack_emulator.messages("ops")
    assert (message["user"], message["text"], message["reactions"][0]["name"]) == ("U0ALICE", "hello, edited", "+1")
    assert message["edited"]["user"] == "U0ALICE"
    assert page.act(action="unreact", channel=ops, ts=ts, name="+1", **{"as": "U0BOB"})["ok"]
    calls = slack_emulator.journal.calls()
    assert [(c.method, c.user) for c in calls] == [
        ("chat.postMessage", "U0ALICE"), ("chat.postMessage", "U0BOB"), ("reactions.add", "U0BOB"),
        ("chat.update", "U0ALICE"), ("reactions.remove", "U0BOB")]
    assert page.act(action="delete", channel=ops, ts=ts, **{"as": "U0ALICE"})["ok"]
    assert slack_emulator.messages("ops")[0]["subtype"] == "tombstone"  # the thread keeps its parent's place


def test_the_emulators_rules_answer_acts_from_the_page(page, slack_emulator):
    ops, private = slack_emulator.channel_id("ops"), slack_emulator.channel_id("ml-private")
    ts = slack_emulator.act_as("alice").post("ops", "mine")
    assert page.act(action="edit", channel=ops, ts=ts, text="x", **{"as": "U0BOB"})["error"] == "cant_update_message"
    assert page.act(action="delete", channel=ops, ts=ts, **{"as": "U0BOB"})["error"] == "cant_delete_message"
    assert page.act(action="post", channel=private, text="x", **{"as": "U0BOB"})["error"] == "channel_not_found"
    assert page.act(action="post", channel=ops, text="", **{"as": "U0BOB"})["error"] == "no_text"
    assert page.act(action="react", channel=ops, ts=ts, name="not-an-emoji", **{"as": "U0BOB"})["error"] == "invalid_name"
    assert page.act(action="post", channel=ops, text="x", **{"as": "nobody"})["error"] == "unknown_person"
    assert slack_emulator.messages("ops")[0]["text"] == "mine"


def test_faults_and_rate_limits_apply_to_the_page(page, slack_emulator):
    ops = slack_emulator.channel_id("ops")
    slack_emulator.faults.add("chat.postMessage", "429", retry_after=9)
    limited = page.act(action="post", channel=ops, text="x", **{"as": "U0BOB"})
    assert (limited["error"], limited["message"]) == ("ratelimited", "Slack answered ratelimited (HTTP 429). Retry after 9 s.")
    slack_emulator.faults.add("chat.postMessage", "500")
    assert page.act(action="post", channel=ops, text="x", **{"as": "U0BOB"})["error"] == "internal_error"
    slack_emulator.faults.add("chat.postMessage", "reset", count=2)
    assert page.act(action="post", channel=ops, text="x", **{"as": "U0BOB"})["error"] == "connection_error"
    assert slack_emulator.messages("ops") == []


def test_a_button_without_a_listening_app_fails_as_in_slack(page, slack_emulator):
    ml = slack_emulator.channel_id("ml-alerts")
    ts = slack_emulator.client().chat_postMessage(channel=ml, text="Deploy?", blocks=BUTTONS)["ts"]
    failed = page.act(action="click", channel=ml, ts=ts, action_id="approve", **{"as": "U0ALICE"})
    assert failed == {"ok": False, "error": "no_connection", "message": CLICK_FAILED["no_connection"]}
    missing = page.act(action="click", channel=ml, ts=ts, action_id="escalate", **{"as": "U0ALICE"})
    assert missing["error"] == "button_not_found"
    private = slack_emulator.channel_id("ml-private")
    hidden = slack_emulator.client().chat_postMessage(channel=private, text="Deploy?", blocks=BUTTONS)["ts"]
    assert page.act(action="click", channel=private, ts=hidden, action_id="approve", **{"as": "U0BOB"})["error"] == "not_visible"


def test_a_button_reaches_the_apps_socket_as_the_persons_click(page, slack_emulator):
    ml = slack_emulator.channel_id("ml-alerts")
    ts = slack_emulator.client().chat_postMessage(channel=ml, text="Deploy?", blocks=BUTTONS)["ts"]
    received = []

    async def app_and_person():
        client = SocketModeClient(app_token=slack_emulator.app_token,
                                  web_client=AsyncWebClient(base_url=slack_emulator.base_url))

        async def on_request(client, request):
            if request.type == "interactive":
                received.append(request.payload)
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

        client.socket_mode_request_listeners.append(on_request)
        await client.connect()
        try:
            return await asyncio.to_thread(
                page.act, action="click", channel=ml, ts=ts, action_id="approve", value="v1", **{"as": "U0CAROL"})
        finally:
            await client.close()
            await client.web_client.session.close() if client.web_client.session else None

    assert asyncio.run(app_and_person()) == {"ok": True}
    [payload] = received
    assert (payload["user"]["id"], payload["actions"][0]["action_id"], payload["actions"][0]["value"]) == (
        "U0CAROL", "approve", "v1")
    sockets = [c for c in slack_emulator.journal.calls() if c.method in ("socket.envelope", "socket.ack")]
    assert [(c.method, c.error) for c in sockets] == [("socket.envelope", None), ("socket.ack", None)]
    assert sockets[0].args["payload_type"] == "block_actions"


def test_menu_choices_go_only_where_the_emulator_has_a_path(page, slack_emulator):
    ml = slack_emulator.channel_id("ml-alerts")
    ts = slack_emulator.client().chat_postMessage(channel=ml, text="Pick", blocks=[{"type": "actions", "elements": [
        {"type": "static_select", "action_id": "model", "options": [
            {"text": {"type": "plain_text", "text": "A"}, "value": "a"}]}]}])["ts"]
    assert page.get("api/slack/workspace")["can_select"]
    chosen = page.act(action="select", channel=ml, ts=ts, action_id="model", values=["a"], **{"as": "U0ALICE"})
    # Nothing listens for the menu's choices here (no socket of the app): Slack shows the person an error.
    assert chosen.get("error"), chosen
    assert [e for e in page.get("api/slack/journal")["entries"] if e["method"] == "socket.envelope"] == []


def test_other_web_sites_cannot_act_or_read(page, slack_emulator, slack_web_view):
    ops = slack_emulator.channel_id("ops")
    act = {"action": "post", "as": "U0BOB", "channel": ops, "text": "csrf"}
    assert page.request("api/slack/act", act, {"Origin": "http://evil.example"})[0] == 403
    assert page.request("api/slack/act", json.dumps(act).encode(), {"Content-Type": "text/plain"})[0] == 415
    assert page.request("api/slack/act", act, {"Host": f"evil.example:{slack_web_view.port}"})[0] == 421
    assert page.request("api/slack/workspace", headers={"Host": f"rebound.example:{slack_web_view.port}"})[0] == 421
    assert page.request("api/slack/act", act, method="PUT")[0] == 405
    assert slack_emulator.messages("ops") == []
    assert page.request("api/slack/act", act, {"Origin": slack_web_view.url.rstrip("/")})[0] == 200


def test_a_malformed_act_is_a_clear_400(page):
    status, _, text = page.request("api/slack/act", {"action": "reply", "as": "U0BOB", "channel": "C0OPS", "text": "x"})
    assert (status, json.loads(text)["message"]) == (400, "'reply' needs 'thread_ts'")
    status, _, text = page.request("api/slack/act", b"{not json")
    assert status == 400 and json.loads(text)["error"] == "bad_request"
