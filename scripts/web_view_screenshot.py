"""docs/web-view.png: the emulator's web view during the interactive demo, taken by headless Chromium.

    .venv/bin/python scripts/web_view_screenshot.py [--out docs/web-view.png]

Runs ``scripts/demo.py --interactive``, opens its page as bob (who may not decide), presses Approve (bob
then sees the ephemeral saying so), takes the screenshot, then presses Approve as alice so the demo
ends as it should. Needs Debian's chromium and chromium-driver (``make browser-deps``); an emoji font
(Debian's fonts-noto-color-emoji) makes the emoji show.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1440,960", "--hide-scrollbars"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "web-view.png"))
    args = parser.parse_args()

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    demo = subprocess.Popen([sys.executable, str(REPO / "scripts" / "demo.py"), "--interactive", "--timeout", "180"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    assert demo.stdout is not None
    address = None
    while address is None:
        line = demo.stdout.readline()
        if not line:
            raise SystemExit("the demo ended before printing its page's address")
        found = re.search(r"browser: (\S+)", line)
        address = found.group(1) if found else None

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in [*FLAGS, f"--user-data-dir={tempfile.mkdtemp(prefix='shot-chromium-')}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=shutil.which("chromedriver")))
    try:
        driver.get(address.replace("as=U0ALICE", "as=U0BOB"))
        wait = WebDriverWait(driver, 180, poll_frequency=0.1)
        approve = "button[data-action-id=chat_alerts_approve]"
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, approve) and "Socket Mode: 1" in d.find_element(
            By.ID, "sockets").text)
        driver.find_element(By.CSS_SELECTOR, approve).click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".message.ephemeral"))
        time.sleep(0.5)  # the journal's last lines
        driver.save_screenshot(args.out)
        print(f"saved {args.out}")
        Select(driver.find_element(By.ID, "viewer")).select_by_value("U0ALICE")
        wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, ".message.ephemeral"))
        driver.find_element(By.CSS_SELECTOR, approve).click()
        wait.until(lambda d: "Approved by @alice" in d.find_element(By.ID, "messages").text)
    finally:
        driver.quit()
        output, _ = demo.communicate(timeout=300)
    print(output[-600:])
    return demo.returncode


if __name__ == "__main__":
    sys.exit(main())
