"""Headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven by Selenium, on the emulator's web view.

``make e2e`` installs the two packages when they are missing (``make browser-deps``) and runs these tests;
``make test`` leaves them out. Without the browser they fail saying how to get it, rather than skip.
On a failure the page's screenshot is saved and its path printed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
]
WAIT = 60.0  # seconds a browser wait allows on a loaded machine (waits end as soon as the page is ready)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session (a fresh, empty profile)."""
    chromium = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    if not (chromium and driver_path):
        pytest.fail("the browser tests need Debian's chromium and chromium-driver: run `make browser-deps` "
                    "(apt-get installs them, as root)", pytrace=False)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="chat-alerts-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Page:
    """The web view in the browser, with waits that end as soon as what they wait for is there."""

    def __init__(self, driver: Any, url: str) -> None:
        self.driver = driver
        self.url = url

    def open(self, channel: str = "C0MLALERTS", viewer: str = "U0ALICE", service: str = "slack") -> Page:
        self.driver.get("about:blank")  # a new document, not a hash change
        self.driver.get(f"{self.url}#service={service}&channel={channel}&as={viewer}")
        self.wait(lambda: self.driver.execute_script("return document.body.dataset.ready === 'true'"), "the page")
        self.wait(lambda: self.driver.execute_script("return document.body.dataset.rendered !== undefined"),
                  "the channel's first render")
        # A mark only this document carries: still there later means the page never reloaded.
        self.driver.execute_script("window.__sameDocument = true")
        return self

    def wait(self, condition: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
        from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        def attempt(_: Any) -> Any:
            try:
                return condition()
            except (StaleElementReferenceException, LookupError):
                return None

        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(attempt)
        except WebDriverException as err:
            raise AssertionError(f"waited {timeout:g} s for {what}; the page shows: {self.messages_text()[-800:]!r}") from err

    def css(self, selector: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def one(self, selector: str) -> Any:
        found = self.css(selector)
        if not found:
            raise LookupError(selector)
        return found[0]

    def click(self, find: Callable[[], Any], what: str) -> None:
        """Click what ``find()`` returns, finding it again if the page re-rendered it meanwhile."""
        from selenium.common.exceptions import StaleElementReferenceException

        def clicked() -> bool:
            try:
                found = find()
                if not found:
                    return False
                found.click()
                return True
            except StaleElementReferenceException:
                return False

        self.wait(clicked, what)

    def tool(self, label: str, message: int = 0) -> Any:
        """The ``label`` tool (Reply, React, Edit, Delete) of the ``message``-th message, or None."""
        return self.driver.execute_script(
            "const m = document.querySelectorAll('#messages .message')[arguments[1]];"
            "return m ? [...m.querySelectorAll('.message-tools .tool')].find(b => b.textContent === arguments[0]) || null"
            " : null", label, message)

    def messages_text(self) -> str:
        found = self.css("#messages")
        return found[0].text if found else ""

    def act_as(self, user_id: str) -> None:
        from selenium.webdriver.support.ui import Select

        Select(self.one("#viewer")).select_by_value(user_id)

    def same_document(self) -> bool:
        return bool(self.driver.execute_script("return window.__sameDocument === true"))

@pytest.fixture
def page(browser, slack_web_view) -> Page:
    return Page(browser, slack_web_view.url)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    driver = item.funcargs.get("browser") if hasattr(item, "funcargs") else None
    if report.failed and report.when == "call" and driver is not None:
        path = os.path.join(tempfile.gettempdir(), f"web-view-{item.name}.png")
        driver.save_screenshot(path)
        report.sections.append(("web view", f"screenshot of the page: {path}"))


class Person(threading.Thread):
    """A person using the page in the browser while ``dag.test()`` runs in the test's thread; what goes
    wrong is re-raised by `finish`, and the app's token is revoked so that the DAG ends at once."""

    def __init__(self, emulator: Any, script: Callable[[], None]) -> None:
        super().__init__(daemon=True, name="person-in-the-browser")
        self.emulator, self.script = emulator, script
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.script()
        except BaseException as err:  # re-raised in the test's thread
            self.error = err
            self.emulator.revoke_token(self.emulator.bot_token)

    def finish(self) -> None:
        self.join(timeout=WAIT * 2)
        assert not self.is_alive(), "the person was still acting long after the DAG ended"
        if self.error is not None:
            raise self.error
