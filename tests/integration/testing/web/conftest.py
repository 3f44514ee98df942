"""The web view's API over real HTTP, against the session's emulator: no Airflow metadata database needed."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest


@pytest.fixture(scope="session", autouse=True)
def airflow_db() -> None:
    return None


class Page:
    """A client of the web view's API, as the page is (and, with other headers, as a hostile site is)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def request(self, path: str, body: Any = None, headers: dict[str, str] | None = None,
                method: str | None = None) -> tuple[int, dict[str, str], str]:
        data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
        sent = {"Content-Type": "application/json"} if data is not None else {}
        sent.update(headers or {})
        request = urllib.request.Request(self.url + path, data=data, headers=sent, method=method)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read().decode()

    def get(self, path: str) -> Any:
        status, _, text = self.request(path)
        assert status == 200, (path, status, text)
        return json.loads(text)

    def act(self, **body: Any) -> dict[str, Any]:
        status, _, text = self.request("api/slack/act", body)
        assert status == 200, (status, text)
        return json.loads(text)


@pytest.fixture
def page(slack_web_view) -> Page:
    return Page(slack_web_view.url)
