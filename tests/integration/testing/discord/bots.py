"""hikari's real Gateway and REST clients against the Discord emulator, on the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    """What a hikari bot was dispatched, in order, with a wait for the next matching one."""

    events: list[Any] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, event: Any) -> None:
        self.events.append(event)
        self.changed.set()

    async def wait_for(self, kind: type, predicate: Any = lambda e: True, timeout: float = 30.0) -> Any:
        async def find() -> Any:
            while True:
                for event in self.events:
                    if isinstance(event, kind) and predicate(event):
                        return event
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(find(), timeout)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


class HikariErrors(logging.Handler):
    """Errors hikari logs (a payload it could not deserialize, a failed task)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.asynccontextmanager
async def hikari_bot(emulator: Any, intents: Any = None, *, expect_errors: bool = False, **kwargs: Any) -> AsyncIterator[tuple[Any, Received]]:
    """A started ``hikari.GatewayBot`` aimed at ``emulator`` (REST at ``base_url``; the Gateway URL from
    ``/gateway/bot``), with no cache, logging set-up, banner or update check; yields (bot, received)."""
    import hikari

    if intents is None:
        intents = (hikari.Intents.GUILDS | hikari.Intents.GUILD_MESSAGES | hikari.Intents.MESSAGE_CONTENT
                   | hikari.Intents.GUILD_MESSAGE_REACTIONS)
    bot = hikari.GatewayBot(
        emulator.bot_token, rest_url=emulator.base_url, intents=intents, logs=None, banner=None,
        suppress_optimization_warning=True,
        cache_settings=hikari.impl.CacheSettings(components=hikari.api.CacheComponents.NONE), **kwargs)
    received = Received()

    async def record(event: Any) -> None:
        received.add(event)

    for kind in (hikari.GuildMessageCreateEvent, hikari.GuildMessageUpdateEvent, hikari.GuildMessageDeleteEvent,
                 hikari.GuildReactionAddEvent, hikari.GuildReactionDeleteEvent, hikari.GuildThreadCreateEvent,
                 hikari.InteractionCreateEvent, hikari.ShardReadyEvent, hikari.ShardResumedEvent):
        with warnings.catch_warnings():  # a test without an intent means not to receive its events
            warnings.simplefilter("ignore", hikari.errors.MissingIntentWarning)
            bot.event_manager.subscribe(kind, record)
    errors = HikariErrors()
    logging.getLogger("hikari").addHandler(errors)
    try:
        await bot.start(check_for_updates=False)
    except BaseException:
        with contextlib.suppress(Exception):  # what start() opened (its REST session) is closed again
            await bot.close()
        logging.getLogger("hikari").removeHandler(errors)
        raise
    try:
        yield bot, received
    finally:
        await bot.close()
        logging.getLogger("hikari").removeHandler(errors)
    if not expect_errors:
        assert not errors.records, [r.getMessage() for r in errors.records]
