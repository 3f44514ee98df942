"""Human-in-the-loop reads and writes from a trigger under ``dag.test()``, served as Airflow's triggerer
serves them.

A trigger reads and writes a request's ``hitl_detail`` row through the Task SDK
(``airflow.sdk.execution_time.hitl``: ``get_hitl_detail_content_detail``, ``update_hitl_detail_response``),
which sends ``GetHITLDetailResponse`` / ``UpdateHITLDetail`` to its supervisor. Airflow's triggerer
(``TriggerRunnerSupervisor._handle_request``) serves both through the execution API's ``hitlDetails``
routes; ``dag.test()`` runs a trigger in process with the worker's supervisor, which on Airflow 3.3 serves
neither ("Unhandled request"). `serve_hitl_in_dag_test` makes it serve them the triggerer's way: the
same routes (through the in-process execution API ``dag.test()`` already uses), and an API error (a 409
when the request was answered already) raised in the trigger as ``AirflowRuntimeError``, as the
triggerer's comms raise it.

Nothing changes until the context manager is entered; leaving it restores Airflow's own handling.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def serve_hitl_in_dag_test() -> Iterator[None]:
    """While inside, ``dag.test()``'s in-process supervisor serves the Human-in-the-loop reads and writes of
    triggers as Airflow's triggerer does."""
    from airflow.jobs.triggerer_job_runner import HITLDetailResponseResult
    from airflow.sdk.api.client import ServerResponseError
    from airflow.sdk.exceptions import AirflowRuntimeError, ErrorType
    from airflow.sdk.execution_time.comms import ErrorResponse, GetHITLDetailResponse, UpdateHITLDetail
    from airflow.sdk.execution_time.supervisor import InProcessTestSupervisor

    original = InProcessTestSupervisor._handle_request

    def handle(self: InProcessTestSupervisor, msg: Any, log: Any, req_id: int) -> None:
        if not isinstance(msg, (GetHITLDetailResponse, UpdateHITLDetail)):
            return original(self, msg, log, req_id)
        try:
            if isinstance(msg, UpdateHITLDetail):
                row = self.client.hitl.update_response(
                    ti_id=msg.ti_id, chosen_options=msg.chosen_options, params_input=msg.params_input
                )
            else:
                row = self.client.hitl.get_detail_response(ti_id=msg.ti_id)
        except ServerResponseError as err:  # what the triggerer's handle_requests turns into an ErrorResponse
            detail = {"status_code": err.response.status_code, "message": str(err), "detail": err.detail}
            raise AirflowRuntimeError(ErrorResponse(error=ErrorType.API_SERVER_ERROR, detail=detail)) from None
        self.send_msg(HITLDetailResponseResult.from_api_response(row), request_id=req_id)
        return None

    InProcessTestSupervisor._handle_request = handle  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        InProcessTestSupervisor._handle_request = original  # type: ignore[method-assign]
