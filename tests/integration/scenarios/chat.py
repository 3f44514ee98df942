"""The chat services as the scenario table plays them: one driver per service, with the same acts.

A driver acts as people through its emulator's real API (reply to the question, react, click a button),
finds the question the bot posted, and reads what the question says in the end. The scenarios
(``test_scenarios.py``) are written against :class:`Chat` only, so every case runs on every service; a new
service adds a driver here and its connection in ``conftest.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from airflow_chat_alerts import clicks
from airflow_chat_alerts.model import ASK_EVENT_TYPE
from airflow_chat_alerts.testing import asks

CHANNEL = "ml-alerts"
Verdict = Literal["approve", "reject"]


@dataclass(frozen=True)
class Question:
    """A question the bot posted: ``ts`` as the package names it, ``text`` as people read it now."""

    ts: str
    text: str
    decided: bool
    raw: dict[str, Any]


class Chat(Protocol):
    """What a scenario does on a chat service."""

    service: str
    emu: Any

    def user_id(self, person: str) -> str: ...

    def questions(self) -> list[Question]: ...

    def reply(self, person: str, question: Question, text: str) -> None: ...

    def react(self, person: str, question: Question, verdict: Verdict) -> None: ...

    def click(self, person: str, question: Question, verdict: Verdict) -> None: ...

    def forge(self, author: str, identity: dict[str, Any], text: str) -> Question: ...

    def give_up(self) -> None: ...

    def posted(self) -> list[str]: ...

    def reads(self) -> int: ...


class SlackChat:
    """The Slack emulator: replies in the question's thread, reactions by name, clicks over Socket Mode."""

    service = "slack"
    REACTIONS = {"approve": "white_check_mark", "reject": "x"}

    def __init__(self, emu: Any) -> None:
        self.emu = emu

    def user_id(self, person: str) -> str:
        return self.emu.user_id(person)

    def questions(self) -> list[Question]:
        found = [m for m in asks.questions(self.emu, CHANNEL) if m.get("user") == self.emu.bot_user_id]
        return [Question(m["ts"], m.get("text") or "", asks.is_decided(m), m) for m in found]

    def reply(self, person: str, question: Question, text: str) -> None:
        self.emu.act_as(person).reply(CHANNEL, question.ts, text)

    def react(self, person: str, question: Question, verdict: Verdict) -> None:
        self.emu.act_as(person).react(CHANNEL, question.ts, self.REACTIONS[verdict])

    def click(self, person: str, question: Question, verdict: Verdict) -> None:
        self.emu.wait_for_sockets(1, timeout=asks.DEFAULT_TIMEOUT)  # the trigger's socket receives the click
        action = clicks.APPROVE_ACTION if verdict == "approve" else clicks.REJECT_ACTION
        self.emu.act_as(person).click(CHANNEL, question.ts, action)

    def forge(self, author: str, identity: dict[str, Any], text: str) -> Question:
        metadata = {"event_type": ASK_EVENT_TYPE, "event_payload": identity}
        ts = self.emu.act_as(author).post(CHANNEL, text, metadata=metadata)
        return Question(ts, text, False, {})

    def give_up(self) -> None:
        self.emu.revoke_token(self.emu.bot_token)

    def posted(self) -> list[str]:
        """What each message of the channel shows: its text and its blocks' text."""
        import json

        return [m.get("text", "") + "\n" + json.dumps(m.get("blocks") or [], ensure_ascii=False)
                for m in self.emu.messages(CHANNEL)]

    def reads(self) -> int:
        return self.emu.journal.count("conversations.replies") + self.emu.journal.count("conversations.history")


class DiscordChat:
    """The Discord emulator: Discord replies to the question, reactions as emoji, clicks over the Gateway."""

    service = "discord"
    REACTIONS = {"approve": "✅", "reject": "❌"}

    def __init__(self, emu: Any) -> None:
        self.emu = emu

    def user_id(self, person: str) -> str:
        return self.emu.user_id(person)

    def questions(self) -> list[Question]:
        from airflow_chat_alerts.services.discord._ids import ts_of

        found = []
        for message in self.emu.messages(CHANNEL):
            if message["author"]["id"] != self.emu.bot_user_id or message.get("interaction_metadata"):
                continue
            ids = _custom_ids(message)
            decided = any(mark in message["content"] for mark in ("✅ Approved", "❌ Rejected", "⌛ Timed out", "⚠️"))
            if ids or decided:
                found.append(Question(ts_of(message["id"]), message["content"], decided, message))
        return found

    def reply(self, person: str, question: Question, text: str) -> None:
        self.emu.act_as(person).reply(CHANNEL, question.raw["id"], text)

    def react(self, person: str, question: Question, verdict: Verdict) -> None:
        self.emu.act_as(person).react(CHANNEL, question.raw["id"], self.REACTIONS[verdict])

    def click(self, person: str, question: Question, verdict: Verdict) -> None:
        self.emu.wait_for_gateway(1, timeout=asks.DEFAULT_TIMEOUT)  # the trigger's session receives the click
        prefix = clicks.APPROVE_ACTION if verdict == "approve" else clicks.REJECT_ACTION
        [custom_id] = [c for c in _custom_ids(question.raw) if c.startswith(prefix + ":")]
        self.emu.act_as(person).click(CHANNEL, question.raw["id"], custom_id)

    def forge(self, author: str, identity: dict[str, Any], text: str) -> Question:
        """``author`` posts a copy of the question's buttons, naming the same ask (a bot may post buttons)."""
        from airflow_chat_alerts.services.discord._clicks import ButtonIdentity, button_specs
        from airflow_chat_alerts.services.discord._ids import ts_of

        buttons = button_specs(ButtonIdentity.of(identity))
        row = {"type": 1, "components": [
            {"type": 2, "style": 3 if style == "success" else 4, "label": label, "custom_id": custom_id}
            for style, custom_id, label in buttons
        ]}
        message_id = self.emu.act_as(author).post(CHANNEL, text, components=[row])
        return Question(ts_of(message_id), text, False, {"id": message_id})

    def give_up(self) -> None:
        self.emu.revoke_token(self.emu.bot_token)

    def posted(self) -> list[str]:
        """What each message of the channel shows: its content and its embeds' text, Discord's backslash
        escapes shown as the characters they stand for."""
        import json
        import re

        return [re.sub(r"\\(.)", r"\1", m["content"] + "\n" + json.dumps(m.get("embeds") or [], ensure_ascii=False))
                for m in self.emu.messages(CHANNEL)]

    def reads(self) -> int:
        return self.emu.journal.count("list_messages")


def _custom_ids(message: dict[str, Any]) -> list[str]:
    return [c.get("custom_id", "") for row in message.get("components") or [] for c in row.get("components") or []
            if str(c.get("custom_id", "")).startswith(("chat_alerts_approve:", "chat_alerts_reject:"))]
