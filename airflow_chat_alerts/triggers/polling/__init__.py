"""The polling machinery of the triggerer: reading questions and their answers from Slack.

Bottom to top: :mod:`.rate_budget` (a connection's Slack allowance), :mod:`.connection` (one alerter and
HTTP session per connection, shared by the asks of a loop), :mod:`.watch` (what one ask holds) and
:mod:`.channel` (one poller per channel). The loop's runtime (:mod:`..runtime`) owns them.
"""
