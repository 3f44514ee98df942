"""The web view from the command line (``--ui``), from the emulator object, and from the pytest fixture."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request

import pytest

from airflow_chat_alerts.testing import SlackEmulator


def test_cli_ui_prints_the_pages_address_and_serves_it_on_loopback():
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_chat_alerts.testing.slack_emulator", "--port", "0", "--ui", "--ui-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        lines = []
        while not any(line.startswith("Press Ctrl+C") for line in lines):
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            lines.append(line.strip())
        [address] = [line.split(": ", 1)[1] for line in lines if line.startswith("web view: ")]
        assert address.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(address + "api/workspace".replace("api/", "api/slack/"), timeout=30) as response:
            assert b"Chat Alerts Test Workspace" in response.read()
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert "WARNING" not in err  # loopback: nothing to warn about


def test_cli_ui_on_a_taken_port_is_a_clear_error():
    with SlackEmulator() as emu:
        taken = emu.web_view().port
        result = subprocess.run(
            [sys.executable, "-m", "airflow_chat_alerts.testing.slack_emulator", "--port", "0", "--ui",
             "--ui-port", str(taken)],
            capture_output=True, text=True, timeout=60,
        )
    assert result.returncode == 2
    assert "the web view could not start on 127.0.0.1" in result.stderr


def test_the_emulator_starts_one_web_view_and_stops_it_with_itself(caplog):
    emu = SlackEmulator()
    view = emu.web_view()
    assert emu.web_view() is view and view.url == f"http://127.0.0.1:{view.port}/"
    emu.stop()
    with pytest.raises(OSError):
        urllib.request.urlopen(view.url, timeout=5)


def test_a_web_view_bound_elsewhere_warns(caplog):
    from airflow_chat_alerts.testing.web import WebView

    with caplog.at_level("WARNING"), WebView(host="127.0.0.2") as view:
        assert view.url.startswith("http://127.0.0.2:")
    assert caplog.records == []  # 127.0.0.0/8 is loopback
    with caplog.at_level("WARNING"), WebView(host="0.0.0.0") as view:
        assert view.url.startswith("http://127.0.0.1:")
    [record] = caplog.records
    assert "listens on every interface" in record.getMessage()


def test_the_fixture_serves_the_session_emulator(slack_web_view, slack_emulator):
    slack_emulator.act_as("bob").post("ops", "seen by the fixture's page")
    with urllib.request.urlopen(f"{slack_web_view.url}api/slack/channels/C0OPS", timeout=30) as response:
        assert b"seen by the fixture's page" in response.read()
