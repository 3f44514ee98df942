"""What the triggerer does with a click on a question's Approve or Reject button.

A click counts only when it is acknowledged within Slack's 3 s, and it is acknowledged only once it is
durable: recorded in Slack by the app, in a thread reply carrying the click in its metadata, which any
triggerer honours when it reads it (:mod:`airflow_chat_alerts.clicks`). So, for each click:

* on a question decided here already: acknowledged, and the person is told so (only they see it);
* on a question an ask of this process waits on, by someone who may not answer it (the judge's rule):
  acknowledged, nothing recorded, and the person is told their click changed nothing;
* otherwise the click is recorded, then acknowledged, and the ask held here (if any) gets it at once.
  The record must be stored by Slack within :data:`~airflow_chat_alerts.clicks.RECORD_WINDOW` of the
  click and its answer must reach the triggerer within :data:`ACK_BUDGET_SECONDS` of the envelope;
  otherwise the click is not acknowledged (Slack shows the person an error; clicking again works), it
  never counts here, and a record that may count elsewhere is deleted.

Records go out at Slack's posting pace for the channel (about one a second): clicks that wait for the
same post are recorded together, in the thread of the first one's question, when they all concern that
question or asks held here (those decide here at once; their own thread gets its audit line once the
pace allows). No retry is ever made past a click's deadline: a record that cannot be made durable in time
is dropped whole.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from airflow_chat_alerts.alerters.slack_errors import may_have_posted
from airflow_chat_alerts.clicks import (
    MAX_CLICKS_PER_RECORD,
    RECORD_WINDOW,
    Click,
    already_decided_text,
    not_approver_text,
    recorded_in_time,
)
from airflow_chat_alerts.exceptions import ChatAlertError, ChatTransientError
from airflow_chat_alerts.judge import may_answer
from airflow_chat_alerts.model import Answer, QuestionRead
from airflow_chat_alerts.settings import CHANNEL_POSTS
from airflow_chat_alerts.triggers.polling.rate_budget import backoff_delay
from airflow_chat_alerts.triggers.push import patches
from airflow_chat_alerts.utils import within

if TYPE_CHECKING:
    from airflow_chat_alerts.alerters.ports import PushPort
    from airflow_chat_alerts.triggers.polling.connection import SharedConnection
    from airflow_chat_alerts.triggers.polling.watch import QuestionWatch
    from airflow_chat_alerts.triggers.push.socket import SlackSocket

log = logging.getLogger(__name__)

# Slack waits 3 s for the ack of an interaction: the click is recorded and acknowledged within this
# long of the envelope's arrival, or not at all.
ACK_BUDGET_SECONDS = 2.5
# A post is not started with less time than this left before the click's deadline.
POST_MARGIN_SECONDS = 0.3
# Clicks remembered (recorded here, judged here, refused here).
MEMORY = 10_000
# Tries to delete a record that must not count.
VOID_TRIES = 4

Key = tuple[str, str, str, str]


class Desk(Protocol):
    """What the desk needs of its stream (:class:`~.stream.PushStream`)."""

    connection: SharedConnection

    def holders(self, channel: str, ts: str) -> list[QuestionWatch]: ...

    def outcome_of(self, channel: str, ts: str) -> str | None: ...

    def not_alone(self, why: str) -> None: ...

    def patchable(self, watch: QuestionWatch) -> bool: ...

    @property
    def answers(self) -> PushPort: ...


Result = Literal["posted", "not_posted", "unknown"]


@dataclass(eq=False)
class _Pending:
    """A click waiting for its record to be posted."""

    click: Click
    deadline: float  # monotonic
    held: bool
    done: asyncio.Future[tuple[Result, str | None, str]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class ClickDesk:
    """The clicks one push stream receives.

    :param stream: the stream whose sockets bring the clicks.
    """

    def __init__(self, stream: Desk) -> None:
        self._stream = stream
        self._recorded: collections.OrderedDict[Key, None] = collections.OrderedDict()
        self._judged: collections.OrderedDict[Key, None] = collections.OrderedDict()
        self._void: collections.OrderedDict[Key, None] = collections.OrderedDict()
        self._in_flight: set[Key] = set()  # being recorded: not yet known to count
        self._recorders: dict[str, _Recorder] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    async def handle(self, socket: SlackSocket, envelope_id: str, payload: Any, *, received: float) -> bool:
        """Handle a ``block_actions`` payload; False when it is not a click on our buttons."""
        click = Click.from_payload(payload)
        if click is None:
            return False
        deadline = received + ACK_BUDGET_SECONDS
        outcome = self._stream.outcome_of(click.channel, click.question_ts)
        if outcome is not None:
            await self._tell_within(click.channel, click.user, already_decided_text(outcome), deadline)
            await socket.ack(envelope_id)
            return True
        held = self._stream.holders(click.channel, click.question_ts)
        answer: Answer | None = None
        if held:
            try:
                answer = await within(self._counted_answer(click, held[0]), deadline - time.monotonic())
            except (ChatAlertError, asyncio.TimeoutError) as err:
                # Who may answer cannot be told now: no ack, so Slack shows an error and a click again works.
                log.warning("Could not judge a click on %s (%s); not acknowledged", click.question_ts, err)
                return True
            if answer is None:
                await self._tell_within(click.channel, click.user, not_approver_text(), deadline)
                await socket.ack(envelope_id)
                return True
        self._in_flight.add(click.key)  # its record's own event must not count it before the ack
        try:
            acked = await self._record_then_ack(socket, envelope_id, click, deadline, held=bool(held))
        finally:
            self._in_flight.discard(click.key)
        if acked:
            edit = patches.with_reply(answer) if answer is not None else None
            for watch in self._stream.holders(click.channel, click.question_ts):
                if not (edit and self._stream.patchable(watch) and watch.patch(edit)):
                    watch.refresh()  # another answer may be missing beside this one: read the thread
        return True

    async def _record_then_ack(
        self, socket: SlackSocket, envelope_id: str, click: Click, deadline: float, *, held: bool
    ) -> bool:
        """Record the click, then acknowledge it if that was in time; True when acknowledged."""
        result, record_ts, host = await self._recorder(click.channel).record(click, deadline, held=held)
        in_time = record_ts is not None and recorded_in_time(record_ts, click.action_ts)
        if result == "posted" and in_time and time.monotonic() < deadline and await socket.ack(envelope_id):
            _remember(self._recorded, click.key)
            return True
        log.warning("A click on %s in %s could not be recorded in time (%s); not acknowledged, so the person "
                    "sees Slack's error and may click again", click.question_ts, click.channel, result)
        if result == "unknown" or (result == "posted" and in_time):
            _remember(self._void, click.key)  # it must count nowhere: here at once, elsewhere once deleted
            self._later(self._void_record(click, host, record_ts))
        return False

    def noticed(self, watch: QuestionWatch, read: QuestionRead) -> None:
        """Clicks on ``watch``'s question recorded by another triggerer: that triggerer holds a socket of
        the app (reads go back to the poll interval), and a person who may not answer is told so, once."""
        for answer in read.replies:
            key = (watch.channel, watch.ts, answer.user, answer.ts)
            if answer.kind != "button" or key in self._in_flight or key in self._recorded or key in self._judged:
                continue
            if key in self._void:
                continue
            _remember(self._judged, key)
            self._stream.not_alone("it read a click another triggerer recorded")
            self._later(self._tell_if_not_approver(watch, answer))

    def vetted(self, watch: QuestionWatch, read: QuestionRead) -> QuestionRead:
        """``read`` without the clicks this process refused to acknowledge (their record may linger)."""
        if not (self._void or self._in_flight):
            return read
        kept = tuple(
            answer for answer in read.replies
            if answer.kind != "button"
            or not {(watch.channel, watch.ts, answer.user, answer.ts)} & (self._void.keys() | self._in_flight)
        )
        if len(kept) == len(read.replies):
            return read
        return QuestionRead(read.snapshot, kept, read.read_at, read.replies_read_at, read.app_user_id, read.open_since)

    async def aclose(self) -> None:
        for recorder in self._recorders.values():
            await recorder.aclose()
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    # -- steps ------------------------------------------------------------------------------------
    async def _counted_answer(self, click: Click, watch: QuestionWatch) -> Answer | None:
        """The click as its clicker's answer when it would count on ``watch``'s question, else None."""
        answers = self._stream.answers
        answer = await answers.person_answer("button", click.user, click.action, click.action_ts)
        if answer is None or watch.policy is None:
            return answer
        return answer if await self._may_answer(watch, answer) else None

    async def _may_answer(self, watch: QuestionWatch, answer: Answer) -> bool:
        policy = watch.policy
        if policy is None:
            return True
        groups = policy.groups if answer.user not in policy.users else frozenset()
        members = await watch.group_members(sorted(groups))
        app_user, _ = await self._stream.answers.app_identity()
        return may_answer(answer, policy, group_members=members, app_user_id=app_user)

    async def _tell_if_not_approver(self, watch: QuestionWatch, answer: Answer) -> None:
        try:
            if not await self._may_answer(watch, answer):
                await self._tell(watch.channel, answer.user, not_approver_text())
        except ChatAlertError as err:  # only a courtesy: the click counts for nothing either way
            log.warning("Could not judge a recorded click by %s (%s)", answer.user, err)

    async def _tell_within(self, channel: str, user: str, text: str, deadline: float) -> None:
        """Tell a person why their click changed nothing, before the ack (so they see it with the
        click's answer), but never past the click's deadline: the ack matters more."""
        with contextlib.suppress(asyncio.TimeoutError):
            await within(self._tell(channel, user, text), deadline - time.monotonic())

    async def _tell(self, channel: str, user: str, text: str) -> None:
        try:
            await self._stream.answers.apost_ephemeral(channel, user, text)
        except ChatAlertError as err:  # only a courtesy: the click itself is handled
            log.warning("Could not tell %s about their click (%s)", user, err)

    async def _void_record(self, click: Click, host: str, record_ts: str | None) -> None:
        """Delete the record of a click that was not acknowledged, so no other reader counts it. When the
        post's answer was lost, look for the record once everything in time has landed."""
        alerter = self._stream.answers
        if record_ts is None:
            await asyncio.sleep(float(RECORD_WINDOW) + 1.0)
        for attempt in range(1, VOID_TRIES + 1):
            try:
                if record_ts is None:
                    found = await alerter.aclick_records(click.channel, host)
                    stamps = [ts for ts, clicks in found if any(c.key == click.key for c in clicks)]
                else:
                    stamps = [record_ts]
                for ts in stamps:
                    await alerter.adelete(click.channel, ts)
                return
            except ChatTransientError as err:
                await asyncio.sleep(backoff_delay(attempt, retry_after=err.retry_after))
            except ChatAlertError as err:
                if err.code == "message_not_found":
                    return
                break
        log.error("The record of a click on %s in %s that was not acknowledged could not be deleted; a "
                  "triggerer that reads it may count it", click.question_ts, click.channel)

    def _recorder(self, channel: str) -> _Recorder:
        recorder = self._recorders.get(channel)
        if recorder is None:
            recorder = self._recorders[channel] = _Recorder(self._stream, channel)
        return recorder

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _Recorder:
    """Posts the click records of one channel at Slack's posting pace for it, several per post when
    clicks come faster than that."""

    def __init__(self, stream: Desk, channel: str) -> None:
        self._stream = stream
        self._channel = channel
        self._pending: list[_Pending] = []
        self._task: asyncio.Task[None] | None = None

    async def record(self, click: Click, deadline: float, *, held: bool) -> tuple[Result, str | None, str]:
        """Record ``click``: ("posted", the record's ts, its thread) once Slack has it, "not_posted" when
        it cannot be in time, "unknown" when the answer to the post did not come back in time."""
        pending = _Pending(click, deadline, held)
        self._pending.append(pending)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._work(), name=f"chat-alerts click records {self._channel}")
        try:
            return await within(asyncio.shield(pending.done), deadline - time.monotonic())
        except asyncio.TimeoutError:
            if pending in self._pending:
                self._pending.remove(pending)
                return "not_posted", None, click.question_ts
            return "unknown", None, click.question_ts  # its post was under way

    async def _work(self) -> None:
        budget = self._stream.connection.budget
        while self._pending:
            delay = budget.reserve(f"{CHANNEL_POSTS}:{self._channel}")
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.monotonic()
            for pending in [p for p in self._pending if p.deadline - now < POST_MARGIN_SECONDS]:
                self._pending.remove(pending)
                _settle(pending, ("not_posted", None, pending.click.question_ts))
            if not self._pending:
                continue
            first = self._pending[0]
            host = first.click.question_ts
            batch = [first] + [
                p for p in self._pending[1:] if p.click.question_ts == host or p.held
            ][: MAX_CLICKS_PER_RECORD - 1]
            for pending in batch:
                self._pending.remove(pending)
            await self._post(batch, host)

    async def _post(self, batch: list[_Pending], host: str) -> None:
        message = Click.record_of([pending.click for pending in batch])
        result: tuple[Result, str | None, str]
        try:
            ts = await within(self._stream.answers.apost(message, channel=self._channel, thread_ts=host),
                              min(p.deadline for p in batch) - time.monotonic())
            result = ("posted", ts, host)
        except asyncio.TimeoutError:
            result = ("unknown", None, host)
        except ChatTransientError as err:
            result = ("unknown" if may_have_posted(err) else "not_posted", None, host)
            log.warning("Recording clicks in %s failed (%s)", self._channel, err)
        except ChatAlertError as err:
            result = ("not_posted", None, host)
            log.warning("Recording clicks in %s failed (%s)", self._channel, err)
        for pending in batch:
            _settle(pending, result)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _settle(pending: _Pending, result: tuple[Result, str | None, str]) -> None:
    if not pending.done.done():
        pending.done.set_result(result)


def _remember(memory: collections.OrderedDict[Key, None], key: Key) -> None:
    memory[key] = None
    while len(memory) > MEMORY:
        memory.popitem(last=False)
