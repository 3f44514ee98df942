"""Slack's rate limits: per-method tier budgets per token and chat.postMessage's per-channel pace.

Tiers (Slack's documentation): t1 1/min, t2 20/min, t3 50/min, t4 100/min; t5 is "special" (auth.test,
chat.getPermalink: effectively unlimited; chat.postMessage: about 1 per second per channel with short
bursts). Tier budgets are sliding 60-second windows; the per-channel pace is a token bucket. Both read
the emulator's `Clock`.

Profiles: ``"realistic"`` (the numbers above), ``"generous"`` (the default: every budget x100, so
ordinary tests never see a 429 but a runaway loop still does) and ``"off"``. A non-Marketplace,
commercially distributed app (``marketplace = False``) gets 1 request per minute on
conversations.history and conversations.replies, with ``limit`` capped at 15.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from airflow_chat_alerts.testing.clock import Clock

TIER_PER_MINUTE = {"t1": 1, "t2": 20, "t3": 50, "t4": 100, "t5": 600}
POST_PER_SECOND = 1.0
POST_BURST = 3
NON_MARKETPLACE_METHODS = frozenset({"conversations.history", "conversations.replies"})
NON_MARKETPLACE_PER_MINUTE = 1
NON_MARKETPLACE_MAX_LIMIT = 15
PROFILES = {"realistic": 1.0, "generous": 100.0}

# Tier per method (from the reference data); chat.postMessage is paced per channel instead.
METHOD_TIERS = {
    "apps.connections.open": "t1",
    "auth.test": "t5",
    "chat.delete": "t3",
    "chat.getPermalink": "t5",
    "chat.postEphemeral": "t4",
    "chat.update": "t3",
    "conversations.history": "t3",
    "conversations.info": "t3",
    "conversations.list": "t2",
    "conversations.members": "t4",
    "conversations.replies": "t3",
    "files.completeUploadExternal": "t4",
    "files.getUploadURLExternal": "t4",
    "reactions.add": "t3",
    "reactions.get": "t3",
    "reactions.remove": "t2",
    "usergroups.list": "t2",
    "usergroups.users.list": "t2",
    "users.info": "t4",
    "conversations.open": "t3",
    "views.open": "t4",
    "views.update": "t4",
}


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Decides whether a call may run now; when not, how many emulated seconds until it may.

    :param clock: the emulator's clock.
    :param profile: ``"generous"`` (default), ``"realistic"`` or ``"off"``.
    """

    def __init__(self, clock: Clock, profile: str = "generous") -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, ...], deque[float]] = {}
        self._buckets: dict[tuple[str, ...], _Bucket] = {}
        self.marketplace = True
        self.set_profile(profile)

    def set_profile(self, profile: str) -> None:
        if profile not in (*PROFILES, "off"):
            raise ValueError(f"unknown rate-limit profile {profile!r}: use 'realistic', 'generous' or 'off'")
        self.profile = profile

    @property
    def enabled(self) -> bool:
        return self.profile != "off"

    @property
    def scale(self) -> float:
        return PROFILES.get(self.profile, 1.0)

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
            self._buckets.clear()

    def per_minute(self, method: str) -> float | None:
        """The method's budget per minute under the current settings (None: paced per channel)."""
        if method == "chat.postMessage":
            return None
        if not self.marketplace and method in NON_MARKETPLACE_METHODS:
            return NON_MARKETPLACE_PER_MINUTE * self.scale
        return TIER_PER_MINUTE[METHOD_TIERS.get(method, "t3")] * self.scale

    def max_limit(self, method: str) -> int | None:
        """The largest ``limit`` argument the method honours (non-Marketplace cap), if any."""
        if not self.marketplace and method in NON_MARKETPLACE_METHODS:
            return NON_MARKETPLACE_MAX_LIMIT
        return None

    def acquire(self, actor: str, method: str, channel: str | None = None) -> float:
        """Record a call; 0.0 if allowed, else the emulated seconds to wait before retrying."""
        if not self.enabled:
            return 0.0
        now = self.clock.now()
        with self._lock:
            if method in ("chat.postMessage", "webhook"):
                return self._take_token(("post", actor, channel or ""), now)
            return self._take_window((method, actor), now, self.per_minute(method) or 1.0)

    def _take_window(self, key: tuple[str, ...], now: float, per_minute: float) -> float:
        calls = self._windows.setdefault(key, deque())
        while calls and calls[0] <= now - 60.0:
            calls.popleft()
        if len(calls) < int(max(1, per_minute)):
            calls.append(now)
            return 0.0
        return calls[0] + 60.0 - now

    def _take_token(self, key: tuple[str, ...], now: float) -> float:
        rate = POST_PER_SECOND * self.scale
        burst = POST_BURST * self.scale
        bucket = self._buckets.setdefault(key, _Bucket(tokens=burst, at=now))
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate
