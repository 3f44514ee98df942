"""The pure modules import no Airflow, slack_sdk or HTTP client: they run anywhere, cheaply."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "airflow_chat_alerts.decisions",
        "airflow_chat_alerts.formatting",
        "airflow_chat_alerts.clicks",
        "airflow_chat_alerts.model",
        "airflow_chat_alerts.alerters.payload",
        "airflow_chat_alerts.alerters.slack_calls",
        "airflow_chat_alerts.alerters.slack_errors",
        "airflow_chat_alerts.airflow_users",
        "airflow_chat_alerts.chat_wait",
        "airflow_chat_alerts.hitl.request",
        "airflow_chat_alerts.hitl.choices",
        "airflow_chat_alerts.hitl.replies",
        "airflow_chat_alerts.hitl.form",
        "airflow_chat_alerts.hitl.message",
        "airflow_chat_alerts.hitl.records",
        "airflow_chat_alerts.hitl.judge",
        "airflow_chat_alerts.operators.hitl_outcome",
        "airflow_chat_alerts.testing.web.mrkdwn",
        "airflow_chat_alerts.testing.web.blocks",
        "airflow_chat_alerts.testing.web.slack_messages",
        "airflow_chat_alerts.testing.web.acts",
        "airflow_chat_alerts.testing.web.guard",
        "airflow_chat_alerts.testing.web.redaction",
        "airflow_chat_alerts.testing.web.changes",
        "airflow_chat_alerts.testing.web",
    ],
)
def test_module_is_pure(module):
    code = (
        f"import sys, {module}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('airflow', 'slack_sdk', 'aiohttp')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
