"""ChatNotifier: tell a chat channel that a task or DAG run failed (or succeeded), from a callback."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.sdk import BaseNotifier

from airflow_chat_alerts.templating import ChatTemplateFilters

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_chat_alerts.model import Message


def _exception_summary(error: BaseException | str | None) -> str | None:
    if error is None:
        return None
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    return str(error)


def _duration(start: datetime | None, end: datetime | None) -> float | None:
    if start is None:
        return None
    return ((end or datetime.now(timezone.utc)) - start).total_seconds()


def _run_link(dag_id: str, run_id: str) -> str:
    from airflow.sdk.configuration import conf

    base_url = conf.get("api", "base_url", fallback="http://localhost:8080/")
    return f"{base_url.rstrip('/')}/dags/{quote(dag_id)}/runs/{quote(run_id)}"


class ChatNotifier(ChatTemplateFilters, BaseNotifier):
    """Post a task's or DAG run's state to chat; for ``on_failure_callback`` / ``on_success_callback``.

    The default message names the DAG, run, task, state, try, duration, a summary of the exception and
    links to the task's log in the Airflow UI. A notifier never raises into Airflow: a failure to post
    is logged.

    :param chat_conn_id: the Airflow connection (``slack`` or ``slackwebhook``); templated.
    :param channel: the channel id or name; the connection's ``channel`` extra when None; templated.
    :param message: a template replacing the default message's text, e.g.
        ``"{{ ti.task_id }} failed: {{ exception | slack_escape }}"``; templated with the callback's
        context. It is posted as written (mrkdwn): escape untrusted values with ``slack_escape``. The
        default message escapes every value itself.
    """

    template_fields: Sequence[str] = ("message", "channel", "chat_conn_id")

    def __init__(
        self,
        *,
        chat_conn_id: str = "slack_api_default",
        channel: str | None = None,
        message: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.chat_conn_id = chat_conn_id
        self.channel = channel
        self.message = message

    def __call__(self, *args: Any) -> None:
        try:
            super().__call__(*args)
        except Exception as err:
            # A failed notification must not change the task's or run's outcome.
            self.log.error("Chat notification through connection %r failed: %s", self.chat_conn_id, err)

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        dag = context.get("dag")
        if jinja_env is None and dag is not None and not hasattr(dag, "get_template_env"):
            # dag.test() hands DAG-level callbacks a serialized DAG, which has no template environment.
            jinja_env = self.get_template_env()
        super().render_template_fields(context, jinja_env)

    def notify(self, context: Context) -> None:
        from airflow_chat_alerts.hooks.chat_alerter import ChatAlerterHook

        message = self.build_message(context)
        alerter = ChatAlerterHook(chat_conn_id=self.chat_conn_id).get_alerter()
        try:
            ref = alerter.post(message, channel=self.channel)
        finally:
            alerter.close()
        self.log.info("Chat notification posted to %s at %s", ref.channel, ref.ts)

    def build_message(self, context: Context) -> Message:
        """The message for this callback: the default one, or ``message`` rendered, with the context line."""
        from airflow_chat_alerts import formatting
        from airflow_chat_alerts.model import Message

        default = formatting.task_state_message(**self._state(context))
        if self.message is None:
            return default
        text = str(self.message)
        return Message(
            text=text, blocks=formatting.alert_blocks(text, context=default.context), context=default.context
        )

    @staticmethod
    def _state(context: Context) -> dict[str, Any]:
        """What happened, from a task callback's context (with ``ti``) or a DAG callback's (``dag_run``)."""
        from airflow_chat_alerts.model import PipelineContext

        dag_run = context.get("dag_run")
        ti = context.get("ti") or context.get("task_instance")
        exception = _exception_summary(context.get("exception"))
        if ti is not None and "reason" not in context:
            state = getattr(ti, "state", None)
            return {
                **asdict(PipelineContext.of(ti)),
                "state": str(getattr(state, "value", state) or ("failed" if exception else "success")),
                "duration": _duration(getattr(ti, "start_date", None), getattr(ti, "end_date", None)),
                "exception": exception,
            }
        dag_id = dag_run.dag_id if dag_run is not None else context["dag"].dag_id
        run_id = dag_run.run_id if dag_run is not None else context.get("run_id", "")
        state = getattr(dag_run, "state", None)
        return {
            "state": str(getattr(state, "value", state) or ("failed" if exception else "success")),
            "dag_id": dag_id,
            "run_id": run_id,
            "duration": _duration(getattr(dag_run, "start_date", None), getattr(dag_run, "end_date", None)),
            "exception": exception or context.get("reason"),
            "link": _run_link(dag_id, run_id),
        }


send_chat_notification = ChatNotifier
