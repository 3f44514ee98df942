"""What the triggerer does with each Socket Mode envelope.

* A click on our Approve/Reject buttons (``interactive`` / ``block_actions``):

  - on a question decided here already: an ephemeral "already decided" to the person, ack;
  - on a question an ask of this process waits on, by someone who may not answer it (the decision's
    own rule): an ephemeral "not an approver", ack, nothing recorded;
  - otherwise the click is made durable first, as a thread reply by the app carrying the click in
    its metadata (the record any triggerer honours when it reads the thread), THEN acknowledged; the
    ask held here gets the button answer at once. A click on a question held by another process is
    only recorded: its holder decides when the record reaches it (event or read).
  - recording failed: no ack, so Slack shows the person an error and clicking again works.

* ``events_api`` callbacks: acked at once; a thread reply (new, edited, deleted) or a reaction on a
  question held here patches that ask's latest read and wakes that ask alone (no read). Anything
  about questions not held here is dropped: replies and reactions are durable in Slack, and the
  holder's next read finds them.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol, cast

from airflow_chat_alerts.clicks import Click, already_decided_text, not_approver_text
from airflow_chat_alerts.decisions import evaluate
from airflow_chat_alerts.exceptions import ChatAlertError
from airflow_chat_alerts.triggers.push import patches

if TYPE_CHECKING:
    from slack_sdk.socket_mode.request import SocketModeRequest

    from airflow_chat_alerts.alerters.slack import SlackAlerter
    from airflow_chat_alerts.model import Answer
    from airflow_chat_alerts.triggers.polling.connection import SharedConnection
    from airflow_chat_alerts.triggers.polling.watch import QuestionWatch

log = logging.getLogger(__name__)


class Receiver(Protocol):
    """What handling an envelope needs of the process's Socket Mode client (client.PushClient)."""

    decided: collections.OrderedDict[tuple[str, str], str]

    async def ack(self, envelope_id: str) -> None: ...

    def note_recorded(self, key: tuple[str, str, str, str]) -> None: ...

    def note_judged(self, key: tuple[str, str, str, str]) -> None: ...

    def holders(self, channel: str, ts: str) -> tuple[SharedConnection, list[QuestionWatch]] | None: ...

    def any_connection(self) -> SharedConnection | None: ...

# Message subtypes that are thread replies people wrote (others: joins, topic changes, ...).
REPLY_SUBTYPES = frozenset({None, "thread_broadcast", "bot_message", "file_share", "me_message"})


async def handle_envelope(push: Receiver, request: SocketModeRequest) -> None:
    """Handle one envelope; every envelope is acked except a click whose record could not be posted."""
    payload = request.payload or {}
    if request.type == "interactive":
        click = Click.from_payload(payload)
        if click is None:  # not one of our buttons
            await push.ack(request.envelope_id)
            return
        await handle_click(push, request.envelope_id, click)
        return
    await push.ack(request.envelope_id)
    if request.type == "events_api" and isinstance(payload.get("event"), Mapping):
        try:
            await handle_event(push, payload["event"])
        except ChatAlertError as err:  # a lookup failed: the next read catches up with the event
            log.warning("A pushed event could not be applied (%s); the next read will see it", err)


async def handle_click(push: Receiver, envelope_id: str, click: Click) -> None:
    decided = push.decided.get((click.channel, click.question_ts))
    held = push.holders(click.channel, click.question_ts)
    connection = held[0] if held else push.any_connection()
    if connection is None:
        return  # no ask left to post with: no ack, the person sees the error and may click again
    if decided is not None:
        await _tell(connection, click.channel, click.user, already_decided_text(decided))
        await push.ack(envelope_id)
        return
    answer = None
    if held is not None:
        watches = held[1]
        try:
            answer = await _slack(connection).person_answer("button", click.user, click.action, click.action_ts)
            authorised = answer is not None and await _may_answer(answer, watches[0])
        except ChatAlertError as err:  # cannot tell who may answer now: Slack shows an error, a click again works
            log.warning("Could not judge a click on %s (%s); not acknowledged", click.question_ts, err)
            return
        if not authorised:
            await _tell(connection, click.channel, click.user, not_approver_text())
            await push.ack(envelope_id)
            return
        push.note_judged((click.channel, click.question_ts, click.user, click.action_ts))  # judged now
    try:
        await asyncio.to_thread(
            connection.alerter.post, click.record(), channel=click.channel, thread_ts=click.question_ts
        )
    except ChatAlertError as err:
        log.warning("Recording a click on %s in %s failed (%s); not acknowledged, so the person may click "
                    "again", click.question_ts, click.channel, err)
        return
    push.note_recorded((click.channel, click.question_ts, click.user, click.action_ts))
    await push.ack(envelope_id)
    if held is not None and answer is not None:
        for watch in held[1]:
            if not watch.patch(patches.with_reply(answer)):
                watch.refresh()


async def _may_answer(answer: Answer, watch: QuestionWatch) -> bool:
    """Whether this person's click would count (the decision's own rule, groups read as needed)."""
    policy, update = watch.policy, watch.latest
    if policy is None:
        return True
    groups = sorted(policy.groups) if answer.user not in policy.users else []
    members = {group: frozenset[str]() for group in policy.groups} | await watch.group_members(groups)
    decision = evaluate(
        [answer],
        replace(policy, required_approvals=1),
        question_ts=watch.ts,
        group_members=members,
        self_user_id=update.app_user_id if update else None,
    )
    return decision.decided


async def tell_if_not_approver(
    connection: SharedConnection, watch: QuestionWatch, channel: str, answer: Answer
) -> None:
    """A click recorded by another triggerer, read here: tell its author if it cannot count."""
    try:
        if not await _may_answer(answer, watch):
            await _tell(connection, channel, answer.user, not_approver_text())
    except ChatAlertError as err:  # only a courtesy: the click counts for nothing either way
        log.warning("Could not judge a recorded click by %s (%s)", answer.user, err)


async def _tell(connection: SharedConnection, channel: str, user: str, text: str) -> None:
    try:
        await connection.alerter.apost_ephemeral(channel, user, text)
    except ChatAlertError as err:  # only a courtesy: the click itself is handled
        log.warning("Could not tell %s about their click (%s)", user, err)


async def handle_event(push: Receiver, event: Mapping[str, Any]) -> None:
    """Patch the ask a message or reaction event concerns (if held here) and wake it alone."""
    kind = event.get("type")
    if kind in ("reaction_added", "reaction_removed"):
        item = event.get("item") or {}
        held = push.holders(str(item.get("channel")), str(item.get("ts")))
        if held is None:
            return
        connection, watches = held
        user, name = str(event.get("user") or ""), str(event.get("reaction") or "")
        if kind == "reaction_removed":
            _patch(watches, patches.without_reaction(user, name))
            return
        answer = await _slack(connection).person_answer("reaction", user, name)
        if answer is not None:
            _patch(watches, patches.with_reaction(answer))
        return
    if kind != "message":
        return
    channel = str(event.get("channel") or "")
    subtype = event.get("subtype")
    if subtype == "message_deleted":
        previous = event.get("previous_message") or {}
        deleted = str(event.get("deleted_ts") or "")
        if (held := push.holders(channel, deleted)) is not None:
            for watch in held[1]:
                watch.refresh()  # the question itself: a read confirms it before its ask fails
        elif (held := push.holders(channel, str(previous.get("thread_ts") or ""))) is not None:
            _patch(held[1], patches.without_reply(deleted))
        return
    message = event.get("message") if subtype == "message_changed" else event
    if not isinstance(message, Mapping) or (subtype != "message_changed" and subtype not in REPLY_SUBTYPES):
        return
    thread_ts, ts = str(message.get("thread_ts") or ""), str(message.get("ts") or "")
    if (held := push.holders(channel, ts)) is not None:  # the question itself changed
        if message.get("subtype") == "tombstone":
            for watch in held[1]:
                watch.refresh()
        return
    held = push.holders(channel, thread_ts) if thread_ts else None
    if held is None:
        return
    connection, watches = held
    answers = await _slack(connection).reply_answers([message], channel=channel, question_ts=thread_ts)
    if not answers:
        return
    answer = answers[0]
    if answer.kind == "reply" and answer.is_bot and answer.user == await _slack(connection).aself_user_id():
        if not message.get("metadata"):  # perhaps a click record without its metadata: read it
            for watch in watches:
                watch.refresh()
        return
    _patch(watches, patches.with_reply(answer))


def _slack(connection: SharedConnection) -> SlackAlerter:
    """Push comes only to connections with an app token, which are Slack API connections."""
    return cast("SlackAlerter", connection.alerter)


def _patch(watches: list[QuestionWatch], edit: patches.Edit) -> None:
    for watch in watches:
        if not watch.patch(edit):
            watch.refresh()  # nothing read yet: read it now
