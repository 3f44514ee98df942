"""How fast the emulator's web view shows a long channel, and how soon a change reaches the page.

    .venv/bin/python benchmarks/web_view_render.py                 # 1,000 messages, 5 page loads, 20 live posts
    .venv/bin/python benchmarks/web_view_render.py --messages 5000 --loads 3

Needs Debian's chromium and chromium-driver (``make browser-deps``). Prints figures; asserts nothing.

What it measures, on a channel of N messages (one in ten an ask's Block Kit question with a thread of
two replies and a reaction; the rest a line of mrkdwn with a mention and an emoji):

- server: the channel's JSON (all message views) read cold (just after the messages were posted:
  every view built) and warm (views cached), and its size;
- page: from navigation to the whole channel in the DOM and painted (wall clock, through Selenium: two
  animation frames after the render), and the page's
  own ``performance`` measures ``channel-load`` (request to DOM) and ``channel-render`` (JSON to DOM);
- live: from a post through the Web API to the message in the page (the page polled every 5 ms).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
import urllib.request

QUESTION = [
    {"type": "header", "text": {"type": "plain_text", "text": "Deploy model v42? :rocket:"}},
    {"type": "section", "text": {"type": "mrkdwn", "text": "Accuracy *0.97* (was _0.95_) for <!subteam^S0MLLEADS>"},
     "fields": [{"type": "mrkdwn", "text": "*Owner*\n<@U0ALICE>"}, {"type": "mrkdwn", "text": "*Run*\n`manual__1`"}]},
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "*DAG* `train` · <https://airflow.example|Open>"}]},
    {"type": "actions", "elements": [
        {"type": "button", "action_id": "approve", "text": {"type": "plain_text", "text": "Approve"},
         "style": "primary"},
        {"type": "button", "action_id": "reject", "text": {"type": "plain_text", "text": "Reject"},
         "style": "danger"}]},
]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1400,1000"]


def fill(emu, channel: str, count: int) -> None:
    state = emu.state
    bot, people = emu.workspace.bot, [emu.workspace.user(n) for n in ("alice", "bob", "carol", "dave")]
    for n in range(count):
        if n % 10 == 0:
            msg = state.post(channel, bot, text="Deploy?", blocks=json.loads(json.dumps(QUESTION)))
            state.post(channel, people[1], text="reject - numbers look off", thread_ts=msg.ts)
            state.post(channel, people[0], text="approve", thread_ts=msg.ts)
            state.react(channel, msg.ts, people[2].id, "white_check_mark")
        else:
            state.post(channel, people[n % 4], text=f"message {n}: *bold*, <@U0ALICE> and :tada:")


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in [*FLAGS, f"--user-data-dir={tempfile.mkdtemp(prefix='bench-chromium-')}"]:
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(executable_path=shutil.which("chromedriver")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--live", type=int, default=20)
    args = parser.parse_args()

    from airflow_chat_alerts.testing import SlackEmulator

    with SlackEmulator() as emu:
        channel = emu.channel_id("ml-alerts")
        fill(emu, channel, args.messages)
        view = emu.web_view()
        api = f"{view.url}api/slack/channels/{channel}"
        started = time.perf_counter()
        body = urllib.request.urlopen(api, timeout=120).read()
        cold = time.perf_counter() - started
        warm = []
        for _ in range(3):
            started = time.perf_counter()
            urllib.request.urlopen(api, timeout=120).read()
            warm.append(time.perf_counter() - started)
        shown = len(json.loads(body)["messages"])
        print(f"channel: {args.messages} top-level entries, {shown} messages with replies, "
              f"JSON {len(body) / 1e6:.2f} MB")
        print(f"server: full read {cold * 1000:.0f} ms cold, "
              f"{statistics.median(warm) * 1000:.0f} ms warm (median of 3)")

        driver = browser()
        try:
            wall, load, render = [], [], []
            for _ in range(args.loads):
                driver.get("about:blank")
                started = time.perf_counter()
                driver.get(f"{view.url}#service=slack&channel={channel}&as=U0ALICE")
                while driver.execute_script("return document.body && document.body.dataset.rendered") is None:
                    time.sleep(0.005)
                # ...and laid out and painted: two animation frames later.
                driver.execute_async_script(
                    "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => done()));")
                wall.append(time.perf_counter() - started)
                measures = driver.execute_script(
                    "return Object.fromEntries(performance.getEntriesByType('measure').map(m => [m.name, m.duration]))")
                load.append(measures["channel-load"] / 1000)
                render.append(measures["channel-render"] / 1000)
            count = driver.execute_script("return document.querySelectorAll('#messages article.message').length")
            print(f"page: {count} messages in the DOM; navigation to painted {statistics.median(wall) * 1000:.0f} ms "
                  f"(median of {args.loads}, min {min(wall) * 1000:.0f}, max {max(wall) * 1000:.0f}); "
                  f"request to DOM {statistics.median(load) * 1000:.0f} ms; "
                  f"JSON to DOM {statistics.median(render) * 1000:.0f} ms")

            delays = []
            for n in range(args.live):
                marker = f"live-{n}-{time.monotonic_ns()}"
                started = time.perf_counter()
                emu.act_as("bob").post("ml-alerts", marker)
                while not driver.execute_script(
                        "return document.getElementById('messages').textContent.includes(arguments[0])", marker):
                    time.sleep(0.005)
                delays.append(time.perf_counter() - started)
            print(f"live: post to shown in the page {statistics.median(delays) * 1000:.0f} ms median, "
                  f"{max(delays) * 1000:.0f} ms max (of {args.live}, in a channel of {count}+ messages)")
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
