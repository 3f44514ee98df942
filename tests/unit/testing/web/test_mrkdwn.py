"""Slack mrkdwn as the page's nodes: what Slack formats, what it leaves as text, and that text stays text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_chat_alerts.testing.web.mrkdwn import mrkdwn, plain_text, safe_href, text_of


class Names:
    users = {"U0ALICE": "alice", "U0BOB": "bob"}
    channels = {"C0OPS": "ops"}
    groups = {"S0LEADS": "ml-leads"}

    def user_name(self, user_id):
        return self.users.get(user_id)

    def channel_name(self, channel_id):
        return self.channels.get(channel_id)

    def group_handle(self, group_id):
        return self.groups.get(group_id)

    def has_custom_emoji(self, name):
        return name == "party-parrot"


NAMES = Names()


def m(text):
    return mrkdwn(text, NAMES)


@pytest.mark.parametrize(
    "text, nodes",
    [
        ("plain", ["plain"]),
        ("*bold*", [{"t": "b", "c": ["bold"]}]),
        ("_it_ and ~gone~", [{"t": "i", "c": ["it"]}, " and ", {"t": "s", "c": ["gone"]}]),
        ("*bold _both_*", [{"t": "b", "c": ["bold ", {"t": "i", "c": ["both"]}]}]),
        ("a `*not bold*` b", ["a ", {"t": "code", "v": "*not bold*"}, " b"]),
        # markers must open at a word's start and close at its end, with no space inside
        ("snake_case_name", ["snake_case_name"]),
        ("2*3*4", ["2*3*4"]),
        ("* not bold *", ["* not bold *"]),
        ("**", ["**"]),
        ("*unclosed", ["*unclosed"]),
        ("*a\nb*", ["*a", {"t": "br"}, "b*"]),  # formatting never spans lines
    ],
)
def test_text_formatting(text, nodes):
    assert m(text) == nodes


@pytest.mark.parametrize(
    "text, node",
    [
        ("<@U0ALICE>", {"t": "mention", "kind": "user", "id": "U0ALICE", "label": "@alice"}),
        ("<@U0NOBODY|someone>", {"t": "mention", "kind": "user", "id": "U0NOBODY", "label": "@someone"}),
        ("<#C0OPS>", {"t": "mention", "kind": "channel", "id": "C0OPS", "label": "#ops"}),
        ("<#C0OPS|old-name>", {"t": "mention", "kind": "channel", "id": "C0OPS", "label": "#ops"}),
        ("<!subteam^S0LEADS>", {"t": "mention", "kind": "group", "id": "S0LEADS", "label": "@ml-leads"}),
        ("<!here>", {"t": "mention", "kind": "special", "id": "here", "label": "@here"}),
        ("<https://x.example/a?b=1&amp;c=2|the docs>",
         {"t": "link", "href": "https://x.example/a?b=1&c=2", "c": ["the docs"]}),
        ("<mailto:a@example.com>", {"t": "link", "href": "mailto:a@example.com", "c": ["mailto:a@example.com"]}),
        ("<!date^1700000000^{date_short} at {time}|Nov 14>",
         {"t": "date", "epoch": 1700000000, "format": "{date_short} at {time}", "fallback": "Nov 14"}),
        (":white_check_mark:", {"t": "emoji", "name": "white_check_mark", "char": "✅"}),
        (":thumbsup::skin-tone-3:", {"t": "emoji", "name": "thumbsup::skin-tone-3", "char": "👍🏼"}),
        (":party-parrot:", {"t": "emoji", "name": "party-parrot", "char": None}),
    ],
)
def test_entities(text, node):
    assert m(text) == [node]


def test_an_unknown_emoji_name_stays_text():
    assert m("at 10:30:00 :no-such-emoji:") == ["at 10:30:00 :no-such-emoji:"]


@pytest.mark.parametrize(
    "text, shown",
    [
        ("<javascript:alert(1)|click me>", ["click me"]),
        ("<JaVaScRiPt:alert(1)>", ["JaVaScRiPt:alert(1)"]),
        ("<data:text/html,<b>x</b>|x>", ["<data:text/html,<b>x</b>|x>"]),
        ("<script>alert(1)</script>", ["<script>alert(1)</script>"]),
        ("&lt;img src=x onerror=alert(1)&gt;", ["<img src=x onerror=alert(1)>"]),
        ("<@U0ALICE|<b>>", ["<@U0ALICE|<b>>"]),
    ],
)
def test_hostile_text_is_text_and_links_keep_only_web_targets(text, shown):
    nodes = m(text)
    assert text_of(nodes) == "".join(shown)
    assert not any(isinstance(n, dict) and n["t"] == "link" for n in nodes)


def test_code_blocks_quotes_and_lines():
    assert m("before\n```\nline 1\n*not bold*\n```\nafter") == [
        "before",
        {"t": "pre", "v": "line 1\n*not bold*"},
        "after",
    ]
    assert m("&gt; quoted *bold*\n> more\nnot") == [
        {"t": "quote", "c": ["quoted ", {"t": "b", "c": ["bold"]}, {"t": "br"}, "more"]},
        "not",
    ]
    assert m("intro\n>>> all\nof this") == ["intro", {"t": "quote", "c": ["all", {"t": "br"}, "of this"]}]


def test_plain_text_formats_nothing_but_emoji():
    assert plain_text("*Deploy* :rocket:") == ["*Deploy* ", {"t": "emoji", "name": "rocket", "char": "🚀"}]
    assert plain_text("*Deploy* :rocket:", emoji=False) == ["*Deploy* :rocket:"]
    assert plain_text("a\nb") == ["a", {"t": "br"}, "b"]


@pytest.mark.parametrize(
    "url, safe",
    [("https://x", True), ("HTTP://x", True), ("mailto:a@b", True), ("javascript:alert(1)", False),
     (" javascript:x", False), ("vbscript:x", False), ("data:text/html,x", False), ("//x", False)],
)
def test_safe_href(url, safe):
    assert (safe_href(url) is not None) == safe


@given(st.text(alphabet=st.sampled_from(list("*_~`<>|:@!#&;^ \nabU0ALICE.-/javscript")), max_size=80))
def test_any_text_parses_and_keeps_its_words(text):
    nodes = m(text)
    shown = text_of(nodes)
    # Markers and entity brackets may disappear; the letters of the text never do, nor appear from nowhere.
    letters = lambda s: sorted(c for c in s if c.isalpha())  # noqa: E731
    assert set(letters(shown)) <= set(letters(text)) | set("aceilnrs")  # "@alice" for <@U0ALICE>
    for node in _walk(nodes):
        if isinstance(node, dict) and node["t"] == "link":
            assert safe_href(node["href"]) == node["href"]


def test_formatting_markers_cost_near_linear_time():
    # A worst case for naive matching: thousands of openers none of which can close.
    nodes = m("*a" * 20_000)
    assert text_of(nodes) == "*a" * 20_000


def _walk(nodes):
    for node in nodes:
        yield node
        if isinstance(node, dict):
            yield from _walk(node.get("c", []))
