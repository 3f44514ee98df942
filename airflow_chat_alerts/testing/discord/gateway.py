"""Discord's Gateway, as a websocket the bot opens itself: hello, identify, ready, heartbeats,
dispatches with sequence numbers, resume with replay, reconnect (op 7), invalid session (op 9) and
Discord's close codes.

A session outlives its socket for ``resume_window`` seconds: dispatches keep being numbered and
buffered, and a resume (op 6) on a new socket replays those after the client's last sequence number,
then ``RESUMED``. A client closing with 1000 or 1001 ends its session (as Discord does); any other
code, or a dropped TCP connection, leaves it resumable.

Every identified session of the bot whose shard the guild maps to (``(guild_id >> 22) % num_shards``)
receives each dispatch it has the intent for, as Discord fans events out to every session on that
shard; INTERACTION_CREATE needs no intent. Message content (content, embeds, attachments, components)
is empty for a session without the MESSAGE_CONTENT intent, except in the bot's own messages and those
mentioning it. Identifying with a privileged intent the application has not enabled closes with 4014.

Everything here runs on the emulator's loop; the emulator calls in from other threads through
``loop``. Gateway events are journalled as calls named ``gateway.*`` with ``http_method`` ``"WS"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from airflow_chat_alerts.testing.clock import Clock
from airflow_chat_alerts.testing.discord.guild import Guild, Member
from airflow_chat_alerts.testing.discord.state import (
    Dispatch,
    Interaction,
    State,
    iso,
    strip_content,
)
from airflow_chat_alerts.testing.journal import Call, Journal

# Opcodes
DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 0, 1, 2, 6, 7, 9, 10, 11
CLIENT_OPS = {1, 2, 3, 4, 6, 8, 43}
# Intents
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
DIRECT_MESSAGES = 1 << 12
DIRECT_MESSAGE_REACTIONS = 1 << 13
MESSAGE_CONTENT = 1 << 15
ALL_INTENTS = (1 << 26) - 1 | (1 << 20) | (1 << 21) | (1 << 24) | (1 << 25)
# Close codes (Discord's developer documentation, "Opcodes and Status Codes")
CLOSE_MESSAGES = {
    4000: "Unknown error.",
    4001: "Unknown opcode.",
    4002: "Decode error.",
    4003: "Not authenticated.",
    4004: "Authentication failed.",
    4005: "Already authenticated.",
    4007: "Invalid seq.",
    4008: "Rate limited.",
    4009: "Session timed out.",
    4010: "Invalid shard.",
    4011: "Sharding required.",
    4012: "Invalid API version.",
    4013: "Invalid intent(s).",
    4014: "Disallowed intent(s).",
}
# Codes after which Discord does not let the session be resumed.
SESSION_ENDING_CODES = {1000, 1001, 4004, 4010, 4011, 4012, 4013, 4014}
HEARTBEAT_INTERVAL = 41.25  # seconds, Discord's usual hello
RESUME_WINDOW = 60.0
INTERACTION_TIMEOUT = 3.0
BUFFER_LIMIT = 5000
SESSION_START_TOTAL = 1000


@dataclass(eq=False)
class Connection:
    """One open websocket."""

    id: str
    ws: web.WebSocketResponse
    request: web.Request
    compress: Any = None  # a zlib compressobj for ``compress=zlib-stream``
    session: Session | None = None
    closed_by: str = "client"
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)


@dataclass(eq=False)
class Session:
    """A Gateway session: identified once, resumable across sockets while it lives."""

    id: str
    bot: Member
    token: str
    intents: int
    shard: tuple[int, int]
    seq: int = 0
    buffer: list[dict[str, Any]] = field(default_factory=list)
    connection: Connection | None = None
    dropped_at: float | None = None  # real monotonic seconds
    ended: bool = False

    def routes(self, guild_id: str | None) -> bool:
        shard_id, count = self.shard
        return (int(guild_id) >> 22) % count == shard_id if guild_id else shard_id == 0


class GatewayHub:
    """The Gateway's sessions and sockets.

    :param guild: the seed (application, bot, privileged intents enabled).
    :param clock: the emulator's clock (journal times).
    :param journal: where gateway events are recorded.
    :param state: the current state (replaced on reset), called for each use.
    """

    def __init__(self, guild: Guild, clock: Clock, journal: Journal, state: Callable[[], State]) -> None:
        self.guild = guild
        self.clock = clock
        self.journal = journal
        self.state = state
        self.loop: asyncio.AbstractEventLoop | None = None
        self.root_url = ""  # "ws://host:port/", once serving
        self._sessions: dict[str, Session] = {}
        self._connections: list[Connection] = []
        self._ids = itertools.count(1)
        self.identifies = 0
        self.configure()

    # --- settings (plain values, set from the test's thread) ------------------------------------

    def configure(self, *, heartbeat_interval: float = HEARTBEAT_INTERVAL, resume_window: float = RESUME_WINDOW,
                  interaction_timeout: float = INTERACTION_TIMEOUT) -> None:
        """Hello's heartbeat interval, how long a dropped session stays resumable and how long a
        click waits for its acknowledgement (real seconds). Also disarms the faults below."""
        for name, value in (("heartbeat_interval", heartbeat_interval), ("resume_window", resume_window),
                            ("interaction_timeout", interaction_timeout)):
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        self.heartbeat_interval = float(heartbeat_interval)
        self.resume_window = float(resume_window)
        self.interaction_timeout = float(interaction_timeout)
        self.refused_connections = 0
        self.lost_heartbeat_acks = 0

    @property
    def url(self) -> str:
        return f"{self.root_url}gateway"

    @property
    def resume_url(self) -> str:
        return f"{self.root_url}gateway/resume"

    # --- journal --------------------------------------------------------------------------------

    def _record(self, method: str, args: dict[str, Any], *, error: str | None = None, user: str | None = None) -> None:
        self.journal.record(Call(self.clock.now(), method, args, 101, error, user, "WS"))

    # --- the websocket endpoint -----------------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        """``GET /gateway`` (and the resume URL): one Gateway connection."""
        if self.refused_connections > 0:
            self.refused_connections -= 1
            self._record("gateway.refused", {"reason": "refused"}, error="refused")
            return web.Response(status=503, text="service unavailable")
        version = request.query.get("v", "10")
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        conn = Connection(f"gw-{next(self._ids)}", ws, request)
        compress = request.query.get("compress")
        if compress == "zlib-stream":
            conn.compress = zlib.compressobj()
        writer = asyncio.get_running_loop().create_task(self._writer(conn))
        self._connections.append(conn)
        self._record("gateway.open", {"connection": conn.id, "path": request.path, "compress": compress or ""})
        try:
            if version not in ("9", "10"):
                await self._close(conn, 4012, by="server")
                return ws
            if request.query.get("encoding", "json") != "json" or compress not in (None, "zlib-stream"):
                await self._close(conn, 4002, by="server")
                return ws
            self._send(conn, {"op": HELLO, "d": {"heartbeat_interval": int(self.heartbeat_interval * 1000),
                                                  "_trace": ["[\"gateway-emulator\"]"]}, "s": None, "t": None})
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._received(conn, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    await self._received(conn, msg.data.decode("utf-8", "replace"))
        finally:
            with contextlib.suppress(ValueError):
                self._connections.remove(conn)
            conn.queue.put_nowait(None)
            writer.cancel()
            code = ws.close_code
            self._detach(conn, code)
            self._record("gateway.close", {"connection": conn.id, "by": conn.closed_by, "code": code})
        return ws

    async def _writer(self, conn: Connection) -> None:
        """Send the connection's frames in order (one writer per socket)."""
        while True:
            text = await conn.queue.get()
            if text is None or conn.ws.closed:
                return
            try:
                if conn.compress is not None:
                    frame = conn.compress.compress(text.encode()) + conn.compress.flush(zlib.Z_SYNC_FLUSH)
                    await conn.ws.send_bytes(frame)
                else:
                    await conn.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    def _send(self, conn: Connection, payload: dict[str, Any]) -> None:
        conn.queue.put_nowait(json.dumps(payload))

    async def _close(self, conn: Connection, code: int, *, by: str = "server") -> None:
        conn.closed_by = by
        for _ in range(200):  # let the writer send what is queued before the close frame
            if conn.queue.empty():
                break
            await asyncio.sleep(0.005)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await conn.ws.close(code=code, message=CLOSE_MESSAGES.get(code, "").encode())

    def _detach(self, conn: Connection, code: int | None) -> None:
        session = conn.session
        if session is None or session.connection is not conn:
            return
        session.connection = None
        session.dropped_at = time.monotonic()
        if code in SESSION_ENDING_CODES and (conn.closed_by == "client" or code >= 4000):
            self._end(session)

    def _end(self, session: Session) -> None:
        session.ended = True
        self._sessions.pop(session.id, None)

    # --- what the client sends ------------------------------------------------------------------

    async def _received(self, conn: Connection, data: str) -> None:
        try:
            message = json.loads(data)
            op = message["op"]
        except (json.JSONDecodeError, KeyError, TypeError):
            await self._close(conn, 4002)
            return
        if op not in CLIENT_OPS:
            await self._close(conn, 4001)
            return
        if op == HEARTBEAT:
            self._record("gateway.heartbeat", {"connection": conn.id, "seq": message.get("d")})
            if self.lost_heartbeat_acks > 0:
                self.lost_heartbeat_acks -= 1
                self._record("gateway.heartbeat_ack", {"connection": conn.id}, error="lost")
                return
            self._send(conn, {"op": HEARTBEAT_ACK, "d": None, "s": None, "t": None})
            return
        if op == IDENTIFY:
            await self._identify(conn, message.get("d") or {})
            return
        if op == RESUME:
            await self._resume(conn, message.get("d") or {})
            return
        if conn.session is None:
            await self._close(conn, 4003)
        # presence, voice, member requests: accepted and ignored

    def _bot_for(self, token: Any) -> Member | None:
        if not isinstance(token, str):
            return None
        token = token.removeprefix("Bot ").strip()
        state = self.state()
        member = state.tokens.get(token)
        if member is None or token in state.revoked or member.id != self.guild.bot.id:
            return None
        return member

    async def _identify(self, conn: Connection, d: dict[str, Any]) -> None:
        if conn.session is not None:
            await self._close(conn, 4005)
            return
        bot = self._bot_for(d.get("token"))
        if bot is None:
            self._record("gateway.identify", {"connection": conn.id}, error="4004")
            await self._close(conn, 4004)
            return
        intents = d.get("intents")
        if not isinstance(intents, int) or intents < 0 or intents & ~ALL_INTENTS:
            self._record("gateway.identify", {"connection": conn.id, "intents": intents}, error="4013")
            await self._close(conn, 4013)
            return
        state = self.state()
        allowed_privileged = (MESSAGE_CONTENT if state.message_content_intent else 0) | (
            GUILD_MEMBERS if self.guild.guild_members_intent else 0)
        if intents & (MESSAGE_CONTENT | GUILD_MEMBERS | GUILD_PRESENCES) & ~allowed_privileged:
            self._record("gateway.identify", {"connection": conn.id, "intents": intents}, error="4014")
            await self._close(conn, 4014)
            return
        shard = d.get("shard") or [0, 1]
        if (not isinstance(shard, list) or len(shard) != 2 or not all(isinstance(x, int) for x in shard)
                or not 0 <= shard[0] < shard[1]):
            self._record("gateway.identify", {"connection": conn.id, "shard": shard}, error="4010")
            await self._close(conn, 4010)
            return
        self.identifies += 1
        session = Session(uuid.uuid4().hex, bot, str(d.get("token")), intents, (shard[0], shard[1]), connection=conn)
        conn.session = session
        self._sessions[session.id] = session
        self._record("gateway.identify", {"connection": conn.id, "session": session.id, "intents": intents,
                                          "shard": list(shard)}, user=bot.id)
        self._dispatch_to(session, "READY", self._ready(state, session))
        if intents & GUILDS:
            self._dispatch_to(session, "GUILD_CREATE", self.guild_create(state, session))

    async def _resume(self, conn: Connection, d: dict[str, Any]) -> None:
        session = self._sessions.get(str(d.get("session_id")))
        seq = d.get("seq")
        bot = self._bot_for(d.get("token"))
        if bot is None:
            self._record("gateway.resume", {"connection": conn.id}, error="4004")
            await self._close(conn, 4004)
            return
        if (session is None or self._expired(session) or session.bot.id != bot.id
                or not isinstance(seq, int) or (session.buffer and seq < session.buffer[0]["s"] - 1)):
            self._record("gateway.resume", {"connection": conn.id, "session": d.get("session_id"), "seq": seq},
                         error="invalid_session")
            self._send(conn, {"op": INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        old = session.connection
        if old is not None and old is not conn:
            old.session = None
            old.closed_by = "server"
            with contextlib.suppress(ConnectionError, RuntimeError):
                await old.ws.close(code=4000)
        session.connection, session.dropped_at = conn, None
        conn.session = session
        missed = [p for p in session.buffer if p["s"] > seq]
        self._record("gateway.resume", {"connection": conn.id, "session": session.id, "seq": seq,
                                        "replayed": len(missed)}, user=bot.id)
        for payload in missed:
            self._send(conn, payload)
        self._dispatch_to(session, "RESUMED", {"_trace": ["[\"gateway-emulator\"]"]})

    def _expired(self, session: Session) -> bool:
        if session.ended:
            return True
        if session.dropped_at is not None and time.monotonic() - session.dropped_at > self.resume_window:
            self._end(session)
            return True
        return False

    # --- dispatch -------------------------------------------------------------------------------

    def live_sessions(self) -> list[Session]:
        return [s for s in list(self._sessions.values()) if not self._expired(s)]

    def connected_sessions(self) -> list[Session]:
        return [s for s in self.live_sessions() if s.connection is not None and not s.connection.ws.closed]

    def dispatch(self, event: Dispatch) -> int:
        """Number and send (or buffer) ``event`` for every session that receives it; returns how many."""
        state = self.state()
        if event.channel_id is not None:
            ch = state.channels.get(event.channel_id)
            if ch is not None and not state.can_view(state.bot, ch):
                return 0
        sent = 0
        for session in self.live_sessions():
            if not session.routes(event.guild_id):
                continue
            if event.intent is not None and not session.intents & event.intent:
                continue
            data = event.data
            if (event.content_at is not None and not event.content_exempt
                    and not (session.intents & MESSAGE_CONTENT and state.message_content_intent)):
                data = copy.deepcopy(data)
                strip_content(data if event.content_at == "data" else data[event.content_at])
            self._dispatch_to(session, event.name, data)
            sent += 1
        return sent

    def _dispatch_to(self, session: Session, name: str, data: dict[str, Any]) -> None:
        session.seq += 1
        payload = {"op": DISPATCH, "t": name, "s": session.seq, "d": data}
        session.buffer.append(payload)
        if len(session.buffer) > BUFFER_LIMIT:
            del session.buffer[: len(session.buffer) - BUFFER_LIMIT]
        conn = session.connection
        connected = conn is not None and not conn.ws.closed
        self._record("gateway.dispatch", {"event": name, "session": session.id, "seq": session.seq,
                                          "delivered": connected})
        if conn is not None and connected:
            self._send(conn, payload)

    def emit(self, event: Dispatch) -> None:
        """From `State`, in any thread: dispatch on the loop, in order."""
        if self.loop is not None:
            with contextlib.suppress(RuntimeError):  # the emulator stopped
                self.loop.call_soon_threadsafe(self.dispatch, event)

    # --- payloads -------------------------------------------------------------------------------

    def _ready(self, state: State, session: Session) -> dict[str, Any]:
        user = state.render_user(session.bot)
        user.update({"verified": True, "mfa_enabled": False, "email": None, "bot": True})
        return {
            "v": 10,
            "user": user,
            "guilds": [{"id": self.guild.id, "unavailable": True}],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_url,
            "shard": list(session.shard),
            "application": {"id": self.guild.application_id, "flags": 0},
            "private_channels": [],
            "presences": [],
            "relationships": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "auth": {},
            "_trace": ["[\"gateway-emulator\"]"],
        }

    def guild_create(self, state: State, session: Session) -> dict[str, Any]:
        """The guild as GUILD_CREATE carries it (members: the bot, or everyone with GUILD_MEMBERS)."""
        guild = self.guild
        owner = next((m for m in state.members.values() if not m.bot), state.bot)
        members = list(state.members.values()) if session.intents & GUILD_MEMBERS else [state.bot]
        channels = [state.render_channel(ch) for ch in state.channels.values() if not ch.is_thread]
        threads = [state.render_channel(ch) for ch in state.channels.values() if ch.is_thread]
        for ch in channels + threads:
            ch.pop("guild_id", None)
        return {
            "id": guild.id,
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "owner_id": owner.id,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "widget_enabled": False,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [state.render_role(r) for r in guild.roles],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_presences": None,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "vanity_url_code": None,
            "description": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "nsfw": False,
            "premium_progress_bar_enabled": False,
            "incidents_data": None,
            "joined_at": iso(state.created_at(guild.id)),
            "large": False,
            "unavailable": False,
            "lazy": True,
            "member_count": len(state.members),
            "voice_states": [],
            "members": [state.render_member(m) for m in members],
            "channels": channels,
            "threads": threads,
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "embedded_activities": [],
            "activity_instances": [],
            "version": 0,
        }

    # --- interactions ---------------------------------------------------------------------------

    async def interact(self, interaction: Interaction, state: State) -> str:
        """Deliver a click and wait for its acknowledgement: ``"acknowledged"``, ``"no_connection"``
        (no session could receive it) or ``"not_acknowledged"`` (none came within the timeout)."""
        if not any(s.routes(self.guild.id) for s in self.connected_sessions()):
            with state.lock:
                interaction.status = "expired"
            self._record("gateway.interaction", {"interaction": interaction.id}, error="no_connection")
            return "no_connection"
        interaction.waiter = asyncio.get_running_loop().create_future()
        self.dispatch(Dispatch("INTERACTION_CREATE", interaction.payload, self.guild.id, None))
        try:
            await asyncio.wait_for(asyncio.shield(interaction.waiter), self.interaction_timeout)
        except asyncio.TimeoutError:
            with state.lock:
                if interaction.status == "pending":
                    interaction.status = "expired"
            if interaction.status == "expired":
                self._record("gateway.interaction", {"interaction": interaction.id}, error="not_acknowledged")
                return "not_acknowledged"
        self._record("gateway.interaction", {"interaction": interaction.id, "type": interaction.response_type})
        return "acknowledged"

    # --- interventions (on the loop) ------------------------------------------------------------

    def _victims(self, count: int | None) -> list[Connection]:
        live = [c for c in self._connections if not c.ws.closed and c.session is not None]
        return live[:count] if count is not None else live

    async def drop(self, count: int | None = None, *, code: int = 4000, abrupt: bool = False) -> int:
        """Close ``count`` identified sockets (oldest first; None: all) with ``code``; ``abrupt`` cuts
        the TCP connection without a close frame. Their sessions stay resumable unless the code ends them."""
        victims = self._victims(count)
        for conn in victims:
            conn.closed_by = "server"
            if abrupt and conn.request.transport is not None:
                conn.request.transport.abort()
            else:
                await self._close(conn, code)
        return len(victims)

    async def reconnect(self, count: int | None = None) -> int:
        """Send op 7 Reconnect: the client should resume on a new socket."""
        victims = self._victims(count)
        for conn in victims:
            self._record("gateway.reconnect", {"connection": conn.id})
            self._send(conn, {"op": RECONNECT, "d": None, "s": None, "t": None})
        return len(victims)

    async def invalidate(self, *, resumable: bool = False, count: int | None = None) -> int:
        """Send op 9 Invalid Session (``d`` = resumable); a session not resumable ends here."""
        victims = self._victims(count)
        for conn in victims:
            self._record("gateway.invalid_session", {"connection": conn.id, "resumable": resumable})
            if not resumable and conn.session is not None:
                self._end(conn.session)
            self._send(conn, {"op": INVALID_SESSION, "d": resumable, "s": None, "t": None})
        return len(victims)

    async def reset(self) -> None:
        """Close every socket and forget every session (the emulator's ``reset()``)."""
        for conn in list(self._connections):
            conn.closed_by = "server"
            with contextlib.suppress(ConnectionError, RuntimeError):
                await conn.ws.close(code=1001)
        self._sessions.clear()
        self.identifies = 0
        self.configure()

