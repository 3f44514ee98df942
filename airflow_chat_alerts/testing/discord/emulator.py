"""`DiscordEmulator`: a local Discord (REST API and Gateway) on its own event loop in a background
thread, so that clients in the test's thread or on the test's loop talk to it over real HTTP and
websockets.

    with DiscordEmulator() as emu:
        emu.act_as("alice").post("ml-alerts", "hello")
        print(emu.transcript("ml-alerts"))
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from airflow_chat_alerts.testing.clock import Clock
from airflow_chat_alerts.testing.discord.content import find_button
from airflow_chat_alerts.testing.discord.errors import DiscordApiError
from airflow_chat_alerts.testing.discord.gateway import GatewayHub, Session
from airflow_chat_alerts.testing.discord.guild import Guild
from airflow_chat_alerts.testing.discord.ratelimit import RateLimiter
from airflow_chat_alerts.testing.discord.rest import Backend, build_app
from airflow_chat_alerts.testing.discord.state import Interaction, State, Webhook
from airflow_chat_alerts.testing.discord.transcript import render_transcript
from airflow_chat_alerts.testing.events import ButtonNotFound
from airflow_chat_alerts.testing.faults import Faults
from airflow_chat_alerts.testing.journal import Journal
from airflow_chat_alerts.testing.socket_mode import ClickFailed

if TYPE_CHECKING:
    from airflow_chat_alerts.testing.web.server import WebView

T = TypeVar("T")


class DiscordEmulator:
    """A stateful Discord REST API and Gateway.

    :param guild: a `Guild`, a path to a guild JSON file, or None for `Guild.default()`.
    :param host: interface to listen on.
    :param port: TCP port (0: a free one).
    :param rate_limits: ``"generous"`` (default: Discord's limits x100), ``"realistic"`` or ``"off"``.
    :param clock_speed: emulated seconds per real second (snowflakes, timestamps, rate-limit windows).
    :param start: start serving at once.
    """

    def __init__(self, guild: Guild | str | Path | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 rate_limits: str = "generous", clock_speed: float = 1.0, start: bool = True) -> None:
        if guild is None:
            guild = Guild.default()
        elif not isinstance(guild, Guild):
            guild = Guild.from_file(guild)
        self.guild = guild
        self._host, self._port = host, port
        self._initial = (rate_limits, clock_speed)
        self.clock = Clock(speed=clock_speed)
        self.faults = Faults()
        self.journal = Journal()
        self.rate_limits = RateLimiter(self.clock, rate_limits)
        # One webhook per channel, kept across resets so that its URL stays valid.
        self._webhooks = {
            hook.id: hook
            for hook in (Webhook(str(int(ch.id) + 1), secrets.token_urlsafe(48), ch.id, f"{ch.name}-alerts")
                         for ch in guild.channels.values())
        }
        state = State(guild, self.clock, self._webhooks)
        self.gateway = GatewayHub(guild, self.clock, self.journal, lambda: self._backend.state)
        self._backend = Backend(guild, self.clock, self.rate_limits, self.faults, self.journal, state, self.gateway)
        state.observer = self.gateway.emit
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._web_view: WebView | None = None
        if start:
            self.start()

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> DiscordEmulator:
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._serve, args=(ready, failure), name="discord-emulator", daemon=True)
        self._thread.start()
        ready.wait(timeout=30)
        if failure:
            self._thread.join()
            self._thread = None
            raise RuntimeError(f"Discord emulator could not start on {self._host}:{self._port}") from failure[0]
        return self

    def _serve(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        runner = web.AppRunner(build_app(self._backend), access_log=None, handle_signals=False, shutdown_timeout=0.5)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self._host, self._port)
            loop.run_until_complete(site.start())
            self._port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._backend.root_url = self.root_url
            self.gateway.root_url, self.gateway.loop = f"ws://{self._host}:{self._port}/", loop
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

    def __enter__(self) -> DiscordEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Back to the seed: messages, threads, interactions, revoked tokens, faults, journal, rate-limit
        windows and profile, the MESSAGE_CONTENT switch, Gateway sessions (every socket closes) and
        settings, and the clock (real time again at the initial speed)."""
        self.faults.clear()
        self.journal.clear()
        self.rate_limits.reset()
        self.rate_limits.set_profile(self._initial[0])
        self.clock.resync(self._initial[1])
        if self._loop is not None:
            self._run(self.gateway.reset())
        else:
            self.gateway.configure()
        for hook in self._webhooks.values():
            hook.revoked = False
        self._backend.files.clear()
        state = State(self.guild, self.clock, self._webhooks)
        state.observer = self.gateway.emit
        self._backend.state = state
        self.journal.clear()  # the gateway's closes above

    def web_view(self, *, host: str = "127.0.0.1", port: int = 0) -> WebView:
        """The web page showing this emulator live, where one can act as its members (started on the
        first call, on its own port; stopped with the emulator). See docs/discord-emulator.md, "Web view".

        :param host: interface it listens on (not loopback: anyone reaching it can act as anyone).
        :param port: its TCP port (0: a free one).
        """
        if self._web_view is None:
            from airflow_chat_alerts.testing.discord.web_source import DiscordSource
            from airflow_chat_alerts.testing.web.server import WebView

            self._web_view = WebView(DiscordSource(self), host=host, port=port).start()
        return self._web_view

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coro`` on the emulator's loop and wait for its result (from another thread)."""
        if self._loop is None:
            coro.close()
            raise RuntimeError("the Discord emulator is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # --- addresses and identities ---------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def root_url(self) -> str:
        return f"http://{self._host}:{self._port}/"

    @property
    def base_url(self) -> str:
        """The REST API's base (``…/api/v10``): hikari's ``rest_url``, the connection's ``base_url``."""
        return f"{self.root_url}api/v10"

    @property
    def gateway_url(self) -> str:
        """The Gateway websocket URL (what ``/gateway/bot`` answers)."""
        return f"ws://{self._host}:{self._port}/gateway"

    @property
    def state(self) -> State:
        return self._backend.state

    @property
    def guild_id(self) -> str:
        return self.guild.id

    @property
    def application_id(self) -> str:
        return self.guild.application_id

    @property
    def bot_token(self) -> str:
        return self.guild.bot.token

    @property
    def bot_user_id(self) -> str:
        return self.guild.bot.id

    def token_for(self, member: str) -> str:
        return self.guild.member(member).token

    def user_id(self, member: str) -> str:
        return self.guild.member(member).id

    def role_id(self, role: str) -> str:
        return self.guild.role(role).id

    def channel_id(self, channel: str) -> str:
        """Id of a channel given by name (``ml-alerts`` or ``#ml-alerts``) or id; threads by id."""
        if channel in self.state.channels:
            return channel
        return self.guild.channel(channel).id

    def webhook_url(self, channel: str) -> str:
        """The URL of a webhook posting into ``channel`` (stable across resets)."""
        channel_id = self.channel_id(channel)
        hook = next(h for h in self._webhooks.values() if h.channel_id == channel_id)
        return f"{self.base_url}/webhooks/{hook.id}/{hook.token}"

    def act_as(self, member: str) -> Actor:
        """A scripted person (or bot) acting through the REST API."""
        return Actor(self, member)

    # --- switches and interventions -------------------------------------------------------------

    def set_rate_limits(self, profile: str) -> None:
        """``"realistic"``, ``"generous"`` or ``"off"``."""
        self.rate_limits.set_profile(profile)

    def set_message_content_intent(self, enabled: bool) -> None:
        """Whether the application has the privileged MESSAGE_CONTENT intent (the developer portal's
        switch): without it, REST reads and Gateway events show the bot no content, embeds,
        attachments or components of others' messages (its own and those mentioning it excepted),
        and identifying with the intent closes with 4014. Until the next `reset`."""
        with self.state.lock:
            self.state.message_content_intent = bool(enabled)

    def revoke_token(self, token: str) -> None:
        """Later REST calls with ``token`` answer 401; identifying or resuming with it closes with 4004."""
        with self.state.lock:
            self.state.revoked.add(token)

    def revoke_webhook(self, channel: str) -> None:
        """The channel's webhook answers 50027 Invalid Webhook Token until the next `reset`."""
        channel_id = self.channel_id(channel)
        for hook in self._webhooks.values():
            if hook.channel_id == channel_id:
                hook.revoked = True

    def delete_message(self, channel: str, message_id: str) -> None:
        """Delete a message as a moderator would (MESSAGE_DELETE is dispatched)."""
        state = self.state
        with state.lock:
            ch = state.channel(self.channel_id(channel))
            state.delete_message(ch, state.message(ch, message_id))

    # --- the Gateway ----------------------------------------------------------------------------

    def configure_gateway(self, *, heartbeat_interval: float = 41.25, resume_window: float = 60.0,
                          interaction_timeout: float = 3.0) -> None:
        """Gateway settings until the next `reset`: hello's heartbeat interval, how long a dropped
        session stays resumable, and how long a click waits for its acknowledgement (Discord's 3 s).
        Real seconds. Also disarms `refuse_gateway` and `lose_heartbeat_acks`."""
        self.gateway.configure(heartbeat_interval=heartbeat_interval, resume_window=resume_window,
                               interaction_timeout=interaction_timeout)

    def gateway_sessions(self) -> list[Session]:
        """Live sessions (connected, or dropped and still resumable)."""
        return self.gateway.live_sessions()

    def connected_sessions(self) -> int:
        """How many sessions hold an open socket now."""
        return len(self.gateway.connected_sessions())

    def wait_for_gateway(self, count: int, timeout: float = 15.0) -> None:
        """Wait until exactly ``count`` sessions hold an open socket (TimeoutError naming both)."""
        deadline = time.monotonic() + timeout
        while self.connected_sessions() != count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout} s for {count} connected Gateway sessions; "
                                   f"{self.connected_sessions()} are connected")
            time.sleep(0.02)

    def drop_gateway(self, count: int | None = None, *, code: int = 4000, abrupt: bool = False) -> int:
        """Close ``count`` Gateway sockets (oldest first; None: all) with ``code`` (4000 keeps the
        session resumable; 4004, 4010-4014 end it); ``abrupt``: cut TCP without a close frame."""
        return self._run(self.gateway.drop(count, code=code, abrupt=abrupt))

    def send_reconnect(self, count: int | None = None) -> int:
        """Op 7 Reconnect to ``count`` sockets: the client resumes on a new socket."""
        return self._run(self.gateway.reconnect(count))

    def invalidate_session(self, *, resumable: bool = False, count: int | None = None) -> int:
        """Op 9 Invalid Session to ``count`` sockets; unless ``resumable`` the session ends."""
        return self._run(self.gateway.invalidate(resumable=resumable, count=count))

    def refuse_gateway(self, count: int = 1) -> None:
        """The next ``count`` Gateway handshakes are refused with HTTP 503."""
        self.gateway.refused_connections += count

    def lose_heartbeat_acks(self, count: int = 1) -> None:
        """The next ``count`` heartbeats get no ACK (a zombie connection: the client should reconnect)."""
        self.gateway.lost_heartbeat_acks += count

    def _click(self, member: str, channel: str, message_id: str, custom_id: str) -> Interaction:
        state = self.state
        person = self.guild.member(member)
        with state.lock:
            ch = state.channel(self.channel_id(channel))
            msg = ch.messages.get(message_id)
            if msg is None:
                raise KeyError(f"no message {message_id} in {channel}")
            if not state.can_view(state.members[person.id], ch):
                raise PermissionError(f"{person.name} cannot see {channel}")
            button = find_button(msg.components, custom_id)
            if button is None or button.get("disabled"):
                raise ButtonNotFound(f"message {message_id} has no enabled button {custom_id!r}")
            interaction_id = state.new_id()
            member_obj = state.render_member(state.members[person.id])
            member_obj["permissions"] = str(state.permissions(state.members[person.id], ch))
            payload: dict[str, Any] = {
                "id": interaction_id,
                "application_id": self.application_id,
                "type": 3,
                "data": {"custom_id": custom_id, "component_type": 2, "id": button.get("id")},
                "guild": {"id": self.guild_id, "locale": "en-US", "features": []},
                "guild_id": self.guild_id,
                "channel": state.render_channel(ch),
                "channel_id": ch.id,
                "member": member_obj,
                "token": "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(60),
                "version": 1,
                "message": state.render(msg, state.bot),
                "app_permissions": str(state.permissions(state.bot, ch)),
                "locale": "en-US",
                "guild_locale": "en-US",
                "entitlements": [],
                "authorizing_integration_owners": {"0": self.guild_id},
                "context": 0,
                "attachment_size_limit": 10 * 1024 * 1024,
            }
            interaction = Interaction(interaction_id, payload["token"], person.id, ch.id, msg.id, custom_id, payload,
                                      time.monotonic())
            state.interactions[interaction_id] = interaction
        return interaction

    # --- inspection -----------------------------------------------------------------------------

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Messages of a channel or thread as the API shows them (oldest first, content included)."""
        state = self.state
        with state.lock:
            ch = state.channel(self.channel_id(channel))
            return [state.render(m) for m in ch.messages.values()]

    def thread_messages(self, message_id: str) -> list[dict[str, Any]]:
        """Messages of the thread started from ``message_id`` (a thread has its starter's id)."""
        return self.messages(message_id)

    def ephemeral_messages(self, member: str, channel: str | None = None) -> list[dict[str, Any]]:
        """The ephemeral messages shown to ``member``, oldest first, optionally in one channel."""
        user_id = self.user_id(member)
        channel_id = self.channel_id(channel) if channel else None
        with self.state.lock:
            return [self.state.render(m) for m in self.state.ephemeral.values()
                    if m.visible_to == user_id and (channel_id is None or m.channel_id == channel_id)]

    def interactions(self) -> list[Interaction]:
        with self.state.lock:
            return list(self.state.interactions.values())

    def transcript(self, channel: str) -> str:
        """A readable rendering of the channel: names, replies, threads indented, reactions, buttons."""
        with self.state.lock:
            return render_transcript(self.state, self.channel_id(channel))


class Actor:
    """A member acting through the REST API with their own token (``emu.act_as("alice")``): a person
    sends the bare token, a bot ``Bot <token>``. Channels by name or id; returns message ids."""

    def __init__(self, emulator: DiscordEmulator, member: str) -> None:
        self.emulator = emulator
        self.member = emulator.guild.member(member)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One REST call; the decoded JSON answer (None for 204). Raises `DiscordApiError`."""
        token = self.member.token
        headers = {"Authorization": f"Bot {token}" if self.member.bot else token,
                   "User-Agent": "DiscordEmulatorActor (local, 1.0)"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(f"{self.emulator.base_url}{path}", data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                payload = json.loads(raw)
            except json.JSONDecodeError:
                payload = raw.decode("utf-8", "replace")
            raise DiscordApiError(err.code, payload) from None
        return json.loads(raw) if raw else None

    def _ch(self, channel: str) -> str:
        return self.emulator.channel_id(channel)

    def post(self, channel: str, content: str, **fields: Any) -> str:
        """Post a message (extra fields: ``embeds``, ``allowed_mentions``, …); returns its id."""
        return str(self.call("POST", f"/channels/{self._ch(channel)}/messages", {"content": content, **fields})["id"])

    def reply(self, channel: str, message_id: str, content: str, **fields: Any) -> str:
        """Reply to a message (a ``message_reference``); returns the reply's id."""
        reference = {"message_id": message_id, "channel_id": self._ch(channel)}
        return self.post(channel, content, message_reference=reference, **fields)

    def post_in_thread(self, thread_id: str, content: str, **fields: Any) -> str:
        """Post in a thread (a thread is a channel; one started from a message has that message's id)."""
        return self.post(thread_id, content, **fields)

    def start_thread(self, channel: str, message_id: str, name: str) -> str:
        """Start a thread from a message; returns the thread's id."""
        path = f"/channels/{self._ch(channel)}/messages/{message_id}/threads"
        return str(self.call("POST", path, {"name": name})["id"])

    def react(self, channel: str, message_id: str, emoji: str) -> None:
        """Add a reaction (a Unicode emoji such as ``"👍"``, or ``name:id``)."""
        path = f"/channels/{self._ch(channel)}/messages/{message_id}/reactions/{urllib.parse.quote(emoji)}/@me"
        self.call("PUT", path)

    def unreact(self, channel: str, message_id: str, emoji: str) -> None:
        path = f"/channels/{self._ch(channel)}/messages/{message_id}/reactions/{urllib.parse.quote(emoji)}/@me"
        self.call("DELETE", path)

    def edit(self, channel: str, message_id: str, content: str) -> None:
        self.call("PATCH", f"/channels/{self._ch(channel)}/messages/{message_id}", {"content": content})

    def delete(self, channel: str, message_id: str) -> None:
        self.call("DELETE", f"/channels/{self._ch(channel)}/messages/{message_id}")

    def click(self, channel: str, message_id: str, custom_id: str) -> dict[str, Any]:
        """Click a button (by ``custom_id``): Discord sends INTERACTION_CREATE to the bot's sessions and
        waits for the app's callback. Blocks until then; from a coroutine use `click_async`.

        :returns: the interaction payload that was acknowledged.
        :raises ClickFailed: no Gateway session could receive it (``"no_connection"``, at once), or the
            app did not acknowledge it in time (``"not_acknowledged"``: the person sees "This
            interaction failed"; a late callback answers 10062 Unknown interaction).
        :raises ButtonNotFound: the message has no such enabled button.
        """
        interaction = self.emulator._click(self.member.name, channel, message_id, custom_id)
        outcome = self.emulator._run(self.emulator.gateway.interact(interaction, self.emulator.state))
        return _clicked(outcome, interaction)

    async def click_async(self, channel: str, message_id: str, custom_id: str) -> dict[str, Any]:
        """`click` for a caller running on an event loop (which keeps running meanwhile)."""
        interaction = self.emulator._click(self.member.name, channel, message_id, custom_id)
        loop = self.emulator._loop
        if loop is None:
            raise RuntimeError("the Discord emulator is not running")
        delivery = self.emulator.gateway.interact(interaction, self.emulator.state)
        future = asyncio.run_coroutine_threadsafe(delivery, loop)
        return _clicked(await asyncio.wrap_future(future), interaction)


def discord_connection(emulator: DiscordEmulator, channel: str | None = None) -> dict[str, Any]:
    """A bot connection (Airflow's JSON form) aimed at ``emulator``: conn type ``discord_bot``, the bot
    token in the password, extras ``base_url``, ``gateway_url``, ``application_id``, ``guild_id`` and,
    if given, the default ``channel`` (its id). See docs/discord-emulator.md."""
    extra: dict[str, Any] = {"base_url": emulator.base_url, "gateway_url": emulator.gateway_url,
                             "application_id": emulator.application_id, "guild_id": emulator.guild_id}
    if channel is not None:
        extra["channel"] = emulator.channel_id(channel)
    return {"conn_type": "discord_bot", "password": emulator.bot_token, "extra": extra}


def discord_webhook_connection(emulator: DiscordEmulator, channel: str) -> dict[str, Any]:
    """A webhook connection in the Discord provider's shape (conn type ``discord``): ``host`` the API
    root, extra ``webhook_endpoint`` = ``webhooks/{id}/{token}`` of ``channel``'s webhook."""
    url = emulator.webhook_url(channel)
    return {"conn_type": "discord", "host": f"{emulator.root_url}api/",
            "extra": {"webhook_endpoint": url[url.index("webhooks/"):]}}


def _clicked(outcome: str, interaction: Interaction) -> dict[str, Any]:
    if outcome != "acknowledged":
        raise ClickFailed(outcome, interaction.payload)
    return interaction.payload
