"""Answers + policy → decision: the pure core of the ask.

No I/O and no Airflow imports: the trigger feeds in what it read from the chat service (thread replies,
reactions, button clicks) and gets back ``approved``, ``rejected`` or ``pending``. The README's "How
answers are read" states the same rules for users; keep the two in step.

The answer grammar (:func:`parse_reply`). A reply counts only when it STARTS with a keyword (any case;
the longest keyword wins, so ``no problem`` can approve while ``no`` rejects), optionally after a
mention of the app (``<@U0APP> approve``) and inside ``*bold*`` or ``_italics_``, and the keyword is
followed by one of:

* nothing (trailing whitespace aside): ``approve``, ``*LGTM*``;
* a separator then, optionally, the comment: ``-`` ``–`` ``—`` ``:`` ``;`` ``,`` ``.`` ``!`` or a new
  line: ``reject: not now``, ``approved!!!``, ``No.``;
* nothing but emoji: ``LGTM 🚀``, ``approve :tada:``, ``ok :)`` (the emoji are the comment).

Everything else is not an answer, because a gate must not read a doubt as an approval:

* a keyword followed by more words without a separator (``OK wait, this looks wrong``, ``No objections,
  ship it``, ``approve the rerun first``), or joined to one by a hyphen (``ok-ish``);
* a keyword followed by ``?`` or an ellipsis (``approve?``, ``yes? what is this about``, ``ok...``);
* anything before the keyword: quotes (``> approve``), code (`` `approve` ``), strike-through
  (``~approve~``), emoji, and mentions of anyone but the app (``@carol approve`` asks Carol to approve);
* an approval whose comment opens with a reservation or condition (:data:`APPROVAL_HEDGES`: ``yes, but
  wait``, ``approve - if the rerun passes``). A rejection always counts: its doubts only make it safer.

The comment is the rest of the reply made readable (:func:`clean_comment`), or None.

Reactions count when their emoji is in the policy's lists (skin tones ignored; ``thumbsup`` is ``+1``).
Button clicks carry their verdict (``approve`` / ``reject``, or a keyword of the policy) and count exactly
like a keyword reply by the person who clicked: same approvers, guests and quorum. Bots, the app itself,
unauthorised users and replies older than the question never count.

How answers are weighed (:func:`evaluate`): in time order, first decision reached.

* What a person says now is what counts: an edited reply is read as edited and placed at its edit time
  (the text we see exists only since then); a deleted reply is simply absent.
* A rejection by an authorised person vetoes: the outcome is ``rejected`` at that moment, whatever the
  quorum. Otherwise the question is ``approved`` when ``required_approvals`` DISTINCT people have
  approved (the same person approving twice, or by reply and reaction, is one approval).
* Once a decision is reached, later answers change nothing. So the same person approving then
  rejecting: with a quorum of 1 the approval decided (approved); with a quorum of 2 still waiting, the
  rejection vetoes. Rejecting then approving: the rejection decided.
* Time is the reply's ``ts`` (``edited_ts`` once edited). Slack gives no time for reactions, so readers
  pass every reaction with ``ts == ""`` (unknown), and an unknown time is resolved the safe way for a
  gate: an unknown-time rejection sorts before every answer (it may have come first, so it vetoes), an
  unknown-time approval after every answer (it may have come last). At equal times rejections come first;
  remaining ties follow the answers' own fields. So an approval and a rejection seen in the same read:
  the rejection wins unless the approval is known to be earlier (a reply, or a click with a time) and
  already completed the quorum.
* The outcome is a function of the SET of answers: the order they are listed in, duplicates, answers of
  bots, of the app and of people who may not answer, and how often or when it is evaluated change
  nothing. Answers beyond ``decided_before`` are left out; unknown-time ones are kept.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from airflow_chat_alerts.exceptions import ChatConfigError
from airflow_chat_alerts.model import Answer, DecidedEvent, DecisionSummary
from airflow_chat_alerts.utils import ts_key

Verdict = Literal["approve", "reject"]
Outcome = Literal["approved", "rejected", "pending"]

DEFAULT_APPROVE_KEYWORDS = ("approve", "approved", "lgtm", "ok", "yes")
DEFAULT_REJECT_KEYWORDS = ("reject", "rejected", "decline", "disapprove", "no")
DEFAULT_APPROVE_REACTIONS = ("white_check_mark", "heavy_check_mark", "+1")
DEFAULT_REJECT_REACTIONS = ("x", "-1", "no_entry")

# Slack reports 👍/👎 as +1/-1, but people (and other chat services) also call them this.
REACTION_ALIASES = {"thumbsup": "+1", "thumbsdown": "-1"}
# Emoji as characters (Discord's reactions, or a policy written with them) by Slack's name for them, so that
# ``✅`` and ``white_check_mark`` are one reaction wherever it comes from. Other characters stay as they are.
EMOJI_NAMES = {
    "✅": "white_check_mark", "✔": "heavy_check_mark", "☑": "ballot_box_with_check", "👍": "+1", "👎": "-1",
    "❌": "x", "⛔": "no_entry", "🚫": "no_entry_sign", "❎": "negative_squared_cross_mark", "🛑": "octagonal_sign",
    "🚀": "rocket", "🎉": "tada", "👌": "ok_hand", "🙅": "no_good", "👀": "eyes", "⏳": "hourglass_flowing_sand",
    "🟢": "large_green_circle", "🔴": "red_circle",
}
# Skin tones and the emoji presentation selector do not change which reaction it is.
_EMOJI_MODIFIERS = re.compile("[\U0001F3FB-\U0001F3FF\uFE0F]")

# Slack: user ids (U…/W…) and user group ids (S…). Discord: user ids and role ids (``&`` + the id, as in
# Discord's role mention ``<@&id>``), snowflakes of 17 to 20 digits today.
_APPROVER_ID = re.compile(r"[UWS][A-Z0-9]+|&?[1-9][0-9]{5,19}")
# Discord's mention markup, accepted as an approver: <@id>, <@!id> (a user), <@&id> (a role).
_DISCORD_MENTION = re.compile(r"<@([!&]?)([0-9]+)>")

# Words that, opening an approval's comment, make it a reservation or a condition rather than an
# approval ("yes, but wait", "approve - if the rerun passes"): such a reply does not count.
APPROVAL_HEDGES = frozenset(
    ("but", "however", "though", "although", "unless", "except", "if", "only", "once", "after", "when",
     "assuming", "provided", "pending", "wait", "hold", "not", "maybe", "perhaps")
)

_SLACK_ENTITY = re.compile(r"<([^<>]*)>")  # <@U1>, <@U1|bob>, <#C1|general>, <!subteam^S1|@x>, <!here>, <http…|x>
_HTML_ENTITY = re.compile(r"&(?:amp|lt|gt);")  # Slack escapes &, <, > in message text
_UNESCAPE = {"&amp;": "&", "&lt;": "<", "&gt;": ">"}
_AT_MENTION = re.compile(r"(?<![\w@])@[\w.\-]+")  # "@bot" typed without picking the user from the list
_EMOJI = re.compile(r":[a-z0-9_+'\-]+(?:::skin-tone-[2-6])?:", re.IGNORECASE)
_SMILEY = r"[:;]-?[()DPp](?![^\W_])"  # :) ;-) :D typed as text
_EMOJI_JOINERS = "\u200d\ufe0f\u20e3"  # zero-width joiner, emoji presentation, keycap
_WORD = re.compile(r"[^\W_]+")  # letters and digits; "_" is mrkdwn italics, so it separates words too
_KEYWORD_GAP = r"(?:\s+|[-'’])"  # between the words of a multi-word keyword: "no problem", "no-problem"
# What may follow a keyword before its comment: separators, whitespace, and "?" (to refuse it). A ":"
# that opens an :emoji: is not a separator.
_COMMENT_LEAD = re.compile(rf"(?:[\s\-–—,.!?]|(?!{_SMILEY})(?:;|:(?![a-z0-9_+'\-]+:)))*", re.IGNORECASE)
# ```block```, *bold*, _italics_, ~strike~, `code` around some text (not inside snake_case words). A span
# never contains its own marker (nor, but for blocks, a line break), so a text full of unclosed markers
# is scanned in linear time.
_FORMATTING = re.compile(
    r"(?<![^\s(])(?:```((?:(?!```)[\s\S])+)```|\*([^*\n]+)\*|_([^_\n]+)_|~([^~\n]+)~|`([^`\n]+)`)(?![^\s.,;:!?)])"
)


# ---------------------------------------------------------------------------------------------------
# Reply parsing
# ---------------------------------------------------------------------------------------------------
def _words_with_ends(text: str) -> list[tuple[str, int]]:
    """The normalised words of ``text``, each with the index in ``text`` just past it."""
    masked = text
    for pattern in (_SLACK_ENTITY, _HTML_ENTITY, _AT_MENTION, _EMOJI):
        masked = pattern.sub(lambda m: " " * len(m.group()), masked)
    words: list[tuple[str, int]] = []
    for match in _WORD.finditer(masked):
        # Lowercasing can itself produce non-word characters (e.g. combining marks): split again.
        words.extend((word, match.end()) for word in _WORD.findall(match.group().lower()))
    return words


def normalise_reply(text: str) -> str:
    """Reduce a text to lowercase words separated by single spaces (how keywords are configured).

    Slack markup is dropped entirely (user and group mentions, typed ``@names``, channel references,
    ``<!here>``, links with their labels, ``:emoji:`` codes, escaped ``&amp;``/``&lt;``/``&gt;``), then
    punctuation, then the whitespace is collapsed: ``"<@U0BOT> Approve!! :tada:"`` → ``"approve"``.
    Keywords are stored in this form; replies are read by the stricter :func:`parse_reply`.

    :param text: the text as the chat service reports it.
    """
    return " ".join(word for word, _ in _words_with_ends(text))


def _keyword_words(keyword: str) -> tuple[str, ...]:
    return tuple(normalise_reply(keyword).split())


@dataclass(frozen=True)
class _Grammar:
    """One policy's keywords compiled into a single pattern (see :func:`_grammar`)."""

    pattern: re.Pattern[str]
    verdicts: tuple[Verdict, ...]  # by keyword group index: group ``k3`` has verdict ``verdicts[3]``


@functools.lru_cache(maxsize=256)
def _grammar(approve: tuple[str, ...], reject: tuple[str, ...], app_user_id: str | None) -> _Grammar:
    """The pattern for the start of a reply: optional app mention, optional ``*``/``_``, one keyword.

    Longer keywords come first, so alternation finds the longest (``no problem`` before ``no``).
    """
    keywords = sorted(
        [*((k, "approve") for k in approve), *((k, "reject") for k in reject)], key=lambda kv: -len(kv[0])
    )
    alternatives = "|".join(
        f"(?P<k{i}>{_KEYWORD_GAP.join(map(re.escape, keyword.split()))})" for i, (keyword, _) in enumerate(keywords)
    )
    mention = rf"(?:<@{re.escape(app_user_id)}(?:\|[^<>]*)?>[\s,:]*)?" if app_user_id else ""
    pattern = re.compile(rf"\s*{mention}(?P<open>[*_]*)(?:{alternatives})(?![^\W_])[*_]*", re.IGNORECASE)
    return _Grammar(pattern, tuple(verdict for _, verdict in keywords))  # type: ignore[misc]


def _only_emoji(text: str) -> bool:
    """Whether ``text`` is nothing but emoji (``:codes:`` or pictographs) and whitespace."""
    return all(
        ch.isspace() or ch in _EMOJI_JOINERS or unicodedata.category(ch) == "So" or "\U0001f3fb" <= ch <= "\U0001f3ff"
        for ch in re.sub(_SMILEY, " ", _EMOJI.sub(" ", text))
    )


def _after_keyword(rest: str) -> str | None:
    """The raw comment when what follows a keyword lets the reply count, else None (see the module rules)."""
    if not rest.strip():
        return ""
    if rest[0] == "-" and rest[1:2].isalnum():
        return None  # "ok-ish", "no-go": the dash joins words, it does not end the keyword
    lead_match = _COMMENT_LEAD.match(rest)
    assert lead_match is not None  # the pattern matches the empty string too
    lead = lead_match.group()
    if "?" in lead or ".." in lead:
        return None  # "approve?", "yes...": a question or a hesitation, not an answer
    if lead.strip() or "\n" in lead:
        return rest[len(lead) :]
    return rest if _only_emoji(rest) else None  # "LGTM 🚀" counts; "OK wait", "approve the rerun" do not


def _readable_entity(match: re.Match[str]) -> str:
    target, _, label = match.group(1).partition("|")
    if target[:1] in "@#":  # <@U1|bob> → @bob, <@U1> → @U1, <#C1|general> → #general
        return target[0] + (label.lstrip("@#") or target[1:])
    if target[:1] == "!":  # <!here> → @here, <!subteam^S1|@leads> → @leads, <!date^…|Monday> → Monday
        return label or "@" + target[1:].split("^")[-1]
    return label or target  # <https://x|the run> → the run, <https://x> → https://x


def clean_comment(text: str) -> str | None:
    """A comment as plain readable text: Slack markup resolved, whitespace collapsed; None when empty.

    Mentions become ``@name`` (or ``@U…`` when Slack sent no name), channels ``#name``, links their
    label (or address), ``*bold*``/``_italics_``/``~strike~``/`` `code` `` lose their markers,
    ``&amp;``/``&lt;``/``&gt;`` are unescaped; ``:emoji:`` codes are kept as typed.

    :param text: comment text as the chat service sent it.
    """
    text = _SLACK_ENTITY.sub(_readable_entity, text)
    for _ in range(3):  # nested markers: *_x_*
        text, changed = _FORMATTING.subn(lambda m: next(span for span in m.groups() if span is not None), text)
        if not changed:
            break
    text = _HTML_ENTITY.sub(lambda m: _UNESCAPE[m.group()], text)
    return " ".join(text.split()) or None


def parse_reply(text: str, policy: AskPolicy, *, app_user_id: str | None = None) -> tuple[Verdict | None, str | None]:
    """Read one reply: ``("approve" | "reject" | None, comment)`` by the answer grammar (module docstring).

    Each distinct text (up to :data:`_CACHED_TEXT_CHARS` long) is parsed once per set of keywords and
    app: the results are cached, as a triggerer re-reads the same replies at every poll.

    :param text: the reply text as the chat service sent it.
    :param policy: the ask policy giving the keywords.
    :param app_user_id: the app's own user id: a reply may start by mentioning it (``<@U0APP> approve``).
    """
    parse = _parse_reply if len(text) <= _CACHED_TEXT_CHARS else _parse_reply.__wrapped__
    return parse(text, policy.approve_keywords, policy.reject_keywords, app_user_id)


# The cache holds at most 16,384 texts of at most 1,000 characters (about 40 MB at worst): enough for
# every reply of thousands of waiting asks, while a flood of long texts cannot grow it.
_CACHED_TEXT_CHARS = 1_000


@functools.lru_cache(maxsize=16_384)
def _parse_reply(
    text: str, approve: tuple[str, ...], reject: tuple[str, ...], app_user_id: str | None
) -> tuple[Verdict | None, str | None]:
    grammar = _grammar(approve, reject, app_user_id)
    match = grammar.pattern.match(text)
    if match is None:
        return None, None
    raw = _after_keyword(text[match.end() :])
    if raw is None:
        return None, None
    opened = match.group("open")
    if opened and raw.rstrip().endswith(opened[::-1]):
        raw = raw.rstrip()[: -len(opened)]  # "*approve - fine*": the bold closes after the comment
    comment = clean_comment(raw)
    verdict = grammar.verdicts[int(match.lastgroup[1:])]  # type: ignore[index]
    first_word = _WORD.match(comment or "")
    if verdict == "approve" and first_word and first_word.group().lower() in APPROVAL_HEDGES:
        return None, None  # "yes, but wait", "approve - if the tests pass": not a plain approval
    return verdict, comment


def normalise_reaction(name: str) -> str:
    """A reaction name as compared with the policy: no colons, lowercase, no skin tone, aliases resolved.

    ``":ThumbsUp::skin-tone-3:"`` → ``"+1"``; ``"👍🏽"`` → ``"+1"``; ``"✅"`` → ``"white_check_mark"``.
    """
    name = name.strip().strip(":").lower().split("::skin-tone-")[0].strip(":")
    name = EMOJI_NAMES.get(_EMOJI_MODIFIERS.sub("", name), name)
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


def _approver_id(value: str) -> str:
    """An approver as the policy keeps it: Discord's mention markup becomes the id (``&`` + id for a role)."""
    text = value.strip()
    match = _DISCORD_MENTION.fullmatch(text)
    if match:
        return ("&" if match.group(1) == "&" else "") + match.group(2)
    return text


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
    :param approvers: Slack user ids (``U…``/``W…``) and user group ids (``S…``), or Discord user ids and
        role ids (``&…``; ``<@…>`` and ``<@&…>`` are read as these), whose answers count; None means any
        human in the channel.
    :param required_approvals: how many DISTINCT people must approve.
    :param allow_guests: with ``approvers=None``, let guests and members of other organisations (Slack
        Connect) answer too; by default only members of the workspace do. Named approvers always count.
    """

    approve_keywords: tuple[str, ...] = DEFAULT_APPROVE_KEYWORDS
    reject_keywords: tuple[str, ...] = DEFAULT_REJECT_KEYWORDS
    approve_reactions: tuple[str, ...] = DEFAULT_APPROVE_REACTIONS
    reject_reactions: tuple[str, ...] = DEFAULT_REJECT_REACTIONS
    approvers: tuple[str, ...] | None = None
    required_approvals: int = 1
    allow_guests: bool = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.allow_guests, bool):
            raise ChatConfigError(f"allow_guests must be True or False, got {self.allow_guests!r}")
        for name in ("approve_keywords", "reject_keywords"):
            keywords = []
            for keyword in _as_tuple(getattr(self, name), name):
                words = _keyword_words(keyword)
                if not words:
                    raise ChatConfigError(
                        f"{name} has {keyword!r}, which has no words left once markup and punctuation are removed"
                    )
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
            approvers = _unique(_approver_id(a) for a in _as_tuple(self.approvers, "approvers"))
            if not approvers:
                raise ChatConfigError("approvers is empty: name Slack user/group ids, or use None to let anyone answer")
            bad = [a for a in approvers if not _APPROVER_ID.fullmatch(a)]
            if bad:
                raise ChatConfigError(
                    f"approvers has {', '.join(map(repr, bad))}: expected Slack user ids (U…/W…) or user group "
                    f"ids (S…), or Discord user ids and role ids (&…), not names or handles"
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
        return frozenset(a for a in self.approvers or () if a[0] in "UW" or a[0].isdigit())

    @property
    def groups(self) -> frozenset[str]:
        """The user groups (Slack) or roles (Discord, ``&…``) named as approvers."""
        return frozenset(a for a in self.approvers or () if a[0] in "S&")

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
            "allow_guests": self.allow_guests,
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

    def event(self) -> DecidedEvent:
        """The trigger event that hands this decision to the worker.

        :raises ValueError: the question is still pending.
        """
        if self.outcome == "pending":
            raise ValueError("a pending question has no decision event")
        return {"status": self.outcome, "decision": cast(DecisionSummary, self.to_dict())}


def _verdict(answer: Answer, policy: AskPolicy, app_user_id: str | None) -> tuple[Verdict | None, str | None]:
    if answer.kind == "reaction":
        return policy.reaction_verdict(answer.text), None
    if answer.kind == "button" and answer.text in ("approve", "reject"):
        return answer.text, None  # type: ignore[return-value]
    # A reply, or a click given as the policy's keyword: read like a reply.
    return parse_reply(answer.text, policy, app_user_id=app_user_id)


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
    :param self_user_id: the app's own user id: its answers never count, and a reply may start by
        mentioning it.
    :param decided_before: when given (e.g. the deadline), answers posted or edited after this ts are
        ignored. Answers of unknown time (``""``, every reaction) are kept: they may be older.
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

    question_key = ts_key(question_ts)
    cutoff = ts_key(decided_before) if decided_before else None
    counted: list[_Counted] = []
    for answer in answers:
        if answer.is_bot or not answer.user or answer.user == self_user_id:
            continue
        if authorised is not None and answer.user not in authorised:
            continue
        if authorised is None and answer.guest and not policy.allow_guests:
            continue  # anyone means the workspace's own members, unless guests are allowed
        if answer.kind == "reply" and ts_key(answer.ts) <= question_key:
            continue
        seen = answer.edited_ts or answer.ts
        if cutoff is not None and seen and (ts_key(seen) > cutoff or ts_key(answer.ts) > cutoff):
            continue
        verdict, comment = _verdict(answer, policy, self_user_id)
        if verdict is None:
            continue
        # Unknown time: a rejection as early as possible, an approval as late as possible.
        when = ts_key(seen) if seen else (-math.inf if verdict == "reject" else math.inf)
        # Rejections first at equal times; then any fixed order of the answer's own fields, so that the
        # outcome is a function of the SET of answers, not of the order a read listed them in.
        order = (when, verdict != "reject", answer.user, answer.kind, answer.ts, answer.edited_ts or "", answer.text)
        counted.append(_Counted(order, answer, verdict, comment))

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
