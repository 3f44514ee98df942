"""Discord's markdown (message content, embed text) as the web page's view nodes (see mrkdwn.py).

What Discord's client renders: ``**bold**``, ``*italic*`` / ``_italic_``, ``__underline__``, ``~~strike~~``,
``||spoiler||`` (shown as its text), ``***both***``, `` `code` ``, fenced code blocks (the language line
dropped), ``> `` quotes and ``>>> `` (the rest quoted), ``#`` / ``##`` / ``###`` headings, ``-#`` subtext,
``- `` list items, ``[label](https://…)`` masked links, bare and ``<…>`` links, ``<@id>`` / ``<@!id>`` users,
``<@&id>`` roles and ``<#id>`` channels by name, ``@everyone`` / ``@here``, ``<:name:id>`` custom emoji
(``<a:…>`` animated ones), ``<t:epoch:style>`` timestamps (in the viewer's time zone) and ``\\`` escapes.
Unicode emoji are text already.

Nodes are the mrkdwn ones plus ``u`` (underline). Links keep only http(s) targets. Pure: no I/O; never
raises, whatever the text (nesting deeper than `MAX_DEPTH` stays text).
"""

from __future__ import annotations

import re
from typing import Any

from airflow_chat_alerts.testing.web.mrkdwn import Names, Node, safe_href

MAX_DEPTH = 12  # formatting nested deeper than this is shown as text
_FENCE = re.compile(r"```(?:([A-Za-z0-9_+\-.#]{1,32})\n)?([\s\S]*?)```")
_HEADING = re.compile(r"^(#{1,3}) (?=\S)")
_SUBTEXT = re.compile(r"^-# (?=\S)")
_LIST_ITEM = re.compile(r"^(\s*)[-*] (?=\S)")
_QUOTE = re.compile(r"^> ")
_QUOTE_REST = re.compile(r"^>>> ")

# Discord's timestamp styles, as the date node's format (mrkdwn.py's Slack tokens, which the page knows).
_STAMP_FORMATS = {
    "t": "{time}", "T": "{time_secs}", "d": "{date_num}", "D": "{date}", "f": "{date} {time}",
    "F": "{date_long} {time}", "R": "{ago}",
}

# Inline rules, tried in order at each position (as Discord's simple-markdown does).
_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("escape", re.compile(r"\\([^\sA-Za-z0-9])")),
    ("code", re.compile(r"``([^`](?:[\s\S]*?[^`])?)``|`([^`]+)`")),
    ("autolink", re.compile(r"<(https?://[^\s>]+)>")),
    ("url", re.compile(r"https?://[^\s<]+[^\s<.,:;\"')\]!?*_~|]")),
    ("masked", re.compile(r"\[([^\[\]\n]{1,256})\]\(<?(https?://[^\s)>]+)>?\)")),
    ("custom_emoji", re.compile(r"<(a?):(\w{2,32}):(\d{1,20})>")),
    ("user", re.compile(r"<@!?(\d{1,20})>")),
    ("role", re.compile(r"<@&(\d{1,20})>")),
    ("channel", re.compile(r"<#(\d{1,20})>")),
    ("timestamp", re.compile(r"<t:(-?\d{1,13})(?::([tTdDfFR]))?>")),
    ("special", re.compile(r"@(everyone|here)\b")),
    ("b", re.compile(r"\*\*([\s\S]+?)\*\*(?!\*)")),
    ("u", re.compile(r"__([\s\S]+?)__(?!_)")),
    ("i", re.compile(r"\*(?=\S)([\s\S]*?\S)\*(?!\*)|\b_([\s\S]+?)_\b")),
    ("s", re.compile(r"~~([\s\S]+?)~~")),
    ("spoiler", re.compile(r"\|\|([\s\S]+?)\|\|")),
]
_SPECIAL_CHARS = re.compile(r"[^\\`<h\[@*_~|]+")


def _text(chunk: str, out: list[Node]) -> None:
    """Append ``chunk`` as text, its line breaks as ``br`` nodes, merging with text before it."""
    for n, line in enumerate(chunk.split("\n")):
        if n:
            out.append({"t": "br"})
        if line:
            if out and isinstance(out[-1], str):
                out[-1] += line
            else:
                out.append(line)


def _rule(kind: str, match: re.Match[str], names: Names, depth: int) -> list[Node] | Node:
    if kind == "escape":
        return match.group(1)
    if kind == "code":
        return {"t": "code", "v": match.group(1) if match.group(1) is not None else match.group(2)}
    if kind in ("autolink", "url"):
        url = match.group(1) if kind == "autolink" else match.group(0)
        href = safe_href(url)
        return {"t": "link", "href": href, "c": [url]} if href else url
    if kind == "masked":
        href = safe_href(match.group(2))
        label = inline(match.group(1), names, depth + 1)
        return {"t": "link", "href": href, "c": label} if href else label
    if kind == "custom_emoji":
        return {"t": "emoji", "name": match.group(2), "char": None}
    if kind == "user":
        name = names.user_name(match.group(1))
        return {"t": "mention", "kind": "user", "id": match.group(1), "label": f"@{name or 'unknown-user'}"}
    if kind == "role":
        role = names.group_handle(match.group(1))
        return {"t": "mention", "kind": "group", "id": match.group(1), "label": f"@{role or 'deleted-role'}"}
    if kind == "channel":
        channel = names.channel_name(match.group(1))
        return {"t": "mention", "kind": "channel", "id": match.group(1), "label": f"#{channel or 'unknown'}"}
    if kind == "timestamp":
        return {"t": "date", "epoch": int(match.group(1)), "format": _STAMP_FORMATS[match.group(2) or "f"],
                "fallback": match.group(0)}
    if kind == "special":
        return {"t": "mention", "kind": "special", "id": match.group(1), "label": f"@{match.group(1)}"}
    inner = next(g for g in match.groups() if g is not None)
    children = inline(inner, names, depth + 1)
    if kind == "spoiler":  # hidden until clicked in Discord; the page shows it
        return children
    return {"t": kind, "c": children}


def inline(text: str, names: Names, depth: int = 0) -> list[Node]:
    """Inline Discord markdown (no block structure) as nodes."""
    out: list[Node] = []
    if depth > MAX_DEPTH:
        _text(text, out)
        return out
    pos = 0
    while pos < len(text):
        plain = _SPECIAL_CHARS.match(text, pos)
        if plain is not None:
            _text(plain.group(0), out)
            pos = plain.end()
            continue
        for kind, pattern in _RULES:
            match = pattern.match(text, pos)
            if match is not None and match.end() > pos:
                made = _rule(kind, match, names, depth)
                for node in made if isinstance(made, list) else [made]:
                    if isinstance(node, str):
                        _text(node, out)
                    else:
                        out.append(node)
                pos = match.end()
                break
        else:
            _text(text[pos], out)
            pos += 1
    return out


def _segments(text: str) -> list[tuple[str, str]]:
    """``text`` cut into prose and fenced code: [("prose" | "pre", text)]."""
    out: list[tuple[str, str]] = []
    pos = 0
    for match in _FENCE.finditer(text):
        if not match.group(2).strip() and not match.group(1):
            continue  # ``````: no code block in Discord either
        if match.start() > pos:
            out.append(("prose", text[pos : match.start()]))
        code = match.group(2)
        code = code[1:] if code.startswith("\n") else code
        out.append(("pre", code[:-1] if code.endswith("\n") else code))
        pos = match.end()
    if pos < len(text):
        out.append(("prose", text[pos:]))
    return out


def _strip_breaks(prose: str) -> str:
    """Prose beside a code block, without the line break that separates it from the block."""
    prose = prose[1:] if prose.startswith("\n") else prose
    return prose[:-1] if prose.endswith("\n") else prose


def _lines(prose: str, names: Names, *, headings: bool) -> list[dict[str, Any]]:
    """Prose as parts: ``("text", nodes)`` runs, quotes, headings and subtext (block nodes)."""
    parts: list[dict[str, Any]] = []
    plain: list[str] = []
    quoted: list[str] = []

    def flush() -> None:
        if plain:
            parts.append({"t": "text", "c": inline("\n".join(plain), names)})
            plain.clear()
        if quoted:
            parts.append({"t": "quote", "c": inline("\n".join(quoted), names)})
            quoted.clear()

    lines = prose.split("\n")
    for n, line in enumerate(lines):
        if _QUOTE_REST.match(line):
            flush()
            quoted.extend([line[4:], *lines[n + 1 :]])
            break
        if _QUOTE.match(line):
            if plain:
                flush()
            quoted.append(line[2:])
            continue
        if quoted:
            flush()
        heading = _HEADING.match(line)
        subtext = _SUBTEXT.match(line)
        if heading or subtext:
            flush()
            rest = line[(heading or subtext).end() :]  # type: ignore[union-attr]
            if subtext:
                parts.append({"t": "context", "c": [{"t": "text", "c": inline(rest, names)}]})
            elif headings:
                parts.append({"t": "header", "c": inline(rest, names)})
            else:
                parts.append({"t": "text", "c": [{"t": "b", "c": inline(rest, names)}]})
            continue
        item = _LIST_ITEM.match(line)
        plain.append(f"{item.group(1)}• {line[item.end():]}" if item else line)
    flush()
    return parts


def _parts(text: str, names: Names, *, headings: bool) -> list[dict[str, Any]]:
    if not isinstance(text, str):
        return [] if text is None else [{"t": "text", "c": [str(text)]}]
    parts: list[dict[str, Any]] = []
    segments = _segments(text)
    for kind, chunk in segments:
        if kind == "pre":
            parts.append({"t": "pre", "v": chunk})
        else:
            parts.extend(_lines(_strip_breaks(chunk) if len(segments) > 1 else chunk, names, headings=headings))
    return parts


def markdown(text: str, names: Names) -> list[Node]:
    """Discord markdown as text nodes (lines, quotes and code blocks among them): an embed's description
    or a field's value. Headings are shown bold, subtext as text.

    :param text: the text as Discord stores it.
    :param names: resolves user, channel and role ids to names (``group_handle`` is a role's name).
    """
    out: list[Node] = []
    for part in _parts(text, names, headings=False):
        if out and part["t"] not in ("quote", "pre") and not (isinstance(out[-1], dict)
                                                               and out[-1].get("t") in ("quote", "pre")):
            out.append({"t": "br"})
        if part["t"] == "text":
            out.extend(part["c"])
        elif part["t"] == "context":
            out.extend(part["c"][0]["c"])
        else:
            out.append(part)
    return out


def content_blocks(text: str, names: Names) -> list[dict[str, Any]]:
    """A message's content as block nodes: ``header`` for headings, ``context`` for ``-#`` subtext, and
    ``text`` for the rest (its quotes and code blocks inside)."""
    blocks: list[dict[str, Any]] = []
    for part in _parts(text, names, headings=True):
        if part["t"] in ("quote", "pre"):
            if blocks and blocks[-1]["t"] == "text":
                blocks[-1]["c"].append(part)
            else:
                blocks.append({"t": "text", "c": [part]})
        elif part["t"] == "text" and blocks and blocks[-1]["t"] == "text":
            last = blocks[-1]["c"]
            if last and not (isinstance(last[-1], dict) and last[-1].get("t") in ("quote", "pre")):
                last.append({"t": "br"})
            last.extend(part["c"])
        else:
            blocks.append(part)
    return blocks
