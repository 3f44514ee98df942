"""ChatPostOperator: post an alert (text, optional blocks and files) to chat from a DAG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_chat_alerts.exceptions import ChatAlertError, ChatConfigError
from airflow_chat_alerts.templating import ChatTemplateFilters

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_chat_alerts.alerters.ports import Poster
    from airflow_chat_alerts.model import Message, MessageRef

XCOM_MESSAGE_KEY = "message"


class ChatPostOperator(ChatTemplateFilters, BaseOperator):
    """Post a message to a chat channel through an Airflow connection.

    The message goes out as Block Kit sections with a context line (DAG, run, task, try and a link to
    the task log), ``blocks`` appended, the text as the notification fallback, all fitted to Slack's
    limits (long text is truncated visibly, never rejected). ``files`` are uploaded into the message's
    thread after it is posted; they are read first, so a missing file posts nothing.

    On success the message reference (``channel``, ``ts``, ``permalink``, ``thread_ts``) is pushed to
    XCom under the key ``message`` and the task returns True.

    :param message: the text (mrkdwn, as the author wrote it); templated. Untrusted values put into it
        by a template (an XCom) can be escaped with the ``slack_escape`` filter:
        ``"{{ ti.xcom_pull('check') | slack_escape }}"``.
    :param chat_conn_id: the Airflow connection (``slack`` or ``slackwebhook``).
    :param channel: the channel id (``C0123``) or name; the connection's ``channel`` extra when None.
        Templated.
    :param blocks: extra Block Kit blocks (a list, or a JSON string); templated.
    :param thread_ts: post as a reply in this thread; templated.
    :param files: paths of files (plots, reports) to upload into the message's thread; templated.
    :param include_context: add the context line (DAG/run/task/try/log link).
    :param fail_on_error: raise when posting fails (default); when False, log the reason and
        return False instead.
    """

    template_fields: Sequence[str] = ("message", "blocks", "channel", "thread_ts", "files")
    template_fields_renderers = {"message": "md", "blocks": "json"}
    ui_color = "#e8d5f5"

    def __init__(
        self,
        *,
        message: str,
        chat_conn_id: str = "slack_api_default",
        channel: str | None = None,
        blocks: list[dict[str, Any]] | str | None = None,
        thread_ts: str | None = None,
        files: Sequence[str] | str | None = None,
        include_context: bool = True,
        fail_on_error: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # A string is checked now; an XComArg (an upstream task's result) only once rendered.
        if message is None or (isinstance(message, str) and not message.strip() and not blocks):
            raise ChatConfigError(f"{self.task_id}: message is empty; give the text to post")
        if blocks is not None and not isinstance(blocks, (list, str)):
            raise ChatConfigError(f"{self.task_id}: blocks must be a list of Block Kit blocks or a JSON string")
        self.message = message
        self.chat_conn_id = chat_conn_id
        self.channel = channel
        self.blocks = blocks
        self.thread_ts = thread_ts
        self.files = files
        self.include_context = include_context
        self.fail_on_error = fail_on_error

    def execute(self, context: Context) -> bool:
        from airflow_chat_alerts.hooks.chat_alerter import ChatAlerterHook

        try:
            message = self._message(context)
            uploads = self._read_files()
            alerter = ChatAlerterHook(chat_conn_id=self.chat_conn_id).get_alerter()
            try:
                ref = self._post(alerter, message, uploads)
            finally:
                alerter.close()
        except ChatAlertError as err:
            if self.fail_on_error:
                raise
            self.log.error("Posting to chat through connection %r failed: %s", self.chat_conn_id, err)
            return False
        context["ti"].xcom_push(key=XCOM_MESSAGE_KEY, value=ref.to_dict())
        self.log.info("Posted to %s at %s: %s", ref.channel, ref.ts, ref.permalink or "(no permalink)")
        return True

    def _message(self, context: Context) -> Message:
        from airflow_chat_alerts import formatting
        from airflow_chat_alerts.model import Message, PipelineContext

        text = self.message if isinstance(self.message, str) else str(self.message or "")
        try:
            blocks = formatting.blocks_from(self.blocks)
        except ChatConfigError as err:
            raise ChatConfigError(f"{self.task_id}: {err}") from None
        if not text.strip() and not blocks:
            raise ChatConfigError(f"{self.task_id}: the message rendered empty; nothing to post")
        ctx = PipelineContext.of(context["ti"]) if self.include_context else None
        all_blocks = formatting.alert_blocks(text, context=ctx, extra_blocks=blocks) if text.strip() else blocks
        return Message(text=text, blocks=all_blocks, context=ctx)

    def _read_files(self) -> list[tuple[str, bytes]]:
        # A single path, or a template that rendered to one, counts as a list of one.
        paths = [self.files] if isinstance(self.files, (str, Path)) else list(self.files or [])
        uploads = []
        for path in paths:
            try:
                uploads.append((Path(path).name, Path(path).read_bytes()))
            except OSError as err:
                raise ChatConfigError(f"{self.task_id}: cannot read file {path!r} to upload: {err}") from err
        return uploads

    def _post(self, alerter: Poster, message: Message, uploads: list[tuple[str, bytes]]) -> MessageRef:
        # Checked before posting so that nothing is half-posted.
        if self.thread_ts:
            alerter.require("threads")
        if uploads:
            alerter.require("files")
        ref = alerter.post(message, channel=self.channel, thread_ts=self.thread_ts)
        for filename, content in uploads:
            alerter.post_file(content, filename=filename, channel=ref.channel, thread_ts=ref.thread_ts or ref.ts)
        return ref
