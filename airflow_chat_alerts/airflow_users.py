"""Who a Slack person is in Airflow: the mapping a ``slack`` connection's extras declare.

Airflow's Human-in-the-loop requests name their respondents as Airflow users (``assigned_users``: each
``{"id": …, "name": …}``, the id being the auth manager's user id). A Slack answer counts for such a
request only when the person who gave it maps to one of them; the mapping lives in the connection:

* ``airflow_users``: Slack user id → Airflow user, ``{"U0ALICE": {"id": "alice", "name": "Alice"}}``
  (a bare string is the id and the name: ``{"U0ALICE": "alice"}``); the whole value may also be given as
  JSON text, as an extra entered in a form often is;
* ``airflow_users_by_email``: ``true`` when the auth manager's user ids are e-mail addresses (an OAuth or
  Keycloak set-up): a person not listed above is the Airflow user whose id is their Slack profile's
  e-mail (read with the ``users:read.email`` scope).

Pure: no I/O, no Airflow imports. A malformed value is a :class:`~airflow_chat_alerts.exceptions.ChatConfigError`
saying which entry is wrong and how to write it; nothing here is secret, but values are quoted short.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_chat_alerts.exceptions import ChatConfigError

USERS_EXTRA = "airflow_users"
BY_EMAIL_EXTRA = "airflow_users_by_email"

_SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]+")
_EXAMPLE = '{"U0ALICE": {"id": "alice", "name": "Alice"}}'


@dataclass(frozen=True)
class AirflowUser:
    """An Airflow user as Human-in-the-loop records name them (Airflow's ``HITLUser``).

    :param id: the auth manager's user id (``user.get_id()``: a user name, a number as text, an e-mail).
    :param name: the user's display name.
    """

    id: str
    name: str

    def to_dict(self) -> dict[str, str]:
        """``{"id": …, "name": …}``: the shape of Airflow's ``HITLUser`` (``assigned_users``, ``responded_by``)."""
        return {"id": self.id, "name": self.name}

    @classmethod
    def from_dict(cls, value: Any, *, what: str = "an Airflow user") -> AirflowUser:
        """Read ``{"id": …, "name": …}`` (``name`` defaults to the id).

        :param value: the mapping to read.
        :param what: how errors name the value.
        :raises ChatConfigError: not a mapping, or no non-empty text ``id``, or a ``name`` that is not text.
        """
        if not isinstance(value, Mapping):
            raise ChatConfigError(f"{what} must be {{'id': …, 'name': …}}, got {_short(value)}")
        user_id, name = value.get("id"), value.get("name")
        if isinstance(user_id, int) and not isinstance(user_id, bool):
            user_id = str(user_id)  # FAB's ids are numbers; Airflow compares them as text
        if not isinstance(user_id, str) or not user_id.strip():
            raise ChatConfigError(f"{what} needs a non-empty 'id' (the Airflow user id), got {_short(value)}")
        if name is not None and not isinstance(name, str):
            raise ChatConfigError(f"{what} has a 'name' that is not text: {_short(name)}")
        unknown = sorted(set(value) - {"id", "name"})
        if unknown:
            raise ChatConfigError(f"{what} has unknown key(s) {', '.join(map(repr, unknown))}: only 'id' and 'name'")
        return cls(id=user_id.strip(), name=(name or "").strip() or user_id.strip())


@dataclass(frozen=True)
class AirflowUserMap:
    """Slack people → Airflow users, as a connection declares them.

    :param by_slack_id: Airflow user of each Slack user id listed.
    :param by_email: a person not listed is the Airflow user whose id is their Slack e-mail.
    """

    by_slack_id: Mapping[str, AirflowUser] = field(default_factory=dict)
    by_email: bool = False

    @classmethod
    def from_extras(cls, extras: Mapping[str, Any]) -> AirflowUserMap:
        """Read the extras ``airflow_users`` and ``airflow_users_by_email`` (both optional).

        :param extras: a connection's extras.
        :raises ChatConfigError: either is malformed (the message names the entry and shows the form).
        """
        raw = extras.get(USERS_EXTRA)
        if isinstance(raw, str):
            if not raw.strip():
                raw = None
            else:
                try:
                    raw = json.loads(raw)
                except ValueError as err:
                    raise ChatConfigError(f"{USERS_EXTRA} is not valid JSON ({err}); write it as {_EXAMPLE}") from None
        users: dict[str, AirflowUser] = {}
        if raw is not None:
            if not isinstance(raw, Mapping):
                raise ChatConfigError(f"{USERS_EXTRA} must map Slack user ids to Airflow users, like {_EXAMPLE}")
            for slack_id, value in raw.items():
                if not isinstance(slack_id, str) or not _SLACK_USER_ID.fullmatch(slack_id.strip()):
                    raise ChatConfigError(
                        f"{USERS_EXTRA} has the key {_short(slack_id)}: keys are Slack user ids (U… or W…, from the "
                        f"person's profile, 'Copy member ID'), not names or e-mails"
                    )
                what = f"{USERS_EXTRA}[{slack_id.strip()!r}]"
                users[slack_id.strip()] = (
                    AirflowUser.from_dict({"id": value}, what=what)
                    if isinstance(value, str)
                    else AirflowUser.from_dict(value, what=what)
                )
        return cls(by_slack_id=users, by_email=_flag(extras.get(BY_EMAIL_EXTRA), BY_EMAIL_EXTRA))

    def airflow_user(self, slack_user_id: str, *, email: str | None = None) -> AirflowUser | None:
        """The Airflow user a Slack person is, or None when the connection does not say.

        :param slack_user_id: the Slack-verified user id of the person.
        :param email: their Slack profile e-mail, when read (used only with ``airflow_users_by_email``).
        """
        listed = self.by_slack_id.get(slack_user_id)
        if listed is not None:
            return listed
        if self.by_email and email and email.strip():
            return AirflowUser(id=email.strip(), name=email.strip())
        return None

    @property
    def needs_email(self) -> bool:
        """Whether mapping someone not listed needs their e-mail (``users:read.email``)."""
        return self.by_email

    def may_answer(
        self, slack_user_id: str, assigned: Iterable[AirflowUser], *, email: str | None = None
    ) -> bool:
        """Whether a Slack person may answer a request with these ``assigned_users`` (Airflow's rule: anyone
        when none are assigned, else only an assigned user, compared by id).

        :param slack_user_id: the Slack-verified user id of the person.
        :param assigned: the request's assigned users.
        :param email: their Slack profile e-mail, when read.
        """
        ids = {user.id for user in assigned}
        if not ids:
            return True
        user = self.airflow_user(slack_user_id, email=email)
        return user is not None and user.id in ids

    def slack_ids_of(self, assigned: Iterable[AirflowUser]) -> frozenset[str]:
        """The Slack user ids listed for these Airflow users (whom to mention; e-mail matches are not known
        before they answer)."""
        ids = {user.id for user in assigned}
        return frozenset(slack_id for slack_id, user in self.by_slack_id.items() if user.id in ids)


def _flag(value: Any, name: str) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no", ""):
        return value.strip().lower() in ("true", "1", "yes")
    raise ChatConfigError(f"{name} must be true or false, got {_short(value)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "…"
