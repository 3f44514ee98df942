"""Slack people → Airflow users from a connection's extras (pure: table tests and hypothesis)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_chat_alerts.airflow_users import AirflowUser, AirflowUserMap
from airflow_chat_alerts.exceptions import ChatConfigError

ALICE = AirflowUser(id="alice", name="Alice")


@pytest.mark.parametrize(
    ("extras", "expected"),
    [
        ({}, {}),
        ({"airflow_users": None}, {}),
        ({"airflow_users": ""}, {}),
        ({"airflow_users": {"U0ALICE": {"id": "alice", "name": "Alice"}}}, {"U0ALICE": ALICE}),
        ({"airflow_users": {"U0ALICE": "alice"}}, {"U0ALICE": AirflowUser("alice", "alice")}),
        ({"airflow_users": {"U0ALICE": {"id": "alice"}}}, {"U0ALICE": AirflowUser("alice", "alice")}),
        ({"airflow_users": {"W0ENT": {"id": 7, "name": "Ent"}}}, {"W0ENT": AirflowUser("7", "Ent")}),  # FAB's ids
        ({"airflow_users": ' {"U0ALICE": {"id": "alice", "name": "Alice"}} '}, {"U0ALICE": ALICE}),  # JSON text
        ({"airflow_users": {" U0ALICE ": {"id": " alice ", "name": " Alice "}}}, {"U0ALICE": ALICE}),
    ],
)
def test_the_mapping_is_read_from_the_extras(extras, expected):
    assert AirflowUserMap.from_extras(extras).by_slack_id == expected


@pytest.mark.parametrize(
    ("extras", "message"),
    [
        ({"airflow_users": "{not json"}, "airflow_users is not valid JSON"),
        ({"airflow_users": ["U0ALICE"]}, "must map Slack user ids to Airflow users, like"),
        ({"airflow_users": {"alice": {"id": "alice"}}}, "keys are Slack user ids (U… or W…"),
        ({"airflow_users": {"alice@example.com": "alice"}}, "not names or e-mails"),
        ({"airflow_users": {"C0CHANNEL": "alice"}}, "keys are Slack user ids"),
        ({"airflow_users": {"U0ALICE": {"name": "Alice"}}}, "airflow_users['U0ALICE'] needs a non-empty 'id'"),
        ({"airflow_users": {"U0ALICE": {"id": ""}}}, "needs a non-empty 'id'"),
        ({"airflow_users": {"U0ALICE": ""}}, "needs a non-empty 'id'"),
        ({"airflow_users": {"U0ALICE": {"id": True}}}, "needs a non-empty 'id'"),
        ({"airflow_users": {"U0ALICE": {"id": "alice", "name": 3}}}, "has a 'name' that is not text"),
        ({"airflow_users": {"U0ALICE": {"id": "alice", "email": "a@x"}}}, "unknown key(s) 'email'"),
        ({"airflow_users": {"U0ALICE": ["alice"]}}, "must be {'id': …, 'name': …}"),
        ({"airflow_users_by_email": "sometimes"}, "airflow_users_by_email must be true or false"),
    ],
)
def test_a_malformed_mapping_is_a_clear_error(extras, message):
    with pytest.raises(ChatConfigError) as err:
        AirflowUserMap.from_extras(extras)
    assert message in str(err.value)


def test_an_error_quotes_a_long_value_short():
    with pytest.raises(ChatConfigError) as err:
        AirflowUserMap.from_extras({"airflow_users": {"x" * 500: "alice"}})
    assert len(str(err.value)) < 300


@pytest.mark.parametrize(
    ("by_email", "slack_id", "email", "expected"),
    [
        (False, "U0ALICE", None, ALICE),
        (False, "U0BOB", "bob@example.com", None),  # not listed, no e-mail mapping
        (True, "U0BOB", "bob@example.com", AirflowUser("bob@example.com", "bob@example.com")),
        (True, "U0BOB", None, None),  # e-mail unknown
        (True, "U0BOB", "  ", None),
        (True, "U0ALICE", "other@example.com", ALICE),  # the listed mapping wins
    ],
)
def test_who_a_slack_person_is_in_airflow(by_email, slack_id, email, expected):
    users = AirflowUserMap(by_slack_id={"U0ALICE": ALICE}, by_email=by_email)
    assert users.airflow_user(slack_id, email=email) == expected


@pytest.mark.parametrize("flag", [True, "true", "True", "1", "yes"])
def test_by_email_reads_a_flag(flag):
    assert AirflowUserMap.from_extras({"airflow_users_by_email": flag}).needs_email


@pytest.mark.parametrize(
    ("slack_id", "assigned", "expected"),
    [
        ("U0BOB", [], True),  # nobody assigned: anyone may answer (Airflow's rule)
        ("U0ALICE", [ALICE], True),
        ("U0ALICE", [AirflowUser("alice", "Another name")], True),  # compared by id, as Airflow does
        ("U0BOB", [ALICE], False),  # not mapped
        ("U0CAROL", [ALICE], False),  # mapped to someone not assigned
    ],
)
def test_assigned_users_are_enforced_for_slack_people(slack_id, assigned, expected):
    users = AirflowUserMap(by_slack_id={"U0ALICE": ALICE, "U0CAROL": AirflowUser("carol", "Carol")})
    assert users.may_answer(slack_id, assigned) is expected


def test_the_slack_people_of_assigned_users_are_known_for_mentions():
    users = AirflowUserMap(by_slack_id={"U0ALICE": ALICE, "W0ALICE2": ALICE, "U0CAROL": AirflowUser("carol", "C")})
    assert users.slack_ids_of([ALICE]) == {"U0ALICE", "W0ALICE2"}


slack_ids = st.from_regex(r"[UW][A-Z0-9]{2,10}", fullmatch=True)
users_strategy = st.builds(
    AirflowUser,
    id=st.text(min_size=1).filter(lambda s: s.strip() == s and s),
    name=st.text(min_size=1).filter(lambda s: s.strip() == s and s),
)


@given(st.dictionaries(slack_ids, users_strategy, max_size=5))
def test_the_extra_as_json_text_reads_as_the_object(mapping):
    raw = {slack_id: user.to_dict() for slack_id, user in mapping.items()}
    from_object = AirflowUserMap.from_extras({"airflow_users": raw})
    from_text = AirflowUserMap.from_extras({"airflow_users": json.dumps(raw)})
    assert from_object == from_text
    assert dict(from_object.by_slack_id) == mapping


@given(st.dictionaries(slack_ids, users_strategy, max_size=5), slack_ids, st.lists(users_strategy, max_size=3))
def test_may_answer_is_membership_of_the_mapped_id(mapping, person, assigned):
    users = AirflowUserMap(by_slack_id=mapping)
    mapped = mapping.get(person)
    expected = not assigned or (mapped is not None and mapped.id in {u.id for u in assigned})
    assert users.may_answer(person, assigned) is expected
