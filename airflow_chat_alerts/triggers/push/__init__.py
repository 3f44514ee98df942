"""Answers pushed over Slack's Socket Mode to the triggerer: button clicks, replies and reactions.

* :mod:`.registry`: one client per app-level token per event loop, shared by the asks.
* :mod:`.client`: the socket's life (slack_sdk's aiohttp ``SocketModeClient``), reconnects, refusals.
* :mod:`.envelopes`: what each envelope does (clicks recorded before the ack, events patch one ask).
* :mod:`.patches`: a pushed event applied to an ask's latest read (pure).
"""
