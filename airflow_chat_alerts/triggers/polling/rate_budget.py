"""A rate budget per workspace and Slack method, shared by every trigger in the process.

Slack counts calls per method, per workspace and app, in one-minute windows (tiers: t1 1/min, t2 20/min,
t3 50/min, t4 100/min) and answers HTTP 429 with ``Retry-After`` beyond that. The budget counts the same
way: never more than the method's figure in any 60-second window. Within that, calls are spread
evenly at the method's pace (a token bucket), except that up to :data:`BURST` calls saved up in a quiet
spell go at once, :data:`MIN_GAP_SECONDS` apart: the few thread reads one round finds are not queued
behind each other, while a sustained load is spread over the minute instead of bunched at its start. A
429 pauses the method for every caller at once.

The slot arithmetic (:meth:`RateBudget.reserve`) is pure and reads an injectable clock; only
:meth:`RateBudget.acquire` sleeps. Budgets are process-wide and hold no event loop, so triggers run in
different loops (``dag.test()``) still share one budget per connection.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from airflow_chat_alerts.settings import BURSTS, SECONDS_PER_MINUTE

# Longest wait between two tries of a failing read.
MAX_BACKOFF_SECONDS = 60.0

# A sleep may end a hair before its deadline; that is not a pause still running.
CLOCK_TOLERANCE = 0.005
# Calls a quiet method may make at once, and how close together they may go.
BURST = 5
MIN_GAP_SECONDS = 0.25


def backoff_delay(attempt: int, *, retry_after: float | None, cap: float = MAX_BACKOFF_SECONDS) -> float:
    """Capped exponential backoff with full jitter, never shorter than the service's Retry-After."""
    delay = random.uniform(0, min(cap, 2.0**attempt))
    return max(delay, retry_after or 0.0)


class RateBudget:
    """Call slots per method for one workspace: at most the method's figure in any 60-second window.

    :param per_minute: calls per minute per method; methods not given are not rationed.
    :param clock: monotonic seconds (injectable for tests).
    :param sleep: how to wait (``asyncio.sleep`` unless a test speeds time up).
    """

    def __init__(
        self,
        per_minute: Mapping[str, float] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Lock()
        self._per_minute: dict[str, float] = {}
        self._slots: dict[str, deque[float]] = {}  # slots handed out, oldest first (some may lie ahead)
        self._pace: dict[str, float] = {}  # the token bucket's theoretical time of the next call
        self._paused_until: dict[str, float] = {}
        self.configure(per_minute or {})

    def configure(self, per_minute: Mapping[str, float]) -> None:
        """Replace the per-minute figures (a connection's extras may have changed)."""
        with self._lock:
            self._per_minute = {method: float(rate) for method, rate in per_minute.items()}

    def per_minute(self, method: str) -> float | None:
        """The figure of ``method``; a key ``"<figure name>:<scope>"`` (the posts of one channel,
        ``chat.postMessage/channel:C0123``) takes its figure's, and is paced apart from other scopes."""
        return self._per_minute.get(method) or self._per_minute.get(method.partition(":")[0])

    def window(self, method: str) -> tuple[int, float]:
        """How many calls of ``method`` fit in how many seconds: the whole calls of its per-minute figure
        in 60 s, or one call per ``60 / figure`` seconds for less than one a minute."""
        rate = self.per_minute(method)
        if not rate:
            return 0, 0.0
        if rate < 1:
            return 1, SECONDS_PER_MINUTE / rate
        return math.floor(rate), SECONDS_PER_MINUTE

    def reserve(self, method: str) -> float:
        """Take the next free slot of ``method``; return the seconds until it (0: go now)."""
        with self._lock:
            now = self.clock()
            start = max(now, self._paused_until.get(method, now))
            count, window = self.window(method)
            rate = self.per_minute(method)
            if count and rate:
                interval = SECONDS_PER_MINUTE / rate
                burst = BURSTS.get(method.partition(":")[0], BURST)
                pace = self._pace.get(method, now)
                start = max(start, pace - (burst - 1) * interval)  # at most `burst` ahead of the pace
                slots = self._slots.setdefault(method, deque())
                while slots and slots[0] <= now - window:
                    slots.popleft()  # out of every window still to come
                if slots:
                    start = max(start, slots[-1] + MIN_GAP_SECONDS)
                if len(slots) >= count:
                    start = max(start, slots[-count] + window)  # the oldest of the last `count` leaves
                slots.append(start)
                self._pace[method] = max(pace, start) + interval
            return start - now

    def pause(self, method: str, seconds: float) -> None:
        """Stop every caller of ``method`` for ``seconds`` (Slack's ``Retry-After``)."""
        with self._lock:
            until = self.clock() + max(0.0, seconds)
            self._paused_until[method] = max(self._paused_until.get(method, until), until)

    def paused_for(self, method: str) -> float:
        """Seconds left in a pause of ``method`` (0 when not paused)."""
        with self._lock:
            return max(0.0, self._paused_until.get(method, 0.0) - self.clock())

    async def acquire(self, method: str) -> None:
        """Wait for a slot of ``method``; a pause that starts while waiting is honoured too."""
        while True:
            delay = self.reserve(method)
            if delay > 0:
                await self.sleep(delay)
            if self.paused_for(method) <= CLOCK_TOLERANCE:
                return


class RateBudgets:
    """The rate budgets of one process, by connection: every event loop of the process spends the same
    Slack allowance. Handed to the poller registries (see :mod:`~airflow_chat_alerts.triggers.watching`,
    which owns the process's book); tests and benchmarks pass their own, or install a budget with a
    clock of theirs."""

    def __init__(self) -> None:
        self._budgets: dict[str, RateBudget] = {}
        self._lock = threading.Lock()  # loops in several threads (dag.test) may share the book

    def of(self, key: str) -> RateBudget:
        """The budget of one connection (created unrationed on first use)."""
        with self._lock:
            return self._budgets.setdefault(key, RateBudget())

    def install(self, key: str, budget: RateBudget) -> RateBudget:
        """Use ``budget`` for ``key`` from now on (a test's clock, say)."""
        with self._lock:
            self._budgets[key] = budget
        return budget

    def reset(self) -> None:
        """Forget every budget and pause (between tests, or benchmark runs in one process)."""
        with self._lock:
            self._budgets.clear()
