"""The durable record of a Human-in-the-loop answer given with the request's buttons, menus or form.

The rules are those of Approve / Reject clicks (:mod:`airflow_chat_alerts.clicks`), for every kind of
answer given through an interaction: the process whose socket receives the interaction posts a record in
the request's thread (a reply by the app carrying the answer in its metadata), and only then acknowledges
it; readers honour only records posted by our own app and stored within
:data:`~airflow_chat_alerts.clicks.RECORD_WINDOW` of the interaction (:func:`~airflow_chat_alerts.clicks.
recorded_in_time`), so an answer not made durable in time (not acknowledged: the person saw Slack's error)
counts nowhere. The person is the payload's Slack-verified user, never anything the message carries.

A click carries Slack's ``action_ts``; a form's ``view_submission`` carries no time, so the recording
process writes the moment its socket received the submission (``action_ts``) and applies the same window
to it before acknowledging: the recorder and every reader judge the same two numbers.

Values travel as JSON text inside the metadata (Slack's metadata takes no null values, and params may
hold them).

Pure: no I/O, no Airflow or slack_sdk imports. Reading never raises: what cannot be read is no record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from airflow_chat_alerts.clicks import recorded_in_time
from airflow_chat_alerts.formatting import mention, slack_escape, truncate
from airflow_chat_alerts.model import Answer, Message

HITL_ANSWER_EVENT_TYPE = "airflow_chat_alerts_hitl_answer"  # metadata event_type of an answer record
Via = Literal["click", "form"]

_USER_ID = re.compile(r"[UW][A-Z0-9]+")
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]+")
_TS = re.compile(r"[0-9]{1,12}\.[0-9]{1,9}")
_MAX_LISTED = 5


def _text(value: Any, pattern: re.Pattern[str]) -> str | None:
    return value if isinstance(value, str) and pattern.fullmatch(value) else None


def encode_choice(chosen: Sequence[str], params_input: Mapping[str, Any] | None, via: Via) -> str:
    """A recorded choice as the text of an :class:`~airflow_chat_alerts.model.Answer` of kind ``choice``
    (canonical JSON: the same choice is the same text, so two reads of it are equal)."""
    data = {"chosen": list(chosen), "params": None if params_input is None else dict(params_input), "via": via}
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def decode_choice(text: str) -> tuple[tuple[str, ...], dict[str, Any] | None, Via] | None:
    """``(chosen, params_input, via)`` of :func:`encode_choice`'s text; None when it is not one."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        return None
    if not isinstance(data, Mapping):
        return None
    chosen, params, via = data.get("chosen"), data.get("params"), data.get("via")
    if not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
        return None
    if params is not None and not isinstance(params, Mapping):
        return None
    if via not in ("click", "form"):
        return None
    return tuple(chosen), None if params is None else dict(params), via


@dataclass(frozen=True)
class ChoiceRecord:
    """One person's answer to a request, given with its buttons, menus or form.

    :param user: the Slack-verified id of the person.
    :param chosen: the options chosen, in the request's order.
    :param action_ts: when Slack registered the click (``action_ts``), or when the socket received the
        form's submission.
    :param channel: the request's channel id.
    :param question_ts: the request message's ts.
    :param params_input: the form's values; None for a click (the params' defaults).
    :param via: ``click`` (a button, a menu, *Submit*) or ``form`` (the modal).
    """

    user: str
    chosen: tuple[str, ...]
    action_ts: str
    channel: str
    question_ts: str
    params_input: Mapping[str, Any] | None = None
    via: Via = "click"

    @property
    def key(self) -> tuple[str, str, str, str]:
        """(channel, request ts, user, time): what tells this answer apart from every other."""
        return (self.channel, self.question_ts, self.user, self.action_ts)

    def message(self) -> Message:
        """The record: a thread reply on the request that reads as an audit line and carries the answer
        in its metadata (Slack keeps metadata only from an app's bot token)."""
        shown = " · ".join(f"*{slack_escape(' '.join(o.split()))}*" for o in self.chosen[:_MAX_LISTED])
        if len(self.chosen) > _MAX_LISTED:
            shown += f" · … {len(self.chosen) - _MAX_LISTED} more"
        how = "submitted the form" if self.via == "form" else "chose"
        item: dict[str, Any] = {
            "user": self.user,
            "chosen": json.dumps(list(self.chosen), ensure_ascii=False),
            "action_ts": self.action_ts,
            "question_ts": self.question_ts,
            "via": self.via,
        }
        if self.params_input is not None:
            item["params"] = json.dumps(dict(self.params_input), ensure_ascii=False, sort_keys=True)
        return Message(
            text=truncate(f"{mention(self.user)} {how}: {shown or '(nothing)'}", 3_000),
            metadata={"event_type": HITL_ANSWER_EVENT_TYPE, "event_payload": {"answers": [item]}},
        )

    def answer(self, *, guest: bool = False) -> Answer:
        """This record as its person's answer (kind ``choice``), timed by the interaction.

        :param guest: the person is a guest or a member of another organisation.
        """
        return Answer(kind="choice", user=self.user, text=encode_choice(self.chosen, self.params_input, self.via),
                      ts=self.action_ts, guest=guest)


def records_from_reply(
    reply: Mapping[str, Any], *, app_user_id: str, app_bot_id: str | None, channel: str | None = None
) -> list[ChoiceRecord]:
    """The answers a thread reply records, when OUR app posted it with well-formed answer metadata, each
    recorded in time; anything else gives none (a record forged by a person or another app, one that
    landed too late).

    :param reply: a thread reply as Slack lists it (``conversations.replies`` with metadata, or an event).
    :param app_user_id: our app's bot user id.
    :param app_bot_id: our app's bot id, if known.
    :param channel: the request's channel, when the reply does not say.
    """
    if not isinstance(reply, Mapping):
        return []
    ours = (app_user_id and reply.get("user") == app_user_id) or (app_bot_id and reply.get("bot_id") == app_bot_id)
    metadata = reply.get("metadata")
    if not ours or not isinstance(metadata, Mapping) or metadata.get("event_type") != HITL_ANSWER_EVENT_TYPE:
        return []
    payload = metadata.get("event_payload")
    items = payload.get("answers") if isinstance(payload, Mapping) else None
    where = _text(reply.get("channel") or channel, _CHANNEL_ID)
    record_ts = _text(reply.get("ts"), _TS)
    thread_ts = _text(reply.get("thread_ts"), _TS)
    if not isinstance(items, list) or where is None or record_ts is None or thread_ts in (None, record_ts):
        return []
    found = []
    for item in items[:20]:
        record = _read_item(item, where, record_ts)
        if record is not None:
            found.append(record)
    return found


def _read_item(item: Any, channel: str, record_ts: str) -> ChoiceRecord | None:
    if not isinstance(item, Mapping):
        return None
    user = _text(item.get("user"), _USER_ID)
    action_ts = _text(item.get("action_ts"), _TS)
    question_ts = _text(item.get("question_ts"), _TS)
    via = item.get("via")
    if user is None or action_ts is None or question_ts is None or via not in ("click", "form"):
        return None
    if not recorded_in_time(record_ts, action_ts):
        return None
    try:
        chosen = json.loads(item.get("chosen") or "")
        params = json.loads(item["params"]) if "params" in item else None
    except (TypeError, ValueError):
        return None
    if not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
        return None
    if params is not None and not isinstance(params, Mapping):
        return None
    return ChoiceRecord(user=user, chosen=tuple(chosen), action_ts=action_ts, channel=channel,
                        question_ts=question_ts, params_input=params, via=via)
