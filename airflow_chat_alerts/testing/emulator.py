"""`SlackEmulator`: the emulator running in-process, on its own event loop in a background thread,
so sync and async clients in the test's thread both talk to it over real HTTP.

    with SlackEmulator() as emu:
        client = WebClient(token=emu.bot_token, base_url=emu.base_url)
        ts = client.chat_postMessage(channel=emu.channel_id("ml-alerts"), text="hi")["ts"]
        emu.act_as("alice").reply("ml-alerts", ts, "approve")
        print(emu.transcript("ml-alerts"))
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from airflow_chat_alerts.testing.app import Backend, build_app
from airflow_chat_alerts.testing.clock import Clock
from airflow_chat_alerts.testing.faults import Faults
from airflow_chat_alerts.testing.journal import Journal
from airflow_chat_alerts.testing.ratelimit import RateLimiter
from airflow_chat_alerts.testing.rich_text import rich_text_block
from airflow_chat_alerts.testing.socket_controls import ButtonClicks, SocketModeControls
from airflow_chat_alerts.testing.socket_mode import SocketHub
from airflow_chat_alerts.testing.state import REACTION_USERS_SHOWN, State
from airflow_chat_alerts.testing.transcript import render_transcript
from airflow_chat_alerts.testing.workspace import Workspace

if TYPE_CHECKING:
    from slack_sdk import WebClient
    from slack_sdk.web.async_client import AsyncWebClient

    from airflow_chat_alerts.testing.web.server import WebView


class SlackEmulator(SocketModeControls):
    """A stateful Slack Web API emulator.

    :param workspace: a `Workspace`, a path to a workspace JSON file, or None for `Workspace.default()`.
    :param host: interface to listen on.
    :param port: TCP port (0: a free one).
    :param rate_limits: ``"generous"`` (default: Slack's budgets x100), ``"realistic"`` or ``"off"``.
    :param clock_speed: emulated seconds per real second (message timestamps, rate-limit windows).
    :param start: start serving at once.
    :param reaction_users_shown: how many users each reaction lists in ``conversations.history``,
        ``conversations.replies`` and ``reactions.get`` without ``full=true`` (``count`` stays complete).
    """

    def __init__(
        self,
        workspace: Workspace | str | Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limits: str = "generous",
        clock_speed: float = 1.0,
        start: bool = True,
        reaction_users_shown: int = REACTION_USERS_SHOWN,
    ) -> None:
        if workspace is None:
            workspace = Workspace.default()
        elif not isinstance(workspace, Workspace):
            workspace = Workspace.from_file(workspace)
        self.workspace = workspace
        self._host, self._port = host, port
        self._initial = (rate_limits, clock_speed)
        self.clock = Clock(speed=clock_speed)
        self.faults = Faults()
        self.journal = Journal()
        self.rate_limits = RateLimiter(self.clock, rate_limits)
        self._backend = Backend(
            workspace, self.clock, self.rate_limits, self.faults, self.journal, State(workspace, self.clock)
        )
        self._reaction_users_shown = reaction_users_shown
        self.set_reaction_users_shown(reaction_users_shown)
        self.sockets = SocketHub(workspace, self.clock, self.journal, self.rate_limits)
        self._backend.sockets = self.sockets
        self.sockets.events.watch(self._backend.state)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clients: dict[str, Any] = {}
        self._web_view: WebView | None = None
        if start:
            self.start()

    # --- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> SlackEmulator:
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._serve, args=(ready, failure), name="slack-emulator", daemon=True
        )
        self._thread.start()
        ready.wait(timeout=30)
        if failure:
            self._thread.join()
            self._thread = None
            raise RuntimeError(f"Slack emulator could not start on {self._host}:{self._port}") from failure[0]
        return self

    def _serve(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        runner = web.AppRunner(
            build_app(self._backend), access_log=None, handle_signals=False, shutdown_timeout=0.5
        )
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self._host, self._port)
            loop.run_until_complete(site.start())
            self._port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._backend.root_url = f"http://{self._host}:{self._port}/"
            self.sockets.root_url, self.sockets.loop = f"ws://{self._host}:{self._port}/", loop
        except BaseException as err:  # report any start failure to the starting thread
            failure.append(err)
            loop.run_until_complete(runner.cleanup())
            loop.close()
            ready.set()
            return
        self._loop = loop
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    def stop(self) -> None:
        """Stop serving and join the thread (idempotent); the web view too."""
        if self._web_view is not None:
            self._web_view.stop()
            self._web_view = None
        if self._thread is None:
            return
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._thread = None
        self._loop = None
        self._clients.clear()

    def __enter__(self) -> SlackEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Back to the seeded workspace: messages, files, revoked tokens, faults, journal, rate-limit
        windows, the Marketplace switch, and the clock (real time again at the initial speed: with
        the messages gone, nothing dated by a sped-up or stepped clock is left to keep in order)."""
        self.faults.clear()
        self.journal.clear()
        self.rate_limits.reset()
        self.rate_limits.set_profile(self._initial[0])
        self.rate_limits.marketplace = True
        self.clock.resync(self._initial[1])
        if self._loop is not None:
            self._run(self.sockets.reset())
        else:
            self.sockets.configure()
        self._backend.state = State(self.workspace, self.clock)
        self.set_reaction_users_shown(self._reaction_users_shown)
        self.sockets.events.watch(self._backend.state)

    def web_view(self, *, host: str = "127.0.0.1", port: int = 0) -> WebView:
        """The web page showing this emulator live, where one can act as its people (started on the
        first call, on its own port; stopped with the emulator). See docs/emulator.md, "Web view".

        :param host: interface it listens on (not loopback: anyone reaching it can act as anyone).
        :param port: its TCP port (0: a free one).
        """
        if self._web_view is None:
            from airflow_chat_alerts.testing.web.server import WebView
            from airflow_chat_alerts.testing.web.slack_source import SlackSource

            self._web_view = WebView(SlackSource(self), host=host, port=port).start()
        return self._web_view

    # --- addresses and identities -------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def root_url(self) -> str:
        return f"http://{self._host}:{self._port}/"

    @property
    def base_url(self) -> str:
        """What slack_sdk takes as ``base_url`` (ends with ``/api/``)."""
        return f"{self.root_url}api/"

    @property
    def state(self) -> State:
        return self._backend.state

    @property
    def team_id(self) -> str:
        return self.workspace.team_id

    @property
    def bot_token(self) -> str:
        """The app's bot token now (a new one after `rotate_token`)."""
        return self.state.token_of(self.workspace.bot)

    @property
    def bot_user_id(self) -> str:
        return self.workspace.bot.id

    @property
    def bot_id(self) -> str:
        return self.workspace.bot.bot_id or ""

    @property
    def app_id(self) -> str:
        return self.workspace.app_id

    def token_for(self, user: str) -> str:
        """Token acting as ``user`` (name or id) now."""
        return self.state.token_of(self.workspace.user(user))

    def user_id(self, user: str) -> str:
        return self.workspace.user(user).id

    def user_name(self, user_id: str) -> str:
        return self.workspace.user(user_id).name

    def channel_id(self, channel: str) -> str:
        """Id of a channel given by name (``ml-alerts`` or ``#ml-alerts``) or id; also of a direct message
        opened meanwhile (``conversations.open``: by its id, or a group DM's name)."""
        try:
            return self.workspace.channel(channel).id
        except KeyError:
            opened = self.state.channel_by_ref(channel, allow_name=True)
            if opened is None:
                raise
            return opened.id

    def usergroup_id(self, handle: str) -> str:
        return self.workspace.usergroup(handle).id

    # --- clients ------------------------------------------------------------------------------------

    def client(self, user: str | None = None, **kwargs: Any) -> WebClient:
        """A slack_sdk ``WebClient`` acting as ``user`` (default: the app's bot)."""
        from slack_sdk import WebClient

        token = self.token_for(user) if user else self.bot_token
        return WebClient(token=token, base_url=self.base_url, **kwargs)

    def async_client(self, user: str | None = None, **kwargs: Any) -> AsyncWebClient:
        """A slack_sdk ``AsyncWebClient`` acting as ``user`` (default: the app's bot)."""
        from slack_sdk.web.async_client import AsyncWebClient

        token = self.token_for(user) if user else self.bot_token
        return AsyncWebClient(token=token, base_url=self.base_url, **kwargs)

    def act_as(self, user: str) -> Actor:
        """A scripted person (or bot) acting through the real Web API."""
        return Actor(self, user)

    # --- switches and interventions -----------------------------------------------------------------

    def set_rate_limits(self, profile: str) -> None:
        """``"realistic"``, ``"generous"`` or ``"off"``."""
        self.rate_limits.set_profile(profile)

    def set_marketplace(self, listed: bool) -> None:
        """False: a commercially distributed app not in the Marketplace (history/replies at 1 per
        minute, ``limit`` at most 15). True (default): an internal or Marketplace app (tier 3)."""
        self.rate_limits.marketplace = listed

    def revoke_token(self, token: str) -> None:
        """Every later call with ``token`` answers ``token_revoked`` (the app token: its sockets close)."""
        with self.state.lock:
            self.state.revoked.add(token)
        if token == self.app_token and self._loop is not None:
            self._run(self.sockets.close_all())

    def rotate_token(self, user: str | None = None) -> str:
        """Revoke the current token of ``user`` (default: the app's bot) and issue a new one for the same
        user and bot; returns it. Calls with the old token answer ``token_revoked``; `bot_token`,
        `token_for` and `client` give the new one from now on."""
        return self.state.rotate_token(self.workspace.user(user) if user else self.workspace.bot)

    def set_reaction_users_shown(self, count: int) -> None:
        """List at most ``count`` (>= 1) users per reaction in history, replies and ``reactions.get``
        without ``full=true``, until the next `reset` (then the constructor's value again)."""
        if count < 1:
            raise ValueError("reaction_users_shown must be at least 1")
        with self.state.lock:
            self.state.reaction_users_shown = count

    def set_usergroup_members(self, handle: str, users: list[str]) -> None:
        """Make ``users`` (names or ids) the members of the user group ``handle`` (or id) from now on,
        as ``usergroups.users.list`` and ``usergroups.list`` show it (until the next `reset`)."""
        group = self.workspace.usergroup(handle)
        ids = [self.workspace.user(u).id for u in users]
        with self.state.lock:
            self.state.usergroup_members[group.id] = ids

    def delete_message(self, channel: str, ts: str) -> None:
        """Delete a message as a workspace admin would (a thread parent with replies leaves a tombstone)."""
        if not self.state.delete(self.channel_id(channel), ts):
            raise KeyError(f"no message {ts} in {channel}")

    def archive_channel(self, channel: str, by: str | None = None) -> str:
        """Archive ``channel`` as ``by`` (default: a workspace admin) does in Slack: a ``channel_archive``
        message is posted into it, then posting and reacting answer ``is_archived`` while its history
        stays readable. Returns the ts of the ``channel_archive`` message."""
        if by is None:
            by = next((u.name for u in self.workspace.users if u.is_admin and not u.is_bot), self.workspace.app_bot)
        return self.state.archive(self.channel_id(channel), self.workspace.user(by)).ts

    def webhook_url(self, channel: str) -> str:
        """URL of an incoming webhook posting into ``channel`` as the app (stable across resets)."""
        hook = self.state.webhook_for(self.channel_id(channel))
        return f"{self.root_url}services/{self.team_id}/{hook.id}/{hook.secret}"

    def revoke_webhook(self, channel: str) -> None:
        with self.state.lock:
            self.state.webhook_for(self.channel_id(channel)).revoked = True

    # --- inspection ---------------------------------------------------------------------------------

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Top-level messages of ``channel`` as the API shows them (oldest first, metadata included)."""
        state = self.state
        with state.lock:
            ch = state.channels[self.channel_id(channel)]
            return [state.render(ch, m) for m in ch.top_level()]

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """A thread as the API shows it: the parent, then its replies."""
        state = self.state
        with state.lock:
            ch = state.channels[self.channel_id(channel)]
            parent = ch.messages[ts]
            return [state.render(ch, m) for m in [parent, *ch.replies(ts)]]

    def transcript(self, channel: str) -> str:
        """A readable rendering of the channel: names, threads indented, reactions, edits."""
        with self.state.lock:
            return render_transcript(self.state, self.channel_id(channel))


class Actor(ButtonClicks):
    """A user acting through the Web API (``emu.act_as("alice")``); channels by name or id.

    A person posts and edits as Slack's clients do: the text (Slack markup) with a ``rich_text`` block
    mirroring it, and a new message with a ``client_msg_id``. A bot posts exactly what it is given.
    """

    def __init__(self, emulator: SlackEmulator, user: str) -> None:
        self.emulator = emulator
        self.user = user
        self.client = emulator.client(user)
        self.is_person = not emulator.workspace.user(user).is_bot

    def _channel(self, channel: str) -> str:
        return self.emulator.channel_id(channel)

    def _as_typed(self, text: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        """What a Slack client adds to a person's text: the ``rich_text`` block (unless blocks are given)."""
        block = rich_text_block(text) if self.is_person and "blocks" not in kwargs else None
        return {**kwargs, "blocks": [block]} if block is not None else kwargs

    def post(self, channel: str, text: str, **kwargs: Any) -> str:
        """Post a message; returns its ts."""
        kwargs = self._as_typed(text, kwargs)
        if self.is_person:
            kwargs.setdefault("client_msg_id", str(uuid.uuid4()))
        return self.client.chat_postMessage(channel=self._channel(channel), text=text, **kwargs)["ts"]

    def reply(self, channel: str, thread_ts: str, text: str, **kwargs: Any) -> str:
        """Reply in a thread; returns the reply's ts."""
        return self.post(channel, text, thread_ts=thread_ts, **kwargs)

    def react(self, channel: str, ts: str, name: str) -> None:
        self.client.reactions_add(channel=self._channel(channel), timestamp=ts, name=name)

    def unreact(self, channel: str, ts: str, name: str) -> None:
        self.client.reactions_remove(channel=self._channel(channel), timestamp=ts, name=name)

    def edit(self, channel: str, ts: str, text: str) -> None:
        self.client.chat_update(channel=self._channel(channel), ts=ts, text=text, **self._as_typed(text, {}))

    def delete(self, channel: str, ts: str) -> None:
        self.client.chat_delete(channel=self._channel(channel), ts=ts)
