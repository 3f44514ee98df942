"""Waiting for an ask's question in the emulator, for tests that play the people who answer it.

A test runs ``dag.test()`` in its own thread while a person, in another, waits for the question and
answers it through the emulator's Web API::

    question = wait_for_question(slack_emulator, "ml-alerts")
    slack_emulator.act_as("alice").reply("ml-alerts", question["ts"], "approve - looks good")

Waits are on the channel's state, never a fixed sleep, with an upper bound generous enough for a loaded
machine; giving up raises an ``AssertionError`` that says what was waited for and what the channel held.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_chat_alerts.model import ASK_EVENT_TYPE

if TYPE_CHECKING:
    from airflow_chat_alerts.testing.emulator import SlackEmulator

T = TypeVar("T")

#: Seconds a helper waits before giving up: a first ``dag.test()`` on a busy 2-core machine can take
#: 20 s from "running task" to the question, so the bound is far above that.
DEFAULT_TIMEOUT = 120.0
_POLL_SECONDS = 0.05


def wait_until(condition: Callable[[], T | None], *, what: str, timeout: float = DEFAULT_TIMEOUT) -> T:
    """Poll ``condition`` until it returns something truthy, and return that.

    :param condition: called every 50 ms; its first truthy result is returned
    :param what: what is waited for, for the error message ("the question to be posted")
    :param timeout: seconds before giving up with an ``AssertionError``
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(_POLL_SECONDS)


def questions(emulator: SlackEmulator, channel: str) -> list[dict[str, Any]]:
    """The ask questions in ``channel``, oldest first, as ``conversations.history`` shows them.

    :param emulator: the running emulator
    :param channel: a channel name (``"ml-alerts"``) or id
    """
    return [m for m in emulator.messages(channel) if (m.get("metadata") or {}).get("event_type") == ASK_EVENT_TYPE]


def is_decided(question: dict[str, Any]) -> bool:
    """Whether the ask has written its outcome into the question (approved, rejected, timed out)."""
    return "outcome" in ((question.get("metadata") or {}).get("event_payload") or {})


def wait_for_question(
    emulator: SlackEmulator,
    channel: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    count: int = 1,
    undecided: bool = True,
) -> dict[str, Any]:
    """Wait until an ask has posted its question in ``channel`` and return that message.

    :param emulator: the running emulator
    :param channel: a channel name (``"ml-alerts"``) or id
    :param timeout: seconds before giving up with an ``AssertionError`` naming the channel and what it held
    :param count: wait for at least this many questions (a second ask, a retry that posted again)
    :param undecided: return only a question still waiting for an answer
    :return: the newest question (``ts``, ``text``, ``blocks``, ``metadata``)
    """

    def newest() -> dict[str, Any] | None:
        found = questions(emulator, channel)
        if len(found) < count or (undecided and is_decided(found[-1])):
            return None
        return found[-1]

    what = f"{'an undecided' if undecided else 'a'} question" + (f" (#{count})" if count > 1 else "")
    try:
        return wait_until(newest, what=f"{what} in #{channel}", timeout=timeout)
    except AssertionError as gave_up:
        held = [m.get("text", "")[:80] for m in emulator.messages(channel)[-5:]]
        raise AssertionError(f"{gave_up}; the channel's last messages: {held}") from None
