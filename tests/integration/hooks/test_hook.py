"""ChatAlerterHook: Airflow connections (from AIRFLOW_CONN_* env) → the right alerter."""

from __future__ import annotations

import asyncio
import json

import pytest

from airflow_chat_alerts.alerters.slack import SlackAlerter
from airflow_chat_alerts.alerters.webhook import WebhookAlerter
from airflow_chat_alerts.exceptions import ChatCapabilityError, ChatConfigError, ChatPermanentError
from airflow_chat_alerts.hooks.chat_alerter import ChatAlerterHook
from airflow_chat_alerts.model import Message, MessageRef


def set_conn(monkeypatch, conn_id: str, **conn) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def test_slack_connection_gives_a_slack_alerter_with_its_extras(slack_emulator, slack_conn):
    alerter = ChatAlerterHook(chat_conn_id=slack_conn).get_alerter()

    assert isinstance(alerter, SlackAlerter)
    assert alerter.base_url == slack_emulator.base_url
    assert alerter.default_channel == slack_emulator.channel_id("ml-alerts")
    ref = alerter.post(Message(text="through the connection"))
    assert [m["text"] for m in slack_emulator.messages("ml-alerts")] == ["through the connection"]
    assert ref.channel == alerter.default_channel


def test_legacy_prefixed_extras_and_timeout_are_read(slack_emulator, monkeypatch):
    set_conn(
        monkeypatch,
        "legacy_slack",
        conn_type="slack",
        password=slack_emulator.bot_token,
        extra={"extra__slack__base_url": slack_emulator.base_url, "extra__slack__channel": "ops", "timeout": "7"},
    )
    alerter = ChatAlerterHook(chat_conn_id="legacy_slack").get_alerter()
    assert (alerter.base_url, alerter.default_channel, alerter.timeout) == (slack_emulator.base_url, "ops", 7)


def test_aget_alerter_reads_the_connection_in_the_event_loop(slack_emulator, slack_conn):
    async def read() -> frozenset[str]:
        alerter = await ChatAlerterHook(chat_conn_id=slack_conn).aget_alerter()
        try:
            return await alerter.group_members(slack_emulator.usergroup_id("ml-leads"))
        finally:
            await alerter.aclose()

    assert asyncio.run(read()) == {slack_emulator.user_id("alice"), slack_emulator.user_id("carol")}


def test_webhook_connection_posts_but_cannot_ask_or_read(slack_emulator, slack_webhook_conn):
    alerter = ChatAlerterHook(chat_conn_id=slack_webhook_conn).get_alerter()
    assert isinstance(alerter, WebhookAlerter)

    alerter.post(Message(text="via webhook"))
    assert [m["text"] for m in slack_emulator.messages("ml-alerts")] == ["via webhook"]

    ref = MessageRef(channel=slack_emulator.channel_id("ml-alerts"), ts="1.0")
    attempts = [
        lambda: alerter.post_question(Message(text="Deploy?")),
        lambda: alerter.find_question(ref.channel, match={}),
        lambda: asyncio.run(alerter.read_thread(ref)),
        lambda: asyncio.run(alerter.read_answers(ref)),
        lambda: asyncio.run(alerter.group_members("S0MLLEADS")),
        lambda: alerter.update(ref, Message(text="x")),
        lambda: alerter.post(Message(text="x"), thread_ts="1.0"),
        lambda: alerter.post_file(b"x", filename="a.txt"),
        lambda: alerter.post_ephemeral(ref.channel, "U0ALICE", "x"),
        lambda: asyncio.run(alerter.apost_ephemeral(ref.channel, "U0ALICE", "x")),
    ]
    for attempt in attempts:
        with pytest.raises(ChatCapabilityError, match="'slack_webhook_default' is a Slack incoming webhook"):
            attempt()
    assert len(slack_emulator.messages("ml-alerts")) == 1


def test_revoked_webhook_is_a_permanent_error(slack_emulator, slack_webhook_conn):
    slack_emulator.revoke_webhook("ml-alerts")
    with pytest.raises(ChatPermanentError) as info:
        ChatAlerterHook(chat_conn_id=slack_webhook_conn).get_alerter().post(Message(text="x"))
    assert "slack_webhook_default" in str(info.value)
    assert "/services/" not in str(info.value)  # the webhook URL is a secret
    assert slack_emulator.messages("ml-alerts") == []


@pytest.mark.parametrize(
    ("conn", "error"),
    [
        ({"conn_type": "http", "host": "example.com"}, "has type 'http'; airflow-chat-alerts needs a 'slack'"),
        ({"conn_type": "slack"}, "not_authed: connection 'bad_conn' has no password"),
        ({"conn_type": "slack", "password": "xoxb-1", "extra": {"timeout": "soon"}}, "has invalid extras"),
    ],
)
def test_bad_connections_are_config_errors(monkeypatch, conn, error):
    set_conn(monkeypatch, "bad_conn", **conn)
    with pytest.raises(ChatConfigError, match=error):
        ChatAlerterHook(chat_conn_id="bad_conn").get_alerter()


def test_an_undefined_connection_says_how_to_add_it():
    with pytest.raises(ChatConfigError, match="'no_such_conn' is not defined: add it with `airflow connections add"):
        ChatAlerterHook(chat_conn_id="no_such_conn").get_alerter()
    with pytest.raises(ChatConfigError, match="'no_such_conn' is not defined"):
        asyncio.run(ChatAlerterHook(chat_conn_id="no_such_conn").aget_alerter())
    # Airflow's own signature (a classmethod taking the id), with the same clear error.
    with pytest.raises(ChatConfigError, match="'no_such_conn' is not defined"):
        asyncio.run(ChatAlerterHook.aget_connection("no_such_conn"))


def test_aget_connection_matches_airflows_signature(slack_conn):
    import inspect

    from airflow.sdk import BaseHook

    assert inspect.signature(ChatAlerterHook.aget_connection) == inspect.signature(BaseHook.aget_connection)
    conn = asyncio.run(ChatAlerterHook.aget_connection(slack_conn))
    assert conn.conn_id == slack_conn and conn.conn_type == "slack"


def test_test_connection(slack_emulator, slack_conn):
    ok, message = ChatAlerterHook(chat_conn_id=slack_conn).test_connection()
    assert ok and slack_emulator.bot_user_id in message and "Chat Alerts Test Workspace" in message

    slack_emulator.revoke_token(slack_emulator.bot_token)
    ok, message = ChatAlerterHook(chat_conn_id=slack_conn).test_connection()
    assert not ok and message.startswith("token_revoked:") and slack_emulator.bot_token not in message


# -- the app-level token (buttons) --------------------------------------------------------------
def test_app_token_extra_makes_the_connection_interactive_and_stays_hidden(slack_emulator, monkeypatch):
    from airflow_chat_alerts.hooks.chat_alerter import _redact

    extra = {"base_url": slack_emulator.base_url, "app_token": slack_emulator.app_token}
    set_conn(monkeypatch, "buttons_conn", conn_type="slack", password=slack_emulator.bot_token, extra=extra)

    settings = ChatAlerterHook(chat_conn_id="buttons_conn").settings()

    assert settings.app_token == slack_emulator.app_token
    assert settings.interactive
    assert slack_emulator.app_token not in repr(settings)
    # Reading the connection registered the token with Airflow's secrets masker: what the hook's
    # alerters post and what Airflow logs show it as ***.
    assert slack_emulator.app_token not in _redact(f"token {slack_emulator.app_token} leaked")


def test_a_connection_without_app_token_is_not_interactive(slack_conn):
    settings = ChatAlerterHook(chat_conn_id=slack_conn).settings()
    assert settings.app_token is None and not settings.interactive


@pytest.mark.parametrize("token", ["xoxb-not-an-app-token-1234", "secret-app-token-5678", 42])
def test_an_app_token_of_the_wrong_kind_is_a_config_error_that_never_echoes_it(monkeypatch, token):
    set_conn(monkeypatch, "bad_app", conn_type="slack", password="xoxb-1", extra={"app_token": token})
    with pytest.raises(ChatConfigError) as info:
        ChatAlerterHook(chat_conn_id="bad_app").settings()
    assert "'bad_app'" in str(info.value) and "xapp-" in str(info.value)
    assert str(token) not in str(info.value)
    assert info.value.conn_id == "bad_app"


# -- who Slack people are in Airflow (Human-in-the-loop) ------------------------------------------
def test_the_airflow_users_extra_is_read_with_the_connection(monkeypatch):
    from airflow_chat_alerts.airflow_users import AirflowUser

    extra = {"airflow_users": {"U0ALICE": {"id": "alice", "name": "Alice"}}, "airflow_users_by_email": "true"}
    set_conn(monkeypatch, "hitl_conn", conn_type="slack", password="xoxb-1", extra=extra)
    users = ChatAlerterHook(chat_conn_id="hitl_conn").settings().airflow_users
    assert users.by_slack_id == {"U0ALICE": AirflowUser("alice", "Alice")} and users.by_email


def test_a_malformed_airflow_users_extra_fails_naming_the_connection(monkeypatch):
    set_conn(monkeypatch, "bad_users", conn_type="slack", password="xoxb-1", extra={"airflow_users": {"alice": "a"}})
    with pytest.raises(ChatConfigError) as info:
        ChatAlerterHook(chat_conn_id="bad_users").settings()
    assert "Connection 'bad_users' has invalid extras" in str(info.value) and "Slack user ids" in str(info.value)
