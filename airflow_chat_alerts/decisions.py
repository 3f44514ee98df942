"""Answers + policy → decision: the pure core of the ask.

No I/O and no Airflow imports: the trigger feeds in what it read from the chat service (thread replies,
reactions, button clicks) and gets back ``approved``, ``rejected`` or ``pending``.

How answers are read:

* A reply counts when its FIRST whole word(s), after :func:`normalise_reply`, are a keyword: ``"no"``
  never matches ``"not now"`` or ``"know"``. The longest matching keyword wins, so a policy may reject
  ``no`` and approve ``no problem``. What follows the keyword is the comment (``"reject - numbers look
  off"`` → comment ``"numbers look off"``).
* A reaction counts when its emoji is in the policy's lists (skin tones ignored; ``thumbsup`` is ``+1``).
* Bots, the app itself, unauthorised users and replies older than the question never count.

How answers are weighed (:func:`evaluate`), in time order:

* The decision is the FIRST one reached: an authorised rejection vetoes (``rejected``); otherwise the
  question is ``approved`` once ``required_approvals`` distinct people approved. Later answers cannot
  change a decision once reached, so re-evaluating a longer history never flips an earlier outcome and
  the result does not depend on how often the trigger polls.
* The same person approving and later rejecting: while no decision has been reached (e.g. a quorum of 2
  still waits), the rejection vetoes. Once their approval completed the quorum, the decision stands.
* Time order: replies are placed at their ``ts``, or at ``edited_ts`` when edited (the text we see only
  exists since the edit). Reactions carry the ts at which the reader first saw them, or ``""`` when
  unknown. An unknown time can be anywhere between the question and now, so it is resolved the safe
  way for an approval gate: an unknown-time rejection is placed before everything, an unknown-time
  approval after everything; at equal times rejections are weighed before approvals. Remaining ties
  are broken by user id, so the decision never depends on the order the answers are listed in.
  Readers should stamp reactions with the ts they were first seen: then answers seen later always sort
  later, and a decision once reached stays the same however often it is re-evaluated.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from airflow_chat_alerts.alerters.base import Answer
from airflow_chat_alerts.exceptions import ChatConfigError

Verdict = Literal["approve", "reject"]
Outcome = Literal["approved", "rejected", "pending"]

DEFAULT_APPROVE_KEYWORDS = ("approve", "approved", "lgtm", "ok", "yes")
DEFAULT_REJECT_KEYWORDS = ("reject", "rejected", "decline", "disapprove", "no")
DEFAULT_APPROVE_REACTIONS = ("white_check_mark", "heavy_check_mark", "+1")
DEFAULT_REJECT_REACTIONS = ("x", "-1", "no_entry")

# Slack reports 👍/👎 as +1/-1, but people (and other chat services) also call them this.
REACTION_ALIASES = {"thumbsup": "+1", "thumbsdown": "-1"}

_APPROVER_ID = re.compile(r"[UWS][A-Z0-9]+")

# Markup removed from a reply before looking for a keyword. Each pattern is replaced by spaces of the
# same length so positions in the normalised form map back to the original text (for the comment).
_SLACK_ENTITY = re.compile(r"<[^<>]*>")  # <@U1>, <@U1|bob>, <#C1|general>, <!subteam^S1|@x>, <!here>, <http…|x>
_HTML_ENTITY = re.compile(r"&(?:amp|lt|gt);")  # Slack escapes &, <, > in message text
_AT_MENTION = re.compile(r"(?<![\w@])@[\w.\-]+")  # "@bot" typed without picking the user from the list
_EMOJI = re.compile(r":[a-z0-9_+'\-]+(?:::skin-tone-[2-6])?:", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+")  # letters and digits; "_" is mrkdwn italics, so it separates words too
# Separators between the keyword and its comment; a ":" that opens an :emoji: is not one.
_COMMENT_LEAD = re.compile(r"(?:[\s\-–—,;.!]|:(?![a-z0-9_+'\-]+:))*", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------------
# Reply parsing
# ---------------------------------------------------------------------------------------------------
def _words_with_ends(text: str) -> list[tuple[str, int]]:
    """The normalised words of ``text``, each with the index in ``text`` just past it."""
    masked = text
    for pattern in (_SLACK_ENTITY, _HTML_ENTITY, _AT_MENTION, _EMOJI):
        masked = pattern.sub(lambda m: " " * len(m.group()), masked)
    words = []
    for match in _WORD.finditer(masked):
        # Lowercasing can itself produce non-word characters (e.g. combining marks): split again.
        words.extend((word, match.end()) for word in _WORD.findall(match.group().lower()))
    return words


def normalise_reply(text: str) -> str:
    """Reduce a reply to lowercase words separated by single spaces.

    Slack markup is dropped entirely (user and group mentions, typed ``@names``, channel references, ``<!here>``, links
    with their labels, ``:emoji:`` codes, escaped ``&amp;``/``&lt;``/``&gt;``), then punctuation, then
    the whitespace is collapsed: ``"<@U0BOT> Approve!! :tada:"`` → ``"approve"``.

    :param text: the reply text as the chat service reports it.
    """
    return " ".join(word for word, _ in _words_with_ends(text))


def _keyword_words(keyword: str) -> tuple[str, ...]:
    return tuple(normalise_reply(keyword).split())


def parse_reply(text: str, policy: AskPolicy) -> tuple[Verdict | None, str | None]:
    """Read one reply: ``("approve" | "reject" | None, comment)``.

    A keyword counts only as the first whole word(s) of the normalised reply; the longest matching
    keyword wins. The comment is the rest of the ORIGINAL reply after the keyword, with leading
    separators (``-``, ``:``, ``—``, ``,`` …) removed and markup kept readable; None when empty.

    :param text: the reply text.
    :param policy: the ask policy giving the keywords.
    """
    words = _words_with_ends(text)
    best: tuple[int, Verdict] | None = None
    for verdict, keywords in (("approve", policy.approve_keywords), ("reject", policy.reject_keywords)):
        for keyword in keywords:
            kw = keyword.split()
            if len(kw) <= len(words) and all(w == k for (w, _), k in zip(words, kw)):
                if best is None or len(kw) > best[0]:
                    best = (len(kw), verdict)  # type: ignore[assignment]
    if best is None:
        return None, None
    length, verdict = best
    rest = text[words[length - 1][1] :].lstrip("*_~")  # closes the keyword's own *bold*/_italics_
    comment = rest[_COMMENT_LEAD.match(rest).end() :].rstrip()
    return verdict, comment or None


def normalise_reaction(name: str) -> str:
    """A reaction name as compared with the policy: no colons, lowercase, no skin tone, aliases resolved.

    ``":ThumbsUp::skin-tone-3:"`` → ``"+1"``.
    """
    name = name.strip().strip(":").lower().split("::skin-tone-")[0].strip(":")
    return REACTION_ALIASES.get(name, name)


# ---------------------------------------------------------------------------------------------------
# Policy
# ---------------------------------------------------------------------------------------------------
def _as_tuple(value: Any, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)  # a single keyword/id given as a string, not its characters
    try:
        items = tuple(value)
    except TypeError:
        raise ChatConfigError(f"{name} must be a list of strings, got {type(value).__name__}") from None
    for item in items:
        if not isinstance(item, str):
            raise ChatConfigError(f"{name} must be a list of strings, got {item!r} ({type(item).__name__})")
    return items


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


@dataclass(frozen=True)
class AskPolicy:
    """Who may answer a question and how their answers are read.

    Values are normalised on creation (keywords to lowercase words, reactions without colons and with
    aliases resolved, duplicates dropped) and validated: a bad policy raises
    :class:`~airflow_chat_alerts.exceptions.ChatConfigError` when the DAG is parsed, not when someone answers.

    :param approve_keywords: first words of a reply that approve.
    :param reject_keywords: first words of a reply that reject.
    :param approve_reactions: emoji names (without colons) that approve.
    :param reject_reactions: emoji names that reject.
    :param approvers: Slack user ids (``U…``/``W…``) and user group ids (``S…``) whose answers count;
        None means any human in the channel.
    :param required_approvals: how many DISTINCT people must approve.
    """

    approve_keywords: tuple[str, ...] = DEFAULT_APPROVE_KEYWORDS
    reject_keywords: tuple[str, ...] = DEFAULT_REJECT_KEYWORDS
    approve_reactions: tuple[str, ...] = DEFAULT_APPROVE_REACTIONS
    reject_reactions: tuple[str, ...] = DEFAULT_REJECT_REACTIONS
    approvers: tuple[str, ...] | None = None
    required_approvals: int = 1

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in ("approve_keywords", "reject_keywords"):
            keywords = []
            for keyword in _as_tuple(getattr(self, name), name):
                words = _keyword_words(keyword)
                if not words:
                    raise ChatConfigError(f"{name} has {keyword!r}, which has no words left once markup and punctuation are removed")
                keywords.append(" ".join(words))
            if not keywords:
                raise ChatConfigError(f"{name} is empty: give at least one keyword")
            set_(self, name, _unique(keywords))
        for name in ("approve_reactions", "reject_reactions"):
            reactions = [normalise_reaction(r) for r in _as_tuple(getattr(self, name), name)]
            if not reactions:
                raise ChatConfigError(f"{name} is empty: give at least one emoji name")
            if "" in reactions:
                raise ChatConfigError(f"{name} has an empty emoji name")
            set_(self, name, _unique(reactions))
        for kind, approve, reject in (
            ("keywords", self.approve_keywords, self.reject_keywords),
            ("reactions", self.approve_reactions, self.reject_reactions),
        ):
            overlap = [item for item in approve if item in reject]
            if overlap:
                raise ChatConfigError(
                    f"approve_{kind} and reject_{kind} overlap on {', '.join(map(repr, overlap))}: "
                    f"an answer cannot both approve and reject"
                )

        if self.approvers is not None:
            approvers = _unique(a.strip() for a in _as_tuple(self.approvers, "approvers"))
            if not approvers:
                raise ChatConfigError("approvers is empty: name Slack user/group ids, or use None to let anyone answer")
            bad = [a for a in approvers if not _APPROVER_ID.fullmatch(a)]
            if bad:
                raise ChatConfigError(
                    f"approvers has {', '.join(map(repr, bad))}: expected Slack user ids (U…/W…) or user group "
                    f"ids (S…), not names or handles"
                )
            set_(self, "approvers", approvers)

        required = self.required_approvals
        if isinstance(required, bool) or not isinstance(required, int):
            raise ChatConfigError(f"required_approvals must be an integer, got {required!r}")
        if required < 1:
            raise ChatConfigError(f"required_approvals must be at least 1, got {required}")
        if self.approvers is not None and not self.groups and required > len(self.approvers):
            raise ChatConfigError(
                f"required_approvals is {required} but only {len(self.approvers)} approver(s) are named "
                f"({', '.join(self.approvers)}): the question could never be approved"
            )

    @property
    def users(self) -> frozenset[str]:
        """The individual approvers named (empty when anyone may answer)."""
        return frozenset(a for a in self.approvers or () if a[0] in "UW")

    @property
    def groups(self) -> frozenset[str]:
        """The user groups named as approvers."""
        return frozenset(a for a in self.approvers or () if a[0] == "S")

    def reaction_verdict(self, name: str) -> Verdict | None:
        """What a reaction with this emoji means under this policy."""
        name = normalise_reaction(name)
        if name in self.approve_reactions:
            return "approve"
        if name in self.reject_reactions:
            return "reject"
        return None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form (lists and ints), e.g. for trigger kwargs."""
        return {
            "approve_keywords": list(self.approve_keywords),
            "reject_keywords": list(self.reject_keywords),
            "approve_reactions": list(self.approve_reactions),
            "reject_reactions": list(self.reject_reactions),
            "approvers": None if self.approvers is None else list(self.approvers),
            "required_approvals": self.required_approvals,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AskPolicy:
        """Rebuild a policy from :meth:`to_dict`; missing keys take their defaults."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ChatConfigError(f"unknown ask policy field(s): {', '.join(sorted(unknown))}")
        return cls(**data)


# ---------------------------------------------------------------------------------------------------
# Decision
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Decision:
    """Where a question stands.

    :param outcome: ``approved``, ``rejected`` or ``pending``.
    :param by: the user ids whose answers counted, in the order they counted: the approvers (for
        ``approved`` and ``pending``) or the one who rejected.
    :param at: the ts of the deciding answer ("" while pending, or when a reaction's time is unknown).
    :param comment: the deciding answer's comment, if any.
    :param approvals: distinct authorised approvals counted (up to the decision).
    """

    outcome: Outcome
    by: tuple[str, ...] = ()
    at: str = ""
    comment: str | None = None
    approvals: int = 0

    @property
    def approved(self) -> bool:
        return self.outcome == "approved"

    @property
    def decided(self) -> bool:
        return self.outcome != "pending"

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "approved": self.approved,
            "by": list(self.by),
            "at": self.at,
            "comment": self.comment,
            "approvals": self.approvals,
        }


def _ts_key(ts: str) -> Decimal:
    try:
        return Decimal(ts)
    except InvalidOperation:
        raise ChatConfigError(f"answer has a malformed ts {ts!r}: expected Slack's '1712345678.123456' form") from None


def _verdict(answer: Answer, policy: AskPolicy) -> tuple[Verdict | None, str | None]:
    if answer.kind == "reaction":
        return policy.reaction_verdict(answer.text), None
    if answer.kind == "button" and answer.text in ("approve", "reject"):
        return answer.text, None  # type: ignore[return-value]
    return parse_reply(answer.text, policy)


@dataclass(order=True)
class _Counted:
    key: tuple[Any, ...]
    answer: Answer = field(compare=False)
    verdict: Verdict = field(compare=False)
    comment: str | None = field(compare=False)


def evaluate(
    answers: Iterable[Answer],
    policy: AskPolicy,
    *,
    question_ts: str,
    group_members: Mapping[str, frozenset[str]] | None = None,
    self_user_id: str | None = None,
    decided_before: str | None = None,
) -> Decision:
    """Weigh the answers to a question under a policy (see the module docstring for the rules).

    :param answers: replies, reactions and button clicks, in any order.
    :param policy: the ask policy.
    :param question_ts: the question's ts; replies at or before it are ignored.
    :param group_members: members of each user group named in ``policy.approvers`` (required for each).
    :param self_user_id: the app's own user id, whose answers never count.
    :param decided_before: when given (e.g. the deadline), replies posted or edited after this ts, and
        reactions first seen after it, are ignored. Reactions of unknown time (``""``) are kept: they
        may have been added before it.
    :returns: the first decision reached in time order, or ``pending`` with the approvals so far. For
        ``approved`` the comment is that of the approval that completed the quorum.
    :raises ChatConfigError: a user group in ``policy.approvers`` missing from ``group_members``, or a
        malformed ts.
    """
    members = group_members or {}
    missing = policy.groups - set(members)
    if missing:
        raise ChatConfigError(
            f"approver group(s) {', '.join(sorted(missing))} not resolved: pass their members in group_members"
        )
    authorised: frozenset[str] | None = None
    if policy.approvers is not None:
        authorised = policy.users.union(*(members[g] for g in policy.groups))

    question_key = _ts_key(question_ts)
    cutoff = _ts_key(decided_before) if decided_before else None
    counted: list[_Counted] = []
    for answer in answers:
        if answer.is_bot or not answer.user or answer.user == self_user_id:
            continue
        if authorised is not None and answer.user not in authorised:
            continue
        if answer.kind == "reply" and _ts_key(answer.ts) <= question_key:
            continue
        seen = answer.edited_ts or answer.ts
        if cutoff is not None and seen and (_ts_key(seen) > cutoff or _ts_key(answer.ts) > cutoff):
            continue
        verdict, comment = _verdict(answer, policy)
        if verdict is None:
            continue
        # Unknown time: a rejection as early as possible, an approval as late as possible.
        when = _ts_key(seen) if seen else (-math.inf if verdict == "reject" else math.inf)
        counted.append(_Counted((when, verdict != "reject", answer.user, answer.text), answer, verdict, comment))

    approvers: dict[str, None] = {}
    for item in sorted(counted):
        if item.verdict == "reject":
            return Decision("rejected", (item.answer.user,), item.answer.ts, item.comment, len(approvers))
        if item.answer.user in approvers:
            continue
        approvers[item.answer.user] = None
        if len(approvers) >= policy.required_approvals:
            return Decision("approved", tuple(approvers), item.answer.ts, item.comment, len(approvers))
    return Decision("pending", tuple(approvers), "", None, len(approvers))
