"""The Discord emulator's mutable state: channels (threads are channels), messages, reactions,
interactions, ephemeral messages and webhooks, and how the API shows them.

Every change that Discord would dispatch over the Gateway is handed to ``observer`` as a `Dispatch`;
the Gateway decides which sessions see it (intents, shards) and strips message content for sessions
that may not read it. Every change to a message, ephemeral ones included (which Discord dispatches to
nobody), is also handed to each of ``watchers`` (the web view follows the state so). Callers hold
``lock`` around reads and changes (the REST handlers run on the emulator's loop, tests call in from
their own thread).
"""

from __future__ import annotations

import copy
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from airflow_chat_alerts.testing.clock import Clock
from airflow_chat_alerts.testing.discord.content import (
    number_components,
    parse_emoji,
    validate_components,
    validate_embeds,
)
from airflow_chat_alerts.testing.discord.errors import DiscordError, invalid_form
from airflow_chat_alerts.testing.discord.guild import (
    DISCORD_EPOCH_MS,
    PERMISSIONS,
    Guild,
    Member,
    Overwrite,
    snowflake,
)

# Message types and flags (Discord's developer documentation, "Message").
DEFAULT, REPLY, CHAT_INPUT = 0, 19, 20
EPHEMERAL, LOADING = 1 << 6, 1 << 7
GUILD_TEXT, PUBLIC_THREAD = 0, 11
MAX_CONTENT = 2000
INTERACTION_TOKEN_LIFETIME = 15 * 60.0
_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")
_EVERYONE = re.compile(r"@(everyone|here)\b")


def iso(seconds: float) -> str:
    """Discord's ISO 8601 timestamps (microseconds, +00:00)."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat(timespec="microseconds")


@dataclass
class Dispatch:
    """A Gateway event: ``name`` (``MESSAGE_CREATE``), its data, the guild it belongs to (shard
    routing), the intent a session needs to receive it (None: every session), and where the message
    content fields are (``"data"``, ``"message"`` or None) with whether they are shown regardless of
    the MESSAGE_CONTENT intent (the bot's own messages, messages mentioning it)."""

    name: str
    data: dict[str, Any]
    guild_id: str | None
    intent: int | None
    channel_id: str | None = None
    content_at: str | None = None
    content_exempt: bool = False


@dataclass
class Message:
    id: str
    channel_id: str
    author_id: str
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)
    mention_roles: list[str] = field(default_factory=list)
    mention_everyone: bool = False
    type: int = DEFAULT
    flags: int = 0
    reference: dict[str, Any] | None = None
    created: float = 0.0
    edited: float | None = None
    reactions: dict[str, list[str]] = field(default_factory=dict)  # emoji key -> user ids, in order
    webhook_id: str | None = None
    webhook_name: str | None = None
    application_id: str | None = None
    interaction_metadata: dict[str, Any] | None = None
    thread_id: str | None = None
    nonce: str | None = None
    visible_to: str | None = None  # an ephemeral message: the only person who sees it


@dataclass
class Channel:
    id: str
    name: str
    type: int = GUILD_TEXT
    topic: str | None = None
    overwrites: list[Overwrite] = field(default_factory=list)
    position: int = 0
    parent_id: str | None = None  # a thread's channel
    owner_id: str | None = None
    created: float = 0.0
    auto_archive_duration: int = 1440
    archived: bool = False
    messages: dict[str, Message] = field(default_factory=dict)  # id -> message, oldest first
    member_ids: list[str] = field(default_factory=list)  # a thread's members

    @property
    def is_thread(self) -> bool:
        return self.type == PUBLIC_THREAD


@dataclass
class Interaction:
    """A button click on its way to the app: the app acknowledges it through the callback route
    within the deadline, once (``acknowledged``), or it fails for the person (``expired``)."""

    id: str
    token: str
    user_id: str
    channel_id: str
    message_id: str
    custom_id: str
    payload: dict[str, Any]
    created: float  # real monotonic seconds
    waiter: Any = None  # an asyncio.Future[bool] on the emulator's loop, set when acknowledged
    status: str = "pending"  # pending | acknowledged | expired
    response_type: int | None = None
    original_id: str | None = None  # the message a type 4/5 response created (or the clicked one for 6/7)
    ephemeral: bool = False


@dataclass
class Webhook:
    id: str
    token: str
    channel_id: str
    name: str
    revoked: bool = False


class State:
    """Everything the emulator serves, rebuilt from the seed on reset.

    :param guild: the seed.
    :param clock: the emulator's clock (message timestamps and snowflakes).
    :param webhooks: the channel webhooks (kept across resets, so their URLs stay valid).
    """

    def __init__(self, guild: Guild, clock: Clock, webhooks: dict[str, Webhook]) -> None:
        self.guild = guild
        self.clock = clock
        self.lock = threading.RLock()
        self.observer: Callable[[Dispatch], None] = lambda dispatch: None
        # Called under the lock after each change to a message: (change, message), change being
        # "created", "edited", "deleted", "reacted" or "thread" (a thread was started on it).
        self.watchers: list[Callable[[str, Message], None]] = []
        self.message_content_intent = guild.message_content_intent
        self.members: dict[str, Member] = {m.id: copy.deepcopy(m) for m in guild.members.values()}
        self.tokens: dict[str, Member] = {m.token: m for m in self.members.values()}
        self.revoked: set[str] = set()
        self.channels: dict[str, Channel] = {
            c.id: Channel(c.id, c.name, GUILD_TEXT, c.topic, list(c.overwrites), c.position)
            for c in guild.channels.values()
        }
        self.webhooks = webhooks
        self.interactions: dict[str, Interaction] = {}
        self.ephemeral: dict[str, Message] = {}  # id -> message shown to one person only (flags 64)
        self._last_id = 0

    # --- ids and time ---------------------------------------------------------------------------

    def new_id(self) -> str:
        """A snowflake of the clock's now, strictly increasing."""
        candidate = int(snowflake(int(self.clock.now() * 1000), 0))
        self._last_id = max(candidate, self._last_id + 1)
        return str(self._last_id)

    def created_at(self, snowflake_id: str) -> float:
        return ((int(snowflake_id) >> 22) + DISCORD_EPOCH_MS) / 1000.0

    # --- access ---------------------------------------------------------------------------------

    @property
    def bot(self) -> Member:
        return self.members[self.guild.bot.id]

    def member(self, user_id: str) -> Member | None:
        return self.members.get(user_id)

    def channel(self, channel_id: str) -> Channel:
        """The channel or thread (10003 Unknown Channel)."""
        ch = self.channels.get(channel_id)
        if ch is None:
            raise DiscordError(10003)
        return ch

    def permissions(self, member: Member, ch: Channel) -> int:
        base = self.channels[ch.parent_id] if ch.parent_id else ch
        return self.guild.permissions(member, base.overwrites)

    def require(self, member: Member, ch: Channel, *names: str) -> None:
        """50001 Missing Access without VIEW_CHANNEL; 50013 Missing Permissions without the others."""
        bits = self.permissions(member, ch)
        if not bits & PERMISSIONS["VIEW_CHANNEL"]:
            raise DiscordError(50001)
        for name in names:
            if not bits & PERMISSIONS[name]:
                raise DiscordError(50013)

    def message(self, ch: Channel, message_id: str) -> Message:
        msg = ch.messages.get(message_id)
        if msg is None:
            raise DiscordError(10008)
        return msg

    def can_view(self, member: Member, ch: Channel) -> bool:
        return bool(self.permissions(member, ch) & PERMISSIONS["VIEW_CHANNEL"])

    # --- rendering ------------------------------------------------------------------------------

    def render_user(self, member: Member) -> dict[str, Any]:
        user: dict[str, Any] = {
            "id": member.id,
            "username": member.name,
            "avatar": None,
            "discriminator": "0",
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "global_name": member.global_name,
            "avatar_decoration_data": None,
            "collectibles": None,
            "primary_guild": None,
        }
        if member.bot:
            user["bot"] = True
        return user

    def render_member(self, member: Member, *, with_user: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "avatar": None,
            "banner": None,
            "communication_disabled_until": None,
            "flags": 0,
            "joined_at": iso(self.created_at(self.guild.id)),
            "nick": None,
            "pending": False,
            "premium_since": None,
            "roles": list(member.roles),
            "mute": False,
            "deaf": False,
        }
        if with_user:
            out["user"] = self.render_user(member)
        return out

    def render_role(self, role_id: str) -> dict[str, Any]:
        role = self.guild.roles[role_id]
        out: dict[str, Any] = {
            "id": role.id,
            "name": role.name,
            "description": None,
            "permissions": str(role.permissions),
            "position": role.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": role.managed,
            "mentionable": role.mentionable,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        if role.bot_id:
            out["tags"] = {"bot_id": role.bot_id}
        return out

    def render_channel(self, ch: Channel) -> dict[str, Any]:
        last = next(reversed(ch.messages), None) if ch.messages else None
        out: dict[str, Any] = {
            "id": ch.id,
            "type": ch.type,
            "last_message_id": last,
            "flags": 0,
            "guild_id": self.guild.id,
            "name": ch.name,
            "rate_limit_per_user": 0,
        }
        if ch.is_thread:
            out.update({
                "parent_id": ch.parent_id,
                "owner_id": ch.owner_id,
                "thread_metadata": {
                    "archived": ch.archived,
                    "archive_timestamp": iso(ch.created),
                    "auto_archive_duration": ch.auto_archive_duration,
                    "locked": False,
                    "create_timestamp": iso(ch.created),
                },
                "message_count": len(ch.messages),
                "member_count": len(ch.member_ids),
                "total_message_sent": len(ch.messages),
                "member_ids_preview": list(ch.member_ids[:8]),
            })
        else:
            out.update({
                "parent_id": None,
                "position": ch.position,
                "permission_overwrites": [
                    {"id": o.id, "type": o.kind, "allow": str(o.allow), "deny": str(o.deny)} for o in ch.overwrites
                ],
                "nsfw": False,
                "topic": ch.topic,
                "last_pin_timestamp": None,
            })
        return out

    def content_visible(self, msg: Message, viewer: Member | None) -> bool:
        """Whether the app may read the message's content through REST: the MESSAGE_CONTENT intent is
        enabled for it, or the message is the bot's own or mentions it. People always see it."""
        if viewer is None or not viewer.bot or viewer.id != self.bot.id:
            return True
        return self.message_content_intent or content_exempt(msg, self.bot.id)

    def render(self, msg: Message, viewer: Member | None = None, *, reference: bool = True) -> dict[str, Any]:
        """The message as the API shows it to ``viewer`` (None: with everything)."""
        author = self.members.get(msg.author_id)
        if msg.webhook_id and author is None:
            author_obj: dict[str, Any] = {"id": msg.webhook_id, "username": msg.webhook_name or "webhook",
                                          "avatar": None, "discriminator": "0000", "public_flags": 0, "flags": 0,
                                          "bot": True, "global_name": None, "primary_guild": None}
        else:
            assert author is not None
            author_obj = self.render_user(author)
        out: dict[str, Any] = {
            "type": msg.type,
            "content": msg.content,
            "mentions": [self.render_user(self.members[u]) for u in msg.mentions if u in self.members],
            "mention_roles": list(msg.mention_roles),
            "attachments": copy.deepcopy(msg.attachments),
            "embeds": copy.deepcopy(msg.embeds),
            "timestamp": iso(msg.created),
            "edited_timestamp": iso(msg.edited) if msg.edited is not None else None,
            "flags": msg.flags,
            "components": copy.deepcopy(msg.components),
            "id": msg.id,
            "channel_id": msg.channel_id,
            "author": author_obj,
            "pinned": False,
            "mention_everyone": msg.mention_everyone,
            "tts": False,
        }
        if not self.content_visible(msg, viewer):
            strip_content(out)
        if msg.reactions:
            out["reactions"] = [self.render_reaction(key, users, viewer) for key, users in msg.reactions.items()]
        if msg.webhook_id:
            out["webhook_id"] = msg.webhook_id
        if msg.application_id:
            out["application_id"] = msg.application_id
        if msg.interaction_metadata:
            out["interaction_metadata"] = copy.deepcopy(msg.interaction_metadata)
        if msg.nonce is not None:
            out["nonce"] = msg.nonce
        ch = self.channels.get(msg.channel_id)
        if ch is not None and ch.is_thread:
            out["position"] = list(ch.messages).index(msg.id) if msg.id in ch.messages else 0
        if msg.thread_id and msg.thread_id in self.channels:
            out["thread"] = self.render_channel(self.channels[msg.thread_id])
        if msg.reference is not None:
            out["message_reference"] = dict(msg.reference)
            if reference:
                parent = self._referenced(msg.reference)
                out["referenced_message"] = self.render(parent, viewer, reference=False) if parent else None
        return out

    def _referenced(self, ref: dict[str, Any]) -> Message | None:
        ch = self.channels.get(str(ref.get("channel_id")))
        return ch.messages.get(str(ref.get("message_id"))) if ch else None

    def render_reaction(self, key: str, users: list[str], viewer: Member | None) -> dict[str, Any]:
        emoji_id, name = key.split(":", 1) if ":" in key and key.split(":", 1)[0].isdigit() else (None, key)
        return {
            "emoji": {"id": emoji_id, "name": name},
            "count": len(users),
            "count_details": {"burst": 0, "normal": len(users)},
            "burst_colors": [],
            "me_burst": False,
            "burst_me": False,
            "burst_count": 0,
            "me": viewer is not None and viewer.id in users,
        }

    # --- messages -------------------------------------------------------------------------------

    def create_message(self, ch: Channel, author: Member | None, body: dict[str, Any], *,
                       attachments: list[dict[str, Any]] | None = None, webhook: Webhook | None = None,
                       application_id: str | None = None, interaction_metadata: dict[str, Any] | None = None,
                       flags: int = 0, notify: bool = True, visible_to: str | None = None) -> Message:
        """Validate ``body`` (Discord's create-message JSON) and store the message."""
        content = body.get("content")
        content = "" if content is None else str(content)
        if len(content) > MAX_CONTENT:
            raise invalid_form("content", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length.")
        embeds = validate_embeds(body.get("embeds"))
        components = number_components(validate_components(body.get("components")))
        attachments = list(attachments or [])
        empty = not content and not embeds and not components and not attachments and not body.get("sticker_ids")
        if empty and not flags & LOADING:
            raise DiscordError(50006)
        reference = None
        mtype = DEFAULT
        ref = body.get("message_reference")
        replied: Message | None = None
        if ref:
            ref_channel = str(ref.get("channel_id") or ch.id)
            ref_ch = self.channels.get(ref_channel)
            replied = ref_ch.messages.get(str(ref.get("message_id"))) if ref_ch else None
            if replied is None:
                if ref.get("fail_if_not_exists", True):
                    raise invalid_form("message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
            else:
                reference = {"type": 0, "channel_id": ref_channel, "message_id": replied.id, "guild_id": self.guild.id}
                mtype = REPLY
        mentions, roles, everyone = self.mentions(content, body.get("allowed_mentions"), replied, author)
        # SUPPRESS_EMBEDS and SUPPRESS_NOTIFICATIONS from the caller; EPHEMERAL only where allowed (``flags``)
        msg_flags = flags | (int(body.get("flags") or 0) & (1 << 2 | 1 << 12))
        msg = Message(
            id=self.new_id(), channel_id=ch.id, author_id=author.id if author else "", content=content,
            embeds=embeds, components=components, attachments=attachments, mentions=mentions,
            mention_roles=roles, mention_everyone=everyone, type=mtype, flags=msg_flags, reference=reference,
            created=self.clock.now(), webhook_id=webhook.id if webhook else None,
            webhook_name=webhook.name if webhook else None, application_id=application_id,
            interaction_metadata=interaction_metadata,
            nonce=str(body["nonce"]) if body.get("nonce") is not None else None,
        )
        msg.created = self.created_at(msg.id)
        if msg.flags & EPHEMERAL:
            msg.visible_to = visible_to
            self.ephemeral[msg.id] = msg
            self._changed("created", msg)
            return msg
        ch.messages[msg.id] = msg
        if ch.is_thread and author is not None and author.id not in ch.member_ids:
            ch.member_ids.append(author.id)
        if notify:
            self.emit_message("MESSAGE_CREATE", msg)
        self._changed("created", msg)
        return msg

    def mentions(self, content: str, allowed: Any, replied: Message | None,
                 author: Member | None) -> tuple[list[str], list[str], bool]:
        """The users, roles and @everyone a message mentions, as ``allowed_mentions`` lets it."""
        users = [u for u in dict.fromkeys(_USER_MENTION.findall(content)) if u in self.members]
        roles = [r for r in dict.fromkeys(_ROLE_MENTION.findall(content)) if r in self.guild.roles]
        everyone = bool(_EVERYONE.search(content))
        replied_user = True
        if allowed is not None:
            if not isinstance(allowed, dict):
                raise invalid_form("allowed_mentions", "MODEL_TYPE_CONVERT",
                                   "Only dictionaries may be used in a ModelType")
            parse = allowed.get("parse") or []
            if "users" in parse and allowed.get("users"):
                raise invalid_form("allowed_mentions", "ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                                   "parse:[\"users\"] and users: [ids...] are mutually exclusive.")
            if "roles" in parse and allowed.get("roles"):
                raise invalid_form("allowed_mentions", "ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                                   "parse:[\"roles\"] and roles: [ids...] are mutually exclusive.")
            allowed_users = {str(u) for u in allowed.get("users") or []}
            allowed_roles = {str(r) for r in allowed.get("roles") or []}
            users = [u for u in users if "users" in parse or u in allowed_users]
            roles = [r for r in roles if "roles" in parse or r in allowed_roles]
            everyone = everyone and "everyone" in parse
            replied_user = bool(allowed.get("replied_user", False))
        pinged = replied is not None and replied_user and replied.author_id in self.members
        if replied is not None and pinged and replied.author_id not in users:
            users.append(replied.author_id)
        return users, roles, everyone

    def edit_message(self, ch: Channel, msg: Message, body: dict[str, Any], *,
                     attachments: list[dict[str, Any]] | None = None) -> Message:
        if "content" in body:
            content = "" if body["content"] is None else str(body["content"])
            if len(content) > MAX_CONTENT:
                raise invalid_form("content", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length.")
            msg.content = content
            msg.mentions, msg.mention_roles, msg.mention_everyone = self.mentions(
                content, body.get("allowed_mentions"), None, self.members.get(msg.author_id))
        if "embeds" in body:
            msg.embeds = validate_embeds(body["embeds"])
        if "components" in body:
            msg.components = number_components(validate_components(body["components"]))
        if "attachments" in body and body["attachments"] is not None:
            keep = {str(a.get("id")) for a in body["attachments"] if isinstance(a, dict)}
            msg.attachments = [a for a in msg.attachments if a["id"] in keep]
        if attachments:
            msg.attachments.extend(attachments)
        if "flags" in body and body["flags"] is not None:
            msg.flags = (msg.flags & ~(1 << 2)) | (int(body["flags"]) & (1 << 2))
        if not msg.content and not msg.embeds and not msg.components and not msg.attachments:
            raise DiscordError(50006)
        msg.flags &= ~LOADING
        msg.edited = self.clock.now()
        self.emit_message("MESSAGE_UPDATE", msg)
        self._changed("edited", msg)
        return msg

    def delete_message(self, ch: Channel, msg: Message) -> None:
        del ch.messages[msg.id]
        self.observer(Dispatch("MESSAGE_DELETE", {"id": msg.id, "channel_id": ch.id, "guild_id": self.guild.id},
                               self.guild.id, GUILD_MESSAGES_INTENT, ch.id))
        self._changed("deleted", msg)

    def delete_ephemeral(self, msg: Message) -> None:
        """Forget an ephemeral message (its interaction's token deleted it); Discord dispatches nothing."""
        if self.ephemeral.pop(msg.id, None) is not None:
            self._changed("deleted", msg)

    def _changed(self, change: str, msg: Message) -> None:
        for watcher in self.watchers:
            watcher(change, msg)

    def emit_message(self, name: str, msg: Message) -> None:
        if msg.flags & EPHEMERAL:
            return
        data = self.render(msg)
        data["guild_id"] = self.guild.id
        author = self.members.get(msg.author_id)
        if author is not None:
            data["member"] = self.render_member(author, with_user=False)
        data["mentions"] = [
            {**self.render_user(self.members[u]), "member": self.render_member(self.members[u], with_user=False)}
            for u in msg.mentions if u in self.members
        ]
        self.observer(Dispatch(name, data, self.guild.id, GUILD_MESSAGES_INTENT, msg.channel_id, "data",
                               content_exempt(msg, self.bot.id)))

    # --- reactions ------------------------------------------------------------------------------

    def add_reaction(self, ch: Channel, msg: Message, member: Member, raw_emoji: str) -> None:
        emoji_id, name = parse_emoji(raw_emoji)
        key = f"{emoji_id}:{name}" if emoji_id else name
        users = msg.reactions.setdefault(key, [])
        if member.id in users:
            return  # Discord answers 204 again
        users.append(member.id)
        data = self._reaction_event(ch, msg, member, emoji_id, name)
        data["member"] = self.render_member(member)
        data["message_author_id"] = msg.author_id
        data["burst"] = False
        data["type"] = 0
        self.observer(Dispatch("MESSAGE_REACTION_ADD", data, self.guild.id, GUILD_MESSAGE_REACTIONS_INTENT, ch.id))
        self._changed("reacted", msg)

    def remove_reaction(self, ch: Channel, msg: Message, member: Member, raw_emoji: str) -> None:
        emoji_id, name = parse_emoji(raw_emoji)
        key = f"{emoji_id}:{name}" if emoji_id else name
        users = msg.reactions.get(key, [])
        if member.id not in users:
            return
        users.remove(member.id)
        if not users:
            del msg.reactions[key]
        data = self._reaction_event(ch, msg, member, emoji_id, name)
        data["burst"] = False
        data["type"] = 0
        self.observer(Dispatch("MESSAGE_REACTION_REMOVE", data, self.guild.id, GUILD_MESSAGE_REACTIONS_INTENT,
                               ch.id))
        self._changed("reacted", msg)

    def _reaction_event(self, ch: Channel, msg: Message, member: Member, emoji_id: str | None,
                        name: str) -> dict[str, Any]:
        return {"user_id": member.id, "channel_id": ch.id, "message_id": msg.id, "guild_id": self.guild.id,
                "emoji": {"id": emoji_id, "name": name}}

    def reaction_users(self, msg: Message, raw_emoji: str) -> list[Member]:
        emoji_id, name = parse_emoji(raw_emoji)
        key = f"{emoji_id}:{name}" if emoji_id else name
        return [self.members[u] for u in msg.reactions.get(key, []) if u in self.members]

    # --- threads --------------------------------------------------------------------------------

    def start_thread(self, ch: Channel, msg: Message, member: Member, body: dict[str, Any]) -> Channel:
        if ch.is_thread:
            raise invalid_form("channel_id", "THREAD_NESTED", "Cannot start a thread inside a thread")
        if msg.thread_id:
            raise DiscordError(160004)
        name = str(body.get("name") or "").strip()
        if not 1 <= len(name) <= 100:
            raise invalid_form("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        duration = int(body.get("auto_archive_duration") or 4320)
        if duration not in (60, 1440, 4320, 10080):
            raise invalid_form("auto_archive_duration", "BASE_TYPE_CHOICES",
                               "Value must be one of {60, 1440, 4320, 10080}.")
        # A thread started from a message has the message's id, as in Discord.
        thread = Channel(msg.id, name, PUBLIC_THREAD, parent_id=ch.id, owner_id=member.id,
                         created=self.clock.now(), auto_archive_duration=duration, member_ids=[member.id])
        self.channels[thread.id] = thread
        msg.thread_id = thread.id
        data = self.render_channel(thread)
        data["newly_created"] = True
        self.observer(Dispatch("THREAD_CREATE", data, self.guild.id, GUILDS_INTENT, thread.id))
        self.emit_message("MESSAGE_UPDATE", msg)
        self._changed("thread", msg)
        return thread

    # --- webhooks and interactions --------------------------------------------------------------

    def webhook(self, webhook_id: str, token: str) -> Webhook:
        hook = self.webhooks.get(webhook_id)
        if hook is None:
            raise DiscordError(10015)
        if hook.revoked or not secrets.compare_digest(hook.token, token):
            raise DiscordError(50027)
        return hook

    def interaction(self, interaction_id: str, token: str) -> Interaction:
        found = self.interactions.get(interaction_id)
        if found is None or not secrets.compare_digest(found.token, token):
            raise DiscordError(10062)
        return found

    def interaction_by_token(self, application_id: str, token: str, now: float) -> Interaction:
        """The interaction a follow-up token names, while the token lives (15 minutes)."""
        if application_id != self.guild.application_id:
            raise DiscordError(10015)
        for found in self.interactions.values():
            if secrets.compare_digest(found.token, token):
                if found.status != "acknowledged" or now - found.created > INTERACTION_TOKEN_LIFETIME:
                    raise DiscordError(50027)
                return found
        raise DiscordError(50027)


GUILDS_INTENT = 1 << 0
GUILD_MESSAGES_INTENT = 1 << 9
GUILD_MESSAGE_REACTIONS_INTENT = 1 << 10

CONTENT_FIELDS = ("content", "embeds", "attachments", "components", "poll")


def strip_content(message: dict[str, Any]) -> None:
    """What an app without the MESSAGE_CONTENT intent sees of a message: no content, embeds,
    attachments, components or poll."""
    message["content"] = ""
    message["embeds"] = []
    message["attachments"] = []
    message["components"] = []
    message.pop("poll", None)


def content_exempt(msg: Message, bot_id: str) -> bool:
    """The bot's own messages and messages mentioning it keep their content for the app."""
    return msg.author_id == bot_id or bot_id in msg.mentions
