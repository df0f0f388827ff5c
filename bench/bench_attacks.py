"""Attack benchmark (issue 20): each hostile request against a real `clausemap serve`, its time and the server's
peak memory.

    .venv/bin/python bench/bench_attacks.py --model /tmp/bench-model [--code /tmp/before] [--json out.json]
        [--markdown out.md] [--only makefile-id,zip-bomb] [--timeout 90] [--mem-cap-gb 6]

For each attack a fresh server (`python -m clausemap serve --model M --port P` on 127.0.0.1, no API key, as
`make run` starts it) runs from `--code` (its tree goes first on PYTHONPATH, and is the working directory, so an
older checkout can be measured with this script) under a hard address-space cap (RLIMIT_AS), with scratch
CLAUSEMAP_CATALOGUES / CLAUSEMAP_BUREAU_HISTORY / CLAUSEMAP_FEEDBACK_DB / CLAUSEMAP_RETRAINED_MODELS folders,
so nothing in the checkout is touched. While the attack runs, /healthz is polled (2 s timeout) and the server's
memory sampled (its VmHWM, and its worker processes' RSS: later code parses uploads in workers); afterwards one
/v1/classify must still answer. Attacks that poison state on disk also restart the server on the same folders
and say whether it comes back. Prints one markdown table; --json writes the rows (--update: into an earlier
run's file); --side-by-side BEFORE.json AFTER.json prints the two runs as one table.

Sizes are scaled down where the undefended code would take minutes; the table names each size.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from serving.launch import free_port  # noqa: E402

PARTY_CLAUSE = "加强党的建设,落实全面从严治党主体责任,推进基层党组织标准化规范化建设。"
CHENGDE_PLAN = "000_ae45951577d4b07b"  # the seed plan the shipped 承德 catalogue lists under `plans`
TABLE_HEADER = ["序号", "工作任务", "牵头科室", "配合科室"]
SECRET_BODY = "INTERNAL-ONLY db_password=hunter2"  # what the foreign "Label Studio" answers with


# --- attack files and bodies (small on disk; big ones streamed) --------------------------------------------------

def breakdown_csv(rows: int = 6, field_chars: int = 0) -> bytes:
    """A breakdown table a bureau could upload; `field_chars` makes the last task that long."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(TABLE_HEADER)
    for i in range(1, rows + 1):
        writer.writerow([i, f"推进第{i}项重点工作,加强党的建设和学校管理。", "党建办" if i % 2 else "基教科", "人事科"])
    if field_chars:
        writer.writerow([rows + 1, "加" * field_chars, "党建办", ""])
    return out.getvalue().encode("utf-8")


def note_flood(repeats: int) -> str:
    """A clause whose tail is `;责任科室:a` many times and then a '(' the trailing-note pattern cannot close."""
    return "一、总体要求\n1. 加强党的建设。" + ";责任科室:a" * repeats + "("


def space_run(spaces: int) -> str:
    """A clause with a run of spaces between Latin letters (no Chinese next to it)."""
    return "一、总体要求\n1. 加强党的建设 a" + " " * spaces + "b。"


def _lines_up_to(head: list[str], line: Callable[[int], str], target_bytes: int) -> str:
    """`head`, then line(1), line(2)… until the text is `target_bytes` of UTF-8."""
    lines, size, i = list(head), 0, 0
    while size < target_bytes:
        i += 1
        lines.append(line(i))
        size += len(lines[-1].encode()) + 1
    return "\n".join(lines)


def dash_bullets(target_bytes: int) -> str:
    """One item with many '- ' bullets under it."""
    return _lines_up_to(["一、总体要求", "1. 加强党的建设。"], lambda i: f"- 第{i}项工作", target_bytes)


TRADITIONAL = "加強黨的建設,全面推進學校教育現代化,落實立德樹人根本任務,健全師資隊伍培訓體系。"


def traditional_plan(target_bytes: int) -> str:
    """Numbered clauses in traditional script (converted to simplified before segmentation)."""
    return _lines_up_to(["一、總體要求"], lambda i: f"{i}. {TRADITIONAL}", target_bytes)


def short_sentence_clauses(clauses: int = 500, sentences: int = 14) -> list[str]:
    """`clauses` clause texts within the per-clause limits, each of `sentences` different sentences of the
    shortest length that is still a sentence of its own (5 characters and ';')."""
    pool = [chr(0x4E00 + i) for i in range(20)]

    def sentence(k: int) -> str:
        return "".join(pool[(k // 20**d) % 20] for d in range(5)) + ";"

    return ["".join(sentence(c * sentences + s) for s in range(sentences)) for c in range(clauses)]


_CONTENT_TYPES = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/'
                  '2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
                  'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override '
                  'PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
                  'wordprocessingml.document.main+xml"/></Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
         'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
         'relationships/officeDocument" Target="word/document.xml"/></Relationships>')
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def docx_zip_bomb(path: Path, xml_bytes: int) -> Path:
    """A .docx whose word/document.xml is `xml_bytes` of paragraphs, streamed into the zip (deflate)."""
    paragraph = b"<w:p><w:r><w:t>x</w:t></w:r></w:p>"  # many small elements: each is a parsed node
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        with zf.open("word/document.xml", "w", force_zip64=True) as member:
            head = f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{_W}"><w:body>'.encode()
            member.write(head)
            written, chunk = len(head), paragraph * 4096
            while written < xml_bytes:
                member.write(chunk)
                written += len(chunk)
            member.write(b"</w:body></w:document>")
    return path


def vmerge_docx(rows: int) -> bytes:
    """A .docx plan table of `rows` rows whose first column is one vertical merge (w:vMerge) over all of them."""
    import docx
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    document = docx.Document()
    document.add_paragraph("一、总体要求")
    table = document.add_table(rows=rows, cols=3)
    for r, row in enumerate(table.rows):
        tcs = row._tr.tc_lst
        merge = OxmlElement("w:vMerge")
        if r == 0:
            merge.set(qn("w:val"), "restart")
        tcs[0].get_or_add_tcPr().append(merge)
        tcs[1].append(_w_paragraph(f"{r + 1}. 推进第{r + 1}项工作。"))
        tcs[2].append(_w_paragraph("党建办"))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _w_paragraph(text: str):
    from docx.oxml import OxmlElement

    p, r, t = OxmlElement("w:p"), OxmlElement("w:r"), OxmlElement("w:t")
    t.text = text
    r.append(t)
    p.append(r)
    return p


def _patched_xlsx(rows: list[list], sheet_edit: Callable[[str], str]) -> bytes:
    """An .xlsx of `rows` (openpyxl), with its sheet XML rewritten by `sheet_edit` (what openpyxl will not write)."""
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    plain = io.BytesIO()
    book.save(plain)
    out = io.BytesIO()
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = sheet_edit(data.decode()).encode()
            dst.writestr(item, data)
    return out.getvalue()


def _table_rows() -> list[list]:
    return [TABLE_HEADER] + [[i, f"推进第{i}项重点工作。", "党建办", "人事科"] for i in (1, 2)]


def xlsx_merge_bomb(ref: str = "A3:XFD1048576") -> bytes:
    """A breakdown-table .xlsx with one merged range `ref` (a few KB)."""
    merge = f'<mergeCells count="1"><mergeCell ref="{ref}"/></mergeCells>'
    return _patched_xlsx(_table_rows(), lambda xml: xml.replace("</sheetData>", "</sheetData>" + merge, 1))


def xlsx_past_last_row(row: int = 1_048_577) -> bytes:
    """A breakdown-table .xlsx with one more task on row `row` (past Excel's last row, 1,048,576)."""
    extra = f'<row r="{row}"><c r="A{row}" t="inlineStr"><is><t>x</t></is></c></row>'
    return _patched_xlsx(_table_rows(), lambda xml: xml.replace("</sheetData>", extra + "</sheetData>", 1))


def xlsx_bad_number() -> bytes:
    """An .xlsx plan whose numeric cell holds text (t="n", <v>abc</v>)."""
    rows = [["一、总体要求"], ["1. 加强党的建设。"], [1]]
    return _patched_xlsx(rows, lambda xml: re.sub(r'(<c r="A3"[^>]*>)<v>1</v>', r"\1<v>abc</v>", xml, count=1))


def html_span_bomb(cells: int = 600, span: int = 500) -> bytes:
    """A page with one table row of `cells` cells, each rowspan=colspan=`span`."""
    header = "<tr>" + "".join(f"<th>{h}</th>" for h in TABLE_HEADER) + "</tr>"
    bomb = f'<td rowspan="{span}" colspan="{span}">x</td>' * cells
    return f"<html><body><table>{header}<tr>{bomb}</tr></table></body></html>".encode()


def many_page_pdf(path: Path, pages: int, lines: int = 40) -> Path:
    """A PDF of `pages` full pages: a numbered clause, then `lines` lines of its text (reportlab's built-in CJK
    font; page streams compressed, so it stays small on disk)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path), pageCompression=1)
    for page in range(1, pages + 1):
        pdf.setFont("STSong-Light", 10)
        pdf.drawString(50, 790, f"{page}. 推进第{page}项重点工作,加强党的建设。")
        for line in range(lines):
            pdf.drawString(50, 770 - 18 * line, "落实立德树人根本任务,健全师资队伍培训体系,推进学校教育现代化。")
        pdf.showPage()
    pdf.save()
    return path


# --- the server under test -----------------------------------------------------------------------------------------

@dataclass
class Server:
    """One `clausemap serve` process from `code`, on scratch folders, under an address-space cap."""

    code: Path
    model: Path
    scratch: Path
    cap_bytes: int
    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("CLAUSEMAP_", "LABEL_STUDIO_")) and k != "PYTHONPATH"}
        return env | {
            "PYTHONPATH": str(self.code),
            "CLAUSEMAP_CATALOGUES": str(self.scratch / "catalogues"),
            "CLAUSEMAP_BUREAU_HISTORY": str(self.scratch / "history"),
            "CLAUSEMAP_FEEDBACK_DB": str(self.scratch / "feedback.sqlite"),
            "CLAUSEMAP_RETRAINED_MODELS": str(self.scratch / "retrained"),
            "CLAUSEMAP_CACHE": str(self.scratch / "cache"),
            "CLAUSEMAP_LS_CONFIG": str(self.scratch / "no-label-studio.yaml"),
        }

    def start(self, ready_timeout_s: float = 300) -> str:
        """'' once /readyz answers 200, else why not (the service is then left stopped)."""
        self.port = free_port()
        cap = self.cap_bytes

        def limit():
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

        log = (self.scratch / "serve.log").open("ab")
        command = [sys.executable, "-m", "clausemap", "serve", "--model", str(self.model), "--host", "127.0.0.1",
                   "--port", str(self.port), "--log-level", "warning"]
        self.process = subprocess.Popen(command, cwd=self.code, env=self.env(), stdout=log, stderr=log,
                                        preexec_fn=limit)
        deadline, last = time.monotonic() + ready_timeout_s, "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                lines = (self.scratch / "serve.log").read_text(errors="replace").strip().splitlines() or [""]
                return f"exited with {self.process.returncode}: {lines[-1][:160]}"
            try:
                response = httpx.get(f"{self.base}/readyz", timeout=5)
                if response.status_code == 200:
                    return ""
                if '"failed"' in response.text:  # the model will not load: no point waiting
                    self.stop()
                    return f"/readyz {response.status_code}: {response.text[:160]}"
                last = f"/readyz {response.status_code}: {response.text[:160]}"
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        self.stop()
        return f"not ready in {ready_timeout_s:.0f} s ({last})"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def died(self) -> str:
        code = self.process.returncode if self.process else None
        return f"server died (signal {-code})" if code is not None and code < 0 else f"server died (exit {code})"

    def peak_mib(self) -> float | None:
        """The server process's own VmHWM."""
        return _status_mib(self.process.pid, "VmHWM") if self.process else None

    def workers_rss_mib(self) -> tuple[int, float]:
        """(how many, summed VmRSS) of the server's descendants now: parser worker processes, where there are."""
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
        found, frontier = [], [self.process.pid] if self.process else []
        while frontier:
            children = [pid for pid, parent in parents.items() if parent in frontier]
            found += children
            frontier = children
        return len(found), sum(_status_mib(pid, "VmRSS") or 0.0 for pid in found)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _status_mib(pid: int, key: str) -> float | None:
    try:
        found = re.search(rf"{key}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return None
    return int(found.group(1)) / 1024 if found else None


class Watch:
    """While an attack runs, every 0.2 s: the server's VmHWM, and the summed VmRSS of the server and its worker
    processes (uploads are parsed in workers where the code has them); /healthz polled every 0.5 s, 2 s timeout."""

    def __init__(self, server: Server):
        self.server, self.peak = server, server.peak_mib() or 0.0
        self.workers_peak, self.workers_seen = 0.0, 0
        self.polls, self.missed, self.slowest = 0, 0, 0.0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._sample, daemon=True),
                         threading.Thread(target=self._health, daemon=True)]

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._take_sample()

    def _sample(self):
        while not self._stop.wait(0.2):
            self._take_sample()

    def _take_sample(self):
        own = self.server.peak_mib() or 0.0
        count, workers = self.server.workers_rss_mib()
        rss = _status_mib(self.server.process.pid, "VmRSS") or 0.0
        self.workers_seen = max(self.workers_seen, count)
        self.workers_peak = max(self.workers_peak, workers)
        self.peak = max(self.peak, own, rss + workers)

    def _health(self):
        with httpx.Client(timeout=2) as client:
            while not self._stop.is_set():
                start = time.perf_counter()
                try:
                    ok = client.get(f"{self.server.base}/healthz").status_code == 200
                except httpx.HTTPError:
                    ok = False
                took = time.perf_counter() - start
                self.polls += 1
                self.missed += not ok
                self.slowest = max(self.slowest, took)
                self._stop.wait(max(0.0, 0.5 - took))

    def health(self) -> str:
        if not self.polls:
            return "n/a"
        if self.missed:
            return f"no answer in 2 s: {self.missed} of {self.polls} polls"
        return f"ok ({self.polls} polls, slowest {self.slowest:.2f} s)"


# --- the attacks ---------------------------------------------------------------------------------------------------

@dataclass
class Context:
    """What an attack gets: the running server, a client with the attack's timeout, its scratch folder."""

    server: Server
    client: httpx.Client
    scratch: Path
    timeout: float
    code: Path

    def post(self, path: str, **kwargs) -> httpx.Response:
        return self.client.post(path, **kwargs)

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.client.get(path, **kwargs)

    def labels(self, text: str = PARTY_CLAUSE) -> str:
        response = self.post("/v1/classify", json={"clauses": [text]}, timeout=30)
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        return ",".join(response.json()["results"][0]["labels"]) or "(none)"


@dataclass
class Outcome:
    status: str
    note: str = ""


@dataclass
class Attack:
    name: str
    issue_list: str  # which list of issue 20 it is from
    size: str
    run: Callable[[Context], Outcome]
    restart_check: bool = False  # poisons state on disk: does a restarted service come back?
    timeout: float | None = None  # overrides --timeout (e.g. a retrain that must finish)
    prepare: Callable[[Path], object] | None = None  # builds a big file in the scratch folder, before the clock


def _status(response: httpx.Response) -> str:
    detail = ""
    try:
        body = response.json()
        detail = body.get("detail") if isinstance(body, dict) else ""
        if isinstance(detail, list):
            detail = detail[0].get("msg", "") if detail and isinstance(detail[0], dict) else str(detail)
    except ValueError:
        detail = response.text if response.status_code >= 400 else ""
    detail = " ".join(str(detail or "").split())
    return f"{response.status_code}" + (f" {detail[:90]}" if detail else "")


def _upload_table(ctx: Context, filename: str, data: bytes, bureau: str = "攻击局", catalogue_id: str | None = None,
                  headers: dict | None = None) -> httpx.Response:
    fields = {"bureau": bureau} | ({"id": catalogue_id} if catalogue_id else {})
    return ctx.post("/v1/catalogues", files={"file": (filename, data)}, data=fields, headers=headers or {})


def _upload_plan(ctx: Context, filename: str, data: bytes, **params) -> httpx.Response:
    return ctx.post("/v1/plans", files={"file": (filename, data)}, params=params)


def _listing(ctx: Context) -> tuple[str, dict[str, int]]:
    """(status of GET /v1/catalogues, id -> history count)."""
    response = ctx.get("/v1/catalogues", timeout=30)
    if response.status_code != 200:
        return _status(response), {}
    return "200", {c["id"]: c["history"] for c in response.json()["catalogues"]}


def attack_makefile_id(ctx: Context) -> Outcome:
    response = _upload_table(ctx, "t.csv", breakdown_csv(), catalogue_id="Makefile")
    written = (ctx.scratch / "catalogues" / "Makefile.yaml").exists()
    listing, _ = _listing(ctx)
    return Outcome(_status(response), f"Makefile.yaml written: {'yes' if written else 'no'}; listing: {listing[:60]}")


def attack_broken_catalogue(ctx: Context) -> Outcome:
    folder = ctx.scratch / "catalogues"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "broken.yaml").write_text("bureau: x\ndepartments: [\n", encoding="utf-8")
    response = ctx.get("/v1/catalogues", timeout=30)
    if response.status_code != 200:
        return Outcome(_status(response), "no bureau listed")
    body = response.json()
    return Outcome("200", f"bureaus listed: {len(body['catalogues'])}, unavailable: {len(body.get('unavailable', []))}")


def attack_concurrent_create(ctx: Context) -> Outcome:
    data = breakdown_csv()
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda _: _upload_table(ctx, "t.csv", data, catalogue_id="race").status_code,
                              range(16)))
    counts = {code: codes.count(code) for code in sorted(set(codes))}
    _, ids = _listing(ctx)
    return Outcome(", ".join(f"{n}× {code}" for code, n in counts.items()), f"bureaus listed: {len(ids)}")


class _FakeStudio(BaseHTTPRequestHandler):
    """A foreign "Label Studio": project 1's export relabels the party-building rows as preschool; project 2
    answers every request with an internal error page."""

    export: bytes = b"[]"
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        type(self).requests.append(self.path)
        if self.path.startswith("/api/projects/1/export"):
            self._send(200, self.export, "application/json")
        else:
            self._send(500, SECRET_BODY.encode(), "text/plain")

    def _send(self, code: int, body: bytes, kind: str):
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def poisoned_export(dataset: Path, relabel_as: str = "preschool") -> list[dict]:
    """Label Studio export tasks that relabel every party-building-only row of the dataset as `relabel_as`."""
    tasks = []
    for line in dataset.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("categories") == ["party_building"]:
            result = [{"from_name": "categories", "to_name": "text", "type": "choices",
                       "value": {"choices": [relabel_as]}}]
            data = {"clause_id": row["id"], "doc": row["doc"], "text": row["text"]}
            tasks.append({"id": len(tasks) + 1, "data": data,
                          "annotations": [{"id": 1, "result": result, "created_at": "2026-01-01T00:00:00"}]})
    return tasks


def _fake_studio() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeStudio)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _retrain_via(ctx: Context, project: int) -> tuple[str, dict]:
    """/setup pointing at the fake Label Studio, then /webhook START_TRAINING; (statuses, last job state)."""
    studio = _fake_studio()
    try:
        host = f"http://127.0.0.1:{studio.server_address[1]}"
        setup = ctx.post("/setup", json={"project": f"{project}.1700000000", "hostname": host, "access_token": "x"})
        hook = ctx.post("/webhook", json={"action": "START_TRAINING", "project": project})
        statuses = f"setup {setup.status_code}, webhook {hook.status_code}"
        job_id = hook.json().get("job") if hook.status_code == 200 else None
        job: dict = {}
        deadline = time.monotonic() + ctx.timeout
        while job_id and time.monotonic() < deadline:
            response = ctx.get(f"/webhook/jobs/{job_id}", timeout=10)
            job = response.json() if response.status_code == 200 else {"status": f"HTTP {response.status_code}"}
            if job.get("status") not in ("queued", "running"):
                break
            time.sleep(1)
        return statuses, job
    finally:
        studio.shutdown()


def attack_foreign_studio_retrain(ctx: Context) -> Outcome:
    _FakeStudio.export = json.dumps(poisoned_export(ctx.code / "data" / "dataset.jsonl"), ensure_ascii=False).encode()
    _FakeStudio.requests = []
    before = ctx.labels()
    statuses, job = _retrain_via(ctx, 1)
    after = ctx.labels()
    return Outcome(f"{statuses}, job {job.get('status', 'none')}",
                   f"'{PARTY_CLAUSE[:6]}…' {before} → {after}; fake LS got {len(_FakeStudio.requests)} requests")


def attack_ssrf_echo(ctx: Context) -> Outcome:
    _FakeStudio.requests = []
    statuses, job = _retrain_via(ctx, 2)
    echoed = SECRET_BODY in json.dumps(job, ensure_ascii=False)
    return Outcome(f"{statuses}, job {job.get('status', 'none')}",
                   f"fake LS got {len(_FakeStudio.requests)} requests; "
                   f"its error body echoed: {'yes' if echoed else 'no'}")


def attack_cross_origin(ctx: Context) -> Outcome:
    headers = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Referer": "https://evil.example/"}
    response = _upload_table(ctx, "t.csv", breakdown_csv(), catalogue_id="csrf", headers=headers)
    _, ids = _listing(ctx)
    return Outcome(_status(response), f"bureau 'csrf' created: {'yes' if 'csrf' in ids else 'no'}")


def attack_history_takeover(ctx: Context) -> Outcome:
    _, before = _listing(ctx)
    response = _upload_table(ctx, f"{CHENGDE_PLAN}.csv", breakdown_csv(), catalogue_id="zz-takeover")
    _, after = _listing(ctx)
    return Outcome(_status(response), f"chengde history {before.get('chengde', '?')} → {after.get('chengde', '?')}")


def _plan_text(text: str) -> Callable[[Context], Outcome]:
    def run(ctx: Context) -> Outcome:
        return Outcome(_status(ctx.post("/v1/plans", json={"text": text, "doc": "attack"})))
    return run


def attack_short_sentences(ctx: Context) -> Outcome:
    return Outcome(_status(ctx.post("/v1/classify", json={"clauses": short_sentence_clauses()})))


def _upload(filename: str, build: Callable[[], bytes], route: str = "plans") -> Callable[[Context], Outcome]:
    def run(ctx: Context) -> Outcome:
        data = build()
        send = _upload_plan if route == "plans" else _upload_table
        return Outcome(_status(send(ctx, filename, data)))
    return run


def _send_file(filename: str) -> Callable[[Context], Outcome]:
    """Upload the plan file the attack's `prepare` built in the scratch folder."""
    def run(ctx: Context) -> Outcome:
        return Outcome(_status(_upload_plan(ctx, filename, (ctx.scratch / filename).read_bytes())))
    return run


def attack_formula_export(ctx: Context) -> Outcome:
    from openpyxl import load_workbook

    # The plan's own note names the sections: they land at the start of the 牵头/配合 cells.
    text = '一、总体要求\n1. 加强党的建设。(牵头科室:=HYPERLINK("http://evil.example","点击");配合科室:+1+1、@SUM(A1))'
    xlsx = ctx.post("/v1/plans", params={"format": "xlsx"}, json={"text": text, "doc": "attack"})
    csv_response = ctx.post("/v1/plans", params={"format": "csv"}, json={"text": text, "doc": "attack"})
    formulas = open_cells = "n/a"
    if xlsx.status_code == 200:
        book = load_workbook(io.BytesIO(xlsx.content))
        formulas = str(sum(cell.data_type == "f" for sheet in book.worksheets for row in sheet.iter_rows()
                           for cell in row))
    if csv_response.status_code == 200:
        rows = csv.reader(io.StringIO(csv_response.content.decode("utf-8-sig")))
        open_cells = str(sum(cell[:1] in ("=", "+", "-", "@") for row in rows for cell in row))
    return Outcome(f"xlsx {xlsx.status_code}, csv {csv_response.status_code}",
                   f"formula cells in xlsx: {formulas}; csv cells opening with = + - @: {open_cells}")


def attack_lone_surrogate(ctx: Context) -> Outcome:
    bodies = {"/v1/classify": rb'{"clauses": ["\ud800"]}',
              "/predict": rb'{"tasks": [{"data": {"text": "\ud800"}}]}',
              "/setup": rb'{"project": "1.1", "schema": "\ud800"}'}
    codes = []
    for path, body in bodies.items():
        try:
            response = ctx.post(path, content=body, headers={"Content-Type": "application/json"})
            codes.append(f"{path} {response.status_code}")
        except httpx.TransportError as exc:
            codes.append(f"{path} connection dropped ({type(exc).__name__})")
    return Outcome(", ".join(codes))


def attack_long_id(ctx: Context) -> Outcome:
    return Outcome(_status(_upload_table(ctx, "t.csv", breakdown_csv(), catalogue_id="a" * 300)))


def attack_big_correction(ctx: Context) -> Outcome:
    big = "加" * (3 * 1024 * 1024)  # 9 MB of UTF-8
    correction = {"text": "加强党的建设。", "categories": ["party_building"], "doc": big}
    response = ctx.post("/v1/feedback", json={"corrections": [correction]})
    size = sum(p.stat().st_size for p in ctx.scratch.glob("feedback.sqlite*"))
    return Outcome(_status(response), f"feedback database {size / 1e6:.1f} MB afterwards")


ATTACKS = [
    Attack("makefile-id", "take-down", "id=Makefile, 6-row csv", attack_makefile_id, restart_check=True),
    Attack("broken-catalogue", "take-down", "1 unparsable yaml in the catalogue folder, then a listing",
           attack_broken_catalogue, restart_check=True),
    Attack("concurrent-create", "take-down", "16 parallel creates of one id", attack_concurrent_create),
    Attack("foreign-studio-retrain", "takeover", "/setup to a fake LS on 127.0.0.1 + START_TRAINING",
           attack_foreign_studio_retrain, timeout=420),
    Attack("ssrf-echo", "takeover", "/setup + START_TRAINING, fake LS answers 500", attack_ssrf_echo),
    Attack("cross-origin-post", "takeover", "multipart POST /v1/catalogues, Origin evil.example",
           attack_cross_origin),
    Attack("history-takeover", "takeover", f"table named {CHENGDE_PLAN}.csv", attack_history_takeover),
    Attack("note-flood", "freeze", "90 KB of ';责任科室:a' (issue: 180 KB)", _plan_text(note_flood(6_000))),
    Attack("space-run", "freeze", "30k spaces (issue: 60k)", _plan_text(space_run(30_000))),
    Attack("dash-bullets", "freeze", "0.3 MB of dash bullets (issue: 0.5 MB)", _plan_text(dash_bullets(300_000))),
    Attack("traditional-text", "freeze", "2 MB traditional plan (issue: 10 MB)",
           _plan_text(traditional_plan(2_000_000))),
    Attack("short-sentences", "memory", "500 clauses × 14 distinct 6-char sentences, 113 KB /v1/classify",
           attack_short_sentences),
    Attack("docx-zip-bomb", "no budget", "docx, 40 MB document.xml of 1-char paragraphs (issue: 200 MB)",
           _send_file("bomb.docx"), prepare=lambda folder: docx_zip_bomb(folder / "bomb.docx", 40_000_000)),
    Attack("xlsx-merge-bomb", "no budget", "table xlsx, merge A3:XFD1048576",
           _upload("merge.xlsx", xlsx_merge_bomb, route="catalogues")),
    Attack("html-span-bomb", "no budget", "table html, 600 cells rowspan=colspan=500",
           _upload("spans.html", html_span_bomb, route="catalogues")),
    Attack("pdf-pages", "no budget", "1,500-page pdf plan, 40 lines a page (1.3 MB)",
           _send_file("pages.pdf"), prepare=lambda folder: many_page_pdf(folder / "pages.pdf", 1500)),
    Attack("docx-vmerge", "no budget", "docx plan, 500-row vMerge (issue: 1,000)",
           _upload("vmerge.docx", lambda: vmerge_docx(500))),
    Attack("formula-export", "exports", "3 clauses opening = + @, xlsx and csv", attack_formula_export),
    Attack("meta-charset", "500s", '<meta charset="undefined"> html plan',
           _upload("plan.html", lambda: b'<html><head><meta charset="undefined"></head><p>1. x</p></html>')),
    Attack("xlsx-bad-number", "500s", "xlsx plan, numeric cell holding 'abc'", _upload("plan.xlsx", xlsx_bad_number)),
    Attack("csv-long-field", "500s", "table csv, one 140k-char field",
           _upload("t.csv", lambda: breakdown_csv(field_chars=140_000), route="catalogues")),
    Attack("xlsx-row-1048577", "500s", "table xlsx, a cell on row 1,048,577",
           _upload("rows.xlsx", xlsx_past_last_row, route="catalogues")),
    Attack("lone-surrogate", "500s", "JSON '\\ud800' to 3 routes", attack_lone_surrogate),
    Attack("long-catalogue-id", "500s", "300-char id", attack_long_id),
    Attack("big-correction", "no limit", "9 MB doc field in /v1/feedback", attack_big_correction),
]


# --- running and reporting -----------------------------------------------------------------------------------------

@dataclass
class Row:
    attack: str
    list: str
    size: str
    status: str
    seconds: float | None
    peak_mib: float | None
    idle_mib: float | None
    healthz: str
    classify_after: str
    note: str
    load_1min: float
    restart: str = ""
    extra: dict = field(default_factory=dict)


def classify_after(server: Server) -> str:
    if not server.alive():
        return server.died()
    try:
        response = httpx.post(f"{server.base}/v1/classify", json={"clauses": [PARTY_CLAUSE]}, timeout=15)
    except httpx.TimeoutException:
        return "no answer in 15 s"
    except httpx.TransportError as exc:
        return f"no answer ({type(exc).__name__})"
    return "ok" if response.status_code == 200 else f"HTTP {response.status_code}"


def run_attack(attack: Attack, args) -> Row:
    scratch = Path(tempfile.mkdtemp(prefix=f"bench-attack-{attack.name}-"))
    if attack.prepare:
        attack.prepare(scratch)
    server = Server(args.code, args.model, scratch, int(args.mem_cap_gb * 2**30))
    load = os.getloadavg()[0]
    problem = server.start()
    if problem:
        shutil.rmtree(scratch, ignore_errors=True)
        return Row(attack.name, attack.issue_list, attack.size, f"server did not start: {problem}", None, None,
                   None, "n/a", "n/a", "", load)
    timeout = attack.timeout or args.timeout
    idle = (server.peak_mib() or 0.0) + server.workers_rss_mib()[1]
    status, note, seconds = "", "", None
    try:
        with httpx.Client(base_url=server.base, timeout=timeout) as client, Watch(server) as watch:
            ctx = Context(server, client, scratch, timeout, args.code)
            start = time.perf_counter()
            try:
                outcome = attack.run(ctx)
                status, note = outcome.status, outcome.note
            except httpx.TimeoutException:
                status = f"no answer in {timeout:.0f} s"
            except httpx.TransportError as exc:
                time.sleep(0.5)
                status = server.died() if not server.alive() else f"connection dropped ({type(exc).__name__})"
            except Exception as exc:  # an answer the attack did not expect: report it, go on with the next
                status = f"bench error: {type(exc).__name__}: {exc}"[:160]
            seconds = time.perf_counter() - start
        after = classify_after(server)
        restart = restart_check(server) if attack.restart_check else ""
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    extra = {"workers": f"{watch.workers_seen} worker processes, their RSS up to {watch.workers_peak:.0f} MiB "
                        "(in the peak)"} if watch.workers_seen else {}
    return Row(attack.name, attack.issue_list, attack.size, status, seconds, watch.peak, idle, watch.health(), after,
               note, load, restart, extra)


def restart_check(server: Server) -> str:
    """Restart on the same folders: does the service become ready and classify?"""
    server.stop()
    problem = server.start(ready_timeout_s=90)
    if problem:
        return f"restart: {problem}"
    return f"restart: ready, classify {classify_after(server)}"


def code_identity(code: Path) -> str:
    """The commit of `code` (and how many files differ from it), and where the server's imports resolve."""
    def git(*argv):
        return subprocess.run(["git", "-C", str(code), *argv], capture_output=True, text=True).stdout.strip()

    dirty = len([line for line in git("status", "--porcelain", "--untracked-files=no").splitlines() if line])
    resolved = subprocess.run(
        [sys.executable, "-c", "import clausemap, serving; print(clausemap.__file__, serving.__file__)"],
        cwd=code, env={**os.environ, "PYTHONPATH": str(code)}, capture_output=True, text=True,
    ).stdout.strip()
    if not all(path.startswith(str(code.resolve())) for path in resolved.split()):
        sys.exit(f"the server would not run the code in {code}: imports resolve to {resolved}")
    return (f"commit {git('rev-parse', '--short', 'HEAD')}" + (f" + {dirty} uncommitted files" if dirty else "")
            + f"; imports resolve to {resolved.split()[0].rsplit('/', 2)[0]}")


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    memory = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1)) / 2**20
    return f"{cpu}, {len(os.sched_getaffinity(0))} cores, {memory:.0f} GiB RAM, Python {platform.python_version()}"


def model_version(model: Path) -> str:
    try:
        meta = json.loads((model / "clausemap.json").read_text(encoding="utf-8"))
        return str(meta.get("model_version") or meta.get("version") or "?")
    except (OSError, ValueError):
        return "?"


def _cell(value: str) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown(rows: list[Row], header: list[str]) -> str:
    lines = [*header, "",
             "| attack | size | status | time s | peak RSS MiB (idle) | /healthz during | classify after | notes |",
             "|---|---|---|---:|---:|---|---|---|"]
    for r in rows:
        seconds = f"{r.seconds:.1f}" if r.seconds is not None else "n/a"
        peak = f"{r.peak_mib:.0f} ({r.idle_mib:.0f})" if r.peak_mib and r.idle_mib else "n/a"
        notes = "; ".join(x for x in (r.note, r.restart, r.extra.get("workers"), f"load {r.load_1min:.2f}") if x)
        lines.append("| " + " | ".join(_cell(x) for x in (r.attack, r.size, r.status, seconds, peak, r.healthz,
                                                              r.classify_after, notes)) + " |")
    return "\n".join(lines) + "\n"


def side_by_side(before: list[dict], after: list[dict]) -> str:
    """One table from two --json runs: each attack's status, time, peak RSS and /healthz before and after."""
    def brief(row: dict | None) -> list[str]:
        if row is None:
            return ["not run", "", "", ""]
        seconds = f"{row['seconds']:.1f}" if row["seconds"] is not None else "n/a"
        health = "ok" if row["healthz"].startswith("ok") else row["healthz"].replace("no answer in 2 s: ", "missed ")
        return [row["status"][:60], seconds, f"{row['peak_mib']:.0f}" if row["peak_mib"] else "n/a", health]

    def effect(row: dict | None) -> str:
        text = "; ".join(filter(None, [row["note"], row["restart"]])) if row else ""
        return text[:117] + "…" if len(text) > 120 else text

    later = {row["attack"]: row for row in after}
    lines = ["| attack | size | before: status | s | peak MiB | /healthz | after: status | s | peak MiB | /healthz "
             "| effect before → after |",
             "|---|---|---|---:|---:|---|---|---:|---:|---|---|"]
    for row in before + [r for r in after if r["attack"] not in {b["attack"] for b in before}]:
        first = row if row in before else None
        second = later.get(row["attack"])
        effects = [effect(first), effect(second)]
        cells = [row["attack"], row["size"], *brief(first), *brief(second),
                 " → ".join(effects) if any(effects) else ""]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="model artifact the server loads (required to run)")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout the server runs (default: this one)")
    parser.add_argument("--timeout", type=float, default=90, help="seconds an attack may take (default 90)")
    parser.add_argument("--mem-cap-gb", type=float, default=6, help="the server's RLIMIT_AS in GiB (default 6)")
    parser.add_argument("--only", default="", help="comma-separated attack names (default: all)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--markdown", type=Path, help="also write the table (with its header) here")
    parser.add_argument("--update", action="store_true",
                        help="with --json: keep that file's rows of the attacks not run now, and write the table "
                             "of them all")
    parser.add_argument("--side-by-side", nargs=2, type=Path, metavar=("BEFORE", "AFTER"),
                        help="print one table from two --json files instead of running")
    args = parser.parse_args(argv)
    if args.side_by_side:
        before, after = (json.loads(p.read_text(encoding="utf-8"))["rows"] for p in args.side_by_side)
        print(side_by_side(before, after), end="")
        return 0
    if args.model is None:
        parser.error("--model is required to run the attacks")
    args.code, args.model = args.code.resolve(), args.model.resolve()
    chosen = [a for a in ATTACKS if not args.only or a.name in args.only.split(",")]
    unknown = set(filter(None, args.only.split(","))) - {a.name for a in ATTACKS}
    if unknown:
        parser.error(f"unknown attacks: {', '.join(sorted(unknown))}; known: {', '.join(a.name for a in ATTACKS)}")
    header = [
        f"Attack benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        f"- code: {args.code} ({code_identity(args.code)})",
        f"- model: {args.model} ({model_version(args.model)})",
        f"- machine: {machine()}; load average at start {' / '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"- server: fresh `clausemap serve` per attack, RLIMIT_AS {args.mem_cap_gb:g} GiB, no API key; "
        f"timeout {args.timeout:.0f} s per attack unless the row says otherwise",
        "- peak RSS: the larger of the server's VmHWM and its VmRSS plus its worker processes' VmRSS (sampled "
        "every 0.2 s); idle: the same once ready; /healthz polled every 0.5 s with a 2 s timeout",
    ]
    print("\n".join(header), flush=True)
    rows = []
    for attack in chosen:
        row = run_attack(attack, args)
        rows.append(row)
        print(f"  {row.attack}: {row.status} in {row.seconds or 0:.1f} s, peak {row.peak_mib or 0:.0f} MiB, "
              f"healthz {row.healthz}, classify {row.classify_after} {row.note} {row.restart}", flush=True)
    if args.update and args.json and args.json.is_file():
        earlier = json.loads(args.json.read_text(encoding="utf-8"))
        header = earlier["header"] + [f"- re-run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC (load "
                                      f"{os.getloadavg()[0]:.2f}): {', '.join(r.attack for r in rows)}"]
        fresh = {r.attack: r for r in rows}
        kept = [Row(**r) for r in earlier["rows"] if r["attack"] not in fresh]
        order = [a.name for a in ATTACKS]
        rows = sorted(kept + rows, key=lambda r: order.index(r.attack) if r.attack in order else len(order))
    table = markdown(rows, header)
    print(table)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table, encoding="utf-8")
    if args.json:
        rows_json = [asdict(r) for r in rows]
        args.json.write_text(json.dumps({"header": header, "rows": rows_json}, ensure_ascii=False, indent=1),
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
