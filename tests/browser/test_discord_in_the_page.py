"""The Discord emulator in the browser: a DAG's question with its Approve / Reject buttons, pressed as alice in the
page (the emulator records her click and the waiting trigger's Gateway session acknowledges it), the outcome
shown without a reload; and Discord's content (embeds, replies, threads, link buttons) shown as text, hostile
content included. Real Airflow (``dag.test()``), a real Gateway session, real Chromium."""

from __future__ import annotations

from datetime import timedelta

import pendulum
import pytest
from airflow.sdk import DAG

from airflow_chat_alerts import ChatAskSensor
from airflow_chat_alerts.testing.discord import Guild

from .conftest import Page, Person

START = pendulum.datetime(2025, 1, 1, tz="UTC")
ALICE = Guild.default().member("alice").id  # seed ids are fixed

with DAG("web_view_discord_ask", schedule=None, start_date=START) as ASK:
    ChatAskSensor(task_id="ask", message="Deploy model *v42*? Accuracy `0.97`", approvers=[ALICE],
                  chat_conn_id="discord_bot_default", timeout=timedelta(minutes=3), on_timeout="reject",
                  poll_interval=1)

APPROVE = "button[data-action-id^='chat_alerts_approve:']"


@pytest.fixture
def discord_page(browser, discord_web_view) -> Page:
    return Page(browser, discord_web_view.url)


def open_channel(page: Page, emu, viewer: str = "alice") -> Page:
    return page.open(channel=emu.channel_id("ml-alerts"), viewer=emu.user_id(viewer), service="discord")


def test_alice_presses_approve_in_the_page_and_the_emulator_records_her_click(airflow_dags, discord_conn,
                                                                               discord_emulator, discord_page):
    emu, page = discord_emulator, open_channel(discord_page, discord_emulator)
    seen = {}

    def alice() -> None:
        approve = page.wait(lambda: page.one(APPROVE), "the question's Approve button")
        seen["labels"] = [b.text for b in page.css(".bk-actions button")]
        seen["question"] = page.messages_text()
        emu.wait_for_gateway(1, timeout=60)  # the waiting trigger holds the bot's Gateway session
        approve.click()
        page.wait(lambda: "Approved by @alice" in page.messages_text(), "the outcome in place of the buttons")
        seen["buttons_after"] = len(page.css(APPROVE))
        seen["gateway"] = page.one("#sockets").text
        seen["same_document"] = page.same_document()

    person = Person(emu, alice)
    person.start()
    try:
        dag_run = ASK.test()
    finally:
        person.finish()

    assert dag_run.state == "success"
    assert seen["labels"] == ["Approve", "Reject"]
    assert "Deploy model v42? Accuracy 0.97" in seen["question"]
    assert seen["buttons_after"] == 0 and seen["same_document"]
    assert seen["gateway"].startswith("Gateway:")
    [click] = emu.interactions()  # the emulator's own record: alice's click, acknowledged by the bot in time
    assert (click.user_id, click.custom_id.startswith("chat_alerts_approve:"), click.status) == (
        ALICE, True, "acknowledged")


HOSTILE = "<script>window.pwned='content'</script> [click me](javascript:window.pwned='masked') **<b>x</b>**"


def test_discord_content_renders_as_text_and_runs_nothing(discord_emulator, discord_page):
    emu = discord_emulator
    bot = emu.act_as("chat-alerts")
    question = bot.post("ml-alerts", f"# Deploy v42?\nfor <@{ALICE}>\n-# DAG `train`", embeds=[{
        "title": "<img src=x onerror=\"window.pwned='title'\">", "url": "javascript:window.pwned='url'",
        "description": "Accuracy **0.97**", "color": 0x2EB67D,
        "fields": [{"name": "Owner", "value": f"<@&{emu.role_id('ml-leads')}>", "inline": True}],
        "image": {"url": "javascript:window.pwned='image'"}}],
        components=[{"type": 1, "components": [
            {"type": 2, "style": 3, "label": "Approve", "custom_id": "approve"},
            {"type": 2, "style": 5, "label": "<i>Open</i>", "url": "javascript:window.pwned='link'"},
            {"type": 2, "style": 5, "label": "Docs", "url": "https://docs.example/"}]}])
    emu.act_as("bob").reply("ml-alerts", question, HOSTILE)
    thread = emu.act_as("alice").start_thread("ml-alerts", question, "Deploy talk")
    emu.act_as("alice").post_in_thread(thread, f"token? {emu.bot_token}")

    page = open_channel(discord_page, emu, viewer="bob")
    page.wait(lambda: "token? [hidden]" in page.messages_text(), "the thread's message")
    shown = page.messages_text()
    assert page.one(".bk-header").text == "Deploy v42?"
    assert page.one(".card").value_of_css_property("border-left-color") == "rgba(46, 182, 125, 1)"
    assert "@alice" in shown and "@ml-leads" in shown and "Deploy talk" in shown
    assert "↪ chat-alerts: Deploy v42?" in shown
    assert "<script>window.pwned='content'</script>" in shown and "<b>x</b>" in shown
    assert [a.get_attribute("href") for a in page.css("a.bk-link")] == ["https://docs.example/"]
    page.one("button[data-action-id=approve]").click()  # no bot connected: Discord's "interaction failed"
    page.wait(lambda: "no Gateway session" in page.one(".message .act-error").text, "the failed click's note")
    driver = page.driver
    assert driver.execute_script("return window.pwned") is None
    assert driver.execute_script("return document.scripts.length") == 1
    assert driver.execute_script(
        "return [...document.querySelectorAll('[href],[src]')].filter(e => /^\\s*javascript:/i.test("
        "e.getAttribute('href') || e.getAttribute('src'))).length") == 0
    assert emu.bot_token not in driver.page_source
    [refused] = emu.interactions()
    assert (refused.user_id, refused.status) == (emu.user_id("bob"), "expired")
