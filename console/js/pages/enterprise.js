// An enterprise's carbon account: registration, reports with each line's derivation, retirements.
import { api } from "../api.js";
import { t } from "../i18n.js";
import { card, field, form, h, input, load, num, replace, select, submit, table, when } from "../ui.js";

export const COUNTIES = ["顺庆区", "高坪区", "嘉陵区", "阆中市", "南部县", "西充县", "营山县", "蓬安县", "仪陇县"];
const INDUSTRIES = ["石油化工", "电力热力", "建材", "食品加工", "纺织丝绸", "机械制造", "汽车零部件"];

// Lists answer {items, total, limit, offset}; the public listings may still be a bare array.
const itemsOf = (reply) => (Array.isArray(reply) ? reply : reply.items);

export async function render(view, { me, params = [] }) {
  view.append(h("h1", { text: t("enterprise.title") }));
  // The user's enterprises come from the API (never the browser's storage): a second browser or
  // device shows the same ones.
  const mine = itemsOf(await api("/enterprises?limit=200"));
  const again = () => { view.replaceChildren(); render(view, { me, params }); };
  if (!mine.length) {
    view.append(registration(again));
    return;
  }
  const enterprise = mine.find((e) => e.id === params[0]) || mine[0];
  // every version is listed (issue 13); a line names a code, and the report's period picks the
  // version, so the choice shows each live code once (its latest version)
  const factors = [...new Map((await api("/factors")).filter((f) => !f.superseded_at)
    .map((f) => [f.code, f])).values()];
  const reports = h("div", { "data-part": "reports" });
  const retire = h("div", { "data-part": "retire" });
  const retired = h("div", { class: "result", "data-result": "retirement" });
  const market = h("div", { "data-part": "market" });
  const bought = h("div", { class: "result", "data-result": "purchase" });
  const certificates = h("div", { "data-part": "certificates" });

  async function refresh() {
    let list = [];
    await Promise.all([
      load(reports, async () => {
        list = await api(`/enterprises/${enterprise.id}/reports`);
        return reportTable(list, factors, refresh);
      }),
      load(market, async () => listingsTable(itemsOf(await api("/listings")), refresh, bought)),
      load(certificates, async () => certificateTable(itemsOf(await api("/certificates?mine=true&limit=50")))),
    ]);
    replace(retire, await retirementForm(enterprise, list.filter((r) => r.is_current), refresh, retired));
  }

  const chooser = mine.length > 1 ? h("p", {}, mine.map((e) => h("a", {
    href: `#/enterprise/${e.id}`, class: e.id === enterprise.id ? "button primary" : "button",
    "data-enterprise": e.id, text: e.name }))) : null;
  if (chooser) view.append(chooser);
  view.append(
    h("p", { class: "lead", "data-enterprise-current": enterprise.id }, h("strong", { text: enterprise.name }),
      ` · ${t("enterprise.uscc")}: `, h("code", { text: enterprise.uscc }), " · ",
      h("span", { "data-claim-status": enterprise.claim_status, text: t(`claim_status.${enterprise.claim_status}`) })),
    card("report.title", reportForm(enterprise, factors, refresh)),
    card("report.past", reports),
    card("market.title", h("p", { class: "hint", text: t("market.hint") }), market, bought),
    card("retire.title", retire, retired),
    card("certs.title", certificates),
    h("details", { class: "card" }, h("summary", { text: t("enterprise.register_another") }), registration(again)));
  await refresh();
}

function registration(done) {
  const datalist = h("datalist", { id: "industries" }, INDUSTRIES.map((i) => h("option", { value: i })));
  return card("enterprise.register",
    form({ "data-form": "enterprise" }, [
      field("enterprise.name", "name", input("name")),
      field("enterprise.uscc", "uscc", input("uscc", { maxlength: 18, autocapitalize: "characters" }), "enterprise.uscc_hint"),
      field("enterprise.county", "county", select("county", COUNTIES.map((c) => [c, c]))),
      field("enterprise.industry", "industry", input("industry", { list: "industries" })), datalist,
      submit("enterprise.submit"),
    ], async (v) => {
      await api("/enterprises", { json: v });
      done();
    }));
}

// Open listings, cheapest first: buy into the enterprise's holding, then retire below.
// `result` lives outside the list, which is re-read after a purchase.
function listingsTable(listings, refresh, result) {
  const open = listings.filter((l) => l.status === "open" && l.remaining > 0);
  return table([
    ["market.vintage", (l) => String(l.vintage ?? "—")],
    ["market.remaining", (l) => num(l.remaining)],
    ["market.price", (l) => `¥${num(l.price_per_tonne, 2)}`],
    ["market.buy", (l) => form({ "data-form": "buy", "data-listing": l.id, class: "inline" }, [
      field("market.quantity", "quantity", input("quantity", { type: "number", step: "1", min: "1", max: String(l.remaining), value: "1" })),
      submit("market.buy"),
    ], async (v) => {
      const bought = await api(`/listings/${l.id}/purchases`, { json: { quantity: Number(v.quantity) } });
      replace(result, h("p", { class: "ok", text: t("market.bought", {
        n: num(bought.quantity), amount: num(bought.price_total, 2) }) }),
      h("p", { class: "hint" }, bought.serials.map((x) => h("code", { text: x })).flatMap((c) => [c, " "])));
      await refresh();
    })],
  ], open, { "data-table": "listings" });
}

function certificateTable(list) {
  return table([
    ["certs.retired_at", (c) => when(c.retired_at)],
    // four columns, the purpose under the beneficiary: the links stay on a phone's screen
    ["certs.beneficiary", (c) => h("span", {}, c.beneficiary, h("br"), h("small", { class: "hint", text: c.purpose }))],
    ["certs.quantity", (c) => num(c.quantity)],
    ["certs.links", (c) => h("span", {},
      h("a", { href: `#/verify/${c.certificate_id}`, "data-link": "verify", text: t("certs.verify") }), " · ",
      h("a", { href: `/api/v1/certificates/${c.certificate_id}/pdf`, "data-link": "pdf",
        download: `certificate-${c.certificate_id}.pdf`, text: "PDF" }))],
  ], list, { "data-table": "certificates" });
}

// "50000.000000" (the API's fixed decimals) -> "50000", kept as text: no float rounding
const trimZeros = (q) => (q.includes(".") ? q.replace(/\.?0+$/, "") : q);

// One activity line; `preset` (a report's line) prefills it for a correction.
function activityLine(factors, index, preset = null) {
  const unit = input(`unit`, { value: preset?.unit ?? factors[0]?.activity_unit ?? "" });
  const options = factors.map((f) => [f.code, `${f.name} (${f.code}, v${f.version})`]);
  if (preset && !factors.some((f) => f.code === preset.factor_code)) options.push([preset.factor_code, preset.factor_code]);
  const choose = select("factor_code", options, { value: preset?.factor_code,
    onchange: (e) => { unit.value = factors.find((f) => f.code === e.target.value)?.activity_unit || ""; } });
  const line = h("div", { class: "grid activity", "data-line": index },
    field("report.factor", `activities[${index}].factor_code`, choose),
    field("report.quantity", `activities[${index}].quantity`, input("quantity", {
      type: "number", step: "any", min: "0", value: preset ? trimZeros(String(preset.quantity)) : undefined })),
    field("report.unit", `activities[${index}].unit`, unit));
  return line;
}

const linesOf = (el) => [...el.querySelectorAll("[data-line]")].map((line) => ({
  factor_code: line.querySelector("[name=factor_code]").value,
  quantity: line.querySelector("[name=quantity]").value,
  unit: line.querySelector("[name=unit]").value,
}));

// A correction of the current revision: the form starts from its lines; filing it makes revision
// n+1 (the earlier one stays readable, the period's retirements carry over).
function correctionForm(report, factors, refresh) {
  const lines = h("div", { class: "lines" }, report.lines.map((l, i) => activityLine(factors, i, l)));
  const addLine = h("button", { type: "button", "data-action": "add-line", text: t("report.add_line"),
    onclick: () => lines.append(activityLine(factors, lines.children.length)) });
  return h("details", { class: "correction", "data-correct": report.id },
    h("summary", { text: t("report.correct", { revision: report.revision + 1 }) }),
    form({ "data-form": "revision", "data-report": report.id }, [
      h("p", { class: "hint", text: t("report.correct_hint") }), lines, addLine, submit("report.correct_submit"),
    ], async (v, el) => {
      await api(`/reports/${report.id}/revisions`, { json: { activities: linesOf(el) } });
      await refresh();
    }));
}

function reportForm(enterprise, factors, refresh) {
  const lines = h("div", { class: "lines" }, activityLine(factors, 0));
  const result = h("div", { class: "result", "data-result": "report" });
  const addLine = h("button", { type: "button", "data-action": "add-line", text: t("report.add_line"),
    onclick: () => lines.append(activityLine(factors, lines.children.length)) });
  return h("div", {}, form({ "data-form": "report" }, [
    field("report.period", "period", input("period", { value: String(new Date().getFullYear() - 1) }), "report.period_hint"),
    lines, addLine, submit("report.submit"),
  ], async (v, el) => {
    const activities = linesOf(el);
    const report = await api(`/enterprises/${enterprise.id}/reports`, { json: { period: v.period.trim(), activities } });
    replace(result, reportSummary(report));
    await refresh();
  }), result);
}

function reportSummary(report) {
  return h("div", { "data-report": report.id },
    h("p", { class: "ok" }, t("report.filed", { period: report.period, revision: report.revision })),
    h("div", { class: "stats" },
      h("div", { class: "stat" }, h("span", { text: t("report.scope1") }), h("strong", { text: `${num(report.scope1_tco2e, 4)} t` })),
      h("div", { class: "stat" }, h("span", { text: t("report.scope2") }), h("strong", { text: `${num(report.scope2_tco2e, 4)} t` })),
      h("div", { class: "stat", "data-stat": "total" }, h("span", { text: t("report.gross") }), h("strong", { text: `${num(report.total_tco2e, 4)} t` }))),
    table([
      ["report.factor", (l) => `${l.factor_code} v${l.factor_version}`],
      ["report.quantity", (l) => `${num(l.quantity)} ${l.unit}`],
      ["report.tco2e", (l) => num(l.tco2e, 4)],
      ["report.derivation", (l) => h("span", { class: "derivation", text: l.derivation })],
    ], report.lines, { "data-table": "lines" }));
}

function reportTable(list, factors, refresh) {
  return h("div", {}, list.length ? list.map((r) => h("details", { class: "report", "data-report-id": r.id },
    h("summary", {}, h("strong", { text: r.period }), ` · ${t("report.revision")} ${r.revision}`,
      r.is_current ? "" : ` (${t("report.superseded")})`,
      // gross, retired and net side by side: retirements never reduce the inventory (GHG Protocol)
      ` · ${t("report.gross")} `, h("span", { "data-gross": r.id, text: `${num(r.total_tco2e, 4)} t` }),
      ` · ${t("report.retired")} `, h("span", { "data-retired": r.id, text: `${num(r.retired_tco2e)} t` }), " · ",
      h("span", { "data-net": r.id, text: `${t("report.net")} ${num(r.net_tco2e, 4)} t` })),
    h("p", { class: "hint", text: `${t("report.filed_at")} ${when(r.filed_at)}` }),
    retirementsOf(r),
    reportSummary(r),
    r.is_current ? correctionForm(r, factors, refresh) : null)) : h("p", { class: "empty", text: t("common.none") }));
}

// Credits retired for the period, each with the revision it was made against: a correction
// carries them over, so revision 2 still shows what was retired against revision 1.
function retirementsOf(r) {
  if (!r.retirements.length) return null;
  return h("div", { "data-retirements": r.id },
    h("h3", { text: t("report.retirements") }),
    table([
      ["report.against_revision", (x) => `r${x.revision}`],
      ["report.tco2e", (x) => num(x.quantity)],
      ["report.certificate", (x) => h("a", { href: `#/verify/${x.certificate_id}`, text: x.certificate_id })],
      ["report.retired_at", (x) => when(x.retired_at)],
    ], r.retirements, { "data-table": "retirements" }));
}

async function retirementForm(enterprise, current, refresh, result) {
  let holdings = { total: 0, available: 0 };
  try { holdings = await api("/holdings"); } catch { /* the holding account opens shortly after registration */ }
  if (!current.length) return h("p", { class: "empty", text: t("retire.no_reports") });
  return h("div", {},
    h("p", { "data-holdings": holdings.available }, t("retire.holdings", { n: num(holdings.available) })),
    form({ "data-form": "retire" }, [
      field("retire.report", "report_id", select("report_id", current.map((r) =>
        [r.id, `${r.period} r${r.revision} · ${num(r.total_tco2e, 4)} t`]))),
      field("retire.quantity", "quantity", input("quantity", { type: "number", step: "1", min: "1" })),
      field("retire.beneficiary", "beneficiary", input("beneficiary", { value: enterprise.name })),
      field("retire.purpose", "purpose", input("purpose", { value: t("retire.default_purpose") })),
      submit("retire.submit"),
    ], async (v) => {
      const cert = await api("/retirements", { json: { ...v, quantity: Number(v.quantity) } });
      replace(result, h("p", { class: "ok" }, t("retire.done", { n: cert.quantity }), " ",
        h("a", { href: `#/verify/${cert.certificate_id}`, "data-link": "certificate", text: t("retire.certificate") })));
      setTimeout(refresh, 1500); // accounts learns of the retirement through Kafka
    }));
}
