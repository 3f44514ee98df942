"""What a message becomes on the wire: the one check and fitting of a post, for every alerter.

Pure: no I/O. The Slack API alerter and the incoming-webhook alerter both build their request body
here, so an empty message, an over-long text or too many blocks are treated the same through either.
"""

from __future__ import annotations

from typing import Any

from airflow_chat_alerts import formatting
from airflow_chat_alerts.alerters.redaction import Redact, redact_strings
from airflow_chat_alerts.exceptions import ChatConfigError
from airflow_chat_alerts.model import Message


def message_payload(message: Message, *, conn_id: str, redact: Redact, metadata: bool = True) -> dict[str, Any]:
    """The body to post for ``message``: text and blocks fitted to Slack's limits, every string redacted.

    :param message: the message.
    :param conn_id: the connection it goes through (named in the error).
    :param redact: applied to every string of the body.
    :param metadata: carry ``message.metadata`` (an incoming webhook cannot).
    :raises ChatConfigError: the message has neither text nor blocks.
    """
    if not (message.text or "").strip() and not message.blocks:
        raise ChatConfigError(f"empty message: nothing to post through connection {conn_id!r}", conn_id=conn_id)
    payload: dict[str, Any] = {"text": formatting.fit_text(message.text or "")}
    if message.blocks:
        payload["blocks"] = formatting.fit_blocks(list(message.blocks))
    if metadata and message.metadata:
        payload["metadata"] = message.metadata
    redacted: dict[str, Any] = redact_strings(payload, redact)
    return redacted
