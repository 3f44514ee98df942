"""A DAG's ask in the browser: the question with its buttons, a click in the page that resumes the DAG, and the
ephemeral a person who may not decide sees. Real Airflow (``dag.test()``), real Socket Mode, real Chromium."""

from __future__ import annotations

import json
import os
from datetime import timedelta

import pendulum
import pytest
from airflow.sdk import DAG

from airflow_chat_alerts import ChatAskSensor
from airflow_chat_alerts.clicks import APPROVE_ACTION, not_approver_text
from airflow_chat_alerts.testing import wait_for_question

from .conftest import Person

START = pendulum.datetime(2025, 1, 1, tz="UTC")

with DAG("web_view_ask", schedule=None, start_date=START) as ASK:
    ChatAskSensor(task_id="ask", message="Deploy model *v42*? Accuracy `0.97`", approvers=["U0ALICE"],
                  timeout=timedelta(minutes=3), on_timeout="reject", poll_interval=1)

APPROVE = f"button[data-action-id={APPROVE_ACTION}]"


@pytest.fixture
def buttons_conn(airflow_dags, slack_conn, slack_emulator, monkeypatch) -> str:
    """``slack_conn`` with the app-level token: the question carries buttons, clicks come over Socket Mode."""
    env = f"AIRFLOW_CONN_{slack_conn.upper()}"
    conn = json.loads(os.environ[env])
    conn["extra"]["app_token"] = slack_emulator.app_token
    monkeypatch.setenv(env, json.dumps(conn))
    return slack_conn


def decision_of(dag_run) -> dict:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids="ask",
                                                 key="decision")).first()
        return XComModel.deserialize_value(row)


def run_while(emulator, script) -> object:
    person = Person(emulator, script)
    person.start()
    try:
        return ASK.test()
    finally:
        person.finish()


def test_alice_presses_approve_in_the_page_and_the_dag_resumes(buttons_conn, slack_emulator, page):
    page.open(viewer="U0ALICE")
    seen = {}

    def alice() -> None:
        approve = page.wait(lambda: page.one(APPROVE), "the question's Approve button")
        seen["labels"] = [b.text for b in page.css(".bk-actions button")]
        seen["question"] = page.messages_text()
        slack_emulator.wait_for_sockets(1, timeout=60)  # the waiting trigger holds the app's socket
        approve.click()
        page.wait(lambda: "Approved by @alice" in page.messages_text(), "the outcome in place of the buttons")
        seen["after"] = page.messages_text()
        seen["buttons_after"] = len(page.css(APPROVE))
        seen["same_document"] = page.same_document()

    dag_run = run_while(slack_emulator, alice)

    assert dag_run.state == "success"
    decision = decision_of(dag_run)
    assert (decision["outcome"], decision["by"]) == ("approved", ["U0ALICE"])
    assert seen["labels"] == ["Approve", "Reject"]
    assert "Deploy model v42? Accuracy 0.97" in seen["question"]
    assert seen["buttons_after"] == 0 and seen["same_document"]
    assert "@alice pressed Approve" in seen["after"]  # the click's record, in the thread


def test_someone_who_may_not_decide_sees_the_ephemeral_and_only_they_do(buttons_conn, slack_emulator, page):
    page.open(viewer="U0BOB")
    seen = {}

    def bob_then_alice() -> None:
        page.wait(lambda: page.one(APPROVE), "the question's Approve button")
        slack_emulator.wait_for_sockets(1, timeout=60)
        page.one(APPROVE).click()
        note = page.wait(lambda: page.one(".message.ephemeral"), "bob's ephemeral")
        seen["bob"] = note.text
        page.act_as("U0ALICE")
        page.wait(lambda: not page.css(".message.ephemeral"), "the ephemeral to vanish for alice")
        question = wait_for_question(slack_emulator, "ml-alerts", timeout=5)
        seen["undecided"] = "outcome" not in question["metadata"]["event_payload"]
        page.one(APPROVE).click()
        page.wait(lambda: "Approved by @alice" in page.messages_text(), "the outcome")

    dag_run = run_while(slack_emulator, bob_then_alice)

    assert dag_run.state == "success"
    assert not_approver_text() in seen["bob"] and "Only visible to you" in seen["bob"]
    assert seen["undecided"]
    assert decision_of(dag_run)["by"] == ["U0ALICE"]
