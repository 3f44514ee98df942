"""ChatAlerterHook: turns an Airflow connection into the right alerter.

Connection types (both defined by apache-airflow-providers-slack, whose hooks parse them):

- ``slack``: a bot token in the password; extras ``base_url``, ``timeout``, ``proxy`` → SlackAlerter.
- ``slackwebhook``: an incoming webhook → WebhookAlerter (post only).
- ``discord_bot``: a Discord bot token in the password → the Discord service's DiscordAlerter.
- ``discord``: the Discord provider's webhook connection → DiscordWebhookAlerter (post only).

Our own optional extra, for every type: ``channel`` (or ``extra__slack__channel``), the default channel.

This hook is the one place outside a chat service's package that imports it (``services/``): it picks the
service by the connection's type, and builds the service's push stream for the triggerer's runtime
(:meth:`ChatAlerterHook.push_stream`), so nothing else needs to know which services exist.

Every alerter built here redacts what it posts through Airflow's secrets masker (``airflow.sdk.log.redact``):
text Airflow shows as ``***`` in task logs is posted as ``***``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from airflow_chat_alerts.exceptions import ChatConfigError
from airflow_chat_alerts.settings import DISCORD_CONN_TYPES, ChatConnectionSettings

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import aiohttp
    from airflow.sdk import Connection

    from airflow_chat_alerts.alerters.base import BaseAlerter
    from airflow_chat_alerts.services.discord.alerter import DiscordAlerter

__all__ = ["ChatAlerterHook"]


class ChatAlerterHook(BaseHook):
    """Builds an alerter from an Airflow connection, by its type: Slack (``slack``, ``slackwebhook``) or
    Discord (``discord_bot``, ``discord``).

    :param chat_conn_id: the Airflow connection: type ``slack`` (Slack API, bot token), ``slackwebhook``
        (incoming webhook, post only), ``discord_bot`` (Discord bot token) or ``discord`` (Discord webhook,
        post only).
    """

    conn_name_attr = "chat_conn_id"
    default_conn_name = "slack_api_default"
    conn_type = "slack"
    hook_name = "Chat alerts (Slack)"

    def __init__(self, chat_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.chat_conn_id = chat_conn_id

    def get_conn(self) -> BaseAlerter:
        return self.get_alerter()

    def get_alerter(self) -> BaseAlerter:
        """The alerter for this connection (sync: workers and callbacks)."""
        return self.alerter_for(self.settings())

    @classmethod
    async def aget_connection(cls, conn_id: str) -> Connection:
        """The Airflow connection, looked up without blocking the event loop (the triggerer).

        Same signature as Airflow's ``BaseHook.aget_connection`` (a classmethod taking the id).

        :param conn_id: the connection id.
        :raises ChatConfigError: the connection is not defined.
        """
        from airflow.providers.common.compat.connection import get_async_connection

        try:
            return await get_async_connection(conn_id)
        except Exception as err:
            raise _not_found(conn_id, err) from err

    def settings(self) -> ChatConnectionSettings:
        """The connection, read once (sync: workers and callbacks).

        :raises ChatConfigError: the connection is not defined, or cannot be used as it is.
        """
        return _settings_of(self._connection(), self.chat_conn_id)

    async def asettings(self) -> ChatConnectionSettings:
        """The connection, read once, without blocking the event loop (the triggerer)."""
        conn = await self.aget_connection(self.chat_conn_id)
        # Reading the extras may go through the secrets masker synchronously: in a thread.
        return await asyncio.to_thread(_settings_of, conn, self.chat_conn_id)

    async def aget_alerter(self, *, session: aiohttp.ClientSession | None = None) -> BaseAlerter:
        """The alerter for this connection, built without blocking the event loop (the triggerer).

        :param session: an aiohttp session the alerter's async client shares (not closed by it).
        """
        return self.alerter_for(await self.asettings(), session=session)

    @staticmethod
    def alerter_for(settings: ChatConnectionSettings, *, session: aiohttp.ClientSession | None = None) -> BaseAlerter:
        """The alerter for these settings.

        :param session: an aiohttp session the alerter's async client shares (not closed by it).
        """
        if settings.conn_type in DISCORD_CONN_TYPES:
            return _discord_alerter(settings)
        if settings.conn_type == "slackwebhook":
            from airflow_chat_alerts.alerters.webhook import WebhookAlerter

            return WebhookAlerter(
                conn_id=settings.conn_id,
                url=settings.secret,
                timeout=settings.timeout,
                proxy=settings.proxy,
                default_channel=settings.channel,
                redact=_redact,
            )
        from airflow_chat_alerts.alerters.slack import SlackAlerter

        return SlackAlerter(
            conn_id=settings.conn_id,
            token=settings.secret,
            base_url=settings.base_url,
            timeout=settings.timeout,
            proxy=settings.proxy,
            default_channel=settings.channel,
            session=session,
            page_size=settings.page_size,
            history_interval=settings.history_interval,
            redact=_redact,
        )

    @staticmethod
    def push_key(settings: ChatConnectionSettings) -> str | None:
        """What names the push stream of a connection built by :meth:`push_stream` (connections sharing it share
        the stream): for a Discord bot, a digest of its token (never the token); None for a connection whose
        stream the runtime builds itself (Slack's Socket Mode, keyed by its app-level token)."""
        if settings.conn_type == "discord_bot":
            from airflow_chat_alerts.services.discord.push import stream_key

            return stream_key(settings)
        return None

    @staticmethod
    def push_stream(
        settings: ChatConnectionSettings,
        *,
        directory: Any,
        connection: Any,
        on_closed: Callable[[Any], Awaitable[None]],
    ) -> Any:
        """The push stream of a connection whose chat service's package provides one (a Discord bot: its
        Gateway session), or None. The triggerer's runtime builds one per :meth:`push_key` and event loop.

        :param settings: the connection's settings.
        :param directory: the runtime that owns the stream (the asks, their outcomes, the pace of reads).
        :param connection: the shared connection the stream reads and answers clicks through.
        :param on_closed: awaited once the stream has closed for good (its grace period ran out).
        """
        if settings.conn_type == "discord_bot":
            from airflow_chat_alerts.services.discord.push import DiscordPushStream

            return DiscordPushStream(settings, directory, connection, on_closed=on_closed)
        return None

    def test_connection(self) -> tuple[bool, str]:
        """Check the token (Slack's ``auth.test``, Discord's ``GET /users/@me``); returns (ok, message)."""
        from airflow_chat_alerts.alerters.slack import SlackAlerter

        try:
            settings = self.settings()
            if settings.conn_type == "discord":
                return False, (
                    f"Connection {self.chat_conn_id!r} is a Discord webhook; it cannot be tested without posting "
                    f"a message."
                )
            if settings.conn_type == "discord_bot":
                me = _discord_bot(settings).auth_test()
                return True, (f"Connected to Discord as {me.get('user')!r} ({me.get('user_id')}) through "
                              f"connection {self.chat_conn_id!r}.")
            alerter = self.get_alerter()
            if not isinstance(alerter, SlackAlerter):
                return False, (
                    f"Connection {self.chat_conn_id!r} is an incoming webhook; it cannot be tested without "
                    f"posting a message."
                )
            info = alerter.auth_test()
        except Exception as err:
            return False, str(err)
        return True, (
            f"Connected to Slack workspace {info.get('team')!r} as {info.get('user')!r} "
            f"({info.get('user_id')}) through connection {self.chat_conn_id!r}."
        )

    # -- building --------------------------------------------------------------------------------
    def _connection(self) -> Connection:
        try:
            return self.get_connection(self.chat_conn_id)
        except Exception as err:
            raise _not_found(self.chat_conn_id, err) from err


def _not_found(conn_id: str, err: Exception) -> Exception:
    """A missing connection as a ChatConfigError saying how to add it; other errors unchanged."""
    if isinstance(err, AirflowNotFoundException):
        return ChatConfigError(
            f"Connection {conn_id!r} is not defined: add it with `airflow connections add "
            f"{conn_id} --conn-type slack --conn-password xoxb-…` or set AIRFLOW_CONN_{conn_id.upper()}",
            conn_id=conn_id,
        )
    return err


def _settings_of(conn: Connection, conn_id: str) -> ChatConnectionSettings:
    """The connection read by its chat service's rules."""
    if conn.conn_type in DISCORD_CONN_TYPES:
        from airflow_chat_alerts.services.discord.connection import settings_of

        return settings_of(conn, conn_id)
    return ChatConnectionSettings.from_connection(conn, conn_id)


def _discord_alerter(settings: ChatConnectionSettings) -> BaseAlerter:
    if settings.conn_type == "discord":
        from airflow_chat_alerts.services.discord.webhook import DiscordWebhookAlerter

        return DiscordWebhookAlerter(conn_id=settings.conn_id, url=settings.secret, timeout=settings.timeout,
                                     proxy=settings.proxy, default_channel=settings.channel, redact=_redact)
    return _discord_bot(settings)


def _discord_bot(settings: ChatConnectionSettings) -> DiscordAlerter:
    from airflow_chat_alerts.services.discord.alerter import DiscordAlerter
    from airflow_chat_alerts.services.discord.connection import DiscordOptions

    return DiscordAlerter(
        conn_id=settings.conn_id,
        token=settings.secret,
        base_url=settings.base_url or "",
        timeout=settings.timeout,
        proxy=settings.proxy,
        default_channel=settings.channel,
        guild_id=DiscordOptions.of(settings).guild_id,
        redact=_redact,
    )


def _redact(text: str) -> str:
    """Airflow's secrets masker on one string: registered secrets (connection passwords, values given to
    ``mask_secret``) become ``***``."""
    from airflow.sdk.log import redact  # type: ignore[attr-defined]  # public there, re-exported without __all__

    return str(redact(text))
