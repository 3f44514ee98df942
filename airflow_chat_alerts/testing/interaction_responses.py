"""What a POST to an interaction's ``response_url`` does, as Slack documents it ("Handling user
interaction" and "Modifying messages"): a JSON body with ``text`` / ``blocks`` / ``metadata`` and

- ``delete_original: true``: the message the interaction came from is deleted;
- ``replace_original: true``: that message is replaced (text, blocks, metadata), as ``chat.update`` does;
- otherwise a new message: ``response_type: "ephemeral"`` (the default) is shown to the person who
  interacted only; ``"in_channel"`` posts it into the channel (or the ``thread_ts`` thread).

Every change is made as the app (its bot user and ``bot_id``), through `State`, so the same events go
out as for a Web API call. New channel messages count against ``chat.postMessage``'s pace for the
app's bot in that channel (Slack paces every way an app posts). A URL serves at most 5 POSTs within 30
minutes of the interaction (response_urls.py). HTTP concerns (routing, faults, journal) live in app.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airflow_chat_alerts.testing.methods import MAX_TEXT, SlackError, parse_blocks, parse_metadata, thread_root
from airflow_chat_alerts.testing.ratelimit import RateLimiter
from airflow_chat_alerts.testing.response_urls import ResponseUrl
from airflow_chat_alerts.testing.state import State

# Slack does not document the answers of a spent URL or a refused body; these are the emulator's,
# shaped like its other hooks' answers (HTTP status and a JSON error code).
EXPIRED = "expired_url"


@dataclass
class Answer:
    """What the response URL answers: HTTP status, error code (None: ``{"ok": true}``), headers."""

    status: int
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def body(self) -> dict[str, Any]:
        return {"ok": True} if self.error is None else {"ok": False, "error": self.error}


def _flag(value: Any) -> bool:
    """Slack's examples send these flags as JSON booleans or as the string ``"true"``."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def respond(state: State, limiter: RateLimiter, url: ResponseUrl, payload: dict[str, Any]) -> Answer:
    """Carry out one POST to ``url`` with the JSON ``payload``; a refused POST does not count as a use."""
    app = state.workspace.bot
    with state.lock:  # one POST at a time: two at once must not both take the fifth use
        if not url.usable(state.clock.now()):
            return Answer(404, EXPIRED)
        try:
            blocks = parse_blocks(payload.get("blocks"))
            metadata = parse_metadata(payload.get("metadata"))
        except SlackError as err:
            return Answer(400, err.code)
        text = str(payload.get("text") or "")[:MAX_TEXT]
        ch = state.channels.get(url.channel)
        if ch is None:
            return Answer(404, "channel_not_found")
        if ch.is_archived:
            return Answer(410, "channel_is_archived")
        original = ch.messages.get(url.message_ts)
        delete, replace = _flag(payload.get("delete_original")), _flag(payload.get("replace_original"))
        if (delete or replace) and (original is None or original.tombstone):
            return Answer(404, "message_not_found")
        if delete:
            state.delete(ch.id, url.message_ts)
        elif not text and not blocks:
            return Answer(400, "no_text")
        elif replace:
            # The whole message is replaced: text alone leaves no blocks.
            state.update(ch.id, url.message_ts, app, text=text, blocks=blocks or [], metadata=metadata)
        elif payload.get("response_type") == "in_channel":
            wait = limiter.acquire(app.id, "chat.postMessage", ch.id)
            if wait > 0:
                return Answer(429, "rate_limited", {"Retry-After": str(state.clock.real_seconds(wait))})
            thread_ts = payload.get("thread_ts")
            state.post(ch.id, app, text=text, blocks=blocks, metadata=metadata,
                       thread_ts=thread_root(ch, str(thread_ts)) if thread_ts else None)
        else:
            thread_ts = payload.get("thread_ts")
            state.post_ephemeral(ch.id, app, url.user, text=text, blocks=blocks,
                                 thread_ts=str(thread_ts) if thread_ts else None)
        url.uses += 1
    return Answer(200)
