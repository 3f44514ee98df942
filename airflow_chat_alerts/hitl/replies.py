"""A thread reply that names one of a request's options: ``Deploy to EU``, ``deploy to eu - tests are
green``, ``*Canary*``.

The grammar is the package's answer grammar (:func:`airflow_chat_alerts.decisions.parse_reply`, stated
in the README's "How answers are read"), with the request's options in place of the keywords: a reply
counts when it STARTS with an option's name (any case; runs of spaces in the name match any run of
spaces; the longest name wins, so ``Deploy to EU`` is read before ``Deploy``), optionally after a
mention of the app and inside ``*bold*`` or ``_italics_``, and the name is followed by nothing, by a
separator and a comment, or by nothing but emoji. A name followed by more words without a separator,
by ``?`` or an ellipsis, or preceded by anything else, is not an answer; nor is a choice whose comment
opens with a reservation (``deploy to eu - if the tests pass``), unless the option is one that refuses
(``hedged=False``: an approval's *Reject*, whose doubts only make it safer).

How it reuses the grammar rather than restating it: the option's name is found at the start of the
reply, then the reply is read by ``parse_reply`` with the name replaced by a keyword of a fixed policy.
So separators, questions, emoji, formatting and hedges follow exactly the rules approvals follow.

Options Slack shows differently from how they were written are matched as Slack sends them (``&``,
``<``, ``>`` arrive escaped). An option with no visible text, or two options that differ only in case or
spacing, cannot be named by a reply (buttons still choose them): a reply cannot tell them apart.

Pure: no I/O, no Airflow imports.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from airflow_chat_alerts.decisions import AskPolicy, parse_reply
from airflow_chat_alerts.formatting import escape

# The fixed policy the reply is read with once the option's name is replaced by one of its keywords:
# "choose" takes the approval rules (hedges refuse), "refuse" the rejection rules.
_CHOOSE, _REFUSE = "approve", "reject"
_POLICY = AskPolicy(approve_keywords=(_CHOOSE,), reject_keywords=(_REFUSE,))


@dataclass(frozen=True)
class _OptionGrammar:
    pattern: re.Pattern[str] | None
    names: tuple[str, ...]  # by alternative group index: group ``o3`` names ``names[3]``


def _fold(option: str) -> str:
    return " ".join(option.split()).casefold()


@functools.lru_cache(maxsize=256)
def _grammar(options: tuple[str, ...], app_user_id: str | None) -> _OptionGrammar:
    folded = [_fold(option) for option in options]
    readable = [o for o, f in zip(options, folded, strict=True) if f and folded.count(f) == 1]
    readable.sort(key=lambda o: -len(escape(" ".join(o.split()))))  # longest first: alternation takes the first
    if not readable:
        return _OptionGrammar(None, ())
    spaces = r"\s+"  # any run of spaces where the name has one
    alternatives = "|".join(
        f"(?P<o{i}>{spaces.join(re.escape(escape(word)) for word in option.split())})"
        for i, option in enumerate(readable)
    )
    mention = rf"(?:<@{re.escape(app_user_id)}(?:\|[^<>]*)?>[\s,:]*)?" if app_user_id else ""
    # The option must end where a word ends (as a keyword does); "_" may follow (italics closing).
    pattern = re.compile(rf"\s*{mention}[*_]*?(?:{alternatives})(?![^\W_])", re.IGNORECASE)
    return _OptionGrammar(pattern, tuple(readable))


def parse_option_reply(
    text: str,
    options: Sequence[str],
    *,
    app_user_id: str | None = None,
    unhedged: Collection[str] = (),
) -> tuple[str | None, str | None]:
    """Read one reply: ``(option, comment)`` when it names one of ``options`` by the answer grammar, else
    ``(None, None)``.

    :param text: the reply text as Slack sent it.
    :param options: the request's options.
    :param app_user_id: the app's own user id: a reply may start by mentioning it (``<@U0APP> Canary``).
    :param unhedged: options read by the rejection rules, whose comment may say anything (an approval's
        *Reject*); every other option is refused when its comment opens with a reservation.
    """
    grammar = _grammar(tuple(options), app_user_id)
    if grammar.pattern is None:
        return None, None
    match = grammar.pattern.match(text)
    if match is None or match.lastgroup is None:
        return None, None
    option = grammar.names[int(match.lastgroup[1:])]
    start, end = match.span(match.lastgroup)
    keyword = _REFUSE if option in unhedged else _CHOOSE
    verdict, comment = parse_reply(text[:start] + keyword + text[end:], _POLICY, app_user_id=app_user_id)
    return (option, comment) if verdict is not None else (None, None)


def readable_options(options: Sequence[str]) -> tuple[str, ...]:
    """The options a reply can name (see the module docstring), in the request's order."""
    names = set(_grammar(tuple(options), None).names)
    return tuple(option for option in options if option in names)
