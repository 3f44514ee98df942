"""Fixtures for the Discord service's tests: connections aimed at the Discord emulator, a question posted as
ChatAskSensor posts it, and the trigger run as a triggerer runs it (a loop of its own)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest

from airflow_chat_alerts import formatting
from airflow_chat_alerts.decisions import AskPolicy
from airflow_chat_alerts.hooks.chat_alerter import ChatAlerterHook
from airflow_chat_alerts.model import ASK_EVENT_TYPE, MessageRef
from airflow_chat_alerts.testing.discord.emulator import discord_connection
from airflow_chat_alerts.triggers.ask import ChatAskTrigger

T = TypeVar("T")
CHANNEL = "ml-alerts"
CONN_ID = "discord_push"
NEVER = 3600.0  # a poll or reconciliation interval no test waits out


@pytest.fixture
def connect(discord_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """``connect(conn_id=CONN_ID, grace=0.1, **extra)`` → a ``discord_bot`` connection aimed at the emulator
    (``grace``: its ``gateway_grace``, short: a test's loop ends with its asks)."""

    def make(conn_id: str = CONN_ID, *, grace: float = 0.1, **extra: Any) -> str:
        conn = discord_connection(discord_emulator, CHANNEL)
        conn["extra"].update(gateway_grace=grace, **extra)
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        return conn_id

    return make


def ask_message(deadline: datetime, *, approvers: list[str] | None = None, text: str = "Deploy model v42?",
                identity: dict[str, Any] | None = None):
    payload = {"dag_id": "d", "run_id": "r", "task_id": "ask", "map_index": -1, **(identity or {}),
               "try_number": 1, "deadline": deadline.isoformat()}
    return formatting.question_message(
        text, context=None, approve_keywords=["approve"], reject_keywords=["reject"],
        approve_reactions=["white_check_mark"], reject_reactions=["x"], approvers=approvers, required_approvals=1,
        deadline=deadline, on_timeout="reject", metadata={"event_type": ASK_EVENT_TYPE, "event_payload": payload},
        interactive=True,
    )


def post_question(conn_id: str, *, approvers: list[str] | None = None, deadline: datetime | None = None,
                  **kwargs: Any) -> MessageRef:
    """A question posted as ChatAskSensor posts it (the trigger never posts)."""
    deadline = deadline or datetime.now(timezone.utc) + timedelta(hours=1)
    alerter = ChatAlerterHook(chat_conn_id=conn_id).get_alerter()
    return alerter.post_question(ask_message(deadline, approvers=approvers, **kwargs))


def message_id(ref: MessageRef) -> str:
    from airflow_chat_alerts.services.discord._ids import id_of

    return str(id_of(ref.ts))


def custom_id(emu: Any, ref: MessageRef, verdict: str = "approve") -> str:
    """The ``custom_id`` of the question's Approve (or Reject) button, as the posted message carries it."""
    [message] = [m for m in emu.messages(CHANNEL) if m["id"] == message_id(ref)]
    ids = [c["custom_id"] for row in message["components"] for c in row["components"]]
    return next(i for i in ids if i.startswith(f"chat_alerts_{verdict}:"))


def trigger(conn_id: str, ref: MessageRef, *, policy: AskPolicy | None = None, poll: float = NEVER,
            reconcile: float = NEVER, deadline: datetime | None = None) -> ChatAskTrigger:
    deadline = deadline or datetime.now(timezone.utc) + timedelta(hours=1)
    return ChatAskTrigger(conn_id=conn_id, channel=ref.channel, ts=ref.ts, policy=(policy or AskPolicy()).to_dict(),
                          deadline=deadline.isoformat(), poll_interval=poll, reconcile_interval=reconcile)


def run(coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
    """``coro`` on a loop of its own: one triggerer process, ended with it."""
    try:
        return asyncio.run(asyncio.wait_for(coro, timeout))
    except TimeoutError as err:
        raise AssertionError(f"the triggerer was still waiting after {timeout:g} s") from err


async def until(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Wait for ``check()`` to be truthy (a state, never a time); fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}")
        await asyncio.sleep(0.02)
    return result


async def first_event(ask: ChatAskTrigger) -> dict[str, Any]:
    async for event in ask.run():
        return event.payload
    raise AssertionError("the trigger ended without an event")


def reads(emu: Any) -> int:
    return emu.journal.count("list_messages")
