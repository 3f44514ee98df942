"""Reply parsing, the ask policy and the decision rules (pure: table tests and hypothesis)."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from airflow_chat_alerts.decisions import (
    AskPolicy,
    Decision,
    evaluate,
    normalise_reaction,
    normalise_reply,
    parse_reply,
)
from airflow_chat_alerts.exceptions import ChatConfigError
from airflow_chat_alerts.model import Answer

Q = "1700000000.000100"  # the question's ts
POLICY = AskPolicy()


def reply(user: str, text: str, ts: str, **kw) -> Answer:
    return Answer(kind="reply", user=user, text=text, ts=ts, **kw)


def react(user: str, emoji: str, ts: str = "", **kw) -> Answer:
    return Answer(kind="reaction", user=user, text=emoji, ts=ts, **kw)


def ts(n: int) -> str:
    """The n-th ts after the question."""
    return f"17000000{n + 1:02d}.000200"


# ---------------------------------------------------------------------------------------------------
# normalise_reply / parse_reply
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Approve", "approve"),
        ("  LGTM!!!  ", "lgtm"),
        ("<@U0BOT> approve", "approve"),
        ("<@U0BOT|chat-alerts> approve", "approve"),
        ("<#C0123|ml-alerts> ok", "ok"),
        ("<!subteam^S0LEADS|@ml-leads> yes", "yes"),
        ("<!here> no", "no"),
        ("<https://example.com/x|approve this> reject", "reject"),
        (":white_check_mark: approve :tada:", "approve"),
        (":+1::skin-tone-3: yes", "yes"),
        ("approve &amp; ship &lt;now&gt;", "approve ship now"),
        ("*approve*", "approve"),
        ("_approve_", "approve"),
        ("no,\n\twait", "no wait"),
        ("don't", "don t"),
        ("Ça VA", "ça va"),
        ("", ""),
        (":tada: <@U1>", ""),
        ("@bot Approve", "approve"),
        ("mail me@example.com ok", "mail me example com ok"),
    ],
)
def test_normalise_reply(text, expected):
    assert normalise_reply(text) == expected


APP = "U0APP"  # the app's own user id


@pytest.mark.parametrize(
    ("text", "verdict", "comment"),
    [
        # a keyword alone, in any case, inside bold or italics, after a mention of the app
        ("approve", "approve", None),
        ("Approve  \n", "approve", None),
        ("no", "reject", None),
        ("No.", "reject", None),
        ("approved!!!", "approve", None),
        ("*approve*", "approve", None),
        ("_approve_", "approve", None),
        ("*_LGTM_*", "approve", None),
        ("*no*", "reject", None),
        ("<@U0APP> approve", "approve", None),
        ("<@U0APP|chat-alerts>: reject: too early", "reject", "too early"),
        ("<@U0APP>, yes", "approve", None),
        # a keyword, a separator, a comment
        ("approve - looks good", "approve", "looks good"),
        ("approve: looks good", "approve", "looks good"),
        ("approve — looks good", "approve", "looks good"),
        ("approve–looks good", "approve", "looks good"),  # unicode dashes need no spaces
        ("LGTM, ship it", "approve", "ship it"),
        ("approve; fine", "approve", "fine"),
        ("yes! ship it", "approve", "ship it"),
        ("approve\nlooks good", "approve", "looks good"),
        ("reject: not now", "reject", "not now"),
        ("reject - numbers look off", "reject", "numbers look off"),
        ("no, wait", "reject", "wait"),  # a rejection's doubts make it no less a rejection
        ("*approve - fine*", "approve", "fine"),
        ("yes, really", "approve", "really"),
        # a keyword then nothing but emoji: the emoji are the comment
        ("approve :tada:", "approve", ":tada:"),
        ("LGTM 🚀", "approve", "🚀"),
        ("yes 👍🏽", "approve", "👍🏽"),
        ("ok :)", "approve", ":)"),
        ("approve :+1::skin-tone-2:", "approve", ":+1::skin-tone-2:"),
        # a keyword followed by a question or a hesitation
        ("approve?", None, None),
        ("yes? what is this about", None, None),
        ("approve ?", None, None),
        ("ok!?", None, None),
        ("yes...", None, None),
        ("ok…", None, None),
        # a keyword followed by more words without a separator: a hedge, not an answer
        ("OK wait, this looks wrong", None, None),
        ("No objections, ship it", None, None),
        ("yes I think so", None, None),
        ("approve 🎉 ship it", None, None),
        ("approve <https://ci.example.com/run/42|the run>", None, None),
        ("ok-ish", None, None),
        ("no-go", None, None),
        # an approval whose comment opens with a reservation or a condition
        ("yes, but wait", None, None),
        ("approve - if the rerun passes", None, None),
        ("LGTM. However, the recall dropped", None, None),
        ("approve\nbut check the drift first", None, None),
        ("ok: not sure", None, None),
        # anything before the keyword
        ("> approve", None, None),
        ("&gt; approve", None, None),  # a quote, as Slack sends it
        ("`approve`", None, None),
        ("```approve```", None, None),
        ("~approve~", None, None),
        (":white_check_mark: approve", None, None),
        ("✅ approve", None, None),
        ("<@U0CAROL> approve", None, None),  # asks Carol to approve
        ("<!here> approve", None, None),
        ("@bot approve", None, None),  # typed, not a mention: cannot be told from "@carol approve"
        ("I approve", None, None),
        ("know what, approve", None, None),
        # not a keyword
        ("nope", None, None),
        ("okay", None, None),
        ("approves", None, None),
        ("not now", None, None),
        ("", None, None),
    ],
)
def test_parse_reply(text, verdict, comment):
    assert parse_reply(text, POLICY, app_user_id=APP) == (verdict, comment)


def test_a_mention_of_the_app_needs_its_user_id():
    assert parse_reply("<@U0APP> approve", POLICY) == (None, None)
    assert parse_reply("<@U0APP> approve", POLICY, app_user_id="U0OTHER") == (None, None)


@pytest.mark.parametrize(
    ("text", "comment"),
    [
        ("reject — ask <@U0CAROL> first", "ask @U0CAROL first"),
        ("reject - ask <@U0CAROL|carol> first", "ask @carol first"),
        ("no - see <#C0123|ml-alerts> and <#C0456>", "see #ml-alerts and #C0456"),
        ("no - <!subteam^S0LEADS|@ml-leads> and <!here> should look", "@ml-leads and @here should look"),
        ("no - see <https://ci.example.com/run/42|the run> or <https://ci.example.com>", "see the run or https://ci.example.com"),
        ("no - drift &amp; recall &lt;0.8&gt;", "drift & recall <0.8>"),
        ("no - &amp;lt; stays escaped once", "&lt; stays escaped once"),
        ("no - *really* _not_ ~now~ `x` ```y```", "really not now x y"),
        ("no - snake_case_name and 2*3*4 stay", "snake_case_name and 2*3*4 stay"),
        ("no - keep :tada: codes", "keep :tada: codes"),
        ("no -  several   spaces\n\tand lines ", "several spaces and lines"),
        ("no - \n\t ", None),
        ("no - <@U1|>", "@U1"),
    ],
)
def test_comments_are_plain_readable_text(text, comment):
    assert parse_reply(text, POLICY) == ("reject", comment)


def test_longest_keyword_wins():
    policy = AskPolicy(approve_keywords=["no problem", "ship it"], reject_keywords=["no", "ship"])
    assert parse_reply("No problem, go", policy) == ("approve", "go")
    assert parse_reply("no-problem", policy) == ("approve", None)
    assert parse_reply("no  problem", policy) == ("approve", None)
    assert parse_reply("no - problems everywhere", policy) == ("reject", "problems everywhere")
    assert parse_reply("no. problem is the data", policy) == ("reject", "problem is the data")
    assert parse_reply("no problems", policy) == (None, None)
    assert parse_reply("ship it!", policy) == ("approve", None)
    assert parse_reply("ship: later", policy) == ("reject", "later")


def test_keywords_with_punctuation_and_other_scripts():
    policy = AskPolicy(approve_keywords=["Ça va", "don't wait"], reject_keywords=["nein"])
    assert parse_reply("ÇA VA!", policy) == ("approve", None)
    assert parse_reply("don't wait - go", policy) == ("approve", "go")
    assert parse_reply("Nein.", policy) == ("reject", None)


def test_parsing_is_cached_per_text_and_keywords():
    from airflow_chat_alerts import decisions

    text = "approve - a text seen for the first time 7f3a"
    before = decisions._parse_reply.cache_info()
    for _ in range(3):
        assert parse_reply(text, AskPolicy(approvers=["U1"]), app_user_id=APP) == ("approve", "a text seen for the first time 7f3a")
    after = decisions._parse_reply.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 2)
    long = "reject - " + "a long reason " * 100  # read, but not kept: a flood of long texts cannot grow the cache
    assert parse_reply(long, POLICY) == ("reject", long[9:].strip())
    assert decisions._parse_reply.cache_info()[:2] == after[:2]
    assert hash(AskPolicy()) == hash(AskPolicy.from_dict(AskPolicy().to_dict()))


WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)
KEYWORDS = POLICY.approve_keywords + POLICY.reject_keywords


@given(keyword=st.sampled_from(KEYWORDS), suffix=WORD, rest=st.text(max_size=30))
def test_keyword_never_matches_as_a_prefix_of_a_longer_word(keyword, suffix, rest):
    longer = keyword + suffix
    assume(longer not in KEYWORDS)  # "approved" is its own keyword
    assert parse_reply(longer + " " + rest, POLICY) == (None, None)


COMMENT = st.text(alphabet="abcdefghij klmnop", max_size=30).map(str.strip).filter(
    lambda c: c.split(" ")[0] not in ("if", "not", "once", "only", "hold")  # hedges spelt by this alphabet
)


@given(
    keyword=st.sampled_from(KEYWORDS),
    sep=st.sampled_from([" - ", ": ", " — ", "–", ", ", "! ", ". ", "; ", "\n", " -\n "]),
    comment=COMMENT,
    case=st.sampled_from([str, str.upper, str.title]),
)
def test_keyword_separator_comment(keyword, sep, comment, case):
    expected = "approve" if keyword in POLICY.approve_keywords else "reject"
    assert parse_reply(case(keyword) + sep + comment, POLICY) == (expected, " ".join(comment.split()) or None)


@given(keyword=st.sampled_from(KEYWORDS), comment=st.text(alphabet="abcdefghij klmnop", min_size=1, max_size=30))
def test_keyword_then_words_without_a_separator_never_counts(keyword, comment):
    assume(comment.strip())
    assert parse_reply(f"{keyword} {comment.strip()}", POLICY) == (None, None)
    assert parse_reply(f"{keyword}? {comment}", POLICY) == (None, None)


@given(keyword=st.sampled_from(KEYWORDS), prefix=st.sampled_from(["> ", "&gt; ", "`", "```", "~", ":eyes: ", "<@U0CAROL> "]))
def test_nothing_but_the_app_mention_may_come_before_the_keyword(keyword, prefix):
    assert parse_reply(prefix + keyword, POLICY, app_user_id=APP) == (None, None)


@given(st.text())
def test_normalise_reply_is_idempotent_and_tidy(text):
    once = normalise_reply(text)
    assert normalise_reply(once) == once
    assert once == once.strip() and "  " not in once and once == once.lower()


@given(st.text())
def test_parse_reply_never_crashes_and_starts_with_its_keyword(text):
    verdict, comment = parse_reply(text, POLICY, app_user_id=APP)
    first = normalise_reply(text).split(" ")[0]
    if verdict == "approve":
        assert first in POLICY.approve_keywords
    elif verdict == "reject":
        assert first in POLICY.reject_keywords
    else:
        assert comment is None
    assert comment is None or (comment == " ".join(comment.split()) and comment)


# ---------------------------------------------------------------------------------------------------
# AskPolicy
# ---------------------------------------------------------------------------------------------------
def test_policy_defaults_and_normalisation():
    policy = AskPolicy(
        approve_keywords=["Ship It!", "ship it", "LGTM"],
        reject_keywords="Nope",
        approve_reactions=[":thumbsup:", "+1", "rocket"],
        reject_reactions=["thumbsdown"],
        approvers=["U0ALICE", " S0LEADS "],
    )
    assert policy.approve_keywords == ("ship it", "lgtm")
    assert policy.reject_keywords == ("nope",)
    assert policy.approve_reactions == ("+1", "rocket")
    assert policy.reject_reactions == ("-1",)
    assert policy.approvers == ("U0ALICE", "S0LEADS")
    assert policy.users == {"U0ALICE"} and policy.groups == {"S0LEADS"}
    assert AskPolicy().approve_keywords == ("approve", "approved", "lgtm", "ok", "yes")
    assert AskPolicy().reject_reactions == ("x", "-1", "no_entry")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"approve_keywords": ["ok", "Go"], "reject_keywords": ["go!", "no"]}, "overlap on 'go'"),
        ({"approve_reactions": ["thumbsup"], "reject_reactions": ["+1", "x"]}, "overlap on '+1'"),
        ({"approve_keywords": []}, "approve_keywords is empty"),
        ({"reject_reactions": []}, "reject_reactions is empty"),
        ({"approve_keywords": ["ok", "!!!"]}, "'!!!', which has no words"),
        ({"approve_keywords": [1]}, "list of strings"),
        ({"required_approvals": 0}, "at least 1"),
        ({"required_approvals": "2"}, "must be an integer"),
        ({"approvers": ["U1", "U2"], "required_approvals": 3}, "only 2 approver(s)"),
        ({"approvers": ["U1", "U1"], "required_approvals": 2}, "only 1 approver(s)"),
        ({"approvers": ["@alice", "U1", "C0123"]}, "'@alice', 'C0123'"),
        ({"approvers": []}, "approvers is empty"),
    ],
)
def test_policy_rejects_bad_config(kwargs, message):
    with pytest.raises(ChatConfigError) as err:
        AskPolicy(**kwargs)
    assert message in str(err.value)


def test_policy_quorum_larger_than_named_users_is_fine_with_a_group():
    assert AskPolicy(approvers=["U1", "S1"], required_approvals=3).required_approvals == 3


KEYWORD_LISTS = st.lists(WORD, min_size=1, max_size=4, unique=True)
EMOJI_LISTS = st.lists(st.text(alphabet="abcdefghijk_+-0123", min_size=1, max_size=10), min_size=1, max_size=3)


@st.composite
def policies(draw):
    approve = draw(KEYWORD_LISTS)
    reject = draw(KEYWORD_LISTS.filter(lambda r: not set(r) & set(approve)))
    approve_r = draw(EMOJI_LISTS.filter(lambda r: "" not in {normalise_reaction(x) for x in r}))
    reject_r = draw(
        EMOJI_LISTS.filter(
            lambda r: "" not in {normalise_reaction(x) for x in r}
            and not {normalise_reaction(x) for x in r} & {normalise_reaction(x) for x in approve_r}
        )
    )
    approvers = draw(st.none() | st.lists(st.sampled_from(["U1", "U2", "W3", "S9"]), min_size=1, unique=True))
    named = len([a for a in approvers or [] if a[0] != "S"])
    top = named if approvers and "S9" not in approvers else 4
    required = draw(st.integers(1, max(top, 1)))
    return AskPolicy(approve, reject, approve_r, reject_r, approvers, required)


@given(policies())
def test_policy_round_trips_through_json(policy):
    data = json.loads(json.dumps(policy.to_dict()))
    assert AskPolicy.from_dict(data) == policy


def test_policy_from_dict_rejects_unknown_fields_and_fills_defaults():
    with pytest.raises(ChatConfigError, match="unknown ask policy field"):
        AskPolicy.from_dict({"approvers": None, "quorum": 2})
    assert AskPolicy.from_dict({"required_approvals": 1}) == AskPolicy()


def test_reaction_normalisation():
    assert normalise_reaction(":+1::skin-tone-4:") == "+1"
    assert normalise_reaction("thumbsup") == "+1"
    assert normalise_reaction("ThumbsDown::skin-tone-2") == "-1"
    assert POLICY.reaction_verdict("heavy_check_mark") == "approve"
    assert POLICY.reaction_verdict("no_entry") == "reject"
    assert POLICY.reaction_verdict("tada") is None


# ---------------------------------------------------------------------------------------------------
# evaluate
# ---------------------------------------------------------------------------------------------------
def test_nothing_yet_is_pending():
    assert evaluate([], POLICY, question_ts=Q) == Decision("pending")


def test_approve_by_reply():
    d = evaluate([reply("U1", "LGTM - ship it", ts(1))], POLICY, question_ts=Q)
    assert d == Decision("approved", ("U1",), ts(1), "ship it", 1)
    assert d.approved and d.decided


def test_approve_by_reaction_with_skin_tone():
    d = evaluate([react("U1", "+1::skin-tone-2", ts(1))], POLICY, question_ts=Q)
    assert (d.outcome, d.by, d.at) == ("approved", ("U1",), ts(1))


def test_reject_with_reason():
    d = evaluate([reply("U2", "reject - numbers look off", ts(1))], POLICY, question_ts=Q)
    assert d == Decision("rejected", ("U2",), ts(1), "numbers look off", 0)


def test_chatter_does_not_count():
    answers = [reply("U1", "what is the accuracy on the holdout?", ts(1)), react("U2", "eyes", ts(2))]
    assert evaluate(answers, POLICY, question_ts=Q).outcome == "pending"


def test_bots_and_the_app_itself_are_ignored():
    answers = [
        reply("B1", "approve", ts(1), is_bot=True),
        react("U0APP", "white_check_mark", ts(2)),
        reply("U0APP", "approve", ts(3)),
    ]
    assert evaluate(answers, POLICY, question_ts=Q, self_user_id="U0APP").outcome == "pending"


def test_replies_before_the_question_are_ignored():
    answers = [reply("U1", "approve", "1600000000.000001"), reply("U1", "approve", Q)]
    assert evaluate(answers, POLICY, question_ts=Q).outcome == "pending"


def test_only_named_approvers_count():
    policy = AskPolicy(approvers=["U0ALICE"])
    answers = [reply("U0DAVE", "reject", ts(1)), reply("U0ALICE", "approve", ts(2))]
    assert evaluate(answers, policy, question_ts=Q).by == ("U0ALICE",)


def test_group_members_count_and_groups_must_be_resolved():
    policy = AskPolicy(approvers=["S0LEADS"])
    answers = [reply("U0DAVE", "approve", ts(1)), react("U0CAROL", "white_check_mark", ts(2))]
    d = evaluate(answers, policy, question_ts=Q, group_members={"S0LEADS": frozenset({"U0ALICE", "U0CAROL"})})
    assert (d.outcome, d.by) == ("approved", ("U0CAROL",))
    with pytest.raises(ChatConfigError, match="S0LEADS not resolved"):
        evaluate(answers, policy, question_ts=Q)


def test_quorum_counts_distinct_people():
    policy = AskPolicy(required_approvals=2)
    same_person = [reply("U1", "approve", ts(1)), reply("U1", "yes", ts(2)), react("U1", "+1", ts(3))]
    d = evaluate(same_person, policy, question_ts=Q)
    assert (d.outcome, d.by, d.approvals) == ("pending", ("U1",), 1)
    d = evaluate([*same_person, react("U2", "heavy_check_mark", ts(4))], policy, question_ts=Q)
    assert (d.outcome, d.by, d.at, d.approvals) == ("approved", ("U1", "U2"), ts(4), 2)


def test_rejection_vetoes_approvals():
    policy = AskPolicy(required_approvals=2)
    answers = [reply("U1", "approve", ts(1)), reply("U2", "no, wait for the rerun", ts(2)), reply("U3", "yes", ts(3))]
    d = evaluate(answers, policy, question_ts=Q)
    assert d == Decision("rejected", ("U2",), ts(2), "wait for the rerun", 1)


def test_first_decision_stands():
    answers = [reply("U1", "approve", ts(1)), reply("U2", "reject", ts(2))]
    assert evaluate(answers, POLICY, question_ts=Q).outcome == "approved"
    assert evaluate(answers[::-1], POLICY, question_ts=Q).outcome == "approved"  # time order, not list order


def test_same_user_approving_then_rejecting_vetoes_while_undecided():
    policy = AskPolicy(required_approvals=2)
    answers = [reply("U1", "approve", ts(1)), reply("U1", "reject - actually no", ts(2)), reply("U2", "ok", ts(3))]
    d = evaluate(answers, policy, question_ts=Q)
    assert (d.outcome, d.by, d.comment) == ("rejected", ("U1",), "actually no")


def test_reactions_of_unknown_time_resolve_doubt_towards_rejection():
    # An unknown-time rejection may have come first; an unknown-time approval may have come last.
    assert evaluate([reply("U1", "approve", ts(1)), react("U2", "x")], POLICY, question_ts=Q).by == ("U2",)
    assert evaluate([react("U1", "+1"), reply("U2", "no", ts(1))], POLICY, question_ts=Q).by == ("U2",)
    assert evaluate([react("U1", "+1"), react("U2", "x")], POLICY, question_ts=Q).by == ("U2",)
    alone = evaluate([react("U1", "+1"), reply("U2", "thinking", ts(1))], POLICY, question_ts=Q)
    assert (alone.outcome, alone.by, alone.at) == ("approved", ("U1",), "")
    # Known times: first come, first decided; at the same ts the rejection is weighed first.
    assert evaluate([react("U1", "+1", ts(1)), reply("U2", "no", ts(2))], POLICY, question_ts=Q).by == ("U1",)
    assert evaluate([react("U1", "+1", ts(2)), react("U2", "x", ts(2))], POLICY, question_ts=Q).by == ("U2",)


def test_unknown_time_reactions_are_kept_after_the_cutoff():
    quorum = AskPolicy(required_approvals=2)
    answers = [reply("U1", "approve", ts(1)), react("U2", "+1"), react("U3", "+1", ts(9))]
    d = evaluate(answers, quorum, question_ts=Q, decided_before=ts(5))
    assert (d.outcome, d.by) == ("approved", ("U1", "U2"))


def test_edits_count_from_their_edit_time():
    # U2 rejected at 2; U1's reply was edited into an approval at 3: the rejection came first.
    answers = [reply("U1", "approve", ts(1), edited_ts=ts(3)), reply("U2", "reject", ts(2))]
    assert evaluate(answers, POLICY, question_ts=Q).outcome == "rejected"


def test_answers_and_edits_after_the_decision_are_ignored():
    answers = [
        reply("U1", "reject", ts(1), edited_ts=ts(5)),  # edited after the decision: we no longer know what it said
        reply("U2", "reject", ts(4)),
        reply("U3", "approve", ts(2)),
    ]
    d = evaluate(answers, POLICY, question_ts=Q, decided_before=ts(3))
    assert (d.outcome, d.by) == ("approved", ("U3",))


# The veto and ordering rules, one row each (the module docstring and the README state them).
def click(user: str, verdict: str, ts: str) -> Answer:
    return Answer(kind="button", user=user, text=verdict, ts=ts)


@pytest.mark.parametrize(
    ("quorum", "answers", "outcome", "by"),
    [
        # an approval and a rejection seen in the same read: the earlier decides; unknown time → rejection
        (1, [reply("U1", "approve", ts(1)), reply("U2", "reject", ts(2))], "approved", ("U1",)),
        (1, [reply("U1", "approve", ts(2)), reply("U2", "reject", ts(1))], "rejected", ("U2",)),
        (1, [reply("U1", "approve", ts(1)), react("U2", "x")], "rejected", ("U2",)),
        (1, [react("U1", "+1"), reply("U2", "no", ts(1))], "rejected", ("U2",)),
        (1, [react("U1", "+1"), react("U2", "x")], "rejected", ("U2",)),
        (1, [click("U1", "approve", ts(2)), click("U2", "reject", ts(2))], "rejected", ("U2",)),  # same time
        # one person approving then rejecting: the approval decided alone; with a quorum still waiting, a veto
        (1, [reply("U1", "approve", ts(1)), reply("U1", "reject", ts(2))], "approved", ("U1",)),
        (2, [reply("U1", "approve", ts(1)), reply("U1", "reject", ts(2)), reply("U2", "ok", ts(3))], "rejected", ("U1",)),
        (2, [react("U1", "+1"), reply("U1", "reject", ts(1))], "rejected", ("U1",)),
        (1, [reply("U1", "approve", ts(1)), react("U1", "x")], "rejected", ("U1",)),  # it may have come first
        # one person rejecting then approving: the rejection decided
        (1, [reply("U1", "reject", ts(1)), reply("U1", "approve", ts(2))], "rejected", ("U1",)),
        (2, [reply("U1", "reject", ts(1)), reply("U1", "approve", ts(2)), reply("U2", "ok", ts(3))], "rejected", ("U1",)),
        # a rejection vetoes however many approved before it, while undecided
        (3, [reply("U1", "ok", ts(1)), reply("U2", "ok", ts(2)), reply("U3", "no", ts(3))], "rejected", ("U3",)),
        # distinct approvers: the same person by reply, reaction and click is one approval
        (2, [reply("U1", "ok", ts(1)), react("U1", "+1"), click("U1", "approve", ts(3))], "pending", ("U1",)),
        (2, [reply("U1", "ok", ts(1)), react("U2", "+1")], "approved", ("U1", "U2")),
        # once reached, later answers change nothing
        (2, [reply("U1", "ok", ts(1)), reply("U2", "ok", ts(2)), reply("U3", "no", ts(3))], "approved", ("U1", "U2")),
        # the latest text of an edited reply, at its edit time; a deleted reply is absent
        (1, [reply("U1", "approve", ts(1), edited_ts=ts(3)), reply("U2", "reject", ts(2))], "rejected", ("U2",)),
        (1, [reply("U1", "reject - changed my mind", ts(1), edited_ts=ts(2))], "rejected", ("U1",)),
        (2, [reply("U1", "hmm, not sure", ts(1), edited_ts=ts(2)), reply("U2", "ok", ts(3))], "pending", ("U2",)),
        (1, [], "pending", ()),
    ],
)
def test_veto_and_ordering_rules(quorum, answers, outcome, by):
    d = evaluate(answers, AskPolicy(required_approvals=quorum), question_ts=Q)
    assert (d.outcome, d.by) == (outcome, by)


def test_replies_are_read_with_the_grammar_and_the_app_mention():
    answers = [
        reply("U1", "<@U0CAROL> approve", ts(1)),  # asks Carol
        reply("U2", "approve?", ts(2)),
        reply("U3", "yes, but wait", ts(3)),
        reply("U4", "&gt; approve", ts(4)),
    ]
    assert evaluate(answers, POLICY, question_ts=Q, self_user_id=APP).outcome == "pending"
    d = evaluate([*answers, reply("U5", "<@U0APP> approve - go", ts(5))], POLICY, question_ts=Q, self_user_id=APP)
    assert (d.outcome, d.by, d.comment) == ("approved", ("U5",), "go")


def test_equal_times_are_ordered_by_the_answers_own_fields():
    # Two replies by one person, edited at the same moment: which one decided must not depend on list order.
    answers = [reply("U1", "approve", ts(2), edited_ts=ts(5)), reply("U1", "approve", ts(1), edited_ts=ts(5))]
    assert evaluate(answers, POLICY, question_ts=Q) == evaluate(answers[::-1], POLICY, question_ts=Q)
    assert evaluate(answers, POLICY, question_ts=Q).at == ts(1)


def test_button_clicks():
    d = evaluate([Answer(kind="button", user="U1", text="reject", ts=ts(1))], POLICY, question_ts=Q)
    assert d.outcome == "rejected"


@pytest.mark.parametrize(
    ("policy", "answers", "outcome", "by"),
    [
        # only named approvers' clicks count
        (AskPolicy(approvers=["U1"]), [click("U2", "reject", ts(1)), click("U1", "approve", ts(2))], "approved", ("U1",)),
        # a guest's click counts only when guests may answer (or the guest is named)
        (AskPolicy(), [Answer(kind="button", user="U7", text="approve", ts=ts(1), guest=True)], "pending", ()),
        (AskPolicy(allow_guests=True), [Answer(kind="button", user="U7", text="approve", ts=ts(1), guest=True)],
         "approved", ("U7",)),
        # a click and a reply by one person are one approval; a second person completes the quorum
        (AskPolicy(required_approvals=2), [click("U1", "approve", ts(1)), reply("U1", "lgtm", ts(2))], "pending", ("U1",)),
        (AskPolicy(required_approvals=2), [click("U1", "approve", ts(1)), reply("U2", "lgtm", ts(2))],
         "approved", ("U1", "U2")),
        # a click given as the policy's own keyword reads the same
        (AskPolicy(approve_keywords=["ship"], reject_keywords=["stop"]), [click("U1", "stop", ts(1))], "rejected", ("U1",)),
        # the app's own user and bots never count, whatever they carry
        (AskPolicy(), [click("U0APP", "approve", ts(1)), Answer(kind="button", user="U2", text="approve", ts=ts(1),
                                                                 is_bot=True)], "pending", ()),
    ],
)
def test_a_click_counts_like_a_keyword_reply_by_the_clicker(policy, answers, outcome, by):
    members = {group: frozenset[str]() for group in policy.groups}
    d = evaluate(answers, policy, question_ts=Q, self_user_id="U0APP", group_members=members)
    assert (d.outcome, d.by) == (outcome, by)


def test_malformed_ts_is_a_clear_error():
    with pytest.raises(ChatConfigError, match="malformed Slack ts"):
        evaluate([reply("U1", "approve", "yesterday")], POLICY, question_ts=Q)


def test_decision_to_dict_is_json_safe():
    d = evaluate([reply("U1", "approve - fine", ts(1))], POLICY, question_ts=Q)
    assert json.loads(json.dumps(d.to_dict())) == {
        "outcome": "approved", "approved": True, "by": ["U1"], "at": ts(1), "comment": "fine", "approvals": 1,
    }


# -- properties ------------------------------------------------------------------------------------
HUMANS = ["U1", "U2", "U3", "W4", "U5"]
TEXTS = ["approve", "yes - fine", "no", "reject: bad", "lgtm", "hmm", "not now", "<@U0APP> ok", "<@U9> ok", "know",
         "approve?", "yes, but wait", "&gt; approve", "LGTM 🚀"]
EMOJIS = ["white_check_mark", "+1", "x", "-1::skin-tone-2", "eyes", "thumbsup"]


@st.composite
def answers(draw, users=HUMANS, max_size=8, edits=False, known_reaction_times=True):
    result = []
    for _i, _ in enumerate(draw(st.lists(st.none(), max_size=max_size))):
        user = draw(st.sampled_from(users))
        if draw(st.booleans()):
            posted = draw(st.integers(0, 40)) + 1
            edited = ts(draw(st.integers(posted, 41))) if edits and draw(st.booleans()) else None
            result.append(reply(user, draw(st.sampled_from(TEXTS)), ts(posted), edited_ts=edited))
        else:
            when = draw(st.sampled_from(["", ts(draw(st.integers(0, 40)) + 1)])) if known_reaction_times else ""
            result.append(react(user, draw(st.sampled_from(EMOJIS)), when))
    return result


GROUPS = {"S9": frozenset({"U2", "U3"})}
QUORUM_POLICY = st.builds(
    AskPolicy,
    approvers=st.sampled_from([None, ("U1", "U2", "U3"), ("U1", "S9"), ("S9",)]),
    required_approvals=st.integers(1, 2),
)


@settings(max_examples=150, deadline=None)
@given(policy=QUORUM_POLICY, base=answers(), noise=answers(users=["B1", "U0APP", "U7", "U8"]))
def test_bots_and_outsiders_never_change_the_decision(policy, base, noise):
    outsiders = [a for a in noise if a.user in ("U7", "U8")] if policy.approvers else []
    bots = [Answer(a.kind, "B1", a.text, a.ts, is_bot=True) for a in noise] + [a for a in noise if a.user == "U0APP"]
    decide = lambda xs: evaluate(xs, policy, question_ts=Q, group_members=GROUPS, self_user_id="U0APP")
    mixed = base + bots + outsiders
    random.Random(len(mixed)).shuffle(mixed)
    assert decide(mixed) == decide(base)


@settings(max_examples=150, deadline=None)
@given(policy=QUORUM_POLICY, base=answers(), data=st.data())
def test_decision_does_not_depend_on_list_order(policy, base, data):
    shuffled = data.draw(st.permutations(base))
    decide = lambda xs: evaluate(xs, policy, question_ts=Q, group_members=GROUPS)
    assert decide(shuffled) == decide(base)


@settings(max_examples=150, deadline=None)
@given(policy=QUORUM_POLICY, base=answers(), data=st.data())
def test_the_same_person_approving_again_never_changes_the_decision(policy, base, data):
    approvals = [a for a in base if policy.reaction_verdict(a.text) == "approve" or (
        a.kind == "reply" and parse_reply(a.text, policy)[0] == "approve")]
    assume(approvals)
    original = data.draw(st.sampled_from(approvals))
    if original.ts:  # again, later
        when = ts(data.draw(st.integers(int(original.ts[8:10]), 45)))
        again = data.draw(st.sampled_from([reply(original.user, "yes", when), react(original.user, "+1", when)]))
    else:  # an approval of unknown time already counts last
        again = react(original.user, "heavy_check_mark")
    decide = lambda xs: evaluate(xs, policy, question_ts=Q, group_members=GROUPS)
    assert decide([*base, again]) == decide(base)


# Most random histories decide nothing: the ones that do are what this property is about.
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(policy=QUORUM_POLICY, base=answers(), extra=answers(max_size=4), cut=st.integers(1, 45))
def test_a_decision_once_reached_never_changes(policy, base, extra, cut):
    """Answers after the decision (later in time) never change it: re-polling is safe."""
    decide = lambda xs: evaluate(xs, policy, question_ts=Q, group_members=GROUPS)
    first = decide(base)
    assume(first.decided and first.at)
    later = [Answer(a.kind, a.user, a.text, ts(45 + i), a.is_bot) for i, a in enumerate(extra)]
    assert decide(base + later) == first


@settings(max_examples=150, deadline=None)
@given(policy=QUORUM_POLICY, base=answers())
def test_decision_is_consistent(policy, base):
    d = evaluate(base, policy, question_ts=Q, group_members=GROUPS)
    assert len(set(d.by)) == len(d.by)
    if d.outcome == "approved":
        assert d.approvals == len(d.by) == policy.required_approvals
    elif d.outcome == "pending":
        assert d.approvals == len(d.by) < policy.required_approvals and d.at == "" and d.comment is None
    else:
        assert len(d.by) == 1 and d.approvals < policy.required_approvals


@settings(max_examples=200, deadline=None)
@given(policy=QUORUM_POLICY, base=answers(edits=True, known_reaction_times=False), data=st.data())
def test_the_same_history_gives_the_same_decision_however_it_is_read(policy, base, data):
    """Readers pass every reaction with an unknown time: any interleaving of replies and reactions, an
    answer listed twice (overlapping pages), bots, the app and outsiders, and evaluating again all give
    the same decision."""
    decide = lambda xs: evaluate(xs, policy, question_ts=Q, group_members=GROUPS, self_user_id="U0APP")
    first = decide(base)
    repeated = data.draw(st.lists(st.sampled_from(base), max_size=3)) if base else []
    noise = data.draw(answers(users=["U0APP", "U7", "U8"], max_size=4, edits=True, known_reaction_times=False))
    bots = [dataclasses.replace(a, user="B1", is_bot=True) for a in noise]
    outsiders = [a for a in noise if a.user == "U0APP" or policy.approvers is not None]
    read = data.draw(st.permutations(base + repeated + bots + outsiders))
    assert decide(read) == first
    assert decide(base) == first


@settings(max_examples=150, deadline=None)
@given(policy=QUORUM_POLICY, base=answers(edits=True, known_reaction_times=False), data=st.data())
def test_a_person_who_answers_again_the_same_way_changes_nothing_once_decided(policy, base, data):
    decide = lambda xs: evaluate(xs, policy, question_ts=Q, group_members=GROUPS)
    first = decide(base)
    assume(first.decided)
    who = data.draw(st.sampled_from(first.by))
    again = reply(who, "approve" if first.approved else "reject", ts(45))
    later = decide([*base, again])  # may decide at ts(45) rather than at an unknown time: the same people
    assert (later.outcome, set(later.by)) == (first.outcome, set(first.by))


def test_guests_count_for_anyone_only_when_allowed_but_always_when_named():
    guest_approves = [Answer(kind="reply", user="U0GUEST", text="approve", ts="1700000001.000000", guest=True)]
    anyone = AskPolicy()
    assert evaluate(guest_approves, anyone, question_ts="1700000000.000000").outcome == "pending"
    allowed = AskPolicy(allow_guests=True)
    assert evaluate(guest_approves, allowed, question_ts="1700000000.000000").outcome == "approved"
    named = AskPolicy(approvers=["U0GUEST"])
    assert evaluate(guest_approves, named, question_ts="1700000000.000000").outcome == "approved"
    assert AskPolicy.from_dict(allowed.to_dict()) == allowed
    with pytest.raises(ChatConfigError, match="allow_guests"):
        AskPolicy(allow_guests="yes")


# -- Discord: user and role ids, emoji as characters --------------------------------------------------------
DISCORD_ALICE, DISCORD_LEADS = "1191168914227200007", "1191168914227200004"


@pytest.mark.parametrize(
    ("given", "users", "groups"),
    [
        ([DISCORD_ALICE, f"&{DISCORD_LEADS}"], {DISCORD_ALICE}, {f"&{DISCORD_LEADS}"}),
        ([f"<@{DISCORD_ALICE}>", f"<@!{DISCORD_ALICE}>", f"<@&{DISCORD_LEADS}>"], {DISCORD_ALICE}, {f"&{DISCORD_LEADS}"}),
        (["U0ALICE", "S0MLLEADS"], {"U0ALICE"}, {"S0MLLEADS"}),
    ],
)
def test_discord_user_and_role_ids_are_approvers(given, users, groups):
    policy = AskPolicy(approvers=given)
    assert policy.users == users and policy.groups == groups


@pytest.mark.parametrize("bad", ["alice", "@alice", "&", "&abc", "12345"])
def test_names_and_short_numbers_are_not_discord_ids(bad):
    with pytest.raises(ChatConfigError, match="Discord user ids and role ids"):
        AskPolicy(approvers=[bad])


def test_a_role_member_counts_through_the_role():
    policy = AskPolicy(approvers=[f"&{DISCORD_LEADS}"])
    carol = Answer(kind="reply", user="1191168914227200009", text="approve", ts="1800000000.1000000000")

    decided = evaluate([carol], policy, question_ts="1700000000.0000000000",
                       group_members={f"&{DISCORD_LEADS}": frozenset({"1191168914227200009"})})
    assert decided.outcome == "approved"
    nobody = evaluate([carol], policy, question_ts="1700000000.0000000000",
                      group_members={f"&{DISCORD_LEADS}": frozenset()})
    assert nobody.outcome == "pending"


@pytest.mark.parametrize(("emoji", "name"), [("✅", "white_check_mark"), ("✔️", "heavy_check_mark"), ("👍🏽", "+1"),
                                             ("👎", "-1"), ("❌", "x"), ("⛔", "no_entry"), ("🦄", "🦄")])
def test_emoji_characters_are_the_reactions_slack_names(emoji, name):
    assert normalise_reaction(emoji) == name
    assert AskPolicy(approve_reactions=[emoji], reject_reactions=["no_good"]).approve_reactions == (name,)
