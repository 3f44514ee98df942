"""The one judge of a Human-in-the-loop request read from Slack: answered, timed out or still open.

Pure: no I/O, no Airflow imports. The same rules as :func:`airflow_chat_alerts.judge.judge` for asks
(only the app's own request; a decision rests on a current read and, when the person counted through a
user group, on that group read again; a timeout needs a complete read made at or after the deadline),
with Airflow's rule for the answer itself: the **first** valid answer in time order by someone allowed
to answer decides (no quorum).

Allowed: the Slack policy (``approvers``, guests) **and**, when the request has ``assigned_users``, a
Slack person the connection maps to one of them (:meth:`AirflowUserMap.may_answer`).

Valid:

* a recorded choice (buttons, menus, *Submit*, the form: :mod:`~airflow_chat_alerts.hitl.records`) names
  options of the request (at least one; several only with ``multiple``); a click's params are the
  params' defaults, which must be valid (else the person must use the form); a form's params must name
  every param and pass its schema;
* a reply names an option (:func:`~airflow_chat_alerts.hitl.replies.parse_option_reply`), with the
  params' defaults;
* for an approval (options *Approve* / *Reject*), reactions and Approve / Reject button records too; a
  reaction has no time in a read, so a rejecting one counts as early as possible and an approving one
  as late as possible (the asks' rule).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from airflow_chat_alerts.airflow_users import AirflowUserMap
from airflow_chat_alerts.decisions import AskPolicy
from airflow_chat_alerts.hitl.form import Form, validation_error
from airflow_chat_alerts.hitl.message import APPROVE, REJECT
from airflow_chat_alerts.hitl.records import decode_choice
from airflow_chat_alerts.hitl.replies import parse_option_reply
from airflow_chat_alerts.hitl.request import HITLRequest
from airflow_chat_alerts.model import Answer, AnswerKind, QuestionRead
from airflow_chat_alerts.utils import as_slack_ts, ts_key

State = Literal["decided", "timed_out", "open", "foreign"]
Need = Literal["thread", "fresh_groups", "open_check"]


@dataclass(frozen=True)
class HITLDecision:
    """The answer that decides a request.

    :param chosen: the options chosen.
    :param params_input: every param's value (the defaults, unless given in the form).
    :param user: the Slack-verified person who answered.
    :param ts: when they answered (a reply's ts, the interaction's time; ``""`` for a reaction).
    :param kind: how: ``choice`` (buttons, menus, the form), ``reply``, ``reaction`` or ``button``.
    :param comment: a reply's comment.
    """

    chosen: tuple[str, ...]
    params_input: dict[str, Any]
    user: str
    ts: str
    kind: AnswerKind
    comment: str | None = None


@dataclass(frozen=True)
class HITLJudgement:
    """Where a request stands on one read (see :class:`airflow_chat_alerts.judge.Judgement`)."""

    state: State
    decision: HITLDecision | None = None
    needs: Need | None = None


def allowed(
    answer: Answer,
    request: HITLRequest,
    policy: AskPolicy,
    users: AirflowUserMap,
    *,
    group_members: Mapping[str, frozenset[str]],
    app_user_id: str | None,
    email: str | None = None,
) -> bool:
    """Whether this person may answer the request from Slack (policy, guests, bots, assigned users).

    :param group_members: members of the policy's approver groups (missing groups count as empty).
    :param email: the person's Slack e-mail, for ``airflow_users_by_email``.
    """
    if answer.is_bot or not answer.user or answer.user == app_user_id:
        return False
    if policy.approvers is not None:
        authorised = policy.users.union(*(group_members.get(g, frozenset()) for g in policy.groups))
        if answer.user not in authorised:
            return False
    elif answer.guest and not policy.allow_guests:
        return False
    return users.may_answer(answer.user, request.assigned_users, email=email)


def chosen_by(
    answer: Answer, request: HITLRequest, *, approval: bool, app_user_id: str | None, policy: AskPolicy
) -> tuple[tuple[str, ...], dict[str, Any], str | None] | None:
    """``(chosen, params_input, comment)`` this answer gives, when it is a valid answer to the request."""
    defaults = Form.of(request).defaults_input
    options = request.options
    if answer.kind == "choice":
        read = decode_choice(answer.text)
        if read is None:
            return None
        chosen, params, _ = read
        if not chosen or any(c not in options for c in chosen) or (len(chosen) > 1 and not request.multiple):
            return None
        if params is None:
            return (chosen, defaults, None) if defaults is not None else None
        if set(params) != set(request.params):
            return None
        if any(validation_error(spec, params[key]) is not None for key, spec in request.params.items()):
            return None
        return chosen, params, None
    if defaults is None:
        return None  # the form's fields need answers: only the form (or Airflow) can give them
    if answer.kind == "reply":
        option, comment = parse_option_reply(answer.text, options, app_user_id=app_user_id,
                                             unhedged={REJECT} if approval else ())
        return None if option is None else ((option,), defaults, comment)
    if not approval:
        return None
    if answer.kind == "reaction":
        verdict = policy.reaction_verdict(answer.text)
    elif answer.kind == "button" and answer.text in ("approve", "reject"):
        verdict = answer.text  # type: ignore[assignment]
    else:
        return None
    if verdict is None:
        return None
    return ((APPROVE if verdict == "approve" else REJECT),), defaults, None


def judge_request(
    read: QuestionRead,
    request: HITLRequest,
    policy: AskPolicy,
    users: AirflowUserMap,
    *,
    approval: bool,
    question_ts: str,
    deadline: datetime | None,
    group_members: Mapping[str, frozenset[str]],
    groups_fresh: bool,
    emails: Mapping[str, str] | None = None,
) -> HITLJudgement:
    """Judge a request on one read.

    :param read: the request as read (or known from pushed events).
    :param request: the request.
    :param policy: who may answer in Slack (its reactions are read for an approval).
    :param users: Slack people → Airflow users (``assigned_users``).
    :param approval: an approval: reactions and approve / reject answers count.
    :param question_ts: the request message's ts (replies at or before it never count).
    :param deadline: the request's deadline (aware), or None: it never times out.
    :param group_members: members of the policy's groups (:func:`airflow_chat_alerts.judge.groups_to_read`).
    :param groups_fresh: ``group_members`` were read for this judgement.
    :param emails: Slack e-mails of people, for ``airflow_users_by_email``.
    """
    if not read.ours:
        return HITLJudgement("foreign")
    app_user = read.app_user_id or read.snapshot.user
    cutoff = ts_key(as_slack_ts(deadline)) if deadline is not None else None
    question_key = ts_key(question_ts)
    counted: list[tuple[tuple[Any, ...], HITLDecision]] = []
    for answer in read.answers:
        if not allowed(answer, request, policy, users, group_members=group_members, app_user_id=app_user,
                       email=(emails or {}).get(answer.user)):
            continue
        if answer.kind == "reply" and ts_key(answer.ts) <= question_key:
            continue
        seen = answer.edited_ts or answer.ts
        if cutoff is not None and seen and (ts_key(seen) > cutoff or ts_key(answer.ts) > cutoff):
            continue
        given = chosen_by(answer, request, approval=approval, app_user_id=app_user, policy=policy)
        if given is None:
            continue
        chosen, params, comment = given
        refuses = chosen == (REJECT,) and approval
        when = ts_key(seen) if seen else (-math.inf if refuses else math.inf)
        # Refusals first at equal times, then a fixed order of the answer's own fields: the outcome is a
        # function of the SET of answers, not of the order a read listed them in.
        order = (when, not refuses, answer.user, answer.kind, answer.ts, answer.text)
        counted.append((order, HITLDecision(chosen, dict(params), answer.user, answer.ts, answer.kind, comment)))
    if counted:
        decision = min(counted, key=lambda item: item[0])[1]
        if not read.current:
            return HITLJudgement("open", decision, needs="thread")
        if not groups_fresh and policy.approvers is not None and decision.user not in policy.users:
            return HITLJudgement("open", decision, needs="fresh_groups")  # they counted through a group
        return HITLJudgement("decided", decision)
    if deadline is None:
        return HITLJudgement("open")
    moment = deadline.timestamp()
    if read.complete_since(moment):
        return HITLJudgement("timed_out")
    if read.read_at >= moment:
        return HITLJudgement("open", needs="open_check" if read.current else "thread")
    return HITLJudgement("open")
