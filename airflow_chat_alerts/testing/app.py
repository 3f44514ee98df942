"""The emulator's HTTP face (aiohttp): the Web API under ``/api/<method>``, incoming webhooks under
``/services/T…/B…/secret``, interactions' response URLs under ``/actions/T…/id/secret`` and the file
upload URLs of the files_upload_v2 flow.

Per call: parse arguments (query string, form, multipart or JSON body; the token from
``Authorization: Bearer`` or the ``token`` argument), apply an armed fault, authenticate, apply the
rate limit, run the method, journal the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from airflow_chat_alerts.testing.clock import Clock
from airflow_chat_alerts.testing.faults import Fault, Faults
from airflow_chat_alerts.testing.interaction_responses import respond
from airflow_chat_alerts.testing.journal import Call, Journal
from airflow_chat_alerts.testing.methods import METHODS, Request, SlackError, parse_blocks
from airflow_chat_alerts.testing.ratelimit import RateLimiter
from airflow_chat_alerts.testing.socket_mode import OPEN_METHOD, SocketHub
from airflow_chat_alerts.testing.state import State
from airflow_chat_alerts.testing.workspace import Workspace


@dataclass
class Backend:
    """Everything one emulator serves; `state` is replaced on reset."""

    workspace: Workspace
    clock: Clock
    limiter: RateLimiter
    faults: Faults
    journal: Journal
    state: State
    root_url: str = ""
    sockets: SocketHub | None = None


class _BadRequest(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def parse_args(request: web.Request) -> dict[str, Any]:
    """Arguments from the query string and the body, as Slack accepts them."""
    args: dict[str, Any] = dict(request.query)
    if request.method != "POST" or not request.can_read_body:
        return args
    ctype = request.content_type
    if ctype == "application/json":
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _BadRequest("invalid_json") from None
        if not isinstance(body, dict):
            raise _BadRequest("invalid_json")
        args.update(body)
    elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        args.update({k: v for k, v in form.items() if isinstance(v, str)})
    return args


def _json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


async def _reset_connection(request: web.Request) -> None:
    """Drop the connection with a TCP reset and no answer."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    raise asyncio.CancelledError  # stop handling: nothing is written


async def _fault_response(request: web.Request, fault: Fault) -> web.Response | None:
    """The faulty answer (None for a stall: answer normally, late)."""
    if fault.delay:
        await asyncio.sleep(fault.delay)
    if fault.kind == "429":
        return _json({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(fault.retry_after)})
    if fault.kind == "500":
        return _json({"ok": False, "error": "internal_error"}, 500)
    if fault.kind == "503":
        return _json({"ok": False, "error": "service_unavailable"}, 503)
    if fault.kind == "reset":
        await _reset_connection(request)
    return None  # a stall or a truncated body: the call is answered (see _truncated)


def _truncated(response: web.Response) -> web.Response:
    """The same answer with its JSON body cut off halfway (a ``"truncated"`` fault)."""
    body = response.text or ""
    return web.Response(
        text=body[: len(body) // 2],
        status=response.status,
        content_type="application/json",
        headers={k: v for k, v in response.headers.items() if k.lower() != "content-type"},
    )


def build_app(backend: Backend) -> web.Application:
    """The aiohttp application serving ``backend``."""

    def journal(method: str, args: dict[str, Any], status: int, error: str | None, user: str | None,
                http_method: str, arrived: float, warnings: tuple[str, ...] = ()) -> None:
        backend.journal.record(Call(arrived, method, args, status, error, user, http_method, warnings))

    async def api(request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        arrived = backend.clock.now()
        try:
            args = await parse_args(request)
        except _BadRequest as err:
            journal(method, {}, 200, err.code, None, request.method, arrived)
            return _json({"ok": False, "error": err.code})
        token = args.pop("token", None)
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token = auth[len("Bearer ") :].strip() or token

        state = backend.state
        fault = backend.faults.take(method)
        if fault is not None:
            if fault.kind == "reset":
                journal(method, args, 0, "connection_reset", None, request.method, arrived)
            response = await _fault_response(request, fault)
            if backend.state is not state:
                # reset() ran while this call stalled: it must not leak into the next test's state
                await _reset_connection(request)
            if response is not None:
                body = json.loads(response.text or "{}")
                journal(method, args, response.status, body.get("error"), None, request.method, arrived)
                return response

        handler = METHODS.get(method)
        if handler is None and not (backend.sockets is not None and method == OPEN_METHOD):
            journal(method, args, 200, "unknown_method", None, request.method, arrived)
            return _json({"ok": False, "error": "unknown_method", "req_method": method})
        if not token:
            journal(method, args, 200, "not_authed", None, request.method, arrived)
            return _json({"ok": False, "error": "not_authed"})
        if token in state.revoked:
            journal(method, args, 200, "token_revoked", None, request.method, arrived)
            return _json({"ok": False, "error": "token_revoked"})
        if backend.sockets is not None and backend.sockets.handles(method, str(token)):
            status, body, headers = backend.sockets.web_call(method, str(token), state)
            app_id = backend.workspace.app_id if str(token) == backend.workspace.app_token else None
            journal(method, args, status, body.get("error"), app_id, request.method, arrived)
            return _json(body, status, headers)
        actor = state.tokens.get(str(token))
        if actor is None or actor.deleted:
            journal(method, args, 200, "invalid_auth", None, request.method, arrived)
            return _json({"ok": False, "error": "invalid_auth"})

        headers = {"X-OAuth-Scopes": ",".join(sorted(actor.scopes))}
        channel = None
        if method == "chat.postMessage" and args.get("channel"):
            ch = state.channel_by_ref(str(args["channel"]), allow_name=True)
            channel = ch.id if ch else str(args["channel"])
        wait = backend.limiter.acquire(actor.id, method, channel)
        if wait > 0:
            headers["Retry-After"] = str(backend.clock.real_seconds(wait))
            journal(method, args, 429, "ratelimited", actor.id, request.method, arrived)
            return _json({"ok": False, "error": "ratelimited"}, 429, headers)

        req = Request(method, actor, dict(args), state, backend.limiter, backend.root_url)
        try:
            with state.lock:
                body = {"ok": True, **handler(req)}  # type: ignore[misc]  # None only for OPEN_METHOD, served above
        except SlackError as err:
            journal(method, args, 200, err.code, actor.id, request.method, arrived)
            answer = _json({"ok": False, "error": err.code, **err.extra}, headers=headers)
            return _truncated(answer) if fault is not None and fault.kind == "truncated" else answer
        if req.warnings:
            body["warning"] = ",".join(req.warnings)
            body.setdefault("response_metadata", {})["warnings"] = list(req.warnings)
        journal(method, args, 200, None, actor.id, request.method, arrived, tuple(req.warnings))
        if fault is not None and fault.kind == "lost":
            await _reset_connection(request)  # done, but the caller never hears so
        answer = _json(body, headers=headers)
        return _truncated(answer) if fault is not None and fault.kind == "truncated" else answer

    async def webhook(request: web.Request) -> web.StreamResponse:
        """Incoming webhook: plain-text answers with Slack's HTTP statuses."""
        arrived = backend.clock.now()
        state = backend.state
        hook = state.webhooks.get(request.match_info["hook"])

        def answer(text: str, status: int, args: dict[str, Any] | None = None, **headers: str) -> web.Response:
            actor = state.workspace.bot.id if status == 200 else None
            journal("webhook", args or {}, status, None if status == 200 else text, actor, "POST", arrived)
            return web.Response(text=text, status=status, content_type="text/html", headers=headers or None)

        fault = backend.faults.take("webhook")
        if fault is not None:
            response = await _fault_response(request, fault)
            if response is not None:
                return answer(json.loads(response.text or "{}").get("error", "error"), response.status)
        if request.match_info["team"] != state.workspace.team_id:
            return answer("no_team", 400)
        if hook is None:
            return answer("no_service", 404)
        if hook.revoked or request.match_info["secret"] != hook.secret:
            return answer("invalid_token", 403)
        try:
            if request.content_type == "application/json":
                payload = await request.json()
            else:
                form = await request.post()
                payload = json.loads(str(form.get("payload", "")))
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            return answer("invalid_payload", 400)
        if not isinstance(payload, dict):
            return answer("invalid_payload", 400)
        ch = state.channels.get(hook.channel)
        if ch is None:
            return answer("channel_not_found", 404, payload)
        if ch.is_archived:
            return answer("channel_is_archived", 410, payload)
        try:
            blocks = parse_blocks(payload.get("blocks"))
        except SlackError:
            return answer("invalid_blocks", 400, payload)
        text = str(payload.get("text") or "")
        if not text and not blocks and not payload.get("attachments"):
            return answer("no_text", 400, payload)
        wait = backend.limiter.acquire("webhook", "webhook", ch.id)
        if wait > 0:
            return answer("rate_limited", 429, payload, **{"Retry-After": str(backend.clock.real_seconds(wait))})
        with state.lock:
            thread_ts = payload.get("thread_ts")
            parent = ch.messages.get(str(thread_ts)) if thread_ts else None
            state.post(
                ch.id,
                None,
                text=text[:40_000],
                blocks=blocks,
                thread_ts=(parent.thread_ts or parent.ts) if parent is not None else None,
                webhook_app=state.user(state.workspace.app_bot),
            )
        response = answer("ok", 200, payload)
        if fault is not None and fault.kind == "lost":
            await _reset_connection(request)  # posted, but the caller never hears so
        return response

    async def response_url(request: web.Request) -> web.StreamResponse:
        """An interaction's response URL: JSON answers (``{"ok": true}``), journalled as ``response_url``."""
        arrived = backend.clock.now()
        state = backend.state
        app_bot = state.workspace.bot.id

        def answer(status: int, body: dict[str, Any], args: dict[str, Any], headers: dict[str, str] | None = None,
                   ) -> web.Response:
            journal("response_url", args, status, body.get("error"), app_bot if status == 200 else None, "POST",
                    arrived)
            return _json(body, status, headers)

        fault = backend.faults.take("response_url")
        if fault is not None:
            response = await _fault_response(request, fault)
            if response is not None:
                return answer(response.status, json.loads(response.text or "{}"), {})
        url = None
        if request.match_info["team"] == state.workspace.team_id:
            url = state.response_urls.find(request.match_info["url_id"], request.match_info["secret"])
        try:
            if request.content_type == "application/json":
                payload = await request.json()
            else:
                payload = json.loads(str((await request.post()).get("payload", "")))
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            payload = None
        if url is None:
            return answer(404, {"ok": False, "error": "expired_url"}, payload if isinstance(payload, dict) else {})
        if not isinstance(payload, dict):
            return answer(400, {"ok": False, "error": "invalid_payload"}, {})
        result = respond(state, backend.limiter, url, payload)
        response = answer(result.status, result.body, payload, result.headers)
        if fault is not None and fault.kind == "lost":
            await _reset_connection(request)  # done, but the caller never hears so
        return response

    async def upload(request: web.Request) -> web.StreamResponse:
        """The upload URL handed out by files.getUploadURLExternal."""
        arrived = backend.clock.now()
        file_id = request.match_info["file_id"]
        fault = backend.faults.take("upload")
        if fault is not None:
            response = await _fault_response(request, fault)
            if response is not None:
                journal("upload", {"file_id": file_id}, response.status, "fault", None, "POST", arrived)
                return response
        if request.content_type == "multipart/form-data":
            form = await request.post()
            field = next((v for v in form.values() if hasattr(v, "file")), None)
            data = field.file.read() if field is not None else b""
        else:
            data = await request.read()
        state = backend.state
        with state.lock:
            stored = state.files.get(file_id)
            if stored is None:
                journal("upload", {"file_id": file_id}, 404, "file_not_found", None, "POST", arrived)
                return web.Response(text="file_not_found", status=404)
            stored.content = data
        journal("upload", {"file_id": file_id, "bytes": len(data)}, 200, None, stored.user, "POST", arrived)
        return web.Response(text=f"OK - {len(data)}")

    app = web.Application(client_max_size=1024**3)
    app.router.add_route("*", "/api/{method}", api)
    app.router.add_post("/services/{team}/{hook}/{secret}", webhook)
    app.router.add_post("/upload/v1/{file_id}", upload)
    app.router.add_post("/actions/{team}/{url_id}/{secret}", response_url)
    if backend.sockets is not None:
        app.router.add_get("/link/", backend.sockets.websocket)
    return app
