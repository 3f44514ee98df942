"""A Human-in-the-loop request's ``hitl_detail`` row, read and written from a trigger as Airflow's own
``HITLTrigger`` does: through the Task SDK (``GetHITLDetailResponse`` / ``UpdateHITLDetail``), which the
triggerer serves through the execution API with no credentials. The one place this package touches the
row from the triggerer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from airflow_chat_alerts.model import HITLUserDict

CONFLICT = 409  # the execution API's answer to a write on an answered request


@dataclass(frozen=True)
class RowAnswer:
    """The response a request's row holds.

    :param chosen_options: the options chosen.
    :param params_input: the params given.
    :param responded_at: when (aware, UTC).
    :param responded_by: who, as Airflow recorded it (None: the Task SDK's write, or the timeout).
    """

    chosen_options: list[str]
    params_input: dict[str, Any]
    responded_at: datetime
    responded_by: HITLUserDict | None


class AlreadyAnswered(Exception):
    """The row was answered before this write (the first answer wins)."""


def _answer(row: Any) -> RowAnswer | None:
    if row is None or not getattr(row, "response_received", False):
        return None
    by = getattr(row, "responded_by_user", None)
    at = getattr(row, "responded_at", None) or datetime.now(timezone.utc)
    return RowAnswer(
        chosen_options=list(row.chosen_options or []),
        params_input=dict(row.params_input or {}),
        responded_at=at if at.tzinfo else at.replace(tzinfo=timezone.utc),
        responded_by=None if by is None else {"id": str(by.id), "name": str(by.name)},
    )


async def read_answer(ti_id: str) -> RowAnswer | None:
    """The row's response, or None while unanswered."""
    from airflow.sdk.execution_time.hitl import get_hitl_detail_content_detail
    from asgiref.sync import sync_to_async

    row = await sync_to_async(get_hitl_detail_content_detail)(ti_id=UUID(ti_id))
    return _answer(row)


async def write_answer(ti_id: str, chosen_options: list[str], params_input: dict[str, Any]) -> RowAnswer:
    """Write the response (first wins).

    :raises AlreadyAnswered: the row was answered first (HTTP 409).
    """
    from airflow.sdk.exceptions import AirflowRuntimeError
    from airflow.sdk.execution_time.hitl import update_hitl_detail_response
    from asgiref.sync import sync_to_async

    try:
        row = await sync_to_async(update_hitl_detail_response)(
            ti_id=UUID(ti_id), chosen_options=chosen_options, params_input=params_input
        )
    except AirflowRuntimeError as err:
        detail = getattr(err.error, "detail", None) or {}
        if isinstance(detail, dict) and detail.get("status_code") == CONFLICT:
            raise AlreadyAnswered() from err
        raise
    answer = _answer(row)
    if answer is None:  # the write's answer always holds the response; be safe about old servers
        return RowAnswer(chosen_options, params_input, datetime.now(timezone.utc), None)
    return answer
