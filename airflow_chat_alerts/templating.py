"""Jinja filters our operators, sensors and notifiers add to the environment they render templates in.

``slack_escape`` shows untrusted text (XCom, a parameter) literally in a message:
``"Rows rejected: {{ ti.xcom_pull('validate') | slack_escape }}"``. Adding it here means a DAG needs no
``user_defined_filters`` for it; a filter of the same name the DAG defines wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_chat_alerts.formatting import slack_escape

if TYPE_CHECKING:
    import jinja2

FILTERS = {"slack_escape": slack_escape}


def add_filters(env: jinja2.Environment) -> jinja2.Environment:
    """Add :data:`FILTERS` to ``env``, keeping a filter of the same name the DAG defined."""
    for name, function in FILTERS.items():
        env.filters.setdefault(name, function)
    return env


class ChatTemplateFilters:
    """Mixin for an operator, sensor or notifier: its templates can use :data:`FILTERS`.

    Put it before the Airflow base class (``class ChatPostOperator(ChatTemplateFilters, BaseOperator)``).
    Airflow's task runner renders with an environment it builds from the DAG, and a callback may build
    its own: both ways are covered. (A mapped task is rendered by Airflow's MappedOperator, which does
    not ask the operator: there, give the DAG ``user_defined_filters=FILTERS``.)
    """

    def render_template_fields(self, context: Any, jinja_env: jinja2.Environment | None = None) -> None:
        super().render_template_fields(context, add_filters(jinja_env) if jinja_env else None)  # type: ignore[misc]

    def get_template_env(self, dag: Any = None) -> jinja2.Environment:
        return add_filters(super().get_template_env(dag=dag))  # type: ignore[misc]
