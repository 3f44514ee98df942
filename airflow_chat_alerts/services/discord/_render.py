"""A message as Discord's create-message body: content, embeds, buttons and ``allowed_mentions``, within
Discord's limits. Pure: no I/O, no hikari.

Block Kit blocks (what the package's formatting builds, and what a DAG may pass) map to Discord this way:

* text only (sections of text, context lines, dividers) → the message's **content**: each section a
  paragraph, each context line small text (``-# …``). Mentions written in it ping (Discord pings only from
  content), as they notify on Slack.
* anything richer (a header, section fields, an image) or text longer than content takes (2,000 characters)
  → one **embed**: header → title, sections → description, fields → inline fields, context → small text in
  the description, the first image → the embed's image (others: an embed each).
* the question's actions block → its **Approve** / **Reject** buttons, whose ``custom_id`` carries the
  ask's identity (:mod:`._clicks`); other buttons that open a URL → link buttons; other interactive
  elements are left out (nothing would receive them).

Over-long text is cut visibly ("… N more characters"), never refused by Discord. ``allowed_mentions``
lets ping exactly the users and roles the text mentions with explicit markup, and ``@everyone``/``@here``
only for an explicit ``<!here>`` / ``<!channel>``: escaped values (:mod:`._markup`) mention nobody.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_chat_alerts.clicks import BUTTONS_BLOCK_ID
from airflow_chat_alerts.exceptions import ChatConfigError
from airflow_chat_alerts.formatting import HOW_TO_ANSWER_BLOCK_ID
from airflow_chat_alerts.model import ASK_EVENT_TYPE, Message
from airflow_chat_alerts.services.discord._clicks import ButtonIdentity, button_specs
from airflow_chat_alerts.services.discord._markup import Markup, emoji, escape_text, to_discord

# Discord's limits (developer documentation: "Message", "Embed Limits", "Components").
MAX_CONTENT = 2_000
MAX_TITLE = 256
MAX_DESCRIPTION = 4_096
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1_024
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6_000
MAX_BUTTONS_PER_ROW = 5
MAX_ROWS = 5
MAX_LABEL = 80

_TEXT_BLOCKS = frozenset({"section", "context", "divider", "markdown", "rich_text", "actions"})
_NO_NAME = "\u200b"  # an embed field needs a name; a zero-width space shows none
_FIELD_HEAD = re.compile(r"\*([^*\n]+)\*\n")
# The package's "how to answer" speaks of Slack's threads; on Discord one replies to the message.
_THREAD_WORDS = (("reply in this thread", "reply to this message"), ("in this thread", "as a reply to the question"))


@dataclass(frozen=True)
class Button:
    """A button: ``style`` ``success``/``danger`` with a ``custom_id``, or ``link`` with a ``url``."""

    style: str
    label: str
    custom_id: str | None = None
    url: str | None = None


@dataclass
class Rendered:
    """A Discord message body, before the client builds it.

    :param content: the message text (Discord markdown).
    :param embeds: embed objects as Discord's JSON has them.
    :param rows: rows of buttons.
    :param users: user ids allowed to be pinged.
    :param roles: role ids allowed to be pinged.
    :param everyone: ``@everyone`` / ``@here`` allowed to ping.
    """

    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    rows: list[list[Button]] = field(default_factory=list)
    users: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    everyone: bool = False

    def allowed_mentions(self) -> dict[str, Any]:
        """Discord's ``allowed_mentions`` for this body: nothing parsed, only what it names."""
        return {
            "parse": ["everyone"] if self.everyone else [],
            "users": list(self.users),
            "roles": list(self.roles),
            "replied_user": False,
        }

    def body(self) -> dict[str, Any]:
        """The create/edit-message JSON (``components`` as Discord's action rows)."""
        return {
            "content": self.content,
            "embeds": self.embeds,
            "components": [
                {"type": 1, "components": [_button_json(button) for button in row]} for row in self.rows
            ],
            "allowed_mentions": self.allowed_mentions(),
        }


def truncate(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, cut visibly at a space, never inside ``<…>`` or a link."""
    if len(text) <= limit:
        return text
    marker = f" … {len(text):,} more characters"
    room = max(0, limit - len(marker))
    cut = text.rfind(" ", int(room * 0.8), room)
    cut = room if cut <= 0 else cut
    head = text[:cut]
    for opener, closer in (("<", ">"), ("[", ")")):
        start = head.rfind(opener)
        if start != -1 and closer not in head[start:]:
            head = head[:start]
    head = head.rstrip()
    return (f"{head} … {len(text) - len(head):,} more characters")[:limit]


def render(message: Message, *, conn_id: str) -> Rendered:
    """The Discord body of ``message``.

    :param message: the message (text, blocks, metadata: a question's identity goes into its buttons).
    :param conn_id: the connection, named in the error.
    :raises ChatConfigError: the message has neither text nor blocks.
    """
    if not (message.text or "").strip() and not message.blocks:
        raise ChatConfigError(f"empty message: nothing to post through connection {conn_id!r}", conn_id=conn_id)
    identity = _ask_identity(message.metadata)
    if not message.blocks:
        return _plain([to_discord(message.text)], [])
    blocks = [block for block in message.blocks if isinstance(block, Mapping)]
    rows = _rows(blocks, identity)
    if all(block.get("type") in _TEXT_BLOCKS and not block.get("fields") for block in blocks):
        return _plain([part for block in blocks for part in _paragraphs(block)], rows)
    return _rich(blocks, rows)


def _plain(paragraphs: Sequence[Markup], rows: list[list[Button]]) -> Rendered:
    """Text as content; too long for content, as an embed's description."""
    text = "\n\n".join(part.text for part in paragraphs if part.text.strip())
    mentions = _mentions(paragraphs)
    if len(text) <= MAX_CONTENT:
        return Rendered(text, [], rows, *mentions)
    return Rendered("", [{"description": truncate(text, MAX_DESCRIPTION)}], rows, *mentions)


def _rich(blocks: Sequence[Mapping[str, Any]], rows: list[list[Button]]) -> Rendered:
    """Blocks as embeds: the first holds the title, description and fields; more images, an embed each."""
    title = ""
    description: list[Markup] = []
    fields: list[dict[str, Any]] = []
    images: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            title = title or _plain_text(block.get("text"))
        elif kind == "image" and isinstance(block.get("image_url"), str):
            images.append(block["image_url"])
        else:
            description.extend(_paragraphs(block))
        for item in block.get("fields") or () if kind == "section" else ():
            if isinstance(item, Mapping) and isinstance(item.get("text"), str):
                fields.append(_field(item["text"]))
    main: dict[str, Any] = {}
    if title:
        main["title"] = truncate(escape_text(emoji(title)), MAX_TITLE)
    text = "\n\n".join(part.text for part in description if part.text.strip())
    if text:
        main["description"] = truncate(text, MAX_DESCRIPTION)
    if fields:
        main["fields"] = fields[:MAX_FIELDS]
    embeds = [main] + [{"image": {"url": url}} for url in images[1:]]
    if images:
        main["image"] = {"url": images[0]}
    return Rendered("", _fit_embeds(embeds), rows, *_mentions(description))


def _paragraphs(block: Mapping[str, Any]) -> list[Markup]:
    kind = block.get("type")
    if kind == "section":
        if not isinstance(block.get("text"), Mapping):
            return []  # fields only: they become the embed's fields
        text = _text_of(block["text"])
        if block.get("block_id") == HOW_TO_ANSWER_BLOCK_ID:
            for slack_words, discord_words in _THREAD_WORDS:
                text = text.replace(slack_words, discord_words)
        return [to_discord(text)]
    if kind == "context":
        parts = [_text_of(item) for item in block.get("elements") or () if isinstance(item, Mapping)]
        line = to_discord(" ".join(part for part in parts if part))
        return [Markup(f"-# {line.text}", line.users, line.roles, line.everyone)] if line.text else []
    if kind in ("markdown",) and isinstance(block.get("text"), str):
        return [to_discord(block["text"])]
    if kind in ("divider", "actions", "image", "header"):
        return []
    words = " ".join(_strings(block))  # a block of another type: its words, as text
    return [Markup(escape_text(words))] if words else []


def _text_of(item: Mapping[str, Any]) -> str:
    text = item.get("text")
    if not isinstance(text, str):
        return ""
    if item.get("type") == "mrkdwn":
        return text
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # plain text: shown as written


def _plain_text(item: Any) -> str:
    return item.get("text", "") if isinstance(item, Mapping) and isinstance(item.get("text"), str) else ""


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, Mapping):
        if isinstance(value.get("text"), str):
            yield value["text"]
        for key, item in value.items():
            if key != "text" and isinstance(item, (Mapping, list)):
                yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _field(text: str) -> dict[str, Any]:
    """A Slack section field (``*Name*\\nvalue``) as an inline embed field."""
    head = _FIELD_HEAD.match(text)
    name, value = (head.group(1), text[head.end():]) if head else (_NO_NAME, text)
    shown = to_discord(value).text or _NO_NAME
    return {"name": truncate(escape_text(name), MAX_FIELD_NAME) if head else name,
            "value": truncate(shown, MAX_FIELD_VALUE), "inline": True}


def _fit_embeds(embeds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At most 10 embeds of at most 6,000 characters together: the description gives way first."""
    embeds = embeds[:MAX_EMBEDS]
    total = sum(_embed_size(embed) for embed in embeds)
    main = embeds[0]
    if total > MAX_EMBED_TOTAL and main.get("description"):
        room = max(0, len(main["description"]) - (total - MAX_EMBED_TOTAL))
        main["description"] = truncate(main["description"], room)
    while sum(_embed_size(embed) for embed in embeds) > MAX_EMBED_TOTAL and main.get("fields"):
        main["fields"].pop()
    return [embed for embed in embeds if embed]


def _embed_size(embed: Mapping[str, Any]) -> int:
    size = len(embed.get("title") or "") + len(embed.get("description") or "")
    return size + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields") or ())


def _mentions(parts: Sequence[Markup]) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    users = dict.fromkeys(user for part in parts for user in part.users)
    roles = dict.fromkeys(role for part in parts for role in part.roles)
    return tuple(users), tuple(roles), any(part.everyone for part in parts)


def _ask_identity(metadata: Mapping[str, Any] | None) -> ButtonIdentity | None:
    if not metadata or metadata.get("event_type") != ASK_EVENT_TYPE:
        return None
    payload = metadata.get("event_payload") or {}
    if "outcome" in payload:
        return None  # decided: no buttons
    return ButtonIdentity.of(payload)


def _rows(blocks: Sequence[Mapping[str, Any]], identity: ButtonIdentity | None) -> list[list[Button]]:
    """The buttons: the question's own (with its identity), and link buttons; at most 5 rows of 5."""
    rows: list[list[Button]] = []
    for block in blocks:
        if block.get("type") != "actions":
            continue
        if block.get("block_id") == BUTTONS_BLOCK_ID:
            if identity is not None:
                rows.insert(0, [Button(style, label, custom_id=cid) for style, cid, label in button_specs(identity)])
            continue
        links = [
            Button("link", truncate(_plain_text(element.get("text")) or "Open", MAX_LABEL), url=element["url"])
            for element in block.get("elements") or ()
            if isinstance(element, Mapping) and element.get("type") == "button" and isinstance(element.get("url"), str)
            and element["url"].startswith(("http://", "https://"))
        ]
        for start in range(0, len(links), MAX_BUTTONS_PER_ROW):
            rows.append(links[start:start + MAX_BUTTONS_PER_ROW])
    return rows[:MAX_ROWS]


def _button_json(button: Button) -> dict[str, Any]:
    if button.style == "link":
        return {"type": 2, "style": 5, "label": button.label, "url": button.url}
    return {"type": 2, "style": 3 if button.style == "success" else 4, "label": button.label,
            "custom_id": button.custom_id}
