"""Where a question is asked and how it waits: the arguments checked when the DAG is parsed (pure)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_chat_alerts.chat_wait import ChatWait, Destination, positive_seconds
from airflow_chat_alerts.exceptions import ChatConfigError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, Destination()),
        ("C0MLALERTS", Destination(channel="C0MLALERTS")),
        ("ml-alerts", Destination(channel="ml-alerts")),
        ("#ml-alerts", Destination(channel="#ml-alerts")),
        ("{{ var.value.channel }}", Destination(channel="{{ var.value.channel }}")),  # a template, read at run time
        (" U0ALICE ", Destination(people=("U0ALICE",))),
        ("W0ENTERPRISE", Destination(people=("W0ENTERPRISE",))),
        (["U0ALICE"], Destination(people=("U0ALICE",))),
        (["U0ALICE", "U0BOB", "U0ALICE"], Destination(people=("U0ALICE", "U0BOB"))),
        (tuple(f"U0P{i}" for i in range(8)), Destination(people=tuple(f"U0P{i}" for i in range(8)))),
    ],
)
def test_where_a_question_goes(value, expected):
    assert Destination.of(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("  ", "channel is empty"),
        ([], "names 0 people"),
        ([f"U0P{i}" for i in range(9)], "holds 1 to 8"),
        (["alice"], "Slack user ids (U… or W…)"),
        (["C0MLALERTS"], "Slack user ids"),
        (["U0ALICE", 3], "Slack user ids"),
        (42, "channel must be a channel, a Slack user id or a list of them"),
    ],
)
def test_a_bad_destination_is_a_clear_error(value, message):
    with pytest.raises(ChatConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Destination.of(value)


def test_people_are_asked_directly():
    assert Destination.of(["U0ALICE", "U0BOB"]).direct and not Destination.of("C0X").direct


def test_the_wait_in_seconds_or_timedeltas():
    assert ChatWait.of(poll_interval=timedelta(seconds=5), reconcile_interval=60, remind_after=timedelta(hours=1),
                       max_reminders=0) == ChatWait(5.0, 60.0, 3600.0, 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"poll_interval": 0}, "poll_interval must be a positive number"),
        ({"poll_interval": float("nan")}, "poll_interval must be a positive number"),
        ({"poll_interval": True}, "poll_interval must be a positive number"),
        ({"reconcile_interval": timedelta(seconds=-1)}, "reconcile_interval must be a positive number"),
        ({"poll_interval": 20, "reconcile_interval": 10}, "must be at least poll_interval"),
        ({"remind_after": "1h"}, "remind_after must be a positive number"),
        ({"max_reminders": -1}, "max_reminders must be a whole number"),
        ({"max_reminders": 1.5}, "max_reminders must be a whole number"),
    ],
)
def test_a_bad_wait_is_a_clear_error(kwargs, message):
    with pytest.raises(ChatConfigError, match=message):
        ChatWait.of(**kwargs)


@given(st.floats(min_value=1e-3, max_value=1e9) | st.integers(1, 10**9))
def test_positive_seconds_keeps_the_figure(value):
    assert positive_seconds(value, "x") == float(value)
    assert positive_seconds(timedelta(seconds=float(value)), "x") == pytest.approx(float(value))
