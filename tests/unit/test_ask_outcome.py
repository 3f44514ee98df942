"""How an ask ends (sensors/ask_outcome.py): the result, the XCom decision record, the branch and the
question's metadata, for decisions and for each on_timeout."""

from __future__ import annotations

import pytest

from airflow_chat_alerts.exceptions import ChatConfigError
from airflow_chat_alerts.model import QuestionRecord
from airflow_chat_alerts.sensors.ask_outcome import AskOutcome, branch_map

QUESTION = QuestionRecord(channel="C1", ts="1.000100", deadline="2026-01-01T12:00:00+00:00",
                          permalink="https://x/p1", payload={"task_id": "ask", "try_number": 1})


def test_a_decision_becomes_the_record_the_result_and_the_branch():
    outcome = AskOutcome.decided("rejected", {"by": ["U1"], "at": "2.0", "comment": "not yet", "approvals": 0})

    assert outcome.approved is False
    assert outcome.record(QUESTION) == {"outcome": "rejected", "approved": False, "by": ["U1"], "at": "2.0",
                                        "comment": "not yet", "channel": "C1", "ts": "1.000100",
                                        "permalink": "https://x/p1"}
    assert outcome.branch({"rejected": ["discard"]}) == "rejected"
    assert outcome.payload(QUESTION) == {"task_id": "ask", "try_number": 1, "outcome": "rejected"}


@pytest.mark.parametrize(
    ("on_timeout", "approved", "resolved_as"),
    [("reject", False, "rejected"), ("approve", True, "approved"), ("fail", False, "failed"),
     ("skip", False, "skipped")],
)
def test_a_timeout_resolves_as_on_timeout_says(on_timeout, approved, resolved_as):
    outcome = AskOutcome.timed_out(on_timeout)

    assert (outcome.approved, outcome.resolved_as) == (approved, resolved_as)
    assert outcome.record(QUESTION)["outcome"] == "timed_out" and outcome.record(QUESTION)["by"] == []
    assert outcome.payload(QUESTION)["outcome"] == resolved_as  # the question is marked: no retry reuses it
    assert outcome.branch({"timed_out": ["escalate"]}) == "timed_out"
    assert outcome.branch({"approved": ["deploy"]}) == resolved_as  # no timed_out entry: what it resolved to


def test_branches_are_normalised_and_checked():
    assert branch_map({"approved": "deploy", "rejected": ["a", "b"]}) == {"approved": ["deploy"], "rejected": ["a", "b"]}
    assert branch_map(None) == {}
    with pytest.raises(ChatConfigError, match="unknown key"):
        branch_map({"maybe": "x"})
    with pytest.raises(ChatConfigError, match="must be a task id"):
        branch_map({"approved": []})
