"""Pushed events applied to the latest read of a question: pure edits of a QuestionRead.

An event says what changed (a reply posted, edited or deleted, a reaction added or removed, a click
recorded); the edit gives the ask the question as it stands now without reading it again. The read's
times are kept, so nothing here can make a read look newer than it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from airflow_chat_alerts.model import Answer, QuestionRead
from airflow_chat_alerts.utils import ts_key

Edit = Callable[[QuestionRead], QuestionRead]


def with_reply(answer: Answer) -> Edit:
    """A reply (new or edited: the same ts replaces it) or a click (once: the same click is one)."""

    def edit(update: QuestionRead) -> QuestionRead:
        if answer in update.replies:
            return update
        kept = [r for r in update.replies if not (answer.kind == "reply" and r.kind == "reply" and r.ts == answer.ts)]
        replies = sorted([*kept, answer], key=lambda r: ts_key(r.ts or "0"))
        return replace(update, replies=tuple(replies))

    return edit


def without_reply(ts: str) -> Edit:
    """A reply deleted: what people no longer say does not count."""

    def edit(update: QuestionRead) -> QuestionRead:
        return replace(update, replies=tuple(r for r in update.replies if not (r.kind == "reply" and r.ts == ts)))

    return edit


def with_reaction(answer: Answer) -> Edit:
    def edit(update: QuestionRead) -> QuestionRead:
        reactions = update.snapshot.reactions
        if any((r.user, r.text) == (answer.user, answer.text) for r in reactions):
            return update
        return replace(update, snapshot=replace(update.snapshot, reactions=(*reactions, answer)))

    return edit


def without_reaction(user: str, name: str) -> Edit:
    def edit(update: QuestionRead) -> QuestionRead:
        reactions = tuple(r for r in update.snapshot.reactions if (r.user, r.text) != (user, name))
        return replace(update, snapshot=replace(update.snapshot, reactions=reactions))

    return edit
