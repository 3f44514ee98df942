"""Benchmark: N pending asks over C channels in one triggerer-like process, on Discord (the Discord emulator).

The sibling of ``pending_asks.py`` (Slack), measured the same way: the real ``ChatAskTrigger.run()``
coroutines on one event loop, the emulator in a child process (its CPU and memory not counted; the people
act inside it), Discord's limits (the emulator's ``realistic`` profile: per-route buckets counted per channel,
the global 50 requests a second), 10 % of the asks answered at random times, real time.

Two modes per size:

* ``push``: the bot's Gateway session is up; replies, reactions and clicks (a third each) are pushed and
  decide at once; channels are read at the reconciliation interval (300 s) after the first read.
* ``poll``: the emulator refuses the Gateway for the whole run (as a firewall without outbound websockets
  would), so answers are read every poll interval (10 s) within the buckets; people reply or react
  (a click needs a session to receive it).

For each row: REST calls per minute (history reads, reactions reads, member lookups, other), the most calls
of a route in any 60-second window, 429s, CPU % of one core, RSS per pending ask, and the answer-to-event
latency p50 / p95 (all answers, and by how people answered).

    .venv/bin/python benchmarks/pending_asks_discord.py                 # 1,000 asks over 10 channels, both modes
    .venv/bin/python benchmarks/pending_asks_discord.py --n 100 1000 --c 1 10 --mode push
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import random
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pending_asks import (  # noqa: E402 - the Slack benchmark's measuring parts, shared
    RESULT_PREFIX,
    EmulatorProcess,
    Result,
    cpu_seconds,
    percentile,
    quiet_measuring_process,
    result_in_fresh_process,
    rss_bytes,
)

CONN_ID = "discord_bench"
HUMANS = ("alice", "bob", "carol")
BENCH_CHANNELS = [f"bench-{i}" for i in range(10)]
KINDS = {"push": ("reply", "reaction", "click"), "poll": ("reply", "reaction")}
READS = ("list_messages", "list_reactions", "get_guild_member")


# -- the emulator child: serves Discord and plays the people -------------------------------------------------
def emulator_child() -> None:
    """Serve the Discord emulator; obey JSON commands on stdin, answer JSON lines on stdout."""
    from airflow_chat_alerts.services.discord._clicks import ButtonIdentity
    from airflow_chat_alerts.services.discord._ids import ts_of
    from airflow_chat_alerts.testing.discord import DiscordEmulator
    from airflow_chat_alerts.testing.discord.guild import DEFAULT_GUILD, Guild

    data = json.loads(json.dumps(DEFAULT_GUILD))
    data["channels"] += [{"name": name} for name in BENCH_CHANNELS]
    emulator = DiscordEmulator(Guild.from_dict(data), rate_limits="realistic")
    answered: dict[str, float] = {}
    timers: list[threading.Timer] = []
    identity = ButtonIdentity.of({"dag_id": "bench", "run_id": "r", "task_id": "ask", "map_index": -1,
                                  "try_number": 1, "deadline": "2100-01-01T00:00:00+00:00"})
    buttons = [{"type": 1, "components": [
        {"type": 2, "style": 3, "label": "Approve", "custom_id": identity.custom_id("chat_alerts_approve")},
        {"type": 2, "style": 4, "label": "Reject", "custom_id": identity.custom_id("chat_alerts_reject")}]}]

    def reply(message: dict[str, Any]) -> None:
        print(json.dumps(message), flush=True)

    def answer(channel: str, message_id: str, kind: str, user: str) -> None:
        state = emulator.state
        member = emulator.guild.member(user)
        at = time.time()
        if kind == "click":
            try:
                emulator.act_as(user).click(channel, message_id, identity.custom_id("chat_alerts_approve"))
            except Exception as err:  # noted; the row shows it as an answer never detected
                print(json.dumps({"log": f"click failed: {err!r}"}), file=sys.stderr)
                return
        else:
            with state.lock:
                ch = state.channel(channel)
                if kind == "reply":
                    body = {"content": "approve, looks good",
                            "message_reference": {"message_id": message_id, "channel_id": channel}}
                    state.create_message(ch, state.members[member.id], body)
                else:
                    state.add_reaction(ch, state.message(ch, message_id), state.members[member.id], "✅")
        answered[ts_of(message_id)] = at

    reply({"base_url": emulator.base_url, "bot_token": emulator.bot_token, "guild_id": emulator.guild_id,
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
            if command.get("refuse_gateway"):
                emulator.refuse_gateway(10**9)
            reply({"ok": True})
        elif kind == "seed":
            state = emulator.state
            questions = []
            with state.lock:
                bot = state.bot
                for channel, count in command["per_channel"]:
                    ch = state.channel(channel)
                    for i in range(count):
                        body = {"content": f"Deploy model {i}? Press Approve or Reject, reply, or react.",
                                "components": buttons}
                        posted = state.create_message(ch, bot, body, notify=False)
                        questions.append([channel, posted.id, ts_of(posted.id)])
            emulator.journal.clear()
            reply({"questions": questions})
        elif kind == "answer":
            for channel, message_id, delay, how, user in command["plan"]:
                timer = threading.Timer(delay, answer, (channel, message_id, how, user))
                timer.daemon = True
                timer.start()
                timers.append(timer)
            reply({"ok": True})
        elif kind == "report":
            journal = emulator.journal
            calls = [c for c in journal.calls() if c.http_method != "WS"]
            methods = sorted({call.method for call in calls})
            reply({
                "answered": answered,
                "calls": {m: sum(1 for c in calls if c.method == m) for m in methods},
                "max_per_minute": {m: journal.max_per_minute(m) for m in methods},
                "ratelimited": sum(1 for c in calls if c.status == 429),
                "ratelimited_by": {m: sum(1 for c in calls if c.method == m and c.status == 429) for m in methods},
                "errors": sorted({c.error for c in calls if c.error and c.status != 429}),
                "sessions": journal.count("gateway.identify"),
            })
        elif kind == "stop":
            break
    emulator.stop()


# -- the trigger side: this process ------------------------------------------------------------------------------
async def run_one(emulator: EmulatorProcess, n: int, c: int, mode: str, *, window: float, poll: float,
                  answer_share: float, seed: int, drain: float = 0.0) -> Result:
    from airflow_chat_alerts.decisions import AskPolicy
    from airflow_chat_alerts.triggers.ask import ChatAskTrigger
    from airflow_chat_alerts.triggers.runtime import Runtime

    rng = random.Random(seed)
    emulator.ask("reset", refuse_gateway=mode == "poll")
    channels = emulator.info["channels"][:c]
    per_channel = [[channel, n // c + (1 if i < n % c else 0)] for i, channel in enumerate(channels)]
    questions = emulator.ask("seed", per_channel=per_channel)["questions"]
    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps({
        "conn_type": "discord_bot",
        "password": emulator.info["bot_token"],
        "extra": {"base_url": emulator.info["base_url"], "guild_id": emulator.info["guild_id"], "gateway_grace": 0},
    })
    policy = AskPolicy().to_dict()
    deadline = (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()
    events: dict[str, tuple[float, dict]] = {}

    async def ask(channel: str, ts: str) -> None:
        trigger = ChatAskTrigger(CONN_ID, channel, ts, policy, deadline, poll_interval=poll, reconcile_interval=300)
        async for event in trigger.run():
            events[ts] = (time.time(), event.payload)

    rss_before, cpu_before, started = rss_bytes(), cpu_seconds(), time.monotonic()
    tasks = [asyncio.create_task(ask(channel, ts)) for channel, _, ts in questions]
    answering = rng.sample(questions, round(n * answer_share))
    plan = [[channel, message_id, rng.uniform(5.0, max(6.0, window - 20.0)), rng.choice(KINDS[mode]),
             rng.choice(HUMANS)] for channel, message_id, _ in answering]
    await asyncio.to_thread(emulator.ask, "answer", plan=plan)
    await asyncio.sleep(window - (time.monotonic() - started))
    elapsed = time.monotonic() - started
    cpu = cpu_seconds() - cpu_before
    rss = rss_bytes() - rss_before
    report = await asyncio.to_thread(emulator.ask, "report")
    answered = report["answered"]
    drain_started = time.monotonic()
    while drain and time.monotonic() - drain_started < drain:
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
    leaked = bool(runtime.pollers)
    window_end = time.time() - (time.monotonic() - started - elapsed)
    ts_of_id = {message_id: ts for _, message_id, ts in questions}

    def latencies(until: float) -> list[float]:
        return [events[ts][0] - at for ts, at in answered.items()
                if ts in events and events[ts][0] <= until and events[ts][1].get("status") == "approved"]

    errors = sorted({str(p.get("message")) for _, p in events.values() if p.get("status") == "error"})
    by_kind = {kind: [events[ts][0] - answered[ts] for _, message_id, _, how, _ in plan
                      if how == kind and (ts := ts_of_id[message_id]) in events and ts in answered]
               for kind in KINDS["push"]}
    return Result(
        n=n, c=c, strategy=mode, window=elapsed, calls=report["calls"], max_per_minute=report["max_per_minute"],
        ratelimited=final["ratelimited"], cpu_percent=100.0 * cpu / elapsed, rss_per_ask_kb=rss / n / 1024,
        latencies=latencies(float("inf")), answered=len(answered), detected=len(latencies(window_end)),
        detected_total=len(latencies(float("inf"))), drained=drained,
        errors=errors + final["errors"] + ([] if mode == "poll" or final["sessions"] == 1 else
                                           [f"{final['sessions']} Gateway sessions"])
        + [f"429 on {m}: {k}" for m, k in final["ratelimited_by"].items() if k],
        leaked=leaked, by_kind=by_kind,
    )


HEADER = ("| N | C | mode | history/min | reactions/min | members/min | other/min | history in any 60 s "
          "| 429s | CPU % | RSS/ask KB | latency p50 / p95 s | p95 reply / reaction / click s | detected in window "
          "| all detected |")


def row(r: Result) -> str:
    other = sum(count for method, count in r.calls.items() if method not in READS)
    p50, p95 = percentile(r.latencies, 50), percentile(r.latencies, 95)
    latency = "—" if p50 is None else f"{p50:.1f} / {p95:.1f}"
    kinds = [percentile(r.by_kind.get(kind, []), 95) for kind in KINDS["push"]]
    by_kind = " / ".join("—" if p is None else f"{p:.1f}" for p in kinds)
    flags = (" errors: " + "; ".join(r.errors)) if r.errors else ""
    flags += " LEAK" if r.leaked else ""
    drained = f" (+{r.drained:.0f} s)" if r.drained and r.drained >= 1 else ""
    per_channel_history = r.max_per_minute.get("list_messages", 0)
    return (
        f"| {r.n:,} | {r.c} | {r.strategy} | {r.per_minute('list_messages'):.1f} "
        f"| {r.per_minute('list_reactions'):.1f} | {r.per_minute('get_guild_member'):.1f} "
        f"| {other * 60.0 / r.window:.1f} | {per_channel_history} | {r.ratelimited} | {r.cpu_percent:.1f} "
        f"| {r.rss_per_ask_kb:.1f} | {latency} | {by_kind} | {r.detected}/{r.answered} "
        f"| {r.detected_total}/{r.answered}{drained}{flags} |"
    )


def measure_here(args: argparse.Namespace) -> Result:
    """The ``--one`` mode: warm up, then measure one configuration, with the emulator in a child."""
    quiet_measuring_process()
    emulator = EmulatorProcess(__file__)
    try:
        asyncio.run(run_one(emulator, 10, 1, "push", window=5.0, poll=args.poll, answer_share=0.0, seed=0))
        return asyncio.run(run_one(emulator, args.n[0], args.c[0], args.mode[0], window=args.window, poll=args.poll,
                                   answer_share=args.answer_share, seed=args.seed, drain=args.drain))
    finally:
        emulator.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[1000], help="pending asks")
    parser.add_argument("--c", type=int, nargs="+", default=[10], help="channels (at most 10)")
    parser.add_argument("--mode", nargs="+", choices=("push", "poll"), default=["push", "poll"])
    parser.add_argument("--window", type=float, default=120.0, help="measured seconds per run (default 120)")
    parser.add_argument("--poll", type=float, default=10.0, help="the asks' poll interval (default 10 s)")
    parser.add_argument("--answer-share", type=float, default=0.1, help="share of asks answered (default 0.1)")
    parser.add_argument("--seed", type=int, default=5, help="random seed for who answers when")
    parser.add_argument("--drain", type=float, default=300.0,
                        help="after the window, wait up to this long for every answered ask to end")
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
    print(f"poll interval {args.poll:g} s, reconciliation 300 s, window {args.window:g} s, {args.answer_share:.0%} of "
          f"asks answered, Discord's limits (emulator 'realistic'); one process per row")
    print(HEADER)
    print("|" + "---|" * (HEADER.count("|") - 1), flush=True)
    for n in args.n:
        for c in args.c:
            for mode in args.mode:
                options = ["--n", str(n), "--c", str(c), "--mode", mode, "--window", str(args.window),
                           "--poll", str(args.poll), "--answer-share", str(args.answer_share), "--seed", str(args.seed),
                           "--drain", str(args.drain)]
                print(row(Result(**result_in_fresh_process(__file__, options))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
