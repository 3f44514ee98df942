"""A local Slack for tests, demos and users' own DAG tests: a stateful Slack Web API emulator.

    from airflow_chat_alerts.testing import SlackEmulator

    with SlackEmulator() as emu:
        ...

``wait_for_question(emu, channel)`` waits (on the channel, not the clock) for an ask's question, for a
test that plays the person answering it; ``save_dags(*dags)`` lets ``dag.test()`` run a DAG defined in a
test module (the pytest fixture ``airflow_dags`` does it for the module's DAGs).

Names are imported lazily so that importing this package (for example by the pytest plugin) stays
cheap and does not import aiohttp.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_chat_alerts.lazy_exports import lazy_getattr

if TYPE_CHECKING:
    from airflow_chat_alerts.testing.asks import questions, wait_for_question, wait_until
    from airflow_chat_alerts.testing.clock import Clock
    from airflow_chat_alerts.testing.dags import save_dags
    from airflow_chat_alerts.testing.emulator import Actor, SlackEmulator
    from airflow_chat_alerts.testing.events import ButtonNotFound
    from airflow_chat_alerts.testing.faults import Faults
    from airflow_chat_alerts.testing.journal import Call, Journal
    from airflow_chat_alerts.testing.selections import MenuNotFound
    from airflow_chat_alerts.testing.socket_controls import OccupiedSockets
    from airflow_chat_alerts.testing.socket_mode import ClickFailed
    from airflow_chat_alerts.testing.views import InvalidResponseAction, ViewInputError, ViewSubmitted
    from airflow_chat_alerts.testing.workspace import Channel, User, UserGroup, Workspace

_EXPORTS = {
    "SlackEmulator": "airflow_chat_alerts.testing.emulator",
    "Actor": "airflow_chat_alerts.testing.emulator",
    "Workspace": "airflow_chat_alerts.testing.workspace",
    "User": "airflow_chat_alerts.testing.workspace",
    "UserGroup": "airflow_chat_alerts.testing.workspace",
    "Channel": "airflow_chat_alerts.testing.workspace",
    "Clock": "airflow_chat_alerts.testing.clock",
    "Faults": "airflow_chat_alerts.testing.faults",
    "Journal": "airflow_chat_alerts.testing.journal",
    "Call": "airflow_chat_alerts.testing.journal",
    "ClickFailed": "airflow_chat_alerts.testing.socket_mode",
    "OccupiedSockets": "airflow_chat_alerts.testing.socket_controls",
    "ButtonNotFound": "airflow_chat_alerts.testing.events",
    "MenuNotFound": "airflow_chat_alerts.testing.selections",
    "ViewInputError": "airflow_chat_alerts.testing.views",
    "ViewSubmitted": "airflow_chat_alerts.testing.views",
    "InvalidResponseAction": "airflow_chat_alerts.testing.views",
    "wait_for_question": "airflow_chat_alerts.testing.asks",
    "questions": "airflow_chat_alerts.testing.asks",
    "wait_until": "airflow_chat_alerts.testing.asks",
    "save_dags": "airflow_chat_alerts.testing.dags",
}

__all__ = [
    "Actor",
    "ButtonNotFound",
    "Call",
    "Channel",
    "ClickFailed",
    "Clock",
    "Faults",
    "InvalidResponseAction",
    "Journal",
    "OccupiedSockets",
    "MenuNotFound",
    "SlackEmulator",
    "User",
    "UserGroup",
    "ViewInputError",
    "ViewSubmitted",
    "Workspace",
    "questions",
    "save_dags",
    "wait_for_question",
    "wait_until",
]


__getattr__ = lazy_getattr(__name__, _EXPORTS)
