"""The question record kept in XCom (model.py): one typed form, written and read back."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from airflow_chat_alerts.exceptions import ChatPermanentError
from airflow_chat_alerts.model import MessageRef, PostedQuestion, QuestionRecord

PAYLOAD = {"dag_id": "d", "run_id": "r", "task_id": "ask", "map_index": -1, "try_number": 1,
           "deadline": "2026-01-01T12:00:00+00:00"}


def test_a_posted_question_round_trips_through_xcom_as_plain_json():
    posted = PostedQuestion(ref=MessageRef(channel="C1", ts="1.000100", permalink="https://x/p1"), payload=PAYLOAD)

    record = QuestionRecord.of(posted)
    stored = json.loads(json.dumps(record.to_dict()))

    assert QuestionRecord.from_dict(stored, task_id="ask") == record
    assert stored == {"channel": "C1", "ts": "1.000100", "permalink": "https://x/p1",
                      "deadline": PAYLOAD["deadline"], "payload": PAYLOAD}
    assert record.deadline_at == datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
    assert record.ref == posted.ref and record.label == "https://x/p1"
    assert record.posted_by_try(1) and not record.posted_by_try(2)


@pytest.mark.parametrize("stored", [None, {}, {"channel": "C1", "ts": "1.0"}])
def test_a_missing_or_partial_record_fails_clearly(stored):
    with pytest.raises(ChatPermanentError, match="Task ask resumed without the record of its question"):
        QuestionRecord.from_dict(stored, task_id="ask")
