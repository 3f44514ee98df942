"""The event_callback wrapper around each Events API event, as Slack sends it: authorizations,
event_id, event_time, event_context, and is_ext_shared_channel (true in a Slack Connect channel)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json

import pytest

from airflow_chat_alerts.testing import SlackEmulator, Workspace, wait_until

from . import schemas
from .socket_apps import App, in_thread, until


def _decoded(event_context: str) -> dict:
    version, _, encoded = event_context.partition("-")
    assert version == "4"
    return json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))


def test_events_come_in_slacks_wrapper(slack_emulator):
    ml, private = slack_emulator.channel_id("ml-alerts"), slack_emulator.channel_id("ml-private")

    async def scenario():
        async with App(slack_emulator) as app:
            await until(lambda: app.messages, "hello")
            ts = await in_thread(slack_emulator.act_as("alice").post, "ml-alerts", "in a shared channel")
            await in_thread(slack_emulator.act_as("carol").react, "ml-alerts", ts, "eyes")
            await in_thread(slack_emulator.act_as("alice").post, "ml-private", "in our own channel")
            await until(lambda: len(app.requests) == 3, "three events")
            return app.messages[0], [r for r in app.messages if r.get("type") == "events_api"]

    hello, envelopes = asyncio.run(scenario())
    schemas.assert_payload("hello", hello)
    for envelope in envelopes:
        schemas.assert_payload("envelope", envelope)
        schemas.assert_payload("event_callback", envelope["payload"])
    shared_message, shared_reaction, own = (e["payload"] for e in envelopes)
    # ml-alerts has members of the partner organisation: a Slack Connect channel
    assert shared_message["is_ext_shared_channel"] is True and shared_reaction["is_ext_shared_channel"] is True
    assert own["is_ext_shared_channel"] is False
    assert shared_message["authorizations"] == [{"enterprise_id": None, "team_id": slack_emulator.team_id,
                                                 "user_id": slack_emulator.bot_user_id, "is_bot": True,
                                                 "is_enterprise_install": False}]
    assert len({p["event_id"] for p in (shared_message, shared_reaction, own)}) == 3
    assert _decoded(shared_message["event_context"]) == {"et": "message", "tid": slack_emulator.team_id,
                                                         "aid": slack_emulator.app_id, "cid": ml}
    assert _decoded(shared_reaction["event_context"])["et"] == "reaction_added"
    assert _decoded(own["event_context"])["cid"] == private
    assert shared_message["event"]["client_msg_id"] and shared_message["event"]["blocks"][0]["type"] == "rich_text"


def test_a_channel_marked_shared_with_another_organisation_is_ext_shared():
    workspace = Workspace.default()
    channels = tuple(dataclasses.replace(ch, shared_with=("T0VENDOR",)) if ch.name == "ml-private" else ch
                     for ch in workspace.channels)
    with SlackEmulator(dataclasses.replace(workspace, channels=channels)) as emu:
        private = emu.channel_id("ml-private")
        info = emu.client().conversations_info(channel=private)["channel"]
        assert info["is_shared"] is True and info["is_ext_shared"] is True
        others = emu.occupy_sockets(1)
        emu.act_as("alice").post("ml-private", "hello vendor")
        [envelope] = wait_until(others.envelopes, what="the message's event", timeout=15)
        assert envelope["payload"]["is_ext_shared_channel"] is True


def test_the_workspace_json_marks_shared_channels_and_refuses_its_own_team():
    from importlib import resources

    data = json.loads(resources.files("airflow_chat_alerts.testing").joinpath("default_workspace.json").read_text())
    ops = next(c for c in data["channels"] if c["name"] == "ops")
    ops["shared_with"] = ["T0VENDOR"]
    with SlackEmulator(Workspace.from_dict(data)) as emu:
        assert emu.client("alice").conversations_info(channel=emu.channel_id("ops"))["channel"]["is_ext_shared"]
    ops["shared_with"] = [data.get("team", {}).get("id", "T0EMULATED")]
    with pytest.raises(ValueError, match="shared with its own team"):
        Workspace.from_dict(data)
