"""Every capability an alerter declares is checked before anything is posted, with an error that says what the
connection cannot do; a name that is not a capability is a programming error, never a silent "cannot"."""

from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path

import pytest

from airflow_chat_alerts.alerters.base import BaseAlerter, Capabilities
from airflow_chat_alerts.alerters.webhook import WebhookAlerter
from airflow_chat_alerts.exceptions import ChatCapabilityError
from airflow_chat_alerts.model import Message, MessageRef

PACKAGE = Path(__file__).resolve().parents[3] / "airflow_chat_alerts"


def required_names() -> dict[str, list[str]]:
    """The capability names product code passes to ``….require("…")``, with where."""
    found: dict[str, list[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        if "testing" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "require"
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                found.setdefault(node.args[0].value, []).append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    return found


def test_every_capability_is_checked_somewhere_and_only_capabilities_are():
    declared = {f.name for f in fields(Capabilities)}
    required = required_names()
    assert declared - set(required) == set(), "declared but never checked"
    assert {name: where for name, where in required.items() if name not in declared} == {}, "checked, not declared"


class Bare(BaseAlerter):
    """An alerter that can only post (declares nothing)."""

    def post(self, message: Message, *, channel: str | None = None, thread_ts: str | None = None) -> MessageRef:
        return MessageRef(channel=self.channel_for(channel), ts="1.0")

    def update(self, ref: MessageRef, message: Message) -> None:
        pass


def post_only_alerters() -> list[BaseAlerter]:
    from airflow_chat_alerts.services.discord.webhook import DiscordWebhookAlerter

    return [
        Bare(conn_id="bare"),
        WebhookAlerter(conn_id="slack_hook", url="https://hooks.slack.com/services/T0/B0/secret"),
        DiscordWebhookAlerter(conn_id="discord_hook", url="https://discord.com/api/webhooks/1/secret"),
    ]


@pytest.mark.parametrize(
    ("capability", "words"),
    [("ask", "ask questions and read their answers"), ("threads", "post in a thread"), ("files", "upload files"),
     ("post_ephemeral", "show a message to one person only"), ("hitl", "answer Human-in-the-loop requests"),
     ("direct", "ask people in a direct conversation")],
)
def test_a_missing_capability_fails_naming_the_connection_and_what_it_cannot_do(capability, words):
    for alerter in post_only_alerters():
        with pytest.raises(ChatCapabilityError, match=f"Connection '{alerter.conn_id}' .*cannot {words}"):
            alerter.require(capability)


@pytest.mark.parametrize("name", ["reactions", "buttons", "update", "thread"])
def test_a_name_that_is_no_capability_is_a_programming_error(name):
    for alerter in post_only_alerters():
        with pytest.raises(ValueError, match=f"unknown capability '{name}': use one of ask, threads, files"):
            alerter.require(name)


def test_a_webhook_says_it_cannot_edit_a_posted_message():
    for alerter in post_only_alerters()[1:]:
        with pytest.raises(ChatCapabilityError, match="it can only post, it cannot edit a posted message"):
            alerter.update(MessageRef(channel="C1", ts="1.0"), Message(text="x"))


def test_a_service_declares_what_it_can_do():
    from airflow_chat_alerts.alerters.slack import SlackAlerter
    from airflow_chat_alerts.services.discord.alerter import DiscordAlerter

    assert SlackAlerter.capabilities == Capabilities(ask=True, threads=True, files=True, post_ephemeral=True, hitl=True,
                                                 direct=True)
    assert DiscordAlerter.capabilities == Capabilities(ask=True, threads=True, files=True)
