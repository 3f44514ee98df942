"""Discord messages (as the REST API shows them) as the web page's message views: embeds, buttons, reactions,
replies, interaction responses, and hostile content kept as text."""

from __future__ import annotations

from airflow_chat_alerts.testing.discord.guild import Guild
from airflow_chat_alerts.testing.discord.web_messages import Directory, deleted_starter, message_view

GUILD = Guild.default()
NAMES = Directory(GUILD, {"900": "talk"})
ALICE, BOB, BOT = (GUILD.member(n).id for n in ("alice", "bob", "chat-alerts"))


def message(**fields):
    base = {"id": "1000", "type": 0, "content": "", "timestamp": "2025-01-01T00:00:00.000000+00:00",
            "edited_timestamp": None, "flags": 0, "author": {"id": BOT, "username": "chat-alerts", "bot": True},
            "embeds": [], "components": [], "attachments": []}
    return {**base, **fields}


def test_the_author_and_the_content():
    view = message_view(message(content=f"Deploy **v42**? <@{ALICE}> <#900>", edited_timestamp="2025-01-01T00:01:00+00:00"),
                        NAMES)
    assert view["author"] == {"id": BOT, "name": "chat-alerts", "label": "Chat Alerts", "kind": "app", "badge": "APP",
                              "via": None}
    assert view["body"] == [{"t": "text", "c": ["Deploy ", {"t": "b", "c": ["v42"]}, "? ",
                                                {"t": "mention", "kind": "user", "id": ALICE, "label": "@alice"}, " ",
                                                {"t": "mention", "kind": "channel", "id": "900", "label": "#talk"}]}]
    assert (view["ts"], view["time"], view["edited"], view["ephemeral"]) == ("1000", 1735689600.0, True, False)


def test_an_embed_is_a_card():
    embed = {"title": "Model v42", "url": "https://airflow.example/run", "description": "accuracy *0.97*",
             "color": 0x2EB67D, "author": {"name": "Airflow"},
             "fields": [{"name": "DAG", "value": "`train`", "inline": True}, {"name": "Run", "value": "r1", "inline": True},
                        {"name": "Notes", "value": "> fine", "inline": False}],
             "image": {"url": "https://plots.example/a.png"}, "footer": {"text": "chat-alerts"},
             "timestamp": "2025-01-01T00:00:00+00:00"}
    [card] = message_view(message(embeds=[embed]), NAMES)["body"]
    assert card["t"] == "card" and card["accent"] == "#2eb67d"
    author, title, description, inline_fields, notes, image, footer = card["c"]
    assert author == {"t": "context", "c": [{"t": "text", "c": ["Airflow"]}]}
    assert title == {"t": "header", "c": [{"t": "link", "href": "https://airflow.example/run", "c": ["Model v42"]}]}
    assert description == {"t": "text", "c": ["accuracy ", {"t": "i", "c": ["0.97"]}]}
    assert inline_fields["fields"] == [[{"t": "b", "c": ["DAG"]}, {"t": "br"}, {"t": "code", "v": "train"}],
                                       [{"t": "b", "c": ["Run"]}, {"t": "br"}, "r1"]]
    assert notes["text"] == [{"t": "b", "c": ["Notes"]}, {"t": "br"}, {"t": "quote", "c": ["fine"]}]
    assert image == {"t": "image", "src": "https://plots.example/a.png", "alt": "embed image", "title": ""}
    assert footer["c"][0]["c"][0] == "chat-alerts" and footer["c"][0]["c"][2]["epoch"] == 1735689600


def test_buttons_in_action_rows():
    rows = [{"type": 1, "id": 1, "components": [
        {"type": 2, "id": 2, "style": 3, "label": "Approve", "custom_id": "chat_alerts_approve:1"},
        {"type": 2, "id": 3, "style": 4, "label": "Reject", "custom_id": "chat_alerts_reject:1", "disabled": True},
        {"type": 2, "id": 4, "style": 5, "label": "Open", "url": "https://airflow.example", "emoji": {"name": "🔗"}},
        {"type": 2, "id": 5, "style": 2, "label": "Later", "custom_id": "later", "emoji": {"name": "blob", "id": "7"}},
    ]}]
    [actions] = message_view(message(components=rows), NAMES)["body"]
    approve, reject, link, later = actions["elements"]
    assert actions["t"] == "actions" and actions["block_id"] == "1"
    assert (approve["label"], approve["action_id"], approve["style"], approve["disabled"]) == (
        "Approve", "chat_alerts_approve:1", "primary", False)
    assert (reject["style"], reject["disabled"]) == ("danger", True)
    assert (link["label"], link["action_id"], link["url"]) == ("🔗 Open", "", "https://airflow.example")
    assert (later["label"], later["style"]) == (":blob: Later", None)


def test_reactions_by_short_name_with_who_reacted():
    view = message_view(message(content="x"), NAMES, reacted={"✅": [ALICE, BOB], "7:blob": [BOB]})
    assert view["reactions"] == [
        {"name": "white_check_mark", "char": "✅", "users": [ALICE, BOB], "count": 2},
        {"name": "blob:7", "char": None, "users": [BOB], "count": 1},
    ]


def test_a_reply_an_interaction_response_a_loading_one_and_an_ephemeral_one():
    quoted = message_view(message(type=19, content="ok", message_reference={"message_id": "9"},
                                  referenced_message=message(id="9", content="Deploy?\n> note\n```x```end")), NAMES)
    assert quoted["reply_to"]["line"] == "chat-alerts: Deploy? note x end"
    parent = message(id="999", content="Deploy **model** v42 " + "now " * 40)
    reply = message_view(message(type=19, content="approve", author={"id": BOB, "username": "bob"},
                                 message_reference={"message_id": "999"}, referenced_message=parent), NAMES)
    assert reply["reply_to"]["id"] == "999" and reply["reply_to"]["line"].startswith("chat-alerts: Deploy model v42 now")
    assert len(reply["reply_to"]["line"]) <= len("chat-alerts: ") + 80
    gone = message_view(message(type=19, content="x", message_reference={"message_id": "998"},
                                referenced_message=None), NAMES)
    assert gone["reply_to"] == {"id": "998", "line": "Original message was deleted"}
    answered = message_view(message(content=f"<@{ALICE}> pressed **Approve**", interaction_metadata={
        "id": "5", "type": 3, "user": {"id": ALICE, "username": "alice"}, "interacted_message_id": "999"}), NAMES)
    assert answered["reply_to"] == {"id": "999", "line": "alice used a button"}
    loading = message_view(message(flags=1 << 7 | 1 << 6), NAMES)
    assert loading["ephemeral"] and loading["body"][-1]["c"][0]["c"] == [{"t": "i", "c": ["chat-alerts is thinking…"]}]


def test_a_webhook_message_a_thread_and_its_deleted_starter():
    hooked = message_view(message(author={"id": "55", "username": "ml-alerts-alerts", "bot": True}, webhook_id="55",
                                  content="hi"), NAMES)
    assert (hooked["author"]["name"], hooked["author"]["via"], hooked["author"]["badge"]) == (
        "ml-alerts-alerts", "webhook", "APP")
    starter = message_view(message(content="q", thread={"id": "1000", "name": "talk", "message_count": 3}), NAMES)
    assert (starter["reply_count"], starter["thread_name"]) == (3, "talk")
    in_thread = message_view(message(id="1001", content="a"), NAMES, thread_ts="1000")
    assert in_thread["thread_ts"] == "1000"
    stand_in = deleted_starter({"id": "1000", "name": "talk", "message_count": 2,
                                "thread_metadata": {"create_timestamp": "2025-01-01T00:00:00+00:00"}})
    assert stand_in["deleted"] and stand_in["ts"] == "1000" and stand_in["reply_count"] == 2


def test_hostile_content_stays_text_and_unsafe_links_go():
    view = message_view(message(
        content="<script>window.x=1</script> [click](javascript:alert(1))",
        embeds=[{"title": "<img src=x onerror=alert(1)>", "url": "javascript:alert(1)",
                 "image": {"url": "javascript:alert(1)"}, "author": {"name": "a", "url": "javascript:alert(2)"}}],
        components=[{"type": 1, "components": [{"type": 2, "style": 5, "label": "<b>x</b>",
                                                "url": "javascript:alert(1)"}]}]), NAMES)
    text, card, actions = view["body"]
    assert text == {"t": "text", "c": ["<script>window.x=1</script> [click](javascript:alert(1))"]}
    author, title, image = card["c"]
    assert author["c"][0]["c"] == ["a"] and title == {"t": "header", "c": ["<img src=x onerror=alert(1)>"]}
    assert image["src"] is None
    assert actions["elements"][0]["url"] is None and actions["elements"][0]["label"] == "<b>x</b>"


def test_malformed_json_is_shown_not_raised():
    view = message_view(message(embeds=["x", {"fields": "nope", "color": "red"}], components=[{"type": 1,
                        "components": [{"type": 3}]}], flags=None, author=None, timestamp="yesterday"), NAMES)
    assert view["time"] == 0.0 and view["author"]["name"] == "unknown"
    assert view["body"][2]["elements"][0] == {"t": "element", "type": "component 3", "label": "", "action_id": ""}
