"""The seed's example DAGs on Discord with only the connection changed: ``slack_api_default`` (the id the
examples use by default) is a ``discord_bot`` connection here, and the DAG files are the same."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from airflow_chat_alerts.testing.asks import DEFAULT_TIMEOUT, wait_until
from airflow_chat_alerts.testing.discord.emulator import discord_connection

from .conftest import CHANNEL

EXAMPLES = Path(__file__).resolve().parents[4] / "dags_examples"


@pytest.fixture
def on_discord(discord_emulator, monkeypatch):
    """The examples' connection aimed at the Discord emulator; alice may approve; polls fast, waits a minute."""
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", json.dumps(discord_connection(discord_emulator, CHANNEL)))
    monkeypatch.setenv("CHAT_ALERTS_APPROVERS", discord_emulator.user_id("alice"))
    monkeypatch.setenv("CHAT_ALERTS_POLL_INTERVAL", "0.2")
    monkeypatch.setenv("CHAT_ALERTS_ASK_TIMEOUT", "60")
    return discord_emulator


def test_the_post_example_posts_the_accuracy(load_dag, on_discord):
    dag_run = load_dag(EXAMPLES / "slack_alert_post.py", "slack_alert_post").test()

    assert dag_run.state == "success"
    [posted] = on_discord.messages(CHANNEL)
    assert posted["content"].startswith("**Digits model trained.** Test accuracy: **9")
    assert "-# **DAG** `slack_alert_post`" in posted["content"]


def test_the_ask_example_deploys_when_alice_clicks_approve(load_dag, on_discord):
    emu = on_discord
    clicked: list[BaseException | str] = []

    def alice() -> None:
        try:
            question = wait_until(lambda: next((m for m in emu.messages(CHANNEL) if m["components"]), None),
                                  what="the question with its buttons")
            emu.wait_for_gateway(1, timeout=DEFAULT_TIMEOUT)
            [approve] = [c["custom_id"] for c in question["components"][0]["components"]
                         if c["custom_id"].startswith("chat_alerts_approve:")]
            emu.act_as("alice").click(CHANNEL, question["id"], approve)
            clicked.append("approve")
        except BaseException as err:  # re-raised below; the DAG must not wait for an hour
            clicked.append(err)
            emu.revoke_token(emu.bot_token)

    person = threading.Thread(target=alice, daemon=True)
    person.start()
    dag_run = load_dag(EXAMPLES / "slack_alert_ask.py", "slack_alert_ask").test()
    person.join(timeout=60)

    assert clicked == ["approve"]
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert states["deploy"] == "success" and states["record_rejection"] == "skipped"
    [question, record] = emu.messages(CHANNEL)
    assert question["content"].startswith("Model accuracy is 0.9") and question["components"] == []
    assert f"✅ Approved by <@{emu.user_id('alice')}>" in question["content"]
    assert record["content"] == f"<@{emu.user_id('alice')}> pressed **Approve**"
