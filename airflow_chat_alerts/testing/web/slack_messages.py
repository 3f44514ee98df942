"""Slack messages, as the Web API shows them (``conversations.history``), as the web page's message views.

Working from the API's JSON rather than the emulator's stored objects keeps the page showing whatever
the emulator renders, including fields added later. A message view (a dict):

``ts``, ``time`` (epoch seconds), ``thread_ts`` (the parent's ts for a reply, else None), ``broadcast``
(a reply also sent to the channel), ``author`` (``id``, ``name``, ``label``, ``kind``: person, bot, app or
system; ``badge``: ``APP``, ``BOT`` or None; ``via``: ``webhook`` or None), ``subtype``, ``deleted`` (a
thread parent's tombstone), ``body`` (block nodes, see blocks.py), ``text`` (the message's own text, as
an edit starts from it), ``edited``, ``reactions`` (``name``,
``char``, ``count``, ``users``: ids), ``files`` (``name``, ``title``), ``reply_count``, ``metadata``
(``event_type``, ``json``) and ``ephemeral`` (shown to one person only).

Pure: no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from airflow_chat_alerts.testing.web.blocks import blocks as block_nodes
from airflow_chat_alerts.testing.web.emoji import emoji_char
from airflow_chat_alerts.testing.web.mrkdwn import mrkdwn
from airflow_chat_alerts.testing.workspace import User, Workspace


@dataclass(frozen=True)
class Directory:
    """Who and what the ids of a Slack workspace name (the `Names` that mrkdwn.py asks).

    :param workspace: the emulated workspace.
    """

    workspace: Workspace
    _users: dict[str, User] = field(init=False, repr=False)
    _bots: dict[str, User] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_users", {u.id: u for u in self.workspace.users})
        object.__setattr__(self, "_bots", {u.bot_id: u for u in self.workspace.users if u.bot_id})

    def user(self, user_id: str) -> User | None:
        return self._users.get(user_id)

    def bot(self, bot_id: str) -> User | None:
        return self._bots.get(bot_id)

    def user_name(self, user_id: str) -> str | None:
        user = self._users.get(user_id)
        return user.name if user else None

    def channel_name(self, channel_id: str) -> str | None:
        return next((c.name for c in self.workspace.channels if c.id == channel_id), None)

    def group_handle(self, group_id: str) -> str | None:
        return next((g.handle for g in self.workspace.usergroups if g.id == group_id), None)

    def has_custom_emoji(self, name: str) -> bool:
        return name in self.workspace.emoji


def person_kind(user: User) -> str:
    """``person``, ``bot`` (a bot user of no app) or ``app`` (an app's bot user, as Slack labels it)."""
    if not user.is_bot:
        return "person"
    return "app" if user.app_id else "bot"


BADGES = {"app": "APP", "bot": "BOT"}


def author(message: dict[str, Any], directory: Directory) -> dict[str, Any]:
    """Who posted ``message``, as the page names them, with Slack's APP / BOT badge."""
    if message.get("subtype") == "tombstone" or message.get("hidden"):
        return {"id": None, "name": "", "label": "", "kind": "system", "badge": None, "via": None}
    via = "webhook" if message.get("subtype") == "bot_message" else None
    user = directory.user(str(message.get("user") or ""))
    if user is None and message.get("bot_id"):
        user = directory.bot(str(message["bot_id"]))
    if user is None:
        who = str(message.get("username") or message.get("user") or message.get("bot_id") or "unknown")
        kind = "app" if message.get("bot_id") else "person"
        return {"id": message.get("user"), "name": who, "label": who, "kind": kind,
                "badge": BADGES.get(kind), "via": via}
    kind = person_kind(user)
    label = str(message.get("username") or "") if via else ""
    return {"id": user.id, "name": user.name, "label": label or user.real_name or user.name, "kind": kind,
            "badge": BADGES.get(kind), "via": via}


def _reactions(message: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for reaction in message.get("reactions") or []:
        if not isinstance(reaction, dict):
            continue
        name = str(reaction.get("name", ""))
        users = [str(u) for u in reaction.get("users") or []]
        count = reaction.get("count")
        out.append({"name": name, "char": emoji_char(name), "users": users,
                    "count": count if isinstance(count, int) else len(users)})
    return out


def _metadata(message: dict[str, Any]) -> dict[str, Any] | None:
    metadata = message.get("metadata")
    if not isinstance(metadata, dict):
        return None
    return {"event_type": str(metadata.get("event_type", "")),
            "json": json.dumps(metadata.get("event_payload", {}), indent=2, ensure_ascii=False, default=str)}


def message_view(message: dict[str, Any], directory: Directory, *, ephemeral: bool = False) -> dict[str, Any]:
    """The view of one message as the Web API shows it (or of an ephemeral message)."""
    ts = str(message.get("ts", ""))
    thread_ts = message.get("thread_ts")
    is_reply = isinstance(thread_ts, str) and thread_ts != ts
    raw_blocks = message.get("blocks")
    if raw_blocks:
        body = block_nodes(raw_blocks, directory)
    else:
        body = [{"t": "text", "c": mrkdwn(str(message.get("text") or ""), directory)}]
    try:
        time = float(ts)
    except ValueError:
        time = 0.0
    return {
        "ts": ts,
        "time": time,
        "thread_ts": thread_ts if is_reply else None,
        "broadcast": message.get("subtype") == "thread_broadcast",
        "author": author(message, directory),
        "subtype": message.get("subtype"),
        "deleted": message.get("subtype") == "tombstone",
        "body": body,
        "text": str(message.get("text") or ""),
        "edited": bool(message.get("edited")),
        "reactions": _reactions(message),
        "files": [{"name": str(f.get("name", "")), "title": str(f.get("title", ""))}
                  for f in message.get("files") or [] if isinstance(f, dict)],
        "reply_count": int(message.get("reply_count") or 0) if not is_reply else 0,
        "metadata": _metadata(message),
        "ephemeral": ephemeral,
    }
