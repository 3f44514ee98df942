"""What a chat emulator gives the web page: the contract a second service (Discord) plugs in by.

The page knows no chat service: it shows people, channels and message views (view nodes, see
blocks.py and mrkdwn.py) that a `ChatSource` builds from its emulator, and hands the person's acts back
to it. The web server (server.py) serves any number of sources side by side; the page switches between
them. A source's methods are called from the server's worker threads, never on its event loop.

The JSON shapes (all plain dicts, so that the server only serialises them):

- ``workspace()``: ``{"name", "people": [{"id", "name", "label", "kind", "badge", "guest",
  "external"}], "channels": [{"id", "name", "private", "archived", "members": [ids], "topic"}],
  "default_channel", "can_select"}``
- ``channel(channel, viewer, since, epoch)``: ``{"epoch", "revision", "full", "channel", "messages":
  [message views], "removed": [ts], "ephemeral": [message views shown to the viewer only]}``; a full
  answer (``full``: every message) when ``since`` is None or ``epoch`` is not the current one.
- ``journal(since, epoch)``: ``{"epoch", "next", "entries": [{"i", "time", "method", "status",
  "error", "who", "transport", "summary", "kind"}]}``, ``kind`` being ``call``, ``limited`` (a 429),
  ``error`` or ``socket``.
- ``status()``: ``{"epoch", "revision", "channels": {id: revision}, "journal", "sockets",
  "ephemeral"}``: cheap, polled a few times a second; any change tells the page to look.
- ``act(act)``: ``{"ok": true, ...}`` or ``{"ok": false, "error": code, "message": words}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from airflow_chat_alerts.testing.web.acts import Act


@runtime_checkable
class ChatSource(Protocol):
    """One emulated chat service as the web page shows it.

    ``id`` names it in the page's addresses (letters, digits and ``-``); ``name`` is shown.
    """

    id: str
    name: str

    def workspace(self) -> dict[str, Any]:
        """People, channels and what the page may offer (see the module docstring)."""
        ...

    def channel(self, channel: str, *, viewer: str | None, since: int | None, epoch: int | None) -> dict[str, Any]:
        """A channel's messages (all, or those changed after revision ``since`` of ``epoch``) and the
        ephemeral messages only ``viewer`` sees there.

        :raises KeyError: no such channel.
        """
        ...

    def journal(self, *, since: int, epoch: int | None) -> dict[str, Any]:
        """The calls the emulator answered from index ``since`` on (all recent ones when ``epoch`` is
        not the current one)."""
        ...

    def status(self) -> dict[str, Any]:
        """Where the source stands: the page compares it with what it has."""
        ...

    def watch(self, wake: Callable[[], None]) -> None:
        """Call ``wake()`` (from any thread, quickly) after each change to a message."""
        ...

    def act(self, act: Act) -> dict[str, Any]:
        """Carry ``act`` out as its person, through the emulator's own paths (blocking)."""
        ...

    def secrets(self) -> Iterable[str]:
        """Strings never to be sent to the page (tokens, webhook secrets)."""
        ...
