"""CPU of the pure decision core when many pending asks are re-evaluated (prints figures; asserts nothing).

A triggerer with thousands of waiting asks calls :func:`~airflow_chat_alerts.decisions.evaluate` for
every ask at every read, on a history that mostly repeats what the last read saw. This measures that
loop: ``--asks`` asks, each with ``--answers`` replies and reactions drawn from a realistic mix (most
of it chatter), evaluated ``--rounds`` times (one round per read).

    .venv/bin/python benchmarks/decisions_cpu.py
    .venv/bin/python benchmarks/decisions_cpu.py --asks 5000 --answers 30 --rounds 5
"""

from __future__ import annotations

import argparse
import random
import time

from airflow_chat_alerts import decisions
from airflow_chat_alerts.decisions import AskPolicy, evaluate
from airflow_chat_alerts.model import Answer

QUESTION_TS = "1700000000.000100"
TEXTS = [
    "what is the accuracy on the holdout?",
    "looking now",
    "<@U0CAROL> can you check the drift numbers first?",
    "hmm, the recall dropped :thinking_face:",
    "approve - looks good",
    "LGTM :rocket:",
    "reject: numbers look off, see <https://ci.example.com/run/42|the run>",
    "ok wait, this looks wrong",
    "> approve\nwho said that?",
    "no objections, ship it",
    "yes, but wait for the rerun",
    "thanks &amp; sorry for the delay",
]
EMOJIS = ["eyes", "white_check_mark", "+1", "tada", "x", "thinking_face"]


def histories(asks: int, answers: int, seed: int) -> list[list[Answer]]:
    rng = random.Random(seed)
    result = []
    for _ in range(asks):
        history = []
        for i in range(answers):
            user = f"U{rng.randrange(40):04d}"
            if rng.random() < 0.7:
                text = rng.choice(TEXTS) + ("" if rng.random() < 0.5 else f" ({rng.randrange(1000)})")
                history.append(Answer("reply", user, text, f"17000{i + 10:05d}.{rng.randrange(999999):06d}"))
            else:
                history.append(Answer("reaction", user, rng.choice(EMOJIS), ""))
        result.append(history)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--asks", type=int, default=2000)
    parser.add_argument("--answers", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cold", action="store_true", help="forget parsed replies before each round")
    args = parser.parse_args()

    policy = AskPolicy(approvers=[f"U{i:04d}" for i in range(0, 40, 3)], required_approvals=2)
    data = histories(args.asks, args.answers, args.seed)
    outcomes: dict[str, int] = {}
    print(f"{args.asks} asks × {args.answers} answers, {args.rounds} rounds")
    for round_ in range(1, args.rounds + 1):
        if args.cold and hasattr(decisions, "_parse_reply"):
            decisions._parse_reply.cache_clear()
        start = time.process_time()
        for history in data:
            decision = evaluate(history, policy, question_ts=QUESTION_TS, self_user_id="U0APP")
            if round_ == 1:
                outcomes[decision.outcome] = outcomes.get(decision.outcome, 0) + 1
        spent = time.process_time() - start
        print(f"round {round_}: {spent * 1000:8.1f} ms CPU, {spent / args.asks * 1e6:6.1f} µs per ask")
    print("outcomes:", dict(sorted(outcomes.items())))
    if hasattr(decisions, "_parse_reply"):
        print("parsed replies cached:", decisions._parse_reply.cache_info())


if __name__ == "__main__":
    main()
