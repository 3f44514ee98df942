"""WebhookAlerter: post-only alerts through a Slack incoming webhook (a ``slackwebhook`` connection).

An incoming webhook posts to the one channel chosen when it was created and returns no message id, so
it cannot update, thread, upload or ask; those raise ChatCapabilityError naming the connection.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

from airflow_chat_alerts.alerters.base import BaseAlerter, Capabilities
from airflow_chat_alerts.alerters.payload import message_payload
from airflow_chat_alerts.alerters.redaction import Redact, Scrubber, ScrubbingLogger, no_redaction
from airflow_chat_alerts.alerters.slack_errors import retry_after_seconds, slack_error
from airflow_chat_alerts.exceptions import ChatCapabilityError, ChatConfigError, ChatTransientError
from airflow_chat_alerts.model import Message, MessageRef

if TYPE_CHECKING:
    from slack_sdk.webhook import WebhookClient

log = logging.getLogger(__name__)

WEBHOOK_METHOD = "incoming webhook"


class WebhookAlerter(BaseAlerter):
    """Posts messages through a Slack incoming webhook.

    :param conn_id: the Airflow connection (named in every error).
    :param url: the webhook URL (a secret: never logged, and shown as its host only in errors).
    :param timeout: seconds to wait for Slack; slack_sdk's default when None.
    :param proxy: an HTTP proxy URL.
    :param default_channel: only for display; the webhook decides where messages go.
    :param redact: applied to every string posted (the hook passes Airflow's secrets masker).
    """

    capabilities = Capabilities()

    def __init__(
        self,
        *,
        conn_id: str,
        url: str,
        timeout: int | None = None,
        proxy: str | None = None,
        default_channel: str | None = None,
        redact: Redact = no_redaction,
    ) -> None:
        super().__init__(conn_id=conn_id, default_channel=default_channel)
        self._url = url
        self._redact = redact
        self._scrub = Scrubber(url)
        self.timeout = timeout
        self.proxy = proxy
        self._client: WebhookClient | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.conn_id!r})"

    @property
    def client(self) -> WebhookClient:
        if self._client is None:
            from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
            from slack_sdk.webhook import WebhookClient

            kwargs: dict[str, Any] = {"timeout": self.timeout, "proxy": self.proxy}
            # Only 429s are retried (Slack refused the post): after a dropped connection Slack may have
            # posted it, and sending it again would post it twice. This handler is where a 429 is waited
            # out; one still refused after it is a transient "ratelimited" (slack_errors decides).
            self._client = WebhookClient(
                url=self._url,
                logger=cast(logging.Logger, ScrubbingLogger(log, self._scrub)),  # slack_sdk logs the URL it posts to
                retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
                **{key: value for key, value in kwargs.items() if value is not None},
            )
        return self._client

    def post(self, message: Message, *, channel: str | None = None, thread_ts: str | None = None) -> MessageRef:
        if thread_ts:
            self.require("threads")
        body = message_payload(message, conn_id=self.conn_id, redact=self._redact, metadata=False)
        if channel and self.default_channel and channel != self.default_channel:
            log.warning(
                "Connection %r is an incoming webhook: it posts to its own channel, not %r", self.conn_id, channel
            )
        from slack_sdk.errors import SlackClientError

        # Errors are raised `from None`: the original's text (and traceback) can quote the URL.
        try:
            response = self.client.send_dict(body)
        except OSError as err:
            raise ChatTransientError(
                f"connection_error: could not reach the incoming webhook of connection {self.conn_id!r} "
                f"({type(err).__name__}: {self._scrub(str(err))})",
                conn_id=self.conn_id,
                code="connection_error",
            ) from None
        except (SlackClientError, ValueError) as err:  # a URL urllib or slack_sdk cannot use
            raise ChatConfigError(
                f"invalid_webhook_url: connection {self.conn_id!r} holds a webhook URL that cannot be used "
                f"({type(err).__name__}: {self._scrub(str(err))}); put the https://hooks.slack.com/services/… "
                "URL of the incoming webhook in its password",
                conn_id=self.conn_id,
                code="invalid_webhook_url",
            ) from None
        if response.status_code != 200:
            raise slack_error(
                (response.body or "").strip() or None,
                conn_id=self.conn_id,
                method=WEBHOOK_METHOD,
                channel=channel or self.default_channel,
                status=response.status_code,
                retry_after=retry_after_seconds(response.headers),
            )
        # Webhooks return no message id: the reference only says where it went, as far as we know.
        return MessageRef(channel=self.default_channel or "", ts="")

    def update(self, ref: MessageRef, message: Message) -> None:
        raise self._post_only("edit a posted message")

    def require(self, capability: str) -> None:
        what = Capabilities.what(capability)
        if not getattr(self.capabilities, capability):
            raise self._post_only(what)

    def _post_only(self, what: str) -> ChatCapabilityError:
        return ChatCapabilityError(
            f"Connection {self.conn_id!r} is a Slack incoming webhook (slackwebhook): it can only post, "
            f"it cannot {what}; use a 'slack' API connection with a bot token for that.",
            conn_id=self.conn_id,
        )
