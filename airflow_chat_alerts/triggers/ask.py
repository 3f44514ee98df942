"""ChatAskTrigger: waits in the triggerer for the answer to a question that ChatAskSensor posted.

The trigger only reads (through the loop's :class:`~airflow_chat_alerts.triggers.runtime.Runtime`, which it
joins for as long as it waits) and never posts: the worker posted the question before deferring and updates
it after resuming. Everything it needs comes from its serialized kwargs (connection id, channel, question
ts, policy, absolute deadline), so a copy restarted on another triggerer resumes where the first stopped,
and an answer given while no copy ran is found by the next read, because every read returns the whole
thread and all reactions.

Events (exactly one per run):

The events are the typed contracts of :mod:`airflow_chat_alerts.model` (:data:`~airflow_chat_alerts.model.AskEvent`):

* ``{"status": "approved" | "rejected", "decision": {...}}``: ``decision`` is
  :meth:`Decision.to_dict() <airflow_chat_alerts.decisions.Decision.to_dict>`.
* ``{"status": "timed_out"}``: the deadline passed with no decision.
* ``{"status": "remind"}``: ``remind_at`` passed with no decision; the worker posts a reminder and
  defers again with the same deadline.
* ``{"status": "error", "message": ..., "code": ...}``: a permanent failure (bad credentials, channel
  gone or archived, the question deleted or not the app's own), or no read after the deadline. Transient
  failures are retried inside ``watch_question`` and never end the trigger on their own.

``timed_out`` comes only after a complete read made at or after the deadline shows no decision, so an
answer given just before it counts, and so does one given while no copy ran (a copy that starts after
its deadline reads once, then answers). Replies are weighed only up to the deadline (they carry their
own time); reactions have no time in Slack, so every reaction present at that read counts. If no such
read comes through within :data:`LAST_READ_LIMIT` of the deadline, the event is an error (the task
fails, naming the last read error): on_timeout is never applied on a read that failed.

Whether a read decides, times the question out or leaves it open is the one judge's call
(:func:`~airflow_chat_alerts.judge.judge`): only the app's own question, a read holding every reply's
latest text, the approver groups read again when a group member's answer decides.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_chat_alerts.decisions import AskPolicy
from airflow_chat_alerts.exceptions import (
    ChatConfigError,
    ChatNotOurQuestionError,
    ChatPermanentError,
    ChatTransientError,
)
from airflow_chat_alerts.formatting import outcome_line
from airflow_chat_alerts.judge import Judgement, groups_to_read, judge
from airflow_chat_alerts.model import AskEvent, ErrorEvent, QuestionRead
from airflow_chat_alerts.triggers.polling.watch import QuestionWatch
from airflow_chat_alerts.triggers.runtime import Runtime
from airflow_chat_alerts.utils import LAST_READ_LIMIT, parse_utc, sleep_until, within

# Before handing back for a reminder the trigger reads once, waiting a poll interval plus this long.
REMINDER_READ_GRACE_SECONDS = 10.0


def shared_policy(data: dict[str, Any]) -> AskPolicy:
    """The policy of trigger kwargs, parsed once per process for all the asks that share it."""
    return _parse_policy(json.dumps(data, sort_keys=True))


@functools.lru_cache(maxsize=256)
def _parse_policy(text: str) -> AskPolicy:
    return AskPolicy.from_dict(json.loads(text))


class ChatAskTrigger(BaseTrigger):
    """Wait for authorised people to approve or reject a question, until an absolute deadline.

    :param conn_id: the Airflow connection to read through (its token never leaves the connection).
    :param channel: the channel id of the question.
    :param ts: the question's message ts.
    :param policy: :meth:`AskPolicy.to_dict() <airflow_chat_alerts.decisions.AskPolicy.to_dict>`.
    :param deadline: ISO-8601 UTC instant after which the question times out.
    :param poll_interval: seconds between reads of the question.
    :param reconcile_interval: seconds between reads while answers are pushed over Socket Mode (the
        connection has an ``app_token``); never below ``poll_interval``.
    :param remind_at: optional ISO-8601 UTC instant at which to hand back for a reminder.
    :param settled_at: optional ISO-8601 UTC instant before which no event is handed back (see
        :func:`~airflow_chat_alerts.utils.deferral_settled_at`): an answer found sooner waits until then.
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
        reconcile_interval: float = 300.0,
        settled_at: str | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # BaseTrigger.__init__(**kwargs) is untyped
        self.conn_id = conn_id
        self.channel = channel
        self.ts = ts
        self.policy = policy
        self.deadline = deadline
        self.poll_interval = poll_interval
        self.remind_at = remind_at
        self.reconcile_interval = reconcile_interval
        self.settled_at = settled_at

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
                "reconcile_interval": self.reconcile_interval,
                "settled_at": self.settled_at,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        event: AskEvent
        try:
            event = await self._wait()
        except (ChatPermanentError, ChatConfigError) as err:  # transient errors are retried, never end it
            self.log.error("Ask %s in %s cannot go on: %s", self.ts, self.channel, err)
            event = {"status": "error", "message": str(err), "code": err.code}
        if self.settled_at:
            await sleep_until(parse_utc(self.settled_at))
        yield TriggerEvent(event)

    async def _wait(self) -> AskEvent:
        policy = shared_policy(self.policy)
        deadline = parse_utc(self.deadline)
        remind_at = parse_utc(self.remind_at) if self.remind_at else None
        give_up = deadline + LAST_READ_LIMIT
        read_once = False
        runtime = Runtime.current()
        async with runtime.watch(
            self.conn_id,
            self.channel,
            self.ts,
            poll_interval=self.poll_interval,
            reconcile_interval=self.reconcile_interval,
            policy=policy,
        ) as watch:
            while True:
                now = datetime.now(timezone.utc)
                final = now >= deadline  # only a read made from now on can time the question out
                reminding = not final and remind_at is not None and now >= remind_at
                if reminding and read_once:
                    return {"status": "remind"}
                if final or reminding:
                    watch.wake(deadline=final)  # this read is due now, not at the next poll
                if final:
                    budget = (give_up - now).total_seconds()
                elif reminding:  # read once before reminding: the answer may be there already
                    budget = min(self.poll_interval + REMINDER_READ_GRACE_SECONDS, (deadline - now).total_seconds())
                else:  # read until the next thing the clock decides
                    budget = ((min(deadline, remind_at) if remind_at else deadline) - now).total_seconds()
                try:
                    read = await within(watch.next(), budget)
                    judgement = await within(self._judge(read, policy, deadline, watch), max(budget, 1.0))
                except asyncio.TimeoutError:
                    if final:
                        return self._unread_at_deadline(watch)
                    if reminding and datetime.now(timezone.utc) < deadline:
                        return {"status": "remind"}
                    continue
                except ChatTransientError as err:  # approver groups unreadable for now
                    self.log.warning("Reading the approver groups failed (%s); trying again on the next read", err)
                    watch.note_error(err)
                    continue
                read_once = True
                if judgement.state == "foreign":
                    raise ChatNotOurQuestionError.of(conn_id=self.conn_id, channel=self.channel, ts=self.ts)
                if judgement.state == "decided":
                    decision = judgement.decision
                    assert decision is not None
                    self.log.info("Ask %s in %s: %s by %s", self.ts, self.channel, decision.outcome, list(decision.by))
                    watch.settle(outcome_line(decision.outcome, by=decision.by, comment=decision.comment))
                    return decision.event()
                if judgement.state == "timed_out":
                    return {"status": "timed_out"}  # a complete read made after the deadline: no decision
                if judgement.needs == "thread":
                    watch.refresh()  # the replies are an earlier round's copy: read them again
                elif judgement.needs == "open_check":
                    watch.wake(deadline=True)  # the channel's last look at archiving came before the deadline

    async def _judge(
        self, read: QuestionRead, policy: AskPolicy, deadline: datetime, watch: QuestionWatch
    ) -> Judgement:
        """The judge's verdict on a read, with the approver groups it needs (read again before a decision
        that rests on a group member's answer)."""
        groups = groups_to_read(read, policy)
        judgement = judge(read, policy, question_ts=self.ts, deadline=deadline,
                          group_members=await watch.group_members(groups), groups_fresh=False)
        if judgement.needs == "fresh_groups":
            members = await watch.group_members(groups, fresh=True)
            judgement = judge(read, policy, question_ts=self.ts, deadline=deadline, group_members=members,
                              groups_fresh=True)
        return judgement

    def _unread_at_deadline(self, watch: QuestionWatch) -> ErrorEvent:
        """No complete read after the deadline came through: say so, rather than apply on_timeout blind."""
        error = watch.last_error
        message = (
            f"deadline_unread: the question {self.ts} in {self.channel} could not be read after its deadline "
            f"{self.deadline} (tried for {LAST_READ_LIMIT}); the timeout is applied only after a read shows "
            f"no decision, so the task fails instead [connection {self.conn_id!r}]"
            + (f". Last error: {error}" if error else "")
        )
        self.log.error(message)
        return {"status": "error", "message": message, "code": getattr(error, "code", None) or "deadline_unread"}

