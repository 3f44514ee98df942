"""SlackAlerter: BaseAlerter on the Slack Web API through slack_sdk.

Workers use a sync ``WebClient``; the triggerer uses an ``AsyncWebClient`` (never a sync client or a
sync retry handler there: those sleep with ``time.sleep``). Both are built lazily, so importing this
module is cheap and a worker never builds the async client. Every Slack failure becomes one of our
exception types via ``slack_errors``; the token is never put in a message or a log line.

Each operation is written once, as a generator of ``slack_calls`` descriptions (arguments in, Slack's
answer read out) with no client in it; :meth:`SlackAlerter._run` drives one on the sync client and
:meth:`SlackAlerter._arun` on the async client.

A 429 is handled in one place per side. Workers: the sync client's ``RateLimitErrorRetryHandler`` waits
out ``Retry-After`` twice, then the call fails with a transient ``ratelimited`` error (Airflow retries
the task). Triggerer: the shared session's rate budget pauses the method for every ask
(``triggers/polling/connection.py``), the async client's handler sends once more after the wait, and what
is left reaches the poller as a transient error carrying ``retry_after``. What a 429 means (transient,
how long to wait) is decided by ``slack_errors`` alone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from airflow_chat_alerts.alerters import slack_shapes as shapes
from airflow_chat_alerts.alerters.base import BaseAlerter, Capabilities
from airflow_chat_alerts.alerters.payload import message_payload
from airflow_chat_alerts.alerters.redaction import Redact, Scrubber, ScrubbingLogger, no_redaction
from airflow_chat_alerts.alerters.slack_calls import Call, Operation, Pages, Step, Together, arun, next_page, run
from airflow_chat_alerts.alerters.slack_errors import (
    channel_label,
    looks_like_channel_id,
    retry_after_seconds,
    slack_error,
)
from airflow_chat_alerts.clicks import Click, clicks_from_record
from airflow_chat_alerts.exceptions import (
    ChatAlertError,
    ChatChannelArchivedError,
    ChatConfigError,
    ChatPermanentError,
    ChatQuestionDeletedError,
    ChatTransientError,
)
from airflow_chat_alerts.hitl.records import ChoiceRecord, records_from_reply
from airflow_chat_alerts.model import (
    ASK_EVENT_TYPE,
    Answer,
    AnswerKind,
    Message,
    MessageRef,
    MessageSnapshot,
    PostedQuestion,
    QuestionRead,
)
from airflow_chat_alerts.settings import PAGE_SIZE
from airflow_chat_alerts.utils import ts_key, ts_time

if TYPE_CHECKING:
    import aiohttp
    from slack_sdk import WebClient
    from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryHandler, RetryState
    from slack_sdk.http_retry.async_handler import AsyncRetryHandler
    from slack_sdk.web import SlackResponse
    from slack_sdk.web.async_client import AsyncWebClient
    from slack_sdk.web.async_slack_response import AsyncSlackResponse

log = logging.getLogger(__name__)

T = TypeVar("T")

# users.info is tier 4 (100+/min): a few lookups at a time keep a burst of new reactors polite.
USER_LOOKUP_CONCURRENCY = 4
# Errors about a channel that exists: its name makes the message clearer than its id alone.
NAMEABLE_CHANNEL_ERRORS = frozenset({"not_in_channel", "is_archived", "restricted_action", "no_permission"})
# Slack's own bot posts as a user id whose profile does not say is_bot.
SLACKBOT_USER_ID = "USLACKBOT"
# Slack error codes are snake_case words; anything else in "error" is a client's parse failure.
SLACK_CODE = re.compile(r"[a-z0-9_]+")
# How long a person's profile (bot? guest?) is trusted before users.info is asked again.
PROFILE_TTL_SECONDS = 600.0
# Errors that mean this one user cannot be looked up (their answers are skipped, nobody else's).
UNKNOWN_USER_ERRORS = frozenset({"user_not_found", "user_not_visible"})
# Methods never re-sent after a dropped connection: Slack may have done them, and the answer was lost.
NOT_RESENT_METHODS = ("chat.postMessage", "files.completeUploadExternal")
# A worker's question lookup reads at most this many pages of history (newest first).
MAX_LOOKUP_PAGES = 5


@dataclass(frozen=True)
class Profile:
    """What an answer needs to know about the person who gave it.

    :param is_bot: a bot or an app (never counts).
    :param is_guest: a guest (single- or multi-channel) or a member of another organisation
        (Slack Connect): counts only when named as an approver or when guests are allowed.
    """

    is_bot: bool
    is_guest: bool


def _no_resend_retry_handler() -> RetryHandler:
    """slack_sdk's connection-error retry, except for methods that must not run twice (a post)."""
    from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler

    class NoResendRetryHandler(ConnectionErrorRetryHandler):
        def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                       error: Exception | None = None) -> bool:
            if request.url.rstrip("/").endswith(NOT_RESENT_METHODS):
                return False
            return super()._can_retry(state=state, request=request, response=response, error=error)

    return NoResendRetryHandler()


def _no_resend_async_retry_handler() -> AsyncRetryHandler:
    """The async twin of :func:`_no_resend_retry_handler` (the triggerer's client)."""
    from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler

    class AsyncNoResendRetryHandler(AsyncConnectionErrorRetryHandler):
        async def _can_retry_async(self, *, state: RetryState, request: HttpRequest,
                                   response: HttpResponse | None = None, error: Exception | None = None) -> bool:
            if request.url.rstrip("/").endswith(NOT_RESENT_METHODS):
                return False
            return await super()._can_retry_async(state=state, request=request, response=response, error=error)

    return AsyncNoResendRetryHandler()


def _is_bot_message(msg: Mapping[str, Any], self_user_id: str | None) -> bool:
    return bool(
        msg.get("bot_id")
        or msg.get("bot_profile")
        or msg.get("subtype") == "bot_message"
        or (self_user_id is not None and msg.get("user") == self_user_id)
    )


class SlackAlerter(BaseAlerter):
    """Posts, updates and reads Slack messages for one Airflow connection.

    :param conn_id: the Airflow connection this alerter was built from (named in every error).
    :param token: the bot token (``xoxb-…``); kept private, never logged.
    :param base_url: the Slack API base URL (ends with ``/api/``); the public one when None.
    :param timeout: seconds to wait for Slack per request; slack_sdk's default (30) when None.
    :param proxy: an HTTP proxy URL for Slack calls.
    :param default_channel: the channel used when a call gives none.
    :param session: an aiohttp session to share between async calls (not closed by this alerter).
    :param page_size: messages asked for per page of history/replies (a non-Marketplace app gets at
        most 15, so it asks for no more).
    :param history_interval: seconds between two pages of a worker's ``conversations.history`` reads
        (the connection's rate budget for that method).
    :param redact: applied to every string posted (the hook passes Airflow's secrets masker).
    """

    capabilities = Capabilities(ask=True, threads=True, files=True, post_ephemeral=True, hitl=True, direct=True)

    def __init__(
        self,
        *,
        conn_id: str,
        token: str,
        base_url: str | None = None,
        timeout: int | None = None,
        proxy: str | None = None,
        default_channel: str | None = None,
        session: aiohttp.ClientSession | None = None,
        page_size: int = PAGE_SIZE,
        history_interval: float = 0.0,
        redact: Redact = no_redaction,
    ) -> None:
        super().__init__(conn_id=conn_id, default_channel=default_channel)
        if not token:
            raise ChatConfigError(
                f"not_authed: connection {conn_id!r} has no Slack token; put the bot token (xoxb-…) in its password",
                conn_id=conn_id,
                code="not_authed",
            )
        self._token = token
        self._redact = redact
        # slack_sdk's log lines go through this (it redacts the Authorization header, not the rest).
        self._client_logger = ScrubbingLogger(log, Scrubber(token))
        self.base_url = base_url
        self.timeout = timeout
        self.proxy = proxy
        self._session = session
        self.page_size = page_size
        self.history_interval = history_interval
        self._client: WebClient | None = None
        self._async_client: AsyncWebClient | None = None
        self._auth: dict[str, Any] | None = None  # auth.test for this token: the app's ids and team
        self._profiles: dict[str, tuple[float, Profile | None]] = {}  # user -> (read at, profile)
        self._channel_names: dict[str, str] = {}  # id -> name, learned from posts by name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.conn_id!r}, base_url={self.base_url!r})"

    # -- clients -------------------------------------------------------------------------------
    def _client_kwargs(self) -> dict[str, Any]:
        kwargs = {"token": self._token, "base_url": self.base_url, "timeout": self.timeout, "proxy": self.proxy}
        return {key: value for key, value in kwargs.items() if value is not None}

    @property
    def client(self) -> WebClient:
        """The sync client (workers), built on first use; waits out 429s and retries dropped connections,
        except for posts (see :func:`_no_resend_retry_handler`)."""
        if self._client is None:
            from slack_sdk import WebClient
            from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

            self._client = WebClient(
                **self._client_kwargs(),
                logger=cast(logging.Logger, self._client_logger),
                retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2), _no_resend_retry_handler()],
            )
        return self._client

    @property
    def async_client(self) -> AsyncWebClient:
        """The async client (triggerer), built on first use. It resends a call after a dropped connection
        (never a post), and never after a 429: the triggerer's rate budget pauses the method for every
        caller and the caller decides whether to try again (a poller does; a click record past its
        deadline does not)."""
        if self._async_client is None:
            from slack_sdk.web.async_client import AsyncWebClient

            self._async_client = AsyncWebClient(
                **self._client_kwargs(),
                session=self._session,
                logger=cast(logging.Logger, self._client_logger),
                retry_handlers=[_no_resend_async_retry_handler()],
            )
        return self._async_client

    def close(self) -> None:
        self._client = None

    async def aclose(self) -> None:
        # The shared session, if any, belongs to whoever passed it; slack_sdk closes its own per call.
        self._async_client = None

    # -- executors: the only code that knows which client runs a call ---------------------------
    def _send(self, call: Call) -> dict[str, Any]:
        """Make one call on the sync client; failures become our exceptions."""
        try:
            response: SlackResponse = getattr(self.client, call.method.replace(".", "_"))(**call.kwargs())
            return self._json(response, call)
        except Exception as err:
            error = self._translate(err, call)
            if getattr(error, "code", None) in NAMEABLE_CHANNEL_ERRORS and self._learn_channel_name(call.channel):
                error = self._translate(err, call)
            raise error from err

    async def _asend(self, call: Call) -> dict[str, Any]:
        """Make one call on the async client; failures become our exceptions."""
        try:
            aresponse: AsyncSlackResponse = await getattr(self.async_client, call.method.replace(".", "_"))(
                **call.kwargs()
            )
            return self._json(aresponse, call)
        except Exception as err:
            raise self._translate(err, call) from err

    def _json(self, response: SlackResponse | AsyncSlackResponse, call: Call) -> dict[str, Any]:
        """A Web API answer's JSON object (slack_sdk types a body as a dict or bytes: bytes only for downloads)."""
        if not isinstance(response.data, dict):
            raise self._malformed(call.method, call.channel, detail="no JSON object")
        return response.data

    def _each_page(self, call: Call) -> Iterator[dict[str, Any]]:
        """Each page of a paginated read on the sync client, until the cursor runs out."""
        page: Call | None = call.with_args(limit=self.page_size)
        while page is not None:
            data = self._send(page)
            yield data
            page = self._next_page(page, data)

    async def _aeach_page(self, call: Call) -> AsyncIterator[dict[str, Any]]:
        """Each page of a paginated read on the async client, as Slack answers it."""
        page: Call | None = call.with_args(limit=self.page_size)
        while page is not None:
            data = await self._asend(page)
            yield data
            page = self._next_page(page, data)

    def _run(self, operation: Operation[T]) -> T:
        """Drive ``operation`` on the sync client (workers), one call at a time."""
        return run(operation, self._step)

    async def _arun(self, operation: Operation[T]) -> T:
        """Drive ``operation`` on the async client (the triggerer)."""
        return await arun(operation, self._astep)

    def _step(self, step: Step) -> Any:
        if isinstance(step, Call):
            return self._send(step)
        if isinstance(step, Pages):
            return self._page_items(step)
        return [self._run(operation) for operation in step.operations]

    def _page_items(self, step: Pages) -> list[Any]:
        return [item for data in self._each_page(step.call) for item in data.get(step.key) or []]

    async def _astep(self, step: Step) -> Any:
        if isinstance(step, Call):
            return await self._asend(step)
        if isinstance(step, Pages):
            return [item async for data in self._aeach_page(step.call) for item in data.get(step.key) or []]
        return await self._together(step)

    async def _together(self, step: Together) -> list[Any]:
        limit = asyncio.Semaphore(step.at_most)

        async def one(operation: Operation[Any]) -> Any:
            async with limit:
                return await self._arun(operation)

        return list(await asyncio.gather(*(one(operation) for operation in step.operations)))

    # The same, written as the client method's keyword arguments (``channel=``, ``question=``, …).
    def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        return self._send(Call.of(method, **kwargs))

    async def _acall(self, method: str, **kwargs: Any) -> dict[str, Any]:
        return await self._asend(Call.of(method, **kwargs))

    def _pages(self, method: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
        return self._page_items(Pages(Call.of(method, **kwargs), key))

    # -- what Slack answers --------------------------------------------------------------------
    def _translate(self, err: Exception, call: Call) -> Exception:
        from slack_sdk.errors import SlackApiError, SlackClientError

        method, channel = call.method, call.channel
        if isinstance(err, ChatAlertError):
            return err
        if isinstance(err, SlackApiError):
            response = err.response
            # A body that is not JSON reaches us as a raw aiohttp response (async client) or as an
            # "error" holding a sentence (sync client): a garbled answer, worth another try.
            data = getattr(response, "data", None)
            status = getattr(response, "status_code", None) or getattr(response, "status", None)
            code = data.get("error") if isinstance(data, dict) else None
            if not isinstance(data, dict) or (isinstance(code, str) and not SLACK_CODE.fullmatch(code)):
                return self._malformed(method, channel)
            return slack_error(
                code or None,
                conn_id=self.conn_id,
                method=method,
                channel=channel,
                channel_name=self._channel_names.get(channel or ""),
                status=status,
                retry_after=retry_after_seconds(getattr(response, "headers", None)),
                response=data,
                question=call.question,
            )
        if isinstance(err, (OSError, asyncio.TimeoutError)) or type(err).__module__.startswith("aiohttp"):
            return ChatTransientError(
                f"connection_error: could not reach Slack at {self.base_url or 'https://slack.com/api/'} "
                f"for {method} ({type(err).__name__}: {err}) [connection {self.conn_id!r}]",
                conn_id=self.conn_id,
                channel=channel,
                code="connection_error",
            )
        if isinstance(err, SlackClientError):
            return ChatPermanentError(
                f"client_error: {err} [connection {self.conn_id!r}, {method}]; check the connection's "
                f"base_url and proxy extras",
                conn_id=self.conn_id,
                channel=channel,
                code="client_error",
            )
        return err

    def _next_page(self, page: Call, data: Mapping[str, Any]) -> Call | None:
        """The call for the page after ``page``, or None on the last one."""
        with self._checking(page.method, page.channel):
            return next_page(page, data)

    # -- identity ------------------------------------------------------------------------------
    def auth_test(self) -> dict[str, Any]:
        """Slack's ``auth.test`` for this token (team, bot user and bot ids), kept for this alerter."""
        self._auth = self._call("auth.test")
        return self._auth

    def _identity(self) -> Operation[dict[str, Any]]:
        """:meth:`auth_test`, read once."""
        if self._auth is None:
            self._auth = yield Call("auth.test")
        return self._auth

    async def _aauth(self) -> dict[str, Any]:
        return await self._arun(self._identity())

    def _posted_by_us(self, msg: Mapping[str, Any]) -> bool:
        """Whether this app posted ``msg``: its bot user and, for a bot token, its bot id (auth.test)."""
        auth = self._run(self._identity())
        return (msg.get("user"), msg.get("bot_id")) == (auth.get("user_id"), auth.get("bot_id"))

    def self_user_id(self) -> str | None:
        """The app's own user id (its answers never count)."""
        return self._run(self._identity()).get("user_id")

    async def aself_user_id(self) -> str | None:
        """The app's own user id, read without blocking the event loop."""
        return (await self._aauth()).get("user_id")

    async def app_identity(self) -> tuple[str | None, str | None]:
        """The app's bot user id and bot id (``auth.test``), read without blocking the event loop."""
        auth = await self._aauth()
        return auth.get("user_id"), auth.get("bot_id")

    # -- posting -------------------------------------------------------------------------------
    def _payload(self, message: Message) -> dict[str, Any]:
        return message_payload(message, conn_id=self.conn_id, redact=self._redact)

    def _learn_channel(self, asked: str, channel_id: str) -> None:
        if asked and not looks_like_channel_id(asked):
            self._channel_names[channel_id] = asked.lstrip("#")

    def _learn_channel_name(self, channel: str | None) -> bool:
        """Look up an id's channel name for an error message (best effort: needs channels:read)."""
        if not channel or not looks_like_channel_id(channel) or channel in self._channel_names:
            return False
        try:
            name = self.client.conversations_info(channel=channel)["channel"]["name"]
        except Exception:
            return False
        self._channel_names[channel] = name
        return True

    def channel_id(self, channel: str) -> str:
        """The id of a channel given by id or name (``#ml-alerts``): reading history needs an id.

        Names are looked up once per alerter with ``conversations.list`` (needs channels:read, and
        groups:read for private channels).
        """
        if looks_like_channel_id(channel):
            return channel
        name = channel.lstrip("#")
        for channel_id, known in self._channel_names.items():
            if known == name:
                return channel_id
        listing = Call.of("conversations.list", types="public_channel,private_channel", exclude_archived=True)
        conversations = [
            conversation
            for data in self._each_page(listing)
            for conversation in self._checked(shapes.channels, data, "conversations.list", None)
        ]
        for conversation in conversations:
            self._channel_names.setdefault(conversation["id"], conversation["name"])
            if conversation["name"] == name:
                return str(conversation["id"])  # a string: the shape checked it
        raise ChatPermanentError(
            f"channel_not_found: no channel named #{name} is visible to connection {self.conn_id!r}; "
            "check the name, or give the channel id (C…)",
            conn_id=self.conn_id,
            channel=channel,
            code="channel_not_found",
        )

    def permalink(self, channel: str, ts: str) -> str | None:
        """A link to a message, or None when Slack will not give one (the message stays posted)."""
        try:
            return self._call("chat.getPermalink", channel=channel, message_ts=ts).get("permalink")
        except ChatAlertError as err:
            log.warning("Could not get a permalink for %s in %s: %s", ts, channel, err)
            return None

    def post(self, message: Message, *, channel: str | None = None, thread_ts: str | None = None) -> MessageRef:
        target = self.channel_for(channel)
        payload = self._payload(message)
        data = self._checked(
            shapes.posted,
            self._call("chat.postMessage", channel=target, **payload, **_present(thread_ts=thread_ts)),
            "chat.postMessage",
            target,
        )
        channel_id = data.get("channel") or target
        self._learn_channel(target, channel_id)
        for warning in (data.get("response_metadata") or {}).get("warnings") or []:
            log.warning("Slack warned about the message posted to %s: %s", channel_label(target), warning)
        return MessageRef(
            channel=channel_id, ts=data["ts"], permalink=self.permalink(channel_id, data["ts"]), thread_ts=thread_ts
        )

    def update(self, ref: MessageRef, message: Message) -> None:
        payload = self._payload(message)
        # No blocks means plain text: an empty list clears the blocks the message had.
        payload.setdefault("blocks", [])
        self._call("chat.update", channel=ref.channel, ts=ref.ts, **payload)

    async def apost(self, message: Message, *, channel: str, thread_ts: str | None = None) -> str:
        """Post without blocking the event loop (a click's record); returns the message's ts. Never
        re-sent: a failure leaves unclear whether Slack posted it."""
        data = await self._acall("chat.postMessage", channel=channel, **self._payload(message),
                                 **_present(thread_ts=thread_ts))
        return str(self._checked(shapes.posted, data, "chat.postMessage", channel)["ts"])

    async def adelete(self, channel: str, ts: str) -> None:
        """Delete one of the app's own messages (a click record that must not count)."""
        await self._acall("chat.delete", channel=channel, ts=ts)

    async def aclick_records(self, channel: str, thread_ts: str) -> list[tuple[str, list[Click | ChoiceRecord]]]:
        """The app's click records in a thread (Approve / Reject clicks, and answers to Human-in-the-loop
        requests), each with what it carries (recorded in time)."""
        listed = await self._arun(self._pages_of(
            Call.of("conversations.replies", channel=channel, ts=thread_ts, include_all_metadata=True), "messages"
        ))
        messages = self._checked(lambda items: shapes.messages({"messages": items}), listed,
                                 "conversations.replies", channel)
        user_id, bot_id = await self.app_identity()
        found: list[tuple[str, list[Click | ChoiceRecord]]] = []
        for msg in messages:
            clicks: list[Click | ChoiceRecord] = [
                *clicks_from_record(msg, app_user_id=user_id or "", app_bot_id=bot_id, channel=channel),
                *records_from_reply(msg, app_user_id=user_id or "", app_bot_id=bot_id, channel=channel),
            ]
            if clicks:
                found.append((msg["ts"], clicks))
        return found

    async def amessage_metadata(self, channel: str, ts: str) -> Mapping[str, Any] | None:
        """The metadata of one top-level message (a request's: its options and params), None without."""
        data = await self._acall("conversations.history", channel=channel, latest=ts, oldest=ts, inclusive=True,
                                 limit=1, include_all_metadata=True)
        messages = self._checked(shapes.messages, data, "conversations.history", channel)
        found = next((msg for msg in messages if msg.get("ts") == ts), None)
        metadata = found.get("metadata") if found is not None else None
        return metadata if isinstance(metadata, Mapping) else None

    async def aopen_view(self, trigger_id: str, view: Mapping[str, Any]) -> None:
        """Open a modal for the person whose interaction issued ``trigger_id`` (good once, for 3 s)."""
        await self._acall("views.open", trigger_id=trigger_id, view=json.dumps(dict(view)))

    async def aperson_email(self, user: str) -> str | None:
        """A person's Slack profile e-mail (``users:read.email``), for ``airflow_users_by_email``; None when
        Slack does not show it."""
        try:
            data = await self._acall("users.info", user=user)
        except ChatPermanentError as err:
            if err.code not in UNKNOWN_USER_ERRORS:
                raise
            return None
        profile = self._checked(shapes.user, data, "users.info", None).get("profile")
        email = profile.get("email") if isinstance(profile, Mapping) else None
        return email if isinstance(email, str) and email else None

    def open_conversation(self, people: Sequence[str]) -> str:
        """The direct message with one person, or the group direct message with 2 to 8 (opened if need
        be: ``im:write`` / ``mpim:write``); returns its channel id."""
        data = self._call("conversations.open", users=",".join(people))
        channel = (data.get("channel") or {}).get("id") if isinstance(data.get("channel"), Mapping) else None
        if not isinstance(channel, str) or not channel:
            raise ChatTransientError("malformed_response: conversations.open gave no channel",
                                     conn_id=self.conn_id, code="malformed_response")
        return channel

    def _pages_of(self, call: Call, key: str) -> Operation[list[Any]]:
        items: list[Any] = yield Pages(call, key)
        return items

    def post_ephemeral(self, channel: str, user: str, text: str) -> str:
        data = self._call("chat.postEphemeral", channel=channel, user=user, **self._payload(Message(text=text)))
        return str(data.get("message_ts") or "")

    async def apost_ephemeral(self, channel: str, user: str, text: str) -> str:
        data = await self._acall("chat.postEphemeral", channel=channel, user=user, **self._payload(Message(text=text)))
        return str(data.get("message_ts") or "")

    def post_file(
        self,
        content: bytes,
        *,
        filename: str,
        channel: str | None = None,
        title: str | None = None,
        comment: str | None = None,
        thread_ts: str | None = None,
    ) -> MessageRef:
        """Upload a file (files.getUploadURLExternal + upload + files.completeUploadExternal).

        Slack shares uploads asynchronously and returns no message ts: the returned ref carries the
        channel, ``thread_ts`` (or ``""``) and the file's permalink.
        """
        target = self.channel_for(channel)
        if not looks_like_channel_id(target):
            raise ChatConfigError(
                f"file uploads need a channel id (C…), not {target!r} [connection {self.conn_id!r}]",
                conn_id=self.conn_id,
                channel=target,
            )
        data = self._call(
            "files.upload_v2",
            channel=target,
            content=content,
            filename=filename,
            title=self._redact(title or filename),
            initial_comment=self._redact(comment) if comment else None,
            thread_ts=thread_ts,
        )
        file_info = data.get("file") or (data.get("files") or [{}])[0]
        return MessageRef(channel=target, ts=thread_ts or "", permalink=file_info.get("permalink"), thread_ts=thread_ts)

    # -- asking --------------------------------------------------------------------------------
    def find_question(
        self,
        channel: str,
        *,
        match: Mapping[str, Any],
        oldest: str | None = None,
        timeout: float | None = None,
        clock_skew: float = 0.0,
        event_type: str = ASK_EVENT_TYPE,
    ) -> PostedQuestion | None:
        """The newest undecided question this app posted whose metadata payload contains ``match``.

        Reads history newest first from ``oldest``, at most :data:`MAX_LOOKUP_PAGES` pages, one page per
        ``history_interval``. A message whose metadata matches but that another app or a person posted,
        or whose deadline is not within ``timeout`` (+ ``clock_skew``) of its own ts, is ignored with a
        warning.

        :raises ChatTransientError: the lookup could not finish (``lookup_incomplete``: more pages than
            the cap; or the read failed transiently).
        """
        channel = self.channel_id(channel)
        history = Call.of(
            "conversations.history", channel=channel, include_all_metadata=True, **_present(oldest=oldest)
        )
        for page, data in enumerate(self._each_page(history)):
            for msg in self._checked(shapes.messages, data, "conversations.history", channel):  # newest first
                metadata = msg.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if (
                    metadata.get("event_type") != event_type
                    or "outcome" in payload
                    or not all(payload.get(key) == value for key, value in match.items())
                ):
                    continue
                why_not = self._not_our_question(msg, payload, timeout=timeout, clock_skew=clock_skew)
                if why_not:
                    log.warning("Ignoring message %s in %s as this task's question: %s", msg["ts"], channel, why_not)
                    continue
                ref = MessageRef(channel=channel, ts=msg["ts"], permalink=self.permalink(channel, msg["ts"]))
                return PostedQuestion(ref=ref, payload=dict(payload))
            if self._next_page(history, data) is None:
                return None
            if page + 1 == MAX_LOOKUP_PAGES:
                break
            time.sleep(self.history_interval)  # the connection's rate budget, not a 429 later
        raise ChatTransientError(
            f"lookup_incomplete: more than {MAX_LOOKUP_PAGES} pages of {self.page_size} messages in "
            f"{channel_label(channel)} since {oldest or 'the start'}; the question an earlier try may have "
            f"posted was not found in them [connection {self.conn_id!r}, conversations.history]",
            conn_id=self.conn_id,
            channel=channel,
            code="lookup_incomplete",
        )

    def _not_our_question(
        self, msg: Mapping[str, Any], payload: Mapping[str, Any], *, timeout: float | None, clock_skew: float
    ) -> str | None:
        """Why a message with matching metadata is not a question this app asked (None: it is)."""
        if not self._posted_by_us(msg):
            who = msg.get("bot_id") or msg.get("user") or "unknown"
            return f"posted by {who}, not by this app"
        if timeout is None:
            return None
        try:
            deadline = datetime.fromisoformat(str(payload.get("deadline")))
            if deadline.tzinfo is None:
                raise ValueError("no time zone")
        except ValueError:
            return f"its deadline {payload.get('deadline')!r} is not a time"
        after_post = (deadline - ts_time(msg["ts"])).total_seconds()
        if not -clock_skew <= after_post <= timeout + clock_skew:
            return f"its deadline {payload.get('deadline')} is not within the ask's timeout ({timeout:g} s) of its post"
        return None

    async def read_thread(self, ref: MessageRef, *, oldest: str | None = None) -> tuple[MessageSnapshot, list[Answer]]:
        return await self._arun(self._thread(ref, oldest))

    def _thread(self, ref: MessageRef, oldest: str | None) -> Operation[tuple[MessageSnapshot, list[Answer]]]:
        """:meth:`read_thread`, for either client."""
        listed = yield Pages(
            Call.of("conversations.replies", channel=ref.channel, question=True, ts=ref.ts, include_all_metadata=True),
            "messages",
        )
        messages = self._checked(lambda items: shapes.messages({"messages": items}), listed,
                                 "conversations.replies", ref.channel)
        auth = yield from self._identity()
        self_id = auth.get("user_id")
        parent = messages[0] if messages else None
        if parent is None or parent["ts"] != ref.ts or parent.get("subtype") == "tombstone":
            raise ChatQuestionDeletedError(
                f"message_not_found: the question {ref.ts} was deleted from {channel_label(ref.channel)} "
                f"[connection {self.conn_id!r}, conversations.replies]",
                conn_id=self.conn_id,
                channel=ref.channel,
                code="message_not_found",
            )
        since = ts_key(oldest) if oldest else None
        replies = [
            msg
            for msg in messages[1:]
            if msg.get("subtype") != "tombstone" and (since is None or ts_key(msg["ts"]) > since)
        ]
        [parent] = yield from self._complete_reactions(ref.channel, [parent])
        profiles = yield from self._people(_reactors(parent), self_id)
        answers = yield from self._reply_answers(replies, ref.channel, ref.ts)
        return self._snapshot(parent, self_id, profiles), answers

    async def reply_answers(
        self, replies: Collection[Mapping[str, Any]], *, channel: str, question_ts: str
    ) -> list[Answer]:
        """Thread replies of a question (as conversations.replies lists them, or as ``message`` events
        push them) as answers; people who cannot be looked up are skipped.

        :param replies: the replies, without the question itself.
        :param channel: the question's channel id.
        :param question_ts: the question's ts.
        """
        return await self._arun(self._reply_answers(replies, channel, question_ts))

    def _reply_answers(
        self, replies: Collection[Mapping[str, Any]], channel: str, question_ts: str
    ) -> Operation[list[Answer]]:
        """:meth:`reply_answers`, for either client: the one place replies become answers."""
        replies = self._checked(lambda items: [shapes.message(item) for item in items], list(replies),
                                "conversations.replies", channel)
        auth = yield from self._identity()
        self_id = auth.get("user_id")
        # Click records our own app posted count as their clicker's answer (clicks.py): each for the
        # question it names, which is this one only when the record was posted in this question's thread.
        # Human-in-the-loop answers given with buttons, menus or the form are recorded the same way
        # (hitl/records.py).
        clicks: dict[int, list[Click | ChoiceRecord]] = {}
        for msg in replies:
            recorded: list[Click | ChoiceRecord] = [
                *clicks_from_record(msg, app_user_id=self_id or "", app_bot_id=auth.get("bot_id"), channel=channel),
                *records_from_reply(msg, app_user_id=self_id or "", app_bot_id=auth.get("bot_id"), channel=channel),
            ]
            if recorded:
                here = question_ts == msg.get("thread_ts")
                clicks[id(msg)] = [click for click in recorded if here and click.question_ts == question_ts]
        people = {msg.get("user") for msg in replies if not _is_bot_message(msg, self_id)}
        people |= {click.user for found in clicks.values() for click in found}
        profiles = yield from self._people(people, self_id)
        answers = []
        for msg in replies:
            if id(msg) in clicks:
                for click in clicks[id(msg)]:
                    clicker = profiles.get(click.user)
                    if clicker is not None and not clicker.is_bot:  # people we cannot look up are skipped
                        answers.append(click.answer(guest=clicker.is_guest))
                continue
            is_bot = _is_bot_message(msg, self_id)
            profile = None if is_bot else profiles.get(msg.get("user") or "")
            if not is_bot and profile is None:
                continue  # a person we cannot look up: skipped (logged once by _people)
            answers.append(
                Answer(
                    kind="reply",
                    user=msg.get("user") or msg.get("bot_id") or "",
                    text=msg.get("text") or "",
                    ts=msg["ts"],
                    is_bot=is_bot or (profile is not None and profile.is_bot),
                    edited_ts=(msg.get("edited") or {}).get("ts"),
                    guest=bool(profile and profile.is_guest),
                )
            )
        return answers

    async def person_answer(self, kind: AnswerKind, user: str, text: str, ts: str = "") -> Answer | None:
        """A ``reaction`` (``text``: the emoji) or ``button`` (``text``: approve/reject) answer by
        ``user``, with what Slack says of them (bot? guest?); None when they cannot be looked up."""
        self_id = await self.aself_user_id()
        profile = (await self._arun(self._people({user}, self_id))).get(user)
        if profile is None:
            return None
        return Answer(kind=kind, user=user, text=text, ts=ts, is_bot=profile.is_bot, guest=profile.is_guest)

    def read_question(self, ref: MessageRef, *, check_archived: bool = False) -> QuestionRead:
        """One read of a question on the sync client, for a worker about to defer: the message with all
        its reactions and every reply, timed from when the read began, and, with ``check_archived``,
        whether the channel is still open (unknown without ``channels:read``). No pacing: it is one look.

        :raises ChatQuestionDeletedError: the question is gone.
        :raises ChatChannelArchivedError: asked to check, and the channel is archived.
        """
        started = time.time()
        snapshot, replies = self._run(self._thread(ref, None))
        open_since = 0.0  # not looked at: no timeout can rest on this read
        if check_archived:
            try:
                archived = self._run(self._archived(ref.channel))
            except ChatPermanentError as err:
                if err.code != "missing_scope":
                    raise
                log.warning("Cannot tell whether channel %s is archived (%s); add channels:read", ref.channel, err)
                open_since = math.inf  # the token may not tell: archiving goes unnoticed
            else:
                if archived:
                    raise ChatChannelArchivedError.of(conn_id=self.conn_id, channel=ref.channel)
                open_since = started
        return QuestionRead(snapshot, tuple(replies), started, started, self.self_user_id(), open_since)

    def read_groups(self, groups: Collection[str]) -> dict[str, frozenset[str]]:
        """The members of each user group, on the sync client (a worker's one look)."""
        return {group: self._run(self._group(group)) for group in sorted(groups)}

    async def read_channel(
        self, channel: str, *, oldest: str, questions: Collection[str] | None = None
    ) -> list[MessageSnapshot]:
        """Every top-level message from ``oldest`` (inclusive) on, oldest first (see
        :meth:`read_channel_pages`)."""
        pages = self.read_channel_pages(channel, oldest=oldest, questions=questions)
        messages = [snapshot async for page in pages for snapshot in page]
        return sorted(messages, key=lambda snapshot: ts_key(snapshot.ts))

    async def read_channel_pages(
        self, channel: str, *, oldest: str, questions: Collection[str] | None = None
    ) -> AsyncIterator[list[MessageSnapshot]]:
        """The top-level messages from ``oldest`` (inclusive) on, a page at a time as Slack returns
        them (newest first), so a reader can act on each page before the next one is read.

        :param questions: the ts of the messages whose reactions matter: only their reactors are
            looked up (None: every message's), so chatter in a busy channel costs no user lookups and
            cannot fail a read.
        """
        self_id = await self.aself_user_id()
        pages = self._aeach_page(
            Call.of("conversations.history", channel=channel, oldest=oldest, inclusive=True, include_all_metadata=True)
        )
        async for data in pages:
            yield await self._arun(self._history_page(channel, data, questions, self_id))

    def _history_page(
        self, channel: str, data: Mapping[str, Any], questions: Collection[str] | None, self_id: str | None
    ) -> Operation[list[MessageSnapshot]]:
        """One page of ``conversations.history`` as snapshots, the reactions of ``questions`` complete."""
        messages = self._checked(shapes.messages, data, "conversations.history", channel)
        wanted = [msg for msg in messages if questions is None or msg["ts"] in questions]
        complete = yield from self._complete_reactions(channel, wanted)
        profiles = yield from self._people(set().union(*(_reactors(msg) for msg in complete)), self_id)
        full = {msg["ts"]: msg for msg in complete}
        return [
            self._snapshot(full[msg["ts"]], self_id, profiles)
            if msg["ts"] in full
            else self._snapshot(msg, self_id, None)
            for msg in messages
        ]

    async def group_members(self, group_id: str) -> frozenset[str]:
        return await self._arun(self._group(group_id))

    def _group(self, group_id: str) -> Operation[frozenset[str]]:
        data = yield Call.of("usergroups.users.list", usergroup=group_id)
        return frozenset(self._checked(lambda d: shapes.user_ids(d, "users"), data, "usergroups.users.list", None))

    async def is_archived(self, channel: str) -> bool:
        """Whether the channel is archived (people can no longer answer in it)."""
        return await self._arun(self._archived(channel))

    def _archived(self, channel: str) -> Operation[bool]:
        data = yield Call.of("conversations.info", channel=channel)
        return bool(self._checked(shapes.channel, data, "conversations.info", channel).get("is_archived"))

    # -- reading helpers -----------------------------------------------------------------------
    @contextmanager
    def _checking(self, method: str, channel: str | None) -> Iterator[None]:
        """An answer that fails its shape check (slack_shapes) is garbled: a transient error for this read.
        Nothing else is caught: an error in our own code is a bug and fails loudly."""
        try:
            yield
        except shapes.SlackShapeError as err:
            raise self._malformed(method, channel, detail=str(err)) from err

    def _checked(self, check: Callable[[Any], T], data: Any, method: str, channel: str | None) -> T:
        """``check(data)``: Slack's answer in the shape it documents, or a transient malformed_response."""
        with self._checking(method, channel):
            return check(data)

    def _malformed(self, method: str, channel: str | None, *, detail: str = "") -> ChatTransientError:
        return ChatTransientError(
            f"malformed_response: Slack's answer to {method} could not be read"
            + (f" ({detail})" if detail else "")
            + f"; retrying [connection {self.conn_id!r}"
            + (f", channel {channel_label(channel)}" if channel else "")
            + "]",
            conn_id=self.conn_id,
            channel=channel,
            code="malformed_response",
        )

    def _snapshot(
        self, msg: Mapping[str, Any], self_id: str | None, profiles: Mapping[str, Profile | None] | None
    ) -> MessageSnapshot:
        """A message as read; its reactions only when ``profiles`` (of its reactors) is given."""
        reactions: list[Answer] = []
        for reaction in msg.get("reactions") or () if profiles is not None else ():
            for user in reaction["users"]:
                profile = (profiles or {}).get(user)
                if profile is not None:  # people we cannot look up are skipped
                    reactions.append(
                        Answer(kind="reaction", user=user, text=reaction["name"], is_bot=profile.is_bot,
                               guest=profile.is_guest)
                    )
        return MessageSnapshot(
            ts=msg["ts"],
            user=msg.get("user"),
            text=msg.get("text") or "",
            reply_count=int(msg.get("reply_count") or 0),
            latest_reply=msg.get("latest_reply"),
            reactions=tuple(reactions),
            metadata=msg.get("metadata"),
            is_bot=_is_bot_message(msg, self_id),
        )

    def _complete_reactions(
        self, channel: str, messages: list[Mapping[str, Any]]
    ) -> Operation[list[Mapping[str, Any]]]:
        """``messages`` with every reaction's users: Slack lists only the first few users of a popular
        reaction (``count`` stays complete), so where a list was cut short all of them are read with
        ``reactions.get(full=true)``."""
        complete = []
        for msg in messages:
            if any((r.get("count") or 0) > len(r["users"]) for r in msg.get("reactions") or ()):
                data = yield Call.of("reactions.get", channel=channel, timestamp=msg["ts"], full=True)
                reacted = self._checked(shapes.reacted_message, data, "reactions.get", channel)
                msg = {**msg, "reactions": reacted.get("reactions") or []}
            complete.append(msg)
        return complete

    def _people(self, users: Collection[str | None], self_id: str | None) -> Operation[dict[str, Profile | None]]:
        """Each user's :class:`Profile` from users.info (kept for a while, a few lookups at a time).

        The app itself and Slackbot are bots without a lookup. A user that cannot be looked up
        (``user_not_found``, ``user_not_visible``) maps to None: their answers are skipped, with one
        warning, and nobody else's read fails because of them.
        """
        now = time.monotonic()
        team = (yield from self._identity()).get("team_id")  # a member of another team is a guest here
        known = {u for u in users if u}
        stale = [
            user
            for user in known
            if user not in (self_id, SLACKBOT_USER_ID)
            and (user not in self._profiles or now - self._profiles[user][0] > PROFILE_TTL_SECONDS)
        ]
        yield Together(tuple(self._look_up(user, team) for user in stale), at_most=USER_LOOKUP_CONCURRENCY)
        own = Profile(is_bot=True, is_guest=False)
        return {user: own if user in (self_id, SLACKBOT_USER_ID) else self._profiles[user][1] for user in known}

    def _look_up(self, user: str, team: str | None) -> Operation[None]:
        """One person's :class:`Profile`, kept in ``self._profiles`` (None: Slack will not show them)."""
        profile: Profile | None
        try:
            response = yield Call.of("users.info", user=user)
            profile = _profile(self._checked(shapes.user, response, "users.info", None), team)
        except ChatPermanentError as err:
            if err.code not in UNKNOWN_USER_ERRORS:
                raise
            log.warning("Skipping the answers of user %s: Slack does not show them to the app (%s)", user, err.code)
            profile = None
        self._profiles[user] = (time.monotonic(), profile)

def _present(**kwargs: Any) -> dict[str, Any]:
    """The keyword arguments that have a value (Slack reads an empty argument as given)."""
    return {key: value for key, value in kwargs.items() if value}


def _reactors(msg: Mapping[str, Any] | None) -> set[str]:
    return {user for reaction in (msg or {}).get("reactions") or () for user in reaction["users"]}


def _profile(user: Mapping[str, Any], team: str | None) -> Profile:
    """A person's :class:`Profile` from their ``users.info`` record; a member of a team other than
    ``team`` (the app's) is a guest here."""
    return Profile(
        is_bot=bool(user.get("is_bot")),
        is_guest=bool(
            user.get("is_restricted")
            or user.get("is_ultra_restricted")
            or user.get("is_stranger")
            or (team and user.get("team_id") and user["team_id"] != team)
        ),
    )
