"""ChatAskSensor: ask people in chat to approve a step, wait without a worker slot, then branch.

Why a sensor (``BaseSensorOperator``) and not a plain operator: it is one to the people running the DAG
(shown as a sensor, ``soft_fail`` turns a failure into a skip) and a deferral that overruns its backstop
fails as ``AirflowSensorTimeout`` (no retry) like every other sensor. Airflow's own sensor timeout
cannot fire first: it is only checked by the poke loop, which this sensor never runs (``execute()``
always defers). The question's deadline is ours: absolute, stored in the question's metadata, enforced
by the trigger, and resolved by ``on_timeout``. The deferral's ``timeout`` is only a backstop
:data:`BACKSTOP_MARGIN` beyond it, for a trigger that never answers.

Flow: ``execute()`` renders and posts the question (or reuses the undecided one an earlier try of the
same task instance posted: :mod:`~airflow_chat_alerts.sensors.ask_posting`, and completes at once when
one look shows it decided meanwhile: :mod:`~airflow_chat_alerts.sensors.ask_check`), records it
(:class:`~airflow_chat_alerts.model.QuestionRecord`) and defers to
:class:`~airflow_chat_alerts.triggers.ask.ChatAskTrigger`. ``execute_complete()`` posts reminders in the
thread (:mod:`~airflow_chat_alerts.sensors.ask_reminders`) and defers again, or, once decided, ends the
ask (:mod:`~airflow_chat_alerts.sensors.ask_outcome`): marks the question with the outcome, pushes XCom
``decision`` and returns True (approved) / False, branching or skipping downstream as configured.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import closing
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk import BaseSensorOperator, BranchMixIn

from airflow_chat_alerts.chat_wait import Destination
from airflow_chat_alerts.decisions import (
    DEFAULT_APPROVE_KEYWORDS,
    DEFAULT_APPROVE_REACTIONS,
    DEFAULT_REJECT_KEYWORDS,
    DEFAULT_REJECT_REACTIONS,
    AskPolicy,
)
from airflow_chat_alerts.exceptions import ChatAlertError, ChatConfigError, ChatPermanentError
from airflow_chat_alerts.model import (
    ASK_EVENT_TYPE,
    DECISION_XCOM_KEY,
    QUESTION_XCOM_KEY,
    AskEvent,
    Message,
    PipelineContext,
    QuestionRecord,
)
from airflow_chat_alerts.sensors import ask_outcome, ask_posting
from airflow_chat_alerts.sensors.ask_check import decided_already
from airflow_chat_alerts.sensors.ask_outcome import ON_TIMEOUT, AskOutcome
from airflow_chat_alerts.sensors.ask_reminders import ReminderSchedule
from airflow_chat_alerts.templating import ChatTemplateFilters
from airflow_chat_alerts.utils import LAST_READ_LIMIT, deferral_settled_at, parse_utc, utc_iso

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_chat_alerts.alerters.base import BaseAlerter
    from airflow_chat_alerts.alerters.ports import Asker
    from airflow_chat_alerts.model import PostedQuestion
    from airflow_chat_alerts.settings import ChatConnectionSettings

# How long past the deadline Airflow waits for the trigger before failing the task itself: longer than
# the trigger keeps trying to read after the deadline, so the trigger's own clearer error comes first.
BACKSTOP_MARGIN = LAST_READ_LIMIT + timedelta(minutes=5)


def _seconds(value: timedelta | float | int, name: str) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds <= 0:
        raise ChatConfigError(f"{name} must be a positive number of seconds or a timedelta, got {value!r}")
    return float(seconds)


class ChatAskSensor(ChatTemplateFilters, BaseSensorOperator, BranchMixIn):
    """Post a question to chat and wait, deferred, until authorised people approve or reject it.

    Returns True when approved and False otherwise (the return value is the XCom ``return_value``); the
    decision record is pushed as XCom ``decision`` (outcome, approved, by, at, comment, channel, ts,
    permalink).

    :param message: the question (mrkdwn; templated).
    :param channel: where to ask (templated): a channel id or name (default: the connection's ``channel``
        extra), a Slack user id (``U…``: a direct message) or a list of 2 to 8 of them (a group direct
        message), opened with ``conversations.open``.
    :param blocks: extra Block Kit blocks shown under the question (templated).
    :param approve_keywords: first words of a thread reply that approve.
    :param reject_keywords: first words of a thread reply that reject; must not overlap the approve ones.
    :param approve_reactions: emoji names on the question that approve.
    :param reject_reactions: emoji names on the question that reject.
    :param approvers: Slack user ids (``U…``) and user group ids (``S…``) whose answers count; None
        means any member of the workspace in the channel (see ``allow_guests``).
    :param required_approvals: distinct approvers needed; an authorised rejection always vetoes.
    :param allow_guests: with ``approvers=None``, guests and members of other organisations (Slack
        Connect) may answer too; by default only the workspace's own members may.
    :param timeout: how long to wait for a decision (timedelta or seconds), from the first post.
    :param on_timeout: ``reject`` (return False), ``approve`` (return True), ``fail`` or ``skip``.
    :param poll_interval: seconds (or timedelta) between reads of the question.
    :param reconcile_interval: seconds (or timedelta) between reads while the triggerer receives
        answers pushed over Socket Mode (the connection has an ``app_token``); at least
        ``poll_interval``. The reads then only catch what push missed.
    :param remind_after: post a reminder in the thread, mentioning the approvers, every this long
        (timedelta or seconds) while undecided; None for no reminders.
    :param max_reminders: at most this many reminders.
    :param branches: ``{"approved": task ids, "rejected": …, "timed_out": …}`` makes the sensor branch:
        the tasks listed for the outcome run and the other direct downstream tasks are skipped (an
        outcome without an entry skips them all; ``timed_out`` falls back to the entry of what the
        timeout resolves to).
    :param skip_downstream_on_reject: without ``branches``, skip the direct downstream tasks when the
        answer is False.
    :param chat_conn_id: the Airflow connection to chat (``slack`` type).
    """

    template_fields: Sequence[str] = ("message", "blocks", "channel")
    template_fields_renderers = {"blocks": "json", "message": "md"}
    ui_color = "#fbe3c8"
    inherits_from_skipmixin = True

    def __init__(
        self,
        *,
        message: str,
        channel: str | Sequence[str] | None = None,
        blocks: list[dict[str, Any]] | str | None = None,
        approve_keywords: Collection[str] = DEFAULT_APPROVE_KEYWORDS,
        reject_keywords: Collection[str] = DEFAULT_REJECT_KEYWORDS,
        approve_reactions: Collection[str] = DEFAULT_APPROVE_REACTIONS,
        reject_reactions: Collection[str] = DEFAULT_REJECT_REACTIONS,
        approvers: Collection[str] | None = None,
        required_approvals: int = 1,
        allow_guests: bool = False,
        timeout: timedelta | float = timedelta(hours=24),
        on_timeout: str = "reject",
        poll_interval: timedelta | float = 10.0,
        reconcile_interval: timedelta | float = 300.0,
        remind_after: timedelta | float | None = None,
        max_reminders: int = 3,
        branches: Mapping[str, str | Iterable[str]] | None = None,
        skip_downstream_on_reject: bool = False,
        chat_conn_id: str = "slack_api_default",
        **kwargs: Any,
    ) -> None:
        # Everything is checked before Airflow's own init, so a bad DAG fails to parse with our message.
        if not isinstance(message, str) or not message.strip():
            raise ChatConfigError("message must be a non-empty string (the question to ask)")
        timeout_seconds = _seconds(timeout, "timeout")
        poll_seconds = _seconds(poll_interval, "poll_interval")
        reconcile_seconds = _seconds(reconcile_interval, "reconcile_interval")
        if reconcile_seconds < poll_seconds:
            raise ChatConfigError(
                f"reconcile_interval ({reconcile_seconds:g} s) must be at least poll_interval ({poll_seconds:g} s): "
                f"reads slow down to it while answers are pushed, they never speed up"
            )
        remind_seconds = _seconds(remind_after, "remind_after") if remind_after is not None else None
        if on_timeout not in ON_TIMEOUT:
            raise ChatConfigError(f"on_timeout must be one of {', '.join(ON_TIMEOUT)}, got {on_timeout!r}")
        if isinstance(max_reminders, bool) or not isinstance(max_reminders, int) or max_reminders < 0:
            raise ChatConfigError(f"max_reminders must be a whole number >= 0, got {max_reminders!r}")
        policy_args: dict[str, Any] = {  # any collections: the policy normalises them to tuples
            "approve_keywords": approve_keywords,
            "reject_keywords": reject_keywords,
            "approve_reactions": approve_reactions,
            "reject_reactions": reject_reactions,
            "approvers": approvers,
            "required_approvals": required_approvals,
            "allow_guests": allow_guests,
        }
        Destination.of(channel)  # a bad list of people fails when the DAG is parsed
        policy = AskPolicy(**policy_args)  # validates (overlapping keywords, unknown ids, quorum)
        branch_map = ask_outcome.branch_map(branches)
        if kwargs.get("mode", "poke") != "poke":
            raise ChatConfigError("ChatAskSensor always defers while it waits: leave mode unset")

        super().__init__(timeout=timeout_seconds, poke_interval=poll_seconds, **kwargs)
        self.message = message
        self.channel = channel
        self.blocks = blocks
        self.policy = policy
        self.on_timeout = on_timeout
        self.poll_interval = poll_seconds
        self.reconcile_interval = reconcile_seconds
        self.remind_after = remind_seconds
        self.max_reminders = max_reminders
        self.branches = branch_map
        self.skip_downstream_on_reject = skip_downstream_on_reject
        self.chat_conn_id = chat_conn_id

    # -- Airflow entry points ------------------------------------------------------------------
    def execute(self, context: Context) -> bool:
        ti = context["ti"]
        self._check_branches()
        now = datetime.now(timezone.utc)
        event = None
        settings = self._settings()
        with self._alerter(settings) as alerter:
            destination = Destination.of(self.channel)  # rendered: a template may name people
            channel = (alerter.open_conversation(destination.people) if destination.direct
                       else alerter.channel_for(destination.channel))
            # Only an earlier try of this task instance can have posted its question.
            found = self._find_question(alerter, channel, context, now) if ti.try_number > 1 else None
            if found is not None:
                question = QuestionRecord.of(found)
                self.log.info("Reusing the question an earlier try posted: %s (ts %s)", question.label, question.ts)
            else:
                deadline = utc_iso(now + timedelta(seconds=self.timeout))
                payload = {**self._identity(context), "try_number": ti.try_number, "deadline": deadline}
                question = QuestionRecord.of(
                    self._post_question(alerter, channel, context, payload, now, interactive=settings.interactive)
                )
                self.log.info(
                    "Asked in %s: %s (ts %s); waiting until %s", question.channel, question.label, question.ts, deadline
                )
            ti.xcom_push(key=QUESTION_XCOM_KEY, value=question.to_dict())
            if not question.posted_by_try(ti.try_number):  # it may have been answered while no try ran
                event = decided_already(alerter, question, self.policy, now=datetime.now(timezone.utc))
        if event is not None:
            self.log.info("The question %s was answered already: %s", question.ts, event["status"])
            return self._resume(context, question, event)
        return self._defer(question, now)

    def execute_complete(self, context: Context, event: AskEvent) -> bool:
        ti = context["ti"]
        stored = ti.xcom_pull(task_ids=self.task_id, key=QUESTION_XCOM_KEY, map_indexes=ti.map_index)
        return self._resume(context, QuestionRecord.from_dict(stored, task_id=self.task_id), event)

    # -- steps ---------------------------------------------------------------------------------
    def _resume(self, context: Context, question: QuestionRecord, event: AskEvent) -> bool:
        """Act on a trigger event: remind and defer again, or end the ask."""
        if event["status"] == "error":
            self._mark_unanswerable(context, question, event.get("code"))
            raise ChatPermanentError(
                f"Waiting for answers to the question {question.label} in {question.channel} failed: "
                f"{event.get('message')}",
                conn_id=self.chat_conn_id,
                channel=question.channel,
                code=event.get("code"),
            )
        if event["status"] == "remind":
            # The next reminder counts from when this one fell due, however long posting it takes.
            now = datetime.now(timezone.utc)
            self._remind(question, now)
            return self._defer(question, now)
        if event["status"] in ("approved", "rejected"):
            return self._finish(context, question, AskOutcome.decided(event["status"], event.get("decision") or {}))
        if event["status"] == "timed_out":
            return self._finish(context, question, AskOutcome.timed_out(self.on_timeout))
        raise ChatPermanentError(f"Unexpected event from the ask trigger: {event!r}")

    def _defer(self, question: QuestionRecord, now: datetime) -> NoReturn:
        from airflow_chat_alerts.triggers.ask import ChatAskTrigger

        deadline = question.deadline_at
        remind_at = self.reminders.next_after(question.ts, now, deadline)
        self.defer(
            trigger=ChatAskTrigger(
                conn_id=self.chat_conn_id,
                channel=question.channel,
                ts=question.ts,
                policy=self.policy.to_dict(),
                deadline=question.deadline,
                poll_interval=self.poll_interval,
                reconcile_interval=self.reconcile_interval,
                remind_at=utc_iso(remind_at) if remind_at else None,
                settled_at=utc_iso(deferral_settled_at(datetime.now(timezone.utc))),
            ),
            method_name="execute_complete",
            timeout=max(deadline - now, timedelta(0)) + BACKSTOP_MARGIN,
        )

    @property
    def reminders(self) -> ReminderSchedule:
        return ReminderSchedule(every=self.remind_after, most=self.max_reminders)

    def _remind(self, question: QuestionRecord, now: datetime) -> None:
        from airflow_chat_alerts.formatting import reminder_message

        deadline = question.deadline_at
        sent, later = self.reminders.count(question.ts, now, deadline)
        message = reminder_message(
            approvers=self.policy.approvers,
            deadline=deadline,
            reminders_left=later,
            approve_keyword=self.policy.approve_keywords[0],
            reject_keyword=self.policy.reject_keywords[0],
        )
        try:
            with self._alerter() as alerter:
                alerter.post(message, channel=question.channel, thread_ts=question.ts)
        except ChatAlertError as err:
            # A missed reminder must not end the wait: the trigger reports lasting trouble itself.
            self.log.warning("Could not post reminder %d in the thread of %s: %s", sent, question.ts, err)
            return
        self.log.info("Reminder %d posted in the thread of %s", sent, question.ts)

    def _finish(self, context: Context, question: QuestionRecord, outcome: AskOutcome) -> bool:
        """Mark the question with the outcome (so no later try reuses it), push XCom ``decision``, then
        return, branch, skip or fail as the outcome says."""
        from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException

        if outcome.on_timeout:
            self.log.info("Question %s timed out at %s: %s", question.ts, question.deadline, outcome.resolved_as)
        else:
            self.log.info(
                "Question %s: %s by %s (comment: %s)", question.ts, outcome.outcome, list(outcome.by), outcome.comment
            )
        try:
            settings = self._settings()
            decided = outcome.message(
                self._question(context, outcome.payload(question), interactive=settings.interactive)
            )
            with self._alerter(settings) as alerter:
                alerter.update(question.ref, decided)
        except ChatAlertError as err:
            # The decision stands even when the message cannot show it (e.g. it was deleted meanwhile).
            self.log.warning("Could not mark the question %s with its outcome: %s", question.ts, err)
        context["ti"].xcom_push(key=DECISION_XCOM_KEY, value=outcome.record(question))
        if outcome.on_timeout == "fail":
            raise AirflowSensorTimeout(
                f"No decision on the question {question.label} in {question.channel} before its deadline "
                f"{question.deadline} (on_timeout='fail')"
            )
        if outcome.on_timeout == "skip":
            raise AirflowSkipException(f"No decision before the deadline {question.deadline} (on_timeout='skip')")
        return self._follow(context, outcome.approved, branch=outcome.branch(self.branches))

    def _mark_unanswerable(self, context: Context, question: QuestionRecord, code: str | None) -> None:
        """The ask failed: take the buttons and the "how to answer" off the question and say why, so that
        nobody presses a button that no triggerer will receive. Best effort: the failure stands anyway."""
        from airflow_chat_alerts.formatting import unanswerable_message

        try:
            settings = self._settings()
            failed = {**question.payload, "outcome": "failed"}  # no later try reuses it
            posted = self._question(context, failed, interactive=settings.interactive)
            reason = ask_outcome.unanswerable_reason(code)
            with self._alerter(settings) as alerter:
                alerter.update(question.ref, unanswerable_message(posted, reason=reason))
        except ChatAlertError as err:  # e.g. the question deleted, or the bot token revoked too
            self.log.warning("Could not mark the question %s as no longer answerable: %s", question.ts, err)

    def _follow(self, context: Context, approved: bool, *, branch: str) -> bool:
        """Branch or skip as configured; the result is pushed first, as skipping ends the task at once."""
        ti = context["ti"]
        if self.do_xcom_push:
            ti.xcom_push(key="return_value", value=approved)
        if self.branches:
            self.do_branch(context, self.branches.get(branch, []))
        elif not approved and self.skip_downstream_on_reject:
            self.skip(ti=ti, tasks=[t for t in self.get_direct_relatives(upstream=False) if not t.is_teardown])
        return approved

    # -- helpers -------------------------------------------------------------------------------
    def _check_branches(self) -> None:
        """Every task ``branches`` names is directly downstream: checked before anything is posted."""
        downstream = self.downstream_task_ids
        for task_id in sorted({task_id for ids in self.branches.values() for task_id in ids} - downstream):
            if self.dag is not None and self.dag.has_task(task_id):
                raise ChatConfigError(
                    f"branches names task {task_id!r}, which is not directly downstream of {self.task_id!r}: "
                    f"add `{self.task_id} >> {task_id}` or remove it from branches"
                )
            raise ChatConfigError(f"branches names task {task_id!r}, which is not a task of this DAG")

    def _post_question(
        self,
        alerter: Asker,
        channel: str,
        context: Context,
        payload: dict[str, Any],
        now: datetime,
        *,
        interactive: bool,
    ) -> PostedQuestion:
        message = self._question(context, payload, interactive=interactive)
        find = functools.partial(self._find_question, alerter, channel, context, now)
        return ask_posting.post_question(alerter, channel, message, payload, find=find)

    def _find_question(
        self, alerter: Asker, channel: str, context: Context, now: datetime
    ) -> PostedQuestion | None:
        return ask_posting.find_question(
            alerter,
            channel,
            match=self._identity(context),
            now=now,
            timeout=self.timeout,
            run_start=self._run_start(context),
        )

    def _settings(self) -> ChatConnectionSettings:
        """The connection, read once per step (whether it takes clicks decides the question's buttons)."""
        from airflow_chat_alerts.hooks.chat_alerter import ChatAlerterHook

        return ChatAlerterHook(chat_conn_id=self.chat_conn_id).settings()

    def _alerter(self, settings: ChatConnectionSettings | None = None) -> closing[BaseAlerter]:
        """The connection's alerter (from ``settings`` when already read), closed when the ``with`` block ends."""
        from airflow_chat_alerts.hooks.chat_alerter import ChatAlerterHook

        return closing(ChatAlerterHook.alerter_for(settings or self._settings()))

    @staticmethod
    def _identity(context: Context) -> dict[str, Any]:
        ti = context["ti"]
        return {"dag_id": ti.dag_id, "run_id": ti.run_id, "task_id": ti.task_id, "map_index": ti.map_index}

    @staticmethod
    def _run_start(context: Context) -> datetime | None:
        dag_run = context.get("dag_run")
        return getattr(dag_run, "start_date", None) or getattr(dag_run, "run_after", None)

    def _question(self, context: Context, payload: Mapping[str, Any], *, interactive: bool) -> Message:
        """The question as posted by the try that ``payload`` (its metadata payload) names.

        :param interactive: the connection takes clicks: the question carries Approve/Reject buttons.
        """
        from airflow_chat_alerts.formatting import blocks_from, question_message

        return question_message(
            self.message,
            context=PipelineContext.of(context["ti"], try_number=payload.get("try_number")),
            approve_keywords=self.policy.approve_keywords,
            reject_keywords=self.policy.reject_keywords,
            approve_reactions=self.policy.approve_reactions,
            reject_reactions=self.policy.reject_reactions,
            approvers=self.policy.approvers,
            required_approvals=self.policy.required_approvals,
            allow_guests=self.policy.allow_guests,
            deadline=parse_utc(payload["deadline"]),
            on_timeout=self.on_timeout,
            extra_blocks=blocks_from(self.blocks),
            metadata={"event_type": ASK_EVENT_TYPE, "event_payload": dict(payload)},
            interactive=interactive,
        )

