// A licensed transit operator: upload a day's card records as CSV. The file is parsed and checked
// in the browser, sent in chunks to POST /trips/batch (one Idempotency-Key per chunk, reused when
// a chunk is retried, so a retry never records twice), then the counts and every rejection.
import { ApiError, auth, newId } from "../api.js";
import { download } from "../export.js";
import { t } from "../i18n.js";
import { card, h, num, replace, stat, table } from "../ui.js";

export const COLUMNS = ["username", "mode", "distance_km", "started_at", "ended_at", "external_id"];
const MODES = ["walk", "bike", "bus", "metro", "ev"];
export const CHUNK = 500; // well under the API's 10,000 a batch, so the bar moves and a retry is small
const EXAMPLE = `${COLUMNS.join(",")}
citizen-001,metro,12.4,2026-05-11T07:58:00+08:00,2026-05-11T08:24:00+08:00,card-20260511-000001
citizen-002,bus,6.1,2026-05-11T08:05:00+08:00,2026-05-11T08:31:00+08:00,card-20260511-000002`;

/** RFC 4180 CSV: quoted fields may hold commas, quotes ("") and line breaks. */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(cell); cell = ""; } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(cell); rows.push(row); row = []; cell = "";
    } else cell += c;
  }
  if (cell !== "" || row.length) { row.push(cell); rows.push(row); }
  return rows.filter((r) => r.some((x) => x.trim() !== ""));
}

const csvCell = (v) => (/[",\n\r]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));

/** The API's per-record reason text, classified so the console can say it in the user's language. */
export function reasonCode(reason) {
  const rules = [[/unknown citizen/, "unknown_citizen"], [/licen[cs]/, "not_licensed"],
    [/in the future/, "future"], [/more than .* ago/, "too_old"], [/overlaps/, "overlap"],
    [/implausible/, "speed"], [/end after it starts/, "order"], [/representable/, "bad_time"]];
  return (rules.find(([re]) => re.test(reason)) || [null, "other"])[1];
}

/** Rows -> {records, rejected}: a record the API would refuse as a whole-chunk 422 is set aside. */
function checkRows(rows) {
  const header = rows[0].map((x) => x.trim().toLowerCase());
  const missing = COLUMNS.filter((c) => !header.includes(c));
  if (missing.length) return { missing };
  const records = [];
  const rejected = [];
  rows.slice(1).forEach((cells, i) => {
    const line = i + 2; // the file's line number, the header being line 1
    const rec = Object.fromEntries(COLUMNS.map((c) => [c, (cells[header.indexOf(c)] || "").trim()]));
    const start = Date.parse(rec.started_at);
    const end = Date.parse(rec.ended_at);
    let code = null;
    if (COLUMNS.some((c) => !rec[c])) code = "empty_cell";
    else if (!MODES.includes(rec.mode)) code = "bad_mode";
    else if (!(Number(rec.distance_km) > 0)) code = "bad_distance";
    else if (Number.isNaN(start) || Number.isNaN(end) || !/[zZ]|[+-]\d\d:?\d\d$/.test(rec.started_at)
      || !/[zZ]|[+-]\d\d:?\d\d$/.test(rec.ended_at)) code = "bad_time";
    else if (end <= start) code = "order";
    if (code) rejected.push({ line, ...rec, code, reason: "" });
    else records.push({ line, ...rec });
  });
  return { records, rejected };
}

/** One chunk, retried with the same key on a network error, 429 or 5xx. */
async function sendChunk(trips) {
  const key = newId();
  for (let attempt = 0; ; attempt++) {
    let reply = null;
    try {
      reply = await fetch("/api/v1/trips/batch", { method: "POST", headers: {
        "Content-Type": "application/json", Accept: "application/json, application/problem+json",
        Authorization: `Bearer ${auth.token}`, "Idempotency-Key": key,
      }, body: JSON.stringify({ trips }) });
    } catch (err) {
      if (attempt >= 3) throw new ApiError(0, { detail: String(err.message || err) });
    }
    if (reply) {
      const data = await reply.json().catch(() => ({}));
      if (reply.ok) return data;
      if (!(reply.status === 429 || reply.status >= 500) || attempt >= 3) throw new ApiError(reply.status, data);
    }
    const wait = Number(reply?.headers.get("Retry-After")) || 1;
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
  }
}

function rejectionsCsv(rejected) {
  const head = ["line", ...COLUMNS, "code", "reason"];
  return [head.join(","), ...rejected.map((r) => head.map((c) => csvCell(r[c] ?? "")).join(","))].join("\r\n") + "\r\n";
}

export function render(view) {
  const status = h("div", { "data-part": "upload-status" });
  const summary = h("div", { "data-part": "upload-summary" });
  const bar = h("progress", { max: "1", value: "0", "data-progress": "upload", hidden: true });
  const fileInput = h("input", { type: "file", accept: ".csv,text/csv", name: "csv", id: "operator-csv" });
  const upload = h("button", { type: "button", class: "primary", "data-action": "upload", text: t("operator.upload") });

  upload.addEventListener("click", async () => {
    const file = fileInput.files[0];
    replace(summary);
    if (!file) { replace(status, h("p", { class: "error", text: t("operator.no_file") })); return; }
    const rows = parseCsv(await file.text());
    const checked = rows.length ? checkRows(rows) : { missing: COLUMNS };
    if (checked.missing) {
      replace(status, h("p", { class: "error", text: t("operator.missing_columns", { columns: checked.missing.join(", ") }) }));
      return;
    }
    const { records } = checked;
    const rejected = [...checked.rejected];
    const totals = { accepted: 0, duplicates: 0, points: 0 };
    upload.disabled = true;
    bar.hidden = false;
    bar.max = Math.max(1, records.length);
    bar.value = 0;
    try {
      for (let start = 0; start < records.length; start += CHUNK) {
        const chunk = records.slice(start, start + CHUNK);
        replace(status, h("p", { text: t("operator.sending", { done: num(start), total: num(records.length) }) }));
        const reply = await sendChunk(chunk.map(({ line, ...trip }) => trip));
        totals.accepted += reply.accepted;
        totals.duplicates += reply.duplicates;
        totals.points += reply.points_awarded;
        for (const r of reply.rejected) rejected.push({ ...chunk[r.index], code: reasonCode(r.reason), reason: r.reason });
        bar.value = start + chunk.length;
      }
      replace(status, h("p", { class: "ok", text: t("operator.done", { total: num(rows.length - 1) }) }));
    } catch (err) {
      replace(status, h("p", { class: "error", "data-error": "upload",
        text: `${t("operator.failed", { done: num(bar.value) })} ${err.problem?.detail || err.message}` }));
    } finally {
      upload.disabled = false;
    }
    rejected.sort((a, b) => a.line - b.line);
    const saveButton = h("button", { type: "button", "data-action": "download-rejections", text: t("operator.download"),
      disabled: !rejected.length,
      onclick: () => download(new Blob(["\ufeff", rejectionsCsv(rejected)], { type: "text/csv" }), `rejections-${file.name}`),
    });
    replace(summary,
      h("div", { class: "stats" },
        stat("operator.accepted", num(totals.accepted), "accepted"),
        stat("operator.duplicates", num(totals.duplicates), "duplicates"),
        stat("operator.rejected", num(rejected.length), "rejected"),
        stat("operator.points", num(totals.points), "points")),
      h("p", {}, saveButton),
      table([
        ["operator.line", (r) => String(r.line)],
        ["operator.external_id", (r) => r.external_id],
        ["operator.username", (r) => r.username],
        ["operator.reason", (r) => h("span", { "data-code": r.code, title: r.reason, text: t(`reject.${r.code}`) })],
      ], rejected, { "data-table": "rejections" }));
  });

  view.append(
    h("h1", { text: t("operator.title") }),
    card("operator.upload_title",
      h("p", { class: "hint", text: t("operator.hint", { chunk: num(CHUNK) }) }),
      table([["operator.column", (c) => h("code", { text: c })], ["operator.meaning", (c) => t(`operator.col.${c}`)]],
        COLUMNS, { "data-table": "columns" }),
      h("p", { class: "hint", text: t("operator.example") }),
      h("div", { class: "table-wrap" }, h("pre", { class: "example", "data-part": "example", text: EXAMPLE })),
      h("div", { class: "field" }, h("label", { for: "operator-csv", text: t("operator.file") }), fileInput),
      h("p", {}, upload), bar, status),
    card("operator.result", summary));
}
