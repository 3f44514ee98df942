"""Small DAGs for the foundation tests (run with dag.test(); run_conf overrides params)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from airflow_chat_alerts import ChatNotifier, ChatPostOperator

START = pendulum.datetime(2025, 1, 1, tz="UTC")

with DAG(
    "foundation_post",
    schedule=None,
    start_date=START,
    params={"channel": "C0MLALERTS", "accuracy": "0.93", "files": []},
    render_template_as_native_obj=True,
):
    ChatPostOperator(
        task_id="post",
        channel="{{ params.channel }}",
        message="Accuracy of {{ dag.dag_id }}: *{{ params.accuracy }}*",
        blocks='[{"type": "divider"}]',
        files="{{ params.files }}",
    )

with DAG("foundation_post_soft", schedule=None, start_date=START):
    ChatPostOperator(task_id="post", channel="C0OPS", message="nobody will see this", fail_on_error=False)

with DAG("foundation_post_rendered_empty", schedule=None, start_date=START, params={"text": ""}):
    ChatPostOperator(task_id="post", message="{{ params.text }}")


with DAG(
    "foundation_notify",
    schedule=None,
    start_date=START,
    params={"conn": "slack_api_default"},
    on_failure_callback=ChatNotifier(
        chat_conn_id="{{ params.conn }}", message="Run {{ run_id }} of {{ dag.dag_id }} failed"
    ),
):

    @task(on_failure_callback=ChatNotifier(chat_conn_id="{{ params.conn }}"))
    def fit_model():
        raise ValueError("training diverged: loss is NaN")

    fit_model()
