"""When an ask reminds the approvers: a schedule counted from the question's post time.

Counting from the post time (not from a counter) keeps it stateless: a resumed or retried task
computes the same schedule and never repeats a reminder already due. Pure: no I/O, no Airflow imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from airflow_chat_alerts.utils import ts_time


@dataclass(frozen=True)
class ReminderSchedule:
    """Reminders every ``every`` seconds from the question's post, at most ``most``, all before the deadline.

    :param every: seconds between reminders; None for no reminders.
    :param most: at most this many reminders.
    """

    every: float | None
    most: int

    def times(self, question_ts: str, deadline: datetime) -> list[datetime]:
        """When the reminders of the question posted at ``question_ts`` fall due, in order.

        :param question_ts: the question's Slack ts (its post time).
        :param deadline: the ask's deadline (aware).
        """
        if not self.every or not self.most:
            return []
        posted = ts_time(question_ts)
        due = (posted + timedelta(seconds=n * self.every) for n in range(1, self.most + 1))
        return [at for at in due if at < deadline]

    def next_after(self, question_ts: str, now: datetime, deadline: datetime) -> datetime | None:
        """The first reminder due after ``now``, if any."""
        return next((at for at in self.times(question_ts, deadline) if at > now), None)

    def count(self, question_ts: str, now: datetime, deadline: datetime) -> tuple[int, int]:
        """``(due, later)``: how many reminders fell due by ``now`` (the one being sent included) and
        how many are still to come."""
        times = self.times(question_ts, deadline)
        due = sum(at <= now for at in times)
        return due, len(times) - due
