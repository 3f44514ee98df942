"""Slack Web API operations described apart from the client that runs them.

An operation is a generator: it yields what it needs from Slack (a :class:`Call`, every page of a
read, or other operations side by side), is sent Slack's answer, and returns its result. It holds
the arguments of each call and the reading of each answer, written once; :func:`run` drives it one
step at a time through a sync executor (workers), :func:`arun` through an async one (the triggerer).
Pure: no I/O, no client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar, cast

from airflow_chat_alerts.alerters import slack_shapes as shapes

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """One Web API call.

    :param method: the Slack method (``chat.postMessage``).
    :param args: its arguments, besides the channel.
    :param channel: the channel, passed on to Slack and named in errors.
    :param question: the call reads a question: a missing message means it was deleted.
    """

    method: str
    args: Mapping[str, Any] = field(default_factory=dict)
    channel: str | None = None
    question: bool = False

    @classmethod
    def of(cls, method: str, *, channel: str | None = None, question: bool = False, **args: Any) -> Call:
        """The call written as the client method's keyword arguments (``channel=`` included)."""
        return cls(method, args, channel, question)

    def kwargs(self) -> dict[str, Any]:
        """The slack_sdk client method's keyword arguments."""
        return {**self.args, **({"channel": self.channel} if self.channel is not None else {})}

    def with_args(self, **args: Any) -> Call:
        """The same call with ``args`` added or replaced (a page size, a cursor)."""
        return replace(self, args={**self.args, **args})


@dataclass(frozen=True)
class Pages:
    """Every page of a paginated read; answered with the lists under ``key`` joined, in page order."""

    call: Call
    key: str


@dataclass(frozen=True)
class Together:
    """Operations run side by side (at most ``at_most`` at once on the async client, one after another
    on the sync one); answered with their results in order. The first failure is raised."""

    operations: tuple[Operation[Any], ...]
    at_most: int


Step = Call | Pages | Together
Operation = Generator[Step, Any, T]


def run(operation: Operation[T], execute: Callable[[Step], Any]) -> T:
    """Drive ``operation`` to its result, each step answered by ``execute``; a step's failure is raised
    inside the operation, where it may be handled."""
    answer: Any = None
    error: Exception | None = None
    while True:
        try:
            step = operation.send(answer) if error is None else operation.throw(error)
        except StopIteration as done:
            return cast(T, done.value)  # StopIteration carries the generator's return value untyped
        answer, error = None, None
        try:
            answer = execute(step)
        except Exception as err:
            error = err


async def arun(operation: Operation[T], execute: Callable[[Step], Awaitable[Any]]) -> T:
    """:func:`run` with an async executor."""
    answer: Any = None
    error: Exception | None = None
    while True:
        try:
            step = operation.send(answer) if error is None else operation.throw(error)
        except StopIteration as done:
            return cast(T, done.value)  # StopIteration carries the generator's return value untyped
        answer, error = None, None
        try:
            answer = await execute(step)
        except Exception as err:
            error = err


def next_page(page: Call, data: Mapping[str, Any]) -> Call | None:
    """The call for the page after ``page`` (whose answer is ``data``), or None on the last page.

    :raises SlackShapeError: the answer's cursor is garbled.
    """
    cursor = shapes.next_cursor(data)
    return page.with_args(cursor=cursor) if cursor else None
