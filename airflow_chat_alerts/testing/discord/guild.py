"""The seed the Discord emulator serves: one guild, its roles, members (people and bots), channels and
the application whose bot the code under test runs as.

A `Guild` is plain data, read from a dict (``Guild.from_dict``) or made by ``Guild.default()``; ids are
snowflakes derived from the seed's order, so the same seed always has the same ids. Permissions follow
Discord's computation: the @everyone role, the member's roles (ADMINISTRATOR grants everything), then
the channel's overwrites (@everyone, roles, the member).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000
# Seed ids are snowflakes of this instant (2024-01-01T00:00:00Z) plus an index: stable across runs.
SEED_MS = 1_704_067_200_000

# Permission bits (Discord's developer documentation, "Permissions").
PERMISSIONS = {
    "CREATE_INSTANT_INVITE": 1 << 0,
    "KICK_MEMBERS": 1 << 1,
    "BAN_MEMBERS": 1 << 2,
    "ADMINISTRATOR": 1 << 3,
    "MANAGE_CHANNELS": 1 << 4,
    "MANAGE_GUILD": 1 << 5,
    "ADD_REACTIONS": 1 << 6,
    "VIEW_CHANNEL": 1 << 10,
    "SEND_MESSAGES": 1 << 11,
    "MANAGE_MESSAGES": 1 << 13,
    "EMBED_LINKS": 1 << 14,
    "ATTACH_FILES": 1 << 15,
    "READ_MESSAGE_HISTORY": 1 << 16,
    "MENTION_EVERYONE": 1 << 17,
    "USE_EXTERNAL_EMOJIS": 1 << 18,
    "MANAGE_ROLES": 1 << 28,
    "MANAGE_WEBHOOKS": 1 << 29,
    "MANAGE_THREADS": 1 << 34,
    "CREATE_PUBLIC_THREADS": 1 << 35,
    "CREATE_PRIVATE_THREADS": 1 << 36,
    "SEND_MESSAGES_IN_THREADS": 1 << 38,
}
ALL_PERMISSIONS = sum(PERMISSIONS.values())
EVERYONE_DEFAULT = (
    "CREATE_INSTANT_INVITE",
    "ADD_REACTIONS",
    "VIEW_CHANNEL",
    "SEND_MESSAGES",
    "EMBED_LINKS",
    "ATTACH_FILES",
    "READ_MESSAGE_HISTORY",
    "USE_EXTERNAL_EMOJIS",
    "CREATE_PUBLIC_THREADS",
    "SEND_MESSAGES_IN_THREADS",
)


def permission_bits(names: list[str] | tuple[str, ...]) -> int:
    """The bit set of permission names (``["VIEW_CHANNEL", ...]``); an unknown name is a ValueError."""
    bits = 0
    for name in names:
        if name not in PERMISSIONS:
            raise ValueError(f"unknown permission {name!r}; known: {sorted(PERMISSIONS)}")
        bits |= PERMISSIONS[name]
    return bits


def snowflake(ms: int, index: int) -> str:
    """A snowflake for the epoch milliseconds ``ms`` (worker and process 0, increment ``index``)."""
    return str(((ms - DISCORD_EPOCH_MS) << 22) | (index & 0xFFF))


def snowflake_ms(snowflake_id: str | int) -> int:
    """The epoch milliseconds a snowflake was made at."""
    return (int(snowflake_id) >> 22) + DISCORD_EPOCH_MS


def make_token(user_id: str, secret: str) -> str:
    """A token in Discord's shape: base64 of the user id, a timestamp part, an HMAC part.

    hikari reads the bot's id from the first part (``applications.get_token_id``)."""
    first = base64.b64encode(user_id.encode()).decode().rstrip("=")
    digest = base64.urlsafe_b64encode(hashlib.sha256(f"{user_id}:{secret}".encode()).digest()).decode()
    return f"{first}.EMULAT.{digest[:38]}"


@dataclass
class Role:
    """A guild role. ``id`` of the @everyone role is the guild's id, as in Discord."""

    id: str
    name: str
    permissions: int
    position: int = 0
    managed: bool = False
    bot_id: str | None = None  # a bot's own managed role
    mentionable: bool = True


@dataclass
class Member:
    """A person or a bot in the guild.

    :param name: username (unique in the seed).
    :param id: user id (snowflake string).
    :param bot: whether this is a bot user.
    :param roles: role ids (besides @everyone).
    :param global_name: display name.
    :param token: the token acting as this member (a bot's ``Bot`` token; a person's user token).
    """

    name: str
    id: str
    bot: bool = False
    roles: list[str] = field(default_factory=list)
    global_name: str | None = None
    token: str = ""


@dataclass
class Overwrite:
    """A channel permission overwrite for a role or a member (``kind`` 0 role, 1 member)."""

    id: str
    kind: int
    allow: int = 0
    deny: int = 0


@dataclass
class ChannelSeed:
    """A guild text channel of the seed."""

    name: str
    id: str
    topic: str | None = None
    overwrites: list[Overwrite] = field(default_factory=list)
    position: int = 0


DEFAULT_GUILD: dict[str, Any] = {
    "guild": {"name": "chat-alerts-test"},
    "application": {"name": "chat-alerts", "bot": "chat-alerts", "message_content_intent": True,
                    "guild_members_intent": False},
    "roles": [
        {"name": "admins", "permissions": ["ADMINISTRATOR"]},
        {"name": "ml-leads", "permissions": []},
        {"name": "engineers", "permissions": []},
    ],
    "members": [
        {"name": "chat-alerts", "bot": True, "global_name": "Chat Alerts"},
        {"name": "alice", "global_name": "Alice Andersen", "roles": ["admins", "ml-leads"]},
        {"name": "bob", "global_name": "Bob Berg", "roles": ["engineers"]},
        {"name": "carol", "global_name": "Carol Chen", "roles": ["ml-leads"]},
        {"name": "gina", "global_name": "Gina Guest"},
        {"name": "ci-bot", "bot": True, "global_name": "CI"},
    ],
    "channels": [
        {"name": "ml-alerts", "topic": "Model alerts"},
        {"name": "ops", "topic": "Operations (the app may read, not post)",
         "overwrites": [{"member": "chat-alerts", "deny": ["SEND_MESSAGES"]}]},
        {"name": "ml-private", "topic": "ML leads only",
         "overwrites": [{"role": "@everyone", "deny": ["VIEW_CHANNEL"]},
                        {"role": "ml-leads", "allow": ["VIEW_CHANNEL"]},
                        {"member": "chat-alerts", "allow": ["VIEW_CHANNEL"]}]},
    ],
}


class Guild:
    """The seed: guild, application, roles, members, channels. Build with `from_dict` or `default`.

    :param data: the seed as a dict (see ``DEFAULT_GUILD`` and docs/discord-emulator.md).
    """

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = copy.deepcopy(data)
        ids = iter(range(1, 4096))

        def next_id() -> str:
            return snowflake(SEED_MS, next(ids))

        guild = data.get("guild") or {}
        self.name: str = str(guild.get("name") or "guild")
        self.id: str = str(guild.get("id") or next_id())
        app = data.get("application") or {}
        self.application_id: str = str(app.get("id") or next_id())
        self.application_name: str = str(app.get("name") or "app")
        self.message_content_intent: bool = bool(app.get("message_content_intent", True))
        self.guild_members_intent: bool = bool(app.get("guild_members_intent", False))

        everyone = guild.get("everyone_permissions")
        self.roles: dict[str, Role] = {
            self.id: Role(self.id, "@everyone", permission_bits(tuple(everyone or EVERYONE_DEFAULT)), 0, False)
        }
        for position, raw in enumerate(data.get("roles") or [], start=1):
            role = Role(str(raw.get("id") or next_id()), str(raw["name"]), permission_bits(raw.get("permissions", [])),
                        position, mentionable=bool(raw.get("mentionable", True)))
            self._add_role(role)

        self.members: dict[str, Member] = {}
        for raw in data.get("members") or []:
            name = str(raw["name"])
            if any(m.name == name for m in self.members.values()):
                raise ValueError(f"duplicate member name {name!r}")
            member = Member(name, str(raw.get("id") or next_id()), bool(raw.get("bot", False)),
                            [self.role(r).id for r in raw.get("roles", [])], raw.get("global_name"))
            member.token = str(raw.get("token") or make_token(member.id, f"{name}-emulator"))
            self.members[member.id] = member
        bot_name = app.get("bot")
        bots = [m for m in self.members.values() if m.bot]
        if not bots:
            raise ValueError("the guild has no bot member for the application")
        self.bot: Member = self.member(bot_name) if bot_name else bots[0]
        if not self.bot.bot:
            raise ValueError(f"the application's bot {self.bot.name!r} is not a bot member")
        # Every bot gets its own managed role, as Discord creates one when a bot joins.
        for bot in bots:
            role = Role(next_id(), bot.name, permission_bits(("VIEW_CHANNEL", "SEND_MESSAGES", "ADD_REACTIONS",
                                                              "READ_MESSAGE_HISTORY", "EMBED_LINKS", "ATTACH_FILES",
                                                              "CREATE_PUBLIC_THREADS", "SEND_MESSAGES_IN_THREADS")),
                        len(self.roles), managed=True, bot_id=bot.id, mentionable=False)
            self._add_role(role)
            bot.roles.append(role.id)

        self.channels: dict[str, ChannelSeed] = {}
        for position, raw in enumerate(data.get("channels") or []):
            name = str(raw["name"]).lstrip("#")
            if any(c.name == name for c in self.channels.values()):
                raise ValueError(f"duplicate channel name {name!r}")
            overwrites = [self._overwrite(o) for o in raw.get("overwrites", [])]
            ch = ChannelSeed(name, str(raw.get("id") or next_id()), raw.get("topic"), overwrites, position)
            self.channels[ch.id] = ch

    def _add_role(self, role: Role) -> None:
        if any(r.name == role.name for r in self.roles.values()):
            raise ValueError(f"duplicate role name {role.name!r}")
        self.roles[role.id] = role

    def _overwrite(self, raw: dict[str, Any]) -> Overwrite:
        if "role" in raw:
            target, kind = self.role(str(raw["role"])).id, 0
        elif "member" in raw:
            target, kind = self.member(str(raw["member"])).id, 1
        else:
            raise ValueError(f"an overwrite names a 'role' or a 'member': {raw!r}")
        return Overwrite(target, kind, permission_bits(raw.get("allow", [])), permission_bits(raw.get("deny", [])))

    # --- construction ---------------------------------------------------------------------------

    @classmethod
    def default(cls) -> Guild:
        return cls(DEFAULT_GUILD)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Guild:
        return cls(data)

    @classmethod
    def from_file(cls, path: str | Path) -> Guild:
        try:
            data = json.loads(Path(path).read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: invalid JSON: {err}") from None
        return cls(data)

    # --- look-ups -------------------------------------------------------------------------------

    def member(self, ref: str) -> Member:
        """A member by name or id (KeyError naming the known ones)."""
        ref = ref.lstrip("@")
        if ref in self.members:
            return self.members[ref]
        for m in self.members.values():
            if m.name == ref:
                return m
        raise KeyError(f"no member {ref!r}; known: {sorted(m.name for m in self.members.values())}")

    def role(self, ref: str) -> Role:
        if ref in ("@everyone", "everyone"):
            return self.roles[self.id]
        if ref in self.roles:
            return self.roles[ref]
        for r in self.roles.values():
            if r.name == ref:
                return r
        raise KeyError(f"no role {ref!r}; known: {sorted(r.name for r in self.roles.values())}")

    def channel(self, ref: str) -> ChannelSeed:
        ref = ref.lstrip("#")
        if ref in self.channels:
            return self.channels[ref]
        for c in self.channels.values():
            if c.name == ref:
                return c
        raise KeyError(f"no channel {ref!r}; known: {sorted(c.name for c in self.channels.values())}")

    # --- permissions ----------------------------------------------------------------------------

    def base_permissions(self, member: Member) -> int:
        bits = self.roles[self.id].permissions
        for role_id in member.roles:
            bits |= self.roles[role_id].permissions
        return ALL_PERMISSIONS if bits & PERMISSIONS["ADMINISTRATOR"] else bits

    def permissions(self, member: Member, overwrites: list[Overwrite]) -> int:
        """Discord's computation: base permissions, then @everyone, role and member overwrites."""
        bits = self.base_permissions(member)
        if bits & PERMISSIONS["ADMINISTRATOR"]:
            return ALL_PERMISSIONS
        by_id = {o.id: o for o in overwrites}
        everyone = by_id.get(self.id)
        if everyone is not None:
            bits = (bits & ~everyone.deny) | everyone.allow
        allow = deny = 0
        for role_id in member.roles:
            o = by_id.get(role_id)
            if o is not None and o.kind == 0:
                allow |= o.allow
                deny |= o.deny
        bits = (bits & ~deny) | allow
        own = by_id.get(member.id)
        if own is not None and own.kind == 1:
            bits = (bits & ~own.deny) | own.allow
        return bits
