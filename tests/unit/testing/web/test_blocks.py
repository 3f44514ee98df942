"""Block Kit as the page's nodes: every block the package and its users post, and a readable fallback."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from airflow_chat_alerts.clicks import buttons_block
from airflow_chat_alerts.formatting import header, section
from airflow_chat_alerts.testing.web.blocks import block, blocks

from .test_mrkdwn import NAMES


def test_the_packages_own_blocks():
    assert block(header("Deploy? :rocket:"), NAMES) == {
        "t": "header", "c": ["Deploy? ", {"t": "emoji", "name": "rocket", "char": "🚀"}]}
    assert block(section("*Model* <@U0ALICE>"), NAMES)["text"] == [
        {"t": "b", "c": ["Model"]}, " ", {"t": "mention", "kind": "user", "id": "U0ALICE", "label": "@alice"}]
    actions = block(buttons_block({"dag_id": "d"}), NAMES)
    assert actions["t"] == "actions" and actions["block_id"] == "chat_alerts_buttons"
    assert [(e["label"], e["action_id"], e["style"]) for e in actions["elements"]] == [
        ("Approve", "chat_alerts_approve", "primary"), ("Reject", "chat_alerts_reject", "danger")]


def test_section_fields_accessory_context_divider_image():
    shown = blocks([
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Owner*"}, {"type": "plain_text", "text": "*x*"}],
         "accessory": {"type": "image", "image_url": "https://x.example/a.png", "alt_text": "a plot"}},
        {"type": "context", "elements": [{"type": "image", "image_url": "javascript:alert(1)", "alt_text": "icon"},
                                         {"type": "mrkdwn", "text": "_run_"}]},
        {"type": "divider"},
        {"type": "image", "image_url": "http://x.example/b.png", "alt_text": "loss", "title": {"type": "plain_text", "text": "Loss"}},
    ], NAMES)
    assert shown[0]["fields"] == [[{"t": "b", "c": ["Owner"]}], ["*x*"]]
    assert shown[0]["accessory"] == {"t": "img", "src": "https://x.example/a.png", "alt": "a plot"}
    assert shown[1]["c"] == [{"t": "img", "src": None, "alt": "icon"}, {"t": "text", "c": [{"t": "i", "c": ["run"]}]}]
    assert shown[2] == {"t": "divider"}
    assert shown[3] == {"t": "image", "src": "http://x.example/b.png", "alt": "loss", "title": "Loss"}


def test_menus_and_multi_selects():
    static, users, overflow = block({"type": "actions", "elements": [
        {"type": "static_select", "action_id": "model", "placeholder": {"type": "plain_text", "text": "Pick"},
         "option_groups": [{"options": [{"text": {"type": "plain_text", "text": "A"}, "value": "a"}]}],
         "initial_option": {"text": {"type": "plain_text", "text": "A"}, "value": "a"}},
        {"type": "multi_users_select", "action_id": "who", "initial_users": ["U0BOB"]},
        {"type": "overflow", "action_id": "more", "options": [{"text": {"type": "plain_text", "text": "Logs"}, "value": "l"}]},
    ]}, NAMES)["elements"]
    assert static == {"t": "select", "type": "static_select", "multi": False, "source": "static", "action_id": "model",
                      "placeholder": "Pick", "options": [{"label": "A", "value": "a"}], "initial": ["a"]}
    assert (users["multi"], users["source"], users["initial"]) == (True, "users", ["U0BOB"])
    assert overflow == {"t": "overflow", "action_id": "more", "options": [{"label": "Logs", "value": "l"}]}


def test_rich_text():
    shown = block({"type": "rich_text", "elements": [
        {"type": "rich_text_section", "elements": [
            {"type": "text", "text": "hi ", "style": {"bold": True}}, {"type": "user", "user_id": "U0ALICE"},
            {"type": "emoji", "name": "wave", "unicode": "1f44b"}, {"type": "link", "url": "javascript:x", "text": "bad"}]},
        {"type": "rich_text_list", "style": "ordered", "elements": [
            {"type": "rich_text_section", "elements": [{"type": "text", "text": "one"}]}]},
        {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": "code"}]},
        {"type": "rich_text_quote", "elements": [{"type": "text", "text": "said"}]},
    ]}, NAMES)
    assert shown["c"] == [
        {"t": "p", "c": [{"t": "b", "c": ["hi "]}, {"t": "mention", "kind": "user", "id": "U0ALICE", "label": "@alice"},
                         {"t": "emoji", "name": "wave", "char": "👋"}, "bad"]},
        {"t": "list", "ordered": True, "indent": 0, "items": [["one"]]},
        {"t": "pre", "v": "code"},
        {"t": "quote", "c": ["said"]},
    ]


def test_an_unknown_block_reads_as_what_it_is():
    shown = block({"type": "video", "title": {"type": "plain_text", "text": "Demo"}, "alt_text": "a demo"}, NAMES)
    assert (shown["t"], shown["type"], shown["summary"]) == ("unknown", "video", "Demo · a demo")
    assert '"type": "video"' in shown["json"]
    assert blocks("not a list", NAMES)[0]["t"] == "unknown"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["type", "text", "elements", "fields", "accessory", "options", "image_url", "style",
                         "initial_option", "initial_users", "url", "user_id", "name", "unicode", "timestamp"]),
        inner, max_size=5),
    max_leaves=25,
)
block_types = st.sampled_from(["header", "section", "context", "divider", "image", "actions", "rich_text",
                               "markdown", "video", "input", "rich_text_section", "button", "static_select"])


@given(st.lists(st.builds(lambda kind, rest: {**rest, "type": kind} if isinstance(rest, dict) else rest,
                          block_types, json_values), max_size=5))
def test_any_json_becomes_nodes_without_failing(value):
    shown = blocks(value, NAMES)
    assert len(shown) == len(value)
