"""DRAFT, NOT WIRED YET (the operators' ``execute`` raises until the Human-in-the-loop trigger lands; no
test runs this DAG): choose where a model goes, with a reason, in Slack or in Airflow.

``ChatHITLBranchOperator`` (Airflow's ``HITLBranchOperator``) offers three deployment targets. The reason
is a required field (at least 3 characters), so in Slack each target's button opens the form (a modal)
with that target chosen; Airflow's Required actions page shows the same form. The chosen target's task
runs and the others are skipped, as Airflow's operator branches. Nobody answers within ``ASK_TIMEOUT``:
there are no defaults, so the task fails (``HITLTimeoutError``).

Set up the ``slack_api_default`` connection with an ``app_token`` (buttons and the form need Socket
Mode; without it, the request can only be answered in Airflow, since the reason is required).
``CHAT_ALERTS_CHANNEL`` may name a channel, or a person (``U…``) to ask them in a direct message.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task

from airflow_chat_alerts.operators.hitl import ChatHITLBranchOperator

CHANNEL = os.environ.get("CHAT_ALERTS_CHANNEL")
ASK_TIMEOUT = timedelta(seconds=float(os.environ.get("CHAT_ALERTS_ASK_TIMEOUT", 4 * 60 * 60)))
TARGETS = {"Staging": "deploy_staging", "Canary (5 % of traffic)": "deploy_canary", "Production": "deploy_production"}


@dag(schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), catchup=False,
     tags=["example", "chat-alerts", "human-in-the-loop"])
def slack_alert_hitl_branch():
    choose = ChatHITLBranchOperator(
        task_id="choose_target",
        subject="Where should model v2 go?",
        body="Offline accuracy 0.93 (v1: 0.91). Pick a target and say why.",
        options=list(TARGETS),
        options_mapping=TARGETS,
        params={"reason": Param("", type="string", minLength=3, title="Reason", description="Why this target")},
        response_timeout=ASK_TIMEOUT,
        channel=CHANNEL,
    )

    @task
    def deploy_staging(ti=None):
        print("To staging:", (ti.xcom_pull(task_ids="choose_target", key="decision") or {}).get("params_input"))

    @task
    def deploy_canary():
        print("To 5 % of production traffic")

    @task
    def deploy_production():
        print("To production")

    choose >> [deploy_staging(), deploy_canary(), deploy_production()]


slack_alert_hitl_branch()
