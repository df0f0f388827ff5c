"""The web page in headless Chromium against a real `clausemap serve` process on a tiny model."""

from __future__ import annotations

import io
import shutil

import httpx
import pytest
from openpyxl import load_workbook

from clausemap.clauses import segment_text
from clausemap.paths import PROJECT_ROOT
from serving.launch import running_service
from tests.documents import make_docx
from tests.fixtures.label_studio import unavailable

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SEED_000 = next((PROJECT_ROOT / "seeds").glob("000_*.txt"))


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed")
    if not shutil.which(CHROMIUM):
        unavailable(f"{CHROMIUM} is missing: apt-get install chromium chromium-driver")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):
    with running_service(tiny_model_dir, log_path=tmp_path_factory.mktemp("serve") / "serve.log") as base:
        yield base


def test_paste_a_plan_see_the_breakdown_and_download_it(browser, server, tmp_path):
    text = SEED_000.read_text(encoding="utf-8")
    expected = segment_text(text, doc="plan").clauses
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    page.goto(server + "/")
    page.wait_for_selector("#model-status.ready")
    page.fill("#plan-text", text)
    page.click("#submit")
    rows = page.locator("#breakdown tbody tr")
    rows.first.wait_for()
    assert rows.count() == len(expected)

    plan = httpx.post(f"{server}/v1/plans", json={"text": text, "doc": "plan"}, timeout=120).json()
    first = rows.nth(0)
    assert expected[0].title in first.locator(".title").inner_text()
    chips = first.locator("td.cats .chip")
    assert chips.count() == len(plan["clauses"][0]["labels"])
    assert first.locator("td.dept li.lead").first.inner_text().startswith(plan["clauses"][0]["lead_departments"][0])
    low = [c["low_confidence"] for c in plan["clauses"]]
    assert page.locator("#breakdown tbody tr.low").count() == sum(low)

    # Hovering a category chip highlights the sentence(s) that decided it in the clause text; a click pins
    # them with their scores.
    index, clause = next((i, c) for i, c in enumerate(plan["clauses"])
                         if any(cat["assigned"] and cat["evidence"] for cat in c["categories"]))
    category = next(cat for cat in clause["categories"] if cat["assigned"] and cat["evidence"])
    row = rows.nth(index)
    row.locator(f'td.cats .chip[data-cat="{category["id"]}"]').hover()
    highlighted = row.locator("mark.ev.hl")
    assert highlighted.count() == len(category["evidence"])
    assert [highlighted.nth(k).inner_text() for k in range(highlighted.count())] == \
        sorted((e["text"] for e in category["evidence"]), key=clause["text"].index)
    row.locator(f'td.cats .chip[data-cat="{category["id"]}"]').click()
    assert category["evidence"][0]["text"] in row.locator("td.cats .evidence").inner_text()
    page.screenshot(path=str(tmp_path / "page.png"), full_page=False)

    with page.expect_download() as download:
        page.click("#download-xlsx")
    saved = tmp_path / "breakdown.xlsx"
    download.value.save_as(saved)
    sheet = load_workbook(io.BytesIO(saved.read_bytes())).worksheets[0]
    assert sheet.max_row == 1 + len(expected)
    page.close()


def test_upload_a_docx_plan(browser, server, tmp_path):
    text = next((PROJECT_ROOT / "seeds").glob("003_*.txt")).read_text(encoding="utf-8")
    expected = segment_text(text, doc="plan").clauses
    path = make_docx(text, tmp_path / "深圳2019.docx")
    page = browser.new_page()
    page.goto(server + "/")
    page.set_input_files("#plan-file", str(path))
    page.click("#submit")
    page.locator("#breakdown tbody tr").first.wait_for()
    assert page.locator("#breakdown tbody tr").count() == len(expected)
    assert expected[-1].title in page.locator("#breakdown tbody tr .title").last.inner_text()
    page.close()


def test_bad_input_shows_the_service_message(browser, server):
    page = browser.new_page()
    page.goto(server + "/")
    page.fill("#plan-text", next((PROJECT_ROOT / "seeds").glob("004_*.txt")).read_text(encoding="utf-8"))
    page.click("#submit")
    page.locator("#breakdown tbody tr").first.wait_for()
    page.fill("#plan-text", "这是一段没有任何编号条款的文字。")
    page.click("#submit")
    error = page.locator("#error")
    error.wait_for(state="visible")
    assert error.inner_text().startswith("422")
    assert "no numbered" in error.inner_text()
    # The earlier plan's table and downloads are gone, so they cannot be mistaken for this input's.
    assert page.locator("#result").is_hidden()
    assert page.locator("#download-xlsx").is_disabled()
    page.close()


def test_page_asks_for_the_api_key_when_the_service_needs_one(browser, tiny_model_dir, tmp_path):
    with running_service(tiny_model_dir, {"CLAUSEMAP_API_KEY": "page-key"}, tmp_path / "serve.log") as base:
        page = browser.new_page()
        page.goto(base + "/")
        page.fill("#plan-text", SEED_000.read_text(encoding="utf-8"))
        page.click("#submit")
        page.locator("#error").wait_for(state="visible")
        assert page.locator("#error").inner_text().startswith("401")
        assert page.locator("#api-key").is_visible()
        page.fill("#api-key", "page-key")
        page.click("#submit")
        page.locator("#breakdown tbody tr").first.wait_for()
        assert page.locator("#error").is_hidden()
        page.close()
