"""Slack's Block Kit as the web page's view nodes, laid out as Slack lays them out.

A block node is a dict with a ``t``:

- ``header`` (``c``: inline nodes), ``section`` (``text``, ``fields``: lists of nodes; ``accessory``: an
  element or None), ``context`` (``c``: items, each ``{"t": "img", ...}`` or ``{"t": "text", "c": [...]}``),
  ``divider``, ``image`` (``src``: a safe URL or None, ``alt``, ``title``), ``actions`` (``block_id``,
  ``elements``), ``rich`` (``c``: ``p`` paragraphs, ``list`` (``ordered``, ``items``), ``pre``,
  ``quote``), ``text`` (``c``: a message's text when it has no blocks), ``file`` (``name``);
- ``unknown`` for any block the page does not lay out: its ``type``, the words found in it
  (``summary``) and its JSON, so what other code posts still reads.

Elements: ``button`` (``label``, ``action_id``, ``value``, ``style``, ``url``), ``select`` (``multi``,
``source``: ``static``, ``users``, ``conversations``, ``channels`` or ``external``; ``options``,
``initial``, ``placeholder``, ``action_id``), ``overflow``, ``img`` and ``element`` (any other: ``type``
and ``label``).

Pure: no I/O; never raises, whatever JSON it is given (a block it cannot read becomes ``unknown``).
Image URLs are kept only for http(s); text stays text (see mrkdwn.py).
"""

from __future__ import annotations

import json
from typing import Any

from airflow_chat_alerts.testing.web.mrkdwn import Names, Node, mrkdwn, plain_text, safe_href, text_of

_JSON_SHOWN = 2_000  # characters of an unknown block's JSON shown
_SELECT_SOURCES = {
    "static_select": ("static", False),
    "multi_static_select": ("static", True),
    "users_select": ("users", False),
    "multi_users_select": ("users", True),
    "conversations_select": ("conversations", False),
    "multi_conversations_select": ("conversations", True),
    "channels_select": ("channels", False),
    "multi_channels_select": ("channels", True),
    "external_select": ("external", False),
    "multi_external_select": ("external", True),
}


def text_object(value: Any, names: Names) -> list[Node]:
    """A Block Kit text object (``mrkdwn`` or ``plain_text``) as nodes; anything else: none."""
    if not isinstance(value, dict):
        return []
    text = value.get("text")
    if not isinstance(text, str):
        return []
    if value.get("type") == "mrkdwn":
        return mrkdwn(text, names)
    return plain_text(text, emoji=value.get("emoji") is not False, names=names)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _image(src: Any, alt: Any) -> dict[str, Any]:
    url = _str(src)
    return {"t": "img", "src": safe_href(url) if url and url.lower().startswith("http") else None,
            "alt": _str(alt) or ""}


def _option(value: Any, names: Names) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    return {"label": text_of(text_object(value.get("text"), names)), "value": _str(value.get("value")) or ""}


def _options(element: dict[str, Any], names: Names) -> list[dict[str, Any]]:
    raw = element.get("options")
    if not isinstance(raw, list):
        groups = element.get("option_groups")
        raw = [o for g in groups if isinstance(g, dict) for o in (g.get("options") or [])] if isinstance(
            groups, list) else []
    return [o for o in (_option(item, names) for item in raw) if o is not None]


def _initial(element: dict[str, Any], source: str) -> list[str]:
    """The values a select shows as chosen when the message is posted."""
    keys = {
        "static": ("initial_option", "initial_options"),
        "external": ("initial_option", "initial_options"),
        "users": ("initial_user", "initial_users"),
        "conversations": ("initial_conversation", "initial_conversations"),
        "channels": ("initial_channel", "initial_channels"),
    }[source]
    chosen: list[Any] = []
    for key in keys:
        value = element.get(key)
        chosen.extend(value if isinstance(value, list) else [value] if value is not None else [])
    out = []
    for item in chosen:
        if isinstance(item, dict):
            out.append(_str(item.get("value")) or "")
        elif isinstance(item, str):
            out.append(item)
    return out


def element(value: Any, names: Names) -> dict[str, Any]:
    """An interactive or image element (of an actions block, or a section's accessory)."""
    if not isinstance(value, dict):
        return {"t": "element", "type": "?", "label": ""}
    kind = _str(value.get("type")) or "?"
    action_id = _str(value.get("action_id")) or ""
    if kind == "button":
        url = _str(value.get("url"))
        return {
            "t": "button",
            "label": text_of(text_object(value.get("text"), names)),
            "action_id": action_id,
            "value": _str(value.get("value")),
            "style": value.get("style") if value.get("style") in ("primary", "danger") else None,
            "url": safe_href(url) if url else None,
            "a11y": _str(value.get("accessibility_label")),
        }
    if kind in _SELECT_SOURCES:
        source, multi = _SELECT_SOURCES[kind]
        return {
            "t": "select",
            "type": kind,
            "multi": multi,
            "source": source,
            "action_id": action_id,
            "placeholder": text_of(text_object(value.get("placeholder"), names)),
            "options": _options(value, names) if source == "static" else [],
            "initial": _initial(value, source),
        }
    if kind == "overflow":
        return {"t": "overflow", "action_id": action_id, "options": _options(value, names)}
    if kind == "image":
        return _image(value.get("image_url"), value.get("alt_text"))
    label = text_of(text_object(value.get("text") or value.get("placeholder"), names))
    return {"t": "element", "type": kind, "label": label, "action_id": action_id}


def _rich_style(node: Node, style: Any) -> Node:
    if not isinstance(style, dict):
        return node
    if style.get("code"):
        return {"t": "code", "v": text_of([node])}
    for key, tag in (("strike", "s"), ("italic", "i"), ("bold", "b")):
        if style.get(key):
            node = {"t": tag, "c": [node]}
    return node


def _rich_inline(item: Any, names: Names) -> list[Node]:
    """One element of a rich_text section (text, link, emoji, user, channel, usergroup, broadcast, date)."""
    if not isinstance(item, dict):
        return []
    kind = item.get("type")
    node: Node
    if kind == "text":
        text = _str(item.get("text")) or ""
        lines = text.split("\n")
        parts: list[Node] = []
        for n, line in enumerate(lines):
            if n:
                parts.append({"t": "br"})
            if line:
                parts.append(_rich_style(line, item.get("style")))
        return parts
    if kind == "link":
        url = _str(item.get("url")) or ""
        label = _str(item.get("text")) or url
        href = safe_href(url)
        node = {"t": "link", "href": href, "c": [label]} if href else label
    elif kind == "emoji":
        name = _str(item.get("name")) or ""
        unicode = _str(item.get("unicode"))
        char = None
        if unicode:
            try:
                char = "".join(chr(int(code, 16)) for code in unicode.split("-"))
            except (ValueError, OverflowError):
                char = None
        node = {"t": "emoji", "name": name, "char": char} if char else (
            mrkdwn(f":{name}:", names)[0] if name else "")
    elif kind == "user":
        user = _str(item.get("user_id")) or ""
        node = {"t": "mention", "kind": "user", "id": user, "label": f"@{names.user_name(user) or user}"}
    elif kind == "channel":
        channel = _str(item.get("channel_id")) or ""
        node = {"t": "mention", "kind": "channel", "id": channel, "label": f"#{names.channel_name(channel) or channel}"}
    elif kind == "usergroup":
        group = _str(item.get("usergroup_id")) or ""
        node = {"t": "mention", "kind": "group", "id": group, "label": f"@{names.group_handle(group) or group}"}
    elif kind == "broadcast":
        scope = _str(item.get("range")) or "here"
        node = {"t": "mention", "kind": "special", "id": scope, "label": f"@{scope}"}
    elif kind == "date":
        stamp = item.get("timestamp")
        if not isinstance(stamp, int) or isinstance(stamp, bool):
            return [_str(item.get("fallback")) or ""]
        node = {"t": "date", "epoch": stamp, "format": _str(item.get("format")) or "{date_short}",
                "fallback": _str(item.get("fallback")) or ""}
    elif kind == "color":
        node = _str(item.get("value")) or ""
    else:
        return [_str(item.get("text")) or ""]
    return [_rich_style(node, item.get("style"))]


def _rich_section(value: Any, names: Names) -> list[Node]:
    items = value.get("elements") if isinstance(value, dict) else None
    return [n for item in (items if isinstance(items, list) else []) for n in _rich_inline(item, names)]


def _rich_part(value: Any, names: Names) -> dict[str, Any]:
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "rich_text_list" and isinstance(value, dict):
        items = value.get("elements")
        return {
            "t": "list",
            "ordered": value.get("style") == "ordered",
            "indent": value.get("indent") if isinstance(value.get("indent"), int) else 0,
            "items": [_rich_section(i, names) for i in (items if isinstance(items, list) else [])],
        }
    if kind == "rich_text_preformatted":
        return {"t": "pre", "v": text_of(_rich_section(value, names))}
    if kind == "rich_text_quote":
        return {"t": "quote", "c": _rich_section(value, names)}
    return {"t": "p", "c": _rich_section(value, names)}


def _words(value: Any, limit: int = 500) -> str:
    """The ``text`` strings found anywhere in ``value`` (what an unknown block says)."""
    found: list[str] = []

    def walk(item: Any, depth: int) -> None:
        if depth > 20 or sum(len(f) for f in found) > limit:
            return
        if isinstance(item, dict):
            for key, inner in item.items():
                if key in ("text", "title", "alt_text", "fallback") and isinstance(inner, str):
                    found.append(inner)
                else:
                    walk(inner, depth + 1)
        elif isinstance(item, list):
            for inner in item:
                walk(inner, depth + 1)

    walk(value, 0)
    return " · ".join(found)[:limit]


def unknown(value: Any) -> dict[str, Any]:
    """A block shown as what it is: its type, its words and its JSON."""
    try:
        shown = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        shown = repr(value)
    if len(shown) > _JSON_SHOWN:
        shown = shown[:_JSON_SHOWN] + "\n…"
    kind = value.get("type") if isinstance(value, dict) else None
    return {"t": "unknown", "type": kind if isinstance(kind, str) else type(value).__name__,
            "summary": _words(value), "json": shown}


def block(value: Any, names: Names) -> dict[str, Any]:
    """One block as a view node (``unknown`` for a type the page does not lay out, or a malformed one)."""
    if not isinstance(value, dict):
        return unknown(value)
    kind = value.get("type")
    block_id = _str(value.get("block_id"))
    if kind == "header":
        return {"t": "header", "c": text_object(value.get("text"), names)}
    if kind == "section":
        fields = value.get("fields")
        accessory = value.get("accessory")
        return {
            "t": "section",
            "block_id": block_id,
            "text": text_object(value.get("text"), names),
            "fields": [text_object(f, names) for f in fields] if isinstance(fields, list) else [],
            "accessory": element(accessory, names) if isinstance(accessory, dict) else None,
        }
    if kind == "context":
        items = value.get("elements")
        shown: list[dict[str, Any]] = []
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and item.get("type") == "image":
                shown.append(_image(item.get("image_url"), item.get("alt_text")))
            else:
                shown.append({"t": "text", "c": text_object(item, names)})
        return {"t": "context", "c": shown}
    if kind == "divider":
        return {"t": "divider"}
    if kind == "image":
        image = _image(value.get("image_url"), value.get("alt_text"))
        return {"t": "image", "src": image["src"], "alt": image["alt"],
                "title": text_of(text_object(value.get("title"), names))}
    if kind == "actions":
        elements = value.get("elements")
        return {"t": "actions", "block_id": block_id,
                "elements": [element(e, names) for e in (elements if isinstance(elements, list) else [])]}
    if kind == "rich_text":
        parts = value.get("elements")
        return {"t": "rich", "c": [_rich_part(p, names) for p in (parts if isinstance(parts, list) else [])]}
    if kind == "markdown" and isinstance(value.get("text"), str):
        return {"t": "text", "c": mrkdwn(value["text"], names)}
    return unknown(value)


def blocks(value: Any, names: Names) -> list[dict[str, Any]]:
    """A message's ``blocks`` as view nodes (a value that is not a list: one ``unknown`` node)."""
    if not isinstance(value, list):
        return [unknown(value)]
    out = []
    for item in value:
        try:
            out.append(block(item, names))
        except RecursionError:  # absurdly nested JSON: shown as what it is rather than failing the page
            out.append(unknown(item))
    return out
