"""The ``response_url`` of each interaction: which message and person it answers, and how often it was used.

Slack hands a ``response_url`` with every ``block_actions`` payload; the app may POST to it up to
:data:`MAX_USES` times within :data:`LIFETIME` seconds of the interaction (Slack's "Handling user
interaction" guide). This module only keeps that record; what a POST does is interaction_responses.py.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

MAX_USES = 5
LIFETIME = 30 * 60.0  # seconds of the emulator's clock


@dataclass
class ResponseUrl:
    """One issued response URL.

    :param id: the URL's id (its path names the team, the id and the secret).
    :param secret: the part of the path that makes it unguessable.
    :param channel: the channel of the message the interaction came from.
    :param message_ts: that message.
    :param user: id of the person who interacted (an ephemeral response is shown to them).
    :param issued_at: when (the emulator's clock).
    :param uses: how many POSTs it has served.
    """

    id: str
    secret: str
    channel: str
    message_ts: str
    user: str
    issued_at: float
    uses: int = 0

    def usable(self, now: float) -> bool:
        """Whether one more POST may use it: fewer than the allowed uses, and not expired."""
        return self.uses < MAX_USES and now < self.issued_at + LIFETIME

    def path(self, team_id: str) -> str:
        """The URL's path under the emulator's root (``actions/T…/id/secret``, as Slack's hooks host)."""
        return f"actions/{team_id}/{self.id}/{self.secret}"


class ResponseUrls:
    """The response URLs of one workspace's interactions (owned by its `State`, forgotten on reset)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._issued: dict[str, ResponseUrl] = {}
        self._count = 0

    def issue(self, channel: str, message_ts: str, user: str, now: float) -> ResponseUrl:
        with self._lock:
            self._count += 1
            url = ResponseUrl(f"{self._count:013d}", secrets.token_urlsafe(18), channel, message_ts, user, now)
            self._issued[url.id] = url
            return url

    def find(self, url_id: str, secret: str) -> ResponseUrl | None:
        """The URL with that id, if the secret is its own."""
        with self._lock:
            url = self._issued.get(url_id)
        return url if url is not None and secrets.compare_digest(url.secret, secret) else None
