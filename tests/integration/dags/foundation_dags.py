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


# Text that does not come from the DAG author: it must reach Slack escaped and masked.
UNSAFE = "<!channel> <!here> <@U0ALICE> <!subteam^S0OPS> see <https://evil.example|Open in Airflow> ```end``` &"
DB_PASSWORD = "hunter2-db-password"


with DAG(
    "foundation_notify_unsafe",
    schedule=None,
    start_date=START,
    # The author's own markup (<!here>) stays; the filter escapes what the author marks untrusted.
    on_failure_callback=ChatNotifier(message="<!here> *Run failed:* {{ dag_run.conf['why'] | slack_escape }}"),
):

    @task(on_failure_callback=ChatNotifier())
    def load_warehouse():
        from airflow.sdk import BaseHook
        from airflow.sdk.log import mask_secret

        token = BaseHook.get_connection("slack_api_default").password  # masked once looked up
        mask_secret(DB_PASSWORD)
        raise RuntimeError(f"{UNSAFE} login with {DB_PASSWORD} failed; token {token}")

    load_warehouse()


with DAG("foundation_post_escaped", schedule=None, start_date=START):

    @task
    def validate():
        return {"rejected": UNSAFE}

    ChatPostOperator(
        task_id="post",
        message="*Rows rejected:* {{ ti.xcom_pull(task_ids='validate')['rejected'] | slack_escape }}",
    ).set_upstream(validate())
