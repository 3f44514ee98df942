"""The Discord service: a bot connection (``discord_bot``) that posts, asks and reads answers through hikari's
REST client and receives replies, reactions and button clicks over the Gateway websocket it opens itself;
and the Discord provider's webhook connection (``discord``), which only posts.

* :mod:`.connection`: an Airflow connection of either type read into the package's settings.
* :mod:`.alerter`: :class:`~.alerter.DiscordAlerter`, the bot (workers post, the triggerer reads).
* :mod:`.webhook`: :class:`~.webhook.DiscordWebhookAlerter`, post only.
* :mod:`.push`: :class:`~.push.DiscordPushStream`, one Gateway session per bot token per event loop.
* pure parts: :mod:`._ids` (message ids as the package's ``ts``), :mod:`._markup` (the package's mrkdwn as
  Discord markdown, untrusted text escaped), :mod:`._render` (a message as Discord's create-message body),
  :mod:`._reading` (messages read back as questions and answers), :mod:`._clicks` (buttons and their records).

Nothing outside this package imports it but the hook that chooses the alerter by the connection
(``hooks/chat_alerter.py``), which also builds the push stream for the triggerer's runtime.
"""
