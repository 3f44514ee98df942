"""A readable rendering of a channel: names instead of ids, threads indented, reactions, edits."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from airflow_chat_alerts.testing.state import ChannelState, Message, State

# `<@U…>` mentions, and the `<U…|@name>` form of Slack's channel_archive message text.
_USER_MENTION = re.compile(r"<@?([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_GROUP_MENTION = re.compile(r"<!subteam\^([A-Z0-9]+)(?:\|[^>]*)?>")


def _clock(ts: str) -> str:
    return datetime.fromtimestamp(float(ts), tz=timezone.utc).strftime("%H:%M:%S")


def _block_text(blocks: list[dict[str, Any]]) -> str:
    parts = []
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict) and text.get("text"):
            parts.append(str(text["text"]))
        for element in block.get("elements") or []:
            if isinstance(element, dict) and isinstance(element.get("text"), str):
                parts.append(element["text"])
    return " | ".join(parts)


def _buttons(blocks: list[dict[str, Any]]) -> list[str]:
    """The labels of the buttons in a message's ``actions`` blocks, as people see them."""
    return [
        str((element.get("text") or {}).get("text") or element.get("action_id") or "")
        for block in blocks
        if isinstance(block, dict) and block.get("type") == "actions"
        for element in block.get("elements") or []
        if isinstance(element, dict) and element.get("type") == "button"
    ]


def _names(state: State, text: str) -> str:
    def user(m: re.Match[str]) -> str:
        u = state.users.get(m.group(1))
        return f"@{u.name}" if u else m.group(0)

    def group(m: re.Match[str]) -> str:
        g = next((g for g in state.workspace.usergroups if g.id == m.group(1)), None)
        return f"@{g.handle}" if g else m.group(0)

    return _GROUP_MENTION.sub(group, _USER_MENTION.sub(user, text))


def _author(state: State, msg: Message) -> str:
    if msg.tombstone:
        return "(deleted)"
    if msg.subtype == "bot_message":
        bot = next((u for u in state.users.values() if u.bot_id == msg.bot_id), None)
        return f"{bot.name if bot else msg.bot_id} [webhook]"
    user = state.users.get(msg.user or "")
    if user is None:
        return msg.user or "?"
    return f"{user.name} [bot]" if user.is_bot else user.name


def _line(state: State, msg: Message, indent: str) -> list[str]:
    text = msg.text or (_block_text(msg.blocks) if msg.blocks else "")
    text = _names(state, text).replace("\n", "\n" + indent + "    ")
    extras = []
    if msg.edited:
        extras.append("(edited)")
    if msg.reply_broadcast:
        extras.append("(also sent to the channel)")
    if msg.metadata:
        extras.append(f"[metadata: {msg.metadata.get('event_type')}]")
    for f in msg.files:
        extras.append(f"[file: {f.get('name')}]")
    lines = [f"{indent}{_clock(msg.ts)} {_author(state, msg)}: {text}" + (" " + " ".join(extras) if extras else "")]
    buttons = _buttons(msg.blocks or [])
    if buttons:
        lines.append(f"{indent}    buttons: " + " ".join(f"[{label}]" for label in buttons))
    if msg.reactions:
        shown = ", ".join(
            f":{name}: " + " ".join(state.users[u].name if u in state.users else u for u in users)
            for name, users in msg.reactions.items()
        )
        lines.append(f"{indent}    reactions: {shown}")
    return lines


def render_transcript(state: State, channel_id: str) -> str:
    ch: ChannelState = state.channels[channel_id]
    flags = [f for f, on in (("private", ch.is_private), ("archived", ch.is_archived)) if on]
    title = f"#{ch.name}"
    if ch.kind != "channel":  # a direct message: who is in it
        title = "direct message with " + ", ".join(f"@{state.users[m].name}" for m in ch.members)
        flags = [f for f in flags if f != "private"]
    lines = [title + (f" ({', '.join(flags)})" if flags else "")]
    for msg in ch.messages.values():
        if msg.is_reply:
            continue
        lines.extend(_line(state, msg, ""))
        for reply in ch.replies(msg.ts):
            lines.extend(_line(state, reply, "    └ "))
    if len(lines) == 1:
        lines.append("(no messages)")
    return "\n".join(lines)
