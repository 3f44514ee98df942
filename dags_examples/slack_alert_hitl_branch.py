"""Choose where a model goes, with a reason, in Slack or in Airflow.

``ChatHITLBranchOperator`` (Airflow's ``HITLBranchOperator``) offers three deployment targets and a
*reason* field. In Slack, a target's button answers at once (no reason); *Fill in the form* opens a
modal with the targets and the reason (at least 3 characters when given, checked as Airflow checks it);
a reply naming a target (``production - the canary was clean``) answers too, its comment kept in XCom
``decision``. Airflow's Required actions page shows the same form. The chosen target's task runs and the
others are skipped, as Airflow's operator branches. Nobody answers within ``ASK_TIMEOUT``: there are no
defaults, so the task fails (``HITLTimeoutError``).

(The reason is optional: Airflow 3.3 refuses to start a task whose param defaults its own schema refuses,
so a field cannot be made required with an invalid default.)

Set up the ``slack_api_default`` connection (an ``app_token`` gives the buttons and the form; without it,
people answer by reply). ``CHAT_ALERTS_CHANNEL`` may name a channel, or a person (``U…``) to ask them in a
direct message; ``CHAT_ALERTS_POLL_INTERVAL`` (seconds, 10 by default) sets how often Slack is read.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task

from airflow_chat_alerts import ChatHITLBranchOperator

CHANNEL = os.environ.get("CHAT_ALERTS_CHANNEL")
ASK_TIMEOUT = timedelta(seconds=float(os.environ.get("CHAT_ALERTS_ASK_TIMEOUT", 4 * 60 * 60)))
POLL_INTERVAL = float(os.environ.get("CHAT_ALERTS_POLL_INTERVAL", 10))
TARGETS = {"Staging": "deploy_staging", "Canary (5 % of traffic)": "deploy_canary", "Production": "deploy_production"}
REASON = Param(None, type=["null", "string"], minLength=3, title="Reason", description="Why this target")


@dag(schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), catchup=False,
     tags=["example", "chat-alerts", "human-in-the-loop"])
def slack_alert_hitl_branch():
    choose = ChatHITLBranchOperator(
        task_id="choose_target",
        subject="Where should model v2 go?",
        body="Offline accuracy 0.93 (v1: 0.91). Pick a target and say why.",
        options=list(TARGETS),
        options_mapping=TARGETS,
        params={"reason": REASON},
        response_timeout=ASK_TIMEOUT,
        channel=CHANNEL,
        poll_interval=POLL_INTERVAL,
    )

    @task
    def deploy_staging(ti=None):
        print("To staging:", (ti.xcom_pull(task_ids="choose_target", key="decision") or {}).get("params_input"))

    @task
    def deploy_canary():
        print("To 5 % of production traffic")

    @task
    def deploy_production(ti=None):
        decision = ti.xcom_pull(task_ids="choose_target", key="decision") or {}
        print("To production; reason:", (decision.get("params_input") or {}).get("reason") or decision.get("comment"))

    choose >> [deploy_staging(), deploy_canary(), deploy_production()]


slack_alert_hitl_branch()
