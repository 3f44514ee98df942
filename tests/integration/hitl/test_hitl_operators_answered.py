"""The Human-in-the-loop operators end to end under ``dag.test()``, against the Slack emulator: the request
is written to Airflow's ``hitl_detail`` row and posted to Slack, and answered by a click, a form, a reply,
in Airflow (through the public REST handler's service function, with an Airflow user), or both at once;
or nobody answers and the timeout applies. People act from a thread once the request shows up.

Under ``dag.test()`` the task instance is QUEUED while its trigger runs, so an answer given in Airflow
resumes it through the trigger's row watch (on a real deployment, Airflow 3.3's REST handler resumes the
deferred task itself: tests/e2e).
"""

from __future__ import annotations

import json
import os
import threading
from datetime import timedelta
from typing import Any

import pendulum
import pytest
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Param
from slack_sdk import WebClient

from airflow_chat_alerts.hitl.choices import FORM_ACTION, OPTION_ACTION_PREFIX
from airflow_chat_alerts.hitl.message import HITL_EVENT_TYPE
from airflow_chat_alerts.hitl.records import ChoiceRecord
from airflow_chat_alerts.operators.hitl import (
    ChatApprovalOperator,
    ChatHITLBranchOperator,
    ChatHITLEntryOperator,
    ChatHITLOperator,
)
from airflow_chat_alerts.sensors.ask import ChatAskSensor
from airflow_chat_alerts.testing import asks
from airflow_chat_alerts.triggers.push.hitldesk import not_allowed_text

from .test_airflow_hitl_paths import answer_through_rest

START = pendulum.datetime(2025, 1, 1, tz="UTC")
CHANNEL = "ml-alerts"
FAST = {"poll_interval": 0.2, "reconcile_interval": 0.2, "response_timeout": timedelta(seconds=90)}
TARGETS = {"Staging": "deploy_staging", "Canary": "deploy_canary", "Production": "deploy_production"}

with DAG("hitl_approve", schedule=None, start_date=START) as approve_dag:
    ChatApprovalOperator(task_id="ask", subject="Deploy model v2?", body="Accuracy **0.93**", **FAST) >> EmptyOperator(
        task_id="deploy")

with DAG("hitl_choose", schedule=None, start_date=START) as choose_dag:
    ChatHITLOperator(task_id="ask", subject="Which region?", options=["Deploy EU", "Deploy US"], **FAST)

with DAG("hitl_branch", schedule=None, start_date=START) as branch_dag:
    ChatHITLBranchOperator(
        task_id="ask", subject="Where should model v2 go?", options=list(TARGETS), options_mapping=TARGETS,
        # Optional: Airflow 3.3 refuses to start a task whose param defaults its schema refuses.
        params={"reason": Param(None, type=["null", "string"], minLength=3, pattern="^[a-z ]*$", title="Reason")},
        **FAST,
    ) >> [EmptyOperator(task_id=t) for t in TARGETS.values()]

# Airflow's execute_complete writes the answer into the operator's own params, so a DAG object run twice in
# one process starts its second run with the first one's answer as defaults: each test has its own DAG.
with DAG("hitl_branch_button", schedule=None, start_date=START) as branch_button_dag:
    ChatHITLBranchOperator(
        task_id="ask", subject="Where should model v2 go?", options=list(TARGETS), options_mapping=TARGETS,
        params={"reason": Param(None, type=["null", "string"], minLength=3, title="Reason")}, **FAST,
    ) >> [EmptyOperator(task_id=t) for t in TARGETS.values()]

with DAG("hitl_group_dm", schedule=None, start_date=START) as group_dm_dag:
    ChatHITLOperator(task_id="ask", subject="Which?", options=["A", "B"], channel=["U0ALICE", "U0BOB"], **FAST)

with DAG("ask_in_a_dm", schedule=None, start_date=START) as ask_dm_dag:
    ChatAskSensor(task_id="ask", message="Deploy?", channel="U0ALICE", poll_interval=0.2, reconcile_interval=0.2,
                  timeout=timedelta(seconds=90))

with DAG("hitl_entry", schedule=None, start_date=START) as entry_dag:
    ChatHITLEntryOperator(task_id="ask", subject="Batch size?", params={"size": Param(32, type="integer", minimum=1)},
                          **FAST)

with DAG("hitl_defaults", schedule=None, start_date=START) as defaults_dag:
    ChatApprovalOperator(task_id="ask", subject="Deploy?", defaults="Reject", poll_interval=0.2,
                         reconcile_interval=0.2, response_timeout=timedelta(seconds=3)) >> EmptyOperator(task_id="deploy")

with DAG("hitl_no_defaults", schedule=None, start_date=START) as no_defaults_dag:
    ChatHITLOperator(task_id="ask", subject="Which?", options=["A", "B"], poll_interval=0.2, reconcile_interval=0.2,
                     response_timeout=timedelta(seconds=3))

with DAG("hitl_assigned", schedule=None, start_date=START) as assigned_dag:
    ChatHITLOperator(task_id="ask", subject="Which?", options=["A", "B"],
                     assigned_users=[{"id": "alice", "name": "Alice"}], **FAST)


@pytest.fixture
def hitl_conn(slack_conn, slack_emulator, monkeypatch) -> dict[str, Any]:
    """``slack_conn`` with fast reads and Alice mapped to the Airflow user ``alice``; ``interactive(True)``
    adds the app-level token (buttons, menus, forms)."""
    env = f"AIRFLOW_CONN_{slack_conn.upper()}"
    conn = json.loads(os.environ[env])
    conn["extra"].update(rate_limits={"conversations.replies": 1200, "conversations.history": 1200},
                         airflow_users={"U0ALICE": {"id": "alice", "name": "Alice"}}, socket_grace=0.1)
    monkeypatch.setenv(env, json.dumps(conn))

    def interactive(on: bool) -> None:
        if on:
            conn["extra"]["app_token"] = slack_emulator.app_token
        monkeypatch.setenv(env, json.dumps(conn))

    return {"interactive": interactive}


@pytest.fixture
def served(airflow_dags):
    from airflow_chat_alerts.testing.hitl import serve_hitl_in_dag_test

    with serve_hitl_in_dag_test():
        yield airflow_dags


def requests(emu) -> list[dict[str, Any]]:
    return [m for m in emu.messages(CHANNEL) if (m.get("metadata") or {}).get("event_type") == HITL_EVENT_TYPE]


def open_request(emu, *, sockets: bool = False) -> dict[str, Any]:
    """The open request, once posted (with ``sockets``: once the triggerer listens for clicks too)."""
    def newest():
        found = requests(emu)
        return found[-1] if found and "outcome" not in found[-1]["metadata"]["event_payload"] else None

    request = asks.wait_until(newest, what="an open request in #ml-alerts")
    if sockets:
        emu.wait_for_sockets(1, timeout=60)
    return request


slack_emulator_of_run: Any = None


@pytest.fixture(autouse=True)
def _emulator_of_run(slack_emulator):
    global slack_emulator_of_run
    slack_emulator_of_run = slack_emulator


def run(dag, script=None):
    """``dag.test()`` while a person plays ``script()``; returns (dag run, task states). What the person
    asserts is raised here; a person who fails revokes the app's token, so the run ends at once."""
    errors: list[BaseException] = []

    def person():
        try:
            script()
        except BaseException as err:  # noqa: BLE001 - re-raised in the test
            errors.append(err)
            slack_emulator_of_run.revoke_token(slack_emulator_of_run.bot_token)  # the wait ends at once

    thread = threading.Thread(target=person, daemon=True) if script else None
    if thread:
        thread.start()
    dag_run = dag.test()
    if thread:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    return dag_run, {ti.task_id: ti.state for ti in dag_run.get_task_instances()}


def xcom(dag_run, key="return_value", task_id="ask"):
    """The XCom this run's task pushed (read by run id: no other run's)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        found = session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id,
                                                   key=key)).first()
        return XComModel.deserialize_value(found) if found is not None else None


def row(dag_run) -> Any:
    from airflow.models.hitl import HITLDetail
    from airflow.utils.session import create_session

    ti = dag_run.get_task_instance("ask")
    with create_session() as session:
        detail = session.get(HITLDetail, ti.id)
        return {"chosen": detail.chosen_options, "by": detail.responded_by, "params": detail.params_input}


def test_an_approval_clicked_in_slack_resumes_once_and_both_records_agree(served, slack_emulator, hitl_conn):
    hitl_conn["interactive"](True)
    emu = slack_emulator

    def alice_clicks():
        request = open_request(emu, sockets=True)
        emu.act_as("alice").click(CHANNEL, request["ts"], f"{OPTION_ACTION_PREFIX}0")  # Approve

    dag_run, states = run(approve_dag, alice_clicks)
    assert states == {"ask": "success", "deploy": "success"}
    result = xcom(dag_run)
    assert result["chosen_options"] == ["Approve"]
    assert result["responded_by_user"] == {"id": "alice", "name": "Alice"}  # the connection's mapping
    # Airflow's own row holds the answer and no responder (the Task SDK's write records none).
    assert row(dag_run) == {"chosen": ["Approve"], "by": None, "params": {}}
    decision = xcom(dag_run, "decision")
    assert (decision["source"], decision["by"]) == ("slack", "U0ALICE")
    [request] = requests(emu)
    assert "✅ Approved by <@U0ALICE>" in request["text"]
    assert not [b for b in request["blocks"] if b["type"] == "actions"]  # the buttons are gone
    audit = emu.thread(CHANNEL, request["ts"])[1]
    assert audit["text"] == "<@U0ALICE> chose: *Approve*"


def test_a_reply_names_an_option_without_socket_mode(served, slack_emulator, hitl_conn):
    emu = slack_emulator

    def bob_replies():
        request = open_request(emu)
        emu.act_as("bob").reply(CHANNEL, request["ts"], "deploy us - the EU cluster is busy")

    dag_run, states = run(choose_dag, bob_replies)
    assert states == {"ask": "success"}
    result = xcom(dag_run)
    assert result["chosen_options"] == ["Deploy US"]
    assert result["responded_by_user"] == {"id": "slack:U0BOB", "name": "U0BOB (Slack)"}  # not mapped
    assert xcom(dag_run, "decision")["comment"] == "the EU cluster is busy"
    assert "<@U0BOB> chose *Deploy US*" in requests(emu)[0]["text"]


def test_a_branch_with_a_required_reason_is_answered_with_the_form(served, slack_emulator, hitl_conn):
    hitl_conn["interactive"](True)
    emu = slack_emulator
    submitted: list[Any] = []

    def alice_fills_in_the_form():
        request = open_request(emu, sockets=True)
        alice = emu.act_as("alice")
        alice.click(CHANNEL, request["ts"], FORM_ACTION)
        asks.wait_until(lambda: emu.open_views("alice") or None, what="the form")
        submitted.append(alice.submit_view({"chat_alerts_hitl_options": "Canary", "Reason": "v2 is fine"}))  # no digits
        submitted.append(alice.submit_view({"chat_alerts_hitl_options": "Canary", "Reason": "canary first"}))

    dag_run, states = run(branch_dag, alice_fills_in_the_form)
    assert submitted[0].still_open and "chat_alerts_param_0" in submitted[0].errors  # Airflow's schema said no
    assert not submitted[1].still_open
    assert states == {"ask": "success", "deploy_canary": "success", "deploy_staging": "skipped",
                      "deploy_production": "skipped"}
    assert xcom(dag_run, "decision")["params_input"] == {"reason": "canary first"}
    assert row(dag_run)["params"] == {"reason": "canary first"}


def test_a_branch_button_answers_with_the_fields_defaults(served, slack_emulator, hitl_conn):
    hitl_conn["interactive"](True)
    emu = slack_emulator

    def alice():
        request = open_request(emu, sockets=True)
        emu.act_as("alice").click(CHANNEL, request["ts"], f"{OPTION_ACTION_PREFIX}0")  # Staging

    dag_run, states = run(branch_button_dag, alice)
    assert states["deploy_staging"] == "success" and states["deploy_canary"] == "skipped"
    assert xcom(dag_run, "decision")["params_input"] == {"reason": None}


def test_an_entry_form_with_valid_defaults_is_answered_by_its_ok_button(served, slack_emulator, hitl_conn):
    hitl_conn["interactive"](True)
    emu = slack_emulator

    def alice():
        request = open_request(emu, sockets=True)
        emu.act_as("alice").click(CHANNEL, request["ts"], f"{OPTION_ACTION_PREFIX}0")  # OK, with the defaults

    dag_run, states = run(entry_dag, alice)
    assert states == {"ask": "success"}
    assert xcom(dag_run)["params_input"] == {"size": 32}


def test_an_answer_given_in_airflow_resumes_the_task_and_shows_in_slack(served, slack_emulator, hitl_conn):
    emu = slack_emulator
    answers: list[dict] = []

    def admin_answers():
        open_request(emu)
        answers.append(answer_through_rest("hitl_choose", "admin", ["Deploy EU"]))

    dag_run, states = run(choose_dag, admin_answers)
    assert answers == [{"status": 200, "by": {"id": "admin", "name": "admin"}}]
    assert states == {"ask": "success"}
    assert xcom(dag_run)["responded_by_user"] == {"id": "admin", "name": "admin"}
    assert xcom(dag_run, "decision")["source"] == "airflow"
    assert "✅ Answered in Airflow by admin: *Deploy EU*" in requests(emu)[0]["text"]


def test_answered_in_both_places_the_first_answer_wins(served, slack_emulator, hitl_conn):
    emu = slack_emulator
    answers: list[dict] = []

    def both():
        request = open_request(emu)
        answers.append(answer_through_rest("hitl_choose", "admin", ["Deploy EU"]))
        emu.act_as("bob").reply(CHANNEL, request["ts"], "Deploy US")  # later: Airflow's answer stands

    dag_run, _ = run(choose_dag, both)
    assert answers[0]["status"] == 200
    assert xcom(dag_run)["chosen_options"] == ["Deploy EU"]
    assert row(dag_run)["chosen"] == ["Deploy EU"]
    late = answer_through_rest("hitl_choose", "admin", ["Deploy US"], wait_for_row=1, unanswered=False)
    assert late["status"] == 409  # and Airflow refuses a second answer


def test_a_slack_answer_first_makes_airflow_refuse_the_second(served, slack_emulator, hitl_conn):
    emu = slack_emulator

    def bob():
        request = open_request(emu)
        emu.act_as("bob").reply(CHANNEL, request["ts"], "Deploy US")

    dag_run, _ = run(choose_dag, bob)
    assert xcom(dag_run)["chosen_options"] == ["Deploy US"]
    late = answer_through_rest("hitl_choose", "admin", ["Deploy EU"], wait_for_row=1, unanswered=False)
    assert late["status"] == 409
    assert row(dag_run)["chosen"] == ["Deploy US"]


def test_a_timeout_with_defaults_writes_them(served, slack_emulator, hitl_conn):
    dag_run, states = run(defaults_dag)
    assert states == {"ask": "success", "deploy": "skipped"}  # Reject skips, as Airflow's operator does
    # (Airflow's skip ends the task before its return value is pushed; our decision record is pushed first.)
    decision = xcom(dag_run, "decision")
    assert (decision["chosen_options"], decision["source"], decision["timed_out"]) == (["Reject"], "timeout", True)
    assert row(dag_run) == {"chosen": ["Reject"], "by": None, "params": {}}
    assert "⌛ Timed out → defaults: *Reject*" in requests(slack_emulator)[0]["text"]


def test_a_timeout_without_defaults_fails_the_task(served, slack_emulator, hitl_conn):
    _, states = run(no_defaults_dag)
    assert states == {"ask": "failed"}
    assert "⌛ Timed out: nobody answered, the task failed" in requests(slack_emulator)[0]["text"]


def test_assigned_users_refuse_slack_people_not_mapped_to_them(served, slack_emulator, hitl_conn):
    emu = slack_emulator

    def people():
        request = open_request(emu)
        emu.act_as("bob").reply(CHANNEL, request["ts"], "A")  # not mapped to an assigned user
        asks.wait_until(lambda: len(emu.thread(CHANNEL, request["ts"])) > 1 or None, what="bob's reply")
        emu.act_as("alice").reply(CHANNEL, request["ts"], "B")

    dag_run, _ = run(assigned_dag, people)
    assert xcom(dag_run)["chosen_options"] == ["B"]
    assert xcom(dag_run)["responded_by_user"] == {"id": "alice", "name": "Alice"}


def conversation_of(emu, *people: str) -> str:
    """The direct conversation of the app with these people (what conversations.open gives the app)."""
    ids = ",".join(emu.user_id(p) for p in people)
    return emu.client().conversations_open(users=ids)["channel"]["id"]


def test_a_request_asked_in_a_group_dm_is_answered_there(served, slack_emulator, hitl_conn):
    emu = slack_emulator

    def bob():
        group = conversation_of(emu, "alice", "bob")
        asked = asks.wait_until(lambda: [m for m in emu.messages(group) if m.get("metadata")] or None,
                                what="the request in the group DM")
        emu.act_as("bob").reply(group, asked[-1]["ts"], "B")

    dag_run, states = run(group_dm_dag, bob)
    assert states == {"ask": "success"}
    assert xcom(dag_run)["chosen_options"] == ["B"]
    assert xcom(dag_run, "decision")["channel"].startswith("G")
    assert requests(emu) == []  # nothing in the channel


def test_an_ask_sensor_asks_one_person_in_a_dm(served, slack_emulator, hitl_conn):
    emu = slack_emulator

    def alice():
        dm = conversation_of(emu, "alice")
        asked = asks.wait_until(lambda: [m for m in emu.messages(dm) if m.get("metadata")] or None,
                                what="the question in the DM")
        emu.act_as("alice").reply(dm, asked[-1]["ts"], "approve")

    dag_run, states = run(ask_dm_dag, alice)
    assert states == {"ask": "success"}
    assert xcom(dag_run, "decision")["by"] == ["U0ALICE"]
    assert xcom(dag_run, "decision")["channel"].startswith("D")


with DAG("hitl_assigned_buttons", schedule=None, start_date=START) as assigned_buttons_dag:
    ChatHITLOperator(task_id="ask", subject="Which?", options=["A", "B"],
                     assigned_users=[{"id": "alice", "name": "Alice"}], **FAST)


def test_a_click_by_someone_not_assigned_is_refused_and_told(served, slack_emulator, hitl_conn):
    hitl_conn["interactive"](True)
    emu = slack_emulator

    def people():
        request = open_request(emu, sockets=True)
        emu.act_as("bob").click(CHANNEL, request["ts"], f"{OPTION_ACTION_PREFIX}0")  # acknowledged, not counted
        told = emu.ephemeral_messages("bob", CHANNEL)
        assert [m["text"] for m in told] == [not_allowed_text()]
        assert len(emu.thread(CHANNEL, request["ts"])) == 1  # nothing recorded
        emu.act_as("alice").click(CHANNEL, request["ts"], f"{OPTION_ACTION_PREFIX}1")

    dag_run, _ = run(assigned_buttons_dag, people)
    assert xcom(dag_run)["chosen_options"] == ["B"]
    assert xcom(dag_run)["responded_by_user"] == {"id": "alice", "name": "Alice"}


def test_an_answer_record_posted_by_another_app_decides_nothing(served, slack_emulator, hitl_conn):
    emu = slack_emulator

    def people():
        request = open_request(emu)
        forged = ChoiceRecord(user=emu.user_id("alice"), chosen=("Deploy EU",),
                              action_ts=f"{emu.state.clock.now():.6f}", channel=emu.channel_id(CHANNEL),
                              question_ts=request["ts"]).message()
        other_app = WebClient(token=emu.workspace.user("ci-bot").token, base_url=emu.base_url)
        other_app.chat_postMessage(channel=emu.channel_id(CHANNEL), thread_ts=request["ts"], text=forged.text,
                                   metadata=forged.metadata)
        asks.wait_until(lambda: emu.journal.calls("conversations.replies")[3:] or None, what="reads of the thread")
        emu.act_as("bob").reply(CHANNEL, request["ts"], "Deploy US")

    dag_run, _ = run(choose_dag, people)
    assert xcom(dag_run)["chosen_options"] == ["Deploy US"]


with DAG("hitl_reminded", schedule=None, start_date=START) as reminded_dag:
    ChatHITLOperator(task_id="ask", subject="Which?", options=["A", "B"], remind_after=timedelta(seconds=1),
                     max_reminders=1, **FAST)


def test_a_reminder_is_posted_in_the_thread_then_the_request_waits_on(served, slack_emulator, hitl_conn):
    emu = slack_emulator

    def bob():
        request = open_request(emu)
        reminders = asks.wait_until(
            lambda: [m for m in emu.thread(CHANNEL, request["ts"])[1:] if ":bell:" in m["text"]] or None,
            what="the reminder")
        assert "Last reminder." in reminders[0]["text"]
        emu.act_as("bob").reply(CHANNEL, request["ts"], "A")

    dag_run, states = run(reminded_dag, bob)
    assert states == {"ask": "success"}
    assert xcom(dag_run)["chosen_options"] == ["A"]
