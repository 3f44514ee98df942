"""Keeping secrets out of what we post and out of what we log.

- :func:`redact_strings` applies a ``redact`` callable (Airflow's secrets masker, handed to the alerter
  by the hook) to every string of a payload before it is posted: text that Airflow shows as ``***`` in
  the task log (a database password in an exception, the connection's own token) is posted as ``***``.
- :class:`Scrubber` hides one connection's own secrets (bot token, webhook URL) in a text, and
  :class:`ScrubbingLogger` is the logger we hand slack_sdk: slack_sdk writes request URLs into its log
  lines (an incoming webhook's URL is its secret) at DEBUG, INFO and ERROR.

Pure: no Airflow or slack_sdk imports, so the alerters import it at no cost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

Redact = Callable[[str], str]

HIDDEN = "***"


def no_redaction(text: str) -> str:
    """The ``redact`` of an alerter built outside Airflow: text is posted as given."""
    return text


def redact_strings(value: Any, redact: Redact) -> Any:
    """A copy of ``value`` (a payload of dicts, lists and scalars) with ``redact`` applied to each string.

    Only strings are redacted, whatever their key, and at any depth (rich text blocks nest deeply).

    :param value: the payload.
    :param redact: turns a string into the string to post.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: redact_strings(item, redact) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_strings(item, redact) for item in value]
    return value


class Scrubber:
    """Replaces a connection's secrets in a text: a token by ``***``; a URL by its scheme and host
    followed by ``/***`` (where a webhook posts is worth saying; its path is the secret).

    :param secrets: the token or URL of the connection; empty values are ignored.
    """

    def __init__(self, *secrets: str | None) -> None:
        shown: dict[str, str] = {}
        for secret in filter(None, secrets):
            parts = urlsplit(secret)
            if parts.hostname and parts.path.strip("/"):
                shown[secret] = f"{parts.scheme}://{parts.hostname}/{HIDDEN}"
                shown.setdefault(parts.path, f"/{HIDDEN}")  # errors that quote only the path
            else:
                shown[secret] = HIDDEN
        # Longest first: a URL is replaced whole before its path alone is looked for.
        self._shown = sorted(shown.items(), key=lambda pair: -len(pair[0]))

    def __call__(self, text: str) -> str:
        """``text`` with every secret replaced."""
        for secret, replacement in self._shown:
            text = text.replace(secret, replacement)
        return text


class ScrubbingLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger for slack_sdk that writes through ``logger`` with the secrets scrubbed from each line.

    slack_sdk formats its log lines itself (f-strings), so the line is all there is to scrub; a
    traceback (``exc_info``) is left out, since its text could quote a URL. ``level`` is the effective
    level: slack_sdk reads it to decide whether to build DEBUG lines at all.

    :param logger: where the lines go (our module's logger).
    :param scrub: hides the connection's secrets in a line.
    """

    def __init__(self, logger: logging.Logger, scrub: Callable[[str], str]) -> None:
        super().__init__(logger, {})
        self._scrub = scrub

    @property
    def level(self) -> int:
        return self.logger.getEffectiveLevel()

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if self.isEnabledFor(level):
            text = str(msg) % args if args else str(msg)
            self.logger.log(level, "%s", self._scrub(text), stacklevel=kwargs.get("stacklevel", 1) + 1)
