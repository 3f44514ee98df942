"""hikari (the chosen Discord client) against the emulator: its GatewayBot and REST client on one event
loop, with people acting through the emulator's REST API in other threads."""

from __future__ import annotations

import asyncio

import hikari
import pytest

from airflow_chat_alerts.testing import ClickFailed
from airflow_chat_alerts.testing.discord import DiscordApiError

from .bots import hikari_bot

pytestmark = pytest.mark.timeout(120)


def approve_row(bot: hikari.GatewayBot) -> hikari.api.MessageActionRowBuilder:
    return (bot.rest.build_message_action_row()
            .add_interactive_button(hikari.ButtonStyle.SUCCESS, "approve", label="Approve")
            .add_interactive_button(hikari.ButtonStyle.DANGER, "reject", label="Reject"))


def test_connects_and_receives_a_persons_message_and_reaction(discord_emulator):
    emu = discord_emulator
    channel = int(emu.channel_id("ml-alerts"))

    async def scenario():
        async with hikari_bot(emu) as (bot, received):
            ready = await received.wait_for(hikari.ShardReadyEvent)
            assert str(ready.my_user.id) == emu.bot_user_id
            question = await bot.rest.create_message(channel, "Deploy model 42?")
            reply_id = await asyncio.to_thread(emu.act_as("alice").reply, "ml-alerts", str(question.id), "approve")
            await asyncio.to_thread(emu.act_as("carol").react, "ml-alerts", str(question.id), "👍")

            reply = await received.wait_for(hikari.GuildMessageCreateEvent, lambda e: str(e.message_id) == reply_id)
            assert reply.content == "approve"
            assert str(reply.author_id) == emu.user_id("alice")
            assert reply.message.referenced_message is not None
            assert reply.message.referenced_message.id == question.id
            reaction = await received.wait_for(hikari.GuildReactionAddEvent)
            assert (reaction.emoji_name, str(reaction.user_id), reaction.message_id) == (
                "👍", emu.user_id("carol"), question.id)
            assert {str(r) for r in reaction.member.role_ids} == {emu.role_id("ml-leads"), emu.guild_id}  # + @everyone

    asyncio.run(scenario())


def test_a_click_acknowledged_in_time_goes_through(discord_emulator):
    emu = discord_emulator
    channel = int(emu.channel_id("ml-alerts"))

    async def scenario():
        async with hikari_bot(emu) as (bot, received):
            async def acknowledge(event: hikari.InteractionCreateEvent) -> None:
                interaction = event.interaction
                assert isinstance(interaction, hikari.ComponentInteraction)
                await interaction.create_initial_response(
                    hikari.ResponseType.MESSAGE_CREATE, f"Recorded: {interaction.custom_id}",
                    flags=hikari.MessageFlag.EPHEMERAL)

            bot.event_manager.subscribe(hikari.InteractionCreateEvent, acknowledge)
            question = await bot.rest.create_message(channel, "Deploy?", components=[approve_row(bot)])
            payload = await emu.act_as("carol").click_async("ml-alerts", str(question.id), "approve")

            event = await received.wait_for(hikari.InteractionCreateEvent)
            assert event.interaction.custom_id == "approve"
            assert str(event.interaction.user.id) == emu.user_id("carol")
            assert emu.role_id("ml-leads") in {str(r) for r in event.interaction.member.role_ids}
            assert payload["data"]["custom_id"] == "approve"
            [shown] = emu.ephemeral_messages("carol")
            assert shown["content"] == "Recorded: approve"
            assert emu.ephemeral_messages("alice") == []
            assert [m["content"] for m in emu.messages("ml-alerts")] == ["Deploy?"]  # ephemeral: not in the channel

    asyncio.run(scenario())


def test_a_click_not_acknowledged_in_time_fails_for_the_person(discord_emulator):
    emu = discord_emulator
    emu.configure_gateway(interaction_timeout=0.5)
    channel = int(emu.channel_id("ml-alerts"))

    async def scenario():
        async with hikari_bot(emu) as (bot, received):
            question = await bot.rest.create_message(channel, "Deploy?", components=[approve_row(bot)])
            with pytest.raises(ClickFailed) as failed:
                await emu.act_as("alice").click_async("ml-alerts", str(question.id), "reject")
            assert failed.value.reason == "not_acknowledged"
            event = await received.wait_for(hikari.InteractionCreateEvent)  # delivered, never answered
            with pytest.raises(hikari.NotFoundError) as late:
                await event.interaction.create_initial_response(hikari.ResponseType.DEFERRED_MESSAGE_UPDATE)
            assert late.value.code == 10062

    asyncio.run(scenario())


def test_a_second_acknowledgement_is_refused(discord_emulator):
    emu = discord_emulator
    channel = int(emu.channel_id("ml-alerts"))

    async def scenario():
        async with hikari_bot(emu) as (bot, received):
            outcome: list[object] = []

            async def acknowledge_twice(event: hikari.InteractionCreateEvent) -> None:
                interaction = event.interaction
                assert isinstance(interaction, hikari.ComponentInteraction)
                await interaction.create_initial_response(hikari.ResponseType.MESSAGE_UPDATE, "Approved by carol",
                                                          components=[])
                try:
                    await interaction.create_initial_response(hikari.ResponseType.DEFERRED_MESSAGE_UPDATE)
                except hikari.BadRequestError as err:
                    outcome.append(err.code)

            bot.event_manager.subscribe(hikari.InteractionCreateEvent, acknowledge_twice)
            question = await bot.rest.create_message(channel, "Deploy?", components=[approve_row(bot)])
            await emu.act_as("carol").click_async("ml-alerts", str(question.id), "approve")
            await received.wait_for(hikari.GuildMessageUpdateEvent)
            while not outcome:
                await asyncio.sleep(0.01)
            assert outcome == [40060]
            [message] = emu.messages("ml-alerts")
            assert (message["content"], message["components"]) == ("Approved by carol", [])

    asyncio.run(scenario())


def test_a_resume_after_a_dropped_socket_replays_what_was_missed(discord_emulator):
    emu = discord_emulator
    emu.configure_gateway(heartbeat_interval=0.5)
    channel = int(emu.channel_id("ml-alerts"))

    async def scenario():
        async with hikari_bot(emu) as (bot, received):
            await bot.rest.create_message(channel, "before")
            await received.wait_for(hikari.GuildMessageCreateEvent, lambda e: e.content == "before")
            [session] = emu.gateway_sessions()
            emu.gateway.refused_connections = 0
            # Hold the socket down while a person posts: the client cannot reconnect until refusals end.
            emu.refuse_gateway(2)
            emu.drop_gateway(abrupt=True)
            missed = await asyncio.to_thread(emu.act_as("bob").post, "ml-alerts", "while you were away")
            event = await received.wait_for(hikari.GuildMessageCreateEvent, lambda e: str(e.message_id) == missed)
            assert event.content == "while you were away"
            await received.wait_for(hikari.ShardResumedEvent)
            [resumed] = emu.journal.calls("gateway.resume")
            assert resumed.error is None
            assert resumed.args["session"] == session.id and resumed.args["replayed"] >= 1
            assert emu.journal.count("gateway.identify") == 1  # resumed, not identified again
            opened = emu.journal.calls("gateway.open")
            assert opened[-1].args["path"] == "/gateway/resume"  # the READY's resume_gateway_url

    asyncio.run(scenario())


def test_reconnect_and_invalid_session_on_demand(discord_emulator):
    emu = discord_emulator
    channel = int(emu.channel_id("ml-alerts"))

    async def scenario():
        async with hikari_bot(emu) as (bot, received):
            assert emu.send_reconnect() == 1
            await received.wait_for(hikari.ShardResumedEvent)
            assert emu.invalidate_session(resumable=False) == 1
            await received.wait_for(hikari.ShardReadyEvent, lambda e: len(received.of(hikari.ShardReadyEvent)) == 2)
            assert emu.journal.count("gateway.identify") == 2
            await asyncio.to_thread(emu.act_as("alice").post, "ml-alerts", "after the new session")
            await received.wait_for(hikari.GuildMessageCreateEvent, lambda e: e.content == "after the new session")
            await bot.rest.create_message(channel, "still posting")

    asyncio.run(scenario())


def test_a_zombie_connection_is_replaced_and_resumed(discord_emulator):
    emu = discord_emulator
    emu.configure_gateway(heartbeat_interval=0.3)

    async def scenario():
        async with hikari_bot(emu, expect_errors=True) as (bot, received):
            emu.lose_heartbeat_acks(1)
            await received.wait_for(hikari.ShardResumedEvent)
            assert emu.journal.calls("gateway.heartbeat_ack", error="lost")

    asyncio.run(scenario())


def test_message_content_is_empty_without_the_privileged_intent(discord_emulator):
    emu = discord_emulator
    intents = hikari.Intents.GUILDS | hikari.Intents.GUILD_MESSAGES

    async def scenario():
        async with hikari_bot(emu, intents) as (bot, received):
            plain = await asyncio.to_thread(emu.act_as("alice").post, "ml-alerts", "approve")
            mention = await asyncio.to_thread(emu.act_as("alice").post, "ml-alerts", f"<@{emu.bot_user_id}> approve")
            first = await received.wait_for(hikari.GuildMessageCreateEvent, lambda e: str(e.message_id) == plain)
            second = await received.wait_for(hikari.GuildMessageCreateEvent, lambda e: str(e.message_id) == mention)
            assert first.content is None  # hikari turns Discord's empty content into None
            assert second.content == f"<@{emu.bot_user_id}> approve"
            read = await bot.rest.fetch_message(int(emu.channel_id("ml-alerts")), int(plain))
            assert read.content == "approve"  # the app has the intent: REST reads show it

    asyncio.run(scenario())


def test_identifying_with_a_disallowed_intent_closes_with_4014(discord_emulator):
    emu = discord_emulator
    emu.set_message_content_intent(False)

    async def scenario():
        with pytest.raises(hikari.GatewayServerClosedConnectionError) as closed:
            async with hikari_bot(emu, expect_errors=True):
                pass
        assert closed.value.code == 4014

    asyncio.run(scenario())


def test_a_bad_token_is_refused(discord_emulator):
    emu = discord_emulator
    emu.revoke_token(emu.bot_token)

    async def scenario():
        with pytest.raises(hikari.UnauthorizedError):
            async with hikari_bot(emu, expect_errors=True):
                pass

    asyncio.run(scenario())


def test_a_burst_honours_the_rate_limit_headers_without_a_429(discord_emulator):
    emu = discord_emulator
    emu.set_rate_limits("realistic")
    emu.clock.speed = 20  # a 5-second bucket window passes in a quarter of a real second
    channel = int(emu.channel_id("ml-alerts"))

    async def scenario():
        app = hikari.RESTApp(url=emu.base_url)
        await app.start()
        try:
            async with app.acquire(emu.bot_token, hikari.TokenType.BOT) as rest:
                first = await rest.create_message(channel, "burst 0")
                for i in range(1, 16):
                    await rest.create_message(channel, f"burst {i}")
                await asyncio.gather(*(rest.add_reaction(channel, first.id, e) for e in ["👍", "👎", "✅", "❌", "🎉"]))
        finally:
            await app.close()

    asyncio.run(scenario())
    assert emu.journal.count("create_message") == 16
    assert emu.journal.count("add_reaction") == 5
    assert emu.journal.calls(error="rate_limited") == []
    assert len(emu.messages("ml-alerts")) == 16


def test_without_the_headers_a_burst_meets_429s(discord_emulator):
    """The test above holds because hikari reads the headers: a client that ignores them is refused."""
    emu = discord_emulator
    emu.set_rate_limits("realistic")
    for _ in range(7):
        try:
            emu.act_as("chat-alerts").post("ml-alerts", "no pacing")
        except DiscordApiError as err:
            assert err.status == 429
    refused = emu.journal.calls("create_message", error="rate_limited")
    assert len(refused) == 2


def test_edits_deletions_unreactions_and_threads_reach_the_bot(discord_emulator):
    emu = discord_emulator

    async def scenario():
        async with hikari_bot(emu) as (bot, received):
            alice = emu.act_as("alice")
            message = await asyncio.to_thread(alice.post, "ml-alerts", "approve")
            await asyncio.to_thread(alice.react, "ml-alerts", message, "👍")
            await asyncio.to_thread(alice.unreact, "ml-alerts", message, "👍")
            await asyncio.to_thread(alice.edit, "ml-alerts", message, "reject")
            thread = await asyncio.to_thread(alice.start_thread, "ml-alerts", message, "why")
            reply = await asyncio.to_thread(alice.post_in_thread, thread, "the numbers are off")
            await asyncio.to_thread(alice.delete, "ml-alerts", message)

            removed = await received.wait_for(hikari.GuildReactionDeleteEvent)
            assert (removed.emoji_name, str(removed.user_id)) == ("👍", emu.user_id("alice"))
            edited = await received.wait_for(hikari.GuildMessageUpdateEvent, lambda e: e.content == "reject")
            assert str(edited.message_id) == message
            created = await received.wait_for(hikari.GuildThreadCreateEvent)
            assert (str(created.thread.id), created.thread.name) == (thread, "why")
            in_thread = await received.wait_for(hikari.GuildMessageCreateEvent, lambda e: str(e.message_id) == reply)
            assert str(in_thread.channel_id) == thread
            deleted = await received.wait_for(hikari.GuildMessageDeleteEvent)
            assert str(deleted.message_id) == message
            sequence = [c.args["seq"] for c in emu.journal.calls("gateway.dispatch")]
            assert sequence == list(range(1, len(sequence) + 1))  # numbered without gaps

    asyncio.run(scenario())
