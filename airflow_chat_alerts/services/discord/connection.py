"""A Discord Airflow connection read once into the package's settings
(:class:`~airflow_chat_alerts.settings.ChatConnectionSettings`).

Two connection types:

* ``discord_bot`` (ours: the Discord provider already gives ``discord`` to webhooks): the bot token in the
  password (without the ``Bot`` prefix); extras ``base_url`` (default Discord's ``…/api/v10``),
  ``guild_id`` (the server whose roles authorise approvers; default: the channel's), ``application_id``,
  ``gateway_url`` (informative: hikari connects where ``GET /gateway/bot`` says), ``channel`` (the default
  channel id), ``timeout``, ``proxy``, ``read_strategy``, ``gateway_grace`` (seconds the triggerer keeps its
  Gateway session after the last ask, default 600) and ``message_content`` (default true: the bot asks for
  the privileged MESSAGE_CONTENT intent, which replies need; false when the developer portal does not grant
  it, and only buttons, reactions and replies that ping the bot count).
* ``discord``: the Discord provider's webhook connection (``host`` the API root, extra
  ``webhook_endpoint`` = ``webhooks/{id}/{token}``), or the whole webhook URL in the password: posts only.

Pure apart from reading the connection object: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_chat_alerts.airflow_users import AirflowUserMap
from airflow_chat_alerts.exceptions import ChatConfigError
from airflow_chat_alerts.settings import (
    DEFAULT_SOCKET_GRACE,
    READ_STRATEGIES,
    ChatConnectionSettings,
    ConnType,
)

BOT_CONN_TYPE: ConnType = "discord_bot"
WEBHOOK_CONN_TYPE: ConnType = "discord"
DEFAULT_BASE_URL = "https://discord.com/api/v10"
DEFAULT_WEBHOOK_HOST = "https://discord.com/api/"
# Discord's largest page of message history.
PAGE_SIZE = 100


@dataclass(frozen=True)
class DiscordOptions:
    """The Discord-only options of a bot connection (from its extras).

    :param guild_id: the guild whose roles and members authorise approvers (None: the channel's).
    :param application_id: the application (None: not checked).
    :param message_content: ask the Gateway for the MESSAGE_CONTENT intent.
    """

    guild_id: int | None = None
    application_id: int | None = None
    message_content: bool = True

    @classmethod
    def of(cls, settings: ChatConnectionSettings) -> DiscordOptions:
        """The options of a connection read by :func:`settings_of`."""
        extras = settings.extras
        return cls(
            guild_id=_snowflake(extras.get("guild_id"), "guild_id"),
            application_id=_snowflake(extras.get("application_id"), "application_id"),
            message_content=_flag(extras.get("message_content", True)),
        )


def settings_of(conn: Any, conn_id: str | None = None) -> ChatConnectionSettings:
    """Read a ``discord_bot`` or ``discord`` Airflow connection.

    :param conn: the connection (``conn_type``, ``password``, ``host``, extras).
    :param conn_id: the id to name in errors (default: the connection's own).
    :raises ChatConfigError: no token or webhook, or invalid extras (the error never quotes a secret).
    """
    conn_id = conn_id or conn.conn_id
    extras: Mapping[str, Any] = conn.extra_dejson or {}
    webhook = conn.conn_type == WEBHOOK_CONN_TYPE
    try:
        secret = _webhook_url(conn, extras) if webhook else _bot_token(conn)
        if not secret:
            what = "the webhook (extra webhook_endpoint, or its URL in the password)" if webhook else (
                "the Discord bot token")
            raise ChatConfigError(f"no credentials: put {what} in it")
        read_strategy = str(extras.get("read_strategy") or "auto")
        if read_strategy not in READ_STRATEGIES:
            raise ChatConfigError(f"unknown read_strategy {read_strategy!r}; use one of {', '.join(READ_STRATEGIES)}")
        timeout = int(extras["timeout"]) if extras.get("timeout") not in (None, "") else None
        grace = _seconds(extras.get("gateway_grace", DEFAULT_SOCKET_GRACE), "gateway_grace")
        settings = ChatConnectionSettings(
            conn_id=conn_id,
            conn_type=WEBHOOK_CONN_TYPE if webhook else BOT_CONN_TYPE,
            secret=secret,
            base_url=None if webhook else str(extras.get("base_url") or DEFAULT_BASE_URL).rstrip("/"),
            timeout=timeout,
            proxy=extras.get("proxy") or None,
            channel=str(extras["channel"]) if extras.get("channel") else None,
            per_minute={},  # hikari keeps to Discord's buckets, read from each answer's X-RateLimit headers
            page_size=PAGE_SIZE,
            read_strategy=read_strategy,
            socket_grace=grace,
            airflow_users=AirflowUserMap.from_extras(extras),
            extras=dict(extras),
        )
        if not webhook:
            DiscordOptions.of(settings)  # checked now, where the error names the connection
    except ChatConfigError as err:
        raise ChatConfigError(f"Connection {conn_id!r} cannot be used: {err}", conn_id=conn_id) from None
    except (TypeError, ValueError) as err:
        raise ChatConfigError(f"Connection {conn_id!r} has invalid extras: {err}", conn_id=conn_id) from None
    return settings


def _bot_token(conn: Any) -> str:
    token = (conn.password or "").strip()
    return token.removeprefix("Bot ").strip()


def _webhook_url(conn: Any, extras: Mapping[str, Any]) -> str:
    """The webhook URL: the password when it is one, else ``host`` (default Discord's API) + the endpoint."""
    password = (conn.password or "").strip()
    if "://" in password:
        return password
    endpoint = str(extras.get("webhook_endpoint") or "").strip().lstrip("/")
    if not endpoint:
        return ""
    if not endpoint.startswith("webhooks/"):
        raise ChatConfigError("extra webhook_endpoint must look like 'webhooks/{webhook id}/{webhook token}'")
    host = (conn.host or DEFAULT_WEBHOOK_HOST).strip()
    if "://" not in host:
        host = f"{conn.schema or 'https'}://{host}"
    return host.rstrip("/") + "/" + endpoint


def _snowflake(value: Any, name: str) -> int | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    if not text.isdigit():
        raise ChatConfigError(f"{name} must be a Discord id (digits), got {value!r}")
    return int(text)


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _seconds(value: Any, name: str) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ChatConfigError(f"{name} must be a number of seconds, got {value!r}") from None
    if not 0 <= seconds < float("inf"):
        raise ChatConfigError(f"{name} must be a number of seconds >= 0, got {value!r}")
    return seconds
