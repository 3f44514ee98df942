"""Block Kit building for alerts, task notifications and questions, always within Slack's limits.

Pure: no I/O, no Airflow or slack_sdk imports. Over-long input is truncated VISIBLY ("… 1,234 more
characters", "… 3 more blocks") rather than rejected by Slack with ``invalid_blocks`` or cut silently.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_chat_alerts.clicks import BUTTONS_BLOCK_ID, buttons_block
from airflow_chat_alerts.exceptions import ChatConfigError
from airflow_chat_alerts.model import Message, PipelineContext

# Slack's limits (https://api.slack.com/reference/block-kit).
MAX_BLOCKS = 50
MAX_TEXT = 40_000  # top-level message text
MAX_SECTION_TEXT = 3_000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2_000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_CONTEXT_TEXT = 3_000  # any text object
MAX_MARKDOWN_BLOCK_TEXT = 12_000

# block_id of the question's "how to answer" block; outcome_message() removes it (and the buttons).
HOW_TO_ANSWER_BLOCK_ID = "chat_alerts_how_to_answer"
OUTCOME_BLOCK_ID = "chat_alerts_outcome"
_OUTCOME_MARKS = ("✅ ", "❌ ", "⌛ ", "⚠️ ")
# How the fallback's last paragraph starts (without, with buttons); it is dropped once decided.
_PLAIN_HELP_START = "Reply in the thread with"
_PLAIN_BUTTONS_START = "Press Approve or Reject on the question, or reply in the thread with"

ON_TIMEOUT_RESULTS = {
    "reject": "it counts as *rejected*",
    "approve": "it counts as *approved*",
    "fail": "the task *fails*",
    "skip": "the task is *skipped*",
}

STATE_EMOJI = {
    "failed": ":red_circle:",
    "upstream_failed": ":red_circle:",
    "success": ":large_green_circle:",
    "up_for_retry": ":large_orange_circle:",
    "up_for_reschedule": ":large_blue_circle:",
    "skipped": ":white_circle:",
    "removed": ":white_circle:",
    "running": ":large_blue_circle:",
}
STATE_WORDS = {"failed": "failed", "success": "succeeded", "upstream_failed": "upstream failed"}

_MIN_CUT_RATIO = 0.8  # back up to a word boundary only when it keeps at least this much of the room


# ---------------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------------
def _more(count: int, what: str) -> str:
    return f"… {count:,} more {what}{'' if count == 1 else 's'}"


def _entity_start(text: str, pos: int) -> int:
    """The start of the Slack entity (``<@U123>``, ``<https://…|a label>``, ``&amp;``) that a cut at
    ``pos`` would split, or -1."""
    for opener, closer, longest in (("<", ">", 1_000), ("&", ";", 5)):
        start = text.rfind(opener, max(0, pos - longest), pos)
        if start != -1 and text.find(closer, start, pos) == -1 and 0 <= text.find(closer, start) - start < longest:
            return start
    return -1


def _cut_point(text: str, room: int) -> int:
    """Where to cut ``text`` to keep at most ``room`` characters: never inside a Slack entity, and at a
    word boundary when one is near."""
    cut = room
    start = _entity_start(text, cut)
    if start != -1:
        cut = start  # leave the entity out whole rather than show half of it
    if cut < len(text) and not text[cut].isspace():
        space = max(text.rfind(" ", 0, cut), text.rfind("\n", 0, cut))
        if space >= cut * _MIN_CUT_RATIO:
            cut = space
    return cut


def truncate(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its head followed by "… N more characters".

    The cut is made at a word boundary when one is close and never inside a Slack entity. The result is
    at most ``limit`` characters long; limits too small for the marker keep what fits and end with "…".

    :param text: the text.
    :param limit: the maximum length of the result.
    """
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    if len(text) <= limit:
        return text
    widest = " " + _more(len(text), "character")  # the omitted count can only be smaller
    if limit <= len(widest) + 1:
        return text[: limit - 1] + "…" if limit else ""
    cut = _cut_point(text, limit - len(widest))
    head = text[:cut].rstrip()
    return f"{head} {_more(len(text) - len(head), 'character')}"


def fit_text(text: str) -> str:
    """The top-level message text within Slack's 40,000 characters."""
    return truncate(text, MAX_TEXT)


def split_text(text: str, limit: int = MAX_SECTION_TEXT, max_chunks: int | None = None) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` characters: at paragraph breaks, then line breaks,
    then spaces; a word is cut only when it alone is longer than ``limit``. With ``max_chunks``, the
    last chunk is the rest truncated visibly.

    :param text: the text.
    :param limit: the maximum chunk length.
    :param max_chunks: the maximum number of chunks (None: as many as needed).
    """
    chunks: list[str] = []
    rest = text.strip()
    while len(rest) > limit and (max_chunks is None or len(chunks) < max_chunks - 1):
        cut = -1
        for sep in ("\n\n", "\n", " "):
            cut = rest.rfind(sep, 0, limit + 1)
            if cut > 0:
                break
        if cut <= 0:
            cut = limit
        if _entity_start(rest, cut) > 0:  # e.g. the space in "<https://…|the report>"
            cut = _entity_start(rest, cut)
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(truncate(rest, limit))
    return chunks


def escape(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` so Slack shows them literally in mrkdwn (no accidental markup)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_ZERO_WIDTH_SPACE = "\u200b"


def slack_escape(value: Any) -> str:
    """``value`` as text that Slack shows literally wherever it is put in mrkdwn: it cannot mention
    (``<@U…>``, ``<!subteam^…>``), broadcast (``<!channel>``, ``<!here>``), disguise a link
    (``<https://…|label>``) or open or close a code block (a zero-width space splits every run of
    backticks). For text that does not come from the DAG author: exception text, XCom, ids.

    :param value: any value; non-strings are shown as ``str(value)``.
    """
    return re.sub(r"`(?=`)", "`" + _ZERO_WIDTH_SPACE, escape(str(value)))


def mention(user_or_group_id: str) -> str:
    """Mention markup: ``<@U…>`` for a Slack user (U…/W…), ``<!subteam^S…>`` for a user group; ``<@id>`` for a
    Discord user and ``<@&id>`` for a Discord role (``&id``), which the Discord service posts as mentions.

    :param user_or_group_id: a Slack user or user group id, or a Discord user or role id.
    """
    ident = user_or_group_id.strip()
    if re.fullmatch(r"[UW][A-Z0-9]+", ident):
        return f"<@{ident}>"
    if re.fullmatch(r"S[A-Z0-9]+", ident):
        return f"<!subteam^{ident}>"
    if re.fullmatch(r"&?[1-9][0-9]{5,19}", ident):  # a Discord user or role (&id): Discord's own markup
        return f"<@{ident}>"
    raise ChatConfigError(
        f"cannot mention {user_or_group_id!r}: expected a Slack user id (U…/W…) or user group id (S…), or a "
        f"Discord user id or role id (&…)"
    )


def slack_link(url: str, label: str) -> str:
    """A mrkdwn link ``<url|label>`` safe against ``|``/``>`` in the URL and markup in the label."""
    return f"<{escape(url).replace('|', '%7C')}|{escape(label)}>"


def _code(value: Any) -> str:
    """An untrusted value in inline code, or escaped plain text when it holds a backtick or a newline."""
    text = str(value)
    return f"`{escape(text)}`" if "`" not in text and "\n" not in text else slack_escape(text)


def code_block(text: str, limit: int = MAX_SECTION_TEXT) -> str:
    """Untrusted ``text`` in a code block of at most ``limit`` characters that it cannot break out of.

    :param text: the text (exception output, logs).
    :param limit: the maximum length, fences included.
    """
    body = truncate(slack_escape(text), limit - 8)  # 3 + 3 for the fences, 2 for the padding below
    # A backtick next to a fence would lengthen it: Slack would close the block early.
    if not body or body.startswith("`"):
        body = _ZERO_WIDTH_SPACE + body
    if body.endswith("`"):
        body += _ZERO_WIDTH_SPACE
    return f"```{body}```"


def slack_date(when: datetime) -> str:
    """Slack date formatting, shown in each reader's time zone, with a UTC fallback.

    :param when: an aware datetime.
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise ChatConfigError(f"deadline {when.isoformat()} has no time zone: give an aware datetime")
    fallback = when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def format_duration(duration: float | timedelta) -> str:
    """``4.2s``, ``1m 23s``, ``2h 05m 09s``."""
    seconds = duration.total_seconds() if isinstance(duration, timedelta) else float(duration)
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(round(seconds))
    hours, rem = divmod(whole, 3600)
    minutes, secs = divmod(rem, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s"


# ---------------------------------------------------------------------------------------------------
# Blocks
# ---------------------------------------------------------------------------------------------------
def _mrkdwn(text: str, *, verbatim: bool = False) -> dict[str, Any]:
    """A mrkdwn text object; ``verbatim`` for untrusted text: Slack then turns no bare URL, channel
    name or mention word into a link (explicit ``<…>`` markup, which we write ourselves, still works)."""
    return {"type": "mrkdwn", "text": text, **({"verbatim": True} if verbatim else {})}


def section(text: str, *, block_id: str | None = None, verbatim: bool = False) -> dict[str, Any]:
    """A mrkdwn section block (text truncated visibly to 3,000 characters).

    :param text: the text (mrkdwn).
    :param block_id: the block's id.
    :param verbatim: the text holds untrusted values (see :func:`_mrkdwn`).
    """
    block: dict[str, Any] = {"type": "section", "text": _mrkdwn(truncate(text, MAX_SECTION_TEXT), verbatim=verbatim)}
    if block_id:
        block["block_id"] = block_id
    return block


def header(text: str) -> dict[str, Any]:
    """A header block (plain text, 150 characters at most)."""
    return {"type": "header", "text": {"type": "plain_text", "text": truncate(text, MAX_HEADER_TEXT), "emoji": True}}


def _fit_text_object(obj: Any, limit: int) -> Any:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        obj["text"] = truncate(obj["text"], limit)
    return obj


def _cap_items(items: list[Any], limit: int, noun: str) -> None:
    """Keep at most ``limit`` text items, the last saying how many more there were."""
    if len(items) > limit:
        items[limit - 1 :] = [{"type": "mrkdwn", "text": _more(len(items) - limit + 1, noun)}]


def _fit_block(block: dict[str, Any]) -> dict[str, Any]:
    kind = block.get("type")
    if kind == "section":
        _fit_text_object(block.get("text"), MAX_SECTION_TEXT)
        fields = block.get("fields")
        if isinstance(fields, list):
            _cap_items(fields, MAX_SECTION_FIELDS, "field")
            for item in fields:
                _fit_text_object(item, MAX_FIELD_TEXT)
    elif kind == "header":
        _fit_text_object(block.get("text"), MAX_HEADER_TEXT)
    elif kind == "context":
        elements = block.get("elements")
        if isinstance(elements, list):
            _cap_items(elements, MAX_CONTEXT_ELEMENTS, "item")
            for item in elements:
                _fit_text_object(item, MAX_CONTEXT_TEXT)
    elif kind == "markdown" and isinstance(block.get("text"), str):
        block["text"] = truncate(block["text"], MAX_MARKDOWN_BLOCK_TEXT)
    return block


def fit_blocks(blocks: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A copy of ``blocks`` within Slack's limits.

    At most 50 blocks (the last kept one says "… N more blocks"); section texts ≤ 3,000 characters,
    section fields ≤ 10 of ≤ 2,000; header texts ≤ 150; context blocks ≤ 10 elements. The input is not
    modified.

    :param blocks: Block Kit blocks (dicts).
    :raises ChatConfigError: when ``blocks`` is not a list of dicts each with a ``type``.
    """
    if isinstance(blocks, (str, bytes, Mapping)) or not isinstance(blocks, Iterable):
        raise ChatConfigError(f"blocks must be a list of Block Kit blocks (dicts), got {type(blocks).__name__}")
    fitted = []
    for index, block in enumerate(blocks):
        if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
            raise ChatConfigError(f"block {index} is not a Block Kit block (a dict with a 'type'): {block!r:.200}")
        fitted.append(_fit_block(copy.deepcopy(dict(block))))
    return cap_blocks(fitted, MAX_BLOCKS)


def blocks_from(blocks: Sequence[Mapping[str, Any]] | str | None) -> list[dict[str, Any]] | None:
    """Block Kit blocks as a DAG gives them: a list, or JSON text (what a template renders to).

    :param blocks: the blocks, JSON text of them, or None; blank text means none.
    :returns: the blocks as a list, or None when there are none.
    :raises ChatConfigError: the text is not JSON, or the value is not a list of block objects.
    """
    if isinstance(blocks, str):
        if not blocks.strip():
            return None
        try:
            blocks = json.loads(blocks)
        except ValueError as err:
            raise ChatConfigError(f"blocks are not valid JSON: {err}") from None
    if blocks is None:
        return None
    if not (isinstance(blocks, list) and all(isinstance(block, dict) for block in blocks)):
        raise ChatConfigError(f"blocks must be a list of Block Kit block objects, got {blocks!r:.200}")
    return blocks


def context_block(ctx: PipelineContext) -> dict[str, Any]:
    """A context line: DAG, run, task (with map index), try, and a link "Open in Airflow". Every value
    is escaped (they come from the run, not from the DAG author's message)."""
    parts = [f"*DAG* {_code(ctx.dag_id)}", f"*Run* {_code(ctx.run_id)}"]
    if ctx.task_id:
        task = ctx.task_id if ctx.map_index is None or ctx.map_index < 0 else f"{ctx.task_id}[{ctx.map_index}]"
        parts.append(f"*Task* {_code(task)}")
    if ctx.try_number is not None:
        parts.append(f"*Try* {slack_escape(ctx.try_number)}")
    if ctx.link:
        parts.append(slack_link(ctx.link, "Open in Airflow"))
    return {"type": "context", "elements": [_mrkdwn(truncate(" · ".join(parts), MAX_CONTEXT_TEXT), verbatim=True)]}


def _text_sections(text: str, room: int) -> list[dict[str, Any]]:
    """``text`` as sections, using at most ``room`` blocks; the last one says what did not fit."""
    return [section(chunk) for chunk in split_text(text, MAX_SECTION_TEXT, max(room, 1))]


def cap_blocks(blocks: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """``blocks`` cut to at most ``limit`` blocks, the last one then saying "… N more blocks"."""
    if len(blocks) <= limit:
        return blocks
    if limit <= 0:
        return []
    extra = len(blocks) - limit + 1
    return [*blocks[: limit - 1], {"type": "context", "elements": [{"type": "mrkdwn", "text": _more(extra, "block")}]}]


def alert_blocks(
    text: str,
    *,
    context: PipelineContext | None = None,
    extra_blocks: Sequence[Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Blocks for an alert: ``text`` (mrkdwn) in as many sections as needed, the context line, then
    ``extra_blocks``; all within Slack's limits.

    :param text: the alert text (mrkdwn); long text is split between paragraphs, lines or words.
    :param context: the pipeline context for the context line.
    :param extra_blocks: Block Kit blocks to append.
    """
    tail = ([context_block(context)] if context else []) + fit_blocks(extra_blocks or [])
    return fit_blocks([*_text_sections(text, MAX_BLOCKS - len(tail)), *tail])


# ---------------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------------
def task_state_message(
    *,
    state: str,
    dag_id: str,
    run_id: str,
    task_id: str | None = None,
    try_number: int | None = None,
    duration: float | timedelta | None = None,
    exception: str | None = None,
    link: str | None = None,
    emoji: str | None = None,
    map_index: int = -1,
) -> Message:
    """The notifier's default message about a task (or DAG run) reaching a state.

    Every value is escaped with :func:`slack_escape` (the exception in a code block it cannot leave):
    ids and exception text come from the run, not from the DAG author.

    :param state: the state, e.g. ``failed``, ``success``, ``up_for_retry``.
    :param dag_id: the DAG id.
    :param run_id: the DAG run id.
    :param task_id: the task id; None for a DAG-level notification.
    :param try_number: the try number.
    :param duration: how long it ran, in seconds or as a timedelta.
    :param exception: a summary of the exception (shown in a code block, truncated).
    :param link: a link to the task log (or the DAG run) in the Airflow UI.
    :param emoji: the header emoji; defaults per state (``:red_circle:`` for failed…).
    :param map_index: the map index of a mapped task instance (-1 when not mapped).
    """
    emoji = emoji if emoji is not None else STATE_EMOJI.get(state, ":large_blue_circle:")
    what = f"{dag_id}.{task_id}" if task_id else dag_id
    if task_id and map_index is not None and map_index >= 0:
        what += f"[{map_index}]"
    title = f"{'Task' if task_id else 'DAG run'} {STATE_WORDS.get(state, state.replace('_', ' '))}: {what}"
    head = f"{emoji} {title}".strip()

    fields = [f"*Run*\n{_code(run_id)}", f"*State*\n{slack_escape(state)}"]
    if try_number is not None:
        fields.append(f"*Try*\n{slack_escape(try_number)}")
    if duration is not None:
        fields.append(f"*Duration*\n{format_duration(duration)}")
    blocks: list[dict[str, Any]] = [
        header(head),  # plain text: Slack parses no markup in it
        {"type": "section", "fields": [_mrkdwn(truncate(f, MAX_FIELD_TEXT), verbatim=True) for f in fields]},
    ]
    if exception:
        blocks.append(section(code_block(exception.strip()), verbatim=True))
    if link:
        label = "View the task log in Airflow" if task_id else "Open the run in Airflow"
        blocks.append(section(slack_link(link, label), verbatim=True))

    summary = exception.strip().splitlines()[-1] if exception and exception.strip() else ""
    text = f"{emoji} {slack_escape(title)}".strip() + f" (run {slack_escape(run_id)}"
    text += (f", try {slack_escape(try_number)}" if try_number is not None else "") + ")"
    if summary:
        text += f": {slack_escape(summary)}"
    ctx = PipelineContext(
        dag_id=dag_id, run_id=run_id, task_id=task_id, try_number=try_number, map_index=map_index, link=link
    )
    return Message(text=fit_text(text), blocks=fit_blocks(blocks), context=ctx)


def _answer_help(
    approve_keywords: Sequence[str],
    reject_keywords: Sequence[str],
    approve_reactions: Sequence[str],
    reject_reactions: Sequence[str],
    *,
    buttons: bool = False,
) -> str:
    """How to answer, quoting the README's "How answers are read" briefly (decisions.py holds the rules)."""
    approve, reject = escape(approve_keywords[0]), escape(reject_keywords[0])
    reactions = f":{approve_reactions[0].strip(':')}: / :{reject_reactions[0].strip(':')}:"
    return (
        ("Press *Approve* or *Reject* below, or reply" if buttons else "Reply")
        + f" in this thread starting with *{approve}* or *{reject}*, alone or followed by ` - ` and a "
        f"reason (`{reject} - numbers look off`), or react with {reactions}. A question or more words "
        f"without a separator do not count (`{approve}?`, `{approve} but…`)"
    )


def question_message(
    text: str,
    *,
    context: PipelineContext | None,
    approve_keywords: Sequence[str],
    reject_keywords: Sequence[str],
    approve_reactions: Sequence[str],
    reject_reactions: Sequence[str],
    approvers: Sequence[str] | None,
    required_approvals: int,
    allow_guests: bool = False,
    deadline: datetime,
    on_timeout: str,
    extra_blocks: Sequence[Mapping[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
    interactive: bool = False,
) -> Message:
    """The question an ask posts: the message, a context line, how to answer, who may answer, how many
    approvals are needed, the deadline and what happens on timeout; plus a plain text fallback.

    The "how to answer" block has ``block_id`` :data:`HOW_TO_ANSWER_BLOCK_ID`; :func:`outcome_message`
    removes it (and the buttons) once decided. One block is kept free for the outcome.

    :param text: the question (mrkdwn).
    :param context: the pipeline context for the context line.
    :param approve_keywords: keywords that approve (the first is shown).
    :param reject_keywords: keywords that reject (the first is shown).
    :param approve_reactions: emoji names that approve (the first is shown).
    :param reject_reactions: emoji names that reject (the first is shown).
    :param approvers: user ids (U…/W…) and group ids (S…) who may answer; None for anyone.
    :param required_approvals: distinct approvals needed.
    :param allow_guests: with ``approvers=None``: guests may answer too (the help text says who may).
    :param deadline: when the ask times out (an aware datetime).
    :param on_timeout: ``reject``, ``approve``, ``fail`` or ``skip``.
    :param extra_blocks: Block Kit blocks to show after the question text.
    :param metadata: message metadata identifying the asking task instance.
    :param interactive: the connection receives clicks (it has an app-level token): the question ends
        with Approve and Reject buttons. Without it no button is shown, as none could work.
    """
    if not text or not text.strip():
        raise ChatConfigError("the question's message is empty")
    if on_timeout not in ON_TIMEOUT_RESULTS:
        raise ChatConfigError(f"on_timeout must be one of {', '.join(ON_TIMEOUT_RESULTS)}, got {on_timeout!r}")
    for name, items in (
        ("approve_keywords", approve_keywords),
        ("reject_keywords", reject_keywords),
        ("approve_reactions", approve_reactions),
        ("reject_reactions", reject_reactions),
    ):
        if isinstance(items, str) or not items:
            raise ChatConfigError(f"{name} must be a non-empty list")
    when = slack_date(deadline)

    anyone = "anyone in this channel" if allow_guests else "any member of this workspace in this channel (no guests)"
    who = ", ".join(mention(a) for a in approvers) if approvers else anyone
    needed = f"{required_approvals} approval{'' if required_approvals == 1 else 's'} needed"
    if required_approvals > 1:
        needed += " (from different people)"
    helper = "\n".join(
        [
            _answer_help(approve_keywords, reject_keywords, approve_reactions, reject_reactions, buttons=interactive)
            + ".",
            f"*Who can answer:* {who} · *{needed}*",
            f"*Deadline:* {when}; if no decision by then, {ON_TIMEOUT_RESULTS[on_timeout]}.",
        ]
    )
    own = [*([context_block(context)] if context else []), section(helper, block_id=HOW_TO_ANSWER_BLOCK_ID)]
    if interactive:
        own.append(buttons_block(_ask_identity(metadata)))
    # Keep one block free for the outcome and one for the question text: extra blocks give way first.
    extras = cap_blocks(fit_blocks(extra_blocks or []), MAX_BLOCKS - 2 - len(own))
    room = MAX_BLOCKS - 1 - len(own) - len(extras)
    blocks = [*_text_sections(text, room), *extras, *own]

    fallback_deadline = deadline.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    plain_help = (
        f"{_PLAIN_BUTTONS_START if interactive else _PLAIN_HELP_START} {approve_keywords[0]} or "
        f"{reject_keywords[0]} (alone, or followed by "
        f"' - ' and a reason), or react with "
        f":{approve_reactions[0].strip(':')}: / :{reject_reactions[0].strip(':')}:, by {fallback_deadline}."
    )
    fallback = fit_text(f"{text.strip()}\n\n{plain_help}") if len(text) < MAX_TEXT - 300 else fit_text(text.strip())
    return Message(text=fallback, blocks=fit_blocks(blocks), context=context, metadata=metadata)


def _ask_identity(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """The task instance a question's metadata names (what its buttons carry as their value)."""
    payload = (metadata or {}).get("event_payload") or {}
    return {key: payload[key] for key in ("dag_id", "run_id", "task_id", "map_index") if key in payload}


def outcome_line(
    outcome: str, *, by: Sequence[str] = (), comment: str | None = None, resolved_as: str | None = None
) -> str:
    """"✅ Approved by <@U1>", "❌ Rejected by <@U2>: “reason”" or "⌛ Timed out → rejected"."""
    who = ", ".join(mention(u) for u in by)
    if outcome == "approved":
        line = "✅ Approved" + (f" by {who}" if who else "")
    elif outcome == "rejected":
        line = "❌ Rejected" + (f" by {who}" if who else "")
    elif outcome == "timed_out":
        line = "⌛ Timed out" + (f" → {resolved_as}" if resolved_as else "")
    else:
        raise ChatConfigError(f"outcome must be approved, rejected or timed_out, got {outcome!r}")
    if comment and comment.strip() and outcome != "timed_out":
        # Someone's words, as plain text (decisions.clean_comment): quoted literally, so that our app's
        # post cannot mention, broadcast or link on their behalf.
        line += f": “{truncate(slack_escape(' '.join(comment.split())), 1_000)}”"
    return line


def outcome_message(
    question: Message,
    *,
    outcome: str,
    by: Sequence[str] = (),
    comment: str | None = None,
    resolved_as: str | None = None,
) -> Message:
    """The question as it should read once decided: the "how to answer" block and the buttons removed
    and the outcome appended. Metadata and context are kept.

    :param question: the question as posted (from :func:`question_message`).
    :param outcome: ``approved``, ``rejected`` or ``timed_out``.
    :param by: user ids who decided (approvers, or the one who rejected).
    :param comment: the decider's comment, quoted.
    :param resolved_as: for a timeout, what it resolved to: ``approved``, ``rejected``, ``failed``, ``skipped``.
    """
    return _closed(question, outcome_line(outcome, by=by, comment=comment, resolved_as=resolved_as))


def unanswerable_message(question: Message, *, reason: str) -> Message:
    """The question as it should read once its ask failed: no buttons, no "how to answer", and why
    nobody can answer it any more (people would otherwise press buttons that nothing receives).

    :param question: the question as posted (from :func:`question_message`).
    :param reason: why, in a few plain words (escaped here).
    """
    return _closed(question, f"⚠️ This question can no longer be answered: {slack_escape(reason)}")


def _closed(question: Message, line: str) -> Message:
    """``question`` with its "how to answer" block and buttons replaced by ``line``."""
    kept = [
        b
        for b in (question.blocks if question.blocks is not None else [section(question.text)])
        if b.get("block_id") not in (HOW_TO_ANSWER_BLOCK_ID, BUTTONS_BLOCK_ID, OUTCOME_BLOCK_ID)
    ]
    if len(kept) >= MAX_BLOCKS:
        kept = kept[: MAX_BLOCKS - 1]  # the outcome must show; the question's own overflow marker is kept
    blocks = fit_blocks([*kept, section(line, block_id=OUTCOME_BLOCK_ID)])
    text = question.text
    while True:  # drop the stale "how to answer" paragraph (and an earlier outcome) from the fallback
        head, sep, last = text.rpartition("\n\n")
        if not (sep and last.startswith((_PLAIN_HELP_START, _PLAIN_BUTTONS_START, *_OUTCOME_MARKS))):
            break
        text = head
    suffix = f"\n\n{line}"
    text = truncate(text, MAX_TEXT - len(suffix)) + suffix
    return Message(text=text, blocks=blocks, context=question.context, metadata=question.metadata)


def reminder_message(
    *,
    approvers: Sequence[str] | None,
    deadline: datetime,
    reminders_left: int | None = None,
    approve_keyword: str = "approve",
    reject_keyword: str = "reject",
) -> Message:
    """A thread reply reminding the approvers that the question still waits.

    :param approvers: user/group ids to mention; None (anyone may answer) mentions nobody.
    :param deadline: the ask's deadline (aware).
    :param reminders_left: how many more reminders will follow, if known.
    :param approve_keyword: the approve keyword to suggest.
    :param reject_keyword: the reject keyword to suggest.
    """
    who = " ".join(mention(a) for a in approvers) + " " if approvers else ""
    text = (
        f":bell: {who}this question still needs a decision: reply *{escape(approve_keyword)}* or "
        f"*{escape(reject_keyword)}* in this thread (alone, or followed by ` - ` and a reason), "
        f"or react to the question. Deadline: {slack_date(deadline)}."
    )
    if reminders_left is not None:
        plural = "" if reminders_left == 1 else "s"
        text += " Last reminder." if reminders_left == 0 else f" ({reminders_left} more reminder{plural} before then.)"
    return Message(text=text, blocks=[section(text)])
