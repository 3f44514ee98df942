"""The cost estimate that picks between one channel read and a read per question (pure)."""

from __future__ import annotations

from airflow_chat_alerts.triggers.polling.channel import HistoryStats, choose_strategy
from airflow_chat_alerts.triggers.polling.connection import CallCount


def stats(count: int, *, pages: int, limit: int | None = 200, cap: int | None = None) -> HistoryStats:
    message_ts = [f"{1700000000 + i}.000100" for i in range(count)]
    calls = CallCount()
    calls.calls["conversations.history"] = pages
    calls.page_limit = limit
    return HistoryStats.observe(message_ts, calls, page_cap=cap)


def test_few_asks_in_a_busy_channel_are_read_one_by_one() -> None:
    busy = stats(1000, pages=5)
    assert busy.pages_from("1700000000.000100") == 5
    assert choose_strategy(3, busy.pages_from("1700000000.000100"), 0.0) == "per_ask"
    assert choose_strategy(30, busy.pages_from("1700000000.000100"), 0.0) == "channel"


def test_the_estimate_follows_the_oldest_pending_question() -> None:
    busy = stats(1000, pages=5)
    # Once the oldest asks are answered, the history to read starts later and costs fewer pages.
    assert busy.pages_from("1700000800.000100") == 1
    assert choose_strategy(3, busy.pages_from("1700000800.000100"), 0.0) == "channel"


def test_threads_that_move_every_round_count_against_the_channel_read() -> None:
    assert choose_strategy(4, 1, 0.0) == "channel"
    assert choose_strategy(4, 1, 3.5) == "per_ask"


def test_the_non_marketplace_page_cap_is_used_over_the_limit_asked() -> None:
    capped = stats(100, pages=7, limit=200, cap=15)
    assert capped.pages_from("1700000000.000100") == 7


def test_one_ask_alone_is_always_read_on_its_own() -> None:
    assert choose_strategy(1, 1, 0.0) == "per_ask"
