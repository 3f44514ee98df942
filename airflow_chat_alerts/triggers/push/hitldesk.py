"""What the triggerer does with an interaction on a Human-in-the-loop request: an option's button, the
menu, *Submit* under the multi-select, *Fill in the form*, and the form's submission.

The rules of Approve / Reject clicks (:mod:`.clickdesk`) hold for every answer given here: an answer
counts only when it is acknowledged within Slack's 3 s, and it is acknowledged only once it is durable
(a thread reply by the app carrying it in its metadata: :mod:`airflow_chat_alerts.hitl.records`); a record
not stored within the window, or not followed by the ack in time, is deleted and counts nowhere. So:

* on a request decided here already: acknowledged, and the person is told so (only they see it);
* on a request an ask of this process holds, by someone who may not answer it (the Slack policy and
  ``assigned_users``): acknowledged, nothing recorded, and they are told;
* *Fill in the form* (or an option whose params have no valid defaults): the form opens (``views.open``,
  within the trigger id's 3 s), built from the request the message's metadata carries, so any
  triggerer can open it; nothing is recorded;
* a form submitted: validated as Airflow validates (``response_action: errors`` keeps the modal open
  with a message under each wrong field, within the ack's 3 s); a valid one is recorded, then
  acknowledged (the modal closes);
* a choice (button, menu, *Submit*): recorded, then acknowledged.

Everything needed comes from Slack: the request from the message's metadata (the holder's latest read
has it; otherwise one ``conversations.history`` read), the person from the payload's verified user.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any

from airflow_chat_alerts.alerters.slack_errors import may_have_posted
from airflow_chat_alerts.clicks import RECORD_WINDOW, recorded_in_time
from airflow_chat_alerts.exceptions import ChatAlertError, ChatTransientError
from airflow_chat_alerts.hitl.choices import (
    AIRFLOW_ACTION,
    CHOOSE_ACTION,
    CHOOSE_MANY_ACTION,
    FORM_ACTION,
    OPTION_ACTION_PREFIX,
    SUBMIT_ACTION,
    Choice,
)
from airflow_chat_alerts.hitl.form import Form, FormSubmission, form_metadata
from airflow_chat_alerts.hitl.judge import allowed
from airflow_chat_alerts.hitl.message import already_answered_text, request_of_metadata
from airflow_chat_alerts.hitl.records import ChoiceRecord
from airflow_chat_alerts.hitl.request import HITLRequest
from airflow_chat_alerts.model import QuestionRead
from airflow_chat_alerts.settings import CHANNEL_POSTS
from airflow_chat_alerts.triggers.polling.rate_budget import backoff_delay
from airflow_chat_alerts.triggers.push import patches
from airflow_chat_alerts.triggers.push.clickdesk import (
    ACK_BUDGET_SECONDS,
    MEMORY,
    POST_MARGIN_SECONDS,
    VOID_TRIES,
    Desk,
)
from airflow_chat_alerts.utils import within

if TYPE_CHECKING:
    from airflow_chat_alerts.triggers.polling.watch import QuestionWatch
    from airflow_chat_alerts.triggers.push.socket import SlackSocket

log = logging.getLogger(__name__)

_OUR_ACTIONS = frozenset({CHOOSE_ACTION, CHOOSE_MANY_ACTION, SUBMIT_ACTION, FORM_ACTION, AIRFLOW_ACTION})
Key = tuple[str, str, str, str]


def not_allowed_text() -> str:
    """What a person who may not answer a request sees (only them)."""
    return "You may not answer this request (who may is named on it); your answer changed nothing."


def stale_form_text() -> str:
    return "This form is out of date (the request changed); your answer changed nothing: open the form again."


def _action_id(payload: Mapping[str, Any]) -> str | None:
    actions = payload.get("actions")
    action = actions[0] if isinstance(actions, list) and actions else None
    action_id = action.get("action_id") if isinstance(action, Mapping) else None
    return action_id if isinstance(action_id, str) else None


def is_request_interaction(payload: Any) -> bool:
    """Whether a payload is an interaction with one of our Human-in-the-loop elements or forms."""
    if not isinstance(payload, Mapping):
        return False
    if payload.get("type") == "view_submission":
        return FormSubmission.from_payload(payload) is not None
    if payload.get("type") != "block_actions":
        return False
    action_id = _action_id(payload)
    return action_id is not None and (action_id in _OUR_ACTIONS or action_id.startswith(OPTION_ACTION_PREFIX))


class HITLDesk:
    """The Human-in-the-loop interactions one push stream receives.

    :param stream: the stream whose sockets bring them.
    """

    def __init__(self, stream: Desk) -> None:
        self._stream = stream
        self._recorded: collections.OrderedDict[Key, None] = collections.OrderedDict()
        self._void: collections.OrderedDict[Key, None] = collections.OrderedDict()
        self._in_flight: set[Key] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    async def handle(self, socket: SlackSocket, envelope_id: str, payload: Any, *, received: float) -> bool:
        """Handle an interaction; False when it is not one with our request elements or forms."""
        if not is_request_interaction(payload):
            return False
        deadline = received + ACK_BUDGET_SECONDS
        if payload.get("type") == "view_submission":
            wall = time.time() - (time.monotonic() - received)
            await self._submission(socket, envelope_id, payload, deadline, f"{wall:.6f}")
        else:
            await self._action(socket, envelope_id, payload, deadline)
        return True

    # -- block_actions ---------------------------------------------------------------------------
    async def _action(self, socket: SlackSocket, envelope_id: str, payload: Mapping[str, Any],
                      deadline: float) -> None:
        if _action_id(payload) in (AIRFLOW_ACTION, CHOOSE_MANY_ACTION):
            await socket.ack(envelope_id)  # a link, or a selection not sent yet: nothing to answer
            return
        container = payload.get("container") or {}
        channel, ts = str(container.get("channel_id") or ""), str(container.get("message_ts") or "")
        user = str((payload.get("user") or {}).get("id") or "")
        outcome = self._stream.outcome_of(channel, ts)
        if outcome is not None:
            await self._tell_within(channel, user, already_answered_text(outcome), deadline)
            await socket.ack(envelope_id)
            return
        found = await self._request(channel, ts, deadline)
        if found is None:
            await socket.ack(envelope_id)  # not a request's message (or unreadable now): nothing to do
            return
        request, approval = found
        choice = Choice.from_payload(payload, request.options)
        if choice is None:
            await socket.ack(envelope_id)  # stale options, or not one of ours
            return
        held = self._stream.holders(channel, ts)
        if held and not await self._may(held[0], request, choice.user, deadline):
            await self._tell_within(channel, choice.user, not_allowed_text(), deadline)
            await socket.ack(envelope_id)
            return
        form = Form.of(request)
        if choice.kind == "form" or (choice.kind == "choose" and choice.chosen and form.defaults_input is None):
            await self._open_form(form, choice, deadline)
            await socket.ack(envelope_id)
            return
        if choice.kind != "choose" or not choice.chosen:
            await self._tell_within(channel, choice.user, "Choose at least one option, then press Submit.", deadline)
            await socket.ack(envelope_id)
            return
        record = ChoiceRecord(user=choice.user, chosen=choice.chosen, action_ts=choice.action_ts, channel=channel,
                              question_ts=ts, params_input=None, via="click")
        await self._record_then_ack(socket, envelope_id, record, deadline, held=bool(held))

    async def _open_form(self, form: Form, choice: Choice, deadline: float) -> None:
        if not form.usable or choice.trigger_id is None:
            return
        view = form.view(private_metadata=form_metadata(channel=choice.channel, ts=choice.message_ts,
                                                        digest=form.digest), chosen=choice.chosen)
        try:
            await within(self._stream.answers.aopen_view(choice.trigger_id, view), deadline - time.monotonic())
        except (ChatAlertError, asyncio.TimeoutError) as err:
            log.warning("Could not open the form of the request %s for %s (%s)", choice.message_ts, choice.user, err)

    # -- view_submission -------------------------------------------------------------------------
    async def _submission(self, socket: SlackSocket, envelope_id: str, payload: Mapping[str, Any],
                          deadline: float, action_ts: str) -> None:
        submission = FormSubmission.from_payload(payload)
        assert submission is not None
        channel, ts, user = submission.channel, submission.ts, submission.user
        outcome = self._stream.outcome_of(channel, ts)
        if outcome is not None:
            await self._tell_within(channel, user, already_answered_text(outcome), deadline)
            await socket.ack(envelope_id)
            return
        found = await self._request(channel, ts, deadline)
        if found is None:
            # Cannot be validated now: no ack, so the modal shows Slack's error and Submit may be pressed again.
            log.warning("Could not read the request %s in %s to validate a form; not acknowledged", ts, channel)
            return
        request, _ = found
        form = Form.of(request)
        if form.digest != submission.digest:
            await self._tell_within(channel, user, stale_form_text(), deadline)
            await socket.ack(envelope_id)
            return
        held = self._stream.holders(channel, ts)
        if held and not await self._may(held[0], request, user, deadline):
            await self._tell_within(channel, user, not_allowed_text(), deadline)
            await socket.ack(envelope_id)
            return
        answer = form.read(submission.values)
        if not answer.valid:
            await socket.ack(envelope_id, answer.response_action())  # the modal stays open with the errors
            return
        record = ChoiceRecord(user=user, chosen=answer.chosen_options, action_ts=action_ts, channel=channel,
                              question_ts=ts, params_input=answer.params_input, via="form")
        await self._record_then_ack(socket, envelope_id, record, deadline, held=bool(held))

    # -- shared steps ----------------------------------------------------------------------------
    async def _request(self, channel: str, ts: str, deadline: float) -> tuple[HITLRequest, bool] | None:
        """The request a message carries: from the latest read of an ask holding it, else read from Slack."""
        for watch in self._stream.holders(channel, ts):
            latest = watch.latest
            found = request_of_metadata(latest.snapshot.metadata) if latest is not None else None
            if found is not None:
                return found
        try:
            metadata = await within(self._stream.answers.amessage_metadata(channel, ts), deadline - time.monotonic())
        except (ChatAlertError, asyncio.TimeoutError) as err:
            log.warning("Could not read the request %s in %s (%s)", ts, channel, err)
            return None
        return request_of_metadata(metadata)

    async def _may(self, watch: QuestionWatch, request: HITLRequest, user: str, deadline: float) -> bool:
        """Whether ``user`` may answer the request ``watch`` waits on (an error: they may; the holder judges)."""
        if watch.policy is None:
            return True
        try:
            return await within(self._judge_person(watch, request, user), deadline - time.monotonic())
        except (ChatAlertError, asyncio.TimeoutError) as err:
            log.warning("Could not tell whether %s may answer %s (%s); the holder judges", user, watch.ts, err)
            return True

    async def _judge_person(self, watch: QuestionWatch, request: HITLRequest, user: str) -> bool:
        policy = watch.policy
        assert policy is not None
        answers = self._stream.answers
        answer = await answers.person_answer("choice", user, "")
        if answer is None:
            return False
        groups = policy.groups if user not in policy.users else frozenset()
        members = await watch.group_members(sorted(groups))
        app_user, _ = await answers.app_identity()
        users = self._stream.connection.settings.airflow_users
        email = None
        if users.needs_email and user not in users.by_slack_id:  # airflow_users_by_email
            email = await answers.aperson_email(user)
        return allowed(answer, request, policy, users, group_members=members, app_user_id=app_user, email=email)

    async def _record_then_ack(self, socket: SlackSocket, envelope_id: str, record: ChoiceRecord, deadline: float,
                               *, held: bool) -> None:
        """Record the answer, then acknowledge it if that was in time."""
        self._in_flight.add(record.key)  # its record's own event must not count it before the ack
        try:
            result, record_ts = await self._post(record, deadline)
            in_time = record_ts is not None and recorded_in_time(record_ts, record.action_ts)
            acked = result == "posted" and in_time and time.monotonic() < deadline and await socket.ack(envelope_id)
        finally:
            self._in_flight.discard(record.key)
        if acked:
            _remember(self._recorded, record.key)
            self._deliver(record)
            return
        log.warning("An answer to the request %s in %s could not be recorded in time (%s); not acknowledged, so "
                    "the person sees Slack's error and may answer again", record.question_ts, record.channel, result)
        if result == "unknown" or (result == "posted" and in_time):
            _remember(self._void, record.key)  # it must count nowhere: here at once, elsewhere once deleted
            self._later(self._void_record(record, record_ts))

    async def _post(self, record: ChoiceRecord, deadline: float) -> tuple[str, str | None]:
        """Post the record at Slack's posting pace for the channel: ``(posted | not_posted | unknown, ts)``."""
        delay = self._stream.connection.budget.reserve(f"{CHANNEL_POSTS}:{record.channel}")
        if time.monotonic() + delay > deadline - POST_MARGIN_SECONDS:
            return "not_posted", None
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            ts = await within(self._stream.answers.apost(record.message(), channel=record.channel,
                                                         thread_ts=record.question_ts), deadline - time.monotonic())
            return "posted", ts
        except asyncio.TimeoutError:
            return "unknown", None
        except ChatTransientError as err:
            log.warning("Recording an answer in %s failed (%s)", record.channel, err)
            return ("unknown" if may_have_posted(err) else "not_posted"), None
        except ChatAlertError as err:
            log.warning("Recording an answer in %s failed (%s)", record.channel, err)
            return "not_posted", None

    def _deliver(self, record: ChoiceRecord) -> None:
        """Hand the acknowledged answer to the asks holding its request at once (no read)."""
        for watch in self._stream.holders(record.channel, record.question_ts):
            edit = patches.with_reply(record.answer())
            if not (self._stream.patchable(watch) and watch.patch(edit)):
                watch.refresh()

    def noticed(self, watch: QuestionWatch, read: QuestionRead) -> None:
        """Answers recorded by another triggerer on ``watch``'s request: that triggerer holds a socket of
        the app (events alone decide nothing from now on)."""
        for answer in read.replies:
            key = (watch.channel, watch.ts, answer.user, answer.ts)
            if answer.kind != "choice" or key in self._in_flight or key in self._recorded or key in self._void:
                continue
            _remember(self._recorded, key)
            self._stream.not_alone("it read an answer another triggerer recorded")

    def vetted(self, watch: QuestionWatch, read: QuestionRead) -> QuestionRead:
        """``read`` without the answers this process refused to acknowledge (their record may linger)."""
        if not (self._void or self._in_flight):
            return read
        refused = self._void.keys() | self._in_flight
        kept = tuple(answer for answer in read.replies
                     if answer.kind != "choice" or (watch.channel, watch.ts, answer.user, answer.ts) not in refused)
        if len(kept) == len(read.replies):
            return read
        return QuestionRead(read.snapshot, kept, read.read_at, read.replies_read_at, read.app_user_id, read.open_since)

    async def _void_record(self, record: ChoiceRecord, record_ts: str | None) -> None:
        """Delete the record of an answer that was not acknowledged, so no other reader counts it."""
        alerter = self._stream.answers
        if record_ts is None:
            await asyncio.sleep(float(RECORD_WINDOW) + 1.0)
        for attempt in range(1, VOID_TRIES + 1):
            try:
                if record_ts is None:
                    found = await alerter.aclick_records(record.channel, record.question_ts)
                    stamps = [ts for ts, items in found if any(item.key == record.key for item in items)]
                else:
                    stamps = [record_ts]
                for ts in stamps:
                    await alerter.adelete(record.channel, ts)
                return
            except ChatTransientError as err:
                await asyncio.sleep(backoff_delay(attempt, retry_after=err.retry_after))
            except ChatAlertError as err:
                if err.code == "message_not_found":
                    return
                break
        log.error("The record of an answer to %s in %s that was not acknowledged could not be deleted; a "
                  "triggerer that reads it may count it", record.question_ts, record.channel)

    async def _tell_within(self, channel: str, user: str, text: str, deadline: float) -> None:
        """Tell a person why their answer changed nothing, before the ack, never past its deadline."""
        with contextlib.suppress(asyncio.TimeoutError):
            await within(self._tell(channel, user, text), deadline - time.monotonic())

    async def _tell(self, channel: str, user: str, text: str) -> None:
        try:
            await self._stream.answers.apost_ephemeral(channel, user, text)
        except ChatAlertError as err:  # only a courtesy
            log.warning("Could not tell %s about their answer (%s)", user, err)

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)


def _remember(memory: collections.OrderedDict[Key, None], key: Key) -> None:
    memory[key] = None
    while len(memory) > MEMORY:
        memory.popitem(last=False)
