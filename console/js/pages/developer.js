// A project developer's page: file a forestry project, follow its timeline, edit and resubmit it
// when the reviewer asks for changes, withdraw it, report monitoring, see the credits issued and
// sell them through listings.
import { api } from "../api.js";
import { t } from "../i18n.js";
import { COUNTIES } from "./enterprise.js";
import { listingsCard } from "./listings.js";
import { badge, card, field, form, h, input, load, num, replace, select, submit, table, when } from "../ui.js";

// CCER-14-001-V01 (2023): one afforestation methodology whose vegetation is trees, bamboo or
// shrubs; forest management has no current CCER methodology, so it is not filed any more.
const KINDS = ["afforestation"];
const VEGETATION = ["tree", "bamboo", "shrub"];
/** A yes/no the developer must answer: no default, so nothing is declared for them. */
const yesNo = (name, value) => select(name, [["", "—"], ["false", t("answer.no")], ["true", t("answer.yes")]],
  { value: value === null || value === undefined ? "" : String(value) });
const answer = (value) => (value === "" ? null : value === "true");
// The states in which the developer may still edit (PATCH) or withdraw a project (issue 14).
const EDITABLE = ["draft", "changes_requested"];
const WITHDRAWABLE = ["draft", "submitted", "changes_requested"];
/** What the developer does next, by state: the "next action" column of "my projects". */
const NEXT = { draft: "next.draft", changes_requested: "next.changes_requested", submitted: "next.submitted",
  registered: "next.registered" };

/** The SHA-256 of a chosen document, computed in the browser: only the hash is filed. */
async function sha256(file) {
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function render(view, { me, params }) {
  const projects = h("div", { "data-part": "projects" });
  const detail = h("div", { "data-part": "project" });
  const holdings = h("div", { "data-part": "holdings" });

  async function refresh(openId) {
    await load(projects, async () => {
      const page = await api("/projects?mine=true&limit=200");
      const mine = page.items.filter((p) => p.developer_user_id === me.id);
      return table([
        ["project.number", (p) => (p.project_number ? String(p.project_number).padStart(4, "0") : "—")],
        ["project.name", (p) => h("a", { href: "#", "data-open": p.id, text: p.name,
          onclick: (e) => { e.preventDefault(); show(p.id); } })],
        ["project.county", (p) => p.county],
        ["project.state", (p) => badge(p.state)],
        ["next.title", (p) => h("span", { "data-next": p.id, text: t(NEXT[p.state] || "next.none") })],
      ], mine, { "data-table": "projects" });
    });
    if (openId) await show(openId);
    await refreshHoldings();
  }

  async function refreshHoldings() {
    await load(holdings, async () => {
      const mineHeld = await api("/holdings");
      return [h("p", { "data-total": mineHeld.total }, t("holdings.total", { n: num(mineHeld.total) })),
        // a listing reserves credits without moving them: held, but not available
        h("p", { class: "hint", "data-available": mineHeld.available ?? mineHeld.total },
          t("holdings.available", { n: num(mineHeld.available ?? mineHeld.total) })),
        table([["holdings.serial", (b) => h("code", { text: b.serial })], ["holdings.vintage", (b) => b.vintage],
          ["holdings.quantity", (b) => num(b.quantity)],
          ["holdings.listed", (b) => (b.listing_id ? t("holdings.reserved") : "")]], mineHeld.blocks, { "data-table": "holdings" })];
    });
  }

  async function show(projectId) {
    await load(detail, async () => projectDetail(await api(`/projects/${projectId}`), () => refresh(projectId)));
    detail.scrollIntoView({ block: "start" });
    history.replaceState(null, "", `#/developer/${projectId}`);
  }

  // what needs doing first (my projects, the one open), then filing a new one
  view.append(h("h1", { text: t("developer.title") }),
    card("project.mine", projects),
    h("section", { class: "card", id: "project-detail" }, detail),
    card("project.file", projectForm({ "data-form": "project" }, {}, "project.submit", async (body) => {
      const project = await api("/projects", { json: body });
      await refresh(project.id);
    })),
    card("holdings.title", holdings),
    listingsCard(refreshHoldings));
  await refresh(params[0]); // #/developer/<project id> opens that project
}

/** The project's fields, prefilled from `p` (empty when filing); `send(body)` gets the JSON. */
function projectForm(props, p, submitKey, send) {
  const doc = input("document", { type: "file" });
  const value = (name, fallback) => (p[name] === null || p[name] === undefined ? fallback : String(p[name]));
  return form(props, [
    h("div", { class: "grid" },
      field("project.name", "name", input("name", { value: value("name") })),
      field("project.kind", "kind", select("kind", KINDS.map((k) => [k, t(`kind.${k}`)]), { value: value("kind") })),
      field("project.county", "county", select("county", COUNTIES.map((c) => [c, c]), { value: value("county") })),
      field("project.area", "area_ha", input("area_ha", { type: "number", step: "any", min: "0", value: value("area_ha") })),
      field("project.holder", "forest_rights_holder", input("forest_rights_holder", { value: value("forest_rights_holder") })),
      field("project.certificate", "forest_rights_certificate",
        input("forest_rights_certificate", { value: value("forest_rights_certificate") })),
      field("project.start", "crediting_start", input("crediting_start", { type: "date", value: value("crediting_start", "2020-01-01") })),
      field("project.years", "crediting_years", input("crediting_years", { type: "number", step: "1", value: value("crediting_years", "30") })),
      field("project.vegetation", "vegetation",
        select("vegetation", VEGETATION.map((k) => [k, t(`vegetation.${k}`)]), { value: value("vegetation") }))),
    h("h3", { text: t("project.eligibility") }),
    h("p", { class: "hint", text: t("project.eligibility_hint") }),
    h("div", { class: "grid" },
      field("project.non_forest_since", "non_forest_since", input("non_forest_since", { type: "date", value: value("non_forest_since") })),
      field("project.smallest_parcel", "smallest_parcel_m2",
        input("smallest_parcel_m2", { type: "number", step: "any", min: "0", value: value("smallest_parcel_m2") })),
      field("project.wetland", "land_is_wetland", yesNo("land_is_wetland", p.land_is_wetland)),
      field("project.burning", "burning_site_preparation", yesNo("burning_site_preparation", p.burning_site_preparation))),
    field("project.description", "description", h("textarea", { name: "description", rows: 3, value: value("description", "") })),
    field("project.document", "documents", doc, "project.document_hint"),
    submit(submitKey),
  ], async (v) => {
    const body = {
      name: v.name, kind: v.kind, county: v.county, area_ha: v.area_ha,
      forest_rights_holder: v.forest_rights_holder, forest_rights_certificate: v.forest_rights_certificate,
      crediting_start: v.crediting_start, crediting_years: Number(v.crediting_years),
      vegetation: v.vegetation, non_forest_since: v.non_forest_since || null,
      smallest_parcel_m2: v.smallest_parcel_m2 || null, land_is_wetland: answer(v.land_is_wetland),
      burning_site_preparation: answer(v.burning_site_preparation), description: v.description };
    // a new document only when one is chosen: an edit keeps the hashes already filed
    if (doc.files.length) body.documents = [{ name: doc.files[0].name, sha256: await sha256(doc.files[0]) }];
    else if (!p.id) body.documents = [];
    await send(body);
  });
}

/** The timeline of a project, as the developer and the verifiers read it. */
export function timeline(p) {
  return h("ol", { class: "timeline", "data-timeline": p.id }, p.timeline.map((e) => h("li", { "data-step": e.step },
    h("strong", { text: t(`step.${e.step}`) }), ` · ${e.actor_username} (${t(`role.${e.actor_role}`)}) · ${when(e.occurred_at)}`,
    e.comments ? h("blockquote", { text: e.comments }) : null)));
}

function projectDetail(p, refresh) {
  const editable = EDITABLE.includes(p.state);
  const asked = [...p.timeline].reverse().find((e) => e.step === "changes_requested");
  const submitForm = form({ "data-form": "submit-project" }, [submit(p.state === "draft" ? "project.send_for_review" : "project.resubmit")],
    async () => { await api(`/projects/${p.id}/submit`, { method: "POST" }); await refresh(); });
  const editForm = projectForm({ "data-form": "edit-project" }, p, "project.save", async (body) => {
    await api(`/projects/${p.id}`, { method: "PATCH", json: body });
    await refresh();
  });
  return h("div", { "data-project": p.id, "data-state": p.state },
    h("h2", {}, p.name, " ", badge(p.state)),
    h("p", { class: "hint", text: `${t(`kind.${p.kind}`)} · ${t(`vegetation.${p.vegetation}`)} · ${p.county} · ${num(p.area_ha)} ha · ${p.crediting_start} → ${p.crediting_end}` +
      (p.buffer_pct ? ` · ${t("project.buffer")} ${p.buffer_pct}%` : "") }),
    p.state === "changes_requested" && asked ? h("div", { class: "notice", "data-asked": p.id },
      h("strong", { text: t("project.asked") }), h("blockquote", { text: asked.comments || "—" })) : null,
    editable ? h("details", { class: "edit", open: p.state === "changes_requested" },
      h("summary", { text: t("project.edit") }), editForm) : null,
    h("div", { class: "actions" }, editable ? submitForm : null,
      WITHDRAWABLE.includes(p.state) ? withdrawControl(p, refresh) : null),
    h("h3", { text: t("project.timeline") }),
    timeline(p),
    h("h3", { text: t("monitoring.title") }),
    table([
      ["monitoring.period", (r) => `${r.period_start} → ${r.period_end}`],
      ["monitoring.claim", (r) => `${num(r.claim_tco2e, 4)} t`],
      ["monitoring.state", (r) => badge(r.state)],
      ["monitoring.issued", (r) => (r.issued_quantity == null ? "—"
        : h("span", {}, `${num(r.issued_quantity)} + ${t("monitoring.buffer")} ${num(r.buffer_quantity)}`, h("br"),
          h("code", { text: `${r.serial_first} … ${r.serial_last}` })))],
    ], p.monitoring_reports, { "data-table": "monitoring" }),
    p.state === "registered" ? monitoringForm(p, refresh) : null);
}

/** Withdrawing is final: a first click asks, the second (on the confirmation) does it. */
function withdrawControl(p, refresh) {
  const box = h("div", { class: "confirm", "data-confirm": "withdraw" });
  const ask = h("button", { type: "button", class: "danger", "data-action": "withdraw", text: t("project.withdraw"),
    onclick: () => {
      ask.hidden = true;
      replace(box, form({ "data-form": "withdraw" }, [
        h("p", { class: "warn", text: t("project.withdraw_confirm", { name: p.name }) }),
        h("div", { class: "actions" },
          submit("project.withdraw_yes", { class: "danger" }),
          h("button", { type: "button", "data-action": "withdraw-cancel", text: t("common.cancel"),
            onclick: () => { replace(box); ask.hidden = false; } })),
      ], async () => { await api(`/projects/${p.id}/withdraw`, { method: "POST" }); await refresh(); }));
    } });
  return h("div", {}, ask, box);
}

function monitoringForm(p, refresh) {
  return form({ "data-form": "monitoring" }, [
    h("h3", { text: t("monitoring.file") }),
    h("div", { class: "grid" },
      field("monitoring.start", "period_start", input("period_start", { type: "date" })),
      field("monitoring.end", "period_end", input("period_end", { type: "date" })),
      field("monitoring.project_sink", "project_sink_tco2e", input("project_sink_tco2e", { type: "number", step: "any" })),
      field("monitoring.baseline_sink", "baseline_sink_tco2e", input("baseline_sink_tco2e", { type: "number", step: "any", value: "0" })),
      field("monitoring.leakage", "leakage_tco2e", input("leakage_tco2e", { type: "number", step: "any", value: "0" }))),
    h("p", { class: "hint", text: t("monitoring.formula") }),
    submit("monitoring.submit"),
  ], async (v) => {
    await api(`/projects/${p.id}/monitoring-reports`, { json: v });
    await refresh();
  });
}
