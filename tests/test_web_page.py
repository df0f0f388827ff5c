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
from tests.fixtures.label_studio import unavailable
from tests.support.documents import make_docx
from tests.support.markers import needs

pytestmark = [pytest.mark.browser, pytest.mark.model, pytest.mark.server]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SEED_000 = next((PROJECT_ROOT / "seeds").glob("000_*.txt"))


@pytest.fixture(scope="module")
@needs("browser")
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
@needs("model", "server")
def server(tiny_model_dir, tmp_path_factory):
    with running_service(tiny_model_dir, log_path=tmp_path_factory.mktemp("serve") / "serve.log") as base:
        yield base


def analyse(page, base: str, text: str):
    """Open the page, paste the plan and press 分析; the breakdown's rows once they are shown."""
    page.goto(base + "/")
    page.wait_for_selector("#model-status.ready")
    page.fill("#plan-text", text)
    page.click("#submit")
    rows = page.locator("#breakdown tbody tr")
    rows.first.wait_for()
    return rows


def download_xlsx(page, path):
    """Press 下载 XLSX and read the first sheet of what comes down."""
    with page.expect_download() as download:
        page.click("#download-xlsx")
    download.value.save_as(path)
    return load_workbook(io.BytesIO(path.read_bytes())).worksheets[0]


def test_paste_a_plan_see_the_breakdown_and_download_it(browser, server, tmp_path):
    text = SEED_000.read_text(encoding="utf-8")
    expected = segment_text(text, doc="plan").clauses
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    rows = analyse(page, server, text)
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

    sheet = download_xlsx(page, tmp_path / "breakdown.xlsx")
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


def test_staff_correct_two_rows_save_and_the_corrections_stay(browser, tiny_model_dir, tmp_path):
    """Analyse seed 002, correct a category on one row and the lead section on another, save; after a reload and
    a new analysis the rows are marked 已更正, /v1/feedback lists both and the XLSX carries them."""
    text = next((PROJECT_ROOT / "seeds").glob("002_*.txt")).read_text(encoding="utf-8")
    env = {"CLAUSEMAP_FEEDBACK_DB": str(tmp_path / "feedback.sqlite")}
    with running_service(tiny_model_dir, env, tmp_path / "serve.log") as base:
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        rows = analyse(page, base, text)
        plan = httpx.post(f"{base}/v1/plans", json={"text": text, "doc": "plan"}, timeout=120).json()
        first, second = rows.nth(0), rows.nth(1)

        # Row 1: toggle a category the model did not give.
        added = next(c["id"] for c in plan["clauses"][0]["categories"]
                     if not c["assigned"] and c["id"] != "other")
        first.locator("details.fix summary").click()
        first.locator(f'.toggles input[data-cat="{added}"]').check()
        # Row 2: choose the lead section from the catalogue list, narrowed by the filter box.
        second.locator("details.fix summary").click()
        second.locator('.picker:has(select[data-role="lead"]) input.filter').fill("安全")
        second.locator('select[data-role="lead"]').select_option("安全科")
        assert page.locator("#save-corrections").inner_text() == "保存更正（2）"
        page.click("#save-corrections")
        page.locator("#breakdown tbody tr .corrected-mark").nth(1).wait_for()

        page.reload()
        analyse(page, base, text)
        page.locator("#breakdown tbody tr .corrected-mark").nth(1).wait_for()
        assert page.locator("#breakdown tbody tr .corrected-mark").count() == 2

        stored = httpx.get(f"{base}/v1/feedback", timeout=30).json()["corrections"]
        assert [c["text"] for c in stored] == [plan["clauses"][0]["text"], plan["clauses"][1]["text"]]
        assert added in stored[0]["categories"] and stored[1]["lead_departments"] == ["安全科"]

        sheet = download_xlsx(page, tmp_path / "corrected.xlsx")
        header = [cell.value for cell in sheet[1]]
        row1 = [cell.value for cell in sheet[2]]
        row2 = [cell.value for cell in sheet[3]]
        names = {c["id"]: c["name"] for c in plan["summary"]["categories"]}
        assert names[added] in row1[header.index("类别")].split("、")
        assert row2[header.index("牵头科室")] == "安全科"
        page.close()


def test_start_a_new_bureau_from_its_table_and_analyse_a_plan_for_it(browser, server, tmp_path):
    from tests.test_bureaus import OTHER_SECTIONS, other_bureau_table

    table = tmp_path / "去年任务分解.xlsx"
    table.write_bytes(other_bureau_table())
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    page.goto(server + "/")
    page.wait_for_selector("#model-status.ready")
    page.wait_for_selector("#bureau option", state="attached")
    assert page.locator("#bureau").input_value() == "chengde"  # the service's default first
    page.click("#new-bureau summary")
    page.fill("#bureau-name", "网页新区教育局")
    page.set_input_files("#bureau-table", str(table))
    page.click("#create-bureau")
    page.wait_for_selector("#bureau-created:not(.hidden)")
    assert "读入 7 条任务，5 个科室" in page.locator("#bureau-created").inner_text()
    new_id = page.locator("#bureau").input_value()
    assert new_id != "chengde" and "网页新区教育局" in page.locator("#bureau option:checked").inner_text()

    page.fill("#plan-text", SEED_000.read_text(encoding="utf-8"))
    page.click("#submit")
    rows = page.locator("#breakdown tbody tr")
    rows.first.wait_for()
    # seed 000 states 承德's sections; where it states none, the suggestions are the new bureau's
    plan = httpx.post(f"{server}/v1/plans", json={"text": SEED_000.read_text(encoding="utf-8"), "doc": "plan",
                                                   "catalogue": new_id}, timeout=120).json()
    assert plan["catalogue"] == new_id
    suggested = {d["name"] for c in plan["clauses"] for d in c["departments"]}
    assert suggested and suggested <= OTHER_SECTIONS
    # the correction panel offers the new bureau's sections
    rows.nth(0).locator("details.fix summary").click()
    options = rows.nth(0).locator(".editor").inner_text()
    assert all(name in options for name in OTHER_SECTIONS) and "规划财务科" not in options
    page.close()


def test_page_shows_collectives_as_written_and_why_each_section_is_suggested(browser, server):
    text = ("2023年工作要点\n"
            "1.加强校园安全管理,开展防溺水和消防应急演练。\n"
            "2.推进学前教育普及普惠发展,新建公办幼儿园。(责任科室:基础教育科、各科室)\n")
    plan = httpx.post(f"{server}/v1/plans", json={"text": text}, timeout=120).json()
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    rows = analyse(page, server, text)
    suggested = rows.nth(0).locator("td.dept ul.depts").first.locator("li")
    shown = plan["clauses"][0]["lead_departments"] + plan["clauses"][0]["cooperating_departments"]
    assert suggested.count() == len(shown)
    reasons = {d["name"]: d["reasons"][0] for d in plan["clauses"][0]["departments"]}
    prefix = {"history": "相似往年任务：", "category": "负责类别：", "keyword": "提到："}
    for k, name in enumerate(shown):  # every suggested section says why, under its name
        why = suggested.nth(k).locator(".why").inner_text()
        reason = reasons[name]
        assert why.startswith(prefix[reason["kind"]])
        if reason["kind"] == "history":
            assert reason["bureau"] in why and f"第{reason['number']}项" in why
        elif reason["kind"] == "keyword":
            assert reason["keywords"][0] in why
    collective = rows.nth(1).locator("td.dept li.collective")
    assert collective.count() == 1 and collective.inner_text().startswith("各科室")
    page.close()
