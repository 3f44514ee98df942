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

from airflow_chat_alerts.exceptions import ChatConfigError

if TYPE_CHECKING:
    import aiohttp
    from airflow.sdk import Connection

    from airflow_chat_alerts.alerters.base import BaseAlerter

SUPPORTED_CONN_TYPES = ("slack", "slackwebhook")


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
        return self._alerter(self._connection())

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

    async def aget_alerter(
        self, *, session: aiohttp.ClientSession | None = None, conn: Connection | None = None
    ) -> BaseAlerter:
        """The alerter for this connection, built without blocking the event loop (the triggerer).

        :param session: an aiohttp session the alerter's async client shares (not closed by it).
        :param conn: the connection, when the caller has looked it up already.
        """
        conn = conn or await self.aget_connection(self.chat_conn_id)
        # The slack provider's parsing reads the extras synchronously (it masks secrets through the
        # supervisor); in a worker thread that is safe and keeps the loop free.
        return await asyncio.to_thread(self._alerter, conn, session)

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

    def _alerter(self, conn: Connection, session: aiohttp.ClientSession | None = None) -> BaseAlerter:
        from airflow.providers.slack.utils import ConnectionExtraConfig

        if conn.conn_type not in SUPPORTED_CONN_TYPES:
            raise ChatConfigError(
                f"Connection {self.chat_conn_id!r} has type {conn.conn_type!r}; airflow-chat-alerts needs a "
                f"'slack' connection (Slack API, bot token) or a 'slackwebhook' one (incoming webhook, post only).",
                conn_id=self.chat_conn_id,
            )
        extras = ConnectionExtraConfig(conn_type=conn.conn_type, conn_id=self.chat_conn_id, extra=conn.extra_dejson)
        channel = extras.get("channel", default=None) or None
        if conn.conn_type == "slackwebhook":
            return self._webhook_alerter(conn, channel)
        return self._slack_alerter(conn, channel, session)

    def _slack_alerter(self, conn: Connection, channel: str | None, session: aiohttp.ClientSession | None):
        from airflow.providers.slack.hooks.slack import SlackHook

        from airflow_chat_alerts.alerters.slack import PAGE_SIZE, SlackAlerter
        from airflow_chat_alerts.triggers.rate_budget import (
            SECONDS_PER_MINUTE,
            budget_from_extras,
            page_limit_from_extras,
        )

        try:
            params = SlackHook(slack_conn_id=self.chat_conn_id)._get_conn_params(conn)
        except Exception as err:
            raise self._bad_connection(err, "a Slack bot token (xoxb-…)") from err
        return SlackAlerter(
            conn_id=self.chat_conn_id,
            token=params["token"],
            base_url=params.get("base_url"),
            timeout=params.get("timeout"),
            proxy=params.get("proxy"),
            default_channel=channel,
            session=session,
            page_size=page_limit_from_extras(conn.extra_dejson) or PAGE_SIZE,  # non-Marketplace apps: 15
            history_interval=SECONDS_PER_MINUTE / budget_from_extras(conn.extra_dejson)["conversations.history"],
            redact=_redact,
        )

    def _webhook_alerter(self, conn: Connection, channel: str | None):
        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

        from airflow_chat_alerts.alerters.webhook import WebhookAlerter

        try:
            params = SlackWebhookHook(slack_webhook_conn_id=self.chat_conn_id)._build_conn_params(conn)
        except Exception as err:
            raise self._bad_connection(err, "the webhook URL or token") from err
        return WebhookAlerter(
            conn_id=self.chat_conn_id,
            url=params["url"],
            timeout=params.get("timeout"),
            proxy=params.get("proxy"),
            default_channel=channel,
            redact=_redact,
        )

    def _bad_connection(self, err: Exception, secret: str) -> ChatConfigError:
        if type(err).__name__ == "AirflowNotFoundException":  # the provider's "no password" error
            return ChatConfigError(
                f"not_authed: connection {self.chat_conn_id!r} has no password; put {secret} in it",
                conn_id=self.chat_conn_id,
                code="not_authed",
            )
        return ChatConfigError(f"Connection {self.chat_conn_id!r} has invalid extras: {err}", conn_id=self.chat_conn_id)


def _not_found(conn_id: str, err: Exception) -> Exception:
    """A missing connection as a ChatConfigError saying how to add it; other errors unchanged."""
    if type(err).__name__ == "AirflowNotFoundException":
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
