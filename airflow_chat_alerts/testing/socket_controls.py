"""The test-facing side of Socket Mode: what `SlackEmulator` and `Actor` offer on top of the Web API
(mixed into them), so a test can watch and break the app's sockets and click buttons as a person.

The hub itself (socket_mode.py) lives on the emulator's event loop; these methods are called from the
test's thread (or from a coroutine on another loop, for `click_async`) and hand work to that loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_chat_alerts.testing.events import block_actions_payload, interaction_payload
from airflow_chat_alerts.testing.interactions import OpenView
from airflow_chat_alerts.testing.selections import MenuNotFound, find_menu, pick, select_action
from airflow_chat_alerts.testing.socket_connections import Occupant
from airflow_chat_alerts.testing.socket_mode import (
    ACK_TIMEOUT,
    DISCONNECT_GRACE,
    REFRESH_WARNING,
    ClickFailed,
    SocketHub,
)
from airflow_chat_alerts.testing.views import (
    InvalidResponseAction,
    ViewSubmitted,
    response_errors,
    submitted_values,
    view_object,
    view_submission_payload,
)
from airflow_chat_alerts.testing.workspace import Workspace

if TYPE_CHECKING:
    from airflow_chat_alerts.testing.state import State

T = TypeVar("T")
_TOKEN = "emulated-verification-token"  # the (deprecated) verification token Slack still puts in payloads


class SocketModeControls:
    """Socket Mode controls and inspection of `SlackEmulator` (its ``sockets`` hub, ``_loop``)."""

    sockets: SocketHub
    workspace: Workspace
    _loop: asyncio.AbstractEventLoop | None

    if TYPE_CHECKING:  # provided by SlackEmulator

        @property
        def state(self) -> State: ...

        @property
        def root_url(self) -> str: ...

        def channel_id(self, channel: str) -> str: ...

        def user_id(self, user: str) -> str: ...

    @property
    def app_token(self) -> str:
        """The app-level token (``xapp-…``) that opens Socket Mode connections."""
        return self.workspace.app_token

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coro`` on the emulator's loop and wait for its result (from another thread)."""
        if self._loop is None:
            coro.close()
            raise RuntimeError("the Slack emulator is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def configure_sockets(
        self,
        *,
        ack_timeout: float = ACK_TIMEOUT,
        seed: int | None = None,
        refresh_after: float | None = None,
        refresh_warning: float = REFRESH_WARNING,
        refresh_grace: float = DISCONNECT_GRACE,
    ) -> None:
        """Socket Mode settings until the next `reset()` (every argument has Slack's value by default).
        Also disarms the ack and connection faults below.

        :param ack_timeout: how long Slack waits for an ack (real seconds; Slack's is 3 s).
        :param seed: makes the choice of connection per envelope repeatable.
        :param refresh_after: real seconds from a socket's ``hello`` to Slack's unprompted ``disconnect`` /
            ``refresh_requested`` (None: Slack's, 18060 s, or 360 s for a websocket URL with
            ``debug_reconnects=true``); ``hello`` states it as ``approximate_connection_time``. Applies to
            sockets opened afterwards.
        :param refresh_warning: the ``disconnect`` / ``warning`` comes this long before (at most half the
            period before).
        :param refresh_grace: after ``refresh_requested`` the server closes a socket the client has not
            left within this long.
        """
        self.sockets.configure(ack_timeout=ack_timeout, seed=seed, refresh_after=refresh_after,
                               refresh_warning=refresh_warning, refresh_grace=refresh_grace)

    def open_sockets(self) -> int:
        """How many Socket Mode connections the app holds now (occupied slots included)."""
        return len(self.sockets.live())

    def occupy_sockets(self, count: int, *, acks: bool = True) -> OccupiedSockets:
        """Let another client of the app (another triggerer, say) hold ``count`` of its 10 slots until
        released. Envelopes go to those slots too, chosen at random among all the app's connections as
        any; with ``acks`` the other client acks each at once, without it never. The slots count in
        ``hello``'s ``num_connections`` and toward the limit; `drop_sockets`, `send_disconnect` and the
        refresh schedule leave them be. `reset()` releases them.

        :raises ValueError: fewer than ``count`` slots are free.
        """
        return OccupiedSockets(self, self._run(self.sockets.occupy(count, acks=acks)))

    def wait_for_sockets(self, count: int, timeout: float = 15.0) -> None:
        """Wait until the app holds exactly ``count`` connections (raises TimeoutError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while self.open_sockets() != count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout} s for {count} open sockets; {self.open_sockets()} are open")
            time.sleep(0.02)

    def drop_sockets(self, count: int | None = None, *, abrupt: bool = False) -> int:
        """Close ``count`` of the app's sockets from the server side (oldest first; None: all);
        ``abrupt``: cut the TCP connection without a close frame. Returns how many were closed."""
        return self._run(self.sockets.drop(count, abrupt=abrupt))

    def send_disconnect(
        self, reason: str = "refresh_requested", *, count: int | None = None, close_after: float | None = None
    ) -> int:
        """Send Slack's ``disconnect`` message (``warning``, ``refresh_requested`` or ``link_disabled``)
        to ``count`` sockets (None: all). Unless ``reason`` is ``warning``, the server closes each of
        them ``close_after`` seconds later (default 10) if the client has not left by then."""
        return self._run(self.sockets.disconnect(reason, count, close_after))

    def lose_acks(self, count: int = 1) -> None:
        """The next ``count`` acks the app sends are lost on the way (as if never sent)."""
        self.sockets.lost_acks += count

    def delay_acks(self, seconds: float) -> None:
        """Every ack reaches Slack ``seconds`` late from now on (0: on time again)."""
        self.sockets.ack_delay = float(seconds)

    def refuse_sockets(self, count: int = 1) -> None:
        """The next ``count`` websocket handshakes are refused with HTTP 503 (the ticket stays valid).
        To make ``apps.connections.open`` itself fail, arm a fault on it (``faults.add``)."""
        self.sockets.refused_connections += count

    def ephemeral_messages(self, user: str, channel: str | None = None) -> list[dict[str, Any]]:
        """The ephemeral messages shown to ``user`` (name or id), oldest first, optionally in one channel."""
        user_id = self.user_id(user)
        channel_id = self.channel_id(channel) if channel else None
        with self.state.lock:
            shown = [dict(m) for m in self.state.ephemeral.get(user_id, [])]
        return [m for m in shown if channel_id is None or m["channel"] == channel_id]

    def _click_payload(self, user: str, channel: str, ts: str, action_id: str, value: str | None) -> dict[str, Any]:
        state = self.state
        person = self.workspace.user(user)
        with state.lock:
            ch, msg = self._visible_message(person.id, channel, ts)
            return block_actions_payload(state, ch, msg, person, action_id, value, self.root_url)

    def _visible_message(self, user_id: str, channel: str, ts: str) -> Any:
        """(channel, message) that the person may act on (under the state's lock)."""
        ch = self.state.channels[self.channel_id(channel)]
        msg = ch.messages.get(ts)
        if msg is None or msg.tombstone:
            raise KeyError(f"no message {ts} in {channel}")
        if ch.is_private and user_id not in ch.members:
            raise PermissionError(f"{self.state.users[user_id].name} cannot see {channel}")
        return ch, msg

    def _select_payload(self, user: str, channel: str, ts: str, action_id: str, values: list[str],
                        multiple: bool) -> dict[str, Any]:
        state = self.state
        person = self.workspace.user(user)
        with state.lock:
            ch, msg = self._visible_message(person.id, channel, ts)
            block_id, element = find_menu(msg, action_id)
            if (element["type"] == "multi_static_select") is not multiple:
                other = "select" if multiple else "select_many"
                raise MenuNotFound(f"{action_id} is a {element['type']}: use {other}")
            chosen = pick(element, values)
            mine = state.interactions.selections.setdefault((ch.id, msg.ts, person.id), {})
            mine.setdefault(block_id, {})[action_id] = chosen
            action = select_action(element, block_id, chosen, f"{state.clock.now():.6f}")
            return interaction_payload(state, ch, msg, person, action, self.root_url)

    def open_views(self, user: str) -> list[dict[str, Any]]:
        """The modals open in front of ``user`` (name or id), oldest first, as Slack shows them to the app."""
        state = self.state
        with state.lock:
            return [view_object(v, team_id=self.workspace.team_id, bot=self.workspace.bot)
                    for v in state.interactions.views_of(self.user_id(user))]

    def _open_view(self, user_id: str, view_id: str | None) -> OpenView:
        views = self.state.interactions.views_of(user_id)
        chosen = next((v for v in views if v.id == view_id), None) if view_id else (views[-1] if views else None)
        if chosen is None:
            raise KeyError(f"{self.state.users[user_id].name} has no open modal {view_id or ''}".rstrip())
        return chosen

    def _submission(self, user: str, answers: dict[str, Any], view_id: str | None) -> tuple[OpenView, dict[str, Any]]:
        state, ws = self.state, self.workspace
        person = ws.user(user)
        with state.lock:
            opened = self._open_view(person.id, view_id)
            values = submitted_values(opened.view, answers)  # raises ViewInputError as the client would
            view = view_object(opened, team_id=ws.team_id, bot=ws.bot, state=values)
            trigger = state.interactions.issue_trigger(person.id, opened.app_id, state.clock.now())
            payload = view_submission_payload(view, person=person, team_id=ws.team_id, domain=ws.domain,
                                              app_id=opened.app_id, trigger_id=trigger, token=_TOKEN)
        return opened, payload

    def _apply_response(self, opened: OpenView, payload: dict[str, Any], response: Any) -> ViewSubmitted:
        problems = response_errors(response, opened.view)
        if problems:
            raise InvalidResponseAction(problems, response)
        state = self.state
        action = response.get("response_action") if isinstance(response, dict) else None
        with state.lock:
            views = state.interactions.views
            if action in (None, "clear"):
                closing = [v.id for v in views.values() if v.user == opened.user] if action else [opened.id]
                for view_id in closing:
                    views.pop(view_id, None)
            elif action == "update":
                opened.view, opened.hash = dict(response["view"]), state.interactions.new_hash(state.clock.now())
            elif action == "push":
                pushed = OpenView(state.interactions.new_view_id(), opened.user, opened.app_id, dict(response["view"]),
                                  state.interactions.new_hash(state.clock.now()))
                views[pushed.id] = pushed
            still_open = opened.id in views
        errors = dict(response.get("errors") or {}) if action == "errors" else {}
        return ViewSubmitted(payload=payload, response=response or None, errors=errors, still_open=still_open)


class OccupiedSockets:
    """Slots of the app held by another client (`SocketModeControls.occupy_sockets`).

    :param controls: the emulator.
    :param occupants: the slots.
    """

    def __init__(self, controls: SocketModeControls, occupants: list[Occupant]) -> None:
        self._controls = controls
        self._occupants = occupants

    @property
    def connections(self) -> list[str]:
        """The slots' connection ids (as the journal names them)."""
        return [o.id for o in self._occupants]

    @property
    def held(self) -> int:
        """How many of the slots are still held."""
        return sum(not o.closed for o in self._occupants)

    @property
    def acks(self) -> bool:
        return all(o.acks for o in self._occupants)

    @acks.setter
    def acks(self, value: bool) -> None:
        """Ack what they get from now on (True) or never (False)."""
        for occupant in self._occupants:
            occupant.acks = value

    def envelopes(self) -> list[dict[str, Any]]:
        """The envelopes handed to these slots (``envelope_id``, ``type``, ``payload``, …), in order."""
        return [envelope for o in self._occupants for envelope in list(o.received)]

    def release(self, count: int | None = None) -> int:
        """The other client leaves ``count`` of the slots (None: all it still holds); returns how many."""
        held = [o for o in self._occupants if not o.closed]
        return self._controls._run(self._controls.sockets.release(held[:count] if count is not None else held))

    def __enter__(self) -> OccupiedSockets:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._controls._loop is not None:
            self.release()


class ButtonClicks:
    """What a person does with buttons (mixed into `Actor`)."""

    emulator: SocketModeControls  # the SlackEmulator the actor acts in
    user: str

    def click(self, channel: str, message_ts: str, action_id: str, *, value: str | None = None) -> dict[str, Any]:
        """Click the button ``action_id`` (and ``value``, if several share it) on a message: Slack sends
        a ``block_actions`` interaction to one socket of the app and waits for its ack. Blocks until
        then; from a coroutine, use `click_async`.

        :returns: the ``block_actions`` payload that was acknowledged.
        :raises ClickFailed: no socket was open (at once), or none acknowledged within the ack timeout;
            nothing is delivered later, and clicking again is a new interaction.
        :raises ButtonNotFound: the message has no such button.
        """
        payload = self.emulator._click_payload(self.user, channel, message_ts, action_id, value)
        return _clicked(self.emulator._run(self.emulator.sockets.interact(payload)), payload)

    async def click_async(
        self, channel: str, message_ts: str, action_id: str, *, value: str | None = None
    ) -> dict[str, Any]:
        """`click` for a caller running on an event loop (which keeps running meanwhile)."""
        payload = self.emulator._click_payload(self.user, channel, message_ts, action_id, value)
        loop = self.emulator._loop
        if loop is None:
            raise RuntimeError("the Slack emulator is not running")
        delivery = asyncio.run_coroutine_threadsafe(self.emulator.sockets.interact(payload), loop)
        return _clicked(await asyncio.wrap_future(delivery), payload)


    def select(self, channel: str, message_ts: str, action_id: str, value: str) -> dict[str, Any]:
        """Choose ``value`` (an option's value or text) in the static select ``action_id`` of a message:
        Slack sends ``block_actions`` with the ``selected_option`` at once and waits for its ack.

        :returns: the ``block_actions`` payload that was acknowledged.
        :raises ClickFailed: as `click`.
        :raises MenuNotFound: the message has no such menu, or the menu no such option.
        """
        payload = self.emulator._select_payload(self.user, channel, message_ts, action_id, [value], multiple=False)
        return _clicked(self.emulator._run(self.emulator.sockets.interact(payload)), payload)

    def select_many(self, channel: str, message_ts: str, action_id: str, values: list[str]) -> dict[str, Any]:
        """Make ``values`` the selection of the multi-select ``action_id`` of a message (Slack sends
        ``block_actions`` with the ``selected_options``; a later click on the message carries them in
        ``state.values``).

        :returns: the ``block_actions`` payload that was acknowledged.
        """
        payload = self.emulator._select_payload(self.user, channel, message_ts, action_id, list(values), multiple=True)
        return _clicked(self.emulator._run(self.emulator.sockets.interact(payload)), payload)

    def submit_view(self, values: dict[str, Any] | None = None, *, view_id: str | None = None) -> ViewSubmitted:
        """Fill in and submit the person's modal (the latest they have open, or ``view_id``): Slack sends
        ``view_submission`` to one socket of the app and applies the ``response_action`` of its ack
        (``errors`` keeps the modal open with the messages under the fields; ``update`` / ``push`` show a
        new view; nothing or ``clear`` closes it).

        :param values: input block id (or label) → the answer (see `views.submitted_values`); inputs left
            out keep their initial value.
        :raises ViewInputError: the person's client refuses to submit (an empty required field, a value
            out of bounds); nothing is sent.
        :raises ClickFailed: no socket was open, or none acknowledged within the ack timeout.
        :raises InvalidResponseAction: the app answered with a ``response_action`` Slack would refuse.
        """
        opened, payload = self.emulator._submission(self.user, dict(values or {}), view_id)
        outcome, response = self.emulator._run(self.emulator.sockets.interact_for_response(payload))
        _clicked(outcome, payload)
        return self.emulator._apply_response(opened, payload, response)


def _clicked(outcome: str, payload: dict[str, Any]) -> dict[str, Any]:
    if outcome != "acknowledged":
        raise ClickFailed(outcome, payload)
    return payload
