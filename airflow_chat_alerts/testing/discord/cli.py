"""Command line: run the Discord emulator until interrupted.

    python -m airflow_chat_alerts.testing.discord.cli --port 8766 [--guild FILE]
    chat-alerts-discord-emulator --port 8766 --rate-limits realistic
    chat-alerts-discord-emulator --ui           # and its web page, on http://127.0.0.1:8767/

Prints the REST base URL (hikari's ``rest_url``, a connection's ``base_url`` extra), the Gateway URL,
the ids, every member's token and a webhook URL per channel, and with ``--ui`` the address of the web
view (which never shows the tokens itself).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chat-alerts-discord-emulator",
                                     description="Run a local Discord REST API and Gateway emulator.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8766, help="TCP port (0: a free one; default: 8766)")
    parser.add_argument("--guild", help="guild JSON file (default: the packaged default guild)")
    parser.add_argument("--rate-limits", choices=("generous", "realistic", "off"), default="generous",
                        help="rate-limit profile: Discord's limits x100 (default), Discord's own, or none")
    parser.add_argument("--no-message-content", action="store_true",
                        help="the application lacks the privileged MESSAGE_CONTENT intent")
    parser.add_argument("--clock-speed", type=float, default=1.0, help="emulated seconds per real second")
    parser.add_argument("--ui", action="store_true", help="also serve the web view (channels, live, acting as anyone)")
    parser.add_argument("--ui-port", type=int, default=8767, help="the web view's port (0: a free one; default: 8767)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from airflow_chat_alerts.testing.discord.emulator import DiscordEmulator

    try:
        emulator = DiscordEmulator(args.guild, host=args.host, port=args.port, rate_limits=args.rate_limits,
                                   clock_speed=args.clock_speed)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.no_message_content:
        emulator.set_message_content_intent(False)
    if args.ui:
        try:  # bound elsewhere than loopback, it logs a warning saying who could then act as anyone
            emulator.web_view(host=args.host, port=args.ui_port)
        except RuntimeError as err:
            emulator.stop()
            print(f"error: {err} ({err.__cause__})", file=sys.stderr)
            return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    guild = emulator.guild
    print(f"Discord emulator for guild {guild.name!r} ({guild.id}), application {guild.application_id}")
    print(f"base_url: {emulator.base_url}")
    print(f"gateway_url: {emulator.gateway_url}")
    print("members:")
    for member in guild.members.values():
        role = "app bot" if member.id == guild.bot.id else ("bot" if member.bot else "person")
        print(f"  {member.name:<14} {member.id:<20} {role:<7} {member.token}")
    print("channels:")
    for ch in guild.channels.values():
        print(f"  #{ch.name:<13} {ch.id:<20} webhook: {emulator.webhook_url(ch.id)}")
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
