"""The web view's server: the page, its read-only JSON API, its event stream, and the one door for acts.

    view = WebView(SlackSource(emulator)).start()     # or emulator.web_view()
    print(view.url)                                    # http://127.0.0.1:PORT/

Routes (``{service}`` is a source's id):

- ``GET /``, ``GET /static/{file}``: the page (package data in ``static/``).
- ``GET /api/services``: the sources, in order.
- ``GET /api/{service}/workspace``, ``GET /api/{service}/channels/{channel}?viewer=&since=&epoch=``,
  ``GET /api/{service}/journal?since=&epoch=``: see source.py for the shapes.
- ``GET /api/events``: server-sent events; a ``status`` event (``{"services": {id: status}}``) at
  once and after each change, so the page fetches what changed without reloading.
- ``POST /api/{service}/act`` (JSON, see acts.py): the person's act, carried out by the source
  through the emulator's own paths.

The server runs on its own event loop in a background thread, like the emulator; sources are read in
worker threads (they take the emulator's locks). Every answer passes the `Redactor` of the sources'
secrets, carries the `guard.SECURITY_HEADERS`, and is refused when it names another Host; acts must
be JSON from the page's own origin.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import Any

from aiohttp import web

from airflow_chat_alerts.testing.web.acts import BadAct, parse_act
from airflow_chat_alerts.testing.web.guard import (
    SECURITY_HEADERS,
    exposure_warning,
    host_allowed,
    origin_allowed,
)
from airflow_chat_alerts.testing.web.redaction import Redactor
from airflow_chat_alerts.testing.web.source import ChatSource

log = logging.getLogger(__name__)

STATIC_FILES = {"app.js": "text/javascript", "app.css": "text/css", "icon.svg": "image/svg+xml"}
_SOURCE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
WATCH_INTERVAL = 0.2  # seconds between looks at what a change hook does not report (journal, sockets, resets)
COALESCE = 0.03  # seconds a burst of changes is let to settle into one event
KEEPALIVE = 15.0  # seconds between comments on an idle event stream (proxies close silent ones)


def _static(name: str) -> bytes:
    return resources.files("airflow_chat_alerts.testing.web").joinpath("static", name).read_bytes()


class WebView:
    """A local web page showing chat emulators, live, and acting in them as their people.

    :param sources: the chat services shown (the page switches between them), e.g. a `SlackSource`.
    :param host: interface to listen on; anything but loopback logs a warning (see guard.py).
    :param port: TCP port (0: a free one).
    """

    def __init__(self, *sources: ChatSource, host: str = "127.0.0.1", port: int = 0) -> None:
        self._sources: dict[str, ChatSource] = {}
        self._host, self._port = host, port
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._workers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="web-view")
        self._statuses: dict[str, dict[str, Any]] = {}
        self._changed: asyncio.Event | None = None  # replaced after each change: streams wait on it
        self._wake: asyncio.Event | None = None
        self._closing = False
        for source in sources:
            self.add_source(source)

    # --- sources -----------------------------------------------------------------------------------

    def add_source(self, source: ChatSource) -> None:
        """Show ``source`` too (the page lists it in its service switch)."""
        if not _SOURCE_ID.match(source.id):
            raise ValueError(f"a source id is lower-case letters, digits and '-': {source.id!r}")
        if source.id in self._sources:
            raise ValueError(f"a source {source.id!r} is shown already")
        self._sources[source.id] = source
        source.watch(self._notify)
        self._notify()

    @property
    def sources(self) -> list[ChatSource]:
        return list(self._sources.values())

    def _notify(self) -> None:
        """From any thread: something changed, look soon."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has stopped
                loop.call_soon_threadsafe(wake.set)

    def _redact(self, text: str) -> str:
        secrets: set[str] = set()
        for source in list(self._sources.values()):
            secrets.update(source.secrets())
        return Redactor(secrets)(text)

    # --- lifecycle ---------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self._host in ("0.0.0.0", "") else self._host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self._port}/"

    def start(self) -> WebView:
        """Start serving (idempotent); returns self."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []
        self._closing = False
        self._thread = threading.Thread(target=self._serve, args=(ready, failure), name="web-view", daemon=True)
        self._thread.start()
        ready.wait(timeout=30)
        if failure:
            self._thread.join()
            self._thread = None
            raise RuntimeError(f"the web view could not start on {self._host}:{self._port}") from failure[0]
        warning = exposure_warning(self._host, self._port)
        if warning:
            log.warning(warning)
        return self

    def _serve(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        runner = web.AppRunner(self._app(), access_log=None, handle_signals=False, shutdown_timeout=0.5)
        watcher: asyncio.Task[None] | None = None
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self._host, self._port)
            loop.run_until_complete(site.start())
            server = site._server
            assert server is not None and server.sockets  # type: ignore[attr-defined]
            self._port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
            self._wake, self._changed = asyncio.Event(), asyncio.Event()
            self._wake.set()  # the first statuses at once
            watcher = loop.create_task(self._watch())
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
            # The flag, not only the cancellation, ends the watcher: Python 3.11's wait_for can swallow
            # a cancellation that comes as its wait ends.
            self._closing = True
            if self._changed is not None:
                self._changed.set()  # event streams end
            watcher.cancel()
            loop.run_until_complete(asyncio.gather(watcher, return_exceptions=True))
            loop.run_until_complete(runner.cleanup())
            loop.close()

    def stop(self) -> None:
        """Stop serving and join the thread (idempotent)."""
        if self._thread is None:
            return
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._thread = None
        self._loop = None
        self._workers.shutdown(wait=False, cancel_futures=True)
        self._workers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="web-view")

    def __enter__(self) -> WebView:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- change watching ---------------------------------------------------------------------------

    async def _watch(self) -> None:
        """Compare each source's status with the last one; publish a change to the event streams."""
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while not self._closing:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), WATCH_INTERVAL)
                await asyncio.sleep(COALESCE)
            self._wake.clear()
            statuses = {}
            for source in list(self._sources.values()):
                try:
                    statuses[source.id] = await loop.run_in_executor(self._workers, source.status)
                except Exception:  # a broken source must not stop the others' updates
                    log.exception("web view: status of source %r failed", source.id)
            if statuses != self._statuses:
                self._statuses = statuses
                changed, self._changed = self._changed, asyncio.Event()
                if changed is not None:
                    changed.set()

    # --- the application ---------------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=1024**2)
        app.on_response_prepare.append(_security_headers)
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/api/services", self._services)
        app.router.add_get("/api/events", self._events)
        app.router.add_get("/api/{service}/workspace", self._workspace)
        app.router.add_get("/api/{service}/channels/{channel}", self._channel)
        app.router.add_get("/api/{service}/journal", self._journal)
        app.router.add_post("/api/{service}/act", self._act)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not host_allowed(request.headers.get("Host"), self._host, self._port):
            return web.Response(status=421, text="This page answers only to its own address.")
        if request.method not in ("GET", "HEAD"):
            if not origin_allowed(request.headers.get("Origin"), request.headers.get("Host")):
                return web.Response(status=403, text="Acts come from the page itself only.")
            if request.content_type != "application/json":
                return web.Response(status=415, text="Acts are sent as application/json.")
        response: web.StreamResponse = await handler(request)
        return response

    def _json(self, body: Any, status: int = 200) -> web.Response:
        text = self._redact(json.dumps(body, ensure_ascii=False, separators=(",", ":")))
        return web.Response(text=text, status=status, content_type="application/json")

    def _source(self, request: web.Request) -> ChatSource:
        source = self._sources.get(request.match_info["service"])
        if source is None:
            raise web.HTTPNotFound(text=f"no service {request.match_info['service']!r}")
        return source

    async def _work(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._workers, lambda: fn(*args, **kwargs))

    async def _index(self, request: web.Request) -> web.Response:
        return web.Response(body=_static("index.html"), content_type="text/html", charset="utf-8")

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC_FILES:
            raise web.HTTPNotFound()
        return web.Response(body=_static(name), content_type=STATIC_FILES[name],
                            charset="utf-8" if STATIC_FILES[name].startswith("text/") else None)

    async def _services(self, request: web.Request) -> web.Response:
        return self._json({"services": [{"id": s.id, "name": s.name} for s in self._sources.values()]})

    async def _workspace(self, request: web.Request) -> web.Response:
        source = self._source(request)
        return self._json({"service": source.id, **await self._work(source.workspace)})

    async def _channel(self, request: web.Request) -> web.Response:
        source = self._source(request)
        try:
            since = _int(request.query.get("since"))
            epoch = _int(request.query.get("epoch"))
        except ValueError as err:
            return self._json({"error": str(err)}, 400)
        try:
            body = await self._work(source.channel, request.match_info["channel"],
                                    viewer=request.query.get("viewer") or None, since=since, epoch=epoch)
        except KeyError:
            return self._json({"error": f"no channel {request.match_info['channel']!r}"}, 404)
        return self._json(body)

    async def _journal(self, request: web.Request) -> web.Response:
        source = self._source(request)
        try:
            since = _int(request.query.get("since")) or 0
            epoch = _int(request.query.get("epoch"))
        except ValueError as err:
            return self._json({"error": str(err)}, 400)
        return self._json(await self._work(source.journal, since=max(since, 0), epoch=epoch))

    async def _act(self, request: web.Request) -> web.Response:
        source = self._source(request)
        try:
            act = parse_act(await request.json())
        except (BadAct, ValueError) as err:  # a JSONDecodeError is a ValueError
            return self._json({"ok": False, "error": "bad_request", "message": str(err)}, 400)
        result = await self._work(source.act, act)
        self._notify()
        return self._json(result)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        sent: dict[str, Any] | None = None
        try:
            while not self._closing:
                changed = self._changed
                if self._statuses != sent:
                    sent = self._statuses
                    data = self._redact(json.dumps({"services": sent}, separators=(",", ":")))
                    await response.write(f"event: status\ndata: {data}\n\n".encode())
                if changed is None:
                    break
                try:
                    await asyncio.wait_for(changed.wait(), KEEPALIVE)
                except asyncio.TimeoutError:
                    await response.write(b": still here\n\n")
        except ConnectionResetError:  # the page went away
            pass
        return response


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)


def _int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"not a whole number: {value!r}") from None
