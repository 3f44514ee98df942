"""ChatAskSensor end to end: real Airflow (dag.test(), the trigger run inline) against the Slack emulator.

People answer from background threads through the emulator's Web API while the DAG waits. Timeouts are
a few seconds and the sensor polls every 0.2 s, so each test takes seconds; people wait on the state they
need (the question posted, more reads done), never on the clock.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta

import pytest

from airflow_chat_alerts.model import ASK_EVENT_TYPE
from airflow_chat_alerts.sensors.ask import BACKSTOP_MARGIN
from airflow_chat_alerts.testing.asks import wait_until

from ..people import CHANNEL, questions


def reply_by(name: str, text: str = "approve"):
    """A person who replies ``text`` in the question's thread."""

    def script(emu, ts):
        emu.act_as(name).reply(CHANNEL, ts, text)

    return script


def reads(emu) -> int:
    """Reads of the channel or the thread so far (the trigger reads one or the other)."""
    return emu.journal.count("conversations.replies") + emu.journal.count("conversations.history")


def assert_undecided_after_reads(emu, count: int = 3) -> None:
    """The question stays undecided through ``count`` more reads, which see the answers given so far."""
    enough = reads(emu) + count
    wait_until(lambda: reads(emu) >= enough, what=f"{count} more reads of the question")
    payload = questions(emu)[-1]["metadata"]["event_payload"]
    assert "outcome" not in payload, f"decided too early: {payload}"


# -- answers ------------------------------------------------------------------------------------
def test_approve_by_reply_updates_question_and_pushes_decision(run_ask, slack_emulator):
    result = run_ask("ask_anyone", reply_by("alice", "Approve - looks good"))

    assert result.states == {"ask": "success", "after": "success"}
    assert result.xcom("return_value") is True
    question = questions(slack_emulator)[-1]
    assert result.decision == {
        "outcome": "approved",
        "approved": True,
        "by": [slack_emulator.user_id("alice")],
        "at": slack_emulator.thread(CHANNEL, question["ts"])[1]["ts"],
        "comment": "looks good",
        "channel": slack_emulator.channel_id(CHANNEL),
        "ts": question["ts"],
        "permalink": result.decision["permalink"],
    }
    assert result.decision["permalink"].endswith(question["ts"].replace(".", ""))
    # The question now shows the outcome, and its metadata marks it decided (no later try reuses it).
    assert "Approved by <@U0ALICE>: “looks good”" in question["text"]
    payload = question["metadata"]["event_payload"]
    assert payload["outcome"] == "approved"
    assert payload["dag_id"] == "ask_anyone" and payload["task_id"] == "ask" and payload["map_index"] == -1
    # Exactly one question was posted: the decision is an update, not a new message.
    assert len(slack_emulator.messages(CHANNEL)) == 1


def test_a_channel_given_by_name(run_ask, slack_emulator):
    result = run_ask("ask_by_channel_name", reply_by("bob", "yes"))

    assert result.decision["outcome"] == "approved"
    assert result.decision["channel"] == "C0MLALERTS"  # the reads and the update use the id Slack gave


def test_approve_by_reaction(run_ask, slack_emulator):
    def react(emu, ts):
        emu.act_as("carol").react(CHANNEL, ts, "white_check_mark")

    result = run_ask("ask_anyone", react)

    assert result.states["ask"] == "success"
    assert result.decision["outcome"] == "approved"
    assert result.decision["by"] == ["U0CAROL"]
    assert result.decision["comment"] is None


def test_reject_with_a_reason_returns_false(run_ask, slack_emulator):
    result = run_ask("ask_alice", reply_by("alice", "reject - numbers look off"))

    assert result.xcom("return_value") is False
    assert result.decision["outcome"] == "rejected"
    assert result.decision["approved"] is False
    assert result.decision["by"] == ["U0ALICE"]
    assert result.decision["comment"] == "numbers look off"
    # Without branches or skip_downstream_on_reject a rejection only sets the result.
    assert result.states == {"ask": "success", "after": "success"}
    assert "Rejected by <@U0ALICE>: “numbers look off”" in questions(slack_emulator)[-1]["text"]


def test_unauthorised_people_and_bots_are_ignored(run_ask, slack_emulator):
    def script(emu, ts):
        emu.act_as("bob").reply(CHANNEL, ts, "approve")  # not an approver
        emu.act_as("ci-bot").reply(CHANNEL, ts, "approve")  # a bot
        emu.act_as("dave").react(CHANNEL, ts, "x")  # not an approver either: no veto
        assert_undecided_after_reads(emu)
        emu.act_as("alice").reply(CHANNEL, ts, "lgtm")

    result = run_ask("ask_alice", script)

    assert result.decision["outcome"] == "approved"
    assert result.decision["by"] == ["U0ALICE"]


def test_a_bot_never_counts_even_when_anyone_may_answer(run_ask, slack_emulator):
    def script(emu, ts):
        emu.act_as("ci-bot").reply(CHANNEL, ts, "approve")
        emu.act_as("ci-bot").react(CHANNEL, ts, "+1")
        assert_undecided_after_reads(emu)
        emu.act_as("bob").reply(CHANNEL, ts, "no, wait")

    result = run_ask("ask_anyone", script)

    assert result.decision["outcome"] == "rejected"
    assert result.decision["by"] == ["U0BOB"]
    assert result.decision["comment"] == "wait"


def test_a_user_group_approver(run_ask, slack_emulator):
    asked = []

    def script(emu, ts):
        asked.append(str(emu.thread(CHANNEL, ts)[0]["blocks"]))
        emu.act_as("bob").reply(CHANNEL, ts, "approve")  # not in ml-leads
        assert_undecided_after_reads(emu)
        emu.act_as("carol").react(CHANNEL, ts, "heavy_check_mark")  # in ml-leads

    result = run_ask("ask_ml_leads", script)

    assert result.decision["outcome"] == "approved"
    assert result.decision["by"] == ["U0CAROL"]
    # While undecided, the question told who may answer: the group, mentioned.
    assert "Who can answer:* <!subteam^S0MLLEADS>" in asked[0]


def test_a_quorum_of_two_counts_distinct_people(run_ask, slack_emulator):
    def script(emu, ts):
        emu.act_as("alice").reply(CHANNEL, ts, "approve")
        emu.act_as("alice").react(CHANNEL, ts, "+1")
        emu.act_as("alice").reply(CHANNEL, ts, "yes, really")
        assert_undecided_after_reads(emu)  # one person three times is still one approval
        emu.act_as("dave").reply(CHANNEL, ts, "ok")

    result = run_ask("ask_quorum", script)

    assert result.decision["outcome"] == "approved"
    assert result.decision["by"] == ["U0ALICE", "U0DAVE"]


# -- timeouts -----------------------------------------------------------------------------------
def test_timeout_rejects_by_default(run_ask, slack_emulator):
    result = run_ask("ask_timeout_reject")

    assert result.states == {"ask": "success", "after": "success"}
    assert result.xcom("return_value") is False
    assert result.decision["outcome"] == "timed_out"
    assert result.decision["approved"] is False
    assert result.decision["by"] == []
    question = questions(slack_emulator)[-1]
    assert "⌛ Timed out → rejected" in question["text"]
    assert question["metadata"]["event_payload"]["outcome"] == "rejected"
    # Airflow's own deferral timeout is only a backstop well beyond our deadline: it cannot fire first.
    deadline = datetime.fromisoformat(question["metadata"]["event_payload"]["deadline"])
    backstop = result.dag_run.get_task_instance("ask").trigger_timeout
    assert backstop >= deadline + BACKSTOP_MARGIN - timedelta(seconds=1)


def test_timeout_can_approve(run_ask, slack_emulator):
    result = run_ask("ask_timeout_approve")

    assert result.xcom("return_value") is True
    assert result.decision["outcome"] == "timed_out"
    assert result.decision["approved"] is True
    assert "Timed out → approved" in questions(slack_emulator)[-1]["text"]


def test_timeout_can_fail_the_task(run_ask, slack_emulator):
    result = run_ask("ask_timeout_fail")

    assert result.states["ask"] == "failed"
    assert result.states["after"] == "upstream_failed"
    [failure] = result.failures
    assert "No decision on the question" in failure["error"]
    assert "on_timeout='fail'" in failure["error"]
    # The question still says what happened, and the decision record exists.
    assert "Timed out → failed" in questions(slack_emulator)[-1]["text"]
    assert result.decision["outcome"] == "timed_out"


def test_timeout_can_skip_the_task(run_ask, slack_emulator):
    result = run_ask("ask_timeout_skip")

    assert result.states == {"ask": "skipped", "after": "skipped"}
    assert "Timed out → skipped" in questions(slack_emulator)[-1]["text"]


def test_reminders_mention_the_approvers_then_the_ask_times_out(run_ask, slack_emulator):
    result = run_ask("ask_remind")

    question = questions(slack_emulator)[-1]
    reminders = slack_emulator.thread(CHANNEL, question["ts"])[1:]
    assert len(reminders) == 2  # max_reminders=2, every 4 s before the 12 s deadline
    for reminder in reminders:
        assert reminder["user"] == slack_emulator.bot_user_id
        assert "<@U0ALICE>" in reminder["text"] and "<!subteam^S0MLLEADS>" in reminder["text"]
        assert "*ship*" in reminder["text"] and "*hold*" in reminder["text"]  # the policy's own keywords
    assert "Last reminder" in reminders[-1]["text"]
    assert float(reminders[0]["ts"]) - float(question["ts"]) >= 4.0
    assert result.decision["outcome"] == "timed_out"
    assert len(slack_emulator.messages(CHANNEL)) == 1  # reminders are thread replies


# -- branching and skipping ---------------------------------------------------------------------
def test_branches_follow_approval(run_ask, slack_emulator):
    result = run_ask("ask_branches", reply_by("alice"))

    assert result.states == {"ask": "success", "deploy": "success", "discard": "skipped", "escalate": "skipped"}
    assert result.xcom("return_value") is True  # pushed although branching ends the task early


def test_branches_follow_rejection(run_ask, slack_emulator):
    result = run_ask("ask_branches", reply_by("bob", "decline"))

    assert result.states == {"ask": "success", "deploy": "skipped", "discard": "success", "escalate": "skipped"}
    assert result.xcom("return_value") is False


def test_branches_follow_a_timeout(run_ask, slack_emulator):
    result = run_ask("ask_branches_timeout")

    assert result.states == {"ask": "success", "deploy": "skipped", "discard": "skipped", "escalate": "success"}
    assert result.decision["outcome"] == "timed_out"


def test_skip_downstream_on_reject(run_ask, slack_emulator):
    result = run_ask("ask_skip_on_reject", reply_by("dave", "no"))

    assert result.states == {"ask": "success", "after": "skipped"}
    assert result.xcom("return_value") is False


def test_skip_downstream_on_reject_runs_downstream_when_approved(run_ask, slack_emulator):
    result = run_ask("ask_skip_on_reject", reply_by("dave", "yes"))

    assert result.states == {"ask": "success", "after": "success"}


# -- retries and failures -----------------------------------------------------------------------
def test_a_retry_reuses_the_question(run_ask, slack_emulator):
    result = run_ask("ask_retry", reply_by("alice"))

    assert result.states["ask"] == "success"
    assert result.dag_run.get_task_instance("ask").try_number == 2
    assert [f["error"] for f in result.failures] == []  # the first try went up for retry, not failed
    assert len(questions(slack_emulator)) == 1
    assert slack_emulator.journal.count("chat.postMessage", user=slack_emulator.bot_user_id) == 1
    question = questions(slack_emulator)[-1]
    assert result.decision["ts"] == question["ts"]
    # The retry reused the question the first try posted (and so its deadline), then marked it decided.
    assert question["metadata"]["event_payload"]["try_number"] == 1
    assert question["metadata"]["event_payload"]["outcome"] == "approved"


def test_a_retry_of_an_answered_question_completes_without_deferring(run_ask, slack_emulator):
    result = run_ask("ask_answered_while_down", reply_by("alice", "approve - while you were away"))

    assert result.states["ask"] == "success"  # the retry's defer() would have failed the task
    assert result.dag_run.get_task_instance("ask").try_number == 2
    assert result.decision["outcome"] == "approved"
    assert result.decision["comment"] == "while you were away"
    assert len(questions(slack_emulator)) == 1


def test_a_retry_looks_at_its_question_without_the_triggerers_machinery(run_ask, slack_emulator, monkeypatch):
    """The worker's look before deferring is one read through its own alerter: no shared connection,
    rate budget or channel poller (the triggerer's polling machinery) is opened on a worker."""
    from airflow_chat_alerts.triggers.polling.connection import SharedConnection

    opened: list[str] = []
    open_connection = SharedConnection.open.__func__

    async def counting_open(cls, conn_id):
        opened.append(conn_id)
        return await open_connection(cls, conn_id)

    monkeypatch.setattr(SharedConnection, "open", classmethod(counting_open))

    result = run_ask("ask_answered_while_down", reply_by("alice", "approve"))

    assert result.states["ask"] == "success" and result.decision["outcome"] == "approved"
    assert opened == []


def test_a_retry_finds_the_question_in_a_channel_given_by_name(run_ask, slack_emulator):
    result = run_ask("ask_retry_by_channel_name", reply_by("alice"))

    assert result.states["ask"] == "success"
    assert result.dag_run.get_task_instance("ask").try_number == 2
    assert len(questions(slack_emulator)) == 1  # the name was resolved to the id to read the history
    assert result.decision["channel"] == "C0MLALERTS"


def test_answers_survive_a_429_storm_and_server_errors(run_ask, slack_emulator):
    def script(emu, ts):
        # One ask alone in its channel is read with conversations.replies (see the channel poller).
        emu.faults.add("conversations.replies", "429", count=3, retry_after=1)
        emu.faults.add("conversations.replies", "500", count=1)
        emu.act_as("alice").reply(CHANNEL, ts, "approve")

    result = run_ask("ask_patient", script)

    assert result.decision["outcome"] == "approved"
    assert slack_emulator.faults.pending() == []  # the whole storm was met, and read through
    statuses = [c.status for c in slack_emulator.journal.calls("conversations.replies")]
    assert statuses.count(429) == 3 and statuses.count(500) == 1


def test_the_question_deleted_fails_clearly(run_ask, slack_emulator):
    def script(emu, ts):
        emu.delete_message(CHANNEL, ts)

    result = run_ask("ask_anyone", script)

    assert result.states == {"ask": "failed", "after": "upstream_failed"}
    [failure] = result.failures
    assert "deleted" in failure["error"]
    assert "C0MLALERTS" in failure["error"]


def test_a_revoked_token_fails_clearly(run_ask, slack_emulator):
    def script(emu, ts):
        emu.revoke_token(emu.bot_token)

    result = run_ask("ask_anyone", script)

    assert result.states["ask"] == "failed"
    [failure] = result.failures
    assert "token_revoked" in failure["error"]
    assert "slack_api_default" in failure["error"]
    assert slack_emulator.bot_token not in failure["error"]


# -- question identity and at most one question --------------------------------------------------
@pytest.mark.parametrize(
    ("attacker", "deadline"),
    [
        ("ci-bot", "2999-01-01T00:00:00+00:00"),  # another app; adopted, an approver's ✅ on it approved
        ("bob", "2000-01-01T00:00:00+00:00"),  # a person's user token; adopted, it timed out → approved
    ],
)
def test_a_copy_of_the_questions_metadata_posted_by_someone_else_decides_nothing(
    run_ask, slack_emulator, tmp_path, monkeypatch, attacker, deadline
):
    identity = tmp_path / "identity.json"
    monkeypatch.setenv("ASK_TEST_IDENTITY", str(identity))
    emu = slack_emulator
    pizza = []

    def attack():
        # Between the failed first try and its retry: "pizza on Friday? ✅" with the ask's metadata.
        wait_until(identity.exists, what="the first try to name its task instance")
        payload = {**json.loads(identity.read_text()), "try_number": 1, "deadline": deadline}
        metadata = {"event_type": ASK_EVENT_TYPE, "event_payload": payload}
        if attacker == "bob":  # Slack refuses metadata from user tokens; should one pass, it is still not ours
            posted = emu.state.post(emu.channel_id(CHANNEL), emu.state.user("bob"), text="pizza on Friday? ✅",
                                    metadata=metadata)
            pizza.append(posted.ts)
        else:
            pizza.append(emu.act_as(attacker).post(CHANNEL, "pizza on Friday? ✅", metadata=metadata))
        emu.act_as("alice").react(CHANNEL, pizza[0], "white_check_mark")  # an approver likes pizza
        (tmp_path / "identity.json.done").touch()
        ours = wait_until(
            lambda: [q for q in questions(emu) if q.get("user") == emu.bot_user_id],
            what="the app's own question",
        )
        emu.act_as("alice").reply(CHANNEL, ours[0]["ts"], "reject - not ready")

    attacker_thread = threading.Thread(target=attack, daemon=True)
    attacker_thread.start()
    result = run_ask("ask_hijacked")
    attacker_thread.join(timeout=30)
    assert not attacker_thread.is_alive(), "the attacker never finished"

    [ours] = [q for q in questions(emu) if q.get("user") == emu.bot_user_id]
    assert result.decision["outcome"] == "rejected" and result.decision["ts"] == ours["ts"]
    assert result.xcom("return_value") is False
    copy = next(m for m in emu.messages(CHANNEL) if m["ts"] == pizza[0])
    assert copy["text"] == "pizza on Friday? ✅" and "outcome" not in copy["metadata"]["event_payload"]


@pytest.mark.parametrize(("fault", "statuses"), [("lost", [200]), ("500", [500, 200])])
def test_after_an_unclear_post_failure_the_question_is_looked_for_before_posting_again(
    run_ask, slack_emulator, fault, statuses
):
    # "lost": Slack posted the question but the answer never came; "500": it did not post it.
    slack_emulator.faults.add("chat.postMessage", fault)

    result = run_ask("ask_anyone", reply_by("alice", "approve"))

    assert result.states == {"ask": "success", "after": "success"}
    assert result.decision["outcome"] == "approved"
    assert len(questions(slack_emulator)) == 1
    question_posts = [c for c in slack_emulator.journal.calls("chat.postMessage") if c.args.get("metadata")]
    assert [c.status for c in question_posts] == statuses
    assert slack_emulator.journal.count("conversations.history") == 1
    assert result.decision["ts"] == questions(slack_emulator)[0]["ts"]


def test_a_retry_that_cannot_finish_its_lookup_fails_rather_than_ask_twice(
    run_ask, slack_emulator, tmp_path, monkeypatch
):
    from airflow_chat_alerts.alerters.slack import MAX_LOOKUP_PAGES, PAGE_SIZE

    resume = tmp_path / "resume"
    monkeypatch.setenv("ASK_TEST_RESUME", str(resume))

    def chatter(emu, ts):  # while the first try is lost: more messages than the retry's lookup reads
        bob, channel = emu.state.user("bob"), emu.channel_id(CHANNEL)
        for n in range(MAX_LOOKUP_PAGES * PAGE_SIZE + 1):
            emu.state.post(channel, bob, text=f"chatter {n}")
        resume.touch()

    result = run_ask("ask_retry_in_a_busy_channel", chatter)

    assert result.states["ask"] == "failed"
    [failure] = result.failures
    assert "Could not finish looking for the question" in failure["error"]
    assert "lookup_incomplete" in failure["error"] and "no second question is posted" in failure["error"]
    assert len(questions(slack_emulator)) == 1
    assert slack_emulator.journal.count("conversations.history") == MAX_LOOKUP_PAGES


# -- branches checked before asking --------------------------------------------------------------
@pytest.mark.parametrize(
    ("dag_id", "error"),
    [
        ("ask_branch_not_downstream", "branches names task 'elsewhere', which is not directly downstream of 'ask'"),
        ("ask_branch_unknown", "branches names task 'nowhere', which is not a task of this DAG"),
    ],
)
def test_branches_naming_a_task_not_directly_downstream_fail_before_asking(run_ask, slack_emulator, dag_id, error):
    result = run_ask(dag_id)

    assert result.states["ask"] == "failed"
    [failure] = result.failures
    assert error in failure["error"]
    assert slack_emulator.messages(CHANNEL) == []
    assert slack_emulator.journal.count("chat.postMessage") == 0


def test_the_slack_escape_filter_works_in_the_question(run_ask, slack_emulator):
    result = run_ask("ask_escaped", reply_by("alice", "approve"))

    assert result.decision["outcome"] == "approved"
    question = questions(slack_emulator)[-1]
    assert "Deploy for &lt;!channel&gt;?" in question["text"]
    assert "<!channel>" not in question["text"]


def test_blocks_templated_to_json_text_are_shown_under_the_question(run_ask, slack_emulator):
    asked = []

    def script(emu, ts):
        asked.append(emu.thread(CHANNEL, ts)[0]["blocks"])
        emu.act_as("alice").reply(CHANNEL, ts, "approve")

    result = run_ask("ask_blocks_as_json", script)

    assert result.decision["outcome"] == "approved"
    assert f"run {result.dag_run.run_id}" in str(asked[0])


def test_blocks_that_are_not_json_fail_before_asking(run_ask, slack_emulator):
    result = run_ask("ask_blocks_not_json")

    assert result.states["ask"] == "failed"
    [failure] = result.failures
    assert "blocks are not valid JSON" in failure["error"]
    assert slack_emulator.journal.count("chat.postMessage") == 0
