"""The Slack message of a Human-in-the-loop request, and the same message once answered.

The request reads: the subject (a header), the body (a Markdown block: Airflow renders the body as
Markdown too), the context line (DAG, run, task, link), how to answer, who may answer and the deadline
with what happens then; then the choices, when the connection receives clicks (it has an app-level
token): one button per option while they fit Slack's 25 elements per actions block, else a menu (in
groups of 100 past 100 options); with ``multiple=True`` a multi-select and a *Submit* button; a *Fill in
the form* button when the request has params the modal holds (and only that button when some param has
no valid default: a choice needs the form then); a link to Airflow's own form when some param cannot be
shown in Slack. Without clicks no element is shown (none could work) and the help says how to answer
by reply. Replies name an option (:mod:`~airflow_chat_alerts.hitl.replies`); an approval keeps the
``approve`` / ``reject`` keywords and reactions.

Once answered, the help and the choices are removed and one outcome line is added: who answered, where
(Slack, Airflow, the timeout) and what. Values that do not come from the DAG author's subject and body
(options, names, comments, ids) are escaped.

Pure: no I/O, no Airflow or slack_sdk imports.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from airflow_chat_alerts.exceptions import ChatConfigError
from airflow_chat_alerts.formatting import (
    MAX_BLOCKS,
    MAX_MARKDOWN_BLOCK_TEXT,
    MAX_TEXT,
    OUTCOME_BLOCK_ID,
    context_block,
    fit_blocks,
    fit_text,
    header,
    mention,
    outcome_line,
    section,
    slack_date,
    slack_escape,
    truncate,
)
from airflow_chat_alerts.hitl.choices import (
    AIRFLOW_ACTION,
    CHOICES_BLOCK_ID,
    FORM_ACTION,
    MAX_ACTIONS_ELEMENTS,
    SUBMIT_ACTION,
    fits_menu,
    option_button,
    options_menu,
)
from airflow_chat_alerts.hitl.form import Form
from airflow_chat_alerts.hitl.replies import readable_options
from airflow_chat_alerts.hitl.request import HITLRequest
from airflow_chat_alerts.model import Message, PipelineContext

HOW_TO_BLOCK_ID = "chat_alerts_hitl_how_to"
# Message metadata event type that marks a request posted by a Chat HITL operator.
HITL_EVENT_TYPE = "airflow_chat_alerts_hitl"
APPROVE, REJECT = "Approve", "Reject"  # Airflow's ApprovalOperator options
# The fallback text's help paragraph starts with one of these; it is dropped once answered.
_PLAIN_HELP_START = "Answer by replying in the thread"
_PLAIN_FORM_HELP = "Answer with the request's form"
_PLAIN_AIRFLOW_HELP = "Answer under Required actions in Airflow"
_PLAIN_HELPS = (_PLAIN_HELP_START, _PLAIN_FORM_HELP, _PLAIN_AIRFLOW_HELP)
_MAX_LISTED = 20  # options named in the help text; the rest are counted


def _option_list(options: Sequence[str]) -> str:
    shown = [f"*{slack_escape(' '.join(o.split()))}*" for o in options[:_MAX_LISTED]]
    more = len(options) - len(shown)
    return " · ".join(shown) + (f" · … {more:,} more" if more > 0 else "")


def _who(answerers: Sequence[str] | None, assigned_names: Sequence[str]) -> str:
    who = ", ".join(mention(a) for a in answerers) if answerers else "anyone in this channel"
    if assigned_names:
        who += f" (assigned in Airflow: {', '.join(slack_escape(n) for n in assigned_names)})"
    return who


def _deadline_line(request: HITLRequest, deadline: datetime | None) -> str:
    if deadline is None:
        return "*Deadline:* none."
    then = (
        f"the defaults apply: {_option_list(request.defaults)}"
        if request.defaults
        else "the task *fails*"
    )
    return f"*Deadline:* {slack_date(deadline)}; if nobody answers by then, {then}."


def request_message(
    request: HITLRequest,
    *,
    context: PipelineContext | None,
    deadline: datetime | None,
    interactive: bool,
    answerers: Sequence[str] | None = None,
    airflow_url: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    approval: bool = False,
) -> Message:
    """The message that asks a Human-in-the-loop request in Slack.

    :param request: the request (subject and body already rendered).
    :param context: the pipeline context for the context line.
    :param deadline: when the request times out (aware), or None without ``response_timeout``.
    :param interactive: the connection receives clicks (an app-level token): show buttons, menus, the form.
    :param answerers: Slack user and group ids who may answer (mentioned); None for anyone in the channel.
    :param airflow_url: the task's page of Required actions in Airflow, linked when Slack cannot hold the form.
    :param metadata: message metadata naming the task instance.
    :param approval: an approval (Airflow's ``ApprovalOperator``): *Approve* / *Reject* styled, and the
        approval keywords and reactions in the help.
    :raises ValueError: ``approval`` with options other than Approve and Reject.
    """
    if approval and request.options != (APPROVE, REJECT):
        raise ValueError(f"an approval's options are {APPROVE!r} and {REJECT!r}, got {list(request.options)}")
    form = Form.of(request)
    needs_form = bool(request.params) and form.defaults_input is None
    slack_can_answer = not needs_form or form.usable
    assigned = [user.name for user in request.assigned_users]
    lines = [
        _help(request, form, interactive=interactive, needs_form=needs_form, approval=approval,
              airflow_url=airflow_url),
        f"*Who can answer:* {_who(answerers, assigned)}",
        _deadline_line(request, deadline),
    ]
    own: list[dict[str, Any]] = [*([context_block(context)] if context else [])]
    own.append(section("\n".join(lines), block_id=HOW_TO_BLOCK_ID))
    if interactive:
        choices = _choices_block(request, form, needs_form=needs_form, approval=approval,
                                 airflow_url=None if slack_can_answer else airflow_url)
        if choices is not None:
            own.append(choices)
    top = [header(request.subject or "Human-in-the-loop request")]
    if request.body and request.body.strip():
        top.append({"type": "markdown", "text": truncate(request.body.strip(), MAX_MARKDOWN_BLOCK_TEXT)})
    blocks = [*top, *own][: MAX_BLOCKS - 1]  # one block kept free for the outcome

    readable = readable_options(request.options)
    if needs_form:
        plain = f"{_PLAIN_FORM_HELP} (in Slack, or under Required actions in Airflow)."
    elif approval:
        plain = f"{_PLAIN_HELP_START} with approve or reject (alone, or followed by ' - ' and a reason)."
    elif readable:
        plain = f"{_PLAIN_HELP_START} with one of: {', '.join(readable[:_MAX_LISTED])}."
    else:
        plain = f"{_PLAIN_AIRFLOW_HELP}."
    parts = [request.subject.strip(), (request.body or "").strip(), plain]
    fallback = fit_text("\n\n".join(p for p in parts if p))
    return Message(text=fallback, blocks=fit_blocks(blocks), context=context,
                   metadata=dict(metadata) if metadata else None)


def _help(
    request: HITLRequest, form: Form, *, interactive: bool, needs_form: bool, approval: bool, airflow_url: str | None
) -> str:
    link = f"<{airflow_url}|Airflow's form>" if airflow_url else "Airflow's form (Required actions)"
    if needs_form and not form.usable:
        shown = ", ".join(f"`{slack_escape(u.key)}` ({u.reason})" for u in form.unsupported) or "too many fields"
        return f"This request has fields Slack cannot show ({truncate(shown, 1_000)}): answer it in {link}."
    if needs_form:
        return ("Press *Fill in the form* below to answer." if interactive
                else f"This request needs its form filled in: answer it in {link}.")
    readable = readable_options(request.options)
    reply = (
        "reply in this thread starting with *approve* or *reject*, alone or followed by ` - ` and a reason "
        "(`reject - numbers look off`), or react with :white_check_mark: / :x:"
        if approval
        else f"reply in this thread starting with one of {_option_list(readable)}, alone or followed by ` - ` and a "
        f"reason" if readable else ""
    )
    if not interactive:
        return (f"To answer, {reply}. A question or more words without a separator do not count." if reply
                else f"Answer it in {link}.")
    if request.multiple:
        pick = "Choose one or more options below and press *Submit*"
    elif approval:
        pick = f"Press *{APPROVE}* or *{REJECT}* below"
    else:
        pick = "Choose below"
    extra = " (*Fill in the form* to change its fields)" if request.params and form.usable else ""
    if not reply:
        return f"{pick}{extra}."
    reply = f", or {reply}" + (" (a reply chooses one option)" if request.multiple else "")
    return f"{pick}{extra}{reply}."


def _choices_block(
    request: HITLRequest, form: Form, *, needs_form: bool, approval: bool, airflow_url: str | None
) -> dict[str, Any] | None:
    extras: list[dict[str, Any]] = []
    if request.params and form.usable:
        extras.append({
            "type": "button",
            "action_id": FORM_ACTION,
            "text": {"type": "plain_text", "text": "Fill in the form"},
            **({"style": "primary"} if needs_form else {}),
        })
    if airflow_url:
        extras.append({
            "type": "button",
            "action_id": AIRFLOW_ACTION,
            "text": {"type": "plain_text", "text": "Answer in Airflow"},
            "url": airflow_url,
        })
    elements: list[dict[str, Any]] = []
    options = request.options
    if not needs_form:
        if request.multiple and fits_menu(options):
            elements = [
                options_menu(options, multiple=True, initial=request.defaults or ()),
                {"type": "button", "action_id": SUBMIT_ACTION, "text": {"type": "plain_text", "text": "Submit"},
                 "style": "primary"},
            ]
        elif not request.multiple and len(options) + len(extras) <= MAX_ACTIONS_ELEMENTS:
            styles = {APPROVE: "primary", REJECT: "danger"} if approval else {}
            elements = [option_button(i, o, style=styles.get(o)) for i, o in enumerate(options)]
        elif not request.multiple and fits_menu(options):
            elements = [options_menu(options, multiple=False)]
    elements += extras
    if not elements:
        return None
    return {"type": "actions", "block_id": CHOICES_BLOCK_ID, "elements": elements}


# -- once answered ---------------------------------------------------------------------------------
def answered_line(
    chosen: Sequence[str],
    *,
    by_slack_user: str | None = None,
    by_airflow_user: str | None = None,
    comment: str | None = None,
    timed_out: bool = False,
    approval: bool = False,
) -> str:
    """The outcome line: ``✅ <@U1> chose *Deploy EU*``, ``❌ Rejected by <@U2>: “reason”``, ``✅ Answered in
    Airflow by admin: *Approve*``, ``⌛ Timed out → defaults: *Reject*`` or ``⌛ Timed out: the task failed``.

    :param chosen: the options chosen (empty for a timeout without defaults).
    :param by_slack_user: the Slack user id of who answered in Slack.
    :param by_airflow_user: the Airflow user name of who answered in Airflow (None: unknown, or the timeout).
    :param comment: the comment of a Slack reply, quoted.
    :param timed_out: nobody answered in time.
    :param approval: an approval: read ``Approve`` / ``Reject`` as approved / rejected.
    """
    what = _option_list(chosen)
    if timed_out:
        return f"⌛ Timed out → defaults: {what}" if chosen else "⌛ Timed out: nobody answered, the task failed"
    if by_slack_user is not None:
        if approval and tuple(chosen) in ((APPROVE,), (REJECT,)):
            return outcome_line("approved" if chosen[0] == APPROVE else "rejected", by=[by_slack_user], comment=comment)
        line = f"✅ {mention(by_slack_user)} chose {what}"
        if comment and comment.strip():
            line += f": “{truncate(slack_escape(' '.join(comment.split())), 1_000)}”"
        return line
    who = f" by {slack_escape(by_airflow_user)}" if by_airflow_user else ""
    mark = "❌" if approval and tuple(chosen) == (REJECT,) else "✅"
    return f"{mark} Answered in Airflow{who}: {what}"


def answered_message(question: Message, line: str) -> Message:
    """The request's message once answered: the help and the choices removed, ``line`` appended (an
    earlier outcome line is replaced). Metadata and context are kept.

    :param question: the message as posted (:func:`request_message`).
    :param line: the outcome (:func:`answered_line`).
    """
    drop = (HOW_TO_BLOCK_ID, CHOICES_BLOCK_ID, OUTCOME_BLOCK_ID)
    kept = [b for b in question.blocks or [section(question.text)] if b.get("block_id") not in drop]
    blocks = fit_blocks([*kept[: MAX_BLOCKS - 1], section(line, block_id=OUTCOME_BLOCK_ID)])
    text = question.text
    # An earlier outcome line (when answered twice over), then the stale help paragraph, leave the fallback.
    for ends in (("✅ ", "❌ ", "⌛ "), _PLAIN_HELPS):
        head, sep, last = text.rpartition("\n\n")
        if sep and last.startswith(ends):
            text = head
    suffix = f"\n\n{line}"
    return Message(text=truncate(text, MAX_TEXT - len(suffix)) + suffix, blocks=blocks, context=question.context,
                   metadata=question.metadata)


def already_answered_text(line: str) -> str:
    """What a person sees (only them) after answering a request that was answered already.

    :param line: the outcome line (:func:`answered_line`).
    """
    return f"This request is already answered: {line}. Your answer changed nothing."


def request_metadata(
    identity: Mapping[str, Any],
    *,
    deadline: datetime | None,
    try_number: int,
    request: HITLRequest | None = None,
    approval: bool = False,
) -> dict[str, Any]:
    """The message metadata of a request: the task instance, the try that posted it, and its deadline
    (ISO-8601 UTC; absent without one), so a retry finds the request it posted and a trigger knows it;
    with ``request``, its options and params too (JSON text: Slack's metadata takes no null values), so
    that whichever triggerer receives an interaction can build the form and read the choice
    (:func:`request_of_metadata`).

    :param identity: ``dag_id``, ``run_id``, ``task_id``, ``map_index``.
    :param deadline: the request's deadline, or None.
    :param try_number: the try posting it.
    :param request: the request (its body is left out: the message shows it).
    :param approval: the request is an approval (Approve / Reject).
    """
    payload = {key: identity[key] for key in ("dag_id", "run_id", "task_id", "map_index") if key in identity}
    payload["try_number"] = try_number
    if deadline is not None:  # Slack's metadata takes no null values: no deadline is no key
        payload["deadline"] = deadline.astimezone(timezone.utc).isoformat()
    if request is not None:
        data = {**request.to_dict(), "body": None}
        payload["request"] = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        payload["approval"] = approval
    return {"event_type": HITL_EVENT_TYPE, "event_payload": payload}


def request_of_metadata(metadata: Any) -> tuple[HITLRequest, bool] | None:
    """``(request, approval)`` of a request message's metadata (:func:`request_metadata`); None when the
    metadata is not a request's, or cannot be read."""
    if not isinstance(metadata, Mapping) or metadata.get("event_type") != HITL_EVENT_TYPE:
        return None
    payload = metadata.get("event_payload")
    raw = payload.get("request") if isinstance(payload, Mapping) else None
    if not isinstance(raw, str):
        return None
    try:
        request = HITLRequest.from_dict(json.loads(raw))
    except (ValueError, ChatConfigError):
        return None
    return request, isinstance(payload, Mapping) and payload.get("approval") is True
