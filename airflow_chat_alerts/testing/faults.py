"""Faults on demand: the next N calls of a method fail the way a real service fails.

Kinds: ``"429"`` (rate limited, integer ``Retry-After``), ``"500"`` and ``"503"`` (server errors),
``"reset"`` (the connection is reset without an answer), ``"lost"`` (the call is carried out, then the
connection is reset: the answer is lost), ``"stall"`` (the answer is held back for ``delay`` seconds,
then given normally, so a client with a shorter timeout times out) and ``"truncated"`` (the call is
carried out, but its HTTP 200 JSON body is cut off halfway: malformed JSON; Web API methods only).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

KINDS = ("429", "500", "503", "reset", "lost", "stall", "truncated")


@dataclass
class Fault:
    """One armed fault.

    :param method: Web API method (``"conversations.replies"``), ``"webhook"``, ``"upload"`` or ``"*"``.
    :param kind: one of ``KINDS``.
    :param remaining: calls left to fail.
    :param delay: real seconds to wait before answering (a stall's length; optional for the others).
    :param retry_after: ``Retry-After`` seconds for ``"429"``.
    """

    method: str
    kind: str
    remaining: int
    delay: float = 0.0
    retry_after: int = 1


class Faults:
    """The armed faults of one emulator (thread-safe: tests arm them from their own thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(
        self,
        method: str,
        kind: str,
        count: int = 1,
        *,
        delay: float | None = None,
        retry_after: int = 1,
    ) -> Fault:
        """Make the next ``count`` calls of ``method`` fail with ``kind``."""
        kind = str(kind)
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; choose from {KINDS}")
        if count < 1:
            raise ValueError("count must be at least 1")
        if kind == "stall" and not delay:
            delay = 30.0
        fault = Fault(method, kind, count, float(delay or 0.0), int(retry_after))
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str) -> Fault | None:
        """The fault for this call, if one is armed (consumes one of its calls)."""
        with self._lock:
            for fault in self._faults:
                if fault.method in (method, "*") and fault.remaining > 0:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[Fault]:
        with self._lock:
            return [Fault(**f.__dict__) for f in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
