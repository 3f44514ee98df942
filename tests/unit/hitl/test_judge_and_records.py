"""The request judge and the answer records: pure, table tests."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from airflow_chat_alerts.airflow_users import AirflowUser, AirflowUserMap
from airflow_chat_alerts.decisions import AskPolicy
from airflow_chat_alerts.hitl.judge import judge_request
from airflow_chat_alerts.hitl.message import request_metadata, request_of_metadata
from airflow_chat_alerts.hitl.records import ChoiceRecord, records_from_reply
from airflow_chat_alerts.hitl.request import HITLRequest
from airflow_chat_alerts.model import Answer, MessageSnapshot, QuestionRead
from airflow_chat_alerts.operators.hitl_outcome import HITLOutcome

APP, ALICE, BOB = "U0APP", "U0ALICE", "U0BOB"
Q = "1700000000.000100"
DEADLINE = datetime.fromtimestamp(1700003600, timezone.utc)
APPROVAL = HITLRequest.of(subject="Deploy?", options=["Approve", "Reject"])
CHOOSE = HITLRequest.of(subject="Where?", options=["EU", "US"], params={"why": {"value": "", "description": None,
                                                                          "schema": {"type": "string"}}})
REQUIRED = HITLRequest.of(subject="Where?", options=["EU", "US"],
                          params={"why": {"value": "", "description": None, "schema": {"minLength": 3}}})
ANYONE = AskPolicy()
USERS = AirflowUserMap(by_slack_id={ALICE: AirflowUser("alice", "Alice")})


def read(*answers: Answer, read_at: float = 1700000100.0) -> QuestionRead:
    replies = tuple(a for a in answers if a.kind != "reaction")
    reactions = tuple(a for a in answers if a.kind == "reaction")
    snapshot = MessageSnapshot(ts=Q, user=APP, reply_count=len(replies), reactions=reactions)
    return QuestionRead(snapshot, replies, read_at=read_at, replies_read_at=read_at, app_user_id=APP)


def choice(user: str, chosen: list[str], ts: str, params=None, via="click") -> Answer:
    return ChoiceRecord(user, tuple(chosen), ts, "C0ML", Q, params, via).answer()


def judged(request, *answers, approval=False, policy=ANYONE, users=USERS, at=1700000100.0):
    return judge_request(read(*answers, read_at=at), request, policy, users, approval=approval, question_ts=Q,
                         deadline=DEADLINE, group_members={}, groups_fresh=True)


def test_the_first_valid_answer_wins_whatever_kind():
    late_click = choice(BOB, ["US"], "1700000300.000000")
    early_reply = Answer("reply", ALICE, "eu - cheaper", ts="1700000200.000000")
    decision = judged(CHOOSE, late_click, early_reply).decision
    assert (decision.chosen, decision.user, decision.comment) == (("EU",), ALICE, "cheaper")
    assert decision.params_input == {"why": ""}  # the defaults


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (choice(ALICE, ["Mars"], "1700000200.0"), "not an option"),
        (choice(ALICE, ["EU", "US"], "1700000200.0"), "several without multiple"),
        (choice(ALICE, ["EU"], "1700000200.0", params={"why": 3}, via="form"), "params refused by the schema"),
        (choice(ALICE, ["EU"], "1700000200.0", params={}, via="form"), "a param missing"),
        (Answer("reply", ALICE, "eu?", ts="1700000200.0"), "a question"),
        (Answer("reply", APP, "EU", ts="1700000200.0", is_bot=True), "the app itself"),
        (Answer("reply", ALICE, "EU", ts="1700009999.0"), "after the deadline"),
        (Answer("reaction", ALICE, "white_check_mark"), "a reaction on a request that is no approval"),
    ],
)
def test_what_does_not_answer(answer, why):
    assert judged(CHOOSE, answer).state == "open", why


def test_a_click_cannot_answer_when_a_field_needs_the_form():
    assert judged(REQUIRED, choice(ALICE, ["EU"], "1700000200.0")).state == "open"
    form = choice(ALICE, ["EU"], "1700000200.0", params={"why": "cheaper"}, via="form")
    assert judged(REQUIRED, form).decision.params_input == {"why": "cheaper"}


def test_approvals_read_reactions_with_the_unknown_time_rule():
    approve_reaction = Answer("reaction", ALICE, "white_check_mark")
    reject_reply = Answer("reply", BOB, "reject - numbers look off", ts="1700000500.0")
    assert judged(APPROVAL, approve_reaction, reject_reply, approval=True).decision.chosen == ("Reject",)
    reject_reaction = Answer("reaction", BOB, "x")
    approve_reply = Answer("reply", ALICE, "approve", ts="1700000200.0")
    assert judged(APPROVAL, approve_reply, reject_reaction, approval=True).decision.chosen == ("Reject",)


def test_assigned_users_and_approvers_both_apply():
    assigned = HITLRequest.of(subject="s", options=["EU", "US"], assigned_users=[{"id": "alice", "name": "Alice"}])
    bob_first = Answer("reply", BOB, "US", ts="1700000200.0")
    alice_later = Answer("reply", ALICE, "EU", ts="1700000300.0")
    assert judged(assigned, bob_first, alice_later).decision.user == ALICE
    assert judged(assigned, bob_first, alice_later, policy=AskPolicy(approvers=(BOB,))).state == "open"


def test_a_guest_counts_only_when_allowed():
    guest = Answer("reply", BOB, "EU", ts="1700000200.0", guest=True)
    assert judged(CHOOSE, guest).state == "open"
    assert judged(CHOOSE, guest, policy=AskPolicy(allow_guests=True)).state == "decided"


def test_a_timeout_needs_a_complete_read_after_the_deadline():
    assert judged(CHOOSE, at=DEADLINE.timestamp() - 1).state == "open"
    assert judged(CHOOSE, at=DEADLINE.timestamp() + 1).state == "timed_out"
    no_deadline = judge_request(read(read_at=1e12), CHOOSE, AskPolicy(), USERS, approval=False, question_ts=Q,
                                deadline=None, group_members={}, groups_fresh=True)
    assert no_deadline.state == "open"


def test_records_count_only_from_our_app_and_in_time():
    record = ChoiceRecord(ALICE, ("EU",), "1700000200.000000", "C0ML", Q, {"why": None}, "form")
    metadata = record.message().metadata
    reply = {"user": APP, "ts": "1700000201.000000", "thread_ts": Q, "metadata": metadata}
    [found] = records_from_reply(reply, app_user_id=APP, app_bot_id=None, channel="C0ML")
    assert found == record  # params with a null survive (JSON text in the metadata)
    assert records_from_reply({**reply, "user": BOB}, app_user_id=APP, app_bot_id=None, channel="C0ML") == []
    late = {**reply, "ts": "1700000203.000000"}  # stored after the window: not acknowledged in time
    assert records_from_reply(late, app_user_id=APP, app_bot_id=None, channel="C0ML") == []


def test_the_request_travels_in_the_message_metadata():
    metadata = request_metadata({"dag_id": "d"}, deadline=None, try_number=1, request=REQUIRED, approval=False)
    request, approval = request_of_metadata(metadata)
    assert (request.options, request.params, approval) == (REQUIRED.options, REQUIRED.params, False)
    assert request_of_metadata({"event_type": "other"}) is None


def test_airflows_own_resume_payload_is_read_as_an_answer_in_airflow():
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    outcome = HITLOutcome.of({"chosen_options": ["EU"], "params_input": {}, "responded_at": at,
                              "responded_by_user": {"id": "7", "name": "admin"}, "timedout": False})
    assert outcome.source == "airflow"
    assert outcome.line(approval=False) == "✅ Answered in Airflow by admin: *EU*"
    assert outcome.airflow_event()["responded_at"] == at


def test_a_timeout_without_defaults_becomes_airflows_timeout_error():
    outcome = HITLOutcome.of({"status": "timed_out", "chosen_options": [], "params_input": {}, "responded_at": None})
    assert outcome.airflow_event()["error_type"] == "timeout"
