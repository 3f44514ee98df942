"""A Human-in-the-loop request as Airflow writes it (its ``hitl_detail`` row), as a value the worker,
the triggerer and the Slack message share.

Checked as Airflow's ``HITLOperator`` checks it (options not empty, defaults among the options, one
default unless ``multiple``, no ``_options`` param), plus what Slack needs (options are text). ``params``
are kept in the form ``HITLOperator.serialized_params`` writes: ``{key: {"value", "description",
"schema", "source"}}``; a bare value (older providers dumped only values) is read as a param with that
value and no schema, as Airflow's ``HITLTrigger`` reads it.

Pure: no I/O, no Airflow imports; JSON-safe both ways (:meth:`HITLRequest.to_dict`, for trigger kwargs).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_chat_alerts.airflow_users import AirflowUser
from airflow_chat_alerts.exceptions import ChatConfigError

# Airflow's HITLOperator refuses this param name: its form uses it for the chosen options.
RESERVED_PARAM = "_options"
_PARAM_KEYS = ("description", "schema", "value")


@dataclass(frozen=True)
class ParamSpec:
    """One form field of a request, as Airflow serializes a ``Param``.

    :param value: the default value; None when the param has none (or its default is None).
    :param schema: the JSON schema the value is validated against (Airflow's ``Param.schema``).
    :param description: the param's description (shown as the field's hint).
    """

    value: Any = None
    schema: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None

    @classmethod
    def read(cls, key: str, raw: Any) -> ParamSpec:
        """A param from its serialized form, or from a bare value.

        :param key: the param's name (named in errors).
        :param raw: ``{"value", "description", "schema", …}`` or a bare JSON value.
        :raises ChatConfigError: the schema is not a JSON object, or the value is not JSON.
        """
        if isinstance(raw, Mapping) and all(k in raw for k in _PARAM_KEYS):
            schema, description, value = raw.get("schema"), raw.get("description"), raw.get("value")
            schema = {} if schema is None else schema
        else:
            schema, description, value = {}, None, raw
        if not isinstance(schema, Mapping):
            raise ChatConfigError(f"param {key!r} has a schema that is not a JSON object: {schema!r:.100}")
        if description is not None and not isinstance(description, str):
            description = str(description)
        if type(value).__name__ == "ArgNotSet":  # Airflow's NOTSET: a Param() given no default
            raise ChatConfigError(
                f"param {key!r} has no default, and Airflow's HITLOperator cannot send a param without one: "
                f"give it a default, or None with a type that allows null (Param(None, type=['null', 'string']))"
            )
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise ChatConfigError(
                f"param {key!r} has a default that is not JSON ({type(value).__name__}): give it a JSON value, "
                f"or None with a type that allows null (Param(None, type=['null', 'string']))"
            ) from None
        return cls(value=value, schema=dict(schema), description=description)

    def to_dict(self) -> dict[str, Any]:
        """The serialized form Airflow writes (``source`` is always ``task`` in a request)."""
        return {"value": self.value, "description": self.description, "schema": dict(self.schema), "source": "task"}


@dataclass(frozen=True)
class HITLRequest:
    """What a Human-in-the-loop task asks: the subject, the options and the form.

    :param subject: the headline (rendered; templated by the operator).
    :param options: what a person may choose (at least one; any text).
    :param body: details, in Markdown (rendered), or None.
    :param defaults: the options chosen when nobody answers in time (a timeout with no defaults fails the
        task); None for none.
    :param multiple: whether a person may choose several options.
    :param params: the form: param name → :class:`ParamSpec`.
    :param assigned_users: who may answer (none: anyone allowed to answer Airflow's requests).
    """

    subject: str
    options: tuple[str, ...]
    body: str | None = None
    defaults: tuple[str, ...] | None = None
    multiple: bool = False
    params: Mapping[str, ParamSpec] = field(default_factory=dict)
    assigned_users: tuple[AirflowUser, ...] = ()

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.subject, str):
            raise ChatConfigError(f"subject must be text, got {type(self.subject).__name__}")
        options = _texts(self.options, "options")
        if not options:
            raise ChatConfigError('"options" cannot be empty: give at least one option')
        duplicates = sorted({o for o in options if options.count(o) > 1})
        if duplicates:
            raise ChatConfigError(f"options has duplicates {duplicates}: each option must be named once")
        set_(self, "options", options)
        if self.defaults is not None:
            defaults = _texts(self.defaults, "defaults")
            unknown = [d for d in defaults if d not in options]
            if unknown:
                raise ChatConfigError(f'defaults "{list(defaults)}" should be a subset of options "{list(options)}"')
            if not self.multiple and len(defaults) > 1:
                raise ChatConfigError('More than one defaults given when "multiple" is set to False.')
            set_(self, "defaults", defaults)
        if not isinstance(self.multiple, bool):
            raise ChatConfigError(f"multiple must be True or False, got {self.multiple!r}")
        if self.body is not None and not isinstance(self.body, str):
            raise ChatConfigError(f"body must be text or None, got {type(self.body).__name__}")
        if RESERVED_PARAM in self.params:
            raise ChatConfigError(f'"{RESERVED_PARAM}" is not allowed in params')
        params = {k: v if isinstance(v, ParamSpec) else ParamSpec.read(k, v) for k, v in self.params.items()}
        set_(self, "params", params)
        set_(self, "assigned_users", tuple(self.assigned_users))

    @classmethod
    def of(
        cls,
        *,
        subject: str,
        options: Sequence[str],
        body: str | None = None,
        defaults: str | Sequence[str] | None = None,
        multiple: bool = False,
        params: Mapping[str, Any] | None = None,
        assigned_users: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> HITLRequest:
        """A request from the arguments Airflow's ``HITLOperator`` takes (a single default or assigned user
        may be given alone, params in their serialized form or as bare values).

        :raises ChatConfigError: as Airflow's operator would refuse them, or when they are not text.
        """
        if isinstance(defaults, str):
            defaults = [defaults]
        if isinstance(assigned_users, Mapping):
            assigned_users = [assigned_users]
        users = tuple(
            AirflowUser.from_dict(user, what=f"assigned_users[{i}]") for i, user in enumerate(assigned_users or [])
        )
        return cls(
            subject=subject,
            options=options,  # type: ignore[arg-type]  # checked (and made a tuple) on creation
            body=body,
            defaults=defaults,  # type: ignore[arg-type]  # checked (and made a tuple) on creation
            multiple=multiple,
            params=dict(params or {}),
            assigned_users=users,
        )

    @property
    def options_digest(self) -> str:
        """A short digest of the options in order: tells a stale button or menu from a current one."""
        return _digest(json.dumps(list(self.options), ensure_ascii=False))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form (:meth:`from_dict` reads it back)."""
        return {
            "subject": self.subject,
            "options": list(self.options),
            "body": self.body,
            "defaults": None if self.defaults is None else list(self.defaults),
            "multiple": self.multiple,
            "params": {key: spec.to_dict() for key, spec in self.params.items()},
            "assigned_users": [user.to_dict() for user in self.assigned_users],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HITLRequest:
        """Rebuild a request from :meth:`to_dict`.

        :raises ChatConfigError: a field is missing or unknown, or the request is invalid.
        """
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ChatConfigError(f"unknown Human-in-the-loop request field(s): {', '.join(sorted(unknown))}")
        if "subject" not in data or "options" not in data:
            raise ChatConfigError("a Human-in-the-loop request needs a subject and options")
        return cls.of(**data)


def _texts(values: Any, name: str) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise ChatConfigError(f"{name} must be a list of strings, got {values!r:.100}")
    for value in values:
        if not isinstance(value, str):
            raise ChatConfigError(f"{name} must be a list of strings, got {value!r:.100} ({type(value).__name__})")
    return tuple(values)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]
