"""airflow-chat-alerts: post pipeline alerts to chat and ask people to approve steps from chat."""

from __future__ import annotations

__version__ = "0.1.0"
