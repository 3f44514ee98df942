"""Making a DAG defined in a test module runnable with ``dag.test()``.

Airflow 3's ``dag.test()`` runs only a DAG whose serialized form is in the metadata database; it looks
for it in the configured DAG bundles, which do not hold a DAG written in a test module. ``save_dags``
writes such DAGs to the database directly (as the DAG processor would), under the default bundle.
"""

from __future__ import annotations

import os
from typing import Any

#: The bundle Airflow configures by default (the DAGs folder); ``dag.test()`` re-reads it first.
BUNDLE = "dags-folder"


def save_dags(*dags: Any) -> None:
    """Write ``dags`` (``airflow.sdk.DAG`` objects) to the metadata database so ``dag.test()`` runs them.

    Needs the database to exist (the ``airflow_db`` fixture creates it). Saving a DAG again after a
    change replaces its serialized form.

    :param dags: the DAGs to save
    """
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=os.devnull)  # an empty bag, filled with the given DAGs only
    for dag in dags:
        bag.bag_dag(dag)
    sync_bag_to_db(bag, BUNDLE, None)
