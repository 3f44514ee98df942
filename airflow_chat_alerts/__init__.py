"""airflow-chat-alerts: post pipeline alerts to chat and ask people to approve steps from chat.

The public names are exported lazily so that ``import airflow_chat_alerts`` (and a DAG file that
imports an operator) stays cheap at parse time: slack_sdk is imported only when a task runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_chat_alerts.lazy_exports import lazy_getattr

__version__ = "0.1.0"

_EXPORTS = {
    "ChatAlerterHook": "airflow_chat_alerts.hooks.chat_alerter",
    "ChatPostOperator": "airflow_chat_alerts.operators.post",
    "ChatNotifier": "airflow_chat_alerts.notifications.chat",
    "send_chat_notification": "airflow_chat_alerts.notifications.chat",
    "ChatAskSensor": "airflow_chat_alerts.sensors.ask",
    "SlackAlerter": "airflow_chat_alerts.alerters.slack",
    # Human-in-the-loop (Airflow 3.1+ with apache-airflow-providers-standard 1.12.2+; imported on first use)
    "ChatHITLOperator": "airflow_chat_alerts.operators.hitl",
    "ChatApprovalOperator": "airflow_chat_alerts.operators.hitl",
    "ChatHITLBranchOperator": "airflow_chat_alerts.operators.hitl",
    "ChatHITLEntryOperator": "airflow_chat_alerts.operators.hitl",
}

__all__ = [
    "ChatAlerterHook",
    "ChatApprovalOperator",
    "ChatAskSensor",
    "ChatHITLBranchOperator",
    "ChatHITLEntryOperator",
    "ChatHITLOperator",
    "ChatNotifier",
    "ChatPostOperator",
    "SlackAlerter",
    "__version__",
    "send_chat_notification",
]

if TYPE_CHECKING:
    from airflow_chat_alerts.alerters.slack import SlackAlerter
    from airflow_chat_alerts.hooks.chat_alerter import ChatAlerterHook
    from airflow_chat_alerts.notifications.chat import ChatNotifier, send_chat_notification
    from airflow_chat_alerts.operators.hitl import (
        ChatApprovalOperator,
        ChatHITLBranchOperator,
        ChatHITLEntryOperator,
        ChatHITLOperator,
    )
    from airflow_chat_alerts.operators.post import ChatPostOperator
    from airflow_chat_alerts.sensors.ask import ChatAskSensor


__getattr__ = lazy_getattr(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted(__all__)
