"""Discord's JSON errors: ``{"code": …, "message": …}`` with the HTTP status Discord answers with.

Codes from Discord's developer documentation ("JSON Error Codes"); 0 is a general error such as
``401: Unauthorized`` or ``404: Not Found`` (an unknown route).
"""

from __future__ import annotations

from typing import Any

# code -> (HTTP status, message)
CODES: dict[int, tuple[int, str]] = {
    0: (400, "General error"),
    10003: (404, "Unknown Channel"),
    10004: (404, "Unknown Guild"),
    10007: (404, "Unknown Member"),
    10008: (404, "Unknown Message"),
    10013: (404, "Unknown User"),
    10014: (400, "Unknown Emoji"),
    10015: (404, "Unknown Webhook"),
    10062: (404, "Unknown interaction"),
    40060: (400, "Interaction has already been acknowledged."),
    50001: (403, "Missing Access"),
    50005: (403, "Cannot edit a message authored by another user"),
    50006: (400, "Cannot send an empty message"),
    50013: (403, "Missing Permissions"),
    50027: (401, "Invalid Webhook Token"),
    50035: (400, "Invalid Form Body"),
    50083: (400, "Thread is archived"),
    160004: (400, "A thread has already been created for this message"),
}


class DiscordError(Exception):
    """An error answer. ``errors`` is Discord's nested field report for 50035 Invalid Form Body.

    :param code: Discord's JSON error code (a key of ``CODES``, or 0 with ``status`` and ``message``).
    :param status: HTTP status (default: the code's).
    :param message: message (default: the code's).
    :param errors: the ``errors`` object of an Invalid Form Body.
    """

    def __init__(self, code: int, *, status: int | None = None, message: str | None = None,
                 errors: dict[str, Any] | None = None) -> None:
        default_status, default_message = CODES.get(code, (400, "General error"))
        self.code = code
        self.status = status or default_status
        self.message = message or default_message
        self.errors = errors
        super().__init__(f"{self.status} {self.code}: {self.message}")

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def unauthorized() -> DiscordError:
    return DiscordError(0, status=401, message="401: Unauthorized")


def not_found() -> DiscordError:
    return DiscordError(0, status=404, message="404: Not Found")


def method_not_allowed() -> DiscordError:
    return DiscordError(0, status=405, message="405: Method Not Allowed")


def invalid_form(path: str, code: str, message: str) -> DiscordError:
    """50035 Invalid Form Body with one field error at ``path`` (dotted: ``embeds.0.title``)."""
    node: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(path.split(".")):
        node = {part: node}
    return DiscordError(50035, errors=node)


class DiscordApiError(Exception):
    """An error answer to a person's REST call (``emu.act_as(...)``).

    :param status: HTTP status.
    :param body: the JSON body (``code``, ``message``).
    """

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body
        self.code = body.get("code") if isinstance(body, dict) else None
