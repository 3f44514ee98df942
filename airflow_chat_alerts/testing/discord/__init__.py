"""A local Discord for tests and demos: a stateful REST API and Gateway emulator.

    from airflow_chat_alerts.testing.discord import DiscordEmulator

    with DiscordEmulator() as emu:
        ...

Names are imported lazily, so that importing this package (for example by the pytest plugin) stays
cheap and does not import aiohttp. See docs/discord-emulator.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_chat_alerts.lazy_exports import lazy_getattr

if TYPE_CHECKING:
    from airflow_chat_alerts.testing.discord.emulator import Actor, DiscordEmulator
    from airflow_chat_alerts.testing.discord.errors import DiscordApiError
    from airflow_chat_alerts.testing.discord.guild import Guild

_EXPORTS = {
    "DiscordEmulator": "airflow_chat_alerts.testing.discord.emulator",
    "Actor": "airflow_chat_alerts.testing.discord.emulator",
    "DiscordApiError": "airflow_chat_alerts.testing.discord.errors",
    "Guild": "airflow_chat_alerts.testing.discord.guild",
}

__all__ = ["Actor", "DiscordApiError", "DiscordEmulator", "Guild"]

__getattr__ = lazy_getattr(__name__, _EXPORTS)
