"""Slack error codes → our exception types, with a message that says what to fix.

Pure: no slack_sdk import. ``SlackAlerter`` (and the webhook alerter) pass the code Slack returned and
whatever they know about the call; this module decides permanent vs transient and writes the message.
Every message names the Airflow connection, the channel when there is one, and the Slack error code.
Tokens never appear here: nothing in this module receives one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_chat_alerts.exceptions import (
    ChatAlertError,
    ChatCredentialsRefusedError,
    ChatPermanentError,
    ChatQuestionDeletedError,
    ChatTransientError,
)

_UPDATE_TOKEN = "update the password of connection {conn!r} with a valid bot token (xoxb-…)"


@dataclass(frozen=True)
class SlackErrorKind:
    """How to treat one Slack error code.

    :param transient: True when retrying later may succeed.
    :param hint: what happened and what to do; ``{conn}``, ``{channel}``, ``{method}`` and ``{scope}``
        are filled in.
    """

    transient: bool
    hint: str


def _permanent(hint: str) -> SlackErrorKind:
    return SlackErrorKind(transient=False, hint=hint)


def _transient(hint: str) -> SlackErrorKind:
    return SlackErrorKind(transient=True, hint=hint)


SLACK_ERRORS: Mapping[str, SlackErrorKind] = {
    # credentials
    "not_authed": _permanent("connection {conn!r} has no token; " + _UPDATE_TOKEN),
    "invalid_auth": _permanent("the token in connection {conn!r} is invalid or revoked; " + _UPDATE_TOKEN),
    "token_revoked": _permanent("the token in connection {conn!r} is invalid or revoked; " + _UPDATE_TOKEN),
    "token_expired": _permanent("the token in connection {conn!r} has expired; " + _UPDATE_TOKEN),
    "account_inactive": _permanent(
        "the token in connection {conn!r} belongs to a deleted user or an uninstalled app; " + _UPDATE_TOKEN
    ),
    "not_allowed_token_type": _permanent(
        "connection {conn!r} holds a token of the wrong type for {method}; use a bot token (xoxb-…)"
    ),
    "missing_scope": _permanent(
        "the token of connection {conn!r} lacks {scope} (needed by {method}); add the scope to the Slack "
        "app, reinstall it and update the connection's token"
    ),
    "no_permission": _permanent(
        "the token of connection {conn!r} may not do {method} in {channel}; check the app's scopes and "
        "that the app is a member of the channel"
    ),
    "access_denied": _permanent("Slack denied connection {conn!r} access to {channel} for {method}"),
    "ekm_access_denied": _permanent("workspace administrators have suspended posting for this app"),
    "two_factor_setup_required": _permanent("the user behind connection {conn!r} must set up two-factor auth"),
    "team_access_not_granted": _permanent("the token of connection {conn!r} has no access to this workspace"),
    # channels
    "channel_not_found": _permanent(
        "channel {channel} does not exist or connection {conn!r} cannot see it; check the channel id "
        "(or name) and, for a private channel, invite the app"
    ),
    "invalid_channel": _permanent("channel {channel} does not exist or connection {conn!r} cannot see it"),
    "not_in_channel": _permanent("invite the app to {channel} or use chat:write.public"),
    "is_archived": _permanent("channel {channel} is archived; unarchive it or post to another channel"),
    "is_inactive": _permanent("channel {channel} is archived or frozen; its messages cannot change"),
    "restricted_action": _permanent("a workspace preference stops the app from posting in {channel}"),
    "restricted_action_read_only_channel": _permanent("{channel} is read-only for the app"),
    "restricted_action_thread_only_channel": _permanent("{channel} only accepts thread replies"),
    "restricted_action_non_threadable_channel": _permanent("{channel} does not accept thread replies"),
    "restricted_action_thread_locked": _permanent("the thread in {channel} is locked by an admin"),
    "method_not_supported_for_channel_type": _permanent("{method} does not work for {channel}'s channel type"),
    "channel_is_limited_access": _permanent("connection {conn!r} has limited access to {channel}"),
    "posting_to_channel_denied": _permanent("the app may not share files in {channel}"),
    # messages
    "message_not_found": _permanent("the message does not exist in {channel} (deleted?)"),
    "thread_not_found": _permanent("the thread does not exist in {channel} (its parent was deleted?)"),
    "cant_update_message": _permanent("connection {conn!r} may only update messages the app itself posted"),
    "edit_window_closed": _permanent("the workspace no longer allows editing this message in {channel}"),
    "user_not_in_channel": _permanent(
        "the person is not a member of {channel}, so Slack cannot show them a message there"
    ),
    "messages_tab_disabled": _permanent("the app's Messages tab is disabled, so it cannot message people directly"),
    "is_bot": _permanent("connection {conn!r} holds a legacy bot token, which {method} does not accept"),
    "accesslimited": _permanent("Slack limits {method} on the network connection {conn!r} calls it from"),
    "cannot_reply_to_message": _permanent("this message in {channel} cannot have thread replies"),
    "no_text": _permanent("the message has no text; give a non-empty message"),
    "msg_too_long": _permanent("the message text is longer than Slack accepts (40,000 characters)"),
    "msg_blocks_too_long": _permanent("the message blocks are longer than Slack accepts"),
    "invalid_blocks": _permanent("Slack rejected the message blocks (at most 50 blocks, 3,000 characters each)"),
    "invalid_blocks_format": _permanent("the blocks are not valid Block Kit JSON (a list of block objects)"),
    "invalid_metadata_format": _permanent("the message metadata is malformed"),
    "invalid_metadata_schema": _permanent("the message metadata does not match Slack's metadata schema"),
    "metadata_too_large": _permanent("the message metadata is too large"),
    "metadata_must_be_sent_from_app": _permanent(
        "message metadata needs an app's bot token; connection {conn!r} holds another kind of token"
    ),
    "too_many_attachments": _permanent("the message has more than 100 attachments"),
    "invalid_ts_oldest": _permanent("the `oldest` timestamp given to {method} is invalid"),
    "invalid_ts_latest": _permanent("the `latest` timestamp given to {method} is invalid"),
    "invalid_cursor": _permanent("the pagination cursor of {method} is no longer valid"),
    # users and groups
    "user_not_found": _permanent("the user does not exist in this workspace"),
    "user_not_visible": _permanent("the user is not visible to connection {conn!r}"),
    "no_such_subteam": _permanent("the user group does not exist; check the group id (S…)"),
    "plan_upgrade_required": _permanent("this Slack workspace's plan has no user groups; list approvers by id"),
    # files
    "file_uploads_disabled": _permanent("the workspace has disabled file uploads"),
    "file_uploads_except_images_disabled": _permanent("the workspace only accepts image uploads"),
    "file_type_not_allowed": _permanent("the workspace does not accept this file type"),
    "file_upload_size_restricted": _permanent("the file is larger than the workspace allows"),
    "storage_limit_reached": _permanent("the workspace's file storage is full"),
    # the platform
    "deprecated_endpoint": _permanent("{method} is deprecated on this Slack server"),
    "method_deprecated": _permanent("{method} is deprecated on this Slack server"),
    "unknown_method": _permanent("{method} is not available on this Slack server (check the base_url extra)"),
    "enterprise_is_restricted": _permanent("{method} cannot be called from an Enterprise Grid org"),
    "ratelimited": _transient("Slack rate-limited {method}; retry after the time it asked for"),
    "rate_limited": _transient("the app posted too many messages; retry later"),
    "message_limit_exceeded": _transient("the workspace hit its message limit; retry later"),
    "internal_error": _transient("Slack had an internal error in {method}; retry"),
    "fatal_error": _transient("Slack failed in {method}; retry (it may have partly succeeded)"),
    "service_unavailable": _transient("Slack is temporarily unavailable; retry"),
    "request_timeout": _transient("the request to {method} was cut short; retry"),
    "team_added_to_org": _transient("the workspace is migrating to an Enterprise org; retry later"),
    "org_login_required": _transient("the workspace is migrating; retry later"),
    "external_channel_migrating": _transient("{channel} is migrating; retry later"),
    "update_failed": _transient("Slack failed to update the message; retry"),
}

# The HTTP status of a refusal for going too fast: transient, whatever the body says (see slack_error).
RATE_LIMITED_STATUS = 429
# Codes that mean Slack refused the token itself: every call of the connection fails the same way.
CREDENTIALS_REFUSED = frozenset(
    {"not_authed", "invalid_auth", "token_revoked", "token_expired", "account_inactive", "team_access_not_granted",
     "not_allowed_token_type"}
)
# Codes that, when reading a question, mean the question itself is gone.
QUESTION_GONE = frozenset({"message_not_found", "thread_not_found"})


# Errors after which Slack may have posted although the call failed (no answer, or a server error that
# may have come after the post): a post is never re-sent blindly after them.
MAY_HAVE_POSTED_CODES = frozenset(
    {"connection_error", "fatal_error", "internal_error", "service_unavailable", "request_timeout"}
)


def may_have_posted(err: ChatAlertError) -> bool:
    """Whether Slack may have posted although the call failed with ``err``."""
    code = err.code or ""
    return code in MAY_HAVE_POSTED_CODES or code.startswith("http_5")


def channel_label(channel: str | None, *, name: str | None = None, channel_id: str | None = None) -> str:
    """``#ml-alerts (C0123)`` when both are known, else whichever is.

    :param channel: what the caller asked for (an id like ``C0123`` or a name, with or without ``#``).
    :param name: the channel's name, if learned.
    :param channel_id: the channel's id, if learned.
    """
    if channel and not looks_like_channel_id(channel):
        name = name or channel.lstrip("#")
    elif channel:
        channel_id = channel_id or channel
    if name and channel_id:
        return f"#{name} ({channel_id})"
    if name:
        return f"#{name}"
    return channel_id or "the channel"


def looks_like_channel_id(channel: str) -> bool:
    """Slack conversation ids are upper-case alphanumerics starting with C (public), G (private) or D (DM)."""
    return len(channel) >= 2 and channel[0] in "CGD" and channel.isalnum() and channel.isupper()


def retry_after_seconds(headers: Mapping[str, Any] | None) -> float | None:
    """The HTTP ``Retry-After`` header in seconds (any header case; list values from retry handlers), or
    None when it is missing or not a number. The one parser of the header in this package."""
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            value = value[0] if isinstance(value, list) else value
            try:
                return float(value)
            except (TypeError, ValueError):
                return None
    return None


def rate_limit_pause(status: int | None, headers: Mapping[str, Any] | None) -> float | None:
    """What an HTTP answer means for the pace of its method: None when it is not a 429, else the seconds
    Slack asked every caller to wait (its ``Retry-After``; 1 s when it gave none that reads)."""
    if status != RATE_LIMITED_STATUS:
        return None
    seconds = retry_after_seconds(headers)
    return 1.0 if seconds is None else seconds


def slack_error(
    code: str | None,
    *,
    conn_id: str,
    method: str,
    channel: str | None = None,
    channel_name: str | None = None,
    status: int | None = None,
    retry_after: float | None = None,
    response: Mapping[str, Any] | None = None,
    question: bool = False,
) -> ChatAlertError:
    """The exception to raise for a failed Slack call.

    :param code: Slack's ``error``; None when the body had none (then ``ratelimited`` for HTTP 429,
        ``http_<status>`` otherwise).
    :param conn_id: the Airflow connection used.
    :param method: the Slack API method (``chat.postMessage``).
    :param channel: the channel asked for, id or name.
    :param channel_name: the channel's name, if known besides an id.
    :param status: the HTTP status code.
    :param retry_after: the HTTP ``Retry-After`` in seconds, if given.
    :param response: the response body (for ``missing_scope``'s ``needed``/``provided``).
    :param question: the call read a question; a missing message then means the question was deleted.
    """
    # What a 429 means is decided here only: a transient "ratelimited", carrying Slack's Retry-After.
    rate_limited = status == RATE_LIMITED_STATUS
    code = code or ("ratelimited" if rate_limited else f"http_{status}")
    label = channel_label(channel, name=channel_name)
    kind = SLACK_ERRORS.get(code)
    if kind is None:
        transient = status is not None and (rate_limited or status >= 500)
        hint = (
            f"Slack answered HTTP {status} to {method}; retry"
            if transient
            else f"Slack refused {method}; see https://api.slack.com/methods/{method}#errors"
        )
        kind = SlackErrorKind(transient=transient, hint=hint)
    if rate_limited:
        kind = SLACK_ERRORS["ratelimited"]
    needed = (response or {}).get("needed") or "a scope"
    hint = kind.hint.format(conn=conn_id, channel=label, method=method, scope=needed)
    if code == "missing_scope" and (provided := (response or {}).get("provided")):
        hint += f" (the token has: {provided})"
    where = [f"connection {conn_id!r}", method]
    if channel and label not in hint:
        where.insert(1, f"channel {label}")
    message = f"{code}: {hint} [{', '.join(where)}]"
    if kind.transient:
        if retry_after is not None:
            message += f"; Slack asked to wait {retry_after:g}s"
        return ChatTransientError(message, retry_after=retry_after, conn_id=conn_id, channel=channel, code=code)
    if question and code in QUESTION_GONE:
        return ChatQuestionDeletedError(
            f"{code}: the question was deleted from {label} [connection {conn_id!r}, {method}]",
            conn_id=conn_id,
            channel=channel,
            code=code,
        )
    if code in CREDENTIALS_REFUSED:
        return ChatCredentialsRefusedError(message, conn_id=conn_id, channel=channel, code=code)
    return ChatPermanentError(message, conn_id=conn_id, channel=channel, code=code)
