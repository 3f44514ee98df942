"""The polling machinery of the triggerer: reading questions and their answers from Slack.

Bottom to top: :mod:`.rate_budget` (a connection's Slack allowance), :mod:`.connection` (one alerter and
HTTP session per connection, shared by the asks of a loop), :mod:`.watch` (what one ask holds),
:mod:`.channel` (one poller per channel) and :mod:`.registry` (the loop's connections and pollers).
"""
