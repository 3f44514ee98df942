"""The chat side of the end-to-end tests: find the questions the DAG runs asked and answer them as people.

Questions are found the way a person or an app would, by reading the channel's history (with message
metadata) as a human user; posts are counted from the emulator's journal of calls.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

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
