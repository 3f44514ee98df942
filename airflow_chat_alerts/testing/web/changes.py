"""Which messages changed since when, so the page fetches only what changed.

A chat source records each change to a message here (from the emulator's own change hook); the page
asks for the changes of a channel since the revision it has. The epoch starts again when the source's
whole state is replaced (the emulator's ``reset()``): the page then reloads everything.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Changed:
    """The changes of one channel since a revision.

    :param revision: the revision the answer is complete up to (ask from it next time).
    :param changed: message keys changed (or new) since.
    :param removed: message keys gone since.
    """

    revision: int
    changed: frozenset[str]
    removed: frozenset[str]


class ChangeLog:
    """Revisions of messages per channel, thread-safe (changes come from the emulator's threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.epoch = 1
        self.revision = 0
        self._items: dict[str, dict[str, int]] = {}  # channel -> message key -> revision of its last change
        self._removed: dict[str, dict[str, int]] = {}
        self._channels: dict[str, int] = {}  # channel -> revision of its last change

    def touch(self, channel: str, key: str) -> None:
        """``key`` of ``channel`` is new or changed."""
        with self._lock:
            self.revision += 1
            self._items.setdefault(channel, {})[key] = self.revision
            self._removed.get(channel, {}).pop(key, None)
            self._channels[channel] = self.revision

    def remove(self, channel: str, key: str) -> None:
        """``key`` of ``channel`` is gone."""
        with self._lock:
            self.revision += 1
            self._items.get(channel, {}).pop(key, None)
            self._removed.setdefault(channel, {})[key] = self.revision
            self._channels[channel] = self.revision

    def restart(self, channels: Iterable[str] = ()) -> None:
        """Everything was replaced: a new epoch, no message recorded, and ``channels`` (those holding
        messages already) changed."""
        with self._lock:
            self.epoch += 1
            self._items.clear()
            self._removed.clear()
            self._channels.clear()
            for channel in channels:
                self.revision += 1
                self._channels[channel] = self.revision

    def revision_of(self, channel: str, key: str) -> int:
        """The revision of ``key``'s last change (0: none recorded in this epoch)."""
        with self._lock:
            return self._items.get(channel, {}).get(key, 0)

    def channel_revisions(self) -> dict[str, int]:
        """The revision of each channel's last change (channels with none left out)."""
        with self._lock:
            return dict(self._channels)

    def since(self, channel: str, revision: int) -> Changed:
        """What changed in ``channel`` after ``revision``."""
        with self._lock:
            items = self._items.get(channel, {})
            gone = self._removed.get(channel, {})
            return Changed(
                revision=self.revision,
                changed=frozenset(k for k, r in items.items() if r > revision),
                removed=frozenset(k for k, r in gone.items() if r > revision),
            )
