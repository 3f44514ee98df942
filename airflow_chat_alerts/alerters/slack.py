"""SlackAlerter: BaseAlerter on the Slack Web API through slack_sdk.

Workers use a sync ``WebClient``; the triggerer uses an ``AsyncWebClient`` (never a sync client or a
sync retry handler there: those sleep with ``time.sleep``). Both are built lazily, so importing this
module is cheap and a worker never builds the async client. Every Slack failure becomes one of our
exception types via ``slack_errors``; the token is never put in a message or a log line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from airflow_chat_alerts import formatting
from airflow_chat_alerts.alerters.base import (
    ASK_EVENT_TYPE,
    Answer,
    BaseAlerter,
    Capabilities,
    Message,
    MessageRef,
    MessageSnapshot,
    PostedQuestion,
)
from airflow_chat_alerts.alerters.redaction import Redact, Scrubber, ScrubbingLogger, no_redaction, redact_strings
from airflow_chat_alerts.alerters.slack_errors import (
    channel_label,
    looks_like_channel_id,
    retry_after_seconds,
    slack_error,
)
from airflow_chat_alerts.exceptions import (
    ChatAlertError,
    ChatConfigError,
    ChatPermanentError,
    ChatQuestionDeletedError,
    ChatTransientError,
)

if TYPE_CHECKING:
    import aiohttp
    from slack_sdk import WebClient
    from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

PAGE_SIZE = 200
# users.info is tier 4 (100+/min): a few lookups at a time keep a burst of new reactors polite.
USER_LOOKUP_CONCURRENCY = 4
# Errors about a channel that exists: its name makes the message clearer than its id alone.
NAMEABLE_CHANNEL_ERRORS = frozenset({"not_in_channel", "is_archived", "restricted_action", "no_permission"})
# Slack's own bot posts as a user id whose profile does not say is_bot.
SLACKBOT_USER_ID = "USLACKBOT"


def ts_key(ts: str) -> Decimal:
    """Slack ts strings compared as numbers (floats lose the last digits)."""
    return Decimal(ts)


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
    :param redact: applied to every string posted (the hook passes Airflow's secrets masker).
    """

    capabilities = Capabilities(ask=True, threads=True, reactions=True, buttons=False, files=True)

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
        self._client: WebClient | None = None
        self._async_client: AsyncWebClient | None = None
        self._self_user_id: str | None = None
        self._user_is_bot: dict[str, bool] = {}
        self._channel_names: dict[str, str] = {}  # id -> name, learned from posts by name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.conn_id!r}, base_url={self.base_url!r})"

    # -- clients -------------------------------------------------------------------------------
    def _client_kwargs(self) -> dict[str, Any]:
        kwargs = {"token": self._token, "base_url": self.base_url, "timeout": self.timeout, "proxy": self.proxy}
        return {key: value for key, value in kwargs.items() if value is not None}

    @property
    def client(self) -> WebClient:
        """The sync client (workers), built on first use; waits out 429s and retries dropped connections."""
        if self._client is None:
            from slack_sdk import WebClient
            from slack_sdk.http_retry.builtin_handlers import (
                ConnectionErrorRetryHandler,
                RateLimitErrorRetryHandler,
            )

            self._client = WebClient(
                **self._client_kwargs(),
                logger=self._client_logger,
                retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2), ConnectionErrorRetryHandler()],
            )
        return self._client

    @property
    def async_client(self) -> AsyncWebClient:
        """The async client (triggerer), built on first use, with async retry handlers only."""
        if self._async_client is None:
            from slack_sdk.http_retry.builtin_async_handlers import (
                AsyncConnectionErrorRetryHandler,
                AsyncRateLimitErrorRetryHandler,
            )
            from slack_sdk.web.async_client import AsyncWebClient

            self._async_client = AsyncWebClient(
                **self._client_kwargs(),
                session=self._session,
                logger=self._client_logger,
                retry_handlers=[AsyncRateLimitErrorRetryHandler(), AsyncConnectionErrorRetryHandler()],
            )
        return self._async_client

    def close(self) -> None:
        self._client = None

    async def aclose(self) -> None:
        # The shared session, if any, belongs to whoever passed it; slack_sdk closes its own per call.
        self._async_client = None

    # -- calls ---------------------------------------------------------------------------------
    def _call(self, method: str, *, channel: str | None = None, question: bool = False, **kwargs: Any) -> dict:
        """Call a Web API method on the sync client; failures become our exceptions.

        :param channel: passed on to Slack and named in errors.
        :param question: the call reads a question: a missing message means it was deleted.
        """
        if channel is not None:
            kwargs["channel"] = channel
        try:
            return getattr(self.client, method.replace(".", "_"))(**kwargs).data
        except Exception as err:
            error = self._translate(err, method=method, channel=channel, question=question)
            if getattr(error, "code", None) in NAMEABLE_CHANNEL_ERRORS and self._learn_channel_name(channel):
                error = self._translate(err, method=method, channel=channel, question=question)
            raise error from err

    async def _acall(self, method: str, *, channel: str | None = None, question: bool = False, **kwargs: Any) -> dict:
        """Call a Web API method on the async client; failures become our exceptions."""
        if channel is not None:
            kwargs["channel"] = channel
        try:
            return (await getattr(self.async_client, method.replace(".", "_"))(**kwargs)).data
        except Exception as err:
            raise self._translate(err, method=method, channel=channel, question=question) from err

    def _translate(self, err: Exception, *, method: str, channel: str | None, question: bool) -> Exception:
        from slack_sdk.errors import SlackApiError, SlackClientError

        if isinstance(err, ChatAlertError):
            return err
        if isinstance(err, SlackApiError):
            response = err.response
            data = response.data if isinstance(response.data, dict) else {}
            status = response.status_code
            code = data.get("error") or ("ratelimited" if status == 429 else f"http_{status}")
            return slack_error(
                code,
                conn_id=self.conn_id,
                method=method,
                channel=channel,
                channel_name=self._channel_names.get(channel or ""),
                status=status,
                retry_after=retry_after_seconds(response.headers),
                response=data,
                question=question,
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

    def _pages(self, method: str, key: str, **kwargs: Any) -> list[dict]:
        items: list[dict] = []
        cursor = None
        while True:
            data = self._call(method, **kwargs, limit=self.page_size, **({"cursor": cursor} if cursor else {}))
            items.extend(data.get(key) or [])
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return items

    async def _apages(self, method: str, key: str, **kwargs: Any) -> list[dict]:
        items: list[dict] = []
        cursor = None
        while True:
            data = await self._acall(method, **kwargs, limit=self.page_size, **({"cursor": cursor} if cursor else {}))
            items.extend(data.get(key) or [])
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return items

    # -- identity ------------------------------------------------------------------------------
    def auth_test(self) -> dict[str, Any]:
        """Slack's ``auth.test`` for this token (team, bot user id); also caches the app's user id."""
        data = self._call("auth.test")
        self._self_user_id = data.get("user_id")
        return data

    def self_user_id(self) -> str | None:
        """The app's own user id (its answers never count)."""
        if self._self_user_id is None:
            self.auth_test()
        return self._self_user_id

    async def aself_user_id(self) -> str | None:
        """The app's own user id, read without blocking the event loop."""
        if self._self_user_id is None:
            self._self_user_id = (await self._acall("auth.test")).get("user_id")
        return self._self_user_id

    # -- posting -------------------------------------------------------------------------------
    def _target(self, channel: str | None) -> str:
        target = channel or self.default_channel
        if not target:
            raise ChatConfigError(
                f"no channel: give a channel, or set the extra 'channel' of connection {self.conn_id!r}",
                conn_id=self.conn_id,
            )
        return target

    def _payload(self, message: Message) -> dict[str, Any]:
        if not (message.text or "").strip() and not message.blocks:
            raise ChatConfigError(
                f"empty message: nothing to post through connection {self.conn_id!r}", conn_id=self.conn_id
            )
        payload: dict[str, Any] = {"text": formatting.fit_text(message.text or "")}
        if message.blocks:
            payload["blocks"] = formatting.fit_blocks(list(message.blocks))
        if message.metadata:
            payload["metadata"] = message.metadata
        return redact_strings(payload, self._redact)

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
        for conversation in self._pages(
            "conversations.list", "channels", types="public_channel,private_channel", exclude_archived=True
        ):
            self._channel_names.setdefault(conversation["id"], conversation["name"])
            if conversation["name"] == name:
                return conversation["id"]
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
        target = self._target(channel)
        payload = self._payload(message)
        data = self._call(
            "chat.postMessage", channel=target, **payload, **({"thread_ts": thread_ts} if thread_ts else {})
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
        target = self._target(channel)
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
        self, channel: str, *, match: Mapping[str, Any], oldest: str | None = None
    ) -> PostedQuestion | None:
        channel = self.channel_id(channel)
        cursor = None
        while True:
            data = self._call(
                "conversations.history",
                channel=channel,
                include_all_metadata=True,
                limit=self.page_size,
                **({"oldest": oldest} if oldest else {}),
                **({"cursor": cursor} if cursor else {}),
            )
            for msg in data.get("messages") or []:  # newest first
                metadata = msg.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if (
                    metadata.get("event_type") == ASK_EVENT_TYPE
                    and "outcome" not in payload
                    and all(payload.get(key) == value for key, value in match.items())
                ):
                    ref = MessageRef(channel=channel, ts=msg["ts"], permalink=self.permalink(channel, msg["ts"]))
                    return PostedQuestion(ref=ref, payload=dict(payload))
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None

    async def read_thread(self, ref: MessageRef, *, oldest: str | None = None) -> tuple[MessageSnapshot, list[Answer]]:
        messages = await self._apages(
            "conversations.replies",
            "messages",
            channel=ref.channel,
            question=True,
            ts=ref.ts,
            include_all_metadata=True,
        )
        parent = messages[0] if messages else None
        if parent is None or parent.get("ts") != ref.ts or parent.get("subtype") == "tombstone":
            raise ChatQuestionDeletedError(
                f"message_not_found: the question {ref.ts} was deleted from {channel_label(ref.channel)} "
                f"[connection {self.conn_id!r}, conversations.replies]",
                conn_id=self.conn_id,
                channel=ref.channel,
                code="message_not_found",
            )
        self_id = await self.aself_user_id()
        since = ts_key(oldest) if oldest else None
        replies = [
            Answer(
                kind="reply",
                user=msg.get("user") or msg.get("bot_id") or "",
                text=msg.get("text") or "",
                ts=msg["ts"],
                is_bot=_is_bot_message(msg, self_id),
                edited_ts=(msg.get("edited") or {}).get("ts"),
            )
            for msg in messages[1:]
            if msg.get("subtype") != "tombstone" and (since is None or ts_key(msg["ts"]) > since)
        ]
        snapshots = await self._snapshots([parent], self_id)
        return snapshots[0], replies

    async def read_channel(self, channel: str, *, oldest: str) -> list[MessageSnapshot]:
        """Every top-level message from ``oldest`` (inclusive) on, oldest first."""
        messages = await self._apages(
            "conversations.history",
            "messages",
            channel=channel,
            oldest=oldest,
            inclusive=True,
            include_all_metadata=True,
        )
        messages.sort(key=lambda msg: ts_key(msg["ts"]))
        return await self._snapshots(messages, await self.aself_user_id())

    async def group_members(self, group_id: str) -> frozenset[str]:
        data = await self._acall("usergroups.users.list", usergroup=group_id)
        return frozenset(data.get("users") or ())

    # -- reading helpers -----------------------------------------------------------------------
    async def _snapshots(self, messages: list[dict], self_id: str | None) -> list[MessageSnapshot]:
        reactors = {user for msg in messages for reaction in msg.get("reactions") or () for user in reaction["users"]}
        bots = await self._users_are_bots(reactors, self_id)
        return [
            MessageSnapshot(
                ts=msg["ts"],
                user=msg.get("user"),
                text=msg.get("text") or "",
                reply_count=int(msg.get("reply_count") or 0),
                latest_reply=msg.get("latest_reply"),
                reactions=tuple(
                    Answer(kind="reaction", user=user, text=reaction["name"], is_bot=bots[user])
                    for reaction in msg.get("reactions") or ()
                    for user in reaction["users"]
                ),
                metadata=msg.get("metadata"),
                is_bot=_is_bot_message(msg, self_id),
            )
            for msg in messages
        ]

    async def _users_are_bots(self, users: set[str], self_id: str | None) -> dict[str, bool]:
        """Whether each user is a bot, from users.info (cached per alerter, a few lookups at a time)."""
        limit = asyncio.Semaphore(USER_LOOKUP_CONCURRENCY)

        async def lookup(user: str) -> None:
            async with limit:
                try:
                    profile = (await self._acall("users.info", user=user)).get("user") or {}
                except ChatPermanentError as err:
                    if err.code != "user_not_found":
                        raise
                    profile = {}
            self._user_is_bot[user] = bool(profile.get("is_bot"))

        unknown = [user for user in users if user not in self._user_is_bot and user not in (self_id, SLACKBOT_USER_ID)]
        await asyncio.gather(*(lookup(user) for user in unknown))
        return {user: user in (self_id, SLACKBOT_USER_ID) or self._user_is_bot[user] for user in users}
