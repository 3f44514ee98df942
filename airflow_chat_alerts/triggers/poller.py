"""How a waiting ask reads its question: the seam between ChatAskTrigger and the chat service.

`watch_question()` is the only entry point the trigger uses. This first version reads each question
on its own (one ``read_thread`` per poll); the shared per-process poller replaces the inside of it
while keeping this interface.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from airflow_chat_alerts.alerters.base import Answer, BaseAlerter, MessageRef, MessageSnapshot
from airflow_chat_alerts.exceptions import ChatTransientError

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 60.0


@dataclass(frozen=True)
class QuestionUpdate:
    """The latest read of a question.

    :param snapshot: the question message itself (reactions, reply count, latest reply).
    :param replies: every thread reply after the question, oldest first.
    """

    snapshot: MessageSnapshot
    replies: tuple[Answer, ...]

    @property
    def answers(self) -> list[Answer]:
        return [*self.snapshot.reactions, *self.replies]


def backoff_delay(attempt: int, *, retry_after: float | None, cap: float = MAX_BACKOFF_SECONDS) -> float:
    """Capped exponential backoff with full jitter, never shorter than the service's Retry-After."""
    delay = random.uniform(0, min(cap, 2.0**attempt))
    return max(delay, retry_after or 0.0)


class QuestionWatch:
    """Reads one question every ``poll_interval`` seconds; transient errors are retried, not raised."""

    def __init__(self, alerter: BaseAlerter, ref: MessageRef, *, poll_interval: float) -> None:
        self._alerter = alerter
        self._ref = ref
        self._poll_interval = poll_interval
        self._reads = 0
        self._groups: dict[str, frozenset[str]] = {}

    async def next(self) -> QuestionUpdate:
        """Wait for the next poll and return a fresh read.

        :raises ChatPermanentError: credentials, channel or question gone; waiting will not help.
        """
        if self._reads:
            await asyncio.sleep(self._poll_interval)
        attempt = 0
        while True:
            try:
                snapshot, replies = await self._alerter.read_thread(self._ref)
            except ChatTransientError as err:
                attempt += 1
                delay = backoff_delay(attempt, retry_after=err.retry_after)
                log.warning("Reading question %s failed (%s); retrying in %.1fs", self._ref.ts, err, delay)
                await asyncio.sleep(delay)
                continue
            self._reads += 1
            return QuestionUpdate(snapshot, tuple(replies))

    async def group_members(self, group_ids: Iterable[str]) -> dict[str, frozenset[str]]:
        """Members of each user group, read once per watch."""
        for group_id in group_ids:
            if group_id not in self._groups:
                self._groups[group_id] = await self._alerter.group_members(group_id)
        return dict(self._groups)


@asynccontextmanager
async def watch_question(
    conn_id: str, channel: str, ts: str, *, poll_interval: float
) -> AsyncIterator[QuestionWatch]:
    """Watch one question until the block exits (on completion or cancellation)."""
    from airflow_chat_alerts.hooks.chat_alerter import ChatAlerterHook

    alerter = await ChatAlerterHook(chat_conn_id=conn_id).aget_alerter()
    try:
        yield QuestionWatch(alerter, MessageRef(channel=channel, ts=ts), poll_interval=poll_interval)
    finally:
        await alerter.aclose()
