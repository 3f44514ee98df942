"""hikari's REST client, as the Discord service uses it: made and closed on the loop that uses it, hikari's
messages reduced to :class:`~._reading.Seen`, the package's rendered bodies as hikari's arguments, and
hikari's errors as the package's (naming the connection, the channel and Discord's code).

hikari keeps to Discord's rate limits by itself (:mod:`hikari.impl.buckets`): a bucket per route and major
parameter learned from each answer's ``X-RateLimit-*`` headers, waited for before a request once spent; a
429's ``retry_after``; the global limit. A wait longer than :data:`MAX_RATE_LIMIT_WAIT` is not made (the call
fails, transient). Workers ask for no resend (``max_retries=0``): a post whose answer was lost may have been
made, and the ask looks for it before posting again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_chat_alerts.exceptions import (
    ChatAlertError,
    ChatConfigError,
    ChatCredentialsRefusedError,
    ChatPermanentError,
    ChatQuestionDeletedError,
    ChatTransientError,
)
from airflow_chat_alerts.services.discord._reading import Clicked, Reaction, Seen
from airflow_chat_alerts.services.discord._render import Rendered

if TYPE_CHECKING:
    from hikari.impl import RESTClientImpl

T = TypeVar("T")

# A rate limit wait longer than this fails the call (transient) rather than holding it.
MAX_RATE_LIMIT_WAIT = 120.0
DEFAULT_TIMEOUT = 30.0
_REPLY_REFERENCE = 0  # message_reference.type of a reply (1: a forward)

# Discord's JSON error codes: (the package's code, what it means, what to do). The package's codes follow
# Slack's names where the meaning is the same, so the sensor's plain-words reasons apply to both.
DISCORD_CODES: dict[int, tuple[str, str]] = {
    10003: ("channel_not_found", "Unknown Channel: the channel does not exist, or the bot is not in its server"),
    10004: ("guild_not_found", "Unknown Guild: check the connection's guild_id extra"),
    10007: ("user_not_found", "Unknown Member"),
    10008: ("message_not_found", "Unknown Message: it was deleted"),
    10015: ("webhook_not_found", "Unknown Webhook: the webhook was deleted"),
    10062: ("unknown_interaction", "Unknown interaction: it was answered too late (Discord waits 3 s)"),
    40060: ("already_acknowledged", "Interaction has already been acknowledged"),
    50001: ("not_in_channel", "Missing Access: the bot cannot see the channel; add it to the channel or give it "
                              "View Channel there"),
    50005: ("cant_update_message", "Cannot edit a message authored by another user"),
    50006: ("no_text", "Cannot send an empty message"),
    50013: ("missing_permissions", "Missing Permissions: give the bot Send Messages, Read Message History, Add "
                                   "Reactions, Embed Links and Attach Files in the channel"),
    50027: ("invalid_webhook", "Invalid Webhook Token: put the webhook's current URL in the connection"),
    50035: ("invalid_form_body", "Invalid Form Body"),
    50083: ("is_archived", "Thread is archived"),
}


def run_blocking(coroutine: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to its end from sync code (a worker, a callback): in this thread when no loop runs
    here, else in a thread of its own (never on a running loop, which would deadlock)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_awaited(coroutine))
    result: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(asyncio.run(_awaited(coroutine)))
        except BaseException as err:  # re-raised in the caller's thread
            failure.append(err)

    thread = threading.Thread(target=run, name="chat-alerts discord call", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


async def _awaited(coroutine: Callable[[], Awaitable[T]]) -> T:
    return await coroutine()


class RestClients:
    """hikari REST clients of one bot token: one per event loop that asks, started on it, closed with it.

    :param token: the bot token (or None for webhooks, whose token is in their URL).
    :param base_url: the REST base (``…/api/v10``).
    :param timeout: seconds per request.
    :param proxy: an HTTP proxy URL.
    :param max_retries: resends after a dropped connection or a 5xx (0 on workers: a post is never re-sent).
    """

    def __init__(self, *, token: str | None, base_url: str, timeout: float | None, proxy: str | None,
                 max_retries: int) -> None:
        self._token = token
        self.base_url = base_url
        self._timeout = float(timeout or DEFAULT_TIMEOUT)
        self._proxy = proxy
        self._max_retries = max_retries
        self._open: tuple[asyncio.AbstractEventLoop, Any, RESTClientImpl] | None = None

    def _app(self) -> Any:
        import hikari
        from hikari.impl import HTTPSettings, HTTPTimeoutSettings, ProxySettings

        scrub_hikari_logs()
        return hikari.RESTApp(
            url=self.base_url,
            http_settings=HTTPSettings(timeouts=HTTPTimeoutSettings(total=self._timeout)),
            proxy_settings=ProxySettings(url=self._proxy),
            max_rate_limit=MAX_RATE_LIMIT_WAIT,
            max_retries=self._max_retries,
        )

    def _acquire(self, app: Any) -> RESTClientImpl:
        import hikari

        client: RESTClientImpl = app.acquire(self._token, hikari.TokenType.BOT) if self._token else app.acquire(None)
        client.start()
        return client

    async def client(self) -> RESTClientImpl:
        """The running loop's client (started on first use; kept until :meth:`aclose`)."""
        loop = asyncio.get_running_loop()
        if self._open is not None and self._open[0] is loop:
            return self._open[2]
        if self._open is not None:
            raise RuntimeError("a Discord alerter's async client serves one event loop")
        app = self._app()
        await app.start()
        self._open = (loop, app, self._acquire(app))
        return self._open[2]

    def serves_running_loop(self) -> bool:
        """Whether this holds the running loop's client (the triggerer's), not a worker's one-off one."""
        return self._open is not None and self._open[0] is asyncio.get_running_loop()

    async def once(self, operation: Callable[[RESTClientImpl], Awaitable[T]]) -> T:
        """Run ``operation`` with a client of its own, closed after (a worker's call)."""
        app = self._app()
        await app.start()
        client = self._acquire(app)
        try:
            return await operation(client)
        finally:
            with contextlib.suppress(Exception):
                await client.close()
            await app.close()

    async def aclose(self) -> None:
        opened, self._open = self._open, None
        if opened is not None:
            _, app, client = opened
            with contextlib.suppress(Exception):
                await client.close()
            await app.close()


# -- what hikari gives back ----------------------------------------------------------------------------
def seen_of(message: Any) -> Seen:
    """A hikari message (``hikari.Message``, or a partial one from an update event) as :class:`Seen`."""
    import hikari

    def defined(value: Any) -> Any:
        return None if value is hikari.UNDEFINED else value

    author = defined(getattr(message, "author", None))
    reference = defined(getattr(message, "message_reference", None))
    metadata = defined(getattr(message, "interaction_metadata", None))
    thread = defined(getattr(message, "thread", None))
    replies_to = None
    if reference is not None and reference.id and int(getattr(reference, "type", 0)) == _REPLY_REFERENCE:
        replies_to = int(reference.id)
    clicked = None
    if metadata is not None and getattr(metadata, "user", None) is not None:
        target = getattr(metadata, "interacted_message_id", None)
        clicked = Clicked(int(metadata.interaction_id), int(metadata.user.id), int(target) if target else None,
                          int(metadata.type))
    reactions = tuple(
        Reaction(_emoji_path(reaction.emoji), str(reaction.emoji.name or ""), int(reaction.count), bool(reaction.is_me))
        for reaction in defined(getattr(message, "reactions", None)) or ()
    )
    edited = defined(getattr(message, "edited_timestamp", None))
    kind = defined(getattr(message, "type", None))
    flags = defined(getattr(message, "flags", None))
    webhook = defined(getattr(message, "webhook_id", None))
    return Seen(
        id=int(message.id),
        channel_id=int(message.channel_id),
        author_id=int(author.id) if author is not None else 0,
        author_bot=bool(author is not None and (author.is_bot or author.is_system)),
        content=defined(getattr(message, "content", None)) or "",
        type=int(kind) if kind is not None else 0,
        edited=edited,
        replies_to=replies_to,
        webhook_id=int(webhook) if webhook else None,
        clicked=clicked,
        thread_count=int(getattr(thread, "approximate_message_count", 0) or 0) if thread is not None else 0,
        thread_last=int(thread.last_message_id) if thread is not None and thread.last_message_id else None,
        reactions=reactions,
        custom_ids=tuple(_custom_ids(defined(getattr(message, "components", None)) or ())),
        flags=int(flags) if flags is not None else 0,
    )


def _emoji_path(emoji: Any) -> str:
    """How the REST path names an emoji: the character(s), or ``name:id`` for a server's own."""
    emoji_id = getattr(emoji, "id", None)
    return f"{emoji.name}:{emoji_id}" if emoji_id else str(emoji.name)


def _custom_ids(components: Any) -> Iterator[str]:
    for component in components:
        custom_id = getattr(component, "custom_id", None)
        if isinstance(custom_id, str):
            yield custom_id
        yield from _custom_ids(getattr(component, "components", None) or ())


# -- what the package sends ------------------------------------------------------------------------------
def message_kwargs(rest: RESTClientImpl, rendered: Rendered, *, edit: bool = False) -> dict[str, Any]:
    """hikari's create/edit-message arguments for a rendered body (an edit also clears what it lacks)."""
    import hikari

    embeds = []
    for spec in rendered.embeds:
        embed = hikari.Embed(title=spec.get("title"), description=spec.get("description"))
        for item in spec.get("fields") or ():
            embed.add_field(item["name"], item["value"], inline=bool(item.get("inline")))
        if spec.get("image"):
            embed.set_image(spec["image"]["url"])
        embeds.append(embed)
    rows = []
    for row in rendered.rows:
        builder = rest.build_message_action_row()
        for button in row:
            if button.style == "link" and button.url:
                builder.add_link_button(button.url, label=button.label)
            elif button.custom_id:
                if button.style == "success":
                    builder.add_interactive_button(hikari.ButtonStyle.SUCCESS, button.custom_id, label=button.label)
                else:
                    builder.add_interactive_button(hikari.ButtonStyle.DANGER, button.custom_id, label=button.label)
        rows.append(builder)
    kwargs: dict[str, Any] = {
        "content": rendered.content or (None if edit else hikari.UNDEFINED),
        "user_mentions": list(rendered.users) or False,
        "role_mentions": list(rendered.roles) or False,
        "mentions_everyone": rendered.everyone,
    }
    if embeds or edit:
        kwargs["embeds"] = embeds
    if rows or edit:
        kwargs["components"] = rows
    return kwargs


# -- what goes wrong -----------------------------------------------------------------------------------------
def error_of(err: BaseException, *, conn_id: str, operation: str, channel: str | None = None,
             question: str | None = None) -> BaseException:
    """A hikari failure as the package's error (others unchanged: a bug of ours is not retried)."""
    import aiohttp
    import hikari

    where = f"[connection {conn_id!r}" + (f", channel {channel}" if channel else "") + f", {operation}]"
    if isinstance(err, ChatAlertError):
        return err
    if isinstance(err, hikari.errors.RateLimitTooLongError):
        return ChatTransientError(
            f"ratelimited: Discord asked to wait {err.retry_after:.0f}s on {operation}; retrying later {where}",
            conn_id=conn_id, channel=channel, code="ratelimited", retry_after=err.retry_after,
        )
    if isinstance(err, hikari.errors.HTTPResponseError):
        status = int(err.status)
        discord_code = int(err.code or 0)
        code, meaning = DISCORD_CODES.get(discord_code, (None, err.message or ""))
        label = f"{discord_code} {meaning}" if discord_code else f"HTTP {status} {err.message or ''}".rstrip()
        if status == 401 and discord_code != 50027:  # 50027: a webhook's token, said below
            return ChatCredentialsRefusedError(
                f"invalid_auth: Discord refused the bot token (HTTP 401); put the bot's current token in the "
                f"connection's password {where}", conn_id=conn_id, channel=channel, code="invalid_auth",
            )
        if status >= 500 or status == 429:
            return ChatTransientError(f"http_{status}: Discord answered {label}; retrying {where}",
                                      conn_id=conn_id, channel=channel, code=f"http_{status}")
        code = code or f"discord_{discord_code or status}"
        message = f"{code}: {label} {where}"
        if code == "message_not_found" and question is not None:
            return ChatQuestionDeletedError(
                f"message_not_found: the question {question} was deleted from {channel} {where}",
                conn_id=conn_id, channel=channel, code=code,
            )
        if code in ("invalid_form_body", "no_text"):
            return ChatConfigError(f"{message}: {_form_errors(err)}", conn_id=conn_id, channel=channel, code=code)
        return ChatPermanentError(message, conn_id=conn_id, channel=channel, code=code)
    if isinstance(err, (hikari.errors.HTTPError, aiohttp.ClientError, OSError, asyncio.TimeoutError)):
        return ChatTransientError(
            f"connection_error: could not reach Discord for {operation} ({type(err).__name__}) {where}",
            conn_id=conn_id, channel=channel, code="connection_error",
        )
    return err


def _form_errors(err: Any) -> str:
    """Discord's field errors of a 400, in a line (``content: Must be 2000 or fewer in length.``)."""
    errors = getattr(err, "errors", None) or {}
    found: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for item in node.get("_errors") or ():
                found.append(f"{path or 'body'}: {item.get('message')}")
            for key, value in node.items():
                if key != "_errors":
                    walk(value, f"{path}.{key}" if path else str(key))

    walk(errors, "")
    return "; ".join(found) or str(getattr(err, "message", "") or "")


# A token after its route's id (``/webhooks/{id}/``, ``/interactions/{id}/``, a bucket's ``{id}:``) or its JSON key.
_TOKENISH = re.compile(
    r"(/interactions/[0-9]+/|/webhooks/[0-9]+/|\b[0-9]{15,21}:|\"token\"\s*:\s*\")[A-Za-z0-9_\-.]{20,}"
)


# hikari's loggers whose lines may quote a route or a payload (a filter on a logger applies to its own records
# only, so each shard's logger is named).
HIKARI_LOGGERS = ("hikari.rest", "hikari.ratelimits", "hikari.bot", "hikari.event_manager", "hikari.gateway",
                  *(f"hikari.gateway.{shard}" for shard in range(16)))


def scrub_hikari_logs() -> None:
    """Give hikari's loggers the :class:`TokenScrubber` (once): no log line shows a webhook's or an
    interaction's token, at any level."""
    for name in HIKARI_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, TokenScrubber) for existing in logger.filters):
            logger.addFilter(TokenScrubber())


class TokenScrubber(logging.Filter):
    """Hides webhook and interaction tokens in hikari's log lines (routes at DEBUG, payloads at TRACE;
    hikari hides the bot token itself)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = _TOKENISH.sub(r"\1***", message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True
