"""Menus in messages: a person's selection in a static select or a multi-select of a message, as Slack
reports it.

Choosing in a menu of a message's ``actions`` block (or a section's accessory) sends ``block_actions`` at
once: the action carries ``selected_option`` (a static select) or ``selected_options`` (a multi-select),
with the menu's ``placeholder``. Every ``block_actions`` payload on a message, a button's too, carries
``state.values``: each menu of the message with what this person has selected in it, or its initial
selection while they have not touched it. Selections are each person's own (Slack keeps them in the
person's client); the emulator keeps them per (channel, message, person).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

from airflow_chat_alerts.testing.state import Message

MENUS = ("static_select", "multi_static_select")


class MenuNotFound(LookupError):
    """A selection in a menu the message does not carry, or of an option the menu does not have."""


def message_elements(msg: Message) -> Iterator[tuple[str, dict[str, Any]]]:
    """(block_id, element) of every element of a message's actions blocks and sections' accessories (a
    block the app left unnamed gets a stable id, as Slack gives every block one when it is posted)."""
    for index, block in enumerate(msg.blocks or []):
        if not isinstance(block, dict):
            continue
        block_id = block.get("block_id") or hashlib.sha1(f"{msg.ts}/{index}".encode()).hexdigest()[:5]
        if block.get("type") == "actions":
            candidates = block.get("elements") or []
        else:
            candidates = [block["accessory"]] if isinstance(block.get("accessory"), dict) else []
        for element in candidates:
            if isinstance(element, dict):
                yield block_id, element


def find_menu(msg: Message, action_id: str) -> tuple[str, dict[str, Any]]:
    """(block_id, element) of the menu ``action_id`` in the message.

    :raises MenuNotFound: the message carries no such menu.
    """
    for block_id, element in message_elements(msg):
        if element.get("type") in MENUS and element.get("action_id") == action_id:
            return block_id, element
    raise MenuNotFound(f"message {msg.ts} has no menu {action_id}")


def menu_options(element: dict[str, Any]) -> list[dict[str, Any]]:
    """Every option of a menu, its groups' options included."""
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


def pick(element: dict[str, Any], wanted: Sequence[str]) -> list[dict[str, Any]]:
    """The menu's options whose value (or text) is in ``wanted``, in ``wanted``'s order.

    :raises MenuNotFound: one of ``wanted`` is not an option of the menu.
    """
    options = menu_options(element)
    picked = []
    for want in wanted:
        option = next((o for o in options if o.get("value") == want or (o.get("text") or {}).get("text") == want), None)
        if option is None:
            raise MenuNotFound(f"menu {element.get('action_id')} has no option {want!r}")
        picked.append(copy.deepcopy(option))
    return picked


def menu_state(element: dict[str, Any], selected: list[dict[str, Any]] | None) -> dict[str, Any]:
    """One menu's entry in ``state.values``: the person's selection, else the menu's initial one."""
    if element["type"] == "multi_static_select":
        chosen = selected if selected is not None else copy.deepcopy(element.get("initial_options") or [])
        return {"type": "multi_static_select", "selected_options": chosen}
    one = copy.deepcopy(element.get("initial_option")) if selected is None else (selected[0] if selected else None)
    return {"type": "static_select", "selected_option": one}


def message_state(msg: Message, selections: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    """``state.values`` of a message for one person: block_id → action_id → the menu's state.

    :param msg: the message.
    :param selections: the person's selections in it: block_id → action_id → options chosen.
    """
    values: dict[str, dict[str, Any]] = {}
    for block_id, element in message_elements(msg):
        if element.get("type") in MENUS and element.get("action_id"):
            chosen = selections.get(block_id, {}).get(element["action_id"])
            values.setdefault(block_id, {})[element["action_id"]] = menu_state(element, chosen)
    return values


def select_action(
    element: dict[str, Any], block_id: str, chosen: list[dict[str, Any]], action_ts: str
) -> dict[str, Any]:
    """The ``actions[0]`` of a selection in a menu."""
    action: dict[str, Any] = {"type": element["type"], "action_id": element["action_id"], "block_id": block_id}
    if element["type"] == "multi_static_select":
        action["selected_options"] = chosen
    else:
        action["selected_option"] = chosen[0]
    if "placeholder" in element:
        action["placeholder"] = copy.deepcopy(element["placeholder"])
    action["action_ts"] = action_ts
    return action
