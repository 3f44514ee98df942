"""The central promise on the real engine: an ask holds no worker slot while it waits, survives a
triggerer crash and a worker crash, and works with several triggerers (PostgreSQL, LocalExecutor).

Each test triggers its own DAG runs, answers the questions through the emulator as people, and checks
the outcome from Airflow's own state (task instance states, pools, triggers, XCom) and the chat side
from the emulator's journal of calls.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from . import chat as people
from .deployment import AirflowDeployment, wait_until


def trigger_runs(airflow: AirflowDeployment, dag_id: str, count: int) -> list[str]:
    return [airflow.trigger(dag_id) for _ in range(count)]


def wait_deferred(airflow: AirflowDeployment, dag_id: str, run_ids: Sequence[str], timeout: float = 180) -> None:
    """All the runs' asks are deferred and their deferring processes have left the executor."""
    airflow.wait_ti_count(dag_id, "ask", "deferred", len(run_ids), timeout=timeout, run_ids=run_ids)
    airflow.wait_workloads_released(dag_id)


def wait_questions(chat, channel: str, dag_id: str, run_ids: Sequence[str]) -> dict[str, people.Question]:
    def all_asked() -> dict[str, people.Question] | None:
        found = people.questions(chat, channel, dag_id)
        return found if set(run_ids) <= set(found) else None

    return wait_until(all_asked, timeout=60, what=f"the questions of {len(run_ids)} {dag_id} runs")


def assert_resolved(
    airflow: AirflowDeployment,
    chat,
    dag_id: str,
    expected: dict[str, tuple[str, str]],
    asked: dict[str, people.Question],
    timeout: float = 240,
    tries: int = 1,
) -> None:
    """Every run finished on the branch of its answer, decided by the person who answered, once."""
    run_ids = list(expected)
    runs = airflow.wait_runs_finished(dag_id, run_ids, timeout=timeout)
    assert set(runs.values()) == {"success"}, runs
    try_numbers = dict(airflow.sql(
        "SELECT run_id, try_number FROM task_instance WHERE dag_id = %s AND task_id = 'ask' AND run_id = ANY(%s)",
        [dag_id, run_ids],
    ))
    assert try_numbers == dict.fromkeys(run_ids, tries), "an ask was retried"
    states = airflow.task_states(dag_id, run_ids)
    records = airflow.xcom(dag_id, "ask", "decision", run_ids)
    unnamed = [run_id for run_id in run_ids if run_id not in asked[run_id].text]
    assert not unnamed, f"questions whose rendered message does not name their run: {unnamed}"
    wrong = {}
    for run_id, (outcome, user) in expected.items():
        taken = "deploy" if outcome == "approved" else "discard"
        skipped = "discard" if outcome == "approved" else "deploy"
        record = records.get(run_id) or {}
        got = (states[run_id].get("ask"), states[run_id].get(taken), states[run_id].get(skipped),
               record.get("outcome"), record.get("by"))
        if got != ("success", "success", "skipped", outcome, [user]):
            wrong[run_id] = got
    assert not wrong, f"runs not resolved as answered (ask, taken branch, other branch, outcome, by): {wrong}"
    posts = people.question_posts(chat, dag_id)
    assert {run_id: posts[run_id] for run_id in run_ids} == dict.fromkeys(run_ids, 1), "a question was posted twice"
    marked = people.updates(chat, [asked[run_id].ts for run_id in run_ids])
    assert marked == dict.fromkeys((asked[r].ts for r in run_ids), 1), "each question is marked with its outcome once"


@pytest.mark.timeout(300)
def test_dags_parse_on_the_real_dag_processor(airflow_e2e):
    """The example DAGs and the test DAGs load in the dag-processor without import errors."""
    assert airflow_e2e.sql("SELECT filename, stacktrace FROM import_error") == []


@pytest.mark.timeout(300)
def test_example_dag_trains_asks_and_deploys_on_group_approval(airflow_e2e, chat, chat_channel):
    """dags_examples/slack_alert_ask.py: only the ml-leads group may approve; bob (not in it) is ignored."""
    dag_id = "slack_alert_ask"
    run_id = airflow_e2e.trigger(dag_id)
    airflow_e2e.wait_ti_count(dag_id, "ask_to_deploy", "deferred", 1, timeout=180, run_ids=[run_id])
    airflow_e2e.wait_workloads_released(dag_id)
    question = wait_questions(chat, chat_channel, dag_id, [run_id])[run_id]
    ts = question.ts
    chat.client("bob").chat_postMessage(channel=chat_channel, thread_ts=ts, text="approve")
    time.sleep(6)  # three polls: bob is not an approver, so the ask keeps waiting
    assert airflow_e2e.count_ti(dag_id, "ask_to_deploy", "deferred", [run_id]) == 1
    chat.client("carol").chat_postMessage(channel=chat_channel, thread_ts=ts, text="lgtm")
    assert airflow_e2e.wait_runs_finished(dag_id, [run_id], timeout=120) == {run_id: "success"}
    states = airflow_e2e.task_states(dag_id, [run_id])[run_id]
    assert states == {"train": "success", "format_accuracy": "success", "ask_to_deploy": "success",
                      "deploy": "success", "record_rejection": "skipped"}
    decision = airflow_e2e.xcom(dag_id, "ask_to_deploy", "decision", [run_id])[run_id]
    assert (decision["outcome"], decision["by"]) == ("approved", [chat.user_id("carol")])
    accuracy = airflow_e2e.xcom(dag_id, "format_accuracy", "return_value", [run_id])[run_id]
    assert f"Model accuracy is {accuracy}" in question.text, question.text


@pytest.mark.timeout(420)
def test_waiting_asks_hold_no_pool_slot(airflow_e2e, chat, chat_channel):
    """20 asks wait in a pool of one slot while another DAG keeps running short tasks in that slot."""
    dag_id, filler = "e2e_ask_pooled", "e2e_filler"
    run_ids = trigger_runs(airflow_e2e, dag_id, 20)
    wait_deferred(airflow_e2e, dag_id, run_ids)

    # While all 20 wait, the filler keeps two runs going: the pool's slot and the executor's slots are
    # only ever used by the filler, and the filler keeps getting its work done.
    filler_runs: list[str] = []
    samples = []
    deadline = time.monotonic() + 90
    while airflow_e2e.count_ti(filler, "work", "success", filler_runs) < 5:
        assert time.monotonic() < deadline, f"the filler made no progress while the asks waited: {samples[-5:]}"
        unfinished = [s for s in airflow_e2e.run_states(filler, filler_runs).values() if s not in ("success", "failed")]
        if len(unfinished) < 2:
            filler_runs.append(airflow_e2e.trigger(filler))
        pool = airflow_e2e.pool("one_slot")
        holders = airflow_e2e.sql(
            "SELECT dag_id, task_id, state FROM task_instance "
            "WHERE pool = 'one_slot' AND state IN ('running', 'queued')"
        )
        workers = airflow_e2e.executor_workloads()
        deferred = airflow_e2e.count_ti(dag_id, "ask", "deferred", run_ids)
        sample = (pool["occupied_slots"], pool["running_slots"], pool["deferred_slots"], deferred, holders, workers)
        samples.append(sample)
        assert deferred == 20, samples[-1]
        assert pool["deferred_slots"] == 20 and pool["occupied_slots"] <= 1, samples[-1]
        assert all(h[0] == filler for h in holders), f"an ask holds the pool's slot: {holders}"
        assert all(w[0] == filler for w in workers), f"an ask holds an executor slot: {workers}"
        time.sleep(0.3)
    assert any(s[1] == 1 for s in samples), f"never saw the filler running in the slot: {samples}"
    assert any(s[5] for s in samples), f"never saw the filler in an executor slot: {samples}"

    asked = wait_questions(chat, chat_channel, dag_id, run_ids)
    expected = {run_id: people.answer(chat, chat_channel, asked[run_id].ts, how)
                for run_id, how in people.plan(run_ids).items()}
    assert_resolved(airflow_e2e, chat, dag_id, expected, asked)
    assert set(airflow_e2e.wait_runs_finished(filler, filler_runs, timeout=120).values()) == {"success"}


@pytest.mark.timeout(300)
def test_worker_killed_between_posting_and_deferring_reuses_the_question(airflow_e2e, chat, chat_channel):
    """The first try posts and dies (SIGKILL) before deferring; the retry finds that question, posts none."""
    dag_id = "e2e_ask_worker_dies"
    run_ids = trigger_runs(airflow_e2e, dag_id, 2)
    wait_deferred(airflow_e2e, dag_id, run_ids)
    asked = wait_questions(chat, chat_channel, dag_id, run_ids)
    assert all(asked[r].payload["try_number"] == 1 for r in run_ids), "the retry reuses the first try's question"
    expected = {run_ids[0]: people.answer(chat, chat_channel, asked[run_ids[0]].ts, "approve-reply"),
                run_ids[1]: people.answer(chat, chat_channel, asked[run_ids[1]].ts, "reject-reply")}
    # Resolved on the second try (the first died), with the one question the first try posted.
    assert_resolved(airflow_e2e, chat, dag_id, expected, asked, tries=2)


@pytest.mark.timeout(420)
def test_triggerer_killed_answers_given_while_it_is_down_are_kept(airflow_e2e, chat, chat_channel):
    """kill -9 the only triggerer while 20 asks wait; answer 10 while it is down; start it again."""
    dag_id = "e2e_ask"
    run_ids = trigger_runs(airflow_e2e, dag_id, 20)
    wait_deferred(airflow_e2e, dag_id, run_ids)
    asked = wait_questions(chat, chat_channel, dag_id, run_ids)
    job = airflow_e2e.triggerer_jobs["triggerer"]
    wait_until(lambda: set(airflow_e2e.trigger_holders(dag_id, run_ids).values()) == {job}, timeout=60,
               what="the triggerer to run all 20 asks")

    airflow_e2e.kill("triggerer")
    plan = people.plan(run_ids)
    first, second = sorted(run_ids)[:10], sorted(run_ids)[10:]
    expected = {run_id: people.answer(chat, chat_channel, asked[run_id].ts, plan[run_id]) for run_id in first}
    time.sleep(5)  # no triggerer: nothing may resolve, answers only wait in the channel
    assert airflow_e2e.count_ti(dag_id, "ask", "deferred", run_ids) == 20

    airflow_e2e.start_triggerer("triggerer")
    expected |= {run_id: people.answer(chat, chat_channel, asked[run_id].ts, plan[run_id]) for run_id in second}
    assert_resolved(airflow_e2e, chat, dag_id, expected, asked)


@pytest.mark.timeout(600)
def test_two_triggerers_one_killed_midway_each_ask_resolves_once(airflow_e2e, chat, chat_channel):
    """Two triggerers (at most 30 triggers each, so both get work) share 50 asks; one is killed midway:
    25 asks are answered before the kill, 13 right after it, 12 once the survivor has taken over."""
    dag_id = "e2e_ask"
    airflow_e2e.use_triggerers({"triggerer": 30, "triggerer-2": 30})
    run_ids = trigger_runs(airflow_e2e, dag_id, 50)
    wait_deferred(airflow_e2e, dag_id, run_ids, timeout=300)
    asked = wait_questions(chat, chat_channel, dag_id, run_ids)
    jobs = airflow_e2e.triggerer_jobs
    holders = wait_until(
        lambda: (h := airflow_e2e.trigger_holders(dag_id, run_ids)) and len(h) == 50 and None not in h.values() and h,
        timeout=60, what="all 50 asks to be assigned to a triggerer",
    )
    assert set(holders.values()) == {jobs["triggerer"], jobs["triggerer-2"]}, "both triggerers run asks"

    plan = people.plan(run_ids)
    ordered = sorted(run_ids)
    before, during, after = ordered[:25], ordered[25:38], ordered[38:]
    expected = {run_id: people.answer(chat, chat_channel, asked[run_id].ts, plan[run_id]) for run_id in before}
    # Kill the triggerer that runs more of the asks answered last.
    victim, survivor = sorted(("triggerer", "triggerer-2"), key=lambda n: -[holders[r] for r in after].count(jobs[n]))
    airflow_e2e.kill(victim)
    expected |= {run_id: people.answer(chat, chat_channel, asked[run_id].ts, plan[run_id]) for run_id in during}
    # The unanswered asks the dead triggerer ran move to the survivor (once the dead one's heartbeat is stale).
    wait_until(lambda: set(airflow_e2e.trigger_holders(dag_id, after).values()) == {jobs[survivor]}, timeout=120,
               what=f"{survivor} to take over the asks {victim} ran")
    expected |= {run_id: people.answer(chat, chat_channel, asked[run_id].ts, plan[run_id]) for run_id in after}
    assert_resolved(airflow_e2e, chat, dag_id, expected, asked, timeout=360)
