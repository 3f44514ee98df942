"""Airflow's Human-in-the-loop operators, asked in Slack too: ``ChatHITLOperator``,
``ChatApprovalOperator``, ``ChatHITLBranchOperator`` and ``ChatHITLEntryOperator``.

Each is a subclass of Airflow's own operator (``HITLOperator``, ``ApprovalOperator``, ``HITLBranchOperator``,
``HITLEntryOperator``) taking every one of its parameters, plus this package's chat parameters. The
chat ones are checked first, Airflow's own by Airflow's class, then the request as Slack will show it
(:class:`~airflow_chat_alerts.hitl.request.HITLRequest`), so a bad DAG fails when it is parsed.

``execute`` writes the request to Airflow as Airflow's operator does (its ``hitl_detail`` row: a Required
action), posts it to Slack (or reuses the message an earlier try posted) and defers to
:class:`~airflow_chat_alerts.triggers.hitl.ChatHITLTrigger` on every Airflow version (a deferred request is
still a Required action), which listens to Slack and to the row: the first answer wins, wherever it is
given. ``execute_complete`` takes that trigger's event or Airflow's own resume payload (an answer given in
Airflow resumes the deferred task directly on Airflow 3.3), shows the outcome on the Slack message, pushes
XCom ``decision``, then hands Airflow's operator the answer (its validation, XCom, branching, skipping).

Importing this module needs Airflow 3.1+ with apache-airflow-providers-standard 1.12.2+ (the first with
``response_timeout``); on anything older the import fails with an ``ImportError`` naming both versions.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Collection, Mapping, Sequence
from contextlib import closing
from datetime import datetime, timedelta, timezone
from importlib import metadata
from typing import TYPE_CHECKING, Any, NoReturn

from airflow_chat_alerts.chat_wait import ChatWait, Destination
from airflow_chat_alerts.decisions import AskPolicy
from airflow_chat_alerts.exceptions import ChatAlertError, ChatPermanentError
from airflow_chat_alerts.formatting import mention, slack_date
from airflow_chat_alerts.hitl.message import (
    HITL_EVENT_TYPE,
    answered_message,
    request_message,
    request_metadata,
)
from airflow_chat_alerts.hitl.request import HITLRequest
from airflow_chat_alerts.model import DECISION_XCOM_KEY, QUESTION_XCOM_KEY, Message, PipelineContext
from airflow_chat_alerts.operators.hitl_outcome import HITLOutcome, RequestRecord
from airflow_chat_alerts.sensors import ask_posting
from airflow_chat_alerts.sensors.ask_reminders import ReminderSchedule
from airflow_chat_alerts.templating import ChatTemplateFilters
from airflow_chat_alerts.utils import LAST_READ_LIMIT, as_slack_ts, deferral_settled_at, parse_utc, utc_iso

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_chat_alerts.alerters.base import BaseAlerter
    from airflow_chat_alerts.alerters.ports import Asker
    from airflow_chat_alerts.model import PostedQuestion
    from airflow_chat_alerts.settings import ChatConnectionSettings

# Human-in-the-loop came with Airflow 3.1 (providers-standard 1.5.0); response_timeout with 1.12.2.
NEEDED = "Airflow 3.1 or later with apache-airflow-providers-standard 1.12.2 or later"


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _needs(reason: str) -> ImportError:
    # Airflow 3 installs apache-airflow-core (and usually apache-airflow); Airflow 2 only apache-airflow.
    airflow = next((v for v in map(_version, ("apache-airflow-core", "apache-airflow")) if v != "not installed"),
                   "not installed")
    standard = _version("apache-airflow-providers-standard")
    return ImportError(
        f"airflow_chat_alerts' Human-in-the-loop operators need {NEEDED} (found Airflow {airflow}, "
        f"apache-airflow-providers-standard {standard}): {reason}"
    )


try:
    from airflow.providers.standard.operators import hitl as _airflow_hitl
except Exception as err:  # ImportError, or the provider's own "needs Airflow 3.1+" feature exception
    raise _needs(f"{type(err).__name__}: {err}") from err
if "response_timeout" not in inspect.signature(_airflow_hitl.HITLOperator.__init__).parameters:
    raise _needs("this providers-standard's HITLOperator has no response_timeout")

HITLOperator = _airflow_hitl.HITLOperator

# How long past the deadline Airflow waits for the trigger before failing the task itself (as asks).
BACKSTOP_MARGIN = LAST_READ_LIMIT + timedelta(minutes=5)
# Reminders of a request without a deadline are scheduled within this long.
_NO_DEADLINE = timedelta(days=3650)


def request_payload(identity: Mapping[str, Any], *, deadline: datetime | None, try_number: int,
                    request: HITLRequest, approval: bool) -> dict[str, Any]:
    """The request message's metadata payload (see :func:`~airflow_chat_alerts.hitl.message.request_metadata`)."""
    return dict(request_metadata(identity, deadline=deadline, try_number=try_number, request=request,
                                 approval=approval)["event_payload"])


class ChatHITLOperator(ChatTemplateFilters, HITLOperator):
    """Airflow's ``HITLOperator``, asked in Slack as well as on Airflow's Required actions page.

    Takes every parameter of Airflow's class (``subject``, ``options``, ``body``, ``defaults``,
    ``multiple``, ``params``, ``notifiers``, ``assigned_users``, ``response_timeout``, and the
    ``BaseOperator`` ones) with the same meaning, XCom and timeout behaviour, plus:

    :param chat_conn_id: the Airflow connection to Slack (``slack`` type; an ``app_token`` extra gives
        buttons, menus and the form; its ``airflow_users`` extra maps Slack people to Airflow users).
    :param channel: where to ask: a channel id or name (default: the connection's ``channel`` extra), a
        Slack user id (a direct message) or a list of 2 to 8 (a group direct message); templated.
    :param approvers: Slack user ids (``U…``) and user group ids (``S…``) who may answer in Slack; None
        for anyone in the channel (see ``allow_guests``). With ``assigned_users``, a Slack answer counts
        only when its person also maps to an assigned Airflow user.
    :param allow_guests: with ``approvers=None``, guests and members of other organisations may answer too.
    :param remind_after: remind in the thread every this long (timedelta or seconds) while unanswered.
    :param max_reminders: at most this many reminders.
    :param poll_interval: seconds (or timedelta) between reads of the request's thread.
    :param reconcile_interval: seconds (or timedelta) between reads while answers are pushed (Socket Mode);
        at least ``poll_interval``.
    """

    template_fields: Sequence[str] = (*HITLOperator.template_fields, "channel")
    ui_color = "#fbe3c8"

    def __init__(
        self,
        *,
        chat_conn_id: str = "slack_api_default",
        channel: str | Sequence[str] | None = None,
        approvers: Collection[str] | None = None,
        allow_guests: bool = False,
        remind_after: timedelta | float | None = None,
        max_reminders: int = 3,
        poll_interval: timedelta | float = 10.0,
        reconcile_interval: timedelta | float = 300.0,
        **kwargs: Any,
    ) -> None:
        # Ours first, then Airflow's checks (super), then the request as Slack shows it.
        destination = Destination.of(channel)
        wait = ChatWait.of(poll_interval=poll_interval, reconcile_interval=reconcile_interval,
                           remind_after=remind_after, max_reminders=max_reminders)
        policy = AskPolicy(approvers=approvers, allow_guests=allow_guests)  # type: ignore[arg-type]  # normalised
        super().__init__(**kwargs)
        self.chat_conn_id = chat_conn_id
        self.channel = channel
        self.destination = destination
        self.wait = wait
        self.policy = policy
        self.request = self._request()

    def _request(self) -> HITLRequest:
        """The request as Airflow will write it (and Slack show it), checked: options Slack can tell apart,
        params whose defaults are JSON (Airflow's own ``execute`` cannot send a param without a default)."""
        return HITLRequest.of(
            subject=self.subject,
            options=self.options,
            body=self.body,
            defaults=self.defaults,
            multiple=self.multiple,
            params=self.serialized_params,
            assigned_users=self.assigned_users,
        )

    @property
    def airflow_class(self) -> type:
        """Airflow's own operator this one is (``HITLOperator``, ``ApprovalOperator``, …)."""
        return next(c for c in type(self).__mro__ if c.__module__ == _airflow_hitl.__name__)

    # -- Airflow entry points ------------------------------------------------------------------
    def execute(self, context: Context) -> NoReturn:
        """Write the request to Airflow (as Airflow's operator does), ask it in Slack (or reuse the message an
        earlier try posted), then defer to :class:`~airflow_chat_alerts.triggers.hitl.ChatHITLTrigger`."""
        from airflow.sdk.execution_time.hitl import upsert_hitl_detail

        ti = context["task_instance"]
        request = self._request()  # rendered by now
        now = datetime.now(timezone.utc)
        settings = self._settings()
        with self._alerter(settings) as alerter:
            alerter.require("hitl")  # before Airflow's record: a request no one could answer in chat
            destination = Destination.of(self.channel)  # rendered: a template may name a person
            channel = (alerter.open_conversation(destination.people) if destination.direct
                       else alerter.channel_for(destination.channel))
            found = self._find_request(alerter, channel, context, now) if ti.try_number > 1 else None
            if found is not None:
                record = RequestRecord.of(found.ref, found.payload)
                self.log.info("Reusing the request an earlier try posted: %s (ts %s)", record.label, record.ts)
            else:
                deadline = now + self.response_timeout if self.response_timeout else None
                payload = request_payload(self._identity(context), deadline=deadline, try_number=ti.try_number,
                                          request=request, approval=self.approval)
                # Airflow's own record first: the request is a Required action even if Slack fails.
                self._write_request(upsert_hitl_detail, ti, request, deadline, context)
                message = self._message(context, request, payload, settings.interactive)
                find = functools.partial(self._find_request, alerter, channel, context, now)
                posted = ask_posting.post_question(alerter, channel, message, payload, find=find)
                record = RequestRecord.of(posted.ref, posted.payload)
                self.log.info("Asked in %s: %s (ts %s); waiting until %s", record.channel, record.label, record.ts,
                              record.deadline or "answered")
        if found is not None:
            self._write_request(upsert_hitl_detail, ti, request, record.deadline_at, context)
        ti.xcom_push(key=QUESTION_XCOM_KEY, value=record.to_dict())
        self._defer(record, now, ti.id)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Resume with this package's event, or with Airflow's own resume payload (an answer given in
        Airflow resumes a deferred task directly on Airflow 3.3): update the Slack message, push XCom
        ``decision``, then let Airflow's operator validate, record, branch or skip."""
        ti = context["ti"]
        stored = ti.xcom_pull(task_ids=self.task_id, key=QUESTION_XCOM_KEY, map_indexes=ti.map_index)
        record = RequestRecord.from_dict(stored, task_id=self.task_id)
        status = event.get("status") if isinstance(event, Mapping) else None
        if status == "remind":
            now = datetime.now(timezone.utc)
            self._remind(record, now)
            self._defer(record, now, context["task_instance"].id)
        if status == "error":
            self._mark(context, record, "⚠️ This request can no longer be answered: waiting for answers failed "
                                        f"({event.get('code') or 'error'}), so the task failed.")
            raise ChatPermanentError(
                f"Waiting for answers to the request {record.label} in {record.channel} failed: {event.get('message')}",
                conn_id=self.chat_conn_id, channel=record.channel, code=event.get("code"),
            )
        outcome = HITLOutcome.of(event)
        self._mark(context, record, outcome.line(approval=self.approval))
        context["ti"].xcom_push(key=DECISION_XCOM_KEY, value=outcome.record(record))
        return super().execute_complete(context, outcome.airflow_event())

    # -- steps ---------------------------------------------------------------------------------
    @property
    def approval(self) -> bool:
        return isinstance(self, _airflow_hitl.ApprovalOperator)

    def _write_request(self, upsert: Any, ti: Any, request: HITLRequest, deadline: datetime | None,
                       context: Context) -> None:
        upsert(ti_id=ti.id, options=list(request.options), subject=request.subject, body=request.body,
               defaults=None if request.defaults is None else list(request.defaults), multiple=request.multiple,
               params=self.serialized_params, assigned_users=self.assigned_users)
        self.hitl_summary_extra["timeout_datetime"] = deadline.isoformat() if deadline else None
        for notifier in self.notifiers:
            notifier(context)

    def _defer(self, record: RequestRecord, now: datetime, ti_id: Any) -> NoReturn:
        from airflow_chat_alerts.triggers.hitl import ChatHITLTrigger

        deadline = record.deadline_at
        remind_at = self.reminders.next_after(record.ts, now, deadline or now + _NO_DEADLINE)
        self.defer(
            trigger=ChatHITLTrigger(
                conn_id=self.chat_conn_id,
                channel=record.channel,
                ts=record.ts,
                ti_id=str(ti_id),
                request=self._request().to_dict(),  # rendered (templates are rendered on resume too)
                policy=self.policy.to_dict(),
                deadline=record.deadline,
                poll_interval=self.wait.poll_interval,
                reconcile_interval=self.wait.reconcile_interval,
                remind_at=utc_iso(remind_at) if remind_at else None,
                approval=self.approval,
                settled_at=utc_iso(deferral_settled_at(datetime.now(timezone.utc))),
            ),
            method_name="execute_complete",
            timeout=None if deadline is None else max(deadline - now, timedelta(0)) + BACKSTOP_MARGIN,
        )

    @property
    def reminders(self) -> ReminderSchedule:
        return ReminderSchedule(every=self.wait.remind_after, most=self.wait.max_reminders)

    def _remind(self, record: RequestRecord, now: datetime) -> None:
        deadline = record.deadline_at
        sent, later = self.reminders.count(record.ts, now, deadline or now + _NO_DEADLINE)
        who = " ".join(mention(a) for a in self.policy.approvers or ()) + " " if self.policy.approvers else ""
        text = f":bell: {who}this request still needs an answer: see the message above."
        if deadline is not None:
            text += f" Deadline: {slack_date(deadline)}."
        if later == 0:
            text += " Last reminder."
        try:
            with self._alerter() as alerter:
                alerter.post(Message(text=text), channel=record.channel, thread_ts=record.ts)
        except ChatAlertError as err:  # a missed reminder must not end the wait
            self.log.warning("Could not post reminder %d in the thread of %s: %s", sent, record.ts, err)

    def _mark(self, context: Context, record: RequestRecord, line: str) -> None:
        """Show the outcome on the request's message (its choices removed); best effort."""
        try:
            settings = self._settings()
            request = self._request()
            payload = {**record.payload, "outcome": "answered"}  # no later try reuses it
            posted = self._message(context, request, payload, settings.interactive)
            with self._alerter(settings) as alerter:
                alerter.update(record.ref, answered_message(posted, line))
        except ChatAlertError as err:  # e.g. the message was deleted meanwhile
            self.log.warning("Could not mark the request %s with its outcome: %s", record.ts, err)

    def _message(
        self, context: Context, request: HITLRequest, payload: Mapping[str, Any], interactive: bool
    ) -> Message:
        """The request's message as the try that ``payload`` names posted it."""
        ti = context["ti"]
        deadline = parse_utc(payload["deadline"]) if payload.get("deadline") else None
        settings_users = self._settings().airflow_users
        answerers = (list(self.policy.approvers) if self.policy.approvers
                     else sorted(settings_users.slack_ids_of(request.assigned_users)) or None)
        return request_message(
            request,
            context=PipelineContext.of(ti, try_number=payload.get("try_number")),
            deadline=deadline,
            interactive=interactive,
            answerers=answerers,
            airflow_url=self._airflow_url(context),
            metadata={"event_type": HITL_EVENT_TYPE, "event_payload": dict(payload)},
            approval=self.approval,
        )

    def _airflow_url(self, context: Context) -> str | None:
        try:
            return self.generate_link_to_ui_from_context(context=context)
        except Exception as err:  # no [api] base_url: the message names Required actions instead
            self.log.debug("No link to Airflow's form (%s)", err)
            return None

    def _find_request(
        self, alerter: Asker, channel: str, context: Context, now: datetime
    ) -> PostedQuestion | None:
        """The unanswered request an earlier try of this task instance posted, if any."""
        dag_run = context.get("dag_run")
        start = getattr(dag_run, "start_date", None) or getattr(dag_run, "run_after", None)
        oldest = (start or now - timedelta(days=7)) - ask_posting.CLOCK_SKEW
        try:
            return alerter.find_question(channel, match=self._identity(context), oldest=as_slack_ts(oldest),
                                         timeout=None, event_type=HITL_EVENT_TYPE)
        except ChatPermanentError as err:
            self.log.warning("Cannot look for a request an earlier try posted (%s); asking anew", err)
            return None

    def _settings(self) -> ChatConnectionSettings:
        from airflow_chat_alerts.hooks.chat_alerter import ChatAlerterHook

        return ChatAlerterHook(chat_conn_id=self.chat_conn_id).settings()

    def _alerter(self, settings: ChatConnectionSettings | None = None) -> closing[BaseAlerter]:
        from airflow_chat_alerts.hooks.chat_alerter import ChatAlerterHook

        return closing(ChatAlerterHook.alerter_for(settings or self._settings()))

    @staticmethod
    def _identity(context: Context) -> dict[str, Any]:
        ti = context["ti"]
        return {"dag_id": ti.dag_id, "run_id": ti.run_id, "task_id": ti.task_id, "map_index": ti.map_index}



class ChatApprovalOperator(ChatHITLOperator, _airflow_hitl.ApprovalOperator):
    """Airflow's ``ApprovalOperator`` (options *Approve* and *Reject*, ``fail_on_reject``,
    ``ignore_downstream_trigger_rules``), asked in Slack: the buttons, and the ``approve`` / ``reject``
    replies and ✅ / ❌ reactions of ``ChatAskSensor``. Chat parameters: see :class:`ChatHITLOperator`."""


class ChatHITLBranchOperator(ChatHITLOperator, _airflow_hitl.HITLBranchOperator):
    """Airflow's ``HITLBranchOperator`` (``options_mapping``: the chosen options name the tasks to run),
    asked in Slack. Chat parameters: see :class:`ChatHITLOperator`."""


class ChatHITLEntryOperator(ChatHITLOperator, _airflow_hitl.HITLEntryOperator):
    """Airflow's ``HITLEntryOperator`` (a form, ``params``, with an *OK* option), asked in Slack with the
    form as a modal. Chat parameters: see :class:`ChatHITLOperator`."""
