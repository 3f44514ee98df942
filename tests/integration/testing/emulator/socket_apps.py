"""One process of the app for Socket Mode tests: slack_sdk's own aiohttp SocketModeClient, and waits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from airflow_chat_alerts.testing import SlackEmulator

QUESTION_BLOCKS = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "Deploy model v42?"}},
    {
        "type": "actions",
        "block_id": "decision",
        "elements": [
            {"type": "button", "action_id": "approve", "text": {"type": "plain_text", "text": "Approve"},
             "style": "primary", "value": "ask-123"},
            {"type": "button", "action_id": "reject", "text": {"type": "plain_text", "text": "Reject"},
             "style": "danger", "value": "ask-123"},
        ],
    },
]


class DebugReconnectsClient(SocketModeClient):
    """slack_sdk's client asking for Slack's debug refresh period: ``debug_reconnects=true`` on the
    websocket URL, as Slack's Socket Mode guide says to."""

    async def issue_new_wss_url(self) -> str:
        return await super().issue_new_wss_url() + "&debug_reconnects=true"


class App:
    """One process of the app: slack_sdk's SocketModeClient, recording what it gets and (optionally) acking.

    Build it inside a running event loop (the client schedules its tasks at construction).
    """

    def __init__(self, emulator: SlackEmulator, *, ack: bool = True, debug_reconnects: bool = False) -> None:
        self.ack = ack
        self.requests: list[SocketModeRequest] = []
        self.messages: list[dict[str, Any]] = []
        kind = DebugReconnectsClient if debug_reconnects else SocketModeClient
        self.client = kind(app_token=emulator.app_token, web_client=AsyncWebClient(base_url=emulator.base_url))
        self.client.message_listeners.append(self._on_message)
        self.client.socket_mode_request_listeners.append(self._on_request)

    async def _on_message(self, client: SocketModeClient, message: dict[str, Any], raw: str | None) -> None:
        self.messages.append(message)

    async def _on_request(self, client: SocketModeClient, request: SocketModeRequest) -> None:
        self.requests.append(request)
        if self.ack:
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

    def events(self) -> list[dict[str, Any]]:
        return [r.payload["event"] for r in self.requests if r.type == "events_api"]

    async def __aenter__(self) -> App:
        await self.client.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.close()
        await self.client.web_client.session.close() if self.client.web_client.session else None


async def until(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Wait (without blocking the loop) until ``condition()`` holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        await asyncio.sleep(0.02)


async def in_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A blocking Web API call (a person acting) without stalling the client's loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def socket_calls(emulator: SlackEmulator, what: str, **match: Any) -> list[Any]:
    return [c for c in emulator.journal.calls(what) if all(c.args.get(k) == v for k, v in match.items())]
