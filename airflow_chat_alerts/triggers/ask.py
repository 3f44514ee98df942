"""ChatAskTrigger: waits in the triggerer for the answer to a question that ChatAskSensor posted.

The trigger only reads (through :func:`~airflow_chat_alerts.triggers.poller.watch_question`) and never
posts: the worker posted the question before deferring and updates it after resuming. Everything it
needs comes from its serialized kwargs (connection id, channel, question ts, policy, absolute deadline),
so a copy restarted on another triggerer resumes where the first stopped, and an answer given while no
copy ran is found by the next read, because every read returns the whole thread and all reactions.

Events (exactly one per run):

* ``{"status": "approved" | "rejected", "decision": {...}}``: ``decision`` is
  :meth:`Decision.to_dict() <airflow_chat_alerts.decisions.Decision.to_dict>`.
* ``{"status": "timed_out"}``: the deadline passed with no decision.
* ``{"status": "remind"}``: ``remind_at`` passed with no decision; the worker posts a reminder and
  defers again with the same deadline.
* ``{"status": "error", "message": ..., "code": ...}``: a permanent failure (bad credentials, channel
  gone, the question deleted). Transient failures are retried inside ``watch_question`` until the
  deadline and never end the trigger.

``timed_out`` comes only after a read made at or after the deadline, so an answer given just before it
counts, and so does one given while no copy ran (a copy that starts after its deadline reads once, then
answers). Replies are weighed only up to the deadline (they carry their own time); reactions first seen
after it count as given at an unknown time (Slack does not say when a reaction was added). If that last
read cannot be made within a poll interval plus :data:`LATE_READ_GRACE_SECONDS`, the clock decides.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable
from datetime import datetime, timezone
from typing import Any, TypeVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_chat_alerts.alerters.base import Answer
from airflow_chat_alerts.decisions import AskPolicy, evaluate
from airflow_chat_alerts.exceptions import ChatConfigError, ChatPermanentError, ChatTransientError
from airflow_chat_alerts.triggers.poller import QuestionUpdate, watch_question

# A timeout is declared only after a read made at or after the deadline, so an answer given just before
# it (or while no triggerer ran) still counts. That read may take a poll interval plus this long; if it
# cannot be made by then (the chat service is down), the clock decides.
LATE_READ_GRACE_SECONDS = 10.0

T = TypeVar("T")


async def within(awaitable: Awaitable[T], timeout: float) -> T:
    """``asyncio.wait_for`` without its habit (Python < 3.12) of swallowing a cancellation that lands
    in the tick the awaitable finishes: a trigger cancelled by the triggerer must stop, not poll on.

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


def parse_utc(value: str) -> datetime:
    """An ISO-8601 instant as an aware UTC datetime (a naive one is taken as UTC)."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ChatConfigError(f"expected an ISO-8601 UTC time, got {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def as_slack_ts(moment: datetime) -> str:
    """A datetime in Slack's ``ts`` form (epoch seconds with 6 decimals), to compare with message ts."""
    return f"{moment.timestamp():.6f}"


class ChatAskTrigger(BaseTrigger):
    """Wait for authorised people to approve or reject a question, until an absolute deadline.

    :param conn_id: the Airflow connection to read through (its token never leaves the connection).
    :param channel: the channel id of the question.
    :param ts: the question's message ts.
    :param policy: :meth:`AskPolicy.to_dict() <airflow_chat_alerts.decisions.AskPolicy.to_dict>`.
    :param deadline: ISO-8601 UTC instant after which the question times out.
    :param poll_interval: seconds between reads of the question.
    :param remind_at: optional ISO-8601 UTC instant at which to hand back for a reminder.
    """

    def __init__(
        self,
        conn_id: str,
        channel: str,
        ts: str,
        policy: dict[str, Any],
        deadline: str,
        poll_interval: float = 10.0,
        remind_at: str | None = None,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.channel = channel
        self.ts = ts
        self.policy = policy
        self.deadline = deadline
        self.poll_interval = poll_interval
        self.remind_at = remind_at

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "conn_id": self.conn_id,
                "channel": self.channel,
                "ts": self.ts,
                "policy": self.policy,
                "deadline": self.deadline,
                "poll_interval": self.poll_interval,
                "remind_at": self.remind_at,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            event = await self._wait()
        except (ChatPermanentError, ChatConfigError) as err:  # transient errors are retried, never end it
            self.log.error("Ask %s in %s cannot go on: %s", self.ts, self.channel, err)
            event = {"status": "error", "message": str(err), "code": err.code}
        yield TriggerEvent(event)

    async def _wait(self) -> dict[str, Any]:
        policy = AskPolicy.from_dict(self.policy)
        deadline = parse_utc(self.deadline)
        remind_at = parse_utc(self.remind_at) if self.remind_at else None
        cutoff = as_slack_ts(deadline)
        grace = self.poll_interval + LATE_READ_GRACE_SECONDS
        read_once = False
        async with watch_question(self.conn_id, self.channel, self.ts, poll_interval=self.poll_interval) as watch:
            while True:
                now = datetime.now(timezone.utc)
                final = now >= deadline  # this read decides: answered in time, or timed out
                reminding = not final and remind_at is not None and now >= remind_at
                if reminding and read_once:
                    return {"status": "remind"}
                if final:
                    budget = grace
                elif reminding:  # read once before reminding: the answer may be there already
                    budget = min(grace, (deadline - now).total_seconds())
                else:  # read until the next thing the clock decides
                    budget = ((min(deadline, remind_at) if remind_at else deadline) - now).total_seconds()
                try:
                    update = await within(watch.next(), budget)
                    members = await watch.group_members(sorted(policy.groups))
                except asyncio.TimeoutError:
                    # No read came through in time: the clock decides.
                    if final:
                        return {"status": "timed_out"}
                    if reminding and datetime.now(timezone.utc) < deadline:
                        return {"status": "remind"}
                    continue
                except ChatTransientError as err:  # approver groups unreadable for now
                    self.log.warning("Reading the approver groups failed (%s); trying again next poll", err)
                    if final:
                        return {"status": "timed_out"}
                    continue
                read_once = True
                event = self._decide(update, policy, members, cutoff)
                if event is not None:
                    return event
                if final:
                    return {"status": "timed_out"}

    async def check_now(self) -> dict[str, Any] | None:
        """One read without waiting: the event if the question is already decided or past its deadline.

        For the worker about to defer on a question an earlier try posted: handing back an answer given
        meanwhile at once avoids a trigger that fires within seconds of
        the deferral, a moment Airflow 3.3's scheduler can mishandle (apache/airflow#72716). Gives up
        (None: defer and let the trigger wait) when no read comes through within a poll interval plus
        :data:`LATE_READ_GRACE_SECONDS`. Permanent errors are raised.
        """
        policy = AskPolicy.from_dict(self.policy)
        deadline = parse_utc(self.deadline)
        async with watch_question(self.conn_id, self.channel, self.ts, poll_interval=self.poll_interval) as watch:
            try:
                update = await within(watch.next(), self.poll_interval + LATE_READ_GRACE_SECONDS)
                members = await watch.group_members(sorted(policy.groups))
            except (asyncio.TimeoutError, ChatTransientError) as err:
                self.log.warning("Could not read question %s before deferring (%s); the trigger will", self.ts, err)
                return None
        event = self._decide(update, policy, members, as_slack_ts(deadline))
        if event is None and datetime.now(timezone.utc) >= deadline:
            return {"status": "timed_out"}
        return event

    def _decide(
        self, update: QuestionUpdate, policy: AskPolicy, members: dict[str, frozenset[str]], cutoff: str
    ) -> dict[str, Any] | None:
        """The approved/rejected event for a read of the question, or None while it is undecided."""
        answers = [_unknown_time_if_late(answer, cutoff) for answer in update.answers]
        decision = evaluate(
            answers,
            policy,
            question_ts=self.ts,
            group_members=members,
            self_user_id=update.snapshot.user,  # the app posted the question
            decided_before=cutoff,
        )
        if not decision.decided:
            return None
        self.log.info("Ask %s in %s: %s by %s", self.ts, self.channel, decision.outcome, list(decision.by))
        return {"status": decision.outcome, "decision": decision.to_dict()}


def _unknown_time_if_late(answer: Answer, cutoff: str) -> Answer:
    """A reaction first seen after the deadline may have been added before it, while no trigger ran."""
    if answer.kind == "reaction" and answer.ts and float(answer.ts) > float(cutoff):
        return dataclasses.replace(answer, ts="")
    return answer
