"""The Discord service's pure modules import no Airflow, HTTP or Discord client: they run anywhere, cheaply,
and the service's package costs nothing at DAG-parse time (hikari is imported inside functions only)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "airflow_chat_alerts.services.discord._ids",
        "airflow_chat_alerts.services.discord._markup",
        "airflow_chat_alerts.services.discord._render",
        "airflow_chat_alerts.services.discord._clicks",
        "airflow_chat_alerts.services.discord._reading",
        "airflow_chat_alerts.services.discord._patches",
        "airflow_chat_alerts.services.discord.connection",
    ],
)
def test_module_is_pure(module):
    code = (
        f"import sys, {module}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('airflow', 'slack_sdk', 'aiohttp', 'hikari')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_alerter_and_the_push_stream_import_hikari_only_when_used():
    code = (
        "import sys, airflow_chat_alerts.services.discord.alerter, airflow_chat_alerts.services.discord.push, "
        "airflow_chat_alerts.services.discord.webhook; print('hikari' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
