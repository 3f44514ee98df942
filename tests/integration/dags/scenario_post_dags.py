"""DAGs for the scenario table's post and notify cases (tests/integration/scenarios): the same DAG for each
chat service, only the connection differs.

``post``: an alert with an untrusted value templated in (escaped with the package's filter) and a secret
(masked); ``notify``: a task that fails with a secret and a mention in its exception, reported by ChatNotifier.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from airflow_chat_alerts import ChatNotifier, ChatPostOperator

START = pendulum.datetime(2025, 1, 1, tz="UTC")
SECRET = "hunter2-very-secret"
UNTRUSTED = "<!channel> @everyone <@U0BOB> <@1191168914227200008> [click](https://evil.example)"
SERVICES = {"slack": "slack_api_default", "discord": "discord_bot_default"}

for service, conn_id in SERVICES.items():
    with DAG(f"scenario_post__{service}", schedule=None, start_date=START, catchup=False,
             params={"who": UNTRUSTED}, tags=["tests"]):

        @task
        def secret() -> str:
            from airflow.sdk.log import mask_secret

            mask_secret(SECRET)
            return SECRET

        secret() >> ChatPostOperator(
            task_id="post",
            chat_conn_id=conn_id,
            message="Accuracy *0.97* for {{ params.who | slack_escape }}; key "
            "{{ ti.xcom_pull(task_ids='secret') }}",
        )

    with DAG(f"scenario_notify__{service}", schedule=None, start_date=START, catchup=False, tags=["tests"]):

        @task(on_failure_callback=ChatNotifier(chat_conn_id=conn_id))
        def fails() -> None:
            from airflow.sdk.log import mask_secret

            mask_secret(SECRET)
            raise ValueError(f"cannot reach the store with {SECRET} ({UNTRUSTED})")

        fails()
