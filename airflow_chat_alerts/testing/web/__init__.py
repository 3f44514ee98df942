"""A local web page showing the chat emulators as their people see them, live, and acting as them.

    from airflow_chat_alerts.testing import SlackEmulator

    with SlackEmulator() as emu:
        print(emu.web_view().url)      # http://127.0.0.1:PORT/: channels, threads, Block Kit, buttons

Or from the command line: ``chat-alerts-slack-emulator --ui`` (``chat-alerts-discord-emulator --ui`` for
the Discord emulator, ``discord.web_view()`` from code). The page reads a small read-only JSON API and
an event stream (server.py), and acts only through the emulator's own ``act_as`` paths
(slack_source.py; the Discord emulator's is testing/discord/web_source.py), so every rule of the
emulator applies to what is done in the page. Each chat service plugs in as a `ChatSource` (source.py):
``WebView(SlackSource(slack), DiscordSource(discord))`` shows both.

Names are imported lazily: importing this package imports neither aiohttp nor slack_sdk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_chat_alerts.lazy_exports import lazy_getattr

if TYPE_CHECKING:
    from airflow_chat_alerts.testing.web.acts import Act
    from airflow_chat_alerts.testing.web.server import WebView
    from airflow_chat_alerts.testing.web.slack_source import SlackSource
    from airflow_chat_alerts.testing.web.source import ChatSource

# DiscordSource is exported by name only: the web package imports no chat service's emulator package.
_EXPORTS = {
    "WebView": "airflow_chat_alerts.testing.web.server",
    "SlackSource": "airflow_chat_alerts.testing.web.slack_source",
    "DiscordSource": "airflow_chat_alerts.testing.discord.web_source",
    "ChatSource": "airflow_chat_alerts.testing.web.source",
    "Act": "airflow_chat_alerts.testing.web.acts",
}

__all__ = ["Act", "ChatSource", "DiscordSource", "SlackSource", "WebView"]

__getattr__ = lazy_getattr(__name__, _EXPORTS)
