"""End-to-end tests on a real Airflow deployment (run by `make e2e`)."""
