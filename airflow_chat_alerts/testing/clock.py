"""The emulator's clock: wall-clock time that tests can step forward or speed up.

Message timestamps and rate-limit windows read this clock, so `advance(60)` empties a per-minute
window at once and `speed = 60` makes a minute pass in a second, keeping rate-limit tests fast and
deterministic.
"""

from __future__ import annotations

import math
import threading
import time


class Clock:
    """Emulated epoch seconds: ``start + (elapsed real time) * speed + advances``.

    :param speed: how many emulated seconds pass per real second.
    :param start: emulated epoch seconds at creation (default: the real time now).
    """

    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self._lock = threading.Lock()
        self._speed = float(speed)
        self._anchor_real = time.monotonic()
        self._anchor = time.time() if start is None else float(start)

    def now(self) -> float:
        with self._lock:
            return self._now()

    def _now(self) -> float:
        return self._anchor + (time.monotonic() - self._anchor_real) * self._speed

    def _reanchor(self) -> None:
        self._anchor = self._now()
        self._anchor_real = time.monotonic()

    def advance(self, seconds: float) -> None:
        """Step the clock forward (never backwards: timestamps must keep increasing)."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._reanchor()
            self._anchor += seconds

    def resync(self, speed: float = 1.0) -> None:
        """Back to the real time at ``speed``: only safe when nothing dated by this clock is kept
        (the emulator's ``reset()``), since timestamps after it may be lower than those before."""
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        with self._lock:
            self._anchor_real = time.monotonic()
            self._anchor = time.time()
            self._speed = float(speed)

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        if value <= 0:
            raise ValueError(f"clock speed must be positive, got {value}")
        with self._lock:
            self._reanchor()
            self._speed = float(value)

    def real_seconds(self, emulated: float) -> int:
        """An emulated wait as the whole real seconds a client should sleep (``Retry-After``), ≥ 1."""
        return max(1, math.ceil(emulated / self._speed - 1e-9))
