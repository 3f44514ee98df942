"""ChatHITLTrigger: waits in the triggerer for the answer to a Human-in-the-loop request, in Slack or in
Airflow, whichever comes first.

The request was written to Airflow (its ``hitl_detail`` row) and posted to Slack by the task before it
deferred; the trigger never posts it. It watches two places:

* **Airflow's row**, read through the Task SDK (:mod:`.hitl_row`) first, then every ``poll_interval``:
  an answer given under Required actions (or through the REST API) ends the wait with that answer. (On
  Airflow 3.3 the REST handler also resumes the deferred task itself, cancelling this trigger.) A row
  read is one query through the triggerer's own execution API, no Slack call, so it is not rate-budgeted.
* **Slack**, through the loop's :class:`~airflow_chat_alerts.triggers.runtime.Runtime` as asks do
  (replies, reactions for an approval, and the app's records of buttons, menus and forms), judged by
  :func:`~airflow_chat_alerts.hitl.judge.judge_request`. A Slack answer is written to the row
  (``UpdateHITLDetail``); when Airflow answered first (409) Airflow's answer is the event.

At the deadline (``response_timeout``), after a complete Slack read made at or after it, as asks do: an
answer in the row wins; else a Slack answer given in time is written; else the defaults are written (as
Airflow's ``HITLTrigger`` does) and the event says so, or without defaults the event is a timeout with no
options (the task then fails with Airflow's ``HITLTimeoutError``). Without a deadline it waits until
answered.

Everything comes from the serialized kwargs (connection id, channel, ts, task instance id, the request,
the Slack policy, the absolute deadline): no secret, and a copy restarted on another triggerer resumes
where the first stopped. Events are :data:`~airflow_chat_alerts.model.HITLEvent` (one per run).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_chat_alerts.exceptions import (
    ChatConfigError,
    ChatNotOurQuestionError,
    ChatPermanentError,
    ChatTransientError,
)
from airflow_chat_alerts.hitl.judge import HITLDecision, HITLJudgement, judge_request
from airflow_chat_alerts.hitl.message import answered_line
from airflow_chat_alerts.hitl.request import HITLRequest
from airflow_chat_alerts.judge import groups_to_read
from airflow_chat_alerts.model import (
    ErrorEvent,
    HITLAnsweredEvent,
    HITLEvent,
    HITLTimedOutEvent,
    HITLUserDict,
    QuestionRead,
)
from airflow_chat_alerts.triggers import hitl_row
from airflow_chat_alerts.triggers.ask import REMINDER_READ_GRACE_SECONDS, shared_policy
from airflow_chat_alerts.triggers.polling.watch import QuestionWatch
from airflow_chat_alerts.triggers.runtime import Runtime
from airflow_chat_alerts.utils import LAST_READ_LIMIT, parse_utc, sleep_until, within

# Without a deadline, the loop still wakes this often (nothing is due then but the row's read).
_FAR = timedelta(days=3650)


def slack_responder(slack_user: str, mapped: HITLUserDict | None) -> HITLUserDict:
    """Who answered in Slack, as the task's result names them: the Airflow user the connection maps the
    person to, else ``{"id": "slack:U…", "name": "U… (Slack)"}`` (no Airflow user id can be that)."""
    return mapped or {"id": f"slack:{slack_user}", "name": f"{slack_user} (Slack)"}


class ChatHITLTrigger(BaseTrigger):
    """Wait for the answer to a Human-in-the-loop request, in Slack or in Airflow.

    :param conn_id: the Airflow connection to Slack (its tokens and ``airflow_users`` are read here).
    :param channel: the request message's channel id.
    :param ts: the request message's ts.
    :param ti_id: the task instance's id (a UUID as text): the request's ``hitl_detail`` row.
    :param request: :meth:`HITLRequest.to_dict() <airflow_chat_alerts.hitl.request.HITLRequest.to_dict>`.
    :param policy: :meth:`AskPolicy.to_dict() <airflow_chat_alerts.decisions.AskPolicy.to_dict>` (who may answer
        in Slack).
    :param deadline: ISO-8601 UTC instant of ``response_timeout``, or None.
    :param poll_interval: seconds between reads of the request (Slack and Airflow's row).
    :param reconcile_interval: seconds between Slack reads while answers are pushed (Socket Mode).
    :param remind_at: optional ISO-8601 UTC instant at which to hand back for a reminder.
    :param approval: an approval (Approve / Reject): reactions and approve / reject replies count.
    :param settled_at: optional ISO-8601 UTC instant before which no event is handed back (see
        :func:`~airflow_chat_alerts.utils.deferral_settled_at`).
    """

    def __init__(
        self,
        *,
        conn_id: str,
        channel: str,
        ts: str,
        ti_id: str,
        request: dict[str, Any],
        policy: dict[str, Any],
        deadline: str | None,
        poll_interval: float = 10.0,
        reconcile_interval: float = 300.0,
        remind_at: str | None = None,
        approval: bool = False,
        settled_at: str | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # BaseTrigger.__init__(**kwargs) is untyped
        self.conn_id = conn_id
        self.channel = channel
        self.ts = ts
        self.ti_id = ti_id
        self.request = request
        self.policy = policy
        self.deadline = deadline
        self.poll_interval = poll_interval
        self.reconcile_interval = reconcile_interval
        self.remind_at = remind_at
        self.approval = approval
        self.settled_at = settled_at
        self._emails_known: dict[str, str | None] = {}

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "conn_id": self.conn_id,
                "channel": self.channel,
                "ts": self.ts,
                "ti_id": self.ti_id,
                "request": self.request,
                "policy": self.policy,
                "deadline": self.deadline,
                "poll_interval": self.poll_interval,
                "reconcile_interval": self.reconcile_interval,
                "remind_at": self.remind_at,
                "approval": self.approval,
                "settled_at": self.settled_at,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        event: HITLEvent
        try:
            event = await self._wait()
        except (ChatPermanentError, ChatConfigError) as err:  # transient errors are retried, never end it
            self.log.error("Request %s in %s cannot go on: %s", self.ts, self.channel, err)
            event = {"status": "error", "message": str(err), "code": err.code}
        if self.settled_at:
            await sleep_until(parse_utc(self.settled_at))
        yield TriggerEvent(event)

    async def _wait(self) -> HITLEvent:
        request = HITLRequest.from_dict(self.request)
        policy = shared_policy(self.policy)
        deadline = parse_utc(self.deadline) if self.deadline else None
        remind_at = parse_utc(self.remind_at) if self.remind_at else None
        end = deadline or datetime.now(timezone.utc) + _FAR
        give_up = end + LAST_READ_LIMIT
        answered = await hitl_row.read_answer(self.ti_id)  # answered in Airflow before this trigger ran
        if answered is not None:
            return _airflow_event(answered)
        runtime = Runtime.current()
        read_once = False
        async with runtime.watch(self.conn_id, self.channel, self.ts, poll_interval=self.poll_interval,
                                 reconcile_interval=self.reconcile_interval, policy=policy) as watch:
            users = watch_users(runtime, self.conn_id)
            row_due = _now() + timedelta(seconds=self.poll_interval)
            while True:
                now = _now()
                if now >= row_due:
                    answered = await hitl_row.read_answer(self.ti_id)
                    if answered is not None:
                        self.log.info("Request %s was answered in Airflow: %s", self.ts, answered.chosen_options)
                        watch.settle(_airflow_line(answered, self.approval))
                        return _airflow_event(answered)
                    row_due = now + timedelta(seconds=self.poll_interval)
                final = deadline is not None and now >= deadline
                reminding = not final and remind_at is not None and now >= remind_at
                if reminding and read_once:
                    return {"status": "remind"}
                if final or reminding:
                    watch.wake(deadline=final)
                if final:
                    clock = give_up
                elif reminding:
                    clock = min(now + timedelta(seconds=self.poll_interval + REMINDER_READ_GRACE_SECONDS), end)
                else:
                    clock = min(end, remind_at) if remind_at else end
                budget = (min(clock, row_due) - now).total_seconds()
                try:
                    read = await within(watch.next(), budget)
                    judgement = await within(self._judge(read, request, policy, users, deadline, watch),
                                             max(budget, 1.0))
                except asyncio.TimeoutError:
                    now = _now()
                    if now < row_due and final and now >= give_up:
                        return self._unread_at_deadline(watch)
                    if now < row_due and reminding and (deadline is None or now < deadline):
                        return {"status": "remind"}
                    continue
                except ChatTransientError as err:
                    self.log.warning("Reading the approver groups failed (%s); trying again on the next read", err)
                    watch.note_error(err)
                    continue
                read_once = True
                if judgement.state == "foreign":
                    raise ChatNotOurQuestionError.of(conn_id=self.conn_id, channel=self.channel, ts=self.ts)
                if judgement.state == "decided":
                    assert judgement.decision is not None
                    return await self._answered_in_slack(judgement.decision, users, watch)
                if judgement.state == "timed_out":
                    return await self._timed_out(request, watch)
                if judgement.needs == "thread":
                    watch.refresh()
                elif judgement.needs == "open_check":
                    watch.wake(deadline=True)

    async def _judge(self, read: QuestionRead, request: HITLRequest, policy: Any, users: Any,
                     deadline: datetime | None, watch: QuestionWatch) -> HITLJudgement:
        groups = groups_to_read(read, policy)
        emails = await self._emails(read, users)
        judgement = judge_request(read, request, policy, users, approval=self.approval, question_ts=self.ts,
                                  deadline=deadline, group_members=await watch.group_members(groups),
                                  groups_fresh=False, emails=emails)
        if judgement.needs == "fresh_groups":
            members = await watch.group_members(groups, fresh=True)
            judgement = judge_request(read, request, policy, users, approval=self.approval, question_ts=self.ts,
                                      deadline=deadline, group_members=members, groups_fresh=True, emails=emails)
        return judgement

    async def _emails(self, read: QuestionRead, users: Any) -> dict[str, str]:
        """Slack e-mails of the people who answered and are not listed, when the connection maps people
        by e-mail (``airflow_users_by_email``); kept for the trigger's life."""
        if not users.needs_email:
            return {}
        connection = Runtime.current().connections.get(self.conn_id)
        if connection is None:
            return {}
        for answer in read.answers:
            user = answer.user
            if not answer.is_bot and user and user not in users.by_slack_id and user not in self._emails_known:
                self._emails_known[user] = await connection.alerter.aperson_email(user)
        return {user: email for user, email in self._emails_known.items() if email}

    async def _answered_in_slack(self, decision: HITLDecision, users: Any, watch: QuestionWatch) -> HITLEvent:
        """Write the Slack answer to Airflow (first wins); Airflow's answer when it came first."""
        mapped = users.airflow_user(decision.user, email=self._emails_known.get(decision.user))
        responder = slack_responder(decision.user, None if mapped is None else mapped.to_dict())
        try:
            written = await hitl_row.write_answer(self.ti_id, list(decision.chosen), dict(decision.params_input))
        except hitl_row.AlreadyAnswered:
            first = await hitl_row.read_answer(self.ti_id)
            if first is not None:
                self.log.info("Request %s: answered in Airflow first (%s)", self.ts, first.chosen_options)
                watch.settle(_airflow_line(first, self.approval))
                return _airflow_event(first)
            raise ChatPermanentError(f"the request {self.ts} was answered in Airflow but its answer cannot be read",
                                     conn_id=self.conn_id, channel=self.channel, code="hitl_conflict") from None
        self.log.info("Request %s: %s by %s in Slack", self.ts, list(decision.chosen), decision.user)
        watch.settle(answered_line(decision.chosen, by_slack_user=decision.user, comment=decision.comment,
                                   approval=self.approval))
        event: HITLAnsweredEvent = {
            "status": "answered",
            "source": "slack",
            "chosen_options": list(decision.chosen),
            "params_input": dict(decision.params_input),
            "responded_at": written.responded_at.isoformat(),
            "responded_by_user": responder,
            "slack_user": decision.user,
            "comment": decision.comment,
        }
        return event

    async def _timed_out(self, request: HITLRequest, watch: QuestionWatch) -> HITLEvent:
        """No Slack answer by the deadline: Airflow's answer if any, else the defaults (or none)."""
        answered = await hitl_row.read_answer(self.ti_id)
        if answered is not None:
            watch.settle(_airflow_line(answered, self.approval))
            return _airflow_event(answered)
        if not request.defaults:
            watch.settle(answered_line((), timed_out=True))
            timed_out: HITLTimedOutEvent = {"status": "timed_out", "chosen_options": [], "params_input": {},
                                            "responded_at": None}
            return timed_out
        params = {key: spec.value for key, spec in request.params.items()}
        try:
            written = await hitl_row.write_answer(self.ti_id, list(request.defaults), params)
        except hitl_row.AlreadyAnswered:
            first = await hitl_row.read_answer(self.ti_id)
            if first is None:
                raise ChatPermanentError(f"the request {self.ts} was answered but its answer cannot be read",
                                         conn_id=self.conn_id, code="hitl_conflict") from None
            watch.settle(_airflow_line(first, self.approval))
            return _airflow_event(first)
        watch.settle(answered_line(request.defaults, timed_out=True))
        return {"status": "timed_out", "chosen_options": list(request.defaults), "params_input": params,
                "responded_at": written.responded_at.isoformat()}

    def _unread_at_deadline(self, watch: QuestionWatch) -> ErrorEvent:
        error = watch.last_error
        message = (
            f"deadline_unread: the request {self.ts} in {self.channel} could not be read after its deadline "
            f"{self.deadline} (tried for {LAST_READ_LIMIT}); the timeout is applied only after a read shows no "
            f"answer, so the task fails instead [connection {self.conn_id!r}]"
            + (f". Last error: {error}" if error else "")
        )
        self.log.error(message)
        return {"status": "error", "message": message, "code": getattr(error, "code", None) or "deadline_unread"}


def watch_users(runtime: Runtime, conn_id: str) -> Any:
    """The connection's Slack → Airflow user map (its ``airflow_users`` extras), as the runtime read it."""
    connection = runtime.connections.get(conn_id)
    if connection is None:  # the watch holds the connection open; this cannot happen while it runs
        raise ChatConfigError(f"connection {conn_id!r} is not open")
    return connection.settings.airflow_users


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _airflow_event(answer: hitl_row.RowAnswer) -> HITLAnsweredEvent:
    return {
        "status": "answered",
        "source": "airflow",
        "chosen_options": list(answer.chosen_options),
        "params_input": dict(answer.params_input),
        "responded_at": answer.responded_at.isoformat(),
        "responded_by_user": answer.responded_by,
        "slack_user": None,
        "comment": None,
    }


def _airflow_line(answer: hitl_row.RowAnswer, approval: bool) -> str:
    by = answer.responded_by["name"] if answer.responded_by else None
    return answered_line(answer.chosen_options, by_airflow_user=by, approval=approval)
