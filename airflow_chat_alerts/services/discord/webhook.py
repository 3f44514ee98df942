"""DiscordWebhookAlerter: post-only alerts through a Discord webhook (the Discord provider's ``discord``
connection).

A webhook posts into the one channel it was made for and can read nothing, so it cannot ask, update,
reply, or upload; those raise :class:`~airflow_chat_alerts.exceptions.ChatCapabilityError` naming the
connection. The webhook URL holds its token: it is never logged, and an error shows its host only.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from airflow_chat_alerts.alerters.base import BaseAlerter, Capabilities
from airflow_chat_alerts.alerters.redaction import Redact, no_redaction, redact_strings
from airflow_chat_alerts.exceptions import ChatCapabilityError, ChatConfigError
from airflow_chat_alerts.model import Message, MessageRef
from airflow_chat_alerts.services.discord._ids import ts_of
from airflow_chat_alerts.services.discord._render import render
from airflow_chat_alerts.services.discord._rest import RestClients, error_of, message_kwargs, run_blocking

if TYPE_CHECKING:
    from hikari.impl import RESTClientImpl

_WEBHOOK_URL = re.compile(r"(?P<base>https?://[^?#]+?)/webhooks/(?P<id>[0-9]+)/(?P<token>[A-Za-z0-9_\-.]+)/?")


class DiscordWebhookAlerter(BaseAlerter):
    """Posts messages through a Discord webhook.

    :param conn_id: the Airflow connection (named in every error).
    :param url: the webhook URL (``…/api/webhooks/{id}/{token}``): a secret.
    :param timeout: seconds per request.
    :param proxy: an HTTP proxy URL.
    :param default_channel: only for display; the webhook decides where messages go.
    :param redact: applied to every string posted (the hook passes Airflow's secrets masker).
    """

    capabilities = Capabilities()

    def __init__(self, *, conn_id: str, url: str, timeout: int | None = None, proxy: str | None = None,
                 default_channel: str | None = None, redact: Redact = no_redaction) -> None:
        super().__init__(conn_id=conn_id, default_channel=default_channel)
        match = _WEBHOOK_URL.fullmatch(url.strip())
        if match is None:
            raise ChatConfigError(
                f"invalid_webhook_url: connection {conn_id!r} holds no Discord webhook URL; give the extra "
                f"webhook_endpoint 'webhooks/{{id}}/{{token}}' (or the whole URL in the password)",
                conn_id=conn_id, code="invalid_webhook_url",
            )
        base = match.group("base").rstrip("/")
        if base.endswith("/api"):
            base += "/v10"  # the provider's host is the unversioned API root
        self.host = re.sub(r"^(https?://[^/]+).*", r"\1", base)
        self._webhook = int(match.group("id"))
        self._token = match.group("token")
        self._redact = redact
        self._clients = RestClients(token=None, base_url=base, timeout=timeout, proxy=proxy, max_retries=0)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.conn_id!r}, host={self.host!r})"

    def post(self, message: Message, *, channel: str | None = None, thread_ts: str | None = None) -> MessageRef:
        if thread_ts:
            self.require("threads")
        redacted = Message(text=self._redact(message.text or ""), context=message.context,
                           blocks=redact_strings(list(message.blocks), self._redact) if message.blocks else None)
        rendered = render(redacted, conn_id=self.conn_id)
        rendered.rows = []  # a webhook's message takes no buttons that anything would receive

        async def send(rest: RESTClientImpl) -> MessageRef:
            kwargs: dict[str, Any] = message_kwargs(rest, rendered)
            try:
                posted = await rest.execute_webhook(self._webhook, self._token, **kwargs)
            except Exception as err:
                raise error_of(err, conn_id=self.conn_id, operation=f"webhook {self.host}/api/webhooks/***",
                               channel=self.default_channel) from None  # the original's text quotes the URL
            return MessageRef(channel=str(posted.channel_id), ts=ts_of(posted.id))

        return run_blocking(lambda: self._clients.once(send))

    def update(self, ref: MessageRef, message: Message) -> None:
        raise self._post_only("edit a posted message")

    def require(self, capability: str) -> None:
        what = Capabilities.what(capability)
        if not getattr(self.capabilities, capability):
            raise self._post_only(what)

    def _post_only(self, what: str) -> ChatCapabilityError:
        return ChatCapabilityError(
            f"Connection {self.conn_id!r} is a Discord webhook (discord): it can only post, it cannot {what}; "
            f"use a 'discord_bot' connection (a bot token) for that.",
            conn_id=self.conn_id,
        )
