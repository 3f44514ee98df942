"""dags_examples/slack_alert_ask.py on the emulator: train, ask "Deploy?", then deploy or record why not."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..people import CHANNEL, AskRun, questions, run_with

EXAMPLE = Path(__file__).resolve().parents[3] / "dags_examples" / "slack_alert_ask.py"


@pytest.fixture
def run_example(load_dag, slack_emulator, ask_conn, monkeypatch):
    monkeypatch.setenv("CHAT_ALERTS_POLL_INTERVAL", "0.2")
    # Not the example's 4 hours: a person who never answers must not keep the test waiting.
    monkeypatch.setenv("CHAT_ALERTS_ASK_TIMEOUT", "60")

    def run(script) -> AskRun:
        dag_run = run_with(slack_emulator, script, load_dag(EXAMPLE, "slack_alert_ask"))
        return AskRun(dag_run, {ti.task_id: ti.state for ti in dag_run.get_task_instances()})

    return run


def test_approved_model_is_deployed(run_example, slack_emulator):
    seen = []

    def alice(emu, ts):
        seen.append(emu.thread(CHANNEL, ts)[0]["text"])
        emu.act_as("alice").reply(CHANNEL, ts, "approve - looks good")

    result = run_example(alice)

    assert result.states == {
        "train": "success",
        "format_accuracy": "success",
        "ask_to_deploy": "success",
        "deploy": "success",
        "record_rejection": "skipped",
    }
    accuracy = float(result.xcom("return_value", task_id="format_accuracy"))
    assert 0.9 < accuracy <= 1.0
    assert seen[0].startswith(f"Model accuracy is {accuracy:.3f}. Deploy?")
    assert result.xcom("return_value", task_id="deploy") == "deployed"
    assert "Approved by <@U0ALICE>: “looks good”" in questions(slack_emulator)[-1]["text"]


def test_rejected_model_records_who_and_why(run_example, slack_emulator):
    def bob(emu, ts):
        emu.act_as("bob").reply(CHANNEL, ts, "reject - wait for the new data")

    result = run_example(bob)

    assert result.states["deploy"] == "skipped"
    assert result.states["record_rejection"] == "success"
    recorded = result.xcom("return_value", task_id="record_rejection")
    assert recorded["outcome"] == "rejected"
    assert recorded["by"] == ["U0BOB"]
    assert recorded["comment"] == "wait for the new data"
