"""Discord ids as the package's ts: exact, ordered as the ids, and times that the time rules read right."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_chat_alerts.exceptions import ChatConfigError
from airflow_chat_alerts.services.discord._ids import first_id_at, id_of, id_time, is_id_ts, time_ts, ts_of
from airflow_chat_alerts.utils import ts_key, ts_time

SNOWFLAKES = st.integers(min_value=1 << 22, max_value=(1 << 63) - 1)


@given(SNOWFLAKES)
def test_an_id_comes_back_exactly_from_its_ts(snowflake):
    assert id_of(ts_of(snowflake)) == snowflake
    assert is_id_ts(ts_of(str(snowflake)))


@given(SNOWFLAKES, SNOWFLAKES)
def test_ts_order_is_id_order(a, b):
    assert (ts_key(ts_of(a)) < ts_key(ts_of(b))) == (a < b)


def test_a_ts_is_when_discord_made_the_id():
    snowflake = 1578743742276304896  # made 2026-12-05 12:03:59.799 UTC
    assert ts_time(ts_of(snowflake)).replace(microsecond=0) == id_time(snowflake).replace(microsecond=0)
    assert ts_of(snowflake).startswith(str(int(id_time(snowflake).timestamp())) + ".")


def test_a_time_finds_the_first_id_made_at_or_after_it():
    snowflake = 1578743742276304896
    moment = id_time(snowflake)
    assert first_id_at(time_ts(moment)) <= snowflake
    assert first_id_at(ts_of(snowflake)) == snowflake
    assert first_id_at(time_ts(datetime(2000, 1, 1, tzinfo=timezone.utc))) == 0


@pytest.mark.parametrize("ts", ["1712345678.000200", "", "abc", "1.2.3"])
def test_a_ts_that_names_no_discord_message_is_refused(ts):
    with pytest.raises(ChatConfigError, match="Discord message ts"):
        id_of(ts)
