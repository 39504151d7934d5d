"""The report opened in headless Chromium: no console errors, every figure rendered, user text never executed.

Needs the Debian ``chromium`` package (``.ci/run`` installs it) and Playwright's Python package (the ``test`` extra);
Playwright drives the system browser, so no browser download is needed. Without a Chromium binary the test is
skipped, saying so.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Dialog, Page, sync_playwright

XSS = "<script>alert(1)</script>"
CHROMIUM = next((path for path in map(shutil.which, ("chromium", "chromium-browser")) if path), None)
VIEWPORT = {"width": 1400, "height": 1000}

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium binary on PATH: install Debian's chromium (apt-get install chromium)"
)

IMAGE_SIZES = """
() => Array.from(document.images).map((image) => {
    const box = image.getBoundingClientRect();
    return {alt: image.alt, natural: image.naturalWidth, width: box.width, height: box.height};
})
"""


@pytest.fixture(scope="module")
def opened(full_report: Path) -> dict:
    """Open the report once; collect console errors, page errors, dialogs and what the page shows."""
    errors: list[str] = []
    dialogs: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.on("console", lambda message: _console_error(message, errors))
            page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
            page.on("dialog", lambda dialog: _dismiss(dialog, dialogs))
            page.goto(full_report.resolve().as_uri(), wait_until="load")
            seen = _what_the_page_shows(page)
        finally:
            browser.close()
    return seen | {"errors": errors, "dialogs": dialogs}


def _console_error(message: ConsoleMessage, errors: list[str]) -> None:
    if message.type == "error":
        errors.append(message.text)


def _dismiss(dialog: Dialog, dialogs: list[str]) -> None:
    dialogs.append(f"{dialog.type}: {dialog.message}")
    dialog.dismiss()


def _what_the_page_shows(page: Page) -> dict:
    return {
        "images": page.evaluate(IMAGE_SIZES),
        "text": page.evaluate("() => document.body.innerText"),
        "scripts": page.evaluate("() => document.querySelectorAll('script').length"),
        "page_width": page.evaluate("() => document.documentElement.scrollWidth"),
    }


def test_no_console_errors(opened: dict) -> None:
    assert opened["errors"] == []


def test_every_figure_is_rendered_with_a_size(opened: dict) -> None:
    images = opened["images"]
    assert len(images) == 15  # as test_html's test_report_is_one_self_contained_file counts them
    for image in images:
        assert image["natural"] > 0, image["alt"]
        assert image["width"] > 0, image["alt"]
        assert image["height"] > 0, image["alt"]
        assert image["width"] <= VIEWPORT["width"], image["alt"]  # scaled to the page, not overflowing it
    assert opened["page_width"] <= VIEWPORT["width"]


def test_script_named_biomarker_is_shown_as_text_and_never_run(opened: dict) -> None:
    assert XSS in opened["text"]
    assert f"missing {XSS}" in opened["text"]  # the exclusion reason too
    assert opened["scripts"] == 0
    assert opened["dialogs"] == []
