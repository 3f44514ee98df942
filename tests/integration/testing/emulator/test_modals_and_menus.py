"""Modals (views.open / views.update, view_submission over Socket Mode) and menus in messages, driven by
slack_sdk's own clients; and the package's Human-in-the-loop form and message against them.

Shapes checked against Slack's documentation (slack-ruby/slack-api-ref's views.open and
conversations.open, Slack's view_submission payload reference, slack_sdk's ``View`` / ``ViewState``
models):

- ``views.open`` → ``{"ok": true, "view": {"id", "team_id", "type", "title", "submit", "blocks",
  "private_metadata", "callback_id", "external_id", "state": {"values"}, "hash", "clear_on_close",
  "notify_on_close", "root_view_id", "app_id", "bot_id", …}}``; a trigger id it never issued:
  ``invalid_arguments`` with ``response_metadata.messages`` ``["invalid `trigger_id`"]``; errors
  ``expired_trigger_id`` ("The trigger_id is expired"), ``exchanged_trigger_id`` ("already exchanged in a
  previous call"), ``view_too_large`` (over 250 kB), ``duplicate_external_id``.
- ``view_submission``: ``{"type", "team", "user": {"id", "username", "name", "team_id"}, "api_app_id",
  "token", "trigger_id", "view": {… "state": {"values": {block_id: {action_id: {"type", "value" |
  "selected_option" | "selected_options" | "selected_date"}}}}}, "response_urls", …}`` in an
  ``interactive`` envelope with ``accepts_response_payload: true``; the ack's ``payload`` may be
  ``{"response_action": "errors", "errors": {block_id: message}}``, ``update`` / ``push`` with a ``view``,
  or ``clear``.
- ``block_actions`` of a static select: ``actions[0]`` ``{"type": "static_select", "action_id",
  "block_id", "selected_option", "placeholder", "action_ts"}`` (multi-select: ``selected_options``), and
  ``state.values`` with every menu of the message.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import ViewState
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from airflow_chat_alerts.hitl import choices
from airflow_chat_alerts.hitl.choices import Choice
from airflow_chat_alerts.hitl.form import Form, FormSubmission, form_metadata
from airflow_chat_alerts.hitl.message import request_message
from airflow_chat_alerts.hitl.request import HITLRequest
from airflow_chat_alerts.testing import ClickFailed, InvalidResponseAction, MenuNotFound, ViewInputError

from .test_socket_mode import in_thread, until

Handler = Callable[[SocketModeRequest], Awaitable[dict[str, Any] | None]]


def scenario(test):
    """Run an async test on its own event loop (the suite runs without an asyncio plugin); fixtures and
    parameters pass through (pytest reads the wrapped signature)."""

    @functools.wraps(test)
    def run(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return run


class ModalApp:
    """The app: slack_sdk's SocketModeClient whose handler decides each ack's response payload, and an
    AsyncWebClient with the bot token for views.open."""

    def __init__(self, emulator, handler: Handler | None = None) -> None:
        self.handler = handler
        self.requests: list[SocketModeRequest] = []
        self.web = AsyncWebClient(token=emulator.bot_token, base_url=emulator.base_url)
        self.client = SocketModeClient(app_token=emulator.app_token, web_client=AsyncWebClient(base_url=emulator.base_url))
        self.client.socket_mode_request_listeners.append(self._on_request)
        self.hellos: list[dict[str, Any]] = []
        self.client.message_listeners.append(self._on_message)

    async def _on_message(self, client: SocketModeClient, message: dict[str, Any], raw: str | None) -> None:
        if message.get("type") == "hello":
            self.hellos.append(message)

    async def _on_request(self, client: SocketModeClient, request: SocketModeRequest) -> None:
        self.requests.append(request)
        payload = await self.handler(request) if self.handler else None
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id, payload=payload))

    def of_type(self, kind: str) -> list[SocketModeRequest]:
        return [r for r in self.requests if r.payload.get("type") == kind]

    async def __aenter__(self) -> ModalApp:
        await self.client.connect()
        await until(lambda: self.hellos, "hello")  # interactions go only to sockets that said hello
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.close()
        for web in (self.web, self.client.web_client):
            if web.session:
                await web.session.close()


def param(value=None, description=None, **schema):
    return {"value": value, "description": description, "schema": schema, "source": "task"}


REQUEST = HITLRequest.of(
    subject="Where should v2 go?",
    options=["EU", "US", "Nowhere"],
    params={
        "reason": param(None, "Why this target", type="string", minLength=5, title="Reason"),
        "replicas": param(3, type="integer", minimum=1, maximum=10),
        "canary": param(True, type="boolean"),
        "region": param("eu-west", type="string", enum=["eu-west", "eu-north"]),
        "day": param("2030-01-01", type="string", format="date"),
        "ticket": param("OPS-1", type="string", pattern="^OPS-[0-9]+$"),  # a rule only the app checks
    },
)
FORM = Form.of(REQUEST)


def post_request(emulator, channel: str = "ml-alerts", request: HITLRequest = REQUEST) -> str:
    msg = request_message(request, context=None, deadline=None, interactive=True)
    return emulator.client().chat_postMessage(channel=emulator.channel_id(channel), text=msg.text,
                                              blocks=msg.blocks)["ts"]


def opens_the_form(app_web: AsyncWebClient, channel: str, ts: str, options=REQUEST.options) -> Handler:
    """A handler that opens the request's form when its Fill-in-the-form button is pressed."""

    async def handle(request: SocketModeRequest) -> dict[str, Any] | None:
        choice = Choice.from_payload(request.payload, options)
        if choice is not None and choice.kind == "form":
            metadata = form_metadata(channel=choice.channel, ts=choice.message_ts, digest=FORM.digest)
            await app_web.views_open(trigger_id=choice.trigger_id, view=FORM.view(private_metadata=metadata))
        return None

    return handle


# -- views.open and trigger ids ---------------------------------------------------------------------
@scenario
async def test_a_click_opens_a_modal_for_the_person_who_clicked(slack_emulator):
    ts = post_request(slack_emulator)
    opened: list[dict[str, Any]] = []
    async with ModalApp(slack_emulator) as app:
        async def handle(request):
            choice = Choice.from_payload(request.payload, REQUEST.options)
            response = await app.web.views_open(
                trigger_id=choice.trigger_id,
                view=FORM.view(private_metadata=form_metadata(channel=choice.channel, ts=ts, digest=FORM.digest)),
            )
            opened.append(response.data)
            return None

        app.handler = handle
        await slack_emulator.act_as("alice").click_async("ml-alerts", ts, choices.FORM_ACTION)
        await until(lambda: opened, "views.open")
    view = opened[0]["view"]
    documented = {"id", "team_id", "type", "title", "submit", "blocks", "private_metadata", "callback_id",
                  "external_id", "state", "hash", "clear_on_close", "notify_on_close", "root_view_id", "app_id",
                  "bot_id"}
    assert documented <= set(view)
    assert (view["type"], view["root_view_id"], view["state"]) == ("modal", view["id"], {"values": {}})
    assert [v["id"] for v in slack_emulator.open_views("alice")] == [view["id"]]
    assert slack_emulator.open_views("bob") == []


def test_a_trigger_id_opens_one_modal_within_3_seconds(slack_emulator):
    ts = post_request(slack_emulator)
    payload = slack_emulator._click_payload("alice", "ml-alerts", ts, choices.FORM_ACTION, None)
    bot = slack_emulator.client()
    view = FORM.view(private_metadata="{}")

    def error(trigger_id: str) -> SlackApiError:
        with pytest.raises(SlackApiError) as info:
            bot.views_open(trigger_id=trigger_id, view=view)
        return info.value

    assert error("1714557700.nope").response.data == {
        "ok": False, "error": "invalid_arguments", "response_metadata": {"messages": ["invalid `trigger_id`"]}}
    bot.views_open(trigger_id=payload["trigger_id"], view=view)
    assert error(payload["trigger_id"]).response["error"] == "exchanged_trigger_id"
    late = slack_emulator._click_payload("alice", "ml-alerts", ts, choices.FORM_ACTION, None)
    slack_emulator.clock.advance(3.5)
    assert error(late["trigger_id"]).response["error"] == "expired_trigger_id"


def test_another_apps_token_cannot_use_the_trigger_id(slack_emulator):
    ts = post_request(slack_emulator)
    payload = slack_emulator._click_payload("alice", "ml-alerts", ts, choices.FORM_ACTION, None)
    with pytest.raises(SlackApiError) as info:
        slack_emulator.client("ci-bot").views_open(trigger_id=payload["trigger_id"], view=FORM.view(private_metadata=""))
    assert info.value.response["error"] == "invalid_arguments"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda v: v.update(title={"type": "plain_text", "text": "x" * 25}), "must be between 1 and 24 characters"),
        (lambda v: v.pop("submit"), "missing required field: text [json-pointer:/view/submit]"),
        (lambda v: v.update(type="home"), "must be one of modal"),
        (lambda v: v.update(blocks=v["blocks"] * 30), "no more than 100 items allowed"),
        (lambda v: v["blocks"].append(dict(v["blocks"][-1])), "duplicate block_id"),
        (lambda v: v.update(private_metadata="x" * 3001), "[json-pointer:/view/private_metadata]"),
        (lambda v: v["blocks"][1]["element"]["options"].extend(
            [{"text": {"type": "plain_text", "text": str(i)}, "value": str(i)} for i in range(10)]),
         "no more than 10 items allowed"),
    ],
)
def test_a_view_slack_would_refuse_is_invalid_arguments_naming_the_field(slack_emulator, change, message):
    ts = post_request(slack_emulator)
    trigger = slack_emulator._click_payload("alice", "ml-alerts", ts, choices.FORM_ACTION, None)["trigger_id"]
    view = FORM.view(private_metadata="{}")
    change(view)
    with pytest.raises(SlackApiError) as info:
        slack_emulator.client().views_open(trigger_id=trigger, view=view)
    assert info.value.response["error"] == "invalid_arguments"
    assert any(message in m for m in info.value.response["response_metadata"]["messages"])


def test_a_view_over_250_kb_is_too_large(slack_emulator):
    ts = post_request(slack_emulator)
    trigger = slack_emulator._click_payload("alice", "ml-alerts", ts, choices.FORM_ACTION, None)["trigger_id"]
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2990}}
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Big"}, "blocks": [section] * 99}
    with pytest.raises(SlackApiError) as info:
        slack_emulator.client().views_open(trigger_id=trigger, view=view)
    assert info.value.response["error"] == "view_too_large"


# -- view_submission --------------------------------------------------------------------------------
def validates_with_the_form(app: ModalApp) -> Handler:
    """A handler that opens the form on its button, and answers a submission with the form's errors."""
    async def handle(request):
        if request.payload.get("type") == "view_submission":
            submission = FormSubmission.from_payload(request.payload)
            return FORM.read(submission.values).response_action()
        return await opens_the_form(app.web, "", "")(request)
    return handle


@scenario
async def test_submitting_the_form_end_to_end(slack_emulator):
    ts = post_request(slack_emulator)
    alice = slack_emulator.act_as("alice")
    ticket_block = f"chat_alerts_param_{[f.key for f in FORM.fields].index('ticket')}"
    async with ModalApp(slack_emulator) as app:
        app.handler = validates_with_the_form(app)
        await alice.click_async("ml-alerts", ts, choices.FORM_ACTION)
        await until(lambda: slack_emulator.open_views("alice"), "the modal")

        # The client lets through what only the schema forbids; the app answers with the field's error.
        refused = await in_thread(alice.submit_view, {"Your choice": "US", "Reason": "cheaper than EU",
                                                      "ticket": "nope"})
        assert refused.still_open and list(refused.errors) == [ticket_block]
        assert "does not match" in refused.errors[ticket_block]
        accepted = await in_thread(alice.submit_view, {"Your choice": "US", "Reason": "cheaper than EU",
                                                       "replicas": 4, "canary": False, "region": "eu-north",
                                                       "ticket": "OPS-42"})
        assert (accepted.errors, accepted.still_open, accepted.response) == ({}, False, None)

    envelopes = app.of_type("view_submission")
    assert len(envelopes) == 2
    payload = envelopes[-1].payload
    assert set(payload) >= {"type", "team", "user", "api_app_id", "token", "trigger_id", "view", "response_urls"}
    assert payload["user"]["id"] == slack_emulator.user_id("alice")
    ViewState(**payload["view"]["state"]).to_dict()  # slack_sdk reads the state as Slack's
    answer = FORM.read(FormSubmission.from_payload(payload).values)
    assert answer.chosen_options == ("US",)
    assert answer.params_input == {"reason": "cheaper than EU", "replicas": 4, "canary": False,
                                   "region": "eu-north", "day": "2030-01-01",  # untouched: the initial value
                                   "ticket": "OPS-42"}
    sent = [c for c in slack_emulator.journal.calls("socket.envelope") if c.args["payload_type"] == "view_submission"]
    assert len(sent) == 2


@scenario
async def test_an_app_error_response_keeps_the_modal_open_with_the_messages(slack_emulator):
    ts = post_request(slack_emulator)
    alice = slack_emulator.act_as("alice")
    reason_block = f"chat_alerts_param_{[f.key for f in FORM.fields].index('reason')}"
    async with ModalApp(slack_emulator) as app:
        async def handle(request):
            if request.payload.get("type") == "view_submission":
                return {"response_action": "errors", "errors": {reason_block: "Say more"}}
            return await opens_the_form(app.web, "", "")(request)

        app.handler = handle
        await alice.click_async("ml-alerts", ts, choices.FORM_ACTION)
        await until(lambda: slack_emulator.open_views("alice"), "the modal")
        result = await in_thread(alice.submit_view, {"Your choice": "EU", "Reason": "because"})
    assert (result.errors, result.still_open) == ({reason_block: "Say more"}, True)
    assert len(slack_emulator.open_views("alice")) == 1


@pytest.mark.parametrize(
    ("answers", "block", "reason"),
    [
        ({"Your choice": "EU"}, "Reason", "required"),  # Reason has no default and is not optional
        ({"Your choice": "EU", "Reason": "why"}, "Reason", "at least 5 characters"),
        ({"Your choice": "EU", "Reason": "because", "replicas": 11}, "replicas", "within the allowed range"),
        ({"Your choice": "EU", "Reason": "because", "replicas": 2.5}, "replicas", "whole number"),
        ({"Reason": "because"}, "Your choice", "required"),
    ],
)
@scenario
async def test_the_persons_client_refuses_what_slack_refuses(slack_emulator, answers, block, reason):
    ts = post_request(slack_emulator)
    alice = slack_emulator.act_as("alice")
    async with ModalApp(slack_emulator) as app:
        app.handler = opens_the_form(app.web, "", "")
        await alice.click_async("ml-alerts", ts, choices.FORM_ACTION)
        await until(lambda: slack_emulator.open_views("alice"), "the modal")
        with pytest.raises(ViewInputError) as info:
            await in_thread(alice.submit_view, answers)
    view = slack_emulator.open_views("alice")[0]
    label = next(b["label"]["text"] for b in view["blocks"] if b.get("block_id") == info.value.block_id)
    assert label == block and reason in info.value.reason.lower().replace("please complete this required field.",
                                                                          "required")
    assert not app.of_type("view_submission")


@scenario
async def test_update_replaces_the_modal_and_clear_closes_it(slack_emulator):
    ts = post_request(slack_emulator)
    alice = slack_emulator.act_as("alice")
    thanks = {"type": "modal", "title": {"type": "plain_text", "text": "Thanks"},
              "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Recorded."}}]}
    responses = iter([{"response_action": "update", "view": thanks}, {"response_action": "clear"}])
    async with ModalApp(slack_emulator) as app:
        async def handle(request):
            if request.payload.get("type") == "view_submission":
                return next(responses)
            return await opens_the_form(app.web, "", "")(request)

        app.handler = handle
        await alice.click_async("ml-alerts", ts, choices.FORM_ACTION)
        await until(lambda: slack_emulator.open_views("alice"), "the modal")
        before = slack_emulator.open_views("alice")[0]
        updated = await in_thread(alice.submit_view, {"Your choice": "EU", "Reason": "because"})
        after = slack_emulator.open_views("alice")[0]
        assert updated.still_open and after["title"]["text"] == "Thanks" and after["hash"] != before["hash"]
        cleared = await in_thread(alice.submit_view, {})
    assert not cleared.still_open and slack_emulator.open_views("alice") == []


@scenario
async def test_a_response_naming_no_input_is_one_slack_refuses(slack_emulator):
    ts = post_request(slack_emulator)
    alice = slack_emulator.act_as("alice")
    async with ModalApp(slack_emulator) as app:
        async def handle(request):
            if request.payload.get("type") == "view_submission":
                return {"response_action": "errors", "errors": {"no_such_block": "x"}}
            return await opens_the_form(app.web, "", "")(request)

        app.handler = handle
        await alice.click_async("ml-alerts", ts, choices.FORM_ACTION)
        await until(lambda: slack_emulator.open_views("alice"), "the modal")
        with pytest.raises(InvalidResponseAction, match="no_such_block"):
            await in_thread(alice.submit_view, {"Your choice": "EU", "Reason": "because"})


def test_views_update_checks_the_hash(slack_emulator):
    ts = post_request(slack_emulator)
    trigger = slack_emulator._click_payload("alice", "ml-alerts", ts, choices.FORM_ACTION, None)["trigger_id"]
    bot = slack_emulator.client()
    view = bot.views_open(trigger_id=trigger, view=FORM.view(private_metadata="{}"))["view"]
    updated = bot.views_update(view_id=view["id"], hash=view["hash"], view=FORM.view(private_metadata="{}",
                                                                                      title="Changed"))["view"]
    assert updated["hash"] != view["hash"] and updated["title"]["text"] == "Changed"
    for kwargs, error in (({"view_id": view["id"], "hash": view["hash"]}, "hash_conflict"),
                          ({"view_id": "V0NOPE"}, "not_found")):
        with pytest.raises(SlackApiError) as info:
            bot.views_update(view=FORM.view(private_metadata="{}"), **kwargs)
        assert info.value.response["error"] == error


def test_submitting_with_no_socket_open_fails_as_a_click_does(slack_emulator):
    ts = post_request(slack_emulator)
    trigger = slack_emulator._click_payload("alice", "ml-alerts", ts, choices.FORM_ACTION, None)["trigger_id"]
    slack_emulator.client().views_open(trigger_id=trigger, view=FORM.view(private_metadata="{}"))
    with pytest.raises(ClickFailed) as info:
        slack_emulator.act_as("alice").submit_view({"Your choice": "EU", "Reason": "because"})
    assert info.value.reason == "no_connection"
    assert len(slack_emulator.open_views("alice")) == 1  # nothing happened: it stays open


# -- menus in messages --------------------------------------------------------------------------------
@scenario
async def test_a_static_select_in_a_message_sends_its_selected_option(slack_emulator):
    options = [f"target {i}" for i in range(30)]  # more than 25: a menu instead of buttons
    request = HITLRequest.of(subject="Where?", options=options)
    ts = post_request(slack_emulator, request=request)
    async with ModalApp(slack_emulator) as app:
        payload = await in_thread(slack_emulator.act_as("bob").select, "ml-alerts", ts, choices.CHOOSE_ACTION,
                                  "target 27")
        await until(lambda: app.requests, "the selection")
    action = payload["actions"][0]
    assert {"type", "action_id", "block_id", "selected_option", "placeholder", "action_ts"} <= set(action)
    assert action["selected_option"]["text"]["text"] == "target 27"
    assert payload["state"]["values"][choices.CHOICES_BLOCK_ID][choices.CHOOSE_ACTION] == {
        "type": "static_select", "selected_option": action["selected_option"]}
    choice = Choice.from_payload(app.requests[0].payload, options)
    assert (choice.kind, choice.chosen, choice.user) == ("choose", ("target 27",), slack_emulator.user_id("bob"))


@scenario
async def test_a_multi_select_then_submit_carries_each_persons_own_selection(slack_emulator):
    request = HITLRequest.of(subject="Which?", options=["EU", "US", "Asia"], multiple=True, defaults=["EU"])
    ts = post_request(slack_emulator, request=request)
    alice, bob = slack_emulator.act_as("alice"), slack_emulator.act_as("bob")
    async with ModalApp(slack_emulator) as app:
        changed = await in_thread(alice.select_many, "ml-alerts", ts, choices.CHOOSE_MANY_ACTION, ["Asia", "US"])
        await in_thread(alice.click, "ml-alerts", ts, choices.SUBMIT_ACTION)
        await in_thread(bob.click, "ml-alerts", ts, choices.SUBMIT_ACTION)  # bob never touched the menu
        await until(lambda: len(app.requests) == 3, "three interactions")
    assert [o["text"]["text"] for o in changed["actions"][0]["selected_options"]] == ["Asia", "US"]
    read = [Choice.from_payload(r.payload, request.options) for r in app.requests]
    assert [(c.kind, c.chosen) for c in read] == [("select", ()), ("choose", ("US", "Asia")), ("choose", ("EU",))]


def test_a_menu_or_option_the_message_lacks_is_an_error(slack_emulator):
    ts = post_request(slack_emulator)  # buttons, no menu
    with pytest.raises(MenuNotFound):
        slack_emulator.act_as("alice").select("ml-alerts", ts, choices.CHOOSE_ACTION, "EU")
    ts = post_request(slack_emulator, request=HITLRequest.of(subject="s", options=["a"], multiple=True))
    with pytest.raises(MenuNotFound, match="no option 'zzz'"):
        slack_emulator.act_as("alice").select_many("ml-alerts", ts, choices.CHOOSE_MANY_ACTION, ["zzz"])
    with pytest.raises(MenuNotFound, match="use select_many"):
        slack_emulator.act_as("alice").select("ml-alerts", ts, choices.CHOOSE_MANY_ACTION, "a")


def test_the_requests_message_is_accepted_by_slack_in_every_layout(slack_emulator):
    for request in (REQUEST, HITLRequest.of(subject="s", options=[str(i) for i in range(300)]),
                    HITLRequest.of(subject="s", options=["a", "b"], multiple=True)):
        post_request(slack_emulator, request=request)
    assert len(slack_emulator.messages("ml-alerts")) == 3


@scenario
async def test_only_one_socket_receives_each_submission(slack_emulator):
    ts = post_request(slack_emulator)
    alice = slack_emulator.act_as("alice")
    async with ModalApp(slack_emulator) as one, ModalApp(slack_emulator) as two:
        for app in (one, two):
            app.handler = opens_the_form(app.web, "", "")
        await slack_emulator.act_as("alice").click_async("ml-alerts", ts, choices.FORM_ACTION)
        await until(lambda: slack_emulator.open_views("alice"), "the modal")
        await in_thread(alice.submit_view, {"Your choice": "EU", "Reason": "because"})
    assert len(one.of_type("view_submission")) + len(two.of_type("view_submission")) == 1
    envelope = [c for c in slack_emulator.journal.calls("socket.envelope") if c.args["payload_type"] == "view_submission"]
    assert len(envelope) == 1
