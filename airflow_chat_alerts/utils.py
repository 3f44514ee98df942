"""Small helpers the worker and the triggerer share: times and limits. Pure, and cheap to import."""

from __future__ import annotations

from datetime import timedelta

# A timeout is declared only after a complete read made at or after the deadline shows no decision, so an
# answer given just before it (or while no triggerer ran) still counts. Reads keep being tried this long
# after the deadline; if none comes through (Slack down, rate-limited), the ask fails with an error
# instead of applying on_timeout to a question nobody could read.
LAST_READ_LIMIT = timedelta(minutes=15)
