"""The Discord emulator as a command and as pytest fixtures; resets; the light import of the plugin."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import hikari

from airflow_chat_alerts.testing.discord import DiscordEmulator


def test_cli_prints_urls_and_tokens_and_serves():
    proc = subprocess.Popen([sys.executable, "-m", "airflow_chat_alerts.testing.discord.cli", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines: list[str] = []
        while not any(line.startswith("Press Ctrl+C") for line in lines):
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            lines.append(line.strip())
        base_url = next(line.split()[1] for line in lines if line.startswith("base_url:"))
        token = next(line.split()[-1] for line in lines if line.startswith("chat-alerts"))
        assert any(line.startswith("gateway_url: ws://") for line in lines)
        assert any(line.startswith("#ml-alerts") and "webhook: http" in line for line in lines)

        async def whoami() -> str:
            app = hikari.RESTApp(url=base_url)
            await app.start()
            try:
                async with app.acquire(token, hikari.TokenType.BOT) as rest:
                    return (await rest.fetch_my_user()).username
            finally:
                await app.close()

        assert asyncio.run(whoami()) == "chat-alerts"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_cli_bad_guild_file_exits_with_an_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    result = subprocess.run([sys.executable, "-m", "airflow_chat_alerts.testing.discord.cli", "--port", "0",
                             "--guild", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "invalid JSON" in result.stderr


def test_discord_conn_points_a_bot_connection_at_the_emulator(discord_conn, discord_emulator):
    conn = json.loads(os.environ[f"AIRFLOW_CONN_{discord_conn.upper()}"])
    assert conn["conn_type"] == "discord_bot" and conn["password"] == discord_emulator.bot_token
    extra = conn["extra"]
    assert extra["channel"] == discord_emulator.channel_id("ml-alerts")
    assert (extra["application_id"], extra["guild_id"]) == (discord_emulator.application_id, discord_emulator.guild_id)

    async def post() -> None:
        app = hikari.RESTApp(url=extra["base_url"])
        await app.start()
        try:
            async with app.acquire(conn["password"], hikari.TokenType.BOT) as rest:
                await rest.create_message(int(extra["channel"]), "through the connection")
                assert (await rest.fetch_gateway_bot_info()).url == extra["gateway_url"]
        finally:
            await app.close()

    asyncio.run(post())
    assert [m["content"] for m in discord_emulator.messages("ml-alerts")] == ["through the connection"]


def test_discord_webhook_conn_has_the_discord_providers_shape(discord_webhook_conn, discord_emulator):
    import urllib.request

    conn = json.loads(os.environ[f"AIRFLOW_CONN_{discord_webhook_conn.upper()}"])
    assert conn["conn_type"] == "discord" and conn["extra"]["webhook_endpoint"].startswith("webhooks/")
    # The provider's hook posts to host + webhook_endpoint: the unversioned API path.
    request = urllib.request.Request(conn["host"] + conn["extra"]["webhook_endpoint"], method="POST",
                                     data=b'{"content": "from the provider"}',
                                     headers={"Content-Type": "application/json"})
    assert urllib.request.urlopen(request, timeout=10).status == 204
    assert [m["content"] for m in discord_emulator.messages("ml-alerts")] == ["from the provider"]


def test_reset_restores_the_seed_and_ends_sessions(discord_emulator):
    emu = discord_emulator
    emu.act_as("alice").post("ml-alerts", "before")
    emu.set_message_content_intent(False)
    emu.set_rate_limits("off")
    emu.faults.add("*", "500")
    emu.reset()
    assert emu.messages("ml-alerts") == [] and emu.faults.pending() == [] and len(emu.journal) == 0
    assert emu.state.message_content_intent is True and emu.rate_limits.profile == "generous"
    assert emu.gateway_sessions() == []


def test_two_emulators_keep_separate_state():
    with DiscordEmulator() as one, DiscordEmulator() as two:
        one.act_as("bob").post("ml-alerts", "only here")
        assert two.messages("ml-alerts") == [] and one.port != two.port


def test_importing_the_plugin_and_package_stays_light():
    code = ("import sys; import airflow_chat_alerts.testing.pytest_plugin, airflow_chat_alerts.testing.discord as d;"
            "assert 'aiohttp' not in sys.modules and 'hikari' not in sys.modules, 'heavy import';"
            "d.DiscordEmulator; assert 'aiohttp' in sys.modules and 'hikari' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
