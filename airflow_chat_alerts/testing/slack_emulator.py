"""Command line: run the Slack emulator until interrupted.

    python -m airflow_chat_alerts.testing.slack_emulator --port 8765 --workspace FILE
    chat-alerts-slack-emulator --port 8765
    chat-alerts-slack-emulator --ui            # and its web page, on http://127.0.0.1:8766/

Prints the base URL (for slack_sdk's ``base_url`` or a connection's ``base_url`` extra), the tokens
of the seeded users, the app-level token, an incoming webhook URL per channel, and with ``--ui`` the
address of the web view (never showing the tokens itself).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chat-alerts-slack-emulator", description="Run a local Slack Web API emulator."
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (0: a free one; default: 8765)")
    parser.add_argument("--workspace", help="workspace JSON file (default: the packaged default workspace)")
    parser.add_argument(
        "--rate-limits",
        choices=("generous", "realistic", "off"),
        default="generous",
        help="rate-limit profile: Slack's budgets x100 (default), Slack's own budgets, or none",
    )
    parser.add_argument("--non-marketplace", action="store_true", help="history/replies at 1 per minute, limit 15")
    parser.add_argument("--clock-speed", type=float, default=1.0, help="emulated seconds per real second")
    parser.add_argument("--ui", action="store_true", help="also serve the web view (channels, live, acting as anyone)")
    parser.add_argument("--ui-port", type=int, default=8766, help="the web view's port (0: a free one; default: 8766)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from airflow_chat_alerts.testing.emulator import SlackEmulator

    try:
        emulator = SlackEmulator(
            args.workspace,
            host=args.host,
            port=args.port,
            rate_limits=args.rate_limits,
            clock_speed=args.clock_speed,
        )
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    emulator.set_marketplace(not args.non_marketplace)
    if args.ui:
        try:  # bound elsewhere than loopback, it logs a warning saying who could then act as anyone
            emulator.web_view(host=args.host, port=args.ui_port)
        except RuntimeError as err:
            emulator.stop()
            print(f"error: {err} ({err.__cause__})", file=sys.stderr)
            return 2
    # Handlers first: whoever reads "Press Ctrl+C" below may stop us at once.
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    ws = emulator.workspace
    print(f"Slack emulator for workspace {ws.team_name!r} ({ws.team_id})")
    print(f"base_url: {emulator.base_url}")
    print("tokens:")
    for user in ws.users:
        role = "app bot" if user.name == ws.app_bot else ("bot" if user.is_bot else "user")
        print(f"  {user.name:<16} {user.id:<14} {role:<8} {user.token}")
    print(f"app-level token (Socket Mode): {ws.app_token}")
    print("channels:")
    for ch in ws.channels:
        print(f"  #{ch.name:<15} {ch.id:<14} webhook: {emulator.webhook_url(ch.name)}")
    if args.ui:
        print(f"web view: {emulator.web_view().url}")
    print("Press Ctrl+C to stop.", flush=True)
    try:
        stop.wait()
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
