"""The Web API methods the emulator answers, over `State`.

Each method takes a `Request` (acting user, parsed arguments) and returns the success body, or raises
`SlackError` with the code (and extra fields) Slack would answer. HTTP concerns (parsing, tokens,
rate limits, faults, journal) live in app.py.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_chat_alerts.testing.emoji_names import canonical_name
from airflow_chat_alerts.testing.interactions import OpenView
from airflow_chat_alerts.testing.ratelimit import RateLimiter
from airflow_chat_alerts.testing.state import ChannelState, Message, State, StoredFile
from airflow_chat_alerts.testing.views import view_errors, view_object
from airflow_chat_alerts.testing.workspace import User

MAX_TEXT = 40_000
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3_000
MAX_HEADER_TEXT = 150
MAX_METADATA_BYTES = 8_192


class SlackError(Exception):
    """A Slack API error: ``{"ok": false, "error": code, **extra}``."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


@dataclass
class Request:
    """One call: who is acting, with which arguments."""

    method: str
    actor: User
    args: dict[str, Any]
    state: State
    limiter: RateLimiter
    root_url: str  # "http://127.0.0.1:PORT/"
    warnings: list[str] = field(default_factory=list)

    # --- arguments ----------------------------------------------------------------------------------

    def get(self, name: str, default: Any = None) -> Any:
        value = self.args.get(name)
        return default if value is None or value == "" else value

    def required(self, name: str) -> Any:
        value = self.get(name)
        if value is None:
            raise SlackError(
                "invalid_arguments", response_metadata={"messages": [f"[ERROR] missing required field: {name}"]}
            )
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.args.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("1", "true", "yes")

    def integer(self, name: str, default: int, error: str = "invalid_arguments") -> int:
        value = self.get(name)
        if value is None:
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SlackError(error) from None

    def ts_arg(self, name: str, error: str) -> float | None:
        value = self.get(name)
        if value is None:
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise SlackError(error) from None

    # --- permissions --------------------------------------------------------------------------------

    def need(self, scope: str) -> None:
        if scope not in self.actor.scopes:
            raise SlackError("missing_scope", needed=scope, provided=",".join(sorted(self.actor.scopes)))

    def is_member(self, ch: ChannelState) -> bool:
        return self.actor.id in ch.members

    def channel(self, name: str = "channel", *, allow_name: bool = False) -> ChannelState:
        """The channel argument, if this actor can see it (private channels: members only)."""
        ref = self.get(name)
        if ref is None:
            raise SlackError("channel_not_found")
        ch = self.state.channel_by_ref(str(ref), allow_name=allow_name)
        if ch is None or (ch.is_private and not self.is_member(ch)):
            raise SlackError("channel_not_found")
        return ch

    def readable_channel(self, kind: str) -> ChannelState:
        """A channel whose ``kind`` (``history`` / ``read``) this actor may access."""
        ch = self.channel()
        scope = ch.kind if ch.kind != "channel" else "groups" if ch.is_private else "channels"  # im:, mpim: for DMs
        self.need(f"{scope}:{kind}")
        # Bots read only channels they are in; people may read any public channel.
        if kind == "history" and self.actor.is_bot and not self.is_member(ch):
            raise SlackError("not_in_channel")
        return ch

    def writable_channel(self, name: str = "channel") -> ChannelState:
        ch = self.channel(name, allow_name=True)
        if ch.is_archived:
            raise SlackError("is_archived")
        if not self.is_member(ch) and "chat:write.public" not in self.actor.scopes:
            raise SlackError("not_in_channel")
        return ch

    def message(self, ch: ChannelState, ts_name: str = "ts", error: str = "message_not_found") -> Message:
        ts = self.get(ts_name)
        if ts is None:
            raise SlackError(error)
        msg = ch.messages.get(str(ts))
        if msg is None or msg.tombstone:
            raise SlackError(error)
        return msg


# --- argument shapes ------------------------------------------------------------------------------


def parse_json_arg(value: Any, error: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise SlackError(error) from None
    return value


def parse_blocks(value: Any) -> list[dict[str, Any]] | None:
    """Validate Block Kit blocks as Slack does (limits that matter to alerts)."""
    if value is None or value == "":
        return None
    blocks = parse_json_arg(value, "invalid_blocks_format")
    if not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    errors: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        errors.append(f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]")
    for i, block in enumerate(blocks):
        where = f"/blocks/{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errors.append(f"missing required field: type [json-pointer:{where}]")
            continue
        kind = block["type"]
        text = block.get("text")
        if kind == "section":
            if text is None and not block.get("fields"):
                errors.append(f"must provide either text or fields [json-pointer:{where}]")
            if isinstance(text, dict) and len(str(text.get("text", ""))) > MAX_SECTION_TEXT:
                errors.append(f"must be less than {MAX_SECTION_TEXT + 1} characters [json-pointer:{where}/text/text]")
            for j, f in enumerate(block.get("fields") or []):
                if isinstance(f, dict) and len(str(f.get("text", ""))) > 2000:
                    errors.append(f"must be less than 2001 characters [json-pointer:{where}/fields/{j}/text]")
        elif kind == "header":
            if not isinstance(text, dict) or len(str(text.get("text", ""))) > MAX_HEADER_TEXT:
                errors.append(f"must be less than {MAX_HEADER_TEXT + 1} characters [json-pointer:{where}/text/text]")
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                errors.append(f"missing required field: elements [json-pointer:{where}]")
            elif len(elements) > 10:
                errors.append(f"no more than 10 items allowed [json-pointer:{where}/elements]")
        elif kind == "actions" and (not isinstance(block.get("elements"), list) or not block["elements"]):
            errors.append(f"missing required field: elements [json-pointer:{where}]")
    if errors:
        raise SlackError(
            "invalid_blocks", errors=errors, response_metadata={"messages": [f"[ERROR] {e}" for e in errors]}
        )
    return blocks


def parse_metadata(value: Any) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    metadata = parse_json_arg(value, "invalid_metadata_format")
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("event_type"), str)
        or not metadata["event_type"]
        or not isinstance(metadata.get("event_payload", {}), dict)
    ):
        raise SlackError("invalid_metadata_format")
    if len(json.dumps(metadata)) > MAX_METADATA_BYTES:
        raise SlackError("metadata_too_large")
    return {"event_type": metadata["event_type"], "event_payload": metadata.get("event_payload", {})}


def encode_cursor(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def decode_cursor(cursor: str, prefix: str) -> str:
    try:
        decoded = base64.b64decode(cursor.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise SlackError("invalid_cursor") from None
    if not decoded.startswith(prefix):
        raise SlackError("invalid_cursor")
    return decoded[len(prefix) :]


def page_metadata(next_cursor: str) -> dict[str, Any]:
    return {"next_cursor": next_cursor}


def app_metadata(req: Request) -> dict[str, Any] | None:
    """The ``metadata`` argument, which only an app's bot token may send: Slack answers
    ``metadata_must_be_sent_from_app`` to a user (``xoxp-``) token (chat.postMessage / chat.update errors)."""
    metadata = parse_metadata(req.get("metadata"))
    if metadata is not None and not req.actor.is_bot:
        raise SlackError("metadata_must_be_sent_from_app")
    return metadata


def thread_root(ch: ChannelState, thread_ts: str) -> str:
    """The ``thread_ts`` a reply to ``thread_ts`` is stored under: Slack threads under the root. A
    ``thread_ts`` that names no message is kept (the reply is accepted but shown nowhere)."""
    parent = ch.messages.get(thread_ts)
    if parent is None:
        return thread_ts
    return (parent.thread_ts or parent.ts) if parent.is_reply else parent.ts


def message_body(req: Request, default_text: str = "") -> tuple[str, list[dict[str, Any]] | None, bool]:
    """(text, blocks, has_content) from text / blocks / attachments."""
    blocks = parse_blocks(req.get("blocks"))
    attachments = parse_json_arg(req.get("attachments"), "invalid_attachments") if req.get("attachments") else None
    text = req.get("text", default_text)
    text = "" if text is None else str(text)
    return text, blocks, bool(text or blocks or attachments)


# --- methods --------------------------------------------------------------------------------------


def auth_test(req: Request) -> dict[str, Any]:
    ws = req.state.workspace
    body = {
        "url": f"https://{ws.domain}.slack.com/",
        "team": ws.team_name,
        "user": req.actor.name,
        "team_id": ws.team_id,
        "user_id": req.actor.id,
        "is_enterprise_install": False,
    }
    if req.actor.is_bot:
        body["bot_id"] = req.actor.bot_id
    return body


def chat_post_message(req: Request) -> dict[str, Any]:
    req.need("chat:write")
    ch = req.writable_channel()
    text, blocks, has_content = message_body(req)
    if not has_content:
        raise SlackError("no_text")
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT]
        req.warnings.append("message_truncated")
    metadata = app_metadata(req)
    thread_ts = req.get("thread_ts")
    msg = req.state.post(
        ch.id,
        req.actor,
        text=text,
        blocks=blocks,
        thread_ts=thread_root(ch, str(thread_ts)) if thread_ts is not None else None,
        metadata=metadata,
        reply_broadcast=req.flag("reply_broadcast"),
        client_msg_id=typed_message_id(req),
    )
    return {"channel": ch.id, "ts": msg.ts, "message": req.state.render(ch, msg)}


def typed_message_id(req: Request) -> str | None:
    """The ``client_msg_id`` a Slack client sends with a message a person typed. Only a person's
    (user) token posts as a client does; an app's bot posts never carry one."""
    value = req.get("client_msg_id")
    return None if value is None or req.actor.is_bot else str(value)


# The fields of the `message` chat.update answers with (Slack's chat.update responses, as the Node SDK's
# generated ChatUpdateResponse lists them): no ts, thread or reactions, unlike chat.postMessage's.
UPDATED_MESSAGE_FIELDS = ("type", "text", "user", "team", "bot_id", "app_id", "bot_profile", "blocks", "edited",
                          "files", "upload", "metadata")


def chat_update(req: Request) -> dict[str, Any]:
    req.need("chat:write")
    ch = req.channel()
    msg = req.message(ch)
    if msg.user != req.actor.id:
        raise SlackError("cant_update_message")
    blocks = parse_blocks(req.get("blocks"))
    text = req.get("text")
    # An empty metadata object removes the message's metadata (Slack then sends message_metadata_deleted).
    clear_metadata = parse_json_arg(req.args.get("metadata"), "invalid_metadata_format") == {}
    metadata = {} if clear_metadata else app_metadata(req)
    if text is None and blocks is None and req.get("attachments") is None and metadata is None:
        raise SlackError("no_text")
    if text is not None and len(str(text)) > MAX_TEXT:
        raise SlackError("msg_too_long")
    # Slack clears blocks when only text is sent (a text-only update replaces the whole message).
    if text is not None and blocks is None and req.get("blocks") is None:
        blocks = []
    req.state.update(ch.id, msg.ts, req.actor, text=text, blocks=blocks, metadata=metadata)
    rendered = req.state.render(ch, msg)
    message = {key: rendered[key] for key in UPDATED_MESSAGE_FIELDS if key in rendered}
    return {"channel": ch.id, "ts": msg.ts, "text": msg.text, "message": message}


def chat_delete(req: Request) -> dict[str, Any]:
    req.need("chat:write")
    ch = req.channel()
    msg = req.message(ch)
    if msg.user != req.actor.id and not (req.actor.is_admin and not req.actor.is_bot):
        raise SlackError("cant_delete_message")
    req.state.delete(ch.id, msg.ts)
    return {"channel": ch.id, "ts": msg.ts}


def chat_get_permalink(req: Request) -> dict[str, Any]:
    ch = req.channel()
    msg = req.message(ch, "message_ts")
    return {"channel": ch.id, "permalink": req.state.permalink(ch, msg)}


def chat_post_ephemeral(req: Request) -> dict[str, Any]:
    """A message only ``user`` sees: kept per user (`State.ephemeral`), never in the channel's history."""
    req.need("chat:write")
    ch = req.writable_channel()
    recipient = req.state.users.get(str(req.get("user", "")))
    if recipient is None or recipient.id not in ch.members:
        raise SlackError("user_not_in_channel")
    text, blocks, has_content = message_body(req)
    if not has_content:
        raise SlackError("no_text")
    if len(text) > MAX_TEXT:
        raise SlackError("msg_too_long")
    thread_ts = req.get("thread_ts")
    ts = req.state.post_ephemeral(ch.id, req.actor, recipient.id, text=text, blocks=blocks,
                                  thread_ts=str(thread_ts) if thread_ts is not None else None)
    return {"message_ts": ts}


def _limit(req: Request, default: int, maximum: int) -> int:
    limit = req.integer("limit", default)
    if limit < 1:
        limit = default
    cap = req.limiter.max_limit(req.method)
    return min(limit, maximum, cap or maximum)


def _window(req: Request) -> tuple[float, float, bool]:
    oldest = req.ts_arg("oldest", "invalid_ts_oldest")
    latest = req.ts_arg("latest", "invalid_ts_latest")
    return (oldest or 0.0, latest if latest is not None else float("inf"), req.flag("inclusive"))


def _in_window(ts: str, oldest: float, latest: float, inclusive: bool) -> bool:
    t = float(ts)
    if inclusive:
        return oldest <= t <= latest
    return oldest < t < latest


def _listed(req: Request, ch: ChannelState, msg: Message, include_metadata: bool) -> dict[str, Any]:
    """A message as history and replies list it: reaction ``users`` cut short, ``count`` complete."""
    return req.state.render(
        ch, msg, include_metadata=include_metadata, reaction_users=req.state.reaction_users_shown, viewer=req.actor.id
    )


def conversations_history(req: Request) -> dict[str, Any]:
    ch = req.readable_channel("history")
    limit = _limit(req, 100, 999)
    oldest, latest, inclusive = _window(req)
    metadata = req.flag("include_all_metadata")
    with req.state.lock:
        messages = [m for m in reversed(ch.top_level()) if _in_window(m.ts, oldest, latest, inclusive)]
        if req.get("cursor"):
            start = float(decode_cursor(str(req.get("cursor")), "next_ts:"))
            messages = [m for m in messages if float(m.ts) <= start]
        page, rest = messages[:limit], messages[limit:]
        body: dict[str, Any] = {
            "messages": [_listed(req, ch, m, metadata) for m in page],
            "has_more": bool(rest),
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
            "response_metadata": page_metadata(encode_cursor(f"next_ts:{rest[0].ts}") if rest else ""),
        }
    if req.get("latest") is not None:
        body["latest"] = str(req.get("latest"))
    return body


def conversations_replies(req: Request) -> dict[str, Any]:
    ch = req.readable_channel("history")
    limit = _limit(req, 1000, 1000)
    oldest, latest, inclusive = _window(req)
    metadata = req.flag("include_all_metadata")
    with req.state.lock:
        ts = req.get("ts")
        if ts is None:
            req.required("ts")
        root = ch.messages.get(str(ts))
        if root is None:
            raise SlackError("thread_not_found")
        if root.is_reply:
            root = ch.messages.get(root.thread_ts or "")
            if root is None:
                raise SlackError("thread_not_found")
        replies = [m for m in ch.replies(root.ts) if _in_window(m.ts, oldest, latest, inclusive)]
        cursor = req.get("cursor")
        if cursor:
            start = float(decode_cursor(str(cursor), "next_ts:"))
            thread = [m for m in replies if float(m.ts) >= start]
        else:
            thread = [root, *replies]  # the parent leads the first page
        page, rest = thread[:limit], thread[limit:]
        return {
            "messages": [_listed(req, ch, m, metadata) for m in page],
            "has_more": bool(rest),
            "response_metadata": page_metadata(encode_cursor(f"next_ts:{rest[0].ts}") if rest else ""),
        }


def conversations_info(req: Request) -> dict[str, Any]:
    ch = req.readable_channel("read")
    body = req.state.channel_object(ch, req.actor)
    if req.flag("include_num_members"):
        body["num_members"] = len(ch.members)
    return {"channel": body}


def conversations_list(req: Request) -> dict[str, Any]:
    types = [t.strip() for t in str(req.get("types", "public_channel")).split(",") if t.strip()]
    if not types or set(types) - {"public_channel", "private_channel", "mpim", "im"}:
        raise SlackError("invalid_types")
    if "public_channel" in types:
        req.need("channels:read")
    if "private_channel" in types:
        req.need("groups:read")
    limit = req.integer("limit", 100, "invalid_limit")
    if limit < 1 or limit > 1000:
        raise SlackError("invalid_limit")
    exclude_archived = req.flag("exclude_archived")
    with req.state.lock:
        chans = [
            ch
            for ch in sorted(req.state.channels.values(), key=lambda c: c.id)
            if ch.kind == "channel"  # direct messages are listed only as "im" / "mpim", which are not emulated
            and (("private_channel" in types) if ch.is_private else ("public_channel" in types))
            and (not ch.is_private or req.is_member(ch))
            and not (exclude_archived and ch.is_archived)
        ]
        if req.get("cursor"):
            start = decode_cursor(str(req.get("cursor")), "next_id:")
            chans = [ch for ch in chans if ch.id >= start]
        page, rest = chans[:limit], chans[limit:]
        return {
            "channels": [req.state.channel_object(ch, req.actor) for ch in page],
            "response_metadata": page_metadata(encode_cursor(f"next_id:{rest[0].id}") if rest else ""),
        }


def conversations_members(req: Request) -> dict[str, Any]:
    """Members a page at a time: ``limit`` (default 100, at most 1,000), ``cursor`` from the last page."""
    ch = req.readable_channel("read")
    limit = req.integer("limit", 100, "invalid_limit")
    if limit < 1 or limit > 1000:
        raise SlackError("invalid_limit")
    members = list(ch.members)
    if req.get("cursor"):
        start = decode_cursor(str(req.get("cursor")), "user_id:")
        if start not in members:
            raise SlackError("invalid_cursor")
        members = members[members.index(start):]
    page, rest = members[:limit], members[limit:]
    return {"members": page, "response_metadata": page_metadata(encode_cursor(f"user_id:{rest[0]}") if rest else "")}


def _reaction_target(req: Request) -> tuple[ChannelState, Message]:
    if req.get("channel") is None or req.get("timestamp") is None:
        if req.get("file") or req.get("file_comment"):
            raise SlackError("file_not_found")
        raise SlackError("no_item_specified")
    ch = req.channel()
    return ch, req.message(ch, "timestamp")


def _emoji(req: Request) -> str:
    """The stored name of the ``name`` argument: a Slack emoji short name or a custom emoji of the
    workspace, else ``invalid_name``."""
    name = canonical_name(str(req.get("name", "")), frozenset(req.state.workspace.emoji))
    if name is None:
        raise SlackError("invalid_name")
    return name


def reactions_add(req: Request) -> dict[str, Any]:
    req.need("reactions:write")
    name = _emoji(req)
    ch, msg = _reaction_target(req)
    if ch.is_archived:
        raise SlackError("is_archived")
    if not req.state.react(ch.id, msg.ts, req.actor.id, name):
        raise SlackError("already_reacted")
    return {}


def reactions_remove(req: Request) -> dict[str, Any]:
    req.need("reactions:write")
    name = _emoji(req)
    ch, msg = _reaction_target(req)
    if not req.state.unreact(ch.id, msg.ts, req.actor.id, name):
        raise SlackError("no_reaction")
    return {}


def reactions_get(req: Request) -> dict[str, Any]:
    req.need("reactions:read")
    ch, msg = _reaction_target(req)
    with req.state.lock:
        # Without full=true Slack may cut each reaction's users short ("If true always return the
        # complete reaction list", reactions.get reference).
        shown = None if req.flag("full") else req.state.reaction_users_shown
        message = req.state.render(ch, msg, include_metadata=False, reaction_users=shown, viewer=req.actor.id)
        message["permalink"] = req.state.permalink(ch, msg)
    return {"type": "message", "channel": ch.id, "message": message}


def users_info(req: Request) -> dict[str, Any]:
    req.need("users:read")
    ref = req.get("user")
    if ref is None:
        raise SlackError("user_not_found")
    user = req.state.users.get(str(ref))
    if user is None:
        raise SlackError("user_not_found")
    if not user.visible_to_app and req.actor.id == req.state.workspace.bot.id:
        raise SlackError("user_not_visible")
    return {"user": req.state.user_object(user)}


def _usergroup_object(req: Request, group: Any, include_users: bool) -> dict[str, Any]:
    ids = list(req.state.usergroup_members.get(group.id, []))
    body = {
        "id": group.id,
        "team_id": req.state.workspace.team_id,
        "is_usergroup": True,
        "name": group.name,
        "handle": group.handle,
        "description": "",
        "is_external": False,
        "date_delete": 1 if group.disabled else 0,
        "user_count": len(ids),
    }
    if include_users:
        body["users"] = ids
    return body


def usergroups_list(req: Request) -> dict[str, Any]:
    req.need("usergroups:read")
    include_disabled = req.flag("include_disabled")
    groups = [g for g in req.state.workspace.usergroups if include_disabled or not g.disabled]
    return {"usergroups": [_usergroup_object(req, g, req.flag("include_users")) for g in groups]}


def usergroups_users_list(req: Request) -> dict[str, Any]:
    req.need("usergroups:read")
    ref = req.get("usergroup")
    if ref is None:
        req.required("usergroup")
    group = next((g for g in req.state.workspace.usergroups if g.id == ref), None)
    if group is None or (group.disabled and not req.flag("include_disabled")):
        raise SlackError("no_such_subteam")
    return {"users": list(req.state.usergroup_members.get(group.id, []))}


def files_get_upload_url(req: Request) -> dict[str, Any]:
    req.need("files:write")
    filename = req.required("filename")
    length = req.integer("length", -1)
    if length < 0:
        req.required("length")
    if length == 0:
        raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] length must be > 0"]})
    with req.state.lock:
        file_id = req.state.new_id("F")
        req.state.files[file_id] = StoredFile(
            id=file_id,
            name=str(filename),
            title=str(filename),
            length=length,
            user=req.actor.id,
            created=int(req.state.clock.now()),
            alt_txt=req.get("alt_txt"),
        )
    return {"upload_url": f"{req.root_url}upload/v1/{file_id}", "file_id": file_id}


def file_object(req: Request, f: Any) -> dict[str, Any]:
    root = f"https://{req.state.workspace.domain}.slack.com"
    return {
        "id": f.id,
        "created": f.created,
        "timestamp": f.created,
        "name": f.name,
        "title": f.title,
        "mimetype": "text/plain" if f.name.endswith((".txt", ".log", ".csv")) else "application/octet-stream",
        "filetype": f.name.rsplit(".", 1)[-1] if "." in f.name else "binary",
        "user": f.user,
        "size": len(f.content or b""),
        "is_external": False,
        "is_public": bool(f.shared_in),
        "url_private": f"{root}/files-pri/{req.state.workspace.team_id}-{f.id}/{f.name}",
        "permalink": f"{root}/files/{f.user}/{f.id}/{f.name}",
        "channels": list(f.shared_in),
    }


def files_complete_upload(req: Request) -> dict[str, Any]:
    req.need("files:write")
    items = parse_json_arg(req.required("files"), "invalid_arguments")
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) and "id" in i for i in items):
        raise SlackError("invalid_arguments")
    channel_ref = req.get("channel_id") or (str(req.get("channels")).split(",")[0] if req.get("channels") else None)
    with req.state.lock:
        stored = []
        for item in items:
            f = req.state.files.get(str(item["id"]))
            if f is None or f.content is None or f.user != req.actor.id:
                raise SlackError("file_not_found")
            if item.get("title"):
                f.title = str(item["title"])
            stored.append(f)
        if channel_ref is not None:
            req.args["channel"] = channel_ref
            ch = req.writable_channel()
            for f in stored:
                f.shared_in.append(ch.id)
            thread_ts = req.get("thread_ts")
            parent = ch.messages.get(str(thread_ts)) if thread_ts else None
            text = str(req.get("initial_comment", ""))
            req.state.post(
                ch.id,
                req.actor,
                text=text,
                blocks=parse_blocks(req.get("blocks")),
                thread_ts=parent.ts if parent is not None else None,
                files=[file_object(req, f) for f in stored],
            )
        return {"files": [file_object(req, f) for f in stored]}


# -- direct messages and modals ------------------------------------------------------------------
MAX_MPIM_USERS = 8


def conversations_open(req: Request) -> dict[str, Any]:
    """Open (or find) a direct message with one person, or a group direct message with 2 to 8: ``users``
    (comma-separated ids), or ``channel`` to resume one. A DM needs ``im:write``, a group DM ``mpim:write``."""
    state = req.state
    if req.get("channel") is not None and req.get("users") is None:
        ch = state.channels.get(str(req.get("channel")))
        if ch is None or req.actor.id not in ch.members:
            raise SlackError("channel_not_found")
        if ch.kind == "channel":
            raise SlackError("method_not_supported_for_channel_type")
        req.need(f"{ch.kind}:write")
        return {"no_op": True, "already_open": True, "channel": state.channel_object(ch, req.actor)}
    refs = [u.strip() for u in str(req.get("users") or "").split(",") if u.strip()]
    if not refs:
        raise SlackError("users_list_not_supplied")
    req.need("im:write" if len(set(refs) - {req.actor.id}) <= 1 else "mpim:write")
    if len(set(refs) - {req.actor.id}) > MAX_MPIM_USERS:
        raise SlackError("too_many_users")
    with state.lock:
        people = []
        for ref in refs:
            user = state.users.get(ref)
            if user is None:
                raise SlackError("user_not_found")
            if user.deleted:
                raise SlackError("user_disabled")
            if not user.visible_to_app and req.actor.id == state.workspace.bot.id:
                raise SlackError("user_not_visible")
            if state.user_object(user).get("is_stranger"):
                raise SlackError("invalid_user_combination")  # another organisation sharing no channel with us
            people.append(user.id)
        ch, created = state.open_conversation(req.actor, people)
        if created and not req.flag("return_im"):
            return {"channel": {"id": ch.id}}
        body: dict[str, Any] = {"channel": state.channel_object(ch, req.actor)}
        if not created:
            body.update(no_op=True, already_open=True)
        return body


def _view_arg(req: Request) -> dict[str, Any]:
    raw = req.get("view")
    if raw is None:
        req.required("view")
    view = parse_json_arg(raw, "invalid_arguments")
    errors = view_errors(view)
    if errors == ["view_too_large"]:
        raise SlackError("view_too_large")
    if errors:
        raise SlackError("invalid_arguments", response_metadata={"messages": errors})
    return dict(view)


def views_open(req: Request) -> dict[str, Any]:
    """Open a modal for the person whose interaction issued ``trigger_id`` (good once, for 3 s)."""
    trigger_id = req.get("trigger_id") or req.get("interactivity_pointer")
    if trigger_id is None:
        req.required("trigger_id")
    view = _view_arg(req)
    state = req.state
    with state.lock:
        trigger, error = state.interactions.exchange_trigger(str(trigger_id), req.actor.app_id or "",
                                                             state.clock.now())
        if error == "invalid":  # Slack's documented answer to a trigger id it never issued
            raise SlackError("invalid_arguments", response_metadata={"messages": ["invalid `trigger_id`"]})
        if error is not None or trigger is None:
            raise SlackError(error or "invalid_arguments")  # expired_trigger_id, exchanged_trigger_id
        external_id = str(view.get("external_id") or "")
        if external_id and any(v.external_id == external_id for v in state.interactions.views.values()):
            raise SlackError("duplicate_external_id")
        opened = OpenView(state.interactions.new_view_id(), trigger.user, trigger.app_id, view,
                          state.interactions.new_hash(state.clock.now()), external_id)
        state.interactions.views[opened.id] = opened
        return {"view": view_object(opened, team_id=state.workspace.team_id, bot=req.actor)}


def views_update(req: Request) -> dict[str, Any]:
    """Replace an open modal (``view_id`` or ``external_id``); a ``hash`` that is not the current one
    answers ``hash_conflict``."""
    view = _view_arg(req)
    state = req.state
    with state.lock:
        wanted_id, wanted_external = req.get("view_id"), req.get("external_id")
        if wanted_id is None and wanted_external is None:
            req.required("view_id")
        opened = next(
            (v for v in state.interactions.views.values()
             if (v.id == wanted_id or (wanted_external and v.external_id == wanted_external))
             and v.app_id == req.actor.app_id),
            None,
        )
        if opened is None:
            raise SlackError("not_found")
        if req.get("hash") is not None and req.get("hash") != opened.hash:
            raise SlackError("hash_conflict")
        opened.view, opened.hash = view, state.interactions.new_hash(state.clock.now())
        return {"view": view_object(opened, team_id=state.workspace.team_id, bot=req.actor)}


Handler = Callable[[Request], dict[str, Any]]

METHODS: dict[str, Handler] = {
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.delete": chat_delete,
    "chat.getPermalink": chat_get_permalink,
    "chat.postEphemeral": chat_post_ephemeral,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
    "conversations.info": conversations_info,
    "conversations.list": conversations_list,
    "conversations.members": conversations_members,
    "reactions.add": reactions_add,
    "reactions.get": reactions_get,
    "reactions.remove": reactions_remove,
    "users.info": users_info,
    "usergroups.list": usergroups_list,
    "usergroups.users.list": usergroups_users_list,
    "files.getUploadURLExternal": files_get_upload_url,
    "files.completeUploadExternal": files_complete_upload,
    "conversations.open": conversations_open,
    "views.open": views_open,
    "views.update": views_update,
}
