"""Small helpers the worker and the triggerer share: times and limits. Cheap to import (Airflow's
configuration is read only by :func:`deferral_settled_at`, on the worker)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from airflow_chat_alerts.exceptions import ChatConfigError

T = TypeVar("T")

# A timeout is declared only after a complete read made at or after the deadline shows no decision, so an
# answer given just before it (or while no triggerer ran) still counts. Reads keep being tried this long
# after the deadline; if none comes through (Slack down, rate-limited), the ask fails with an error
# instead of applying on_timeout to a question nobody could read.
LAST_READ_LIMIT = timedelta(minutes=15)

# Airflow 3.3's scheduler can fail a deferred task whose trigger fires before it has processed the exit of
# the process that deferred it (apache/airflow#72716). A trigger therefore hands its event back no earlier
# than this long after the deferral: Airflow's [chat_alerts] deferral_settle_seconds, read by the worker.
DEFERRAL_SETTLE_SECONDS = 10.0


def parse_utc(value: str) -> datetime:
    """An ISO-8601 instant as an aware UTC datetime (a naive one is taken as UTC).

    :param value: the ISO-8601 text, e.g. a question's deadline.
    :raises ChatConfigError: ``value`` is not an ISO-8601 time.
    """
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ChatConfigError(f"expected an ISO-8601 UTC time, got {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def utc_iso(moment: datetime) -> str:
    """An aware datetime as ISO-8601 text in UTC (what :func:`parse_utc` reads back).

    :param moment: an aware datetime.
    """
    return moment.astimezone(timezone.utc).isoformat()


def ts_key(ts: str) -> Decimal:
    """A Slack ``ts`` ("1712345678.000200") as the one exact type the package compares them as.

    Slack's ts is a string, unique and increasing within a channel; as a float it loses the last
    digits, so two replies a microsecond apart could tie. Compare and sort with this, never ``float``.

    :raises ChatConfigError: ``ts`` is not in Slack's form.
    """
    try:
        key = Decimal(ts)
    except (InvalidOperation, TypeError, ValueError):
        key = Decimal("NaN")
    if not key.is_finite():
        raise ChatConfigError(f"malformed Slack ts {ts!r}: expected Slack's '1712345678.123456' form")
    return key


def ts_time(ts: str) -> datetime:
    """When a Slack ``ts`` was posted, as an aware UTC datetime (to the microsecond).

    :raises ChatConfigError: ``ts`` is not in Slack's form.
    """
    key = ts_key(ts)
    seconds = int(key)
    return datetime.fromtimestamp(seconds, timezone.utc) + timedelta(microseconds=int((key - seconds) * 1_000_000))


def as_slack_ts(moment: datetime) -> str:
    """A datetime in Slack's ``ts`` form (epoch seconds with 6 decimals), to compare with message ts.

    :param moment: an aware datetime.
    """
    return f"{moment.timestamp():.6f}"


def deferral_settled_at(now: datetime) -> datetime:
    """When a trigger deferred at ``now`` may hand back its event: ``now`` plus Airflow's
    ``[chat_alerts] deferral_settle_seconds`` (default :data:`DEFERRAL_SETTLE_SECONDS`; 0 for none). Called
    by the worker, where Airflow's configuration is loaded already.

    :raises ChatConfigError: the setting is not a number of seconds from 0 to 60.
    """
    from airflow.configuration import conf

    value = conf.get("chat_alerts", "deferral_settle_seconds", fallback=str(DEFERRAL_SETTLE_SECONDS))
    try:
        seconds = float(value)
    except ValueError:
        raise ChatConfigError(
            f"[chat_alerts] deferral_settle_seconds must be a number of seconds, not {value!r}"
        ) from None
    if not 0 <= seconds <= 60:
        raise ChatConfigError(f"[chat_alerts] deferral_settle_seconds must be from 0 to 60, not {seconds}")
    return now + timedelta(seconds=seconds)


async def sleep_until(moment: datetime) -> None:
    """Sleep until the aware instant ``moment`` (at once if it has passed)."""
    delay = (moment - datetime.now(timezone.utc)).total_seconds()
    if delay > 0:
        await asyncio.sleep(delay)


async def within(awaitable: Awaitable[T], timeout: float) -> T:
    """``asyncio.wait_for`` without its habit (Python < 3.12) of swallowing a cancellation that lands
    in the tick the awaitable finishes: a trigger cancelled by the triggerer must stop, not poll on.

    :param awaitable: what to wait for.
    :param timeout: seconds to wait at most.
    :raises asyncio.TimeoutError: the awaitable did not finish within ``timeout`` seconds.
    """
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=max(timeout, 0))
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
        raise asyncio.TimeoutError
    return task.result()
