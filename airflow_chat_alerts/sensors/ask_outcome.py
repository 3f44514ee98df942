"""How an ask ends: a decision or a timeout becomes the task's result, the XCom ``decision`` record, the
branch to follow and the question's final text. Pure: no I/O, no Airflow imports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from airflow_chat_alerts.exceptions import ChatConfigError
from airflow_chat_alerts.formatting import outcome_message
from airflow_chat_alerts.model import DecisionRecord, Message, QuestionRecord

ON_TIMEOUT = ("reject", "approve", "fail", "skip")
# What an unanswered question resolves to, by on_timeout.
RESOLVED_AS = {"reject": "rejected", "approve": "approved", "fail": "failed", "skip": "skipped"}
BRANCH_KEYS = frozenset({"approved", "rejected", "timed_out"})
# Why a question whose ask failed can no longer be answered, in words its readers understand (by the
# failure's code; the task log has the whole error).
UNANSWERABLE = {
    "not_authed": "the app's token was refused",
    "invalid_auth": "the app's token was refused",
    "token_revoked": "the app's token was revoked",
    "token_expired": "the app's token expired",
    "account_inactive": "the app was uninstalled",
    "not_allowed_token_type": "the app's token is of the wrong kind",
    "missing_scope": "the app lacks a permission it needs",
    "is_archived": "the channel was archived",
    "channel_not_found": "the channel can no longer be read",
    "not_in_channel": "the app was removed from the channel",
    "not_our_question": "it was not posted by this app",
    "deadline_unread": "Slack could not be read after the deadline",
}


def unanswerable_reason(code: str | None) -> str:
    """Why nobody can answer a question whose ask failed with ``code`` (plain words, no secrets)."""
    known = UNANSWERABLE.get(code or "", "waiting for answers failed")
    return f"{known}; the task failed (its log says more)"


def branch_map(branches: Mapping[str, str | Iterable[str]] | None) -> dict[str, list[str]]:
    """The sensor's ``branches`` checked and normalised: ``{"approved": ["deploy"], ...}``.

    :param branches: task ids (one, or several) by outcome key (:data:`BRANCH_KEYS`); None for none.
    :raises ChatConfigError: not a dict, an unknown key, or an entry that names no task.
    """
    if branches is None:
        return {}
    if not isinstance(branches, Mapping):
        raise ChatConfigError(f"branches must be a dict like {{'approved': 'deploy'}}, got {type(branches).__name__}")
    unknown = set(branches) - BRANCH_KEYS
    if unknown:
        raise ChatConfigError(
            f"branches has unknown key(s) {', '.join(sorted(map(repr, unknown)))}: use {', '.join(sorted(BRANCH_KEYS))}"
        )
    result = {}
    for key, task_ids in branches.items():
        ids = [task_ids] if isinstance(task_ids, str) else list(task_ids)
        if not ids or not all(isinstance(t, str) and t for t in ids):
            raise ChatConfigError(f"branches[{key!r}] must be a task id or a list of task ids, got {task_ids!r}")
        result[key] = ids
    return result


@dataclass(frozen=True)
class AskOutcome:
    """How a question ended.

    :param outcome: ``approved``, ``rejected`` or ``timed_out``.
    :param approved: the task's result (for a timeout: what ``on_timeout`` makes of it).
    :param by: the user ids whose answers decided.
    :param at: the ts of the deciding answer ("" when unknown or timed out).
    :param comment: the deciding answer's comment, if any.
    :param on_timeout: for a timeout, the sensor's ``on_timeout``.
    """

    outcome: Literal["approved", "rejected", "timed_out"]
    approved: bool
    by: tuple[str, ...] = ()
    at: str = ""
    comment: str | None = None
    on_timeout: str | None = None

    @classmethod
    def decided(cls, outcome: Literal["approved", "rejected"], decision: Mapping[str, Any]) -> AskOutcome:
        """The outcome of a decision event.

        :param outcome: the event's status.
        :param decision: the event's ``decision`` (:meth:`Decision.to_dict()
            <airflow_chat_alerts.decisions.Decision.to_dict>`).
        """
        return cls(
            outcome=outcome,
            approved=outcome == "approved",
            by=tuple(decision.get("by") or ()),
            at=decision.get("at") or "",
            comment=decision.get("comment"),
        )

    @classmethod
    def timed_out(cls, on_timeout: str) -> AskOutcome:
        """The outcome of a question nobody decided before its deadline, under ``on_timeout``."""
        return cls(outcome="timed_out", approved=on_timeout == "approve", on_timeout=on_timeout)

    @property
    def resolved_as(self) -> str | None:
        """For a timeout, what it resolves to (``approved``, ``rejected``, ``failed``, ``skipped``)."""
        return RESOLVED_AS[self.on_timeout] if self.on_timeout else None

    def record(self, question: QuestionRecord) -> DecisionRecord:
        """The XCom ``decision`` record: outcome, approved, by, at, comment, channel, ts, permalink."""
        return {
            "outcome": self.outcome,
            "approved": self.approved,
            "by": list(self.by),
            "at": self.at,
            "comment": self.comment,
            "channel": question.channel,
            "ts": question.ts,
            "permalink": question.permalink,
        }

    def payload(self, question: QuestionRecord) -> dict[str, Any]:
        """The question's metadata payload once decided: marked, so that no later try reuses it."""
        return {**question.payload, "outcome": self.resolved_as or self.outcome}

    def message(self, question: Message) -> Message:
        """The question as it reads once decided (see :func:`~airflow_chat_alerts.formatting.outcome_message`).

        :param question: the question as posted, with :meth:`payload` as its metadata.
        """
        return outcome_message(
            question, outcome=self.outcome, by=self.by, comment=self.comment, resolved_as=self.resolved_as
        )

    def branch(self, branches: Mapping[str, Any]) -> str:
        """The key of ``branches`` to follow: a timeout falls back to what it resolves to."""
        if self.outcome == "timed_out" and "timed_out" not in branches:
            return self.resolved_as or "timed_out"
        return self.outcome
