"""Test DAGs for the end-to-end suite: asks that branch (on Slack, and one on Discord), a pool filler, and a
worker that dies mid-ask.

Every ask waits on the connection's default channel, polls every 2 s and branches to ``deploy`` on
approval or ``discard`` otherwise; the question names its run so a person (the test) can tell them apart.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, task

from airflow_chat_alerts.sensors.ask import ChatAskSensor

START = pendulum.datetime(2025, 1, 1, tz="UTC")


class DieBeforeDeferringAskSensor(ChatAskSensor):
    """On its first try, the worker dies (SIGKILL) after posting the question and before deferring."""

    def execute(self, context):
        self._die_before_deferring = context["ti"].try_number == 1
        return super().execute(context)

    def defer(self, **kwargs):
        if getattr(self, "_die_before_deferring", False):
            os.kill(os.getpid(), signal.SIGKILL)
        super().defer(**kwargs)


def ask_dag(dag_id: str, *, sensor: type[ChatAskSensor] = ChatAskSensor, **ask_kwargs) -> DAG:
    with DAG(dag_id, schedule=None, start_date=START, catchup=False, max_active_runs=100, tags=["e2e"]) as dag:
        ask = sensor(
            task_id="ask",
            message="Deploy the build of run {{ run_id }}?",
            poll_interval=2,
            timeout=timedelta(minutes=30),
            branches={"approved": "deploy", "rejected": "discard"},
            **ask_kwargs,
        )
        ask >> [EmptyOperator(task_id="deploy"), EmptyOperator(task_id="discard")]
    return dag


ask_dag("e2e_ask")
ask_dag("e2e_ask_pooled", pool="one_slot")
ask_dag("e2e_ask_worker_dies", sensor=DieBeforeDeferringAskSensor, retries=1, retry_delay=timedelta(seconds=1))
# The same ask on Discord: only the connection differs (and approvers are a Discord role, given by the test).
ask_dag("e2e_ask_discord", chat_conn_id="discord_e2e",
        approvers=[os.environ["E2E_DISCORD_APPROVERS"]] if os.environ.get("E2E_DISCORD_APPROVERS") else None)

with DAG("e2e_filler", schedule=None, start_date=START, catchup=False, max_active_runs=100, tags=["e2e"]):

    @task(pool="one_slot")
    def work() -> str:
        """A short task that needs the pool's only slot."""
        time.sleep(0.5)
        return "worked"

    work()
