"""The review page end to end in headless Chromium (Debian's, driven by Playwright's Python package:
Playwright's own browser download cannot work here). `make test` installs both."""

from __future__ import annotations

from pathlib import Path

import pytest

from .test_service_live import REPO, running_server

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: `make test` installs Debian's chromium package (apt-get install chromium); "
                    "it could not be installed on this machine")  # fmt: skip
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (the test extra) is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield browser
        browser.close()


def marks(page) -> list[dict]:
    return page.eval_on_selector_all(
        "#view mark.finding",
        "els => els.map(e => ({text: e.textContent, expected: e.dataset.expected, category: e.dataset.category, check: e.dataset.check}))",
    )


def test_review_page_check_highlight_accept(browser, tmp_path):
    article = (REPO / "examples" / "demo_article.txt").read_text(encoding="utf-8")
    with running_server("--no-lm") as (url, _):
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(url + "/")
        page.fill("#input", article)
        page.click("#check")
        page.wait_for_selector("#view mark.finding", timeout=60_000)

        assert page.text_content("#verdict") == "block"
        found = marks(page)
        assert {"boilerplate", "ocr", "name"} <= {m["category"] for m in found}
        assert all(m["text"] == m["expected"] for m in found)  # every highlight covers what it flagged
        colours = page.eval_on_selector_all("#view mark.finding", "els => els.map(e => getComputedStyle(e).borderBottomColor)")
        assert len(set(colours)) >= 3  # one colour per category
        page.screenshot(path=str(tmp_path / "review-checked.png"), full_page=True)

        # Accept a suggestion early in the article: later highlights must move with the text.
        page.click("#view mark.finding[data-check='gazetteer.place']")
        assert "corrupted place name" in page.text_content("#details .message")
        assert "Evidence" in page.text_content("#details")
        page.click("#details button.accept[data-value='Zaporizhzhia']")
        text = page.input_value("#input")
        assert "the Zaporizhzhia firm" in text and "Zaporidzhia" not in text
        after = marks(page)
        assert len(after) == len(found) - 1 and all(m["text"] == m["expected"] for m in after)

        page.click("#view mark.finding[data-check='ocr.mixed_case']")
        page.click("#details button.accept[data-value='The']")
        assert "The mayor's office" in page.input_value("#input")
        page.click("#view mark.finding[data-check='boilerplate.advertisement']")
        page.click("#details button.dismiss")
        left = marks(page)
        assert len(left) == len(found) - 3 and all(m["text"] == m["expected"] for m in left)
        assert "Advertisement" in page.input_value("#input")  # dismissed, not deleted
        assert "2 accepted · 1 dismissed" in page.text_content("#counts")

        shot = tmp_path / "review-page.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000

        # HTML: offsets point into the HTML source, which the page highlights. Typing first hides
        # the stale highlights.
        page.fill("#input", "<p>The <b>MIlitary</b> left &amp; came back.</p>")
        assert page.is_hidden("#result")
        page.click("#check")
        page.wait_for_selector("#view mark.finding[data-check='ocr.mixed_case']", timeout=30_000)
        assert [m["text"] for m in marks(page)] == ["MIlitary"]
        assert all(r.startswith(url) for r in requests), requests  # nothing from a CDN
