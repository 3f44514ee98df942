"""utils.py: the one exact type for Slack timestamps, and UTC times."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_chat_alerts.exceptions import ChatConfigError
from airflow_chat_alerts.utils import as_slack_ts, parse_utc, ts_key, ts_time, utc_iso


def test_ts_key_orders_timestamps_a_float_cannot_tell_apart():
    earlier, later = "17123456789.000200", "17123456789.000201"
    assert float(earlier) == float(later)  # the reason for the exact type
    assert ts_key(earlier) < ts_key(later)
    assert sorted([later, earlier], key=ts_key) == [earlier, later]


@given(st.integers(0, 4_000_000_000), st.integers(0, 999_999), st.integers(0, 4_000_000_000), st.integers(0, 999_999))
def test_ts_key_order_is_the_order_of_the_instants(s1, us1, s2, us2):
    a, b = f"{s1}.{us1:06d}", f"{s2}.{us2:06d}"
    assert (ts_key(a) < ts_key(b)) == ((s1, us1) < (s2, us2))


@pytest.mark.parametrize("bad", ["", "abc", "NaN", "inf", "1712345678.0002x", None])
def test_a_malformed_ts_is_a_clear_error(bad):
    with pytest.raises(ChatConfigError, match="malformed Slack ts"):
        ts_key(bad)  # type: ignore[arg-type]


def test_ts_time_and_as_slack_ts_round_trip():
    moment = datetime(2026, 11, 29, 14, 0, 0, 123456, tzinfo=timezone.utc)
    assert as_slack_ts(moment) == f"{int(moment.timestamp())}.123456"
    assert ts_time(as_slack_ts(moment)) == moment


def test_parse_utc_reads_what_utc_iso_writes_and_takes_naive_as_utc():
    moment = datetime(2026, 11, 29, 14, 0, tzinfo=timezone.utc)
    assert parse_utc(utc_iso(moment)) == moment
    assert parse_utc("2026-11-29T14:00:00") == moment
    with pytest.raises(ChatConfigError, match="ISO-8601"):
        parse_utc("tomorrow")


def test_deferral_settled_at_reads_airflows_configuration(monkeypatch):
    from airflow_chat_alerts.utils import DEFERRAL_SETTLE_SECONDS, deferral_settled_at

    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    monkeypatch.delenv("AIRFLOW__CHAT_ALERTS__DEFERRAL_SETTLE_SECONDS", raising=False)
    assert (deferral_settled_at(now) - now).total_seconds() == DEFERRAL_SETTLE_SECONDS
    monkeypatch.setenv("AIRFLOW__CHAT_ALERTS__DEFERRAL_SETTLE_SECONDS", "2.5")
    assert (deferral_settled_at(now) - now).total_seconds() == 2.5
    monkeypatch.setenv("AIRFLOW__CHAT_ALERTS__DEFERRAL_SETTLE_SECONDS", "0")
    assert deferral_settled_at(now) == now


@pytest.mark.parametrize("bad", ["soon", "-1", "61", "nan"])
def test_a_bad_deferral_settle_setting_is_a_clear_error(monkeypatch, bad):
    from airflow_chat_alerts.utils import deferral_settled_at

    monkeypatch.setenv("AIRFLOW__CHAT_ALERTS__DEFERRAL_SETTLE_SECONDS", bad)
    with pytest.raises(ChatConfigError, match="deferral_settle_seconds"):
        deferral_settled_at(datetime(2026, 1, 1, tzinfo=timezone.utc))
