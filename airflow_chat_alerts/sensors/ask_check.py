"""A worker's one look at a question an earlier try posted, before deferring on it again.

Airflow 3.3 can fail a deferred task whose trigger fires within seconds of the deferral
(apache/airflow#72716); a retry that reuses a question answered while no try ran would do exactly that.
So the worker reads the question once through its alerter and asks the one judge
(:func:`~airflow_chat_alerts.judge.judge`) the trigger asks: only the app's own question, a complete read
(every reply's latest text, the approver groups read with it), answers up to the deadline, and a timeout
only on a read made after it in a channel not archived. No polling machinery, no rate budget and no event
loop run on the worker; when the look fails for a while, the trigger waits.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from airflow_chat_alerts.decisions import AskPolicy
from airflow_chat_alerts.exceptions import ChatNotOurQuestionError, ChatPermanentError, ChatTransientError
from airflow_chat_alerts.judge import groups_to_read, judge

if TYPE_CHECKING:
    from airflow_chat_alerts.alerters.ports import Asker
    from airflow_chat_alerts.model import DecidedEvent, QuestionRecord, TimedOutEvent

log = logging.getLogger(__name__)


def decided_already(
    alerter: Asker, question: QuestionRecord, policy: AskPolicy, *, now: datetime
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
    try:
        read = alerter.read_question(question.ref, check_archived=now >= deadline)
        members = alerter.read_groups(groups_to_read(read, policy))
    except ChatTransientError as err:
        log.warning("Could not read question %s before deferring (%s); the trigger will", question.ts, err)
        return None
    except ChatPermanentError as err:
        if err.code != "missing_scope":
            raise
        # E.g. no usergroups:read: the trigger reads the groups only once someone not named answers.
        log.warning("Cannot read all of question %s before deferring (%s); the trigger will", question.ts, err)
        return None
    judgement = judge(
        read, policy, question_ts=question.ts, deadline=deadline, group_members=members, groups_fresh=True
    )
    if judgement.state == "foreign":
        raise ChatNotOurQuestionError.of(conn_id=alerter.conn_id, channel=question.channel, ts=question.ts)
    if judgement.state == "decided":
        assert judgement.decision is not None
        return judgement.decision.event()
    if judgement.state == "timed_out":
        return {"status": "timed_out"}
    return None
