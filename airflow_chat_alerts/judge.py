"""The one judge of a question: decided, timed out or still open, from a read of it.

Pure: no I/O, no Airflow imports. The trigger (every read or pushed change of its question), the worker
(its one look at a question an earlier try posted) and push (a question known from events alone) all
ask :func:`judge`, so the rules of the README's "When an ask decides, times out or fails" live here
once. When the read cannot conclude yet, the judgement says what to read first (``needs``): the
caller does that I/O and asks again.

* Only the app's own question is judged (``foreign`` otherwise).
* A decision rests on a current read (every reply's latest text: an edit moves no thread, so a copy of
  the replies from an earlier round is read again first) and, when someone counted through a user
  group, on that group's membership read again (``fresh_groups``).
* Answers count up to the deadline; a timeout needs a complete read made at or after it, in a channel
  seen open at or after it (``thread`` / ``open_check`` otherwise). A question known only from pushed
  events (``read_at`` 0) can be decided, never timed out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from airflow_chat_alerts.decisions import AskPolicy, Decision, evaluate
from airflow_chat_alerts.model import Answer, QuestionRead
from airflow_chat_alerts.utils import as_slack_ts

State = Literal["decided", "timed_out", "open", "foreign"]
# What to read before a judgement can conclude: the whole thread again, the approver groups again, or
# whether the channel is still open (a timeout needs a look made after the deadline).
Need = Literal["thread", "fresh_groups", "open_check"]


@dataclass(frozen=True)
class Judgement:
    """Where a question stands on one read.

    :param state: ``decided``, ``timed_out``, ``open`` or ``foreign`` (not the app's own question).
    :param decision: the decision, when decided (for ``open``: the approvals so far).
    :param needs: what to read before this can conclude (None: nothing; the read is conclusive).
    """

    state: State
    decision: Decision | None = None
    needs: Need | None = None


def groups_to_read(read: QuestionRead, policy: AskPolicy) -> frozenset[str]:
    """The approver groups a judgement of ``read`` needs: all of the policy's, but only once someone not
    named in person has answered (else none: nobody could count through a group)."""
    if not policy.groups:
        return frozenset()
    unnamed = any(not answer.is_bot and answer.user not in policy.users for answer in read.answers)
    return policy.groups if unnamed else frozenset()


def judge(
    read: QuestionRead,
    policy: AskPolicy,
    *,
    question_ts: str,
    deadline: datetime,
    group_members: Mapping[str, frozenset[str]],
    groups_fresh: bool,
) -> Judgement:
    """Judge a question on one read.

    :param read: the question as read (or known from pushed events).
    :param policy: who may answer and how.
    :param question_ts: the question's ts (replies at or before it never count).
    :param deadline: the ask's deadline (aware); answers after it do not count.
    :param group_members: members of the groups :func:`groups_to_read` names (missing groups count as
        empty: nobody in them has answered).
    :param groups_fresh: ``group_members`` were read for this judgement (not a recent copy).
    """
    if not read.ours:
        return Judgement("foreign")
    members = {group: frozenset[str]() for group in policy.groups} | dict(group_members)
    decision = evaluate(
        read.answers,
        policy,
        question_ts=question_ts,
        group_members=members,
        self_user_id=read.app_user_id or read.snapshot.user,
        decided_before=as_slack_ts(deadline),
    )
    if decision.decided:
        if not read.current:
            return Judgement("open", decision, needs="thread")
        if not groups_fresh and set(decision.by) - policy.users:
            return Judgement("open", decision, needs="fresh_groups")  # someone counted through a group
        return Judgement("decided", decision)
    moment = deadline.timestamp()
    if read.complete_since(moment):
        return Judgement("timed_out", decision)
    if read.read_at >= moment:
        return Judgement("open", decision, needs="open_check" if read.current else "thread")
    return Judgement("open", decision)


def may_answer(answer: Answer, policy: AskPolicy, *, group_members: Mapping[str, frozenset[str]],
               app_user_id: str | None) -> bool:
    """Whether this person's answer would count under ``policy`` (approver, guest and bot rules), read as
    a one-person quorum: what push tells a person whose click changed nothing."""
    members = {group: frozenset[str]() for group in policy.groups} | dict(group_members)
    decision = evaluate(
        [answer],
        replace(policy, required_approvals=1),
        question_ts="0",
        group_members=members,
        self_user_id=app_user_id,
    )
    return decision.decided
