"""The one judge of a question (pure): decided, timed out, open, or not ours, and what to read first."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest

from airflow_chat_alerts.decisions import AskPolicy
from airflow_chat_alerts.judge import Judgement, groups_to_read, judge, may_answer
from airflow_chat_alerts.model import Answer, MessageSnapshot, QuestionRead

APP = "U0APP"
Q = "1714557600.000100"
DEADLINE = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)  # 1714564800
BEFORE, AFTER = 1714560000.0, 1714564801.0


def read(*answers: Answer, at: float = BEFORE, replies_at: float | None = None, open_since: float = math.inf,
         author: str = APP, reply_count: int | None = None) -> QuestionRead:
    replies = tuple(a for a in answers if a.kind != "reaction")
    reactions = tuple(a for a in answers if a.kind == "reaction")
    count = len(replies) if reply_count is None else reply_count
    snapshot = MessageSnapshot(ts=Q, user=author, reply_count=count, reactions=reactions)
    return QuestionRead(snapshot, replies, at, at if replies_at is None else replies_at, APP, open_since)


def reply(user: str, text: str, ts: str = "1714557700.000100") -> Answer:
    return Answer("reply", user, text, ts)


ANYONE = AskPolicy()


def verdict(r: QuestionRead, policy: AskPolicy = ANYONE, *, members=None, fresh=True) -> Judgement:
    return judge(r, policy, question_ts=Q, deadline=DEADLINE, group_members=members or {}, groups_fresh=fresh)


def test_an_approval_on_a_current_read_decides():
    j = verdict(read(reply("U1", "approve")))
    assert (j.state, j.decision.outcome, j.needs) == ("decided", "approved", None)


def test_a_message_the_app_did_not_post_is_never_judged():
    assert verdict(read(reply("U1", "approve"), author="U0MALLORY")).state == "foreign"


def test_a_decision_on_replies_copied_from_an_earlier_round_needs_the_thread_again():
    j = verdict(read(reply("U1", "approve"), replies_at=BEFORE - 5))
    assert (j.state, j.needs) == ("open", "thread")


def test_a_decision_through_a_group_needs_the_group_read_again():
    policy = AskPolicy(approvers=("S0LEADS",))
    r = read(reply("U1", "approve"))
    assert groups_to_read(r, policy) == {"S0LEADS"}
    assert verdict(r, policy, members={"S0LEADS": frozenset({"U1"})}, fresh=False).needs == "fresh_groups"
    assert verdict(r, policy, members={"S0LEADS": frozenset({"U1"})}).state == "decided"
    assert verdict(r, policy, members={"S0LEADS": frozenset()}).state == "open"  # removed from the group


def test_no_group_is_read_until_someone_not_named_answers():
    policy = AskPolicy(approvers=("U1", "S0LEADS"))
    assert groups_to_read(read(reply("U1", "approve")), policy) == frozenset()
    assert groups_to_read(read(), policy) == frozenset()


@pytest.mark.parametrize(
    ("r", "state", "needs"),
    [
        (read(at=BEFORE), "open", None),  # before the deadline: just wait
        (read(at=AFTER), "timed_out", None),  # a complete read after it, channel not archived
        (read(at=AFTER, open_since=BEFORE), "open", "open_check"),  # archiving last looked at before it
        (read(reply("U1", "hmm"), at=AFTER, replies_at=BEFORE), "open", "thread"),  # replies from before
        (read(at=0.0), "open", None),  # known from pushed events only: may decide, never time out
    ],
)
def test_a_timeout_needs_a_complete_read_made_after_the_deadline(r, state, needs):
    j = verdict(r)
    assert (j.state, j.needs) == (state, needs)


def test_answers_after_the_deadline_do_not_count():
    late = reply("U1", "approve", ts=f"{AFTER:.6f}")
    assert verdict(read(late, at=AFTER)).state == "timed_out"


def test_a_read_known_only_from_pushed_events_can_decide():
    assert verdict(read(reply("U1", "reject"), at=0.0)).decision.outcome == "rejected"


def test_may_answer_follows_the_policy():
    policy = AskPolicy(approvers=("U1", "S0LEADS"))
    click = lambda user, **kw: Answer("button", user, "approve", "1714557700.1", **kw)
    assert may_answer(click("U1"), policy, group_members={}, app_user_id=APP)
    assert not may_answer(click("U2"), policy, group_members={}, app_user_id=APP)
    assert may_answer(click("U2"), policy, group_members={"S0LEADS": frozenset({"U2"})}, app_user_id=APP)
    assert not may_answer(click("U3", is_bot=True), AskPolicy(), group_members={}, app_user_id=APP)
    assert not may_answer(click("U3", guest=True), AskPolicy(), group_members={}, app_user_id=APP)
