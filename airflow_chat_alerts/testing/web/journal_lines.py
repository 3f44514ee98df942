"""A journal call's arguments in one line for the page's side panel, whatever the chat service."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol


class Names(Protocol):
    """Channel and people names by id (a source's directory)."""

    def channel_name(self, channel_id: str) -> str | None: ...

    def user_name(self, user_id: str) -> str | None: ...


def summarize(
    args: dict[str, Any],
    names: Names,
    *,
    channel_keys: Collection[str],
    user_keys: Collection[str],
    counted: Collection[str],
    omitted: Collection[str],
    limit: int = 160,
) -> str:
    """``args`` in one line: the values under ``channel_keys`` and ``user_keys`` by name, those under
    ``counted`` (blocks, embeds, files) counted, those under ``omitted`` (secrets, opaque ids) left out,
    long texts cut."""
    parts = []
    for key, value in args.items():
        if key in omitted:
            continue
        if key in counted:
            parts.append(f"{key}[{len(value) if isinstance(value, (list, dict)) else '…'}]")
            continue
        if key in channel_keys and isinstance(value, str):
            name = names.channel_name(value)
            value = f"#{name}" if name else value
        elif key in user_keys and isinstance(value, str):
            value = names.user_name(value) or value
        shown = str(value).replace("\n", " ")
        parts.append(f"{key}={shown[:60]}{'…' if len(shown) > 60 else ''}")
    line = " ".join(parts)
    return line if len(line) <= limit else line[: limit - 1] + "…"
