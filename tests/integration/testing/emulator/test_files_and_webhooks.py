"""files_upload_v2 through the real clients, and incoming webhooks over HTTP (slack_sdk's
WebhookClient and the Slack provider's SlackWebhookHook through a `slackwebhook` connection)."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient


def test_files_upload_v2_flow_posts_into_the_channel(slack_emulator):
    ml = slack_emulator.channel_id("ml-alerts")
    bot = slack_emulator.client()
    resp = bot.files_upload_v2(channel=ml, content="epoch,loss\n1,0.3\n", filename="metrics.csv",
                               title="Metrics", initial_comment="Training metrics")
    f = resp["file"]
    assert f["id"].startswith("F") and f["title"] == "Metrics" and f["name"] == "metrics.csv"
    assert f["size"] == len("epoch,loss\n1,0.3\n") and f["channels"] == [ml]
    assert slack_emulator.state.files[f["id"]].content == b"epoch,loss\n1,0.3\n"
    message = bot.conversations_history(channel=ml)["messages"][0]
    assert message["text"] == "Training metrics" and message["files"][0]["id"] == f["id"]
    assert [c.method for c in slack_emulator.journal.calls()][:3] == [
        "files.getUploadURLExternal", "upload", "files.completeUploadExternal"]


def test_files_upload_v2_in_a_thread_with_async_client(slack_emulator):
    ml = slack_emulator.channel_id("ml-alerts")
    ts = slack_emulator.client().chat_postMessage(channel=ml, text="report follows")["ts"]

    async def upload():
        return await slack_emulator.async_client().files_upload_v2(
            channel=ml, thread_ts=ts, content=b"\x00\x01binary", filename="model.bin")

    assert asyncio.run(upload())["file"]["size"] == 8
    thread = slack_emulator.thread("ml-alerts", ts)
    assert thread[1]["files"][0]["name"] == "model.bin"


def test_file_upload_errors(slack_emulator):
    bot = slack_emulator.client()
    with pytest.raises(SlackApiError) as info:
        bot.files_completeUploadExternal(files=[{"id": "F0NOTTHERE", "title": "x"}])
    assert info.value.response["error"] == "file_not_found"
    with pytest.raises(SlackApiError) as info:
        bot.files_upload_v2(channel=slack_emulator.channel_id("ops"), content="x", filename="a.txt")
    assert info.value.response["error"] == "not_in_channel"


def post_raw(url: str, body: bytes, content_type: str = "application/json") -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_webhook_posts_as_the_app(slack_emulator):
    url = slack_emulator.webhook_url("ml-alerts")
    resp = WebhookClient(url).send(text="Nightly build failed", blocks=[{"type": "divider"}])
    assert (resp.status_code, resp.body) == (200, "ok")
    msg = slack_emulator.messages("ml-alerts")[0]
    assert msg["text"] == "Nightly build failed" and msg["subtype"] == "bot_message"
    assert msg["bot_id"] == slack_emulator.bot_id and msg["app_id"] == slack_emulator.app_id
    assert "user" not in msg
    assert url == slack_emulator.webhook_url("ml-alerts")  # stable across calls and resets
    slack_emulator.reset()
    assert url == slack_emulator.webhook_url("ml-alerts") and slack_emulator.messages("ml-alerts") == []


def test_webhook_errors_with_slack_statuses(slack_emulator):
    url = slack_emulator.webhook_url("ml-alerts")
    assert post_raw(url, b'{"text": ""}') == (400, "no_text")
    assert post_raw(url, b"{not json") == (400, "invalid_payload")
    assert post_raw(url[:-3] + "xyz", b'{"text": "x"}') == (403, "invalid_token")
    base = url.rsplit("/", 2)[0]
    assert post_raw(base + "/B0NOSUCH/secret", b'{"text": "x"}') == (404, "no_service")
    assert post_raw(url, json.dumps({"text": "form"}).encode(), "application/json") == (200, "ok")
    assert post_raw(slack_emulator.webhook_url("old-alerts"), b'{"text": "x"}') == (410, "channel_is_archived")
    slack_emulator.revoke_webhook("ml-alerts")
    assert post_raw(url, b'{"text": "x"}') == (403, "invalid_token")
    assert [c.error for c in slack_emulator.journal.calls("webhook")][:2] == ["no_text", "invalid_payload"]
    assert [m["text"] for m in slack_emulator.messages("ml-alerts")] == ["form"]


def test_webhook_form_payload(slack_emulator):
    from urllib.parse import urlencode

    body = urlencode({"payload": json.dumps({"text": "from a form"})}).encode()
    assert post_raw(slack_emulator.webhook_url("ml-alerts"), body, "application/x-www-form-urlencoded") == (200, "ok")
    assert slack_emulator.messages("ml-alerts")[0]["text"] == "from a form"


def test_slackwebhook_airflow_connection(slack_webhook_conn, slack_emulator):
    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

    SlackWebhookHook(slack_webhook_conn_id=slack_webhook_conn).send(text="from Airflow")
    assert slack_emulator.messages("ml-alerts")[0]["text"] == "from Airflow"
