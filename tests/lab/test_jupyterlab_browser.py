"""JupyterLab in a real browser (Debian's chromium, headless) against `jls serve`.

Open the URL with the token, create a notebook from the launcher, run
`print(6*7)`, see 42, save, reload, reopen the notebook and find the cell;
the browser must not see a single failed request. A screenshot is kept in
``test-artifacts/`` (or ``$JLS_TEST_ARTIFACTS``).
"""

import json
import os
import re
import time

import pytest
from browser import ARGS, CHROMIUM, keep_screenshot
from jls_client import start_server_in

pytestmark = pytest.mark.slow



def _sources(path):
    try:
        with open(path) as f:
            return ["".join(cell["source"]) for cell in json.load(f)["cells"]]
    except (OSError, ValueError):
        return []


@pytest.fixture
def lab_server(tmp_path):
    server = start_server_in(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def stock_lab_server(tmp_path):
    """JupyterLab as it comes, without the collaboration front end (the rtc extra)."""
    server = start_server_in(tmp_path, "--no-collaboration")
    yield server
    server.stop()


def test_notebook_from_launcher_runs_saves_and_reopens(lab_server):
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "Debian's chromium is not installed (apt-get install chromium)"
    problems = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("response", lambda r: r.status >= 400 and problems.append((r.status, r.url)))
        # A navigation of ours cancels the page's in-flight polls (net::ERR_ABORTED):
        # the client's doing, not a failed request.
        page.on("requestfailed", lambda r: "ERR_ABORTED" not in (r.failure or "")
                and problems.append(("failed", r.url, r.failure)))  # fmt: skip
        page.on("console", lambda m: m.type == "error" and problems.append(("console", m.text)))
        try:
            page.goto(lab_server.url + f"lab?token={lab_server.token}")
            page.locator('.jp-LauncherCard[data-category="Notebook"]').first.click(timeout=60000)
            # The kernel is connected once the status bar says so; a cell run earlier
            # is not sent by JupyterLab.
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60000)
            page.locator(".jp-NotebookPanel .jp-Cell .cm-content").first.click()
            page.keyboard.type("print(6*7)")
            page.keyboard.press("Shift+Enter")
            page.wait_for_selector(".jp-OutputArea-output:has-text('42')", timeout=60000)
            page.keyboard.press("Control+s")
            # JupyterLab 4 offers to rename an untitled notebook on its first save.
            page.get_by_role("button", name="Rename and Save").click(timeout=30000)
            saved = os.path.join(lab_server.root, "Untitled.ipynb")
            deadline = time.monotonic() + 30
            while "print(6*7)" not in _sources(saved):
                assert time.monotonic() < deadline, "the notebook was never saved"
                time.sleep(0.2)

            page.reload()
            page.wait_for_selector(".jp-NotebookPanel, .jp-Launcher", timeout=60000)
            page.goto(lab_server.url + "lab/tree/Untitled.ipynb")
            # The reopened notebook shows the saved code (the editor fills in after the
            # cell appears, so the cell is awaited with its text).
            cells = page.locator(".jp-NotebookPanel .jp-Cell .cm-content")
            cells.filter(has_text="print(6*7)").first.wait_for(timeout=60000)
        finally:
            keep_screenshot(page, "jupyterlab.png")
            browser.close()
    assert problems == []


def _run_cell(page, code: str) -> None:
    """Type ``code`` into the last cell and run it."""
    page.locator(".jp-NotebookPanel .jp-Cell .cm-content").last.click()
    page.keyboard.type(code)
    page.keyboard.press("Shift+Enter")


def test_kernel_restart_from_the_menu_shows_no_death_dialog(lab_server):
    """Kernel > Restart Kernel: no "appears to have died", a new process answers."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        console_errors = []
        page.on("console", lambda m: m.type == "error" and console_errors.append(m.text))
        try:
            page.goto(lab_server.url + f"lab?token={lab_server.token}")
            page.locator('.jp-LauncherCard[data-category="Notebook"]').first.click(timeout=60000)
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60000)
            _run_cell(page, "import os; print('pid', os.getpid())")
            first = page.locator(".jp-OutputArea-output:has-text('pid ')").first
            first.wait_for(timeout=60000)
            old_pid = first.inner_text().split()[-1]
            page.get_by_role("menuitem", name="Kernel").click()
            page.get_by_text("Restart Kernel…", exact=True).click()
            page.locator(".jp-Dialog .jp-mod-accept").click(timeout=30000)  # "Restart"
            page.locator(".jp-Dialog").wait_for(state="detached", timeout=30000)
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60000)
            _run_cell(page, "import os; print('new', os.getpid())")
            second = page.locator(".jp-OutputArea-output:has-text('new ')").first
            second.wait_for(timeout=60000)
            assert second.inner_text().split()[-1] != old_pid
            assert page.get_by_text("appears to have died").count() == 0
            assert page.locator(".jp-Dialog").count() == 0
        finally:
            keep_screenshot(page, "jupyterlab-restart.png")
            browser.close()
    assert [e for e in console_errors if "died" in e or "Connection lost" in e] == []


def test_terminal_from_the_file_menu_runs_a_command_and_closes_from_the_running_panel(
    lab_server,
):
    """File > New > Terminal, `echo $((6*7))` shows 42; shut down from the running panel."""
    from jls_client import wait_gone
    from playwright.sync_api import sync_playwright

    problems = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("response", lambda r: r.status >= 400 and problems.append((r.status, r.url)))
        page.on("console", lambda m: m.type == "error" and problems.append(("console", m.text)))
        # xterm draws on a canvas: what the terminal shows is read from the frames the
        # page receives on the terminal's websocket (the screenshot shows the same).
        shown = []
        page.on("websocket", lambda ws: "/terminals/websocket/" in ws.url and ws.on(
            "framereceived", lambda frame: shown.append(str(frame))))  # fmt: skip
        try:
            page.goto(lab_server.url + f"lab?token={lab_server.token}")
            page.locator(".jp-Launcher").wait_for(timeout=60000)
            page.get_by_role("menuitem", name="File").click()
            page.locator(".lm-Menu-item", has=page.locator(".lm-Menu-itemLabel",
                         has_text="New")).first.click()  # fmt: skip
            page.locator(".lm-Menu-itemLabel").get_by_text("Terminal", exact=True).click()
            screen = page.locator(".jp-Terminal .xterm-screen")
            screen.wait_for(timeout=60000)
            screen.click()
            page.keyboard.type("echo ANSWER=$((6*7)) PID=$$")
            page.keyboard.press("Enter")
            deadline = time.monotonic() + 30
            while "ANSWER=42 PID=" not in (text := "".join(shown)):
                assert time.monotonic() < deadline, f"no 42 on the terminal: {text!r}"
                page.wait_for_timeout(200)
            shell_pid = int(re.search(r"ANSWER=42 PID=(\d+)", text).group(1))
            page.locator('.jp-SideBar [data-id="jp-running-sessions"]').click()
            item = page.locator(".jp-RunningSessions-item", has_text="terminals/1")
            item.wait_for(timeout=30000)
            item.hover()  # the shut-down button shows on hover
            item.locator(".jp-RunningSessions-itemShutdown").click()
            assert wait_gone(shell_pid), "the shell survived its terminal"
            assert lab_server.api().get("api/terminals").json() == []
        finally:
            keep_screenshot(page, "jupyterlab-terminal.png")
            browser.close()
    assert problems == []


def test_html_output_saved_reloaded_is_still_trusted(lab_server):
    """A notebook whose output runs JavaScript: saved, page reloaded, reopened, the
    script runs again (JupyterLab runs it only for a trusted notebook)."""
    from playwright.sync_api import sync_playwright

    script = 'document.getElementById(\"jls-probe\").textContent = \"script ran\"'
    code = ("from IPython.display import HTML; "
            f"HTML('<div id=\"jls-probe\">static</div><script>{script}</script>')")  # fmt: skip
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        try:
            page.goto(lab_server.url + f"lab?token={lab_server.token}")
            page.locator('.jp-LauncherCard[data-category="Notebook"]').first.click(timeout=60000)
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60000)
            _run_cell(page, code)
            page.locator("#jls-probe", has_text="script ran").wait_for(timeout=60000)
            page.keyboard.press("Control+s")
            page.get_by_role("button", name="Rename and Save").click(timeout=30000)
            saved = os.path.join(lab_server.root, "Untitled.ipynb")
            deadline = time.monotonic() + 30
            while "jls-probe" not in json.dumps(_outputs(saved)):
                assert time.monotonic() < deadline, "the notebook was never saved with its output"
                time.sleep(0.2)
            page.goto(lab_server.url + "lab/tree/Untitled.ipynb")
            page.locator("#jls-probe", has_text="script ran").wait_for(timeout=60000)
            model = lab_server.api().get("api/contents/Untitled.ipynb").json()
            assert model["content"]["cells"][0]["metadata"]["trusted"] is True
        finally:
            keep_screenshot(page, "jupyterlab-trusted.png")
            browser.close()


def _outputs(path):
    try:
        with open(path) as f:
            return [cell.get("outputs", []) for cell in json.load(f)["cells"]]
    except (OSError, ValueError):
        return []


def test_a_folder_with_files_deleted_from_the_file_browser_goes_to_the_trash(lab_server):
    from playwright.sync_api import sync_playwright

    folder = os.path.join(lab_server.root, "old results")
    os.makedirs(folder)
    with open(os.path.join(folder, "table.csv"), "w") as f:
        f.write("a,b\n1,2\n")
    problems = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("response", lambda r: r.status >= 400 and problems.append((r.status, r.url)))
        try:
            page.goto(lab_server.url + f"lab?token={lab_server.token}")
            item = page.locator(".jp-DirListing-item", has_text="old results")
            item.click(button="right", timeout=60000)
            page.locator(".lm-Menu-itemLabel").get_by_text("Delete", exact=True).click()
            page.locator(".jp-Dialog .jp-mod-accept").click(timeout=30000)  # "Delete"
            item.wait_for(state="detached", timeout=30000)
            assert page.locator(".jp-Dialog").count() == 0  # no error dialog
        finally:
            keep_screenshot(page, "jupyterlab-delete.png")
            browser.close()
    assert not os.path.exists(folder)
    trashed = os.path.join(os.path.dirname(lab_server.root), "xdg-data", "Trash", "files",
                           "old results", "table.csv")  # fmt: skip
    assert os.path.exists(trashed)
    assert problems == []


def test_save_and_export_as_html_downloads_the_output(stock_lab_server):
    """File > Save and Export Notebook As > HTML: a download holding the cell's output.
    (Without the collaboration front end: with it, a save clicked within milliseconds of
    the room's own save can meet JupyterLab's "File Changed" check, docs/collaboration.md.)"""
    from playwright.sync_api import sync_playwright

    problems = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900},
                                      accept_downloads=True)  # fmt: skip
        downloads = []
        context.on("page", lambda p: p.on("download", lambda d: downloads.append(d)))
        page = context.new_page()
        page.on("download", lambda d: downloads.append(d))
        page.on("response", lambda r: r.status >= 400 and problems.append((r.status, r.url)))
        try:
            page.goto(stock_lab_server.url + f"lab?token={stock_lab_server.token}")
            # JupyterLab fills the export menu when its first notebook opens.
            with page.expect_response(lambda r: "/api/nbconvert" in r.url, timeout=60000):
                page.locator('.jp-LauncherCard[data-category="Notebook"]').first.click(
                    timeout=60000
                )
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60000)
            _run_cell(page, "print('exported', 6*7)")
            page.wait_for_selector(".jp-OutputArea-output:has-text('exported 42')", timeout=60000)
            page.get_by_role("menuitem", name="File").click()
            page.locator(".lm-Menu-itemLabel").get_by_text("Save and Export Notebook As").hover()
            page.locator(".lm-Menu-itemLabel").get_by_text("HTML", exact=True).click()
            deadline = time.monotonic() + 60
            while not downloads:
                assert time.monotonic() < deadline, "no download started"
                page.wait_for_timeout(200)
            download = downloads[0]
            assert download.suggested_filename == "Untitled.html"
            with open(download.path(), encoding="utf-8") as f:
                assert "exported 42" in f.read()
        finally:
            keep_screenshot(page, "jupyterlab-export.png")
            browser.close()
    assert problems == []


def test_notebook_7_tree_opens_a_notebook_that_runs_a_cell(lab_server):
    """Jupyter Notebook 7's own pages: /tree lists the folder, a notebook opens in its
    page and a cell runs."""
    from playwright.sync_api import sync_playwright

    with open(os.path.join(lab_server.root, "seven.ipynb"), "w") as f:
        json.dump({"nbformat": 4, "nbformat_minor": 5, "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                           "language": "python"}},
            "cells": [{"cell_type": "code", "id": "a", "metadata": {}, "execution_count": None,
                       "source": "print('notebook', 6*7)", "outputs": []}]}, f)  # fmt: skip
    problems = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.on("response", lambda r: r.status >= 400 and problems.append((r.status, r.url)))
        page = context.new_page()
        notebook = page
        try:
            page.goto(lab_server.url + f"tree?token={lab_server.token}")
            entry = page.locator(".jp-DirListing-item", has_text="seven.ipynb")
            with context.expect_page(timeout=60000) as opened:
                entry.dblclick(timeout=60000)
            notebook = opened.value
            notebook.get_by_text("print('notebook', 6*7)").first.wait_for(timeout=60000)
            notebook.locator(".jp-Cell .cm-content").first.click()
            deadline = time.monotonic() + 60
            output = notebook.locator(".jp-OutputArea-output", has_text="notebook 42")
            while output.count() == 0:  # the kernel may still be starting: run again
                assert time.monotonic() < deadline, "the cell never printed"
                notebook.keyboard.press("Control+Enter")
                notebook.wait_for_timeout(1500)
            assert "/notebooks/seven.ipynb" in notebook.url
        finally:
            keep_screenshot(notebook, "notebook7.png")
            browser.close()
    assert problems == []


LONG_CELL = ("import time\nfor i in range(20):\n    print('line', i, flush=True)\n"
             "    time.sleep({pause} if i % 5 == 4 else 0.2)")  # bursts of 5 lines, then a pause


def _write_long_notebook(root: str, pause: float = 4.5) -> None:
    with open(os.path.join(root, "long.ipynb"), "w") as f:
        json.dump({"nbformat": 4, "nbformat_minor": 5, "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                           "language": "python"}},
            "cells": [{"cell_type": "code", "id": "long-cell", "metadata": {},
                       "execution_count": None, "source": LONG_CELL.format(pause=pause),
                       "outputs": []}]}, f)  # fmt: skip


def _start_long_cell_and_close(context, server) -> None:
    page = context.new_page()
    page.goto(server.url + f"lab/tree/long.ipynb?token={server.token}")
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60000)
    page.locator(".jp-NotebookPanel .jp-Cell .cm-content").first.click()
    page.keyboard.press("Shift+Enter")
    page.locator(".jp-OutputArea-output", has_text="line 4").wait_for(timeout=60000)
    page.close()  # the laptop lid closes


def _reopen_and_check(context, server, url: str, screenshot: str) -> None:
    page = context.new_page()
    try:
        page.goto(url)
        output = page.locator(".jp-OutputArea-output", has_text="line 19")
        output.wait_for(timeout=60000)
        text = output.inner_text()
        assert all(f"line {i}\n" in text + "\n" for i in range(20)), text
        assert text.count("line 7\n") == 1  # nothing twice
        assert page.locator(".jp-InputArea-prompt").first.inner_text().strip() == "[1]:"
    finally:
        keep_screenshot(page, screenshot)


def _wait_for_line_19(root: str) -> None:
    deadline = time.monotonic() + 60
    while "line 19" not in json.dumps(_outputs(os.path.join(root, "long.ipynb"))):
        assert time.monotonic() < deadline, "the output never reached the notebook"
        time.sleep(0.5)


def test_output_of_a_cell_whose_page_was_closed_is_in_the_notebook_when_reopened(
    stock_lab_server,
):
    """Run a cell printing 20 lines over 7 s, close the page after the first 5 lines,
    open the notebook in a new page after the cell ended: every line is there, with the
    cell's execution count (stock JupyterLab, no extension)."""
    from playwright.sync_api import sync_playwright

    _write_long_notebook(stock_lab_server.root, pause=1.0)  # no server restart to fit in
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        _start_long_cell_and_close(context, stock_lab_server)
        _wait_for_line_19(stock_lab_server.root)
        _reopen_and_check(context, stock_lab_server, stock_lab_server.url + "lab/tree/long.ipynb",
                          "jupyterlab-output-kept.png")  # fmt: skip
        browser.close()


def test_the_same_with_the_server_killed_and_restarted_meanwhile(tmp_path):
    """As above, with the server SIGKILLed right after the page closed and started again
    on the same sessions database: the lines printed while no server ran are there too."""
    import signal

    from jls_client import start_server
    from playwright.sync_api import sync_playwright

    root = tmp_path / "root"
    root.mkdir()
    _write_long_notebook(str(root))
    args = ("--sessions-db", str(tmp_path / "sessions.db"), "--no-collaboration")
    first = start_server(str(root), str(tmp_path), *args)
    second = None
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            _start_long_cell_and_close(context, first)
            # The server writes the first burst (within its 3 s), then dies in the pause
            # (what a server received and had not yet written when killed is lost: see
            # docs/outputs.md); the second burst comes while no server runs.
            deadline = time.monotonic() + 30
            while "line 4" not in json.dumps(_outputs(os.path.join(str(root), "long.ipynb"))):
                assert time.monotonic() < deadline, "the first burst was not written"
                time.sleep(0.1)
            first.stop(signal.SIGKILL)
            time.sleep(3)
            second = start_server(str(root), str(tmp_path), *args)
            _wait_for_line_19(str(root))
            _reopen_and_check(context, second,
                              second.url + f"lab/tree/long.ipynb?token={second.token}",
                              "jupyterlab-output-kept-restart.png")  # fmt: skip
            browser.close()
    finally:
        for server in (second, first):
            if server is not None and server.proc.poll() is None:
                server.stop()
