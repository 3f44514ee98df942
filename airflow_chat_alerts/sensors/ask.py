"""ChatAskSensor: ask people in chat to approve a step, wait without a worker slot, then branch.

Why a sensor (``BaseSensorOperator``) and not a plain operator: it is one to the people running the DAG
(shown as a sensor, ``soft_fail`` turns a failure into a skip) and a deferral that overruns its backstop
fails as ``AirflowSensorTimeout`` (no retry) like every other sensor. Airflow's own sensor timeout
cannot fire first: it is only checked by the poke loop, which this sensor never runs (``execute()``
always defers). The question's deadline is ours: absolute, stored in the question's metadata, enforced
by the trigger, and resolved by ``on_timeout``. The deferral's ``timeout`` is only a backstop
:data:`BACKSTOP_MARGIN` beyond it, for a trigger that never answers.

Flow: ``execute()`` renders and posts the question (or reuses the undecided one an earlier try of the
same task instance posted) and defers to :class:`~airflow_chat_alerts.triggers.ask.ChatAskTrigger`.
``execute_complete()`` posts reminders in the thread and defers again, or, once decided, marks the
question with the outcome, pushes XCom ``decision`` and returns True (approved) / False, branching or
skipping downstream as configured.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import closing
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, BranchMixIn

from airflow_chat_alerts.alerters.base import ASK_EVENT_TYPE, Message, MessageRef, PipelineContext
from airflow_chat_alerts.decisions import (
    DEFAULT_APPROVE_KEYWORDS,
    DEFAULT_APPROVE_REACTIONS,
    DEFAULT_REJECT_KEYWORDS,
    DEFAULT_REJECT_REACTIONS,
    AskPolicy,
)
from airflow_chat_alerts.exceptions import ChatAlertError, ChatConfigError, ChatPermanentError, ChatTransientError
from airflow_chat_alerts.templating import ChatTemplateFilters
from airflow_chat_alerts.utils import LAST_READ_LIMIT

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_chat_alerts.alerters.base import BaseAlerter, PostedQuestion
    from airflow_chat_alerts.settings import ChatConnectionSettings

ON_TIMEOUT = ("reject", "approve", "fail", "skip")
# What an unanswered question resolves to, by on_timeout.
RESOLVED_AS = {"reject": "rejected", "approve": "approved", "fail": "failed", "skip": "skipped"}
BRANCH_KEYS = frozenset({"approved", "rejected", "timed_out"})
# How long past the deadline Airflow waits for the trigger before failing the task itself: longer than
# the trigger keeps trying to read after the deadline, so the trigger's own clearer error comes first.
BACKSTOP_MARGIN = LAST_READ_LIMIT + timedelta(minutes=5)
# Clock skew allowed between Airflow and Slack: how far before the DAG run started a question of this
# run may have been posted, and how far a question's deadline may lie beyond its ts + timeout.
CLOCK_SKEW = timedelta(minutes=5)
# Errors after which Slack may have posted the question although the call failed (no answer, or a
# server error that may have come after the post).
MAY_HAVE_POSTED_CODES = frozenset(
    {"connection_error", "fatal_error", "internal_error", "service_unavailable", "request_timeout"}
)


def _seconds(value: timedelta | float | int, name: str) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds <= 0:
        raise ChatConfigError(f"{name} must be a positive number of seconds or a timedelta, got {value!r}")
    return float(seconds)


def _utc_iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


class ChatAskSensor(ChatTemplateFilters, BaseSensorOperator, BranchMixIn):
    """Post a question to chat and wait, deferred, until authorised people approve or reject it.

    Returns True when approved and False otherwise (the return value is the XCom ``return_value``); the
    decision record is pushed as XCom ``decision`` (outcome, approved, by, at, comment, channel, ts,
    permalink).

    :param message: the question (mrkdwn; templated).
    :param channel: the channel (id or name); default: the connection's ``channel`` extra (templated).
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
        channel: str | None = None,
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
        policy = AskPolicy(**policy_args)  # validates (overlapping keywords, unknown ids, quorum)
        branch_map = _branch_map(branches)
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
        settings = self._settings()
        with self._alerter(settings) as alerter:
            channel = self.channel or alerter.default_channel
            if not channel:
                raise ChatConfigError(
                    f"No channel to ask in: give ChatAskSensor(channel=...) or a 'channel' extra on connection "
                    f"{self.chat_conn_id!r}",
                    conn_id=self.chat_conn_id,
                )
            now = datetime.now(timezone.utc)
            # Only an earlier try of this task instance can have posted its question.
            found = self._find_question(alerter, channel, context, now) if ti.try_number > 1 else None
            if found is not None:
                self.log.info(
                    "Reusing the question an earlier try posted: %s (ts %s)", found.ref.permalink, found.ref.ts
                )
            else:
                deadline = _utc_iso(now + timedelta(seconds=self.timeout))
                payload = {**self._identity(context), "try_number": ti.try_number, "deadline": deadline}
                found = self._post_question(
                    alerter, channel, context, payload, now, interactive=settings.interactive
                )
                ref = found.ref
                self.log.info(
                    "Asked in %s: %s (ts %s); waiting until %s", ref.channel, ref.permalink, ref.ts, deadline
                )
        ref, payload = found.ref, found.payload
        question = {
            "channel": ref.channel,
            "ts": ref.ts,
            "permalink": ref.permalink,
            "deadline": payload["deadline"],
            "payload": payload,
        }
        ti.xcom_push(key="question", value=question)
        return self._defer(context, question, now, answered_already_possible=payload.get("try_number") != ti.try_number)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> bool:
        ti = context["ti"]
        question = ti.xcom_pull(task_ids=self.task_id, key="question", map_indexes=ti.map_index)
        if not question:
            raise ChatPermanentError(
                f"Task {self.task_id} resumed without the record of its question (XCom 'question')"
            )
        status = event.get("status")
        if status == "error":
            raise ChatPermanentError(
                f"Waiting for answers to the question {question.get('permalink') or question['ts']} in "
                f"{question['channel']} failed: {event.get('message')}",
                conn_id=self.chat_conn_id,
                channel=question["channel"],
                code=event.get("code"),
            )
        if status == "remind":
            # The next reminder counts from when this one fell due, however long posting it takes.
            now = datetime.now(timezone.utc)
            self._remind(question, now)
            return self._defer(context, question, now, answered_already_possible=False)
        if status in ("approved", "rejected"):
            return self._decided(context, question, status, event.get("decision") or {})
        if status == "timed_out":
            return self._timed_out(context, question)
        raise ChatPermanentError(f"Unexpected event from the ask trigger: {event!r}")

    # -- steps ---------------------------------------------------------------------------------
    def _defer(
        self, context: Context, question: dict[str, Any], now: datetime, *, answered_already_possible: bool
    ) -> bool:
        """Defer to the trigger; for a question an earlier try posted, first look whether it is decided."""
        from airflow_chat_alerts.triggers.ask import ChatAskTrigger, parse_utc

        deadline = parse_utc(question["deadline"])
        remind_at = self._next_reminder(question["ts"], now, deadline)
        trigger = ChatAskTrigger(
            conn_id=self.chat_conn_id,
            channel=question["channel"],
            ts=question["ts"],
            policy=self.policy.to_dict(),
            deadline=question["deadline"],
            poll_interval=self.poll_interval,
            reconcile_interval=self.reconcile_interval,
            remind_at=_utc_iso(remind_at) if remind_at else None,
        )
        if answered_already_possible:
            event = asyncio.run(trigger.check_now())
            if event is not None:
                self.log.info("The question %s was answered already: %s", question["ts"], event["status"])
                return self.execute_complete(context, event)
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            timeout=max(deadline - now, timedelta(0)) + BACKSTOP_MARGIN,
        )

    def _reminder_times(self, question_ts: str, deadline: datetime) -> list[datetime]:
        """Reminders fall every ``remind_after`` from the question's post time, at most ``max_reminders``,
        all before the deadline.

        Counting from the post time (not from a counter) keeps it stateless: a resumed or retried task
        computes the same schedule and never repeats a reminder already due.
        """
        if not self.remind_after or not self.max_reminders:
            return []
        posted = datetime.fromtimestamp(float(question_ts), timezone.utc)
        times = (posted + timedelta(seconds=n * self.remind_after) for n in range(1, self.max_reminders + 1))
        return [at for at in times if at < deadline]

    def _next_reminder(self, question_ts: str, now: datetime, deadline: datetime) -> datetime | None:
        return next((at for at in self._reminder_times(question_ts, deadline) if at > now), None)

    def _remind(self, question: dict[str, Any], now: datetime) -> None:
        from airflow_chat_alerts.formatting import reminder_message
        from airflow_chat_alerts.triggers.ask import parse_utc

        deadline = parse_utc(question["deadline"])
        times = self._reminder_times(question["ts"], deadline)
        sent = sum(at <= now for at in times)
        later = len(times) - sent
        message = reminder_message(
            approvers=self.policy.approvers,
            deadline=deadline,
            reminders_left=later,
            approve_keyword=self.policy.approve_keywords[0],
            reject_keyword=self.policy.reject_keywords[0],
        )
        try:
            with self._alerter() as alerter:
                alerter.post(message, channel=question["channel"], thread_ts=question["ts"])
        except ChatAlertError as err:
            # A missed reminder must not end the wait: the trigger reports lasting trouble itself.
            self.log.warning("Could not post reminder %d in the thread of %s: %s", sent, question["ts"], err)
            return
        self.log.info("Reminder %d posted in the thread of %s", sent, question["ts"])

    def _decided(self, context: Context, question: dict[str, Any], outcome: str, decision: dict[str, Any]) -> bool:
        approved = outcome == "approved"
        record = {
            "outcome": outcome,
            "approved": approved,
            "by": list(decision.get("by") or []),
            "at": decision.get("at") or "",
            "comment": decision.get("comment"),
        }
        self.log.info("Question %s: %s by %s (comment: %s)", question["ts"], outcome, record["by"], record["comment"])
        self._conclude(context, question, record)
        return self._follow(context, approved, branch=outcome)

    def _timed_out(self, context: Context, question: dict[str, Any]) -> bool:
        from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException

        resolved_as = RESOLVED_AS[self.on_timeout]
        record: dict[str, Any] = {
            "outcome": "timed_out", "approved": self.on_timeout == "approve", "by": [], "at": "", "comment": None
        }
        self.log.info("Question %s timed out at %s: %s", question["ts"], question["deadline"], resolved_as)
        self._conclude(context, question, record, resolved_as=resolved_as)
        if self.on_timeout == "fail":
            raise AirflowSensorTimeout(
                f"No decision on the question {question.get('permalink') or question['ts']} in {question['channel']} "
                f"before its deadline {question['deadline']} (on_timeout='fail')"
            )
        if self.on_timeout == "skip":
            raise AirflowSkipException(f"No decision before the deadline {question['deadline']} (on_timeout='skip')")
        branch = "timed_out" if "timed_out" in self.branches else resolved_as
        return self._follow(context, record["approved"], branch=branch)

    def _conclude(
        self, context: Context, question: dict[str, Any], record: dict[str, Any], *, resolved_as: str | None = None
    ) -> None:
        """Mark the question with the outcome (so no later try reuses it) and push XCom ``decision``."""
        from airflow_chat_alerts.formatting import outcome_message

        where = {"channel": question["channel"], "ts": question["ts"], "permalink": question.get("permalink")}
        record = {**record, **where}
        payload = {**question["payload"], "outcome": resolved_as or record["outcome"]}
        try:
            settings = self._settings()
            decided = outcome_message(
                self._question(context, payload, interactive=settings.interactive),
                outcome=record["outcome"],
                by=record["by"],
                comment=record["comment"],
                resolved_as=resolved_as,
            )
            with self._alerter(settings) as alerter:
                alerter.update(MessageRef(channel=question["channel"], ts=question["ts"]), decided)
        except ChatAlertError as err:
            # The decision stands even when the message cannot show it (e.g. it was deleted meanwhile).
            self.log.warning("Could not mark the question %s with its outcome: %s", question["ts"], err)
        context["ti"].xcom_push(key="decision", value=record)

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
        alerter: BaseAlerter,
        channel: str,
        context: Context,
        payload: dict[str, Any],
        now: datetime,
        *,
        interactive: bool,
    ) -> PostedQuestion:
        """Post the question (with buttons when ``interactive``). A post is never re-sent blindly: after a
        failure that leaves unclear whether Slack posted it, look for it first, and post again (once) only
        if it is not there."""
        from airflow_chat_alerts.alerters.base import PostedQuestion

        message = self._question(context, payload, interactive=interactive)
        try:
            return PostedQuestion(ref=alerter.post_question(message, channel=channel), payload=payload)
        except ChatTransientError as err:
            if not _may_have_posted(err):
                raise
            self.log.warning("Posting the question may have failed (%s): looking for it before posting again", err)
        found = self._find_question(alerter, channel, context, now)
        if found is not None:
            return found
        return PostedQuestion(ref=alerter.post_question(message, channel=channel), payload=payload)

    def _find_question(
        self, alerter: BaseAlerter, channel: str, context: Context, now: datetime
    ) -> PostedQuestion | None:
        """The undecided question this app posted for this task instance within the ask's timeout, if any.

        :raises ChatTransientError: the bounded lookup could not finish; the try fails so that Airflow's
            retry looks again, rather than risk posting a second question.
        """
        oldest = now - timedelta(seconds=self.timeout) - CLOCK_SKEW
        run_start = self._run_start(context)
        if run_start is not None:
            oldest = max(oldest, run_start - CLOCK_SKEW)
        try:
            return alerter.find_question(
                channel,
                match=self._identity(context),
                oldest=f"{oldest.timestamp():.6f}",
                timeout=self.timeout,
                clock_skew=CLOCK_SKEW.total_seconds(),
            )
        except ChatTransientError as err:
            raise ChatTransientError(
                f"Could not finish looking for the question this task instance may have posted in {channel} "
                f"({err}); not asking again, so that no second question is posted: a retry of the task looks again",
                conn_id=self.chat_conn_id,
                channel=channel,
                code=err.code,
            ) from err
        except ChatPermanentError as err:
            # E.g. a token without channels:history: posting may still work, and fails clearly if not.
            self.log.warning("Cannot look for a question an earlier try posted (%s); asking anew", err)
            return None

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

    def _question(self, context: Context, payload: dict[str, Any], *, interactive: bool) -> Message:
        """The question as posted by the try that ``payload`` (its metadata payload) names.

        :param interactive: the connection takes clicks: the question carries Approve/Reject buttons.
        """
        from airflow_chat_alerts.formatting import question_message
        from airflow_chat_alerts.triggers.ask import parse_utc

        ti = context["ti"]
        blocks = self.blocks
        if isinstance(blocks, str):  # a template rendered to JSON text
            import json

            try:
                blocks = json.loads(blocks)
            except ValueError as err:
                raise ChatConfigError(f"blocks rendered to text that is not JSON: {err}") from None
        return question_message(
            self.message,
            context=PipelineContext(
                dag_id=ti.dag_id,
                run_id=ti.run_id,
                task_id=ti.task_id,
                try_number=payload.get("try_number", ti.try_number),
                map_index=ti.map_index if ti.map_index is not None else -1,
                link=getattr(ti, "log_url", None),
            ),
            approve_keywords=self.policy.approve_keywords,
            reject_keywords=self.policy.reject_keywords,
            approve_reactions=self.policy.approve_reactions,
            reject_reactions=self.policy.reject_reactions,
            approvers=self.policy.approvers,
            required_approvals=self.policy.required_approvals,
            allow_guests=self.policy.allow_guests,
            deadline=parse_utc(payload["deadline"]),
            on_timeout=self.on_timeout,
            extra_blocks=blocks,
            metadata={"event_type": ASK_EVENT_TYPE, "event_payload": payload},
            interactive=interactive,
        )


def _may_have_posted(err: ChatTransientError) -> bool:
    code = err.code or ""
    return code in MAY_HAVE_POSTED_CODES or code.startswith("http_5")


def _branch_map(branches: Mapping[str, str | Iterable[str]] | None) -> dict[str, list[str]]:
    if branches is None:
        return {}
    if not isinstance(branches, Mapping):
        raise ChatConfigError(f"branches must be a dict like {{'approved': 'deploy'}}, got {type(branches).__name__}")
    unknown = set(branches) - BRANCH_KEYS
    if unknown:
        raise ChatConfigError(
            f"branches has unknown key(s) {', '.join(sorted(map(repr, unknown)))}: use {', '.join(sorted(BRANCH_KEYS))}"
        )
    result = {}
    for key, task_ids in branches.items():
        ids = [task_ids] if isinstance(task_ids, str) else list(task_ids)
        if not ids or not all(isinstance(t, str) and t for t in ids):
            raise ChatConfigError(f"branches[{key!r}] must be a task id or a list of task ids, got {task_ids!r}")
        result[key] = ids
    return result
