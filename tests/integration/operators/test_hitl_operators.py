"""The Chat HITL operators as Airflow classes: every parameter of Airflow's operator, the chat ones checked
when the DAG is parsed, the request checked as Slack will show it, and a clear ImportError on an Airflow
without Human-in-the-loop. (Their execute is not wired yet: it raises, as the module says.)"""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
import warnings
from datetime import timedelta

import pendulum
import pytest
from airflow.providers.standard.operators import hitl as airflow_hitl
from airflow.sdk import DAG, Param

from airflow_chat_alerts.airflow_users import AirflowUser
from airflow_chat_alerts.chat_wait import ChatWait, Destination
from airflow_chat_alerts.exceptions import ChatConfigError
from airflow_chat_alerts.operators.hitl import (
    ChatApprovalOperator,
    ChatHITLBranchOperator,
    ChatHITLEntryOperator,
    ChatHITLOperator,
)

START = pendulum.datetime(2025, 1, 1, tz="UTC")
PAIRS = [
    (ChatHITLOperator, airflow_hitl.HITLOperator, {"options": ["EU", "US"]}),
    (ChatApprovalOperator, airflow_hitl.ApprovalOperator, {}),
    (ChatHITLBranchOperator, airflow_hitl.HITLBranchOperator, {"options": ["EU", "US"]}),
    (ChatHITLEntryOperator, airflow_hitl.HITLEntryOperator, {"params": {"info": Param("", type="string")}}),
]


def own_parameters(cls: type) -> set[str]:
    """Keyword parameters of a class's __init__ and of the __init__s it passes **kwargs to, up to BaseOperator."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass.__name__ == "BaseOperator":
            continue
        names |= {n for n, p in inspect.signature(init).parameters.items() if p.kind == p.KEYWORD_ONLY}
    return names


@pytest.mark.parametrize(("ours", "airflows", "required"), PAIRS)
def test_each_is_airflows_operator_with_every_one_of_its_parameters(ours, airflows, required):
    assert issubclass(ours, airflows)
    chat = {"chat_conn_id", "channel", "approvers", "allow_guests", "remind_after", "max_reminders",
            "poll_interval", "reconcile_interval"}
    assert own_parameters(ours) == own_parameters(airflows) | chat
    assert ours.template_fields == (*airflows.template_fields, "channel")


def test_airflows_parameters_reach_airflows_class():
    with DAG("params", schedule=None, start_date=START):
        op = ChatHITLBranchOperator(
            task_id="choose", subject="Where?", body="**Accuracy** 0.93", options=["EU", "US", "Asia"],
            defaults=["EU"], multiple=True, params={"reason": Param("n/a", type="string", minLength=3)},
            assigned_users=[{"id": "alice", "name": "Alice"}], response_timeout=timedelta(hours=2),
            options_mapping={"EU": "deploy_eu"}, channel="C0MLALERTS", approvers=["U0ALICE", "S0MLLEADS"],
            remind_after=timedelta(minutes=30), max_reminders=2, poll_interval=5, reconcile_interval=60,
        )
    assert op.notifiers == []
    assert (op.subject, op.body, op.options, op.defaults, op.multiple) == (
        "Where?", "**Accuracy** 0.93", ["EU", "US", "Asia"], ["EU"], True)
    assert op.response_timeout == timedelta(hours=2) and op.options_mapping == {"EU": "deploy_eu"}
    assert op.assigned_users == [{"id": "alice", "name": "Alice"}]
    assert op.serialized_params["reason"]["schema"] == {"type": "string", "minLength": 3}
    assert (op.chat_conn_id, op.destination, op.wait) == (
        "slack_api_default", Destination(channel="C0MLALERTS"), ChatWait(5.0, 60.0, 1800.0, 2))
    assert op.policy.approvers == ("U0ALICE", "S0MLLEADS")
    assert op.request.assigned_users == (AirflowUser("alice", "Alice"),)


def test_an_approval_keeps_airflows_fixed_options_and_fail_on_reject():
    op = ChatApprovalOperator(task_id="approve", subject="Deploy?", fail_on_reject=True, defaults="Reject",
                              ignore_downstream_trigger_rules=True)
    assert (op.options, op.multiple, op.fail_on_reject, op.ignore_downstream_trigger_rules) == (
        ["Approve", "Reject"], False, True, True)
    with pytest.raises(ValueError, match="Passing options to ApprovalOperator is not allowed"):
        ChatApprovalOperator(task_id="bad", subject="s", options=["A"])


def test_an_entry_is_a_form_with_an_ok_option():
    op = ChatHITLEntryOperator(task_id="entry", subject="Details", params={"info": Param("", type="string")})
    assert (op.options, op.defaults) == (["OK"], ["OK"])


def test_default_args_fill_the_chat_parameters():
    with DAG("defaults", schedule=None, start_date=START,
             default_args={"chat_conn_id": "slack_ops", "poll_interval": 3, "channel": "C0OPS"}):
        op = ChatHITLOperator(task_id="t", subject="s", options=["A", "B"])
    assert (op.chat_conn_id, op.wait.poll_interval, op.destination.channel) == ("slack_ops", 3.0, "C0OPS")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"channel": ["U0ALICE", "alice"]}, "Slack user ids"),
        ({"channel": [f"U0P{i}" for i in range(9)]}, "1 to 8"),
        ({"approvers": ["alice"]}, "expected Slack user ids"),
        ({"allow_guests": "yes"}, "allow_guests must be True or False"),
        ({"poll_interval": 60, "reconcile_interval": 30}, "must be at least poll_interval"),
        ({"remind_after": 0}, "remind_after must be a positive number"),
        ({"max_reminders": -1}, "max_reminders must be a whole number"),
        ({"options": ["A", "A"]}, "options has duplicates"),
        ({"params": {"reason": Param(type="string")}}, "param 'reason' has no default"),
    ],
)
def test_bad_chat_arguments_fail_when_the_dag_is_parsed(kwargs, message):
    with pytest.raises(ChatConfigError, match=message):
        ChatHITLOperator(task_id="t", subject="s", **{"options": ["A", "B"], **kwargs})


def test_airflows_own_checks_still_apply():
    with pytest.raises(ValueError, match="should be a subset of options"):
        ChatHITLOperator(task_id="t", subject="s", options=["A"], defaults=["B"])
    with pytest.raises(ValueError, match="options_mapping"):
        ChatHITLBranchOperator(task_id="b", subject="s", options=["A"], options_mapping={"Z": "z"})


def test_a_param_without_a_default_is_refused_because_airflow_could_not_send_it():
    """Airflow 3.3's own HITLOperator fails at execute on such a param (its NOTSET default cannot cross
    the Task SDK's comms); we say so when the DAG is parsed."""
    from airflow.sdk.execution_time.comms import CreateHITLDetailPayload, _RequestFrame

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        op = airflow_hitl.HITLOperator(task_id="t", subject="s", options=["A"], params={"p": Param(type="string")})
    frame = _RequestFrame(id=1, body=CreateHITLDetailPayload(
        ti_id="00000000-0000-0000-0000-000000000001", options=["A"], subject="s", params=op.serialized_params
    ).model_dump())
    with pytest.raises(NotImplementedError, match="ArgNotSet"):
        frame.as_bytes()


def test_dags_with_them_serialize(airflow_db):
    from airflow_chat_alerts.testing import save_dags

    with DAG("hitl_serialized", schedule=None, start_date=START) as dag:
        for ours, _, required in PAIRS:
            ours(task_id=ours.__name__, subject="s", channel=["U0ALICE", "U0BOB"], **required)
    save_dags(dag)


# -- an Airflow without Human-in-the-loop -----------------------------------------------------------
def import_with(setup: str) -> subprocess.CompletedProcess[str]:
    code = textwrap.dedent(setup) + "\nimport airflow_chat_alerts.operators.hitl\n"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        # providers-standard without the module (before 1.5.0)
        ("import sys; sys.modules['airflow.providers.standard.operators.hitl'] = None", "ModuleNotFoundError"),
        # Airflow before 3.1: the provider refuses its own import
        ("import airflow.providers.standard.version_compat as v; v.AIRFLOW_V_3_1_PLUS = False",
         "Human in the loop functionality needs Airflow 3.1+"),
        # providers-standard before 1.12.2: no response_timeout
        ("""
         import airflow.providers.standard.operators.hitl as h
         def __init__(self, *, subject, options, **kwargs): pass
         h.HITLOperator.__init__ = __init__
         """, "has no response_timeout"),
    ],
)
def test_importing_them_on_an_airflow_without_hitl_names_the_versions_needed(setup, reason):
    result = import_with(setup)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: airflow_chat_alerts' Human-in-the-loop operators need Airflow 3.1 or "
                           "later with apache-airflow-providers-standard 1.12.2 or later (found Airflow 3.3.2, "
                           "apache-airflow-providers-standard 1.21.0)")
    assert reason in last


def test_importing_the_package_never_imports_them():
    code = "import sys, airflow_chat_alerts; print('airflow_chat_alerts.operators.hitl' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_examples_parse(load_dag):
    from pathlib import Path

    examples = Path(__file__).resolve().parents[3] / "dags_examples"
    for name in ("slack_alert_hitl_approval", "slack_alert_hitl_branch"):
        dag = load_dag(examples / f"{name}.py", name)
        assert any(isinstance(task, ChatHITLOperator) for task in dag.tasks)
