"""The Slack operations' drivers: one operation, the same result through a sync or an async executor."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from airflow_chat_alerts.alerters.slack_calls import Call, Operation, Pages, Step, Together, arun, next_page, run
from airflow_chat_alerts.alerters.slack_errors import rate_limit_pause
from airflow_chat_alerts.exceptions import ChatPermanentError

USERS = {"U1": "alice", "U2": "bob"}


def look_up(user: str) -> Operation[str | None]:
    """A user's name; None for a user Slack will not show (the failure is handled in the operation)."""
    try:
        data = yield Call("users.info", {"user": user})
    except ChatPermanentError:
        return None
    return data["name"]


def names(users: list[str]) -> Operation[list[str | None]]:
    members = yield Pages(Call("usergroups.users.list"), "users")
    return (yield Together(tuple(look_up(user) for user in [*members, *users]), at_most=2))


def answer(step: Step) -> Any:
    """What a tiny workspace answers (the sync executor)."""
    assert isinstance(step, (Call, Pages))
    if isinstance(step, Pages):
        return ["U1"]
    if step.args["user"] not in USERS:
        raise ChatPermanentError("user_not_found", code="user_not_found")
    return {"name": USERS[step.args["user"]]}


def test_sync_and_async_drivers_give_the_same_result_and_failures_reach_the_operation():
    running = 0
    most = 0

    async def aanswer(step: Step) -> Any:
        nonlocal running, most
        if isinstance(step, Together):
            limit = asyncio.Semaphore(step.at_most)

            async def one(operation: Operation[Any]) -> Any:
                async with limit:
                    return await arun(operation, aanswer)

            return list(await asyncio.gather(*(one(op) for op in step.operations)))
        running += 1
        most = max(most, running)
        await asyncio.sleep(0)
        running -= 1
        return answer(step)

    def sync_answer(step: Step) -> Any:
        if isinstance(step, Together):
            return [run(operation, sync_answer) for operation in step.operations]
        return answer(step)

    expected = ["alice", "bob", None, "alice"]
    assert run(names(["U2", "U9", "U1"]), sync_answer) == expected
    assert asyncio.run(arun(names(["U2", "U9", "U1"]), aanswer)) == expected
    assert most == 2  # side by side, never more than asked


def test_a_failure_the_operation_does_not_handle_is_raised_by_the_driver():
    def failing(step: Step) -> Any:
        raise ChatPermanentError("invalid_auth", code="invalid_auth")

    def read() -> Operation[dict]:
        return (yield Call("auth.test"))

    with pytest.raises(ChatPermanentError, match="invalid_auth"):
        run(read(), failing)


def test_next_page_carries_the_cursor_and_keeps_the_arguments():
    page = Call("conversations.history", {"limit": 15}, "C1")
    following = next_page(page, {"response_metadata": {"next_cursor": "abc"}})
    assert following == Call("conversations.history", {"limit": 15, "cursor": "abc"}, "C1")
    assert following.kwargs() == {"limit": 15, "cursor": "abc", "channel": "C1"}
    assert next_page(page, {"response_metadata": {"next_cursor": ""}}) is None
    assert next_page(page, {}) is None


@pytest.mark.parametrize(
    ("status", "headers", "pause"),
    [
        (200, {"Retry-After": "5"}, None),
        (503, {}, None),
        (429, {"Retry-After": "7"}, 7.0),
        (429, {"retry-after": ["3"]}, 3.0),  # any case; list values as slack_sdk's handlers pass them
        (429, {}, 1.0),
        (429, {"Retry-After": "soon"}, 1.0),
    ],
)
def test_what_a_429_means_for_the_pace_of_its_method(status, headers, pause):
    assert rate_limit_pause(status, headers) == pause
