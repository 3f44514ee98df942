"""Discord messages, as the REST API shows them, as the web page's message views (see slack_messages.py
for the view's fields; the page draws both alike).

Content becomes block nodes through discord_markdown.py; an embed becomes a ``card`` (its colour as the
accent) holding a context line for its author, a header for its title (a link when it has a url), its
description, its fields (inline ones side by side), its image and thumbnail, and a context line for its
footer and timestamp; each action row of components becomes an ``actions`` node of buttons (a link
button keeps its url and no action id; a disabled one is shown disabled). Besides Slack's fields a view
has ``reply_to`` (``id`` and a ``line`` such as ``alice: Deploy?`` for a Discord reply, or ``alice used
a button`` for an interaction's response) and ``thread_name``. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_chat_alerts.testing.discord.guild import PERMISSIONS, Guild, Member
from airflow_chat_alerts.testing.web.discord_markdown import content_blocks, markdown
from airflow_chat_alerts.testing.web.emoji import emoji_name
from airflow_chat_alerts.testing.web.mrkdwn import Node, safe_href, text_of

EPHEMERAL, LOADING = 1 << 6, 1 << 7
REPLY = 19
BADGES = {"app": "APP", "bot": "APP"}  # Discord tags every bot and webhook "APP"
# Discord's button styles as the page's: success and danger as Slack's primary and danger.
BUTTON_STYLES = {1: "blurple", 3: "primary", 4: "danger"}
LINK_STYLE = 5
SNIPPET = 80  # characters of a replied-to message shown above the reply
MODERATION = PERMISSIONS["ADMINISTRATOR"] | PERMISSIONS["MANAGE_MESSAGES"]


@dataclass(frozen=True)
class Directory:
    """Who and what the ids of a Discord guild name (the `Names` that the markdown converter asks).

    :param guild: the emulated guild.
    :param threads: thread id -> name (threads are channels made while the emulator runs).
    """

    guild: Guild
    threads: Mapping[str, str] = field(default_factory=dict)

    def member(self, user_id: str) -> Member | None:
        return self.guild.members.get(user_id)

    def user_name(self, user_id: str) -> str | None:
        member = self.guild.members.get(user_id)
        return member.name if member else None

    def channel_name(self, channel_id: str) -> str | None:
        seed = self.guild.channels.get(channel_id)
        return seed.name if seed else self.threads.get(channel_id)

    def group_handle(self, role_id: str) -> str | None:
        role = self.guild.roles.get(role_id)
        return role.name if role else None

    def has_custom_emoji(self, name: str) -> bool:
        return False  # a custom emoji names its id in the text: nothing to look up


def person_kind(member: Member, guild: Guild) -> str:
    """``person``, ``app`` (the application's bot) or ``bot`` (another bot)."""
    if not member.bot:
        return "person"
    return "app" if member.id == guild.bot.id else "bot"


def is_moderator(member: Member, guild: Guild) -> bool:
    """Whether ``member`` may delete others' messages (ADMINISTRATOR or MANAGE_MESSAGES from their roles)."""
    return bool(guild.base_permissions(member) & MODERATION)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def author(message: dict[str, Any], names: Directory) -> dict[str, Any]:
    """Who posted ``message``: a member by name, or a webhook by the name it posted under."""
    raw = _dict(message.get("author"))
    user_id = str(raw.get("id") or "")
    member = names.member(user_id)
    if member is not None:
        kind = person_kind(member, names.guild)
        return {"id": member.id, "name": member.name, "label": member.global_name or member.name, "kind": kind,
                "badge": BADGES.get(kind), "via": None}
    who = str(raw.get("global_name") or raw.get("username") or "unknown")
    via = "webhook" if message.get("webhook_id") else None
    kind = "app" if raw.get("bot") or via else "person"
    return {"id": user_id or None, "name": who, "label": who, "kind": kind, "badge": BADGES.get(kind), "via": via}


def _time(stamp: Any) -> float:
    try:
        return datetime.fromisoformat(str(stamp)).timestamp()
    except ValueError:
        return 0.0


def _colour(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0xFFFFFF:
        return f"#{value:06x}"
    return None


def _image(value: Any, alt: str) -> dict[str, Any] | None:
    url = _str(value.get("url")) if isinstance(value, dict) else None
    if not url:
        return None
    return {"t": "image", "src": safe_href(url) if url.lower().startswith("http") else None, "alt": alt, "title": ""}


def embed(value: Any, names: Directory) -> dict[str, Any]:
    """One embed as a ``card`` node."""
    if not isinstance(value, dict):
        return {"t": "card", "accent": None, "c": []}
    inner: list[dict[str, Any]] = []
    author_part = _dict(value.get("author"))
    if author_part and _str(author_part.get("name")):
        name: Node = author_part["name"]
        href = safe_href(_str(author_part.get("url")) or "")
        inner.append({"t": "context", "c": [{"t": "text", "c": [{"t": "link", "href": href, "c": [name]} if href
                                                                else name]}]})
    title = _str(value.get("title"))
    if title:
        href = safe_href(_str(value.get("url")) or "")
        label = markdown(title, names)
        inner.append({"t": "header", "c": [{"t": "link", "href": href, "c": label}] if href else label})
    description = _str(value.get("description"))
    if description:
        inner.append({"t": "text", "c": markdown(description, names)})
    side_by_side: list[list[Node]] = []
    for item in _list(value.get("fields")):
        if not isinstance(item, dict):
            continue
        shown = [{"t": "b", "c": markdown(str(item.get("name", "")), names)}, {"t": "br"},
                 *markdown(str(item.get("value", "")), names)]
        if item.get("inline"):
            side_by_side.append(shown)
            continue
        if side_by_side:
            inner.append({"t": "section", "block_id": None, "text": [], "fields": side_by_side, "accessory": None})
            side_by_side = []
        inner.append({"t": "section", "block_id": None, "text": shown, "fields": [], "accessory": None})
    if side_by_side:
        inner.append({"t": "section", "block_id": None, "text": [], "fields": side_by_side, "accessory": None})
    for key, alt in (("image", "embed image"), ("thumbnail", "embed thumbnail")):
        image = _image(value.get(key), alt)
        if image is not None:
            inner.append(image)
    footer = _dict(value.get("footer"))
    context: list[Node] = []
    if footer and _str(footer.get("text")):
        context.append(footer["text"])
    stamp = _str(value.get("timestamp"))
    if stamp and _time(stamp):
        context.extend([" • "] if context else [])
        context.append({"t": "date", "epoch": int(_time(stamp)), "format": "{date_short} {time}", "fallback": stamp})
    if context:
        inner.append({"t": "context", "c": [{"t": "text", "c": context}]})
    return {"t": "card", "accent": _colour(value.get("color")), "c": inner}


def button(value: Any) -> dict[str, Any]:
    """A component as a ``button`` element (any other component type: an ``element`` showing its type)."""
    if not isinstance(value, dict) or value.get("type") != 2:
        kind = value.get("type") if isinstance(value, dict) else None
        return {"t": "element", "type": f"component {kind}", "label": "", "action_id": ""}
    emoji = _dict(value.get("emoji"))
    emoji_shown = ""
    if _str(emoji.get("name")):
        emoji_shown = f":{emoji['name']}:" if emoji.get("id") else emoji["name"]
    label = " ".join(part for part in (emoji_shown, _str(value.get("label")) or "") if part)
    style = value.get("style")
    link = style == LINK_STYLE
    url = _str(value.get("url")) if link else None
    return {
        "t": "button",
        "label": label,
        "action_id": "" if link else (_str(value.get("custom_id")) or ""),
        "value": None,
        "style": BUTTON_STYLES.get(style) if isinstance(style, int) else None,
        "url": safe_href(url) if url else None,
        "a11y": None,
        "disabled": bool(value.get("disabled")),
    }


def components(rows: Any) -> list[dict[str, Any]]:
    """Action rows as ``actions`` nodes."""
    out = []
    for row in _list(rows):
        if isinstance(row, dict):
            elements = [button(c) for c in _list(row.get("components"))]
            out.append({"t": "actions", "block_id": str(row.get("id") or ""), "elements": elements})
    return out


def reactions(keys: Mapping[str, list[str]]) -> list[dict[str, Any]]:
    """A message's reactions (the emulator's emoji key -> who reacted, in order) as the page's.

    A Unicode emoji is named by its short name when it has one (what the page sends back to react); a
    custom one as Discord's route names it, ``name:id``.
    """
    out = []
    for key, users in keys.items():
        emoji_id, _, custom = key.partition(":")
        if custom and emoji_id.isdigit():
            name, char = f"{custom}:{emoji_id}", None
        else:
            name, char = emoji_name(key) or key, key
        out.append({"name": name, "char": char, "users": list(users), "count": len(users)})
    return out


def _snippet(nodes: list[Node]) -> str:
    """The words of ``nodes`` on one line (quotes and code blocks set apart by a space)."""
    words = "".join(f" {text_of([n])} " if isinstance(n, dict) and n["t"] in ("quote", "pre") else text_of([n])
                    for n in nodes)
    return " ".join(words.split())


def _reply_line(message: dict[str, Any], names: Directory) -> dict[str, Any] | None:
    if message.get("type") == REPLY and isinstance(message.get("message_reference"), dict):
        ref = message["message_reference"]
        parent = message.get("referenced_message")
        if not isinstance(parent, dict):
            return {"id": _str(ref.get("message_id")), "line": "Original message was deleted"}
        who = author(parent, names)["name"]
        words = _snippet(markdown(str(parent.get("content") or ""), names))
        if not words and parent.get("embeds"):
            words = "(an embed)"
        words = words if len(words) <= SNIPPET else words[: SNIPPET - 1] + "…"
        return {"id": _str(parent.get("id")), "line": f"{who}: {words}"}
    interaction = message.get("interaction_metadata")
    if isinstance(interaction, dict) and isinstance(interaction.get("user"), dict):
        user = interaction["user"]
        who = names.user_name(str(user.get("id"))) or str(user.get("username") or "someone")
        return {"id": _str(interaction.get("interacted_message_id")), "line": f"{who} used a button"}
    return None


def message_view(message: dict[str, Any], names: Directory, *, reacted: Mapping[str, list[str]] | None = None,
                 thread_ts: str | None = None, ephemeral: bool = False) -> dict[str, Any]:
    """The view of one message as the REST API shows it.

    :param message: the message's JSON (`State.render`, with everything).
    :param names: the guild's names.
    :param reacted: its reactions with who reacted (the API lists counts only).
    :param thread_ts: the thread's starter message, for a message in a thread.
    :param ephemeral: shown to one person only.
    """
    flags = _int(message.get("flags"))
    content = str(message.get("content") or "")
    body = content_blocks(content, names) if content else []
    body.extend(embed(e, names) for e in _list(message.get("embeds")))
    body.extend(components(message.get("components")))
    who = author(message, names)
    if flags & LOADING:
        body.append({"t": "context", "c": [{"t": "text", "c": [{"t": "i", "c": [f"{who['name']} is thinking…"]}]}]})
    thread = _dict(message.get("thread"))
    return {
        "ts": str(message.get("id", "")),
        "time": _time(message.get("timestamp")),
        "thread_ts": thread_ts,
        "broadcast": False,
        "author": who,
        "subtype": None,
        "deleted": False,
        "body": body,
        "text": content,
        "edited": bool(message.get("edited_timestamp")),
        "reactions": reactions(reacted or {}),
        "files": [{"name": str(a.get("filename", "")), "title": str(a.get("title") or a.get("filename") or "")}
                  for a in _list(message.get("attachments")) if isinstance(a, dict)],
        "reply_count": int(thread.get("message_count") or 0) if thread else 0,
        "thread_name": str(thread.get("name") or "") if thread else None,
        "reply_to": _reply_line(message, names),
        "metadata": None,
        "ephemeral": ephemeral or bool(flags & EPHEMERAL),
    }


def deleted_starter(thread: dict[str, Any]) -> dict[str, Any]:
    """The stand-in for a thread's starter message that was deleted (the thread lives on, as in Discord).

    :param thread: the thread's channel JSON.
    """
    metadata = _dict(thread.get("thread_metadata"))
    return {
        "ts": str(thread.get("id", "")), "time": _time(metadata.get("create_timestamp")), "thread_ts": None,
        "broadcast": False, "author": {"id": None, "name": "", "label": "", "kind": "system", "badge": None,
                                       "via": None},
        "subtype": None, "deleted": True, "body": [{"t": "text", "c": ["Original message was deleted"]}],
        "text": "", "edited": False, "reactions": [], "files": [], "reply_count": int(thread.get("message_count") or 0),
        "thread_name": str(thread.get("name") or ""), "reply_to": None, "metadata": None, "ephemeral": False,
    }
