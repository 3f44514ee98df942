"""One Discord ask on the real deployment, decided by a click: the worker posts the question through the
`discord_e2e` connection (a `discord_bot`), the triggerer opens the bot's Gateway session and receives the
clicks, answers them within Discord's 3 s, and the run follows the approved branch; the worker then writes
the outcome onto the question. Only the connection differs from the Slack asks (tests/e2e/dags).
"""

from __future__ import annotations

import pytest

from airflow_chat_alerts.clicks import not_approver_text
from airflow_chat_alerts.testing.socket_mode import ClickFailed

from .conftest import CHANNEL
from .deployment import wait_until
from .test_e2e_asks import trigger_runs, wait_deferred

DAG_ID = "e2e_ask_discord"


def question_of(emu, run_id: str) -> dict:
    """The run's question: the bot's message naming the run, with its buttons."""
    def found() -> dict | None:
        return next((m for m in emu.messages(CHANNEL)
                     if m["author"]["id"] == emu.bot_user_id and m["components"]
                     and run_id.replace("_", "\\_") in m["content"]), None)  # Discord markdown: `_` escaped

    return wait_until(found, timeout=60, what=f"the Discord question of {run_id}")


def approve_id(question: dict) -> str:
    [approve] = [button["custom_id"] for row in question["components"] for button in row["components"]
                 if button["custom_id"].startswith("chat_alerts_approve:")]
    return approve


def click_until_taken(emu, message_id: str, person: str, custom_id: str, tries: int = 5) -> int:
    """Click, and click again after "This interaction failed", as the README tells people; the failures."""
    for failed in range(tries):
        emu.wait_for_gateway(1, timeout=90)
        try:
            emu.act_as(person).click(CHANNEL, message_id, custom_id)
            return failed
        except ClickFailed:
            if failed == tries - 1:
                raise
    raise AssertionError("unreachable")


@pytest.mark.timeout(600)
def test_a_discord_ask_is_decided_by_a_click(airflow_e2e, discord_chat):
    emu = discord_chat
    [run_id] = trigger_runs(airflow_e2e, DAG_ID, 1)
    wait_deferred(airflow_e2e, DAG_ID, [run_id])
    question = question_of(emu, run_id)
    approve = approve_id(question)

    # bob (role engineers) may not decide: told so privately, and his click changes nothing.
    click_until_taken(emu, question["id"], "bob", approve)
    assert [m["content"] for m in emu.ephemeral_messages("bob", CHANNEL)] == [not_approver_text()]
    # carol (role ml-leads, the approvers) decides.
    failed = click_until_taken(emu, question["id"], "carol", approve)

    runs = airflow_e2e.wait_runs_finished(DAG_ID, [run_id], timeout=240)
    assert runs == {run_id: "success"}
    states = airflow_e2e.task_states(DAG_ID, [run_id])[run_id]
    assert (states["ask"], states["deploy"], states["discard"]) == ("success", "success", "skipped")
    carol = emu.user_id("carol")
    decision = airflow_e2e.xcom(DAG_ID, "ask", "decision", [run_id])[run_id]
    assert (decision["outcome"], decision["by"]) == ("approved", [carol])
    assert decision["channel"] == emu.channel_id(CHANNEL) and decision["permalink"].endswith("/" + question["id"])

    # The outcome is on the question (its buttons gone); the one record is carol's, the click's own answer.
    [marked] = [m for m in emu.messages(CHANNEL) if m["id"] == question["id"]]
    assert marked["components"] == [] and f"✅ Approved by <@{carol}>" in marked["content"]
    records = [m["content"] for m in emu.messages(CHANNEL) if m.get("interaction_metadata")]
    assert records == [f"<@{carol}> pressed **Approve**"], f"records: {records} ({failed} clicks failed and were redone)"
