"""Airflow's Human-in-the-loop operators, asked in Slack too: ``ChatHITLOperator``,
``ChatApprovalOperator``, ``ChatHITLBranchOperator`` and ``ChatHITLEntryOperator``.

Each is a subclass of Airflow's own operator (``HITLOperator``, ``ApprovalOperator``, ``HITLBranchOperator``,
``HITLEntryOperator``) taking every one of its parameters, plus this package's chat parameters. The
chat ones are checked first, Airflow's own by Airflow's class, then the request as Slack will show it
(:class:`~airflow_chat_alerts.hitl.request.HITLRequest`), so a bad DAG fails when it is parsed.

NOT WIRED YET: ``execute`` needs the Human-in-the-loop trigger (it posts the request, writes it to
Airflow as Airflow's operator does, and defers to a trigger that listens to Slack and to the request's
``hitl_detail`` row; see docs/hitl-design.md). Until then ``execute`` raises, and the classes are not
exported from ``airflow_chat_alerts``.

Importing this module needs Airflow 3.1+ with apache-airflow-providers-standard 1.12.2+ (the first with
``response_timeout``); on anything older the import fails with an ``ImportError`` naming both versions.
"""

from __future__ import annotations

import inspect
from collections.abc import Collection, Sequence
from datetime import timedelta
from importlib import metadata
from typing import TYPE_CHECKING, Any, NoReturn

from airflow_chat_alerts.chat_wait import ChatWait, Destination
from airflow_chat_alerts.decisions import AskPolicy
from airflow_chat_alerts.hitl.request import HITLRequest
from airflow_chat_alerts.templating import ChatTemplateFilters

if TYPE_CHECKING:
    from airflow.sdk import Context

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

    def execute(self, context: Context) -> NoReturn:
        raise NotImplementedError(
            f"{type(self).__name__} is not wired yet: asking in Slack needs the Human-in-the-loop trigger "
            f"(docs/hitl-design.md). Use Airflow's {self.airflow_class.__name__} meanwhile."
        )


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
