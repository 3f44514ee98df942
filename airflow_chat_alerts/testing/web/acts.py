"""What a person does in the web page (post, reply, react, edit, delete, press a button, choose in a
menu), read from the page's request and checked for shape only.

Whether the act is allowed is not decided here: the chat source carries it out through the emulator's
own paths (``act_as``), so the emulator's rules, rate limits and faults answer it as they answer code.
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ActKind = Literal["post", "reply", "react", "unreact", "edit", "delete", "click", "select"]

# The fields each kind needs besides ``as`` (who acts) and ``channel``.
REQUIRED: dict[str, tuple[str, ...]] = {
    "post": ("text",),
    "reply": ("thread_ts", "text"),
    "react": ("ts", "name"),
    "unreact": ("ts", "name"),
    "edit": ("ts", "text"),
    "delete": ("ts",),
    "click": ("ts", "action_id"),
    "select": ("ts", "action_id", "values"),
}
MAX_TEXT = 40_000  # Slack's own limit on a message's text; the emulator answers longer ones itself
MAX_FIELD = 255


class BadAct(ValueError):
    """A request from the page that does not say a complete act (what is wrong, in words)."""


@dataclass(frozen=True)
class Act:
    """One act of a person in the page.

    :param kind: ``post``, ``reply``, ``react``, ``unreact``, ``edit``, ``delete``, ``click`` or ``select``.
    :param actor: the person acting (a user id or name of the workspace).
    :param channel: the channel (id).
    :param text: what is posted, replied or the new text of an edit.
    :param ts: the message acted on.
    :param thread_ts: the thread replied in.
    :param name: the emoji short name of a reaction.
    :param action_id: the button or menu pressed.
    :param value: the pressed button's value (several buttons may share an action_id).
    :param values: the values chosen in a menu.
    :param block_id: the block holding the button or menu.
    """

    kind: ActKind
    actor: str
    channel: str
    text: str | None = None
    ts: str | None = None
    thread_ts: str | None = None
    name: str | None = None
    action_id: str | None = None
    value: str | None = None
    values: tuple[str, ...] = ()
    block_id: str | None = None


def _field(body: dict[str, Any], key: str, limit: int = MAX_FIELD) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadAct(f"'{key}' must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise BadAct(f"'{key}' is longer than {limit} characters")
    return value


def parse_act(body: Any) -> Act:
    """The act in a JSON request body.

    :raises BadAct: the body is no object, names no known act, or lacks a field the act needs.
    """
    if not isinstance(body, dict):
        raise BadAct("the request must be a JSON object")
    kind = body.get("action")
    if kind not in REQUIRED:
        raise BadAct(f"unknown action {kind!r}; one of {', '.join(REQUIRED)}")
    actor = _field(body, "as")
    channel = _field(body, "channel")
    if not actor:
        raise BadAct("'as' (the person acting) is missing")
    if not channel:
        raise BadAct("'channel' is missing")
    values = body.get("values", [])
    if not isinstance(values, list) or not all(isinstance(v, str) and len(v) <= MAX_FIELD for v in values):
        raise BadAct("'values' must be a list of strings")
    act = Act(
        kind=kind,
        actor=actor,
        channel=channel,
        text=_field(body, "text", MAX_TEXT + 1),
        ts=_field(body, "ts"),
        thread_ts=_field(body, "thread_ts"),
        name=_field(body, "name"),
        action_id=_field(body, "action_id"),
        value=_field(body, "value", 2_000),
        values=tuple(values),
        block_id=_field(body, "block_id"),
    )
    missing = [key for key in REQUIRED[kind] if key != "values" and getattr(act, key) is None]
    if "values" in REQUIRED[kind] and "values" not in body:
        missing.append("values")
    if missing:
        raise BadAct(f"'{kind}' needs {', '.join(repr(m) for m in missing)}")
    return act
