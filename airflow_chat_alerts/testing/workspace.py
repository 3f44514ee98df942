"""The seed of an emulated Slack workspace: team, users and bots with tokens and scopes, user groups,
channels with members and optional seed messages.

A workspace is built in code or loaded from JSON (see docs/emulator.md for the format). It is
immutable input: the emulator builds its live state from it, and `reset()` rebuilds from it again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

# Scopes the app's bot token has in the default workspace.
DEFAULT_BOT_SCOPES = (
    "chat:write",
    "channels:history",
    "groups:history",
    "reactions:read",
    "reactions:write",
    "users:read",
    "usergroups:read",
    "files:write",
    "channels:read",
    "groups:read",
    "im:write",  # direct messages (conversations.open) and reading them
    "mpim:write",
    "im:history",
    "mpim:history",
    "im:read",
    "mpim:read",
)
# Human (user) tokens get every scope the emulator knows unless the workspace says otherwise.
ALL_SCOPES = (
    *DEFAULT_BOT_SCOPES,
    "chat:write.public",
)


def default_app_token(app_id: str) -> str:
    """The app-level token an app gets unless the workspace names one."""
    return f"xapp-1-{app_id}-emulator"


def _slug_id(prefix: str, name: str) -> str:
    return prefix + "0" + re.sub(r"[^A-Z0-9]", "", name.upper())[:10]


@dataclass(frozen=True)
class User:
    """A human or a bot user.

    :param name: handle, unique in the workspace (used to refer to the user in tests and JSON).
    :param id: Slack user id (``U…``).
    :param token: the token acting as this user (``xoxb-`` for bots, ``xoxp-`` for humans).
    :param scopes: the scopes that token has.
    :param is_bot: a bot user (has ``bot_id`` and ``app_id``).
    :param is_restricted: a guest (a multi-channel guest alone; with ``is_ultra_restricted``, a
        single-channel guest), as ``users.info`` shows it.
    :param team_id: the user's own workspace when it is not this one: an external (Slack Connect) member.
    :param visible_to_app: False: ``users.info`` answers ``user_not_visible`` to the app's bot token.
    """

    name: str
    id: str
    token: str
    scopes: frozenset[str]
    real_name: str = ""
    is_bot: bool = False
    bot_id: str | None = None
    app_id: str | None = None
    deleted: bool = False
    is_admin: bool = False
    tz: str = "UTC"
    email: str | None = None
    is_restricted: bool = False
    is_ultra_restricted: bool = False
    team_id: str | None = None
    visible_to_app: bool = True


@dataclass(frozen=True)
class UserGroup:
    """A user group (``S…``), mentioned as ``<!subteam^S…>``."""

    id: str
    handle: str
    name: str
    users: tuple[str, ...]  # user names
    disabled: bool = False


@dataclass(frozen=True)
class SeedMessage:
    """A message present when the workspace starts (replies nest under their parent)."""

    user: str  # user name
    text: str = ""
    blocks: tuple[dict[str, Any], ...] | None = None
    metadata: dict[str, Any] | None = None
    reactions: dict[str, tuple[str, ...]] = field(default_factory=dict)  # emoji -> user names
    replies: tuple[SeedMessage, ...] = ()


@dataclass(frozen=True)
class Channel:
    """A public or private channel and its members (user names).

    :param shared_with: team ids of the other organisations the channel is shared with (a Slack Connect
        channel). A channel with a member of another team is shared with that team whether listed or not.
    """

    id: str
    name: str
    members: tuple[str, ...]
    is_private: bool = False
    is_archived: bool = False
    topic: str = ""
    purpose: str = ""
    messages: tuple[SeedMessage, ...] = ()
    shared_with: tuple[str, ...] = ()


@dataclass(frozen=True)
class Workspace:
    """An emulated workspace: the app's bot (``app_bot``), other users, groups and channels.

    :param team_id: ``T…`` id.
    :param team_name: display name of the workspace.
    :param domain: the workspace's subdomain (used in permalinks and ``auth.test``).
    :param app_id: id of the app whose bot token the code under test uses.
    :param app_bot: name of that app's bot user.
    :param emoji: the workspace's custom emoji names (valid reaction names besides Slack's standard ones).
    :param app_token: the app-level token (``xapp-…``) that opens Socket Mode connections
        (default: derived from ``app_id``).
    :param app_token_scopes: that token's scopes.
    """

    team_id: str
    team_name: str
    domain: str
    app_id: str
    app_bot: str
    users: tuple[User, ...]
    usergroups: tuple[UserGroup, ...] = ()
    channels: tuple[Channel, ...] = ()
    emoji: tuple[str, ...] = ()
    app_token: str = ""
    app_token_scopes: frozenset[str] = frozenset({"connections:write"})

    def __post_init__(self) -> None:
        if not self.app_token:
            object.__setattr__(self, "app_token", default_app_token(self.app_id))
        names = [u.name for u in self.users]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate user names in workspace: {names}")
        tokens = [u.token for u in self.users]
        if len(set(tokens)) != len(tokens):
            raise ValueError("duplicate tokens in workspace")
        if self.app_bot not in names:
            raise ValueError(f"app_bot {self.app_bot!r} is not a user of the workspace")
        known = set(names)
        for ch in self.channels:
            unknown = set(ch.members) - known
            if unknown:
                raise ValueError(f"channel {ch.name!r} has unknown members {sorted(unknown)}")
            if self.team_id in ch.shared_with:
                raise ValueError(f"channel {ch.name!r} is shared with its own team {self.team_id}")
        for group in self.usergroups:
            unknown = set(group.users) - known
            if unknown:
                raise ValueError(f"user group {group.handle!r} has unknown users {sorted(unknown)}")

    # --- look-ups -----------------------------------------------------------------------------------

    def user(self, name_or_id: str) -> User:
        for u in self.users:
            if name_or_id in (u.name, u.id):
                return u
        raise KeyError(f"no user {name_or_id!r} in workspace (users: {[u.name for u in self.users]})")

    def channel(self, name_or_id: str) -> Channel:
        key = name_or_id.lstrip("#")
        for ch in self.channels:
            if key in (ch.name, ch.id):
                return ch
        raise KeyError(f"no channel {name_or_id!r} in workspace (channels: {[c.name for c in self.channels]})")

    def usergroup(self, handle_or_id: str) -> UserGroup:
        key = handle_or_id.lstrip("@")
        for g in self.usergroups:
            if key in (g.handle, g.id):
                return g
        raise KeyError(f"no user group {handle_or_id!r} in workspace")

    @property
    def bot(self) -> User:
        return self.user(self.app_bot)

    def external_teams(self, channel: Channel) -> tuple[str, ...]:
        """The other organisations' teams ``channel`` is shared with: those it names and those of its
        members from another team (a person of another organisation is only ever in a shared channel)."""
        members = (self.user(m).team_id for m in channel.members)
        teams = [*channel.shared_with, *(t for t in members if t and t != self.team_id)]
        return tuple(dict.fromkeys(teams))

    # --- construction -------------------------------------------------------------------------------

    @classmethod
    def default(cls) -> Workspace:
        """The workspace shipped with the package (``default_workspace.json``)."""
        text = resources.files("airflow_chat_alerts.testing").joinpath("default_workspace.json").read_text()
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_file(cls, path: str | Path) -> Workspace:
        """Load a workspace from a JSON file (format: docs/emulator.md)."""
        try:
            data = json.loads(Path(path).read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"workspace file {path} is not valid JSON: {err}") from err
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Workspace:
        """Build a workspace from its JSON form; missing ids and tokens are derived from names."""
        if not isinstance(data, dict):
            raise ValueError("a workspace must be a JSON object")
        team = data.get("team", {})
        domain = team.get("domain", "emulated")
        app = data.get("app", {})
        app_id = app.get("id", "A0CHATALERTS")
        app_bot = app.get("bot_user")
        users: list[User] = []
        for raw in data.get("users", []):
            if "name" not in raw:
                raise ValueError(f"every user needs a name: {raw!r}")
            name = raw["name"]
            is_bot = bool(raw.get("is_bot", False))
            is_app = name == app_bot
            default_scopes = DEFAULT_BOT_SCOPES if is_bot else ALL_SCOPES
            prefix = "xoxb" if is_bot else "xoxp"
            users.append(
                User(
                    name=name,
                    id=raw.get("id", _slug_id("U", name)),
                    token=raw.get("token", f"{prefix}-emulator-{name}"),
                    scopes=frozenset(raw.get("scopes", default_scopes)),
                    real_name=raw.get("real_name", name.replace("-", " ").title()),
                    is_bot=is_bot,
                    bot_id=raw.get("bot_id", _slug_id("B", name)) if is_bot else None,
                    app_id=(app_id if is_app else raw.get("app_id", _slug_id("A", name))) if is_bot else None,
                    deleted=bool(raw.get("deleted", False)),
                    is_admin=bool(raw.get("is_admin", False)),
                    tz=raw.get("tz", "UTC"),
                    email=raw.get("email"),
                    is_restricted=bool(raw.get("is_restricted", False) or raw.get("is_ultra_restricted", False)),
                    is_ultra_restricted=bool(raw.get("is_ultra_restricted", False)),
                    team_id=raw.get("team_id"),
                    visible_to_app=bool(raw.get("visible_to_app", True)),
                )
            )
        if app_bot is None:
            bots = [u.name for u in users if u.is_bot]
            if not bots:
                raise ValueError("a workspace needs at least one bot user (the app's bot)")
            app_bot = bots[0]
            users = [
                u if u.name != app_bot else User(**{**u.__dict__, "app_id": app_id}) for u in users
            ]
        groups = tuple(
            UserGroup(
                id=g.get("id", _slug_id("S", g["handle"])),
                handle=g["handle"],
                name=g.get("name", g["handle"]),
                users=tuple(g.get("users", [])),
                disabled=bool(g.get("disabled", False)),
            )
            for g in data.get("usergroups", [])
        )
        channels = []
        for raw in data.get("channels", []):
            private = bool(raw.get("is_private", False))
            channels.append(
                Channel(
                    id=raw.get("id", _slug_id("G" if private else "C", raw["name"])),
                    name=raw["name"],
                    members=tuple(raw.get("members", [])),
                    is_private=private,
                    is_archived=bool(raw.get("is_archived", False)),
                    topic=raw.get("topic", ""),
                    purpose=raw.get("purpose", ""),
                    messages=tuple(_seed_message(m) for m in raw.get("messages", [])),
                    shared_with=tuple(str(team) for team in raw.get("shared_with", [])),
                )
            )
        return cls(
            team_id=team.get("id", "T0EMULATED"),
            team_name=team.get("name", "Emulated Workspace"),
            domain=domain,
            app_id=app_id,
            app_bot=app_bot,
            users=tuple(users),
            usergroups=groups,
            channels=tuple(channels),
            emoji=tuple(str(name).strip(":") for name in data.get("emoji", [])),
            app_token=app.get("app_token", default_app_token(app_id)),
            app_token_scopes=frozenset(app.get("app_token_scopes", ("connections:write",))),
        )

    def with_scopes(self, user: str, scopes: list[str] | tuple[str, ...] | frozenset[str]) -> Workspace:
        """A copy in which ``user``'s token has exactly ``scopes`` (to test ``missing_scope``)."""
        users = tuple(
            User(**{**u.__dict__, "scopes": frozenset(scopes)}) if u.name == user else u for u in self.users
        )
        if users == self.users and user not in [u.name for u in self.users]:
            raise KeyError(user)
        return Workspace(**{**self.__dict__, "users": users})


def _seed_message(raw: dict[str, Any]) -> SeedMessage:
    return SeedMessage(
        user=raw["user"],
        text=raw.get("text", ""),
        blocks=tuple(raw["blocks"]) if raw.get("blocks") else None,
        metadata=raw.get("metadata"),
        reactions={k: tuple(v) for k, v in raw.get("reactions", {}).items()},
        replies=tuple(_seed_message(r) for r in raw.get("replies", [])),
    )
