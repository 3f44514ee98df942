"""Posting a question at most once per task instance.

A retry reuses the undecided question an earlier try posted (found by its metadata, in a bounded look at
the channel's history), and a post is never re-sent blindly: after a failure that leaves unclear whether
Slack posted it, the question is looked for first and posted again, once, only if it is not there. A
look that cannot finish fails the try rather than risk a second question.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_chat_alerts.alerters.slack_errors import may_have_posted
from airflow_chat_alerts.exceptions import ChatPermanentError, ChatTransientError
from airflow_chat_alerts.model import Message, PostedQuestion
from airflow_chat_alerts.utils import as_slack_ts

if TYPE_CHECKING:
    from airflow_chat_alerts.alerters.ports import Asker

log = logging.getLogger(__name__)

# Clock skew allowed between Airflow and Slack: how far before the DAG run started a question of this
# run may have been posted, and how far a question's deadline may lie beyond its ts + timeout.
CLOCK_SKEW = timedelta(minutes=5)
def find_question(
    alerter: Asker,
    channel: str,
    *,
    match: Mapping[str, Any],
    now: datetime,
    timeout: float,
    run_start: datetime | None,
) -> PostedQuestion | None:
    """The undecided question this app posted for the task instance within the ask's timeout, if any.

    :param alerter: the connection's alerter.
    :param channel: the channel asked in (id or name).
    :param match: the task instance's identity in the question's metadata (dag_id, run_id, task_id,
        map_index).
    :param now: the time of the look.
    :param timeout: the ask's timeout in seconds: an older question, or one whose deadline lies
        further from its post, is not this ask's.
    :param run_start: when the DAG run started (no question of it is older), if known.
    :raises ChatTransientError: the bounded lookup could not finish; the try fails so that Airflow's
        retry looks again, rather than risk posting a second question.
    """
    oldest = now - timedelta(seconds=timeout) - CLOCK_SKEW
    if run_start is not None:
        oldest = max(oldest, run_start - CLOCK_SKEW)
    try:
        return alerter.find_question(
            channel, match=match, oldest=as_slack_ts(oldest), timeout=timeout, clock_skew=CLOCK_SKEW.total_seconds()
        )
    except ChatTransientError as err:
        raise ChatTransientError(
            f"Could not finish looking for the question this task instance may have posted in {channel} "
            f"({err}); not asking again, so that no second question is posted: a retry of the task looks again",
            conn_id=alerter.conn_id,
            channel=channel,
            code=err.code,
        ) from err
    except ChatPermanentError as err:
        # E.g. a token without channels:history: posting may still work, and fails clearly if not.
        log.warning("Cannot look for a question an earlier try posted (%s); asking anew", err)
        return None


def post_question(
    alerter: Asker,
    channel: str,
    message: Message,
    payload: Mapping[str, Any],
    *,
    find: Callable[[], PostedQuestion | None],
) -> PostedQuestion:
    """Post the question; after a failure that may hide a post, ``find`` it before posting again, once.

    :param alerter: the connection's alerter.
    :param channel: the channel to ask in.
    :param message: the question, its metadata carrying ``payload``.
    :param payload: the question's metadata payload.
    :param find: looks for the question in the channel (see :func:`find_question`).
    """
    try:
        return PostedQuestion(ref=alerter.post_question(message, channel=channel), payload=dict(payload))
    except ChatTransientError as err:
        if not may_have_posted(err):
            raise
        log.warning("Posting the question may have failed (%s): looking for it before posting again", err)
    found = find()
    if found is not None:
        return found
    return PostedQuestion(ref=alerter.post_question(message, channel=channel), payload=dict(payload))
