"""What the page is told when a person's act fails, whatever the chat service.

A source carries an act out through its emulator's ``act_as`` paths and answers its own API's errors
itself (Slack's codes, Discord's); everything else an act may raise is answered here, the same for every
service.
"""

from __future__ import annotations

import http.client
from collections.abc import Mapping
from typing import Any

from airflow_chat_alerts.testing.events import ButtonNotFound
from airflow_chat_alerts.testing.selections import MenuNotFound
from airflow_chat_alerts.testing.socket_mode import ClickFailed


class Unsupported(Exception):
    """An act the emulator has no path for (the page offers it only where it has)."""


# What carrying out an act may raise besides the service's own API error.
ACT_FAILURES = (Unsupported, ClickFailed, ButtonNotFound, MenuNotFound, KeyError, PermissionError, OSError,
                http.client.HTTPException)


def act_failure(failure: Exception, click_failed: Mapping[str, str]) -> dict[str, Any]:
    """``failure`` (one of `ACT_FAILURES`) as the page shows it; ``click_failed`` holds the service's words
    for a click nobody took, by `ClickFailed` reason."""
    if isinstance(failure, Unsupported):
        return {"ok": False, "error": "not_supported", "message": str(failure)}
    if isinstance(failure, ClickFailed):
        return {"ok": False, "error": failure.reason, "message": click_failed.get(failure.reason, str(failure))}
    if isinstance(failure, ButtonNotFound):
        return {"ok": False, "error": "button_not_found", "message": f"{failure} (the message changed?)"}
    if isinstance(failure, MenuNotFound):
        return {"ok": False, "error": "menu_not_found", "message": f"{failure} (the message changed?)"}
    if isinstance(failure, (KeyError, PermissionError)):
        return {"ok": False, "error": "not_visible", "message": str(failure).strip("'\"")}
    if isinstance(failure, (OSError, http.client.HTTPException)):
        return {"ok": False, "error": "connection_error", "message": f"The call failed: {failure}"}
    raise failure  # not one of ACT_FAILURES: a bug, seen as one
