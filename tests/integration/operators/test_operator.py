"""ChatPostOperator through real Airflow (dag.test()) against the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_chat_alerts import ChatPostOperator
from airflow_chat_alerts.exceptions import ChatConfigError

REPO = Path(__file__).resolve().parents[3]
TEST_DAGS = Path(__file__).parents[1] / "dags" / "foundation_dags.py"


def xcoms(dag_run) -> dict[tuple[str, str], object]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id).all()
        return {(row.task_id, row.key): XComModel.deserialize_value(row) for row in rows}


def states(dag_run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dag_run.get_task_instances()}


def test_example_dag_trains_formats_and_posts(slack_emulator, slack_conn, load_dag):
    dag_run = load_dag(REPO / "dags_examples" / "slack_alert_post.py", "slack_alert_post").test()

    assert states(dag_run) == {
        "train_and_evaluate": "success",
        "format_accuracy": "success",
        "post_accuracy": "success",
    }
    [posted] = slack_emulator.messages("ml-alerts")
    accuracy = xcoms(dag_run)[("train_and_evaluate", "return_value")]
    assert 0.9 < accuracy <= 1.0
    assert posted["text"] == f"*Digits model trained.* Test accuracy: *{accuracy:.2%}*"
    context_text = str([b for b in posted["blocks"] if b["type"] == "context"])
    assert "slack_alert_post" in context_text and "post_accuracy" in context_text
    assert "/dags/slack_alert_post/runs/" in context_text  # the link to the task's log
    ref = xcoms(dag_run)[("post_accuracy", "message")]
    assert ref["channel"] == slack_emulator.channel_id("ml-alerts") and ref["ts"] == posted["ts"]
    assert ref["permalink"].endswith("p" + posted["ts"].replace(".", "")) and ref["thread_ts"] is None
    assert xcoms(dag_run)[("post_accuracy", "return_value")] is True


def test_templated_message_blocks_and_files(slack_emulator, slack_conn, load_dag, tmp_path):
    plot = tmp_path / "confusion.png"
    plot.write_bytes(b"\x89PNG not really")
    dag_run = load_dag(TEST_DAGS, "foundation_post").test(run_conf={"accuracy": "0.97", "files": [str(plot)]})

    assert states(dag_run) == {"post": "success"}
    [posted] = slack_emulator.messages("ml-alerts")
    assert posted["text"] == "Accuracy of foundation_post: *0.97*"
    assert posted["blocks"][-1]["type"] == "divider"  # (with the block_id Slack gave it)
    [_, upload] = slack_emulator.thread("ml-alerts", posted["ts"])
    assert "confusion.png" in str(upload)
    assert xcoms(dag_run)[("post", "message")]["ts"] == posted["ts"]


def test_a_missing_file_fails_before_posting(slack_emulator, slack_conn, load_dag, tmp_path):
    dag_run = load_dag(TEST_DAGS, "foundation_post").test(run_conf={"files": [str(tmp_path / "missing.png")]})

    assert states(dag_run) == {"post": "failed"}
    assert slack_emulator.messages("ml-alerts") == []


def test_app_not_in_channel_fails_the_task_and_posts_nothing(slack_emulator, slack_conn, load_dag):
    dag_run = load_dag(TEST_DAGS, "foundation_post").test(run_conf={"channel": "C0OPS"})

    assert states(dag_run) == {"post": "failed"}
    assert ("post", "message") not in xcoms(dag_run)
    assert slack_emulator.journal.calls("chat.postMessage")[0].error == "not_in_channel"
    assert slack_emulator.messages("ops") == [] and slack_emulator.messages("ml-alerts") == []


def test_fail_on_error_false_logs_and_returns_false(slack_emulator, slack_conn, load_dag):
    dag_run = load_dag(TEST_DAGS, "foundation_post_soft").test()

    assert states(dag_run) == {"post": "success"}
    assert xcoms(dag_run) == {("post", "return_value"): False}
    assert slack_emulator.messages("ops") == []


def test_a_message_that_renders_empty_posts_nothing(slack_emulator, slack_conn, load_dag):
    dag_run = load_dag(TEST_DAGS, "foundation_post_rendered_empty").test()

    assert states(dag_run) == {"post": "failed"}
    assert slack_emulator.journal.count() == 0


def test_no_channel_and_no_default_posts_nothing(slack_emulator, monkeypatch, load_dag):
    import json

    conn = {"conn_type": "slack", "password": slack_emulator.bot_token, "extra": {"base_url": slack_emulator.base_url}}
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", json.dumps(conn))
    dag_run = load_dag(TEST_DAGS, "foundation_post_rendered_empty").test(run_conf={"text": "hello"})

    assert states(dag_run) == {"post": "failed"}
    assert slack_emulator.journal.count() == 0


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"message": ""}, "message is empty"),
        ({"message": "   "}, "message is empty"),
        ({"message": None}, "message is empty"),
        ({"message": "hi", "blocks": {"type": "divider"}}, "blocks must be a list"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_parsed(kwargs, error):
    with pytest.raises(ChatConfigError, match=error):
        ChatPostOperator(task_id="post", **kwargs)


def test_blocks_only_message_is_allowed():
    op = ChatPostOperator(task_id="post", message="", blocks=[{"type": "divider"}])
    assert op.blocks == [{"type": "divider"}]
