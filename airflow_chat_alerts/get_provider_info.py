"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point.

Connection types are not registered here: the ``slack`` and ``slackwebhook`` types belong to
apache-airflow-providers-slack, and ChatAlerterHook reads those same connections.
"""

from __future__ import annotations

from typing import Any

from airflow_chat_alerts import __version__

INTEGRATION = "Chat alerts"


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-chat-alerts",
        "name": "Chat alerts",
        "description": "Post pipeline alerts to Slack and ask people to approve steps from chat, "
        "waiting in a deferred trigger instead of a worker slot.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://api.slack.com/",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": INTEGRATION, "python-modules": ["airflow_chat_alerts.hooks.chat_alerter"]}],
        "operators": [{"integration-name": INTEGRATION, "python-modules": [
            "airflow_chat_alerts.operators.post", "airflow_chat_alerts.operators.hitl"]}],
        "sensors": [{"integration-name": INTEGRATION, "python-modules": ["airflow_chat_alerts.sensors.ask"]}],
        "triggers": [{"integration-name": INTEGRATION, "python-modules": [
            "airflow_chat_alerts.triggers.ask", "airflow_chat_alerts.triggers.hitl"]}],
        "notifications": ["airflow_chat_alerts.notifications.chat.ChatNotifier"],
        "config": {
            "chat_alerts": {
                "description": "Settings of airflow-chat-alerts read by workers (connection settings live in "
                "each connection's extra).",
                "options": {
                    "deferral_settle_seconds": {
                        "description": "How long after a deferral an ask's or a Human-in-the-loop request's "
                        "trigger holds an answer it found before handing it back (0 to 60; 0 for none): "
                        "Airflow 3.3's scheduler can fail a task resumed before it has processed the exit of "
                        "the process that deferred it (apache/airflow#72716).",
                        "version_added": None,
                        "type": "float",
                        "example": "10",
                        "default": "10",
                    },
                },
            },
        },
    }
