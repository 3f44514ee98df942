"""`make demo`: the example DAGs run on the embedded Slack emulator, with a simulated approver.

1. Starts the Slack emulator in this process and points the ``slack_api_default`` connection at it.
2. Creates a throwaway Airflow home with its metadata database.
3. Runs dags_examples/slack_alert_post.py (train a model, post its accuracy), then
   dags_examples/slack_alert_ask.py (ask "Deploy?") with ``dag.test()``, while alice, from another
   thread, waits for the question and clicks its Approve button a few seconds later. The connection
   has the app-level token (extra ``app_token``), so the question carries buttons and the trigger
   receives the click over Socket Mode.
4. Prints the channel transcript, the decision and which branch ran.

While it runs, the emulator's web view shows the channel live (its address is printed first). With
``--interactive`` (``make demo INTERACTIVE=1``) nobody is simulated: you press Approve or Reject in the
page yourself, as alice or another person, within ``--timeout`` seconds (``TIMEOUT=…``, default 300);
after that the ask times out, and the demo says what happened.

With ``--dag hitl`` (``make demo DEMO=hitl``) step 3 runs dags_examples/slack_alert_hitl_approval.py
instead: Airflow's own Human-in-the-loop approval (``ChatApprovalOperator``), asked in Slack as well as
under Required actions; alice clicks its Approve button, the trigger writes her answer to Airflow and the
DAG deploys.

Airflow's own log goes to a file (its path is printed) so the output reads as a conversation.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHANNEL = "ml-alerts"
APPROVER = "alice"
THINKING_SECONDS = 3.0
ASK_TIMEOUT_SECONDS = 300  # should nobody answer, the demo ends (rejected) instead of hanging
UI_PORT = 8766  # the web view's port when free (a stable address to keep open); else any free one
APPROVER_GROUP = "ml-leads"  # alice and carol: who may decide besides alice


# The terminal, kept apart from file descriptors 1 and 2 (which Airflow's output goes to, see below).
TERMINAL = os.fdopen(os.dup(1), "w", buffering=1)


def say(text: str = "") -> None:
    TERMINAL.write(text + "\n")


@contextmanager
def output_to(path: Path):
    """Send whatever is written to stdout/stderr (Airflow's logs, task output) to ``path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "a") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def configure_airflow(home: Path, ask_timeout: float) -> None:
    """Environment for a throwaway Airflow (read when airflow is first imported)."""
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags_examples")
    os.environ.setdefault("AIRFLOW__API__BASE_URL", "http://localhost:8080")
    os.environ["CHAT_ALERTS_POLL_INTERVAL"] = "1"  # should the socket be down: poll every second
    os.environ["CHAT_ALERTS_ASK_TIMEOUT"] = str(ask_timeout)  # not the example's 4 hours


def connect_to(emu) -> None:
    # Who may decide: alice and the ml-leads group; anyone else who clicks is told so, privately.
    os.environ["CHAT_ALERTS_APPROVERS"] = f"{emu.user_id(APPROVER)},{emu.usergroup_id(APPROVER_GROUP)}"
    os.environ["AIRFLOW_CONN_SLACK_API_DEFAULT"] = json.dumps(
        {
            "conn_type": "slack",
            "password": emu.bot_token,
            "extra": {"base_url": emu.base_url, "channel": emu.channel_id(CHANNEL), "app_token": emu.app_token},
        }
    )


def approver(emu, answered: dict, *, hitl: bool = False) -> None:
    """Alice: waits for the question, reads it for a few seconds, then clicks Approve."""
    from airflow_chat_alerts.clicks import APPROVE_ACTION
    from airflow_chat_alerts.hitl.choices import OPTION_ACTION_PREFIX
    from airflow_chat_alerts.hitl.message import HITL_EVENT_TYPE
    from airflow_chat_alerts.testing import wait_for_question, wait_until

    if hitl:
        def asked():
            found = [m for m in emu.messages(CHANNEL) if (m.get("metadata") or {}).get("event_type") == HITL_EVENT_TYPE]
            return found[-1] if found else None

        question = wait_until(asked, what="the request", timeout=ASK_TIMEOUT_SECONDS)
    else:
        question = wait_for_question(emu, CHANNEL, timeout=ASK_TIMEOUT_SECONDS)
    answered["asked"] = emu.transcript(CHANNEL)
    say(f"   … {APPROVER} sees the question and thinks for {THINKING_SECONDS:.0f} s")
    time.sleep(THINKING_SECONDS)
    # The waiting trigger holds the app's Socket Mode connection: that is where Slack sends the click.
    emu.wait_for_sockets(1, timeout=60)
    answered["at"] = time.monotonic()
    emu.act_as(APPROVER).click(CHANNEL, question["ts"], f"{OPTION_ACTION_PREFIX}0" if hitl else APPROVE_ACTION)
    say(f"   … {APPROVER} clicked Approve")


def open_web_view(emu):
    """The emulator's web page, on UI_PORT when that is free."""
    try:
        return emu.web_view(port=UI_PORT)
    except RuntimeError:
        return emu.web_view(port=0)


def page_address(emu, view) -> str:
    """The page opened on the channel, acting as the approver."""
    return f"{view.url}#service=slack&channel={emu.channel_id(CHANNEL)}&as={emu.user_id(APPROVER)}"


def explain(emu, decision, timeout: float) -> list[str]:
    """What happened to the ask, in words (interactive mode)."""

    def names(ids) -> str:
        return ", ".join(emu.user_name(i) for i in ids or []) or "nobody"

    outcome = (decision or {}).get("outcome")
    lines = []
    if outcome == "approved":
        lines.append(f"{names(decision.get('by'))} approved: the DAG went on to deploy.")
    elif outcome == "rejected":
        lines.append(f"{names(decision.get('by'))} rejected: the DAG took record_rejection; nothing was deployed.")
    elif outcome == "timed_out":
        lines.append(
            f"Nobody who may decide ({APPROVER} or @{APPROVER_GROUP}) answered within {timeout:.0f} s, so the ask "
            "timed out; the DAG says on_timeout='reject', so it took record_rejection and deployed nothing."
        )
    else:
        lines.append("The ask ended without a decision (see Airflow's log).")
    for user in emu.workspace.users:
        for note in emu.ephemeral_messages(user.name, CHANNEL):
            lines.append(f"{user.name} was told, privately: {note['text']}")
    return lines


def run_dag(file_name: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags_examples" / file_name))
    if bag.import_errors:
        raise SystemExit(f"{file_name} does not import: {bag.import_errors}")
    [dag] = bag.dags.values()
    return dag.test()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run the example DAGs against the embedded Slack emulator.")
    parser.add_argument("--interactive", action="store_true",
                        help="you press Approve or Reject in the web view; nobody is simulated")
    parser.add_argument("--dag", choices=("ask", "hitl"), default="ask",
                        help="ask: ChatAskSensor (slack_alert_ask, the default); hitl: Airflow's own approval asked "
                             "in Slack (slack_alert_hitl_approval)")
    parser.add_argument("--timeout", type=float, default=ASK_TIMEOUT_SECONDS,
                        help=f"seconds the question waits for an answer (default {ASK_TIMEOUT_SECONDS})")
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="chat-alerts-demo-"))
    log_path = home / "airflow.log"
    configure_airflow(home, args.timeout)

    from airflow_chat_alerts.testing import SlackEmulator

    say("airflow-chat-alerts demo: a DAG asks in Slack whether to deploy a model, and waits.")
    with SlackEmulator() as emu:
        connect_to(emu)
        view = open_web_view(emu)
        say(f"Slack emulator at {emu.base_url} (channel #{CHANNEL})")
        say(f"Watch it in your browser: {page_address(emu, view)}")
        if args.interactive:
            say(f"Interactive: when the question appears in #{CHANNEL}, press Approve or Reject in the page as "
                f"{APPROVER} (or carol, of @{APPROVER_GROUP}); act as bob to see what someone who may not decide "
                f"sees. The question waits {args.timeout:.0f} s.")
        with output_to(log_path):
            say("Creating the Airflow metadata database …")
            from airflow.utils import db

            db.initdb()

            say("\n1. slack_alert_post: train a model and post its accuracy")
            post_run = run_dag("slack_alert_post.py")
            say(f"   run {post_run.state}")

            if args.dag == "hitl":
                return finish_hitl(emu, args, post_run, home, view)
            say("\n2. slack_alert_ask: train, ask 'Deploy?', wait in a trigger, then branch")
            answered: dict = {}
            person = threading.Thread(target=approver, args=(emu, answered), daemon=True)
            if not args.interactive:
                person.start()
            ask_run = run_dag("slack_alert_ask.py")
            if not args.interactive:
                person.join(timeout=5)
            finished = time.monotonic()
            say(f"   run {ask_run.state}")

            states = {ti.task_id: ti.state for ti in ask_run.get_task_instances()}
            decision = xcom(ask_run, "ask_to_deploy", "decision")

        if "asked" in answered:
            say(f"\n── #{CHANNEL} while the DAG waited " + "─" * 44)
            say(answered["asked"])
        say(f"\n── #{CHANNEL} at the end " + "─" * 53)
        say(emu.transcript(CHANNEL))
        say("─" * 78)
        say(f"Decision (XCom 'decision'): {json.dumps(decision, ensure_ascii=False)}")
        if "at" in answered:
            say(f"From alice's click to the end of the run: {finished - answered['at']:.1f} s")
        say("Tasks of slack_alert_ask:")
        for task_id in ("train", "format_accuracy", "ask_to_deploy", "deploy", "record_rejection"):
            say(f"  {task_id:<18} {states.get(task_id)}")
        branch = "deploy" if states.get("deploy") == "success" else "record_rejection"
        say(f"Branch taken: {branch}")
        if args.interactive:
            for line in explain(emu, decision, args.timeout):
                say(line)
            if sys.stdin.isatty():
                say(f"The page stays up at {view.url}: press Enter to stop.")
                with contextlib.suppress(EOFError, KeyboardInterrupt):
                    input()
    # Interactively, any decision (or none) is a demo that worked: the DAG ran its branch.
    decided = states.get("deploy") == "success" or (args.interactive and states.get("record_rejection") == "success")
    ok = post_run.state == "success" and ask_run.state == "success" and decided
    if ok and not os.environ.get("CHAT_ALERTS_KEEP_DEMO_HOME"):
        shutil.rmtree(home, ignore_errors=True)
    else:
        say(f"Airflow's log and home are kept in {home}")
    return 0 if ok else 1


def finish_hitl(emu, args: argparse.Namespace, post_run, home: Path, view) -> int:
    """Step 2 of ``--dag hitl``: Airflow's own approval, asked in Slack, answered by alice's click."""
    from airflow_chat_alerts.testing.hitl import serve_hitl_in_dag_test

    say("\n2. slack_alert_hitl_approval: train, write Airflow's approval request, ask it in Slack, wait")
    answered: dict = {}
    person = threading.Thread(target=approver, args=(emu, answered), kwargs={"hitl": True}, daemon=True)
    if not args.interactive:
        person.start()
    # dag.test() runs the trigger in process: let it read and write the request as a triggerer does.
    with serve_hitl_in_dag_test():
        run = run_dag("slack_alert_hitl_approval.py")
    if not args.interactive:
        person.join(timeout=5)
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    decision = xcom(run, "approve_deploy", "decision")
    say(f"   run {run.state}")
    say(f"\n── #{CHANNEL} at the end " + "─" * 53)
    say(emu.transcript(CHANNEL))
    say("─" * 78)
    say(f"Decision (XCom 'decision'): {json.dumps(decision, ensure_ascii=False)}")
    say("Tasks of slack_alert_hitl_approval:")
    for task_id in ("train", "format_accuracy", "approve_deploy", "deploy", "record_outcome"):
        say(f"  {task_id:<18} {states.get(task_id)}")
    if args.interactive and sys.stdin.isatty():
        say(f"The page stays up at {view.url}: press Enter to stop.")
        with contextlib.suppress(EOFError, KeyboardInterrupt):
            input()
    decided = states.get("deploy") == "success" or (args.interactive and states.get("approve_deploy") == "success")
    ok = post_run.state == "success" and run.state == "success" and decided
    if not ok:
        say(f"Airflow's log and home are kept in {home}")
    return 0 if ok else 1


def xcom(dag_run, task_id: str, key: str):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key=key)
        ).first()
        return XComModel.deserialize_value(row) if row is not None else None


if __name__ == "__main__":
    sys.exit(main())
