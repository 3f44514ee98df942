"""The request value: checked as Airflow's HITLOperator checks its arguments, and JSON-safe both ways."""

from __future__ import annotations

import json
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_chat_alerts.airflow_users import AirflowUser
from airflow_chat_alerts.exceptions import ChatConfigError
from airflow_chat_alerts.hitl.request import HITLRequest, ParamSpec

# Argument sets, each either accepted or refused by Airflow's own HITLOperator (checked below).
CASES = [
    {"options": ["A", "B"]},
    {"options": ["A", "B"], "defaults": "A"},
    {"options": ["A", "B"], "defaults": ["A"]},
    {"options": ["A", "B"], "defaults": ["A", "B"], "multiple": True},
    {"options": ["A", "B"], "defaults": ["A", "B"]},  # two defaults, not multiple
    {"options": ["A", "B"], "defaults": ["C"]},  # a default that is no option
    {"options": []},
    {"options": ["A"], "params": {"_options": 1}},  # the name Airflow's form keeps for itself
    {"options": ["A"], "params": {"reason": "why"}},
    {"options": ["A"], "assigned_users": {"id": "alice", "name": "Alice"}},
    {"options": ["A"], "assigned_users": [{"id": "alice", "name": "Alice"}, {"id": "bob", "name": "Bob"}]},
]


def airflow_accepts(args: dict) -> bool:
    from airflow.providers.standard.operators.hitl import HITLOperator

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            HITLOperator(task_id="t", subject="s", **args)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("args", CASES)
def test_a_request_is_refused_exactly_when_airflow_refuses_it(args):
    try:
        HITLRequest.of(subject="s", **args)
        ours = True
    except ChatConfigError:
        ours = False
    assert ours is airflow_accepts(args)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"options": "AB"}, "options must be a list of strings"),
        ({"options": ["A", 1]}, "options must be a list of strings"),
        ({"options": ["A", "A"]}, "options has duplicates ['A']"),  # stricter than Airflow: buttons could not tell them apart
        ({"options": ["A"], "defaults": [1]}, "defaults must be a list of strings"),
        ({"options": ["A"], "multiple": "yes"}, "multiple must be True or False"),
        ({"options": ["A"], "body": 3}, "body must be text"),
        ({"options": ["A"], "assigned_users": [{"name": "x"}]}, "assigned_users[0] needs a non-empty 'id'"),
        ({"options": ["A"], "params": {"x": {"value": 1, "description": None, "schema": []}}}, "not a JSON object"),
        ({"options": ["A"], "params": {"x": object()}}, "param 'x' has a default that is not JSON"),
    ],
)
def test_bad_arguments_are_clear_errors(args, message):
    with pytest.raises(ChatConfigError) as err:
        HITLRequest.of(subject="s", **args)
    assert message in str(err.value)


def test_params_are_read_in_the_serialized_form_or_as_bare_values():
    request = HITLRequest.of(
        subject="s",
        options=["OK"],
        params={
            "reason": {"value": None, "description": "Why", "schema": {"type": ["null", "string"]}, "source": "task"},
            "count": 3,
            "blob": {"not": "a param"},  # a dict that is no serialized Param is a value, as HITLTrigger reads it
        },
    )
    assert request.params == {
        "reason": ParamSpec(value=None, schema={"type": ["null", "string"]}, description="Why"),
        "count": ParamSpec(value=3),
        "blob": ParamSpec(value={"not": "a param"}),
    }


def test_the_request_airflow_writes_is_read_as_is():
    from airflow.providers.standard.operators.hitl import HITLBranchOperator
    from airflow.sdk import Param

    op = HITLBranchOperator(
        task_id="t",
        subject="Where?",
        options=["EU", "US"],
        defaults="EU",
        params={"reason": Param("n/a", type="string", minLength=3, title="Reason", description="Why")},
        assigned_users=[{"id": "alice", "name": "Alice"}],
    )
    request = HITLRequest.of(
        subject=op.subject, options=op.options, defaults=op.defaults, multiple=op.multiple,
        params=op.serialized_params, assigned_users=op.assigned_users,
    )
    assert request.params["reason"] == ParamSpec(
        value="n/a", schema={"type": "string", "minLength": 3, "title": "Reason"}, description="Why"
    )
    assert request.assigned_users == (AirflowUser("alice", "Alice"),)
    assert {k: s.to_dict() for k, s in request.params.items()} == op.serialized_params


texts = st.text(max_size=30)
requests = st.builds(
    HITLRequest.of,
    subject=texts,
    options=st.lists(texts, min_size=1, max_size=6, unique=True),
    body=st.none() | texts,
    multiple=st.booleans(),
    params=st.dictionaries(
        st.text(min_size=1, max_size=10).filter(lambda k: k != "_options"),
        st.none() | st.integers() | texts | st.lists(st.integers(), max_size=3),
        max_size=4,
    ),
    assigned_users=st.lists(st.fixed_dictionaries({"id": st.from_regex(r"[a-z]{1,8}", fullmatch=True),
                                                    "name": st.from_regex(r"[A-Za-z]{1,8}", fullmatch=True)}),
                            max_size=3),
)


@given(requests)
def test_a_request_survives_json_and_back(request):
    assert HITLRequest.from_dict(json.loads(json.dumps(request.to_dict()))) == request


@given(requests, texts)
def test_the_options_digest_changes_with_the_options(request, extra):
    if extra in request.options:
        return
    changed = HITLRequest.of(subject=request.subject, options=[*request.options, extra])
    assert changed.options_digest != request.options_digest


def test_unknown_fields_are_refused_when_read_back():
    with pytest.raises(ChatConfigError, match="unknown Human-in-the-loop request field"):
        HITLRequest.from_dict({"subject": "s", "options": ["A"], "colour": "red"})
