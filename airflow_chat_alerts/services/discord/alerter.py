"""DiscordAlerter: the alerter abstraction on a Discord bot, through hikari's REST client.

Every operation is written once, as a coroutine taking a REST client. Workers run it on a client of its
own (``asyncio.run`` around it: :func:`~._rest.run_blocking`), with no resend after a lost answer; the
triggerer runs it on the loop's client, kept until the connection closes. Every hikari failure becomes one
of the package's errors (:func:`~._rest.error_of`), naming the connection, the channel and Discord's code.

What Discord differs in, and how it maps (the README's "Discord" section says the same to users):

* **Message ids are the ts.** A message is addressed by its id, written as a ``ts`` (:mod:`._ids`) so that
  deadlines, reminders and answers in time order work as on Slack.
* **Threads are replies.** Posting "in the thread" of a message (``thread_ts``: a reminder, files after an
  alert) replies to it; answers are replies to the question or messages in a thread started on it.
* **No message metadata.** A question's identity rides in its buttons (:mod:`._clicks`); a click is
  recorded by the interaction response that acknowledges it.
* **Reactions are counts.** A read lists each emoji's count; the people are read per emoji, for questions
  only. Neither a read nor a Gateway event says when a reaction was added.
* **People.** Bots never count. A member with no role (only ``@everyone``) or still pending the server's
  membership screening is a guest: they count only when named, or with ``allow_guests``. Approver roles
  are read per person (Discord lists no role's members without a privileged intent): whoever answered is
  looked up (``GET /guilds/{guild}/members/{user}``), and a role's members are those who hold it among them,
  read again before a decision rests on them.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_chat_alerts.alerters.base import BaseAlerter, Capabilities
from airflow_chat_alerts.alerters.redaction import Redact, no_redaction, redact_strings
from airflow_chat_alerts.exceptions import (
    ChatChannelArchivedError,
    ChatConfigError,
    ChatPermanentError,
    ChatQuestionDeletedError,
    ChatTransientError,
)
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
from airflow_chat_alerts.services.discord._clicks import identity_digest, parse_custom_id
from airflow_chat_alerts.services.discord._ids import first_id_at, id_of, id_time, ts_of
from airflow_chat_alerts.services.discord._markup import to_discord
from airflow_chat_alerts.services.discord._reading import (
    Seen,
    answers_to,
    by_question,
    click_of_record,
    question_identity,
    reply_answer,
    snapshot,
)
from airflow_chat_alerts.services.discord._render import MAX_CONTENT, render, truncate
from airflow_chat_alerts.services.discord._rest import RestClients, error_of, message_kwargs, run_blocking, seen_of
from airflow_chat_alerts.utils import ts_key

if TYPE_CHECKING:
    from hikari.impl import RESTClientImpl

log = logging.getLogger(__name__)

T = TypeVar("T")

# A worker's question lookup reads at most this many messages of history (newest first).
MAX_LOOKUP_MESSAGES = 500
# How long a person's profile (bot? guest? roles) is trusted before it is read again.
PROFILE_TTL_SECONDS = 600.0
# Discord's largest page of messages or of a reaction's users: a request each.
PAGE = 100
# Member lookups at once (a burst of new answerers).
LOOKUP_CONCURRENCY = 4
# Where Discord's own links to messages start.
PERMALINK_BASE = "https://discord.com/channels"
# The triggerer's requests go at most this often: under Discord's global 50 a second per bot, with room for
# the workers' posts and the Gateway's own calls.
GLOBAL_PER_SECOND = 40.0


class _Gate:
    """What keeps the triggerer's requests within Discord's limits before hikari's own bookkeeping: one request
    at a time per route and channel (hikari learns a bucket from each answer, and two in flight would let a
    late answer tell it more room than is left), and an even pace across all routes under the global limit.
    One per event loop (its locks belong to the loop)."""

    def __init__(self) -> None:
        self._lanes: dict[tuple[str, str | None], asyncio.Lock] = {}
        self._next = 0.0

    async def __call__(self, operation: str, channel: str | None) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        now = loop.time()
        start = max(now, self._next)
        self._next = start + 1.0 / GLOBAL_PER_SECOND
        if start > now:
            await asyncio.sleep(start - now)
        return self._lanes.setdefault((operation, channel), asyncio.Lock())


@dataclass(frozen=True)
class Profile:
    """What an answer needs to know about the person who gave it.

    :param is_bot: a bot (never counts).
    :param is_guest: no role but ``@everyone``, or pending membership screening.
    :param roles: the person's roles (ids).
    """

    is_bot: bool
    is_guest: bool
    roles: frozenset[int] = frozenset()


class DiscordAlerter(BaseAlerter):
    """Posts, updates and reads Discord messages for one Airflow connection (a bot).

    :param conn_id: the Airflow connection (named in every error).
    :param token: the bot token; never logged, never in an error.
    :param base_url: the REST base (``https://discord.com/api/v10``).
    :param timeout: seconds per request.
    :param proxy: an HTTP proxy URL.
    :param default_channel: the channel id used when a call gives none.
    :param guild_id: the guild whose roles authorise approvers (None: the channel's).
    :param redact: applied to every string posted (the hook passes Airflow's secrets masker).
    :param worker: calls are made from sync code (no resend of a post whose answer was lost).
    """

    capabilities = Capabilities(ask=True, threads=True, files=True)

    def __init__(
        self,
        *,
        conn_id: str,
        token: str,
        base_url: str,
        timeout: int | None = None,
        proxy: str | None = None,
        default_channel: str | None = None,
        guild_id: int | None = None,
        redact: Redact = no_redaction,
    ) -> None:
        super().__init__(conn_id=conn_id, default_channel=default_channel)
        if not token:
            raise ChatConfigError(f"Connection {conn_id!r} has no Discord bot token; put it in its password",
                                  conn_id=conn_id, code="not_authed")
        self.base_url = base_url
        self._redact = redact
        self._guild_id = guild_id
        self._worker = RestClients(token=token, base_url=base_url, timeout=timeout, proxy=proxy, max_retries=0)
        self._clients = RestClients(token=token, base_url=base_url, timeout=timeout, proxy=proxy, max_retries=3)
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Gate] = weakref.WeakKeyDictionary()
        self._bot_id: int | None = None
        self._guilds: dict[int, int] = {}  # channel -> its guild
        self._profiles: dict[int, tuple[float, Profile | None]] = {}  # user -> (read at, profile)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.conn_id!r}, base_url={self.base_url!r})"

    # -- running operations ---------------------------------------------------------------------------
    def _sync(self, operation: Callable[[RESTClientImpl], Awaitable[T]]) -> T:
        """Run ``operation`` from a worker, on a client of its own."""
        return run_blocking(lambda: self._worker.once(operation))

    async def _async(self, operation: Callable[[RESTClientImpl], Awaitable[T]]) -> T:
        """Run ``operation`` on the running loop's client (the triggerer)."""
        return await operation(await self._clients.client())

    async def aclose(self) -> None:
        await self._clients.aclose()

    async def rest(self) -> RESTClientImpl:
        """The running loop's REST client (the push stream answers clicks with it)."""
        return await self._clients.client()

    async def _call(self, call: Awaitable[T], operation: str, channel: Any = None, question: str | None = None) -> T:
        """Await one hikari call (the triggerer's through its loop's :class:`_Gate`); its failure as the
        package's error."""
        where = str(channel) if channel is not None else None
        try:
            if self._clients.serves_running_loop():
                loop = asyncio.get_running_loop()
                gate = self._gates.get(loop) or self._gates.setdefault(loop, _Gate())
                try:
                    lane = await gate(operation, where)
                    await lane.acquire()
                except BaseException:  # cancelled while waiting its turn: the call is never made
                    if asyncio.iscoroutine(call):
                        call.close()
                    raise
                try:
                    return await call
                finally:
                    lane.release()
            return await call
        except Exception as err:
            raise error_of(err, conn_id=self.conn_id, operation=operation,
                           channel=str(channel) if channel is not None else None, question=question) from err

    # -- identity -------------------------------------------------------------------------------------
    async def _bot(self, rest: RESTClientImpl) -> int:
        if self._bot_id is None:
            me = await self._call(rest.fetch_my_user(), "get_current_user")
            self._bot_id = int(me.id)
        return self._bot_id

    def self_user_id(self) -> str:
        """The bot's user id (its own answers never count)."""
        return str(self._bot_id if self._bot_id is not None else self._sync(self._bot))

    async def aself_user_id(self) -> str | None:
        return str(await self._async(self._bot))

    async def app_identity(self) -> tuple[str | None, str | None]:
        """The bot's user id (and no separate bot id: on Discord they are one)."""
        return await self.aself_user_id(), None

    def auth_test(self) -> dict[str, Any]:
        """Who the token is (``GET /users/@me``): ``user``, ``user_id``, ``bot``."""

        async def me(rest: RESTClientImpl) -> dict[str, Any]:
            user = await self._call(rest.fetch_my_user(), "get_current_user")
            self._bot_id = int(user.id)
            return {"user": user.username, "user_id": str(user.id), "bot": user.is_bot}

        return self._sync(me)

    async def _guild(self, rest: RESTClientImpl, channel: int) -> int:
        if self._guild_id is not None:
            return self._guild_id
        if channel not in self._guilds:
            found = await self._call(rest.fetch_channel(channel), "get_channel", channel)
            guild = getattr(found, "guild_id", None)
            if guild is None:
                raise ChatPermanentError(
                    f"not_a_guild_channel: channel {channel} is not in a server; ask in a server's text channel "
                    f"[connection {self.conn_id!r}]",
                    conn_id=self.conn_id, channel=str(channel), code="not_a_guild_channel",
                )
            self._guilds[channel] = int(guild)
        return self._guilds[channel]

    def _channel(self, channel: str | None) -> int:
        target = self.channel_for(channel)
        text = target.lstrip("#")
        if not text.isdigit():
            raise ChatConfigError(
                f"channel {target!r} is not a Discord channel id: give the channel's id (right-click the channel, "
                f"Copy Channel ID) [connection {self.conn_id!r}]", conn_id=self.conn_id, channel=target,
            )
        return int(text)

    async def _permalink(self, rest: RESTClientImpl, channel: int, message_id: int) -> str | None:
        try:
            guild = await self._guild(rest, channel)
        except ChatPermanentError:
            return None
        return f"{PERMALINK_BASE}/{guild}/{channel}/{message_id}"

    # -- posting --------------------------------------------------------------------------------------
    def _redacted(self, message: Message) -> Message:
        return Message(
            text=self._redact(message.text or ""),
            blocks=redact_strings(list(message.blocks), self._redact) if message.blocks else None,
            context=message.context,
            metadata=message.metadata,
        )

    def post(self, message: Message, *, channel: str | None = None, thread_ts: str | None = None) -> MessageRef:
        target = self._channel(channel)
        rendered = render(self._redacted(message), conn_id=self.conn_id)
        return self._sync(lambda rest: self._apost(rest, rendered, target, thread_ts))

    async def apost_message(self, message: Message, *, channel: str, thread_ts: str | None = None) -> MessageRef:
        """:meth:`post` on the triggerer's loop."""
        rendered = render(self._redacted(message), conn_id=self.conn_id)
        return await self._async(lambda rest: self._apost(rest, rendered, int(channel), thread_ts))

    async def _apost(self, rest: RESTClientImpl, rendered: Any, channel: int, thread_ts: str | None) -> MessageRef:
        kwargs = message_kwargs(rest, rendered)
        if thread_ts:
            kwargs.update(reply=id_of(thread_ts), reply_must_exist=False, mentions_reply=False)
        posted = await self._call(rest.create_message(channel, **kwargs), "create_message", channel)
        return MessageRef(channel=str(channel), ts=ts_of(posted.id),
                          permalink=await self._permalink(rest, channel, int(posted.id)), thread_ts=thread_ts)

    def update(self, ref: MessageRef, message: Message) -> None:
        rendered = render(self._redacted(message), conn_id=self.conn_id)

        async def edit(rest: RESTClientImpl) -> None:
            channel, message_id = int(ref.channel), id_of(ref.ts)
            call = rest.edit_message(channel, message_id, **message_kwargs(rest, rendered, edit=True))
            await self._call(call, "edit_message", channel, question=ref.ts)

        self._sync(edit)

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
        """Upload a file as an attachment of a message (a reply to ``thread_ts``'s message when given), with
        ``comment`` (or the title) as its text. The ref is the message's; its permalink the file's URL."""
        import hikari

        target = self._channel(channel)
        text = self._redact(comment or title or "")
        caption = truncate(to_discord(text).text, MAX_CONTENT) if text else hikari.UNDEFINED

        async def upload(rest: RESTClientImpl) -> MessageRef:
            kwargs: dict[str, Any] = {"attachment": hikari.Bytes(content, filename), "user_mentions": False,
                                      "role_mentions": False, "mentions_everyone": False}
            if thread_ts:
                kwargs.update(reply=id_of(thread_ts), reply_must_exist=False, mentions_reply=False)
            posted = await self._call(rest.create_message(target, caption, **kwargs), "create_message", target)
            url = posted.attachments[0].url if posted.attachments else None
            return MessageRef(channel=str(target), ts=ts_of(posted.id), permalink=url, thread_ts=thread_ts)

        return self._sync(upload)

    # -- asking: a worker's look -----------------------------------------------------------------------
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
        """The newest undecided question the bot posted whose buttons name the task instance ``match``
        (dag_id, run_id, task_id, map_index), and whose deadline lies within ``timeout`` (+ ``clock_skew``)
        of its post. Reads history newest first back to ``oldest``, at most :data:`MAX_LOOKUP_MESSAGES`
        messages; a message naming the same ask that the bot did not post is ignored with a warning.

        :raises ChatTransientError: the lookup could not finish (``lookup_incomplete``).
        """
        if event_type != ASK_EVENT_TYPE:
            self.require("hitl")
        target = self._channel(channel)
        wanted = identity_digest(match)
        floor = first_id_at(oldest) if oldest else 0

        async def look(rest: RESTClientImpl) -> PostedQuestion | None:
            await self._bot(rest)  # who the bot is, before its messages are told from others'
            read = 0
            pages = rest.fetch_messages(target).chunk(PAGE)
            while read < MAX_LOOKUP_MESSAGES:
                try:
                    page = await self._call(pages.__anext__(), "list_messages", target)
                except StopAsyncIteration:
                    return None
                for found in page:
                    message = seen_of(found)
                    if message.id < floor:
                        return None
                    read += 1
                    posted = await self._ours(rest, message, wanted, match, timeout, clock_skew, target)
                    if posted is not None:
                        return posted
            raise ChatTransientError(
                f"lookup_incomplete: more than {MAX_LOOKUP_MESSAGES} messages in channel {target} since "
                f"{oldest or 'the start'}; the question an earlier try may have posted was not found in them "
                f"[connection {self.conn_id!r}, list_messages]",
                conn_id=self.conn_id, channel=str(target), code="lookup_incomplete",
            )

        return self._sync(look)

    async def _ours(self, rest: RESTClientImpl, message: Seen, wanted: str, match: Mapping[str, Any],
                    timeout: float | None, clock_skew: float, channel: int) -> PostedQuestion | None:
        """``message`` as the question of the ask ``match`` names, when it is one the bot posted in time."""
        parsed = [p for p in map(parse_custom_id, message.custom_ids) if p is not None]
        if not parsed or parsed[0][1].digest != wanted:
            return None
        identity = question_identity(message, await self._bot(rest))
        why_not = self._not_our_question(message, identity, timeout=timeout, clock_skew=clock_skew)
        if why_not or identity is None:
            log.warning("Ignoring message %s in %s as this task's question: %s", message.id, channel, why_not)
            return None
        permalink = await self._permalink(rest, channel, message.id)
        ref = MessageRef(channel=str(channel), ts=message.ts, permalink=permalink)
        return PostedQuestion(ref=ref, payload=identity.payload(match))

    def _not_our_question(self, message: Seen, identity: Any, *, timeout: float | None,
                          clock_skew: float) -> str | None:
        if identity is None:
            return f"posted by {message.author_id}, not by this bot" if message.author_id != self._bot_id else (
                "its buttons disagree")
        if timeout is None:
            return None
        deadline = datetime.fromisoformat(identity.deadline)
        after_post = (deadline - id_time(message.id)).total_seconds()
        if not -clock_skew <= after_post <= timeout + clock_skew:
            return f"its deadline {identity.deadline} is not within the ask's timeout ({timeout:g} s) of its post"
        return None

    def read_question(self, ref: MessageRef, *, check_archived: bool = False) -> QuestionRead:
        """One read of a question from a worker: the message, its reactions and every answer, timed from when
        the read began, and with ``check_archived`` whether its channel still takes answers."""
        started = time.time()

        async def look(rest: RESTClientImpl) -> QuestionRead:
            question, replies = await self._thread(rest, ref)
            open_since = 0.0
            if check_archived:
                if await self._archived(rest, int(ref.channel)):
                    raise ChatChannelArchivedError.of(conn_id=self.conn_id, channel=ref.channel)
                open_since = started
            return QuestionRead(question, tuple(replies), started, started, str(await self._bot(rest)), open_since)

        return self._sync(look)

    def read_groups(self, groups: Collection[str]) -> dict[str, frozenset[str]]:
        """The members of each approver role among the people known here (a worker's one look reads every
        answerer just before)."""
        return {group: self._holders(group) for group in sorted(groups)}

    # -- asking: the triggerer's reads ----------------------------------------------------------------------
    async def read_thread(self, ref: MessageRef, *, oldest: str | None = None) -> tuple[MessageSnapshot, list[Answer]]:
        """The question (its reactions with who added them) and every answer: replies to it, messages in its
        thread, the records of clicks on its buttons; ``oldest``: only answers after it."""
        question, answers = await self._async(lambda rest: self._thread(rest, ref))
        if oldest:
            answers = [answer for answer in answers if ts_key(answer.ts) > ts_key(oldest)]
        return question, answers

    async def _thread(self, rest: RESTClientImpl, ref: MessageRef) -> tuple[MessageSnapshot, list[Answer]]:
        channel, question_id = int(ref.channel), id_of(ref.ts)
        messages = await self._history(rest, channel, after=question_id - 1)
        if not messages or messages[0].id != question_id:
            raise ChatQuestionDeletedError(
                f"message_not_found: the question {ref.ts} was deleted from channel {channel} "
                f"[connection {self.conn_id!r}, list_messages]",
                conn_id=self.conn_id, channel=str(channel), code="message_not_found",
            )
        question = messages[0]
        thread: list[Seen] = []
        if question.thread_count or question.thread_last:
            thread = await self._history(rest, question_id, after=question_id)
        answering = answers_to(question_id, channel, messages[1:] + thread)
        reactions = await self._reactions(rest, channel, question)
        replies = await self._answers(rest, channel, question_id, answering)
        in_channel = [message for message in answering if message.channel_id == channel]
        return snapshot(question, in_channel, reactions), replies

    async def _history(self, rest: RESTClientImpl, channel: int, *, after: int) -> list[Seen]:
        """Every message of a channel (or thread) after ``after``, oldest first."""
        pages = rest.fetch_messages(channel, after=max(after, 0)).chunk(PAGE)
        messages: list[Seen] = []
        while True:  # a page at a time: one request each
            try:
                page = await self._call(pages.__anext__(), "list_messages", channel)
            except StopAsyncIteration:
                return messages
            messages.extend(seen_of(found) for found in page)

    async def read_channel(
        self, channel: str, *, oldest: str, questions: Collection[str] | None = None
    ) -> list[MessageSnapshot]:
        pages = self.read_channel_pages(channel, oldest=oldest, questions=questions)
        return [snapshot_ async for page in pages for snapshot_ in page]

    async def read_channel_pages(
        self, channel: str, *, oldest: str, questions: Collection[str] | None = None
    ) -> AsyncIterator[list[MessageSnapshot]]:
        """The channel's messages from ``oldest`` on, oldest first, in one page: a question's answers come
        after it, so each question's count of answers is known only once everything is read. The reactions
        of ``questions`` (None: of every message) are read with who added them."""
        target = int(channel)

        async def read(rest: RESTClientImpl) -> list[MessageSnapshot]:
            messages = await self._history(rest, target, after=first_id_at(oldest) - 1)
            wanted = {message.id: message for message in messages
                      if questions is None or message.ts in questions}
            grouped = by_question(messages, target, wanted)
            shots = []
            for message in messages:
                if message.id in wanted:
                    reactions = await self._reactions(rest, target, message)
                    shots.append(snapshot(message, grouped[message.id], reactions))
                else:
                    shots.append(snapshot(message, []))
            return shots

        yield await self._async(read)

    async def _reactions(self, rest: RESTClientImpl, channel: int, message: Seen) -> list[Answer]:
        """A message's reactions with who added each (one read per emoji); their time is unknown."""
        found: list[tuple[str, int, bool]] = []
        for reaction in message.reactions:
            if reaction.count <= int(reaction.me):
                continue  # only the bot's own
            pages = rest.fetch_reactions_for_emoji(channel, message.id, reaction.path).chunk(PAGE)
            while True:
                try:
                    page = await self._call(pages.__anext__(), "list_reactions", channel)
                except StopAsyncIteration:
                    break
                found.extend((reaction.name, int(reactor.id), bool(reactor.is_bot)) for reactor in page)
        profiles = await self._people(rest, channel, {user for _, user, is_bot in found if not is_bot})
        answers = []
        for name, user, is_bot in found:
            profile = None if is_bot else profiles.get(user)
            if is_bot or profile is not None:
                answers.append(Answer(kind="reaction", user=str(user), text=name, is_bot=is_bot or bool(
                    profile and profile.is_bot), guest=bool(profile and profile.is_guest)))
        return answers

    async def _answers(self, rest: RESTClientImpl, channel: int, question_id: int,
                       messages: Iterable[Seen]) -> list[Answer]:
        """Replies and click records as answers, oldest first; people who cannot be looked up are skipped."""
        bot = await self._bot(rest)
        messages = list(messages)
        clicks = {message.id: click_of_record(message, bot, question_id) for message in messages}
        people = {int(click.user) for click in clicks.values() if click is not None}
        people |= {m.author_id for m in messages if clicks[m.id] is None and not m.author_bot and m.author_id != bot}
        profiles = await self._people(rest, channel, people)
        answers: list[Answer] = []
        for message in messages:
            click = clicks[message.id]
            if click is not None:
                clicker = profiles.get(int(click.user))
                if clicker is not None and not clicker.is_bot:
                    answers.append(Answer(kind="button", user=click.user, text=click.text, ts=click.ts,
                                          guest=clicker.is_guest))
                continue
            is_bot = message.author_bot or message.author_id == bot
            profile = None if is_bot else profiles.get(message.author_id)
            if not is_bot and profile is None:
                continue
            answer = reply_answer(message, is_bot=is_bot or bool(profile and profile.is_bot),
                                  guest=bool(profile and profile.is_guest))
            if answer is not None:
                answers.append(answer)
        return sorted(answers, key=lambda answer: ts_key(answer.ts))

    async def group_members(self, group_id: str) -> frozenset[str]:
        """Who holds approver role ``&id`` among the people known here, each read again now."""
        role = int(group_id.lstrip("&"))
        holders = [user for user, (_, profile) in list(self._profiles.items()) if profile and role in profile.roles]
        if holders:
            await self._async(lambda rest: self._people(rest, None, holders, fresh=True))
        return frozenset(self._holders(group_id))

    def _holders(self, group_id: str) -> frozenset[str]:
        role = int(group_id.lstrip("&"))
        return frozenset(
            str(user) for user, (_, profile) in self._profiles.items() if profile and role in profile.roles
        )

    async def is_archived(self, channel: str) -> bool:
        """Whether the channel no longer takes answers (an archived thread; a text channel never is)."""
        return await self._async(lambda rest: self._archived(rest, int(channel)))

    async def _archived(self, rest: RESTClientImpl, channel: int) -> bool:
        found = await self._call(rest.fetch_channel(channel), "get_channel", channel)
        metadata = getattr(found, "metadata", None)
        return bool(getattr(metadata, "is_archived", False))

    # -- people -----------------------------------------------------------------------------------------
    async def _people(self, rest: RESTClientImpl, channel: int | None, users: Iterable[int], *,
                      fresh: bool = False) -> dict[int, Profile | None]:
        """Each user's :class:`Profile` (kept :data:`PROFILE_TTL_SECONDS`; ``fresh``: read now), a few
        lookups at a time. Someone the server no longer has (10007) maps to None: their answers are skipped."""
        wanted = set(users)
        now = time.monotonic()
        stale = [user for user in wanted if fresh or user not in self._profiles
                 or now - self._profiles[user][0] > PROFILE_TTL_SECONDS]
        if stale:
            guild = self._guild_id
            if guild is None and channel is not None:
                guild = await self._guild(rest, channel)
            if guild is None:
                guild = next(iter(self._guilds.values()), None)
            if guild is None:
                raise ChatConfigError(f"connection {self.conn_id!r} needs the extra guild_id to read approver roles",
                                      conn_id=self.conn_id)
            limit = asyncio.Semaphore(LOOKUP_CONCURRENCY)

            async def one(user: int) -> None:
                async with limit:
                    await self._look_up(rest, guild, user)

            await asyncio.gather(*(one(user) for user in stale))
        return {user: self._profiles[user][1] for user in wanted if user in self._profiles}

    async def _look_up(self, rest: RESTClientImpl, guild: int, user: int) -> None:
        try:
            member = await self._call(rest.fetch_member(guild, user), "get_guild_member")
        except ChatPermanentError as err:
            if err.code != "user_not_found":
                raise
            log.warning("Skipping the answers of user %s: they are not a member of the server (%s)", user, err.code)
            self.remember(user, None)
            return
        self.remember(user, profile_of(member, guild))

    def remember(self, user: int, profile: Profile | None) -> None:
        """Keep what Discord just said of a person (a lookup, or the member a Gateway event carried)."""
        self._profiles[user] = (time.monotonic(), profile)

    async def person(self, user: int, channel: int) -> Profile | None:
        """A person's profile (looked up when not known or stale)."""
        return (await self._async(lambda rest: self._people(rest, channel, {user}))).get(user)

    async def person_answer(self, kind: AnswerKind, user: str, text: str, ts: str = "", *,
                            channel: int | None = None) -> Answer | None:
        """An answer by ``user`` with what the server says of them; None when they cannot be looked up."""
        profile = (await self._async(lambda rest: self._people(rest, channel, {int(user)}))).get(int(user))
        if profile is None:
            return None
        return Answer(kind=kind, user=user, text=text, ts=ts, is_bot=profile.is_bot, guest=profile.is_guest)

    async def answers_of(self, channel: int, question_id: int, messages: Iterable[Seen]) -> list[Answer]:
        """Messages pushed by the Gateway (replies, records) as answers to ``question_id``."""
        return await self._async(lambda rest: self._answers(rest, channel, question_id, messages))


def profile_of(member: Any, guild: int) -> Profile:
    """A server member (hikari's) as a :class:`Profile`: bot, guest (no role but ``@everyone``, or pending
    membership screening) and roles."""
    import hikari

    roles = frozenset(int(role) for role in member.role_ids if int(role) != guild)
    pending = getattr(member, "is_pending", False)
    return Profile(
        is_bot=bool(member.user.is_bot if hasattr(member, "user") else member.is_bot),
        is_guest=not roles or (pending is not hikari.UNDEFINED and bool(pending)),
        roles=roles,
    )

