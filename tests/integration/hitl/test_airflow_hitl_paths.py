"""The Airflow facts the Human-in-the-loop design rests on (docs/hitl-design.md), checked on the installed
Airflow with ``dag.test()``: a task writes a request as Airflow's operator does and defers to a trigger
that watches its ``hitl_detail`` row; an answer given through Airflow's public REST handler (its service
function, as the API server runs it, with an Airflow user) reaches the trigger; an answer written from the
trigger through the Task SDK is first-wins with Airflow's (409) and records no responder.

The trigger reads and writes the row through the Task SDK (``SUPERVISOR_COMMS``), which Airflow's
triggerer serves (``TriggerRunnerSupervisor``) but the in-process supervisor of ``dag.test()`` does not on
Airflow 3.3 (it answers "Unhandled request"): ``serve_hitl_in_dag_test`` serves them the way the triggerer
does, through the execution API's hitlDetails routes in process.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta
from typing import Any

import pendulum
import pytest
from airflow.sdk import DAG, BaseOperator
from airflow.triggers.base import BaseTrigger, TriggerEvent

START = pendulum.datetime(2025, 1, 1, tz="UTC")


class RowWatchTrigger(BaseTrigger):
    """Waits for the request's answer by reading its hitl_detail row; with ``write``, first answers it itself
    (as a Slack answer would be written) and reports what the write met."""

    def __init__(self, ti_id: str, write: list[str] | None = None, timeout: float = 60.0) -> None:
        super().__init__()
        self.ti_id, self.write, self.timeout = ti_id, write, timeout

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{__name__}.RowWatchTrigger", {"ti_id": self.ti_id, "write": self.write, "timeout": self.timeout}

    async def run(self):
        from uuid import UUID

        from airflow.sdk.exceptions import AirflowRuntimeError
        from airflow.sdk.execution_time.hitl import get_hitl_detail_content_detail, update_hitl_detail_response
        from asgiref.sync import sync_to_async

        ti_id = UUID(self.ti_id)
        wrote: dict[str, Any] = {}
        if self.write:
            try:
                row = await sync_to_async(update_hitl_detail_response)(
                    ti_id=ti_id, chosen_options=self.write, params_input={})
                wrote = {"status": "written", "by": row.responded_by_user}
            except AirflowRuntimeError as err:
                wrote = {"status": "refused", "code": err.error.detail.get("status_code")}
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            row = await sync_to_async(get_hitl_detail_content_detail)(ti_id=ti_id)
            if row.response_received:
                by = row.responded_by_user
                yield TriggerEvent({"chosen": list(row.chosen_options or []), "wrote": wrote,
                                    "by": None if by is None else {"id": by.id, "name": by.name}})
                return
            await asyncio.sleep(0.2)
        yield TriggerEvent({"chosen": None, "wrote": wrote, "by": None})


class AskAndWatch(BaseOperator):
    """Writes a request as Airflow's HITLOperator does (upsert_hitl_detail), then defers to RowWatchTrigger."""

    def __init__(self, *, write: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.write = write

    def execute(self, context):
        from airflow.sdk.execution_time.hitl import upsert_hitl_detail

        ti_id = context["task_instance"].id
        upsert_hitl_detail(ti_id=ti_id, options=["Approve", "Reject"], subject="Deploy?", defaults=None,
                           multiple=False, params={}, assigned_users=[{"id": "alice", "name": "Alice"}])
        self.defer(trigger=RowWatchTrigger(ti_id=str(ti_id), write=self.write), method_name="execute_complete",
                   timeout=timedelta(minutes=2))

    def execute_complete(self, context, event):
        return event


with DAG("hitl_path_rest", schedule=None, start_date=START) as rest_dag:
    AskAndWatch(task_id="ask")

with DAG("hitl_path_both", schedule=None, start_date=START) as both_dag:
    AskAndWatch(task_id="ask", write=["Reject"])


def answer_through_rest(dag_id: str, username: str, chosen: list[str], *, wait_for_row: float = 60,
                        unanswered: bool = True) -> dict:
    """An Airflow user answers through the public REST handler's service function (as the API server runs
    PATCH …/hitlDetails), once the request exists (the newest of the DAG's; with ``unanswered``, the newest
    still unanswered). Returns what happened (the response or the HTTP error)."""
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
    from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from fastapi import HTTPException
    from sqlalchemy import select

    deadline = time.monotonic() + wait_for_row
    while True:
        with create_session() as session:
            query = (select(TaskInstance.run_id).join(HITLDetail, HITLDetail.ti_id == TaskInstance.id)
                     .where(TaskInstance.dag_id == dag_id).order_by(HITLDetail.created_at.desc()).limit(1))
            if unanswered:
                query = query.where(HITLDetail.responded_at.is_(None))
            run_id = session.scalar(query)
        if run_id or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert run_id, f"no request of {dag_id} appeared"
    with create_session() as session:
        try:
            response = update_hitl_detail(
                dag_id=dag_id, dag_run_id=run_id, task_id="ask", map_index=-1, session=session,
                update_hitl_detail_payload=UpdateHITLDetailPayload(chosen_options=chosen, params_input={}),
                user=SimpleAuthManagerUser(username=username, role="admin"),
            )
            return {"status": 200, "by": response.responded_by.model_dump()}
        except HTTPException as err:
            session.rollback()
            return {"status": err.status_code, "detail": err.detail}


def test_an_answer_given_in_airflow_reaches_a_trigger_watching_the_row(airflow_dags, serve_hitl_in_dag_test):
    answers: list[dict] = []
    person = threading.Thread(target=lambda: answers.append(answer_through_rest("hitl_path_rest", "alice", ["Approve"])))
    person.start()
    run = rest_dag.test()
    person.join()
    assert answers == [{"status": 200, "by": {"id": "alice", "name": "alice"}}]  # responded_by: the API user
    event = run.get_task_instance("ask").xcom_pull(task_ids="ask")
    assert event == {"chosen": ["Approve"], "wrote": {}, "by": {"id": "alice", "name": "alice"}}


def test_assigned_users_are_enforced_by_the_rest_handler(airflow_dags, serve_hitl_in_dag_test):
    answers: list[dict] = []

    def people():
        answers.append(answer_through_rest("hitl_path_rest", "bob", ["Approve"]))  # not assigned: 403
        answers.append(answer_through_rest("hitl_path_rest", "alice", ["Maybe"]))  # not an option: 400
        answers.append(answer_through_rest("hitl_path_rest", "alice", ["Reject"]))

    person = threading.Thread(target=people)
    person.start()
    rest_dag.test()
    person.join()
    assert [a["status"] for a in answers] == [403, 400, 200]


def test_a_trigger_writes_first_then_airflow_is_refused_and_no_responder_is_recorded(airflow_dags,
                                                                                       serve_hitl_in_dag_test):
    late: list[dict] = []
    run = both_dag.test()
    late.append(answer_through_rest("hitl_path_both", "alice", ["Approve"], wait_for_row=1, unanswered=False))
    event = run.get_task_instance("ask").xcom_pull(task_ids="ask")
    # The Task SDK's write records no responder (the execution API writes responded_by = None) ...
    assert event == {"chosen": ["Reject"], "wrote": {"status": "written", "by": None}, "by": None}
    # ... and the first answer wins: Airflow's own handler refuses the second.
    assert late[0]["status"] == 409


def test_without_serving_them_dag_test_cannot_read_the_row(airflow_dags):
    run = rest_dag.test()  # nobody answers; the trigger's first read already fails
    assert run.get_task_instance("ask").state == "failed"


@pytest.fixture
def serve_hitl_in_dag_test(monkeypatch):
    from airflow_chat_alerts.testing.hitl import serve_hitl_in_dag_test

    with serve_hitl_in_dag_test():
        yield
