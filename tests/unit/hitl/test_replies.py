"""A thread reply naming one of a request's options: the approvals' grammar with options for keywords."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from airflow_chat_alerts.decisions import AskPolicy, parse_reply
from airflow_chat_alerts.formatting import escape
from airflow_chat_alerts.hitl.replies import parse_option_reply, readable_options

OPTIONS = ("Deploy", "Deploy to EU", "Deploy to US", "A&B", "Canary (v1.2)", "Reject")
APP = "U0CHATALERTS"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Deploy", ("Deploy", None)),
        ("deploy to eu", ("Deploy to EU", None)),  # any case, and the longest name wins
        ("DEPLOY TO US - the EU is down", ("Deploy to US", "the EU is down")),
        ("Deploy  to\tEU", ("Deploy to EU", None)),  # any run of spaces
        ("deploy to eu: tests are green", ("Deploy to EU", "tests are green")),
        ("deploy to eu!!!", ("Deploy to EU", None)),
        ("*Deploy to EU*", ("Deploy to EU", None)),
        ("_deploy_ - fine", ("Deploy", "fine")),
        ("deploy to eu :rocket:", ("Deploy to EU", ":rocket:")),
        ("deploy to eu 🚀", ("Deploy to EU", "🚀")),
        (f"<@{APP}> deploy to eu", ("Deploy to EU", None)),
        ("A&amp;B", ("A&B", None)),  # Slack sends & < > escaped
        ("canary (v1.2) - watch the p95", ("Canary (v1.2)", "watch the p95")),
        ("Deploy\nthe numbers look right", ("Deploy", "the numbers look right")),
        ("reject - if they ask again", ("Reject", "if they ask again")),  # a refusal keeps its doubts
        # not answers
        ("deploy to asia", (None, None)),  # more words without a separator
        ("deploy?", (None, None)),
        ("deploy to eu...", (None, None)),
        ("deploy to eu - if the tests pass", (None, None)),  # a reservation
        ("deploy, but wait", (None, None)),
        ("> deploy", (None, None)),
        ("`deploy`", (None, None)),
        ("<@U0CAROL> deploy", (None, None)),  # asks Carol
        ("deployment", (None, None)),
        ("deploy-ish", (None, None)),
        ("A&B", (None, None)),  # Slack never sends a bare &: not the option as Slack shows it
        ("", (None, None)),
        ("please deploy", (None, None)),
    ],
)
def test_replies_naming_an_option(text, expected):
    assert parse_option_reply(text, OPTIONS, app_user_id=APP, unhedged={"Reject"}) == expected


def test_options_a_reply_cannot_tell_apart_are_not_readable():
    options = ("Yes", "yes", "Maybe  later", "maybe later", "   ", "Go")
    assert readable_options(options) == ("Go",)
    assert parse_option_reply("yes", options) == (None, None)
    assert parse_option_reply("go", options) == ("Go", None)


# The grammar is parse_reply's: an option's name in the keyword's place reads as the keyword does.
POLICY = AskPolicy(approve_keywords=("approve",), reject_keywords=("reject",))
tails = st.one_of(
    st.text(max_size=20),
    st.tuples(st.sampled_from(["", " ", " - ", ": ", "!", "?", "...", ", ", "\n", " :tada:", " but "]),
              st.text(max_size=10)).map("".join),
)
option_names = st.text(min_size=1, max_size=15).map(lambda s: " ".join(s.split())).filter(bool)


@given(option_names, tails, st.booleans())
def test_an_option_in_place_of_a_keyword_reads_as_the_keyword(option, tail, hedged):
    assume(option.casefold() not in ("approve", "reject"))
    text = escape(option) + tail
    keyword = "approve" if hedged else "reject"
    chosen, comment = parse_option_reply(text, [option], unhedged=() if hedged else {option})
    verdict, expected_comment = parse_reply(keyword + tail, POLICY)
    assert (chosen is not None) is (verdict is not None)
    if chosen is not None:
        assert (chosen, comment) == (option, expected_comment)


@given(option_names, tails)
def test_case_does_not_matter(option, tail):
    text = escape(option) + tail
    assume(text.upper().lower() == text.lower() and len(text.upper()) == len(text))  # no ß → SS
    assert parse_option_reply(text.upper(), [option])[0] == parse_option_reply(text.lower(), [option])[0]


@given(st.lists(st.text(max_size=12), max_size=8), st.text(max_size=40))
def test_any_reply_and_any_options_read_without_error(options, text):
    chosen, _ = parse_option_reply(text, options)
    assert chosen is None or chosen in options


@given(st.lists(option_names, min_size=2, max_size=5, unique_by=str.casefold), st.data())
def test_a_reply_that_is_exactly_an_options_name_chooses_it(options, data):
    # Longer names are tried first, and none of them can match a shorter reply, so never a prefix of it.
    option = data.draw(st.sampled_from(options))
    assert parse_option_reply(escape(option), options, unhedged=set(options)) == (option, None)


def test_the_longest_name_wins_over_one_it_starts_with():
    assert parse_option_reply("deploy to eu", ("Deploy", "Deploy to EU"))[0] == "Deploy to EU"
    assert parse_option_reply("deploy - to eu", ("Deploy", "Deploy to EU")) == ("Deploy", "to eu")
