"""DAGs for the ask tests (sensors, triggers, testing): one ChatAskSensor per DAG, with fast polling.

Every ask uses the connection's default channel (``ml-alerts`` in the emulator) and the emulator's
seeded ids (alice U0ALICE, carol U0CAROL, group ml-leads S0MLLEADS). Task failures are appended to the
JSON-lines file named by ``ASK_TEST_FAILURES`` so a test can read the message a task failed with.
"""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG
from airflow.sdk.exceptions import TaskDeferred

from airflow_chat_alerts.sensors.ask import ChatAskSensor

START = pendulum.datetime(2025, 1, 1, tz="UTC")
# A deadline no loaded machine reaches before the simulated person answers; a person who gives up ends the
# ask at once (tests/integration/people.py), and the DAGs that test timing out set a few seconds.
# Reads go on every poll interval even while a connection with an app token receives pushed answers:
# these tests wait for reads.
FAST = {"poll_interval": 0.2, "reconcile_interval": 0.2, "timeout": timedelta(seconds=60)}
ANSWER_WAIT_SECONDS = 120  # how long a test DAG waits for the simulated person, on a loaded machine


def record_failure(context) -> None:
    path = os.environ.get("ASK_TEST_FAILURES")
    if path:
        with open(path, "a") as out:
            out.write(json.dumps({"task_id": context["ti"].task_id, "error": str(context.get("exception"))}) + "\n")


class CrashAfterPostingAskSensor(ChatAskSensor):
    """Its first try posts the question, then fails before deferring (a worker lost at the worst time)."""

    def execute(self, context):
        if context["ti"].try_number > 1:
            return super().execute(context)
        try:
            super().execute(context)
        except TaskDeferred as deferred:
            self.while_lost(deferred.trigger)
            raise RuntimeError("simulated crash between posting the question and deferring") from None

    def while_lost(self, trigger) -> None:
        """What happens between posting and the crash: nothing."""


class LostUntilToldAskSensor(CrashAfterPostingAskSensor):
    """Lost until the file named by ``ASK_TEST_RESUME`` exists (the test's people acted meanwhile)."""

    def while_lost(self, trigger) -> None:
        path = os.environ["ASK_TEST_RESUME"]
        give_up = time.monotonic() + 30
        while not os.path.exists(path) and time.monotonic() < give_up:
            time.sleep(0.05)


class AnsweredWhileDownAskSensor(CrashAfterPostingAskSensor):
    """Lost until the question is answered (the simulated person answers as soon as it shows up); the
    retry must hand back the answer without deferring (a trigger firing at once is what Airflow
    mishandles)."""

    def while_lost(self, trigger) -> None:
        """Wait (on the thread, not the clock) until someone has replied to the question."""
        from airflow.sdk import BaseHook
        from slack_sdk import WebClient

        conn = BaseHook.get_connection(self.chat_conn_id)
        client = WebClient(token=conn.password, base_url=conn.extra_dejson["base_url"])
        gives_up = time.monotonic() + ANSWER_WAIT_SECONDS
        while len(client.conversations_replies(channel=trigger.channel, ts=trigger.ts)["messages"]) < 2:
            if time.monotonic() > gives_up:
                raise RuntimeError(f"nobody answered the question within {ANSWER_WAIT_SECONDS} s")
            time.sleep(0.05)

    def defer(self, **kwargs):
        raise RuntimeError("the retry deferred although its question was answered already")


class FailsBeforeAskingAskSensor(ChatAskSensor):
    """Its first try writes its identity to the file named by ``ASK_TEST_IDENTITY``, waits for the file
    ``<that>.done`` (someone acted meanwhile), then fails before posting anything."""

    def execute(self, context):
        if context["ti"].try_number > 1:
            return super().execute(context)
        path = os.environ["ASK_TEST_IDENTITY"]
        with open(path + ".tmp", "w") as out:
            json.dump(self._identity(context), out)
        os.replace(path + ".tmp", path)
        give_up = time.monotonic() + 30
        while not os.path.exists(path + ".done") and time.monotonic() < give_up:
            time.sleep(0.05)
        raise RuntimeError("simulated failure before the question was posted")


def ask_dag(
    dag_id: str,
    *,
    sensor: type[ChatAskSensor] = ChatAskSensor,
    downstream=("after",),
    unrelated=(),
    **ask_kwargs,
) -> DAG:
    with DAG(dag_id, schedule=None, start_date=START, catchup=False, tags=["tests"]) as dag:
        ask = sensor(
            task_id="ask",
            message="Deploy the model of run {{ run_id }}?",
            on_failure_callback=record_failure,
            **{**FAST, **ask_kwargs},
        )
        ask >> [EmptyOperator(task_id=task_id) for task_id in downstream]
        for task_id in unrelated:  # in the DAG, not downstream of the ask
            EmptyOperator(task_id=task_id)
    return dag


ask_dag("ask_anyone")
ask_dag("ask_alice", approvers=["U0ALICE"])
ask_dag("ask_patient", timeout=120)  # through a storm of 429s and server errors
ask_dag("ask_by_channel_name", channel="ml-alerts")
ask_dag("ask_ml_leads", approvers=["S0MLLEADS"])
ask_dag("ask_quorum", required_approvals=2)
ask_dag("ask_timeout_reject", timeout=2, on_timeout="reject")
ask_dag("ask_timeout_approve", timeout=2, on_timeout="approve")
ask_dag("ask_timeout_fail", timeout=2, on_timeout="fail")
ask_dag("ask_timeout_skip", timeout=2, on_timeout="skip")
ask_dag(
    "ask_remind",
    approvers=["U0ALICE", "S0MLLEADS"],
    approve_keywords=["ship", "approve"],
    reject_keywords=["hold", "reject"],
    # Reminders at 4 s and 8 s, the deadline at 12 s: a reminder whose time passed while the task resumed
    # from the one before is skipped, so each gap leaves a loaded machine seconds to resume in.
    timeout=12,
    remind_after=4,
    max_reminders=2,
)
BRANCHES = {"approved": "deploy", "rejected": "discard", "timed_out": "escalate"}
ask_dag("ask_branches", branches=BRANCHES, downstream=tuple(BRANCHES.values()))
ask_dag("ask_branches_timeout", branches=BRANCHES, downstream=tuple(BRANCHES.values()), timeout=3)
ask_dag("ask_skip_on_reject", skip_downstream_on_reject=True)
ask_dag("ask_retry", sensor=CrashAfterPostingAskSensor, retries=1, retry_delay=timedelta(0))
ask_dag("ask_answered_while_down", sensor=AnsweredWhileDownAskSensor, retries=1, retry_delay=timedelta(0))
ask_dag(
    "ask_retry_by_channel_name",
    sensor=CrashAfterPostingAskSensor,
    channel="#ml-alerts",
    retries=1,
    retry_delay=timedelta(0),
)
ask_dag(
    "ask_hijacked", sensor=FailsBeforeAskingAskSensor, retries=1, retry_delay=timedelta(0), on_timeout="approve"
)
ask_dag(
    "ask_branch_not_downstream",
    branches={"approved": ["deploy", "elsewhere"]},
    downstream=("deploy",),
    unrelated=("elsewhere",),
    timeout=2,
)
ask_dag("ask_branch_unknown", branches={"rejected": "nowhere"}, downstream=("deploy",), timeout=2)
ask_dag("ask_retry_in_a_busy_channel", sensor=LostUntilToldAskSensor, retries=1, retry_delay=timedelta(0))
with DAG("ask_escaped", schedule=None, start_date=START, catchup=False, params={"who": "<!channel>"}):
    # An untrusted value templated into the question, escaped with the package's filter.
    ChatAskSensor(task_id="ask", message="Deploy for {{ params.who | slack_escape }}?", **FAST)
# Blocks templated to JSON text, as a Jinja template renders them; and text that is not JSON.
ask_dag("ask_blocks_as_json", blocks='[{"type": "section", "text": {"type": "mrkdwn", "text": "run {{ run_id }}"}}]')
ask_dag("ask_blocks_not_json", blocks="[{'type': 'divider'}]", timeout=2)


# -- the scenario table's DAGs (tests/integration/scenarios): one per case and chat service ------------------
# A case names people and groups; each service's DAG names them by that service's ids (the emulators' seeds),
# and only the connection differs between the two.
def _discord_ids():
    from airflow_chat_alerts.testing.discord.guild import Guild

    guild = Guild.default()
    return {name: guild.member(name).id for name in ("alice", "bob", "carol")} | {
        "@ml-leads": "&" + guild.role("ml-leads").id
    }


SCENARIO_SERVICES = {
    "slack": ("slack_api_default", {"alice": "U0ALICE", "bob": "U0BOB", "carol": "U0CAROL", "@ml-leads": "S0MLLEADS"}),
    "discord": ("discord_bot_default", _discord_ids()),
}
SCENARIO_CASES = {
    "anyone": {},
    "alice": {"approvers": ["alice"]},
    "alice_or_leads": {"approvers": ["alice", "@ml-leads"]},
    "quorum": {"required_approvals": 2},
    "timeout": {"timeout": 2, "on_timeout": "reject"},
    "retry": {"sensor": CrashAfterPostingAskSensor, "retries": 1, "retry_delay": timedelta(0)},
    "forged": {"sensor": FailsBeforeAskingAskSensor, "retries": 1, "retry_delay": timedelta(0), "approvers": ["alice"]},
    "branches": {"branches": BRANCHES, "downstream": tuple(BRANCHES.values())},
}
for _service, (_conn_id, _ids) in SCENARIO_SERVICES.items():
    for _case, _kwargs in SCENARIO_CASES.items():
        _named = dict(_kwargs)
        if "approvers" in _named:
            _named["approvers"] = [_ids[person] for person in _named["approvers"]]
        ask_dag(f"scenario_{_case}__{_service}", chat_conn_id=_conn_id, **_named)
