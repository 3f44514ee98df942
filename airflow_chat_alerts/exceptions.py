"""Our own exception types: every chat failure is either permanent, transient or bad input.

Messages name the Airflow connection, the channel and the chat service's error code, so that the
person reading a failed task log knows what to fix without opening the source.
"""

from __future__ import annotations


class ChatAlertError(Exception):
    """Base of every error raised by airflow-chat-alerts.

    :param message: the human-readable explanation (already names conn/channel/code).
    :param conn_id: the Airflow connection used, if any.
    :param channel: the channel involved, if any.
    :param code: the chat service's error code (e.g. Slack's ``not_in_channel``), if any.
    """

    def __init__(
        self,
        message: str,
        *,
        conn_id: str | None = None,
        channel: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.conn_id = conn_id
        self.channel = channel
        self.code = code


class ChatPermanentError(ChatAlertError):
    """Retrying will not help: bad credentials, unknown channel, missing scope, deleted message."""


class ChatCredentialsRefusedError(ChatPermanentError):
    """The chat service refused the connection's credentials (revoked, invalid, expired, the wrong kind
    of token): nothing of that connection can work until they are replaced."""


class ChatQuestionDeletedError(ChatPermanentError):
    """The question message an ask waits on was deleted from the channel."""


class ChatNotOurQuestionError(ChatPermanentError):
    """The message an ask would wait on was not posted by the connection's app: it decides nothing."""

    @classmethod
    def of(cls, *, conn_id: str, channel: str, ts: str) -> ChatNotOurQuestionError:
        """The error for message ``ts`` in ``channel``, read through connection ``conn_id``."""
        return cls(
            f"not_our_question: message {ts} in {channel} was not posted by this app, so it is not a question "
            f"to wait on [connection {conn_id!r}]",
            conn_id=conn_id,
            channel=channel,
            code="not_our_question",
        )


class ChatChannelArchivedError(ChatPermanentError):
    """The channel of a waiting ask was archived: nobody can answer in it any more."""

    @classmethod
    def of(cls, *, conn_id: str, channel: str) -> ChatChannelArchivedError:
        """The error for ``channel``, read through connection ``conn_id``."""
        return cls(
            f"is_archived: channel {channel} was archived while the ask waited in it, so nobody can answer it; "
            f"unarchive it and retry the task [connection {conn_id!r}]",
            conn_id=conn_id,
            channel=channel,
            code="is_archived",
        )


class ChatTransientError(ChatAlertError):
    """Retrying later may succeed: rate limited, 5xx, connection reset, timeout.

    :param retry_after: seconds the service asked us to wait (HTTP ``Retry-After``), if it said.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        conn_id: str | None = None,
        channel: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, conn_id=conn_id, channel=channel, code=code)
        self.retry_after = retry_after


class ChatConfigError(ChatAlertError, ValueError):
    """Bad input or configuration: empty message, no channel, overlapping keywords, unknown option."""


class ChatCapabilityError(ChatConfigError):
    """The alerter cannot do what was asked (e.g. a webhook connection asked to read answers)."""
