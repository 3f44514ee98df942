"""ChatAlerterHook: turns an Airflow connection into the right alerter.

Connection types (both defined by apache-airflow-providers-slack, whose hooks parse them):

- ``slack``: a bot token in the password; extras ``base_url``, ``timeout``, ``proxy`` → SlackAlerter.
- ``slackwebhook``: an incoming webhook → WebhookAlerter (post only).

Our own optional extra, for either type: ``channel`` (or ``extra__slack__channel``), the default channel.

Every alerter built here redacts what it posts through Airflow's secrets masker (``airflow.sdk.log.redact``):
text Airflow shows as ``***`` in task logs is posted as ``***``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from airflow_chat_alerts.exceptions import ChatConfigError
from airflow_chat_alerts.settings import ChatConnectionSettings

if TYPE_CHECKING:
    import aiohttp
    from airflow.sdk import Connection

    from airflow_chat_alerts.alerters.base import BaseAlerter

__all__ = ["ChatAlerterHook"]


class ChatAlerterHook(BaseHook):
    """Builds an alerter (SlackAlerter or WebhookAlerter) from an Airflow connection.

    :param chat_conn_id: the Airflow connection: type ``slack`` (Slack API, bot token) or
        ``slackwebhook`` (incoming webhook, post only).
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
        return ChatConnectionSettings.from_connection(self._connection(), self.chat_conn_id)

    async def asettings(self) -> ChatConnectionSettings:
        """The connection, read once, without blocking the event loop (the triggerer)."""
        conn = await self.aget_connection(self.chat_conn_id)
        # Reading the extras may go through the secrets masker synchronously: in a thread.
        return await asyncio.to_thread(ChatConnectionSettings.from_connection, conn, self.chat_conn_id)

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

    def test_connection(self) -> tuple[bool, str]:
        """Check the token with Slack's ``auth.test``; returns (ok, message)."""
        from airflow_chat_alerts.alerters.slack import SlackAlerter

        try:
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


def _redact(text: str) -> str:
    """Airflow's secrets masker on one string: registered secrets (connection passwords, values given to
    ``mask_secret``) become ``***``."""
    from airflow.sdk.log import redact

    return str(redact(text))
