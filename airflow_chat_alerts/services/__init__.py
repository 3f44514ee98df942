"""The chat services, one package each: only a service's own package talks to that service.

Nothing imports a service's package but :mod:`airflow_chat_alerts.hooks.chat_alerter`, which picks the service
by the Airflow connection's type (``make lint`` holds this as an import contract).
"""
