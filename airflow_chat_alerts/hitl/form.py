"""A request's form as a Slack modal (the ``view`` of ``views.open``), and a ``view_submission`` read
back into ``chosen_options`` and ``params_input``, validated as Airflow validates them.

Which params a modal holds, and as what (the field Airflow's own form picks for the same schema, read in
Airflow 3.3's UI): a ``boolean`` as a checkbox (Airflow: a switch); ``integer`` / ``number`` as a number
input (``minimum`` / ``maximum`` become its bounds); a ``string`` as a text input (``format:
multiline``: several lines; ``minLength`` / ``maxLength`` its bounds, up to Slack's 3,000 characters)
or, with ``format: date``, a date picker; an ``enum`` of strings or numbers as a menu (labels from
``values_display``); an ``array`` with ``examples`` or ``items.enum`` as a multi-select. A schema's
``title`` is the field's label (else the param's name), the param's description its hint, its default
the field's initial value. A type list with ``null`` makes the field optional (empty is ``None``), as
in Airflow.

Everything else (objects, free lists, ``date-time``, ``time``, several types, more than 100 choices, a
schema that is not valid JSON schema) a modal cannot hold: such a param is sent unchanged when its
default is valid (the modal says so), and otherwise the request can only be answered in Airflow's own
form (:attr:`Form.usable` is False and the message links there).

Validation is Airflow's: each value is checked with ``jsonschema.validate(value, schema,
format_checker=FormatChecker())`` (what ``Param.resolve`` runs; Airflow's ``Param`` cannot be imported
here without importing Airflow), and ``params_input`` names every param, as ``HITLOperator`` requires.
Errors come back per field, in the shape Slack's ``response_action: errors`` takes.

Pure: no I/O, no Airflow or slack_sdk imports.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from jsonschema import FormatChecker, ValidationError, validate, validators
from jsonschema.exceptions import SchemaError

from airflow_chat_alerts.formatting import truncate
from airflow_chat_alerts.hitl.choices import (
    MAX_MENU_OPTIONS,
    MAX_OPTION_TEXT,
    choice_value,
    fits_menu,
    label,
    option_of,
    options_menu,
)
from airflow_chat_alerts.hitl.request import HITLRequest, ParamSpec

# Slack's limits for modals (Block Kit reference; slack_sdk.models.views and .blocks carry them too).
MAX_VIEW_BLOCKS = 100
MAX_VIEW_TITLE = 24
MAX_VIEW_BUTTON = 24  # submit / close
MAX_LABEL = 2_000
MAX_HINT = 2_000
MAX_TEXT_INPUT = 3_000  # plain_text_input min_length / max_length
MAX_PRIVATE_METADATA = 3_000
MAX_RADIO_OPTIONS = 10  # radio buttons and checkboxes
MAX_ERROR = 300  # our own cap on a field's error text

FORM_CALLBACK_ID = "chat_alerts_hitl_form"
OPTIONS_BLOCK_ID = "chat_alerts_hitl_options"
PARAM_BLOCK_PREFIX = "chat_alerts_param_"  # + the field's index
INPUT_ACTION = "value"  # action id of every input element
_TRUE = "true"

FieldKind = Literal["text", "multiline", "number", "integer", "boolean", "select", "multi_select", "date"]
_SCALARS = (str, int, float)


@dataclass(frozen=True)
class FormField:
    """A param the modal holds.

    :param key: the param's name.
    :param kind: the input it is shown as.
    :param spec: the param (default, schema, description).
    :param nullable: its type allows ``null``: the field may be left empty (``None``).
    :param choices: for a menu or multi-select, the values to choose from, in order.
    """

    key: str
    kind: FieldKind
    spec: ParamSpec
    nullable: bool = False
    choices: tuple[Any, ...] = ()

    @property
    def label(self) -> str:
        title = self.spec.schema.get("title")
        return truncate(title if isinstance(title, str) and title.strip() else self.key, MAX_LABEL)

    @property
    def hint(self) -> str | None:
        description = self.spec.description or self.spec.schema.get("description")
        return truncate(description, MAX_HINT) if isinstance(description, str) and description.strip() else None

    def choice_label(self, value: Any) -> str:
        display = self.spec.schema.get("values_display")
        shown = display.get(str(value)) if isinstance(display, Mapping) else None
        return label(str(shown) if shown is not None else _json_text(value), MAX_OPTION_TEXT)


@dataclass(frozen=True)
class Unsupported:
    """A param the modal cannot hold.

    :param key: the param's name.
    :param reason: why, in a few words ("an object").
    """

    key: str
    reason: str


def read_field(key: str, spec: ParamSpec) -> FormField | Unsupported:
    """How a modal holds the param ``key`` (the module docstring gives the rules), or why it cannot."""
    schema = spec.schema
    try:
        validators.validator_for(schema).check_schema(schema)
    except SchemaError as err:
        return Unsupported(key, f"its schema is not valid JSON schema ({err.message})")
    declared = schema.get("type")
    types = [declared] if isinstance(declared, str) else list(declared) if isinstance(declared, list) else []
    nullable = "null" in types
    kinds = [t for t in types if t != "null"]
    if not kinds:  # no type: Airflow's form goes by the default's type
        kinds = [_json_type(spec.value)] if spec.value is not None else []
    enum = schema.get("enum")
    if isinstance(enum, list):
        if not enum or not all(v is None or isinstance(v, _SCALARS) and not isinstance(v, bool) for v in enum):
            return Unsupported(key, "a choice of values that are not all text or numbers")
        if len(enum) > MAX_MENU_OPTIONS:
            return Unsupported(key, f"a choice of more than {MAX_MENU_OPTIONS} values")
        return FormField(key, "select", spec, nullable or None in enum, tuple(v for v in enum if v is not None))
    if len(kinds) != 1:
        return Unsupported(key, "several types" if kinds else "no type")
    kind = kinds[0]
    fmt = schema.get("format")
    if kind == "boolean":
        return FormField(key, "boolean", spec, nullable)
    if kind == "integer":
        return FormField(key, "integer", spec, nullable)
    if kind == "number":
        return FormField(key, "number", spec, nullable)
    if kind == "string":
        if fmt == "date":
            return FormField(key, "date", spec, nullable)
        if fmt in ("date-time", "time", "duration", "password"):
            return Unsupported(key, f"a {fmt}")
        if isinstance(schema.get("minLength"), int) and schema["minLength"] > MAX_TEXT_INPUT:
            return Unsupported(key, f"text longer than Slack's {MAX_TEXT_INPUT:,} characters")
        return FormField(key, "multiline" if fmt == "multiline" else "text", spec, nullable)
    if kind == "array":
        items = schema.get("items")
        choices = schema.get("examples")
        if not isinstance(choices, list) and isinstance(items, Mapping):
            choices = items.get("enum")
        if not isinstance(choices, list) or not choices:
            return Unsupported(key, "a list without examples to choose from")
        if not all(isinstance(v, _SCALARS) and not isinstance(v, bool) for v in choices):
            return Unsupported(key, "a list of values that are not all text or numbers")
        if len(choices) > MAX_MENU_OPTIONS:
            return Unsupported(key, f"a list of more than {MAX_MENU_OPTIONS} values")
        return FormField(key, "multi_select", spec, nullable, tuple(dict.fromkeys(choices)))
    return Unsupported(key, "an object" if kind == "object" else f"a {kind}")


def validation_error(spec: ParamSpec, value: Any) -> str | None:
    """Why Airflow would refuse ``value`` for this param (``Param.resolve``: JSON, then the JSON schema
    with format checks), or None when it accepts it."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return "must be a JSON value"
    try:
        validate(value, spec.schema, format_checker=FormatChecker())
    except ValidationError as err:
        return truncate(err.message, MAX_ERROR)
    except SchemaError as err:
        return truncate(f"the param's schema is not valid: {err.message}", MAX_ERROR)
    return None


@dataclass(frozen=True)
class FormAnswer:
    """A submitted form, read and validated.

    :param chosen_options: the options chosen, in the request's order.
    :param params_input: every param's value (what Airflow's ``params_input`` holds).
    :param errors: Slack block id → what is wrong with that field (empty when the answer is valid).
    """

    chosen_options: tuple[str, ...]
    params_input: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors

    def response_action(self) -> dict[str, Any] | None:
        """What to acknowledge the ``view_submission`` with: Slack's ``errors`` response (the modal stays
        open, each message under its field), or None (the modal closes)."""
        return {"response_action": "errors", "errors": dict(self.errors)} if self.errors else None


@dataclass(frozen=True)
class Form:
    """The modal a request is answered with in Slack.

    :param request: the request.
    :param fields: the params the modal holds, in the request's order.
    :param kept: params the modal cannot hold whose default is valid: sent unchanged.
    :param unsupported: params the modal cannot hold and whose default Airflow would refuse: the request
        can then only be answered in Airflow.
    """

    request: HITLRequest
    fields: tuple[FormField, ...]
    kept: tuple[Unsupported, ...] = ()
    unsupported: tuple[Unsupported, ...] = ()

    @classmethod
    def of(cls, request: HITLRequest) -> Form:
        fields: list[FormField] = []
        kept: list[Unsupported] = []
        unsupported: list[Unsupported] = []
        for key, spec in request.params.items():
            read = read_field(key, spec)
            if isinstance(read, FormField):
                fields.append(read)
            elif validation_error(spec, spec.value) is None:
                kept.append(read)
            else:
                unsupported.append(read)
        return cls(request, tuple(fields), tuple(kept), tuple(unsupported))

    @property
    def usable(self) -> bool:
        """Whether the request can be answered with this modal (every param held or kept, and the options
        and fields fit Slack's modal)."""
        own = 1 + (1 if self._options_block_needed else 0) + (1 if self.kept else 0)
        return not self.unsupported and fits_menu(self.request.options) and own + len(self.fields) <= MAX_VIEW_BLOCKS

    @property
    def defaults_input(self) -> dict[str, Any] | None:
        """``params_input`` made of every param's default, when Airflow accepts them all; None when some
        param needs an answer (then a choice must go through the modal, or Airflow's form)."""
        params = self.request.params
        if any(validation_error(spec, spec.value) is not None for spec in params.values()):
            return None
        return {key: spec.value for key, spec in params.items()}

    @property
    def digest(self) -> str:
        """A digest of the options and params: tells a stale modal from the current request."""
        params = {key: spec.to_dict() for key, spec in self.request.params.items()}
        data = {"options": list(self.request.options), "params": params}
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:12]

    @property
    def _options_block_needed(self) -> bool:
        return self.request.multiple or len(self.request.options) > 1

    # -- the view --------------------------------------------------------------------------------
    def view(self, *, private_metadata: str, chosen: Sequence[str] = (), title: str = "Your answer") -> dict[str, Any]:
        """The modal's view (``views.open``'s ``view``).

        :param private_metadata: what Slack hands back with the submission (:func:`form_metadata`).
        :param chosen: options shown selected (the button the person pressed); default: the defaults.
        :param title: the modal's title (24 characters at most).
        :raises ValueError: the form is not :attr:`usable`, or the metadata is over Slack's 3,000 characters.
        """
        if not self.usable:
            raise ValueError("this request's form cannot be shown in Slack: answer it in Airflow")
        if len(private_metadata) > MAX_PRIVATE_METADATA:
            raise ValueError(
                f"private_metadata is {len(private_metadata)} characters; Slack allows {MAX_PRIVATE_METADATA}"
            )
        request = self.request
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "plain_text", "text": truncate(request.subject or "…", 3_000)}}
        ]
        if self._options_block_needed:
            blocks.append(self._options_input(chosen or request.defaults or ()))
        for index, form_field in enumerate(self.fields):
            blocks.append(_input_block(index, form_field))
        if self.kept:
            names = ", ".join(f"`{k.key}`" for k in self.kept)
            blocks.append(
                {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(
                    f"Sent with their defaults (change them in Airflow's form): {names}", 3_000), "verbatim": True}]}
            )
        return {
            "type": "modal",
            "callback_id": FORM_CALLBACK_ID,
            "title": {"type": "plain_text", "text": label(title, MAX_VIEW_TITLE)},
            "submit": {"type": "plain_text", "text": "Submit"},
            "close": {"type": "plain_text", "text": "Cancel"},
            "private_metadata": private_metadata,
            "blocks": blocks,
        }

    def _options_input(self, initial: Sequence[str]) -> dict[str, Any]:
        options, multiple = self.request.options, self.request.multiple
        element: dict[str, Any]
        if len(options) <= MAX_RADIO_OPTIONS:
            items = [
                {"text": {"type": "plain_text", "text": label(o, MAX_OPTION_TEXT)}, "value": choice_value(i, o)}
                for i, o in enumerate(options)
            ]
            kind = "checkboxes" if multiple else "radio_buttons"
            element = {"type": kind, "action_id": INPUT_ACTION, "options": items}
            first = [items[options.index(o)] for o in initial if o in options]
            if first:
                if multiple:
                    element["initial_options"] = first
                else:
                    element["initial_option"] = first[0]
        else:
            element = options_menu(options, multiple=multiple, initial=initial, action_id=INPUT_ACTION)
        return {
            "type": "input",
            "block_id": OPTIONS_BLOCK_ID,
            "label": {"type": "plain_text", "text": "Your choices" if multiple else "Your choice"},
            "element": element,
        }

    # -- the submission --------------------------------------------------------------------------
    def read(self, values: Any) -> FormAnswer:
        """Read a ``view_submission``'s ``view.state.values`` into an answer, validated as Airflow validates.

        :param values: ``payload["view"]["state"]["values"]`` (any JSON value is accepted; what cannot be read
            is an error on its field).
        """
        values = values if isinstance(values, Mapping) else {}
        errors: dict[str, str] = {}
        chosen: tuple[str, ...] = self.request.options if not self._options_block_needed else ()
        if self._options_block_needed:
            read = _chosen(_element(values, OPTIONS_BLOCK_ID), self.request.options)
            if read is None or not read:
                errors[OPTIONS_BLOCK_ID] = "Choose at least one option" if self.request.multiple else "Choose an option"
            elif len(read) > 1 and not self.request.multiple:
                errors[OPTIONS_BLOCK_ID] = "Choose one option"
            else:
                chosen = read
        params_input: dict[str, Any] = {key: spec.value for key, spec in self.request.params.items()}
        for index, form_field in enumerate(self.fields):
            block_id = f"{PARAM_BLOCK_PREFIX}{index}"
            value, problem = _value(form_field, _element(values, block_id))
            problem = problem or validation_error(form_field.spec, value)
            if problem:
                errors[block_id] = problem
            params_input[form_field.key] = value
        return FormAnswer(chosen_options=chosen, params_input=params_input, errors=errors)


def _input_block(index: int, form_field: FormField) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": f"{PARAM_BLOCK_PREFIX}{index}",
        "label": {"type": "plain_text", "text": form_field.label},
        "optional": _optional(form_field),
        "element": _element_for(form_field),
    }
    if form_field.hint:
        block["hint"] = {"type": "plain_text", "text": form_field.hint}
    return block


def _optional(form_field: FormField) -> bool:
    """Whether Slack lets the person leave the field empty: a checkbox always (unchecked is False), any
    field whose type allows null, and a field whose empty value Airflow accepts ("" or [])."""
    if form_field.kind == "boolean" or form_field.nullable:
        return True
    empty = _EMPTY.get(form_field.kind)
    return empty is not None and validation_error(form_field.spec, empty) is None


_EMPTY: dict[str, Any] = {"text": "", "multiline": "", "multi_select": []}


def _element_for(form_field: FormField) -> dict[str, Any]:
    kind, schema, default = form_field.kind, form_field.spec.schema, form_field.spec.value
    element: dict[str, Any] = {"action_id": INPUT_ACTION}
    if kind in ("text", "multiline"):
        element.update(type="plain_text_input", multiline=kind == "multiline")
        low, high = schema.get("minLength"), schema.get("maxLength")
        if isinstance(low, int) and not isinstance(low, bool) and 0 < low <= MAX_TEXT_INPUT:
            element["min_length"] = low
        element["max_length"] = min(high, MAX_TEXT_INPUT) if isinstance(high, int) and high >= 1 else MAX_TEXT_INPUT
        if isinstance(default, str) and default and len(default) <= element["max_length"]:
            element["initial_value"] = default
    elif kind in ("integer", "number"):
        element.update(type="number_input", is_decimal_allowed=kind == "number")
        for bound, name in (("minimum", "min_value"), ("maximum", "max_value")):
            if _is_number(schema.get(bound)):
                element[name] = _number_text(schema[bound])
        if _is_number(default):
            element["initial_value"] = _number_text(default)
    elif kind == "boolean":
        option = {"text": {"type": "plain_text", "text": "Yes"}, "value": _TRUE}
        element.update(type="checkboxes", options=[option])
        if default is True:
            element["initial_options"] = [option]
    elif kind == "date":
        element["type"] = "datepicker"
        if isinstance(default, str) and _iso_date(default):
            element["initial_date"] = default
    elif kind in ("select", "multi_select"):
        items = [
            {"text": {"type": "plain_text", "text": form_field.choice_label(v)}, "value": str(i)}
            for i, v in enumerate(form_field.choices)
        ]
        element.update(type="static_select" if kind == "select" else "multi_static_select", options=items)
        if kind == "select" and default in form_field.choices:
            element["initial_option"] = items[form_field.choices.index(default)]
        if kind == "multi_select":
            listed = default if isinstance(default, list) else []
            initial = [items[form_field.choices.index(v)] for v in listed if v in form_field.choices]
            if initial:
                element["initial_options"] = initial
            most = schema.get("maxItems")
            if isinstance(most, int) and not isinstance(most, bool) and most >= 1:
                element["max_selected_items"] = most
    return element


def _element(values: Mapping[str, Any], block_id: str) -> Mapping[str, Any]:
    block = values.get(block_id)
    element = block.get(INPUT_ACTION) if isinstance(block, Mapping) else None
    return element if isinstance(element, Mapping) else {}


def _chosen(element: Mapping[str, Any], options: Sequence[str]) -> tuple[str, ...] | None:
    """The options a radio / menu / checkboxes / multi-select element holds; None when it names an option
    the request does not have."""
    selected = element.get("selected_options")
    if selected is None:
        one = element.get("selected_option")
        selected = [one] if isinstance(one, Mapping) else []
    if not isinstance(selected, list):
        return None
    chosen = {option_of(item.get("value"), options) if isinstance(item, Mapping) else None for item in selected}
    if None in chosen:
        return None
    return tuple(option for option in options if option in chosen)


def _value(form_field: FormField, element: Mapping[str, Any]) -> tuple[Any, str | None]:
    """(value, problem) of one field from its element state; the value is what goes into params_input."""
    kind = form_field.kind
    if kind == "boolean":
        selected = element.get("selected_options")
        return bool(isinstance(selected, list) and any(
            isinstance(o, Mapping) and o.get("value") == _TRUE for o in selected)), None
    if kind in ("text", "multiline"):
        text = element.get("value")
        if not isinstance(text, str) or text == "":
            return _empty(form_field, "")
        return text, None
    if kind in ("integer", "number"):
        text = element.get("value")
        if not isinstance(text, str) or not text.strip():
            return _empty(form_field, None)
        try:
            number = Decimal(text.strip())
        except InvalidOperation:
            return None, "Enter a number"
        if not number.is_finite():
            return None, "Enter a number"
        if number == number.to_integral_value():
            return int(number), None
        if kind == "integer":
            return None, "Enter a whole number"
        return float(number), None
    if kind == "date":
        picked = element.get("selected_date")
        if not isinstance(picked, str) or not picked:
            return _empty(form_field, None)
        return (picked, None) if _iso_date(picked) else (None, "Pick a date")
    if kind == "select":
        selected = element.get("selected_option")
        if not isinstance(selected, Mapping):
            return _empty(form_field, None)
        index = _index(selected.get("value"), form_field.choices)
        return (None, "Choose one of the listed values") if index is None else (form_field.choices[index], None)
    # multi_select
    selected = element.get("selected_options")
    if not isinstance(selected, list) or not selected:
        return _empty(form_field, [])
    indexes = [_index(o.get("value") if isinstance(o, Mapping) else None, form_field.choices) for o in selected]
    if None in indexes:
        return None, "Choose among the listed values"
    wanted = set(indexes)
    return [v for i, v in enumerate(form_field.choices) if i in wanted], None


def _empty(form_field: FormField, empty: Any) -> tuple[Any, str | None]:
    """The value of a field left empty: ``None`` when its type allows null, else its own empty value
    (``""``, ``[]``) for validation to judge, or "required" for a field that has none."""
    if form_field.nullable:
        return None, None
    if empty is None:
        return None, "This field is required"
    return empty, None


def _index(value: Any, choices: Sequence[Any]) -> int | None:
    if isinstance(value, str) and re.fullmatch(r"0|[1-9][0-9]*", value) and int(value) < len(choices):
        return int(value)
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _iso_date(text: str) -> bool:
    try:
        return date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# -- routing a submission to its request -------------------------------------------------------------
def form_metadata(*, channel: str, ts: str, digest: str) -> str:
    """The modal's ``private_metadata``: which request message it answers, and the form's digest. Slack
    hands it back untouched with the submission (only our app can set it), so it routes the submission;
    the person is still the payload's Slack-verified user."""
    return json.dumps({"channel": channel, "ts": ts, "form": digest}, separators=(",", ":"))


@dataclass(frozen=True)
class FormSubmission:
    """A ``view_submission`` of one of our forms.

    :param user: the Slack-verified id of the person who submitted it.
    :param channel: the channel of the request's message.
    :param ts: the request message's ts.
    :param digest: the digest of the form the modal showed (:attr:`Form.digest`).
    :param values: the view's ``state.values``.
    :param view_id: the modal's id (``views.update`` takes it).
    """

    user: str
    channel: str
    ts: str
    digest: str
    values: Mapping[str, Any]
    view_id: str | None = None

    @classmethod
    def from_payload(cls, payload: Any) -> FormSubmission | None:
        """The submission in a ``view_submission`` payload; None unless it is one of our forms with every
        field Slack always sends well formed."""
        if not isinstance(payload, Mapping) or payload.get("type") != "view_submission":
            return None
        user, view = payload.get("user"), payload.get("view")
        if not (isinstance(user, Mapping) and isinstance(view, Mapping)) or view.get("callback_id") != FORM_CALLBACK_ID:
            return None
        user_id = user.get("id")
        try:
            routing = json.loads(view.get("private_metadata") or "")
        except (TypeError, ValueError):
            return None
        state = view.get("state")
        values = state.get("values") if isinstance(state, Mapping) else None
        if not (isinstance(user_id, str) and re.fullmatch(r"[UW][A-Z0-9]+", user_id) and isinstance(routing, Mapping)):
            return None
        channel, ts, digest = routing.get("channel"), routing.get("ts"), routing.get("form")
        if not all(isinstance(v, str) and v for v in (channel, ts, digest)) or not isinstance(values, Mapping):
            return None
        view_id = view.get("id")
        return cls(
            user=user_id,
            channel=channel,  # type: ignore[arg-type]
            ts=ts,  # type: ignore[arg-type]
            digest=digest,  # type: ignore[arg-type]
            values=values,
            view_id=view_id if isinstance(view_id, str) else None,
        )
