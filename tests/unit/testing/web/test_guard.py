"""Who may talk to the page: loopback names only, changes from the page itself, a warning when exposed."""

from __future__ import annotations

import pytest

from airflow_chat_alerts.testing.web.guard import exposure_warning, host_allowed, is_loopback, origin_allowed


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True),
                                            ("localhost", True), ("0.0.0.0", False), ("192.168.1.5", False),
                                            ("example.com", False)])
def test_loopback(host, loopback):
    assert is_loopback(host) == loopback
    assert (exposure_warning(host, 8766) is None) == loopback


def test_the_warning_says_who_can_do_what():
    warning = exposure_warning("0.0.0.0", 8766)
    assert "every interface" in warning and "as any person" in warning and "127.0.0.1" in warning


@pytest.mark.parametrize(
    "header, bound, allowed",
    [
        ("127.0.0.1:8766", "127.0.0.1", True),
        ("localhost:8766", "127.0.0.1", True),
        ("[::1]:8766", "127.0.0.1", True),
        ("LOCALHOST:8766", "127.0.0.1", True),
        ("127.0.0.1:9999", "127.0.0.1", False),  # another port
        ("attacker.example:8766", "127.0.0.1", False),  # DNS rebinding
        (None, "127.0.0.1", False),
        ("192.168.1.5:8766", "192.168.1.5", True),
        ("attacker.example:8766", "192.168.1.5", False),
        ("anything:1", "0.0.0.0", True),  # bound everywhere: warned, any name
    ],
)
def test_host_header(header, bound, allowed):
    assert host_allowed(header, bound, 8766) == allowed


def test_origin_of_a_change():
    assert origin_allowed(None, "127.0.0.1:8766")
    assert origin_allowed("http://127.0.0.1:8766", "127.0.0.1:8766")
    assert not origin_allowed("http://evil.example", "127.0.0.1:8766")
    assert not origin_allowed("null", "127.0.0.1:8766")
