"""The Discord emulator's REST API (aiohttp): the routes an alerter uses, under ``/api/v10``.

Per call: apply an armed fault, authenticate (``Authorization: Bot <token>`` for the bot, the bare
token for a person, none for interaction callbacks and webhooks, whose token is in the path), count
the rate limit (global, then the route's bucket), run the route, journal the call. Errors are
Discord's JSON (``{"code", "message"}``, 50035 with ``errors``) with Discord's HTTP statuses.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from airflow_chat_alerts.testing.app import _reset_connection
from airflow_chat_alerts.testing.clock import Clock
from airflow_chat_alerts.testing.discord.errors import (
    DiscordError,
    invalid_form,
    method_not_allowed,
    not_found,
    unauthorized,
)
from airflow_chat_alerts.testing.discord.gateway import GatewayHub
from airflow_chat_alerts.testing.discord.guild import PERMISSIONS, Guild, Member
from airflow_chat_alerts.testing.discord.ratelimit import RateLimiter
from airflow_chat_alerts.testing.discord.state import (
    EPHEMERAL,
    LOADING,
    Channel,
    Interaction,
    Message,
    State,
)
from airflow_chat_alerts.testing.faults import Faults
from airflow_chat_alerts.testing.journal import Call, Journal

API_VERSIONS = ("9", "10")
MAX_LIST = 100


@dataclass
class Backend:
    """Everything one emulator serves; ``state`` is replaced on reset."""

    guild: Guild
    clock: Clock
    limiter: RateLimiter
    faults: Faults
    journal: Journal
    state: State
    gateway: GatewayHub
    root_url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)  # attachment id -> content

    @property
    def api_url(self) -> str:
        return f"{self.root_url}api/v10"


@dataclass
class Ctx:
    """One call as a route sees it."""

    backend: Backend
    state: State
    actor: Member | None
    params: dict[str, str]
    query: dict[str, str]
    body: dict[str, Any]
    files: list[tuple[str, str, bytes, str | None]]  # (field name, filename, content, content type)

    def channel(self, name: str = "channel_id") -> Channel:
        return self.state.channel(self.params[name])

    def me(self) -> Member:
        assert self.actor is not None
        return self.actor


Answer = tuple[int, Any]


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str
    handler: Callable[[Ctx], Answer]
    bucket: str | None
    major: str | None = None  # the path parameter a bucket is counted per
    auth: bool = True  # False: the token is in the path (interactions, webhooks)


# --- helpers ------------------------------------------------------------------------------------


def _int_query(ctx: Ctx, name: str, default: int, low: int, high: int) -> int:
    raw = ctx.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_form(name, "NUMBER_TYPE_COERCE", f"Value \"{raw}\" is not int.") from None
    if not low <= value <= high:
        raise invalid_form(name, "NUMBER_TYPE_MAX" if value > high else "NUMBER_TYPE_MIN",
                           f"int value should be between {low} and {high}.")
    return value


def _snowflake_query(ctx: Ctx, name: str) -> int | None:
    raw = ctx.query.get(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise invalid_form(name, "NUMBER_TYPE_COERCE", f"Value \"{raw}\" is not snowflake.")
    return int(raw)


def _attachments(ctx: Ctx, channel_id: str) -> list[dict[str, Any]]:
    """Attachment objects for the uploaded ``files[n]`` parts (described by ``attachments`` in the JSON)."""
    described = {str(a.get("id")): a for a in ctx.body.get("attachments") or [] if isinstance(a, dict)}
    out = []
    for field_name, filename, content, ctype in ctx.files:
        index = field_name[len("files["):-1] if field_name.startswith("files[") else field_name
        meta = described.get(index, {})
        att_id = ctx.state.new_id()
        name = str(meta.get("filename") or filename or f"file{index}")
        ctx.backend.files[att_id] = content
        url = f"{ctx.backend.root_url}attachments/{channel_id}/{att_id}/{name}"
        att: dict[str, Any] = {"id": att_id, "filename": name, "size": len(content), "url": url, "proxy_url": url,
                               "content_type": ctype or _content_type(name)}
        if meta.get("description"):
            att["description"] = str(meta["description"])
        out.append(att)
    return out


def _content_type(filename: str) -> str:
    import mimetypes

    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def _interaction_metadata(state: State, interaction: Interaction) -> dict[str, Any]:
    user = state.render_user(state.members[interaction.user_id])
    return {"id": interaction.id, "type": 3, "user": user,
            "authorizing_integration_owners": {"0": state.guild.id}, "interacted_message_id": interaction.message_id}


# --- routes -------------------------------------------------------------------------------------


def get_current_user(ctx: Ctx) -> Answer:
    user = ctx.state.render_user(ctx.me())
    user.update({"mfa_enabled": False, "locale": "en-US", "premium_type": 0, "email": None, "verified": True})
    return 200, user


def get_gateway_bot(ctx: Ctx) -> Answer:
    if not ctx.me().bot:
        raise unauthorized()
    gw = ctx.backend.gateway
    return 200, {"url": gw.url, "shards": 1, "session_start_limit": {
        "total": 1000, "remaining": max(0, 1000 - gw.identifies), "reset_after": 86_400_000, "max_concurrency": 1}}


def get_channel(ctx: Ctx) -> Answer:
    ch = ctx.channel()
    ctx.state.require(ctx.me(), ch)
    return 200, ctx.state.render_channel(ch)


def list_messages(ctx: Ctx) -> Answer:
    ch = ctx.channel()
    state, me = ctx.state, ctx.me()
    state.require(me, ch)
    limit = _int_query(ctx, "limit", 50, 1, MAX_LIST)
    before, after, around = (_snowflake_query(ctx, n) for n in ("before", "after", "around"))
    if not state.permissions(me, ch) & PERMISSIONS["READ_MESSAGE_HISTORY"]:
        return 200, []
    ids = [int(i) for i in ch.messages]  # oldest first
    if around is not None:
        older = [i for i in ids if i < around][-(limit // 2):] if limit // 2 else []
        newer = [i for i in ids if i >= around][: limit - len(older)]
        chosen = older + newer
    elif after is not None:
        chosen = [i for i in ids if i > after][:limit]
    else:
        pool = [i for i in ids if before is None or i < before]
        chosen = pool[-limit:]
    return 200, [state.render(ch.messages[str(i)], me) for i in sorted(chosen, reverse=True)]


def get_message(ctx: Ctx) -> Answer:
    ch = ctx.channel()
    state, me = ctx.state, ctx.me()
    state.require(me, ch, "READ_MESSAGE_HISTORY")
    return 200, state.render(state.message(ch, ctx.params["message_id"]), me)


def create_message(ctx: Ctx) -> Answer:
    ch = ctx.channel()
    state, me = ctx.state, ctx.me()
    state.require(me, ch, "SEND_MESSAGES_IN_THREADS" if ch.is_thread else "SEND_MESSAGES")
    if ctx.files:
        state.require(me, ch, "ATTACH_FILES")
    if ctx.body.get("message_reference"):
        state.require(me, ch, "READ_MESSAGE_HISTORY")
    if ch.archived:
        raise DiscordError(50083)
    msg = state.create_message(ch, me, ctx.body, attachments=_attachments(ctx, ch.id))
    return 200, state.render(msg, me)


def _own_message(ctx: Ctx) -> tuple[Channel, Message]:
    ch = ctx.channel()
    ctx.state.require(ctx.me(), ch)
    return ch, ctx.state.message(ch, ctx.params["message_id"])


def edit_message(ctx: Ctx) -> Answer:
    ch, msg = _own_message(ctx)
    if msg.author_id != ctx.me().id:
        raise DiscordError(50005)
    ctx.state.edit_message(ch, msg, ctx.body, attachments=_attachments(ctx, ch.id))
    return 200, ctx.state.render(msg, ctx.me())


def delete_message(ctx: Ctx) -> Answer:
    ch, msg = _own_message(ctx)
    if msg.author_id != ctx.me().id:
        ctx.state.require(ctx.me(), ch, "MANAGE_MESSAGES")
    ctx.state.delete_message(ch, msg)
    return 204, None


def add_reaction(ctx: Ctx) -> Answer:
    ch = ctx.channel()
    state, me = ctx.state, ctx.me()
    state.require(me, ch, "READ_MESSAGE_HISTORY")
    msg = state.message(ch, ctx.params["message_id"])
    if not any(me.id not in users for users in msg.reactions.values()) or not msg.reactions:
        state.require(me, ch, "ADD_REACTIONS")
    state.add_reaction(ch, msg, me, ctx.params["emoji"])
    return 204, None


def delete_own_reaction(ctx: Ctx) -> Answer:
    ch = ctx.channel()
    state, me = ctx.state, ctx.me()
    state.require(me, ch, "READ_MESSAGE_HISTORY")
    state.remove_reaction(ch, state.message(ch, ctx.params["message_id"]), me, ctx.params["emoji"])
    return 204, None


def list_reactions(ctx: Ctx) -> Answer:
    ch = ctx.channel()
    state, me = ctx.state, ctx.me()
    state.require(me, ch, "READ_MESSAGE_HISTORY")
    msg = state.message(ch, ctx.params["message_id"])
    limit = _int_query(ctx, "limit", 25, 1, MAX_LIST)
    after = _snowflake_query(ctx, "after")
    if ctx.query.get("type", "0") not in ("0", "1"):
        raise invalid_form("type", "BASE_TYPE_CHOICES", "Value must be one of {0, 1}.")
    users = [] if ctx.query.get("type") == "1" else state.reaction_users(msg, ctx.params["emoji"])
    # Discord lists a reaction's users by user id, ascending; ``after`` pages by user id.
    ordered = sorted(users, key=lambda m: int(m.id))
    page = [m for m in ordered if after is None or int(m.id) > after][:limit]
    return 200, [state.render_user(m) for m in page]


def start_thread(ctx: Ctx) -> Answer:
    ch = ctx.channel()
    state, me = ctx.state, ctx.me()
    state.require(me, ch, "READ_MESSAGE_HISTORY", "CREATE_PUBLIC_THREADS")
    thread = state.start_thread(ch, state.message(ch, ctx.params["message_id"]), me, ctx.body)
    out = state.render_channel(thread)
    out["member"] = {"id": thread.id, "user_id": me.id, "join_timestamp": out["thread_metadata"]["create_timestamp"],
                     "flags": 1}
    return 201, out


def _guild(ctx: Ctx) -> None:
    if ctx.params["guild_id"] != ctx.state.guild.id:
        raise DiscordError(10004)


def get_member(ctx: Ctx) -> Answer:
    _guild(ctx)
    member = ctx.state.member(ctx.params["user_id"])
    if member is None:
        raise DiscordError(10007)
    return 200, ctx.state.render_member(member)


def list_roles(ctx: Ctx) -> Answer:
    _guild(ctx)
    return 200, [ctx.state.render_role(r) for r in ctx.state.guild.roles]


def interaction_callback(ctx: Ctx) -> Answer:
    state = ctx.state
    interaction = state.interaction(ctx.params["interaction_id"], ctx.params["interaction_token"])
    late = time.monotonic() - interaction.created > ctx.backend.gateway.interaction_timeout
    if interaction.status == "expired" or (late and interaction.status == "pending"):
        interaction.status = "expired"
        raise DiscordError(10062)
    if interaction.status == "acknowledged":
        raise DiscordError(40060)
    kind = ctx.body.get("type")
    data = ctx.body.get("data") or {}
    if kind not in (4, 5, 6, 7, 9):
        raise invalid_form("type", "BASE_TYPE_CHOICES", "Value must be one of {4, 5, 6, 7, 9} for a component.")
    ch = state.channel(interaction.channel_id)
    clicked = ch.messages.get(interaction.message_id)
    bot = state.bot
    response: Message | None = None
    if kind in (4, 5):
        flags = int(data.get("flags") or 0) & EPHEMERAL
        if kind == 5:
            flags |= LOADING
        response = state.create_message(
            ch, bot, data if kind == 4 else {}, attachments=_attachments(ctx, ch.id),
            application_id=state.guild.application_id, interaction_metadata=_interaction_metadata(state, interaction),
            flags=flags, visible_to=interaction.user_id)
        response.webhook_id = state.guild.application_id
        interaction.ephemeral = bool(flags & EPHEMERAL)
        interaction.original_id = response.id
    elif kind == 7:
        if clicked is None:
            raise DiscordError(10008)
        state.edit_message(ch, clicked, data)
        interaction.original_id = clicked.id
        response = clicked
    else:
        interaction.original_id = interaction.message_id
    interaction.status, interaction.response_type = "acknowledged", kind
    if interaction.waiter is not None and not interaction.waiter.done():
        interaction.waiter.set_result(True)
    if ctx.query.get("with_response", "").lower() != "true":
        return 204, None
    out: dict[str, Any] = {"interaction": {
        "id": interaction.id, "type": 3, "response_message_id": interaction.original_id,
        "response_message_loading": kind == 5, "response_message_ephemeral": interaction.ephemeral}}
    resource: dict[str, Any] = {"type": kind}
    if response is not None:
        resource["message"] = state.render(response, bot)
    out["resource"] = resource
    return 200, out


def _follow_up_target(ctx: Ctx) -> Interaction:
    return ctx.state.interaction_by_token(ctx.params["webhook_id"], ctx.params["webhook_token"], time.monotonic())


def _webhook_message(ctx: Ctx, interaction: Interaction | None) -> tuple[Channel, Message]:
    state = ctx.state
    message_id = ctx.params.get("message_id", "@original")
    if interaction is not None:
        if message_id == "@original":
            message_id = interaction.original_id or ""
        ch = state.channel(interaction.channel_id)
        msg = ch.messages.get(message_id) or state.ephemeral.get(message_id)
        owned = msg is not None and (
            message_id == interaction.original_id or (msg.interaction_metadata or {}).get("id") == interaction.id)
        if msg is None or not owned:
            raise DiscordError(10008)
        return ch, msg
    hook = state.webhook(ctx.params["webhook_id"], ctx.params["webhook_token"])
    ch = state.channel(str(ctx.query.get("thread_id") or hook.channel_id))
    msg = ch.messages.get(message_id)
    if msg is None or msg.webhook_id != hook.id:
        raise DiscordError(10008)
    return ch, msg


def execute_webhook(ctx: Ctx) -> Answer:
    state = ctx.state
    if ctx.params["webhook_id"] == state.guild.application_id:  # an interaction follow-up
        interaction = _follow_up_target(ctx)
        ch = state.channel(interaction.channel_id)
        flags = int(ctx.body.get("flags") or 0) & EPHEMERAL
        msg = state.create_message(ch, state.bot, ctx.body, attachments=_attachments(ctx, ch.id),
                                   application_id=state.guild.application_id, flags=flags,
                                   interaction_metadata=_interaction_metadata(state, interaction),
                                   visible_to=interaction.user_id)
        msg.webhook_id = state.guild.application_id
        return 200, state.render(msg, state.bot)
    hook = state.webhook(ctx.params["webhook_id"], ctx.params["webhook_token"])
    thread_id = ctx.query.get("thread_id")
    ch = state.channel(thread_id or hook.channel_id)
    if thread_id and ch.parent_id != hook.channel_id:
        raise DiscordError(10003)
    body = dict(ctx.body)
    hook_name = str(body.pop("username", None) or hook.name)
    msg = state.create_message(ch, None, body, attachments=_attachments(ctx, ch.id), webhook=hook)
    msg.webhook_name = hook_name
    if ctx.query.get("wait", "").lower() != "true":
        return 204, None
    return 200, state.render(msg)


def get_webhook_message(ctx: Ctx) -> Answer:
    interaction = _follow_up_target(ctx) if ctx.params["webhook_id"] == ctx.state.guild.application_id else None
    _, msg = _webhook_message(ctx, interaction)
    return 200, ctx.state.render(msg, ctx.state.bot if interaction else None)


def edit_webhook_message(ctx: Ctx) -> Answer:
    interaction = _follow_up_target(ctx) if ctx.params["webhook_id"] == ctx.state.guild.application_id else None
    ch, msg = _webhook_message(ctx, interaction)
    ctx.state.edit_message(ch, msg, ctx.body, attachments=_attachments(ctx, ch.id))  # an ephemeral one: no event
    return 200, ctx.state.render(msg, ctx.state.bot if interaction else None)


def delete_webhook_message(ctx: Ctx) -> Answer:
    interaction = _follow_up_target(ctx) if ctx.params["webhook_id"] == ctx.state.guild.application_id else None
    ch, msg = _webhook_message(ctx, interaction)
    if msg.flags & EPHEMERAL:
        ctx.state.delete_ephemeral(msg)
    else:
        ctx.state.delete_message(ch, msg)
    return 204, None


_CH = "/channels/{channel_id}"
_MSG = _CH + "/messages/{message_id}"
_HOOK = "/webhooks/{webhook_id}/{webhook_token}"
ROUTES: tuple[Route, ...] = (
    Route("get_current_user", "GET", "/users/@me", get_current_user, "users.read"),
    Route("get_gateway_bot", "GET", "/gateway/bot", get_gateway_bot, "gateway"),
    Route("get_channel", "GET", _CH, get_channel, "channels.read", "channel_id"),
    Route("list_messages", "GET", _CH + "/messages", list_messages, "messages.read", "channel_id"),
    Route("create_message", "POST", _CH + "/messages", create_message, "messages.create", "channel_id"),
    Route("get_message", "GET", _MSG, get_message, "messages.read", "channel_id"),
    Route("edit_message", "PATCH", _MSG, edit_message, "messages.edit", "channel_id"),
    Route("delete_message", "DELETE", _MSG, delete_message, "messages.delete", "channel_id"),
    Route("list_reactions", "GET", _MSG + "/reactions/{emoji}", list_reactions, "reactions.read", "channel_id"),
    Route("add_reaction", "PUT", _MSG + "/reactions/{emoji}/@me", add_reaction, "reactions", "channel_id"),
    Route("delete_own_reaction", "DELETE", _MSG + "/reactions/{emoji}/@me", delete_own_reaction, "reactions",
          "channel_id"),
    Route("start_thread", "POST", _MSG + "/threads", start_thread, "threads.create", "channel_id"),
    Route("get_guild_member", "GET", "/guilds/{guild_id}/members/{user_id}", get_member, "guilds.read", "guild_id"),
    Route("list_guild_roles", "GET", "/guilds/{guild_id}/roles", list_roles, "guilds.read", "guild_id"),
    Route("interaction_callback", "POST", "/interactions/{interaction_id}/{interaction_token}/callback",
          interaction_callback, None, auth=False),
    Route("execute_webhook", "POST", _HOOK, execute_webhook, "webhooks", "webhook_id", auth=False),
    Route("get_webhook_message", "GET", _HOOK + "/messages/{message_id}", get_webhook_message, "webhooks",
          "webhook_id", auth=False),
    Route("edit_webhook_message", "PATCH", _HOOK + "/messages/{message_id}", edit_webhook_message, "webhooks",
          "webhook_id", auth=False),
    Route("delete_webhook_message", "DELETE", _HOOK + "/messages/{message_id}", delete_webhook_message, "webhooks",
          "webhook_id", auth=False),
)


# --- the HTTP side ------------------------------------------------------------------------------


class _BadBody(Exception):
    pass


async def _read_body(request: web.Request) -> tuple[dict[str, Any], list[tuple[str, str, bytes, str | None]]]:
    """JSON, or multipart with ``payload_json`` and ``files[n]`` parts, as Discord takes them."""
    if not request.can_read_body or request.method in ("GET", "DELETE"):
        return {}, []
    ctype = request.content_type
    if ctype == "multipart/form-data":
        body: dict[str, Any] = {}
        files: list[tuple[str, str, bytes, str | None]] = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue  # a nested multipart: Discord takes none
            name = part.name or ""
            if part.filename is not None or name.startswith("files["):
                part_type = part.headers.get("Content-Type")
                content = bytes(await part.read())
                files.append((name, part.filename or "", content,
                              None if part_type in (None, "application/octet-stream") else part_type))
            elif name == "payload_json":
                try:
                    body = json.loads(await part.text())
                except json.JSONDecodeError:
                    raise _BadBody from None
        return body if isinstance(body, dict) else {}, files
    raw = await request.read()
    if not raw:
        return {}, []
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _BadBody from None
    if not isinstance(body, dict):
        raise _BadBody
    return body, []


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    if status == 204:
        return web.Response(status=204, headers=headers)
    return web.json_response(body, status=status, headers=headers)


def _fault_answer(kind: str, retry_after: int) -> web.Response | None:
    if kind == "429":
        body = {"message": "You are being rate limited.", "retry_after": float(retry_after), "global": False, "code": 0}
        return _json(429, body, {"Retry-After": str(retry_after), "X-RateLimit-Scope": "user", "Via": "1.1 google"})
    if kind == "500":
        return _json(500, {"message": "500: Internal Server Error", "code": 0})
    if kind == "503":
        return _json(503, {"message": "503: Service Unavailable", "code": 0})
    return None


def build_app(backend: Backend) -> web.Application:
    """The aiohttp application: REST routes, attachment downloads and the Gateway websocket."""

    def journal(name: str, args: dict[str, Any], status: int, error: str | None, user: str | None,
                http_method: str, arrived: float) -> None:
        backend.journal.record(Call(arrived, name, args, status, error, user, http_method))

    def make_handler(route: Route) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.StreamResponse:
            arrived = backend.clock.now()
            params = {k: v for k, v in request.match_info.items() if k != "version"}
            if request.match_info.get("version", "10") not in API_VERSIONS:
                return _json(404, not_found().body())
            args: dict[str, Any] = dict(params)
            args.update({k: v for k, v in request.query.items()})
            state = backend.state
            fault = backend.faults.take(route.name)
            if fault is not None:
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                if backend.state is not state:
                    await _reset_connection(request)  # reset() ran while this call stalled
                if fault.kind == "reset":
                    journal(route.name, args, 0, "connection_reset", None, route.method, arrived)
                    await _reset_connection(request)
                answer = _fault_answer(fault.kind, fault.retry_after)
                if answer is not None:
                    journal(route.name, args, answer.status, f"fault_{fault.kind}", None, route.method, arrived)
                    return answer
            try:
                body, files = await _read_body(request)
            except _BadBody:
                error = DiscordError(50109, status=400, message="The request body contains invalid JSON.")
                journal(route.name, args, 400, "50109", None, route.method, arrived)
                return _json(400, error.body())
            args.update({k: v for k, v in body.items() if k != "attachments"})
            if files:
                args["files"] = [name for _, name, _, _ in files]

            actor: Member | None = None
            token = ""
            if route.auth:
                auth = request.headers.get("Authorization", "")
                is_bot = auth.startswith("Bot ")
                token = auth[4:].strip() if is_bot else auth.strip()
                actor = state.tokens.get(token)
                if actor is None or token in state.revoked or actor.bot != is_bot:
                    journal(route.name, args, 401, "0", None, route.method, arrived)
                    return _json(401, unauthorized().body())
            headers: dict[str, str] = {}
            major = params.get(route.major, "") if route.major else ""
            verdict = backend.limiter.acquire(token or params.get("webhook_token", "") or "anonymous",
                                              route.bucket, major, count_global=route.auth) if (
                route.bucket or route.auth) else None
            if verdict is not None:
                if not verdict.allowed:
                    body429, headers429 = backend.limiter.refusal(verdict)
                    journal(route.name, args, 429, "rate_limited", actor.id if actor else None, route.method, arrived)
                    return _json(429, body429, headers429)
                if route.bucket:
                    headers = backend.limiter.headers(verdict)
            ctx = Ctx(backend, state, actor, params, dict(request.query), body, files)
            try:
                with state.lock:
                    status, out = route.handler(ctx)
            except DiscordError as err:
                journal(route.name, args, err.status, str(err.code), actor.id if actor else None, route.method,
                        arrived)
                answer = _json(err.status, err.body(), headers)
                return _truncated(answer) if fault is not None and fault.kind == "truncated" else answer
            journal(route.name, args, status, None, actor.id if actor else None, route.method, arrived)
            if fault is not None and fault.kind == "lost":
                await _reset_connection(request)  # done, but the caller never hears so
            answer = _json(status, out, headers)
            return _truncated(answer) if fault is not None and fault.kind == "truncated" else answer

        return handle

    async def attachment(request: web.Request) -> web.StreamResponse:
        content = backend.files.get(request.match_info["attachment_id"])
        if content is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=content, content_type=_content_type(request.match_info["filename"]))

    async def unknown(request: web.Request) -> web.StreamResponse:
        known = [r for r in ROUTES if _matches(r.path, request.match_info.get("rest", ""))]
        error = method_not_allowed() if known else not_found()
        return _json(error.status, error.body())

    app = web.Application(client_max_size=64 * 1024**2)
    for route in ROUTES:
        app.router.add_route(route.method, "/api/v{version}" + route.path, make_handler(route))
        # Unversioned (``/api/webhooks/…``, as the Discord provider's webhook connection builds it): v10.
        app.router.add_route(route.method, "/api" + route.path, make_handler(route))
    app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", attachment)
    app.router.add_get("/gateway", backend.gateway.websocket)
    app.router.add_get("/gateway/resume", backend.gateway.websocket)
    app.router.add_route("*", "/api/v{version}/{rest:.*}", unknown)
    return app


def _matches(pattern: str, path: str) -> bool:
    parts, given = pattern.strip("/").split("/"), ("/" + path).strip("/").split("/")
    return len(parts) == len(given) and all(p.startswith("{") or p == g for p, g in zip(parts, given, strict=True))


def _truncated(response: web.Response) -> web.Response:
    """The same answer with its JSON body cut off halfway (a ``"truncated"`` fault)."""
    body = response.text or ""
    return web.Response(text=body[: len(body) // 2], status=response.status, content_type="application/json",
                        headers={k: v for k, v in response.headers.items() if k.lower() != "content-type"})
