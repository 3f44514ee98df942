"""The slack_alert example with Airflow's own approval, asked in Slack.

Train a small model, then ``ChatApprovalOperator`` (Airflow's ``ApprovalOperator``) asks whether to deploy
it: in Slack (the Approve / Reject buttons, ``approve`` / ``reject - reason`` replies, ✅ / ❌ reactions)
and on Airflow's Required actions page alike; the first answer wins, wherever it is given. Approved:
``deploy`` runs. Rejected, or nobody answers within ``ASK_TIMEOUT`` (the default is *Reject*):
Airflow's operator skips ``deploy``; ``record_outcome`` says who decided and how.

Set up the ``slack_api_default`` connection (see the README) with a default ``channel`` extra, or set
``CHAT_ALERTS_CHANNEL``; ``CHAT_ALERTS_APPROVERS`` (comma-separated Slack user or group ids) limits who may
answer in Slack; ``CHAT_ALERTS_ASK_TIMEOUT`` (seconds, 4 hours by default) shortens the wait;
``CHAT_ALERTS_POLL_INTERVAL`` (seconds, 10 by default) sets how often Slack and the request are read.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from airflow_chat_alerts import ChatApprovalOperator

CHANNEL = os.environ.get("CHAT_ALERTS_CHANNEL")  # None: the connection's default channel
APPROVERS = [a.strip() for a in os.environ.get("CHAT_ALERTS_APPROVERS", "").split(",") if a.strip()] or None
ASK_TIMEOUT = timedelta(seconds=float(os.environ.get("CHAT_ALERTS_ASK_TIMEOUT", 4 * 60 * 60)))
POLL_INTERVAL = float(os.environ.get("CHAT_ALERTS_POLL_INTERVAL", 10))


@dag(schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), catchup=False,
     tags=["example", "chat-alerts", "human-in-the-loop"])
def slack_alert_hitl_approval():
    @task
    def train() -> float:
        """Fit a logistic regression on scikit-learn's digits and return its test accuracy."""
        from sklearn.datasets import load_digits
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import train_test_split

        features, labels = load_digits(return_X_y=True)
        x_train, x_test, y_train, y_test = train_test_split(features, labels, test_size=0.25, random_state=0)
        model = LogisticRegression(max_iter=1000).fit(x_train / 16.0, y_train)
        return float(model.score(x_test / 16.0, y_test))

    @task
    def format_accuracy(accuracy: float) -> str:
        return f"{accuracy:.3f}"

    approve = ChatApprovalOperator(
        task_id="approve_deploy",
        subject="Deploy the new model?",
        body="Test accuracy: **{{ ti.xcom_pull(task_ids='format_accuracy') }}**",
        defaults="Reject",
        response_timeout=ASK_TIMEOUT,
        channel=CHANNEL,
        approvers=APPROVERS,
        remind_after=timedelta(hours=1),
        poll_interval=POLL_INTERVAL,
    )

    @task
    def deploy(accuracy: str) -> str:
        print(f"Deploying the model (accuracy {accuracy})")
        return "deployed"

    @task(trigger_rule="all_done")
    def record_outcome(ti=None) -> dict:
        answer = ti.xcom_pull(task_ids="approve_deploy") or {}
        who = (answer.get("responded_by_user") or {}).get("name") or "nobody (the timeout's default)"
        decision = ti.xcom_pull(task_ids="approve_deploy", key="decision")  # who in Slack, the comment
        print(f"{answer.get('chosen_options')} by {who}; in Slack: {decision}")
        return answer

    accuracy = format_accuracy(train())
    accuracy >> approve >> deploy(accuracy) >> record_outcome()


slack_alert_hitl_approval()
