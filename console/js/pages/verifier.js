// A verifier's queue: projects awaiting design review, monitoring reports awaiting verification.
import { api } from "../api.js";
import { has, t } from "../i18n.js";
import { badge, card, field, form, h, input, load, num, replace, select, table, when } from "../ui.js";
import { timeline } from "./developer.js";

const KINDS = ["review", "verification", "loss"];

export async function render(view, { params }) {
  const queue = h("div", { "data-part": "queue" });
  const done = h("div", { class: "result", "data-result": "decision" });

  async function refresh() {
    await load(queue, async () => {
      const q = await api("/verifiers/queue");
      return [
        h("h2", { text: t("queue.projects", { n: q.projects.length }) }),
        q.projects.length ? q.projects.map((p) => reviewItem(p, decided))
          : h("p", { class: "empty", text: t("common.none") }),
        h("h2", { text: t("queue.reports", { n: q.monitoring_reports.length }) }),
        q.monitoring_reports.length ? q.monitoring_reports.map((r) => verifyItem(r, decided))
          : h("p", { class: "empty", text: t("common.none") }),
      ];
    });
  }

  const decisions = decisionsCard();
  async function decided(messageKey, subject) {
    replace(done, h("p", { class: "ok", text: t(messageKey, { name: subject }) }));
    await Promise.all([refresh(), decisions.show()]);
  }

  const refreshButton = h("button", { type: "button", "data-action": "refresh", text: t("common.refresh"), onclick: refresh });
  const project = h("div", { "data-part": "project" });
  view.append(h("h1", { text: t("verifier.title") }), h("p", { class: "hint", text: t("verifier.hint") }),
    refreshButton, done, h("section", { class: "card" }, queue), h("section", { class: "card" }, project),
    decisions.el);
  // #/verifier/<project id>: the project a past decision was about, read-only
  await Promise.all([refresh(), params[0] ? load(project, async () => projectView(await api(`/projects/${params[0]}`))) : null]);
  if (params[0]) project.scrollIntoView({ block: "start" });
}

function projectView(p) {
  return h("div", { "data-project": p.id, "data-state": p.state },
    h("h2", {}, p.name, " ", badge(p.state)),
    h("p", { class: "hint", text: `${t(`kind.${p.kind}`)} · ${p.county} · ${num(p.area_ha)} ha · ${t("queue.by")} ${p.developer_username ?? ""}` }),
    timeline(p));
}

/** The verifier's own past decisions, newest first, filtered by kind; each links to its project.
 * Returns the card and `show()`, which reloads it (after each new decision). */
function decisionsCard() {
  const list = h("div", { "data-part": "decisions" });
  const kind = select("kind", [["", t("decisions.all")], ...KINDS.map((k) => [k, t(`decisions.kind.${k}`)])],
    { "data-filter": "kind" });
  const show = () => load(list, async () => {
    const page = await api(`/verifiers/me/decisions?limit=200${kind.value ? `&kind=${kind.value}` : ""}`);
    return [h("p", { class: "hint", text: t("decisions.count", { n: num(page.total) }) }), table([
      ["decisions.when", (d) => when(d.decided_at)],
      ["decisions.kind", (d) => t(`decisions.kind.${d.kind}`)],
      ["decisions.project", (d) => h("a", { href: `#/verifier/${d.project_id}`, "data-project-link": d.project_id, text: d.project_name })],
      ["decisions.outcome", (d) => h("span", { class: `badge state-${d.outcome}`,
        text: has(`decisions.outcome.${d.outcome}`) ? t(`decisions.outcome.${d.outcome}`) : d.outcome })],
      ["decisions.quantity", (d) => (d.quantity === null || d.quantity === undefined ? "—" : `${num(d.quantity, 4)} t`)],
      ["queue.comments", (d) => d.comment || ""],
    ], page.items, { "data-table": "decisions" })];
  });
  kind.addEventListener("change", show);
  show();
  return { show, el: h("section", { class: "card", "data-card": "decisions" }, h("h2", { text: t("decisions.title") }),
    h("div", { class: "field filter" }, h("label", { text: t("decisions.filter") }), kind), list) };
}

/** Three buttons share one form; the one clicked is the decision. */
function decisionButtons(decisions) {
  return h("div", { class: "actions" }, decisions.map(([value, key, cls]) =>
    h("button", { type: "submit", name: "decision", value, class: cls, "data-decision": value, text: t(key) })));
}

function reviewItem(p, decided) {
  const el = form({ class: "queue-item", "data-review": p.id }, [
    h("h3", { text: p.name }),
    h("p", { class: "hint", text: `${t(`kind.${p.kind}`)} · ${p.county} · ${num(p.area_ha)} ha · ${p.forest_rights_holder} · ${p.forest_rights_certificate} · ${t("queue.by")} ${p.developer_username}` }),
    // what the reviewer checks against CCER-14-001-V01's applicability conditions (issue 13)
    p.methodology ? h("p", { class: "hint", "data-eligibility": p.id, text:
      `${p.methodology} · ${t(`vegetation.${p.vegetation}`)} · ${t("project.non_forest_since")} ${p.non_forest_since} · ` +
      `${t("project.smallest_parcel")} ${num(p.smallest_parcel_m2)} · ` +
      `${t("project.wetland")} ${t(p.land_is_wetland ? "answer.yes" : "answer.no")} · ` +
      `${t("project.burning")} ${t(p.burning_site_preparation ? "answer.yes" : "answer.no")}` }) : null,
    p.description ? h("p", { text: p.description }) : null,
    field("queue.comments", "comments", h("textarea", { name: "comments", rows: 2 })),
    field("queue.buffer", "buffer_pct", input("buffer_pct", { type: "number", step: "0.01", min: "10", max: "30", value: "20" }), "queue.buffer_hint"),
    decisionButtons([["approve", "queue.approve", "primary"], ["request_changes", "queue.request_changes", ""], ["reject", "queue.reject", "danger"]]),
  ], async (v, formEl) => {
    const decision = formEl.dataset.decision;
    const body = { decision, comments: v.comments };
    if (decision === "approve") body.buffer_pct = v.buffer_pct;
    await api(`/projects/${p.id}/reviews`, { json: body });
    await decided(`queue.reviewed.${decision}`, p.name);
  });
  trackDecision(el);
  return el;
}

function verifyItem(r, decided) {
  const el = form({ class: "queue-item", "data-verify": r.id }, [
    h("h3", { text: `${t("queue.report")} ${r.period_start} → ${r.period_end}` }),
    h("p", { class: "hint", text: `${t("monitoring.project_sink")} ${num(r.project_sink_tco2e, 4)} − ${t("monitoring.baseline_sink")} ${num(r.baseline_sink_tco2e, 4)} − ${t("monitoring.leakage")} ${num(r.leakage_tco2e, 4)} = ${t("monitoring.claim")} ${num(r.claim_tco2e, 4)} t` }),
    field("queue.verified", "verified_tco2e", input("verified_tco2e", { type: "number", step: "any", value: r.claim_tco2e })),
    field("queue.comments", "comments", h("textarea", { name: "comments", rows: 2 })),
    decisionButtons([["verified", "queue.verify", "primary"], ["rejected", "queue.reject", "danger"]]),
  ], async (v, formEl) => {
    const decision = formEl.dataset.decision;
    const body = { decision, comments: v.comments };
    if (decision === "verified") body.verified_tco2e = v.verified_tco2e;
    await api(`/monitoring-reports/${r.id}/verifications`, { json: body });
    await decided(`queue.verified.${decision}`, r.id.slice(0, 8));
  });
  trackDecision(el);
  return el;
}

/** Remember which decision button submitted the form (FormData leaves the submitter out). */
function trackDecision(el) {
  el.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-decision]");
    if (button) el.dataset.decision = button.value;
  }, true);
}
