"""The page's acts: read from JSON, with a clear error for what is not an act."""

from __future__ import annotations

import pytest

from airflow_chat_alerts.testing.web.acts import Act, BadAct, parse_act


def test_acts_are_read_with_their_fields():
    assert parse_act({"action": "click", "as": "U0ALICE", "channel": "C0", "ts": "1.0", "action_id": "approve",
                      "value": "v", "block_id": "b"}) == Act("click", "U0ALICE", "C0", ts="1.0", action_id="approve",
                                                             value="v", block_id="b")
    assert parse_act({"action": "select", "as": "bob", "channel": "C0", "ts": "1.0", "action_id": "m",
                      "values": ["a", "b"]}).values == ("a", "b")
    assert parse_act({"action": "post", "as": "bob", "channel": "C0", "text": ""}).text == ""  # Slack answers no_text


@pytest.mark.parametrize(
    "body, error",
    [
        ([], "must be a JSON object"),
        ({"action": "launch"}, "unknown action 'launch'"),
        ({"action": "post", "channel": "C0", "text": "x"}, "'as'"),
        ({"action": "post", "as": "bob", "text": "x"}, "'channel'"),
        ({"action": "reply", "as": "bob", "channel": "C0", "text": "x"}, "needs 'thread_ts'"),
        ({"action": "react", "as": "bob", "channel": "C0", "ts": "1.0"}, "needs 'name'"),
        ({"action": "select", "as": "bob", "channel": "C0", "ts": "1", "action_id": "m"}, "needs 'values'"),
        ({"action": "select", "as": "bob", "channel": "C0", "ts": "1", "action_id": "m", "values": [1]}, "list of strings"),
        ({"action": "post", "as": "bob", "channel": "C0", "text": 5}, "'text' must be a string"),
        ({"action": "post", "as": "bob", "channel": "C0", "text": "x" * 40_002}, "longer than"),
    ],
)
def test_what_is_no_act_says_why(body, error):
    with pytest.raises(BadAct, match=error):
        parse_act(body)
