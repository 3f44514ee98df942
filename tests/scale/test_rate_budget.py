"""The rate budget: evenly spaced slots per method, process-wide pauses, and its connection extras."""

from __future__ import annotations

import asyncio
import math
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_chat_alerts.exceptions import ChatConfigError
from airflow_chat_alerts.settings import budget_from_extras, page_limit_from_extras, parse_tier
from airflow_chat_alerts.triggers.polling.rate_budget import BURST, MIN_GAP_SECONDS, RateBudget, backoff_delay


class FakeTime:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def calls_in_windows(times: list[float], window: float = 60.0) -> int:
    """Most calls in any half-open window [t, t + window)."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - window + 1e-6:  # float noise, not a real overlap
            lo += 1
        best = max(best, hi - lo + 1)
    return best


steps = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=30, allow_nan=False),  # time passing before the step
        st.sampled_from(["conversations.history", "conversations.replies"]),
        st.one_of(st.none(), st.floats(min_value=0.5, max_value=120, allow_nan=False)),  # a 429's pause
    ),
    max_size=200,
)


@settings(max_examples=200, deadline=None)
@given(per_minute=st.floats(min_value=0.5, max_value=120), steps=steps)
def test_never_more_than_the_budget_in_any_window(per_minute: float, steps: list) -> None:
    fake = FakeTime()
    budget = RateBudget({"conversations.history": per_minute, "conversations.replies": per_minute}, clock=fake.clock)
    slots: dict[str, list[float]] = {"conversations.history": [], "conversations.replies": []}
    pauses: dict[str, list[tuple[float, float]]] = {"conversations.history": [], "conversations.replies": []}
    for elapsed, method, pause in steps:
        fake.now += elapsed
        if pause is not None:
            budget.pause(method, pause)
            pauses[method].append((fake.now, fake.now + pause))
        slot = fake.now + budget.reserve(method)
        assert slot >= fake.now
        for start, end in pauses[method]:
            assert not start <= slot < end - 1e-9, "a slot taken after a 429 fell inside its pause"
        slots[method].append(slot)
    for times in slots.values():
        assert all(b - a >= MIN_GAP_SECONDS - 1e-6 for a, b in zip(times, times[1:]))  # never bunched
        assert calls_in_windows(times) <= max(1, math.floor(per_minute))


def test_a_quiet_minutes_calls_go_at_once_and_the_next_waits_for_the_window() -> None:
    fake = FakeTime()
    budget = RateBudget({"conversations.history": 3, "conversations.replies": 0.5}, clock=fake.clock)
    assert [budget.reserve("conversations.history") for _ in range(3)] == [0.0, 0.25, 0.5]
    assert budget.reserve("conversations.history") == 60.0  # the first of the three leaves the window
    assert budget.reserve("users.info") == 0.0  # not rationed
    fake.now += 200  # a quiet spell: a full window is free again
    assert [budget.reserve("conversations.history") for _ in range(2)] == [0.0, 0.25]
    # Less than one call a minute: one call per 60 / rate seconds.
    assert [budget.reserve("conversations.replies") for _ in range(2)] == [0.0, 120.0]


def test_acquire_lets_concurrent_callers_go_a_gap_apart() -> None:
    budget = RateBudget({"conversations.history": 600})
    went: list[float] = []

    async def call() -> None:
        await budget.acquire("conversations.history")
        went.append(time.monotonic())

    async def main() -> None:
        await asyncio.gather(*(call() for _ in range(5)))

    start = time.monotonic()
    asyncio.run(main())
    # The k-th caller never goes before its slot (a busy loop may run it late, never early).
    assert all(t >= start + k * MIN_GAP_SECONDS - 0.002 for k, t in enumerate(sorted(went))), [t - start for t in went]


def test_a_pause_that_starts_while_waiting_holds_back_callers_already_queued() -> None:
    fake = FakeTime()
    real_sleep = asyncio.sleep
    budget = RateBudget({"conversations.history": 60}, clock=fake.clock)
    went: list[float] = []

    async def sleep(seconds: float) -> None:
        await real_sleep(0.01)  # let the 429 arrive while the caller waits
        fake.now += seconds

    budget.sleep = sleep

    async def main() -> None:
        budget.reserve("conversations.history")  # someone went just now
        waiter = asyncio.create_task(budget.acquire("conversations.history"))
        await real_sleep(0)
        budget.pause("conversations.history", 30)  # a 429 for that someone
        await waiter
        went.append(fake.now)

    asyncio.run(main())
    assert went[0] >= 1030.0


def test_budget_from_extras_defaults_to_tier_3_with_headroom() -> None:
    rates = budget_from_extras({})
    assert rates["conversations.history"] == pytest.approx(45.0)
    assert rates["conversations.replies"] == pytest.approx(45.0)
    assert rates["usergroups.users.list"] == pytest.approx(18.0)
    assert page_limit_from_extras({}) is None


def test_non_marketplace_reads_one_call_a_minute_with_pages_of_15() -> None:
    rates = budget_from_extras({"non_marketplace": "true"})
    assert rates["conversations.history"] <= 1.0 and rates["conversations.replies"] <= 1.0
    assert rates["reactions.get"] == pytest.approx(45.0)  # not affected
    assert page_limit_from_extras({"non_marketplace": True}) == 15


def test_rate_extras_set_tiers_and_explicit_limits() -> None:
    rates = budget_from_extras({"rate_tier": "t4", "rate_headroom": 1, "rate_limits": {"conversations.replies": 7}})
    assert rates["conversations.history"] == 100.0
    assert rates["conversations.replies"] == 7.0
    assert parse_tier(2) == "tier2"


@pytest.mark.parametrize(
    "extras", [{"rate_tier": "tier9"}, {"rate_headroom": 0}, {"rate_limits": {"conversations.history": -1}}]
)
def test_bad_rate_extras_are_a_clear_config_error(extras: dict) -> None:
    with pytest.raises(ChatConfigError):
        budget_from_extras(extras)


@given(attempt=st.integers(min_value=1, max_value=50), retry_after=st.one_of(st.none(), st.floats(0, 100)))
def test_backoff_is_capped_and_honours_retry_after(attempt: int, retry_after: float | None) -> None:
    delay = backoff_delay(attempt, retry_after=retry_after)
    assert delay >= (retry_after or 0.0)
    assert delay <= max(60.0, retry_after or 0.0)


def test_a_sustained_load_is_spread_at_the_methods_pace_after_a_short_burst() -> None:
    fake = FakeTime()
    budget = RateBudget({"conversations.replies": 30}, clock=fake.clock)  # one call every 2 s
    slots = [budget.reserve("conversations.replies") for _ in range(8)]
    # BURST calls saved up while quiet go at once, a gap apart; then one every 2 s, not bunched at the
    # start of the minute (which would leave every channel waiting for the window to free up).
    assert slots[:BURST] == [k * MIN_GAP_SECONDS for k in range(BURST)]
    assert slots[BURST:] == [2.0, 4.0, 6.0]
