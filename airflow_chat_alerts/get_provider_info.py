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
        "operators": [{"integration-name": INTEGRATION, "python-modules": ["airflow_chat_alerts.operators.post"]}],
        "sensors": [{"integration-name": INTEGRATION, "python-modules": ["airflow_chat_alerts.sensors.ask"]}],
        "triggers": [{"integration-name": INTEGRATION, "python-modules": ["airflow_chat_alerts.triggers.ask"]}],
        "notifications": ["airflow_chat_alerts.notifications.chat.ChatNotifier"],
    }
