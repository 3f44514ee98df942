"""Train a small model, format its test accuracy and post it to Slack.

Set up the ``slack_api_default`` connection (see the README) with a default ``channel`` extra, or
set ``CHAT_ALERTS_CHANNEL``. Parse-time imports stay light: scikit-learn is imported inside the task.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import dag, task

from airflow_chat_alerts import ChatNotifier, ChatPostOperator

CHANNEL = os.environ.get("CHAT_ALERTS_CHANNEL")  # None: the connection's default channel


@dag(
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "chat-alerts"],
    default_args={"on_failure_callback": ChatNotifier(channel=CHANNEL)},
)
def slack_alert_post():
    @task
    def train_and_evaluate() -> float:
        """Fit a logistic regression on the digits data set; return its accuracy on held-out data."""
        from sklearn.datasets import load_digits
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import train_test_split

        features, labels = load_digits(return_X_y=True)
        train_x, test_x, train_y, test_y = train_test_split(features, labels, test_size=0.25, random_state=0)
        # Pixel values run 0..16; scaled to 0..1 the solver converges in a fraction of the iterations.
        model = LogisticRegression(max_iter=1000).fit(train_x / 16.0, train_y)
        return float(model.score(test_x / 16.0, test_y))

    @task
    def format_accuracy(accuracy: float) -> str:
        return f"*Digits model trained.* Test accuracy: *{accuracy:.2%}*"

    ChatPostOperator(task_id="post_accuracy", channel=CHANNEL, message=format_accuracy(train_and_evaluate()))


slack_alert_post()
