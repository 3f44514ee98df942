"""Gateway events applied to an ask's latest read: pure edits of a QuestionRead (the same edits as Slack's
push, ``triggers/push/patches.py``; this package may not import the triggerer's). The read's times are kept,
so nothing here can make a read look newer than it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from airflow_chat_alerts.decisions import normalise_reaction
from airflow_chat_alerts.model import Answer, QuestionRead
from airflow_chat_alerts.utils import ts_key

Edit = Callable[[QuestionRead], QuestionRead]


def with_reply(answer: Answer) -> Edit:
    """A reply (new or edited: the same ts replaces it) or a click (once: the same click is one)."""

    def edit(read: QuestionRead) -> QuestionRead:
        if answer in read.replies:
            return read
        kept = [r for r in read.replies if not (answer.kind == "reply" and r.kind == "reply" and r.ts == answer.ts)]
        return replace(read, replies=tuple(sorted([*kept, answer], key=lambda r: ts_key(r.ts or "0"))))

    return edit


def without_reply(ts: str) -> Edit:
    """A reply deleted: what people no longer say does not count."""

    def edit(read: QuestionRead) -> QuestionRead:
        return replace(read, replies=tuple(r for r in read.replies if not (r.kind == "reply" and r.ts == ts)))

    return edit


def with_reaction(answer: Answer) -> Edit:
    def edit(read: QuestionRead) -> QuestionRead:
        reactions = read.snapshot.reactions
        added = (answer.user, normalise_reaction(answer.text))
        if any((r.user, normalise_reaction(r.text)) == added for r in reactions):
            return read
        return replace(read, snapshot=replace(read.snapshot, reactions=(*reactions, answer)))

    return edit


def without_reaction(user: str, name: str) -> Edit:
    def edit(read: QuestionRead) -> QuestionRead:
        gone = (user, normalise_reaction(name))
        reactions = tuple(r for r in read.snapshot.reactions if (r.user, normalise_reaction(r.text)) != gone)
        return replace(read, snapshot=replace(read.snapshot, reactions=reactions))

    return edit
