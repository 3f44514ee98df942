"""Packaging: cheap lazy imports at DAG-parse time, and provider metadata Airflow accepts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import airflow_chat_alerts


def run_python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_dag_parse_time_imports_do_not_load_slack_sdk():
    loaded = run_python(
        "import sys, json\n"
        "from airflow_chat_alerts import ChatPostOperator, ChatNotifier, ChatAlerterHook\n"
        "import airflow_chat_alerts.operators.post, airflow_chat_alerts.notifications.chat\n"
        "heavy = ('slack_sdk', 'airflow.providers.slack.hooks', 'aiohttp')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(heavy))))"
    )
    assert json.loads(loaded) == []


def test_lazy_exports_resolve_and_unknown_names_fail():
    from airflow_chat_alerts.hooks.chat_alerter import ChatAlerterHook
    from airflow_chat_alerts.notifications.chat import ChatNotifier
    from airflow_chat_alerts.operators.post import ChatPostOperator

    assert airflow_chat_alerts.ChatAlerterHook is ChatAlerterHook
    assert airflow_chat_alerts.ChatPostOperator is ChatPostOperator
    assert airflow_chat_alerts.ChatNotifier is ChatNotifier
    assert {"ChatAskSensor", "SlackAlerter", "ChatPostOperator"} <= set(dir(airflow_chat_alerts))
    with pytest.raises(AttributeError, match="NoSuchThing"):
        airflow_chat_alerts.NoSuchThing  # noqa: B018


def test_airflow_lists_the_provider_with_valid_metadata():
    info = run_python(
        "import json\n"
        "from airflow.providers_manager import ProvidersManager\n"
        "pm = ProvidersManager()\n"
        "provider = pm.providers['airflow-chat-alerts']\n"
        "ours = [n for n in pm.notification if 'chat_alerts' in n]\n"
        "print(json.dumps({'version': provider.version, 'notifications': ours,"
        " 'slack_hook': pm.hooks['slack'].hook_class_name}))"
    )
    data = json.loads(info)
    assert data["version"] == airflow_chat_alerts.__version__
    assert data["notifications"] == ["airflow_chat_alerts.notifications.chat.ChatNotifier"]
    # The slack connection type still belongs to the slack provider.
    assert data["slack_hook"] == "airflow.providers.slack.hooks.slack.SlackHook"


def test_airflow_knows_the_providers_setting_and_its_default():
    default = run_python(
        "import os\n"
        "os.environ.pop('AIRFLOW__CHAT_ALERTS__DEFERRAL_SETTLE_SECONDS', None)  # the suite sets it\n"
        "from airflow.configuration import conf\n"
        "conf.load_providers_configuration()\n"
        "print(conf.get('chat_alerts', 'deferral_settle_seconds'))"
    )
    assert float(default) == 10


@pytest.mark.parametrize("module", ["airflow_chat_alerts.alerters.redaction", "airflow_chat_alerts.templating"])
def test_redaction_and_template_filters_import_nothing_heavy(module):
    loaded = run_python(
        f"import sys, json, {module}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('airflow', 'slack_sdk', 'aiohttp'))))"
    )
    assert json.loads(loaded) == []
