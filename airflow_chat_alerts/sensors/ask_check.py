"""A worker's one look at a question an earlier try posted, before deferring on it again.

Airflow 3.3 can fail a deferred task whose trigger fires within seconds of the deferral
(apache/airflow#72716); a retry that reuses a question answered while no try ran would do exactly that.
So the worker reads the question once through its alerter and weighs it with the pure
:func:`~airflow_chat_alerts.decisions.evaluate`, under the trigger's rules: only the app's own question,
a complete read (every reply's latest text, the approver groups read with it), answers up to the
deadline, and a timeout only on a read made after it in a channel not archived. No polling machinery,
no rate budget and no event loop run on the worker; when the look fails for a while, the trigger waits.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from airflow_chat_alerts.decisions import AskPolicy, evaluate
from airflow_chat_alerts.exceptions import (
    ChatChannelArchivedError,
    ChatNotOurQuestionError,
    ChatPermanentError,
    ChatTransientError,
)
from airflow_chat_alerts.utils import as_slack_ts

if TYPE_CHECKING:
    from airflow_chat_alerts.alerters.base import BaseAlerter
    from airflow_chat_alerts.model import DecidedEvent, QuestionRecord, TimedOutEvent

log = logging.getLogger(__name__)


def decided_already(
    alerter: BaseAlerter, question: QuestionRecord, policy: AskPolicy, *, now: datetime
) -> DecidedEvent | TimedOutEvent | None:
    """The trigger event the question already calls for, or None: undecided, or unreadable for now.

    :param alerter: the connection's alerter (sync reads).
    :param question: the question an earlier try posted.
    :param policy: the ask's policy.
    :param now: the time before the read: only when the deadline had passed by then can the read time
        the question out.
    :returns: ``{"status": "approved" | "rejected", "decision": {...}}`` or ``{"status": "timed_out"}``,
        as the trigger would send.
    :raises ChatPermanentError: the question is deleted or not the app's own, the channel archived,
        the credentials refused (a missing scope only leaves the waiting to the trigger).
    """
    deadline = question.deadline_at
    final = now >= deadline
    try:
        read = alerter.read_question(question.ref, groups=policy.groups, check_archived=final)
    except ChatTransientError as err:
        log.warning("Could not read question %s before deferring (%s); the trigger will", question.ts, err)
        return None
    except ChatPermanentError as err:
        if err.code != "missing_scope":
            raise
        # E.g. no usergroups:read: the trigger reads the groups only once someone not named answers.
        log.warning("Cannot read all of question %s before deferring (%s); the trigger will", question.ts, err)
        return None
    if read.app_user_id and read.snapshot.user != read.app_user_id:
        raise ChatNotOurQuestionError.of(conn_id=alerter.conn_id, channel=question.channel, ts=question.ts)
    decision = evaluate(
        read.answers,
        policy,
        question_ts=question.ts,
        group_members=read.group_members,
        self_user_id=read.app_user_id or read.snapshot.user,
        decided_before=as_slack_ts(deadline),
    )
    if decision.decided:
        return decision.event()
    if not final:
        return None
    if read.archived:
        raise ChatChannelArchivedError.of(conn_id=alerter.conn_id, channel=question.channel)
    return {"status": "timed_out"}
