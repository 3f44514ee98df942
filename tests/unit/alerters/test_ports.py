"""Each chat service implements the protocols the operators, the sensor, the triggers and push use: every method a
consumer may call on a connection that can ask is the service's own, not the base class's "cannot"."""

from __future__ import annotations

import inspect

import pytest

from airflow_chat_alerts.alerters.base import BaseAlerter
from airflow_chat_alerts.alerters.ports import AnswerReader, Asker, Poster, PushPort


def members(protocol: type) -> set[str]:
    """The methods and attributes a protocol names, its own and those of the protocols it extends."""
    ours = (Poster, Asker, AnswerReader, PushPort)
    return {name for klass in protocol.__mro__ if klass in ours for name in vars(klass) if not name.startswith("_")}


def services() -> list[type[BaseAlerter]]:
    from airflow_chat_alerts.alerters.slack import SlackAlerter
    from airflow_chat_alerts.services.discord.alerter import DiscordAlerter

    return [SlackAlerter, DiscordAlerter]


def cannot(name: str) -> bool:
    """BaseAlerter's own ``name`` only says the connection cannot (a service that can must bring its own)."""
    return "NotImplementedError" in inspect.getsource(getattr(BaseAlerter, name))


@pytest.mark.parametrize("protocol", [Poster, Asker, AnswerReader])
def test_a_service_that_asks_brings_every_method_of_the_protocols(protocol):
    assert {"post", "find_question", "read_thread", "read_channel_pages"} & members(protocol)
    for service in services():
        assert service.capabilities.ask
        for name in sorted(members(protocol)):
            assert hasattr(service, name) or name == "conn_id", (service.__name__, name)
            if hasattr(BaseAlerter, name) and cannot(name):
                assert getattr(service, name) is not getattr(BaseAlerter, name), (service.__name__, name)


def test_push_over_socket_mode_finds_its_port_on_the_slack_alerter():
    from airflow_chat_alerts.alerters.slack import SlackAlerter

    alerter = SlackAlerter(conn_id="slack", token="xoxb-1")
    assert isinstance(alerter, PushPort)
