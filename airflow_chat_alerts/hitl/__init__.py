"""Airflow's Human-in-the-loop requests in Slack: the pure parts (no I/O, no Airflow imports).

`request` (the request as Airflow writes it), `choices` (options on buttons and menus, and reading them
back from a click), `message` (the Slack message of a request and of its answer), `form` (a Slack modal
from the request's ``params``, and its submission read and validated as Airflow validates it) and
`replies` (a thread reply naming an option). The operators and the trigger put them to work.
"""
