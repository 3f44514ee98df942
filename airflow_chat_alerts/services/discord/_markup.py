"""The package's message markup (Slack's mrkdwn, which operators, the notifier and the ask write) as Discord
markdown, with every character that Discord would read as markup shown as itself.

The package writes one markup for every service, so a DAG moves to Discord with only its connection
changed: ``*bold*``, ``_italics_``, ``~strike~``, `` `code` ``, code blocks, ``>`` quotes, ``<url|label>``
links, ``:emoji:`` codes, dates (``<!date^…>``), and mentions: ``<@id>`` (a Discord user), ``<@&id>`` (a
role), ``<!here>`` / ``<!channel>``. Everything else is text: ``&lt;`` ``&gt;`` ``&amp;`` (how the package
escapes untrusted values) become the characters, and Discord's own markup in text (``<@…>``, ``@everyone``,
``@here``, ``[label](url)``, ``# headings``, ``||spoilers||``, stray ``*`` ``_`` ``~`` `` ` ``) is escaped,
so a value the package inserts can neither mention, broadcast nor disguise a link.

:func:`to_discord` also says which users and roles the text mentions on purpose (its explicit mention markup,
outside code) and whether it broadcasts: what the post's ``allowed_mentions`` lets ping, and nothing else.
Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# Private-use characters stand for pieces already rendered while the rest is converted; the input's own
# private-use characters are replaced first, so text cannot forge one.
_PRIVATE = re.compile("[\ue000-\uf8ff]")
_PIECE_BASE = 0xE000
_MAX_PIECES = 0xF000 - 0xE000
_BOLD, _STRIKE, _ITALIC, _QUOTE = "\uf8f0", "\uf8f1", "\uf8f2", "\uf8f3"

_CODE = re.compile(r"```((?:(?!```)[\s\S])+)```|`([^`\n]+)`")
_ENTITY = re.compile(r"<([^<>\n]*)>")
# Slack's formatting spans (decisions.py reads replies with the same rule): a marker opens after a space or
# "(" and closes before a space or punctuation; a span holds no line break and not its own marker.
_FORMATTING = re.compile(
    r"(?<![^\s(\ue000-\uf8ff])(?:\*([^*\n]+)\*|_([^_\n]+)_|~([^~\n]+)~)(?![^\s.,;:!?)\ue000-\uf8ff])"
)
_MARKERS = (_BOLD, _ITALIC, _STRIKE)  # by the group of _FORMATTING that matched
_SHORTCODE = re.compile(r":([a-z0-9_+\-]+):(?::skin-tone-[2-6]:)?", re.IGNORECASE)
_DISCORD_ID = re.compile(r"[1-9][0-9]{5,19}")
_DATE = re.compile(r"date\^([0-9]+)\^[^|]*(?:\|.*)?")
# Characters Discord reads as markdown: each is shown as itself with a backslash before it.
_SPECIAL = re.compile(r"([\\*_~`|\[\]<>])")
_LINE_START_MARKUP = re.compile(r"(?m)^(\s*)(#{1,3}\s|-#\s|[-*+]\s|\d+\.\s)")
# Inside code Discord shows markup as written; a code span the text closes early must not free a mention.
_CODE_MARKUP = re.compile(r"<(?=[@#:/a-z])|@(?=everyone|here)", re.IGNORECASE)
_BROADCAST = re.compile(r"@(everyone|here)\b", re.IGNORECASE)
_ZWSP = "\u200b"
SAFE_SCHEMES = ("http", "https", "mailto")

# The short codes the package writes, and common ones people write, as the characters Discord shows (a bot's
# ``:name:`` is not turned into an emoji by Discord).
EMOJI = {
    "white_check_mark": "✅", "heavy_check_mark": "✔️", "ballot_box_with_check": "☑️", "x": "❌", "+1": "👍",
    "thumbsup": "👍", "-1": "👎", "thumbsdown": "👎", "no_entry": "⛔", "no_entry_sign": "🚫", "bell": "🔔",
    "warning": "⚠️", "hourglass": "⌛", "hourglass_flowing_sand": "⏳", "red_circle": "🔴",
    "large_green_circle": "🟢", "large_orange_circle": "🟠", "large_blue_circle": "🔵", "white_circle": "⚪",
    "rocket": "🚀", "tada": "🎉", "eyes": "👀", "ok_hand": "👌", "wave": "👋", "information_source": "ℹ️",
    "heavy_multiplication_x": "✖️", "negative_squared_cross_mark": "❎", "octagonal_sign": "🛑", "fire": "🔥",
    "chart_with_upwards_trend": "📈", "chart_with_downwards_trend": "📉", "bar_chart": "📊", "memo": "📝",
    "robot_face": "🤖", "sparkles": "✨", "bug": "🐛", "smile": "😄", "slightly_smiling_face": "🙂",
}


@dataclass(frozen=True)
class Markup:
    """Text as Discord markdown, and what it mentions on purpose.

    :param text: the Discord markdown.
    :param users: user ids mentioned by explicit markup (``<@id>``), in order.
    :param roles: role ids mentioned by explicit markup (``<@&id>``), in order.
    :param everyone: the text broadcasts on purpose (``<!here>``, ``<!channel>``, ``<!everyone>``).
    """

    text: str
    users: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    everyone: bool = False


@dataclass
class _Pieces:
    rendered: list[str] = field(default_factory=list)
    users: dict[str, None] = field(default_factory=dict)
    roles: dict[str, None] = field(default_factory=dict)
    everyone: bool = False

    def hold(self, rendered: str) -> str:
        if len(self.rendered) >= _MAX_PIECES:
            return rendered  # beyond what placeholders can hold: shown as converted, unescaped text
        self.rendered.append(rendered)
        return chr(_PIECE_BASE + len(self.rendered) - 1)


def escape_text(text: str) -> str:
    """Plain text shown on Discord as itself: markdown characters backslash-escaped, ``@everyone`` and
    ``@here`` broken with a zero-width space, headings and lists at a line start escaped."""
    text = _SPECIAL.sub(r"\\\1", text)
    text = _BROADCAST.sub(lambda m: "@" + _ZWSP + m.group(1), text)
    return _LINE_START_MARKUP.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def emoji(text: str) -> str:
    """``:short_codes:`` as the emoji characters Discord shows (unknown ones stay as written)."""
    return _SHORTCODE.sub(lambda m: EMOJI.get(m.group(1).lower(), m.group(0)), text)


def _link(url: str, label: str | None) -> str:
    """``[label](<url>)`` (no preview), or the label alone when the address is not a web or mail link."""
    url = _unescape(url).strip()
    scheme = urlsplit(url).scheme.lower() if "://" in url or url.startswith("mailto:") else ""
    shown = escape_text(emoji(_unescape(label))) if label else None
    if scheme not in SAFE_SCHEMES or any(ch in url for ch in "<> \n"):
        return shown if shown is not None else escape_text(url)
    if shown is None:
        return f"<{url}>"
    return f"[{shown}](<{url}>)"


def _entity(body: str, pieces: _Pieces) -> str:
    """One ``<…>`` entity rendered (an unknown one as its text)."""
    target, bar, label = body.partition("|")
    if target.startswith("@&") and _DISCORD_ID.fullmatch(target[2:]):
        pieces.roles[target[2:]] = None
        return f"<@&{target[2:]}>"
    if target.startswith("@"):
        ident = target[1:].lstrip("!")
        if _DISCORD_ID.fullmatch(ident):
            pieces.users[ident] = None
            return f"<@{ident}>"
        return escape_text("@" + (_unescape(label.lstrip("@")) or ident))
    if target.startswith("#"):
        ident = target[1:]
        if _DISCORD_ID.fullmatch(ident):
            return f"<#{ident}>"
        return escape_text("#" + (_unescape(label.lstrip("#")) or ident))
    if target.startswith("!"):
        command = target[1:]
        if command in ("here", "channel", "everyone"):
            pieces.everyone = True
            return "@here" if command == "here" else "@everyone"
        date = _DATE.fullmatch(body[1:])
        if date:
            return f"<t:{date.group(1)}:f>"
        if command.startswith("subteam^"):
            return escape_text(_unescape(label) or "@" + command.split("^", 1)[1])
        return escape_text(_unescape(label or command))
    return _link(target, label if bar else None)


def _code(match: re.Match[str]) -> str:
    block, inline = match.group(1), match.group(2)
    inert = _CODE_MARKUP.sub(lambda m: m.group(0) + _ZWSP, _unescape(block if block is not None else inline))
    return f"```{inert}```" if block is not None else f"`{inert}`"


def _span(match: re.Match[str]) -> str:
    index = next(i for i, group in enumerate(match.groups()) if group is not None)
    return _MARKERS[index] + match.group(index + 1) + _MARKERS[index]


def to_discord(text: str) -> Markup:
    """``text`` (the package's mrkdwn) as Discord markdown, with the mentions it makes on purpose.

    :param text: what the package would post to Slack.
    """
    pieces = _Pieces()
    text = _PRIVATE.sub("\ufffd", text)
    text = _CODE.sub(lambda m: pieces.hold(_code(m)), text)
    text = _ENTITY.sub(lambda m: pieces.hold(_entity(m.group(1), pieces)), text)
    text = re.sub(r"(?m)^>[ \t]?", _QUOTE, text)  # a quote the author wrote ("&gt;" is a literal ">")
    for _ in range(3):  # nested spans: *_x_*
        text, changed = _FORMATTING.subn(_span, text)
        if not changed:
            break
    text = escape_text(emoji(_unescape(text)))
    text = text.replace(_BOLD, "**").replace(_STRIKE, "~~").replace(_ITALIC, "_").replace(_QUOTE, "> ")
    rendered = "".join(
        pieces.rendered[ord(ch) - _PIECE_BASE] if _PIECE_BASE <= ord(ch) < _PIECE_BASE + len(pieces.rendered) else ch
        for ch in text
    )
    return Markup(rendered, tuple(pieces.users), tuple(pieces.roles), pieces.everyone)
