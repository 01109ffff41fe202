// An event organizer: register a large event with its plan, file the actual data after it (the
// final figure), see both by category with the deadline, offset what is uncovered in one go, and
// download the certificate.
import { api } from "../api.js";
import { barChart } from "../charts.js";
import { t } from "../i18n.js";
import { badge, card, field, form, h, input, load, num, replace, select, submit, table, when } from "../ui.js";

const TRAVEL = ["air", "rail", "car", "bus", "metro"];
const AMOUNTS = [["electricity_kwh", "event.electricity"], ["heat_gj", "event.heat"], ["accommodation_nights", "event.nights"],
  ["meals", "event.meals"], ["printed_materials_kg", "event.printed"], ["built_materials_kg", "event.built"],
  ["waste_kg", "event.waste"]];
const FUELS = [["diesel_t", "event.diesel"], ["gasoline_t", "event.gasoline"], ["natural_gas_nm3", "event.gas"]];

// Lists answer {items, total, limit, offset}.
const itemsOf = (reply) => (Array.isArray(reply) ? reply : reply.items);

export async function render(view, { params = [] }) {
  const current = h("div", { "data-part": "event" });
  const past = h("div", { "data-part": "events" });
  const certificates = h("div", { "data-part": "certificates" });

  async function show(eventId) {
    await load(current, async () => eventView(await api(`/events/${eventId}`), show));
    await listPast();
  }

  // The organizer's events and certificates come from the API, never the browser's storage: a
  // second browser shows the same.
  let events = [];
  async function listPast() {
    await Promise.all([
      load(past, async () => table([
        // three columns: a phone shows the whole row without scrolling sideways
        ["event.name", (e) => h("span", {}, h("a", { href: `#/organizer/${e.id}`, "data-event-link": e.id, text: e.name,
          onclick: (ev) => { ev.preventDefault(); show(e.id); } }), h("br"),
        h("small", { class: "hint", text: e.start_date === e.end_date ? e.start_date : `${e.start_date} → ${e.end_date}` }))],
        ["event.retired_of_needed", (e) => `${num(e.retired_credits ?? 0)} / ${num(e.credits_needed ?? 0)}`],
        ["event.state", (e) => (e.neutral ? badge("neutral") : t(e.final ? "event.state_final" : "event.state_plan"))],
      ], events = itemsOf(await api("/events?limit=50")), { "data-table": "events" })),
      load(certificates, async () => table([
        ["certs.retired_at", (c) => when(c.retired_at)],
        ["certs.beneficiary", (c) => c.beneficiary],
        ["certs.quantity", (c) => num(c.quantity)],
        ["certs.links", (c) => h("span", {},
          h("a", { href: `#/verify/${c.certificate_id}`, "data-link": "verify", text: t("certs.verify") }), " · ",
          h("a", { href: `/api/v1/certificates/${c.certificate_id}/pdf`, "data-link": "pdf",
            download: `certificate-${c.certificate_id}.pdf`, text: "PDF" }))],
      ], itemsOf(await api("/certificates?mine=true&limit=50")), { "data-table": "certificates" })),
    ]);
  }

  const register = h("details", { class: "card", "data-part": "register" },
    h("summary", { text: t("event.register") }), eventForm(async (event, el) => {
      register.open = false;
      el.reset();
      await show(event.id);
    }));
  view.append(h("h1", { text: t("organizer.title") }),
    card("event.mine", past),
    h("section", { class: "card", id: "event" }, current),
    card("certs.title", certificates),
    register);
  if (params[0]) await show(params[0]);
  else await listPast();
  register.open = !events.length; // open for a first event, folded away once there are some
}

const numberInput = (name, value = "") => input(name, { type: "number", step: "any", min: "0", value });

// The activity inputs (MEE 2019 guide's categories), for the plan and for the actuals alike.
const activityFields = () => [
  field("event.grid", "grid_region", select("grid_region", [["sichuan", t("event.grid_sichuan")], ["national", t("event.grid_national")]])),
  AMOUNTS.map(([name, key]) => field(key, name, numberInput(name))),
  FUELS.map(([name, key]) => field(key, `fuels.${name}`, numberInput(name))),
  TRAVEL.map((mode) => field(`event.travel_${mode}`, `travel.${mode}`, numberInput(`travel_${mode}`)))];

function activityBody(v) {
  const amount = (name) => (v[name] === "" || v[name] === undefined ? "0" : v[name]);
  return {
    grid_region: v.grid_region, grid_year: 2023,
    fuels: Object.fromEntries(FUELS.map(([name]) => [name, amount(name)])),
    travel: TRAVEL.filter((m) => Number(v[`travel_${m}`]) > 0).map((m) => ({ mode: m, person_km: v[`travel_${m}`] })),
    ...Object.fromEntries(AMOUNTS.map(([name]) => [name, amount(name)])),
  };
}

function eventForm(registered) {
  const today = new Date().toISOString().slice(0, 10);
  return form({ "data-form": "event" }, [
    h("div", { class: "grid" },
      field("event.name", "name", input("name")),
      field("event.venue", "venue", input("venue")),
      field("event.start", "start_date", input("start_date", { type: "date", value: today })),
      field("event.end", "end_date", input("end_date", { type: "date", value: today })),
      field("event.attendees", "attendees", numberInput("attendees", "0")),
      activityFields()),
    submit("event.submit"),
  ], async (v, el) => {
    const body = {
      name: v.name, venue: v.venue, start_date: v.start_date, end_date: v.end_date,
      attendees: Number(v.attendees || 0), ...activityBody(v),
    };
    await registered(await api("/events", { json: body }), el);
  });
}

// After the event: the actual data; the final figure is recomputed and replaces the plan's.
function actualsForm(event, reload) {
  const over = new Date().toISOString().slice(0, 10) > event.end_date;
  if (!over) return h("p", { class: "hint", "data-hint": "actuals", text: t("event.actuals_after", { date: event.end_date }) });
  return form({ "data-form": "actuals" }, [
    h("p", { class: "hint", text: t("event.actuals_hint") }),
    h("div", { class: "grid" }, activityFields()),
    submit(event.final ? "event.actuals_revise" : "event.actuals_submit"),
  ], async (v) => {
    await api(`/events/${event.id}/actuals`, { json: activityBody(v) });
    await reload(event.id);
  });
}

function eventView(event, reload) {
  const est = event.final ? event.final.estimate : event.estimate;  // judged on the final figure
  const result = h("div", { class: "result", "data-result": "offset" });
  const offset = form({ "data-form": "offset" }, [submit("event.offset", { disabled: event.uncovered_credits === 0 })],
    async () => {
      const bought = await api(`/events/${event.id}/offsets`, { json: {} });
      const cert = bought.certificate;
      await reload(event.id);
      const shown = document.querySelector("[data-result=offset]");
      replace(shown, h("p", { class: "ok", text: t("event.offset_done", { n: bought.quantity }) }),
        table([["event.seller", (p) => p.seller_user_id.slice(0, 8)], ["event.bought", (p) => num(p.quantity)],
          ["event.price", (p) => `¥${num(p.price_per_tonne, 2)}`], ["event.amount", (p) => `¥${num(p.amount, 2)}`]], bought.payments),
        h("p", {}, h("a", { href: `/api/v1/certificates/${cert.certificate_id}/pdf`, download: `certificate-${cert.certificate_id}.pdf`,
          class: "button", "data-link": "pdf", text: t("event.pdf") }), " ",
        h("a", { href: `#/verify/${cert.certificate_id}`, class: "button", "data-link": "certificate", text: t("event.verify") })));
    });
  return h("div", { "data-event": event.id },
    h("h2", {}, event.name, " ", event.neutral ? badge("neutral") : null),
    h("p", { class: "hint", text: `${event.venue} · ${event.start_date} → ${event.end_date} · ${t("event.attendees")} ${num(event.attendees)}` }),
    h("p", { class: event.accounting_overdue ? "error" : "hint", "data-hint": "deadline",
      text: `${t(event.provisional ? "event.provisional" : "event.final", { revision: event.final ? event.final.revision : 0 })} · ${t("event.deadline", { date: event.accounting_deadline })}` }),
    h("div", { class: "stats" },
      h("div", { class: "stat", "data-stat": "plan" }, h("span", { text: t("event.total") }), h("strong", { text: `${num(event.estimate.total_tco2e, 3)} t` })),
      event.final ? h("div", { class: "stat", "data-stat": "final" }, h("span", { text: t("event.final_total") }), h("strong", { text: `${num(event.final.estimate.total_tco2e, 3)} t` })) : null,
      h("div", { class: "stat", "data-stat": "credits" }, h("span", { text: t("event.credits") }), h("strong", { text: num(event.credits_needed) })),
      h("div", { class: "stat", "data-stat": "retired" }, h("span", { text: t("event.retired") }), h("strong", { text: num(event.retired_credits) })),
      h("div", { class: "stat", "data-stat": "uncovered" }, h("span", { text: t("event.uncovered") }), h("strong", { text: num(event.uncovered_credits) }))),
    barChart({ title: t("event.by_category"), name: "categories", unit: "t",
      items: Object.entries(est.by_category).map(([k, v]) => ({ label: t(`category.${k}`), value: v })) }),
    table([["event.activity", (l) => l.activity], ["event.quantity", (l) => num(l.quantity)],
      ["event.factor", (l) => `${l.factor.code}: ${l.factor.value} ${l.factor.unit}`],
      ["event.tco2e", (l) => num(l.tco2e, 4)]], est.lines, { "data-table": "estimate" }),
    offset, result, actualsForm(event, reload));
}
