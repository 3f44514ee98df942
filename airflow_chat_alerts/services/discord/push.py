"""One Gateway session per Discord bot token per event loop: replies, reactions and button clicks pushed to
the asks that wait on the triggerer's loop, without a public URL.

:class:`DiscordPushStream` runs hikari's ``GatewayBot`` (no cache, no logging set-up, no banner, no update
check) as tasks on the loop, with the intents the asks need: guild messages, reactions, and the privileged
MESSAGE_CONTENT unless the connection says the application lacks it. hikari does the Gateway's work:
heartbeats (a missing ACK means a zombie socket: close and resume), resume after a drop with the events
missed replayed, op 7 Reconnect, op 9 Invalid Session (identify anew), and reconnecting with backoff. The
stream is the runtime's, as Slack's Socket Mode stream is: asks of every connection of the token join and
leave it, and it stays for the connection's ``gateway_grace`` after the last one leaves, so a click between
two asks finds a session.

**What an event may decide.** Discord sends every event to every session of the bot, so no event goes to
another triggerer instead of this one; what can be missed is a gap in the session. Since the last READY (a
new session) every event reached the stream, a resume replaying what a drop held back; so while the session
is up, a pushed event patches an ask's latest read made since that READY and decides at once, and the
channels are read only every ``reconcile_interval``. While it is down, and for reads older than a new
session, an event only makes the ask read its question. An ask that starts after its question was posted
starts from the stream's recent events when its question's own post is among them.

**Clicks** (:mod:`._clicks`): the ask's holder judges the clicker (approver roles from the click itself, as
Discord verified them) and answers at once: an approver's click with its public record, which acknowledges it
and makes it durable in one step; anyone else, or a click after the decision, with a line only they see. A
stream that holds no ask of the question (another triggerer may) answers only after :data:`NOT_HELD_DELAY`,
with the record, so the holder speaks first; Discord takes the first answer only. No answer is sent after
:data:`ACK_BUDGET_SECONDS`: Discord would refuse it, and the person, who saw "This interaction failed",
clicks again.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from airflow_chat_alerts.clicks import already_decided_text, not_approver_text
from airflow_chat_alerts.exceptions import ChatAlertError, ChatPermanentError
from airflow_chat_alerts.judge import may_answer
from airflow_chat_alerts.model import Answer, MessageSnapshot, QuestionRead
from airflow_chat_alerts.services.discord import _patches as patches
from airflow_chat_alerts.services.discord._clicks import ClickAction, parse_custom_id, record_text
from airflow_chat_alerts.services.discord._ids import id_of, ts_of
from airflow_chat_alerts.services.discord._reading import Seen, click_of_record, posted_by_bot, question_of
from airflow_chat_alerts.services.discord._rest import scrub_hikari_logs, seen_of
from airflow_chat_alerts.services.discord.alerter import DiscordAlerter, Profile, profile_of
from airflow_chat_alerts.services.discord.connection import DiscordOptions

if TYPE_CHECKING:
    from airflow_chat_alerts.decisions import AskPolicy
    from airflow_chat_alerts.settings import ChatConnectionSettings

log = logging.getLogger(__name__)

# Discord waits 3 s for a click's answer; none is sent later than this after the click arrived.
ACK_BUDGET_SECONDS = 2.5
# A stream holding no ask of the clicked question answers only after this: the holder, if any, first.
NOT_HELD_DELAY = 1.0
# Events kept per question, and for how long, for asks that join after their question was posted.
BUFFER_EVENTS = 5_000
BUFFER_SECONDS = 3_600.0

Edit = Callable[[QuestionRead], QuestionRead]


class Watch(Protocol):
    """What the stream needs of an ask (the triggerer's ``QuestionWatch``)."""

    channel: str
    ts: str
    policy: AskPolicy | None

    @property
    def latest(self) -> QuestionRead | None: ...

    def patch(self, edit: Edit) -> bool: ...

    def refresh(self) -> None: ...

    def deliver(self, read: QuestionRead) -> None: ...

    def forget_pushed(self) -> None: ...

    def fail(self, error: BaseException) -> None: ...


class Directory(Protocol):
    """What the stream needs of the runtime that owns it."""

    def outcome_of(self, channel: str, ts: str) -> str | None: ...

    def pace(self, conn_ids: Collection[str], *, slow: bool) -> None: ...


class Connection(Protocol):
    """The shared connection the stream reads through (the triggerer's ``SharedConnection``)."""

    conn_id: str
    alerter: Any


def stream_key(settings: ChatConnectionSettings) -> str:
    """A digest naming the bot token's stream (never the token itself)."""
    return "discord:" + hashlib.sha256(settings.secret.encode()).hexdigest()[:16]


@dataclass
class _Lane:
    """One channel's events, applied one at a time in the order they came."""

    jobs: asyncio.Queue[Callable[[], Awaitable[None]]] = field(default_factory=asyncio.Queue)
    worker: asyncio.Task[None] | None = None


@dataclass
class _Kept:
    seq: int
    at: float
    kind: str
    data: Any


class DiscordPushStream:
    """The Gateway session of one bot token on the running loop.

    :param settings: the first connection's settings (token, REST URL, proxy, grace period, intents).
    :param directory: the runtime that owns the stream.
    :param connection: the shared connection the stream reads through (held for the stream's life).
    :param on_closed: awaited once the stream has closed for good (its grace period ran out).
    """

    def __init__(self, settings: ChatConnectionSettings, directory: Directory, connection: Connection, *,
                 on_closed: Callable[[DiscordPushStream], Awaitable[None]]) -> None:
        self.key = stream_key(settings)
        self.connection = connection
        self.conn_ids: set[str] = set()
        self.error: ChatPermanentError | None = None
        self.opens = 0  # sessions identified (READY): a figure for tests and benchmarks
        self._settings = settings
        self._options = DiscordOptions.of(settings)
        self._directory = directory
        self._on_closed = on_closed
        self._watches: dict[int, set[Watch]] = {}
        self._lanes: dict[int, _Lane] = {}
        self._kept: dict[int, collections.deque[_Kept]] = {}
        self._kept_order: collections.deque[tuple[int, _Kept]] = collections.deque()
        self._seq = 0
        self._covered_since: float | None = None  # the current session's READY (epoch seconds)
        self._up = False  # the session holds a socket now
        self._bot: Any = None
        self._task: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        self._answering: set[asyncio.Task[Any]] = set()
        self._closed = False

    # -- the asks -----------------------------------------------------------------------------------
    def serve(self, conn_id: str) -> None:
        """Asks of connection ``conn_id`` (the same bot token) use this stream; it opens if closed."""
        self.conn_ids.add(conn_id)
        if self._closing is not None:
            self._closing.cancel()
            self._closing = None
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"chat-alerts gateway {self.key}")

    async def join(self, watch: Watch) -> None:
        """An ask starts waiting: route its events to it, and when its question's post came while every event
        reached the stream, give it the question as the events since tell it (no read needed to decide).
        Events that come meanwhile are applied after, in order (the seed is a job of the channel's lane)."""
        question = id_of(watch.ts)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def seed() -> None:
            try:
                self._watches.setdefault(question, set()).add(watch)
                kept = list(self._kept.get(question, ()))
                if self.complete and kept:
                    await self._replay(watch, question, kept)
            finally:
                if not done.done():
                    done.set_result(None)

        self._queue(int(watch.channel), seed)
        await done

    def leave(self, watch: Watch) -> None:
        """An ask left; the last one starts the grace period, after which the stream closes."""
        if self._closed:
            return
        question = id_of(watch.ts)
        watches = self._watches.get(question)
        if watches is not None:
            watches.discard(watch)
            if not watches:
                del self._watches[question]
        if not self._watches and self._closing is None and self._task is not None:
            self._closing = asyncio.create_task(self._linger(), name=f"chat-alerts gateway grace {self.key}")

    def noticed(self, watch: Watch, read: QuestionRead) -> None:
        """A changed read reached an ask. (Every session receives every click, so nothing is learned here.)"""

    def vetted(self, watch: Watch, read: QuestionRead) -> QuestionRead:
        """``read`` as it counts: a click is recorded only when Discord took its acknowledgement, so every
        record in a read counts."""
        return read

    # -- what the stream knows -------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._up

    @property
    def complete(self) -> bool:
        """Every event of the bot since :attr:`complete_since` reached this stream."""
        return self.complete_since is not None

    @property
    def complete_since(self) -> float | None:
        return self._covered_since if self._up else None

    @property
    def slows_reads(self) -> bool:
        """Whether the pollers may read at the reconciliation interval: the session is up."""
        return self._up

    def patchable(self, watch: Watch) -> bool:
        read, since = watch.latest, self.complete_since
        return read is not None and since is not None and (read.read_at == 0 or read.read_at >= since)

    @property
    def _alerter(self) -> DiscordAlerter:
        alerter = self.connection.alerter
        if not isinstance(alerter, DiscordAlerter):
            raise ChatPermanentError(f"connection {self.connection.conn_id!r} is not a Discord bot",
                                     conn_id=self.connection.conn_id)
        return alerter

    # -- the session -------------------------------------------------------------------------------------
    async def _run(self) -> None:
        """Start the bot's Gateway session and keep it until the stream closes; fail the asks if Discord
        refuses the token or the intents for good."""
        import hikari

        intents = hikari.Intents.GUILDS | hikari.Intents.GUILD_MESSAGES | hikari.Intents.GUILD_MESSAGE_REACTIONS
        if self._options.message_content:
            intents |= hikari.Intents.MESSAGE_CONTENT
        scrub_hikari_logs()
        from hikari.impl import CacheSettings, HTTPSettings, HTTPTimeoutSettings, ProxySettings

        bot = hikari.GatewayBot(
            self._settings.secret,
            rest_url=self._settings.base_url,
            intents=intents,
            logs=None,
            banner=None,
            suppress_optimization_warning=True,
            cache_settings=CacheSettings(components=hikari.api.CacheComponents.NONE),
            http_settings=HTTPSettings(timeouts=HTTPTimeoutSettings(total=float(self._settings.timeout or 30))),
            proxy_settings=ProxySettings(url=self._settings.proxy),
        )
        self._bot = bot
        for kind, listener in (
            (hikari.ShardReadyEvent, self._on_ready),
            (hikari.ShardResumedEvent, self._on_resumed),
            (hikari.ShardDisconnectedEvent, self._on_disconnected),
            (hikari.GuildMessageCreateEvent, self._on_message),
            (hikari.GuildMessageUpdateEvent, self._on_message),
            (hikari.GuildMessageDeleteEvent, self._on_deleted),
            (hikari.GuildReactionAddEvent, self._on_reaction),
            (hikari.GuildReactionDeleteEvent, self._on_reaction),
            (hikari.GuildReactionDeleteEmojiEvent, self._on_reactions_cleared),
            (hikari.GuildReactionDeleteAllEvent, self._on_reactions_cleared),
            (hikari.InteractionCreateEvent, self._on_interaction),
        ):
            with warnings.catch_warnings():  # without MESSAGE_CONTENT hikari warns, and that is meant
                warnings.simplefilter("ignore", hikari.errors.MissingIntentWarning)
                bot.event_manager.subscribe(kind, listener)
        try:
            await bot.start(check_for_updates=False)
            await bot.join()
        except asyncio.CancelledError:
            raise
        except hikari.errors.GatewayServerClosedConnectionError as err:
            self._refused(err)
        except Exception as err:  # hikari gave up: the asks go on reading, at the poll interval
            log.exception("The Gateway session of connection(s) %s ended (%s); answers are read every poll "
                          "interval", self._names, type(err).__name__)
        finally:
            self._went_down()
            with contextlib.suppress(Exception):
                await bot.close()

    def _refused(self, err: Any) -> None:
        code = getattr(err, "code", None)
        if code == 4014:
            why = ("4014 Disallowed intent(s): the bot asks for the privileged MESSAGE_CONTENT intent, which its "
                   "application does not have; enable it (Developer Portal, Bot, Privileged Gateway Intents) or set "
                   "the connection's extra message_content to false (then only clicks, reactions and replies that "
                   "ping the bot count)")
        elif code == 4004:
            why = "4004 Authentication failed: Discord refused the bot token on the Gateway"
        else:
            why = f"{code} {getattr(err, 'reason', '')}".strip()
        self.error = ChatPermanentError(
            f"gateway_refused: {why} [connection(s) {self._names}]", conn_id=self.connection.conn_id,
            code="invalid_auth" if code == 4004 else "gateway_refused",
        )
        log.error("%s", self.error)
        for watches in list(self._watches.values()):
            for watch in list(watches):
                watch.fail(self.error)

    async def _on_ready(self, event: Any) -> None:
        """A new session: every event from now on reaches the stream; what came before may not have."""
        self.opens += 1
        self._lost_completeness()
        self._covered_since = time.time()
        self._up = True
        log.info("Gateway session open for connection(s) %s", self._names)
        self._pace()

    async def _on_resumed(self, event: Any) -> None:
        """Resumed: the events held back during the drop were replayed, so nothing was missed."""
        self._up = True
        log.info("Gateway session resumed for connection(s) %s", self._names)
        self._pace()

    async def _on_disconnected(self, event: Any) -> None:
        if self._up:
            log.warning("Gateway session of connection(s) %s dropped; hikari resumes it, and answers are read "
                        "every poll interval meanwhile", self._names)
        self._up = False
        self._pace()

    def _went_down(self) -> None:
        self._up = False
        self._covered_since = None
        self._lost_completeness()
        self._pace()

    def _lost_completeness(self) -> None:
        """Events may have been missed: nothing kept is trusted, and asks known from events alone read."""
        self._kept.clear()
        self._kept_order.clear()
        for watches in list(self._watches.values()):
            for watch in list(watches):
                watch.forget_pushed()

    def _pace(self) -> None:
        self._directory.pace(self.conn_ids, slow=self.slows_reads)

    @property
    def _names(self) -> str:
        return ", ".join(repr(conn_id) for conn_id in sorted(self.conn_ids)) or repr(self.connection.conn_id)

    # -- events: kept in order per channel --------------------------------------------------------------
    def _queue(self, channel: int, job: Callable[[], Awaitable[None]]) -> None:
        lane = self._lanes.get(channel)
        if lane is None:
            lane = self._lanes[channel] = _Lane()
        lane.jobs.put_nowait(job)
        if lane.worker is None or lane.worker.done():
            lane.worker = asyncio.create_task(self._work(lane), name=f"chat-alerts gateway events {channel}")

    async def _work(self, lane: _Lane) -> None:
        while not lane.jobs.empty():
            job = lane.jobs.get_nowait()
            try:
                await job()
            except ChatAlertError as err:  # a lookup failed: a read catches up with the event
                log.warning("A Gateway event could not be applied (%s); the next read will see it", err)
            except Exception as err:  # a bug of ours: the asks fail with its traceback
                log.exception("Applying a Gateway event failed")
                for watches in list(self._watches.values()):
                    for watch in list(watches):
                        watch.fail(err)

    def _keep(self, question: int, kind: str, data: Any) -> None:
        """Keep an event about ``question`` for an ask that joins later (only while nothing is missed)."""
        if not self.complete:
            return
        self._seq += 1
        item = _Kept(self._seq, time.monotonic(), kind, data)
        self._kept.setdefault(question, collections.deque()).append(item)
        self._kept_order.append((question, item))
        while len(self._kept_order) > BUFFER_EVENTS or item.at - self._kept_order[0][1].at > BUFFER_SECONDS:
            old_question, _ = self._kept_order.popleft()
            kept = self._kept[old_question]
            kept.popleft()
            if not kept:
                del self._kept[old_question]

    def _lane_of(self, question: int | None, channel: int) -> int:
        """The lane of an event: its question's channel when an ask here waits on it (a thread's messages
        and the channel's go through one lane), else its own channel."""
        for watch in self._watches.get(question or 0, ()):
            return int(watch.channel)
        return channel

    async def _on_message(self, event: Any) -> None:
        import hikari

        message = event.message
        seen = seen_of(message)
        member = getattr(message, "member", None)
        if member and member is not hikari.UNDEFINED and seen.author_id and not seen.author_bot:
            self._alerter.remember(seen.author_id, profile_of(member, int(event.guild_id)))
        partial = getattr(message, "content", None) is hikari.UNDEFINED  # an update without the whole message
        target = question_of(seen)
        self._keep(seen.id, "message", seen)  # it may be a question itself (its own post)
        if target is not None and target != seen.id:
            self._keep(target, "message", seen)
        if target is not None and target != seen.id and target in self._watches:
            self._queue(self._lane_of(target, seen.channel_id), lambda: self._apply_message(seen, partial=partial))

    async def _apply_message(self, seen: Seen, *, partial: bool = False, targets: list[Watch] | None = None) -> None:
        """A reply or a click record on a question an ask here waits on: its answers patch the ask's read."""
        question = question_of(seen)
        watches = targets if targets is not None else list(self._watches.get(question or 0, ()))
        if question is None or question == seen.id or not watches:
            return
        if partial:
            for watch in watches:
                watch.refresh()
            return
        alerter = self._alerter
        channel = int(watches[0].channel)
        if seen.clicked is not None:
            bot = int(await alerter.aself_user_id() or 0)
            click = click_of_record(seen, bot, question)
            if click is None:
                return
            profile = await alerter.person(int(click.user), channel)
            answers = [] if profile is None or profile.is_bot else [
                Answer(kind="button", user=click.user, text=click.text, ts=click.ts, guest=profile.is_guest)]
        else:
            answers = await alerter.answers_of(channel, question, [seen])
        for answer in answers:
            self._patch(watches, patches.with_reply(answer))

    async def _on_deleted(self, event: Any) -> None:
        message_id, channel = int(event.message_id), int(event.channel_id)
        for question, kept in list(self._kept.items()):  # a reply kept for a late ask is taken back
            if question != message_id and any(item.kind == "message" and item.data.id == message_id for item in kept):
                self._keep(question, "deleted", message_id)
        if message_id in self._watches:
            self._queue(self._lane_of(message_id, channel), lambda: self._refresh(self._watches.get(message_id, ())))
            return
        watches = [w for q, ws in self._watches.items() for w in ws if q == channel or int(w.channel) == channel]
        if watches:
            lane = self._lane_of(channel, channel)
            self._queue(lane, lambda: self._patch_later(watches, patches.without_reply(ts_of(message_id))))

    async def _on_reaction(self, event: Any) -> None:
        import hikari

        question, channel = int(event.message_id), int(event.channel_id)
        added = isinstance(event, hikari.GuildReactionAddEvent)
        member = getattr(event, "member", None) if added else None
        name = str(event.emoji_name or "")
        data = (int(event.user_id), name, added)
        if member is not None:
            self._alerter.remember(int(event.user_id), profile_of(member, int(event.guild_id)))
        self._keep(question, "reaction", data)
        if question in self._watches:
            self._queue(self._lane_of(question, channel), lambda: self._apply_reaction(question, channel, data))

    async def _apply_reaction(self, question: int, channel: int, data: tuple[int, str, bool],
                              targets: list[Watch] | None = None) -> None:
        user, name, added = data
        watches = targets if targets is not None else list(self._watches.get(question, ()))
        if not watches:
            return
        if not added:
            self._patch(watches, patches.without_reaction(str(user), name))
            return
        # Discord says nothing of when a reaction was added, not even here: its time stays unknown, as in a
        # read, and is weighed the safe way for a gate (decisions.py).
        answer = await self._alerter.person_answer("reaction", str(user), name, "", channel=channel)
        if answer is not None:
            self._patch(watches, patches.with_reaction(answer))

    async def _on_reactions_cleared(self, event: Any) -> None:
        question, channel = int(event.message_id), int(event.channel_id)
        self._keep(question, "cleared", None)
        if question in self._watches:
            self._queue(self._lane_of(question, channel), lambda: self._refresh(self._watches.get(question, ())))

    async def _refresh(self, watches: Collection[Watch]) -> None:
        for watch in list(watches):
            watch.refresh()

    async def _patch_later(self, watches: list[Watch], edit: Edit) -> None:
        self._patch(watches, edit)

    def _patch(self, watches: Collection[Watch], edit: Edit) -> None:
        """Apply ``edit`` to each ask's read when every event since that read reached the stream; otherwise
        one may be missing beside this one, so the question is read instead."""
        for watch in list(watches):
            if not (self.patchable(watch) and watch.patch(edit)):
                watch.refresh()

    async def _replay(self, watch: Watch, question: int, kept: list[_Kept]) -> None:
        """Give a late ask its question as the kept events tell it, when its own post is among them."""
        bot = int(await self._alerter.aself_user_id() or 0)
        posted = next((item for item in kept if item.kind == "message" and item.data.id == question), None)
        if posted is None or not posted_by_bot(posted.data, bot):
            return
        shot = MessageSnapshot(ts=watch.ts, user=str(bot), text=posted.data.content, is_bot=True)
        watch.deliver(QuestionRead(shot, (), read_at=0.0, replies_read_at=0.0, app_user_id=str(bot)))
        channel = int(watch.channel)
        for item in kept[kept.index(posted) + 1:]:
            if item.kind == "message":
                await self._apply_message(item.data, targets=[watch])
            elif item.kind == "reaction":
                await self._apply_reaction(question, channel, item.data, targets=[watch])
            elif item.kind == "deleted":
                self._patch([watch], patches.without_reply(ts_of(item.data)))
            else:
                watch.refresh()

    # -- clicks ---------------------------------------------------------------------------------------
    async def _on_interaction(self, event: Any) -> None:
        import hikari

        interaction = event.interaction
        if not isinstance(interaction, hikari.ComponentInteraction):
            return
        parsed = parse_custom_id(interaction.custom_id)
        if parsed is None or interaction.message is None:
            return  # not one of our buttons
        received = time.monotonic()
        task = asyncio.ensure_future(self._click(interaction, parsed[0], received))
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

    async def _click(self, interaction: Any, action: ClickAction, received: float) -> None:
        deadline = received + ACK_BUDGET_SECONDS
        question, channel = int(interaction.message.id), int(interaction.channel_id)
        user = int(interaction.user.id)
        member = interaction.member
        profile = profile_of(member, int(interaction.guild_id)) if member is not None else Profile(
            is_bot=bool(interaction.user.is_bot), is_guest=True)
        self._alerter.remember(user, profile)
        answer = Answer(kind="button", user=str(user), text=action, ts=ts_of(interaction.id),
                        is_bot=profile.is_bot, guest=profile.is_guest)
        outcome = self._directory.outcome_of(str(channel), ts_of(question))
        if outcome is not None:
            await self._answer(interaction, already_decided_text(outcome), deadline, private=True)
            return
        held = list(self._watches.get(question, ()))
        if held:
            if not await self._may_answer(held[0], answer, profile):
                await self._answer(interaction, not_approver_text(), deadline, private=True)
                return
        else:
            await asyncio.sleep(NOT_HELD_DELAY)  # the holder (another triggerer, perhaps) speaks first
        recorded = await self._answer(interaction, record_text(str(user), action), deadline, private=False)
        held = list(self._watches.get(question, ()))
        if recorded:
            self._patch(held, patches.with_reply(answer))
        else:
            for watch in held:
                watch.refresh()  # recorded elsewhere, or not at all: a read tells

    async def _may_answer(self, watch: Watch, answer: Answer, profile: Profile) -> bool:
        policy = watch.policy
        if policy is None:
            return True
        members = {group: frozenset({answer.user}) if int(group.lstrip("&")) in profile.roles else frozenset()
                   for group in policy.groups}
        app_user = await self._alerter.aself_user_id()
        return may_answer(answer, policy, group_members=members, app_user_id=app_user)

    async def _answer(self, interaction: Any, text: str, deadline: float, *, private: bool) -> bool:
        """Answer a click within its deadline; True when Discord took this answer (the click is
        acknowledged, and when public, recorded)."""
        import hikari

        left = deadline - time.monotonic()
        if left <= 0:
            log.warning("A click on %s came too late to answer within Discord's 3 s", interaction.message.id)
            return False
        call = interaction.create_initial_response(
            hikari.ResponseType.MESSAGE_CREATE,
            text,
            flags=hikari.MessageFlag.EPHEMERAL if private else hikari.UNDEFINED,
            user_mentions=False,
            role_mentions=False,
            mentions_everyone=False,
        )
        try:
            await asyncio.wait_for(call, left)
        except asyncio.TimeoutError:
            log.warning("Answering a click on %s took longer than Discord waits; the person may click again",
                        interaction.message.id)
            return False
        except hikari.errors.BadRequestError as err:
            if err.code == 40060:
                return False  # another triggerer answered it first
            raise
        except hikari.errors.NotFoundError as err:
            if err.code == 10062:
                log.warning("Discord refused the answer to a click on %s as too late (10062); the person sees "
                            "\"This interaction failed\" and may click again", interaction.message.id)
                return False
            raise
        return True

    # -- closing ----------------------------------------------------------------------------------------
    async def _linger(self) -> None:
        await asyncio.sleep(self._settings.socket_grace)
        if self._closing is asyncio.current_task() and not self._watches:
            await self.aclose()

    async def aclose(self) -> None:
        """Close the session and the event workers, then tell the runtime."""
        if self._closed:
            return
        self._closed = True
        closing, self._closing = self._closing, None
        if closing is not None and closing is not asyncio.current_task():
            closing.cancel()
        for answering in list(self._answering):
            answering.cancel()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for lane in self._lanes.values():
            if lane.worker is not None and lane.worker is not asyncio.current_task():
                lane.worker.cancel()
        await self._on_closed(self)


__all__ = ["DiscordPushStream", "stream_key"]
