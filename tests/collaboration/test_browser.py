"""Real-time collaboration in JupyterLab (headless Debian chromium, the rtc extra's front
end): two people on one notebook see each other's edits and outputs live, and a cell
started by a page that has since closed goes on printing into the page still open."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator

import pytest
from browser import ARGS, CHROMIUM, keep_screenshot
from jls_client import start_server_in, wait_until
from test_rooms import notebook, sources_on_disk, write

pytestmark = pytest.mark.slow

PANEL = ".jp-NotebookPanel:visible"
LONG = "import time\nfor i in range(12):\n    print('line', i, flush=True)\n    time.sleep(0.5)"


@pytest.fixture
def rtc_server(tmp_path):
    server = start_server_in(tmp_path, "--ServerApp.collaborative=True")
    yield server
    server.stop()


def _with_kernel(content: dict) -> dict:
    content["metadata"]["kernelspec"] = {"name": "python3", "language": "python",
                                         "display_name": "Python 3 (ipykernel)"}  # fmt: skip
    return content


@contextlib.contextmanager
def two_pages(server, name: str, source: str, screenshots: str) -> Iterator[tuple]:
    """Notebook ``name`` (one code cell) open in two people's browsers: (A, B, problems)."""
    from playwright.sync_api import sync_playwright

    write(server, name, _with_kernel(notebook(source)))
    problems: list = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pages = _open_pages(browser, server, name, problems)
        try:
            yield pages[0], pages[1], problems
        finally:
            _screenshots(pages, screenshots)
            browser.close()


def _open_pages(browser, server, name: str, problems: list) -> list:
    """Two people: a browser context each, the notebook open in both."""
    pages = []
    for who in ("A", "B"):
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        page.on("console", lambda m, who=who: m.type == "error"
                and problems.append((who, m.text[:300])))  # fmt: skip
        page.on("response", lambda r, who=who: r.status >= 400
                and problems.append((who, r.status, r.url)))  # fmt: skip
        page.goto(server.url + f"lab/tree/{name}?token={server.token}")
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60000)
        pages.append(page)
    return pages


def _file_text(server, name: str) -> str:
    with open(os.path.join(server.root, name)) as f:
        return f.read()


def _screenshots(pages: list, prefix: str) -> None:
    for who, page in zip("AB", pages, strict=False):
        if not page.is_closed():
            keep_screenshot(page, f"{prefix}-{who}.png")


def test_two_pages_see_each_others_edits_and_outputs_live(rtc_server):
    with two_pages(rtc_server, "shared.ipynb", "print(6 * 7)", "collaboration") as (a, b, problems):
        a.locator(f"{PANEL} .jp-Cell .cm-content").first.click()
        a.keyboard.press("End")
        a.keyboard.type("  # typed in A")
        b.locator(f"{PANEL} .cm-content", has_text="typed in A").wait_for(timeout=20000)
        a.keyboard.press("Shift+Enter")  # runs, and JupyterLab adds a cell below
        b.locator(f"{PANEL} .jp-OutputArea-output", has_text="42").wait_for(timeout=30000)
        b.locator(f"{PANEL} .jp-Cell .cm-content").last.click()
        b.keyboard.type("'typed in B'")
        a.locator(f"{PANEL} .cm-content", has_text="typed in B").wait_for(timeout=20000)
        # B sees where A is typing.
        b.locator(".jp-remote-cursor").first.wait_for(timeout=10000)
    wait_until(lambda: sources_on_disk(rtc_server, "shared.ipynb")
               == ["print(6 * 7)  # typed in A", "'typed in B'"], 15, "the room's save")
    with open(os.path.join(rtc_server.root, "shared.ipynb")) as f:
        first = json.load(f)["cells"][0]
    assert first["execution_count"] == 1 and "42" in json.dumps(first["outputs"])
    assert problems == []


def test_a_cell_started_in_a_page_that_closed_goes_on_printing_in_the_other(rtc_server):
    with two_pages(rtc_server, "live.ipynb", LONG, "collaboration-live") as (a, b, problems):
        a.locator(f"{PANEL} .jp-Cell .cm-content").first.click()
        a.keyboard.press("Shift+Enter")
        b.locator(f"{PANEL} .jp-OutputArea-output", has_text="line 2").wait_for(timeout=30000)
        a.close()
        closed = time.monotonic()
        arrivals = []
        for line in (5, 8, 11):
            output = b.locator(f"{PANEL} .jp-OutputArea-output", has_text=f"line {line}")
            output.wait_for(timeout=20000)
            arrivals.append(time.monotonic() - closed)
        # Live: each line shortly after the kernel printed it (0.5 s apart), not at the end.
        assert arrivals[0] < 3.5, arrivals
        text = b.locator(f"{PANEL} .jp-OutputArea-output").first.inner_text()
        assert all(text.count(f"line {i}\n") == 1 for i in range(12)), text
        prompt = b.locator(f"{PANEL} .jp-InputArea-prompt").first
        wait_until(lambda: prompt.inner_text().strip() == "[1]:", 10, "the count")
    wait_until(lambda: "line 11" in _file_text(rtc_server, "live.ipynb"), 15, "the room's save")
    assert [p for p in problems if p[0] == "B"] == []
