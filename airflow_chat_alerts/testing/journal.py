"""A journal of every call the emulator answered, for assertions and benchmarks."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Call:
    """One answered call.

    :param time: emulated epoch seconds (the emulator's clock) when the call arrived.
    :param method: Web API method, ``"webhook"`` or ``"upload"``.
    :param args: the arguments, without the token.
    :param status: HTTP status (0 when the connection was reset).
    :param error: Slack error code (``None`` on success).
    :param user: id of the acting user (``None`` when the token was missing or invalid).
    :param http_method: ``"GET"`` or ``"POST"``.
    """

    time: float
    method: str
    args: dict[str, Any]
    status: int
    error: str | None
    user: str | None
    http_method: str = "POST"
    warnings: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None


class Journal:
    """Thread-safe list of `Call`s with counting helpers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []

    def record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._calls)

    def __iter__(self) -> Iterator[Call]:
        return iter(self.calls())

    def calls(self, method: str | None = None, *, user: str | None = None, error: str | None = None) -> list[Call]:
        """Calls in arrival order, optionally only one method / acting user id / error code."""
        with self._lock:
            calls = list(self._calls)
        return [
            c
            for c in calls
            if (method is None or c.method == method)
            and (user is None or c.user == user)
            and (error is None or c.error == error)
        ]

    def count(self, method: str | None = None, **filters: Any) -> int:
        return len(self.calls(method, **filters))

    def methods(self) -> Counter[str]:
        """Number of calls per method."""
        return Counter(c.method for c in self.calls())

    def per_minute(self, method: str | None = None) -> dict[str, dict[int, int]]:
        """Calls per method per minute: ``{method: {minute: count}}``, minutes of the emulated clock
        counted from the first journalled call (minute 0)."""
        calls = self.calls()
        if not calls:
            return {}
        start = calls[0].time
        table: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        for c in calls:
            if method is None or c.method == method:
                table[c.method][int((c.time - start) // 60)] += 1
        return {m: dict(sorted(minutes.items())) for m, minutes in table.items()}

    def max_per_minute(self, method: str, *, served_only: bool = False) -> int:
        """Most calls of ``method`` in any sliding 60-second window (emulated time); with
        ``served_only``, calls refused with 429 are not counted."""
        times = [c.time for c in self.calls(method) if not (served_only and c.status == 429)]
        best, lo = 0, 0
        for hi, t in enumerate(times):
            while times[lo] <= t - 60.0:
                lo += 1
            best = max(best, hi - lo + 1)
        return best
