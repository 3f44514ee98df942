"""The Discord emulator as the web page sees it: a `ChatSource` over a running `DiscordEmulator`.

Reading: the guild's text channels, each with its messages, the messages of the threads started on them
(a thread has its starter message's id, so they show as that message's thread), and the ephemeral
interaction responses of the person viewing; each message's view is cached until the state's change hook
(``State.watchers``) reports a change to it. The journal holds the REST calls, 429s and Gateway events;
the connected Gateway sessions are the page's socket count.

Acting: every act goes through ``emulator.act_as(person)``: the person's token over the REST API for a
post, a reply (in the message's thread when it has one, else a Discord reply), a reaction, an edit or a
deletion, and the emulator's interaction delivery for a button (INTERACTION_CREATE to the bot's Gateway
sessions, which must acknowledge it within the interaction timeout), so rate limits, permissions, faults
and the 3 s rule all apply. Nothing here changes the emulator's state directly.

This module never imports the emulator module itself (the emulator starts the web view lazily): it
talks to it through the small protocols below. It lives with the Discord emulator, not in the web
package, so that the web package never imports a chat service's emulator package (no import cycle).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from airflow_chat_alerts.testing.discord.errors import DiscordApiError
from airflow_chat_alerts.testing.discord.guild import Guild, Member
from airflow_chat_alerts.testing.discord.state import Channel, Message, State
from airflow_chat_alerts.testing.discord.web_messages import (
    BADGES,
    Directory,
    deleted_starter,
    is_moderator,
    message_view,
    person_kind,
)
from airflow_chat_alerts.testing.journal import Call, Journal
from airflow_chat_alerts.testing.web.act_answers import ACT_FAILURES, Unsupported, act_failure
from airflow_chat_alerts.testing.web.acts import Act
from airflow_chat_alerts.testing.web.changes import ChangeLog
from airflow_chat_alerts.testing.web.emoji import emoji_char
from airflow_chat_alerts.testing.web.journal_lines import summarize as summarize_args

JOURNAL_SHOWN = 500  # the most recent calls sent to a page that has none yet
_SUMMARY_SKIP = {"embeds", "components", "attachments", "files", "allowed_mentions", "data", "payload_json"}
_SUMMARY_OMIT = {"webhook_token", "interaction_token", "token", "nonce"}  # secrets, or nothing to read

CLICK_FAILED = {
    "no_connection": "The bot did not answer: no Gateway session of the bot is connected (nothing receives "
                     "the click: is the DAG's ask waiting?). Discord shows \"This interaction failed\".",
    "not_acknowledged": "This interaction failed: the bot did not acknowledge the click within the "
                        "interaction timeout (Discord's 3 seconds).",
}


class _Person(Protocol):
    """What `DiscordEmulator.act_as` returns (the emulator's `Actor`)."""

    def post(self, channel: str, content: str, **fields: Any) -> str: ...

    def reply(self, channel: str, message_id: str, content: str, **fields: Any) -> str: ...

    def post_in_thread(self, thread_id: str, content: str, **fields: Any) -> str: ...

    def react(self, channel: str, message_id: str, emoji: str) -> None: ...

    def unreact(self, channel: str, message_id: str, emoji: str) -> None: ...

    def edit(self, channel: str, message_id: str, content: str) -> None: ...

    def delete(self, channel: str, message_id: str) -> None: ...

    def click(self, channel: str, message_id: str, custom_id: str) -> dict[str, Any]: ...


class _Emulator(Protocol):
    """What the source reads of a `DiscordEmulator`."""

    guild: Guild
    journal: Journal

    @property
    def state(self) -> State: ...

    def act_as(self, member: str) -> Any: ...

    def connected_sessions(self) -> int: ...


class DiscordSource:
    """A running `DiscordEmulator` as a `ChatSource` of the web page.

    :param emulator: the emulator shown (its state is replaced by ``reset()``: the page follows).
    :param id: the source's id in the page's addresses.
    :param name: what the page calls it.
    """

    def __init__(self, emulator: _Emulator, *, id: str = "discord", name: str = "Discord") -> None:
        self.id = id
        self.name = name
        self._emulator = emulator
        self._log = ChangeLog()
        self._lock = threading.Lock()
        self._wakers: list[Callable[[], None]] = []
        self._views: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}  # (channel, id) -> (revision, view)
        self._ephemeral = 0  # changes to ephemeral messages seen (the page compares it)
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
                    state.watchers.append(lambda change, msg: self._changed(state, change, msg))
                self._state = state
                with state.lock:
                    filled = {_home(ch) for ch in state.channels.values() if ch.messages}
                self._log.restart(filled)
                self._views.clear()
            self._journal_seen = journal
            return state

    def _changed(self, state: State, change: str, msg: Message) -> None:
        """The state's change hook (under its lock): note the message, wake the page."""
        if state is not self._state:
            return
        if msg.visible_to is not None:
            self._ephemeral += 1
        else:
            ch = state.channels.get(msg.channel_id)
            home = _home(ch) if ch is not None else msg.channel_id
            if change == "deleted" and not (msg.thread_id and msg.thread_id in state.channels):
                self._log.remove(home, msg.id)
            else:  # a deleted thread starter leaves its stand-in
                self._log.touch(home, msg.id)
            if ch is not None and ch.is_thread:
                self._log.touch(home, ch.id)  # the starter's reply count
        for wake in list(self._wakers):
            wake()

    def watch(self, wake: Callable[[], None]) -> None:
        self._wakers.append(wake)

    def secrets(self) -> Iterable[str]:
        state = self._emulator.state
        with state.lock:
            return {*state.tokens, *state.revoked, *(h.token for h in state.webhooks.values()),
                    *(i.token for i in state.interactions.values()),
                    *(m.token for m in self._emulator.guild.members.values())}

    # --- reading ----------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        self._follow()
        return {
            "epoch": self._log.epoch,
            "revision": self._log.revision,
            "channels": self._log.channel_revisions(),
            "journal": len(self._emulator.journal),
            "sockets": self._emulator.connected_sessions(),
            "ephemeral": self._ephemeral,
            "archived": [],
        }

    def workspace(self) -> dict[str, Any]:
        state = self._follow()
        guild = self._emulator.guild
        people = [
            {
                "id": m.id,
                "name": m.name,
                "label": m.global_name or m.name,
                "kind": person_kind(m, guild),
                "badge": BADGES.get(person_kind(m, guild)),
                "guest": False,
                "external": False,
                "deleted": False,
                "admin": is_moderator(m, guild),
                "app_bot": m.id == guild.bot.id,
            }
            for m in guild.members.values()
        ]
        nobody = Member(name="", id="0")  # @everyone alone: who sees a channel without a role
        with state.lock:
            channels = [
                {"id": ch.id, "name": ch.name, "private": not state.can_view(nobody, ch), "archived": False,
                 "members": [m.id for m in state.members.values() if state.can_view(m, ch)], "topic": ch.topic}
                for ch in state.channels.values() if not ch.is_thread
            ]
        return {
            "name": guild.name,
            "people": people,
            "channels": channels,
            "default_channel": channels[0]["id"] if channels else None,
            "app": {"id": guild.application_id, "bot": guild.bot.id},
            "can_select": False,
            "transport": "Gateway",
            "ephemeral_note": "Only you can see this",
        }

    def _names(self, state: State) -> Directory:
        threads = {ch.id: ch.name for ch in state.channels.values() if ch.is_thread}
        return Directory(self._emulator.guild, threads)

    def _view(self, state: State, names: Directory, home: str, ch: Channel, msg: Message) -> dict[str, Any]:
        """The message's view, from the cache while the state reports no change to it."""
        revision = self._log.revision_of(home, msg.id)
        cached = self._views.get((home, msg.id))
        if cached is not None and cached[0] == revision:
            return cached[1]
        view = message_view(state.render(msg), names, reacted=msg.reactions,
                            thread_ts=ch.id if ch.is_thread else None)
        self._views[(home, msg.id)] = (revision, view)
        return view

    def channel(self, channel: str, *, viewer: str | None, since: int | None, epoch: int | None) -> dict[str, Any]:
        state = self._follow()
        full = since is None or epoch != self._log.epoch
        changes = self._log.since(channel, 0 if full else since or 0)
        with state.lock:
            ch = state.channels.get(channel)
            if ch is None or ch.is_thread:
                raise KeyError(channel)
            names = self._names(state)
            threads = [t for t in state.channels.values() if t.parent_id == channel]
            orphaned = {t.id: t for t in threads if t.id not in ch.messages}

            def view(key: str) -> dict[str, Any] | None:
                if key in ch.messages:
                    return self._view(state, names, channel, ch, ch.messages[key])
                if key in orphaned:
                    return deleted_starter(state.render_channel(orphaned[key]))
                holder = next((t for t in threads if key in t.messages), None)
                return self._view(state, names, channel, holder, holder.messages[key]) if holder else None

            if full:
                keys = [*ch.messages, *orphaned, *(k for t in threads for k in t.messages)]
                messages = [v for v in map(view, keys) if v is not None]
                removed: list[str] = []
            else:
                found = {key: view(key) for key in changes.changed}
                messages = [v for v in found.values() if v is not None]
                removed = sorted({*changes.removed, *(k for k, v in found.items() if v is None)})
            homes = {channel, *(t.id for t in threads)}
            ephemeral = [
                message_view(state.render(m), names, ephemeral=True,
                             thread_ts=m.channel_id if m.channel_id != channel else None)
                for m in state.ephemeral.values()
                if viewer and m.visible_to == viewer and m.channel_id in homes
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
        names = self._names(self._emulator.state)
        return {
            "epoch": self._log.epoch,
            "next": len(calls),
            "entries": [self._entry(i, call, names) for i, call in enumerate(calls[since:], start=since)],
        }

    def _entry(self, index: int, call: Call, names: Directory) -> dict[str, Any]:
        if call.http_method == "WS":
            kind = "socket"
        elif call.status == 429:
            kind = "limited"
        elif call.error or call.status >= 400 or call.status == 0:
            kind = "error"
        else:
            kind = "call"
        return {
            "i": index,
            "time": call.time,
            "method": call.method,
            "status": call.status,
            "error": call.error,
            "who": (names.user_name(call.user) or call.user) if call.user else "",
            "transport": call.http_method,
            "summary": summarize(call.args, names),
            "kind": kind,
        }

    # --- acting -----------------------------------------------------------------------------------

    def act(self, act: Act) -> dict[str, Any]:
        try:
            member = self._emulator.guild.member(act.actor)
        except KeyError:
            return {"ok": False, "error": "unknown_person", "message": f"No member {act.actor!r} in the guild."}
        actor: _Person = self._emulator.act_as(member.name)
        try:
            return {"ok": True, **self._carry_out(actor, act)}
        except DiscordApiError as err:
            return api_error(err.status, err.body)
        except ACT_FAILURES as failure:
            return act_failure(failure, CLICK_FAILED)

    def _holder(self, channel: str, message_id: str) -> str:
        """The channel or thread holding ``message_id`` (shown in ``channel``'s page)."""
        state = self._emulator.state
        with state.lock:
            ch = state.channels.get(channel)
            if ch is not None and message_id in ch.messages:
                return channel
            for thread in state.channels.values():
                if thread.parent_id == channel and message_id in thread.messages:
                    return thread.id
        return channel

    def _has_thread(self, channel: str, message_id: str) -> bool:
        state = self._emulator.state
        with state.lock:
            thread = state.channels.get(message_id)
            return thread is not None and thread.parent_id == channel

    def _carry_out(self, actor: _Person, act: Act) -> dict[str, Any]:
        """The act through the person's `Actor` (whose calls raise what Discord answers)."""
        channel, text, ts = act.channel, act.text or "", act.ts or ""
        if act.kind == "post":
            return {"ts": actor.post(channel, text)}
        if act.kind == "reply":
            parent = act.thread_ts or ""
            if self._has_thread(channel, parent):
                return {"ts": actor.post_in_thread(parent, text)}
            return {"ts": actor.reply(channel, parent, text)}
        if act.kind == "select":
            raise Unsupported("Discord's emulator has no select menus.")
        where = self._holder(channel, ts)
        if act.kind in ("react", "unreact"):
            name = act.name or ""
            emoji = emoji_char(name) or name  # a short name as its character; a character or name:id as is
            (actor.react if act.kind == "react" else actor.unreact)(where, ts, emoji)
        elif act.kind == "edit":
            actor.edit(where, ts, text)
        elif act.kind == "delete":
            actor.delete(where, ts)
        elif act.kind == "click":
            actor.click(where, ts, act.action_id or "")
        return {}


def _home(ch: Channel) -> str:
    """The channel whose page shows ``ch``'s messages (a thread's parent, or ``ch`` itself)."""
    return ch.parent_id or ch.id


def api_error(status: int, body: Any) -> dict[str, Any]:
    """A Discord error answer as the page shows it: Discord's code and words, and the wait on a 429."""
    body = body if isinstance(body, dict) else {"message": str(body)}
    code = body.get("code")
    error = str(code) if code not in (None, 0) else f"http_{status}"
    message = f"Discord answered HTTP {status}: {body.get('message', '')}".rstrip(": ")
    if code not in (None, 0):
        message += f" (code {code})"
    if status == 429:
        message += f". Retry after {body.get('retry_after', '?')} s"
    return {"ok": False, "error": error, "message": message + "."}


def summarize(args: dict[str, Any], names: Directory) -> str:
    """A Discord call's arguments in one line: channels and people by name, long texts cut, embeds counted."""
    return summarize_args(args, names, channel_keys=("channel_id", "thread_id"), user_keys=("user_id", "author_id"),
                          counted=_SUMMARY_SKIP, omitted=_SUMMARY_OMIT)
