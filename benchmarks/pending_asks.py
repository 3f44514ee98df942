"""Benchmark: N pending asks over C channels in one triggerer-like process, against the emulator.

Runs the real ``ChatAskTrigger.run()`` coroutines, all on one event loop like a triggerer, against the
Slack emulator with Slack's own (tier 3) rate limits, while simulated people answer 10 % of the asks at
random times. The emulator runs in a child process (this same script with ``--emulator-child``), so
its CPU and memory are not counted as ours; the people act inside it too. Time is real time.

For each N, C and read strategy it prints Slack calls per minute by method (from the emulator's
journal), the most calls of a method in any 60-second window, 429s, CPU % of one core, RSS per pending
ask, and the answer-to-event latency p50 / p95. ``shared`` is the shared per-channel poller (its cost
estimate may still read a few asks one by one); ``per_ask`` reads each question on its own through the
same rate budget: the baseline.

    .venv/bin/python benchmarks/pending_asks.py                       # the README table (~20 min)
    .venv/bin/python benchmarks/pending_asks.py --n 1000 --c 10 --strategy shared --window 120
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

CONN_ID = "slack_bench"
RESULT_PREFIX = "RESULT "
HUMANS = ("alice", "bob", "carol", "dave")
BENCH_CHANNELS = [f"bench-{i}" for i in range(10)]


# -- the emulator child: serves the API and plays the people ----------------------------------------
def emulator_child() -> None:
    """Serve the emulator; obey JSON commands on stdin, answer JSON lines on stdout."""
    from importlib import resources

    from airflow_chat_alerts.testing import SlackEmulator, Workspace

    data = json.loads(resources.files("airflow_chat_alerts.testing").joinpath("default_workspace.json").read_text())
    data["channels"] += [{"name": name, "members": ["chat-alerts", *HUMANS]} for name in BENCH_CHANNELS]
    emulator = SlackEmulator(Workspace.from_dict(data), rate_limits="realistic")
    answered: dict[str, float] = {}
    timers: list[threading.Timer] = []

    def reply(message: dict[str, Any]) -> None:
        print(json.dumps(message), flush=True)

    def answer(channel: str, ts: str, kind: str, user: str) -> None:
        state = emulator.state
        human = state.user(user)
        if kind == "reply":
            state.post(channel, human, text="approve, looks good", thread_ts=ts)
        else:
            state.react(channel, ts, human.id, "white_check_mark")
        answered[ts] = time.time()

    reply({"base_url": emulator.base_url, "bot_token": emulator.bot_token,
           "channels": [emulator.channel_id(name) for name in BENCH_CHANNELS]})
    for line in sys.stdin:
        command = json.loads(line)
        kind = command["cmd"]
        if kind == "reset":
            for timer in timers:
                timer.cancel()
            timers.clear()
            answered.clear()
            emulator.reset()
            reply({"ok": True})
        elif kind == "seed":
            bot = emulator.state.user("chat-alerts")
            questions = [
                [channel, emulator.state.post(channel, bot, text=f"Deploy model {i}? Reply approve or reject.").ts]
                for channel, count in command["per_channel"]
                for i in range(count)
            ]
            emulator.journal.clear()
            reply({"questions": questions})
        elif kind == "answer":
            for channel, ts, delay, how, user in command["plan"]:
                timer = threading.Timer(delay, answer, (channel, ts, how, user))
                timer.daemon = True
                timer.start()
                timers.append(timer)
            reply({"ok": True})
        elif kind == "report":
            journal = emulator.journal
            calls = journal.calls()
            methods = sorted({call.method for call in calls})
            reply({
                "answered": answered,
                "calls": {m: sum(1 for c in calls if c.method == m) for m in methods},
                "max_per_minute": {m: journal.max_per_minute(m) for m in methods},
                "ratelimited": sum(1 for c in calls if c.status == 429),
                "errors": sorted({c.error for c in calls if c.error and c.status != 429}),
            })
        elif kind == "stop":
            break
    emulator.stop()


class EmulatorProcess:
    """The emulator child, driven over its stdin/stdout.

    :param script: the benchmark script whose ``--emulator-child`` mode serves (default: this one).
    """

    def __init__(self, script: str = __file__) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(script), "--emulator-child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.info = self._read()

    def _read(self) -> dict[str, Any]:
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            raise RuntimeError("the emulator child exited")
        return json.loads(line)

    def ask(self, cmd: str, **args: Any) -> dict[str, Any]:
        self.proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")  # type: ignore[union-attr]
        return self._read()

    def stop(self) -> None:
        try:
            self.ask_nowait("stop")
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()

    def ask_nowait(self, cmd: str) -> None:
        self.proc.stdin.write(json.dumps({"cmd": cmd}) + "\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]


# -- the trigger side: this process ----------------------------------------------------------------
@dataclass
class Result:
    n: int
    c: int
    strategy: str
    window: float
    calls: dict[str, int]
    max_per_minute: dict[str, int]
    ratelimited: int
    cpu_percent: float
    rss_per_ask_kb: float
    latencies: list[float]
    answered: int
    detected: int
    detected_total: int
    drained: float | None
    errors: list[str] = field(default_factory=list)
    leaked: bool = False
    by_kind: dict[str, list[float]] = field(default_factory=dict)  # latencies by how people answered

    def per_minute(self, method: str) -> float:
        return self.calls.get(method, 0) * 60.0 / self.window


def rss_bytes() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def cpu_seconds() -> float:
    import psutil

    times = psutil.Process().cpu_times()
    return times.user + times.system


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def run_one(emulator: EmulatorProcess, n: int, c: int, strategy: str, *, window: float, poll: float,
                  answer_share: float, seed: int, drain: float = 0.0) -> Result:
    from airflow_chat_alerts.decisions import AskPolicy
    from airflow_chat_alerts.triggers.ask import ChatAskTrigger
    from airflow_chat_alerts.triggers.runtime import Runtime

    rng = random.Random(seed)
    emulator.ask("reset")
    channels = emulator.info["channels"][:c]
    per_channel = [[channel, n // c + (1 if i < n % c else 0)] for i, channel in enumerate(channels)]
    questions = emulator.ask("seed", per_channel=per_channel)["questions"]
    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps({
        "conn_type": "slack",
        "password": emulator.info["bot_token"],
        "extra": {"base_url": emulator.info["base_url"], "rate_tier": "tier3",
                  "read_strategy": "auto" if strategy == "shared" else "per_ask"},
    })
    policy = AskPolicy().to_dict()
    deadline = (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()
    events: dict[str, tuple[float, dict]] = {}

    async def ask(channel: str, ts: str) -> None:
        trigger = ChatAskTrigger(CONN_ID, channel, ts, policy, deadline, poll_interval=poll)
        async for event in trigger.run():
            events[ts] = (time.time(), event.payload)

    rss_before, cpu_before, started = rss_bytes(), cpu_seconds(), time.monotonic()
    tasks = [asyncio.create_task(ask(channel, ts)) for channel, ts in questions]
    # People answer 10 % of the asks at random times, leaving the last 20 s to notice the latest ones.
    answering = rng.sample(questions, round(n * answer_share))
    plan = [[channel, ts, rng.uniform(2.0, max(3.0, window - 20.0)), rng.choice(["reply", "reaction"]),
             rng.choice(HUMANS)] for channel, ts in answering]
    await asyncio.to_thread(emulator.ask, "answer", plan=plan)
    await asyncio.sleep(window - (time.monotonic() - started))
    elapsed = time.monotonic() - started
    cpu = cpu_seconds() - cpu_before
    rss = rss_bytes() - rss_before
    report = await asyncio.to_thread(emulator.ask, "report")
    answered = report["answered"]
    # The shared poller keeps going until every answer has ended its ask: none may be lost.
    drain_started = time.monotonic()
    while drain and strategy == "shared" and time.monotonic() - drain_started < drain:
        if all(ts in events for ts in answered):
            break
        await asyncio.sleep(0.5)
    drained = time.monotonic() - drain_started
    final = await asyncio.to_thread(emulator.ask, "report")
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(0.1)
    runtime = Runtime.current()
    leaked = bool(runtime.pollers or runtime.connections)

    def latencies(until: float) -> list[float]:
        return [events[ts][0] - at for ts, at in answered.items()
                if ts in events and events[ts][0] <= until and events[ts][1].get("status") == "approved"]

    window_end = time.time() - (time.monotonic() - started - elapsed)
    errors = sorted({str(payload.get("message")) for _, payload in events.values() if payload.get("status") == "error"})
    return Result(
        n=n, c=c, strategy=strategy, window=elapsed, calls=report["calls"], max_per_minute=report["max_per_minute"],
        ratelimited=final["ratelimited"], cpu_percent=100.0 * cpu / elapsed, rss_per_ask_kb=rss / n / 1024,
        latencies=latencies(float("inf")), answered=len(answered), detected=len(latencies(window_end)),
        detected_total=len(latencies(float("inf"))), drained=drained if strategy == "shared" else None,
        errors=errors + final["errors"], leaked=leaked,
        by_kind={kind: [events[ts][0] - answered[ts] for _, ts, _, how, _ in plan if how == kind and ts in events
                        and ts in answered and events[ts][1].get("status") == "approved"]
                 for kind in ("reply", "reaction")},
    )


HEADER = ("| N | C | strategy | history/min | replies/min | other/min | max in 60 s (hist/repl) | 429s "
          "| CPU % | RSS/ask KB | latency p50 / p95 s | p95 reply / reaction s | detected in window | all detected |")


def row(r: Result) -> str:
    reads = ("conversations.history", "conversations.replies")
    other = sum(count for method, count in r.calls.items() if method not in reads)
    p50, p95 = percentile(r.latencies, 50), percentile(r.latencies, 95)
    latency = "—" if p50 is None else f"{p50:.1f} / {p95:.1f}"
    kinds = [percentile(r.by_kind.get(kind, []), 95) for kind in ("reply", "reaction")]
    by_kind = " / ".join("—" if p is None else f"{p:.1f}" for p in kinds)
    flags = (" errors: " + "; ".join(r.errors)) if r.errors else ""
    flags += " LEAK" if r.leaked else ""
    if r.drained is None:
        all_detected = "—"
    else:
        all_detected = f"{r.detected_total}/{r.answered}" + (f" (+{r.drained:.0f} s)" if r.drained >= 1 else "")
    return (
        f"| {r.n:,} | {r.c} | {r.strategy} | {r.per_minute('conversations.history'):.1f} "
        f"| {r.per_minute('conversations.replies'):.1f} | {other * 60.0 / r.window:.1f} "
        f"| {r.max_per_minute.get('conversations.history', 0)} / {r.max_per_minute.get('conversations.replies', 0)} "
        f"| {r.ratelimited} | {r.cpu_percent:.1f} | {r.rss_per_ask_kb:.1f} | {latency} | {by_kind} "
        f"| {r.detected}/{r.answered} | {all_detected}{flags} |"
    )


def run_in_fresh_process(args: argparse.Namespace, n: int, c: int, strategy: str) -> Result:
    """One measurement in its own process: memory freed by an earlier run cannot hide this one's."""
    return Result(**result_in_fresh_process(__file__, [
        "--n", str(n), "--c", str(c), "--strategy", strategy, "--window", str(args.window), "--poll", str(args.poll),
        "--answer-share", str(args.answer_share), "--seed", str(args.seed), "--drain", str(args.drain),
    ]))


def result_in_fresh_process(script: str, options: list[str]) -> dict[str, Any]:
    """Run ``script --one *options`` in a process of its own (and its own emulator child) and return the
    result it printed last."""
    command = [sys.executable, os.path.abspath(script), "--one", *options]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    line = next(line for line in reversed(done.stdout.splitlines()) if line.startswith(RESULT_PREFIX))
    return json.loads(line[len(RESULT_PREFIX):])


def quiet_measuring_process() -> None:
    """Set up a measuring process: a throwaway AIRFLOW_HOME, no example DAGs, and warnings only (the
    triggers log each decision at INFO, through structlog; the table reads better without)."""
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="chat-alerts-bench-"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    import logging

    import structlog

    logging.basicConfig(level=logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def measure_here(args: argparse.Namespace) -> Result:
    """The ``--one`` mode: warm up, then measure one configuration, with the emulator in a child."""
    quiet_measuring_process()
    emulator = EmulatorProcess()
    try:
        # Warm up (imports on first use, the first connection): a running triggerer is past that.
        asyncio.run(run_one(emulator, 10, 1, "shared", window=3.0, poll=args.poll, answer_share=0.0, seed=0))
        return asyncio.run(run_one(emulator, args.n[0], args.c[0], args.strategy[0], window=args.window,
                                   poll=args.poll, answer_share=args.answer_share, seed=args.seed, drain=args.drain))
    finally:
        emulator.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[10, 100, 1000, 5000], help="pending asks")
    parser.add_argument("--c", type=int, nargs="+", default=[1, 10], help="channels (at most 10)")
    parser.add_argument("--strategy", nargs="+", choices=("shared", "per_ask"), default=["shared", "per_ask"])
    parser.add_argument("--window", type=float, default=120.0, help="measured seconds per run (default 120)")
    parser.add_argument("--poll", type=float, default=10.0, help="the asks' poll interval (default 10 s)")
    parser.add_argument("--answer-share", type=float, default=0.1, help="share of asks answered (default 0.1)")
    parser.add_argument("--seed", type=int, default=5, help="random seed for who answers when")
    parser.add_argument("--drain", type=float, default=420.0,
                        help="after the window, wait up to this long for the shared poller to end every answered ask")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--emulator-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.emulator_child:
        emulator_child()
        return 0
    if any(c > len(BENCH_CHANNELS) for c in args.c):
        parser.error(f"--c at most {len(BENCH_CHANNELS)}")
    if args.one:
        print(RESULT_PREFIX + json.dumps(dataclasses.asdict(measure_here(args))), flush=True)
        return 0
    print(f"poll interval {args.poll:g} s, window {args.window:g} s, {args.answer_share:.0%} of asks answered, "
          f"rate limits: Slack's tier 3 (emulator 'realistic'); one process per row")
    print(HEADER)
    print("|" + "---|" * (HEADER.count("|") - 1), flush=True)
    for n in args.n:
        for c in args.c:
            for strategy in args.strategy:
                print(row(run_in_fresh_process(args, n, c, strategy)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
