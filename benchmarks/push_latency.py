"""Benchmark: how soon an answer ends its ask with push (Socket Mode) beside polling, in one table.

N real ``ChatAskTrigger.run()`` coroutines wait over C channels in one or two triggerers (each its own
event loop in its own thread, so each opens its own Socket Mode connection), against the Slack
emulator in a child process (this script with ``--emulator-child``: its CPU is not counted). Simulated
people answer a share of the asks at random times: by button (push rows only: a connection without an
app token shows no buttons), by a thread reply or by a reaction. Time is real time.

``push`` rows give the connection the emulator's app token (extra ``app_token``); ``poll`` rows do
not. ``tier3`` is Slack's tier 3 (50 reads a minute per method); ``non_marketplace`` is a commercially
distributed app outside the Marketplace (1 read a minute, pages of 15), with the connection's
``non_marketplace`` extra set to match. Each row prints history and replies reads per minute, 429s,
CPU % of one core (this process: every triggerer), and the answer -> trigger event latency p50 / p95,
overall and by how people answered; with two triggerers also the p95 of the clicks Slack handed to the
triggerer that does not hold the ask.

    .venv/bin/python benchmarks/push_latency.py --quick          # 2 rows, about 2 minutes
    .venv/bin/python benchmarks/push_latency.py                  # the README table (18 rows)
    .venv/bin/python benchmarks/push_latency.py --n 1000 --c 10 --modes push --triggerers 2
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib.util
import inspect
import json
import os
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from pending_asks import (
    BENCH_CHANNELS,
    HUMANS,
    RESULT_PREFIX,
    EmulatorProcess,
    cpu_seconds,
    percentile,
    quiet_measuring_process,
    result_in_fresh_process,
)

CONN_ID = "slack_push_bench"
KINDS = ("button", "reply", "reaction")
LIMITS = ("tier3", "non_marketplace")
MODES = ("push", "poll")


def push_available() -> bool:
    """Whether this checkout has the triggerer's Socket Mode side; without it push rows poll."""
    return importlib.util.find_spec("airflow_chat_alerts.triggers.push") is not None


# -- the emulator child: serves the API and plays the people ----------------------------------------
def emulator_child() -> None:
    """Serve the emulator; obey JSON commands on stdin, answer JSON lines on stdout."""
    from importlib import resources

    from airflow_chat_alerts.clicks import APPROVE_ACTION, buttons_block
    from airflow_chat_alerts.testing import ClickFailed, SlackEmulator, Workspace

    data = json.loads(resources.files("airflow_chat_alerts.testing").joinpath("default_workspace.json").read_text())
    data["channels"] += [{"name": name, "members": ["chat-alerts", *HUMANS]} for name in BENCH_CHANNELS]
    emulator = SlackEmulator(Workspace.from_dict(data), rate_limits="realistic")
    answered: dict[str, float] = {}
    click_failures: dict[str, int] = {}
    failures_lock = threading.Lock()
    timers: list[threading.Timer] = []

    def reply(message: dict[str, Any]) -> None:
        print(json.dumps(message), flush=True)

    def click(channel: str, ts: str, user: str) -> None:
        # People click independently, at once; the journal names the socket each click went to.
        at = time.time()
        try:
            emulator.act_as(user).click(channel, ts, APPROVE_ACTION)
        except ClickFailed as failed:
            with failures_lock:
                click_failures[failed.reason] = click_failures.get(failed.reason, 0) + 1
            return
        answered[ts] = at

    def clicked_on() -> dict[str, str]:
        """Question ts -> the connection Slack handed its (first) click to."""
        handed: dict[str, str] = {}
        for call in socket_calls("socket.envelope"):
            if call.args.get("type") == "interactive" and call.args.get("message_ts"):
                handed.setdefault(call.args["message_ts"], call.args["connection"])
        return handed

    def answer(channel: str, ts: str, kind: str, user: str) -> None:
        state = emulator.state
        human = state.user(user)
        if kind == "button":
            click(channel, ts, user)
            return
        answered[ts] = time.time()
        if kind == "reply":
            state.post(channel, human, text="approve, looks good", thread_ts=ts)
        else:
            state.react(channel, ts, human.id, "white_check_mark")

    def socket_calls(what: str) -> list[Any]:
        return [c for c in emulator.journal.calls() if c.method == what]

    reply({"base_url": emulator.base_url, "bot_token": emulator.bot_token, "app_token": emulator.app_token,
           "channels": [emulator.channel_id(name) for name in BENCH_CHANNELS]})
    for line in sys.stdin:
        command = json.loads(line)
        kind = command["cmd"]
        if kind == "reset":
            for timer in timers:
                timer.cancel()
            timers.clear()
            answered.clear()
            click_failures.clear()
            emulator.reset()
            emulator.set_marketplace(command["marketplace"])
            emulator.configure_sockets(seed=command["seed"])
            reply({"ok": True})
        elif kind == "seed":
            bot = emulator.state.user("chat-alerts")
            questions = []
            for channel, count in command["per_channel"]:
                for i in range(count):
                    text = f"Deploy model {i}? Reply approve or reject."
                    identity = {"dag_id": "bench", "run_id": f"{channel}-{i}", "task_id": "ask", "map_index": -1}
                    blocks = ([{"type": "section", "text": {"type": "mrkdwn", "text": text}}, buttons_block(identity)]
                              if command["buttons"] else None)
                    questions.append([channel, emulator.state.post(channel, bot, text=text, blocks=blocks).ts])
            reply({"questions": questions})
        elif kind == "sockets":
            reply({"live": emulator.open_sockets(),
                   "opened": [c.args["connection"] for c in socket_calls("socket.open")]})
        elif kind == "quiet":
            reads = emulator.journal.calls("conversations.history")
            reply({"seconds": emulator.clock.now() - reads[-1].time if reads else None})
        elif kind == "mark":
            emulator.journal.clear()
            reply({"ok": True})
        elif kind == "answer":
            for channel, ts, delay, how, user in command["plan"]:
                timer = threading.Timer(delay, answer, (channel, ts, how, user))
                timer.daemon = True
                timer.start()
                timers.append(timer)
            reply({"ok": True})
        elif kind == "report":
            journal = emulator.journal
            calls = [c for c in journal.calls() if not c.method.startswith("socket.")]
            methods = sorted({call.method for call in calls})
            reply({
                "answered": answered,
                "clicked_on": clicked_on(),
                "click_failures": click_failures,
                "calls": {m: sum(1 for c in calls if c.method == m) for m in methods},
                "ratelimited": sum(1 for c in calls if c.status == 429),
                "ratelimited_by": {m: n for m in methods if (n := sum(1 for c in calls if c.method == m
                                                                       and c.status == 429))},
                "errors": sorted({c.error for c in calls if c.error and c.status != 429}),
                "socket_opens": len(socket_calls("socket.open")),
                "envelopes_expired": len(socket_calls("socket.expired")),
            })
        elif kind == "stop":
            break
    emulator.stop()


# -- the trigger side: this process ----------------------------------------------------------------
@dataclass
class Result:
    limits: str
    mode: str
    triggerers: int
    n: int
    c: int
    window: float
    calls: dict[str, int]
    ratelimited: int
    cpu_percent: float
    answered: int
    decided: int
    latencies: dict[str, list[float]]  # by how people answered
    on_other: list[float]  # clicks Slack handed to the triggerer that does not hold the ask
    click_failures: dict[str, int]
    socket_opens: int
    envelopes_expired: int
    push: bool
    ratelimited_by: dict[str, int] = field(default_factory=dict)  # 429s by method
    errors: list[str] = field(default_factory=list)

    def per_minute(self, method: str) -> float:
        return self.calls.get(method, 0) * 60.0 / self.window


class Triggerer:
    """Asks on an event loop of their own, in a thread: one triggerer process as far as the asks see."""

    def __init__(self, name: str, make_trigger: Any, questions: list[list[str]], events: dict[str, Any]) -> None:
        self.name = name
        self.stopping = threading.Event()
        self.leaked = False
        self._make_trigger, self._questions, self._events = make_trigger, questions, events
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._started = threading.Event()
        self.thread = threading.Thread(target=asyncio.run, args=(self._main(),), name=name, daemon=True)

    def start(self) -> None:
        self.thread.start()
        self._started.wait(30)

    def add(self, questions: list[list[str]]) -> None:
        """More asks, started on this triggerer's loop (their questions were posted after it began)."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(lambda: [self._start(channel, ts) for channel, ts in questions])

    def _start(self, channel: str, ts: str) -> None:
        async def ask() -> None:
            async for event in self._make_trigger(channel, ts).run():
                self._events[ts] = (time.time(), event.payload)

        self._tasks.append(asyncio.create_task(ask()))

    async def _main(self) -> None:
        from airflow_chat_alerts.triggers.runtime import Runtime

        self._loop = asyncio.get_running_loop()
        for channel, ts in self._questions:
            self._start(channel, ts)
        self._started.set()
        await asyncio.to_thread(self.stopping.wait)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.sleep(0.1)
        self.leaked = bool(Runtime.current().pollers)  # (its socket is kept for its grace period)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=60)


def wait_for(check: Any, timeout: float, interval: float = 0.2) -> Any:
    """Poll ``check`` until truthy or ``timeout`` seconds have passed; returns its last value."""
    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = check()
    return value


def run_one(emulator: EmulatorProcess, *, limits: str, mode: str, triggerers: int, n: int, c: int,
            window: float, poll: float, reconcile: float, answer_share: float, drain: float, seed: int) -> Result:
    from airflow_chat_alerts.decisions import AskPolicy
    from airflow_chat_alerts.triggers.ask import ChatAskTrigger
    rng = random.Random(seed)
    push = mode == "push"
    emulator.ask("reset", marketplace=limits == "tier3", seed=seed)
    channels = emulator.info["channels"][:c]
    per_channel = [[channel, n // c + (1 if i < n % c else 0)] for i, channel in enumerate(channels)]
    # Two triggerers share Slack's per-app budget: each takes half of it, as the README says to.
    extra: dict[str, Any] = {"base_url": emulator.info["base_url"], "rate_tier": "tier3",
                             "rate_headroom": 0.9 / triggerers}
    if limits == "non_marketplace":
        extra["non_marketplace"] = True
    if push:
        extra["app_token"] = emulator.info["app_token"]
    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
        {"conn_type": "slack", "password": emulator.info["bot_token"], "extra": extra})
    policy = AskPolicy().to_dict()
    deadline = (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()
    kwargs: dict[str, Any] = {"poll_interval": poll}
    if "reconcile_interval" in inspect.signature(ChatAskTrigger).parameters:
        kwargs["reconcile_interval"] = reconcile

    def make_trigger(channel: str, ts: str) -> ChatAskTrigger:
        return ChatAskTrigger(CONN_ID, channel, ts, policy, deadline, **kwargs)

    # A running deployment: each triggerer already waits on an ask (and holds its socket) when the
    # questions are posted. Each starts once the previous one holds its socket, so the order of the
    # emulator's connections says which triggerer holds which; then the asks are dealt out in turn.
    events: dict[str, tuple[float, dict]] = {}
    keepers = emulator.ask("seed", per_channel=[[channels[0], triggerers]], buttons=push)["questions"]
    pool = [Triggerer(f"triggerer-{k}", make_trigger, [keepers[k]], events) for k in range(triggerers)]
    sockets_up = push and push_available()
    for k, triggerer in enumerate(pool):
        triggerer.start()
        # apps.connections.open is tier 1: a second triggerer may wait up to a minute for its socket.
        if sockets_up and not wait_for(lambda k=k: emulator.ask("sockets")["live"] > k, timeout=120):
            print(f"warning: {triggerer.name} opened no socket within 120 s", file=sys.stderr)
    opened = emulator.ask("sockets")["opened"]
    connection_of = {conn: k for k, conn in enumerate(opened[:triggerers])}
    questions = emulator.ask("seed", per_channel=per_channel, buttons=push)["questions"]
    holder = {ts: i % triggerers for i, (_, ts) in enumerate(questions)}
    for k, triggerer in enumerate(pool):
        triggerer.add([q for q in questions if holder[q[1]] == k])
    # Past the start-up reads (asks that could not start from pushed events read their question once):
    # measure the steady state.
    time.sleep(1.0)
    wait_for(lambda: (seconds := emulator.ask("quiet")["seconds"]) is None or seconds >= 3.0, timeout=120,
             interval=0.5)
    emulator.ask("mark")

    cpu_before, started = cpu_seconds(), time.monotonic()
    kinds = KINDS if push else KINDS[1:]
    answering = rng.sample(questions, round(n * answer_share))
    plan = [[channel, ts, rng.uniform(2.0, max(3.0, window - 8.0)), rng.choice(kinds), rng.choice(HUMANS)]
            for channel, ts in answering]
    emulator.ask("answer", plan=plan)
    time.sleep(max(0.0, window - (time.monotonic() - started)))
    elapsed = time.monotonic() - started
    cpu = cpu_seconds() - cpu_before
    report = emulator.ask("report")
    drain_until = time.monotonic() + drain
    wait_for(lambda: all(ts in events for ts in emulator.ask("report")["answered"]),
             timeout=max(0.0, drain_until - time.monotonic()), interval=0.5)
    final = emulator.ask("report")
    for triggerer in pool:
        triggerer.stop()

    answered = final["answered"]
    how = {ts: kind for _, ts, _, kind, _ in plan}
    approved = {ts: events[ts][0] - at for ts, at in answered.items()
                if ts in events and events[ts][1].get("status") == "approved"}
    on_other = [approved[ts] for ts, conn in final["clicked_on"].items()
                if ts in approved and connection_of.get(conn, holder[ts]) != holder[ts]]
    errors = sorted({str(payload.get("message")) for _, payload in events.values() if payload.get("status") == "error"})
    return Result(
        limits=limits, mode=mode, triggerers=triggerers, n=n, c=c, window=elapsed, calls=report["calls"],
        ratelimited=final["ratelimited"], cpu_percent=100.0 * cpu / elapsed, answered=len(answered),
        decided=len(approved), latencies={k: [v for ts, v in approved.items() if how[ts] == k] for k in KINDS},
        on_other=on_other, click_failures=final["click_failures"], socket_opens=final["socket_opens"],
        envelopes_expired=final["envelopes_expired"], push=push and push_available(),
        ratelimited_by=final["ratelimited_by"],
        errors=errors + final["errors"] + (["LEAK"] if any(t.leaked for t in pool) else []),
    )


HEADER = ("| limits | mode | triggerers | N | C | history/min | replies/min | 429s | CPU % | latency p50 / p95 s "
          "| p95 button / reply / reaction s | p95 click on the other triggerer s | decided | notes |")


def _p(values: list[float], q: float) -> str:
    value = percentile(values, q)
    return "—" if value is None else f"{value:.2f}"


def row(r: Result) -> str:
    every = [v for values in r.latencies.values() for v in values]
    bound = "≥ " if r.decided < r.answered else ""  # answers not seen yet: the figures are lower bounds
    notes = []
    if r.mode == "push" and not r.push:
        notes.append("no push package: polls")
    if r.ratelimited_by:
        notes.append("429s: " + ", ".join(f"{m} {k}" for m, k in sorted(r.ratelimited_by.items())))
    if r.click_failures:
        notes.append("clicks failed: " + ", ".join(f"{k} {v}" for k, v in sorted(r.click_failures.items())))
    if r.mode == "push" and r.socket_opens:
        notes.append(f"{r.socket_opens} socket(s) opened in window")
    if r.envelopes_expired:
        notes.append(f"{r.envelopes_expired} envelope(s) unacknowledged")
    notes += r.errors
    return (
        f"| {r.limits} | {r.mode} | {r.triggerers} | {r.n:,} | {r.c} "
        f"| {r.per_minute('conversations.history'):.1f} | {r.per_minute('conversations.replies'):.1f} "
        f"| {r.ratelimited} | {r.cpu_percent:.1f} | {bound}{_p(every, 50)} / {bound}{_p(every, 95)} "
        f"| {' / '.join(_p(r.latencies[k], 95) for k in KINDS)} "
        f"| {_p(r.on_other, 95) if r.triggerers > 1 else '—'} | {r.decided}/{r.answered} | {'; '.join(notes)} |"
    )


def configurations(args: argparse.Namespace) -> list[tuple[str, str, int, int, int]]:
    """(limits, mode, triggerers, N, C) of every row: the README table unless a flag narrows it."""
    if all(getattr(args, name) is None for name in ("n", "c", "limits", "modes", "triggerers")):
        return README_ROWS
    rows = []
    for limits in args.limits or LIMITS:
        for n in args.n or [100, 1000, 5000]:
            for c in args.c or [1, 10]:
                for mode in args.modes or MODES:
                    # Two triggerers are about clicks landing on the other one: push rows only.
                    for triggerers in (args.triggerers or [1]) if mode == "push" else [1]:
                        rows.append((limits, mode, triggerers, n, c))
    return rows


# Push at every N and C in both rate-limit modes; polling beside it where the issue measured it; two
# triggerers at the larger sizes.
README_ROWS = [
    *[(limits, "push", 1, n, c) for limits in LIMITS for n in (100, 1000, 5000) for c in (1, 10)],
    ("tier3", "poll", 1, 1000, 10), ("tier3", "poll", 1, 5000, 10),
    ("non_marketplace", "poll", 1, 100, 1), ("non_marketplace", "poll", 1, 1000, 10),
    ("tier3", "push", 2, 1000, 10), ("non_marketplace", "push", 2, 1000, 10),
]


def run_in_fresh_process(args: argparse.Namespace, limits: str, mode: str, triggerers: int, n: int, c: int) -> Result:
    """One row in its own process (and its own emulator child)."""
    return Result(**result_in_fresh_process(__file__, [
        "--limits", limits, "--modes", mode, "--triggerers", str(triggerers), "--n", str(n), "--c", str(c),
        "--window", str(args.window), "--poll", str(args.poll), "--reconcile", str(args.reconcile),
        "--answer-share", str(args.answer_share), "--drain", str(args.drain), "--seed", str(args.seed),
    ]))


def measure_here(args: argparse.Namespace) -> Result:
    """The ``--one`` mode: warm up (polling, a few asks), then measure one row."""
    quiet_measuring_process()
    emulator = EmulatorProcess(__file__)
    common = {"poll": args.poll, "reconcile": args.reconcile, "seed": args.seed}
    try:
        run_one(emulator, limits="tier3", mode="poll", triggerers=1, n=10, c=1, window=3.0, answer_share=0.0,
                drain=0.0, **common)
        return run_one(emulator, limits=args.limits[0], mode=args.modes[0], triggerers=args.triggerers[0],
                       n=args.n[0], c=args.c[0], window=args.window, answer_share=args.answer_share,
                       drain=args.drain, **common)
    finally:
        emulator.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # Without any of these five, the README table's rows; with some, every combination of them.
    parser.add_argument("--n", type=int, nargs="+", help="pending asks (100 1000 5000)")
    parser.add_argument("--c", type=int, nargs="+", help="channels, at most 10 (1 10)")
    parser.add_argument("--limits", nargs="+", choices=LIMITS, help="rate limits (both)")
    parser.add_argument("--modes", nargs="+", choices=MODES, help="push, poll (both)")
    parser.add_argument("--triggerers", type=int, nargs="+", choices=(1, 2), help="triggerers of push rows (1)")
    parser.add_argument("--window", type=float, default=40.0, help="measured seconds per row (default 40)")
    parser.add_argument("--poll", type=float, default=10.0, help="the asks' poll interval (default 10 s)")
    parser.add_argument("--reconcile", type=float, default=300.0,
                        help="the asks' reconciliation interval while the socket is up (default 300 s)")
    parser.add_argument("--answer-share", type=float, default=0.1, help="share of asks answered (default 0.1)")
    parser.add_argument("--drain", type=float, default=30.0,
                        help="after the window, wait up to this long for the answered asks to end (default 30 s)")
    parser.add_argument("--seed", type=int, default=5, help="random seed for who answers when and how")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run in about 2 minutes: N=100, C=1, tier 3, push with 2 triggerers, poll with 1")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--emulator-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.emulator_child:
        emulator_child()
        return 0
    if any(c > len(BENCH_CHANNELS) for c in args.c or []):
        parser.error(f"--c at most {len(BENCH_CHANNELS)}")
    if args.one:
        print(RESULT_PREFIX + json.dumps(dataclasses.asdict(measure_here(args))), flush=True)
        return 0
    if args.quick:
        args.n, args.c, args.limits, args.modes, args.triggerers = [100], [1], ["tier3"], list(MODES), [2]
        args.window, args.drain = 15.0, 10.0
    print(f"poll interval {args.poll:g} s, reconciliation {args.reconcile:g} s, window {args.window:g} s, "
          f"{args.answer_share:.0%} of asks answered; one process per row"
          + ("" if push_available() else "; NOTE: no push package here, push rows poll"))
    print(HEADER)
    print("|" + "---|" * (HEADER.count("|") - 1), flush=True)
    for configuration in configurations(args):
        print(row(run_in_fresh_process(args, *configuration)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
