"""Slack's documented shapes, as slack_sdk's models check them (limits, required fields, types).

``to_dict()`` runs every validator of the object and of the objects inside it; a field the model does
not know is dropped, so comparing with the input also catches a key Slack would not read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View


def _without_defaults(value: Any) -> Any:
    """``value`` without the keys slack_sdk adds on its own (``emoji`` on plain text)."""
    if isinstance(value, Mapping):
        return {k: _without_defaults(v) for k, v in value.items() if k != "emoji"}
    if isinstance(value, list):
        return [_without_defaults(v) for v in value]
    return value


def assert_slack_accepts_blocks(blocks: Sequence[Mapping[str, Any]]) -> None:
    for block in blocks:
        parsed = Block.parse(dict(block))
        assert parsed is not None, f"slack_sdk does not know the block {block!r:.200}"
        assert _without_defaults(parsed.to_dict()) == _without_defaults(block), f"slack_sdk reads {block!r:.300} otherwise"


def assert_slack_accepts_view(view: Mapping[str, Any]) -> None:
    parsed = View(**view).to_dict()
    assert _without_defaults(parsed) == _without_defaults(view)
