"""A badly configured ChatAskSensor fails when the DAG is parsed, with a message saying what to fix."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_chat_alerts.exceptions import ChatConfigError
from airflow_chat_alerts.sensors.ask import ChatAskSensor


def sensor(**kwargs) -> ChatAskSensor:
    return ChatAskSensor(task_id="ask", **{"message": "Deploy?", **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"approve_keywords": ["ok", "ship"], "reject_keywords": ["no", "Ship!"]}, "overlap on 'ship'"),
        ({"approve_reactions": ["+1"], "reject_reactions": ["thumbsup"]}, "overlap on '+1'"),
        ({"on_timeout": "ignore"}, "on_timeout must be one of reject, approve, fail, skip"),
        ({"branches": {"approved": "deploy", "maybe": "wait"}}, "unknown key(s) 'maybe'"),
        ({"branches": {"approved": ""}}, "branches['approved'] must be a task id"),
        ({"branches": ["deploy"]}, "branches must be a dict"),
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"timeout": timedelta(seconds=-5)}, "timeout must be a positive number"),
        ({"poll_interval": 0}, "poll_interval must be a positive number"),
        ({"remind_after": -1}, "remind_after must be a positive number"),
        ({"max_reminders": -1}, "max_reminders must be a whole number"),
        ({"message": "  "}, "message must be a non-empty string"),
        ({"approvers": ["alice"]}, "expected Slack user ids"),
        ({"approvers": ["U0ALICE"], "required_approvals": 2}, "could never be approved"),
        ({"required_approvals": 0}, "required_approvals must be at least 1"),
        ({"mode": "reschedule"}, "always defers"),
    ],
)
def test_bad_configuration_is_a_parse_time_error(kwargs, message):
    with pytest.raises(ChatConfigError) as err:
        sensor(**kwargs)
    assert message in str(err.value)


def test_a_good_configuration_is_kept_normalised():
    ask = sensor(
        approvers=["U0ALICE", "S0MLLEADS"],
        approve_keywords=["Ship it", "OK"],
        timeout=timedelta(hours=2),
        poll_interval=timedelta(seconds=30),
        remind_after=600,
        branches={"approved": "deploy", "rejected": ["discard", "notify"]},
    )

    assert ask.timeout == 7200.0
    assert ask.poll_interval == 30.0
    assert ask.remind_after == 600.0
    assert ask.policy.approve_keywords == ("ship it", "ok")
    assert ask.policy.approvers == ("U0ALICE", "S0MLLEADS")
    assert ask.branches == {"approved": ["deploy"], "rejected": ["discard", "notify"]}
    assert ask.inherits_from_skipmixin
    assert set(ask.template_fields) == {"message", "blocks", "channel"}
