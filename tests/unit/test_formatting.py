"""Block Kit building within Slack's limits (pure: table tests and hypothesis)."""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_chat_alerts import formatting as fmt
from airflow_chat_alerts.clicks import BUTTONS_BLOCK_ID, buttons_block
from airflow_chat_alerts.decisions import AskPolicy, parse_reply
from airflow_chat_alerts.exceptions import ChatConfigError
from airflow_chat_alerts.model import Message, PipelineContext

CTX = PipelineContext(
    dag_id="ml_train", run_id="manual__2024-05-01T10:00:00+00:00", task_id="ask", try_number=2,
    link="http://airflow.local/dags/ml_train/runs/r?task_id=ask&try=2",
)
DEADLINE = datetime(2024, 5, 1, 14, 30, tzinfo=timezone.utc)
MORE_CHARS = re.compile(r"… ([\d,]+) more characters?$")


def all_texts(blocks):
    """Every text object's text in the blocks, with its limit."""
    for block in blocks:
        kind = block["type"]
        if kind == "section":
            if "text" in block:
                yield block["text"]["text"], fmt.MAX_SECTION_TEXT
            for field in block.get("fields", []):
                yield field["text"], fmt.MAX_FIELD_TEXT
        elif kind == "header":
            yield block["text"]["text"], fmt.MAX_HEADER_TEXT
        elif kind == "context":
            for element in block["elements"]:
                yield element.get("text", ""), fmt.MAX_CONTEXT_TEXT


def assert_within_limits(blocks):
    assert len(blocks) <= fmt.MAX_BLOCKS
    for block in blocks:
        assert len(block.get("fields", [])) <= fmt.MAX_SECTION_FIELDS
        if block["type"] == "context":
            assert len(block["elements"]) <= fmt.MAX_CONTEXT_ELEMENTS
    for text, limit in all_texts(blocks):
        assert len(text) <= limit


def section_text(block):
    return block["text"]["text"]


# ---------------------------------------------------------------------------------------------------
# truncate / fit_text
# ---------------------------------------------------------------------------------------------------
def test_truncate_short_text_is_unchanged():
    assert fmt.truncate("accuracy 0.97", 13) == "accuracy 0.97"


def test_truncate_says_how_much_is_missing_and_cuts_between_words():
    text = "word " * 1000  # 5,000 characters
    out = fmt.truncate(text, 3000)
    assert len(out) <= 3000
    match = MORE_CHARS.search(out)
    kept = out[: match.start()].rstrip()
    assert kept.endswith("word") and len(kept) + int(match.group(1).replace(",", "")) == len(text)
    assert re.fullmatch(r"2,\d{3}", match.group(1))  # thousands separator


def test_truncate_uses_thousands_separators_and_singular():
    out = fmt.truncate("x" * 41_234, 40_000)
    assert 39_990 <= len(out) <= 40_000 and out.endswith(f"x … {41_234 - out.count('x'):,} more characters")
    assert fmt.truncate("x" * 60, 58) == "x" * 37 + " … 23 more characters"  # exactly 58
    assert fmt.truncate("abc " * 10 + "x" * 4, 43) == "abc abc abc abc abc … 25 more characters"
    out = fmt.truncate("a" * 30 + "b", 15)
    assert out == "a" * 14 + "…"  # too small for the marker: still visibly cut


def test_truncate_never_splits_a_slack_entity():
    text = "see " + "x" * 80 + " <@U0ALICE> and <https://example.com/a/very/long/path|the report> " + "y" * 200
    for limit in range(60, 200):
        out = fmt.truncate(text, limit)
        head = out[: MORE_CHARS.search(out).start()]
        assert head.count("<") == head.count(">"), (limit, out)
    assert fmt.truncate("a &amp; b " * 20, 40).count("&") == fmt.truncate("a &amp; b " * 20, 40).count(";")


def test_truncate_rejects_negative_limits():
    with pytest.raises(ValueError):
        fmt.truncate("x", -1)


@settings(max_examples=300)
@given(text=st.text(max_size=400), limit=st.integers(0, 300))
def test_truncate_respects_the_limit_and_is_visible(text, limit):
    out = fmt.truncate(text, limit)
    assert len(out) <= limit
    if len(text) <= limit:
        assert out == text
    elif limit > 40:
        match = MORE_CHARS.search(out)
        assert match, out
        head = out[: match.start()].rstrip()
        assert text.startswith(head)
        assert int(match.group(1).replace(",", "")) == len(text) - len(head)
    elif limit:
        assert out.endswith("…") or MORE_CHARS.search(out)


def test_fit_text():
    assert fmt.fit_text("short") == "short"
    out = fmt.fit_text("z" * 50_000)
    assert len(out) <= 40_000 and out.endswith(f"… {50_000 - len(out.split(' ')[0]):,} more characters")


# ---------------------------------------------------------------------------------------------------
# fit_blocks
# ---------------------------------------------------------------------------------------------------
def test_fit_blocks_short_input_is_unchanged_and_not_mutated():
    blocks = [fmt.section("hi"), {"type": "divider"}, fmt.context_block(CTX)]
    before = copy.deepcopy(blocks)
    assert fmt.fit_blocks(blocks) == before
    long = [fmt.section("x")] * 60 + [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 5000}}]
    snapshot = copy.deepcopy(long)
    fmt.fit_blocks(long)
    assert long == snapshot


def test_fit_blocks_caps_blocks_visibly():
    out = fmt.fit_blocks([fmt.section(f"line {i}") for i in range(53)])
    assert len(out) == 50
    assert section_text(out[48]) == "line 48"
    assert out[-1]["elements"][0]["text"] == "… 4 more blocks"


def test_fit_blocks_fixes_oversize_texts_fields_and_elements():
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3500}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"f{i}"} for i in range(12)] + [
            {"type": "plain_text", "text": "g" * 2500}]},
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 200}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": str(i)} for i in range(14)]},
        {"type": "image", "image_url": "http://x/p.png", "alt_text": "plot"},
    ]
    out = fmt.fit_blocks(blocks)
    assert_within_limits(out)
    assert section_text(out[0]).endswith("more characters")
    assert out[1]["fields"][-1]["text"] == "… 4 more fields"
    assert out[2]["text"]["text"].endswith("more characters")
    assert out[3]["elements"][-1]["text"] == "… 5 more items"
    assert out[4] == blocks[4]


@pytest.mark.parametrize("bad", ["not blocks", {"type": "section"}, [{"text": "no type"}], [["section"]], 3])
def test_fit_blocks_rejects_what_is_not_blocks(bad):
    with pytest.raises(ChatConfigError, match="Block Kit"):
        fmt.fit_blocks(bad)


TEXTS = st.text(max_size=50) | st.text(min_size=2_900, max_size=3_200).map(lambda s: s * 2)
TEXT_OBJ = st.builds(lambda t, k: {"type": k, "text": t}, TEXTS, st.sampled_from(["mrkdwn", "plain_text"]))
BLOCK = st.one_of(
    st.builds(lambda t: {"type": "section", "text": t}, TEXT_OBJ),
    st.builds(lambda f: {"type": "section", "fields": f}, st.lists(TEXT_OBJ, max_size=14)),
    st.builds(lambda t: {"type": "header", "text": t}, TEXT_OBJ),
    st.builds(lambda e: {"type": "context", "elements": e}, st.lists(TEXT_OBJ, min_size=1, max_size=14)),
    st.just({"type": "divider"}),
)


@settings(max_examples=150, deadline=None)
@given(blocks=st.lists(BLOCK, max_size=60))
def test_fit_blocks_always_within_limits_and_visible(blocks):
    out = fmt.fit_blocks(blocks)
    assert_within_limits(out)
    if len(blocks) > fmt.MAX_BLOCKS:
        assert out[-1]["elements"][0]["text"] == f"… {len(blocks) - 49} more blocks"
    for before, after in zip(blocks, out[: min(len(out), 49)]):
        for (old, limit), (new, _) in zip(all_texts([before]), all_texts([after])):
            # cut visibly, or the last kept field / context item saying how many more there were
            assert new == old or (len(old) > limit and " more " in new) or re.fullmatch(r"… [\d,]+ more (field|item)s?", new)


# ---------------------------------------------------------------------------------------------------
# mention / escape / context / alert blocks
# ---------------------------------------------------------------------------------------------------
def test_mention_and_escape():
    assert fmt.mention("U0ALICE") == "<@U0ALICE>"
    assert fmt.mention("W0ENT") == "<@W0ENT>"
    assert fmt.mention("S0LEADS") == "<!subteam^S0LEADS>"
    for bad in ("alice", "@alice", "C0123", ""):
        with pytest.raises(ChatConfigError, match="cannot mention"):
            fmt.mention(bad)
    assert fmt.escape("a < b && c > d") == "a &lt; b &amp;&amp; c &gt; d"


def test_context_block():
    text = fmt.context_block(CTX)["elements"][0]["text"]
    assert "*DAG* `ml_train`" in text and "*Task* `ask`" in text and "*Try* 2" in text
    assert "`manual__2024-05-01T10:00:00+00:00`" in text
    assert "<http://airflow.local/dags/ml_train/runs/r?task_id=ask&amp;try=2|Open in Airflow>" in text
    mapped = fmt.context_block(PipelineContext("d", "r", task_id="t", map_index=3))["elements"][0]["text"]
    assert "`t[3]`" in mapped and "Try" not in mapped and "Open in Airflow" not in mapped


def test_alert_blocks_short():
    blocks = fmt.alert_blocks("Accuracy *0.97*", context=CTX, extra_blocks=[{"type": "divider"}])
    assert blocks == [fmt.section("Accuracy *0.97*"), fmt.context_block(CTX), {"type": "divider"}]


def test_alert_blocks_split_long_text_between_words():
    paragraphs = [f"para {i} " + "lorem ipsum " * 200 for i in range(5)]  # ~2,410 chars each
    text = "\n\n".join(paragraphs)
    blocks = fmt.alert_blocks(text)
    assert len(blocks) == 5
    assert [section_text(b) for b in blocks] == [p.strip() for p in paragraphs]
    words = "alpha beta gamma delta " * 600  # one 13,800-char paragraph
    blocks = fmt.alert_blocks(words)
    assert_within_limits(blocks)
    joined = " ".join(section_text(b) for b in blocks)
    assert joined.split() == words.split()  # no word cut


def test_alert_blocks_huge_text_keeps_context_and_extras():
    text = "word " * 200_000
    blocks = fmt.alert_blocks(text, context=CTX, extra_blocks=[{"type": "divider"}])
    assert_within_limits(blocks)
    assert len(blocks) == 50
    assert blocks[-2] == fmt.context_block(CTX) and blocks[-1] == {"type": "divider"}
    assert MORE_CHARS.search(section_text(blocks[-3]))


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=200) | st.text(min_size=1, max_size=30).map(lambda s: s * 5_000),
       extra=st.lists(st.just({"type": "divider"}), max_size=60))
def test_alert_blocks_always_within_limits(text, extra):
    blocks = fmt.alert_blocks(text, context=CTX, extra_blocks=extra)
    assert_within_limits(blocks)
    if text.strip() and len(text) <= 3000:
        assert section_text(blocks[0]) == text.strip()


# ---------------------------------------------------------------------------------------------------
# task_state_message
# ---------------------------------------------------------------------------------------------------
def test_task_state_message_failed():
    msg = fmt.task_state_message(
        state="failed", dag_id="ml_train", run_id="r1", task_id="train", try_number=2,
        duration=timedelta(minutes=1, seconds=23), exception="Traceback...\nValueError: bad shape (3, 4)",
        link="http://airflow.local/log?x=1&y=2",
    )
    assert isinstance(msg, Message)
    assert msg.blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": ":red_circle: Task failed: ml_train.train", "emoji": True}}
    fields = [f["text"] for f in msg.blocks[1]["fields"]]
    assert fields == ["*Run*\n`r1`", "*State*\nfailed", "*Try*\n2", "*Duration*\n1m 23s"]
    assert section_text(msg.blocks[2]) == "```Traceback...\nValueError: bad shape (3, 4)```"
    assert section_text(msg.blocks[3]) == "<http://airflow.local/log?x=1&amp;y=2|View the task log in Airflow>"
    assert msg.text == ":red_circle: Task failed: ml_train.train (run r1, try 2): ValueError: bad shape (3, 4)"
    assert msg.context == PipelineContext("ml_train", "r1", "train", 2, link="http://airflow.local/log?x=1&y=2")


def test_task_state_message_success_and_dag_level():
    msg = fmt.task_state_message(state="success", dag_id="d", run_id="r", duration=4.5, emoji=":rocket:")
    assert msg.blocks[0]["text"]["text"] == ":rocket: DAG run succeeded: d"
    assert "*Duration*\n4.5s" in [f["text"] for f in msg.blocks[1]["fields"]]
    assert len(msg.blocks) == 2
    retry = fmt.task_state_message(state="up_for_retry", dag_id="d", run_id="r", task_id="t", map_index=0)
    assert retry.blocks[0]["text"]["text"] == ":large_orange_circle: Task up for retry: d.t[0]"


def test_task_state_message_huge_exception_stays_fenced_and_within_limits():
    msg = fmt.task_state_message(state="failed", dag_id="d" * 200, run_id="r" * 5000, task_id="t",
                                 exception="E" * 100_000, duration=7322)
    assert_within_limits(msg.blocks)
    code = section_text(msg.blocks[2])
    assert code.startswith("```") and code.endswith("more characters```")
    assert msg.blocks[0]["text"]["text"].endswith("more characters")
    assert "*Duration*\n2h 02m 02s" in [f["text"] for f in msg.blocks[1]["fields"]]
    assert len(msg.text) <= fmt.MAX_TEXT


UNSAFE = "<!channel> <!here> <!everyone> <@U0ALICE> <!subteam^S0OPS> <https://evil.example|Open in Airflow> ``` &"
LIVE_MARKUP = re.compile(r"<[!@#]|<https?:|```")


def test_task_state_message_escapes_every_value_it_did_not_write():
    msg = fmt.task_state_message(
        state="failed", dag_id=f"d{UNSAFE}", run_id=f"r{UNSAFE}", task_id=f"t{UNSAFE}", try_number=1,
        exception=f"Traceback\nValueError: {UNSAFE}", link="http://af/log?a=1|<!here>",
    )
    # The header is plain text (Slack parses nothing in it); everything else is mrkdwn.
    for text, _ in all_texts(msg.blocks[1:]):
        assert not LIVE_MARKUP.search(text.replace("<http://af/log", "").strip("`").removesuffix("```")), text
    assert not LIVE_MARKUP.search(msg.text)
    assert "&lt;!channel&gt;" in msg.text and "`\u200b`\u200b`" in msg.text
    assert section_text(msg.blocks[-1]) == "<http://af/log?a=1%7C&lt;!here&gt;|View the task log in Airflow>"
    # Untrusted mrkdwn is verbatim: no bare URL, channel name or mention word is linked.
    assert all(f.get("verbatim") for f in msg.blocks[1]["fields"])
    assert all(b["text"].get("verbatim") for b in msg.blocks[2:])


def test_context_block_escapes_ids():
    ctx = PipelineContext(dag_id="<!here>", run_id="a`b", task_id="<@U0ALICE>", map_index=2, link="http://af")
    [element] = fmt.context_block(ctx)["elements"]
    assert element["verbatim"] is True
    assert element["text"] == "*DAG* `&lt;!here&gt;` · *Run* a`b · *Task* `&lt;@U0ALICE&gt;[2]` · <http://af|Open in Airflow>"


def test_outcome_comment_is_quoted_literally():
    # A comment is plain text (decisions.clean_comment unescapes Slack's &lt; &gt; &amp;).
    line = fmt.outcome_line("rejected", by=["U0BOB"], comment="no <!channel> <!here> <https://x|y> a & b")
    assert line == "❌ Rejected by <@U0BOB>: “no &lt;!channel&gt; &lt;!here&gt; &lt;https://x|y&gt; a &amp; b”"


@given(st.text(alphabet=st.sampled_from("`<>&!@|x \n"), max_size=60))
def test_slack_escape_leaves_no_markup_and_code_block_no_way_out(text):
    escaped = fmt.slack_escape(text)
    assert "<" not in escaped and ">" not in escaped and "``" not in escaped
    assert escaped.replace("\u200b", "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == text
    fenced = fmt.code_block(text, limit=40)
    assert len(fenced) <= 40 and fenced.startswith("```") and fenced.endswith("```")
    body = fenced[3:-3]  # no backtick run inside, none touching a fence
    assert body and "``" not in body and not body.startswith("`") and not body.endswith("`")


def test_slack_escape_of_any_value():
    assert fmt.slack_escape(3) == "3"
    assert fmt.slack_escape({"a": "<!here>"}) == "{'a': '&lt;!here&gt;'}"


def test_format_duration():
    assert [fmt.format_duration(s) for s in (0.04, 59.9, 60, 3599.6, 3600)] == ["0.0s", "59.9s", "1m 00s", "1h 00m 00s", "1h 00m 00s"]


# ---------------------------------------------------------------------------------------------------
# question / outcome / reminder
# ---------------------------------------------------------------------------------------------------
def question(text="Model accuracy is 0.97. Deploy?", **overrides):
    kwargs = dict(
        context=CTX, approve_keywords=("approve", "lgtm"), reject_keywords=("reject", "no"),
        approve_reactions=("white_check_mark", "+1"), reject_reactions=("x",), approvers=["U0ALICE", "S0LEADS"],
        required_approvals=2, deadline=DEADLINE, on_timeout="reject",
        metadata={"event_type": "airflow_chat_alerts_ask", "event_payload": {"dag_id": "ml_train"}},
    )
    kwargs.update(overrides)
    return fmt.question_message(text, **kwargs)


def test_question_message():
    msg = question()
    assert section_text(msg.blocks[0]) == "Model accuracy is 0.97. Deploy?"
    assert msg.blocks[1] == fmt.context_block(CTX)
    how = msg.blocks[2]
    assert how["block_id"] == fmt.HOW_TO_ANSWER_BLOCK_ID
    help_text = section_text(how)
    assert ("Reply in this thread starting with *approve* or *reject*, alone or followed by ` - ` and a reason "
            "(`reject - numbers look off`), or react with :white_check_mark: / :x:. A question or more words "
            "without a separator do not count (`approve?`, `approve but…`).") in help_text
    assert "<@U0ALICE>, <!subteam^S0LEADS>" in help_text and "2 approvals needed" in help_text
    epoch = int(DEADLINE.timestamp())
    assert f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|2024-05-01 14:30 UTC>" in help_text
    assert "it counts as *rejected*" in help_text
    assert msg.text.startswith("Model accuracy is 0.97. Deploy?\n\n")
    assert "approve or reject (alone, or followed by ' - ' and a reason)" in msg.text
    assert "2024-05-01 14:30 UTC" in msg.text
    assert msg.metadata["event_payload"] == {"dag_id": "ml_train"} and msg.context == CTX


def test_question_message_anyone_and_timeouts():
    for on_timeout, words in [("approve", "*approved*"), ("fail", "task *fails*"), ("skip", "*skipped*")]:
        help_text = section_text(question(approvers=None, required_approvals=1, on_timeout=on_timeout).blocks[2])
        assert "any member of this workspace in this channel (no guests)" in help_text and "1 approval needed" in help_text and words in help_text


def test_question_message_deadline_in_another_zone_is_shown_in_utc():
    local = DEADLINE.astimezone(timezone(timedelta(hours=-7)))
    assert "|2024-05-01 14:30 UTC>" in section_text(question(deadline=local).blocks[2])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"deadline": datetime(2024, 5, 1, 14, 30)}, "no time zone"),
        ({"on_timeout": "ignore"}, "on_timeout must be one of"),
        ({"approve_keywords": ()}, "approve_keywords must be a non-empty list"),
        ({"approvers": ["alice"]}, "cannot mention 'alice'"),
    ],
)
def test_question_message_bad_input(overrides, message):
    with pytest.raises(ChatConfigError, match=message):
        question(**overrides)
    with pytest.raises(ChatConfigError, match="empty"):
        question("   ")


def test_question_message_keeps_how_to_answer_and_room_for_the_outcome():
    msg = question("word " * 200_000, extra_blocks=[{"type": "divider"}] * 80)
    assert_within_limits(msg.blocks)
    assert len(msg.blocks) == 49  # one block left for the outcome
    assert msg.blocks[-1]["block_id"] == fmt.HOW_TO_ANSWER_BLOCK_ID and msg.blocks[-2] == fmt.context_block(CTX)
    assert any(" more blocks" in t for t, _ in all_texts(msg.blocks))
    assert MORE_CHARS.search(section_text(msg.blocks[0]))
    assert len(msg.text) <= fmt.MAX_TEXT


GOLDEN = Path(__file__).parent / "question_message.golden.json"
IDENTITY = {"dag_id": "ml_train", "run_id": "r", "task_id": "ask", "map_index": -1}


def golden_question(**overrides):
    metadata = {"event_type": "airflow_chat_alerts_ask", "event_payload": IDENTITY}
    return question("Deploy <model>?", metadata=metadata, extra_blocks=[{"type": "divider"}], **overrides)


def test_without_interactivity_the_question_is_exactly_as_before_buttons():
    """The golden file holds what the question looked like before buttons existed, byte for byte."""
    for asked in (golden_question(), golden_question(interactive=False)):
        posted = {"text": asked.text, "blocks": asked.blocks, "metadata": asked.metadata}
        assert json.dumps(posted, ensure_ascii=False, indent=1, sort_keys=True) == GOLDEN.read_text()
        assert not any(b["type"] == "actions" for b in asked.blocks)


def test_an_interactive_question_ends_with_approve_and_reject_buttons():
    plain, asked = golden_question(), golden_question(interactive=True)
    assert asked.blocks[-1] == buttons_block(IDENTITY)
    how = next(b for b in asked.blocks if b.get("block_id") == fmt.HOW_TO_ANSWER_BLOCK_ID)
    assert section_text(how).startswith("Press *Approve* or *Reject* below, or reply in this thread starting with")
    assert asked.blocks[:-2] == plain.blocks[:-1]
    # The plain text (notifications, screen readers) mentions the buttons as the blocks do.
    assert "Press Approve or Reject on the question, or reply in the thread with approve" in asked.text
    assert "Press" not in plain.text


def test_a_question_whose_ask_failed_loses_its_buttons_and_says_why():
    failed = fmt.unanswerable_message(golden_question(interactive=True), reason="the channel was <archived>")
    assert not any(b["type"] == "actions" or b.get("block_id") in (BUTTONS_BLOCK_ID, fmt.HOW_TO_ANSWER_BLOCK_ID)
                   for b in failed.blocks)
    line = "⚠️ This question can no longer be answered: the channel was &lt;archived&gt;"
    assert section_text(failed.blocks[-1]) == line
    assert failed.text.endswith(line) and "Press Approve" not in failed.text


def test_outcome_message_replaces_the_buttons_with_the_outcome():
    done = fmt.outcome_message(golden_question(interactive=True), outcome="approved", by=["U0ALICE"])
    assert not any(b["type"] == "actions" or b.get("block_id") == BUTTONS_BLOCK_ID for b in done.blocks)
    assert section_text(done.blocks[-1]) == "✅ Approved by <@U0ALICE>"
    assert done == fmt.outcome_message(golden_question(), outcome="approved", by=["U0ALICE"])


def test_an_interactive_question_keeps_its_buttons_and_room_for_the_outcome():
    msg = question("word " * 200_000, extra_blocks=[{"type": "divider"}] * 80, interactive=True)
    assert_within_limits(msg.blocks)
    assert len(msg.blocks) == 49 and msg.blocks[-1]["block_id"] == BUTTONS_BLOCK_ID


@pytest.mark.parametrize(
    ("kwargs", "line"),
    [
        ({"outcome": "approved", "by": ["U0ALICE"]}, "✅ Approved by <@U0ALICE>"),
        ({"outcome": "approved", "by": ["U0ALICE", "U0CAROL"], "comment": "ship it"},
         "✅ Approved by <@U0ALICE>, <@U0CAROL>: “ship it”"),
        ({"outcome": "rejected", "by": ["U0BOB"], "comment": "numbers\nlook off"}, "❌ Rejected by <@U0BOB>: “numbers look off”"),
        ({"outcome": "timed_out", "resolved_as": "rejected"}, "⌛ Timed out → rejected"),
        ({"outcome": "timed_out", "resolved_as": "failed"}, "⌛ Timed out → failed"),
    ],
)
def test_outcome_message(kwargs, line):
    asked = question()
    done = fmt.outcome_message(asked, **kwargs)
    assert section_text(done.blocks[-1]) == line
    assert all(b.get("block_id") != fmt.HOW_TO_ANSWER_BLOCK_ID for b in done.blocks)
    assert done.blocks[:-1] == asked.blocks[:2]
    assert done.text == "Model accuracy is 0.97. Deploy?\n\n" + line
    assert done.metadata == asked.metadata and done.context == asked.context
    # Deciding again (e.g. a retried update) replaces the outcome instead of stacking another one.
    assert fmt.outcome_message(done, **kwargs) == done


def test_outcome_message_bad_outcome_and_full_question():
    with pytest.raises(ChatConfigError, match="outcome must be"):
        fmt.outcome_message(question(), outcome="maybe")
    full = Message(text="q", blocks=[fmt.section(str(i)) for i in range(50)])
    done = fmt.outcome_message(full, outcome="approved", by=["U1"])
    assert len(done.blocks) == 50 and section_text(done.blocks[-1]) == "✅ Approved by <@U1>"
    bare = fmt.outcome_message(Message(text="Deploy?"), outcome="rejected", by=["U1"], comment="x")
    assert [section_text(b) for b in bare.blocks] == ["Deploy?", "❌ Rejected by <@U1>: “x”"]


def test_reminder_message():
    msg = fmt.reminder_message(approvers=["U0ALICE", "S0LEADS"], deadline=DEADLINE, reminders_left=1)
    assert msg.text.startswith(":bell: <@U0ALICE> <!subteam^S0LEADS> this question still needs a decision")
    assert "|2024-05-01 14:30 UTC>" in msg.text and "(1 more reminder before then.)" in msg.text
    assert section_text(msg.blocks[0]) == msg.text
    anyone = fmt.reminder_message(approvers=None, deadline=DEADLINE, reminders_left=0, approve_keyword="lgtm")
    assert "<@" not in anyone.text and "<!subteam" not in anyone.text and "Last reminder." in anyone.text
    assert "*lgtm*" in anyone.text
    assert "reply *approve* or *reject* in this thread (alone, or followed by ` - ` and a reason)" in msg.text


@pytest.mark.parametrize(
    ("approve", "reject"), [(("approve", "lgtm"), ("reject", "no")), (("no problem",), ("nope", "no way"))]
)
def test_the_answer_examples_are_read_as_the_instructions_say(approve, reject):
    """The instructions quote the answer grammar: each example they give is read that way."""
    policy = AskPolicy(approve_keywords=approve, reject_keywords=reject)
    help_text = section_text(question(approve_keywords=approve, reject_keywords=reject).blocks[2])
    examples = re.findall(r"`([^`]+)`", help_text)
    assert examples[1:] == [f"{reject[0]} - numbers look off", f"{approve[0]}?", f"{approve[0]} but…"]
    assert parse_reply(examples[1], policy) == ("reject", "numbers look off")
    assert [parse_reply(e, policy) for e in examples[2:]] == [(None, None), (None, None)]
    for keyword, verdict in ((approve[0], "approve"), (reject[0], "reject")):
        assert f"*{keyword}*" in help_text and parse_reply(keyword, policy) == (verdict, None)
        assert parse_reply(f"{keyword} - a reason", policy) == (verdict, "a reason")


IDS = st.lists(st.from_regex(r"[UWS][A-Z0-9]{2,10}", fullmatch=True), min_size=1, max_size=30, unique=True)


@settings(max_examples=100, deadline=None)
@given(
    text=st.text(min_size=1, max_size=300).filter(str.strip) | st.text(min_size=1, max_size=20).filter(str.strip).map(lambda s: s * 9_000),
    extra=st.lists(BLOCK, max_size=55),
    approvers=st.none() | IDS,
    outcome=st.sampled_from(["approved", "rejected", "timed_out"]),
    comment=st.none() | st.text(max_size=3_000),
)
def test_question_and_outcome_always_within_limits(text, extra, approvers, outcome, comment):
    asked = question(text, extra_blocks=extra, approvers=approvers)
    assert_within_limits(asked.blocks)
    assert len(asked.blocks) < fmt.MAX_BLOCKS and asked.blocks[-1]["block_id"] == fmt.HOW_TO_ANSWER_BLOCK_ID
    assert len(asked.text) <= fmt.MAX_TEXT
    done = fmt.outcome_message(asked, outcome=outcome, by=approvers[:2] if approvers else (), comment=comment,
                               resolved_as="rejected")
    assert_within_limits(done.blocks)
    assert len(done.text) <= fmt.MAX_TEXT
    assert done.blocks[-1]["block_id"] == fmt.OUTCOME_BLOCK_ID
    assert done.blocks[:-1] == asked.blocks[:-1]
    assert section_text(done.blocks[-1]).startswith(("✅ Approved", "❌ Rejected", "⌛ Timed out → rejected"))


def test_alert_blocks_never_split_a_link_between_sections():
    link = "<https://airflow.local/report|the full evaluation report>"
    text = "x" * 2_980 + " " + link + " and more"
    blocks = fmt.alert_blocks(text)
    assert [section_text(b) for b in blocks] == ["x" * 2_980, link + " and more"]


# -- blocks as a DAG gives them ----------------------------------------------------------------------
def test_blocks_from_reads_a_list_or_the_json_text_a_template_renders():
    divider = [{"type": "divider"}]

    assert fmt.blocks_from(divider) == divider
    assert fmt.blocks_from('[{"type": "divider"}]') == divider
    assert fmt.blocks_from(None) is None
    assert fmt.blocks_from("  ") is None  # a template that rendered nothing


@pytest.mark.parametrize(
    ("blocks", "error"),
    [
        ("[{'type': 'divider'}]", "blocks are not valid JSON"),
        ('{"type": "divider"}', "blocks must be a list of Block Kit block objects"),
        ([{"type": "divider"}, "text"], "blocks must be a list of Block Kit block objects"),
    ],
)
def test_blocks_from_refuses_what_is_not_a_list_of_blocks(blocks, error):
    with pytest.raises(ChatConfigError, match=error):
        fmt.blocks_from(blocks)
