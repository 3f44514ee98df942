"""The web view in Chromium: live updates, acting as people, hostile messages, long channels, keyboard and
screen-reader basics, the journal, and the service switch."""

from __future__ import annotations

from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from airflow_chat_alerts.testing import SlackEmulator
from airflow_chat_alerts.testing.web import SlackSource, WebView

from .conftest import Page

QUESTION = [
    {"type": "header", "text": {"type": "plain_text", "text": "Deploy model v42? :rocket:"}},
    {"type": "section", "text": {"type": "mrkdwn", "text": "Accuracy *0.97* for <@U0ALICE>"},
     "fields": [{"type": "mrkdwn", "text": "*Owner*\n<!subteam^S0MLLEADS>"}]},
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "*DAG* `train` · <https://airflow.example/x|Open in Airflow>"}]},
    {"type": "divider"},
    {"type": "image", "image_url": "https://plots.invalid/accuracy.png", "alt_text": "accuracy over epochs"},
    {"type": "actions", "block_id": "decision", "elements": [
        {"type": "button", "action_id": "approve", "text": {"type": "plain_text", "text": "Approve"}, "style": "primary"},
        {"type": "button", "action_id": "reject", "text": {"type": "plain_text", "text": "Reject"}, "style": "danger"},
        {"type": "static_select", "action_id": "model", "placeholder": {"type": "plain_text", "text": "Pick a model"},
         "options": [{"text": {"type": "plain_text", "text": "v42"}, "value": "v42"}]},
        {"type": "multi_users_select", "action_id": "who", "placeholder": {"type": "plain_text", "text": "Reviewers"}},
    ]},
    {"type": "video", "title": {"type": "plain_text", "text": "Training replay"}, "video_url": "https://x.invalid"},
]


def test_the_channel_follows_the_emulator_live_without_a_reload(page, slack_emulator):
    page.open(channel="C0MLALERTS")
    ts = slack_emulator.client().chat_postMessage(channel="ml-alerts", text="Deploy?", blocks=QUESTION)["ts"]
    page.wait(lambda: "Deploy model v42?" in page.messages_text(), "the new message")
    assert page.one(".bk-header").text == "Deploy model v42? 🚀"
    assert page.one(".bk-section .mention").text == "@alice"
    assert [b.text for b in page.css(".bk-actions button")] == ["Approve", "Reject"]
    assert page.one(".bk-unknown-type").text == "video block"  # a block the page does not lay out still reads
    slack_emulator.act_as("bob").reply("ml-alerts", ts, "reject - *numbers* look off")
    slack_emulator.act_as("carol").react("ml-alerts", ts, "white_check_mark")
    page.wait(lambda: "numbers look off" in page.one(".thread").text, "the reply in the thread")
    page.wait(lambda: page.one(".reaction .count").text == "1", "the reaction")
    slack_emulator.client().chat_update(channel=slack_emulator.channel_id("ml-alerts"), ts=ts, text="✅ Approved by <@U0ALICE>")
    page.wait(lambda: "Approved by @alice" in page.messages_text() and not page.css(".bk-actions"),
              "the outcome replacing the buttons")
    assert "(edited)" in page.one(".message").text
    other = slack_emulator.act_as("dave").post("ml-alerts", "to be deleted")
    page.wait(lambda: "to be deleted" in page.messages_text(), "dave's message")
    slack_emulator.act_as("dave").delete("ml-alerts", other)
    page.wait(lambda: "to be deleted" not in page.messages_text(), "the deletion")
    assert not page.css(".channel .unread")
    slack_emulator.act_as("bob").post("ops", "meanwhile, elsewhere")
    page.wait(lambda: page.css(".channel[data-channel=C0OPS] .unread"), "the mark of news in #ops")
    assert page.same_document()


def test_acting_as_people_in_the_page(page, slack_emulator):
    page.open(channel="C0OPS", viewer="U0ALICE")
    composer = page.one("#composer-text")
    composer.send_keys("hello from the page", Keys.ENTER)
    page.wait(lambda: len(slack_emulator.messages("ops")) == 1, "alice's post in the emulator")
    [posted] = slack_emulator.messages("ops")
    assert (posted["user"], posted["text"]) == ("U0ALICE", "hello from the page")
    page.wait(lambda: "hello from the page" in page.messages_text(), "the post in the page")

    page.act_as("U0BOB")
    page.wait(lambda: page.one("#composer-text").get_attribute("placeholder") == "Message #ops as bob", "bob's composer")
    page.click(lambda: page.tool("Reply"), "Reply")
    page.wait(lambda: page.one(".reply-form textarea"), "the reply box").send_keys("approve", Keys.ENTER)
    page.wait(lambda: len(slack_emulator.thread("ops", posted["ts"])) == 2, "bob's reply")
    assert slack_emulator.thread("ops", posted["ts"])[1]["user"] == "U0BOB"

    page.click(lambda: page.tool("React"), "React")
    page.click(lambda: page.one(".quick-reaction[aria-label='React with white check mark']"), "the picker's ✅")
    page.wait(lambda: slack_emulator.messages("ops")[0].get("reactions"), "bob's reaction")
    assert slack_emulator.messages("ops")[0]["reactions"][0] == {"name": "white_check_mark", "users": ["U0BOB"], "count": 1}
    page.click(lambda: page.one(".reaction[aria-pressed='true']"), "bob's reaction, to take it back")
    page.wait(lambda: not slack_emulator.messages("ops")[0].get("reactions"), "the reaction removed")

    # bob may not edit alice's message: the page offers him no Edit; alice may
    assert page.tool("Edit") is None and page.tool("Delete") is None
    page.act_as("U0ALICE")
    page.click(lambda: page.tool("Edit"), "alice's Edit")
    box = page.wait(lambda: page.one(".edit-form textarea"), "the edit box")
    box.clear()
    box.send_keys("hello, edited", Keys.ENTER)
    page.wait(lambda: slack_emulator.messages("ops")[0]["text"] == "hello, edited", "the edit")
    page.click(lambda: page.tool("Delete"), "Delete")
    page.click(lambda: page.tool("Confirm delete"), "Confirm delete")
    page.wait(lambda: slack_emulator.messages("ops")[0].get("subtype") == "tombstone", "the deletion")
    assert page.same_document()


def test_the_emulators_answers_show_where_the_person_acted(page, slack_emulator):
    page.open(channel="C0MLPRIVATE", viewer="U0BOB")
    assert "bob is not a member of this channel" in page.one("#channel-topic").text
    page.one("#composer-text").send_keys("let me in", Keys.ENTER)
    page.wait(lambda: "channel_not_found" in page.one("#composer-error").text, "Slack's answer under the composer")
    page.open(channel="C0MLALERTS", viewer="U0ALICE")
    slack_emulator.faults.add("chat.postMessage", "429", retry_after=5)
    page.one("#composer-text").send_keys("too fast", Keys.ENTER)
    page.wait(lambda: "Retry after 5 s" in page.one("#composer-error").text, "the 429")
    page.wait(lambda: page.css(".journal-entry.kind-limited"), "the 429 in the journal")
    Select(page.one("#journal-filter")).select_by_value("errors")
    shown = [e for e in page.css(".journal-entry") if e.is_displayed()]
    assert [(e.get_attribute("class"), e.text.split()[1]) for e in shown] == [
        ("journal-entry kind-error", "chat.postMessage"), ("journal-entry kind-limited", "chat.postMessage")]


def test_a_button_with_no_app_listening_shows_slacks_error(page, slack_emulator):
    page.open(channel="C0MLALERTS")
    slack_emulator.client().chat_postMessage(channel="ml-alerts", text="Deploy?", blocks=QUESTION)
    button = page.wait(lambda: page.one("button[data-action-id=approve]"), "the button")
    button.click()
    page.wait(lambda: "no Socket Mode connection of the app is open" in page.one(".message .act-error").text,
              "the error on the message")
    assert "Socket Mode: no connection" in page.one("#sockets").text


HOSTILE = [
    "<script>window.__pwned = 'script'</script>",
    "&lt;img src=x onerror=\"window.__pwned='img'\"&gt;",
    "<img src=x onerror=\"window.__pwned='raw img'\">",
    "<javascript:window.__pwned='link'|click me>",
    "\"><svg onload=\"window.__pwned='svg'\">",
    "```</pre><script>window.__pwned='pre'</script>```",
    "*<b onmouseover=\"window.__pwned='b'\">bold</b>*",
]


def test_hostile_messages_are_shown_as_text_and_run_nothing(page, slack_emulator):
    # Hostile text as a Web API caller sends it (a person's client would escape "<" and add a rich_text block).
    bob = slack_emulator.client("bob")
    for text in HOSTILE:
        bob.chat_postMessage(channel="ml-alerts", text=text)
    bob.chat_postMessage(channel="ml-alerts", text=f"a token: {slack_emulator.bot_token}")
    slack_emulator.client().chat_postMessage(channel="ml-alerts", text="x", blocks=[
        {"type": "header", "text": {"type": "plain_text", "text": "<script>window.__pwned='header'</script>"}},
        {"type": "image", "image_url": "javascript:window.__pwned='image'", "alt_text": "\" onerror=\"window.__pwned='alt'"},
        {"type": "actions", "elements": [{"type": "button", "action_id": "a\" onclick=\"window.__pwned='id'",
                                          "text": {"type": "plain_text", "text": "<i>label</i>"},
                                          "url": "javascript:window.__pwned='url'"}]},
        {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
            {"type": "link", "url": "javascript:window.__pwned='rich'", "text": "rich link"}]}]},
        {"type": "unknown_kind", "text": "<img src=x onerror=\"window.__pwned='unknown'\">"},
    ])
    page.open(channel="C0MLALERTS", viewer="U0ALICE")
    page.wait(lambda: page.css(".bk-header"), "the messages")
    for button in page.css(".bk-actions button"):
        button.click()  # whatever a click can trigger
    shown = page.messages_text()
    assert "<script>window.__pwned = 'script'</script>" in shown
    assert "<img src=x onerror=\"window.__pwned='img'\">" in shown
    assert "<i>label</i>" in shown and "click me" in shown
    driver = page.driver
    assert driver.execute_script("return window.__pwned") is None
    assert driver.execute_script("return document.scripts.length") == 1  # the page's own app.js
    assert driver.execute_script(
        "return [...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length"
    ) == 0
    assert driver.execute_script(
        "return [...document.querySelectorAll('[href],[src]')].filter(e => /^\\s*javascript:/i.test("
        "e.getAttribute('href') || e.getAttribute('src'))).length") == 0
    assert slack_emulator.bot_token not in driver.page_source and "a token: [hidden]" in shown


def test_a_channel_of_a_thousand_messages_renders_whole(page, slack_emulator):
    bob = slack_emulator.workspace.user("bob")
    for n in range(1000):
        slack_emulator.state.post("C0OPS", bob, text=f"message {n} with *bold*, <@U0ALICE> and :tada:")
    page.open(channel="C0OPS")
    assert page.driver.execute_script("return document.body.dataset.rendered") == "1000"
    assert page.driver.execute_script("return document.querySelectorAll('#messages article.message').length") == 1000
    assert "message 999 with bold, @alice and 🎉" in page.css("#messages article.message")[-1].text


def test_keyboard_and_screen_reader_basics(page, slack_emulator):
    slack_emulator.client().chat_postMessage(channel="ml-alerts", text="Deploy?", blocks=QUESTION)
    page.open(channel="C0MLALERTS")
    page.wait(lambda: page.css("button[data-action-id=approve]"), "the question")
    driver = page.driver
    # Every control is a real control with a name a screen reader reads.
    assert driver.execute_script("return document.querySelectorAll('[role=button], div[onclick], span[onclick]').length") == 0
    unnamed = driver.execute_script(
        "return [...document.querySelectorAll('button')].filter(b => !(b.textContent.trim() || b.getAttribute('aria-label')))"
        ".map(b => b.outerHTML)")
    assert unnamed == []
    assert driver.execute_script("return [...document.querySelectorAll('img')].filter(i => !i.hasAttribute('alt')).length") == 0
    assert page.one(".bk-image img").get_attribute("alt") == "accuracy over epochs"
    unlabelled = driver.execute_script(
        "return [...document.querySelectorAll('select, textarea, input')].filter(c => !(c.labels && c.labels.length)"
        " && !c.getAttribute('aria-label')).map(c => c.outerHTML)")
    assert unlabelled == []
    assert page.one("#messages").get_attribute("role") == "log"
    assert page.one(".emoji[role=img]").get_attribute("aria-label")
    # Tab reaches the Approve button, and Enter presses it.
    page.one("#composer-text").click()
    approve = page.one("button[data-action-id=approve]")
    for _ in range(200):
        if driver.switch_to.active_element == approve:
            break
        driver.switch_to.active_element.send_keys(Keys.SHIFT, Keys.TAB)
    assert driver.switch_to.active_element == approve
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    page.wait(lambda: "no Socket Mode connection" in page.one(".message .act-error").text, "the press by keyboard")


def test_the_service_switch_shows_another_emulator(browser, slack_emulator):
    partner = SlackEmulator()
    try:
        partner.act_as("bob").post("ops", "hello from the partner workspace")
        with WebView(SlackSource(slack_emulator), SlackSource(partner, id="partner", name="Slack (partner)")) as view:
            page = Page(browser, view.url).open(channel="C0OPS")
            assert [o.text for o in Select(page.one("#service")).options] == ["Slack", "Slack (partner)"]
            assert "hello from the partner workspace" not in page.messages_text()
            Select(page.one("#service")).select_by_value("partner")
            page.wait(lambda: page.one(".channel.current").text.strip().endswith("ml-alerts"), "the partner's channels")
            next(b for b in page.css(".channel") if b.text.strip().endswith("ops")).click()
            page.wait(lambda: "hello from the partner workspace" in page.messages_text(), "the partner's message")
            partner.act_as("carol").post("ops", "live in the partner workspace too")
            page.wait(lambda: "live in the partner workspace too" in page.messages_text(), "a live partner message")
    finally:
        partner.stop()
