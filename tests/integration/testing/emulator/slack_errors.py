"""Reading the error a Slack Web API call answers with."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError


def error_of(call, **kwargs) -> dict:
    """The Slack error body a Web API call answers with (it must fail)."""
    with pytest.raises(SlackApiError) as info:
        call(**kwargs)
    return info.value.response.data
