"""Discord message ids as the package's ``ts``: one string that addresses a message and says when it was
posted, so that every rule written with times (deadlines, reminders, answers in time order) reads Discord
messages as it reads Slack's.

A snowflake is ``(milliseconds since 2015-01-01) << 22 | 22 bits`` (worker, process, increment). Its ``ts``
is ``"<unix seconds>.<milliseconds: 3 digits><the 22 bits: 7 digits>"``: a decimal number of seconds (to
the millisecond, plus a fraction of one that keeps the ids apart), ordered as the ids are, and turned back
into the id exactly. Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from airflow_chat_alerts.exceptions import ChatConfigError

DISCORD_EPOCH_MS = 1_420_070_400_000
_LOW_BITS = 22
_LOW_MASK = (1 << _LOW_BITS) - 1
_ID_TS = re.compile(r"([0-9]{1,12})\.([0-9]{3})([0-9]{7})")


def ts_of(snowflake: int | str) -> str:
    """The ``ts`` of a Discord id (message, interaction, thread).

    :param snowflake: the id, as Discord gives it (a string of digits) or an int.
    """
    value = int(snowflake)
    ms = (value >> _LOW_BITS) + DISCORD_EPOCH_MS
    return f"{ms // 1000}.{ms % 1000:03d}{value & _LOW_MASK:07d}"


def id_of(ts: str) -> int:
    """The Discord id a ``ts`` of :func:`ts_of` names.

    :raises ChatConfigError: ``ts`` is not a Discord message's ``ts`` (a Slack ts, say).
    """
    match = _ID_TS.fullmatch(ts or "")
    if match is None:
        raise ChatConfigError(
            f"malformed Discord message ts {ts!r}: expected the '<seconds>.<10 digits>' form the package gives a "
            f"Discord message id"
        )
    seconds, millis, low = (int(part) for part in match.groups())
    return ((seconds * 1000 + millis - DISCORD_EPOCH_MS) << _LOW_BITS) | low


def is_id_ts(ts: str) -> bool:
    """Whether ``ts`` is a Discord message's ``ts`` (:func:`ts_of`) rather than a plain time."""
    return _ID_TS.fullmatch(ts or "") is not None


def first_id_at(ts: str) -> int:
    """The smallest Discord id made at or after ``ts``: the id itself for a message's ``ts``, else the first
    id of the millisecond that time falls in (or after it).

    :raises ChatConfigError: ``ts`` is not a number of seconds.
    """
    if is_id_ts(ts):
        return id_of(ts)
    try:
        seconds = Decimal(ts)
    except (InvalidOperation, TypeError, ValueError):
        raise ChatConfigError(f"malformed ts {ts!r}: expected seconds since 1970") from None
    ms = math.ceil(seconds * 1000)
    return max(0, ms - DISCORD_EPOCH_MS) << _LOW_BITS


def time_ts(moment: datetime) -> str:
    """A time as a ``ts`` to compare with message ``ts`` (seconds, 6 decimals): an edit's time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return f"{moment.timestamp():.6f}"


def id_time(snowflake: int | str) -> datetime:
    """When Discord made an id (to the millisecond), as an aware UTC datetime."""
    ms = (int(snowflake) >> _LOW_BITS) + DISCORD_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, timezone.utc)
