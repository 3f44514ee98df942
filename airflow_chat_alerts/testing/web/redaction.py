"""Secrets kept out of everything the web page receives.

The emulator's tokens (bot, user and app-level tokens, rotated or revoked ones) and its webhook
secrets open its API to whoever holds them; the page needs none of them. Whatever the page is sent
passes through `Redactor` last, so a token that found its way into a message, a journalled argument
or a view is replaced, whichever code put it there. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

HIDDEN = "[hidden]"
MIN_SECRET = 8  # shorter strings are no secret worth hiding and would blot out ordinary words


class Redactor:
    """Replaces each of ``secrets`` by ``[hidden]`` in text.

    :param secrets: the strings that must not be shown.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first: a token that extends another (a rotated one) is hidden whole.
        self._secrets = sorted({s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET},
                               key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, HIDDEN)
        return text
