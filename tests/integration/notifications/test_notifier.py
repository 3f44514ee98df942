"""ChatNotifier as task and DAG failure callbacks, through dag.test() against the emulator."""

from __future__ import annotations

from pathlib import Path

from airflow_chat_alerts.notifications.chat import ChatNotifier, send_chat_notification

TEST_DAGS = Path(__file__).parents[1] / "dags" / "foundation_dags.py"


def test_failing_task_and_run_are_reported(slack_emulator, slack_conn, load_dag):
    dag_run = load_dag(TEST_DAGS, "foundation_notify").test()

    assert dag_run.state == "failed"
    task_alert, run_alert = slack_emulator.messages("ml-alerts")

    assert task_alert["text"].startswith(":red_circle: Task failed: foundation_notify.fit_model")
    assert f"run {dag_run.run_id}, try 1" in task_alert["text"]
    assert task_alert["text"].endswith("ValueError: training diverged: loss is NaN")
    rendered = str(task_alert["blocks"])
    assert "*Duration*" in rendered and "*Try*\\n1" in rendered
    assert (
        f"/dags/foundation_notify/runs/{dag_run.run_id.replace('+', '%2B').replace(':', '%3A')}/tasks/fit_model"
        in rendered
    )

    # The DAG-level notifier uses a template override, rendered with the callback's context.
    assert run_alert["text"] == f"Run {dag_run.run_id} of foundation_notify failed"


def test_a_notifier_that_cannot_post_never_fails_airflow(slack_emulator, slack_conn, load_dag):
    dag_run = load_dag(TEST_DAGS, "foundation_notify").test(run_conf={"conn": "no_such_conn"})

    assert dag_run.state == "failed"
    assert {ti.task_id: ti.state for ti in dag_run.get_task_instances()} == {"fit_model": "failed"}
    assert slack_emulator.messages("ml-alerts") == []


def test_notifier_logs_instead_of_raising_when_slack_refuses(slack_emulator, slack_conn, capsys):
    slack_emulator.revoke_token(slack_emulator.bot_token)
    context = {"dag_run": _Run(), "reason": "task_failure"}

    ChatNotifier(channel="ml-alerts")(context)

    logged = capsys.readouterr().out  # Airflow's structured log goes to stdout
    assert "Chat notification through connection 'slack_api_default' failed: token_revoked" in logged
    assert slack_emulator.bot_token not in logged
    assert slack_emulator.journal.count("chat.postMessage") == 1


def test_default_message_for_a_dag_run_links_to_the_run(slack_emulator, slack_conn):
    send_chat_notification()({"dag_run": _Run(), "reason": "task_failure"})

    [posted] = slack_emulator.messages("ml-alerts")
    assert posted["text"].startswith(":red_circle: DAG run failed: train (run manual_1)")
    assert "task_failure" in posted["text"]
    assert "http://localhost:8080/dags/train/runs/manual_1" in str(posted["blocks"])


class _Run:
    """The parts of a DagRun a DAG-level callback context carries."""

    dag_id = "train"
    run_id = "manual_1"
    state = "failed"
    start_date = None
    end_date = None
