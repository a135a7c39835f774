"""The review desk screenshots in README: `python docs/screenshots.py` (needs Debian's chromium and playwright).

The queue is the five seed pages and 40 comments of labeled/example.csv plus a spam line and a hostile one,
scored with the shipped models; a few verdicts are given with the keyboard before the summary is taken.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pandas as pd
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PORT = 8766


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="desk-"))
    comments = pd.read_csv(ROOT / "labeled/example.csv").sample(40, random_state=3)[["id", "text"]]
    extra = pd.DataFrame({"id": ["spam-1", "hostile-1"], "text": [
        "BUY CHEAP WATCHES at www.cheap-watches.example.com!!! Call 555-0199",
        "<img src=x onerror=alert(1)> you are a stupid moron and everyone knows it"]})
    pd.concat([comments, extra]).to_csv(work / "comments.csv", index=False)
    seeds = sorted(str(p) for p in (ROOT.parent / "shared/seeds").glob("*.txt"))
    command = [sys.executable, "-c", "from moderation.cli import main; main()", "review", *seeds,
               str(work / "comments.csv"), "--labeled", str(work / "labeled"), "--port", str(PORT)]
    server = subprocess.Popen(command, cwd=ROOT, env=os.environ)
    url = f"http://127.0.0.1:{PORT}/"
    try:
        for _ in range(240):
            try:
                httpx.get(url, timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1000, "height": 1100})
            page.goto(url)
            page.wait_for_selector(".card")
            for key in "orakkk":
                page.keyboard.press(key)
                page.wait_for_timeout(300)
            page.screenshot(path=str(ROOT / "docs/review-desk-queue.png"))
            for key in "arraoaaraa":
                page.keyboard.press(key)
                page.wait_for_timeout(300)
            page.click("#show-summary")
            page.wait_for_selector("#agreement tbody tr")
            page.wait_for_timeout(1000)
            page.screenshot(path=str(ROOT / "docs/review-desk-summary.png"), full_page=True)
            browser.close()
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
