// The task-breakdown page: send a plan to /v1/plans, draw the table, download the XLSX/CSV export.
"use strict";

const $ = (id) => document.getElementById(id);

// Staff corrections not saved yet: clause id -> {clause, categories, lead, cooperating}.
const edits = new Map();
let sections = [];   // section names of the shown plan's catalogue, for the section pickers
let sectionsOf = null;  // ... and that catalogue's id
let categoryNames = {};
let shownPlan = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "style") node.style.cssText = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

// Category colours come from the order of the taxonomy the server reports; nothing is listed here.
function categoryColour(index, count) {
  const hue = Math.round((index * 360) / Math.max(count, 1));
  return `color: hsl(${hue} 60% 32%); background: hsl(${hue} 70% 95%); border-color: hsl(${hue} 45% 70%)`;
}

function headers(extra = {}) {
  const key = $("api-key").value.trim();
  return key ? { ...extra, "X-API-Key": key } : extra;
}

// The chosen bureau's catalogue id ("" until the list has loaded: the service's default).
function bureau() {
  return $("bureau").value;
}

// The request for the current input: the chosen file if any, else the pasted text; for the chosen bureau.
function planRequest(format) {
  const url = format ? `/v1/plans?format=${format}` : "/v1/plans";
  const file = $("plan-file").files[0];
  if (file) {
    const form = new FormData();
    form.append("file", file);
    if (bureau()) form.append("catalogue", bureau());
    return fetch(url, { method: "POST", headers: headers(), body: form });
  }
  const text = $("plan-text").value;
  if (!text.trim()) return Promise.reject(new Error("请粘贴工作要点全文或选择文件"));
  return fetch(url, {
    method: "POST",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify({ text, doc: "plan", ...(bureau() ? { catalogue: bureau() } : {}) }),
  });
}

// The bureaus the service knows, into the picker; `select` picks one (a bureau just created).
async function loadBureaus(select) {
  const response = await fetch("/v1/catalogues", { headers: headers() });
  if (!response.ok) throw await failure(response);
  const picker = $("bureau");
  const chosen = select || picker.value;
  picker.replaceChildren(...(await response.json()).catalogues.map((c) =>
    el("option", { value: c.id }, `${c.bureau}（${c.sections} 个科室，${c.history} 条历史任务）`)));
  if (chosen) picker.value = chosen;
}

async function createBureau(event) {
  event.preventDefault();
  $("error").classList.add("hidden");
  const form = new FormData();
  form.append("bureau", $("bureau-name").value.trim());
  form.append("file", $("bureau-table").files[0]);
  $("create-bureau").disabled = true;
  try {
    const response = await fetch("/v1/catalogues", { method: "POST", headers: headers(), body: form });
    if (!response.ok) throw await failure(response);
    const created = await response.json();
    await loadBureaus(created.id);
    changeBureau();
    $("bureau-created").textContent = `已创建 ${created.bureau}：读入 ${created.tasks} 条任务，${created.sections} 个科室` +
      `（${created.departments.map((d) => d.name).join("、")}）。科室目录可在 labels/catalogues/${created.id}.yaml 中修改。`;
    $("bureau-created").classList.remove("hidden");
  } catch (error) {
    showError(error);
  } finally {
    $("create-bureau").disabled = false;
  }
}

// Another bureau: the shown table no longer answers the request.
function changeBureau() {
  setDownloads(false);
}

async function failure(response) {
  if (response.status === 401) $("api-key-row").classList.remove("hidden");
  let detail = response.statusText;
  try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
  return new Error(`${response.status}: ${detail}`);
}

function showError(error) {
  $("error").textContent = error.message;
  $("error").classList.remove("hidden");
}

async function analyse(event) {
  event.preventDefault();
  if (edits.size && !confirm(`有 ${edits.size} 条未保存的更正，重新分析将丢弃它们。继续吗？`)) return;
  edits.clear();
  updateSaveButton();
  $("error").classList.add("hidden");
  $("busy").classList.remove("hidden");
  $("submit").disabled = true;
  try {
    const response = await planRequest();
    if (!response.ok) throw await failure(response);
    render(await response.json());
  } catch (error) {
    // A table left from an earlier plan would read as the answer to this one.
    $("result").classList.add("hidden");
    setDownloads(false);
    showError(error);
  } finally {
    $("busy").classList.add("hidden");
    $("submit").disabled = false;
  }
}

async function download(format) {
  $("error").classList.add("hidden");
  try {
    const response = await planRequest(format);
    if (!response.ok) throw await failure(response);
    const disposition = response.headers.get("Content-Disposition") || "";
    const match = /filename\*=UTF-8''([^;]+)/.exec(disposition);
    const link = el("a", {
      href: URL.createObjectURL(await response.blob()),
      download: match ? decodeURIComponent(match[1]) : `breakdown.${format}`,
    });
    document.body.append(link);
    link.click();
    link.remove();
  } catch (error) {
    showError(error);
  }
}

// A chip per assigned category. Hovering or focusing it highlights the sentence(s) that decided it in the
// clause text; clicking pins the highlight and lists the sentences with their scores under the chips.
function chips(clause, colours, row) {
  return clause.categories
    .filter((c) => c.assigned)
    .map((c) => {
      const lines = c.evidence.map((e) => `${e.score.toFixed(2)}  ${e.text}`);
      const chip = el("span", {
        class: "chip", style: colours[c.id], tabindex: "0", "data-cat": c.id,
        title: `${c.name} 得分 ${c.score.toFixed(2)}` + (lines.length ? `\n依据：\n${lines.join("\n")}` : ""),
      }, c.name, el("span", { class: "score" }, c.score.toFixed(2)));
      chip.addEventListener("mouseenter", () => highlight(row, c.id));
      chip.addEventListener("focus", () => highlight(row, c.id));
      chip.addEventListener("mouseleave", () => highlight(row, row.dataset.pinned || null));
      chip.addEventListener("blur", () => highlight(row, row.dataset.pinned || null));
      chip.addEventListener("click", () => pin(row, c));
      return chip;
    });
}

// The clause text with each evidence sentence wrapped in a <mark> naming the categories it supports.
function clauseText(clause) {
  const spans = new Map();
  for (const category of clause.categories) {
    for (const e of category.evidence) {
      const key = `${e.start}:${e.end}`;
      if (!spans.has(key)) spans.set(key, { start: e.start, end: e.end, cats: [] });
      spans.get(key).cats.push(category.id);
    }
  }
  const parts = [];
  let at = 0;
  for (const span of [...spans.values()].sort((a, b) => a.start - b.start)) {
    if (span.start < at) continue;  // overlapping evidence cannot come from one split; keep the first
    parts.push(clause.text.slice(at, span.start));
    parts.push(el("mark", { class: "ev", "data-cats": span.cats.join(" ") }, clause.text.slice(span.start, span.end)));
    at = span.end;
  }
  parts.push(clause.text.slice(at));
  return el("p", { class: "clause-text" }, ...parts);
}

function highlight(row, category) {
  if (category) row.querySelector("td.clause details").open = true;
  for (const mark of row.querySelectorAll("mark.ev")) {
    mark.classList.toggle("hl", Boolean(category) && mark.dataset.cats.split(" ").includes(category));
  }
}

function pin(row, category) {
  const panel = row.querySelector(".evidence");
  if (row.dataset.pinned === category.id) {
    delete row.dataset.pinned;
    panel.replaceChildren();
    highlight(row, null);
    return;
  }
  row.dataset.pinned = category.id;
  panel.replaceChildren(el("b", {}, `${category.name} 依据`), ...category.evidence.map((e) =>
    el("div", {}, el("span", { class: "score" }, e.score.toFixed(2)), " ", e.text)));
  highlight(row, category.id);
}

// Why a section is suggested, in words a planning officer reads: the past task, the category, the keyword.
function reasonText(reason) {
  if (reason.kind === "history") {
    const plan = reason.year && !reason.plan.includes(reason.year) ? `${reason.year} ${reason.plan}` : reason.plan;
    return `相似往年任务：${[reason.bureau, plan].filter(Boolean).join(" ")} 第${reason.number}项`;
  }
  if (reason.kind === "category") return `负责类别：${categoryNames[reason.category] || reason.category}`;
  return `提到：${reason.keywords.join("、")}`;
}

function departmentItem(name, lead, suggestion, tag) {
  const item = el("li", { class: lead ? "lead" : "" }, name);
  if (suggestion) {
    item.append(el("span", { class: "score" }, suggestion.score.toFixed(2)));
    item.title = suggestion.evidence.join("\n") || "无依据";
  }
  item.append(el("span", { class: `tag ${suggestion ? "suggested" : "stated"}` }, tag));
  if (suggestion && suggestion.reasons.length) item.append(el("div", { class: "why" }, reasonText(suggestion.reasons[0])));
  return item;
}

// The breakdown's sections (lead first), then, when the plan named them, the model's suggestions beside them.
function departments(clause) {
  const suggested = clause.departments_source === "suggested";
  const byName = Object.fromEntries(clause.departments.map((d) => [d.name, d]));
  const owners = el("ul", { class: "depts" });
  for (const name of [...clause.lead_departments, ...clause.cooperating_departments]) {
    const lead = clause.lead_departments.includes(name);
    owners.append(suggested
      ? departmentItem(name, lead, byName[name], lead ? "建议牵头" : "建议配合")
      : departmentItem(name, lead, null, clause.corrected ? "已更正" : "计划列明"));
  }
  // "各科室" as the plan writes it: all (or the related) units, never one section.
  for (const name of clause.collectives || []) {
    owners.append(el("li", { class: "collective" }, name, el("span", { class: "tag stated" }, "全体/相关单位")));
  }
  if (suggested || !clause.departments.length) return [owners];
  const others = el("ul", { class: "depts" },
    ...clause.departments.map((d) => departmentItem(d.name, d.lead, d, d.lead ? "建议牵头" : "建议配合")));
  return [owners, el("details", {}, el("summary", {}, "模型建议"), others)];
}

// The correction editor of a row: category toggles, and the lead / cooperating sections picked from the
// catalogue (a filter box above each list), never typed freely.
function editor(clause, tr) {
  const state = edits.get(clause.id) || {
    clause, categories: [...clause.labels], lead: [...clause.lead_departments],
    cooperating: [...clause.cooperating_departments],
  };
  const changed = () => { edits.set(clause.id, state); tr.classList.add("edited"); updateSaveButton(); };
  const toggles = el("div", { class: "toggles" }, ...Object.entries(categoryNames).map(([id, name]) => {
    const box = el("input", { type: "checkbox", "data-cat": id });
    box.checked = state.categories.includes(id);
    box.addEventListener("change", () => {
      state.categories = Object.keys(categoryNames).filter((c) =>
        tr.querySelector(`.toggles input[data-cat="${c}"]`).checked);
      changed();
    });
    return el("label", {}, box, name);
  }));
  const picker = (key, label) => {
    const filter = el("input", { type: "search", placeholder: "筛选科室", class: "filter" });
    const list = el("select", { multiple: "", size: "4", "data-role": key },
      ...sections.map((name) => {
        const option = el("option", { value: name }, name);
        option.selected = state[key].includes(name);
        return option;
      }));
    filter.addEventListener("input", () => {
      for (const option of list.options) option.hidden = !option.value.includes(filter.value.trim());
    });
    list.addEventListener("change", () => {
      state[key] = [...list.selectedOptions].map((o) => o.value);
      changed();
    });
    return el("div", { class: "picker" }, el("b", {}, label), filter, list);
  };
  return el("div", { class: "editor" }, toggles, picker("lead", "牵头科室"), picker("cooperating", "配合科室"));
}

// The sections of the catalogue the shown plan was analysed with (its corrections name that bureau's sections).
async function loadSections() {
  if (sectionsOf === shownPlan.catalogue) return;
  const response = await fetch(`/v1/departments?catalogue=${encodeURIComponent(shownPlan.catalogue)}`,
    { headers: headers() });
  if (!response.ok) throw await failure(response);
  sections = (await response.json()).departments.map((d) => d.name);
  sectionsOf = shownPlan.catalogue;
}

function updateSaveButton() {
  $("save-corrections").disabled = edits.size === 0;
  $("save-corrections").textContent = edits.size ? `保存更正（${edits.size}）` : "保存更正";
}

async function saveCorrections() {
  $("error").classList.add("hidden");
  const corrections = [...edits.values()].map(({ clause, categories, lead, cooperating }) => ({
    text: clause.text, categories: categories.length ? categories : ["other"],
    lead_departments: lead, cooperating_departments: cooperating.filter((d) => !lead.includes(d)),
    doc: shownPlan.doc, number: clause.number, model_version: shownPlan.model_version, catalogue: shownPlan.catalogue,
    predicted: { categories: clause.labels, departments: [...clause.lead_departments, ...clause.cooperating_departments] },
  }));
  try {
    const response = await fetch("/v1/feedback", {
      method: "POST", headers: headers({ "Content-Type": "application/json" }), body: JSON.stringify({ corrections }),
    });
    if (!response.ok) throw await failure(response);
    edits.clear();
    updateSaveButton();
    // Analyse again: saved rows come back marked 已更正, and the downloads carry the corrections.
    const again = await planRequest();
    if (!again.ok) throw await failure(again);
    render(await again.json());
  } catch (error) {
    showError(error);
  }
}

function row(clause, index, colours) {
  const text = el("details", {}, el("summary", {}, "全文"), clauseText(clause));
  const confidence = el("td", { class: "conf" }, clause.confidence.toFixed(2));
  if (clause.low_confidence) confidence.append(" ", el("span", { class: "low-mark" }, "低置信度"));
  const mark = clause.corrected ? el("span", { class: "corrected-mark" }, "已更正") : null;
  const tr = el("tr", { class: clause.low_confidence ? "low" : "", "data-clause-id": clause.id },
    el("td", { class: "num" }, String(index + 1)),
    el("td", { class: "clause" },
      clause.section.length ? el("div", { class: "section" }, clause.section.join(" › ")) : null,
      el("div", { class: "title" }, [clause.number, clause.title].filter(Boolean).join(" "), mark),
      text));
  const fix = el("details", { class: "fix" }, el("summary", {}, "更正"));
  fix.addEventListener("toggle", async () => {
    if (!fix.open || fix.children.length > 1) return;
    await loadSections();
    fix.append(editor(clause, tr));
  });
  tr.append(el("td", { class: "cats" }, ...chips(clause, colours, tr), el("div", { class: "evidence" }), fix),
    el("td", { class: "dept" }, ...departments(clause)),
    el("td", { class: "due" }, clause.deadlines.join("、")),
    confidence);
  return tr;
}

function summaryGroup(label, items) {
  return el("div", { class: "group" }, el("b", {}, label), ...items);
}

function render(plan) {
  shownPlan = plan;
  categoryNames = Object.fromEntries(plan.summary.categories.map((c) => [c.id, c.name]));
  const order = plan.summary.categories.map((c) => c.id);
  const colours = Object.fromEntries(order.map((id, i) => [id, categoryColour(i, order.length)]));
  $("plan-title").textContent = `${plan.title || plan.doc} · ${plan.summary.clauses} 条` +
    (plan.summary.low_confidence ? ` · ${plan.summary.low_confidence} 条低置信度` : "");
  $("summary").replaceChildren(
    summaryGroup("类别", plan.summary.categories.filter((c) => c.clauses)
      .map((c) => el("span", { class: "chip", style: colours[c.id] }, `${c.name} ${c.clauses}`))),
    summaryGroup("牵头科室", plan.summary.departments.filter((d) => d.lead)
      .map((d) => el("span", { class: "chip", style: "border-color: #d0d7de" }, `${d.name} ${d.lead}`))),
  );
  $("breakdown").tBodies[0].replaceChildren(...plan.clauses.map((c, i) => row(c, i, colours)));
  $("result").classList.remove("hidden");
  setDownloads(true);
}

function setDownloads(enabled) {
  $("download-xlsx").disabled = !enabled;
  $("download-csv").disabled = !enabled;
}

async function checkModel() {
  const status = $("model-status");
  try {
    const response = await fetch("/readyz");
    const body = await response.json();
    status.textContent = response.ok ? `模型已就绪（${body.detail}）` : `模型${body.status === "loading" ? "加载中" : "不可用"}：${body.detail || ""}`;
    status.className = `status ${response.ok ? "ready" : body.status}`;
    if (body.status === "loading") setTimeout(checkModel, 2000);
    if (response.ok) await loadBureaus().catch(showError);
  } catch (error) {
    status.textContent = "服务不可达";
    status.className = "status failed";
  }
}

$("plan-form").addEventListener("submit", analyse);
$("download-xlsx").addEventListener("click", () => download("xlsx"));
$("download-csv").addEventListener("click", () => download("csv"));
$("save-corrections").addEventListener("click", saveCorrections);
$("bureau-form").addEventListener("submit", createBureau);
$("bureau").addEventListener("change", changeBureau);
window.addEventListener("beforeunload", (event) => { if (edits.size) event.preventDefault(); });

// A new input invalidates the shown downloads until it is analysed.
$("plan-text").addEventListener("input", () => { $("plan-file").value = ""; });
for (const input of [$("plan-text"), $("plan-file")]) {
  input.addEventListener("input", () => setDownloads(false));
}
checkModel();
