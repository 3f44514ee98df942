"""Answers pushed over Slack's Socket Mode to the triggerer: button clicks, replies and reactions.

* :mod:`.stream`: one stream per app-level token per event loop: its sockets, their recovery, whether
  every event of the app reaches it, the asks it serves and its grace period.
* :mod:`.socket`: one websocket (opened with a fresh URL, read until it closes).
* :mod:`.events`: replies and reactions patch the asks they concern, in order, per channel.
* :mod:`.clickdesk`: clicks, recorded in Slack before they are acknowledged, within Slack's 3 s.
* :mod:`.patches`: a pushed event applied to an ask's latest read (pure).
* What push needs of the chat service's alerter is :class:`~airflow_chat_alerts.alerters.ports.PushPort`.
"""
