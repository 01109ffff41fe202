// A citizen's carbon account: points (and which expire soon), green trips, and redeeming points
// for a share of sink credits retired from the city's pooled inclusion account.
import { api, newId, poll } from "../api.js";
import { has, t } from "../i18n.js";
import { badge, card, field, form, h, input, load, localError, num, replace, select, stat, submit,
  table, when } from "../ui.js";

const MODES = ["walk", "bike", "bus", "metro", "ev"];

/** datetime-local text for a Date in the browser's zone. */
function localInput(date) {
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return shifted.toISOString().slice(0, 16);
}

// The citizen's own trips (mode, distance, points) and redemptions, from the API: nothing is kept
// in the browser, so a second device shows the same.
async function history(tripsEl, redemptionsEl) {
  await Promise.all([
    load(tripsEl, async () => {
      const page = await api("/me/trips?limit=20");
      return [h("p", { class: "hint", text: t("citizen.trips_total", { n: num(page.total), shown: num(page.items.length) }) }),
        // four columns, details under the figures, so a 390 px phone shows whole rows
        table([
          ["citizen.when", (x) => h("span", {}, when(x.started_at), h("br"), h("small", { class: "hint",
            title: x.source, text: t(x.source === "app" ? "citizen.source_app" : "citizen.source_operator") }))],
          ["trip.mode", (x) => h("span", {}, h("span", { "data-mode": x.mode, text: t(`mode.${x.mode}`) }), h("br"),
            h("span", { "data-distance": x.distance_km, text: `${num(x.distance_km, 3)} km` }))],
          ["citizen.trip_kg", (x) => num(x.reduction_kg, 3)],
          ["citizen.points", (x) => h("span", {}, h("strong", { "data-points": x.points, text: num(x.points) }),
            x.status === "credited" ? null : [h("br"), h("small", { class: "hint", "data-trip-status": x.status,
              title: x.capped_by || "", text: has(`trip_status.${x.status}`) ? t(`trip_status.${x.status}`) : x.status })])],
        ], page.items, { "data-table": "trips" })];
    }),
    load(redemptionsEl, async () => {
      const page = await api("/me/redemptions?limit=20");
      return table([
        ["citizen.when", (r) => when(r.created_at)],
        ["citizen.points_kg", (r) => t("redeem.kg", { kg: num(r.kg), points: num(r.points) })],
        ["citizen.state", (r) => badge(r.state)],
        ["citizen.certificate", (r) => (r.certificate_id ? h("span", {},
          h("a", { href: `#/verify/${r.certificate_id}`, "data-link": "verify", text: t("citizen.verify") }), " · ",
          h("a", { href: `/api/v1/certificates/${r.certificate_id}/pdf`, "data-link": "pdf", text: "PDF" })) : "—")],
      ], page.items, { "data-table": "redemptions" });
    }),
  ]);
}

export async function render(view) {
  const account = h("div", { "data-part": "account" });
  const tripsEl = h("div", { "data-part": "trips" });
  const redemptionsEl = h("div", { "data-part": "redemptions" });
  let unit = 1000;
  const hint = h("p", { class: "hint", "data-part": "redeem-hint" });

  async function refresh() {
    await Promise.all([history(tripsEl, redemptionsEl), load(account, async () => {
      const a = await api("/me/carbon-account?limit=10");
      unit = a.redemption_unit_points;
      const redeem = view.querySelector("[data-form=redeem] input[name=points]");
      if (redeem) { redeem.step = unit; redeem.min = unit; }
      replace(hint, t("redeem.pooled_hint", { unit: num(unit), kg: num(a.redemption_unit_kg) }));
      const now = Date.now();
      return [
        h("div", { class: "stats" },
          stat("citizen.balance", num(a.balance), "balance"),
          stat("citizen.on_hold", num(a.on_hold), "on_hold"),
          stat("citizen.available", num(a.available), "available"),
          stat("citizen.reduction", `${num(a.reduction_kg, 3)} kg`, "reduction")),
        h("h3", { text: t("citizen.expiring", { days: a.expiring_within_days }) }),
        a.expiring.length ? table([
          ["citizen.expires_at", (e) => (new Date(e.expires_at).getTime() <= now
            ? `${when(e.expires_at)} · ${t("citizen.expiring_due")}` : when(e.expires_at))],
          ["citizen.points", (e) => num(e.points)],
        ], a.expiring, { "data-table": "expiring" })
          : h("p", { class: "hint", "data-part": "expiring-none", text: t("citizen.expiring_none") }),
        h("h3", { text: t("citizen.ledger", { n: a.entries_total }) }),
        table([
          ["citizen.when", (e) => when(e.created_at)],
          ["citizen.kind", (e) => t(`entry.${e.kind}`)],
          ["citizen.points", (e) => (e.kind === "earn" || e.kind === "release" ? "+" : "−") + num(e.points)],
          ["citizen.balance_after", (e) => num(e.balance_after)],
        ], a.entries, { "data-table": "ledger" }),
      ];
    })]);
  }

  const now = new Date();
  const tripResult = h("div", { class: "result", "data-result": "trip" });
  const tripForm = form({ "data-form": "trip" }, [
    h("div", { class: "grid" },
      field("trip.mode", "mode", select("mode", MODES.map((m) => [m, t(`mode.${m}`)]), { value: "metro" })),
      field("trip.distance", "distance_km", input("distance_km", { type: "number", step: "0.001", min: "0", value: "8.5" })),
      field("trip.started", "started_at", input("started_at", { type: "datetime-local", value: localInput(new Date(now - 40 * 60000)) })),
      field("trip.ended", "ended_at", input("ended_at", { type: "datetime-local", value: localInput(new Date(now - 10 * 60000)) }))),
    submit("trip.submit"),
  ], async (v) => {
    const trip = await api("/trips", { json: {
      mode: v.mode, distance_km: v.distance_km,
      started_at: v.started_at ? new Date(v.started_at).toISOString() : "",
      ended_at: v.ended_at ? new Date(v.ended_at).toISOString() : "",
      external_id: `console-${newId()}`,
    } });
    replace(tripResult, h("p", { class: "ok" }, t("trip.accepted", {
      points: num(trip.points), grams: num(trip.reduction_g, 1) })),
    trip.capped_by ? h("p", { class: "hint", text: trip.capped_by }) : null);
    await refresh();
  });

  const redemption = h("div", { class: "result", "data-result": "redemption" });
  const redeemForm = form({ "data-form": "redeem" }, [
    hint,
    field("redeem.points", "points", input("points", { type: "number", step: "1000", min: "1000", value: "1000" })),
    submit("redeem.submit"),
  ], async (v, el) => {
    const points = Number(v.points);
    if (!Number.isInteger(points) || points <= 0 || points % unit) {
      localError(el, "points", t("redeem.multiple", { n: num(unit) }));
      return;
    }
    const first = await api("/me/redemptions", { json: { points } });
    const show = (r) => replace(redemption,
      h("p", {}, t("redeem.state"), " ", badge(r.state), " ",
        t("redeem.kg", { kg: num(r.kg), points: num(r.points) })),
      r.reason ? h("p", { class: "hint", text: r.reason }) : null,
      r.certificate_id ? h("p", {}, h("a", { href: `#/verify/${r.certificate_id}`, "data-link": "certificate",
        text: t("redeem.certificate") })) : null);
    show(first);
    await refresh();
    const settled = await poll(() => api(`/me/redemptions/${first.id}`), (r) => r.state !== "pending");
    show(settled);
    await refresh();
  });

  view.append(
    h("h1", { text: t("citizen.title") }),
    card("citizen.account", account),
    card("trip.title", h("p", { class: "hint", text: t("trip.hint") }), tripForm, tripResult),
    card("redeem.title", redeemForm, redemption),
    card("citizen.trips", tripsEl),
    card("citizen.redemptions", redemptionsEl));
  await refresh();
}
