"""A message as the Web API shows it, as the page's message view: who, badges, body, reactions, threads."""

from __future__ import annotations

from airflow_chat_alerts.testing.web.slack_messages import Directory, message_view
from airflow_chat_alerts.testing.workspace import Workspace

DIRECTORY = Directory(Workspace.default())


def test_a_persons_reply_with_reactions_and_an_edit():
    view = message_view({"type": "message", "user": "U0ALICE", "text": "approve - *looks good*", "ts": "1.000002",
                         "thread_ts": "1.000001", "edited": {"user": "U0ALICE", "ts": "2.0"},
                         "reactions": [{"name": "+1", "users": ["U0BOB"], "count": 3}]}, DIRECTORY)
    assert view["author"] == {"id": "U0ALICE", "name": "alice", "label": "Alice Archer", "kind": "person",
                              "badge": None, "via": None}
    assert (view["thread_ts"], view["edited"], view["reply_count"]) == ("1.000001", True, 0)
    assert view["body"] == [{"t": "text", "c": ["approve - ", {"t": "b", "c": ["looks good"]}]}]
    assert view["reactions"] == [{"name": "+1", "char": "👍", "users": ["U0BOB"], "count": 3}]


def test_app_and_webhook_messages_carry_the_app_badge():
    app = message_view({"user": "U0CHATALERTS", "bot_id": "B0CHATALERTS", "text": "hi", "ts": "1.0",
                        "blocks": [{"type": "divider"}], "reply_count": 2,
                        "metadata": {"event_type": "airflow_chat_alerts_ask", "event_payload": {"dag_id": "d"}}},
                       DIRECTORY)
    assert (app["author"]["label"], app["author"]["badge"], app["body"], app["reply_count"]) == (
        "Chat Alerts", "APP", [{"t": "divider"}], 2)
    assert app["metadata"]["event_type"] == "airflow_chat_alerts_ask" and '"dag_id": "d"' in app["metadata"]["json"]
    hook = message_view({"subtype": "bot_message", "bot_id": "B0CHATALERTS", "username": "Chat Alerts", "text": "x",
                         "ts": "1.0"}, DIRECTORY)
    assert (hook["author"]["badge"], hook["author"]["via"]) == ("APP", "webhook")


def test_a_deleted_thread_parent_is_a_tombstone_and_an_ephemeral_is_marked():
    tomb = message_view({"subtype": "tombstone", "hidden": True, "user": "USLACKBOT", "text": "This message was deleted.",
                         "ts": "1.0", "thread_ts": "1.0"}, DIRECTORY)
    assert (tomb["deleted"], tomb["author"]["kind"], tomb["thread_ts"]) == (True, "system", None)
    note = message_view({"user": "U0CHATALERTS", "bot_id": "B0CHATALERTS", "text": "not an approver", "ts": "2.0",
                         "channel": "C0MLALERTS"}, DIRECTORY, ephemeral=True)
    assert note["ephemeral"] is True
