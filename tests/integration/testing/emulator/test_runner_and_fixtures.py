"""The in-process runner, reset, workspace files, transcript, pytest fixtures and the CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from slack_sdk import WebClient

from airflow_chat_alerts.testing import SlackEmulator, Workspace


def test_start_stop_frees_the_port_and_threads():
    import threading

    before = threading.active_count()
    with SlackEmulator() as emu:
        port = emu.port
        assert port > 0 and emu.base_url == f"http://127.0.0.1:{port}/api/"
        assert WebClient(token=emu.bot_token, base_url=emu.base_url).auth_test()["ok"]
    assert threading.active_count() == before
    with socket.create_server(("127.0.0.1", port)):  # the port is free again
        pass
    emu.stop()  # idempotent


def test_two_emulators_side_by_side_keep_separate_state():
    with SlackEmulator() as one, SlackEmulator() as two:
        one.client().chat_postMessage(channel=one.channel_id("ml-alerts"), text="only in one")
        assert len(one.messages("ml-alerts")) == 1 and two.messages("ml-alerts") == []


def test_fixed_port_in_use_gives_a_clear_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        with pytest.raises(RuntimeError, match="could not start"):
            SlackEmulator(port=sock.getsockname()[1])


def test_reset_restores_the_seed_quickly(slack_emulator):
    ml = slack_emulator.channel_id("ml-alerts")
    bot = slack_emulator.client()
    bot.chat_postMessage(channel=ml, text="x")
    slack_emulator.revoke_token(slack_emulator.token_for("alice"))
    slack_emulator.faults.add("auth.test", "500", count=5)
    slack_emulator.set_marketplace(False)
    slack_emulator.set_rate_limits("off")
    slack_emulator.reset()
    assert slack_emulator.messages("ml-alerts") == [] and len(slack_emulator.journal) == 0
    assert slack_emulator.faults.pending() == [] and slack_emulator.rate_limits.marketplace is True
    assert slack_emulator.rate_limits.profile == "generous"
    assert slack_emulator.client("alice").auth_test()["ok"]


def test_reset_brings_a_sped_up_clock_back_to_real_time(slack_emulator):
    bot = slack_emulator.client()
    slack_emulator.clock.speed = 60
    slack_emulator.clock.advance(3600)
    ahead = float(bot.chat_postMessage(channel=slack_emulator.channel_id("ml-alerts"), text="x")["ts"])
    assert ahead > time.time() + 3000

    slack_emulator.reset()

    # Later tests compare message ts with real deadlines: the clock must not stay an hour ahead.
    ts = float(bot.chat_postMessage(channel=slack_emulator.channel_id("ml-alerts"), text="y")["ts"])
    assert abs(ts - time.time()) < 5 and slack_emulator.clock.speed == 1


def test_identities_of_the_default_workspace(slack_emulator):
    assert slack_emulator.bot_token.startswith("xoxb-")
    for name in ("alice", "bob", "carol", "dave"):
        assert slack_emulator.token_for(name).startswith("xoxp-")
        assert slack_emulator.client(name).auth_test()["user_id"] == slack_emulator.user_id(name)
    assert slack_emulator.token_for("ci-bot").startswith("xoxb-")
    assert slack_emulator.channel_id("#ml-alerts") == slack_emulator.channel_id("ml-alerts")
    with pytest.raises(KeyError, match="no channel"):
        slack_emulator.channel_id("nope")
    with pytest.raises(KeyError, match="no user"):
        slack_emulator.token_for("mallory")


def test_act_as_and_transcript(slack_emulator):
    ml = slack_emulator.channel_id("ml-alerts")
    bot = slack_emulator.client()
    ts = bot.chat_postMessage(channel=ml, text="Accuracy 0.93. Deploy? <!subteam^S0MLLEADS>",
                              metadata={"event_type": "airflow_chat_alerts_ask", "event_payload": {}})["ts"]
    alice = slack_emulator.act_as("alice")
    reply = alice.reply("ml-alerts", ts, "approve <@U0CAROL>")
    alice.edit("ml-alerts", reply, "approve, looks good")
    slack_emulator.act_as("carol").react("ml-alerts", ts, "white_check_mark")
    slack_emulator.act_as("ci-bot").post("ml-alerts", "build 12 green")
    bot.chat_update(channel=ml, ts=ts, text="Approved by @alice")
    lines = slack_emulator.transcript("ml-alerts").splitlines()
    assert lines[0] == "#ml-alerts"
    assert "chat-alerts [bot]: Approved by @alice (edited) [metadata: airflow_chat_alerts_ask]" in lines[1]
    assert lines[2] == "    reactions: :white_check_mark: carol"
    assert lines[3].startswith("    └ ") and "alice: approve, looks good (edited)" in lines[3]
    assert "ci-bot [bot]: build 12 green" in lines[4]
    assert "U0" not in "\n".join(lines)  # names, not ids
    assert slack_emulator.transcript("ops") == "#ops\n(no messages)"


def test_workspace_json_file_with_seed_messages_and_fewer_scopes(tmp_path):
    spec = {
        "team": {"id": "T0OWN", "name": "Own", "domain": "own"},
        "app": {"id": "A0OWN", "bot_user": "alerts"},
        "users": [
            {"name": "alerts", "is_bot": True, "scopes": ["chat:write"]},
            {"name": "erin"},
        ],
        "usergroups": [{"handle": "oncall", "users": ["erin"]}],
        "channels": [
            {"name": "data", "members": ["alerts", "erin"], "messages": [
                {"user": "erin", "text": "hello", "reactions": {"wave": ["alerts"]},
                 "replies": [{"user": "alerts", "text": "hi erin"}]},
            ]},
        ],
    }
    path = tmp_path / "ws.json"
    path.write_text(json.dumps(spec))
    with SlackEmulator(path) as emu:
        assert emu.bot_token == "xoxb-emulator-alerts" and emu.token_for("erin") == "xoxp-emulator-erin"
        [parent] = emu.messages("data")
        assert parent["reply_count"] == 1 and parent["reactions"][0]["name"] == "wave"
        bot = emu.client()
        assert bot.chat_postMessage(channel=emu.channel_id("data"), text="x")["ok"]
        with pytest.raises(Exception, match="missing_scope"):
            bot.conversations_history(channel=emu.channel_id("data"))
        assert emu.client("erin").usergroups_users_list(usergroup=emu.usergroup_id("oncall"))["users"] == [
            emu.user_id("erin")]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"users": [{"name": "a"}]}, "at least one bot"),
        ({"users": [{"name": "b", "is_bot": True}, {"name": "b"}]}, "duplicate user names"),
        ({"users": [{"name": "b", "is_bot": True}], "channels": [{"name": "c", "members": ["zed"]}]}, "unknown members"),
        ([], "JSON object"),
    ],
)
def test_bad_workspace_is_refused_clearly(spec, message):
    with pytest.raises(ValueError, match=message):
        Workspace.from_dict(spec)


def test_slack_conn_fixture_drives_the_slack_provider_hook(slack_conn, slack_emulator):
    from airflow.providers.slack.hooks.slack import SlackHook

    conn = json.loads(os.environ["AIRFLOW_CONN_SLACK_API_DEFAULT"])
    assert slack_conn == "slack_api_default"
    assert conn["extra"] == {"base_url": slack_emulator.base_url, "channel": slack_emulator.channel_id("ml-alerts")}
    hook = SlackHook(slack_conn_id=slack_conn)
    hook.client.chat_postMessage(channel=conn["extra"]["channel"], text="via the provider hook")
    assert slack_emulator.messages("ml-alerts")[0]["text"] == "via the provider hook"


def test_importing_the_plugin_and_package_stays_light():
    code = (
        "import sys; import airflow_chat_alerts.testing.pytest_plugin, airflow_chat_alerts.testing as t;"
        "assert 'aiohttp' not in sys.modules and 'slack_sdk' not in sys.modules, 'heavy import';"
        "t.SlackEmulator; assert 'aiohttp' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_cli_prints_base_url_and_tokens_and_serves(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_chat_alerts.testing.slack_emulator", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        lines = []
        while not any(line.startswith("Press Ctrl+C") for line in lines):
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            lines.append(line.strip())
        base_url = next(line.split()[1] for line in lines if line.startswith("base_url:"))
        assert any("xoxb-emulator-chat-alerts" in line for line in lines)
        assert any("xoxp-emulator-alice" in line for line in lines)
        assert WebClient(token="xoxb-emulator-chat-alerts", base_url=base_url).auth_test()["ok"]
        hook_line = next(line for line in lines if line.startswith("#ml-alerts"))
        request = urllib.request.Request(hook_line.split("webhook: ")[1], data=b'{"text": "hi"}',
                                         headers={"Content-Type": "application/json"})
        assert urllib.request.urlopen(request, timeout=5).read() == b"ok"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_cli_bad_workspace_file_exits_with_an_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    result = subprocess.run(
        [sys.executable, "-m", "airflow_chat_alerts.testing.slack_emulator", "--port", "0", "--workspace", str(bad)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2 and "not valid JSON" in result.stderr


def test_the_transcript_shows_a_messages_buttons(slack_emulator):
    ml = slack_emulator.channel_id("ml-alerts")
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Deploy?"}},
        {"type": "actions", "elements": [
            {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "button", "action_id": "r", "text": {"type": "plain_text", "text": "Reject"}},
        ]},
    ]
    slack_emulator.client().chat_postMessage(channel=ml, text="Deploy?", blocks=blocks)
    assert "    buttons: [Approve] [Reject]" in slack_emulator.transcript("ml-alerts").splitlines()
