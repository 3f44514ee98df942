"""A chat connection's settings: the Airflow connection read once, into one frozen object that the
worker and the triggerer share (credentials, where Slack is, the default channel, the rate budget's
figures, the page size, how channels are read).

Read from the connection's own fields (password, host, schema) and its extras, through the Slack
provider's public ``ConnectionExtraConfig`` (which also reads the ``extra__slack__…`` prefixed form); no
private method of another provider. Pure apart from that: no I/O, cheap to import.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_chat_alerts.airflow_users import AirflowUserMap
from airflow_chat_alerts.exceptions import ChatConfigError

ConnType = Literal["slack", "slackwebhook", "discord_bot", "discord"]
SUPPORTED_CONN_TYPES: tuple[ConnType, ...] = ("slack", "slackwebhook")
# Read by the Discord service (services/discord), which builds these settings itself: a bot connection (its
# own type, as the Discord provider's ``discord`` type is a webhook) and the provider's webhook connection.
DISCORD_CONN_TYPES: tuple[ConnType, ...] = ("discord_bot", "discord")
Strategy = Literal["auto", "channel", "per_ask"]
READ_STRATEGIES: tuple[Strategy, ...] = ("auto", "channel", "per_ask")
# Slack's largest page of history (999; replies allow 1,000): the fewer pages, the fewer rationed calls.
PAGE_SIZE = 999
DEFAULT_WEBHOOK_HOST = "hooks.slack.com/services"
# Slack's app-level tokens (Socket Mode) start with this; bot tokens (xoxb-) cannot open a socket.
APP_TOKEN_PREFIX = "xapp-"

SECONDS_PER_MINUTE = 60.0

TIER_PER_MINUTE = {"tier1": 1.0, "tier2": 20.0, "tier3": 50.0, "tier4": 100.0}

# Methods a trigger may call, with Slack's documented tier. Methods not listed (auth.test, tier 5) are
# not rationed.
METHOD_TIERS = {
    "apps.connections.open": "tier1",
    "chat.delete": "tier3",
    "chat.postEphemeral": "tier4",
    "conversations.history": "tier3",
    "conversations.replies": "tier3",
    "conversations.info": "tier3",
    "reactions.get": "tier3",
    "usergroups.users.list": "tier2",
    "users.info": "tier4",
}

# Slack paces every way an app posts at about one message a second per channel, with short bursts: the
# figure of the posts of one channel (a rate budget key "chat.postMessage/channel:<channel id>").
CHANNEL_POSTS = "chat.postMessage/channel"
CHANNEL_POSTS_PER_MINUTE = 60.0
# Calls a quiet method may make at once, where Slack allows fewer than the rate budget's default burst.
BURSTS = {CHANNEL_POSTS: 2}

# The methods the `rate_tier` extra sets and the non-Marketplace limit applies to.
READ_METHODS = ("conversations.history", "conversations.replies")
NON_MARKETPLACE_PER_MINUTE = 1.0
NON_MARKETPLACE_PAGE_LIMIT = 15

# How long a triggerer keeps its Socket Mode connection after its last ask: longer than the usual gap
# between one ask ending and the next starting, so a click then still finds a socket.
DEFAULT_SOCKET_GRACE = 600.0

# Share of Slack's figure the process uses: room for the workers' own calls on the same workspace
# (posting, finding a question) and for the jitter between our send time and Slack's arrival time.
DEFAULT_HEADROOM = 0.9

def parse_tier(value: Any) -> str:
    """``"tier3"``, ``"t3"``, ``"3"`` or ``3`` → ``"tier3"``."""
    text = str(value).strip().lower().removeprefix("tier").removeprefix("t")
    tier = f"tier{text}"
    if tier not in TIER_PER_MINUTE:
        raise ChatConfigError(f"unknown rate_tier {value!r}: use one of {', '.join(TIER_PER_MINUTE)}")
    return tier


def budget_from_extras(extras: Mapping[str, Any]) -> dict[str, float]:
    """Calls per minute per method, from a connection's extras.

    :param extras: the connection extras. ``rate_tier`` (default ``"tier3"``) is the tier of
        conversations.history and conversations.replies; ``non_marketplace`` (a commercially
        distributed app outside the Slack Marketplace) limits those two to 1 call per minute;
        ``rate_headroom`` (default 0.9) is the share of Slack's figure this process may use;
        ``rate_limits`` (``{"conversations.history": 30}``) sets calls per minute per method outright.
    :raises ChatConfigError: on an unknown tier or a non-positive figure.
    """
    tier = parse_tier(extras.get("rate_tier", "tier3"))
    headroom = float(extras.get("rate_headroom", DEFAULT_HEADROOM))
    if not 0 < headroom <= 1:
        raise ChatConfigError(f"rate_headroom must be in (0, 1], got {headroom!r}")
    per_minute = {method: TIER_PER_MINUTE[method_tier] for method, method_tier in METHOD_TIERS.items()}
    per_minute[CHANNEL_POSTS] = CHANNEL_POSTS_PER_MINUTE
    for method in READ_METHODS:
        per_minute[method] = (
            NON_MARKETPLACE_PER_MINUTE if _flag(extras.get("non_marketplace")) else TIER_PER_MINUTE[tier]
        )
    per_minute = {method: rate * headroom for method, rate in per_minute.items()}
    for method, rate in dict(extras.get("rate_limits") or {}).items():
        if float(rate) <= 0:
            raise ChatConfigError(f"rate_limits[{method!r}] must be positive, got {rate!r}")
        per_minute[method] = float(rate)
    return per_minute


def page_limit_from_extras(extras: Mapping[str, Any]) -> int | None:
    """The largest ``limit`` Slack honours on the read methods for this connection, if capped."""
    return NON_MARKETPLACE_PAGE_LIMIT if _flag(extras.get("non_marketplace")) else None


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


@dataclass(frozen=True)
class ChatConnectionSettings:
    """One Airflow connection, read once.

    :param conn_id: the Airflow connection id (named in every error).
    :param conn_type: ``slack`` (Slack API, bot token) or ``slackwebhook`` (incoming webhook, post only).
    :param secret: the bot token, or the webhook URL (itself a secret): never shown.
    :param base_url: the Slack API base URL (``…/api/``); None for Slack's own.
    :param timeout: seconds per request; None for slack_sdk's default.
    :param proxy: an HTTP proxy URL.
    :param channel: the default channel (our own extra ``channel``).
    :param per_minute: the rate budget: calls per minute per Slack method (:func:`budget_from_extras`).
    :param page_size: messages asked for per page of history and replies (15 for a non-Marketplace app).
    :param read_strategy: how the triggerer reads channels (extra ``read_strategy``).
    :param app_token: the app-level token (``xapp-…``, extra ``app_token``) that opens Socket Mode
        connections, so people can answer with buttons; never shown, never in trigger kwargs.
    :param socket_grace: seconds a triggerer keeps its Socket Mode connection open after its last ask
        of this app ended (extra ``socket_grace``), so a click in the gap between asks lands on a socket.
    :param airflow_users: who Slack people are in Airflow (extras ``airflow_users`` and
        ``airflow_users_by_email``), for Human-in-the-loop requests.
    :param extras: the connection's extras as read, for what only its chat service's package reads (the
        Discord service's ``guild_id``, ``application_id``...).
    """

    conn_id: str
    conn_type: ConnType
    secret: str = field(repr=False)
    base_url: str | None = None
    timeout: int | None = None
    proxy: str | None = None
    channel: str | None = None
    per_minute: Mapping[str, float] = field(default_factory=dict)
    page_size: int = PAGE_SIZE
    read_strategy: Strategy = "auto"
    app_token: str | None = field(default=None, repr=False)
    socket_grace: float = DEFAULT_SOCKET_GRACE
    airflow_users: AirflowUserMap = field(default_factory=AirflowUserMap)
    extras: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def interactive(self) -> bool:
        """Whether people can answer with buttons: a Slack API connection with an app-level token, or a
        Discord bot (its token opens the Gateway itself); an incoming webhook cannot read answers at all."""
        return (self.conn_type == "slack" and bool(self.app_token)) or self.conn_type == "discord_bot"

    @property
    def fingerprint(self) -> str:
        """A digest of the secret: tells a rotated token apart without keeping a second copy around."""
        return hashlib.sha256(self.secret.encode()).hexdigest()

    @property
    def history_interval(self) -> float:
        """Seconds between two ``conversations.history`` calls within the connection's budget."""
        rate = self.per_minute.get("conversations.history")
        return SECONDS_PER_MINUTE / rate if rate else 0.0

    @classmethod
    def from_connection(cls, conn: Any, conn_id: str | None = None) -> ChatConnectionSettings:
        """Read an Airflow ``Connection``.

        :param conn: the connection (its ``conn_type``, ``password``, ``host``, ``schema``, extras).
        :param conn_id: the id to name in errors (default: the connection's own).
        :raises ChatConfigError: an unsupported type, no secret, or invalid extras.
        """
        from airflow.providers.slack.utils import ConnectionExtraConfig

        conn_id = conn_id or conn.conn_id
        if conn.conn_type not in SUPPORTED_CONN_TYPES:
            raise ChatConfigError(
                f"Connection {conn_id!r} has type {conn.conn_type!r}; airflow-chat-alerts needs a 'slack' "
                f"connection (Slack API, bot token) or a 'slackwebhook' one (incoming webhook, post only), or for "
                f"Discord a 'discord_bot' connection (bot token) or a 'discord' one (webhook, post only).",
                conn_id=conn_id,
            )
        webhook = conn.conn_type == "slackwebhook"
        password = (conn.password or "").strip()
        if not password:
            what = "the webhook URL or token" if webhook else "a Slack bot token (xoxb-…)"
            raise ChatConfigError(
                f"not_authed: connection {conn_id!r} has no password; put {what} in it",
                conn_id=conn_id,
                code="not_authed",
            )
        raw = conn.extra_dejson
        extras = ConnectionExtraConfig(conn_type=conn.conn_type, conn_id=conn_id, extra=raw)
        try:
            timeout = extras.getint("timeout", default=None)
            read_strategy = str(raw.get("read_strategy") or "auto")
            if read_strategy not in READ_STRATEGIES:
                raise ChatConfigError(
                    f"unknown read_strategy {read_strategy!r}; use one of {', '.join(READ_STRATEGIES)}"
                )
            per_minute = budget_from_extras(raw)
            app_token = _app_token(raw.get("app_token"))
            socket_grace = _seconds(raw.get("socket_grace", DEFAULT_SOCKET_GRACE), "socket_grace")
            airflow_users = AirflowUserMap.from_extras(raw)
        except (ChatConfigError, ValueError, TypeError) as err:
            raise ChatConfigError(f"Connection {conn_id!r} has invalid extras: {err}", conn_id=conn_id) from None
        return cls(
            conn_id=conn_id,
            conn_type=conn.conn_type,
            secret=_webhook_url(conn, password) if webhook else password,
            base_url=None if webhook else extras.get("base_url", default=None),
            timeout=timeout,
            proxy=extras.get("proxy", default=None),
            channel=extras.get("channel", default=None) or None,
            per_minute=per_minute,
            page_size=page_limit_from_extras(raw) or PAGE_SIZE,
            read_strategy=read_strategy,
            app_token=app_token,
            socket_grace=socket_grace,
            airflow_users=airflow_users,
        )


def _seconds(value: Any, name: str) -> float:
    """A number of seconds >= 0 from an extra (a number, or text holding one)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ChatConfigError(f"{name} must be a number of seconds, got {value!r}") from None
    if not 0 <= seconds < float("inf"):
        raise ChatConfigError(f"{name} must be a number of seconds >= 0, got {value!r}")
    return seconds


def _app_token(value: Any) -> str | None:
    """The ``app_token`` extra, checked; an error never quotes it (it is a secret)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or not value.strip().startswith(APP_TOKEN_PREFIX):
        raise ChatConfigError(
            f"app_token is not an app-level token: it must start with {APP_TOKEN_PREFIX!r} (Slack app settings, "
            f"Basic Information, App-Level Tokens, with the connections:write scope)"
        )
    return value.strip()


def _webhook_url(conn: Any, token: str) -> str:
    """A webhook connection's URL: the password itself when it is a URL, else host (default Slack's) + token."""
    if "://" in token:
        return token
    base = conn.host or ""
    if "://" not in base:
        base = f"{conn.schema or 'https'}://{conn.host or DEFAULT_WEBHOOK_HOST}"
    return (base.rstrip("/") + "/" + token.lstrip("/")).rstrip("/")
