"""Secrets hidden from whatever the page is sent; message revisions per channel for incremental reads."""

from __future__ import annotations

from airflow_chat_alerts.testing.web.changes import ChangeLog
from airflow_chat_alerts.testing.web.redaction import HIDDEN, Redactor


def test_every_secret_is_hidden_longest_first():
    redact = Redactor(["xoxb-emulator-bot", "xoxb-emulator-bot-rotated-7", "short", ""])
    assert redact('{"t":"xoxb-emulator-bot-rotated-7 and xoxb-emulator-bot"}') == f'{{"t":"{HIDDEN} and {HIDDEN}"}}'
    assert redact("short words stay") == "short words stay"


def test_changes_since_a_revision():
    log = ChangeLog()
    log.touch("C1", "1.0")
    first = log.since("C1", 0)
    log.touch("C1", "2.0")
    log.touch("C2", "9.0")
    log.remove("C1", "1.0")
    later = log.since("C1", first.revision)
    assert (later.changed, later.removed) == (frozenset({"2.0"}), frozenset({"1.0"}))
    assert log.channel_revisions() == {"C1": 4, "C2": 3}
    assert log.revision_of("C1", "2.0") == 2 and log.revision_of("C1", "1.0") == 0
    epoch = log.epoch
    log.restart()
    assert log.epoch == epoch + 1 and log.since("C1", 0).changed == frozenset() and log.channel_revisions() == {}
    log.restart(["C2"])  # a state that holds messages already: the page reads C2 anew
    assert log.channel_revisions() == {"C2": log.revision}
