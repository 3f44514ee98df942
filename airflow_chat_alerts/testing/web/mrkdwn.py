"""Slack's text formatting (mrkdwn, plain_text) as a tree of nodes the web page shows as Slack does.

A node is a string (text, shown as text) or a dict with a ``t`` (type):

- inline: ``b`` / ``i`` / ``s`` (bold, italic, strike; children in ``c``), ``code`` (``v``), ``link``
  (``href``, ``c``), ``mention`` (``kind``: user, channel, group or special; ``id``; ``label`` such as
  ``@alice``), ``emoji`` (``name``; ``char``, None for a custom emoji), ``date`` (``epoch``, ``format``,
  ``fallback``: shown in the viewer's time zone), ``br``;
- blocks of a text: ``pre`` (``v``, a code block) and ``quote`` (``c``).

The page builds elements from these nodes and sets text only as text, never as HTML: nothing a
message says can become markup. A link keeps only an ``http``, ``https`` or ``mailto`` target; any other
(``javascript:``…) is shown as its text. Pure: no I/O; never raises, whatever the text.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any, Protocol

from airflow_chat_alerts.testing.web.emoji import emoji_char

Node = str | dict[str, Any]

SAFE_SCHEMES = ("http", "https", "mailto")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
# What stands alone in a line of mrkdwn: <entities>, `code` and :emoji: (no formatting inside them).
_ATOM = re.compile(r"<[^<>\n]*>|`[^`\n]+`|:[a-z0-9_+'\-]+(?:::skin-tone-[2-6])?:")
_FENCE = re.compile(r"```([\s\S]*?)```")
_QUOTE = re.compile(r"^(?:>|&gt;)(?!>|&gt;) ?")
_QUOTE_REST = re.compile(r"^(?:>>>|&gt;&gt;&gt;) ?")
_MARKERS = {"*": "b", "_": "i", "~": "s"}
_SPECIAL = ("here", "channel", "everyone")


class Names(Protocol):
    """What an id means in the workspace shown (None: unknown)."""

    def user_name(self, user_id: str) -> str | None: ...

    def channel_name(self, channel_id: str) -> str | None: ...

    def group_handle(self, group_id: str) -> str | None: ...

    def has_custom_emoji(self, name: str) -> bool: ...


def unescape(text: str) -> str:
    """Slack's three escapes undone (``&lt;`` ``&gt;`` ``&amp;``), ``&amp;`` last."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def safe_href(url: str) -> str | None:
    """``url`` if it is a web or mail link (scheme http, https or mailto), else None."""
    match = _SCHEME.match(url.strip())
    if match is None or match.group(1).lower() not in SAFE_SCHEMES:
        return None
    return url.strip()


def emoji_node(name: str, names: Names | None) -> Node | None:
    """``:name:`` as an emoji node, or None when the workspace has no such emoji."""
    char = emoji_char(name)
    if char is not None:
        return {"t": "emoji", "name": name, "char": char}
    if names is not None and names.has_custom_emoji(name):
        return {"t": "emoji", "name": name, "char": None}
    return None


def _entity(body: str, names: Names) -> Node:
    """``<body>``: a mention, a link, a date, or (anything else) its literal text."""
    target, _, label = body.partition("|")
    label = unescape(label)
    if target[:1] == "@" and len(target) > 1:
        name = names.user_name(target[1:])
        shown = f"@{name}" if name else (label if label.startswith("@") else f"@{label or target[1:]}")
        return {"t": "mention", "kind": "user", "id": target[1:], "label": shown}
    if target[:1] == "#" and len(target) > 1:
        name = names.channel_name(target[1:])
        return {"t": "mention", "kind": "channel", "id": target[1:], "label": f"#{name or label or target[1:]}"}
    if target.startswith("!subteam^"):
        group = target[len("!subteam^") :]
        handle = names.group_handle(group)
        shown = f"@{handle}" if handle else (label if label.startswith("@") else f"@{label or group}")
        return {"t": "mention", "kind": "group", "id": group, "label": shown}
    if target[1:] in _SPECIAL and target[:1] == "!":
        return {"t": "mention", "kind": "special", "id": target[1:], "label": f"@{target[1:]}"}
    if target.startswith("!date^"):
        parts = target.split("^")
        if len(parts) >= 3 and parts[1].isdigit():
            node: dict[str, Any] = {"t": "date", "epoch": int(parts[1]), "format": unescape(parts[2]),
                                    "fallback": label}
            if len(parts) >= 4 and safe_href(unescape(parts[3])):
                node["href"] = unescape(parts[3])
            return node
        return label or unescape(f"<{body}>")
    if _SCHEME.match(target):
        url = unescape(target)
        href = safe_href(url)
        text = label or url
        return {"t": "link", "href": href, "c": [text]} if href else text
    return unescape(f"<{body}>")


@dataclass(frozen=True)
class _Marker:
    kind: str  # b, i, s
    literal: str


_Cell = str | dict[str, Any] | _Marker


def _cells(line: str, names: Names) -> list[_Cell]:
    """A line as cells: one per text character (markers apart), one per atom."""
    cells: list[_Cell] = []

    def text(chunk: str) -> None:
        for char in unescape(chunk):
            cells.append(_Marker(_MARKERS[char], char) if char in _MARKERS else char)

    pos = 0
    for match in _ATOM.finditer(line):
        token = match.group(0)
        if token[0] == "<":
            atom: Node | None = _entity(token[1:-1], names)
        elif token[0] == "`":
            atom = {"t": "code", "v": unescape(token[1:-1])}
        else:
            atom = emoji_node(token[1:-1], names)
        if atom is None:  # an unknown :name: stays text (its markers count as such)
            continue
        text(line[pos : match.start()])
        if isinstance(atom, str):
            cells.extend(atom)
        else:
            cells.append(atom)
        pos = match.end()
    text(line[pos:])
    return cells


def _word_char(cell: _Cell | None) -> bool:
    return isinstance(cell, str) and cell.isalnum()


def _space(cell: _Cell | None) -> bool:
    return cell is None or (isinstance(cell, str) and cell.isspace())


def _same(cell: _Cell | None, kind: str) -> bool:
    return isinstance(cell, _Marker) and cell.kind == kind


def _opens(cells: list[_Cell], i: int) -> bool:
    marker = cells[i]
    assert isinstance(marker, _Marker)
    after = cells[i + 1] if i + 1 < len(cells) else None
    before = cells[i - 1] if i > 0 else None
    return not _word_char(before) and not _space(after) and not _same(after, marker.kind)


def _closes(cells: list[_Cell], j: int) -> bool:
    marker = cells[j]
    assert isinstance(marker, _Marker)
    before = cells[j - 1] if j > 0 else None
    after = cells[j + 1] if j + 1 < len(cells) else None
    return j > 0 and not _space(before) and not _same(before, marker.kind) and not _word_char(after)


def _build(cells: list[_Cell], lo: int, hi: int, closers: dict[str, list[int]]) -> list[Node]:
    """Nodes of ``cells[lo:hi]``: each opening marker pairs with the first closing one of its kind
    after it (at least one cell between), so the work stays O(n log n) on any text."""
    out: list[Node] = []
    text: list[str] = []

    def flush() -> None:
        if text:
            out.append("".join(text))
            text.clear()

    i = lo
    while i < hi:
        cell = cells[i]
        if isinstance(cell, _Marker):
            if _opens(cells, i):
                ends = closers[cell.kind]
                k = bisect.bisect_left(ends, i + 2)
                if k < len(ends) and ends[k] < hi:
                    flush()
                    out.append({"t": cell.kind, "c": _build(cells, i + 1, ends[k], closers)})
                    i = ends[k] + 1
                    continue
            text.append(cell.literal)
        elif isinstance(cell, str):
            text.append(cell)
        else:
            flush()
            out.append(cell)
        i += 1
    flush()
    return out


def inline(line: str, names: Names) -> list[Node]:
    """One line of mrkdwn (no line breaks) as inline nodes."""
    cells = _cells(line, names)
    closers: dict[str, list[int]] = {kind: [] for kind in _MARKERS.values()}
    for j, cell in enumerate(cells):
        if isinstance(cell, _Marker) and _closes(cells, j):
            closers[cell.kind].append(j)
    return _build(cells, 0, len(cells), closers)


def _lines(lines: list[str], names: Names) -> list[Node]:
    out: list[Node] = []
    for n, line in enumerate(lines):
        if n:
            out.append({"t": "br"})
        out.extend(inline(line, names))
    return out


def _prose(text: str, names: Names) -> list[Node]:
    """Text outside code blocks: lines, with ``>`` quotes (and ``>>>``: the rest quoted)."""
    out: list[Node] = []
    plain: list[str] = []
    quoted: list[str] = []

    def flush_plain() -> None:
        if plain:
            if out and not (isinstance(out[-1], dict) and out[-1]["t"] in ("quote", "pre")):
                out.append({"t": "br"})
            out.extend(_lines(plain, names))
            plain.clear()

    def flush_quote() -> None:
        if quoted:
            out.append({"t": "quote", "c": _lines(quoted, names)})
            quoted.clear()

    lines = text.split("\n")
    for n, line in enumerate(lines):
        rest = _QUOTE_REST.match(line)
        if rest:
            flush_plain()
            quoted.extend([line[rest.end() :], *lines[n + 1 :]])
            break
        quote = _QUOTE.match(line)
        if quote:
            flush_plain()
            quoted.append(line[quote.end() :])
        else:
            flush_quote()
            plain.append(line)
    flush_plain()
    flush_quote()
    return out


def mrkdwn(text: str, names: Names) -> list[Node]:
    """Slack mrkdwn as nodes: ```code blocks```, ``>`` quotes, ``*bold*``, ``_italic_``, ``~strike~``,
    ``code``, links, mentions shown by name, ``:emoji:`` as emoji, dates.

    :param text: the text as Slack stores it (``&``, ``<``, ``>`` escaped as ``&amp;`` ``&lt;`` ``&gt;``).
    :param names: resolves user, channel and user group ids to names.
    """
    if not isinstance(text, str):
        return [] if text is None else [str(text)]
    out: list[Node] = []
    pos = 0
    for match in _FENCE.finditer(text):
        if match.start() > pos:
            out.extend(_prose(_trim_newline(text[pos : match.start()]), names))
        code = match.group(1)
        code = code[1:] if code.startswith("\n") else code
        code = code[:-1] if code.endswith("\n") else code
        out.append({"t": "pre", "v": unescape(code)})
        pos = match.end()
    if pos < len(text) or not out:
        out.extend(_prose(_trim_newline(text[pos:]) if out else text[pos:], names))
    return out


def _trim_newline(text: str) -> str:
    """Text beside a code block, without the line break that separates it from the block."""
    text = text[1:] if text.startswith("\n") else text
    return text[:-1] if text.endswith("\n") else text


def plain_text(text: Any, *, emoji: bool = True, names: Names | None = None) -> list[Node]:
    """A ``plain_text`` object's text: no formatting; ``:emoji:`` as emoji unless ``emoji`` is False."""
    if not isinstance(text, str):
        return [] if text is None else [str(text)]
    out: list[Node] = []
    for n, line in enumerate(text.split("\n")):
        if n:
            out.append({"t": "br"})
        pos = 0
        if emoji:
            for match in re.finditer(r":[a-z0-9_+'\-]+(?:::skin-tone-[2-6])?:", line):
                node = emoji_node(match.group(0)[1:-1], names)
                if node is None:
                    continue
                if match.start() > pos:
                    out.append(line[pos : match.start()])
                out.append(node)
                pos = match.end()
        if pos < len(line):
            out.append(line[pos:])
    return out


def text_of(nodes: list[Node]) -> str:
    """The words of ``nodes`` as people read them (for labels and summaries)."""
    parts: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            parts.append(node)
        elif node["t"] in ("br",):
            parts.append("\n")
        elif node["t"] in ("code", "pre"):
            parts.append(node["v"])
        elif node["t"] == "mention":
            parts.append(node["label"])
        elif node["t"] == "emoji":
            parts.append(node["char"] or f":{node['name']}:")
        elif node["t"] == "date":
            parts.append(node["fallback"])
        else:
            parts.append(text_of(node.get("c", [])))
    return "".join(parts)
