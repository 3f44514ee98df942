"""A readable rendering of a Discord channel for the demo and for test failures: names instead of
ids, replies marked, threads indented under their starter, reactions, buttons, edits."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from airflow_chat_alerts.testing.discord.state import Channel, Message, State

_USER = re.compile(r"<@!?(\d+)>")
_ROLE = re.compile(r"<@&(\d+)>")


def _names(state: State, text: str) -> str:
    text = _USER.sub(lambda m: f"@{state.members[m.group(1)].name}" if m.group(1) in state.members else m.group(0),
                     text)
    return _ROLE.sub(lambda m: f"@{state.guild.roles[m.group(1)].name}" if m.group(1) in state.guild.roles
                     else m.group(0), text)


def _line(state: State, msg: Message, indent: str) -> list[str]:
    author = state.members.get(msg.author_id)
    who = (author.name + (" [bot]" if author.bot else "")) if author else f"{msg.webhook_name or 'webhook'} [webhook]"
    clock = datetime.fromtimestamp(msg.created, tz=timezone.utc).strftime("%H:%M:%S")
    text = _names(state, msg.content)
    if msg.reference:
        text = f"(reply to {msg.reference['message_id']}) {text}"
    for embed in msg.embeds:
        text += f" [embed: {embed.get('title') or embed.get('description') or ''}]"
    for att in msg.attachments:
        text += f" [file: {att['filename']}]"
    if msg.edited is not None:
        text += " (edited)"
    lines = [f"{indent}{clock} {who}: {text}".rstrip()]
    buttons = [str(c.get("label") or c.get("custom_id")) for row in msg.components for c in row.get("components", [])]
    if buttons:
        lines.append(f"{indent}    buttons: " + " ".join(f"[{b}]" for b in buttons))
    if msg.reactions:
        shown = "  ".join(f"{key} " + ", ".join(state.members[u].name for u in users if u in state.members)
                          for key, users in msg.reactions.items())
        lines.append(f"{indent}    reactions: {shown}")
    return lines


def render_transcript(state: State, channel_id: str) -> str:
    ch: Channel = state.channel(channel_id)
    lines = [f"#{ch.name}"]
    for msg in ch.messages.values():
        lines.extend(_line(state, msg, ""))
        thread = state.channels.get(msg.thread_id or "")
        if thread is not None:
            lines.append(f"    └ thread {thread.name!r}")
            for reply in thread.messages.values():
                lines.extend(_line(state, reply, "      "))
    return "\n".join(lines)
