"""How a question waits in chat, and where it is asked: the arguments every asking task shares, checked
once, when the DAG is parsed.

`ChatWait`: ``poll_interval``, ``reconcile_interval`` (at least the poll interval), ``remind_after`` and
``max_reminders``. `Destination`: a channel (id or name; None for the connection's default), or people
asked directly: one Slack user id (a direct message) or a list of 2 to 8 (a group direct message, Slack's
most); ``conversations.open`` turns people into the conversation's id when the task runs.

Pure: no I/O, no Airflow imports.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from airflow_chat_alerts.exceptions import ChatConfigError

MAX_GROUP_DM = 8  # people in a group direct message besides the app (conversations.open)
_USER_ID = re.compile(r"[UW][A-Z0-9]+")


def positive_seconds(value: timedelta | float | int, name: str) -> float:
    """``value`` (seconds or a timedelta) as a positive number of seconds.

    :raises ChatConfigError: not a positive finite number of seconds (named ``name``).
    """
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds <= 0:
        raise ChatConfigError(f"{name} must be a positive number of seconds or a timedelta, got {value!r}")
    return float(seconds)


@dataclass(frozen=True)
class ChatWait:
    """How often a waiting question is read and its approvers reminded.

    :param poll_interval: seconds between reads while answers are not pushed.
    :param reconcile_interval: seconds between reads while they are (Socket Mode); at least ``poll_interval``.
    :param remind_after: seconds between reminders, or None for none.
    :param max_reminders: at most this many reminders.
    """

    poll_interval: float = 10.0
    reconcile_interval: float = 300.0
    remind_after: float | None = None
    max_reminders: int = 3

    @classmethod
    def of(
        cls,
        *,
        poll_interval: timedelta | float = 10.0,
        reconcile_interval: timedelta | float = 300.0,
        remind_after: timedelta | float | None = None,
        max_reminders: int = 3,
    ) -> ChatWait:
        """The arguments as a DAG gives them (seconds or timedeltas), checked.

        :raises ChatConfigError: a non-positive interval, ``reconcile_interval`` below ``poll_interval``, or
            ``max_reminders`` that is not a whole number >= 0.
        """
        poll = positive_seconds(poll_interval, "poll_interval")
        reconcile = positive_seconds(reconcile_interval, "reconcile_interval")
        if reconcile < poll:
            raise ChatConfigError(
                f"reconcile_interval ({reconcile:g} s) must be at least poll_interval ({poll:g} s): "
                f"reads slow down to it while answers are pushed, they never speed up"
            )
        remind = positive_seconds(remind_after, "remind_after") if remind_after is not None else None
        if isinstance(max_reminders, bool) or not isinstance(max_reminders, int) or max_reminders < 0:
            raise ChatConfigError(f"max_reminders must be a whole number >= 0, got {max_reminders!r}")
        return cls(poll_interval=poll, reconcile_interval=reconcile, remind_after=remind, max_reminders=max_reminders)


@dataclass(frozen=True)
class Destination:
    """Where a question is asked.

    :param channel: a channel id or name (or a template of one); None for the connection's default.
    :param people: Slack user ids asked directly: one (a direct message) or 2 to 8 (a group direct message).
    """

    channel: str | None = None
    people: tuple[str, ...] = ()

    @classmethod
    def of(cls, value: Any) -> Destination:
        """Read the ``channel`` argument: None, a channel (id, name or template), a user id, or a list of
        user ids.

        :raises ChatConfigError: a list that is not 1 to 8 distinct Slack user ids, or neither text nor a list.
        """
        if value is None:
            return cls()
        if isinstance(value, str):
            text = value.strip()
            if not text:
                raise ChatConfigError("channel is empty: give a channel id or name, user id(s), or None")
            return cls(people=(text,)) if _USER_ID.fullmatch(text) else cls(channel=text)
        if isinstance(value, Sequence):
            people = tuple(dict.fromkeys(str(v).strip() for v in value))
            bad = [p for p in people if not _USER_ID.fullmatch(p)]
            if bad or not all(isinstance(v, str) for v in value):
                raise ChatConfigError(
                    f"channel as a list names people to ask directly: Slack user ids (U… or W…), "
                    f"got {list(value)!r:.200}"
                )
            if not 1 <= len(people) <= MAX_GROUP_DM:
                raise ChatConfigError(
                    f"channel names {len(people)} people: a group direct message holds 1 to {MAX_GROUP_DM} "
                    f"besides the app"
                )
            return cls(people=people)
        raise ChatConfigError(f"channel must be a channel, a Slack user id or a list of them, got {value!r:.100}")

    @property
    def direct(self) -> bool:
        """Whether the question goes to people directly (``conversations.open``: ``im:write`` for one person,
        ``mpim:write`` for several)."""
        return bool(self.people)
