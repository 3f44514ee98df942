"""What Slack's answers must look like before the package reads them.

Each reader checks one answer (or one message in it) against the shape Slack documents for it and
returns it unchanged, or raises :class:`SlackShapeError` saying what is wrong. The Slack alerter turns
that error, and only that error, into a transient ``malformed_response`` (a garbled answer is worth
another try); past these checks the package's own code runs unguarded, so a bug in it fails loudly with
its traceback instead of being retried as if Slack had garbled something.

Pure: no I/O, no slack_sdk import.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_TS = re.compile(r"[0-9]+\.[0-9]+")

Json = Mapping[str, Any]


class SlackShapeError(ValueError):
    """A Slack answer lacks what Slack always sends, or has it in another form."""


def _mapping(value: Any, what: str) -> Json:
    if not isinstance(value, Mapping):
        raise SlackShapeError(f"{what} is {type(value).__name__}, not an object")
    return value


def _list(value: Any, what: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise SlackShapeError(f"{what} is {type(value).__name__}, not a list")
    return value


def _optional(data: Json, key: str, kind: type | tuple[type, ...], what: str) -> None:
    value = data.get(key)
    if value is not None and not isinstance(value, kind):
        raise SlackShapeError(f"{what}.{key} is {type(value).__name__}")


def _ts(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _TS.fullmatch(value):
        raise SlackShapeError(f"{what} is {value!r}, not a Slack ts")
    return value


def message(value: Any, what: str = "message") -> Json:
    """A message as history, replies, reactions.get and events list it."""
    msg = _mapping(value, what)
    _ts(msg.get("ts"), f"{what}.ts")
    for key in ("user", "text", "subtype", "bot_id"):
        _optional(msg, key, str, what)
    for key in ("thread_ts", "latest_reply"):
        if msg.get(key) is not None:
            _ts(msg[key], f"{what}.{key}")
    reply_count = msg.get("reply_count")
    if reply_count is not None and (isinstance(reply_count, bool) or not isinstance(reply_count, int)):
        raise SlackShapeError(f"{what}.reply_count is {reply_count!r}")
    _optional(msg, "metadata", Mapping, what)
    if msg.get("edited") is not None:
        edited = _mapping(msg["edited"], f"{what}.edited")
        if edited.get("ts") is not None:
            _ts(edited["ts"], f"{what}.edited.ts")
    for i, reaction in enumerate(_list(msg.get("reactions") or [], f"{what}.reactions")):
        reaction = _mapping(reaction, f"{what}.reactions[{i}]")
        if not isinstance(reaction.get("name"), str):
            raise SlackShapeError(f"{what}.reactions[{i}].name is missing")
        users = _list(reaction.get("users"), f"{what}.reactions[{i}].users")
        if not all(isinstance(user, str) for user in users):
            raise SlackShapeError(f"{what}.reactions[{i}].users holds something other than user ids")
        count = reaction.get("count")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
            raise SlackShapeError(f"{what}.reactions[{i}].count is {count!r}")
    return msg


def messages(data: Any, key: str = "messages") -> list[Json]:
    """The messages of a history or replies page (``key``), each checked."""
    page = _mapping(data, "the answer")
    return [message(item, f"{key}[{i}]") for i, item in enumerate(_list(page.get(key) or [], key))]


def posted(data: Any) -> Json:
    """The answer to chat.postMessage: the message's ``ts`` and ``channel``."""
    answer = _mapping(data, "the answer")
    _ts(answer.get("ts"), "ts")
    _optional(answer, "channel", str, "the answer")
    return answer


def user(data: Any) -> Json:
    """The ``user`` of a users.info answer."""
    record = _mapping(_mapping(data, "the answer").get("user"), "user")
    _optional(record, "team_id", str, "user")
    return record


def user_ids(data: Any, key: str) -> list[str]:
    """A list of user ids under ``key`` (usergroups.users.list ``users``; absent: none)."""
    ids = _list(_mapping(data, "the answer").get(key) or [], key)
    if not all(isinstance(item, str) for item in ids):
        raise SlackShapeError(f"{key} holds something other than user ids")
    return list(ids)


def channel(data: Any) -> Json:
    """The ``channel`` of a conversations.info answer."""
    return _mapping(_mapping(data, "the answer").get("channel"), "channel")


def channels(data: Any) -> list[Json]:
    """The ``channels`` of a conversations.list page, each with an ``id`` and a ``name``."""
    found = []
    for i, item in enumerate(_list(_mapping(data, "the answer").get("channels") or [], "channels")):
        conversation = _mapping(item, f"channels[{i}]")
        if not isinstance(conversation.get("id"), str) or not isinstance(conversation.get("name"), str):
            raise SlackShapeError(f"channels[{i}] lacks its id or name")
        found.append(conversation)
    return found


def reacted_message(data: Any) -> Json:
    """The ``message`` of a reactions.get answer."""
    return message(_mapping(data, "the answer").get("message"), "message")


def next_cursor(data: Any) -> str | None:
    """The cursor of the next page, or None on the last page."""
    meta = _mapping(data, "the answer").get("response_metadata") or {}
    cursor = _mapping(meta, "response_metadata").get("next_cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise SlackShapeError("response_metadata.next_cursor is not a string")
    return cursor or None
