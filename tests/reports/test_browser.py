"""The report opened in headless Chromium: no console errors, every figure rendered, user text never executed, and the
Kaplan-Meier section shows what survminer users look for (confidence bands drawn, log-rank P, log-rank table).

Needs the Debian ``chromium`` package (``.ci/run`` installs it) and Playwright's Python package (the ``test`` extra);
Playwright drives the system browser, so no browser download is needed. Without a Chromium binary the test is
skipped, saying so.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Dialog, Page, sync_playwright

from tmesurv.reports.graphics import ARM_COLOURS

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


KM_BANDS = """
([treated, control]) => {
    const image = document.querySelector('#kaplan-meier img');
    const canvas = document.createElement('canvas');
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    const near = (colour) => {
        let count = 0;
        for (let i = 0; i < data.length; i += 4) {
            if ([0, 1, 2].every((k) => Math.abs(data[i + k] - colour[k]) <= 1)) count++;
        }
        return count;
    };
    return {treated: near(treated), control: near(control), pixels: canvas.width * canvas.height};
}
"""


KM_TABLE = """
() => Array.from(document.querySelectorAll('#kaplan-meier table'))
    .filter((table) => table.getAttribute('aria-label') === 'Log-rank tests')
    .map((table) => ({visible: table.getBoundingClientRect().height > 0, rows: table.tBodies[0].rows.length}))
"""


def band_colour(hex_colour: str) -> list[int]:
    """An arm's colour at the Kaplan-Meier band's opacity (0.15) over white, as 0-255 RGB."""
    rgb = [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]
    return [round(255 - 0.15 * (255 - value)) for value in rgb]


def _what_the_page_shows(page: Page) -> dict:
    colours = [band_colour(ARM_COLOURS[arm]) for arm in ("treated", "control")]
    return {
        "km_bands": page.evaluate(KM_BANDS, colours),
        "km_tables": page.evaluate(KM_TABLE),
        "km_text": page.evaluate("() => document.querySelector('#kaplan-meier').innerText"),
        "images": page.evaluate(IMAGE_SIZES),
        "text": page.evaluate("() => document.body.innerText"),
        "scripts": page.evaluate("() => document.querySelectorAll('script').length"),
        "page_width": page.evaluate("() => document.documentElement.scrollWidth"),
    }


def test_no_console_errors(opened: dict) -> None:
    assert opened["errors"] == []


def test_every_figure_is_rendered_with_a_size(opened: dict) -> None:
    images = opened["images"]
    assert len(images) == 17  # as test_html's test_report_is_one_self_contained_file counts them
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


def test_km_figure_draws_both_arms_confidence_bands(opened: dict) -> None:
    bands = opened["km_bands"]
    for arm in ("treated", "control"):  # each band covers a visible share of the rendered figure
        assert bands[arm] > 0.005 * bands["pixels"], bands


def test_km_section_shows_log_rank_p_and_table(opened: dict) -> None:
    text = opened["km_text"]
    assert "Log-rank P = 0.0262 (treated vs control)" in text  # the overall figure's caption
    assert "censoring times (+)" in text
    assert "95% CI (log-log)" in text
    assert "Log-rank tests" in text
    assert opened["km_tables"] == [{"visible": True, "rows": 9}]  # overall, 2 x 2 subgroups, 2 groupings x 2 arms
