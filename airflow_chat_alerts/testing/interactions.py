"""What the emulated workspace remembers of people's interactions: trigger ids, open modals, and the
state of menus in messages (each person's own selection, as Slack keeps it per person).

Slack hands out a ``trigger_id`` with every interaction; an app exchanges it once, within 3 seconds, to
open a modal for that person (``views.open``): later it answers ``expired_trigger_id``, a second time
``exchanged_trigger_id``, and an id it never issued ``invalid_arguments``. The 3 seconds run on the
emulator's clock (``emu.clock.advance(4)`` expires every trigger issued so far).

Owned by `State` (replaced with it on ``reset()``); callers hold the state's lock.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

# Slack: "trigger_id … expires in 3 seconds" (modals guide); the views.open errors below.
TRIGGER_LIFETIME = 3.0
EXPIRED = "expired_trigger_id"
EXCHANGED = "exchanged_trigger_id"


@dataclass
class IssuedTrigger:
    """A trigger id Slack sent with an interaction.

    :param id: the trigger id.
    :param user: the user id of the person who interacted.
    :param app_id: the app the interaction was sent to.
    :param issued_at: when (the emulator's clock).
    """

    id: str
    user: str
    app_id: str
    issued_at: float
    used: bool = False


@dataclass
class OpenView:
    """A modal open in front of a person.

    :param id: the view id (``V…``).
    :param user: who sees it.
    :param app_id: the app that opened it.
    :param view: the view as the app last set it (``views.open`` / ``views.update`` / ``response_action``).
    :param hash: changes with every update (``views.update`` may require it).
    :param external_id: the app's own id for it, if given.
    """

    id: str
    user: str
    app_id: str
    view: dict[str, Any]
    hash: str
    external_id: str = ""


@dataclass
class Interactions:
    """Trigger ids, open modals and menu selections of one workspace's state."""

    triggers: dict[str, IssuedTrigger] = field(default_factory=dict)
    views: dict[str, OpenView] = field(default_factory=dict)
    # (channel id, message ts, user id) -> {block_id: {action_id: the options the person selected}}
    selections: dict[tuple[str, str, str], dict[str, dict[str, list[dict[str, Any]]]]] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def issue_trigger(self, user: str, app_id: str, now: float) -> str:
        """A new trigger id for an interaction of ``user`` sent to ``app_id``."""
        trigger = f"{int(now)}.{next(self._ids):05d}.{uuid.uuid4().hex[:16]}"
        self.triggers[trigger] = IssuedTrigger(trigger, user, app_id, now)
        return trigger

    def exchange_trigger(self, trigger_id: str, app_id: str, now: float) -> tuple[IssuedTrigger | None, str | None]:
        """``(trigger, None)`` when ``trigger_id`` may open a view now, else ``(None, error)``: ``invalid``
        (never issued to this app), :data:`EXCHANGED` or :data:`EXPIRED`. A good exchange uses it up."""
        trigger = self.triggers.get(trigger_id)
        if trigger is None or trigger.app_id != app_id:
            return None, "invalid"
        if trigger.used:
            return None, EXCHANGED
        if now - trigger.issued_at > TRIGGER_LIFETIME:
            return None, EXPIRED
        trigger.used = True
        return trigger, None

    def new_view_id(self) -> str:
        return f"V0{next(self._ids):08d}"

    def new_hash(self, now: float) -> str:
        return f"{now:.6f}.{uuid.uuid4().hex[:8]}"

    def views_of(self, user: str) -> list[OpenView]:
        """The modals open in front of ``user``, oldest first."""
        return [v for v in self.views.values() if v.user == user]
