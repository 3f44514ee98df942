"""The reminder schedule (sensors/ask_reminders.py): counted from the question's post, so a resumed or
retried task computes the same one and never repeats a reminder already due."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow_chat_alerts.sensors.ask_reminders import ReminderSchedule
from airflow_chat_alerts.utils import as_slack_ts

POSTED = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
TS = as_slack_ts(POSTED)


def at(minutes: float) -> datetime:
    return POSTED + timedelta(minutes=minutes)


def test_reminders_fall_every_interval_from_the_post_before_the_deadline():
    schedule = ReminderSchedule(every=600, most=5)

    assert schedule.times(TS, deadline=at(35)) == [at(10), at(20), at(30)]
    assert ReminderSchedule(every=600, most=2).times(TS, deadline=at(60)) == [at(10), at(20)]
    assert schedule.times(TS, deadline=at(30)) == [at(10), at(20)]  # none at the deadline itself


def test_no_reminders_without_an_interval_or_with_none_allowed():
    assert ReminderSchedule(every=None, most=3).times(TS, deadline=at(60)) == []
    assert ReminderSchedule(every=600, most=0).times(TS, deadline=at(60)) == []


def test_the_next_reminder_and_the_count_depend_only_on_the_time():
    schedule = ReminderSchedule(every=600, most=3)

    assert schedule.next_after(TS, at(0), at(60)) == at(10)
    assert schedule.next_after(TS, at(10), at(60)) == at(20)  # the one due now is being sent
    assert schedule.next_after(TS, at(30), at(60)) is None
    assert schedule.count(TS, at(10), at(60)) == (1, 2)
    assert schedule.count(TS, at(25), at(60)) == (2, 1)  # resumed late: the missed one is not repeated
    assert schedule.count(TS, at(30), at(60)) == (3, 0)
