"""Headless Debian chromium for the browser tests (never `playwright install`), and where
their screenshots are kept: ``test-artifacts/`` (or ``$JLS_TEST_ARTIFACTS``)."""

from __future__ import annotations

import os
import shutil
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
ARTIFACTS = os.environ.get(
    "JLS_TEST_ARTIFACTS", os.path.join(os.path.dirname(__file__), "..", "test-artifacts")
)


def keep_screenshot(page: Any, name: str) -> None:
    """A picture of ``page`` (or of one of its elements) as ``test-artifacts/<name>``."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, name))
