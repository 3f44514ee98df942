"""Train a small model, ask in Slack whether to deploy it, and deploy only when approved.

The ask waits in the triggerer (no worker slot) until someone named in ``APPROVERS`` (or, when none are
named, anyone in the channel) replies ``approve`` / ``reject - reason`` in the question's thread or
reacts with ✅ / ❌. Rejected or unanswered after ``timeout``: ``record_rejection`` logs who said no and
why, and nothing is deployed.

Set up the ``slack_api_default`` connection (see the README) with a default ``channel`` extra (a channel
id, ``C…``), or set ``CHAT_ALERTS_CHANNEL``; ``CHAT_ALERTS_APPROVERS`` (comma-separated Slack user or
user group ids) limits who may answer; ``CHAT_ALERTS_POLL_INTERVAL`` and ``CHAT_ALERTS_ASK_TIMEOUT``
(seconds; 10 and 4 hours by default) shorten the wait for tests and demos. scikit-learn is needed for
the training step (``pip install 'airflow-chat-alerts[examples]'``).

Heavy imports (scikit-learn, slack_sdk) happen inside the tasks, so parsing this file stays cheap.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from airflow_chat_alerts import ChatAskSensor

CHANNEL = os.environ.get("CHAT_ALERTS_CHANNEL")  # None: the connection's default channel
APPROVERS = [a.strip() for a in os.environ.get("CHAT_ALERTS_APPROVERS", "").split(",") if a.strip()] or None
POLL_INTERVAL = float(os.environ.get("CHAT_ALERTS_POLL_INTERVAL", "10"))
# How long the question waits for an answer; tests and demos set a few seconds' worth instead of hours.
ASK_TIMEOUT = timedelta(seconds=float(os.environ.get("CHAT_ALERTS_ASK_TIMEOUT", 4 * 60 * 60)))


@dag(
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "chat-alerts"],
)
def slack_alert_ask():
    @task
    def train() -> float:
        """Fit a logistic regression on scikit-learn's digits and return its test accuracy."""
        from sklearn.datasets import load_digits
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import train_test_split

        features, labels = load_digits(return_X_y=True)
        x_train, x_test, y_train, y_test = train_test_split(features, labels, test_size=0.25, random_state=0)
        # Pixel values run 0..16; scaled to 0..1 the solver converges in a fraction of the iterations.
        model = LogisticRegression(max_iter=1000).fit(x_train / 16.0, y_train)
        return float(model.score(x_test / 16.0, y_test))

    @task
    def format_accuracy(accuracy: float) -> str:
        return f"{accuracy:.3f}"

    ask = ChatAskSensor(
        task_id="ask_to_deploy",
        channel=CHANNEL,
        message="Model accuracy is {{ ti.xcom_pull(task_ids='format_accuracy') }}. Deploy?",
        approvers=APPROVERS,
        timeout=ASK_TIMEOUT,
        on_timeout="reject",
        poll_interval=POLL_INTERVAL,
        remind_after=timedelta(hours=1),
        branches={"approved": "deploy", "rejected": "record_rejection"},
    )

    @task
    def deploy(accuracy: str) -> str:
        print(f"Deploying the model (accuracy {accuracy})")
        return "deployed"

    @task
    def record_rejection(ti=None) -> dict:
        decision = ti.xcom_pull(task_ids="ask_to_deploy", key="decision") or {}
        if decision.get("outcome") == "timed_out":
            print("Not deployed: nobody decided before the deadline.")
        else:
            who = ", ".join(decision.get("by") or []) or "unknown"
            print(f"Not deployed: rejected by {who}; reason: {decision.get('comment') or 'none given'}")
        return decision

    accuracy = format_accuracy(train())
    accuracy >> ask
    ask >> [deploy(accuracy), record_rejection()]


slack_alert_ask()
