"""What we post and log is safe: untrusted text is escaped, secrets are masked, and no token or webhook
URL reaches a log line or an error. Real Airflow (dag.test()) and real slack_sdk against the emulator."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from airflow_chat_alerts.exceptions import ChatAlertError
from airflow_chat_alerts.hooks.chat_alerter import ChatAlerterHook
from airflow_chat_alerts.model import Message

TEST_DAGS = Path(__file__).parents[1] / "dags" / "foundation_dags.py"
ESCAPED = "&lt;!channel&gt; &lt;!here&gt; &lt;@U0ALICE&gt; &lt;!subteam^S0OPS&gt; see &lt;https://evil.example|Open in Airflow&gt;"
# Markup Slack would act on: a broadcast, a mention, a group mention, a disguised link.
LIVE_MARKUP = ("<!channel>", "<!here>", "<@U0ALICE>", "<!subteam^S0OPS>", "<https://evil.example")


# As in dags/foundation_dags.py.
UNSAFE = "<!channel> <!here> <@U0ALICE> <!subteam^S0OPS> see <https://evil.example|Open in Airflow> ```end``` &"
DB_PASSWORD = "hunter2-db-password"


def states(dag_run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dag_run.get_task_instances()}


def xcoms(dag_run) -> dict[tuple[str, str], object]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id).all()
        return {(row.task_id, row.key): XComModel.deserialize_value(row) for row in rows}


def posted_strings(message: dict) -> str:
    return json.dumps({"text": message["text"], "blocks": message.get("blocks")}, ensure_ascii=False)


def test_the_default_notification_escapes_and_masks_the_exception(slack_emulator, slack_conn, load_dag):
    dag_run = load_dag(TEST_DAGS, "foundation_notify_unsafe").test(run_conf={"why": "<!channel> now"})

    assert dag_run.state == "failed"
    task_alert, run_alert = slack_emulator.messages("ml-alerts")
    posted = posted_strings(task_alert)
    for markup in LIVE_MARKUP:
        assert markup not in posted
    assert ESCAPED in task_alert["text"]  # the notification text too: Slack parses it as mrkdwn
    # Airflow's secrets masker: the registered secret and the connection's token are posted as ***.
    assert DB_PASSWORD not in posted and slack_emulator.bot_token not in posted
    assert "login with *** failed; token ***" in task_alert["text"]
    # The exception stays inside one code block: its own ``` no longer closes it.
    [code] = [b["text"]["text"] for b in task_alert["blocks"] if b["type"] == "section" and "```" in str(b)]
    assert code.startswith("```RuntimeError: &lt;!channel&gt;") and code.endswith("```")
    assert code[3:-3].count("``") == 0 and "`\u200b`\u200b`end`\u200b`\u200b`" in code
    # Untrusted text objects are verbatim: Slack links no bare URL or channel name in them.
    assert all(b["text"].get("verbatim") for b in task_alert["blocks"] if b["type"] == "section" and "text" in b)

    # The author's message keeps its own markup; the filter escapes what the author marked untrusted.
    assert run_alert["text"] == "<!here> *Run failed:* &lt;!channel&gt; now"
    # Neither parse nor link_names is sent: Slack links no bare @channel or @name in the text.
    for call in slack_emulator.journal.calls("chat.postMessage"):
        assert not {"parse", "link_names"} & set(call.args)


def test_the_slack_escape_filter_in_an_operator_template(slack_emulator, slack_conn, load_dag):
    dag_run = load_dag(TEST_DAGS, "foundation_post_escaped").test()

    assert states(dag_run) == {"validate": "success", "post": "success"}
    [posted] = slack_emulator.messages("ml-alerts")
    assert posted["text"].startswith(f"*Rows rejected:* {ESCAPED} `\u200b`\u200b`end`\u200b`\u200b` &amp;")
    for markup in LIVE_MARKUP:
        assert markup not in posted_strings(posted)


def test_every_post_passes_through_the_secrets_masker(slack_emulator, slack_conn, slack_webhook_conn):
    from airflow.sdk.log import mask_secret

    mask_secret(DB_PASSWORD)
    alerter = ChatAlerterHook(chat_conn_id=slack_conn).get_alerter()
    leak = f"password {DB_PASSWORD}"
    blocks = [{"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": leak}]}]}]

    parent = alerter.post(Message(text=leak, blocks=blocks, metadata={"event_type": "x", "event_payload": {"note": leak}}))
    alerter.post(Message(text=leak), channel=parent.channel, thread_ts=parent.ts)
    alerter.post_file(b"data", filename="r.csv", channel=parent.channel, thread_ts=parent.ts, title=leak, comment=leak)
    reply = alerter.post(Message(text="pending"), channel=parent.channel, thread_ts=parent.ts)
    alerter.update(reply, Message(text=leak))

    ChatAlerterHook(chat_conn_id=slack_webhook_conn).get_alerter().post(Message(text=leak, blocks=blocks))

    transcript = json.dumps(slack_emulator.thread("ml-alerts", parent.ts), ensure_ascii=False)
    assert DB_PASSWORD not in transcript
    assert transcript.count("password ***") >= 6  # text, block, metadata, reply, file title and comment, update
    [*_, through_webhook] = slack_emulator.messages("ml-alerts")
    assert through_webhook["text"] == "password ***" and DB_PASSWORD not in json.dumps(through_webhook["blocks"])


# -- secrets in logs and errors ---------------------------------------------------------------------
@pytest.fixture
def every_log_record(caplog):
    """Every record of every logger (slack_sdk, urllib3, aiohttp, ours) at every level."""
    caplog.set_level(0)
    for name in ("slack_sdk", "urllib3", "urllib", "aiohttp", "airflow", "airflow_chat_alerts"):
        caplog.set_level(0, logger=name)
    return caplog


def logged_text(caplog) -> str:
    handler_format = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(handler_format.format(record) for record in caplog.records)


def webhook_conn(monkeypatch, url: str) -> str:
    monkeypatch.setenv("AIRFLOW_CONN_CHAT_HOOK", json.dumps({"conn_type": "slackwebhook", "password": url}))
    return "chat_hook"


def post_through(conn_id: str) -> str:
    """Post once through the connection; the text of the error it raised and of its causes ("" when
    it posted): a traceback in a task log shows them all."""
    alerter = ChatAlerterHook(chat_conn_id=conn_id).get_alerter()
    try:
        alerter.post(Message(text="nightly load failed"))
    except ChatAlertError as err:
        chain: list[str] = []
        cause: BaseException | None = err
        while cause is not None:  # as a traceback shows the chain
            chain.append(f"{type(cause).__name__}: {cause}")
            cause = cause.__cause__ or (None if cause.__suppress_context__ else cause.__context__)
        return "\n".join(chain)
    return ""


def test_no_webhook_url_in_any_log_line_or_error(slack_emulator, monkeypatch, every_log_record):
    url = slack_emulator.webhook_url("ml-alerts")
    secret = url.rsplit("/", 1)[1]
    errors = {
        "good": post_through(webhook_conn(monkeypatch, url)),
        "mistyped secret": post_through(webhook_conn(monkeypatch, url[:-2] + "xx")),
        "mistyped scheme": post_through(webhook_conn(monkeypatch, "htps" + url[len("http") :])),
    }
    slack_emulator.revoke_webhook("ml-alerts")
    errors["revoked"] = post_through(webhook_conn(monkeypatch, url))

    assert errors["good"] == ""
    assert "invalid_token" in errors["mistyped secret"] and "invalid_token" in errors["revoked"]
    assert errors["mistyped scheme"].startswith("ChatConfigError: invalid_webhook_url: connection 'chat_hook'")
    assert "htps://127.0.0.1/***" in errors["mistyped scheme"] or "htps://localhost/***" in errors["mistyped scheme"]
    logged = logged_text(every_log_record)
    assert "Sending a request" in logged  # slack_sdk's DEBUG lines were captured, scrubbed
    assert secret[:-2] not in logged and secret[:-2] not in str(errors)


def test_no_token_in_any_log_line_or_error(slack_emulator, slack_conn, every_log_record):
    assert post_through(slack_conn) == ""
    slack_emulator.revoke_token(slack_emulator.bot_token)
    error = post_through(slack_conn)

    assert "token_revoked" in error
    logged = logged_text(every_log_record)
    assert "Sending a request" in logged
    assert slack_emulator.bot_token not in logged and slack_emulator.bot_token not in error


def test_a_mistyped_webhook_url_fails_the_post_without_showing_it(
    slack_emulator, monkeypatch, load_dag, every_log_record, capsys
):
    url = slack_emulator.webhook_url("ml-alerts")
    monkeypatch.setenv(
        "AIRFLOW_CONN_SLACK_API_DEFAULT", json.dumps({"conn_type": "slackwebhook", "password": "htps" + url[4:]})
    )
    dag_run = load_dag(TEST_DAGS, "foundation_post_soft").test()

    assert states(dag_run) == {"post": "success"}  # fail_on_error=False: logged, returned False
    assert xcoms(dag_run) == {("post", "return_value"): False}
    logged = logged_text(every_log_record) + capsys.readouterr().out  # Airflow's task log goes to stdout
    assert "invalid_webhook_url" in logged and url.rsplit("/", 1)[1] not in logged


def test_the_scrubber_hides_a_webhook_path_but_keeps_its_host():
    from airflow_chat_alerts.alerters.redaction import Scrubber

    scrub = Scrubber("https://hooks.slack.com/services/T0/B0/s3cr3t", "xoxb-1-2-abc", None)

    assert scrub("POST https://hooks.slack.com/services/T0/B0/s3cr3t failed") == "POST https://hooks.slack.com/*** failed"
    assert scrub("404 for /services/T0/B0/s3cr3t") == "404 for /***"
    assert scrub("Bearer xoxb-1-2-abc") == "Bearer ***"

