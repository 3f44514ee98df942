"""The live state of an emulated workspace: channels, messages, threads, reactions, files, tokens.

Built from a `Workspace` seed. Every change goes through one re-entrant lock, because the HTTP
handlers (emulator thread) and test helpers (test thread) both touch it. Messages are rendered to the
JSON shapes Slack returns here too, so every method shows a message the same way.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import random
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_chat_alerts.testing.clock import Clock
from airflow_chat_alerts.testing.emoji_names import canonical_name
from airflow_chat_alerts.testing.interactions import Interactions
from airflow_chat_alerts.testing.response_urls import ResponseUrls
from airflow_chat_alerts.testing.workspace import SeedMessage, User, Workspace

# How many users a reaction lists outside `reactions.get(full=true)`. Slack documents that the list
# "might not always contain all users that have reacted" while `count` is always complete
# (reactions.list reference), without saying where it cuts: 50 is the emulator's own choice.
REACTION_USERS_SHOWN = 50
# Slack gives a block posted without a block_id a short random one (and an interactive element without an
# action_id one too), e.g. "Xy3+b"; the characters seen in them.
_GENERATED_ID_CHARS = string.ascii_letters + string.digits + "+/="
_INTERACTIVE_ELEMENTS = frozenset(
    {"button", "static_select", "external_select", "users_select", "conversations_select", "channels_select",
     "overflow", "datepicker", "timepicker", "datetimepicker", "checkboxes", "radio_buttons", "plain_text_input",
     "multi_static_select", "multi_external_select", "multi_users_select", "multi_conversations_select",
     "multi_channels_select", "email_text_input", "url_text_input", "number_input", "rich_text_input"}
)


def canonical_emoji(name: str) -> str:
    """The name Slack stores a reaction under (``thumbsup`` -> ``+1``); a name that is no emoji is
    kept as given (seeds are not checked: reactions.add refuses such names)."""
    return canonical_name(name) or name.strip().strip(":")


@dataclass
class Message:
    """A message as stored (user ids, not names)."""

    ts: str
    user: str | None
    text: str
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    subtype: str | None = None
    bot_id: str | None = None
    app_id: str | None = None
    metadata: dict[str, Any] | None = None
    reactions: dict[str, list[str]] = field(default_factory=dict)
    edited: dict[str, str] | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    reply_broadcast: bool = False
    tombstone: bool = False
    client_msg_id: str | None = None  # set by the Slack client a person typed the message in

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts


@dataclass
class ChannelState:
    id: str
    name: str
    is_private: bool
    is_archived: bool
    members: list[str]  # user ids
    topic: str
    purpose: str
    created: int
    external_teams: tuple[str, ...] = ()  # other organisations it is shared with (Slack Connect)
    messages: dict[str, Message] = field(default_factory=dict)  # ts order (ts only increase)
    threads: dict[str, list[str]] = field(default_factory=dict)  # parent ts -> reply ts, in order
    kind: str = "channel"  # "channel", or "im" / "mpim": a direct message with one / several people

    def top_level(self) -> list[Message]:
        """Messages shown in the channel: non-replies and broadcast replies, oldest first."""
        return [m for m in self.messages.values() if not m.is_reply or m.reply_broadcast]

    def replies(self, parent_ts: str) -> list[Message]:
        return [self.messages[ts] for ts in self.threads.get(parent_ts, ())]

    @property
    def is_ext_shared(self) -> bool:
        return bool(self.external_teams)


@dataclass
class StoredFile:
    id: str
    name: str
    title: str
    length: int
    user: str
    created: int
    content: bytes | None = None
    alt_txt: str | None = None
    shared_in: list[str] = field(default_factory=list)


@dataclass
class Webhook:
    id: str  # B…
    secret: str
    channel: str  # channel id
    revoked: bool = False


class State:
    """Live state of one workspace.

    :param workspace: the seed.
    :param clock: source of message timestamps.
    """

    def __init__(self, workspace: Workspace, clock: Clock) -> None:
        self.workspace = workspace
        self.clock = clock
        self.lock = threading.RLock()
        self.users: dict[str, User] = {u.id: u for u in workspace.users}
        self.tokens: dict[str, User] = {u.token: u for u in workspace.users}
        self.revoked: set[str] = set()
        self.channels: dict[str, ChannelState] = {}
        self.files: dict[str, StoredFile] = {}
        self.webhooks: dict[str, Webhook] = {}
        self.reaction_users_shown = REACTION_USERS_SHOWN
        # Live user-group membership (user ids): tests change it while an ask waits.
        self.usergroup_members: dict[str, list[str]] = {
            g.id: [workspace.user(u).id for u in g.users] for g in workspace.usergroups
        }
        self.ephemeral: dict[str, list[dict[str, Any]]] = {}  # user id -> messages only they saw
        self.response_urls = ResponseUrls()
        self.interactions = Interactions()  # trigger ids, open modals, menu selections
        # Called under the lock after each change to a message (events.py turns them into events).
        self.observers: list[Callable[..., None]] = []
        self._last_ts = 0.0
        self._ids = itertools.count(1)
        self._generated_ids = random.Random()
        created = int(clock.now()) - 86400
        for ch in workspace.channels:
            self.channels[ch.id] = ChannelState(
                id=ch.id,
                name=ch.name,
                is_private=ch.is_private,
                is_archived=ch.is_archived,
                members=[workspace.user(m).id for m in ch.members],
                topic=ch.topic,
                purpose=ch.purpose,
                created=created,
                external_teams=workspace.external_teams(ch),
            )
        for ch in workspace.channels:
            # Every channel has an incoming webhook with a stable URL (survives `reset()`).
            hook_id = "B0WH" + ch.id[1:]
            secret = hashlib.sha256(f"{workspace.team_id}/{ch.id}".encode()).hexdigest()[:24]
            self.webhooks[hook_id] = Webhook(id=hook_id, secret=secret, channel=ch.id)
            for seed in ch.messages:
                self._seed(ch.id, seed, None)

    def _seed(self, channel: str, seed: SeedMessage, thread_ts: str | None) -> None:
        user = self.user(seed.user)
        msg = self.post(
            channel,
            user,
            text=seed.text,
            blocks=copy.deepcopy(list(seed.blocks)) if seed.blocks else None,
            thread_ts=thread_ts,
            metadata=copy.deepcopy(seed.metadata),
        )
        for name, users in seed.reactions.items():
            for u in users:
                self.react(channel, msg.ts, self.user(u).id, name)
        for reply in seed.replies:
            self._seed(channel, reply, msg.ts)

    # --- look-ups -----------------------------------------------------------------------------------

    def user(self, name_or_id: str) -> User:
        return self.workspace.user(name_or_id)

    def channel_by_ref(self, ref: str, *, allow_name: bool = False) -> ChannelState | None:
        """Find a channel by id (and by ``name``/``#name`` where Slack accepts names)."""
        if ref in self.channels:
            return self.channels[ref]
        if allow_name:
            name = ref.lstrip("#")
            for ch in self.channels.values():
                if ch.name == name:
                    return ch
        return None

    def new_id(self, prefix: str) -> str:
        return f"{prefix}0{next(self._ids):08d}"

    def with_block_ids(self, blocks: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        """The blocks as Slack stores them: a block without a ``block_id`` gets a random one, and an
        interactive element without an ``action_id`` too; given ids are kept."""
        if not blocks:
            return blocks
        stored = copy.deepcopy(blocks)
        for block in stored:
            if isinstance(block, dict):
                block.setdefault("block_id", self._generated_id())
                elements = [block.get("accessory"), *(block.get("elements") or [])]
                for element in elements:
                    if isinstance(element, dict) and element.get("type") in _INTERACTIVE_ELEMENTS:
                        element.setdefault("action_id", self._generated_id())
        return stored

    def _generated_id(self) -> str:
        with self.lock:
            return "".join(self._generated_ids.choices(_GENERATED_ID_CHARS, k=5))

    def new_ts(self) -> str:
        """A message timestamp: the clock's time, strictly increasing (unique per channel)."""
        with self.lock:
            now = round(self.clock.now(), 6)
            self._last_ts = max(now, round(self._last_ts + 0.000001, 6))
            return f"{self._last_ts:.6f}"

    # --- changes ------------------------------------------------------------------------------------

    def post(
        self,
        channel: str,
        user: User | None,
        *,
        text: str = "",
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
        reply_broadcast: bool = False,
        files: list[dict[str, Any]] | None = None,
        webhook_app: User | None = None,
        client_msg_id: str | None = None,
    ) -> Message:
        """Store a new message. ``webhook_app``: posted through that app's incoming webhook;
        ``client_msg_id``: typed by a person in a Slack client."""
        with self.lock:
            ch = self.channels[channel]
            msg = Message(
                ts=self.new_ts(),
                user=user.id if user else None,
                text=text,
                blocks=self.with_block_ids(blocks),
                client_msg_id=client_msg_id,
                thread_ts=thread_ts,
                metadata=metadata,
                files=files or [],
                reply_broadcast=bool(reply_broadcast and thread_ts),
            )
            bot = webhook_app or (user if user and user.is_bot else None)
            if bot is not None:
                msg.bot_id, msg.app_id = bot.bot_id, bot.app_id
            if webhook_app is not None:
                msg.subtype = "bot_message"
            elif msg.reply_broadcast:
                msg.subtype = "thread_broadcast"
            ch.messages[msg.ts] = msg
            if msg.is_reply:
                ch.threads.setdefault(msg.thread_ts or "", []).append(msg.ts)
            self._notify("posted", ch, msg)
            return msg

    def update(
        self,
        channel: str,
        ts: str,
        editor: User,
        *,
        text: str | None,
        blocks: list[dict[str, Any]] | None,
        metadata: dict[str, Any] | None,
    ) -> Message:
        """Change a message; ``blocks=[]`` removes its blocks and ``metadata={}`` its metadata (None:
        unchanged)."""
        with self.lock:
            msg = self.channels[channel].messages[ts]
            previous = self.render(self.channels[channel], msg) if self.observers else None
            if text is not None:
                msg.text = text
            if blocks is not None:
                msg.blocks = self.with_block_ids(blocks) or None
            if metadata is not None:
                msg.metadata = metadata or None
            msg.edited = {"user": editor.id, "ts": self.new_ts()}
            self._notify("changed", self.channels[channel], msg, previous=previous)
            return msg

    def delete(self, channel: str, ts: str) -> bool:
        """Delete a message; a thread parent with replies stays as a tombstone, as in Slack."""
        with self.lock:
            ch = self.channels[channel]
            msg = ch.messages.get(ts)
            if msg is None or msg.tombstone:
                return False
            previous = self.render(ch, msg) if self.observers else None
            if not msg.is_reply and ch.replies(ts):
                msg.tombstone = True
                msg.subtype = "tombstone"
                msg.text = "This message was deleted."
                msg.user, msg.blocks, msg.files, msg.metadata = "USLACKBOT", None, [], None
                msg.client_msg_id = None
                msg.bot_id = msg.app_id = None
                msg.reactions.clear()
                msg.edited = None
                self._notify("changed", ch, msg, previous=previous)
            else:
                del ch.messages[ts]
                if msg.is_reply:
                    ch.threads[msg.thread_ts or ""].remove(ts)
                    parent = ch.messages.get(msg.thread_ts or "")
                    if parent is not None and parent.tombstone and not ch.replies(parent.ts):
                        del ch.messages[parent.ts]
                self._notify("deleted", ch, msg, previous=previous)
            return True

    def react(self, channel: str, ts: str, user_id: str, name: str) -> bool:
        """Add a reaction; False if this user already reacted with it."""
        with self.lock:
            users = self.channels[channel].messages[ts].reactions.setdefault(canonical_emoji(name), [])
            if user_id in users:
                return False
            users.append(user_id)
            self._notify("reaction_added", self.channels[channel], self.channels[channel].messages[ts],
                         user=user_id, reaction=canonical_emoji(name))
            return True

    def unreact(self, channel: str, ts: str, user_id: str, name: str) -> bool:
        with self.lock:
            reactions = self.channels[channel].messages[ts].reactions
            name = canonical_emoji(name)
            if user_id not in reactions.get(name, []):
                return False
            reactions[name].remove(user_id)
            if not reactions[name]:
                del reactions[name]
            self._notify("reaction_removed", self.channels[channel], self.channels[channel].messages[ts],
                         user=user_id, reaction=name)
            return True

    def archive(self, channel: str, user: User) -> Message:
        """Archive a channel as ``user`` does in Slack: a ``channel_archive`` message is posted into it
        first (Slack's message subtype reference: text ``<U…|@name> archived the channel``)."""
        with self.lock:
            msg = self.post(channel, user, text=f"<{user.id}|@{user.name}> archived the channel")
            msg.subtype = "channel_archive"
            msg.bot_id = msg.app_id = None
            self.channels[channel].is_archived = True
            return msg

    def rotate_token(self, user: User) -> str:
        """Revoke ``user``'s current token and issue a new one for the same user (and bot)."""
        with self.lock:
            old = self.token_of(user)
            self.revoked.add(old)
            del self.tokens[old]
            base = user.token.split("-rotated-")[0]
            new = f"{base}-rotated-{next(self._ids)}"
            self.tokens[new] = user
            return new

    def post_ephemeral(
        self,
        channel: str,
        poster: User,
        recipient: str,
        *,
        text: str,
        blocks: list[dict[str, Any]] | None,
        thread_ts: str | None,
    ) -> str:
        """Show a message to ``recipient`` (user id) only: kept apart, never in the channel's history."""
        with self.lock:
            ts = self.new_ts()
            message: dict[str, Any] = {"type": "message", "channel": channel, "user": poster.id, "text": text,
                                       "ts": ts}
            if blocks:
                message["blocks"] = self.with_block_ids(blocks)
            if thread_ts is not None:
                message["thread_ts"] = thread_ts
            if poster.is_bot:
                message["bot_id"], message["app_id"] = poster.bot_id, poster.app_id
            self.ephemeral.setdefault(recipient, []).append(message)
            return ts

    def token_of(self, user: User) -> str:
        """The token that acts as ``user`` now (its seeded one until rotated)."""
        with self.lock:
            return next((t for t, u in self.tokens.items() if u.id == user.id), user.token)
    def _notify(self, change: str, channel: ChannelState, msg: Message, **details: Any) -> None:
        for observer in self.observers:
            observer(change, channel, msg, **details)

    def webhook_for(self, channel: str) -> Webhook:
        return next(h for h in self.webhooks.values() if h.channel == channel)

    # --- rendering ----------------------------------------------------------------------------------

    def bot_profile(self, bot: User) -> dict[str, Any]:
        return {
            "id": bot.bot_id,
            "app_id": bot.app_id,
            "name": bot.name,
            "icons": {"image_48": f"https://emulated.invalid/bots/{bot.bot_id}_48.png"},
            "deleted": False,
            "updated": 1700000000,
            "team_id": self.workspace.team_id,
        }

    def render(
        self,
        channel: ChannelState,
        msg: Message,
        *,
        include_metadata: bool = True,
        reaction_users: int | None = None,
        viewer: str | None = None,
    ) -> dict[str, Any]:
        """The message as Slack's API shows it.

        :param reaction_users: list at most this many users per reaction (None: all); ``count`` stays
            complete, and the ``viewer``'s own reaction is always listed, as Slack documents.
        :param viewer: user id of the caller.
        """
        out: dict[str, Any] = {"type": "message"}
        if msg.client_msg_id:
            out["client_msg_id"] = msg.client_msg_id
        if msg.subtype:
            out["subtype"] = msg.subtype
        if msg.user and msg.subtype != "bot_message":
            out["user"] = msg.user
        out["text"] = msg.text
        out["ts"] = msg.ts
        if msg.tombstone:
            out["hidden"] = True  # Slack marks a deleted thread parent's placeholder hidden
        else:
            author = self.users.get(msg.user or "")
            out["team"] = (author.team_id if author else None) or self.workspace.team_id
        if msg.bot_id:
            out["bot_id"] = msg.bot_id
            out["app_id"] = msg.app_id
            bot = next((u for u in self.users.values() if u.bot_id == msg.bot_id), None)
            if bot is not None:
                out["bot_profile"] = self.bot_profile(bot)
                if msg.subtype == "bot_message":
                    out["username"] = bot.real_name or bot.name
        if msg.blocks:
            out["blocks"] = copy.deepcopy(msg.blocks)
        if msg.files:
            out["files"] = copy.deepcopy(msg.files)
            out["upload"] = True
        if msg.edited:
            out["edited"] = dict(msg.edited)
        if msg.thread_ts:
            out["thread_ts"] = msg.thread_ts
        if msg.is_reply:
            parent = channel.messages.get(msg.thread_ts or "")
            if parent is not None and parent.user:
                out["parent_user_id"] = parent.user
        else:
            replies = channel.replies(msg.ts)
            if replies:
                users = list(dict.fromkeys(r.user for r in replies if r.user))
                out["thread_ts"] = msg.ts
                out["reply_count"] = len(replies)
                out["reply_users_count"] = len(users)
                out["latest_reply"] = replies[-1].ts
                out["reply_users"] = users[:5]
                out["is_locked"] = False
                out["subscribed"] = False
        if msg.reactions:
            out["reactions"] = [
                {"name": name, "users": _shown(users, reaction_users, viewer), "count": len(users)}
                for name, users in msg.reactions.items()
            ]
        if msg.metadata is not None and include_metadata:
            out["metadata"] = copy.deepcopy(msg.metadata)
        return out

    def permalink(self, channel: ChannelState, msg: Message) -> str:
        base = f"https://{self.workspace.domain}.slack.com/archives/{channel.id}/p{msg.ts.replace('.', '')}"
        if msg.is_reply:
            return f"{base}?thread_ts={msg.thread_ts}&cid={channel.id}"
        return base

    def user_object(self, user: User) -> dict[str, Any]:
        profile: dict[str, Any] = {
            "real_name": user.real_name,
            "real_name_normalized": user.real_name,
            "display_name": user.name,
            "display_name_normalized": user.name,
            "team": user.team_id or self.workspace.team_id,
            "image_48": f"https://emulated.invalid/avatars/{user.id}_48.png",
        }
        if user.email and not user.is_bot:
            profile["email"] = user.email
        if user.is_bot:
            profile["bot_id"] = user.bot_id
            profile["api_app_id"] = user.app_id
            profile["always_active"] = True
        return {
            "id": user.id,
            "team_id": user.team_id or self.workspace.team_id,
            "name": user.name,
            "deleted": user.deleted,
            "real_name": user.real_name,
            "tz": user.tz,
            "tz_label": "Coordinated Universal Time" if user.tz == "UTC" else user.tz,
            "tz_offset": 0,
            "profile": profile,
            "is_admin": user.is_admin,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": user.is_restricted,
            "is_ultra_restricted": user.is_ultra_restricted,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "updated": 1700000000,
        } | self._stranger(user)

    def _stranger(self, user: User) -> dict[str, Any]:
        """``is_stranger: true`` for a member of another workspace who shares no channel with the app's
        bot; absent otherwise (Slack's user object reference)."""
        if not user.team_id or user.team_id == self.workspace.team_id:
            return {}
        bot = self.workspace.bot.id
        shared = any(user.id in ch.members and bot in ch.members for ch in self.channels.values())
        return {} if shared else {"is_stranger": True}

    def channel_object(self, ch: ChannelState, viewer: User | None) -> dict[str, Any]:
        shared = ch.is_ext_shared  # a Slack Connect channel, shared with another organisation
        return {
            "id": ch.id,
            "name": ch.name,
            "name_normalized": ch.name,
            "is_channel": ch.kind == "channel",
            "is_group": False,
            "is_im": ch.kind == "im",
            "is_mpim": ch.kind == "mpim",
            "is_private": ch.is_private,
            "is_archived": ch.is_archived,
            "is_general": False,
            "is_shared": shared,
            "is_ext_shared": shared,
            "is_org_shared": False,
            "is_member": viewer is not None and viewer.id in ch.members,
            "created": ch.created,
            "creator": next(iter(ch.members), ""),
            "context_team_id": self.workspace.team_id,
            "topic": {"value": ch.topic, "creator": "", "last_set": 0},
            "purpose": {"value": ch.purpose, "creator": "", "last_set": 0},
            "previous_names": [],
            # A DM names the other person (Slack's im object); the opener is the app's bot here.
            **({"user": next((m for m in ch.members if m != self.workspace.bot.id), "")} if ch.kind == "im" else {}),
        }


    def open_conversation(self, opener: User, user_ids: list[str]) -> tuple[ChannelState, bool]:
        """The direct message (one other person) or group direct message (2 to 8) between ``opener`` and
        ``user_ids``: the existing one if there is one (``False``), else a new one (``True``). Ids start
        with ``D`` (a DM) or ``G`` (a group DM); a group DM is named as Slack names it (``mpdm-a--b-1``)."""
        with self.lock:
            members = list(dict.fromkeys([opener.id, *user_ids]))
            kind = "im" if len(members) <= 2 else "mpim"
            for ch in self.channels.values():
                if ch.kind == kind and set(ch.members) == set(members):
                    return ch, False
            names = [self.users[m].name for m in members]
            ch = ChannelState(
                id=self.new_id("D" if kind == "im" else "G"),
                name=f"mpdm-{'--'.join(names)}-1" if kind == "mpim" else "",
                is_private=True,
                is_archived=False,
                members=members,
                topic="",
                purpose="",
                created=int(self.clock.now()),
                kind=kind,
            )
            self.channels[ch.id] = ch
            return ch, True


def _shown(users: list[str], limit: int | None, viewer: str | None) -> list[str]:
    """The users a reaction lists: the first ``limit`` (all if None), the viewer's own kept in."""
    if limit is None or len(users) <= limit:
        return list(users)
    shown = users[:limit]
    if viewer in users and viewer not in shown:
        shown = [*shown[: limit - 1], viewer] if limit > 0 else []
    return shown
