"""An interaction's response_url, POSTed to with slack_sdk's WebhookClient as an app does: ephemeral and
in-channel answers, replacing and deleting the original, at most 5 uses in 30 minutes, posting as the
app with the same events as the Web API, within chat.postMessage's per-channel pace."""

from __future__ import annotations

import json

import pytest
from slack_sdk.webhook import WebhookClient

from .slack_errors import error_of
from .socket_apps import QUESTION_BLOCKS


@pytest.fixture
def clicked(slack_emulator, bot, ml):
    """(the question's ts, the click's payload, the other client holding the app's socket)."""
    ts = bot.chat_postMessage(channel=ml, text="Deploy?", blocks=QUESTION_BLOCKS)["ts"]
    others = slack_emulator.occupy_sockets(1)  # another process of the app takes (and acks) the click
    payload = slack_emulator.act_as("alice").click("ml-alerts", ts, "approve")
    return ts, payload, others


def _respond(payload, **body):
    return WebhookClient(payload["response_url"]).send_dict(body)


def _events(others):
    return [e["payload"]["event"] for e in others.envelopes() if e["type"] == "events_api"]


def test_the_default_answer_is_shown_to_the_person_who_clicked_only(slack_emulator, ml, clicked):
    ts, payload, others = clicked
    answer = _respond(payload, text="Thanks, noted")
    assert (answer.status_code, json.loads(answer.body)) == (200, {"ok": True})
    [shown] = slack_emulator.ephemeral_messages("alice", "ml-alerts")
    assert shown["text"] == "Thanks, noted" and shown["user"] == slack_emulator.bot_user_id
    assert shown["bot_id"] == slack_emulator.bot_id
    assert slack_emulator.ephemeral_messages("bob") == []
    assert [m["text"] for m in slack_emulator.messages("ml-alerts")] == ["Deploy?"]
    assert _events(others) == []  # nothing happened in the channel
    [call] = slack_emulator.journal.calls("response_url")
    assert call.ok and call.user == slack_emulator.bot_user_id and call.args["text"] == "Thanks, noted"


def test_an_in_channel_answer_posts_as_the_app_with_the_events_of_a_web_api_post(slack_emulator, bot, ml, clicked):
    ts, payload, others = clicked
    metadata = {"event_type": "chat_alerts_click", "event_payload": {"by": "U0ALICE"}}
    assert _respond(payload, text="Alice approved", response_type="in_channel", metadata=metadata).status_code == 200
    assert _respond(payload, text="in the thread", response_type="in_channel", thread_ts=ts).status_code == 200
    history = bot.conversations_history(channel=ml, include_all_metadata=True)["messages"]
    posted = history[0]
    assert posted["text"] == "Alice approved" and posted["metadata"] == metadata
    assert (posted["user"], posted["bot_id"], posted["app_id"]) == (slack_emulator.bot_user_id, slack_emulator.bot_id,
                                                                    slack_emulator.app_id)
    assert "client_msg_id" not in posted
    assert [m["text"] for m in bot.conversations_replies(channel=ml, ts=ts)["messages"]] == ["Deploy?", "in the thread"]
    events = _events(others)
    assert [(e["type"], e["text"], e["bot_id"]) for e in events] == [
        ("message", "Alice approved", slack_emulator.bot_id), ("message", "in the thread", slack_emulator.bot_id)]
    assert events[1]["thread_ts"] == ts


def test_replace_original_and_delete_original_change_the_clicked_message(slack_emulator, bot, ml, clicked):
    ts, payload, others = clicked
    assert _respond(payload, replace_original=True, text="Approved by alice",
                    blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "✅ Approved by <@U0ALICE>"}}],
                    metadata={"event_type": "decided", "event_payload": {}}).status_code == 200
    (message,) = bot.conversations_history(channel=ml, include_all_metadata=True)["messages"]
    assert message["ts"] == ts and message["text"] == "Approved by alice" and message["edited"]
    assert [b["text"]["text"] for b in message["blocks"]] == ["✅ Approved by <@U0ALICE>"]
    assert message["blocks"][0]["block_id"] and message["metadata"]["event_type"] == "decided"
    assert _respond(payload, replace_original="true", text="text only").status_code == 200  # Slack's string form
    assert "blocks" not in bot.conversations_history(channel=ml)["messages"][0]
    assert _respond(payload, delete_original=True).status_code == 200
    assert bot.conversations_history(channel=ml)["messages"] == []
    assert [e.get("subtype") for e in _events(others)] == ["message_changed", "message_changed", "message_deleted"]
    gone = _respond(payload, replace_original=True, text="too late")
    assert (gone.status_code, json.loads(gone.body)) == (404, {"ok": False, "error": "message_not_found"})


def test_a_response_url_serves_five_posts_within_thirty_minutes(slack_emulator, clicked):
    ts, payload, others = clicked
    for i in range(5):
        assert _respond(payload, text=f"answer {i}").status_code == 200
    spent = _respond(payload, text="a sixth")
    assert (spent.status_code, json.loads(spent.body)) == (404, {"ok": False, "error": "expired_url"})
    assert len(slack_emulator.ephemeral_messages("alice")) == 5
    fresh = slack_emulator.act_as("alice").click("ml-alerts", ts, "reject")  # a new interaction, a new URL
    assert fresh["response_url"] != payload["response_url"]
    slack_emulator.clock.advance(29 * 60)
    assert _respond(fresh, text="still in time").status_code == 200
    slack_emulator.clock.advance(60)
    assert _respond(fresh, text="too late").status_code == 404
    assert [c.error for c in slack_emulator.journal.calls("response_url")][-2:] == [None, "expired_url"]


def test_posts_through_response_urls_share_the_channels_pace(slack_emulator, bot, ml, clicked):
    ts, payload, others = clicked
    slack_emulator.set_rate_limits("realistic")  # about 1 post a second per channel, bursts of 3
    for i in range(3):
        assert _respond(payload, text=f"post {i}", response_type="in_channel").status_code == 200
    paced = _respond(payload, text="one too many", response_type="in_channel")
    assert paced.status_code == 429 and int(paced.headers["Retry-After"]) >= 1
    assert json.loads(paced.body) == {"ok": False, "error": "rate_limited"}
    assert error_of(bot.chat_postMessage, channel=ml, text="the Web API shares it")["error"] == "ratelimited"
    assert _respond(payload, text="ephemeral answers are not posts").status_code == 200  # the 4th use
    assert [m["text"] for m in slack_emulator.messages("ml-alerts")] == ["Deploy?", "post 0", "post 1", "post 2"]


def test_refused_posts_and_faults(slack_emulator, clicked):
    ts, payload, others = clicked
    assert _respond(payload).status_code == 400  # nothing to say
    assert json.loads(_respond(payload, blocks=[{"type": "section"}]).body)["error"] == "invalid_blocks"
    unknown = WebhookClient(payload["response_url"].rsplit("/", 1)[0] + "/not-the-secret").send(text="hi")
    assert (unknown.status_code, json.loads(unknown.body)) == (404, {"ok": False, "error": "expired_url"})
    slack_emulator.faults.add("response_url", "503")
    assert _respond(payload, text="x").status_code == 503
    assert _respond(payload, text="fine again").status_code == 200
    # refused and faulted posts are no uses: four more are left
    for i in range(4):
        assert _respond(payload, text=str(i)).status_code == 200
    assert _respond(payload, text="spent").status_code == 404
