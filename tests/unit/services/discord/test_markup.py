"""The package's mrkdwn on Discord: formatting kept, untrusted text unable to mention, broadcast or hide a link."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_chat_alerts.formatting import code_block, slack_escape
from airflow_chat_alerts.services.discord._markup import to_discord

ALICE, LEADS = "1191168914227200007", "1191168914227200004"
HOSTILE = [
    f"<@{ALICE}>", f"<@!{ALICE}>", f"<@&{LEADS}>", "@everyone", "@here", "<!channel>", "<!here>", "@EVERYONE",
    "[Open in Airflow](https://evil.example)", "<https://evil.example|Open in Airflow>", "<t:1:f>", "</deploy:1>",
    "||hidden||", "# Big title", "-# small", "> quoted", "```\ncode``` <@1191168914227200007>", "\ue000\ue001",
]


@pytest.mark.parametrize(
    ("mrkdwn", "discord"),
    [
        ("*bold* _italic_ ~gone~ `code`", "**bold** _italic_ ~~gone~~ `code`"),
        ("*_both_*", "**_both_**"),
        ("snake_case_name and 2*3*4", "snake\\_case\\_name and 2\\*3\\*4"),
        ("<https://x.example/a?b=1|the run>", "[the run](<https://x.example/a?b=1>)"),
        ("<https://x.example>", "<https://x.example>"),
        ("<javascript:alert(1)|click>", "click"),
        ("<!date^1712345678^{date_short_pretty} at {time}|2024-04-05 19:34 UTC>", "<t:1712345678:f>"),
        (":white_check_mark: / :x: :bell: :unknown_emoji:", "✅ / ❌ 🔔 :unknown\\_emoji:"),
        ("> a quote\n&gt; not one", "> a quote\n\\> not one"),
        ("&lt;b&gt; &amp; co", "\\<b\\> & co"),
        ("```x <@1191168914227200007> *y*```", "```x <\u200b@1191168914227200007> *y*```"),
        ("<#C0123|ml-alerts> <#1191168914227200014>", "#ml-alerts <#1191168914227200014>"),
        ("<@U0ALICE> <!subteam^S0ML|@ml-leads>", "@U0ALICE @ml-leads"),
    ],
)
def test_the_packages_markup_as_discord_markdown(mrkdwn, discord):
    assert to_discord(mrkdwn).text == discord


def test_explicit_mentions_ping_and_are_the_only_ones():
    shown = to_discord(f"<!here> <@{ALICE}> and <@&{LEADS}>: deploy? `<@1191168914227200008>`")

    assert shown.text.startswith("@here <@")
    assert shown.users == (ALICE,) and shown.roles == (LEADS,) and shown.everyone


@pytest.mark.parametrize("value", HOSTILE)
def test_an_escaped_value_mentions_nobody_and_hides_no_link(value):
    shown = to_discord(f"Rows rejected: {slack_escape(value)} and {code_block(value)}")

    assert (shown.users, shown.roles, shown.everyone) == ((), (), False)
    assert not re.search(r"(?<!\\)<[@#/t:]", shown.text)  # in code or not: Discord may not agree where code is
    assert not re.search(r"@(everyone|here)", shown.text, re.IGNORECASE)
    outside_code = re.sub(r"```[\s\S]*?```|`[^`]*`", "", shown.text)
    assert not re.search(r"(?<!\\)\[", outside_code)


@given(st.text())
def test_no_escaped_text_can_mention_broadcast_or_link(value):
    shown = to_discord(slack_escape(value))

    assert (shown.users, shown.roles, shown.everyone) == ((), (), False)
    assert not re.search(r"(?<!\\)(?:\\\\)*<[@#/:a-z]", shown.text)
    assert not re.search(r"@(everyone|here)", shown.text, re.IGNORECASE)
