"""The ``rich_text`` block a Slack client sends with a message a person types, built from its text.

Slack's clients post what a person types twice: as ``text`` (Slack's markup: ``<@U…>`` mentions,
``<https://…|label>`` links, ``*bold*``, ``&lt;`` for ``<``) and as one ``rich_text`` block whose
elements carry the same content structured (``user``, ``link``, ``emoji``, ``text`` with a ``style``,
``rich_text_preformatted`` for a code block, ``rich_text_quote`` for quoted lines). The emulator's
people post through the Web API, so this module makes that block from the text. Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Any

from airflow_chat_alerts.testing.emoji_names import canonical_name

_FENCE = re.compile(r"```(.*?)```", re.DOTALL)
_QUOTED = re.compile(r"^(?:&gt;|>) ?(.*)$")
# One inline token: <…> markup, :emoji:, `code`, *bold*, _italic_, ~strike~ (Slack's word boundaries).
_INLINE = re.compile(
    r"<(?P<angle>[^<>\n]+)>"
    r"|:(?P<emoji>[a-z0-9_+'-]+(?:::skin-tone-[2-6])?):"
    r"|`(?P<code>[^`\n]+)`"
    r"|(?<![\w*])\*(?P<bold>[^*\n]*[^*\s])\*(?![\w*])"
    r"|(?<![\w_])_(?P<italic>[^_\n]*[^_\s])_(?![\w_])"
    r"|(?<![\w~])~(?P<strike>[^~\n]*[^~\s])~(?![\w~])"
)
_BROADCASTS = {"here", "channel", "everyone"}
_ESCAPED = {"&lt;": "<", "&gt;": ">", "&amp;": "&"}  # the only escapes Slack's markup has


def _unescape(text: str) -> str:
    return re.sub(r"&(?:lt|gt|amp);", lambda m: _ESCAPED[m.group(0)], text)


def rich_text_block(text: str) -> dict[str, Any] | None:
    """The ``rich_text`` block (no ``block_id``: Slack gives it one) for ``text``; None if it is empty."""
    elements: list[dict[str, Any]] = []
    for i, part in enumerate(_FENCE.split(text)):
        if i % 2:  # inside ``` fences
            elements.append({"type": "rich_text_preformatted", "elements": [_text(part.strip("\n"))], "border": 0})
        else:
            elements.extend(_paragraphs(part))
    return {"type": "rich_text", "elements": elements} if elements else None


def _paragraphs(text: str) -> list[dict[str, Any]]:
    """Sections and quotes of text outside code blocks: runs of quoted lines become a quote."""
    out: list[dict[str, Any]] = []
    run: list[str] = []
    quoted = False
    for line in text.split("\n"):
        match = _QUOTED.match(line)
        if run and bool(match) != quoted:
            out.append(_container("rich_text_quote" if quoted else "rich_text_section", run))
            run = []
        quoted = bool(match)
        run.append(match.group(1) if match else line)
    if run:
        out.append(_container("rich_text_quote" if quoted else "rich_text_section", run))
    return [c for c in out if c["elements"]]


def _container(kind: str, lines: list[str]) -> dict[str, Any]:
    return {"type": kind, "elements": inline_elements("\n".join(lines).strip("\n"))}


def inline_elements(text: str) -> list[dict[str, Any]]:
    """The inline elements of a stretch of Slack markup: text, mentions, links, emoji, styled text."""
    elements: list[dict[str, Any]] = []
    end = 0
    for match in _INLINE.finditer(text):
        element = _element(match)
        if element is None:
            continue
        if match.start() > end:
            elements.append(_text(text[end : match.start()]))
        elements.append(element)
        end = match.end()
    if end < len(text):
        elements.append(_text(text[end:]))
    return _merged(elements)


def _element(match: re.Match[str]) -> dict[str, Any] | None:
    if match.group("angle") is not None:
        return _markup(match.group("angle"))
    if match.group("emoji") is not None:
        name = match.group("emoji")
        return {"type": "emoji", "name": name} if canonical_name(name) else None
    for style in ("code", "bold", "italic", "strike"):
        if match.group(style) is not None:
            return _text(match.group(style), {style: True})
    return None


def _markup(inner: str) -> dict[str, Any]:
    """``<…>`` markup: ``@U…``, ``#C…``, ``!subteam^S…``, ``!here``, a link (each maybe ``|label``);
    anything else (``<script>``) is the text it is."""
    target, _, label = inner.partition("|")
    if not re.match(r"[@#!]|[a-zA-Z][a-zA-Z0-9+.-]*:", target):
        return _text(f"<{inner}>")
    if target.startswith("@"):
        return {"type": "user", "user_id": target[1:]}
    if target.startswith("#"):
        return {"type": "channel", "channel_id": target[1:]}
    if target.startswith("!subteam^"):
        return {"type": "usergroup", "usergroup_id": target[len("!subteam^") :]}
    if target.startswith("!") and target[1:] in _BROADCASTS:
        return {"type": "broadcast", "range": target[1:]}
    link: dict[str, Any] = {"type": "link", "url": _unescape(target)}
    if label:
        link["text"] = _unescape(label)
    return link


def _text(text: str, style: dict[str, bool] | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "text", "text": _unescape(text)}
    if style:
        element["style"] = style
    return element


def _merged(elements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Adjacent plain texts joined (an emoji-looking word that is none stays text), empty ones dropped."""
    out: list[dict[str, Any]] = []
    for element in elements:
        if element["type"] == "text" and not element["text"]:
            continue
        previous = out[-1] if out else None
        if previous and element["type"] == previous["type"] == "text" and "style" not in element \
                and "style" not in previous:
            previous["text"] += element["text"]
        else:
            out.append(element)
    return out
