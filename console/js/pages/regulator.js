// The regulator's city dashboard: filed emissions by county and industry, green trips by mode,
// the carbon-peak plan's targets beside them, and the enterprises' public disclosures.
import { api } from "../api.js";
import { barChart } from "../charts.js";
import { download, toCsv, toXlsx } from "../export.js";
import { t } from "../i18n.js";
import { card, field, form, h, input, load, num, submit, table, when } from "../ui.js";
import { claimsQueue } from "./claims.js";

// What each of the plan's targets would need that the platform does not hold: every target is
// per unit of GDP, a share of the whole city's energy use or installed capacity, while the
// platform records only its enterprises' filed reports and its citizens' green trips.
export const UNMEASURABLE = {
  co2_per_gdp_reduction_vs_2020_pct: "target_why.gdp_and_city_co2",
  co2_per_gdp_reduction_vs_2005_pct: "target_why.gdp_and_city_co2",
  energy_per_gdp_reduction_vs_2020_pct: "target_why.gdp_and_energy",
  non_fossil_energy_share_pct: "target_why.energy_mix",
  hydro_wind_solar_capacity_mw: "target_why.capacity",
};

/** The latest year any disclosed report falls in: the dashboard opens on data, not on an empty year. */
export function latestYear(disclosures, fallback) {
  // a period after this year cannot hold measured data yet: never open on one
  const years = disclosures.map((d) => Number(String(d.period).slice(0, 4)))
    .filter((y) => Number.isFinite(y) && y <= Number(fallback));
  return years.length ? String(Math.max(...years)) : fallback;
}

// The disclosures are read a page at a time: a city's ten thousand enterprises never in one reply.
export const PAGE = 50;
const EXPORT_PAGE = 200; // the API's largest page

// A page's URL: `after` (the previous page's `next`) makes each page an index range on the
// server however deep it lies, where an offset would skip every row before it.
const pageUrl = (period, limit, after) => `/disclosures?year=${encodeURIComponent(period)}&limit=${limit}`
  + (after ? `&after=${encodeURIComponent(after)}` : "");

/** Every disclosure of a year, page after page (an export asked for by the regulator). */
async function wholeYear(period) {
  const rows = [];
  for (let after = null; ;) {
    const page = await api(pageUrl(period, EXPORT_PAGE, after));
    rows.push(...page.items);
    if (!page.next) return rows;
    after = page.next;
  }
}

export async function render(view) {
  const dashboard = h("div", { "data-part": "dashboard" });
  const disclosures = h("div", { "data-part": "disclosures" });
  // the newest disclosures, newest period first: enough to open on the latest year with data
  const newest = (await api(`/disclosures?limit=${PAGE}`)).items;
  let shown = { period: "", stats: null };

  // One page of the year's disclosures (every report whose period falls in the year: annual,
  // quarterly, monthly, as the stats count), with its place in the whole and the way on.
  // `cursors`: the `after` of every page up to this one (null for the first), so "previous"
  // goes back by dropping the last one.
  async function showPage(period, cursors) {
    await load(disclosures, async () => {
      const page = await api(pageUrl(period, PAGE, cursors[cursors.length - 1]));
      return disclosureTable(page, (cursors.length - 1) * PAGE, {
        prev: cursors.length > 1 ? () => showPage(period, cursors.slice(0, -1)) : null,
        next: page.next ? () => showPage(period, [...cursors, page.next]) : null,
      });
    });
  }

  async function show(period) {
    await Promise.all([
      load(dashboard, async () => {
        const stats = await api(`/stats/city?period=${encodeURIComponent(period)}`);
        shown = { ...shown, period, stats };
        return cityView(stats);
      }),
      showPage(period, [null]),
    ]);
  }

  const year = latestYear(newest, String(new Date().getFullYear()));
  const exporter = (kind, format) => h("button", { type: "button", "data-export": `${kind}-${format}`,
    text: t(`export.${kind}_${format}`),
    onclick: async () => {
      const rows = kind === "disclosures" ? disclosureRows(await wholeYear(shown.period)) : statsRows(shown.stats);
      const name = `${kind}-${shown.period}`;
      download(format === "csv" ? new Blob([toCsv(rows)], { type: "text/csv" }) : toXlsx(name, rows), `${name}.${format}`);
    } });
  view.append(h("h1", { text: t("regulator.title") }),
    form({ "data-form": "period", class: "inline" }, [
      field("regulator.period", "period", input("period", { value: year, inputmode: "numeric", maxlength: 4 })),
      submit("regulator.show"),
    ], async (v) => show(v.period.trim())),
    h("p", { class: "actions", "data-part": "exports" }, exporter("stats", "csv"), " ", exporter("stats", "xlsx"), " ",
      exporter("disclosures", "csv"), " ", exporter("disclosures", "xlsx")),
    dashboard, card("regulator.disclosures", disclosures));
  const claims = claimsQueue();
  view.append(card("claims.title", h("p", { class: "hint", text: t("claims.hint") }), claims.el));
  await Promise.all([show(year), claims.refresh()]);
}

// Each target beside what the platform measures for it: none can be measured from the platform's
// data, and the reason is said; the enterprises' reported total is shown as what it does know.
function targetTable(s) {
  const rows = Object.entries(s.targets).flatMap(([year, goals]) =>
    Object.entries(goals).map(([key, value]) => ({ year, key, value })));
  // three columns, so the reason stays readable on a 390 px phone
  return table([
    ["target.name", (r) => h("span", {}, h("strong", { text: r.year }), ` · ${t(`target.${r.key}`)}`)],
    ["target.value", (r) => num(r.value)],
    ["target.measured", (r) => h("span", {},
      h("strong", { "data-measured": r.key, text: UNMEASURABLE[r.key] ? t("target.not_measurable") : "—" }),
      h("br"), h("small", { class: "hint", text: t(UNMEASURABLE[r.key] || "target_why.unknown") }))],
  ], rows, { "data-table": "targets" });
}

function cityView(s) {
  const totalTrips = s.trips_by_mode.reduce((n, m) => n + m.trips, 0);
  const totalKg = s.trips_by_mode.reduce((n, m) => n + Number(m.reduction_kg), 0);
  return h("div", { class: "dashboard" },
    h("div", { class: "stats" },
      h("div", { class: "stat", "data-stat": "emissions" }, h("span", { text: t("regulator.emissions") }), h("strong", { text: `${num(s.emissions_tco2e, 1)} t` })),
      h("div", { class: "stat", "data-stat": "trips" }, h("span", { text: t("regulator.trips") }), h("strong", { text: num(totalTrips) })),
      h("div", { class: "stat", "data-stat": "reduction" }, h("span", { text: t("regulator.reduction") }), h("strong", { text: `${num(totalKg, 1)} kg` }))),
    h("div", { class: "two" },
      card("regulator.by_county", barChart({ title: t("regulator.emissions_unit"), name: "county", unit: "t",
        items: s.by_county.map((g) => ({ label: g.key, value: g.total_tco2e })) })),
      card("regulator.by_industry", barChart({ title: t("regulator.emissions_unit"), name: "industry", unit: "t",
        items: s.by_industry.map((g) => ({ label: g.key, value: g.total_tco2e })) })),
      card("regulator.trips_by_mode", barChart({ title: t("regulator.trips_unit"), name: "trips", unit: "",
        items: s.trips_by_mode.map((m) => ({ label: t(`mode.${m.mode}`), value: m.trips })) })),
      card("regulator.reduction_by_mode", barChart({ title: t("regulator.reduction_unit"), name: "reduction", unit: "kg",
        items: s.trips_by_mode.map((m) => ({ label: t(`mode.${m.mode}`), value: m.reduction_kg })) }))),
    card("regulator.targets", h("p", { class: "hint", text: s.targets_source }),
      h("p", { class: "hint", "data-part": "targets-note",
        text: t("target.note", { year: s.period, t: num(s.emissions_tco2e, 1), kg: num(totalKg, 1) }) }),
      targetTable(s)));
}

const n = (v) => (v === null || v === undefined || v === "" ? "" : Number(v));

function statsRows(s) {
  if (!s) return [[t("common.none")]];
  const rows = [[t("export.section"), t("export.key"), t("export.count"), t("export.value"), t("export.unit")]];
  s.by_county.forEach((g) => rows.push([t("regulator.by_county"), g.key, g.reports, n(g.total_tco2e), "tCO2e"]));
  s.by_industry.forEach((g) => rows.push([t("regulator.by_industry"), g.key, g.reports, n(g.total_tco2e), "tCO2e"]));
  s.trips_by_mode.forEach((m) => rows.push([t("regulator.reduction_by_mode"), t(`mode.${m.mode}`), m.trips, n(m.reduction_kg), "kg CO2"]));
  Object.entries(s.targets).forEach(([year, goals]) => Object.entries(goals).forEach(([key, value]) =>
    rows.push([t("regulator.targets"), `${year} ${t(`target.${key}`)}`, "", n(value), t(UNMEASURABLE[key] || "target_why.unknown")])));
  return rows;
}

function disclosureRows(list) {
  return [[t("disclosure.enterprise"), t("disclosure.county"), t("disclosure.industry"), t("disclosure.period"),
    t("report.revision"), t("disclosure.gross"), t("disclosure.retired"), t("disclosure.net"), t("disclosure.filed")],
  ...list.map((d) => [d.enterprise, d.county, d.industry, d.period, d.revision, n(d.gross_tco2e),
    n(d.retired_tco2e), n(d.net_tco2e), d.filed_at])];
}

// Gross, retired and net side by side (GHG Protocol Corporate Standard, revised 2004, ch. 9:
// offsets are reported beside the inventory, never subtracted from it), with the revision each
// retirement named: a correction carries the period's retirements over.
// `skipped`: how many disclosures come before this page; `go`: the previous and next pages' loaders
// (null at either end).
function disclosureTable(page, skipped, go) {
  const last = skipped + page.items.length;
  const pager = h("p", { class: "actions", "data-part": "disclosures-pager", "data-disclosures-total": page.total },
    h("span", { class: "hint", text: t("disclosure.range", { from: num(page.items.length ? skipped + 1 : 0),
      to: num(last), n: num(page.total) }) }), " ",
    h("button", { type: "button", "data-action": "disclosures-prev", text: t("common.prev"),
      disabled: !go.prev, onclick: () => go.prev && go.prev() }), " ",
    h("button", { type: "button", "data-action": "disclosures-next", text: t("common.next"),
      disabled: !go.next, onclick: () => go.next && go.next() }));
  return h("div", {}, h("p", { class: "hint", text: t("disclosure.hint") }), table([
    ["disclosure.enterprise", (d) => d.enterprise], ["disclosure.county", (d) => d.county],
    ["disclosure.industry", (d) => d.industry], ["disclosure.period", (d) => `${d.period} r${d.revision}`],
    ["disclosure.gross", (d) => num(d.gross_tco2e, 4)], ["disclosure.retired", (d) => num(d.retired_tco2e)],
    ["disclosure.net", (d) => num(d.net_tco2e, 4)],
    ["disclosure.by_revision", (d) => d.retirements.map((x) => t("disclosure.against", { n: num(x.quantity), revision: x.revision })).join("; ")],
    ["disclosure.filed", (d) => when(d.filed_at)],
  ], page.items, { "data-table": "disclosures" }), pager);
}
