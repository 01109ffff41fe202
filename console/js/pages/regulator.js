// The regulator's city dashboard: filed emissions by county and industry, green trips by mode,
// the carbon-peak plan's targets beside them, and the enterprises' public disclosures.
import { api } from "../api.js";
import { barChart } from "../charts.js";
import { t } from "../i18n.js";
import { card, field, form, h, input, load, num, submit, table, when } from "../ui.js";
import { claimsQueue } from "./claims.js";

export async function render(view) {
  const dashboard = h("div", { "data-part": "dashboard" });
  const disclosures = h("div", { "data-part": "disclosures" });

  async function show(period) {
    await Promise.all([
      load(dashboard, async () => cityView(await api(`/stats/city?period=${encodeURIComponent(period)}`))),
      // Every report whose period falls in the year (annual, quarterly, monthly), as the stats count.
      load(disclosures, async () => disclosureTable((await api("/disclosures"))
        .filter((d) => d.period.startsWith(period)))),
    ]);
  }

  const year = String(new Date().getFullYear());
  view.append(h("h1", { text: t("regulator.title") }),
    form({ "data-form": "period", class: "inline" }, [
      field("regulator.period", "period", input("period", { value: year, inputmode: "numeric", maxlength: 4 })),
      submit("regulator.show"),
    ], async (v) => show(v.period.trim())),
    dashboard, card("regulator.disclosures", disclosures));
  const claims = claimsQueue();
  view.append(card("claims.title", h("p", { class: "hint", text: t("claims.hint") }), claims.el));
  await Promise.all([show(year), claims.refresh()]);
}

function cityView(s) {
  const targets = Object.entries(s.targets).map(([year, goals]) => h("div", { class: "target" },
    h("h3", { text: t("regulator.target_year", { year }) }),
    h("ul", {}, Object.entries(goals).map(([k, v]) => h("li", {}, t(`target.${k}`), ": ", h("strong", { text: num(v) })))),
  ));
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
    card("regulator.targets", h("p", { class: "hint", text: s.targets_source }), h("div", { class: "two" }, targets)));
}

// Gross, retired and net side by side (GHG Protocol Corporate Standard, revised 2004, ch. 9:
// offsets are reported beside the inventory, never subtracted from it), with the revision each
// retirement named: a correction carries the period's retirements over.
function disclosureTable(rows) {
  return h("div", {}, h("p", { class: "hint", text: t("disclosure.hint") }), table([
    ["disclosure.enterprise", (d) => d.enterprise], ["disclosure.county", (d) => d.county],
    ["disclosure.industry", (d) => d.industry], ["disclosure.period", (d) => `${d.period} r${d.revision}`],
    ["disclosure.gross", (d) => num(d.gross_tco2e, 4)], ["disclosure.retired", (d) => num(d.retired_tco2e)],
    ["disclosure.net", (d) => num(d.net_tco2e, 4)],
    ["disclosure.by_revision", (d) => d.retirements.map((x) => t("disclosure.against", { n: num(x.quantity), revision: x.revision })).join("; ")],
    ["disclosure.filed", (d) => when(d.filed_at)],
  ], rows, { "data-table": "disclosures" }));
}
