"""Airflow's Human-in-the-loop requests on the real deployment (PostgreSQL, api-server, scheduler,
triggerers), asked in Slack by the example DAGs: one answered in Slack, one through Airflow's REST API
(``PATCH …/hitlDetails``, as the UI sends it), each resuming once, with Airflow's Required actions and the
Slack message agreeing; and a triggerer killed while a request waits loses nothing.
"""

from __future__ import annotations

from typing import Any

from airflow_chat_alerts.hitl.choices import OPTION_ACTION_PREFIX

from . import chat as people
from .deployment import AirflowDeployment, wait_until

APPROVAL, APPROVAL_TASK = "slack_alert_hitl_approval", "approve_deploy"
BRANCH, BRANCH_TASK = "slack_alert_hitl_branch", "choose_target"


def pending(airflow: AirflowDeployment, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    """The run's Required actions, as Airflow's UI lists them (deferred or awaiting input, unanswered)."""
    found = airflow.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/hitlDetails",
                        params={"state": ["deferred", "awaiting_input"], "response_received": "false"})
    return found["hitl_details"]


def detail(airflow: AirflowDeployment, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
    return airflow.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails")


def asked(airflow: AirflowDeployment, chat, channel: str, dag_id: str, task_id: str) -> tuple[str, people.Question]:
    """Trigger a run; wait until its request is deferred, listed among Required actions and in Slack."""
    run_id = airflow.trigger(dag_id)
    airflow.wait_ti_count(dag_id, task_id, "deferred", 1, timeout=240, run_ids=[run_id])
    # An answer that resumes the task before the executor has reported its deferring workload finished makes
    # Airflow's scheduler fail the task ("finished with state success, but ... queued"): people are slower.
    airflow.wait_workloads_released(dag_id)
    wait_until(lambda: pending(airflow, dag_id, run_id), timeout=30, what="the Required action")
    question = wait_until(lambda: people.questions(chat, channel, dag_id).get(run_id), timeout=60,
                          what="the request in Slack")
    return run_id, question


def assert_resumed_once(airflow: AirflowDeployment, chat, dag_id: str, task_id: str, run_id: str, ts: str) -> None:
    tries = airflow.sql("SELECT try_number FROM task_instance WHERE dag_id = %s AND task_id = %s AND run_id = %s",
                        [dag_id, task_id, run_id])
    assert tries == [(1,)], "the request was retried"
    assert people.updates(chat, [ts]) == {ts: 1}, "the request's message was marked more than once"
    assert people.question_posts(chat, dag_id)[run_id] == 1, "the request was posted twice"


def text_of(chat, channel: str, ts: str) -> str:
    [message] = [m for m in chat.messages(channel) if m["ts"] == ts]
    return message["text"]


def test_an_approval_answered_in_slack(airflow_e2e, chat, chat_channel):
    run_id, question = asked(airflow_e2e, chat, chat_channel, APPROVAL, APPROVAL_TASK)
    [listed] = pending(airflow_e2e, APPROVAL, run_id)
    assert listed["options"] == ["Approve", "Reject"] and listed["subject"] == "Deploy the new model?"
    chat.wait_for_sockets(1, timeout=60)
    chat.act_as("carol").click(chat_channel, question.ts, f"{OPTION_ACTION_PREFIX}0")  # Approve (ml-leads)

    runs = airflow_e2e.wait_runs_finished(APPROVAL, [run_id], timeout=240)
    assert runs == {run_id: "success"}
    states = airflow_e2e.task_states(APPROVAL, [run_id])[run_id]
    assert states[APPROVAL_TASK] == "success" and states["deploy"] == "success"
    assert pending(airflow_e2e, APPROVAL, run_id) == []
    row = detail(airflow_e2e, APPROVAL, run_id, APPROVAL_TASK)
    assert (row["response_received"], row["chosen_options"], row["responded_by_user"]) == (True, ["Approve"], None)
    assert "✅ Approved by <@U0CAROL>" in text_of(chat, chat_channel, question.ts)
    decision = airflow_e2e.xcom(APPROVAL, APPROVAL_TASK, "decision", [run_id])[run_id]
    assert (decision["source"], decision["by"], decision["chosen_options"]) == ("slack", "U0CAROL", ["Approve"])
    assert_resumed_once(airflow_e2e, chat, APPROVAL, APPROVAL_TASK, run_id, question.ts)


def test_a_branch_answered_through_airflows_rest_api(airflow_e2e, chat, chat_channel):
    run_id, question = asked(airflow_e2e, chat, chat_channel, BRANCH, BRANCH_TASK)
    answer = airflow_e2e.api(
        "PATCH", f"dags/{BRANCH}/dagRuns/{run_id}/taskInstances/{BRANCH_TASK}/-1/hitlDetails",
        json={"chosen_options": ["Production"], "params_input": {"reason": "canary was clean"}},
    )
    responder = answer["responded_by"]

    runs = airflow_e2e.wait_runs_finished(BRANCH, [run_id], timeout=240)
    assert runs == {run_id: "success"}
    states = airflow_e2e.task_states(BRANCH, [run_id])[run_id]
    assert (states["deploy_production"], states["deploy_staging"], states["deploy_canary"]) == (
        "success", "skipped", "skipped")
    row = detail(airflow_e2e, BRANCH, run_id, BRANCH_TASK)
    assert row["chosen_options"] == ["Production"] and row["params_input"] == {"reason": "canary was clean"}
    assert f"✅ Answered in Airflow by {responder['name']}: *Production*" in text_of(chat, chat_channel, question.ts)
    decision = airflow_e2e.xcom(BRANCH, BRANCH_TASK, "decision", [run_id])[run_id]
    assert (decision["source"], decision["responded_by_user"]) == ("airflow", responder)
    assert_resumed_once(airflow_e2e, chat, BRANCH, BRANCH_TASK, run_id, question.ts)


def test_a_triggerer_killed_while_a_request_waits_loses_nothing(airflow_e2e, chat, chat_channel):
    run_id, question = asked(airflow_e2e, chat, chat_channel, APPROVAL, APPROVAL_TASK)
    job = airflow_e2e.triggerer_jobs["triggerer"]
    wait_until(lambda: airflow_e2e.trigger_holders(APPROVAL, [run_id]).get(run_id) == job, timeout=60,
               what="the request's trigger to run on the triggerer")
    airflow_e2e.kill("triggerer")
    # Answered while no triggerer runs: a reply stays in Slack, and the next triggerer reads it.
    chat.act_as("alice").reply(chat_channel, question.ts, "reject - the numbers look off")
    airflow_e2e.start_triggerer("triggerer")

    runs = airflow_e2e.wait_runs_finished(APPROVAL, [run_id], timeout=240)
    assert runs == {run_id: "success"}
    states = airflow_e2e.task_states(APPROVAL, [run_id])[run_id]
    assert (states[APPROVAL_TASK], states["deploy"]) == ("success", "skipped")
    assert detail(airflow_e2e, APPROVAL, run_id, APPROVAL_TASK)["chosen_options"] == ["Reject"]
    decision = airflow_e2e.xcom(APPROVAL, APPROVAL_TASK, "decision", [run_id])[run_id]
    assert (decision["by"], decision["comment"]) == ("U0ALICE", "the numbers look off")
    assert "❌ Rejected by <@U0ALICE>" in text_of(chat, chat_channel, question.ts)
    assert_resumed_once(airflow_e2e, chat, APPROVAL, APPROVAL_TASK, run_id, question.ts)
