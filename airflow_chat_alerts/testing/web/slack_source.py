"""The Slack emulator as the web page sees it: a `ChatSource` over a running `SlackEmulator`.

Reading: channels and messages come from the emulator's state as its Web API renders them, so the page
shows what a client would read; each message's view is cached until the emulator reports a change to
it (its ``State.observers`` hook). The journal and the Socket Mode connections come from the emulator's
own journal and hub.

Acting: every act goes through ``emulator.act_as(person)``, the path tests use: a real slack_sdk client
over HTTP for posts, replies, reactions, edits and deletions, and the emulator's Socket Mode delivery
for a button (so the app's sockets, acks, rate limits, faults and permissions all apply). Nothing here
changes the emulator's state directly.

This module never imports the emulator module itself (the emulator starts the web view lazily): it
talks to it through the small protocols below.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError

from airflow_chat_alerts.testing.journal import Call, Journal
from airflow_chat_alerts.testing.selections import MenuNotFound
from airflow_chat_alerts.testing.state import ChannelState, Message, State
from airflow_chat_alerts.testing.web.act_answers import ACT_FAILURES, act_failure
from airflow_chat_alerts.testing.web.acts import Act
from airflow_chat_alerts.testing.web.changes import ChangeLog
from airflow_chat_alerts.testing.web.journal_lines import summarize as summarize_args
from airflow_chat_alerts.testing.web.slack_messages import BADGES, Directory, message_view, person_kind
from airflow_chat_alerts.testing.workspace import Workspace

JOURNAL_SHOWN = 500  # the most recent calls sent to a page that has none yet
_SUMMARY_SKIP = {"blocks", "metadata", "attachments", "payload", "files"}
# Arguments a person's client adds to every message (an opaque id): nothing to read in a summary.
_SUMMARY_OMIT = {"client_msg_id"}

CLICK_FAILED = {
    "no_connection": "The app did not answer: no Socket Mode connection of the app is open "
                     "(nothing is listening for buttons: is the DAG's ask waiting with an app_token?).",
    "not_acknowledged": "The app did not acknowledge the click in time; Slack shows an error on the "
                        "button and delivers nothing later.",
}


class _Person(Protocol):
    """What `SlackEmulator.act_as` returns (the emulator's `Actor`)."""

    def post(self, channel: str, text: str, **kwargs: Any) -> str: ...

    def reply(self, channel: str, thread_ts: str, text: str, **kwargs: Any) -> str: ...

    def react(self, channel: str, ts: str, name: str) -> None: ...

    def unreact(self, channel: str, ts: str, name: str) -> None: ...

    def edit(self, channel: str, ts: str, text: str) -> None: ...

    def delete(self, channel: str, ts: str) -> None: ...

    def click(self, channel: str, message_ts: str, action_id: str, *, value: str | None = None) -> dict[str, Any]:
        ...

    def select(self, channel: str, message_ts: str, action_id: str, value: str) -> dict[str, Any]: ...

    def select_many(self, channel: str, message_ts: str, action_id: str, values: list[str]) -> dict[str, Any]: ...


class _Emulator(Protocol):
    """What the source reads of a `SlackEmulator`."""

    workspace: Workspace
    journal: Journal

    @property
    def state(self) -> State: ...

    @property
    def app_token(self) -> str: ...

    def act_as(self, user: str) -> Any: ...

    def open_sockets(self) -> int: ...


class SlackSource:
    """A running `SlackEmulator` as a `ChatSource` of the web page.

    :param emulator: the emulator shown (its state may be replaced by ``reset()``: the page follows).
    :param id: the source's id in the page's addresses.
    :param name: what the page calls it.
    """

    def __init__(self, emulator: _Emulator, *, id: str = "slack", name: str = "Slack") -> None:
        self.id = id
        self.name = name
        self._emulator = emulator
        self._directory = Directory(emulator.workspace)
        self._log = ChangeLog()
        self._lock = threading.Lock()
        self._wakers: list[Callable[[], None]] = []
        self._views: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}  # (channel, ts) -> (revision, view)
        self._journal_seen = 0
        self._state: State | None = None
        self._follow()

    # --- following the emulator's state ---------------------------------------------------------

    def _follow(self) -> State:
        """The emulator's state now; a new one (after ``reset()``) or a cleared journal starts a new epoch."""
        with self._lock:
            state = self._emulator.state
            journal = len(self._emulator.journal)
            if state is not self._state or journal < self._journal_seen:
                if state is not self._state:
                    state.observers.append(lambda *args, **kw: self._changed(state, *args, **kw))
                self._state = state
                with state.lock:
                    filled = [ch.id for ch in state.channels.values() if ch.messages]
                self._log.restart(filled)
                self._views.clear()
            self._journal_seen = journal
            return state

    def _changed(self, state: State, change: str, channel: ChannelState, msg: Message, **_: Any) -> None:
        """The emulator's change hook (under its state lock): note the message, wake the page."""
        if state is not self._state:
            return
        if change == "deleted":
            self._log.remove(channel.id, msg.ts)
        else:
            self._log.touch(channel.id, msg.ts)
        if msg.is_reply and msg.thread_ts:
            self._log.touch(channel.id, msg.thread_ts)  # its reply count changed (or it is gone)
        for wake in list(self._wakers):
            wake()

    def watch(self, wake: Callable[[], None]) -> None:
        self._wakers.append(wake)

    def secrets(self) -> Iterable[str]:
        state = self._emulator.state
        with state.lock:
            tokens = {*state.tokens, *state.revoked, *(u.token for u in state.workspace.users)}
            hooks = {h.secret for h in state.webhooks.values()}
        return {*tokens, *hooks, self._emulator.app_token}

    # --- reading ----------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        state = self._follow()
        with state.lock:
            ephemeral = sum(len(shown) for shown in state.ephemeral.values())
            archived = sorted(ch.id for ch in state.channels.values() if ch.is_archived)
        return {
            "epoch": self._log.epoch,
            "revision": self._log.revision,
            "channels": self._log.channel_revisions(),
            "journal": len(self._emulator.journal),
            "sockets": self._emulator.open_sockets(),
            "ephemeral": ephemeral,
            "archived": archived,
        }

    def workspace(self) -> dict[str, Any]:
        state = self._follow()
        ws = state.workspace
        people = [
            {
                "id": u.id,
                "name": u.name,
                "label": u.real_name or u.name,
                "kind": person_kind(u),
                "badge": BADGES.get(person_kind(u)),
                "guest": u.is_restricted,
                "external": bool(u.team_id and u.team_id != ws.team_id),
                "deleted": u.deleted,
                "admin": u.is_admin and not u.is_bot,
                "app_bot": u.name == ws.app_bot,
            }
            for u in ws.users
        ]
        with state.lock:
            channels = [
                {"id": ch.id, "name": ch.name, "private": ch.is_private, "archived": ch.is_archived,
                 "members": list(ch.members), "topic": ch.topic}
                for ch in state.channels.values()
            ]
        return {
            "name": ws.team_name,
            "people": people,
            "channels": channels,
            "default_channel": channels[0]["id"] if channels else None,
            "app": {"id": ws.app_id, "bot": ws.bot.id},
            "can_select": True,
        }

    def _view(self, state: State, ch: ChannelState, msg: Message) -> dict[str, Any]:
        """The message's view, from the cache while the emulator reports no change to it."""
        revision = self._log.revision_of(ch.id, msg.ts)
        cached = self._views.get((ch.id, msg.ts))
        if cached is not None and cached[0] == revision:
            return cached[1]
        view = message_view(state.render(ch, msg), self._directory)
        self._views[(ch.id, msg.ts)] = (revision, view)
        return view

    def channel(self, channel: str, *, viewer: str | None, since: int | None, epoch: int | None) -> dict[str, Any]:
        state = self._follow()
        full = since is None or epoch != self._log.epoch
        changes = self._log.since(channel, 0 if full else since or 0)
        seer = self._directory.user(viewer) if viewer else None
        with state.lock:
            ch = state.channels[channel]

            def shown(msg: Message) -> bool:  # a reply to no message is shown nowhere, as in Slack
                return not msg.is_reply or (msg.thread_ts or "") in ch.messages

            if full:
                wanted = [m for m in ch.messages.values() if shown(m)]
                removed: list[str] = []
            else:
                wanted = [ch.messages[ts] for ts in changes.changed if ts in ch.messages and shown(ch.messages[ts])]
                removed = sorted({*changes.removed, *(ts for ts in changes.changed if ts not in ch.messages)})
            messages = [self._view(state, ch, m) for m in wanted]
            ephemeral = [
                message_view(m, self._directory, ephemeral=True)
                for m in (state.ephemeral.get(seer.id, []) if seer else [])
                if m.get("channel") == channel
            ]
        return {
            "epoch": self._log.epoch,
            "revision": changes.revision,
            "full": full,
            "channel": channel,
            "messages": messages,
            "removed": removed,
            "ephemeral": ephemeral,
        }

    def journal(self, *, since: int, epoch: int | None) -> dict[str, Any]:
        self._follow()
        calls = self._emulator.journal.calls()
        if epoch != self._log.epoch or since > len(calls):
            since = max(0, len(calls) - JOURNAL_SHOWN)
        return {
            "epoch": self._log.epoch,
            "next": len(calls),
            "entries": [self._entry(i, call) for i, call in enumerate(calls[since:], start=since)],
        }

    def _who(self, user: str | None) -> str:
        if not user:
            return ""
        if user == self._emulator.workspace.app_id:
            return "app"
        return self._directory.user_name(user) or user

    def _entry(self, index: int, call: Call) -> dict[str, Any]:
        if call.http_method == "WS":
            kind = "socket"
        elif call.status == 429:
            kind = "limited"
        elif call.error or call.status != 200:
            kind = "error"
        else:
            kind = "call"
        return {
            "i": index,
            "time": call.time,
            "method": call.method,
            "status": call.status,
            "error": call.error,
            "who": self._who(call.user),
            "transport": call.http_method,
            "summary": summarize(call.args, self._directory),
            "kind": kind,
        }

    # --- acting -----------------------------------------------------------------------------------

    def act(self, act: Act) -> dict[str, Any]:
        try:
            person = self._emulator.workspace.user(act.actor)
        except KeyError:
            return {"ok": False, "error": "unknown_person", "message": f"No person {act.actor!r} in the workspace."}
        actor: _Person = self._emulator.act_as(person.name)
        try:
            return {"ok": True, **self._carry_out(actor, act)}
        except SlackApiError as err:
            return api_error(err)
        except ACT_FAILURES as failure:
            return act_failure(failure, CLICK_FAILED)

    def _carry_out(self, actor: _Person, act: Act) -> dict[str, Any]:
        """The act through the person's `Actor` (whose calls raise what Slack answers)."""
        channel, text, ts = act.channel, act.text or "", act.ts or ""
        if act.kind == "post":
            return {"ts": actor.post(channel, text)}
        if act.kind == "reply":
            return {"ts": actor.reply(channel, act.thread_ts or "", text)}
        if act.kind == "react":
            actor.react(channel, ts, act.name or "")
        elif act.kind == "unreact":
            actor.unreact(channel, ts, act.name or "")
        elif act.kind == "edit":
            actor.edit(channel, ts, text)
        elif act.kind == "delete":
            actor.delete(channel, ts)
        elif act.kind == "click":
            actor.click(channel, ts, act.action_id or "", value=act.value)
        elif act.kind == "select":
            values = list(act.values)
            if len(values) == 1:  # a single choice, in a select or a multi-select
                try:
                    actor.select(channel, ts, act.action_id or "", values[0])
                    return {}
                except MenuNotFound:
                    pass
            actor.select_many(channel, ts, act.action_id or "", values)
        return {}


def api_error(err: SlackApiError) -> dict[str, Any]:
    """A slack_sdk ``SlackApiError`` as the page shows it: Slack's code, and the wait on a 429."""
    response = err.response
    code = str(response.get("error") or f"http_{response.status_code}")
    message = f"Slack answered {code} (HTTP {response.status_code})."
    if response.status_code == 429:
        message += f" Retry after {response.headers.get('Retry-After', '?')} s."
    return {"ok": False, "error": code, "message": message}


def summarize(args: dict[str, Any], directory: Directory) -> str:
    """A Slack call's arguments in one line: channels by name, long texts cut, blocks counted."""
    return summarize_args(args, directory, channel_keys=("channel", "channel_id"), user_keys=("user", "users"),
                          counted=_SUMMARY_SKIP, omitted=_SUMMARY_OMIT)
