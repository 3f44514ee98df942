"""The chat side of the end-to-end tests: find the questions the DAG runs asked and answer them as people.

Questions are found the way a person or an app would, by reading the channel's history (with message
metadata) as a human user; posts are counted from the emulator's journal of calls.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from airflow_chat_alerts.clicks import APPROVE_ACTION, CLICK_EVENT_TYPE, REJECT_ACTION

# How each kind of answer is given; the expected outcome and the person who gives it.
ANSWERS: dict[str, tuple[str, str]] = {
    "approve-reply": ("approved", "alice"),
    "approve-reaction": ("approved", "carol"),
    "reject-reply": ("rejected", "bob"),
    "reject-reaction": ("rejected", "dave"),
}


@dataclass(frozen=True)
class Question:
    run_id: str
    ts: str
    payload: dict[str, Any]
    text: str


def _metadata(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def questions(emu: Any, channel: str, dag_id: str) -> dict[str, Question]:
    """The questions of ``dag_id`` in ``channel``, by run id (read as alice, with metadata)."""
    client = emu.client("alice")
    found: dict[str, Question] = {}
    cursor = None
    while True:
        page = client.conversations_history(channel=channel, include_all_metadata=True, limit=200, cursor=cursor)
        for message in page["messages"]:
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("dag_id") == dag_id and payload.get("run_id"):
                found[payload["run_id"]] = Question(payload["run_id"], message["ts"], payload, message.get("text", ""))
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return found


def question_posts(emu: Any, dag_id: str) -> Counter[str]:
    """Successful top-level chat.postMessage calls carrying an ask of ``dag_id``, per run id."""
    posts: Counter[str] = Counter()
    for call in emu.journal.calls("chat.postMessage"):
        metadata = _metadata(call.args.get("metadata"))
        payload = (metadata or {}).get("event_payload") or {}
        if call.ok and payload.get("dag_id") == dag_id and not call.args.get("thread_ts"):
            posts[payload["run_id"]] += 1
    return posts


def updates(emu: Any, timestamps: Iterable[str]) -> Counter[str]:
    """Successful chat.update calls per message ts (an ask marks its question once, when decided)."""
    wanted = set(timestamps)
    return Counter(c.args.get("ts") for c in emu.journal.calls("chat.update") if c.ok and c.args.get("ts") in wanted)


def answer(emu: Any, channel: str, ts: str, how: str) -> tuple[str, str]:
    """Answer the question at ``ts`` as a person; returns (expected outcome, user id of who answered)."""
    outcome, person = ANSWERS[how]
    client = emu.client(person)
    if how == "approve-reply":
        client.chat_postMessage(channel=channel, thread_ts=ts, text="approve - looks good")
    elif how == "reject-reply":
        client.chat_postMessage(channel=channel, thread_ts=ts, text="reject - accuracy dropped")
    elif how == "approve-reaction":
        client.reactions_add(channel=channel, timestamp=ts, name="white_check_mark")
    else:
        client.reactions_add(channel=channel, timestamp=ts, name="x")
    return outcome, emu.user_id(person)


def plan(run_ids: Iterable[str]) -> dict[str, str]:
    """A mix of answers over the runs: each kind of answer in turn."""
    kinds = list(ANSWERS)
    return {run_id: kinds[i % len(kinds)] for i, run_id in enumerate(sorted(run_ids))}


# How each kind of click is given: (button, expected outcome, person).
CLICKS: dict[str, tuple[str, str, str]] = {
    "approve-button": (APPROVE_ACTION, "approved", "alice"),
    "reject-button": (REJECT_ACTION, "rejected", "bob"),
}


@dataclass(frozen=True)
class Clicked:
    outcome: str  # what the click should decide
    user: str  # the id of who clicked
    at: float  # time.time() just before the click
    connection: str | None  # the Socket Mode connection Slack handed the click to


def click(emu: Any, channel: str, ts: str, how: str) -> Clicked:
    """Click Approve or Reject on the question at ``ts`` as a person; Slack hands the interaction to
    one of the app's sockets and waits for its ack (a failed click raises ``ClickFailed``)."""
    action, outcome, person = CLICKS[how]
    seen = len(emu.journal)
    at = time.time()
    emu.act_as(person).click(channel, ts, action)
    return Clicked(outcome, emu.user_id(person), at, handed_to(emu, seen))


def click_until_taken(emu: Any, channel: str, ts: str, how: str, tries: int = 5) -> tuple[Clicked, int]:
    """`click`, and click again after a failed one, as a person does (the README: a click that reaches
    no socket, or a socket closing as its triggerer's last ask ends, fails in Slack; clicking again
    works). Returns the click that was taken and how many failed before it."""
    from airflow_chat_alerts.testing import ClickFailed

    for failed in range(tries):
        deadline = time.monotonic() + 90  # apps.connections.open is tier 1: a socket may take a minute
        while not emu.open_sockets():
            assert time.monotonic() < deadline, "no Socket Mode connection came back within 90 s"
            time.sleep(0.05)
        try:
            return click(emu, channel, ts, how), failed
        except ClickFailed:
            if failed == tries - 1:
                raise
    raise AssertionError("unreachable")


def handed_to(emu: Any, since: int) -> str | None:
    """The connection of the first interaction envelope in the journal after its first ``since`` calls."""
    for call in emu.journal.calls()[since:]:
        if call.method == "socket.envelope" and call.args.get("type") == "interactive":
            return call.args["connection"]
    return None


def socket_ports(emu: Any) -> dict[str, int]:
    """The client port of each live Socket Mode connection of the app, by connection id."""
    ports = {}
    for conn in emu.sockets.live():
        peer = conn.request.transport.get_extra_info("peername") if conn.request.transport else None
        if peer:
            ports[conn.id] = peer[1]
    return ports


def click_records(emu: Any, channel: str, ts: str) -> list[dict[str, Any]]:
    """The app's click records in the question's thread (replies carrying click metadata)."""
    return [m for m in emu.thread(channel, ts)[1:] if (m.get("metadata") or {}).get("event_type") == CLICK_EVENT_TYPE]
