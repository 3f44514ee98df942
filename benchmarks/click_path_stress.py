"""Stress the click path as an operator would, one scenario per row of the table of faults it once had.

Each scenario runs real ``ChatAskTrigger.run()`` coroutines (one event loop per triggerer, each in a
thread of its own, so each opens its own Socket Mode connection) against the Slack emulator in this
process, and prints what a person and an operator would see. The rows about many asks (busy channels,
two triggerers over ten channels, a non-Marketplace app) are measured by ``push_latency.py``.

    .venv/bin/python benchmarks/click_path_stress.py              # every scenario, about 6 minutes
    .venv/bin/python benchmarks/click_path_stress.py --only 2 3   # some of them
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta, timezone
from typing import Any

CONN_ID = "slack_stress"
CHANNEL = "ml-alerts"


class Records(logging.Handler):
    """The package's log records at WARNING and above, kept for counting."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def count(self, words: str) -> int:
        return sum(1 for record in self.records if words in record.getMessage())


class Loop:
    """An event loop in a thread of its own: one triggerer as far as its asks can tell."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, func: Callable[[], Any]) -> Any:
        async def wrapped() -> Any:
            return func()

        return self.submit(wrapped()).result(30)

    def stop(self) -> None:
        async def finish() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.submit(finish()).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


def connect(emu: Any, **extra: Any) -> None:
    extras = {"base_url": emu.base_url, "app_token": emu.app_token, **extra}
    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
        {"conn_type": "slack", "password": emu.bot_token, "extra": extras})


def question(emu: Any, text: str = "Deploy?") -> str:
    from airflow_chat_alerts.clicks import buttons_block

    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}, buttons_block({"dag_id": "stress"})]
    return emu.client().chat_postMessage(channel=emu.channel_id(CHANNEL), text=text, blocks=blocks)["ts"]


async def ask(emu: Any, ts: str, *, poll: float = 10.0, reconcile: float = 300.0) -> dict[str, Any]:
    from airflow_chat_alerts.decisions import AskPolicy
    from airflow_chat_alerts.triggers.ask import ChatAskTrigger

    trigger = ChatAskTrigger(
        CONN_ID, emu.channel_id(CHANNEL), ts, AskPolicy().to_dict(),
        (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat(), poll_interval=poll, reconcile_interval=reconcile,
    )
    async for event in trigger.run():
        return event.payload
    raise AssertionError("no event")


def wait(check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


def stream_of(loop: Loop) -> Any:
    from airflow_chat_alerts.triggers.runtime import Runtime

    return loop.call(lambda: next(iter(Runtime.current().streams.values()), None))


# -- the scenarios: each returns (what was done, what happened) -----------------------------------------


def slots_taken(emu: Any, records: Records, observe: float) -> tuple[str, str]:
    """Row 1: the app's 10 sockets, ours among them; ours drops and another client takes the slot."""
    emu.set_rate_limits("realistic")
    connect(emu)
    ts = question(emu)
    others = emu.occupy_sockets(9)
    loop = Loop()
    pending = loop.submit(ask(emu, ts))
    wait(lambda: emu.open_sockets() == 10, 60)
    emu.journal.clear()
    emu.drop_sockets(1)  # ours (the oldest of the app's own connections)
    late = emu.occupy_sockets(1)  # another client takes the slot at once
    time.sleep(observe)
    opens = emu.journal.calls("apps.connections.open")
    refused = [c.args.get("reason") for c in emu.journal.calls() if c.method == "socket.refused"]
    warned = records.count("is down")
    late.release()
    freed = time.monotonic()
    back = wait(lambda: stream_of(loop) is not None and stream_of(loop).connected, 180)
    took = time.monotonic() - freed
    emu.act_as("alice").reply(CHANNEL, ts, "approve")
    outcome = pending.result(60)["status"]
    loop.stop()
    others.release()
    return (
        f"10 sockets of the app open, ours dropped and its slot taken; watched {observe:.0f} s",
        f"{len(opens)} apps.connections.open ({sum(1 for c in opens if c.status == 429)} × 429), "
        f"{refused.count('too_many_websockets')} × too_many_websockets, {refused.count('invalid_ticket')} × "
        f"invalid_ticket, {warned} warning(s); push back {took:.0f} s after a slot freed ({'yes' if back else 'NO'}); "
        f"the ask then decided by a reply: {outcome}",
    )


def record_held_up(emu: Any, records: Records) -> tuple[str, str]:
    """Row 2: the click's record gets a 429 asking to wait 5 s."""
    from airflow_chat_alerts.clicks import APPROVE_ACTION
    from airflow_chat_alerts.testing import ClickFailed

    connect(emu)
    ts = question(emu)
    loop = Loop()
    pending = loop.submit(ask(emu, ts))
    wait(lambda: emu.open_sockets() == 1, 60)
    time.sleep(1.0)
    emu.faults.add("chat.postMessage", "429", retry_after=5)
    try:
        emu.act_as("alice").click(CHANNEL, ts, APPROVE_ACTION)
        seen = "acknowledged"
    except ClickFailed as failed:
        seen = f"Slack's error ({failed.reason})"
    time.sleep(7.0)
    late_records = sum(1 for m in emu.thread(CHANNEL, ts)[1:] if m.get("metadata"))
    decided = pending.done()
    loop.stop()
    return ("the click's record gets a 429 with Retry-After 5 s",
            f"the person sees {seen}; records posted later: {late_records}; the gate decided by it: "
            f"{'YES' if decided else 'no'}")


def clicks_between_asks(emu: Any, records: Records, count: int) -> tuple[str, str]:
    """Row 3: one triggerer runs one ask at a time; the next question is clicked as the last ask ends."""
    from airflow_chat_alerts.clicks import APPROVE_ACTION
    from airflow_chat_alerts.testing import ClickFailed

    connect(emu)
    loop = Loop()
    failed = decided = 0
    questions = [question(emu, f"Deploy {i}?") for i in range(count)]
    pending = loop.submit(ask(emu, questions[0]))
    wait(lambda: emu.open_sockets() == 1, 60)
    for i, ts in enumerate(questions):
        while True:
            try:
                emu.act_as("alice").click(CHANNEL, ts, APPROVE_ACTION)
                break
            except ClickFailed:
                failed += 1
                time.sleep(0.2)
        decided += pending.result(60)["status"] == "approved"
        if i + 1 < count:  # the next ask starts a moment after the last one ended, as Airflow starts it
            time.sleep(0.3)
            pending = loop.submit(ask(emu, questions[i + 1]))
    loop.stop()
    return (f"{count} asks one after another on one triggerer, each clicked as the one before ends",
            f"{failed} click(s) failed in Slack; {decided} of {count} asks decided by their click")


def two_copies(emu: Any, records: Records, trials: int) -> tuple[str, str]:
    """Row 7: two copies of one trigger (a hand-over) on two triggerers, reads 2.5 s apart; alice approves
    by reply, then bob reacts ❌."""
    connect(emu)
    outcomes = []
    for trial in range(trials):
        emu.reset()
        emu.configure_sockets(seed=trial)
        connect(emu)
        ts = question(emu)
        first, second = Loop(), Loop()
        a = first.submit(ask(emu, ts, reconcile=10.0))
        wait(lambda: emu.open_sockets() == 1, 60)
        time.sleep(2.5)
        b = second.submit(ask(emu, ts, reconcile=10.0))
        wait(lambda: emu.open_sockets() == 2, 90)
        emu.act_as("alice").reply(CHANNEL, ts, "approve")
        time.sleep(1.0)
        emu.act_as("bob").react(CHANNEL, ts, "x")
        outcomes.append((a.result(120)["status"], b.result(120)["status"]))
        first.stop()
        second.stop()
    agree = sum(1 for x, y in outcomes if x == y)
    return (f"two copies of one trigger on two triggerers, started 2.5 s apart; alice approves by reply, 1 s later "
            f"bob reacts ❌ ({trials} trials)",
            f"the copies agreed in {agree} of {trials} ({', '.join('/'.join(o) for o in outcomes)})")


def asks_leaving(emu: Any, records: Records, count: int) -> tuple[str, str]:
    """Row 8: asks join and leave one channel while its rounds run."""
    connect(emu)
    loop = Loop()
    before = len(records.records)
    for _ in range(count):
        ts = question(emu)
        task = loop.submit(ask(emu, ts, poll=0.2))
        time.sleep(0.05)
        task.cancel()
    time.sleep(2.0)
    loop.stop()
    unexpected = [r for r in records.records[before:] if "unexpectedly" in r.getMessage() or r.levelno >= logging.ERROR]
    return (f"{count} asks joining and leaving one channel while its poll rounds run",
            f"{len(unexpected)} unexpected error(s) logged")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", type=int, nargs="+", help="scenario numbers (1 2 3 7 8)")
    parser.add_argument("--observe", type=float, default=60.0, help="seconds scenario 1 watches the refusals")
    args = parser.parse_args(argv)
    os.environ.setdefault("AIRFLOW_HOME", "/tmp/chat-alerts-stress-airflow")
    from airflow_chat_alerts.testing import SlackEmulator

    records = Records()
    logging.getLogger("airflow_chat_alerts").addHandler(records)
    logging.getLogger("airflow_chat_alerts").setLevel(logging.INFO)
    scenarios = {
        1: lambda emu: slots_taken(emu, records, args.observe),
        2: lambda emu: record_held_up(emu, records),
        3: lambda emu: clicks_between_asks(emu, records, 21),
        7: lambda emu: two_copies(emu, records, 5),
        8: lambda emu: asks_leaving(emu, records, 50),
    }
    print("| row | what was done | what happened now |")
    print("|---|---|---|")
    with SlackEmulator() as emu:
        for number, scenario in scenarios.items():
            if args.only and number not in args.only:
                continue
            emu.reset()
            done, happened = scenario(emu)
            print(f"| {number} | {done} | {happened} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
