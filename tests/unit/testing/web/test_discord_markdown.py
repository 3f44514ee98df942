"""Discord's markdown as the page's nodes: what Discord formats, what it leaves as text, and that text stays text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_chat_alerts.testing.web.discord_markdown import MAX_DEPTH, content_blocks, inline, markdown
from airflow_chat_alerts.testing.web.mrkdwn import safe_href, text_of


class Names:
    users = {"111": "alice"}
    channels = {"222": "ml-alerts"}
    roles = {"333": "ml-leads"}

    def user_name(self, user_id):
        return self.users.get(user_id)

    def channel_name(self, channel_id):
        return self.channels.get(channel_id)

    def group_handle(self, role_id):
        return self.roles.get(role_id)

    def has_custom_emoji(self, name):
        return False


NAMES = Names()


def i(text):
    return inline(text, NAMES)


@pytest.mark.parametrize(
    "text, nodes",
    [
        ("plain", ["plain"]),
        ("**bold**", [{"t": "b", "c": ["bold"]}]),
        ("*it* and _it_", [{"t": "i", "c": ["it"]}, " and ", {"t": "i", "c": ["it"]}]),
        ("__under__", [{"t": "u", "c": ["under"]}]),
        ("~~gone~~", [{"t": "s", "c": ["gone"]}]),
        ("***both***", [{"t": "b", "c": [{"t": "i", "c": ["both"]}]}]),
        ("||spoiler||", ["spoiler"]),
        ("`a *b*`", [{"t": "code", "v": "a *b*"}]),
        ("``a ` b``", [{"t": "code", "v": "a ` b"}]),
        ("snake_case_name", ["snake_case_name"]),
        ("5 * 3 * 2", ["5 * 3 * 2"]),
        ("\\*not italic\\*", ["*not italic*"]),
        ("a\nb", ["a", {"t": "br"}, "b"]),
    ],
)
def test_inline_formatting(text, nodes):
    assert i(text) == nodes


@pytest.mark.parametrize(
    "text, node",
    [
        ("<@111>", {"t": "mention", "kind": "user", "id": "111", "label": "@alice"}),
        ("<@!111>", {"t": "mention", "kind": "user", "id": "111", "label": "@alice"}),
        ("<@999>", {"t": "mention", "kind": "user", "id": "999", "label": "@unknown-user"}),
        ("<@&333>", {"t": "mention", "kind": "group", "id": "333", "label": "@ml-leads"}),
        ("<#222>", {"t": "mention", "kind": "channel", "id": "222", "label": "#ml-alerts"}),
        ("@everyone", {"t": "mention", "kind": "special", "id": "everyone", "label": "@everyone"}),
        ("<:party:123456789012345678>", {"t": "emoji", "name": "party", "char": None}),
        ("<a:dance:123456789012345678>", {"t": "emoji", "name": "dance", "char": None}),
        ("<t:1700000000:R>", {"t": "date", "epoch": 1700000000, "format": "{ago}", "fallback": "<t:1700000000:R>"}),
        ("<t:1700000000>", {"t": "date", "epoch": 1700000000, "format": "{date} {time}",
                            "fallback": "<t:1700000000>"}),
        ("[docs](https://docs.example/a)", {"t": "link", "href": "https://docs.example/a", "c": ["docs"]}),
        ("[docs](<https://docs.example/a>)", {"t": "link", "href": "https://docs.example/a", "c": ["docs"]}),
        ("<https://quiet.example>", {"t": "link", "href": "https://quiet.example", "c": ["https://quiet.example"]}),
        ("https://bare.example/x", {"t": "link", "href": "https://bare.example/x", "c": ["https://bare.example/x"]}),
    ],
)
def test_entities(text, node):
    assert i(text) == [node]


def test_a_bare_link_leaves_the_sentence_end_out_and_unicode_emoji_stay_text():
    assert i("see https://a.example/b. ✅") == [
        "see ", {"t": "link", "href": "https://a.example/b", "c": ["https://a.example/b"]}, ". ✅"]


@pytest.mark.parametrize(
    "text, shown",
    [
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
        ("[click](javascript:alert(1))", "[click](javascript:alert(1))"),
        ("<javascript:alert(1)>", "<javascript:alert(1)>"),
        ('<img src=x onerror="alert(1)">', '<img src=x onerror="alert(1)">'),
    ],
)
def test_hostile_text_is_text_and_links_keep_only_web_targets(text, shown):
    nodes = i(text)
    assert text_of(nodes) == shown
    assert not any(isinstance(n, dict) and n["t"] == "link" for n in nodes)


def test_a_message_s_blocks_headings_subtext_quotes_code_and_lists():
    text = "# Deploy?\nline one\nline two\n-# **DAG** `train`\n> quoted\n> more\nafter\n```py\nprint(1)\n```\n- item"
    assert content_blocks(text, NAMES) == [
        {"t": "header", "c": ["Deploy?"]},
        {"t": "text", "c": ["line one", {"t": "br"}, "line two"]},
        {"t": "context", "c": [{"t": "text", "c": [{"t": "b", "c": ["DAG"]}, " ", {"t": "code", "v": "train"}]}]},
        {"t": "text", "c": [{"t": "quote", "c": ["quoted", {"t": "br"}, "more"]}, "after",
                            {"t": "pre", "v": "print(1)"}, "• item"]},
    ]


def test_a_quote_to_the_end_and_markdown_for_embed_text():
    assert content_blocks(">>> all\nof this", NAMES) == [
        {"t": "text", "c": [{"t": "quote", "c": ["all", {"t": "br"}, "of this"]}]}]
    assert markdown("## Title\ntext", NAMES) == [{"t": "b", "c": ["Title"]}, {"t": "br"}, "text"]
    assert markdown("```\n<b>x</b>\n```", NAMES) == [{"t": "pre", "v": "<b>x</b>"}]


def test_formatting_nests_and_long_runs_of_markers_parse():
    assert i("**__~~*||x||*~~__**") == [{"t": "b", "c": [{"t": "u", "c": [{"t": "s", "c": [{"t": "i", "c": ["x"]}]}]}]}]
    for marker in ("*", "**", "_ ", "~~", "||", "`", "<@", "[a](", "> "):
        text = marker * 3000
        assert text_of(inline(text, NAMES, MAX_DEPTH + 1)) == text  # past the depth limit: all text
        assert content_blocks(text, NAMES)  # and parsed, whatever it makes of it


def _walk(nodes):
    for node in nodes:
        yield node
        if isinstance(node, dict):
            yield from _walk(node.get("c", []))


@given(st.text(alphabet=st.sampled_from(list("*_~`<>|:@!#&[]()\\ \nab123th.-/javscript")), max_size=80))
def test_any_text_parses_and_keeps_its_letters(text):
    blocks = content_blocks(text, NAMES)
    shown = "".join(text_of(b.get("c", [])) if b["t"] != "context" else text_of(b["c"][0]["c"]) for b in blocks)
    letters = lambda s: sorted(c for c in s if c.isalpha())  # noqa: E731
    # Markers disappear, mentions gain names; no letter appears that is neither in the text nor in a name.
    assert set(letters(shown)) <= set(letters(text)) | set("aliceunknowsrmdtgpy")
    for node in _walk([n for b in blocks for n in b.get("c", [])]):
        if isinstance(node, dict) and node["t"] == "link":
            assert safe_href(node["href"]) == node["href"]
