"""`make demo CHAT=discord`: the same example DAGs on the embedded Discord emulator, with only the connection
changed (``slack_api_default`` is a ``discord_bot`` connection here), and simulated people.

1. Starts the Discord emulator in this process and points the ``slack_api_default`` connection at it (type
   ``discord_bot``: the bot token, the emulator's REST URL, its server and ``#ml-alerts`` as the channel).
2. Creates a throwaway Airflow home with its metadata database.
3. Runs dags_examples/slack_alert_post.py (train a model, post its accuracy), then slack_alert_ask.py (ask
   "Deploy?") with ``dag.test()``. While the ask waits in its trigger, which holds the bot's Gateway session,
   bob presses Approve (he may not decide: Discord shows him a note only he sees) and then alice does; her
   click is acknowledged with its record in the channel, and decides at once.
4. Prints the channel, what bob was told, the decision and which branch ran.

While it runs, the emulator's web page (its address is printed) shows the channel live: the question with
its buttons, bob's note (act as bob in the page), alice's click record and the outcome, and the journal.

Airflow's own log goes to a file (its path is printed) so the output reads as a conversation.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from demo import REPO, THINKING_SECONDS, configure_airflow, open_web_view, output_to, run_dag, say, xcom

CHANNEL = "ml-alerts"
APPROVER, BYSTANDER, APPROVER_ROLE = "alice", "bob", "ml-leads"
ASK_TIMEOUT_SECONDS = 300


def connect_to(emu) -> None:
    from airflow_chat_alerts.testing.discord.emulator import discord_connection

    # Who may decide: alice and the ml-leads role (&id); anyone else who clicks is told so, privately.
    os.environ["CHAT_ALERTS_APPROVERS"] = f"{emu.user_id(APPROVER)},&{emu.role_id(APPROVER_ROLE)}"
    os.environ["AIRFLOW_CONN_SLACK_API_DEFAULT"] = json.dumps(discord_connection(emu, CHANNEL))


def people(emu, answered: dict) -> None:
    """Bob, then alice: each waits for the question and presses Approve on it."""
    from airflow_chat_alerts.testing.asks import wait_until

    question = wait_until(lambda: next((m for m in emu.messages(CHANNEL) if m["components"]), None),
                          what="the question with its buttons", timeout=ASK_TIMEOUT_SECONDS)
    answered["asked"] = emu.transcript(CHANNEL)
    [approve] = [c["custom_id"] for c in question["components"][0]["components"]
                 if c["custom_id"].startswith("chat_alerts_approve:")]
    # The waiting trigger holds the bot's Gateway session: that is where Discord sends the clicks.
    emu.wait_for_gateway(1, timeout=60)
    emu.act_as(BYSTANDER).click(CHANNEL, question["id"], approve)
    say(f"   … {BYSTANDER} pressed Approve (he may not decide)")
    say(f"   … {APPROVER} sees the question and thinks for {THINKING_SECONDS:.0f} s")
    time.sleep(THINKING_SECONDS)
    answered["at"] = time.monotonic()
    emu.act_as(APPROVER).click(CHANNEL, question["id"], approve)
    say(f"   … {APPROVER} pressed Approve")


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="chat-alerts-demo-"))
    log_path = home / "airflow.log"
    configure_airflow(home, ASK_TIMEOUT_SECONDS)

    from airflow_chat_alerts.testing.discord import DiscordEmulator

    say("airflow-chat-alerts demo on Discord: a DAG asks in a Discord channel whether to deploy a model, and waits.")
    with DiscordEmulator() as emu:
        connect_to(emu)
        say(f"Discord emulator at {emu.base_url} (channel #{CHANNEL}); the DAG files are the Slack demo's own")
        view = open_web_view(emu)
        say(f"Watch it in your browser: {view.url}#service=discord&channel={emu.channel_id(CHANNEL)}"
            f"&as={emu.user_id(APPROVER)}")
        with output_to(log_path):
            say("Creating the Airflow metadata database …")
            from airflow.utils import db

            db.initdb()

            say("\n1. slack_alert_post: train a model and post its accuracy")
            post_run = run_dag("slack_alert_post.py")
            say(f"   run {post_run.state}")

            say("\n2. slack_alert_ask: train, ask 'Deploy?', wait in a trigger, then branch")
            answered: dict = {}
            person = threading.Thread(target=people, args=(emu, answered), daemon=True)
            person.start()
            ask_run = run_dag("slack_alert_ask.py")
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
        for note in emu.ephemeral_messages(BYSTANDER, CHANNEL):
            say(f"{BYSTANDER} was told, privately: {note['content']}")
        say(f"Decision (XCom 'decision'): {json.dumps(decision, ensure_ascii=False)}")
        if "at" in answered:
            say(f"From alice's click to the end of the run: {finished - answered['at']:.1f} s")
        say("Tasks of slack_alert_ask:")
        for task_id in ("train", "format_accuracy", "ask_to_deploy", "deploy", "record_rejection"):
            say(f"  {task_id:<18} {states.get(task_id)}")
        say(f"Branch taken: {'deploy' if states.get('deploy') == 'success' else 'record_rejection'}")
    ok = post_run.state == "success" and ask_run.state == "success" and states.get("deploy") == "success"
    if ok and not os.environ.get("CHAT_ALERTS_KEEP_DEMO_HOME"):
        shutil.rmtree(home, ignore_errors=True)
    else:
        say(f"Airflow's log and home are kept in {home}")
    return 0 if ok else 1


if __name__ == "__main__":
    assert REPO.exists()
    sys.exit(main())
