"""Discord's REST rate limits: per-route buckets and the global limit, with the headers Discord sends.

A bucket is a route family (``X-RateLimit-Bucket``, an opaque hash) counted per major parameter
(the channel, guild or webhook in the path) and per token: ``limit`` requests per ``per`` seconds, a
fixed window starting at the first request. Every answer of a limited route carries
``X-RateLimit-Limit``, ``-Remaining``, ``-Reset`` (epoch seconds), ``-Reset-After`` (seconds) and
``-Bucket``; a refused request gets 429 with ``{"message", "retry_after", "global"}`` in the body and
``Retry-After`` and ``X-RateLimit-Scope`` headers. The global limit is 50 requests per second per bot
token across all routes (interaction callbacks are not counted, as in Discord).

Discord does not document per-route numbers (they "may change at any time"); the table below is what
bots commonly observe in those headers. Windows run on the emulator's `Clock`; the wait a client is
told (``Reset-After``, ``retry_after``, ``Retry-After``) is converted to real seconds.

Profiles: ``"realistic"`` (the table), ``"generous"`` (every limit x100: ordinary tests never meet a
429, a runaway loop still does; the default) and ``"off"`` (no limits and no rate-limit headers).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from dataclasses import dataclass

from airflow_chat_alerts.testing.clock import Clock

PROFILES = {"realistic": 1, "generous": 100}
GLOBAL_PER_SECOND = 50
# bucket name -> (requests, per seconds)
BUCKETS: dict[str, tuple[int, float]] = {
    "messages.create": (5, 5.0),
    "messages.edit": (5, 5.0),
    "messages.delete": (5, 1.0),
    "messages.read": (5, 5.0),
    "reactions": (1, 0.25),
    "reactions.read": (5, 1.0),
    "threads.create": (10, 10.0),
    "channels.read": (5, 1.0),
    "guilds.read": (10, 1.0),
    "users.read": (5, 1.0),
    "gateway": (2, 1.0),
    "webhooks": (5, 2.0),
}


@dataclass
class _Window:
    start: float
    used: int


@dataclass(frozen=True)
class Verdict:
    """What the limiter decided: ``retry_after`` (emulated seconds, 0 when allowed), whether the
    global limit refused it, and the bucket's state for the headers."""

    retry_after: float
    is_global: bool
    limit: int
    remaining: int
    reset_after: float  # emulated seconds
    bucket: str

    @property
    def allowed(self) -> bool:
        return self.retry_after <= 0


class RateLimiter:
    """Buckets and the global limit of one emulator.

    :param clock: the emulator's clock.
    :param profile: ``"generous"`` (default), ``"realistic"`` or ``"off"``.
    """

    def __init__(self, clock: Clock, profile: str = "generous") -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, ...], _Window] = {}
        self.set_profile(profile)

    def set_profile(self, profile: str) -> None:
        if profile not in (*PROFILES, "off"):
            raise ValueError(f"unknown rate-limit profile {profile!r}: use 'realistic', 'generous' or 'off'")
        self.profile = profile

    @property
    def enabled(self) -> bool:
        return self.profile != "off"

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    def bucket_hash(self, bucket: str) -> str:
        return hashlib.md5(bucket.encode(), usedforsecurity=False).hexdigest()

    def acquire(self, token: str, bucket: str | None, major: str, *, count_global: bool = True) -> Verdict | None:
        """Count one request; None when the profile is off or the route has no bucket and the global
        limit allows it."""
        if not self.enabled:
            return None
        scale = PROFILES[self.profile]
        now = self.clock.now()
        with self._lock:
            if count_global:
                gate = self._take(("global", token), now, GLOBAL_PER_SECOND * scale, 1.0)
                if gate is not None:
                    _, wait = gate
                    return Verdict(wait, True, GLOBAL_PER_SECOND * scale, 0, wait, "global")
            if bucket is None:
                return None
            limit, per = BUCKETS[bucket]
            limit *= scale
            key = (bucket, major, token)
            refused = self._take(key, now, limit, per)
            window = self._windows[key]
            reset_after = max(0.0, window.start + per - now)
            if refused is not None:
                return Verdict(refused[1], False, limit, 0, reset_after, self.bucket_hash(bucket))
            return Verdict(0.0, False, limit, max(0, limit - window.used), reset_after, self.bucket_hash(bucket))

    def _take(self, key: tuple[str, ...], now: float, limit: int, per: float) -> tuple[_Window, float] | None:
        """None if a request fits the window (counted), else (window, emulated seconds to wait)."""
        window = self._windows.get(key)
        if window is None or now >= window.start + per:
            window = self._windows[key] = _Window(now, 0)
        if window.used < limit:
            window.used += 1
            return None
        return window, window.start + per - now

    def headers(self, verdict: Verdict) -> dict[str, str]:
        """The ``X-RateLimit-*`` headers of an answer (waits in real seconds)."""
        speed = self.clock.speed
        reset_after = verdict.reset_after / speed
        if verdict.is_global:
            return {"X-RateLimit-Global": "true", "X-RateLimit-Scope": "global"}
        return {
            "X-RateLimit-Limit": str(verdict.limit),
            "X-RateLimit-Remaining": str(verdict.remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{_round_up(reset_after):.3f}",
            "X-RateLimit-Bucket": verdict.bucket,
        }

    def refusal(self, verdict: Verdict) -> tuple[dict[str, object], dict[str, str]]:
        """The 429 body and headers for a refused request."""
        retry_after = _round_up(verdict.retry_after / self.clock.speed)
        headers = self.headers(verdict)
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        headers["X-RateLimit-Scope"] = "global" if verdict.is_global else "user"
        headers["Via"] = "1.1 google"  # as Discord's edge adds; some clients check it
        body: dict[str, object] = {"message": "You are being rate limited.", "retry_after": retry_after,
                                   "global": verdict.is_global, "code": 0}
        return body, headers


def _round_up(seconds: float) -> float:
    """Milliseconds rounded up, so that waiting the announced time always suffices."""
    return math.ceil(seconds * 1000 - 1e-6) / 1000
