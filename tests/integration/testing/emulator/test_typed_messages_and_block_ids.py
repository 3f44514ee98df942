"""What Slack stores beyond what was posted: a block_id on every block (kept when given), and, for a
message a person types in a Slack client, a client_msg_id and a rich_text block mirroring its text."""

from __future__ import annotations

import uuid

import pytest

from airflow_chat_alerts.testing.rich_text import rich_text_block

from . import schemas
from .socket_apps import QUESTION_BLOCKS


def test_blocks_posted_without_a_block_id_get_a_random_one_and_given_ids_are_kept(slack_emulator, bot, ml):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "one"}},
              {"type": "section", "block_id": "mine", "text": {"type": "mrkdwn", "text": "two"}},
              {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Go"}}]}]
    first = bot.chat_postMessage(channel=ml, text="x", blocks=blocks)["message"]["blocks"]
    second = bot.chat_postMessage(channel=ml, text="x", blocks=blocks)["message"]["blocks"]
    assert first[1]["block_id"] == second[1]["block_id"] == "mine"
    assert first[0]["block_id"] and first[2]["block_id"] and first[0]["block_id"] != first[2]["block_id"]
    assert (first[0]["block_id"], first[2]["block_id"]) != (second[0]["block_id"], second[2]["block_id"])
    assert first[2]["elements"][0]["action_id"]  # an interactive element gets an action_id too
    # what history shows is what was stored
    stored = bot.conversations_history(channel=ml)["messages"][1]["blocks"]
    assert stored == first
    updated = bot.chat_update(channel=ml, ts=bot.conversations_history(channel=ml)["messages"][0]["ts"], text="y",
                              blocks=[*first[:1], {"type": "divider"}])["message"]["blocks"]
    assert updated[0] == first[0] and updated[1]["block_id"] and updated[1]["block_id"] != first[0]["block_id"]


def test_a_click_names_the_block_it_came_from(slack_emulator, bot, ml):
    accessory = {"type": "section", "text": {"type": "mrkdwn", "text": "Deploy?"},
                 "accessory": {"type": "button", "action_id": "approve", "text": {"type": "plain_text", "text": "Yes"}}}
    ts = bot.chat_postMessage(channel=ml, text="Deploy?", blocks=[accessory, QUESTION_BLOCKS[1]])["ts"]
    stored_id = bot.conversations_history(channel=ml)["messages"][0]["blocks"][0]["block_id"]
    slack_emulator.occupy_sockets(1)
    alice = slack_emulator.act_as("alice")
    from_accessory = alice.click("ml-alerts", ts, "approve", value=None)
    from_actions = alice.click("ml-alerts", ts, "reject")
    for payload in (from_accessory, from_actions):
        schemas.assert_payload("block_actions", payload)
    assert from_accessory["actions"][0]["block_id"] == stored_id
    assert from_actions["actions"][0]["block_id"] == "decision"
    assert [b["block_id"] for b in from_actions["message"]["blocks"]] == [stored_id, "decision"]


def test_a_person_types_a_message_with_a_client_msg_id_and_rich_text(slack_emulator, bot, ml):
    ts = slack_emulator.act_as("alice").post("ml-alerts", "approve - looks *good* <@U0BOB> :+1:")
    (message,) = bot.conversations_history(channel=ml)["messages"]
    assert message["ts"] == ts and uuid.UUID(message["client_msg_id"])
    assert message["text"] == "approve - looks *good* <@U0BOB> :+1:"
    [block] = message["blocks"]
    assert block["type"] == "rich_text" and block["block_id"]
    assert block["elements"] == [{"type": "rich_text_section", "elements": [
        {"type": "text", "text": "approve - looks "},
        {"type": "text", "text": "good", "style": {"bold": True}},
        {"type": "text", "text": " "},
        {"type": "user", "user_id": "U0BOB"},
        {"type": "text", "text": " "},
        {"type": "emoji", "name": "+1"},
    ]}]
    reply_ts = slack_emulator.act_as("bob").reply("ml-alerts", ts, "reject")
    reply = bot.conversations_replies(channel=ml, ts=ts)["messages"][1]
    assert reply["ts"] == reply_ts and reply["client_msg_id"] != message["client_msg_id"]
    schemas.assert_method_answer("conversations.replies", bot.conversations_replies(channel=ml, ts=ts).data)


def test_an_edit_keeps_the_client_msg_id_and_mirrors_the_new_text(slack_emulator, bot, ml):
    alice = slack_emulator.act_as("alice")
    ts = alice.post("ml-alerts", "aprove")
    before = bot.conversations_history(channel=ml)["messages"][0]
    alice.edit("ml-alerts", ts, "approve")
    after = bot.conversations_history(channel=ml)["messages"][0]
    assert after["client_msg_id"] == before["client_msg_id"] and after["text"] == "approve"
    assert after["blocks"][0]["elements"][0]["elements"] == [{"type": "text", "text": "approve"}]


def test_bots_post_without_client_msg_id_or_added_blocks(slack_emulator, bot, ml):
    slack_emulator.act_as("chat-alerts").post("ml-alerts", "from the app")
    slack_emulator.act_as("ci-bot").post("ml-alerts", "from another app")
    bot.chat_postMessage(channel=ml, text="an app cannot pose as a client", client_msg_id=str(uuid.uuid4()))
    for message in bot.conversations_history(channel=ml)["messages"]:
        assert "client_msg_id" not in message and "blocks" not in message
    # a person's own blocks are posted as given (a client would not add rich_text to them)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hand-made"}}]
    slack_emulator.act_as("alice").post("ml-alerts", "hand-made", blocks=blocks)
    mine = bot.conversations_history(channel=ml)["messages"][0]
    assert [b["type"] for b in mine["blocks"]] == ["section"] and mine["client_msg_id"]


@pytest.mark.parametrize(
    ("text", "elements"),
    [
        ("approve", [{"type": "rich_text_section", "elements": [{"type": "text", "text": "approve"}]}]),
        ("a &lt; b &amp;&amp; c &gt; d", [{"type": "rich_text_section",
                                          "elements": [{"type": "text", "text": "a < b && c > d"}]}]),
        ("<!subteam^S0MLLEADS|@ml-leads> <!here> <#C0OPS|ops>",
         [{"type": "rich_text_section", "elements": [
             {"type": "usergroup", "usergroup_id": "S0MLLEADS"}, {"type": "text", "text": " "},
             {"type": "broadcast", "range": "here"}, {"type": "text", "text": " "},
             {"type": "channel", "channel_id": "C0OPS"}]}]),
        ("see <https://example.com/a?b=1&amp;c=2|the run> or <https://example.com>",
         [{"type": "rich_text_section", "elements": [
             {"type": "text", "text": "see "},
             {"type": "link", "url": "https://example.com/a?b=1&c=2", "text": "the run"},
             {"type": "text", "text": " or "}, {"type": "link", "url": "https://example.com"}]}]),
        ("_maybe_ ~no~ `code` 2*3*4 snake_case_name :not_an_emoji: :white_check_mark:",
         [{"type": "rich_text_section", "elements": [
             {"type": "text", "text": "maybe", "style": {"italic": True}}, {"type": "text", "text": " "},
             {"type": "text", "text": "no", "style": {"strike": True}}, {"type": "text", "text": " "},
             {"type": "text", "text": "code", "style": {"code": True}},
             {"type": "text", "text": " 2*3*4 snake_case_name :not_an_emoji: "},
             {"type": "emoji", "name": "white_check_mark"}]}]),
        ("reject\n&gt; numbers look off\n&gt; twice\nsee\n```SELECT 1```",
         [{"type": "rich_text_section", "elements": [{"type": "text", "text": "reject"}]},
          {"type": "rich_text_quote", "elements": [{"type": "text", "text": "numbers look off\ntwice"}]},
          {"type": "rich_text_section", "elements": [{"type": "text", "text": "see"}]},
          {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": "SELECT 1"}], "border": 0}]),
    ],
)
def test_the_rich_text_a_client_sends_for_typed_text(text, elements):
    assert rich_text_block(text) == {"type": "rich_text", "elements": elements}


def test_empty_text_has_no_rich_text():
    assert rich_text_block("") is None


def test_angle_brackets_that_are_no_markup_stay_text_in_the_rich_text():
    from airflow_chat_alerts.testing.rich_text import inline_elements

    assert inline_elements("<script>x</script> <https://a.example|a>") == [
        {"type": "text", "text": "<script>x</script> "},
        {"type": "link", "url": "https://a.example", "text": "a"},
    ]
