"""The request's form as a Slack modal, and a submission read back and validated as Airflow validates it."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_chat_alerts.hitl import form as forms
from airflow_chat_alerts.hitl.choices import choice_value
from airflow_chat_alerts.hitl.form import Form, FormField, FormSubmission, Unsupported, read_field, validation_error
from airflow_chat_alerts.hitl.request import HITLRequest, ParamSpec

from .slack_models import assert_slack_accepts_view


def param(value: Any = None, description: str | None = None, **schema: Any) -> dict[str, Any]:
    """A param as HITLOperator.serialized_params writes it."""
    return {"value": value, "description": description, "schema": schema, "source": "task"}


RICH = {
    "reason": param("", "Why this target", type="string", title="Reason", maxLength=200),
    "notes": param(None, type=["null", "string"], format="multiline"),
    "replicas": param(3, type="integer", minimum=1, maximum=10),
    "ratio": param(0.5, type="number", minimum=0, maximum=1),
    "dry_run": param(True, type="boolean"),
    "region": param("eu", type="string", enum=["eu", "us", "asia"], values_display={"eu": "Europe"}),
    "tags": param(["a"], type="array", examples=["a", "b", "c"], maxItems=2),
    "day": param("2025-01-01", type="string", format="date"),
}


def request(params=None, options=("EU", "US"), **kwargs) -> HITLRequest:
    return HITLRequest.of(subject="Where to deploy?", options=list(options), params=params or {}, **kwargs)


# -- which params a modal holds -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "kind", "nullable"),
    [
        (param("x", type="string"), "text", False),
        (param(None, type=["null", "string"]), "text", True),
        (param("x", type="string", format="multiline"), "multiline", False),
        (param(1, type="integer"), "integer", False),
        (param(1.5, type="number"), "number", False),
        (param(None, type=["integer", "null"]), "integer", True),
        (param(False, type="boolean"), "boolean", False),
        (param("2025-01-01", type="string", format="date"), "date", False),
        (param("a", type="string", enum=["a", "b"]), "select", False),
        (param(1, enum=[1, 2, None]), "select", True),
        (param([], type="array", examples=["a", "b"]), "multi_select", False),
        (param([], type="array", items={"type": "string", "enum": ["a", "b"]}), "multi_select", False),
        (param("untyped"), "text", False),  # no type: the default's type, as Airflow's form does
        (param(7), "integer", False),
        (param(True), "boolean", False),
    ],
)
def test_params_a_modal_holds(spec, kind, nullable):
    field = read_field("p", ParamSpec.read("p", spec))
    assert isinstance(field, FormField)
    assert (field.kind, field.nullable) == (kind, nullable)


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        (param({}, type="object"), "an object"),
        (param([], type="array"), "a list without examples to choose from"),
        (param([], type="array", items={"type": "object"}), "a list without examples"),
        (param("2025-01-01T00:00:00Z", type="string", format="date-time"), "a date-time"),
        (param("12:00", type="string", format="time"), "a time"),
        (param(1, type=["string", "integer"]), "several types"),
        (param(None), "no type"),
        (param("a", enum=[[1], [2]]), "not all text or numbers"),
        (param("a", enum=[str(i) for i in range(101)]), "more than 100 values"),
        (param("a", type="strnig"), "not valid JSON schema"),
        (param("x", type="string", minLength=5000), "longer than Slack's 3,000 characters"),
    ],
)
def test_params_a_modal_cannot_hold_say_why(spec, reason):
    unsupported = read_field("p", ParamSpec.read("p", spec))
    assert isinstance(unsupported, Unsupported)
    assert reason in unsupported.reason


def test_a_param_slack_cannot_hold_is_sent_unchanged_when_its_default_is_valid():
    form = Form.of(request({"config": param({"a": 1}, type="object"), "n": param(2, type="integer")}))
    assert form.usable
    assert [k.key for k in form.kept] == ["config"]
    view = form.view(private_metadata="{}")
    assert "Sent with their defaults" in json.dumps(view) and "`config`" in json.dumps(view)
    answer = form.read(state(form, {"n": 5}, chosen=["EU"]))
    assert answer.params_input == {"config": {"a": 1}, "n": 5}


def test_a_param_slack_cannot_hold_without_a_valid_default_leaves_only_airflows_form():
    form = Form.of(request({"config": param(None, type="object")}))
    assert not form.usable
    assert [u.key for u in form.unsupported] == ["config"]
    with pytest.raises(ValueError, match="answer it in Airflow"):
        form.view(private_metadata="{}")


def test_more_fields_than_a_modal_holds_leave_only_airflows_form():
    assert Form.of(request({f"p{i}": param(i, type="integer") for i in range(98)})).usable
    assert not Form.of(request({f"p{i}": param(i, type="integer") for i in range(99)})).usable


# -- the view ------------------------------------------------------------------------------------
def test_the_modal_is_valid_block_kit_with_every_field():
    form = Form.of(request(RICH))
    view = form.view(private_metadata=forms.form_metadata(channel="C0MLALERTS", ts="1.2", digest=form.digest))
    assert_slack_accepts_view(view)
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    kinds = {b["label"]["text"]: b["element"]["type"] for b in inputs.values()}
    assert kinds == {
        "Your choice": "radio_buttons", "Reason": "plain_text_input", "notes": "plain_text_input",
        "replicas": "number_input", "ratio": "number_input", "dry_run": "checkboxes", "region": "static_select",
        "tags": "multi_static_select", "day": "datepicker",
    }
    by_label = {b["label"]["text"]: b for b in inputs.values()}
    assert by_label["Reason"]["hint"]["text"] == "Why this target"
    assert by_label["Reason"]["optional"] is True  # "" is a valid reason here
    assert by_label["replicas"]["optional"] is False
    assert by_label["replicas"]["element"] | {} == {
        "action_id": "value", "type": "number_input", "is_decimal_allowed": False,
        "min_value": "1", "max_value": "10", "initial_value": "3",
    }
    assert by_label["region"]["element"]["initial_option"]["text"]["text"] == "Europe"
    assert by_label["tags"]["element"]["max_selected_items"] == 2
    assert by_label["day"]["element"]["initial_date"] == "2025-01-01"
    assert by_label["dry_run"]["element"]["initial_options"][0]["value"] == "true"


@pytest.mark.parametrize(
    ("options", "multiple", "element"),
    [
        (("OK",), False, None),  # one option: nothing to choose (HITLEntryOperator)
        (("A", "B"), False, "radio_buttons"),
        (("A",), True, "checkboxes"),
        (tuple(f"o{i}" for i in range(11)), False, "static_select"),
        (tuple(f"o{i}" for i in range(11)), True, "multi_static_select"),
        (tuple(f"o{i}" for i in range(150)), False, "static_select"),  # in groups of 100
    ],
)
def test_the_options_input_fits_their_number(options, multiple, element):
    view = Form.of(request({"n": param(1, type="integer")}, options=options, multiple=multiple)).view(
        private_metadata="{}")
    found = [b["element"]["type"] for b in view["blocks"] if b.get("block_id") == forms.OPTIONS_BLOCK_ID]
    assert found == ([element] if element else [])
    assert_slack_accepts_view(view)


def test_the_option_pressed_is_shown_chosen_else_the_defaults():
    form = Form.of(request({"n": param(1, type="integer")}, defaults="US"))
    def initial(view):
        block = next(b for b in view["blocks"] if b.get("block_id") == forms.OPTIONS_BLOCK_ID)
        return block["element"]["initial_option"]["text"]["text"]
    assert initial(form.view(private_metadata="{}")) == "US"
    assert initial(form.view(private_metadata="{}", chosen=["EU"])) == "EU"


@given(st.text(max_size=3000), st.text(max_size=3000), st.text(max_size=300))
@settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
def test_any_titles_and_descriptions_stay_within_slacks_limits(title, description, subject):
    req = HITLRequest.of(subject=subject, options=["A", "B"],
                         params={"p": param("", description or None, type="string", title=title)})
    assert_slack_accepts_view(Form.of(req).view(private_metadata="{}", title=title or "x"))


def test_metadata_over_slacks_limit_is_refused():
    with pytest.raises(ValueError, match="private_metadata"):
        Form.of(request({"n": param(1, type="integer")})).view(private_metadata="x" * 3001)


# -- reading a submission --------------------------------------------------------------------------
def state(form: Form, answers: dict[str, Any], *, chosen=()) -> dict[str, Any]:
    """view.state.values as Slack sends them for these answers (fields left out are left empty)."""
    values: dict[str, Any] = {}
    options = form.request.options
    if len(options) > 1 or form.request.multiple:
        selected = [{"text": {"type": "plain_text", "text": o}, "value": choice_value(options.index(o), o)}
                    for o in chosen]
        kind = "checkboxes" if form.request.multiple else "radio_buttons"
        values[forms.OPTIONS_BLOCK_ID] = {"value": {"type": kind, **(
            {"selected_options": selected} if form.request.multiple else {"selected_option": (selected or [None])[0]})}}
    for index, field in enumerate(form.fields):
        value = answers.get(field.key)
        if field.kind in ("text", "multiline"):
            element = {"type": "plain_text_input", "value": value}
        elif field.kind in ("integer", "number"):
            element = {"type": "number_input", "value": None if value is None else str(value)}
        elif field.kind == "boolean":
            element = {"type": "checkboxes", "selected_options": [{"value": "true"}] if value else []}
        elif field.kind == "date":
            element = {"type": "datepicker", "selected_date": value}
        elif field.kind == "select":
            element = {"type": "static_select", "selected_option": None if value is None else
                       {"value": str(field.choices.index(value))}}
        else:
            element = {"type": "multi_static_select",
                       "selected_options": [{"value": str(field.choices.index(v))} for v in value or []]}
        values[f"{forms.PARAM_BLOCK_PREFIX}{index}"] = {"value": element}
    return values


def test_a_valid_submission_is_every_params_value():
    form = Form.of(request(RICH))
    answers = {"reason": "EU is cheaper", "notes": None, "replicas": 4, "ratio": 0.25, "dry_run": False,
               "region": "us", "tags": ["c", "a"], "day": "2025-02-03"}
    answer = form.read(state(form, answers, chosen=["US"]))
    assert answer.errors == {}
    assert answer.chosen_options == ("US",)
    assert answer.params_input == {**answers, "tags": ["a", "c"]}  # the choices' order
    assert answer.response_action() is None


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        ({"replicas": 11}, "replicas", "11 is greater than the maximum of 10"),
        ({"replicas": 0}, "replicas", "0 is less than the minimum of 1"),
        ({"replicas": None}, "replicas", "This field is required"),
        ({"ratio": "lots"}, "ratio", "Enter a number"),
        ({"replicas": 2.5}, "replicas", "Enter a whole number"),
        ({"reason": "x" * 201}, "reason", "is too long"),
        ({"tags": ["a", "b", "c"]}, "tags", "is too long"),
        ({"day": "2025-02-30"}, "day", "Pick a date"),
    ],
)
def test_an_invalid_field_is_an_error_under_that_field(answers, field, message):
    form = Form.of(request(RICH))
    defaults = {k: v["value"] for k, v in RICH.items()}
    answer = form.read(state(form, {**defaults, **answers}, chosen=["EU"]))
    index = [f.key for f in form.fields].index(field)
    block_id = f"{forms.PARAM_BLOCK_PREFIX}{index}"
    assert list(answer.errors) == [block_id]
    assert message in answer.errors[block_id]
    assert answer.response_action() == {"response_action": "errors", "errors": answer.errors}


@pytest.mark.parametrize(
    ("multiple", "chosen", "message"),
    [(False, [], "Choose an option"), (True, [], "Choose at least one option")],
)
def test_a_choice_is_required(multiple, chosen, message):
    form = Form.of(request({"n": param(1, type="integer")}, multiple=multiple))
    assert form.read(state(form, {"n": 1}, chosen=chosen)).errors == {forms.OPTIONS_BLOCK_ID: message}


def test_a_submission_naming_an_unknown_option_is_an_error_not_a_choice():
    form = Form.of(request({"n": param(1, type="integer")}))
    values = state(form, {"n": 1}, chosen=["EU"])
    values[forms.OPTIONS_BLOCK_ID]["value"]["selected_option"]["value"] = choice_value(0, "Mars")
    assert forms.OPTIONS_BLOCK_ID in form.read(values).errors


@pytest.mark.parametrize("junk", [None, 3, "x", {}, {"chat_alerts_param_0": 7}])
def test_junk_state_is_errors_never_an_exception(junk):
    form = Form.of(request({"n": param(1, type="integer")}))
    assert not form.read(junk).valid


def test_one_option_needs_no_choice():
    form = Form.of(request({"info": param("", type="string")}, options=["OK"]))
    assert form.read(state(form, {"info": "hello"})).chosen_options == ("OK",)


def test_defaults_answer_a_click_only_when_airflow_accepts_them_all():
    assert Form.of(request({"n": param(1, type="integer")})).defaults_input == {"n": 1}
    assert Form.of(request({"reason": param(None, type="string", minLength=3)})).defaults_input is None
    assert Form.of(request({})).defaults_input == {}


# -- the same verdict as Airflow's own validation ----------------------------------------------------
def airflow_accepts(spec: dict[str, Any], value: Any) -> bool:
    from airflow.sdk import Param
    from airflow.sdk.exceptions import ParamValidationError

    try:
        Param(spec["value"], spec["description"], schema=spec["schema"]).resolve(value)
    except ParamValidationError:
        return False
    return True


scalars = st.none() | st.booleans() | st.integers(-20, 20) | st.floats(-20, 20, allow_nan=False) | st.text(max_size=8)
values = scalars | st.lists(st.text(max_size=3) | st.integers(0, 3), max_size=4)


@pytest.mark.parametrize("key", sorted(RICH))
@given(value=values)
@settings(max_examples=60, deadline=None)
def test_a_value_is_refused_exactly_when_airflows_param_refuses_it(key, value):
    spec = RICH[key]
    assert (validation_error(ParamSpec.read(key, spec), value) is None) is airflow_accepts(spec, value)


answers_strategy = st.fixed_dictionaries({
    "reason": st.text(max_size=250),
    "notes": st.none() | st.text(max_size=5),
    "replicas": st.none() | st.integers(-2, 12),
    "ratio": st.none() | st.floats(-1, 2, allow_nan=False).map(lambda f: round(f, 3)),
    "dry_run": st.booleans(),
    "region": st.none() | st.sampled_from(["eu", "us", "asia"]),
    "tags": st.lists(st.sampled_from(["a", "b", "c"]), max_size=3, unique=True),
    "day": st.none() | st.dates().map(lambda d: d.isoformat()),
})


@given(answers_strategy, st.sampled_from(["EU", "US"]))
@settings(max_examples=80, deadline=None)
def test_a_submission_without_errors_is_one_airflows_operator_accepts(answers, chosen):
    """What reaches Airflow passes HITLOperator's own checks on resume; what does not is an error in Slack."""
    from airflow.providers.standard.operators.hitl import HITLOperator
    from airflow.sdk import Param

    form = Form.of(request(RICH))
    answer = form.read(state(form, answers, chosen=[chosen]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        op = HITLOperator(task_id="t", subject="s", options=["EU", "US"],
                          params={k: Param(v["value"], v["description"], **v["schema"]) for k, v in RICH.items()})
    if answer.valid:
        op.validate_chosen_options(list(answer.chosen_options))
        op.validate_params_input(answer.params_input)  # raises on anything Airflow refuses
    else:
        refused_by_airflow = {
            f.key for f in form.fields
            if not airflow_accepts(RICH[f.key], answer.params_input[f.key]) or answer.params_input[f.key] is None
        }
        erred = {form.fields[int(b.removeprefix(forms.PARAM_BLOCK_PREFIX))].key for b in answer.errors}
        assert erred <= refused_by_airflow


# -- routing a submission ----------------------------------------------------------------------------
def submission_payload(**view_overrides):
    view = {"id": "V0001", "type": "modal", "callback_id": forms.FORM_CALLBACK_ID,
            "private_metadata": forms.form_metadata(channel="C0MLALERTS", ts="1714557600.000100", digest="abc"),
            "state": {"values": {"b": {"value": {"type": "plain_text_input", "value": "x"}}}}}
    view.update(view_overrides)
    return {"type": "view_submission", "user": {"id": "U0ALICE", "username": "alice"}, "view": view,
            "trigger_id": "1.2", "team": {"id": "T0CHATALERTS"}}


def test_a_submission_names_its_request_and_its_slack_verified_person():
    assert FormSubmission.from_payload(submission_payload()) == FormSubmission(
        user="U0ALICE", channel="C0MLALERTS", ts="1714557600.000100", digest="abc",
        values={"b": {"value": {"type": "plain_text_input", "value": "x"}}}, view_id="V0001",
    )


@pytest.mark.parametrize(
    "overrides",
    [{"callback_id": "someone_elses"}, {"private_metadata": "not json"}, {"private_metadata": "{}"},
     {"private_metadata": json.dumps({"channel": "C1", "ts": 3, "form": "x"})}, {"state": None}],
)
def test_what_is_not_our_forms_submission_is_none(overrides):
    assert FormSubmission.from_payload(submission_payload(**overrides)) is None


@pytest.mark.parametrize("junk", [None, [], {"type": "view_submission"}, {"type": "block_actions"}])
def test_junk_is_no_submission(junk):
    assert FormSubmission.from_payload(junk) is None
